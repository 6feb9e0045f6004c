-- A cheaper request log (issue 6). Every protocol request adds a row, and pruning
-- deletes one for each, so each b-tree of this table costs page writes per request
-- twice over. Now the table is one b-tree:
-- * entries are kept in the order they were stored (`seq`, the rowid), which lists and
--   prunes by: no index of times, and pruning by count or age deletes from the old end
--   of the table instead of scanning 10,000 index entries per prune;
-- * no index of ids: every entry gets a new id (each step of a request is an entry of
--   its own), and nothing looks entries up by id.
CREATE TABLE request_log_new (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL,
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
