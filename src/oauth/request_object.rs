//! Request objects (RFC 9101, OpenID Connect Core §6): the authorization request's
//! parameters as a JWT the client signed with its registered keys (`jwks`, or its
//! secret for HS256), sent as `request` at the authorization endpoint or pushed to the
//! PAR endpoint (whose `request_uri` then carries it). Only the object's parameters
//! count (RFC 9101 §5). Unsigned objects (`alg: none`) are refused unless the client
//! allows them.

use serde_json::Value;

use super::context::Context;
use super::error::{ErrorCode, OAuthError};
use super::jose;
use super::params::Params;
use crate::model::{Client, Timestamp};

/// Leeway for the request object's `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 60;

/// Claims of the JWT itself, not parameters of the request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "iat", "nbf", "jti"];

/// [`verify`] with the client's public keys: its `jwks`, or its `jwks_uri`'s set
/// (fetched if need be).
pub async fn verify_with_keys(
    ctx: &Context,
    client: &Client,
    jwt: &str,
    now: Timestamp,
) -> Result<Params, OAuthError> {
    let keys = super::jwks_uri::client_keys(ctx, client, jwt, now)
        .await
        .map_err(|d| OAuthError::new(ErrorCode::InvalidRequestObject, d))?;
    verify(client, keys.as_deref(), jwt, ctx.issuer(), now)
}

/// The authorization parameters of `client`'s request object `jwt`, verified (pure):
/// signature (with `keys`, the client's public keys, or its secret; or the client's
/// consent to unsigned objects), `iss`, `aud` (the provider's `issuer`), `client_id`,
/// `exp` and `nbf` on `now`. Each refusal is `invalid_request_object` naming the cause.
pub fn verify(
    client: &Client,
    keys: Option<&Value>,
    jwt: &str,
    issuer: &str,
    now: Timestamp,
) -> Result<Params, OAuthError> {
    let err = |d: String| OAuthError::new(ErrorCode::InvalidRequestObject, d);
    let peeked = jose::peek(jwt, "request object").map_err(err)?;
    let id = &client.client_id;
    let signed = peeked.alg() != "none";
    let object = if signed {
        jose::verify_client_signed(client, keys, jwt, "request object").map_err(err)?
    } else if client.allow_unsigned_request_objects {
        peeked
    } else {
        return Err(err(format!(
            "the request object is unsigned (alg none), and client '{id}' does not accept unsigned request objects; sign it with a key whose public key is in the client's jwks, or allow unsigned request objects on the client (--allow-unsigned-request-objects)"
        )));
    };
    if let Some(cid) = object.claims.get("client_id")
        && cid.as_str() != Some(id)
    {
        return Err(err(format!(
            "the request object's client_id {cid} differs from the request's client_id '{id}' (RFC 9101 section 5)"
        )));
    }
    if signed {
        match object.claim_str("iss") {
            Some(iss) if iss == id => {}
            other => {
                return Err(err(format!(
                    "the request object's iss must be the client id '{id}'; got {}",
                    other.map_or("none".to_string(), |o| format!("'{o}'"))
                )));
            }
        }
        if !jose::aud_contains(object.claims.get("aud"), &[issuer]) {
            return Err(err(format!(
                "the request object's aud must be the issuer {issuer}; got {}",
                object
                    .claims
                    .get("aud")
                    .map_or("none".to_string(), Value::to_string)
            )));
        }
    }
    if let Some(exp) = object.claim_i64("exp")
        && exp + LEEWAY <= now
    {
        return Err(err(format!(
            "the request object expired {}s ago; make a fresh one for each request",
            now - exp
        )));
    }
    if let Some(nbf) = object.claim_i64("nbf")
        && nbf - LEEWAY > now
    {
        return Err(err(
            "the request object is not valid yet (its nbf is in the future); check the client's clock".into(),
        ));
    }
    let Value::Object(claims) = object.claims else {
        return Err(err(
            "the request object's payload is not a JSON object".into()
        ));
    };
    let mut params = Params::default();
    for (name, value) in claims {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        if name == "request" || name == "request_uri" {
            return Err(err(format!(
                "a request object must not contain '{name}' (RFC 9101 section 4)"
            )));
        }
        let text = match value {
            Value::String(s) => s,
            Value::Null => continue,
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            // `claims` and other structured parameters travel as JSON text.
            other => other.to_string(),
        };
        if !text.is_empty() {
            params.0.insert(name, text);
        }
    }
    params.0.insert("client_id".into(), id.clone());
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClientInput;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    const NOW: Timestamp = 1_700_000_000;
    const ISSUER: &str = "https://localhost:8443";
    const SECRET: &str = "a-client-secret-long-enough-for-hs256!!";

    fn client(allow_unsigned: bool) -> Client {
        ClientInput {
            client_id: Some("web".into()),
            client_secret: Some(SECRET.into()),
            name: Some("Web".into()),
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            allow_unsigned_request_objects: Some(allow_unsigned),
            ..Default::default()
        }
        .test_client()
    }

    fn signed(claims: Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn unsigned(claims: Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn good() -> Value {
        json!({"iss": "web", "aud": ISSUER, "client_id": "web", "exp": NOW + 60, "iat": NOW,
               "response_type": "code", "scope": "openid", "max_age": 30, "state": "s"})
    }

    fn refusal(jwt: &str, c: &Client) -> String {
        let e = verify(c, c.jwks.as_ref(), jwt, ISSUER, NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequestObject);
        e.description
    }

    #[test]
    fn a_signed_object_gives_its_parameters_only() {
        let p = verify(&client(false), None, &signed(good()), ISSUER, NOW).unwrap();
        assert_eq!(p.get("response_type"), Some("code"));
        assert_eq!(p.get("max_age"), Some("30"));
        assert_eq!(p.get("client_id"), Some("web"));
        assert_eq!(p.get("iss"), None);
        assert_eq!(p.get("aud"), None);
    }

    #[test]
    fn each_bad_claim_is_named() {
        let c = client(false);
        let mut wrong_aud = good();
        wrong_aud["aud"] = json!("https://elsewhere.example");
        assert!(refusal(&signed(wrong_aud), &c).contains("aud must be the issuer"));
        let mut wrong_iss = good();
        wrong_iss["iss"] = json!("other");
        assert!(refusal(&signed(wrong_iss), &c).contains("iss must be the client id"));
        let mut wrong_id = good();
        wrong_id["client_id"] = json!("other");
        assert!(refusal(&signed(wrong_id), &c).contains("differs from the request's client_id"));
        let mut expired = good();
        expired["exp"] = json!(NOW - 61);
        assert!(refusal(&signed(expired), &c).contains("expired 61s ago"));
        let mut nested = good();
        nested["request_uri"] = json!("urn:x");
        assert!(refusal(&signed(nested), &c).contains("must not contain 'request_uri'"));
        let tampered = {
            let jwt = signed(good());
            let mut parts: Vec<&str> = jwt.split('.').collect();
            let other = URL_SAFE_NO_PAD.encode(good().to_string().replace("openid", "admin"));
            parts[1] = &other;
            parts.join(".")
        };
        assert!(refusal(&tampered, &c).contains("signature does not verify"));
    }

    #[test]
    fn unsigned_objects_need_the_clients_consent() {
        let jwt = unsigned(json!({"response_type": "code", "scope": "openid"}));
        assert!(refusal(&jwt, &client(false)).contains("--allow-unsigned-request-objects"));
        let p = verify(&client(true), None, &jwt, ISSUER, NOW).unwrap();
        assert_eq!(p.get("scope"), Some("openid"));
    }

    #[test]
    fn a_client_without_keys_is_told_to_register_them() {
        let header = Header::new(Algorithm::ES256);
        let jwt = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(good().to_string())
        );
        assert!(refusal(&jwt, &client(false)).contains("has no registered keys (jwks)"));
    }
}
