-- Clients, personas, scopes and signing keys: the records a developer edits.
CREATE TABLE scopes (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    claims      TEXT NOT NULL DEFAULT '[]',     -- JSON array of claim names
    position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY NOT NULL,
    data       TEXT NOT NULL,                   -- JSON of model::Client
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE users (
    sub           TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT,                         -- argon2 PHC string
    claims        TEXT NOT NULL DEFAULT '{}',   -- JSON object
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    alg        TEXT NOT NULL,                   -- RS256 | ES256
    pkcs8      BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1
);

-- Provider facts, e.g. whether first-start defaults were seeded.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Bumped by every change to clients, users or scopes, so a running provider notices
-- edits made by another process (the CLI) and drops its caches.
CREATE TABLE revision (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO revision (id, value) VALUES (1, 0);
