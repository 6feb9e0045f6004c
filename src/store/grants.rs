//! The `grants` table: what a sign-in (or a password or device grant) granted, and
//! its revocation with every token issued under it.

use sqlx::{Row, SqliteConnection};

use super::flows::*;
use super::writer::{AppendRow, Col, Tx};
use crate::error::Result;
use crate::model::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub sub: Option<String>,
    pub scopes: String,
    pub auth_time: Option<Timestamp>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// What the sign-in asked for and how it happened (JSON, `oauth::claims::SignIn`).
    pub extras: Option<String>,
}

impl AppendRow for GrantRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO grants (id, client_id, sub, scopes, auth_time, created_at, extras) "
    }
    fn rank(&self) -> u8 {
        0
    }
    fn values(&self) -> Vec<Col<'_>> {
        vec![
            self.id.as_str().into(),
            self.client_id.as_str().into(),
            self.sub.as_deref().into(),
            self.scopes.as_str().into(),
            self.auth_time.into(),
            self.created_at.into(),
            self.extras.as_deref().into(),
        ]
    }
}

pub async fn get_grant(conn: &mut SqliteConnection, id: &str) -> Result<Option<GrantRow>> {
    let row = sqlx::query("SELECT * FROM grants WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| GrantRow {
        id: r.get("id"),
        client_id: r.get("client_id"),
        sub: r.get("sub"),
        scopes: r.get("scopes"),
        auth_time: r.get("auth_time"),
        created_at: r.get("created_at"),
        revoked_at: r.get("revoked_at"),
        extras: r.get("extras"),
    }))
}

const REVOKE_GRANT: &str =
    "UPDATE grants SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL";

const REVOKE_GRANT_TOKENS: &str =
    "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL";

/// Revokes a grant and every token issued under it; returns the tokens revoked.
pub async fn revoke_grant(
    conn: &mut SqliteConnection,
    grant_id: &str,
    now: Timestamp,
    reason: &str,
) -> Result<u64> {
    sqlx::query(REVOKE_GRANT)
        .bind(now)
        .bind(reason)
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
    let n = sqlx::query(REVOKE_GRANT_TOKENS)
        .bind(now)
        .bind(grant_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n > 0 {
        tokens_changed(conn).await?;
    }
    Ok(n)
}

/// [`revoke_grant`] in the writer's transaction.
pub fn revoke_grant_now(tx: &Tx<'_>, grant_id: &str, now: Timestamp, reason: &str) -> Result<u64> {
    tx.execute(REVOKE_GRANT, (now, reason, grant_id))?;
    let n = tx.execute(REVOKE_GRANT_TOKENS, (now, grant_id))?;
    if n > 0 {
        tx.execute(super::BUMP_REVISION, ())?;
    }
    Ok(n as u64)
}
