//! SQLite storage through sqlx: one file, WAL mode, migrations from `migrations/`
//! applied at open. Every write that a response depends on is committed before the
//! response is sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqlitePool};

use crate::error::{Error, Result};
use crate::model::{Client, Scope, User};

pub mod assertions;
pub mod codes;
pub mod consents;
pub mod devices;
pub mod faults;
pub mod flows;
pub mod grants;
pub mod sessions;
pub mod signals;
pub mod signing_keys;
pub mod standards;
pub mod tokens;
pub mod writer;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "authdesk.db";

/// How far a commit is on its way to the disk before the provider answers (SQLite's
/// `synchronous` setting; the database is in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous = NORMAL`: a commit survives the process being killed (it is in the
    /// WAL file, so in the OS's page cache), not necessarily an OS crash or power loss,
    /// which can drop the last commits before the next checkpoint (never corrupts).
    #[default]
    Normal,
    /// `synchronous = FULL`: the WAL is synced to the disk at every commit, so a commit
    /// also survives an OS crash or power loss, at the cost of an fsync per commit.
    Full,
}

impl Durability {
    /// The value of `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }

    fn sqlx(self) -> SqliteSynchronous {
        match self {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        }
    }
}

/// Tells other processes on this database that records or token states changed.
pub(crate) const BUMP_REVISION: &str = "UPDATE revision SET value = value + 1 WHERE id = 1";

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    writer: writer::Writer,
    opened: Arc<std::sync::Mutex<OpenFacts>>,
    durability: Durability,
}

/// What a provider needs first, read at open (a start then needs no other query
/// before its first request).
#[derive(Debug, Default)]
struct OpenFacts {
    seeded: bool,
    revision: i64,
    /// Every signing key, newest first (`None` once taken).
    signing_keys: Option<Vec<signing_keys::KeyRow>>,
    /// Every client's stored JSON, when there are at most [`OpenFacts::CLIENTS`].
    clients: Vec<String>,
}

const FACTS_SEEDED: &str = "SELECT 1 FROM meta WHERE key = 'seeded'";
const FACTS_REVISION: &str = "SELECT value FROM revision WHERE id = 1";
const FACTS_KEYS: &str = signing_keys::SELECT_KEYS;

impl OpenFacts {
    /// Clients read at open for the cache, at most; past that, none are.
    const CLIENTS: usize = 100;

    /// Reads the facts through sqlx (after migrating); clients are left to the cache.
    async fn read(conn: &mut sqlx::SqliteConnection) -> Result<Self> {
        let seeded = sqlx::query(FACTS_SEEDED)
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        let revision = sqlx::query_scalar(FACTS_REVISION)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0);
        let mut facts = OpenFacts {
            seeded,
            revision,
            ..Default::default()
        };
        let mut keys = Vec::new();
        for row in sqlx::query(FACTS_KEYS).fetch_all(&mut *conn).await? {
            keys.extend(signing_keys::key_row(
                row.get("kid"),
                row.get("alg"),
                row.get("pkcs8"),
                row.get("created_at"),
                row.get::<i64, _>("active") != 0,
                row.get("rotated_at"),
                row.get("retire_at"),
            ));
        }
        facts.signing_keys = Some(keys);
        Ok(facts)
    }

    /// Reads the facts on a plain rusqlite connection, if every migration in
    /// `expected` (version, checksum) is applied, unchanged, and no other; `None`
    /// otherwise or on any error, for sqlx's migrator to sort out.
    fn read_sync(db: &rusqlite::Connection, expected: &[(i64, Vec<u8>)]) -> Option<Self> {
        use rusqlite::OptionalExtension;
        let applied = db
            .prepare("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .ok()?;
        let current = applied.len() == expected.len()
            && applied
                .iter()
                .zip(expected)
                .all(|((v, sum, ok), (ev, esum))| *ok && v == ev && sum == esum);
        if !current {
            return None;
        }
        let seeded = db
            .query_row(FACTS_SEEDED, [], |_| Ok(()))
            .optional()
            .ok()?
            .is_some();
        let revision = db
            .query_row(FACTS_REVISION, [], |r| r.get(0))
            .optional()
            .ok()?
            .unwrap_or(0);
        let mut facts = OpenFacts {
            seeded,
            revision,
            ..Default::default()
        };
        let mut keys = db.prepare(FACTS_KEYS).ok()?;
        let mut rows = keys.query([]).ok()?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().ok()? {
            found.extend(signing_keys::key_row(
                row.get(0).ok()?,
                row.get(1).ok()?,
                row.get(2).ok()?,
                row.get(3).ok()?,
                row.get::<_, i64>(4).ok()? != 0,
                row.get(5).ok()?,
                row.get(6).ok()?,
            ));
        }
        facts.signing_keys = Some(found);
        let mut clients = db
            .prepare(&format!(
                "SELECT data FROM clients LIMIT {}",
                Self::CLIENTS + 1
            ))
            .ok()?;
        let all = clients
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .ok()?;
        if all.len() <= Self::CLIENTS {
            facts.clients = all;
        }
        Some(facts)
    }
}

/// A user with the secret parts the store keeps.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: Option<String>,
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Other(format!("stored record is not valid JSON: {e}"))
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, Durability::default()).await
    }

    /// [`Store::open`] with the commits' [`Durability`] on every connection.
    pub async fn open_with(data_dir: &Path, durability: Durability) -> Result<Self> {
        crate::fsutil::create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            // Create the file owner-only before SQLite does, with the process umask.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            if let Err(e) = options.open(&path)
                && e.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(Error::io(format!("cannot create {}", path.display()), e));
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a killed process; an OS crash or power loss can drop
            // the last commits. FULL survives those too (an fsync per commit).
            .synchronous(durability.sqlx())
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let migrator = sqlx::migrate!("./migrations");
        let expected: Vec<(i64, Vec<u8>)> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, m.checksum.to_vec()))
            .collect();
        // The writer's thread opens its connection at once and reads what a start
        // needs there, without sqlx's thread hops.
        let (facts_tx, facts) = tokio::sync::oneshot::channel();
        let writer = writer::Writer::start(
            path.clone(),
            options
                .clone()
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", "4000"),
            durability,
            Some(Box::new(move |db| {
                let _ = facts_tx.send(db.and_then(|db| OpenFacts::read_sync(db, &expected)));
            })),
        );
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            // A handler cancelled (client gone) between BEGIN and sqlx's transaction
            // guard would hand back a connection still holding SQLite's write lock and
            // block every later write. Such a connection is closed (which rolls back)
            // instead of reused. sqlx keeps the depth in an atomic, so this check costs
            // no round trip to the connection's worker thread.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_lazy_with(options);
        let opened = match facts.await.ok().flatten() {
            // The pool's first connection opens at its first use (see `warm_pool`).
            Some(facts) => facts,
            // A new database, one to migrate, or one the writer could not read: sqlx's
            // migrator applies (or explains) what is missing.
            None => {
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(|e| describe_open_error(&path, e))?;
                migrator
                    .run_direct(&mut *conn)
                    .await
                    .map_err(|e| migrate_error(&path, e))?;
                OpenFacts::read(&mut conn).await?
            }
        };
        Ok(Store {
            pool,
            path,
            writer,
            opened: Arc::new(std::sync::Mutex::new(opened)),
            durability,
        })
    }

    /// Opens the pool's first connection in the background, if it has none yet (a
    /// provider that just started, once it answers). Errors show at the first use.
    pub fn warm_pool(&self) {
        if self.pool.size() == 0 {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let _ = pool.acquire().await;
            });
        }
    }

    /// What [`Store::open`] read: whether first-start defaults were seeded, and the
    /// revision counter.
    pub fn opened(&self) -> (bool, i64) {
        match self.opened.lock() {
            Ok(o) => (o.seeded, o.revision),
            Err(_) => (false, 0),
        }
    }

    /// The clients [`Store::open`] read (all of them, when there were few), once; one
    /// whose stored JSON does not parse is left out (reading it later reports why).
    pub fn clients_at_open(&self) -> Vec<Client> {
        let raw = match self.opened.lock() {
            Ok(mut o) => std::mem::take(&mut o.clients),
            Err(_) => return Vec::new(),
        };
        raw.iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    }

    /// The signing keys as [`Store::open`] found them, once; later calls read the
    /// database.
    pub async fn signing_keys_at_open(&self) -> Result<Vec<signing_keys::KeyRow>> {
        let found = self
            .opened
            .lock()
            .ok()
            .and_then(|mut o| o.signing_keys.take());
        match found {
            Some(keys) => Ok(keys),
            None => self.signing_keys().await,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far each commit goes before it counts as done.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The group-commit writer of the hot write paths.
    pub fn writer(&self) -> &writer::Writer {
        &self.writer
    }

    /// Gives SQLite's page caches back (`PRAGMA shrink_memory`) on the writer's
    /// connection and on the pool's idle ones; for when the provider goes idle.
    pub async fn release_memory(&self) {
        let shrink = "PRAGMA shrink_memory";
        self.writer.release_memory().await;
        // Hold them all at once, so each idle connection is shrunk once.
        let idle = self.pool.num_idle();
        let mut held = Vec::with_capacity(idle);
        while held.len() < idle
            && let Some(conn) = self.pool.try_acquire()
        {
            held.push(conn);
        }
        for conn in &mut held {
            let _ = sqlx::query(shrink).execute(&mut **conn).await;
        }
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// The change counter of clients, users and scopes.
    pub async fn revision(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn bump(tx: &mut sqlx::SqliteConnection) -> Result<()> {
        sqlx::query(BUMP_REVISION).execute(tx).await?;
        Ok(())
    }

    // ---- scopes ----

    pub async fn list_scopes(&self) -> Result<Vec<Scope>> {
        let rows =
            sqlx::query("SELECT name, description, claims FROM scopes ORDER BY position, name")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Scope {
                    name: r.get("name"),
                    description: r.get("description"),
                    claims: serde_json::from_str(r.get::<&str, _>("claims")).map_err(json_err)?,
                })
            })
            .collect()
    }

    pub async fn upsert_scope(&self, scope: &Scope) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) + 1 FROM scopes")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO scopes (name, description, claims, position) VALUES (?, ?, ?, ?)
             ON CONFLICT(name) DO UPDATE SET description = excluded.description, claims = excluded.claims",
        )
        .bind(&scope.name)
        .bind(&scope.description)
        .bind(serde_json::to_string(&scope.claims).map_err(json_err)?)
        .bind(position)
        .execute(&mut *tx)
        .await?;
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_scope(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query("DELETE FROM scopes WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                what: "scope",
                id: name.into(),
            });
        }
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- clients ----

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM clients ORDER BY created_at, client_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|d| serde_json::from_str(d).map_err(json_err))
            .collect()
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Option<Client>> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT data FROM clients WHERE client_id = ?")
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|d| serde_json::from_str(&d).map_err(json_err))
            .transpose()
    }

    pub async fn insert_client(&self, client: &Client) -> Result<()> {
        self.insert_client_registered(client, None).await
    }

    /// Inserts a client with the hash of its RFC 7592 registration access token (one
    /// commit: a registered client is never stored without it).
    pub async fn insert_client_registered(
        &self,
        client: &Client,
        registration_token_hash: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let res = sqlx::query(
            "INSERT INTO clients (client_id, data, created_at, updated_at, registration_token_hash) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&client.client_id)
        .bind(serde_json::to_string(client).map_err(json_err)?)
        .bind(client.created_at)
        .bind(client.updated_at)
        .bind(registration_token_hash)
        .execute(&mut *tx)
        .await;
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::Conflict {
                    what: "client",
                    id: client.client_id.clone(),
                });
            }
            other => {
                other?;
            }
        }
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The hash of a client's RFC 7592 registration access token: `None` when there
    /// is no such client, `Some(None)` when it was not dynamically registered.
    pub async fn registration_token_hash(&self, client_id: &str) -> Result<Option<Option<String>>> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT registration_token_hash FROM clients WHERE client_id = ?")
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    pub async fn update_client(&self, client: &Client) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query("UPDATE clients SET data = ?, updated_at = ? WHERE client_id = ?")
            .bind(serde_json::to_string(client).map_err(json_err)?)
            .bind(client.updated_at)
            .bind(&client.client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                what: "client",
                id: client.client_id.clone(),
            });
        }
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query("DELETE FROM clients WHERE client_id = ?")
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                what: "client",
                id: client_id.into(),
            });
        }
        flows::delete_for_client(&mut tx, client_id).await?;
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- users ----

    fn user_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<UserRecord> {
        let password_hash: Option<String> = r.get("password_hash");
        let claims: serde_json::Value =
            serde_json::from_str(r.get::<&str, _>("claims")).map_err(json_err)?;
        Ok(UserRecord {
            user: User {
                sub: r.get("sub"),
                username: r.get("username"),
                has_password: password_hash.is_some(),
                claims: match claims {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                },
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
            },
            password_hash,
        })
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY created_at, username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::user_from_row).collect()
    }

    pub async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    pub async fn get_user_by_sub(&self, sub: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE sub = ?")
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    /// Inserts or replaces (by `sub`) a user.
    pub async fn save_user(&self, rec: &UserRecord, is_new: bool) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claims = serde_json::to_string(&rec.user.claims).map_err(json_err)?;
        let res = if is_new {
            sqlx::query(
                "INSERT INTO users (sub, username, password_hash, claims, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&rec.user.sub)
            .bind(&rec.user.username)
            .bind(&rec.password_hash)
            .bind(&claims)
            .bind(rec.user.created_at)
            .bind(rec.user.updated_at)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query("UPDATE users SET username = ?, password_hash = ?, claims = ?, updated_at = ? WHERE sub = ?")
                .bind(&rec.user.username)
                .bind(&rec.password_hash)
                .bind(&claims)
                .bind(rec.user.updated_at)
                .bind(&rec.user.sub)
                .execute(&mut *tx)
                .await
        };
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let msg = e.message().to_string();
                return Err(if msg.contains("username") {
                    Error::Invalid {
                        field: "username".into(),
                        message: format!(
                            "a user named '{}' already exists; choose another username",
                            rec.user.username
                        ),
                    }
                } else {
                    Error::Invalid {
                        field: "sub".into(),
                        message: format!("a user with sub '{}' already exists", rec.user.sub),
                    }
                });
            }
            other => {
                other?;
            }
        }
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_user(&self, username: &str) -> Result<User> {
        let rec = self
            .get_user_by_username(username)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "user",
                id: username.into(),
            })?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM users WHERE sub = ?")
            .bind(&rec.user.sub)
            .execute(&mut *tx)
            .await?;
        flows::delete_for_user(&mut tx, &rec.user.sub).await?;
        Self::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(rec.user)
    }
}

fn describe_open_error(path: &Path, e: sqlx::Error) -> Error {
    let text = e.to_string();
    if text.contains("file is not a database") || text.contains("malformed") {
        Error::Other(format!(
            "{} is not a valid Authdesk database ({text}); move it aside to start fresh",
            path.display()
        ))
    } else if text.contains("unable to open")
        || text.contains("readonly")
        || text.contains("permission")
    {
        Error::Other(format!(
            "cannot open {} ({text}); check that the data directory is writable by you",
            path.display()
        ))
    } else {
        Error::Database(e)
    }
}

/// Why the schema cannot be brought up to date, and what to do about it.
fn migrate_error(path: &Path, e: sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError;
    let at = path.display();
    match e {
        MigrateError::Execute(inner) => describe_open_error(path, inner),
        MigrateError::VersionMissing(v) => Error::Other(format!(
            "cannot open {at}: a newer Authdesk has updated it (schema version {v}, which this \
             one does not know); run that newer version, or move the data directory aside to \
             start with a new one"
        )),
        MigrateError::VersionMismatch(v) => Error::Other(format!(
            "cannot open {at}: its schema version {v} was applied by a development build of \
             Authdesk whose migration has changed since; move the data directory aside (or \
             export what you need with that build first) to start with a new one"
        )),
        other => Error::Other(format!("cannot migrate {at}: {other}")),
    }
}

#[cfg(test)]
mod migrate_tests {
    #[tokio::test]
    async fn a_database_from_a_newer_or_changed_authdesk_is_refused_with_the_fix() {
        for (sql, expect) in [
            (
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (29991231000000, 'from the future', 1, x'00', 0)",
                "a newer Authdesk has updated it (schema version 29991231000000",
            ),
            (
                "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 20261122000001",
                "schema version 20261122000001 was applied by a development build",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let store = super::Store::open(dir.path()).await.unwrap();
            sqlx::query(sql).execute(store.pool()).await.unwrap();
            store.close().await;
            let err = super::Store::open(dir.path())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{err}");
            assert!(err.contains("move the data directory aside"), "{err}");
        }
    }
}

/// Helpers for the storage tests.
#[cfg(test)]
pub(crate) mod testing {
    use sqlx::{Row, SqlitePool};

    /// A pool on a new database at `path` with only the migrations before `version`
    /// applied: the schema an older Authdesk left, for testing a migration.
    pub async fn pool_before(path: &std::path::Path, version: i64) -> SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut older = sqlx::migrate!("./migrations");
        older.migrations = std::borrow::Cow::Owned(
            older
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        );
        older.run(&pool).await.unwrap();
        pool
    }

    /// SQLite's plan for `query`, its steps joined by "; ".
    pub async fn query_plan(pool: &SqlitePool, query: &str) -> String {
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {query}"))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .iter()
            .map(|r| r.get("detail"))
            .collect();
        plan.join("; ")
    }
}

#[cfg(test)]
mod durability_tests {
    use super::{Durability, Store};

    /// `PRAGMA synchronous` (1 NORMAL, 2 FULL) of the pool's connections, the writer's
    /// appends connection and its jobs connection.
    async fn synchronous(store: &Store) -> [i64; 3] {
        let pool: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let appends = store
            .writer()
            .run_now(|tx| {
                let mut found = -1;
                for level in 0..4i64 {
                    if tx.exists(
                        "SELECT 1 FROM pragma_synchronous WHERE synchronous = ?1",
                        [level],
                    )? {
                        found = level;
                    }
                }
                Ok(found)
            })
            .await
            .unwrap();
        let jobs: i64 = store
            .writer()
            .run(|c| {
                Box::pin(async move {
                    Ok(sqlx::query_scalar("PRAGMA synchronous")
                        .fetch_one(c)
                        .await?)
                })
            })
            .await
            .unwrap();
        [pool, appends, jobs]
    }

    #[tokio::test]
    async fn durability_full_syncs_every_connections_commits_and_normal_stays_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        assert_eq!(synchronous(&store).await, [1, 1, 1], "the default");
        store.close().await;
        let store = Store::open_with(dir.path(), Durability::Full)
            .await
            .unwrap();
        assert_eq!(synchronous(&store).await, [2, 2, 2], "--durability full");
        store.close().await;
        let store = Store::open_with(dir.path(), Durability::Normal)
            .await
            .unwrap();
        assert_eq!(synchronous(&store).await, [1, 1, 1], "--durability normal");
        store.close().await;
    }
}
