-- Fault rules (issue 20): failures injected on purpose. `spec` is the rule as it was
-- given (CLI flags, the window's form or a seed file's `faults:` entry, as JSON); the
-- columns beside it are what changes while it runs. Rules persist across restarts.
CREATE TABLE fault_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    spec       TEXT NOT NULL,
    origin     TEXT NOT NULL,             -- cli | window | seed
    remaining  INTEGER,                   -- "the next N requests": how many are left
    expires_at INTEGER,                   -- "for T seconds": when it ends
    paused     INTEGER NOT NULL DEFAULT 0,
    injected   INTEGER NOT NULL DEFAULT 0, -- how many requests it changed
    created_at INTEGER NOT NULL
);
