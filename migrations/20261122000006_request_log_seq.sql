-- A cheaper request log (issue 6). Every protocol request adds a row, and pruning
-- deletes one for each, so each b-tree of this table costs a page write per request
-- twice over. Now:
-- * entries are kept in the order they were first stored (`seq`, the rowid), which
--   lists and prunes by: no index of times, and pruning by count or age deletes from
--   the old end of the table instead of scanning 10,000 index entries per prune;
-- * an entry written again (received, then approved) keeps its place: the log writer
--   updates it in place instead of deleting and re-inserting it.
CREATE TABLE request_log_new (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
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
INSERT INTO request_log_new (id, at, kind, client_id, username, status, error,
                             error_description, params, detail)
    SELECT id, at, kind, client_id, username, status, error, error_description, params, detail
    FROM request_log ORDER BY at, rowid;
DROP TABLE request_log;
ALTER TABLE request_log_new RENAME TO request_log;
