//! The `auth_codes` table: authorization codes (by their SHA-256), consumed once.

use sqlx::{Row, SqliteConnection};

use super::flows::*;
use super::writer::{AppendRow, Col, Rows, Tx};
use crate::error::Result;
use crate::model::Timestamp;

#[derive(Clone)]
pub struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    pub sub: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: Timestamp,
    pub claims: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

impl std::fmt::Debug for CodeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRow")
            .field("grant_id", &self.grant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl CodeRow {
    fn from_row(r: &sqlx::sqlite::SqliteRow) -> Self {
        CodeRow {
            grant_id: r.get("grant_id"),
            client_id: r.get("client_id"),
            sub: r.get("sub"),
            redirect_uri: r.get("redirect_uri"),
            scopes: r.get("scopes"),
            nonce: r.get("nonce"),
            code_challenge: r.get("code_challenge"),
            code_challenge_method: r.get("code_challenge_method"),
            auth_time: r.get("auth_time"),
            claims: r.get("claims"),
            created_at: r.get("created_at"),
            expires_at: r.get("expires_at"),
            used_at: r.get("used_at"),
        }
    }
}

/// An authorization code to insert, under the hash of its value.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: String,
    pub code: CodeRow,
}

impl AppendRow for NewCode {
    fn insert(&self) -> &'static str {
        "INSERT INTO auth_codes (code_hash, grant_id, client_id, sub, redirect_uri, scopes, nonce, code_challenge, code_challenge_method, auth_time, claims, created_at, expires_at) "
    }
    fn rank(&self) -> u8 {
        1
    }
    fn values(&self) -> Vec<Col<'_>> {
        let c = &self.code;
        vec![
            self.code_hash.as_str().into(),
            c.grant_id.as_str().into(),
            c.client_id.as_str().into(),
            c.sub.as_str().into(),
            c.redirect_uri.as_str().into(),
            c.scopes.as_str().into(),
            c.nonce.as_deref().into(),
            c.code_challenge.as_deref().into(),
            c.code_challenge_method.as_deref().into(),
            c.auth_time.into(),
            c.claims.as_deref().into(),
            c.created_at.into(),
            c.expires_at.into(),
        ]
    }
}

/// Reads a code without using it.
pub async fn find_code(conn: &mut SqliteConnection, code_hash: &str) -> Result<Option<CodeRow>> {
    let row = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = ?")
        .bind(code_hash)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(CodeRow::from_row))
}

/// What the writer decided about a code or refresh token it was handed.
#[derive(Debug, PartialEq)]
pub enum Exchange {
    Issued,
    /// The code or refresh token had already been used: the grant is now revoked.
    Replayed(u64),
    /// No such code or refresh token (deleted with its client or user since it was
    /// read).
    Unknown,
}

/// Marks a code used, in the writer's transaction. `Some(true)`: first use;
/// `Some(false)`: a replay; `None`: no such code.
pub fn consume_code(tx: &Tx<'_>, code_hash: &str, now: Timestamp) -> Result<Option<bool>> {
    if tx.execute(
        "UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
        (now, code_hash),
    )? == 1
    {
        return Ok(Some(true));
    }
    let known = tx.exists("SELECT 1 FROM auth_codes WHERE code_hash = ?", (code_hash,))?;
    Ok(known.then_some(false))
}

/// Consumes a code and stores the tokens it buys, atomically: of two concurrent
/// exchanges of one code, exactly one issues tokens, and the other revokes the grant
/// (with the tokens the first one got).
pub fn exchange_code(
    tx: &mut Tx<'_>,
    code_hash: &str,
    grant_id: &str,
    tokens: &Rows,
    now: Timestamp,
) -> Result<Exchange> {
    match consume_code(tx, code_hash, now)? {
        Some(true) => {
            tx.insert(tokens)?;
            return Ok(Exchange::Issued);
        }
        Some(false) => {}
        None => return Ok(Exchange::Unknown),
    }
    let n = revoke_grant_now(tx, grant_id, now, "authorization code replayed")?;
    Ok(Exchange::Replayed(n))
}
