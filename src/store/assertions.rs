//! The `used_assertions` table: the `jti` of every client assertion, single use.

use sqlx::SqlitePool;

use crate::error::Result;
use crate::model::Timestamp;

/// Records a client-assertion `jti`; false when it was already used.
pub async fn use_assertion_jti(
    pool: &SqlitePool,
    client_id: &str,
    jti: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("DELETE FROM used_assertions WHERE expires_at < ?")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(
        "INSERT OR IGNORE INTO used_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)",
    )
    .bind(client_id)
    .bind(jti)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}
