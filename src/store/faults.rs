//! The `fault_rules` table (issue 20): failures injected on purpose, as they were given
//! ([`FaultSpec`], stored as JSON) with what changes while they run (how many requests
//! are left, when they end, paused, how many they changed).
//!
//! A running provider must apply a rule added by another process (the CLI) to the very
//! next request, without reading the database per request: every change here is
//! followed by a bump of the data directory's faults signal
//! ([`crate::store::signals`]), which the provider compares before each request.
//! What a rule means, and which request it changes, is decided in `oauth::faults`.

use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};

use crate::error::{Error, Result};
use crate::model::Timestamp;

/// A fault rule as given by the CLI's flags, the window's form or a seed file's
/// `faults:` entry: a target, exactly one effect (or a scenario) and at most one
/// duration. Spelled the same in all three (the seed uses these field names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// token, authorize, userinfo, introspect, revoke, jwks, discovery, device,
    /// registration or all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Only requests of this client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Only token requests with this grant type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Effect: an OAuth error with this RFC code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's description (a default one says it was injected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Effect: this HTTP status (500, 502, 503 or 429).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds of a 503 or 429.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub retry_after: Option<i64>,
    /// Effect: latency in milliseconds, `2000` or a range `500-3000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// Effect: the connection is closed without an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop: Option<bool>,
    /// Effect: the JSON body is `truncated` or `malformed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Effect: a bad token on purpose (wrong-aud, wrong-iss, wrong-nonce,
    /// wrong-at-hash, expired-id-token, unknown-key, alg-none, expired-access-token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_token: Option<String>,
    /// Effect: tokens issued this many seconds in the past (negative) or future.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub clock_skew: Option<i64>,
    /// A named scenario instead of an effect (next-refresh-fails, expire-access-tokens,
    /// rotate-keys, jwks-unavailable, clock-skew, consent-denied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The scenario's seconds (jwks-unavailable: how long; clock-skew: the offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub seconds: Option<i64>,
    /// Duration: the next N matching requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub count: Option<i64>,
    /// Duration: this percentage of the matching requests, until cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub percent: Option<i64>,
    /// Duration: for this long (seconds, or 90s, 5m, 2h).
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(rename = "for"))]
    pub for_: Option<String>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRow {
    pub id: i64,
    pub spec: FaultSpec,
    pub origin: String,
    pub remaining: Option<i64>,
    pub expires_at: Option<Timestamp>,
    pub paused: bool,
    pub injected: i64,
    pub created_at: Timestamp,
}

/// A rule to insert (its spec already validated).
#[derive(Debug, Clone)]
pub struct NewFault {
    pub spec: FaultSpec,
    pub origin: &'static str,
    pub remaining: Option<i64>,
    pub expires_at: Option<Timestamp>,
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Other(format!("stored fault rule is not valid JSON: {e}"))
}

/// Every rule, oldest first.
pub async fn list(pool: &SqlitePool) -> Result<Vec<FaultRow>> {
    let rows = sqlx::query(
        "SELECT id, spec, origin, remaining, expires_at, paused, injected, created_at FROM fault_rules ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(FaultRow {
                id: r.get("id"),
                spec: serde_json::from_str(r.get::<&str, _>("spec")).map_err(json_err)?,
                origin: r.get("origin"),
                remaining: r.get("remaining"),
                expires_at: r.get("expires_at"),
                paused: r.get::<i64, _>("paused") != 0,
                injected: r.get("injected"),
                created_at: r.get("created_at"),
            })
        })
        .collect()
}

/// Inserts `rules` in one transaction (all or none), first deleting the rules of
/// `replace_origin` if given (a seed file sets its rules afresh); returns the new ids.
pub async fn insert(
    pool: &SqlitePool,
    rules: &[NewFault],
    replace_origin: Option<&str>,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    if let Some(origin) = replace_origin {
        sqlx::query("DELETE FROM fault_rules WHERE origin = ?")
            .bind(origin)
            .execute(&mut *tx)
            .await?;
    }
    let mut ids = Vec::with_capacity(rules.len());
    for rule in rules {
        let spec = serde_json::to_string(&rule.spec).map_err(json_err)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO fault_rules (spec, origin, remaining, expires_at, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(spec)
        .bind(rule.origin)
        .bind(rule.remaining)
        .bind(rule.expires_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Deletes one rule (`Some(id)`) or all; returns how many.
pub async fn delete(pool: &SqlitePool, id: Option<i64>) -> Result<u64> {
    let done = match id {
        Some(id) => {
            sqlx::query("DELETE FROM fault_rules WHERE id = ?")
                .bind(id)
                .execute(pool)
                .await?
        }
        None => sqlx::query("DELETE FROM fault_rules").execute(pool).await?,
    };
    Ok(done.rows_affected())
}

/// Pauses or resumes one rule (`Some(id)`) or all; returns how many.
pub async fn set_paused(pool: &SqlitePool, id: Option<i64>, paused: bool) -> Result<u64> {
    let done = match id {
        Some(id) => {
            sqlx::query("UPDATE fault_rules SET paused = ? WHERE id = ?")
                .bind(paused)
                .bind(id)
                .execute(pool)
                .await?
        }
        None => {
            sqlx::query("UPDATE fault_rules SET paused = ?")
                .bind(paused)
                .execute(pool)
                .await?
        }
    };
    Ok(done.rows_affected())
}

/// Takes one of a "next N" rule's requests: `Some(left)` if there was one, `None` if
/// it was used up (or deleted) meanwhile. The decrement is one conditional UPDATE, so
/// concurrent requests (in any process) never take the same one twice.
pub async fn take_one(pool: &SqlitePool, id: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE fault_rules SET remaining = remaining - 1, injected = injected + 1 WHERE id = ? AND remaining > 0 AND paused = 0 RETURNING remaining",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Counts a request changed by a rule without a count.
pub async fn count_injection(pool: &SqlitePool, id: i64) -> Result<()> {
    sqlx::query("UPDATE fault_rules SET injected = injected + 1 WHERE id = ?")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Expires every active access token now (the "expire every access token now"
/// scenario); returns how many. The caller announces it (the revision counter is
/// bumped here, so a provider in another process drops its cached rows).
pub async fn expire_access_tokens(pool: &SqlitePool, now: Timestamp) -> Result<u64> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE tokens SET expires_at = ? WHERE kind = 'access_token' AND revoked_at IS NULL AND expires_at > ?",
    )
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(super::BUMP_REVISION).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Rewrites a just-issued token (a bad token on purpose): its value, times and hash.
pub async fn reshape_token(
    pool: &SqlitePool,
    old_hash: &str,
    new_value: &str,
    new_hash: &str,
    issued_at: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE tokens SET value = ?, token_hash = ?, issued_at = ?, expires_at = ? WHERE token_hash = ?",
    )
    .bind(new_value)
    .bind(new_hash)
    .bind(issued_at)
    .bind(expires_at)
    .bind(old_hash)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> (tempfile::TempDir, crate::store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        (dir, store)
    }

    fn rule(count: Option<i64>) -> NewFault {
        NewFault {
            spec: FaultSpec {
                endpoint: Some("token".into()),
                error: Some("invalid_grant".into()),
                count,
                ..Default::default()
            },
            origin: "cli",
            remaining: count,
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn a_count_is_taken_exactly_once_under_concurrent_takers() {
        let (_dir, store) = pool().await;
        let ids = insert(store.pool(), &[rule(Some(3))], None, 1_000)
            .await
            .unwrap();
        let id = ids[0];
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let pool = store.pool().clone();
            tasks.push(tokio::spawn(async move { take_one(&pool, id).await }));
        }
        let mut taken = 0;
        for t in tasks {
            if t.await.unwrap().unwrap().is_some() {
                taken += 1;
            }
        }
        assert_eq!(taken, 3);
        let rows = list(store.pool()).await.unwrap();
        assert_eq!(rows[0].remaining, Some(0));
        assert_eq!(rows[0].injected, 3);
    }

    #[tokio::test]
    async fn a_seed_replaces_only_its_own_rules() {
        let (_dir, store) = pool().await;
        insert(store.pool(), &[rule(None)], None, 1).await.unwrap();
        let mut seeded = rule(Some(1));
        seeded.origin = "seed";
        insert(store.pool(), &[seeded.clone()], Some("seed"), 2)
            .await
            .unwrap();
        insert(store.pool(), &[seeded], Some("seed"), 3)
            .await
            .unwrap();
        let rows = list(store.pool()).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].origin, "cli");
        assert_eq!(rows[1].origin, "seed");
    }
}
