-- Fewer b-trees per issued token (issue 6). Each index is a page the group commit
-- writes again; the random token_hash index cost one page per token. Now:
-- * JWTs are found by their jti (the primary key) and checked against their hash, so
--   only opaque tokens need the hash index;
-- * the list orders by id, which starts with the second the token was issued, so
--   issued_at needs no index;
-- * client_credentials tokens have no sub and no grant, so those indexes leave NULLs out.
CREATE TABLE tokens_new (
    id         TEXT PRIMARY KEY NOT NULL,       -- jti; starts with the issue second in hex
    token_hash TEXT NOT NULL,                   -- SHA-256 of the token
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
INSERT INTO tokens_new (id, token_hash, kind, format, client_id, sub, grant_id, scopes,
                        issued_at, expires_at, revoked_at, rotated_at, value)
    SELECT id, token_hash, kind, format, client_id, sub, grant_id, scopes,
           issued_at, expires_at, revoked_at, rotated_at, value
    FROM tokens ORDER BY id;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE UNIQUE INDEX tokens_opaque_hash ON tokens (token_hash) WHERE format = 'opaque';
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_sub ON tokens (sub) WHERE sub IS NOT NULL;
CREATE INDEX tokens_grant ON tokens (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX tokens_expiry ON tokens (expires_at);
