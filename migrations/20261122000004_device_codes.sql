-- RFC 8628 device authorization requests.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,   -- SHA-256 of the device_code
    user_code        TEXT NOT NULL UNIQUE,        -- e.g. WDJB-MJHT, as typed (normalised)
    client_id        TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    status           TEXT NOT NULL,               -- pending | approved | denied | used
    sub              TEXT,
    auth_time        INTEGER,
    interval_secs    INTEGER NOT NULL,
    last_poll_at     INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);
