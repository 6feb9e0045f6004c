//! Client keys by URL (RFC 7591 §2 `jwks_uri`): a key server on a loopback port serves
//! the client's JWK Set; the provider fetches it at registration, verifies the client's
//! assertions with it, follows a key rotation (a new `kid`), and refuses at
//! registration a URL that serves no usable keys, naming the cause.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode as AxumStatus, header};
use axum::response::IntoResponse;
use axum::routing::get;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client_auth::{ASSERTION_TYPE, assertion_claims, ec_key, sign};
use crate::support::{Auth, Reply, TestProvider, jwt_claims};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A key server on 127.0.0.1: `/jwks.json` serves the current set (and counts the
/// requests); the other paths answer as a misconfigured server would.
struct KeyServer {
    base: String,
    set: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Served {
    set: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

async fn jwks(State(s): State<Served>) -> impl IntoResponse {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let set = s.set.lock().unwrap().clone();
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        set.to_string(),
    )
}

impl KeyServer {
    async fn start(set: Value) -> Self {
        let served = Served {
            set: Arc::new(Mutex::new(set)),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/missing", get(|| async { AxumStatus::NOT_FOUND }))
            .route(
                "/page",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>keys?</html>") }),
            )
            .route(
                "/huge",
                get(|| async {
                    let keys: Vec<Value> = (0..2000)
                        .map(|i| json!({"kty": "oct", "kid": format!("k{i}"), "k": "AAAA"}))
                        .collect();
                    json!({"keys": keys}).to_string()
                }),
            )
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        KeyServer {
            base,
            set: served.set,
            hits: served.hits,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn serve(&self, set: Value) {
        *self.set.lock().unwrap() = set;
    }

    fn fetches(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn register(tp: &TestProvider, metadata: Value) -> Reply {
    let res = tp
        .http
        .post(tp.url("/register"))
        .json(&metadata)
        .send()
        .await
        .expect("the registration endpoint answers");
    Reply::read(res).await
}

fn key_client(jwks_uri: &str) -> Value {
    json!({
        "client_name": "Keys by URL",
        "grant_types": ["client_credentials", JWT_BEARER],
        "scope": "api.read",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
    })
}

/// client_credentials authenticated by a client assertion alone.
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

#[tokio::test]
async fn a_client_publishing_its_keys_by_url_authenticates_and_rotates_them() {
    let tp = TestProvider::start().await;
    let (key1, set1) = ec_key("key-1");
    let server = KeyServer::start(set1).await;
    let uri = server.url("/jwks.json");

    let reply = register(&tp, key_client(&uri)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["jwks_uri"], uri.as_str());
    assert!(reply.body.get("jwks").is_none(), "{}", reply.body);
    assert_eq!(server.fetches(), 1, "fetched once, at registration");
    let id = reply.str("client_id").to_string();
    let token_url = tp.url("/token");

    // The key fetched at registration verifies the client's assertion.
    let signed_with = |key, kid| {
        sign(
            Algorithm::ES256,
            Some(kid),
            &assertion_claims(&tp, &id, &token_url),
            key,
        )
    };
    let body = with_assertion(&tp, &signed_with(&key1, "key-1")).await.ok();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["client_id"],
        id.as_str()
    );
    assert_eq!(server.fetches(), 1, "the cached keys are used");

    // The client rotates: its server publishes key-2 only, and it signs with key-2.
    let (key2, set2) = ec_key("key-2");
    server.serve(set2);
    // Just fetched: the new kid waits for the next fetch (at most one per 10 s).
    with_assertion(&tp, &signed_with(&key2, "key-2"))
        .await
        .assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &["key-2", "at most every 10 s"],
        );
    assert_eq!(server.fetches(), 1);
    tp.clock.advance(10);
    let body = with_assertion(&tp, &signed_with(&key2, "key-2")).await.ok();
    assert!(body["access_token"].is_string());
    assert_eq!(
        server.fetches(),
        2,
        "the unknown kid had the keys fetched again"
    );
    // key-1 is gone from the set.
    with_assertion(&tp, &signed_with(&key1, "key-1"))
        .await
        .assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &["key-1", "not among the keys"],
        );

    // The same keys verify the client's own JWT bearer assertion (jose's path).
    let grant = |key, kid: &str| {
        let claims = json!({"iss": id, "sub": "alice", "aud": token_url, "iat": tp.now(),
                            "exp": tp.now() + 60, "jti": authdesk::model::random_token(8)});
        sign(Algorithm::ES256, Some(kid), &claims, key)
    };
    let body = tp
        .token(
            &[
                ("grant_type", JWT_BEARER),
                ("assertion", &grant(&key2, "key-2")),
            ],
            &Auth::None,
        )
        .await
        .ok();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        tp.sub_of("alice").await
    );

    // Five minutes on, the set is fetched again: a key replaced under the same kid counts.
    let (key2b, set2b) = ec_key("key-2");
    server.serve(set2b);
    tp.clock.advance(5 * 60);
    let body = with_assertion(&tp, &signed_with(&key2b, "key-2"))
        .await
        .ok();
    assert!(body["access_token"].is_string());
    assert_eq!(server.fetches(), 3, "a stale set is fetched again");
}

#[tokio::test]
async fn a_jwks_uri_without_usable_keys_is_refused_at_registration_naming_the_cause() {
    let tp = TestProvider::start().await;
    let (_, set) = ec_key("key-1");
    let server = KeyServer::start(set.clone()).await;
    let nothing_listens = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}/jwks.json")
    };
    for (uri, causes) in [
        (server.url("/missing"), &["jwks_uri", "HTTP 404"][..]),
        (server.url("/page"), &["jwks_uri", "did not answer JSON"]),
        (server.url("/huge"), &["jwks_uri", "more than 64 KiB"]),
        (nothing_listens, &["jwks_uri", "could not connect"]),
        (
            "http://example.com/jwks.json".into(),
            &["jwks_uri", "http on a non-local host"],
        ),
    ] {
        register(&tp, key_client(&uri)).await.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            causes,
        );
    }
    let mut both = key_client(&server.url("/jwks.json"));
    both["jwks"] = set;
    register(&tp, both).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        &["jwks and jwks_uri", "one way"],
    );
    assert!(
        tp.core()
            .list_clients()
            .await
            .unwrap()
            .iter()
            .all(|c| c.name != "Keys by URL"),
        "a refused registration created a client"
    );

    // An update is checked the same way, and a refused one changes nothing.
    let ok = register(&tp, key_client(&server.url("/jwks.json"))).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let mut update = key_client(&server.url("/missing"));
    update["client_id"] = ok.body["client_id"].clone();
    let res = tp
        .http
        .request(Method::PUT, ok.str("registration_client_uri"))
        .bearer_auth(ok.str("registration_access_token"))
        .json(&update)
        .send()
        .await
        .unwrap();
    Reply::read(res).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        &["jwks_uri", "HTTP 404"],
    );
    let stored = tp.core().get_client(ok.str("client_id")).await.unwrap();
    assert_eq!(stored.jwks_uri, Some(server.url("/jwks.json")));
}
