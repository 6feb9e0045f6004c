-- What the flows issue: grants (one per authorization), codes, tokens, consents,
-- used client-assertion ids, and the request log the window shows.
CREATE TABLE grants (
    id         TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    sub        TEXT,                            -- NULL for client_credentials
    scopes     TEXT NOT NULL DEFAULT '',        -- space-separated
    auth_time  INTEGER,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
);
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_sub ON grants (sub);

CREATE TABLE auth_codes (
    code_hash             TEXT PRIMARY KEY NOT NULL,   -- SHA-256 of the code
    grant_id              TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    sub                   TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    auth_time             INTEGER NOT NULL,
    claims                TEXT,                        -- per-login claims override (JSON)
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,       -- jti
    token_hash TEXT NOT NULL UNIQUE,            -- SHA-256 of the token, for lookups
    kind       TEXT NOT NULL,                   -- access_token | refresh_token
    format     TEXT NOT NULL,                   -- jwt | opaque
    client_id  TEXT NOT NULL,
    sub        TEXT,
    grant_id   TEXT,
    scopes     TEXT NOT NULL DEFAULT '',
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    rotated_at INTEGER,                         -- refresh token exchanged for a new one
    value      TEXT                             -- the token itself, for the window
);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_sub ON tokens (sub);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_expiry ON tokens (expires_at);
CREATE INDEX tokens_issued ON tokens (issued_at);

CREATE TABLE consents (
    sub        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (sub, client_id)
);

CREATE TABLE used_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE request_log (
    id                TEXT PRIMARY KEY NOT NULL,
    at                INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    client_id         TEXT,
    username          TEXT,
    status            TEXT NOT NULL,
    error             TEXT,
    error_description TEXT,
    params            TEXT NOT NULL DEFAULT '{}',
    detail            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX request_log_at ON request_log (at);
