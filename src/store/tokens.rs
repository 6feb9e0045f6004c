//! The `tokens` table: access and refresh tokens, looked up by JWT id or by the
//! SHA-256 of an opaque value, rotated, revoked, expired and pruned.

use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::flows::*;
use super::writer::{AppendRow, Col, Rows, Tx};
use crate::error::Result;
use crate::model::{Timestamp, TokenFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    AccessToken,
    RefreshToken,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AccessToken => "access_token",
            TokenKind::RefreshToken => "refresh_token",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "refresh_token" {
            TokenKind::RefreshToken
        } else {
            TokenKind::AccessToken
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

#[derive(Clone, PartialEq)]
pub struct TokenRow {
    pub id: String,
    pub token_hash: String,
    pub kind: TokenKind,
    pub format: TokenFormat,
    pub client_id: String,
    pub sub: Option<String>,
    pub grant_id: Option<String>,
    pub scopes: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    pub value: Option<String>,
    /// Access tokens: their audience and sign-in (JSON, `oauth::claims::SignIn`).
    pub extras: Option<String>,
}

impl std::fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("sub", &self.sub)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl TokenRow {
    pub fn state(&self, now: Timestamp) -> TokenState {
        if self.revoked_at.is_some() || self.rotated_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at <= now {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    pub fn scope_list(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(str::to_string).collect()
    }

    fn from_row(r: &sqlx::sqlite::SqliteRow) -> Self {
        TokenRow {
            id: r.get("id"),
            token_hash: r.get("token_hash"),
            kind: TokenKind::parse(r.get::<&str, _>("kind")),
            format: if r.get::<&str, _>("format") == "opaque" {
                TokenFormat::Opaque
            } else {
                TokenFormat::Jwt
            },
            client_id: r.get("client_id"),
            sub: r.get("sub"),
            grant_id: r.get("grant_id"),
            scopes: r.get("scopes"),
            issued_at: r.get("issued_at"),
            expires_at: r.get("expires_at"),
            revoked_at: r.get("revoked_at"),
            rotated_at: r.get("rotated_at"),
            value: r.get("value"),
            extras: r.get("extras"),
        }
    }
}

/// What the window lists of a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TokenSummary {
    pub id: String,
    pub kind: TokenKind,
    pub format: TokenFormat,
    pub client_id: String,
    pub sub: Option<String>,
    pub username: Option<String>,
    pub scopes: Vec<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub issued_at: Timestamp,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub expires_at: Timestamp,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub revoked_at: Option<Timestamp>,
    pub state: TokenState,
    pub grant_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default)]
pub struct TokenFilter {
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub kind: Option<TokenKind>,
    pub state: Option<TokenState>,
    pub limit: Option<u32>,
}

/// Tells other processes on this database (their caches of token rows) that tokens
/// changed state, through the revision counter of clients, users and scopes.
pub(super) async fn tokens_changed(conn: &mut SqliteConnection) -> Result<()> {
    super::Store::bump(conn).await
}

impl AppendRow for TokenRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO tokens (id, token_hash, kind, format, client_id, sub, grant_id, scopes, issued_at, expires_at, value, extras) "
    }
    fn rank(&self) -> u8 {
        1
    }
    fn values(&self) -> Vec<Col<'_>> {
        vec![
            self.id.as_str().into(),
            self.token_hash.as_str().into(),
            self.kind.as_str().into(),
            self.format.as_str().into(),
            self.client_id.as_str().into(),
            self.sub.as_deref().into(),
            self.grant_id.as_deref().into(),
            self.scopes.as_str().into(),
            self.issued_at.into(),
            self.expires_at.into(),
            self.value.as_deref().into(),
            self.extras.as_deref().into(),
        ]
    }
}

pub(super) const FIND_JWT: &str = "SELECT * FROM tokens WHERE id = ? AND format = 'jwt'";

/// `format = 'opaque'` lets SQLite use the partial index of opaque tokens' hashes.
pub(super) const FIND_OPAQUE: &str =
    "SELECT * FROM tokens WHERE token_hash = ? AND format = 'opaque'";

/// The stored row of a token, by the token's value. A JWT is found by its `jti` (the
/// row's id, so no index of hashes is needed for JWTs) and must match the stored hash
/// exactly; an opaque token by its hash.
pub async fn find_token(conn: &mut SqliteConnection, value: &str) -> Result<Option<TokenRow>> {
    let hash = hash_secret(value);
    let row = match jwt_id(value) {
        Some(jti) => sqlx::query(FIND_JWT)
            .bind(jti)
            .fetch_optional(conn)
            .await?
            .filter(|r| r.get::<&str, _>("token_hash") == hash),
        None => {
            sqlx::query(FIND_OPAQUE)
                .bind(&hash)
                .fetch_optional(conn)
                .await?
        }
    };
    Ok(row.as_ref().map(TokenRow::from_row))
}

/// The `jti` claim of a value shaped like a JWS (three base64url parts, the middle one
/// a JSON object with a string `jti`), read without checking the signature: the caller
/// compares the stored hash of the whole value instead.
fn jwt_id(value: &str) -> Option<String> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Claims {
        jti: String,
    }
    let mut parts = value.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Claims>(&json).ok().map(|c| c.jti)
}

pub async fn get_token(pool: &SqlitePool, id: &str) -> Result<Option<TokenRow>> {
    let row = sqlx::query("SELECT * FROM tokens WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(TokenRow::from_row))
}

/// Marks a refresh token as exchanged; false if it already was (a reuse) or is revoked.
/// Rotates a refresh token and stores its successors, atomically: of two concurrent
/// uses of one refresh token, exactly one gets new tokens, and the other (a reuse)
/// revokes the whole grant.
pub fn rotate_refresh(
    tx: &mut Tx<'_>,
    id: &str,
    grant_id: &str,
    tokens: &Rows,
    now: Timestamp,
) -> Result<Exchange> {
    let rotated = tx.execute(
        "UPDATE tokens SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL AND revoked_at IS NULL",
        (now, id),
    )?;
    if rotated == 1 {
        tx.insert(tokens)?;
        return Ok(Exchange::Issued);
    }
    if !tx.exists("SELECT 1 FROM tokens WHERE id = ?", (id,))? {
        return Ok(Exchange::Unknown);
    }
    let n = revoke_grant_now(tx, grant_id, now, "rotated refresh token reused")?;
    Ok(Exchange::Replayed(n))
}

pub async fn revoke_token(conn: &mut SqliteConnection, id: &str, now: Timestamp) -> Result<bool> {
    let n = sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n > 0 {
        tokens_changed(conn).await?;
    }
    Ok(n == 1)
}

pub async fn revoke_tokens_where(
    pool: &SqlitePool,
    column: &str,
    value: &str,
    now: Timestamp,
) -> Result<u64> {
    let column = match column {
        "client_id" => "client_id",
        _ => "sub",
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let n = sqlx::query(&format!(
        "UPDATE tokens SET revoked_at = ? WHERE {column} = ? AND revoked_at IS NULL AND expires_at > ?"
    ))
    .bind(now)
    .bind(value)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(&format!(
        "UPDATE grants SET revoked_at = ?, revoked_reason = 'revoked from Authdesk' WHERE {column} = ? AND revoked_at IS NULL"
    ))
    .bind(now)
    .bind(value)
    .execute(&mut *tx)
    .await?;
    if n > 0 {
        tokens_changed(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Sets a token's expiry to `now`, so a client's refresh logic can be exercised.
pub async fn expire_token(pool: &SqlitePool, id: &str, now: Timestamp) -> Result<bool> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let n = sqlx::query("UPDATE tokens SET expires_at = ? WHERE id = ? AND expires_at > ?")
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n > 0 {
        tokens_changed(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

pub async fn list_tokens(
    pool: &SqlitePool,
    filter: &TokenFilter,
    sub: Option<&str>,
    now: Timestamp,
) -> Result<Vec<TokenRow>> {
    let mut sql = String::from("SELECT * FROM tokens WHERE 1=1");
    if filter.client_id.is_some() {
        sql.push_str(" AND client_id = ?");
    }
    if sub.is_some() {
        sql.push_str(" AND sub = ?");
    }
    if let Some(kind) = filter.kind {
        sql.push_str(&format!(" AND kind = '{}'", kind.as_str()));
    }
    match filter.state {
        Some(TokenState::Active) => {
            sql.push_str(" AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ?")
        }
        Some(TokenState::Expired) => {
            sql.push_str(" AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at <= ?")
        }
        Some(TokenState::Revoked) => {
            sql.push_str(" AND (revoked_at IS NOT NULL OR rotated_at IS NOT NULL)")
        }
        None => {}
    }
    // Ids start with the issue second, so this is newest first, along the primary key.
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    let mut q = sqlx::query(&sql);
    if let Some(c) = &filter.client_id {
        q = q.bind(c);
    }
    if let Some(s) = sub {
        q = q.bind(s);
    }
    if matches!(
        filter.state,
        Some(TokenState::Active) | Some(TokenState::Expired)
    ) {
        q = q.bind(now);
    }
    q = q.bind(i64::from(filter.limit.unwrap_or(500).min(5000)));
    let rows = q.fetch_all(pool).await?;
    Ok(rows.iter().map(TokenRow::from_row).collect())
}

/// Rows deleted (codes) or looked at (tokens) per pruning transaction. Each job runs
/// in a savepoint whose journal (temp_store = MEMORY) holds every page the delete
/// changes: with 2,000 random rows of a big table (each in five b-trees) that was
/// 35–40 MiB for a moment.
const PRUNE_CHUNK: i64 = 500;

/// Looks at the next [`PRUNE_CHUNK`] tokens after `rowid` in the order they were stored;
/// what `SELECT` answers: the chunk's last rowid, its earliest issue time and its size.
pub(super) const TOKEN_CHUNK: &str = "SELECT max(rowid), min(issued_at), count(*) FROM \
    (SELECT rowid, issued_at FROM tokens WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)";

/// Removes codes and tokens that expired more than `older_than` seconds ago, in small
/// chunks so a large backlog never holds the write lock for long.
///
/// Tokens have no index of expiry times (issue 24): each would be one more b-tree page
/// written by every group commit of tokens. A token that expired before the cutoff was
/// issued before it, and tokens are stored in the order they were issued, so pruning
/// walks the table from its oldest row, chunk by chunk, and stops at the first chunk
/// issued entirely after the cutoff. Each run so looks at the tokens issued before the
/// cutoff (deleting those that expired) and one chunk more, never at the whole table.
/// (A token stored out of order, under a clock set back, is reached when the cutoff
/// passes the tokens stored before it.)
pub async fn prune_expired(store: &super::Store, now: Timestamp, older_than: i64) -> Result<u64> {
    let cutoff = now - older_than;
    let mut total = 0;
    // Through the group writer, in chunks: a delete through the pool would contend
    // with it for SQLite's write lock, and a chunk holds the writer only briefly.
    loop {
        let n = store
            .writer()
            .run(move |c| {
                Box::pin(async move {
                    Ok(sqlx::query(
                        "DELETE FROM auth_codes WHERE rowid IN \
                         (SELECT rowid FROM auth_codes WHERE expires_at < ? LIMIT ?)",
                    )
                    .bind(cutoff)
                    .bind(PRUNE_CHUNK)
                    .execute(&mut *c)
                    .await?
                    .rows_affected())
                })
            })
            .await?;
        total += n;
        if n < PRUNE_CHUNK as u64 {
            break;
        }
    }
    let mut after = 0i64;
    loop {
        let (deleted, next) = store
            .writer()
            .run(move |c| {
                Box::pin(async move {
                    let (last, earliest, rows): (Option<i64>, Option<i64>, i64) =
                        sqlx::query_as(TOKEN_CHUNK)
                            .bind(after)
                            .bind(PRUNE_CHUNK)
                            .fetch_one(&mut *c)
                            .await?;
                    let Some(last) = last else {
                        return Ok((0, None));
                    };
                    let deleted = sqlx::query(
                        "DELETE FROM tokens WHERE rowid > ? AND rowid <= ? AND expires_at < ?",
                    )
                    .bind(after)
                    .bind(last)
                    .bind(cutoff)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                    // Go on while this chunk held tokens issued before the cutoff and
                    // the table goes on.
                    let more = rows == PRUNE_CHUNK && earliest.is_some_and(|t| t < cutoff);
                    Ok((deleted, more.then_some(last)))
                })
            })
            .await?;
        total += deleted;
        match next {
            Some(last) => after = last,
            None => break,
        }
    }
    store
        .writer()
        .run(move |c| {
            Box::pin(async move {
                sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await?;
    Ok(total)
}
