//! The `consents` table: what each persona allowed each client.

use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};

use super::flows::*;
use crate::error::Result;
use crate::model::Timestamp;

/// A remembered consent: `sub` allowed `client_id` these scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Consent {
    pub sub: String,
    pub username: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub granted_at: Timestamp,
}

/// Remembers consent, adding `scopes` to what was granted before.
pub async fn remember_consent(
    pool: &SqlitePool,
    sub: &str,
    client_id: &str,
    scopes: &[String],
    now: Timestamp,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT scopes FROM consents WHERE sub = ? AND client_id = ?")
            .bind(sub)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
    let mut all: Vec<String> = before
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    sqlx::query(
        "INSERT OR REPLACE INTO consents (sub, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)",
    )
    .bind(sub)
    .bind(client_id)
    .bind(all.join(" "))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// True when `sub` already consented to every scope in `scopes` for `client_id`.
pub async fn has_consent(
    pool: &SqlitePool,
    sub: &str,
    client_id: &str,
    scopes: &[String],
) -> Result<bool> {
    let granted: Option<String> =
        sqlx::query_scalar("SELECT scopes FROM consents WHERE sub = ? AND client_id = ?")
            .bind(sub)
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
    Ok(granted.is_some_and(|g| {
        let g: Vec<&str> = g.split_whitespace().collect();
        scopes.iter().all(|s| g.contains(&s.as_str()))
    }))
}

pub async fn list_consents(pool: &SqlitePool, sub: Option<&str>) -> Result<Vec<Consent>> {
    let rows = match sub {
        Some(s) => {
            sqlx::query("SELECT c.*, u.username FROM consents c LEFT JOIN users u ON u.sub = c.sub WHERE c.sub = ? ORDER BY granted_at DESC")
                .bind(s)
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query("SELECT c.*, u.username FROM consents c LEFT JOIN users u ON u.sub = c.sub ORDER BY granted_at DESC")
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| Consent {
            sub: r.get("sub"),
            username: r.get("username"),
            client_id: r.get("client_id"),
            scopes: r
                .get::<String, _>("scopes")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            granted_at: r.get("granted_at"),
        })
        .collect())
}

/// Forgets a consent and revokes the grants (and tokens) it led to.
pub async fn revoke_consent(
    pool: &SqlitePool,
    sub: &str,
    client_id: &str,
    now: Timestamp,
) -> Result<(bool, u64)> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let n = sqlx::query("DELETE FROM consents WHERE sub = ? AND client_id = ?")
        .bind(sub)
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let grants: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM grants WHERE sub = ? AND client_id = ? AND revoked_at IS NULL",
    )
    .bind(sub)
    .bind(client_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut tokens = 0;
    for g in &grants {
        tokens += revoke_grant(&mut tx, g, now, "consent revoked").await?;
    }
    tx.commit().await?;
    Ok((n == 1, tokens))
}
