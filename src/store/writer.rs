//! Group commit. Hot write paths (issuing tokens, exchanging codes, rotating refresh
//! tokens, the request log) send their work to one writer task, which owns a dedicated
//! connection. The writer runs every piece of work that is waiting in ONE transaction,
//! commits once, and only then answers the callers. A token is therefore durable before
//! it is returned, while many concurrent requests share one commit instead of queueing
//! on SQLite's write lock (whose busy handler sleeps).
//!
//! Two kinds of work:
//! - a [`Writer::run`] job: arbitrary statements inside its own savepoint, so a failing
//!   job rolls back alone;
//! - a [`Writer::append`]: plain rows (tokens, grants, request-log entries). Consecutive
//!   appends are coalesced into a few multi-row `INSERT`s. sqlx runs every statement on
//!   the connection's worker thread, so each statement costs a thread round trip; with
//!   coalescing, a batch of hundreds of tokens costs a handful of statements instead of
//!   three per token (the profile of issue 6 showed those round trips dominating).
//!   Should a coalesced insert fail, the appends are retried one by one, each in a
//!   savepoint, so only the offending one fails.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

type Erased = Box<dyn Any + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<Erased>> + Send>;

/// A row that a hot path appends. Rows whose [`AppendRow::insert`] is the same share
/// multi-row `INSERT` statements.
pub trait AppendRow: Send + Sync + 'static {
    /// The statement's head, e.g. `INSERT INTO grants (id, client_id) `; the writer
    /// adds `VALUES (…), (…)`.
    fn insert(&self) -> &'static str;
    /// Rows of a lower rank are inserted first (a grant before the tokens naming it).
    fn rank(&self) -> u8;
    /// Binds this row's values, in the order of [`AppendRow::insert`]'s columns.
    fn bind<'a>(&'a self, values: &mut Separated<'_, 'a, Sqlite, &'static str>);
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

/// Rows per multi-row `INSERT`, largest first. A fixed set of sizes keeps the number
/// of distinct statements small, so all of them stay in sqlx's prepared-statement cache.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Work>,
}

fn stopped() -> Error {
    Error::Other("the database writer has stopped".into())
}

impl Writer {
    /// Starts the writer task on the current runtime. It opens its own connection with
    /// `options` (and reopens it after a failure).
    pub fn start(options: SqliteConnectOptions) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(options, rx));
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

/// Work inside a batch.
enum Item {
    Job(Job, oneshot::Sender<Result<Erased>>),
    Append(Rows, oneshot::Sender<Result<()>>),
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
}

fn fail_item(item: Item, msg: &str) {
    match item {
        Item::Job(_, tx) => drop(tx.send(Err(Error::Other(msg.to_string())))),
        Item::Append(_, tx) => drop(tx.send(Err(Error::Other(msg.to_string())))),
    }
}

fn fail_answer(answer: Answer, msg: &str) {
    match answer {
        Answer::Job(_, tx) => drop(tx.send(Err(Error::Other(msg.to_string())))),
        Answer::Append(_, tx) => drop(tx.send(Err(Error::Other(msg.to_string())))),
    }
}

async fn run(options: SqliteConnectOptions, mut rx: mpsc::Receiver<Work>) {
    // Connect now, not at the first write: the first token of a fresh start would
    // otherwise wait for the connection to open (and parse the schema).
    let mut conn: Option<SqliteConnection> = SqliteConnection::connect_with(&options).await.ok();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut closing = None;
        let mut next = Some(first);
        while let Some(work) = next.take() {
            match work {
                Work::Job { job, reply } => batch.push(Item::Job(job, reply)),
                Work::Append { rows, reply } => batch.push(Item::Append(rows, reply)),
                Work::Close(reply) => {
                    closing = Some(reply);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if conn.is_none() {
                match SqliteConnection::connect_with(&options).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => tracing::warn!(error = %e, "the database writer cannot connect"),
                }
            }
            match conn.as_mut() {
                Some(c) => {
                    if !run_batch(c, batch).await {
                        // The connection is in an unknown state: open a new one next time.
                        conn = None;
                    }
                }
                None => batch
                    .into_iter()
                    .for_each(|item| fail_item(item, "database: the writer cannot connect")),
            }
        }
        if let Some(reply) = closing {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            let _ = reply.send(());
            break;
        }
    }
}

/// Runs one batch in one transaction. Returns false when the connection must be dropped.
async fn run_batch(conn: &mut SqliteConnection, batch: Vec<Item>) -> bool {
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        let msg = format!("database: {e}");
        batch.into_iter().for_each(|item| fail_item(item, &msg));
        return true;
    }
    let mut answers = Vec::with_capacity(batch.len());
    let mut items = batch.into_iter().peekable();
    while let Some(item) = items.next() {
        match item {
            Item::Job(job, reply) => answers.push(Answer::Job(run_one(conn, job).await, reply)),
            Item::Append(rows, reply) => {
                let mut run = vec![(rows, reply)];
                while let Some(Item::Append(..)) = items.peek() {
                    if let Some(Item::Append(rows, reply)) = items.next() {
                        run.push((rows, reply));
                    }
                }
                let (rows, replies): (Vec<Rows>, Vec<_>) = run.into_iter().unzip();
                let results = append_run(conn, &rows).await;
                answers.extend(
                    results
                        .into_iter()
                        .zip(replies)
                        .map(|(r, tx)| Answer::Append(r, tx)),
                );
            }
        }
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => {
            answers.into_iter().for_each(Answer::send);
            true
        }
        Err(e) => {
            let healthy = sqlx::query("ROLLBACK").execute(&mut *conn).await.is_ok();
            let msg = format!("database commit: {e}");
            tracing::error!(error = %e, "group commit failed");
            answers.into_iter().for_each(|a| fail_answer(a, &msg));
            healthy
        }
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

/// Inserts consecutive appends: all together first; if that fails, one by one.
async fn append_run(conn: &mut SqliteConnection, run: &[Rows]) -> Vec<Result<()>> {
    if run.len() > 1 {
        let together = async {
            sqlx::query("SAVEPOINT appends").execute(&mut *conn).await?;
            let outcome = insert_all(conn, run.iter().flatten().map(|r| r.as_ref())).await;
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO appends")
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("RELEASE appends").execute(&mut *conn).await?;
            outcome
        };
        match together.await {
            Ok(()) => return run.iter().map(|_| Ok(())).collect(),
            Err(e) => tracing::debug!(error = %e, "coalesced insert failed; inserting one by one"),
        }
    }
    let mut results = Vec::with_capacity(run.len());
    for rows in run {
        let one = async {
            sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
            let outcome = insert_all(conn, rows.iter().map(|r| r.as_ref())).await;
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
            }
            sqlx::query("RELEASE job").execute(&mut *conn).await?;
            outcome
        };
        results.push(one.await);
    }
    results
}

/// Inserts one row (outside the coalescing, inside a job).
pub async fn insert_one(conn: &mut SqliteConnection, row: &dyn AppendRow) -> Result<()> {
    insert_all(conn, [row]).await
}

/// Inserts `rows` (inside a job, or for the coalesced appends) with as few statements
/// as the chunk sizes allow, lower ranks first.
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
            query.push_values(now, |mut values, row| row.bind(&mut values));
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
        fn bind<'a>(&'a self, v: &mut Separated<'_, 'a, Sqlite, &'static str>) {
            v.push_bind(self.0).push_bind("x");
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
