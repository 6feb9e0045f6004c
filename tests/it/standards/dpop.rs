//! DPoP (RFC 9449) on the wire with proofs made here: an opaque access token bound and
//! introspected with `cnf.jkt`, and a proof too old on the provider's clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{Auth, TestProvider, service_client};
use authdesk::model::{TokenFormat, random_token};

fn key() -> (EncodingKey, Value) {
    let kp = rcgen::KeyPair::generate().unwrap();
    let point = kp.public_key_raw();
    let jwk = json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    (
        EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).unwrap(),
        jwk,
    )
}

fn proof(k: &(EncodingKey, Value), htu: &str, iat: i64) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.typ = Some("dpop+jwt".into());
    h.jwk = Some(serde_json::from_value(k.1.clone()).unwrap());
    let claims = json!({"jti": random_token(12), "htm": "POST", "htu": htu, "iat": iat});
    jsonwebtoken::encode(&h, &claims, &k.0).unwrap()
}

async fn token_with_proof(tp: &TestProvider, proof: &str) -> crate::support::Reply {
    let res = tp
        .http
        .post(tp.url("/token"))
        .basic_auth("svc", Some("svc-secret"))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials"), ("scope", "api.read")])
        .send()
        .await
        .unwrap();
    crate::support::Reply::read(res).await
}

#[tokio::test]
async fn an_opaque_token_is_bound_and_introspected_with_its_key() {
    let tp = TestProvider::start().await;
    let mut svc = service_client("svc", "svc-secret");
    svc.access_token_format = Some(TokenFormat::Opaque);
    tp.add_client(svc).await;
    let k = key();
    let reply = token_with_proof(&tp, &proof(&k, &tp.url("/token"), tp.now())).await;
    let body = reply.ok();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let intro = tp
        .introspect(token, &Auth::Basic("svc", "svc-secret"))
        .await;
    assert_eq!(intro["token_type"], "DPoP");
    let jkt = authdesk::oauth::dpop::thumbprint(&k.1).unwrap();
    assert_eq!(intro["cnf"]["jkt"], jkt.as_str());
    // As a Bearer token it is refused.
    let reply = tp.bearer_get("/api/me", token).await;
    assert_eq!(reply.status, reqwest::StatusCode::UNAUTHORIZED);
    assert!(reply.header("www-authenticate").starts_with("DPoP "));
}

#[tokio::test]
async fn a_proof_older_than_five_minutes_is_refused() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let k = key();
    let old = proof(&k, &tp.url("/token"), tp.now());
    tp.clock.advance(301);
    let reply = token_with_proof(&tp, &old).await;
    assert_eq!(reply.str("error"), "invalid_dpop_proof");
    assert!(
        reply.str("error_description").contains("made 301s ago"),
        "{:?}",
        reply.body
    );
}

#[tokio::test]
async fn browser_apps_may_send_dpop_proofs_and_push_requests() {
    let tp = TestProvider::start().await;
    for path in ["/token", "/userinfo", "/api/me", "/par"] {
        let res = tp
            .http
            .request(reqwest::Method::OPTIONS, tp.url(path))
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "dpop")
            .send()
            .await
            .unwrap();
        let allowed = res
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(allowed.contains("dpop"), "{path}: {allowed}");
        let exposed = res
            .headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(exposed.contains("dpop-nonce"), "{path}: {exposed}");
    }
}
