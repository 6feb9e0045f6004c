-- Several signing keys per algorithm (issue 18, item 6). The active key of each
-- algorithm (active = 1) signs; a rotation makes a new active key and leaves the ones
-- it replaced published in the JWKS, for verification, until retire_at. A key whose
-- retire_at has passed is retired: out of the JWKS, and what it signed no longer
-- verifies. Retirement is a time compared with the clock's now, so nothing runs to
-- retire a key.
ALTER TABLE signing_keys ADD COLUMN rotated_at INTEGER;  -- when it stopped signing
ALTER TABLE signing_keys ADD COLUMN retire_at INTEGER;   -- NULL: not scheduled
