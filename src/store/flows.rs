//! Storage of what the flows issue: grants, authorization codes, tokens, consents and
//! used client-assertion ids. Codes and tokens are looked up by their SHA-256, so a
//! leaked database dump of hashes alone does not replay.

use serde::{Deserialize, Serialize};
use sha2::Digest;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::writer::{AppendRow, Col, Rows, Tx};

use crate::error::Result;
use crate::model::{Timestamp, TokenFormat};

/// SHA-256 of a code or token, hex.
pub fn hash_secret(value: &str) -> String {
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub sub: Option<String>,
    pub scopes: String,
    pub auth_time: Option<Timestamp>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

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

impl AppendRow for GrantRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO grants (id, client_id, sub, scopes, auth_time, created_at) "
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
    }))
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

/// Tells other processes on this database (their caches of token rows) that tokens
/// changed state, through the revision counter of clients, users and scopes.
async fn tokens_changed(conn: &mut SqliteConnection) -> Result<()> {
    super::Store::bump(conn).await
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

impl AppendRow for TokenRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO tokens (id, token_hash, kind, format, client_id, sub, grant_id, scopes, issued_at, expires_at, value) "
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
        ]
    }
}

const FIND_JWT: &str = "SELECT * FROM tokens WHERE id = ? AND format = 'jwt'";
/// `format = 'opaque'` lets SQLite use the partial index of opaque tokens' hashes.
const FIND_OPAQUE: &str = "SELECT * FROM tokens WHERE token_hash = ? AND format = 'opaque'";

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

/// Removes codes and tokens that expired more than `older_than` seconds ago, in small
/// chunks so a large backlog never holds the write lock for long.
/// Rows deleted per pruning transaction. Each job runs in a savepoint whose journal
/// (temp_store = MEMORY) holds every page the delete changes: with 2,000 random rows
/// of a big table (each in five b-trees) that was 35–40 MiB for a moment.
const PRUNE_CHUNK: u64 = 500;

pub async fn prune_expired(store: &super::Store, now: Timestamp, older_than: i64) -> Result<u64> {
    let cutoff = now - older_than;
    let mut total = 0;
    // Through the group writer, in chunks: a delete through the pool would contend
    // with it for SQLite's write lock, and a chunk holds the writer only briefly.
    for table in ["auth_codes", "tokens"] {
        loop {
            let n = store
                .writer()
                .run(move |c| {
                    Box::pin(async move {
                        Ok(sqlx::query(&format!(
                            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE expires_at < ? LIMIT {PRUNE_CHUNK})"
                        ))
                        .bind(cutoff)
                        .execute(&mut *c)
                        .await?
                        .rows_affected())
                    })
                })
                .await?;
            total += n;
            if n < PRUNE_CHUNK {
                break;
            }
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

/// Removes everything issued to a client that is being deleted.
pub(crate) async fn delete_for_client(tx: &mut SqliteConnection, client_id: &str) -> Result<()> {
    for table in [
        "tokens",
        "auth_codes",
        "grants",
        "consents",
        "used_assertions",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE client_id = ?"))
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Removes everything issued to a user that is being deleted.
pub(crate) async fn delete_for_user(tx: &mut SqliteConnection, sub: &str) -> Result<()> {
    for table in ["tokens", "auth_codes", "grants", "consents", "sessions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE sub = ?"))
            .bind(sub)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

// ---- sessions and consents ----

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
) -> Result<bool> {
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
    for g in grants {
        revoke_grant(&mut tx, &g, now, "consent revoked").await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

// ---- device authorization (RFC 8628) ----

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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: usize, expires_at: Timestamp) -> TokenRow {
        TokenRow {
            id: format!("t{i:05}"),
            token_hash: hash_secret(&format!("token {i}")),
            kind: TokenKind::AccessToken,
            format: TokenFormat::Jwt,
            client_id: "service".into(),
            sub: None,
            grant_id: None,
            scopes: String::new(),
            issued_at: expires_at - 3600,
            expires_at,
            revoked_at: None,
            rotated_at: None,
            value: None,
        }
    }

    fn jws(claims: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[tokio::test]
    async fn tokens_are_found_by_jti_and_exact_value_or_by_hash_when_opaque() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        let jwt_value = jws(r#"{"jti":"t00001","sub":"alice"}"#);
        let mut jwt = token(1, now + 60);
        jwt.token_hash = hash_secret(&jwt_value);
        let mut opaque = token(2, now + 60);
        opaque.format = TokenFormat::Opaque;
        opaque.token_hash = hash_secret("opaque-value-0123456789");
        store
            .writer()
            .append(super::super::writer::boxed([jwt, opaque]).collect())
            .await
            .unwrap();
        let pool = store.pool().clone();
        let find = |v: String| {
            let pool = pool.clone();
            async move {
                let mut conn = pool.acquire().await.unwrap();
                find_token(&mut conn, &v).await.unwrap().map(|r| r.id)
            }
        };
        assert_eq!(find(jwt_value.clone()).await.as_deref(), Some("t00001"));
        // Same jti, other claims or signature: not the issued token.
        assert_eq!(find(jws(r#"{"jti":"t00001","sub":"mallory"}"#)).await, None);
        assert_eq!(find(format!("{jwt_value}x")).await, None);
        assert_eq!(
            find("opaque-value-0123456789".into()).await.as_deref(),
            Some("t00002")
        );
        // An opaque value is not found through a JWT's hash, nor a JWT through the
        // opaque lookup (its value has no jti here).
        assert_eq!(find("opaque-value-other".into()).await, None);
        assert_eq!(find("a.b.c".into()).await, None);
        assert_eq!(find(String::new()).await, None);
        store.close().await;
    }

    #[tokio::test]
    async fn the_token_index_migration_keeps_every_token() {
        // A database as the migrations before 20261122000005 left it, with tokens.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::store::DB_FILE);
        {
            let pool = crate::store::testing::pool_before(&path, 20261122000005).await;
            sqlx::query(
                "INSERT INTO tokens (id, token_hash, kind, format, client_id, sub, grant_id, scopes, issued_at, expires_at, revoked_at, value)
                 VALUES ('a1', ?, 'access_token', 'jwt', 'web', 'alice', 'g1', 'openid', 10, 20, 15, 'x.y.z'),
                        ('a2', ?, 'refresh_token', 'opaque', 'web', 'alice', 'g1', 'openid', 11, 99, NULL, 'r')",
            )
            .bind(hash_secret("x.y.z"))
            .bind(hash_secret("refresh-value"))
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let rows: Vec<(String, Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT id, revoked_at, value FROM tokens ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                ("a1".to_string(), Some(15), Some("x.y.z".to_string())),
                ("a2".to_string(), None, Some("r".to_string()))
            ]
        );
        let mut conn = store.pool().acquire().await.unwrap();
        let found = find_token(&mut conn, "refresh-value").await.unwrap();
        assert_eq!(found.map(|r| r.id).as_deref(), Some("a2"));
        drop(conn);
        store.close().await;
    }

    #[tokio::test]
    async fn token_lookups_use_an_index() {
        // A partial index is used only when the query implies its condition; a query
        // that does not would scan the whole table and slow down as it grows.
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        for (query, index) in [
            (FIND_OPAQUE, "tokens_opaque_hash"),
            (FIND_JWT, "sqlite_autoindex_tokens"),
            (
                "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
                "tokens_grant",
            ),
            ("DELETE FROM tokens WHERE sub = ?", "tokens_sub"),
            ("DELETE FROM tokens WHERE client_id = ?", "tokens_client"),
            (
                "SELECT rowid FROM tokens WHERE expires_at < ? LIMIT 2000",
                "tokens_expiry",
            ),
            (
                "SELECT * FROM tokens ORDER BY id DESC LIMIT ?",
                "sqlite_autoindex_tokens",
            ),
        ] {
            let plan = crate::store::testing::query_plan(store.pool(), query).await;
            assert!(plan.contains(index), "{query} does not use {index}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{query} sorts: {plan}");
        }
        store.close().await;
    }

    fn granted(i: usize, kind: TokenKind) -> TokenRow {
        TokenRow {
            kind,
            grant_id: Some("g1".into()),
            sub: Some("alice".into()),
            ..token(i, 1_800_000_000 + 3600)
        }
    }

    async fn revoked_and_stored(store: &crate::store::Store) -> Vec<(String, bool)> {
        sqlx::query_as("SELECT id, revoked_at IS NOT NULL FROM tokens ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    async fn with_grant(dir: &std::path::Path) -> crate::store::Store {
        let store = crate::store::Store::open(dir).await.unwrap();
        sqlx::query(
            "INSERT INTO grants (id, client_id, sub, created_at) VALUES ('g1', 'web', 'alice', 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store
    }

    #[tokio::test]
    async fn a_replayed_code_issues_nothing_and_revokes_what_the_first_exchange_got() {
        // The token endpoint refuses a used code before it gets here; this is the race
        // of two exchanges that both passed that check.
        let dir = tempfile::tempdir().unwrap();
        let store = with_grant(dir.path()).await;
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, grant_id, client_id, sub, redirect_uri, scopes, auth_time, created_at, expires_at)
             VALUES ('h1', 'g1', 'web', 'alice', 'http://127.0.0.1/cb', 'openid', 1, 1, 9999999999)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let now: Timestamp = 1_800_000_000;
        let exchange = |i: usize| {
            let rows: Rows = vec![Box::new(granted(i, TokenKind::AccessToken))];
            store
                .writer()
                .run_now(move |tx| exchange_code(tx, "h1", "g1", &rows, now))
        };
        assert_eq!(exchange(1).await.unwrap(), Exchange::Issued);
        assert_eq!(exchange(2).await.unwrap(), Exchange::Replayed(1));
        assert_eq!(revoked_and_stored(&store).await, [("t00001".into(), true)]);
        store.close().await;
    }

    #[tokio::test]
    async fn a_reused_refresh_token_issues_nothing_and_revokes_the_grant() {
        let dir = tempfile::tempdir().unwrap();
        let store = with_grant(dir.path()).await;
        store
            .writer()
            .append(vec![Box::new(granted(1, TokenKind::RefreshToken))])
            .await
            .unwrap();
        let now: Timestamp = 1_800_000_000;
        let rotate = |i: usize| {
            let rows: Rows = vec![Box::new(granted(i, TokenKind::RefreshToken))];
            store
                .writer()
                .run_now(move |tx| rotate_refresh(tx, "t00001", "g1", &rows, now))
        };
        assert_eq!(rotate(2).await.unwrap(), Exchange::Issued);
        // The first token was rotated, not revoked; its successor is live.
        assert_eq!(
            revoked_and_stored(&store).await,
            [("t00001".into(), false), ("t00002".into(), false)]
        );
        assert_eq!(rotate(3).await.unwrap(), Exchange::Replayed(2));
        assert_eq!(
            revoked_and_stored(&store).await,
            [("t00001".into(), true), ("t00002".into(), true)]
        );
        store.close().await;
    }

    #[tokio::test]
    async fn a_vanished_code_or_refresh_token_is_unknown_and_revokes_nothing() {
        // The exchange read the row (from memory or the database), then its client or
        // user was deleted, and the row with it: not a replay.
        let dir = tempfile::tempdir().unwrap();
        let store = with_grant(dir.path()).await;
        store
            .writer()
            .append(vec![Box::new(granted(1, TokenKind::AccessToken))])
            .await
            .unwrap();
        let now: Timestamp = 1_800_000_000;
        let rows = || -> Rows { vec![Box::new(granted(2, TokenKind::AccessToken))] };
        let (code_rows, refresh_rows) = (rows(), rows());
        let code = store
            .writer()
            .run_now(move |tx| exchange_code(tx, "gone", "g1", &code_rows, now))
            .await
            .unwrap();
        assert_eq!(code, Exchange::Unknown);
        let refresh = store
            .writer()
            .run_now(move |tx| rotate_refresh(tx, "t-gone", "g1", &refresh_rows, now))
            .await
            .unwrap();
        assert_eq!(refresh, Exchange::Unknown);
        assert_eq!(
            revoked_and_stored(&store).await,
            [("t00001".into(), false)],
            "the grant's token stays live and nothing was stored"
        );
        store.close().await;
    }

    #[tokio::test]
    async fn pruning_removes_tokens_expired_long_ago_in_chunks_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        let day = 24 * 3600;
        // More than one chunk (500) expired over a day ago; one expired an hour ago
        // (kept for the window); two still valid.
        let mut rows: Vec<TokenRow> = (0..2500).map(|i| token(i, now - 2 * day)).collect();
        rows.push(token(2500, now - 3600));
        rows.push(token(2501, now + 3600));
        rows.push(token(2502, now + day));
        store
            .writer()
            .append(super::super::writer::boxed(rows).collect())
            .await
            .unwrap();
        let removed = prune_expired(&store, now, day).await.unwrap();
        assert_eq!(removed, 2500);
        let left: Vec<String> = sqlx::query_scalar("SELECT id FROM tokens ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(left, ["t02500", "t02501", "t02502"]);
        assert_eq!(prune_expired(&store, now, day).await.unwrap(), 0);
        store.close().await;
    }
}
