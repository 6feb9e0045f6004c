-- RFC 7592 registration management: the SHA-256 (hex) of the registration access
-- token handed out once with an RFC 7591 registration. NULL for clients made in the
-- window, the CLI or a seed file: they cannot be managed at /register/{client_id}.
-- The column lives with the client's row, so deleting the client deletes it.
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
