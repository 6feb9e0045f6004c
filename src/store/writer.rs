//! Group commit. Hot write paths (issuing tokens, exchanging codes, rotating refresh
//! tokens, the request log) send their work to one writer task. The writer runs every
//! job that is waiting in ONE transaction — each job inside its own savepoint, so a
//! failing job rolls back alone — commits once, and only then answers the callers. A
//! token is therefore durable before it is returned, while many concurrent requests
//! share one commit instead of queueing on SQLite's write lock (whose busy handler
//! sleeps).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

type Erased = Box<dyn Any + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<Erased>> + Send>;

struct Request {
    job: Job,
    reply: oneshot::Sender<Result<Erased>>,
}

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteRequest")
    }
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn start(pool: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(pool, rx));
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
            .send(Request { job, reply })
            .await
            .map_err(|_| Error::Other("the database writer has stopped".into()))?;
        let value = rx
            .await
            .map_err(|_| Error::Other("the database writer stopped before answering".into()))??;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Other("database writer answered with the wrong type".into()))
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut conn = match pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("database: {e}");
                for r in batch {
                    let _ = r.reply.send(Err(Error::Other(msg.clone())));
                }
                if pool.is_closed() {
                    break;
                }
                continue;
            }
        };
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
            let msg = format!("database: {e}");
            for r in batch {
                let _ = r.reply.send(Err(Error::Other(msg.clone())));
            }
            continue;
        }
        let mut results = Vec::with_capacity(batch.len());
        for r in batch {
            let outcome = run_one(&mut conn, r.job).await;
            results.push((outcome, r.reply));
        }
        match sqlx::query("COMMIT").execute(&mut *conn).await {
            Ok(_) => {
                for (outcome, reply) in results {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                let msg = format!("database commit: {e}");
                tracing::error!(error = %e, "group commit failed");
                for (_, reply) in results {
                    let _ = reply.send(Err(Error::Other(msg.clone())));
                }
            }
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
}
