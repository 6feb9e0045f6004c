//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): a signed
//! assertion about a user traded for an access token for that user. The assertion is
//! signed by the client itself (`iss` = its id; its registered keys or, for HS256, its
//! secret) or by one of the client's trusted issuers (their JWK Sets). Its `sub` names
//! the persona (by username or `sub`). No refresh token and no id_token are issued
//! (RFC 7521 §4.1: a client that needs a new token presents a new assertion).

use serde_json::Value;

use super::resolve_scopes;
use crate::model::{Client, Timestamp, User};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::{Context, paths};
use crate::oauth::error::OAuthError;
use crate::oauth::issue::{Issue, new_grant};
use crate::oauth::jose;
use crate::oauth::mint::TokenResponse;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Clock leeway for the assertion's times, in seconds.
const LEEWAY: i64 = 60;

/// Scopes left out when the request names none: they only make sense with a sign-in.
const SIGN_IN_SCOPES: &[&str] = &["openid", "offline_access"];

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    pub iss: String,
    pub sub: String,
    pub jti: Option<String>,
    pub exp: Timestamp,
}

/// Verifies `jwt` for `client` (pure): the signer's key, `aud` (one of `audiences`:
/// the token endpoint or the issuer), `exp`, `nbf`, `iat` and `sub`. Each refusal is
/// `invalid_grant` naming the claim at fault and the fix.
pub fn check(
    client: &Client,
    keys: Option<&Value>,
    jwt: &str,
    audiences: &[&str],
    now: Timestamp,
) -> Result<Assertion, OAuthError> {
    let bad = |m: String| OAuthError::invalid_grant(m);
    let peeked = jose::peek(jwt, "assertion").map_err(bad)?;
    let iss = peeked
        .claim_str("iss")
        .ok_or_else(|| {
            bad("the assertion has no iss claim (RFC 7523 §3): set it to the client id, or to a trusted issuer of the client".into())
        })?
        .to_string();
    let id = &client.client_id;
    let verified = if iss == *id {
        jose::verify_client_signed(client, keys, jwt, "assertion")
    } else if let Some(t) = client.trusted_issuers.iter().find(|t| t.issuer == iss) {
        jose::verify_set_signed(
            &t.jwks,
            &format!("trusted issuer '{iss}'"),
            jwt,
            "assertion",
        )
    } else {
        let trusted: Vec<&str> = std::iter::once(id.as_str())
            .chain(client.trusted_issuers.iter().map(|t| t.issuer.as_str()))
            .collect();
        return Err(bad(format!(
            "the assertion's issuer '{iss}' is not trusted by client '{id}' (trusted: {}); add it to the client's trusted issuers with its public keys (authdesk clients update {id} --trusted-issuer '{iss}=jwks.json')",
            trusted.join(", ")
        )));
    };
    let c = verified.map_err(bad)?.claims;
    if !jose::aud_contains(c.get("aud"), audiences) {
        return Err(bad(format!(
            "the assertion's aud {} must name this authorization server: the token endpoint {} or the issuer {}",
            c.get("aud")
                .map_or_else(|| "(missing)".into(), Value::to_string),
            audiences.first().copied().unwrap_or_default(),
            audiences.get(1).copied().unwrap_or_default(),
        )));
    }
    let int = |name: &str| c.get(name).and_then(Value::as_i64);
    let exp = int("exp").ok_or_else(|| {
        bad("the assertion has no exp claim (RFC 7523 §3 requires one); give it a lifetime of a few minutes".into())
    })?;
    if exp + LEEWAY < now {
        return Err(bad(format!(
            "the assertion expired {}s ago (exp {exp}); make a fresh one for each token request",
            now - exp
        )));
    }
    if let Some(nbf) = int("nbf")
        && nbf - LEEWAY > now
    {
        return Err(bad(format!(
            "the assertion is not valid for another {}s (nbf {nbf}); check the signer's clock",
            nbf - now
        )));
    }
    if let Some(iat) = int("iat")
        && iat - LEEWAY > now
    {
        return Err(bad(format!(
            "the assertion was issued {}s in the future (iat {iat}); check the signer's clock",
            iat - now
        )));
    }
    let sub = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad("the assertion has no sub claim (RFC 7523 §3): set it to the persona the token is for (its username or sub)".into())
        })?
        .to_string();
    let jti = c.get("jti").and_then(Value::as_str).map(str::to_string);
    Ok(Assertion { iss, sub, jti, exp })
}

/// The scopes of the token (pure): the requested ones, or without a `scope` parameter
/// what the client is allowed but `openid` and `offline_access`.
pub fn scopes(client: &Client, scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    resolve_scopes(client, scope, || {
        client
            .scopes
            .iter()
            .filter(|s| !SIGN_IN_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect()
    })
}

/// A request without client authentication: the assertion's `iss` names the client
/// (a self-signed assertion, as a service account's), which [`check`] then verifies
/// with that client's own keys.
pub async fn client_of_assertion(
    ctx: &Context,
    assertion: Option<&str>,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let jwt = assertion.ok_or_else(|| {
        OAuthError::invalid_request(
            "the jwt-bearer grant needs the assertion parameter (RFC 7523 §2.1)",
        )
    })?;
    let peeked = jose::peek(jwt, "assertion").map_err(OAuthError::invalid_grant)?;
    let iss = peeked.claim_str("iss").unwrap_or_default();
    match ctx.core.cached_client(iss).await? {
        Some(c) if iss == c.client_id => Ok(c),
        _ => Err(OAuthError::invalid_client(format!(
            "no client authentication was sent, so the assertion's iss must be a client id of Authdesk (an assertion the client signs itself); '{iss}' is not. Authenticate the client (e.g. client_secret_basic) to present an assertion from one of its trusted issuers"
        ))),
    }
}

pub async fn exchange(
    ctx: &Context,
    client: &Client,
    assertion: &str,
    scope: Option<&str>,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let token_url = ctx.config.url(paths::TOKEN);
    // The client's own keys, when it signed the assertion itself.
    let own = jose::peek(assertion, "assertion")
        .ok()
        .is_some_and(|p| p.claim_str("iss") == Some(client.client_id.as_str()));
    let keys = if own {
        crate::oauth::jwks_uri::client_keys(ctx, client, assertion, now)
            .await
            .map_err(OAuthError::invalid_grant)?
    } else {
        None
    };
    let a = check(
        client,
        keys.as_deref(),
        assertion,
        &[&token_url, &ctx.config.issuer],
        now,
    )?;
    let scopes = scopes(client, scope)?;
    let user = find_persona(ctx, &a.sub).await?;
    if let Some(jti) = &a.jti {
        // Single use within the assertion's lifetime: another namespace than the
        // client assertions' (client ids cannot hold ':').
        let fresh = crate::store::flows::use_assertion_jti(
            ctx.core.store.pool(),
            &format!("grant:{}", a.iss),
            jti,
            a.exp.max(now) + LEEWAY,
            now,
        )
        .await?;
        if !fresh {
            return Err(OAuthError::invalid_grant(format!(
                "the assertion jti '{jti}' from '{}' was already used; assertions are single-use, sign a new one (with a new jti) per token request",
                a.iss
            )));
        }
    }
    let grant_id = crate::model::sortable_id(now);
    let sign_in = SignIn {
        resources: claims::resources(client, resources)?,
        ..SignIn::default()
    };
    let what = Issue::new(client, Some(&user), &scopes)
        .access_only()
        .grant(Some(&grant_id), Some(now))
        .sign_in(&sign_in)
        .bound(jkt);
    let (response, rows) = ctx.issue(&what, now).await?;
    let grant = new_grant(&what, grant_id.clone(), now);
    ctx.store_tokens(Some(grant), rows).await?;
    Ok(response)
}

/// The persona an outside token's `sub` names: by username, else by `sub`.
pub(super) async fn persona(ctx: &Context, sub: &str) -> Result<Option<User>, OAuthError> {
    Ok(match ctx.core.cached_user_named(sub).await? {
        Some(u) => Some((*u).clone()),
        None => ctx.core.cached_user(sub).await?.map(|u| (*u).clone()),
    })
}

/// The persona an assertion's `sub` names, or the refusal that says how to make it.
async fn find_persona(ctx: &Context, sub: &str) -> Result<User, OAuthError> {
    if let Some(u) = persona(ctx, sub).await? {
        return Ok(u);
    }
    Err(OAuthError::invalid_grant(format!(
        "the assertion's sub '{sub}' is no persona of Authdesk; create a persona with that username (authdesk users create {sub}), or sign the assertion with an existing persona's username or sub"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType, GrantType, TrustedIssuer};
    use crate::oauth::ErrorCode;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const TOKEN: &str = "https://localhost:8443/token";
    const ISSUER: &str = "https://localhost:8443";
    const SECRET: &str = "a-client-secret-of-enough-length-0123456789";

    /// An Ed25519 key pair (RFC 8037 §A.1) as PKCS#8 PEM and as a public JWK.
    const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn client(trusted: Vec<TrustedIssuer>) -> Client {
        ClientInput {
            client_id: Some("svc".into()),
            client_secret: Some(SECRET.into()),
            name: Some("Service".into()),
            client_type: Some(ClientType::Confidential),
            grant_types: Some(vec![GrantType::JwtBearer]),
            scopes: Some(vec!["openid".into(), "profile".into(), "email".into()]),
            trusted_issuers: Some(trusted),
            ..Default::default()
        }
        .test_client()
    }

    fn idp() -> TrustedIssuer {
        TrustedIssuer {
            issuer: "https://idp.example.com".into(),
            jwks: json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "idp-1"}]}),
        }
    }

    fn by_idp(claims: Value) -> String {
        let mut h = Header::new(jsonwebtoken::Algorithm::EdDSA);
        h.kid = Some("idp-1".into());
        let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
        jsonwebtoken::encode(&h, &claims, &key).unwrap()
    }

    fn by_client(claims: Value) -> String {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&Header::default(), &claims, &key).unwrap()
    }

    fn good(iss: &str) -> Value {
        json!({"iss": iss, "sub": "alice", "aud": TOKEN, "exp": NOW + 300, "iat": NOW, "jti": "j1"})
    }

    fn refusal(c: &Client, jwt: &str) -> String {
        let e = check(c, c.jwks.as_ref(), jwt, &[TOKEN, ISSUER], NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidGrant, "{}", e.description);
        e.description
    }

    #[test]
    fn a_trusted_issuers_assertion_and_the_clients_own_are_accepted() {
        let c = client(vec![idp()]);
        let a = check(
            &c,
            None,
            &by_idp(good("https://idp.example.com")),
            &[TOKEN, ISSUER],
            NOW,
        )
        .unwrap();
        assert_eq!(a.iss, "https://idp.example.com");
        assert_eq!(a.sub, "alice");
        assert_eq!(a.jti.as_deref(), Some("j1"));
        let mut own = good("svc");
        own["aud"] = json!([ISSUER]);
        assert_eq!(
            check(&c, None, &by_client(own), &[TOKEN, ISSUER], NOW)
                .unwrap()
                .iss,
            "svc"
        );
    }

    #[test]
    fn each_bad_claim_is_named() {
        let c = client(vec![idp()]);
        let with = |k: &str, v: Value| {
            let mut claims = good("https://idp.example.com");
            claims[k] = v;
            refusal(&c, &by_idp(claims))
        };
        assert!(
            with("aud", json!("https://elsewhere"))
                .contains("aud \"https://elsewhere\" must name this authorization server")
        );
        assert!(with("exp", json!(NOW - 120)).contains("expired 120s ago"));
        assert!(with("nbf", json!(NOW + 600)).contains("nbf"));
        assert!(with("iat", json!(NOW + 600)).contains("issued 600s in the future"));
        assert!(with("sub", json!("")).contains("no sub claim"));
        let mut no_exp = good("https://idp.example.com");
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(refusal(&c, &by_idp(no_exp)).contains("no exp claim"));
    }

    #[test]
    fn an_untrusted_issuer_or_a_wrong_key_is_refused() {
        let c = client(vec![idp()]);
        let e = refusal(&c, &by_idp(good("https://other.example.com")));
        assert!(e.contains("issuer 'https://other.example.com' is not trusted by client 'svc' (trusted: svc, https://idp.example.com)"), "{e}");
        // Signed by the trusted issuer's key but claiming to be the client, which has
        // no keys of its own.
        let e = refusal(&c, &by_idp(good("svc")));
        assert!(
            e.contains("client 'svc' has no registered keys (jwks)"),
            "{e}"
        );
        // Signed with the client's secret but claiming to be the trusted issuer.
        let e = refusal(&c, &by_client(good("https://idp.example.com")));
        assert!(e.contains("signature does not verify"), "{e}");
        let e = refusal(&c, "not-a-jwt");
        assert!(e.contains("not a compact JWT"), "{e}");
    }

    #[test]
    fn without_a_scope_parameter_the_token_gets_the_clients_scopes_but_sign_in_ones() {
        let c = client(vec![]);
        assert_eq!(scopes(&c, None).unwrap(), vec!["profile", "email"]);
        assert_eq!(
            scopes(&c, Some("openid email")).unwrap(),
            vec!["openid", "email"]
        );
        assert_eq!(
            scopes(&c, Some("admin")).unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }
}
