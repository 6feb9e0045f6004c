//! The JWT bearer grant (RFC 7523 §2.1): assertions of a trusted issuer (an Ed25519
//! JWK Set) and of the client itself (HS256 with its secret, without client
//! authentication) become access tokens for the persona they name; a replayed `jti`,
//! a wrong `aud`, an unknown persona, an untrusted issuer and a client not allowed the
//! grant are refused with the RFC's code and a description naming the cause.

use authdesk::model::{ClientInput, GrantType, TrustedIssuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Auth, TestProvider, service_client};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const IDP: &str = "https://idp.example.com";
const SECRET: &str = "svc-secret-long-enough-for-hs256-signatures";
/// RFC 8037 §A.1's Ed25519 key pair.
const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn assertion_client() -> ClientInput {
    ClientInput {
        grant_types: Some(vec![GrantType::JwtBearer, GrantType::ClientCredentials]),
        trusted_issuers: Some(vec![TrustedIssuer {
            issuer: IDP.into(),
            jwks: json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "idp-1"}]}),
        }]),
        ..service_client("svc", SECRET)
    }
}

fn by_idp(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("idp-1".into());
    let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

fn claims(tp: &TestProvider, iss: &str, sub: &str, jti: &str) -> Value {
    json!({"iss": iss, "sub": sub, "aud": tp.url("/token"), "iat": tp.now(), "exp": tp.now() + 300, "jti": jti})
}

async fn present(tp: &TestProvider, assertion: &str, auth: &Auth<'_>) -> crate::support::Reply {
    tp.token(&[("grant_type", GRANT), ("assertion", assertion)], auth)
        .await
}

fn refused(reply: &crate::support::Reply, code: &str, cause: &str) {
    assert_eq!(reply.body["error"], code, "{}", reply.text);
    let desc = reply.body["error_description"].as_str().unwrap_or_default();
    assert!(desc.contains(cause), "expected '{cause}' in: {desc}");
}

#[tokio::test]
async fn a_trusted_issuers_assertion_is_an_access_token_for_its_persona_once() {
    let tp = TestProvider::start().await;
    tp.add_client(assertion_client()).await;
    let auth = Auth::basic("svc", SECRET);
    let discovery = tp
        .bearer_get("/.well-known/openid-configuration", "")
        .await
        .body;
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(GRANT)),
        "{discovery}"
    );

    let jwt = by_idp(&claims(&tp, IDP, "alice", "one"));
    let body = present(&tp, &jwt, &auth).await.ok();
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body.get("refresh_token").is_none_or(Value::is_null),
        "{body}"
    );
    assert!(body.get("id_token").is_none_or(Value::is_null), "{body}");
    let access = body["access_token"].as_str().unwrap();
    let seen = tp.introspect(access, &auth).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], tp.sub_of("alice").await);
    assert_eq!(seen["client_id"], "svc");

    // The same jti again: single use.
    refused(
        &present(&tp, &jwt, &auth).await,
        "invalid_grant",
        "jti 'one' from 'https://idp.example.com' was already used",
    );
}

#[tokio::test]
async fn a_client_signs_its_own_assertion_and_needs_no_other_authentication() {
    let tp = TestProvider::start().await;
    tp.add_client(assertion_client()).await;
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&tp, "svc", "bob", "self-1"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let body = present(&tp, &jwt, &Auth::None).await.ok();
    let seen = tp
        .introspect(
            body["access_token"].as_str().unwrap(),
            &Auth::basic("svc", SECRET),
        )
        .await;
    assert_eq!(seen["sub"], tp.sub_of("bob").await);

    // Unauthenticated, an assertion from a trusted issuer names no client.
    let jwt = by_idp(&claims(&tp, IDP, "alice", "anon"));
    refused(
        &present(&tp, &jwt, &Auth::None).await,
        "invalid_client",
        "the assertion's iss must be a client id of Authdesk",
    );
}

#[tokio::test]
async fn a_wrong_aud_an_unknown_persona_an_untrusted_issuer_or_a_client_without_the_grant_is_refused()
 {
    let tp = TestProvider::start().await;
    tp.add_client(assertion_client()).await;
    tp.add_client(service_client("other", SECRET)).await;
    let auth = Auth::basic("svc", SECRET);

    let mut wrong_aud = claims(&tp, IDP, "alice", "a1");
    wrong_aud["aud"] = json!("https://api.example.com");
    refused(
        &present(&tp, &by_idp(&wrong_aud), &auth).await,
        "invalid_grant",
        "aud 'https://api.example.com' must name this authorization server",
    );
    refused(
        &present(&tp, &by_idp(&claims(&tp, IDP, "mallory", "a2")), &auth).await,
        "invalid_grant",
        "sub 'mallory' is no persona",
    );
    refused(
        &present(
            &tp,
            &by_idp(&claims(&tp, "https://evil.example.com", "alice", "a3")),
            &auth,
        )
        .await,
        "invalid_grant",
        "issuer 'https://evil.example.com' is not trusted by client 'svc'",
    );
    let reply = present(
        &tp,
        &by_idp(&claims(&tp, IDP, "alice", "a4")),
        &Auth::basic("other", SECRET),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    refused(
        &reply,
        "unauthorized_client",
        "not allowed the urn:ietf:params:oauth:grant-type:jwt-bearer grant",
    );

    // An expired assertion, on the provider's clock.
    let jwt = by_idp(&claims(&tp, IDP, "alice", "a5"));
    tp.clock.advance(400);
    refused(
        &present(&tp, &jwt, &auth).await,
        "invalid_grant",
        "the assertion expired 100s ago",
    );
}
