//! The request log: every authorization request and token-endpoint event, with the
//! reason of every failure, kept in SQLite so the window shows history after a restart.

use crate::model::Timestamp;
use crate::store::writer::{AppendRow, Col};

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::clock::SharedClock;
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
    /// Repeated identical successful requests, being folded into one entry each.
    folds: Arc<Mutex<Folds>>,
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
    /// Starts the writer task on the current runtime; `clock` closes folded entries.
    pub fn start(
        store: crate::store::Store,
        events: EventBus,
        retention: Retention,
        clock: SharedClock,
    ) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        let folds = Arc::new(Mutex::new(Folds::default()));
        let closer = Closer {
            folds: folds.clone(),
            events: events.clone(),
            clock,
        };
        tokio::spawn(writer(store, rx, retention, closer));
        RequestLog { tx, events, folds }
    }

    /// Logs one request: at once on the event bus and (within 20 ms) in the store; a
    /// repeat of a recent identical successful request is counted into a folded entry
    /// instead, which reaches the store when its window closes.
    pub fn record(&self, entry: RequestEntry) {
        self.record_keyed(entry, None);
    }

    /// Logs a request that repeats no other (its answer issued something of its own):
    /// never folded, so not remembered for folding either.
    pub fn record_unique(&self, entry: RequestEntry) {
        self.record_single(entry);
    }

    /// [`RequestLog::record`] with the entry's fold key when [`RequestLog::repeat`]
    /// already computed it.
    pub fn record_keyed(&self, entry: RequestEntry, key: Option<u64>) {
        debug_assert!(key.is_none_or(|k| k == fold_key(&entry)));
        let folded = match self.folds.lock() {
            Ok(mut folds) => folds.fold_keyed(entry, key),
            Err(poisoned) => poisoned.into_inner().fold_keyed(entry, key),
        };
        self.deliver(folded);
    }

    /// Counts a repeat of a remembered successful request into its folded entry,
    /// without building the request's own entry. `Err` with the request's fold key
    /// when it is not such a repeat: then build the entry and
    /// [`RequestLog::record_keyed`] it.
    pub fn repeat(&self, request: &Repeat<'_>, at: Timestamp) -> Result<(), u64> {
        // Hashed before the lock: every worker takes it for every success.
        let key = request.key();
        let folded = match self.folds.lock() {
            Ok(mut folds) => folds.repeat_keyed(request, key, at),
            Err(poisoned) => poisoned.into_inner().repeat_keyed(request, key, at),
        }?;
        self.deliver(folded);
        Ok(())
    }

    fn deliver(&self, folded: Folded) {
        match folded {
            Folded::Single(entry) => self.record_single(entry),
            Folded::Into(update) => {
                if let Some(entry) = update
                    && self.events.has_subscribers()
                {
                    self.events.publish(ProviderEvent::Request { entry });
                }
            }
        }
    }

    fn record_single(&self, entry: RequestEntry) {
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

async fn writer(
    store: crate::store::Store,
    mut rx: mpsc::Receiver<Message>,
    retention: Retention,
    closer: Closer,
) {
    let mut since_prune = 0u32;
    // Memory is released when the provider goes idle by `crate::idle`, after requests
    // of every kind, logged or not.
    loop {
        // While entries are being folded, wake up to store the ones whose window closed
        // even when no request comes.
        let next = if closer.any_open() {
            match tokio::time::timeout(FOLD_TICK, rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    let closed = closer.close(false);
                    if !closed.is_empty() {
                        store_rows(&store, closed).await;
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let first = match next {
            Some(Message::Entry(entry)) => entry,
            Some(Message::Close(reply)) => {
                store_rows(&store, closer.close(true)).await;
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
        // Folded entries whose window closed (all of them when the log closes).
        batch.extend(closer.close(closing.is_some()));
        let newest = batch.iter().map(|e| e.at).max().unwrap_or(0);
        let count = batch.len() as u32;
        store_rows(&store, batch).await;
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

/// Stores entries through the group writer, so the log shares commits with the token
/// paths instead of contending with them for SQLite's write lock.
async fn store_rows(store: &crate::store::Store, batch: Vec<RequestEntry>) {
    if batch.is_empty() {
        return;
    }
    let rows = batch
        .into_iter()
        .map(|e| Box::new(LogRow(e)) as Box<dyn AppendRow>)
        .collect();
    if let Err(e) = store.writer().append(rows).await {
        tracing::warn!(error = %e, "cannot write the request log");
    }
}

/// Identical successful requests less than this many seconds apart are folded into one
/// entry; a folded entry is closed (stored, and published in its final state) this
/// long after its first request, and the next repeat opens a new one.
pub const FOLD_SECS: i64 = 2;

/// At most this many distinct requests are followed for folding at once; others are
/// logged one by one.
const FOLD_KEYS: usize = 1024;

/// How often the log's writer looks for folded entries to close while any is open.
const FOLD_TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// What [`Folds::fold`] made of an entry.
#[derive(Debug, PartialEq)]
pub enum Folded {
    /// Log it as it is (stored and published).
    Single(RequestEntry),
    /// Counted into a folded entry: nothing to store yet; publish this state of the
    /// folded entry when given (when it opened, then at most once a second).
    Into(Option<RequestEntry>),
}

/// Folding of repeated identical successful requests (the same endpoint, client,
/// persona, parameters as logged, outcome and detail): the first is logged as usual;
/// a repeat within [`FOLD_SECS`] of the previous one opens a folded entry (its own id,
/// `at` its first request), which counts every further repeat until it closes,
/// [`FOLD_SECS`] after its first request. Failures and requests still in progress are
/// never folded. Decisions depend only on the entries and the `now` given.
#[derive(Debug, Default)]
pub struct Folds {
    /// By a hash of what makes requests identical; a bucket holds those that collide.
    keys: HashMap<u64, Vec<Recent>>,
    len: usize,
}

#[derive(Debug)]
struct Recent {
    /// The first entry of this request seen (what later ones must equal).
    sample: RequestEntry,
    /// When the last one came.
    last: Timestamp,
    /// The open folded entry, and when it was last published.
    fold: Option<(RequestEntry, Timestamp)>,
}

/// Whether an entry may be folded: a success, with no error.
fn foldable(e: &RequestEntry) -> bool {
    e.status == RequestStatus::Completed && e.error.is_none() && e.error_description.is_none()
}

/// Whether two entries are the same request with the same outcome (all but id and times).
fn same_request(a: &RequestEntry, b: &RequestEntry) -> bool {
    a.kind == b.kind
        && a.client_id == b.client_id
        && a.username == b.username
        && a.status == b.status
        && a.error == b.error
        && a.params == b.params
        && same_outcome(&a.detail, &b.detail)
}

/// The key of a detail that lists what a request issued (the ids of its tokens). It
/// differs from one repeat to the next, so it is not part of the outcome folding
/// compares: a folded entry shows what its first request issued, and its count says
/// how many requests each issued their own.
pub const ISSUED: &str = "tokens";

/// Whether two details describe the same outcome: equal but for [`ISSUED`].
fn same_outcome(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let shown =
                |o: &serde_json::Map<String, Value>| o.len() - usize::from(o.contains_key(ISSUED));
            shown(a) == shown(b)
                && a.iter()
                    .filter(|(k, _)| *k != ISSUED)
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// [`hash_json`] of a detail, leaving out [`ISSUED`] as [`same_outcome`] does.
fn hash_outcome(detail: &serde_json::Value, h: &mut impl Hasher) {
    match detail {
        serde_json::Value::Object(o) => {
            5u8.hash(h);
            for (k, x) in o.iter().filter(|(k, _)| *k != ISSUED) {
                k.hash(h);
                hash_json(x, h);
            }
        }
        other => hash_json(other, h),
    }
}

fn hash_json(v: &serde_json::Value, h: &mut impl Hasher) {
    use serde_json::Value;
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        // Equal numbers are the same variant with the same value (serde_json's `==`).
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => (2u8, 0u8, i).hash(h),
            (None, Some(u)) => (2u8, 1u8, u).hash(h),
            (None, None) => (2u8, 2u8, n.as_f64().map(f64::to_bits)).hash(h),
        },
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            a.iter().for_each(|x| hash_json(x, h));
        }
        Value::Object(o) => {
            (5u8, o.len()).hash(h);
            for (k, x) in o {
                k.hash(h);
                hash_json(x, h);
            }
        }
    }
}

/// The hash of fold keys: foldhash (a fraction of SipHash's cost on every logged
/// request), with a seed chosen at start so keys cannot be aimed at one bucket.
static FOLD_HASH: std::sync::LazyLock<foldhash::fast::FixedState> =
    std::sync::LazyLock::new(|| foldhash::fast::FixedState::with_seed(rand::random()));

/// What makes requests identical, hashed: the same for an entry and for the
/// [`Repeat`] it was built from.
fn request_key<'a>(
    kind: &str,
    client_id: Option<&str>,
    username: Option<&str>,
    status: RequestStatus,
    params: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    detail: &serde_json::Value,
) -> u64 {
    let mut h = FOLD_HASH.build_hasher();
    (kind, client_id, username, status.as_str(), params.len()).hash(&mut h);
    for (k, v) in params {
        (k, v).hash(&mut h);
    }
    hash_outcome(detail, &mut h);
    h.finish()
}

fn fold_key(e: &RequestEntry) -> u64 {
    request_key(
        &e.kind,
        e.client_id.as_deref(),
        e.username.as_deref(),
        e.status,
        e.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &e.detail,
    )
}

/// A successful request as its endpoint describes it, borrowed: enough to tell whether
/// it repeats a remembered one before its entry is built.
#[derive(Debug)]
pub struct Repeat<'a> {
    pub kind: &'a str,
    pub client_id: Option<&'a str>,
    pub username: Option<&'a str>,
    /// The parameters as the log shows them (secrets redacted), in key order.
    pub params: &'a [(&'a str, std::borrow::Cow<'a, str>)],
    pub detail: &'a serde_json::Value,
}

impl Repeat<'_> {
    fn key(&self) -> u64 {
        request_key(
            self.kind,
            self.client_id,
            self.username,
            RequestStatus::Completed,
            self.params.iter().map(|(k, v)| (*k, v.as_ref())),
            self.detail,
        )
    }

    /// Whether `e` is this request with the same outcome (all but id and times).
    fn is(&self, e: &RequestEntry) -> bool {
        e.kind == self.kind
            && e.client_id.as_deref() == self.client_id
            && e.username.as_deref() == self.username
            && e.status == RequestStatus::Completed
            && e.error.is_none()
            && e.error_description.is_none()
            && e.params.len() == self.params.len()
            && e.params
                .iter()
                .zip(self.params)
                .all(|((k, v), (rk, rv))| k == rk && v == rv)
            && same_outcome(&e.detail, self.detail)
    }
}

impl Folds {
    /// Takes one entry (its `at` is the time it happened).
    pub fn fold(&mut self, e: RequestEntry) -> Folded {
        self.fold_keyed(e, None)
    }

    fn fold_keyed(&mut self, e: RequestEntry, key: Option<u64>) -> Folded {
        if !foldable(&e) {
            return Folded::Single(e);
        }
        let key = key.unwrap_or_else(|| fold_key(&e));
        if let Some(folded) = self.count(
            key,
            e.at,
            |s| same_request(s, &e),
            || (e.id.clone(), e.detail.clone()),
        ) {
            return folded;
        }
        if self.len < FOLD_KEYS {
            self.keys.entry(key).or_default().push(Recent {
                sample: e.clone(),
                last: e.at,
                fold: None,
            });
            self.len += 1;
        }
        Folded::Single(e)
    }

    /// [`Folds::fold`] for a successful request not yet made an entry: `Err` with its
    /// fold key when it repeats no remembered request.
    pub fn repeat(&mut self, r: &Repeat<'_>, at: Timestamp) -> Result<Folded, u64> {
        self.repeat_keyed(r, r.key(), at)
    }

    fn repeat_keyed(&mut self, r: &Repeat<'_>, key: u64, at: Timestamp) -> Result<Folded, u64> {
        self.count(
            key,
            at,
            |s| r.is(s),
            || (crate::model::sortable_id(at), r.detail.clone()),
        )
        .ok_or(key)
    }

    /// Counts a request that `same` finds among the remembered ones: into the open
    /// folded entry, or one opened now; `None` when it is none of them. The entries it
    /// returns are the remembered sample's, with `id` and the request's time.
    fn count(
        &mut self,
        key: u64,
        at: Timestamp,
        same: impl Fn(&RequestEntry) -> bool,
        own: impl FnOnce() -> (String, serde_json::Value),
    ) -> Option<Folded> {
        let r = self
            .keys
            .get_mut(&key)?
            .iter_mut()
            .find(|r| same(&r.sample))?;
        let previous = r.last;
        r.last = previous.max(at);
        // An entry of this request: the remembered one's, with this request's id,
        // time and detail (which shows what this request issued, if anything).
        let stamped = |sample: &RequestEntry| {
            let (id, detail) = own();
            RequestEntry {
                id,
                at,
                detail,
                count: 1,
                last_at: at,
                ..sample.clone()
            }
        };
        Some(match &mut r.fold {
            Some((open, published)) => {
                open.count = open.count.saturating_add(1);
                open.last_at = open.last_at.max(at);
                if at > *published {
                    *published = at;
                    Folded::Into(Some(open.clone()))
                } else {
                    Folded::Into(None)
                }
            }
            None if at - previous < FOLD_SECS => {
                let open = stamped(&r.sample);
                r.fold = Some((open.clone(), at));
                Folded::Into(Some(open))
            }
            None => Folded::Single(stamped(&r.sample)),
        })
    }

    /// Whether a folded entry is open, or a request is remembered for folding.
    pub fn any(&self) -> bool {
        self.len > 0
    }

    /// Closes the folded entries opened [`FOLD_SECS`] or more before `now` (all of them
    /// with `all`), returned to be stored, and forgets requests not seen for as long.
    pub fn close(&mut self, now: Timestamp, all: bool) -> Vec<RequestEntry> {
        let mut closed = Vec::new();
        for bucket in self.keys.values_mut() {
            for r in bucket.iter_mut() {
                if r.fold
                    .as_ref()
                    .is_some_and(|(open, _)| all || now - open.at >= FOLD_SECS)
                    && let Some((open, _)) = r.fold.take()
                {
                    closed.push(open);
                }
            }
            let before = bucket.len();
            bucket.retain(|r| r.fold.is_some() || (!all && now - r.last < FOLD_SECS));
            self.len -= before - bucket.len();
        }
        self.keys.retain(|_, b| !b.is_empty());
        closed.sort_by(|a, b| a.id.cmp(&b.id));
        closed
    }
}

/// The log writer's side of folding: closes folded entries on time and publishes their
/// final state.
struct Closer {
    folds: Arc<Mutex<Folds>>,
    events: EventBus,
    clock: SharedClock,
}

impl Closer {
    fn any_open(&self) -> bool {
        self.folds.lock().map(|f| f.any()).unwrap_or(false)
    }

    fn close(&self, all: bool) -> Vec<RequestEntry> {
        let now = self.clock.now();
        let closed = match self.folds.lock() {
            Ok(mut f) => f.close(now, all),
            Err(poisoned) => poisoned.into_inner().close(now, all),
        };
        if self.events.has_subscribers() {
            for entry in &closed {
                self.events.publish(ProviderEvent::Request {
                    entry: entry.clone(),
                });
            }
        }
        closed
    }
}

/// A request-log entry as the group writer appends it.
struct LogRow(RequestEntry);

impl AppendRow for LogRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO request_log (id, at, kind, client_id, username, status, error, error_description, params, detail, count, last_at) "
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
            i64::from(e.count).into(),
            e.last_at.into(),
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
            count: u32::try_from(r.get::<i64, _>("count")).unwrap_or(u32::MAX),
            last_at: r
                .get::<Option<i64>, _>("last_at")
                .unwrap_or_else(|| r.get("at")),
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
            count: 1,
            last_at: at,
        }
    }

    fn introspection(i: i64, at: Timestamp) -> RequestEntry {
        RequestEntry {
            kind: "introspect".into(),
            detail: serde_json::json!({"active": true}),
            ..entry(i, at)
        }
    }

    #[test]
    fn repeated_identical_successes_fold_into_one_entry_with_count_and_times() {
        let t: Timestamp = 1_800_000_000;
        let mut folds = Folds::default();
        // The first is logged as it is.
        assert!(matches!(folds.fold(introspection(1, t)), Folded::Single(e) if e.id == "r0001"));
        // The second opens a folded entry (published at once), the next ones count into it.
        let opened = match folds.fold(introspection(2, t)) {
            Folded::Into(Some(e)) => e,
            other => panic!("expected a folded entry, got {other:?}"),
        };
        assert_eq!(
            (opened.id.as_str(), opened.count, opened.at, opened.last_at),
            ("r0002", 1, t, t)
        );
        assert_eq!(folds.fold(introspection(3, t)), Folded::Into(None));
        assert!(
            matches!(folds.fold(introspection(4, t + 1)), Folded::Into(Some(e)) if e.count == 3)
        );
        // Not closed before its window ends; then one entry for three requests.
        assert!(folds.close(t + 1, false).is_empty());
        let closed = folds.close(t + FOLD_SECS, false);
        assert_eq!(closed.len(), 1);
        let e = &closed[0];
        assert_eq!(
            (e.id.as_str(), e.count, e.at, e.last_at),
            ("r0002", 3, t, t + 1)
        );
        // The next repeat opens a new folded entry; a long pause starts over with a single.
        assert!(
            matches!(folds.fold(introspection(5, t + 2)), Folded::Into(Some(e)) if e.id == "r0005")
        );
        assert_eq!(folds.close(t + 2 + FOLD_SECS, false).len(), 1);
        assert!(!folds.any());
        assert!(matches!(
            folds.fold(introspection(6, t + 60)),
            Folded::Single(_)
        ));
    }

    #[test]
    fn a_repeat_described_by_its_endpoint_folds_like_its_entry() {
        use std::borrow::Cow;
        let t: Timestamp = 1_800_000_000;
        let with_params = |i, at| RequestEntry {
            params: [
                (
                    "token".to_string(),
                    "[redacted, 466 characters]".to_string(),
                ),
                ("token_type_hint".to_string(), "access_token".to_string()),
            ]
            .into(),
            detail: serde_json::json!({"active": true, "n": 3, "f": 1.5, "neg": -2}),
            ..introspection(i, at)
        };
        let first = with_params(1, t);
        let detail = first.detail.clone();
        let shown = [
            ("token", Cow::Borrowed("[redacted, 466 characters]")),
            ("token_type_hint", Cow::Borrowed("access_token")),
        ];
        let repeat = Repeat {
            kind: "introspect",
            client_id: Some("service"),
            username: None,
            params: &shown,
            detail: &detail,
        };
        assert_eq!(repeat.key(), fold_key(&first), "the same key both ways");
        let mut folds = Folds::default();
        // Nothing remembered yet: not a repeat; its entry is then folded as usual.
        let key = folds.repeat(&repeat, t).unwrap_err();
        assert!(matches!(
            folds.fold_keyed(first, Some(key)),
            Folded::Single(_)
        ));
        // Now a repeat: it opens a folded entry made from the remembered one.
        let opened = match folds.repeat(&repeat, t) {
            Ok(Folded::Into(Some(e))) => e,
            other => panic!("expected a folded entry, got {other:?}"),
        };
        assert_eq!((opened.count, opened.at, opened.last_at), (1, t, t));
        assert_ne!(opened.id, "r0001", "a folded entry has an id of its own");
        assert_eq!(opened.params, with_params(1, t).params);
        assert_eq!(folds.repeat(&repeat, t), Ok(Folded::Into(None)));
        // An entry of the same request counts into the same folded entry.
        assert_eq!(folds.fold(with_params(3, t)), Folded::Into(None));
        let closed = folds.close(t + FOLD_SECS, false);
        assert_eq!((closed.len(), closed[0].count), (1, 3));
        // Another parameter value is another request.
        let other = [
            ("token", Cow::Borrowed("[redacted, 12 characters]")),
            ("token_type_hint", Cow::Borrowed("access_token")),
        ];
        let different = Repeat {
            params: &other,
            ..repeat
        };
        assert!(folds.repeat(&different, t + 3).is_err());
    }

    #[test]
    fn repeated_token_requests_fold_though_each_issued_tokens_of_its_own() {
        let t: Timestamp = 1_800_000_000;
        let token = |i: i64, scope: &str| RequestEntry {
            detail: serde_json::json!({"grant_type": "client_credentials", "scope": scope, ISSUED: [format!("jti-{i}")]}),
            ..entry(i, t)
        };
        let mut folds = Folds::default();
        assert!(matches!(
            folds.fold(token(1, "api.read")),
            Folded::Single(_)
        ));
        // Only what was issued differs: the same request with the same outcome.
        assert!(matches!(
            folds.fold(token(2, "api.read")),
            Folded::Into(Some(_))
        ));
        let shown = [];
        let detail = token(3, "api.read").detail;
        let repeat = Repeat {
            kind: "token",
            client_id: Some("service"),
            username: None,
            params: &shown,
            detail: &detail,
        };
        assert_eq!(repeat.key(), fold_key(&token(9, "api.read")));
        assert_eq!(folds.repeat(&repeat, t), Ok(Folded::Into(None)));
        // Another outcome (here the scope granted) is another entry.
        assert!(matches!(
            folds.fold(token(4, "api.write")),
            Folded::Single(_)
        ));
        // A detail lacking the key altogether is the same outcome too: details are
        // compared without it.
        let bare = RequestEntry {
            detail: serde_json::json!({"grant_type": "client_credentials", "scope": "api.read"}),
            ..entry(5, t)
        };
        assert_eq!(folds.fold(bare), Folded::Into(None));
        let closed = folds.close(t + FOLD_SECS, false);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            closed[0].count, 3,
            "the first request is an entry of its own"
        );
        assert_eq!(
            closed[0].detail[ISSUED],
            serde_json::json!(["jti-2"]),
            "a folded entry shows what its first request issued"
        );
        // The key is left out of the comparison only at the top of the detail.
        let nested = |i: i64| RequestEntry {
            detail: serde_json::json!({"outer": {ISSUED: [i]}}),
            ..entry(i, t + 100)
        };
        assert!(matches!(folds.fold(nested(1)), Folded::Single(_)));
        assert!(matches!(folds.fold(nested(2)), Folded::Single(_)));
    }

    #[test]
    fn failures_and_different_requests_are_never_folded_together() {
        let t: Timestamp = 1_800_000_000;
        let mut folds = Folds::default();
        let failed = |i| RequestEntry {
            status: RequestStatus::Rejected,
            error: Some("invalid_client".into()),
            error_description: Some("wrong secret".into()),
            ..introspection(i, t)
        };
        for i in 0..3 {
            assert!(
                matches!(folds.fold(failed(i)), Folded::Single(_)),
                "failure {i}"
            );
        }
        // Another client, another outcome, another endpoint: each its own entry.
        let other_client = RequestEntry {
            client_id: Some("web".into()),
            ..introspection(10, t)
        };
        let inactive = RequestEntry {
            detail: serde_json::json!({"active": false}),
            ..introspection(11, t)
        };
        let token = entry(12, t);
        assert!(matches!(folds.fold(introspection(9, t)), Folded::Single(_)));
        for e in [other_client, inactive, token] {
            assert!(matches!(folds.fold(e), Folded::Single(_)));
        }
        // Closing everything (the provider stops) returns only folded entries: none here.
        assert!(folds.close(t, true).is_empty());
    }

    #[tokio::test]
    async fn the_log_stores_a_folded_entry_and_publishes_its_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        let clock: SharedClock = Arc::new(crate::clock::ManualClock::new(now));
        let events = EventBus::new();
        let mut rx = events.subscribe();
        let log = RequestLog::start(store.clone(), events, Retention::default(), clock);
        for i in 0..5 {
            log.record(introspection(i, now));
        }
        let failed = RequestEntry {
            status: RequestStatus::Rejected,
            error: Some("invalid_client".into()),
            error_description: Some("wrong secret".into()),
            ..introspection(10, now)
        };
        log.record(failed.clone());
        log.record(RequestEntry {
            id: "r0011".into(),
            ..failed
        });
        // Closing stores what is still folded.
        log.close().await;
        let stored = list(store.pool(), None, None, 100).await.unwrap();
        let shown: Vec<(String, u32, RequestStatus)> = stored
            .iter()
            .map(|e| (e.id.clone(), e.count, e.status))
            .collect();
        assert_eq!(
            shown,
            [
                ("r0001".to_string(), 4, RequestStatus::Completed),
                ("r0011".to_string(), 1, RequestStatus::Rejected),
                ("r0010".to_string(), 1, RequestStatus::Rejected),
                ("r0000".to_string(), 1, RequestStatus::Completed),
            ]
        );
        assert_eq!((stored[0].at, stored[0].last_at), (now, now));
        // The window saw the single, the folded entry as it opened, both failures and
        // the folded entry's final count.
        let mut seen = Vec::new();
        while let Ok(ProviderEvent::Request { entry }) = rx.try_recv() {
            seen.push((entry.id, entry.count));
        }
        assert_eq!(
            seen,
            [
                ("r0000".to_string(), 1),
                ("r0001".to_string(), 1),
                ("r0010".to_string(), 1),
                ("r0011".to_string(), 1),
                ("r0001".to_string(), 4),
            ]
        );
        store.close().await;
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
