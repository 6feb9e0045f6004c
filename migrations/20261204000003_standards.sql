-- The newer standards (issue 19): pushed authorization requests (RFC 9126), DPoP key
-- bindings of tokens (RFC 9449), where an exchanged token came from (RFC 8693), and the
-- clients each provider session signed in to (back-channel logout).
CREATE TABLE pushed_requests (
    request_uri_hash TEXT PRIMARY KEY NOT NULL,   -- SHA-256 of the request_uri
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,               -- JSON object of the pushed parameters
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);

-- A token bound to a DPoP key: the JWK SHA-256 thumbprint (cnf.jkt).
CREATE TABLE token_bindings (
    token_id TEXT PRIMARY KEY NOT NULL,           -- tokens.id
    jkt      TEXT NOT NULL
);

-- Where a token came from when it was not issued by a flow of its own (token exchange).
CREATE TABLE token_origins (
    token_id TEXT PRIMARY KEY NOT NULL,           -- tokens.id
    origin   TEXT NOT NULL                        -- JSON: {"exchanged_from": id, "actor": …}
);

-- The clients a provider session signed in to, with the sid their id_tokens carry.
CREATE TABLE session_clients (
    session_hash TEXT NOT NULL,                   -- sessions.id_hash
    client_id    TEXT NOT NULL,
    sid          TEXT NOT NULL,
    sub          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (session_hash, client_id)
);
CREATE INDEX session_clients_sub ON session_clients (sub);
