//! Group commit. Hot write paths (issuing tokens, exchanging codes, rotating refresh
//! tokens, the request log) send their work to one writer, which owns a dedicated
//! connection on its own thread. The writer runs every piece of work that is waiting
//! in ONE transaction, commits once, and only then answers the callers. A token is
//! therefore committed before it is returned (in the WAL: safe from a killed process;
//! from power loss too with `Durability::Full`), while many concurrent requests share
//! one commit instead of queueing on SQLite's write lock (whose busy handler sleeps).
//!
//! Three kinds of work, each rolled back alone when it fails (in its own savepoint;
//! a one-row append needs none, as SQLite undoes a failing statement by itself):
//! - a [`Writer::append`]: plain rows (tokens, grants, codes, request-log entries); a
//!   duplicate key fails its append only;
//! - a [`Writer::run_now`] job: a read-and-decide write of a hot path (code exchange,
//!   refresh rotation) as plain rusqlite statements ([`Tx`]);
//! - a [`Writer::run`] job: arbitrary sqlx statements (pruning, device codes, memory).
//!
//! sqlx runs every statement on its connection's worker thread, so each statement costs
//! two thread switches. The profiles of issue 6 showed those switches, not SQLite,
//! dominating token issuance and code exchange. Appends and `run_now` jobs therefore
//! run on a connection the writer's thread drives itself through rusqlite: `BEGIN`,
//! every statement (prepared once, cached) and `COMMIT`, with no thread switch at all.
//! `run` jobs use a second connection, through sqlx. Each run of consecutive work of
//! one connection in a batch is one transaction; both connections belong to the one
//! writer thread, so they never wait on each other's write lock.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

type Erased = Box<dyn Any + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<Erased>> + Send>;
type NowJob = Box<dyn FnOnce(&mut Tx<'_>) -> Result<Erased> + Send>;

/// The transaction a [`Writer::run_now`] job runs in: the appends' connection, on the
/// writer's thread, with cached prepared statements.
pub struct Tx<'a> {
    db: &'a rusqlite::Connection,
    sql: &'a mut HashMap<(&'static str, usize), String>,
}

impl Tx<'_> {
    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        self.db
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map_err(sql_err)
    }

    /// Whether a query returns a row.
    pub fn exists(&self, sql: &str, params: impl rusqlite::Params) -> Result<bool> {
        self.db
            .prepare_cached(sql)
            .and_then(|mut s| s.exists(params))
            .map_err(sql_err)
    }

    /// Inserts rows as an append would, lower ranks first.
    pub fn insert(&mut self, rows: &Rows) -> Result<()> {
        insert_sync(self.db, self.sql, rows)
    }
}

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
    /// An append or a `run_now` job, for the appends' connection.
    Item(Item),
    /// Hand SQLite's page caches back (`PRAGMA shrink_memory`).
    Shrink(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Work::Job { .. } => "WriteJob",
            Work::Item(Item::Append(..)) => "Append",
            Work::Item(Item::Now(..)) => "NowJob",
            Work::Shrink(_) => "Shrink",
            Work::Close(_) => "Close",
        })
    }
}

/// Most pieces of work in one transaction.
const MAX_BATCH: usize = 512;

/// Pragmas of both writer connections (the database is already in WAL mode).
/// (`synchronous` comes from the store's [`super::Durability`].)
const PRAGMAS: &str = "PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 10000;
-- Savepoints' statement journals in memory, not in temporary files.
PRAGMA temp_store = MEMORY;
-- The writer touches the tokens' index pages all the time: keep them (16 MiB at most)
-- instead of reading them back from the OS.
PRAGMA cache_size = -16384;
-- Checkpoint every ~16 MiB of WAL instead of every 4 MiB: pages written again and
-- again between checkpoints are copied to the database once.
PRAGMA wal_autocheckpoint = 4000;";

#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Work>,
}

fn stopped() -> Error {
    Error::Storage("the database writer has stopped".into())
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Storage(e.to_string())
}

impl Writer {
    /// Starts the writer on its own thread, with its own connections to the database
    /// at `path` (which must exist): a rusqlite one for appends, which the thread opens
    /// at once (work sent meanwhile waits for it), and a sqlx one (`options`) for jobs,
    /// opened at the first job. Either is reopened after a failure. `first`, if given,
    /// runs on the writer's thread once it tried to open its connection, with that
    /// connection (`None` if it could not open; that failure is then left for `first`
    /// to report, and the connection is retried at the first work).
    pub fn start(
        path: PathBuf,
        options: SqliteConnectOptions,
        durability: super::Durability,
        first: Option<FirstRead>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let spawned = std::thread::Builder::new()
            .name("authdesk-writer".into())
            .spawn(move || run(&path, options, durability, rx, first));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the database writer thread");
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
        let job: Job = Box::new(move |conn| {
            Box::pin(async move { job(conn).await.map(|v| Box::new(v) as Erased) })
        });
        self.call(|reply| Work::Job { job, reply }).await
    }

    /// Runs `job` on the appends' connection in the next group transaction, in its own
    /// savepoint (rolled back alone when it returns `Err`); returns its result once
    /// committed. For the hot paths' read-and-decide writes (code exchange, refresh
    /// rotation): no sqlx, so no thread switch per statement.
    pub async fn run_now<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        let job: NowJob = Box::new(move |tx| job(tx).map(|v| Box::new(v) as Erased));
        self.call(|reply| Work::Item(Item::Now(job, reply))).await
    }

    /// Sends a job and waits for its (type-erased) result.
    async fn call<T: 'static>(
        &self,
        work: impl FnOnce(oneshot::Sender<Result<Erased>>) -> Work,
    ) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(work(reply)).await.map_err(|_| stopped())?;
        let value = rx
            .await
            .map_err(|_| Error::Storage("the database writer stopped before answering".into()))??;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Storage("the database writer answered with the wrong type".into()))
    }

    /// Inserts `rows` (all or none of them) in the next group transaction; returns once
    /// committed.
    pub async fn append(&self, rows: Rows) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Work::Item(Item::Append(rows, reply)))
            .await
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| Error::Storage("the database writer stopped before answering".into()))?
    }

    /// Gives the page caches of the writer's connections back (`PRAGMA shrink_memory`).
    pub async fn release_memory(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Work::Shrink(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Finishes the work already sent, then closes the writer's connections. Later
    /// calls fail with "the database writer has stopped".
    pub async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Work::Close(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The connection of appends: plain rusqlite on the writer's thread, so a batch of
/// appends costs no thread switch at all.
struct Appender {
    db: rusqlite::Connection,
    /// The full `INSERT … VALUES (?, …)` text of each row kind.
    sql: HashMap<(&'static str, usize), String>,
    flusher: Option<WalFlusher>,
}

/// Rows appended before the WAL's new pages are written out in the background.
const FLUSH_AFTER_ROWS: usize = 128;
/// At most one background write-out per this interval.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Writes the WAL's new pages to disk from a thread of its own while the writer goes
/// on. A checkpoint (every ~16 MiB of WAL) starts with an fsync of the WAL; without
/// this, that fsync wrote all 16 MiB at once, on the writer's thread, and every
/// request waited for it (15–20 ms, several times a second under load). It adds no
/// durability and changes no data, so when it fails or falls behind nothing is lost:
/// the checkpoint's own fsync then does the work as before.
struct WalFlusher {
    tx: std::sync::mpsc::SyncSender<()>,
    rows: usize,
    last: std::time::Instant,
}

impl WalFlusher {
    fn start(db: &Path) -> Option<Self> {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("authdesk-wal-sync".into())
            .spawn(move || {
                // Ends when the writer's connection (the sender) goes away.
                for () in rx {
                    // Write access, which some systems need to flush; never created
                    // or truncated here.
                    let file = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&wal);
                    if let Ok(f) = file {
                        let _ = f.sync_data();
                    }
                }
            })
            .inspect_err(|e| tracing::debug!(error = %e, "no background WAL write-out"))
            .ok()?;
        Some(WalFlusher {
            tx,
            rows: 0,
            last: std::time::Instant::now(),
        })
    }

    /// Counts committed rows; asks for a write-out once enough went into the WAL.
    fn committed(&mut self, rows: usize) {
        self.rows += rows;
        if self.rows >= FLUSH_AFTER_ROWS && self.last.elapsed() >= FLUSH_EVERY {
            // A full channel means a write-out is already waiting to start.
            let _ = self.tx.try_send(());
            self.rows = 0;
            self.last = std::time::Instant::now();
        }
    }
}

impl Appender {
    fn open(path: &Path, durability: super::Durability) -> Result<Self> {
        use rusqlite::OpenFlags;
        let db = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err)?;
        db.execute_batch(PRAGMAS).map_err(sql_err)?;
        db.pragma_update(None, "synchronous", durability.pragma())
            .map_err(sql_err)?;
        // Parse the schema now rather than at the first token.
        db.prepare("SELECT 1 FROM sqlite_master LIMIT 1")
            .and_then(|mut s| s.exists([]))
            .map_err(sql_err)?;
        Ok(Appender {
            db,
            sql: HashMap::new(),
            flusher: WalFlusher::start(path),
        })
    }

    /// Writes the WAL's header now if the WAL is empty (as after every clean stop): the
    /// first commit into an empty WAL also syncs its header and the directory (about
    /// a millisecond here), which would otherwise delay the first token of a start. A
    /// commit that changes nothing does it while the provider still loads its
    /// certificates and completes its first TLS handshakes: it sets `user_version`
    /// (unused) to its value, which SQLite writes even when unchanged (an `UPDATE` to
    /// the same value writes no page). Only for a database already in WAL mode (not a
    /// new one, which sqlx's migrator sets up). Errors are left to the first real
    /// write to report.
    fn start_wal(&self, path: &Path) {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return;
        }
        let rewrite = || -> rusqlite::Result<()> {
            let mode: String = self.db.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Ok(());
            }
            let tx = rusqlite::Transaction::new_unchecked(
                &self.db,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
            tx.commit()
        };
        if let Err(e) = rewrite() {
            tracing::debug!(error = %e, "cannot start the WAL early");
        }
    }

    /// Runs `items` in one transaction and answers them once it committed (or failed).
    /// Returns false when the connection is in an unknown state and must be replaced.
    fn run(&mut self, items: Vec<Item>) -> bool {
        if let Err(e) = cached(&self.db, "BEGIN IMMEDIATE") {
            let msg = format!("database: {e}");
            items.into_iter().for_each(|i| i.fail(&msg));
            return self.db.is_autocommit();
        }
        let mut answers = Vec::with_capacity(items.len());
        let mut inserted = 0;
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            let answer = match item {
                Item::Append(rows, reply) => {
                    // One statement needs no savepoint: SQLite undoes a failing
                    // statement alone and the transaction goes on.
                    let outcome = if rows.len() == 1 {
                        insert_sync(&self.db, &mut self.sql, &rows)
                    } else {
                        in_savepoint(&self.db, |db| insert_sync(db, &mut self.sql, &rows))
                    };
                    if outcome.is_ok() {
                        inserted += rows.len();
                    }
                    Answer::Append(outcome, reply)
                }
                Item::Now(job, reply) => {
                    let sql = &mut self.sql;
                    let outcome = in_savepoint(&self.db, |db| job(&mut Tx { db, sql }));
                    inserted += 1;
                    Answer::Now(outcome, reply)
                }
            };
            let failed = answer.is_err();
            answers.push(answer);
            // Some errors (disk full, I/O) end the whole transaction. What follows
            // would then commit statement by statement, before the answers say so.
            if failed && self.db.is_autocommit() {
                let msg = "database: the transaction was rolled back after an error";
                answers.into_iter().for_each(|a| a.fail(msg));
                items.for_each(|i| i.fail(msg));
                return false;
            }
        }
        match cached(&self.db, "COMMIT") {
            Ok(()) => {
                if let Some(f) = &mut self.flusher {
                    f.committed(inserted);
                }
                answers.into_iter().for_each(Answer::send);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let healthy = self.db.execute_batch("ROLLBACK").is_ok() || self.db.is_autocommit();
                let msg = format!("database commit: {e}");
                answers.into_iter().for_each(|a| a.fail(&msg));
                healthy
            }
        }
    }
}

/// A piece of work for the appends' connection.
enum Item {
    Append(Rows, oneshot::Sender<Result<()>>),
    Now(NowJob, oneshot::Sender<Result<Erased>>),
}

impl Item {
    fn fail(self, msg: &str) {
        let err = || Error::Storage(msg.trim_start_matches("database: ").to_string());
        match self {
            Item::Append(_, reply) => drop(reply.send(Err(err()))),
            Item::Now(_, reply) => drop(reply.send(Err(err()))),
        }
    }
}

/// An answer held back until the transaction commits.
enum Answer {
    Append(Result<()>, oneshot::Sender<Result<()>>),
    Now(Result<Erased>, oneshot::Sender<Result<Erased>>),
}

impl Answer {
    fn is_err(&self) -> bool {
        match self {
            Answer::Append(r, _) => r.is_err(),
            Answer::Now(r, _) => r.is_err(),
        }
    }

    fn send(self) {
        match self {
            Answer::Append(r, reply) => drop(reply.send(r)),
            Answer::Now(r, reply) => drop(reply.send(r)),
        }
    }

    fn fail(self, msg: &str) {
        let err = || Error::Storage(msg.trim_start_matches("database: ").to_string());
        match self {
            Answer::Append(_, reply) => drop(reply.send(Err(err()))),
            Answer::Now(_, reply) => drop(reply.send(Err(err()))),
        }
    }
}

/// Runs a statement without parameters or rows (a transaction's `BEGIN`, `COMMIT`, a
/// savepoint), prepared once: every group commit runs several.
fn cached(db: &rusqlite::Connection, text: &str) -> rusqlite::Result<()> {
    db.prepare_cached(text)
        .and_then(|mut s| s.execute([]))
        .map(drop)
}

/// Runs `f` in a savepoint: rolled back alone when it fails.
fn in_savepoint<T>(
    db: &rusqlite::Connection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
) -> Result<T> {
    cached(db, "SAVEPOINT append").map_err(sql_err)?;
    let outcome = f(db);
    if outcome.is_err() {
        cached(db, "ROLLBACK TO append").map_err(sql_err)?;
    }
    cached(db, "RELEASE append").map_err(sql_err)?;
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

/// Runs `jobs` through sqlx in one transaction, each in its own savepoint, and answers
/// them once it committed (or failed). Returns false when the connection is in an
/// unknown state and must be replaced.
async fn run_jobs(
    conn: &mut SqliteConnection,
    jobs: Vec<(Job, oneshot::Sender<Result<Erased>>)>,
) -> bool {
    let fail_all = |replies: Vec<oneshot::Sender<Result<Erased>>>, msg: &str| {
        for reply in replies {
            let _ = reply.send(Err(Error::Storage(
                msg.trim_start_matches("database: ").to_string(),
            )));
        }
    };
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        fail_all(
            jobs.into_iter().map(|(_, r)| r).collect(),
            &format!("database: {e}"),
        );
        return !conn.is_in_transaction() && conn.ping().await.is_ok();
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    for (job, reply) in jobs.by_ref() {
        match run_one(conn, job).await {
            Ok(outcome) => answers.push((outcome, reply)),
            // The savepoint itself failed: the transaction is in an unknown state.
            Err(e) => {
                let msg = format!("database: {e}");
                let rest = jobs.map(|(_, r)| r);
                fail_all(
                    answers
                        .into_iter()
                        .map(|(_, r)| r)
                        .chain([reply])
                        .chain(rest)
                        .collect(),
                    &msg,
                );
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return false;
            }
        }
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => {
            for (outcome, reply) in answers {
                let _ = reply.send(outcome);
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let healthy = sqlx::query("ROLLBACK").execute(&mut *conn).await.is_ok();
            let msg = format!("database commit: {e}");
            fail_all(answers.into_iter().map(|(_, r)| r).collect(), &msg);
            healthy
        }
    }
}

/// Runs one job in a savepoint. The outer `Err` means the savepoint statements failed;
/// the inner result is the job's own (rolled back when it is an error).
async fn run_one(conn: &mut SqliteConnection, job: Job) -> Result<Result<Erased>> {
    sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
    let outcome = job(conn).await;
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
    }
    sqlx::query("RELEASE job").execute(&mut *conn).await?;
    Ok(outcome)
}

/// A run of consecutive work of one kind, in the order it arrived.
enum Run {
    Appends(Vec<Item>),
    Jobs(Vec<(Job, oneshot::Sender<Result<Erased>>)>),
}

/// The writer's thread: takes whatever work is waiting (up to [`MAX_BATCH`] pieces)
/// and runs each run of appends, and each run of jobs, as one transaction.
/// A read for the writer's thread to run right after opening its connection.
pub type FirstRead = Box<dyn FnOnce(Option<&rusqlite::Connection>) + Send>;

fn run(
    path: &Path,
    options: SqliteConnectOptions,
    durability: super::Durability,
    mut rx: mpsc::Receiver<Work>,
    first: Option<FirstRead>,
) {
    let open = || {
        Appender::open(path, durability)
            .inspect_err(|e| tracing::warn!(error = %e, "the database writer cannot connect"))
            .ok()
    };
    let mut appender = match first {
        Some(read) => {
            let appender = Appender::open(path, durability).ok();
            // Before the start's reads: the first token needs both, and the WAL's syncs
            // (waits for the disk) are best begun early.
            if let Some(a) = &appender {
                a.start_wal(path);
            }
            read(appender.as_ref().map(|a| &a.db));
            appender
        }
        None => open(),
    };
    // Jobs use sqlx, whose futures need a runtime; appends need none.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        // Dropping `rx` makes every write fail with "has stopped".
        Err(e) => return tracing::error!(error = %e, "cannot start the database writer"),
    };
    let mut jobs_conn: Option<SqliteConnection> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut runs: Vec<Run> = Vec::new();
        let mut after = None;
        let mut next = Some(first);
        let mut count = 0;
        while let Some(work) = next.take() {
            match work {
                Work::Job { job, reply } => match runs.last_mut() {
                    Some(Run::Jobs(run)) => run.push((job, reply)),
                    _ => runs.push(Run::Jobs(vec![(job, reply)])),
                },
                Work::Item(item) => match runs.last_mut() {
                    Some(Run::Appends(run)) => run.push(item),
                    _ => runs.push(Run::Appends(vec![item])),
                },
                // Shrink and close after the work sent before them.
                other @ (Work::Shrink(_) | Work::Close(_)) => {
                    after = Some(other);
                    break;
                }
            }
            count += 1;
            if count < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        for run in runs {
            match run {
                Run::Appends(appends) => {
                    if appender.is_none() {
                        appender = open();
                    }
                    match appender.as_mut() {
                        Some(a) => {
                            if !a.run(appends) {
                                appender = None;
                            }
                        }
                        None => appends
                            .into_iter()
                            .for_each(|i| i.fail("database: the writer cannot connect")),
                    }
                }
                Run::Jobs(jobs) => rt.block_on(async {
                    if jobs_conn.is_none() {
                        match SqliteConnection::connect_with(&options).await {
                            Ok(c) => jobs_conn = Some(c),
                            Err(e) => {
                                tracing::warn!(error = %e, "the database writer cannot connect")
                            }
                        }
                    }
                    match jobs_conn.as_mut() {
                        Some(c) => {
                            if !run_jobs(c, jobs).await
                                && let Some(c) = jobs_conn.take()
                            {
                                let _ = c.close().await;
                            }
                        }
                        None => {
                            for (_, reply) in jobs {
                                let _ = reply
                                    .send(Err(Error::Storage("the writer cannot connect".into())));
                            }
                        }
                    }
                }),
            }
        }
        match after {
            Some(Work::Shrink(reply)) => {
                if let Some(a) = &appender {
                    let _ = a.db.execute_batch("PRAGMA shrink_memory");
                }
                if let Some(c) = jobs_conn.as_mut() {
                    let _ = rt.block_on(sqlx::query("PRAGMA shrink_memory").execute(c));
                }
                let _ = reply.send(());
            }
            Some(Work::Close(reply)) => {
                drop(appender.take());
                if let Some(c) = jobs_conn.take() {
                    let _ = rt.block_on(c.close());
                }
                let _ = reply.send(());
                return;
            }
            _ => {}
        }
    }
    // Every sender is gone (the store was dropped without `close`).
    if let Some(c) = jobs_conn.take() {
        let _ = rt.block_on(c.close());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_restart_writes_the_wal_header_before_the_first_token_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let wal = dir.path().join(format!("{}-wal", crate::store::DB_FILE));
        let revision = store.revision().await.unwrap();
        store.close().await;
        // What a clean stop leaves: the WAL copied into the database, and emptied. (The
        // close itself may not be the last: a pool connection dropped while opening
        // closes on its own thread a moment later.)
        let db = rusqlite::Connection::open(store.path()).unwrap();
        db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(db);
        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(len, 0, "the WAL is empty before the restart");

        let store = crate::store::Store::open(dir.path()).await.unwrap();
        // A round trip through the writer's thread, whose first work is done by now;
        // this job writes nothing itself.
        store.writer().run_now(|_| Ok(())).await.unwrap();
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        // The 32-byte header, then a frame: its 24-byte header and one page.
        assert!(len >= 32 + 24 + 512, "WAL of {len} bytes");
        assert_eq!(store.revision().await.unwrap(), revision);
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(version, 0);
        store.close().await;
    }

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
    async fn a_conflicting_one_row_append_fails_alone() {
        // One-row appends run without a savepoint: the failing statement alone is
        // undone, the rows before and after it in the transaction commit.
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer();
        w.append(vec![Box::new(Meta("taken", 0))]).await.unwrap();
        let (a, b, c) = tokio::join!(
            w.append(vec![Box::new(Meta("a-before", 0))]),
            w.append(vec![Box::new(Meta("taken", 0))]),
            w.append(vec![Box::new(Meta("c-after", 0))]),
        );
        a.unwrap();
        assert!(b.is_err(), "a duplicate key fails its append");
        c.unwrap();
        assert_eq!(keys(&store).await, ["a-before", "c-after", "taken"]);
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
    async fn now_jobs_share_the_appends_transaction_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let w = store.writer();
        let now_job = |key: &'static str, fail: bool| {
            w.run_now(move |tx| {
                let rows: Rows = vec![Box::new(Meta(key, 0))];
                tx.insert(&rows)?;
                let n = tx.execute("UPDATE meta SET value = 'x' WHERE key = ?", (key,))?;
                if fail {
                    return Err(Error::Other("refused".into()));
                }
                Ok(n)
            })
        };
        let (a, b, c, d) = tokio::join!(
            w.append(vec![Box::new(Meta("a-append", 0))]),
            now_job("b-now", false),
            now_job("c-failing-now", true),
            w.append(vec![Box::new(Meta("d-append", 0))]),
        );
        a.unwrap();
        assert_eq!(b.unwrap(), 1, "the job's own result comes back");
        assert!(c.unwrap_err().to_string().contains("refused"));
        d.unwrap();
        assert_eq!(keys(&store).await, ["a-append", "b-now", "d-append"]);
        // A duplicate key fails the job that inserts it, not the writer.
        assert!(now_job("b-now", false).await.is_err());
        w.append(vec![Box::new(Meta("e-after", 0))]).await.unwrap();
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
