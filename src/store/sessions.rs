//! The `sessions` table: provider sessions (browser sign-ins), by the SHA-256 of
//! their cookie.

use sqlx::{Row, SqlitePool};

use super::flows::hash_secret;
use crate::error::Result;
use crate::model::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub sub: String,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert_session(
    pool: &SqlitePool,
    id: &str,
    sub: &str,
    auth_time: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO sessions (id_hash, sub, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .bind(hash_secret(id))
        .bind(sub)
        .bind(auth_time)
        .bind(auth_time)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get_session(
    pool: &SqlitePool,
    id: &str,
    now: Timestamp,
) -> Result<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT sub, auth_time, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?",
    )
    .bind(hash_secret(id))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| SessionRow {
        sub: r.get("sub"),
        auth_time: r.get("auth_time"),
        expires_at: r.get("expires_at"),
    }))
}

pub async fn delete_session(pool: &SqlitePool, id: &str) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
        .bind(hash_secret(id))
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}
