//! Minting tokens: RFC 9068 JWT or opaque access tokens, opaque refresh tokens and
//! OpenID Connect id_tokens. Minting is pure (no I/O): it returns the response and the
//! rows the caller commits in its transaction before answering.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::claims::{Shaper, SignIn};
use super::error::OAuthError;
use crate::keys::KeySet;
use crate::model::{
    Client, Scope, SigningAlg, Timestamp, TokenFormat, User, random_token, sortable_id,
};
use crate::store::flows::{TokenKind, TokenRow, hash_secret};
use crate::token_shape::Preset;

/// JWT access tokens are signed with the client's `access_token_signed_response_alg`
/// (ES256 unless chosen otherwise: fast to sign and verify), id_tokens with its
/// `id_token_signed_response_alg` (RS256 unless chosen otherwise); each by the active
/// key of that algorithm.
pub const ACCESS_TOKEN_ALG: SigningAlg = crate::model::DEFAULT_ACCESS_TOKEN_ALG;

/// The successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The ids of the token rows stored (access, then refresh): for the request log,
    /// never sent to the client.
    #[serde(skip)]
    pub issued: Vec<String>,
    /// RFC 8693 §2.2.1: what a token exchange issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// What a token is being minted for.
#[derive(Debug)]
pub struct Mint<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub user: Option<&'a User>,
    /// What the sign-in asked for and how it happened (resources, claims request,
    /// acr, amr, a claims override).
    pub sign_in: &'a SignIn,
    /// The client's preset, else the provider's.
    pub preset: Option<Preset>,
    pub scopes: &'a [String],
    pub grant_id: Option<&'a str>,
    pub auth_time: Option<Timestamp>,
    pub nonce: Option<&'a str>,
    pub refresh: bool,
    pub id_token: bool,
    pub now: Timestamp,
    /// The DPoP key thumbprint the access token is bound to (`cnf.jkt`, RFC 9449).
    pub jkt: Option<&'a str>,
}

impl<'a> Mint<'a> {
    fn shaper(&self, scope_defs: &'a [Scope]) -> Shaper<'a> {
        Shaper {
            issuer: self.issuer,
            client: self.client,
            preset: self.preset,
            user: self.user,
            sign_in: self.sign_in,
            scopes: self.scopes,
            scope_defs,
        }
    }
}

/// The claims of `user` that the granted scopes release (OIDC Core §5.4).
pub fn claims_for_scopes(
    user: &User,
    claims_override: Option<&Map<String, Value>>,
    granted: &[String],
    scopes: &[Scope],
) -> Map<String, Value> {
    let source = claims_override.unwrap_or(&user.claims);
    let mut out = Map::new();
    for scope in scopes.iter().filter(|s| granted.contains(&s.name)) {
        for claim in &scope.claims {
            if let Some(v) = source.get(claim) {
                out.insert(claim.clone(), v.clone());
            } else if claim == "preferred_username" {
                out.insert(claim.clone(), json!(user.username));
            }
        }
    }
    out
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url (OIDC Core §3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    at_hash_for(SigningAlg::Rs256, access_token)
}

/// `at_hash` for an id_token signed with `alg`: the hash is the one of the algorithm,
/// SHA-512 for EdDSA with Ed25519 (as relying parties such as the `openidconnect`
/// crate compute it), SHA-256 for the others.
pub fn at_hash_for(alg: SigningAlg, access_token: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match alg {
        SigningAlg::EdDsa => {
            let digest = sha2::Sha512::digest(access_token.as_bytes());
            b64.encode(&digest[..32])
        }
        _ => {
            let digest = sha2::Sha256::digest(access_token.as_bytes());
            b64.encode(&digest[..16])
        }
    }
}

fn sign_err(e: crate::error::Error) -> OAuthError {
    OAuthError::from(e)
}

/// The access token's format: the client's, except that Google's are opaque.
pub fn access_format(client: &Client, preset: Option<Preset>) -> TokenFormat {
    match preset {
        Some(Preset::Google) => TokenFormat::Opaque,
        _ => client.access_token_format,
    }
}

/// Mints the tokens of a response. Returns the response and the rows to store.
pub fn mint(
    keys: &KeySet,
    scope_defs: &[Scope],
    m: &Mint<'_>,
) -> Result<(TokenResponse, Vec<TokenRow>), OAuthError> {
    let client = m.client;
    let scope = m.scopes.join(" ");
    let sub = m.user.map(|u| u.sub.clone());
    let jti = sortable_id(m.now);
    let exp = m.now + client.access_token_ttl;
    let shaper = m.shaper(scope_defs);
    let aud = shaper.audience();
    let format = access_format(client, m.preset);
    let access_token = match format {
        TokenFormat::Jwt => {
            // The shape's claims first, then RFC 9068's own, which nothing replaces.
            let mut claims = shaper.access_claims();
            if let Some(added) = &m.sign_in.added {
                for (k, v) in added {
                    claims.insert(k.clone(), v.clone());
                }
            }
            claims.insert("aud".into(), aud.clone());
            if let Some(t) = m.auth_time {
                claims.insert("auth_time".into(), json!(t));
            }
            claims.insert("client_id".into(), json!(client.client_id));
            claims.insert("exp".into(), json!(exp));
            claims.insert("iat".into(), json!(m.now));
            claims.insert("iss".into(), json!(m.issuer));
            claims.insert("jti".into(), json!(jti));
            claims.insert("nbf".into(), json!(m.now));
            claims.insert("scope".into(), json!(scope));
            if let Some(jkt) = m.jkt {
                claims.insert("cnf".into(), json!({ "jkt": jkt }));
            }
            claims.insert(
                "sub".into(),
                json!(sub.as_deref().unwrap_or(&client.client_id)),
            );
            keys.get(client.access_token_signed_response_alg)
                .and_then(|k| k.sign_jwt("at+jwt", &Value::Object(claims)))
                .map_err(sign_err)?
        }
        TokenFormat::Opaque => random_token(32),
    };
    let kept = SignIn {
        aud: (aud != json!(client.client_id)).then(|| aud.clone()),
        ..m.sign_in.clone()
    };
    let mut rows = vec![TokenRow {
        id: jti,
        token_hash: hash_secret(&access_token),
        kind: TokenKind::AccessToken,
        format,
        client_id: client.client_id.clone(),
        sub: sub.clone(),
        grant_id: m.grant_id.map(str::to_string),
        scopes: scope.clone(),
        issued_at: m.now,
        expires_at: exp,
        revoked_at: None,
        rotated_at: None,
        value: Some(access_token.clone()),
        extras: kept.to_column(),
    }];

    let refresh_token = if m.refresh {
        let value = random_token(32);
        rows.push(TokenRow {
            id: sortable_id(m.now),
            token_hash: hash_secret(&value),
            kind: TokenKind::RefreshToken,
            format: TokenFormat::Opaque,
            client_id: client.client_id.clone(),
            sub: sub.clone(),
            grant_id: m.grant_id.map(str::to_string),
            scopes: scope.clone(),
            issued_at: m.now,
            expires_at: m.now + client.refresh_token_ttl,
            revoked_at: None,
            rotated_at: None,
            value: Some(value.clone()),
            extras: None,
        });
        Some(value)
    } else {
        None
    };

    let id_token = match (m.id_token, m.user) {
        (true, Some(user)) => Some(id_token(keys, scope_defs, m, user, Some(&access_token))?),
        _ => None,
    };

    Ok((
        TokenResponse {
            access_token,
            token_type: if m.jkt.is_some() { "DPoP" } else { "Bearer" },
            expires_in: client.access_token_ttl,
            refresh_token,
            id_token,
            scope,
            issued: rows.iter().map(|r| r.id.clone()).collect(),
            issued_token_type: None,
        },
        rows,
    ))
}

/// Signs an id_token for `user`.
pub fn id_token(
    keys: &KeySet,
    scope_defs: &[Scope],
    m: &Mint<'_>,
    user: &User,
    access_token: Option<&str>,
) -> Result<String, OAuthError> {
    let client = m.client;
    let mut claims = m.shaper(scope_defs).id_claims();
    if let Some(added) = &m.sign_in.added {
        for (k, v) in added {
            claims.insert(k.clone(), v.clone());
        }
    }
    claims.insert("iss".into(), json!(m.issuer));
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert("azp".into(), json!(client.client_id));
    claims.insert("exp".into(), json!(m.now + client.id_token_ttl));
    claims.insert("iat".into(), json!(m.now));
    claims.insert("auth_time".into(), json!(m.auth_time.unwrap_or(m.now)));
    // OpenID Connect Back-Channel Logout §2.1: the session the sign-in belongs to.
    match &m.sign_in.sid {
        Some(sid) => {
            claims.insert("sid".into(), json!(sid));
        }
        None => {
            claims.remove("sid");
        }
    }
    match m.nonce {
        Some(n) => {
            claims.insert("nonce".into(), json!(n));
        }
        None => {
            claims.remove("nonce");
        }
    }
    match access_token {
        Some(at) => {
            claims.insert(
                "at_hash".into(),
                json!(at_hash_for(client.id_token_signed_response_alg, at)),
            );
        }
        None => {
            claims.remove("at_hash");
        }
    }
    keys.get(client.id_token_signed_response_alg)
        .and_then(|k| k.sign_jwt("JWT", &Value::Object(claims)))
        .map_err(sign_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OpenID Connect Core, Appendix A.3 (implicit flow example).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn scopes_release_only_their_claims() {
        let user = User {
            sub: "s".into(),
            username: "alice".into(),
            has_password: false,
            claims: serde_json::from_value(json!({"name": "Alice", "email": "a@x", "secret": 1}))
                .unwrap(),
            created_at: 0,
            updated_at: 0,
        };
        let defs = Scope::defaults();
        let c = claims_for_scopes(&user, None, &["openid".into(), "email".into()], &defs);
        assert_eq!(c.get("email"), Some(&json!("a@x")));
        assert!(c.get("name").is_none());
        let c = claims_for_scopes(&user, None, &["profile".into()], &defs);
        assert_eq!(c.get("name"), Some(&json!("Alice")));
        assert_eq!(c.get("preferred_username"), Some(&json!("alice")));
        assert!(c.get("secret").is_none());
    }
}
