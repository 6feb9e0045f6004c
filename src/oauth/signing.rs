//! Signing keys as the protocol uses them: the running provider's [`KeySet`] follows
//! rotations and retirements made anywhere on its data directory (the window, the CLI,
//! a fault scenario), and a token signed by a retired key is no longer good.

use serde_json::Value;

use super::context::Context;
use super::error::OAuthError;
use crate::keys::{KeyInfo, KeySet, RetireOld, jws_kid};
use crate::model::{SigningAlg, Timestamp};

impl Context {
    /// The signing keys, reloaded first when another process rotated or retired one
    /// (noticed through the store's revision counter, read at most twice a second).
    pub async fn current_keys(&self) -> Result<&KeySet, OAuthError> {
        let revision = self.core.revision().await?;
        self.keys.follow(revision, self.now()).await?;
        Ok(&self.keys)
    }

    /// Rotates the signing keys of `alg` (every algorithm in use when `None`) and signs
    /// with the new ones from now on; the replaced keys stay in the JWKS until
    /// `retire_old` says. Returns the new keys.
    pub async fn rotate_keys(
        &self,
        alg: Option<SigningAlg>,
        retire_old: RetireOld,
        now: Timestamp,
    ) -> crate::Result<Vec<KeyInfo>> {
        let made = self.core.rotate_keys(alg, retire_old, now).await;
        self.keys.reload(now).await?;
        made
    }

    /// Retires the published key `kid` now.
    pub async fn retire_key(&self, kid: &str, now: Timestamp) -> crate::Result<KeyInfo> {
        let retired = self.core.retire_key(kid, now).await;
        self.keys.reload(now).await?;
        retired
    }

    /// The JWK Set: every active and published key (keys being made included).
    pub async fn jwks(&self, now: Timestamp) -> Result<Value, OAuthError> {
        let keys = self.current_keys().await?;
        keys.ready_all().await?;
        Ok(keys.jwks(now))
    }

    /// Whether a JWT this provider issued is still good as far as its key goes: its
    /// key is not retired. Opaque tokens have no key.
    pub async fn signed_by_live_key(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<bool, OAuthError> {
        if memchr::memchr_iter(b'.', token.as_bytes()).count() != 2 {
            return Ok(true);
        }
        let Some(kid) = jws_kid(token) else {
            return Ok(true);
        };
        Ok(self.current_keys().await?.publishes(&kid, now))
    }
}

/// What userinfo answers: JSON, or a JWT for a client that registered
/// `userinfo_signed_response_alg` (OIDC Core §5.3.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Userinfo {
    Json(Value),
    /// `application/jwt`: the claims with `iss` and `aud` (the client), signed by the
    /// active key of the client's algorithm.
    Jwt(String),
}

impl Context {
    /// The userinfo answer for the client `client_id` the access token was issued to.
    pub async fn userinfo_answer(
        &self,
        client_id: &str,
        claims: Value,
        now: Timestamp,
    ) -> Result<Userinfo, OAuthError> {
        let alg = self
            .core
            .cached_client(client_id)
            .await?
            .and_then(|c| c.userinfo_signed_response_alg);
        let Some(alg) = alg else {
            return Ok(Userinfo::Json(claims));
        };
        let mut claims = match claims {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        claims.insert("iss".into(), Value::String(self.config.issuer.clone()));
        claims.insert("aud".into(), Value::String(client_id.to_string()));
        claims.insert("iat".into(), Value::from(now));
        let keys = self.current_keys().await?;
        keys.ready(alg).await?;
        let jwt = keys.get(alg)?.sign_jwt("JWT", &Value::Object(claims))?;
        Ok(Userinfo::Jwt(jwt))
    }
}
