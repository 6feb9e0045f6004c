//! Client authentication at the token endpoint, on the wire: `client_secret_basic`
//! (RFC 6749 §2.3.1), `client_secret_post`, and RFC 7523 assertions
//! (`client_secret_jwt`, `private_key_jwt`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Auth, Reply, TestProvider, jwt_claims, service_client};
use authdesk::model::{AuthMethod, ClientInput, random_token};

pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// RFC 7523 §3 claims for `client_id`, valid for a minute from the provider's now.
pub(super) fn assertion_claims(tp: &TestProvider, client_id: &str, aud: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": tp.now(),
        "exp": tp.now() + 60,
        "jti": random_token(16),
    })
}

pub(super) fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let header = Header {
        kid: kid.map(str::to_string),
        ..Header::new(alg)
    };
    jsonwebtoken::encode(&header, claims, key).expect("the assertion signs")
}

/// client_credentials authenticated by `assertion` alone (no client_id in the form).
async fn with_assertion(tp: &TestProvider, assertion: &str) -> Reply {
    tp.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api.read"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
        &Auth::None,
    )
    .await
}

/// A P-256 key pair and its public JWK Set (one key, `kid`).
pub(super) fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let kp = rcgen::KeyPair::generate().expect("a P-256 key");
    let point = kp.public_key_raw();
    assert_eq!(point.len(), 65, "an uncompressed P-256 point");
    let jwks = json!({"keys": [{
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    }]});
    let key = EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).expect("PKCS#8 PEM");
    (key, jwks)
}

#[tokio::test]
async fn client_secret_basic_form_urlencodes_id_and_secret() {
    let tp = TestProvider::start().await;
    // '+', '/', '%', '@', ':' and non-ASCII all change under form-urlencoding; a server
    // that skips the decoding (or splits at the wrong colon) refuses these.
    let (id, secret) = ("my+client/ä%", "p@ss:w+rd/ä");
    tp.add_client(service_client(id, secret)).await;

    let reply = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &Auth::basic(id, secret),
        )
        .await;
    let body = reply.ok();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
        id
    );

    // The oauth2 crate encodes the same way.
    let token = BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(tp.url("/token")).unwrap())
        .exchange_client_credentials()
        .add_scope(Scope::new("api.read".into()))
        .request_async(&tp.http)
        .await
        .expect("the oauth2 crate's Basic credentials are accepted");
    assert_eq!(jwt_claims(token.access_token().secret())["client_id"], id);

    // Without the urlencoding step the credentials differ.
    let raw = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let res = tp
        .http
        .post(tp.url("/token"))
        .header(reqwest::header::AUTHORIZATION, raw)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    Reply::read(res)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client", &[]);
}

#[tokio::test]
async fn client_secret_post_authenticates_in_the_form() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretPost),
        ..service_client("svc-post", "svc-post-secret")
    })
    .await;
    let body = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &Auth::post("svc-post", "svc-post-secret"),
        )
        .await
        .ok();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api.read");

    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::post("svc-post", "wrong"),
    )
    .await
    .assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["secret", "wrong"],
    );
}

#[tokio::test]
async fn client_secret_jwt_assertion_authenticates_the_client() {
    let tp = TestProvider::start().await;
    let secret = "service-jwt-secret-with-at-least-32-bytes";
    tp.add_client(ClientInput {
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretJwt),
        ..service_client("svc-jwt", secret)
    })
    .await;
    let key = EncodingKey::from_secret(secret.as_bytes());
    let token_url = tp.url("/token");

    let good = sign(
        Algorithm::HS256,
        None,
        &assertion_claims(&tp, "svc-jwt", &token_url),
        &key,
    );
    let body = with_assertion(&tp, &good).await.ok();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
        "svc-jwt"
    );

    let wrong_key = EncodingKey::from_secret(b"some-other-secret-of-at-least-32-bytes");
    let forged = sign(
        Algorithm::HS256,
        None,
        &assertion_claims(&tp, "svc-jwt", &token_url),
        &wrong_key,
    );
    with_assertion(&tp, &forged).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["signature"],
    );

    let elsewhere = sign(
        Algorithm::HS256,
        None,
        &assertion_claims(&tp, "svc-jwt", "https://elsewhere.example/token"),
        &key,
    );
    with_assertion(&tp, &elsewhere).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["aud"],
    );

    let mut stale = assertion_claims(&tp, "svc-jwt", &token_url);
    stale["exp"] = serde_json::json!(tp.now() - 120);
    let stale = sign(Algorithm::HS256, None, &stale, &key);
    with_assertion(&tp, &stale).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["expired"],
    );

    // A client registered for assertions does not take its secret in the clear.
    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::basic("svc-jwt", secret),
    )
    .await
    .assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["client_secret_jwt"],
    );
}

#[tokio::test]
async fn private_key_jwt_assertion_verifies_against_the_registered_jwks() {
    let tp = TestProvider::start().await;
    let (key, jwks) = ec_key("key-1");
    tp.add_client(ClientInput {
        token_endpoint_auth_method: Some(AuthMethod::PrivateKeyJwt),
        jwks: Some(jwks),
        ..service_client("svc-pk", "unused-secret")
    })
    .await;
    let token_url = tp.url("/token");

    let good = sign(
        Algorithm::ES256,
        Some("key-1"),
        &assertion_claims(&tp, "svc-pk", &token_url),
        &key,
    );
    let body = with_assertion(&tp, &good).await.ok();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
        "svc-pk"
    );

    // The same kid, another key: the signature does not verify.
    let (other_key, _) = ec_key("key-1");
    let forged = sign(
        Algorithm::ES256,
        Some("key-1"),
        &assertion_claims(&tp, "svc-pk", &token_url),
        &other_key,
    );
    with_assertion(&tp, &forged).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["signature"],
    );

    let unknown_kid = sign(
        Algorithm::ES256,
        Some("key-2"),
        &assertion_claims(&tp, "svc-pk", &token_url),
        &key,
    );
    with_assertion(&tp, &unknown_kid).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["key-2"],
    );

    // The registered secret is no way in for a private_key_jwt client.
    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::basic("svc-pk", "unused-secret"),
    )
    .await
    .assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["private_key_jwt"],
    );
}

#[tokio::test]
async fn replayed_client_assertion_jti_is_refused() {
    let tp = TestProvider::start().await;
    let secret = "service-jwt-secret-with-at-least-32-bytes";
    tp.add_client(ClientInput {
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretJwt),
        ..service_client("svc-jwt", secret)
    })
    .await;
    let (key, jwks) = ec_key("key-1");
    tp.add_client(ClientInput {
        token_endpoint_auth_method: Some(AuthMethod::PrivateKeyJwt),
        jwks: Some(jwks),
        ..service_client("svc-pk", "unused-secret")
    })
    .await;
    let token_url = tp.url("/token");

    let hs = sign(
        Algorithm::HS256,
        None,
        &assertion_claims(&tp, "svc-jwt", &token_url),
        &EncodingKey::from_secret(secret.as_bytes()),
    );
    let es = sign(
        Algorithm::ES256,
        Some("key-1"),
        &assertion_claims(&tp, "svc-pk", &token_url),
        &key,
    );
    for assertion in [hs, es] {
        with_assertion(&tp, &assertion).await.ok();
        let jti = jwt_claims(&assertion)["jti"].as_str().unwrap().to_string();
        with_assertion(&tp, &assertion).await.assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &["jti", &jti, "already used"],
        );
    }
}
