-- Provider sessions: a browser that signed in once can be answered silently
-- (prompt=none, remembered consent) until it signs out or the session expires.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,   -- SHA-256 of the cookie value
    sub        TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_sub ON sessions (sub);
