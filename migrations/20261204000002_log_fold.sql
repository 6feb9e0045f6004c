-- A timeline that stays readable under load (issue 24): repeated identical successful
-- requests (same endpoint, client, persona, parameters and outcome) within a short
-- window are stored as one entry: `count` requests, the first at `at`, the last at
-- `last_at`. A single request has count 1 and last_at = at; failures are never folded.
ALTER TABLE request_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE request_log ADD COLUMN last_at INTEGER;
