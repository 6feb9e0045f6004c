//! The request log: every authorization request and token-endpoint event, with the
//! reason of every failure, kept in SQLite so the window shows history after a restart.

use crate::model::Timestamp;
use crate::store::writer::{AppendRow, Col};

use tokio::sync::mpsc;

use crate::events::{EventBus, ProviderEvent, RequestEntry, RequestStatus};

/// How long and how much request history is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_age_secs: i64,
    pub max_entries: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_secs: 7 * 24 * 3600,
            max_entries: 10_000,
        }
    }
}

/// Writes request-log entries in the background, many per transaction, so logging
/// never sits on a request's path. Entries are published on the event bus at once
/// (when anyone subscribes: the desktop window does).
#[derive(Debug, Clone)]
pub struct RequestLog {
    tx: mpsc::Sender<Message>,
    events: EventBus,
}

/// What the log's writer task receives.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every message is an entry; boxing it would cost each request an allocation"
)]
enum Message {
    Entry(RequestEntry),
    /// Store what came before, then stop and answer.
    Close(tokio::sync::oneshot::Sender<()>),
}

impl RequestLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: crate::store::Store, events: EventBus, retention: Retention) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(writer(store, rx, retention));
        RequestLog { tx, events }
    }

    pub fn record(&self, entry: RequestEntry) {
        match (&entry.error, &entry.error_description) {
            (Some(code), Some(desc)) => tracing::warn!(
                kind = %entry.kind,
                client_id = entry.client_id.as_deref().unwrap_or("-"),
                error = %code,
                "{desc}"
            ),
            _ => tracing::debug!(kind = %entry.kind, status = entry.status.as_str(), "request"),
        }
        if self.events.has_subscribers() {
            self.events.publish(ProviderEvent::Request {
                entry: entry.clone(),
            });
        }
        if self.tx.try_send(Message::Entry(entry)).is_err() {
            tracing::debug!("request log is behind; an entry was not stored");
        }
    }

    /// Stores the entries recorded so far and stops the writer: for a stopping
    /// provider, after its last request and before the database closes (the entries
    /// of the last 20 ms were lost otherwise, each with a warning).
    pub async fn close(&self) {
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Message::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// How long the log writer waits for more entries before a small batch is written.
const LINGER: std::time::Duration = std::time::Duration::from_millis(20);

async fn writer(store: crate::store::Store, mut rx: mpsc::Receiver<Message>, retention: Retention) {
    let mut since_prune = 0u32;
    // Memory is released when the provider goes idle by `crate::idle`, after requests
    // of every kind, logged or not.
    loop {
        let first = match rx.recv().await {
            Some(Message::Entry(entry)) => entry,
            Some(Message::Close(reply)) => {
                let _ = reply.send(());
                break;
            }
            None => break,
        };
        // Under load, let entries gather for a moment: one commit of hundreds of log
        // rows costs the writer far less than hundreds of commits of a few. The window
        // sees entries live through the event bus, not through this table.
        if rx.len() < 64 {
            tokio::time::sleep(LINGER).await;
        }
        let mut batch = vec![first];
        let mut closing = None;
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(Message::Entry(e)) => batch.push(e),
                // Entries sent before the close are in the batch; store them first.
                Ok(Message::Close(reply)) => {
                    closing = Some(reply);
                    break;
                }
                Err(_) => break,
            }
        }
        let newest = batch.iter().map(|e| e.at).max().unwrap_or(0);
        let count = batch.len() as u32;
        // Through the group writer, so the log shares commits with the token paths
        // instead of contending with them for SQLite's write lock.
        let rows = batch
            .into_iter()
            .map(|e| Box::new(LogRow(e)) as Box<dyn AppendRow>)
            .collect();
        let res = store.writer().append(rows).await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot write the request log");
        }
        if let Some(reply) = closing {
            let _ = reply.send(());
            break;
        }
        since_prune += count;
        if since_prune >= 1000 {
            since_prune = 0;
            if let Err(e) = prune(&store, newest, retention).await {
                tracing::warn!(error = %e, "cannot prune the request log");
            }
        }
    }
}

/// A request-log entry as the group writer appends it.
struct LogRow(RequestEntry);

impl AppendRow for LogRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO request_log (id, at, kind, client_id, username, status, error, error_description, params, detail) "
    }
    fn rank(&self) -> u8 {
        2
    }
    fn values(&self) -> Vec<Col<'_>> {
        let e = &self.0;
        vec![
            e.id.as_str().into(),
            e.at.into(),
            e.kind.as_str().into(),
            e.client_id.as_deref().into(),
            e.username.as_deref().into(),
            e.status.as_str().into(),
            e.error.as_deref().into(),
            e.error_description.as_deref().into(),
            serde_json::to_string(&e.params).unwrap_or_default().into(),
            e.detail.to_string().into(),
        ]
    }
}

/// Deletes the entries stored before the first one at or after `?1` (a time).
const PRUNE_BY_AGE: &str = "DELETE FROM request_log WHERE seq < coalesce(\
    (SELECT seq FROM request_log WHERE at >= ?1 ORDER BY seq LIMIT 1), \
    (SELECT max(seq) + 1 FROM request_log))";

/// Deletes all but the newest `?1` entries.
const PRUNE_BY_COUNT: &str =
    "DELETE FROM request_log WHERE seq <= (SELECT max(seq) FROM request_log) - ?1";

/// Deletes the entries older than the age limit and all but the newest
/// `max_entries`. Entries are stored in order (`seq`), so both delete from the old end
/// of the table: no index of times, no scan of the entries that stay.
pub async fn prune(
    store: &crate::store::Store,
    now: Timestamp,
    retention: Retention,
) -> crate::error::Result<()> {
    // Through the group writer, on its own connection (whose cache holds the table's
    // pages): a delete through the pool would contend with it for SQLite's write lock.
    store
        .writer()
        .run_now(move |tx| {
            tx.execute(PRUNE_BY_AGE, [now - retention.max_age_secs])?;
            tx.execute(PRUNE_BY_COUNT, [retention.max_entries])?;
            Ok(())
        })
        .await
}

/// The query of [`list`]: newest first, optionally of one client and one status.
fn list_sql(by_client: bool, by_status: bool) -> String {
    let mut sql = String::from("SELECT * FROM request_log WHERE 1=1");
    if by_client {
        sql.push_str(" AND client_id = ?");
    }
    if by_status {
        sql.push_str(" AND status = ?");
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    sql
}

/// Reads the stored log, newest first.
pub async fn list(
    pool: &sqlx::SqlitePool,
    client_id: Option<&str>,
    status: Option<RequestStatus>,
    limit: u32,
) -> Result<Vec<RequestEntry>, sqlx::Error> {
    use sqlx::Row;
    let sql = list_sql(client_id.is_some(), status.is_some());
    let mut q = sqlx::query(&sql);
    if let Some(c) = client_id {
        q = q.bind(c);
    }
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    let rows = q.bind(i64::from(limit.min(5000))).fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(|r| RequestEntry {
            id: r.get("id"),
            at: r.get("at"),
            kind: r.get("kind"),
            client_id: r.get("client_id"),
            username: r.get("username"),
            status: match r.get::<&str, _>("status") {
                "received" => RequestStatus::Received,
                "rejected" => RequestStatus::Rejected,
                "pending_consent" => RequestStatus::PendingConsent,
                "approved" => RequestStatus::Approved,
                "denied" => RequestStatus::Denied,
                _ => RequestStatus::Completed,
            },
            error: r.get("error"),
            error_description: r.get("error_description"),
            params: serde_json::from_str(r.get::<&str, _>("params")).unwrap_or_default(),
            detail: serde_json::from_str(r.get::<&str, _>("detail")).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64, at: Timestamp) -> RequestEntry {
        RequestEntry {
            id: format!("r{i:04}"),
            at,
            kind: "token".into(),
            client_id: Some("service".into()),
            username: None,
            status: RequestStatus::Completed,
            error: None,
            error_description: None,
            params: Default::default(),
            detail: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn pruning_keeps_the_newest_entries_within_the_age_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        // Two entries older than the age limit, then 20 recent ones, one second apart.
        let mut rows: Vec<Box<dyn AppendRow>> = vec![
            Box::new(LogRow(entry(0, now - 8 * 24 * 3600))),
            Box::new(LogRow(entry(1, now - 8 * 24 * 3600 + 1))),
        ];
        rows.extend((2..22).map(|i| Box::new(LogRow(entry(i, now - 100 + i))) as _));
        store.writer().append(rows).await.unwrap();
        let ids = |entries: Vec<RequestEntry>| -> Vec<String> {
            entries.into_iter().map(|e| e.id).collect()
        };
        // The age limit alone: the two old entries go.
        let by_age = Retention {
            max_age_secs: 7 * 24 * 3600,
            max_entries: 1000,
        };
        prune(&store, now, by_age).await.unwrap();
        let left = ids(list(store.pool(), None, None, 100).await.unwrap());
        assert_eq!(left.len(), 20);
        assert!(!left.contains(&"r0000".to_string()) && !left.contains(&"r0001".to_string()));
        // Then the count limit keeps the newest five.
        let by_count = Retention {
            max_entries: 5,
            ..by_age
        };
        prune(&store, now, by_count).await.unwrap();
        let left = ids(list(store.pool(), None, None, 100).await.unwrap());
        assert_eq!(left, ["r0021", "r0020", "r0019", "r0018", "r0017"]);
        store.close().await;
    }

    #[tokio::test]
    async fn pruning_and_listing_need_no_index_of_times() {
        // Each query walks the table in `seq` order from one end: a plan with a sort
        // (TEMP B-TREE) or a full-table delete would slow down as the log grows.
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        for (query, expect) in [
            (
                PRUNE_BY_COUNT,
                "SEARCH request_log USING INTEGER PRIMARY KEY (rowid<?)",
            ),
            (
                PRUNE_BY_AGE,
                "SEARCH request_log USING INTEGER PRIMARY KEY (rowid<?)",
            ),
            (&list_sql(true, true), "SCAN request_log"),
        ] {
            let plan = crate::store::testing::query_plan(store.pool(), query).await;
            assert!(plan.contains(expect), "{query}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{query} sorts: {plan}");
        }
        // One b-tree: an index would cost every request another page write, twice.
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'request_log'",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(indexes, Vec::<String>::new());
        store.close().await;
    }

    #[tokio::test]
    async fn the_log_migration_keeps_entries_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::store::DB_FILE);
        {
            let pool = crate::store::testing::pool_before(&path, 20261122000006).await;
            // Stored out of time order (INSERT OR REPLACE moved a rewritten entry to the end).
            sqlx::query(
                "INSERT INTO request_log (id, at, kind, status) VALUES
                   ('late', 30, 'token', 'completed'), ('early', 10, 'authorize', 'approved'),
                   ('middle', 20, 'token', 'rejected')",
            )
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let got = list(store.pool(), None, None, 10).await.unwrap();
        let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["late", "middle", "early"]);
        assert_eq!(got[2].status, RequestStatus::Approved);
        store.close().await;
    }
}
