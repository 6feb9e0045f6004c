//! Group commit. Hot write paths (issuing tokens, exchanging codes, rotating refresh
//! tokens, the request log) send their work to one writer, which owns a dedicated
//! connection on its own thread. The writer runs every piece of work that is waiting
//! in ONE transaction, commits once, and only then answers the callers. A token is
//! therefore durable before it is returned, while many concurrent requests share one
//! commit instead of queueing on SQLite's write lock (whose busy handler sleeps).
//!
//! Two kinds of work:
//! - a [`Writer::run`] job: arbitrary sqlx statements inside its own savepoint, so a
//!   failing job rolls back alone;
//! - a [`Writer::append`]: plain rows (tokens, grants, codes, request-log entries), each
//!   append in its own savepoint, so a failing append (a duplicate key) fails alone.
//!
//! sqlx runs every statement on its connection's worker thread, so each statement costs
//! two thread switches. The profile of issue 6 showed those switches, not SQLite,
//! dominating token issuance. Appends therefore run on the same SQLite connection
//! through [`sqlx::sqlite::LockedSqliteHandle`]: the writer takes the connection's lock
//! once, runs `BEGIN`, every insert and `COMMIT` itself with rusqlite's prepared
//! statements on that handle, and gives the lock back. A batch of appends costs one
//! hand-over of the connection instead of a few statements' round trips per append.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

type Erased = Box<dyn Any + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<Erased>> + Send>;

/// One value of an appended row.
#[derive(Debug, Clone)]
pub enum Col<'a> {
    Text(Option<&'a str>),
    Owned(String),
    Int(Option<i64>),
}

impl<'a> From<&'a str> for Col<'a> {
    fn from(s: &'a str) -> Self {
        Col::Text(Some(s))
    }
}

impl<'a> From<Option<&'a str>> for Col<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Col::Text(s)
    }
}

impl From<String> for Col<'_> {
    fn from(s: String) -> Self {
        Col::Owned(s)
    }
}

impl From<i64> for Col<'_> {
    fn from(i: i64) -> Self {
        Col::Int(Some(i))
    }
}

impl From<Option<i64>> for Col<'_> {
    fn from(i: Option<i64>) -> Self {
        Col::Int(i)
    }
}

impl rusqlite::ToSql for Col<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Col::Text(s) => s.to_sql(),
            Col::Owned(s) => s.as_str().to_sql(),
            Col::Int(i) => i.to_sql(),
        }
    }
}

/// A row that a hot path appends.
pub trait AppendRow: Send + Sync + 'static {
    /// The statement's head, e.g. `INSERT INTO grants (id, client_id) `; the writer
    /// adds `VALUES (…)`.
    fn insert(&self) -> &'static str;
    /// Rows of a lower rank are inserted first (a grant before the tokens naming it).
    fn rank(&self) -> u8;
    /// This row's values, in the order of [`AppendRow::insert`]'s columns.
    fn values(&self) -> Vec<Col<'_>>;
}

pub type Rows = Vec<Box<dyn AppendRow>>;

/// Boxes rows of one kind for [`Writer::append`].
pub fn boxed<R: AppendRow>(
    rows: impl IntoIterator<Item = R>,
) -> impl Iterator<Item = Box<dyn AppendRow>> {
    rows.into_iter().map(|r| Box::new(r) as Box<dyn AppendRow>)
}

enum Work {
    Job {
        job: Job,
        reply: oneshot::Sender<Result<Erased>>,
    },
    Append {
        rows: Rows,
        reply: oneshot::Sender<Result<()>>,
    },
    Close(oneshot::Sender<()>),
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Work::Job { .. } => "WriteJob",
            Work::Append { .. } => "Append",
            Work::Close(_) => "Close",
        })
    }
}

/// Most pieces of work in one transaction.
const MAX_BATCH: usize = 512;

/// Rows per multi-row `INSERT` inside jobs (which use sqlx), largest first. A fixed set
/// of sizes keeps the number of distinct statements small, so all of them stay in
/// sqlx's prepared-statement cache.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Work>,
}

fn stopped() -> Error {
    Error::Other("the database writer has stopped".into())
}

impl Writer {
    /// Starts the writer on its own thread. It opens its own connection with `options`
    /// (and reopens it after a failure).
    pub async fn start(options: SqliteConnectOptions) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let (opened, ready) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("authdesk-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run(options, rx, opened)),
                    // Dropping `rx` makes every write fail with "has stopped".
                    Err(e) => tracing::error!(error = %e, "cannot start the database writer"),
                }
            });
        match spawned {
            // Wait for its connection: opening it (which sets the journal mode) while
            // the pool's connections run their first statements makes them wait on
            // SQLite's lock, in sleeps of a millisecond or more.
            Ok(_) => {
                let _ = ready.await;
            }
            Err(e) => tracing::error!(error = %e, "cannot start the database writer thread"),
        }
        Writer { tx }
    }

    /// Runs `job` in the next group transaction; returns its result once committed.
    /// A job that returns `Err` is rolled back (alone); results that must persist
    /// despite being an error for the client are returned as `Ok` values.
    pub async fn run<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<T>> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move { job(conn).await.map(|v| Box::new(v) as Erased) })
        });
        self.tx
            .send(Work::Job { job, reply })
            .await
            .map_err(|_| stopped())?;
        let value = rx
            .await
            .map_err(|_| Error::Other("the database writer stopped before answering".into()))??;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Other("database writer answered with the wrong type".into()))
    }

    /// Inserts `rows` (all or none of them) in the next group transaction; returns once
    /// committed.
    pub async fn append(&self, rows: Rows) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Work::Append { rows, reply })
            .await
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| Error::Other("the database writer stopped before answering".into()))?
    }

    /// Finishes the work already sent, then closes the writer's connection. Later calls
    /// fail with "the database writer has stopped".
    pub async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Work::Close(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Work inside a batch, in the order it runs. `Begin` and `Commit` frame the batch.
enum Step {
    Begin,
    Appends(Vec<(Rows, oneshot::Sender<Result<()>>)>),
    Job(Job, oneshot::Sender<Result<Erased>>),
    Commit,
}

/// An answer held back until the batch commits.
enum Answer {
    Job(Result<Erased>, oneshot::Sender<Result<Erased>>),
    Append(Result<()>, oneshot::Sender<Result<()>>),
}

impl Answer {
    fn send(self) {
        match self {
            Answer::Job(r, tx) => drop(tx.send(r)),
            Answer::Append(r, tx) => drop(tx.send(r)),
        }
    }

    fn fail(self, msg: &str) {
        let err = || Error::Other(msg.to_string());
        match self {
            Answer::Job(_, tx) => drop(tx.send(Err(err()))),
            Answer::Append(_, tx) => drop(tx.send(Err(err()))),
        }
    }
}

/// Where a batch stands while its steps run.
struct Batch {
    answers: Vec<Answer>,
    /// Set when the transaction could not start or the connection failed: every later
    /// piece of work fails with this message, and nothing is committed.
    failed: Option<String>,
    /// False when the connection is in an unknown state and must be replaced.
    healthy: bool,
}

impl Batch {
    fn fail_step(&mut self, step: Step, msg: &str) {
        match step {
            Step::Appends(run) => {
                for (_, reply) in run {
                    Answer::Append(Ok(()), reply).fail(msg);
                }
            }
            Step::Job(_, reply) => Answer::Job(Ok(Box::new(())), reply).fail(msg),
            Step::Begin | Step::Commit => {}
        }
    }
}

/// The writer's connection: sqlx's, and a rusqlite view of the same SQLite handle for
/// appends. The view (with its prepared statements) is dropped before sqlx closes the
/// handle; see [`Conn::close`].
struct Conn {
    view: Option<rusqlite::Connection>,
    sqlx: SqliteConnection,
    /// The full `INSERT … VALUES (?, …)` text of each row kind.
    sql: HashMap<(&'static str, usize), String>,
}

impl Conn {
    async fn open(options: &SqliteConnectOptions) -> Result<Self> {
        Ok(Conn {
            view: None,
            sqlx: SqliteConnection::connect_with(options).await?,
            sql: HashMap::new(),
        })
    }

    /// Runs `f` on the rusqlite view while holding the connection's lock, so sqlx's
    /// worker thread cannot use the handle meanwhile.
    async fn with_view<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection, &mut HashMap<(&'static str, usize), String>) -> T,
    ) -> Result<T> {
        let mut handle = self.sqlx.lock_handle().await?;
        let view = match &mut self.view {
            Some(v) => v,
            slot => {
                // SAFETY: the handle is valid while `self.sqlx` lives, and the view is
                // dropped before it (`close`, and field order on drop). The view is used
                // only inside this function, while `handle` holds the connection's lock.
                let v =
                    unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
                        .map_err(sql_err)?;
                slot.insert(v)
            }
        };
        let out = f(view, &mut self.sql);
        drop(handle);
        Ok(out)
    }

    /// Drops the view under the lock (finalizing its statements), then closes.
    async fn close(mut self) {
        if self.view.is_some()
            && let Ok(_handle) = self.sqlx.lock_handle().await
        {
            self.view = None;
        }
        let _ = self.sqlx.close().await;
    }

    /// Runs one batch in one transaction. Returns false when the connection must be
    /// replaced.
    async fn run_batch(&mut self, steps: Vec<Step>) -> bool {
        let mut batch = Batch {
            answers: Vec::with_capacity(steps.len()),
            failed: None,
            healthy: true,
        };
        let mut steps = steps.into_iter().peekable();
        while let Some(step) = steps.next() {
            if let Some(msg) = batch.failed.clone() {
                batch.fail_step(step, &msg);
                continue;
            }
            if let Step::Job(job, reply) = step {
                let outcome = run_one(&mut self.sqlx, job).await;
                batch.answers.push(Answer::Job(outcome, reply));
                continue;
            }
            // Everything up to the next job runs under one hand-over of the connection.
            let mut group = vec![step];
            while let Some(next) = steps.next_if(|s| !matches!(s, Step::Job(..))) {
                group.push(next);
            }
            let ran = self
                .with_view(|db, sql| {
                    for step in group {
                        run_sync(db, sql, step, &mut batch);
                    }
                })
                .await;
            if let Err(e) = ran {
                // The lock could not be taken: sqlx's worker is gone.
                let msg = format!("database: {e}");
                batch.healthy = false;
                batch.failed = Some(msg.clone());
                batch.answers.drain(..).for_each(|a| a.fail(&msg));
            }
        }
        batch.healthy
    }
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Other(format!("database: {e}"))
}

/// Runs a step that needs no sqlx: the frame of the transaction, or appends.
fn run_sync(
    db: &rusqlite::Connection,
    sql: &mut HashMap<(&'static str, usize), String>,
    step: Step,
    batch: &mut Batch,
) {
    if let Some(msg) = batch.failed.clone() {
        batch.fail_step(step, &msg);
        return;
    }
    match step {
        Step::Begin => {
            if let Err(e) = db.execute_batch("BEGIN IMMEDIATE") {
                batch.failed = Some(format!("database: {e}"));
            }
        }
        Step::Appends(run) => {
            for (rows, reply) in run {
                let outcome = in_savepoint(db, |db| insert_sync(db, sql, &rows));
                batch.answers.push(Answer::Append(outcome, reply));
            }
        }
        Step::Commit => {
            if let Err(e) = db.execute_batch("COMMIT") {
                tracing::error!(error = %e, "group commit failed");
                batch.healthy = db.execute_batch("ROLLBACK").is_ok() || db.is_autocommit();
                let msg = format!("database commit: {e}");
                batch.answers.drain(..).for_each(|a| a.fail(&msg));
                batch.failed = Some(msg);
            } else {
                batch.answers.drain(..).for_each(Answer::send);
            }
        }
        Step::Job(_, reply) => {
            // Jobs never reach here (run_batch runs them through sqlx).
            Answer::Job(Ok(Box::new(())), reply).fail("database: misplaced job");
        }
    }
}

/// Runs `f` in a savepoint: rolled back alone when it fails.
fn in_savepoint(
    db: &rusqlite::Connection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<()>,
) -> Result<()> {
    let cached = |text: &str| -> Result<()> {
        db.prepare_cached(text)
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(sql_err)
    };
    cached("SAVEPOINT append")?;
    let outcome = f(db);
    if outcome.is_err() {
        cached("ROLLBACK TO append")?;
    }
    cached("RELEASE append")?;
    outcome
}

/// Inserts one append's rows with prepared statements, lower ranks first.
fn insert_sync(
    db: &rusqlite::Connection,
    sql: &mut HashMap<(&'static str, usize), String>,
    rows: &Rows,
) -> Result<()> {
    let mut rows: Vec<&dyn AppendRow> = rows.iter().map(|r| r.as_ref()).collect();
    rows.sort_by_key(|r| r.rank());
    for row in rows {
        let values = row.values();
        let text = sql.entry((row.insert(), values.len())).or_insert_with(|| {
            let marks = vec!["?"; values.len()].join(", ");
            format!("{}VALUES ({marks})", row.insert())
        });
        db.prepare_cached(text)
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(values.iter())))
            .map_err(sql_err)?;
    }
    Ok(())
}

async fn run(
    options: SqliteConnectOptions,
    mut rx: mpsc::Receiver<Work>,
    opened: oneshot::Sender<()>,
) {
    // Connect now, not at the first write: the first token of a fresh start would
    // otherwise wait for the connection to open (and parse the schema).
    let mut conn: Option<Conn> = Conn::open(&options).await.ok();
    let _ = opened.send(());
    while let Some(first) = rx.recv().await {
        let mut steps = vec![Step::Begin];
        let mut closing = None;
        let mut next = Some(first);
        let mut count = 0;
        while let Some(work) = next.take() {
            match work {
                Work::Job { job, reply } => steps.push(Step::Job(job, reply)),
                Work::Append { rows, reply } => match steps.last_mut() {
                    Some(Step::Appends(run)) => run.push((rows, reply)),
                    _ => steps.push(Step::Appends(vec![(rows, reply)])),
                },
                Work::Close(reply) => {
                    closing = Some(reply);
                    break;
                }
            }
            count += 1;
            if count < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if count > 0 {
            steps.push(Step::Commit);
            if conn.is_none() {
                match Conn::open(&options).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => tracing::warn!(error = %e, "the database writer cannot connect"),
                }
            }
            match conn.as_mut() {
                Some(c) => {
                    if !c.run_batch(steps).await
                        && let Some(c) = conn.take()
                    {
                        // The connection is in an unknown state: open a new one next time.
                        c.close().await;
                    }
                }
                None => {
                    let mut batch = Batch {
                        answers: Vec::new(),
                        failed: None,
                        healthy: false,
                    };
                    for step in steps {
                        batch.fail_step(step, "database: the writer cannot connect");
                    }
                }
            }
        }
        if let Some(reply) = closing {
            if let Some(c) = conn.take() {
                c.close().await;
            }
            let _ = reply.send(());
            return;
        }
    }
    // Every sender is gone (the store was dropped without `close`).
    if let Some(c) = conn.take() {
        c.close().await;
    }
}

async fn run_one(conn: &mut SqliteConnection, job: Job) -> Result<Erased> {
    sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
    let outcome = job(conn).await;
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
    }
    sqlx::query("RELEASE job").execute(&mut *conn).await?;
    outcome
}

/// Inserts `rows` inside a job (through sqlx) with as few statements as the chunk sizes
/// allow, lower ranks first.
pub async fn insert_all<'a>(
    conn: &mut SqliteConnection,
    rows: impl IntoIterator<Item = &'a dyn AppendRow>,
) -> Result<()> {
    let mut rows: Vec<&'a dyn AppendRow> = rows.into_iter().collect();
    rows.sort_by_key(|r| (r.rank(), r.insert()));
    for group in rows.chunk_by(|a, b| a.insert() == b.insert()) {
        let mut rest = group;
        while let Some(first) = rest.first() {
            let size = CHUNKS
                .iter()
                .copied()
                .find(|&c| c <= rest.len())
                .unwrap_or(1);
            let (now, later) = rest.split_at(size);
            let mut query = QueryBuilder::<Sqlite>::new(first.insert());
            query.push_values(now, |mut values, row| {
                for col in row.values() {
                    match col {
                        Col::Text(s) => values.push_bind(s),
                        Col::Owned(s) => values.push_bind(s),
                        Col::Int(i) => values.push_bind(i),
                    };
                }
            });
            query.build().execute(&mut *conn).await?;
            rest = later;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone_and_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer().clone();
        let ok = |name: &'static str| {
            let w = w.clone();
            async move {
                w.run(move |c| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO meta (key, value) VALUES (?, 'x')")
                            .bind(name)
                            .execute(c)
                            .await?;
                        Ok(name)
                    })
                })
                .await
            }
        };
        let bad = {
            let w = w.clone();
            async move {
                w.run(|c| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO meta (key, value) VALUES ('bad', 'x')")
                            .execute(&mut *c)
                            .await?;
                        Err::<(), _>(Error::Other("refused".into()))
                    })
                })
                .await
            }
        };
        let (a, b, c) = tokio::join!(ok("a"), bad, ok("c"));
        assert_eq!(a.unwrap(), "a");
        assert!(b.is_err());
        assert_eq!(c.unwrap(), "c");
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM meta ORDER BY key")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(keys, ["a", "c"]);
    }

    /// A row of the `meta` table, for appends in tests.
    struct Meta(&'static str, u8);

    impl AppendRow for Meta {
        fn insert(&self) -> &'static str {
            "INSERT INTO meta (key, value) "
        }
        fn rank(&self) -> u8 {
            self.1
        }
        fn values(&self) -> Vec<Col<'_>> {
            vec![self.0.into(), "x".into()]
        }
    }

    async fn keys(store: &crate::store::Store) -> Vec<String> {
        sqlx::query_scalar("SELECT key FROM meta WHERE value = 'x' ORDER BY key")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn concurrent_appends_commit_and_a_conflicting_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer().clone();
        // 100 appends of 2 rows each, sent at once so they share batches; one of them
        // repeats a key of another append, which the unique key refuses.
        let names: Vec<&'static str> = (0..200)
            .map(|i| &*Box::leak(format!("k{i:03}").into_boxed_str()))
            .collect();
        let mut tasks = Vec::new();
        for pair in names.chunks(2) {
            let w = w.clone();
            let rows: Rows = vec![Box::new(Meta(pair[0], 0)), Box::new(Meta(pair[1], 0))];
            tasks.push(tokio::spawn(async move { w.append(rows).await }));
        }
        let dup = {
            let w = w.clone();
            let rows: Rows = vec![Box::new(Meta("zz-own", 0)), Box::new(Meta("k150", 0))];
            tokio::spawn(async move { w.append(rows).await })
        };
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(
            dup.await.unwrap().is_err(),
            "a duplicate key must fail its append"
        );
        let got = keys(&store).await;
        assert_eq!(got.len(), 200, "every other row is stored");
        assert!(
            !got.contains(&"zz-own".to_string()),
            "a failed append stores none of its rows"
        );
    }

    #[tokio::test]
    async fn interleaved_jobs_and_appends_fail_alone() {
        // Appends run on the locked handle and jobs through sqlx; sent at once, they
        // usually share batches (the writer thread may start on the first one alone).
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer();
        let job = |key: &'static str, fail: bool| {
            w.run(move |c| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO meta (key, value) VALUES (?, 'x')")
                        .bind(key)
                        .execute(&mut *c)
                        .await?;
                    if fail {
                        return Err(Error::Other("refused".into()));
                    }
                    Ok(key)
                })
            })
        };
        let (a, b, c, d, e) = tokio::join!(
            w.append(vec![Box::new(Meta("a-append", 0))]),
            job("b-job", false),
            w.append(vec![Box::new(Meta("c-append", 0))]),
            job("d-failing-job", true),
            w.append(vec![
                Box::new(Meta("e-append", 0)),
                Box::new(Meta("a-append", 0))
            ]),
        );
        a.unwrap();
        assert_eq!(b.unwrap(), "b-job");
        c.unwrap();
        assert!(d.is_err());
        assert!(e.is_err(), "a duplicate key fails its append");
        assert_eq!(keys(&store).await, ["a-append", "b-job", "c-append"]);
        // The writer goes on after the failures.
        w.append(vec![Box::new(Meta("f-after", 0))]).await.unwrap();
        assert_eq!(keys(&store).await.len(), 4);
    }

    #[tokio::test]
    async fn appended_rows_are_inserted_by_rank() {
        // A grant (rank 0) goes in before the tokens naming it (rank 1), whatever the
        // order of the list and of the appends in a batch. Rowids show the order.
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer();
        let (a, b) = tokio::join!(
            w.append(vec![
                Box::new(Meta("late-1", 1)),
                Box::new(Meta("early-1", 0))
            ]),
            w.append(vec![
                Box::new(Meta("late-2", 1)),
                Box::new(Meta("early-2", 0))
            ])
        );
        a.unwrap();
        b.unwrap();
        let order: Vec<String> =
            sqlx::query_scalar("SELECT key FROM meta WHERE value = 'x' ORDER BY rowid")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let pos = |k: &str| order.iter().position(|o| o == k).unwrap();
        assert!(
            pos("early-1") < pos("late-1"),
            "ranks not respected: {order:?}"
        );
        assert!(
            pos("early-2") < pos("late-2"),
            "ranks not respected: {order:?}"
        );
    }

    #[tokio::test]
    async fn releasing_memory_keeps_every_connection_usable() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer();
        w.append(vec![Box::new(Meta("before", 0))]).await.unwrap();
        assert_eq!(keys(&store).await, ["before"]);
        store.release_memory().await;
        w.append(vec![Box::new(Meta("after", 0))]).await.unwrap();
        assert_eq!(keys(&store).await, ["after", "before"]);
    }

    #[tokio::test]
    async fn close_finishes_sent_work_then_refuses_more() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer().clone();
        let sent = {
            let w = w.clone();
            tokio::spawn(async move { w.append(vec![Box::new(Meta("before", 0))]).await })
        };
        tokio::task::yield_now().await;
        store.close().await;
        sent.await.unwrap().unwrap();
        let err = w
            .append(vec![Box::new(Meta("after", 0))])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
    }
}
