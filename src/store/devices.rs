//! The `device_codes` table: device authorizations (RFC 8628) and their status.

use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::error::Result;
use crate::model::Timestamp;

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// Approved; the device's next poll gets the tokens.
    Approved,
    Denied,
    /// Exchanged for tokens.
    Used,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Used => "used",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pending" => DeviceStatus::Pending,
            "approved" => DeviceStatus::Approved,
            "denied" => DeviceStatus::Denied,
            _ => DeviceStatus::Used,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub user_code: String,
    pub client_id: String,
    pub scopes: String,
    pub status: DeviceStatus,
    pub sub: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub interval_secs: i64,
    pub last_poll_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl DeviceRow {
    fn from_row(r: &sqlx::sqlite::SqliteRow) -> Self {
        DeviceRow {
            user_code: r.get("user_code"),
            client_id: r.get("client_id"),
            scopes: r.get("scopes"),
            status: DeviceStatus::parse(r.get::<&str, _>("status")),
            sub: r.get("sub"),
            auth_time: r.get("auth_time"),
            interval_secs: r.get("interval_secs"),
            last_poll_at: r.get("last_poll_at"),
            created_at: r.get("created_at"),
            expires_at: r.get("expires_at"),
        }
    }
}

/// The client a device code was issued to, if it exists.
pub async fn device_client(pool: &SqlitePool, device_code_hash: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT client_id FROM device_codes WHERE device_code_hash = ?",
    )
    .bind(device_code_hash)
    .fetch_optional(pool)
    .await?)
}

pub async fn insert_device(
    conn: &mut SqliteConnection,
    device_code_hash: &str,
    d: &DeviceRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO device_codes (device_code_hash, user_code, client_id, scopes, status, sub, auth_time, interval_secs, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(device_code_hash)
    .bind(&d.user_code)
    .bind(&d.client_id)
    .bind(&d.scopes)
    .bind(d.status.as_str())
    .bind(&d.sub)
    .bind(d.auth_time)
    .bind(d.interval_secs)
    .bind(d.created_at)
    .bind(d.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn device_by_user_code(pool: &SqlitePool, user_code: &str) -> Result<Option<DeviceRow>> {
    let row = sqlx::query("SELECT * FROM device_codes WHERE user_code = ?")
        .bind(user_code)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(DeviceRow::from_row))
}

/// Records a decision on a pending device request; false if it is no longer pending.
pub async fn decide_device(
    pool: &SqlitePool,
    user_code: &str,
    approved: bool,
    sub: Option<&str>,
    now: Timestamp,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE device_codes SET status = ?, sub = ?, auth_time = ? WHERE user_code = ? AND status = 'pending' AND expires_at > ?",
    )
    .bind(if approved { "approved" } else { "denied" })
    .bind(sub)
    .bind(approved.then_some(now))
    .bind(user_code)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A poll of the token endpoint: returns the row as it was, and records the poll
/// (and, for an approved request, its use) in the same statement sequence.
pub async fn poll_device(
    conn: &mut SqliteConnection,
    device_code_hash: &str,
    now: Timestamp,
) -> Result<Option<DeviceRow>> {
    let row = sqlx::query("SELECT * FROM device_codes WHERE device_code_hash = ?")
        .bind(device_code_hash)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row.as_ref().map(DeviceRow::from_row) else {
        return Ok(None);
    };
    let new_status = match row.status {
        DeviceStatus::Approved => DeviceStatus::Used,
        other => other,
    }
    .as_str();
    sqlx::query("UPDATE device_codes SET last_poll_at = ?, status = ? WHERE device_code_hash = ?")
        .bind(now)
        .bind(new_status)
        .bind(device_code_hash)
        .execute(&mut *conn)
        .await?;
    Ok(Some(row))
}
