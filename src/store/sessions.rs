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

/// A client a provider session signed in to, with the `sid` its id_tokens carry
/// (OpenID Connect Back-Channel Logout): appended with the grant of the sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionClientRow {
    pub session_hash: String,
    pub client_id: String,
    pub sid: String,
    pub sub: String,
    pub created_at: Timestamp,
}

impl super::writer::AppendRow for SessionClientRow {
    fn insert(&self) -> &'static str {
        "INSERT OR REPLACE INTO session_clients (session_hash, client_id, sid, sub, created_at) "
    }
    fn rank(&self) -> u8 {
        2
    }
    fn values(&self) -> Vec<super::writer::Col<'_>> {
        vec![
            self.session_hash.as_str().into(),
            self.client_id.as_str().into(),
            self.sid.as_str().into(),
            self.sub.as_str().into(),
            self.created_at.into(),
        ]
    }
}

/// Which clients' sign-ins a logout ends.
#[derive(Debug, Clone, Copy)]
pub enum SignedIn<'a> {
    /// Those of one session (by its cookie).
    Session(&'a str),
    /// Those of a persona, of every session, or of one client.
    Persona {
        sub: &'a str,
        client_id: Option<&'a str>,
    },
}

/// Forgets the sign-ins `which` names and returns them (the clients to notify). The
/// sessions themselves are left to the caller.
pub async fn take_session_clients(
    pool: &SqlitePool,
    which: SignedIn<'_>,
) -> Result<Vec<SessionClientRow>> {
    let (filter, a, b) = match which {
        // Both statements take both parameters; a session's has no second.
        SignedIn::Session(id) => ("session_hash = ?1 AND ?2 IS NULL", hash_secret(id), None),
        SignedIn::Persona { sub, client_id } => (
            "sub = ?1 AND (?2 IS NULL OR client_id = ?2)",
            sub.to_string(),
            client_id.map(str::to_string),
        ),
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(&format!(
        "SELECT session_hash, client_id, sid, sub, created_at FROM session_clients WHERE {filter}"
    ))
    .bind(&a)
    .bind(&b)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(&format!("DELETE FROM session_clients WHERE {filter}"))
        .bind(&a)
        .bind(&b)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionClientRow {
            session_hash: r.get("session_hash"),
            client_id: r.get("client_id"),
            sid: r.get("sid"),
            sub: r.get("sub"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Ends every session of a persona; returns how many were live.
pub async fn delete_sessions_of(pool: &SqlitePool, sub: &str) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE sub = ?")
        .bind(sub)
        .execute(pool)
        .await?
        .rows_affected())
}
