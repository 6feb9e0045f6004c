//! Storage of what the flows issue, one module per table — [`super::grants`],
//! [`super::codes`], [`super::tokens`], [`super::sessions`], [`super::consents`],
//! [`super::devices`], [`super::assertions`] — gathered here for their callers, with
//! what crosses the tables. Codes and tokens are looked up by their SHA-256, so a
//! leaked database dump of hashes alone does not replay.

use sha2::Digest;
use sqlx::SqliteConnection;

use crate::error::Result;

pub use super::assertions::*;
pub use super::codes::*;
pub use super::consents::*;
pub use super::devices::*;
pub use super::grants::*;
pub use super::sessions::*;
pub use super::tokens::*;

/// SHA-256 of a code or token, hex.
pub fn hash_secret(value: &str) -> String {
    let digest = sha2::Sha256::digest(value.as_bytes());
    // Into a buffer: `hex::encode` collects an iterator of chars.
    let mut out = [0u8; 64];
    match hex::encode_to_slice(digest, &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => hex::encode(digest),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Timestamp, TokenFormat};
    use crate::store::tokens::{FIND_JWT, FIND_OPAQUE};
    use crate::store::writer::Rows;

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
            extras: None,
        }
    }

    fn jws(claims: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[test]
    fn secrets_are_hashed_to_lowercase_hex_sha256() {
        // FIPS 180-2's "abc" example: the stored hashes of existing databases match.
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
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
            // Pruning walks the table in the order it was stored.
            (super::super::tokens::TOKEN_CHUNK, "INTEGER PRIMARY KEY"),
            (
                "DELETE FROM tokens WHERE rowid > ? AND rowid <= ? AND expires_at < ?",
                "INTEGER PRIMARY KEY",
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
    async fn pruning_stops_at_the_tokens_issued_after_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        let day = 24 * 3600;
        // A full chunk of tokens issued now, then one stored after them though issued
        // (and expired) days before: as under a clock that was set back.
        let mut rows: Vec<TokenRow> = (0..600).map(|i| token(i, now + 3600)).collect();
        rows.push(TokenRow {
            issued_at: now - 3 * day,
            ..token(600, now - 2 * day)
        });
        store
            .writer()
            .append(super::super::writer::boxed(rows).collect())
            .await
            .unwrap();
        // The walk ends at the first chunk issued entirely after the cutoff: the late
        // row is not looked at yet...
        assert_eq!(prune_expired(&store, now, day).await.unwrap(), 0);
        // ...and is removed once the cutoff has passed the tokens stored before it.
        assert_eq!(
            prune_expired(&store, now + 2 * day, day).await.unwrap(),
            601
        );
        store.close().await;
    }

    #[tokio::test]
    async fn pruning_removes_tokens_expired_long_ago_in_chunks_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let now: Timestamp = 1_800_000_000;
        let day = 24 * 3600;
        // First a long-lived token issued three days ago and still valid (pruning walks
        // past it); then more than one chunk (500) expired over a day ago; one expired
        // an hour ago (kept for the window); two still valid.
        let long_lived = TokenRow {
            issued_at: now - 3 * day,
            ..token(9999, now + 30 * day)
        };
        let mut rows: Vec<TokenRow> = vec![long_lived];
        rows.extend((0..2500).map(|i| token(i, now - 2 * day)));
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
        assert_eq!(left, ["t02500", "t02501", "t02502", "t09999"]);
        assert_eq!(prune_expired(&store, now, day).await.unwrap(), 0);
        store.close().await;
    }
}
