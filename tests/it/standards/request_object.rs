//! Request objects (RFC 9101) at the authorization endpoint: an HS256 object signed
//! with the client's secret, and one that expired on the provider's clock.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Pkce, REDIRECT, TestProvider, web_client};

fn object(tp: &TestProvider, secret: &str, exp: i64, pkce: &Pkce) -> String {
    let claims = json!({
        "iss": "web", "aud": tp.issuer, "client_id": "web", "exp": exp, "iat": tp.now(),
        "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid", "state": "from-object",
        "code_challenge": pkce.challenge, "code_challenge_method": "S256",
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn an_hs256_request_object_carries_the_request() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret-long-enough-for-hs256"))
        .await;
    let pkce = Pkce::new();
    let jwt = object(
        &tp,
        "web-secret-long-enough-for-hs256",
        tp.now() + 60,
        &pkce,
    );
    let params = tp
        .approved_redirect(&[("client_id", "web"), ("request", &jwt)])
        .await;
    assert_eq!(params["state"], "from-object");
}

#[tokio::test]
async fn an_expired_or_wrongly_signed_request_object_is_refused_on_the_page() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret-long-enough-for-hs256"))
        .await;
    let pkce = Pkce::new();
    let jwt = object(
        &tp,
        "web-secret-long-enough-for-hs256",
        tp.now() + 60,
        &pkce,
    );
    tp.clock.advance(121);
    let reply = tp
        .authorize(&[("client_id", "web"), ("request", &jwt)])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text.contains("invalid_request_object"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("expired 61s ago"), "{}", reply.text);

    let forged = object(
        &tp,
        "not-the-secret-of-the-client-at-all",
        tp.now() + 60,
        &pkce,
    );
    let reply = tp
        .authorize(&[("client_id", "web"), ("request", &forged)])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text.contains("signature does not verify"),
        "{}",
        reply.text
    );
}
