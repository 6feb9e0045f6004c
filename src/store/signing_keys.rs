//! The `signing_keys` table: every key the provider made, with its state as times
//! (see [`crate::keys::KeyState`]). Rotations and retirements bump the revision
//! counter, so a provider running on the same data directory follows them.

use sqlx::Row;

use super::{BUMP_REVISION, Store};
use crate::error::Result;
use crate::model::{SigningAlg, Timestamp};

/// One stored key.
#[derive(Clone, PartialEq)]
pub struct KeyRow {
    pub kid: String,
    pub alg: SigningAlg,
    pub pkcs8: Vec<u8>,
    pub created_at: Timestamp,
    /// Signs new tokens (the newest active key of its algorithm).
    pub active: bool,
    /// When a rotation replaced it.
    pub rotated_at: Option<Timestamp>,
    /// When it leaves the JWKS (`None`: not scheduled).
    pub retire_at: Option<Timestamp>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("active", &self.active)
            .field("rotated_at", &self.rotated_at)
            .field("retire_at", &self.retire_at)
            .finish_non_exhaustive()
    }
}

/// Every key, newest first.
pub(crate) const SELECT_KEYS: &str = "SELECT kid, alg, pkcs8, created_at, active, rotated_at, retire_at FROM signing_keys ORDER BY created_at DESC, rowid DESC";

/// A row of [`SELECT_KEYS`]; `None` for an algorithm this build does not know.
pub(crate) fn key_row(
    kid: String,
    alg: String,
    pkcs8: Vec<u8>,
    created_at: Timestamp,
    active: bool,
    rotated_at: Option<Timestamp>,
    retire_at: Option<Timestamp>,
) -> Option<KeyRow> {
    let alg = alg.parse().ok()?;
    Some(KeyRow {
        kid,
        alg,
        pkcs8,
        created_at,
        active,
        rotated_at,
        retire_at,
    })
}

fn from_sqlx(r: &sqlx::sqlite::SqliteRow) -> Option<KeyRow> {
    key_row(
        r.get("kid"),
        r.get("alg"),
        r.get("pkcs8"),
        r.get("created_at"),
        r.get::<i64, _>("active") != 0,
        r.get("rotated_at"),
        r.get("retire_at"),
    )
}

/// The meta key of the provider's setting: how long a replaced key stays published.
const RETIRE_AFTER_KEY: &str = "key_retire_after";

impl Store {
    /// Every signing key, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<KeyRow>> {
        let rows = sqlx::query(SELECT_KEYS).fetch_all(self.pool()).await?;
        Ok(rows.iter().filter_map(from_sqlx).collect())
    }

    /// Stores `key` as the active key of its algorithm unless that algorithm has one
    /// already (a first key made lazily, perhaps by two processes at once); returns
    /// whether it was stored.
    pub async fn insert_first_signing_key(&self, key: &KeyRow) -> Result<bool> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active)
             SELECT ?, ?, ?, ?, 1
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE alg = ? AND active = 1)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(&key.pkcs8)
        .bind(key.created_at)
        .bind(key.alg.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            sqlx::query(BUMP_REVISION).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Makes `key` the active key of its algorithm: the keys it replaces stop signing
    /// at `now` and, unless retired earlier, retire at `retire_at`.
    pub async fn rotate_signing_key(
        &self,
        key: &KeyRow,
        retire_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE signing_keys SET active = 0, rotated_at = COALESCE(rotated_at, ?),
                 retire_at = MIN(COALESCE(retire_at, ?), ?)
             WHERE alg = ? AND (active = 1 OR retire_at IS NULL OR retire_at > ?)",
        )
        .bind(now)
        .bind(retire_at)
        .bind(retire_at)
        .bind(key.alg.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active) VALUES (?, ?, ?, ?, 1)",
        )
        .bind(&key.kid)
        .bind(key.alg.as_str())
        .bind(&key.pkcs8)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(BUMP_REVISION).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires the (inactive) key `kid` at `at`.
    pub async fn retire_signing_key(&self, kid: &str, at: Timestamp) -> Result<bool> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE signing_keys SET retire_at = ? WHERE kid = ? AND active = 0 AND (retire_at IS NULL OR retire_at > ?)",
        )
        .bind(at)
        .bind(kid)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            sqlx::query(BUMP_REVISION).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// How long a replaced key stays published (seconds): the provider's setting, 24 h
    /// unless changed.
    pub async fn key_retire_after(&self) -> Result<i64> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(RETIRE_AFTER_KEY)
            .fetch_optional(self.pool())
            .await?;
        Ok(v.and_then(|v| v.parse().ok())
            .filter(|s: &i64| *s >= 0)
            .unwrap_or(crate::keys::DEFAULT_RETIRE_AFTER))
    }

    pub async fn set_key_retire_after(&self, seconds: i64) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
            .bind(RETIRE_AFTER_KEY)
            .bind(seconds.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
