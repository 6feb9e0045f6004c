//! The tables of the newer standards (migration `standards`): pushed authorization
//! requests (RFC 9126), DPoP bindings of tokens (RFC 9449), token origins (RFC 8693)
//! and the clients of each provider session (back-channel logout).

use std::collections::BTreeMap;

use sqlx::{Row, SqlitePool};

use super::flows::hash_secret;
use super::writer::{AppendRow, Col};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// A pushed request, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedRequest {
    pub client_id: String,
    pub params: BTreeMap<String, String>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// Stores a pushed request under `request_uri` (only its hash is kept).
pub async fn push_request(
    pool: &SqlitePool,
    request_uri: &str,
    client_id: &str,
    params: &BTreeMap<String, String>,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    let json = serde_json::to_string(params)
        .map_err(|e| Error::Other(format!("pushed parameters as JSON: {e}")))?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // Expired ones are of no use after a minute's grace (kept that long so a late use
    // is told it expired rather than that it never existed).
    sqlx::query("DELETE FROM pushed_requests WHERE expires_at < ?")
        .bind(now - 3600)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO pushed_requests (request_uri_hash, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(hash_secret(request_uri))
    .bind(client_id)
    .bind(json)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes a pushed request for use: returns it as it was before this use (so a second
/// use sees `used_at` set) and marks it used, in one transaction.
pub async fn take_pushed_request(
    pool: &SqlitePool,
    request_uri: &str,
    now: Timestamp,
) -> Result<Option<PushedRequest>> {
    let hash = hash_secret(request_uri);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = sqlx::query(
        "SELECT client_id, params, expires_at, used_at FROM pushed_requests WHERE request_uri_hash = ?",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let params: BTreeMap<String, String> =
        serde_json::from_str(row.get::<&str, _>("params")).unwrap_or_default();
    let found = PushedRequest {
        client_id: row.get("client_id"),
        params,
        expires_at: row.get("expires_at"),
        used_at: row.get("used_at"),
    };
    if found.used_at.is_none() {
        sqlx::query("UPDATE pushed_requests SET used_at = ? WHERE request_uri_hash = ?")
            .bind(now)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Some(found))
}

/// A token's DPoP binding, appended with the token.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingRow {
    pub token_id: String,
    pub jkt: String,
}

impl AppendRow for BindingRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO token_bindings (token_id, jkt) "
    }
    fn rank(&self) -> u8 {
        2
    }
    fn values(&self) -> Vec<Col<'_>> {
        vec![self.token_id.as_str().into(), self.jkt.as_str().into()]
    }
}

/// The DPoP key thumbprint a token is bound to, if any.
pub async fn binding_of(pool: &SqlitePool, token_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT jkt FROM token_bindings WHERE token_id = ?")
            .bind(token_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Where a token came from (token exchange), appended with the token.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginRow {
    pub token_id: String,
    pub origin: serde_json::Value,
}

impl AppendRow for OriginRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO token_origins (token_id, origin) "
    }
    fn rank(&self) -> u8 {
        2
    }
    fn values(&self) -> Vec<Col<'_>> {
        vec![
            self.token_id.as_str().into(),
            Col::Owned(self.origin.to_string()),
        ]
    }
}

/// Where a token came from, if it was exchanged.
pub async fn origin_of(pool: &SqlitePool, token_id: &str) -> Result<Option<serde_json::Value>> {
    let raw: Option<String> =
        sqlx::query_scalar("SELECT origin FROM token_origins WHERE token_id = ?")
            .bind(token_id)
            .fetch_optional(pool)
            .await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}
