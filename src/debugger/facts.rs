//! What the provider knows about a token pasted into the window: whether its signature
//! is one of our keys', whether it is stored (and revoked), and for an opaque token the
//! claims its row holds. The reasoning over these facts (would a strict validator
//! accept it?) is the window's pure explainer.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::oauth::Context;
use crate::store::flows::{TokenKind, TokenRow, TokenSummary};

/// The signature of a JWT against Authdesk's JWKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    /// Signed by one of Authdesk's current keys.
    Valid,
    /// The `kid` is one of ours, but the signature does not verify (changed token,
    /// another algorithm).
    Invalid,
    /// It claims Authdesk as issuer, but no key of ours has its `kid` (a rotated or
    /// deleted key, another data directory).
    UnknownKid,
    /// Not ours: another issuer's key.
    Foreign,
    /// `alg: none`.
    Unsigned,
    /// Not a JWT (an opaque token).
    NotJwt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TokenFacts {
    /// Authdesk's issuer.
    pub issuer: String,
    pub signature: SignatureCheck,
    /// The stored record, when Authdesk issued it (JWT or opaque).
    pub stored: Option<TokenSummary>,
    /// For an opaque token Authdesk knows: the claims its record holds, as a JWT
    /// would carry them.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown> | null"))]
    pub claims: Option<Value>,
    /// The provider's clock, seconds.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub now: i64,
}

fn b64_json(part: &str) -> Option<Value> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The header and claims of a compact JWS, when `token` is one.
pub fn jws_parts(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((b64_json(h)?, b64_json(p)?))
}

/// How the signature of `token` stands against keys found by `kid` (`has_kid`) and
/// verified by `verifies`; pure so each outcome is tested.
pub fn classify(
    token: &str,
    issuer: &str,
    has_kid: impl Fn(&str) -> bool,
    verifies: impl Fn(&str) -> bool,
) -> SignatureCheck {
    let Some((header, claims)) = jws_parts(token) else {
        return SignatureCheck::NotJwt;
    };
    if header.get("alg").and_then(Value::as_str) == Some("none") {
        return SignatureCheck::Unsigned;
    }
    if verifies(token) {
        return SignatureCheck::Valid;
    }
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) if has_kid(kid) => SignatureCheck::Invalid,
        _ if claims.get("iss").and_then(Value::as_str) == Some(issuer) => {
            SignatureCheck::UnknownKid
        }
        _ => SignatureCheck::Foreign,
    }
}

/// The claims an opaque token's record stands for.
fn row_claims(row: &TokenRow, issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": row.sub.clone().unwrap_or_else(|| row.client_id.clone()),
        "aud": row.client_id,
        "client_id": row.client_id,
        "scope": row.scopes,
        "iat": row.issued_at,
        "exp": row.expires_at,
        "token_type": match row.kind {
            TokenKind::AccessToken => "access_token",
            _ => "refresh_token",
        },
    })
}

/// The facts about `token` as the running provider knows them.
pub async fn of(ctx: &Context, token: &str) -> crate::Result<TokenFacts> {
    let token = token.trim();
    let issuer = ctx.issuer().to_string();
    let keys = ctx.current_keys().await?;
    let now = ctx.now();
    let signature = classify(
        token,
        &issuer,
        |kid| keys.by_kid(kid, now).is_some(),
        |t| keys.verify(t, now).is_some(),
    );
    let row = ctx.core.find_token(token).await?;
    let (stored, claims) = match row {
        Some(r) => {
            let (summary, _) = ctx.core.get_token(&r.id).await?;
            let claims = (signature == SignatureCheck::NotJwt).then(|| row_claims(&r, &issuer));
            (Some(summary), claims)
        }
        None => (None, None),
    };
    Ok(TokenFacts {
        issuer,
        signature,
        stored,
        claims,
        now: ctx.now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(header: Value, claims: Value) -> String {
        let e = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.c2ln", e(&header), e(&claims))
    }

    const ISS: &str = "https://localhost:8443";

    #[test]
    fn each_signature_outcome() {
        let ours = |k: &str| k == "k1";
        let t = jwt(json!({"alg": "ES256", "kid": "k1"}), json!({"iss": ISS}));
        assert_eq!(classify(&t, ISS, ours, |_| true), SignatureCheck::Valid);
        assert_eq!(classify(&t, ISS, ours, |_| false), SignatureCheck::Invalid);
        let rotated = jwt(json!({"alg": "ES256", "kid": "old"}), json!({"iss": ISS}));
        assert_eq!(
            classify(&rotated, ISS, ours, |_| false),
            SignatureCheck::UnknownKid
        );
        let other = jwt(
            json!({"alg": "RS256", "kid": "x"}),
            json!({"iss": "https://login.example.com"}),
        );
        assert_eq!(
            classify(&other, ISS, ours, |_| false),
            SignatureCheck::Foreign
        );
        let none = jwt(json!({"alg": "none"}), json!({"iss": ISS}));
        assert_eq!(
            classify(&none, ISS, ours, |_| true),
            SignatureCheck::Unsigned
        );
        assert_eq!(
            classify("8fJ2kq-opaque", ISS, ours, |_| true),
            SignatureCheck::NotJwt
        );
    }
}
