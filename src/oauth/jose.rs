//! Verifying JWTs that others sign: request objects (the client's keys), JWT bearer
//! assertions (the client's keys or a trusted issuer's), DPoP proofs (the key in the
//! proof). Key selection and signature checks only; each caller checks its claims
//! against the provider's clock and answers with its own error code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::model::Client;

/// The JWS algorithms accepted from clients and trusted issuers.
pub const VERIFY_ALGS: [&str; 12] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

/// A JWT's header and claims, read without verifying anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Unverified {
    pub header: Value,
    pub claims: Value,
}

impl Unverified {
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }
}

/// Reads a compact JWS's header and payload (`what` names it in errors).
pub fn peek(jwt: &str, what: &str) -> Result<Unverified, String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "the {what} is not a compact JWT (three base64url parts separated by dots)"
        ));
    };
    let decode = |part: &str, name: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| format!("the {what}'s {name} is not base64url"))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("the {what}'s {name} is not JSON"))?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(format!("the {what}'s {name} is not a JSON object"))
        }
    };
    Ok(Unverified {
        header: decode(h, "header")?,
        claims: decode(p, "payload")?,
    })
}

fn algorithm(alg: &str, what: &str) -> Result<Algorithm, String> {
    if !VERIFY_ALGS.contains(&alg) {
        return Err(format!(
            "the {what} is signed with alg '{alg}', which Authdesk does not accept; use one of {}",
            VERIFY_ALGS.join(", ")
        ));
    }
    alg.parse::<Algorithm>()
        .map_err(|_| format!("the {what}'s alg '{alg}' is unknown"))
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The key of `jwks` that `kid` names (or its only key), as a decoding key.
pub fn key_in_set(jwks: &Value, kid: Option<&str>, owner: &str) -> Result<DecodingKey, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|e| format!("{owner}'s JWK Set cannot be read ({e})"))?;
    let jwk: &Jwk = match kid {
        Some(kid) => set
            .find(kid)
            .ok_or_else(|| format!("the kid '{kid}' is not among {owner}'s keys"))?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => {
            return Err(format!(
                "the JWT has no kid and {owner} has {} keys; add the kid header",
                set.keys.len()
            ));
        }
    };
    crate::keys::decoding_key(jwk).map_err(|e| format!("{owner}'s key is unusable: {e}"))
}

/// Verifies the signature of `jwt` (alg `alg`) with `key`; claims are the caller's.
pub fn verify_with(jwt: &str, alg: Algorithm, key: &DecodingKey, what: &str) -> Result<(), String> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(jwt, key, &validation)
        .map(|_| ())
        .map_err(|e| format!("the {what}'s signature does not verify ({e})"))
}

/// Verifies a JWT a client signed: HMAC algorithms with its secret, the others with
/// the key of `keys`, the client's public keys (its `jwks`, or the set of its
/// `jwks_uri`: [`super::jwks_uri::client_keys`]).
pub fn verify_client_signed(
    client: &Client,
    keys: Option<&Value>,
    jwt: &str,
    what: &str,
) -> Result<Unverified, String> {
    let peeked = peek(jwt, what)?;
    let alg = algorithm(peeked.alg(), what)?;
    let kid = peeked.header.get("kid").and_then(Value::as_str);
    let owner = format!("client '{}'", client.client_id);
    let key = if is_hmac(alg) {
        match client.client_secret.as_deref() {
            Some(s) if !s.is_empty() => DecodingKey::from_secret(s.as_bytes()),
            _ => {
                return Err(format!(
                    "the {what} is signed with {alg:?}, a shared-secret algorithm, but {owner} has no secret; sign it with a private key whose public key is in the client's jwks"
                ));
            }
        }
    } else {
        let jwks = keys.ok_or_else(|| {
            format!(
                "{owner} has no registered keys (jwks) to verify the {what} with; register its public keys on the client (--jwks FILE, or --jwks-uri URL)"
            )
        })?;
        key_in_set(jwks, kid, &owner)?
    };
    verify_with(jwt, alg, &key, what)?;
    Ok(peeked)
}

/// Verifies a JWT signed by the owner of `jwks` (a trusted issuer): the key its `kid`
/// names, or the set's only key.
pub fn verify_set_signed(
    jwks: &Value,
    owner: &str,
    jwt: &str,
    what: &str,
) -> Result<Unverified, String> {
    let peeked = peek(jwt, what)?;
    let alg = algorithm(peeked.alg(), what)?;
    let kid = peeked.header.get("kid").and_then(Value::as_str);
    let key = key_in_set(jwks, kid, owner)?;
    verify_with(jwt, alg, &key, what)?;
    Ok(peeked)
}

/// The audiences of an `aud` claim (a string or an array of strings).
pub fn audiences(aud: Option<&Value>) -> Vec<String> {
    match aud {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether an `aud` claim (a string or an array) contains one of `accepted`.
pub fn aud_contains(aud: Option<&Value>, accepted: &[&str]) -> bool {
    let ok = |a: &str| accepted.iter().any(|x| *x == a.trim_end_matches('/'));
    match aud {
        Some(Value::String(a)) => ok(a),
        Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).any(ok),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_unsigned_tokens_and_names_what_is_wrong() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"scope":"openid"}"#);
        let u = peek(&format!("{h}.{p}."), "request object").unwrap();
        assert_eq!(u.alg(), "none");
        assert_eq!(u.claim_str("scope"), Some("openid"));
        assert!(
            peek("abc", "request object")
                .unwrap_err()
                .contains("compact JWT")
        );
        assert!(
            peek(&format!("{h}.!!.x"), "proof")
                .unwrap_err()
                .contains("payload is not base64url")
        );
    }

    #[test]
    fn aud_may_be_a_string_or_an_array() {
        let issuer = "https://localhost:8443";
        assert!(aud_contains(Some(&Value::from(issuer)), &[issuer]));
        assert!(aud_contains(
            Some(&serde_json::json!(["x", "https://localhost:8443/"])),
            &[issuer]
        ));
        assert!(!aud_contains(
            Some(&Value::from("https://other")),
            &[issuer]
        ));
        assert!(!aud_contains(None, &[issuer]));
    }
}
