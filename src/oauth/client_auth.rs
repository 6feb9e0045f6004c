//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic` (RFC 6749 §2.3.1, form-urlencoded inside Basic),
//! `client_secret_post`, `none`, and RFC 7523 assertions (`client_secret_jwt`,
//! `private_key_jwt`) with single-use `jti`.

use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::context::{Context, paths};
use super::error::OAuthError;
use super::params::Params;
use crate::model::{AuthMethod, Client, Timestamp};

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Leeway for the clocks of client assertions, in seconds.
const LEEWAY: i64 = 60;

/// How the client presented itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Presented {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    Assertion { id: Option<String>, jwt: String },
    IdOnly { id: String },
}

impl Presented {
    pub fn method_name(&self) -> &'static str {
        match self {
            Presented::Basic { .. } => "client_secret_basic",
            Presented::Post { .. } => "client_secret_post",
            Presented::Assertion { .. } => {
                "a client assertion (client_secret_jwt / private_key_jwt)"
            }
            Presented::IdOnly { .. } => "none (client_id only)",
        }
    }
}

fn pct_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding.
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(s.to_owned());
    }
    let bytes: Vec<u8> = percent_decode_plus(s)?;
    String::from_utf8(bytes).ok()
}

fn percent_decode_plus(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// Reads the credentials from the `Authorization` header's value (`authorization`) and
/// the form, refusing more than one method at once (RFC 6749 §2.3).
pub fn presented(
    authorization: Option<&str>,
    params: &Params,
) -> Result<Option<Presented>, OAuthError> {
    let mut found = Vec::new();
    if let Some(value) = authorization {
        // Auth schemes are case-insensitive (RFC 9110 §11.1).
        if let Some(b64) = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, rest)| rest)
        {
            let err = || {
                OAuthError::invalid_client(
                    "the Authorization header is not valid Basic credentials: expected base64(urlencode(client_id):urlencode(client_secret))",
                )
                .with_basic_challenge(true)
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| err())?;
            let text = String::from_utf8(decoded).map_err(|_| err())?;
            let (id, secret) = text.split_once(':').ok_or_else(err)?;
            let id = pct_decode(id).ok_or_else(err)?;
            let secret = pct_decode(secret).ok_or_else(err)?;
            found.push(Presented::Basic { id, secret });
        }
    }
    match (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) {
        (Some(t), Some(jwt)) => {
            if t != JWT_BEARER_ASSERTION {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type '{t}' is not supported; use {JWT_BEARER_ASSERTION}"
                )));
            }
            found.push(Presented::Assertion {
                id: params.get("client_id").map(str::to_string),
                jwt: jwt.to_string(),
            });
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "client_assertion_type was sent without client_assertion",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion was sent without client_assertion_type; add client_assertion_type={JWT_BEARER_ASSERTION}"
            )));
        }
        (None, None) => {
            if let Some(secret) = params.get("client_secret") {
                let id = params.require(
                    "client_id",
                    "client_secret_post sends client_id with client_secret",
                )?;
                found.push(Presented::Post {
                    id: id.to_string(),
                    secret: secret.to_string(),
                });
            }
        }
    }
    if found.len() > 1 {
        let names: Vec<_> = found.iter().map(Presented::method_name).collect();
        return Err(OAuthError::invalid_request(format!(
            "the client authenticated with more than one method ({}); RFC 6749 §2.3 allows exactly one",
            names.join(" and ")
        )));
    }
    if let Some(p) = found.pop() {
        if let (Presented::Basic { id, .. }, Some(form_id)) = (&p, params.get("client_id"))
            && form_id != id
        {
            return Err(OAuthError::invalid_request(format!(
                "client_id '{form_id}' in the body differs from '{id}' in the Authorization header"
            )));
        }
        return Ok(Some(p));
    }
    Ok(params
        .get("client_id")
        .map(|id| Presented::IdOnly { id: id.to_string() }))
}

/// The client a request claims to be, whether or not it authenticates: for the log.
pub fn claimed_client_id(authorization: Option<&str>, params: &Params) -> Option<String> {
    match presented(authorization, params) {
        Ok(Some(
            Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::IdOnly { id },
        )) => Some(id),
        Ok(Some(Presented::Assertion { id, jwt })) => id.or_else(|| unverified_sub(&jwt)),
        _ => params.get("client_id").map(str::to_string),
    }
}

/// The client authentication method a request used, by the names of
/// `token_endpoint_auth_method`, for the request log (the window compares it with the
/// client's registration); `None` when it presented nothing readable.
pub fn presented_method(authorization: Option<&str>, params: &Params) -> Option<&'static str> {
    Some(match presented(authorization, params).ok()?? {
        Presented::Basic { .. } => "client_secret_basic",
        Presented::Post { .. } => "client_secret_post",
        Presented::IdOnly { .. } => "none",
        Presented::Assertion { jwt, .. } => {
            let header = jwt.split('.').next().unwrap_or_default();
            let alg = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header.trim_end_matches('='))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_string))
                .unwrap_or_default();
            if alg.starts_with("HS") {
                "client_secret_jwt"
            } else {
                "private_key_jwt"
            }
        }
    })
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

fn unverified_sub(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: AssertionClaims = serde_json::from_slice(&bytes).ok()?;
    claims.sub.or(claims.iss)
}

fn secrets_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The methods a presented credential may satisfy for a client registered with `m`.
/// Secret-based methods are interchangeable (both prove the same secret); JWT methods
/// are strict.
fn accepts(registered: AuthMethod, presented: &Presented, assertion_alg_is_hmac: bool) -> bool {
    use AuthMethod::*;
    match (registered, presented) {
        (
            ClientSecretBasic | ClientSecretPost,
            Presented::Basic { .. } | Presented::Post { .. },
        ) => true,
        (ClientSecretBasic | ClientSecretPost | ClientSecretJwt, Presented::Assertion { .. }) => {
            assertion_alg_is_hmac
        }
        (PrivateKeyJwt, Presented::Assertion { .. }) => !assertion_alg_is_hmac,
        (None, Presented::IdOnly { .. }) => true,
        _ => false,
    }
}

/// Authenticates the client of a request at the endpoint `endpoint_path`.
pub async fn authenticate(
    ctx: &Context,
    authorization: Option<&str>,
    params: &Params,
    endpoint_path: &str,
    now: Timestamp,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let presented = presented(authorization, params)?.ok_or_else(|| {
        OAuthError::invalid_client(
            "no client authentication: send client_id and client_secret with HTTP Basic (client_secret_basic) or in the form (client_secret_post), a client_assertion, or client_id alone for a public client",
        )
    })?;
    let is_basic = matches!(presented, Presented::Basic { .. });
    let fail = |msg: String| OAuthError::invalid_client(msg).with_basic_challenge(is_basic);
    let client_id = match &presented {
        Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::IdOnly { id } => {
            id.clone()
        }
        Presented::Assertion { id, jwt } => match (id, unverified_sub(jwt)) {
            (Some(id), Some(sub)) if *id != sub => {
                return Err(fail(format!(
                    "client_id '{id}' differs from the assertion's sub '{sub}'"
                )));
            }
            (Some(id), _) => id.clone(),
            (None, Some(sub)) => sub,
            (None, None) => {
                return Err(fail(
                    "the client_assertion is not a JWT with a sub claim".into(),
                ));
            }
        },
    };
    let client = ctx
        .core
        .cached_client(&client_id)
        .await?
        .ok_or_else(|| fail(format!("no client with id '{client_id}' is registered; check the client id, or create it in Authdesk")))?;
    let registered = client.token_endpoint_auth_method;

    let assertion_alg_is_hmac = match &presented {
        Presented::Assertion { jwt, .. } => jsonwebtoken::decode_header(jwt)
            .map(|h| {
                matches!(
                    h.alg,
                    jsonwebtoken::Algorithm::HS256
                        | jsonwebtoken::Algorithm::HS384
                        | jsonwebtoken::Algorithm::HS512
                )
            })
            .map_err(|e| fail(format!("the client_assertion is not a valid JWT: {e}")))?,
        _ => false,
    };
    if !accepts(registered, &presented, assertion_alg_is_hmac) {
        return Err(fail(format!(
            "client '{client_id}' is registered for token_endpoint_auth_method {registered}, but the request used {}; {}",
            presented.method_name(),
            match registered {
                AuthMethod::None => "a public client sends only client_id (and PKCE), no secret".to_string(),
                AuthMethod::ClientSecretJwt => "sign an HS256 client_assertion with the client secret".to_string(),
                AuthMethod::PrivateKeyJwt => "sign a client_assertion with the private key whose public key is in the client's jwks".to_string(),
                _ => "send the client secret with HTTP Basic or client_secret in the form".to_string(),
            }
        )));
    }

    match presented {
        Presented::IdOnly { .. } => Ok(client),
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => {
            let expected = client.client_secret.as_deref().unwrap_or("");
            if expected.is_empty() || !secrets_match(expected, &secret) {
                return Err(fail(format!(
                    "the client secret for '{client_id}' is wrong; copy the current one from Authdesk (it changes when regenerated)"
                )));
            }
            Ok(client)
        }
        Presented::Assertion { jwt, .. } => {
            verify_assertion(ctx, &client, &jwt, endpoint_path, now)
                .await
                .map_err(|e| fail(e.description))?;
            Ok(client)
        }
    }
}

async fn verify_assertion(
    ctx: &Context,
    client: &Client,
    jwt: &str,
    endpoint_path: &str,
    now: Timestamp,
) -> Result<(), OAuthError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| {
        OAuthError::invalid_client(format!("the client_assertion is not a valid JWT: {e}"))
    })?;
    let key = match header.alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = client.client_secret.as_deref().unwrap_or("");
            DecodingKey::from_secret(secret.as_bytes())
        }
        _ => {
            let keys = super::jwks_uri::client_keys(ctx, client, jwt, now)
                .await
                .map_err(OAuthError::invalid_client)?;
            let jwks: jsonwebtoken::jwk::JwkSet = keys
                .and_then(|j| serde::Deserialize::deserialize(j.as_ref()).ok())
                .ok_or_else(|| {
                    OAuthError::invalid_client(format!(
                        "client '{}' has no usable jwks to verify a {:?} assertion; register its public keys (jwks, or jwks_uri)",
                        client.client_id, header.alg
                    ))
                })?;
            let jwk = match &header.kid {
                Some(kid) => jwks.find(kid).ok_or_else(|| {
                    OAuthError::invalid_client(format!(
                        "the assertion's kid '{kid}' is not among client '{}'s registered keys",
                        client.client_id
                    ))
                })?,
                None if jwks.keys.len() == 1 => &jwks.keys[0],
                None => {
                    return Err(OAuthError::invalid_client(
                        "the assertion has no kid and the client has several keys; add a kid header",
                    ));
                }
            };
            crate::keys::decoding_key(jwk).map_err(|e| {
                OAuthError::invalid_client(format!("the client's registered key is unusable: {e}"))
            })?
        }
    };
    let mut validation = Validation::new(header.alg);
    // Time checks use the provider's clock, below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(jwt, &key, &validation).map_err(|e| {
        OAuthError::invalid_client(format!(
            "the client_assertion signature does not verify ({e}); {}",
            if matches!(
                header.alg,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                "sign it with the client's current secret"
            } else {
                "sign it with the private key matching the registered jwks"
            }
        ))
    })?;
    let c = data.claims;
    let id = &client.client_id;
    if c.iss.as_deref() != Some(id) || c.sub.as_deref() != Some(id) {
        return Err(OAuthError::invalid_client(format!(
            "the assertion's iss and sub must both be the client id '{id}' (RFC 7523 §3); got iss {:?}, sub {:?}",
            c.iss, c.sub
        )));
    }
    let issuer = &ctx.config.issuer;
    let token_url = ctx.config.url(paths::TOKEN);
    let endpoint_url = ctx.config.url(endpoint_path);
    let aud_ok = |a: &str| {
        let a = a.trim_end_matches('/');
        a == issuer || a == token_url || a == endpoint_url
    };
    let aud_matches = match &c.aud {
        Some(serde_json::Value::String(a)) => aud_ok(a),
        Some(serde_json::Value::Array(v)) => v.iter().filter_map(|x| x.as_str()).any(aud_ok),
        _ => false,
    };
    if !aud_matches {
        return Err(OAuthError::invalid_client(format!(
            "the assertion's aud {} must be the token endpoint {token_url} or the issuer {issuer}",
            c.aud
                .map(|a| a.to_string())
                .unwrap_or_else(|| "(missing)".into())
        )));
    }
    let exp = c.exp.ok_or_else(|| {
        OAuthError::invalid_client("the assertion has no exp claim (RFC 7523 §3 requires one)")
    })?;
    if exp + LEEWAY < now {
        return Err(OAuthError::invalid_client(format!(
            "the assertion expired {}s ago; make a fresh one for each request",
            now - exp
        )));
    }
    if let Some(nbf) = c.nbf
        && nbf - LEEWAY > now
    {
        return Err(OAuthError::invalid_client(
            "the assertion is not valid yet (nbf is in the future); check your clock",
        ));
    }
    let jti = c.jti.ok_or_else(|| {
        OAuthError::invalid_client("the assertion has no jti; each assertion needs a unique jti")
    })?;
    let fresh = crate::store::flows::use_assertion_jti(
        ctx.core.store.pool(),
        id,
        &jti,
        exp.max(now) + LEEWAY,
        now,
    )
    .await?;
    if !fresh {
        return Err(OAuthError::invalid_client(format!(
            "the assertion jti '{jti}' was already used; assertions are single-use, make a new one per request"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        // id "my client", secret "p@ss:w+rd" urlencoded then base64'd
        let raw = "my+client:p%40ss%3Aw%2Brd";
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let p = presented(Some(&format!("Basic {b64}")), &Params::default()).unwrap();
        assert_eq!(
            p,
            Some(Presented::Basic {
                id: "my client".into(),
                secret: "p@ss:w+rd".into()
            })
        );
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("a:b");
        let params = Params::parse(b"client_id=a&client_secret=b").unwrap();
        let err = presented(Some(&format!("Basic {b64}")), &params).unwrap_err();
        assert!(err.description.contains("more than one"));
    }

    #[test]
    fn secret_methods_are_interchangeable_but_jwt_methods_are_strict() {
        let basic = Presented::Basic {
            id: "a".into(),
            secret: "b".into(),
        };
        let assertion = Presented::Assertion {
            id: None,
            jwt: String::new(),
        };
        assert!(accepts(AuthMethod::ClientSecretPost, &basic, false));
        assert!(!accepts(AuthMethod::PrivateKeyJwt, &basic, false));
        assert!(!accepts(AuthMethod::PrivateKeyJwt, &assertion, true));
        assert!(accepts(AuthMethod::ClientSecretJwt, &assertion, true));
        assert!(!accepts(AuthMethod::None, &basic, false));
    }
}
