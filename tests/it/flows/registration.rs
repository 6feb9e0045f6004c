//! RFC 7591 dynamic client registration.

use authdesk::config::ServeOptions;
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use serde_json::{Value, json};

use crate::support::{
    Auth, REDIRECT, Reply, TestProvider, assert_mentions_any_case, assert_rfc6749_text,
    auto_approving, get_json,
};

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

async fn discovery(tp: &TestProvider) -> Value {
    get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await
}

#[tokio::test]
async fn registered_confidential_client_gets_tokens_with_client_credentials() {
    let tp = TestProvider::start().await;
    assert_eq!(
        discovery(&tp).await["registration_endpoint"],
        tp.url("/register")
    );

    let reply = register(
        &tp,
        json!({
            "client_name": "Registered service",
            "grant_types": ["client_credentials"],
            "scope": "api.read",
            "token_endpoint_auth_method": "client_secret_basic",
            "some_extension": "ignored",
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.headers[CACHE_CONTROL], "no-store");
    let id = reply.str("client_id").to_string();
    let secret = reply.str("client_secret").to_string();
    assert!(secret.len() >= 32, "a guessable secret: {secret}");
    assert_eq!(reply.body["client_secret_expires_at"], 0);
    assert_eq!(reply.body["client_name"], "Registered service");
    assert_eq!(reply.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(reply.body["scope"], "api.read");
    assert!(reply.body["client_id_issued_at"].as_i64().is_some());
    assert_eq!(
        tp.core().get_client(&id).await.unwrap().name,
        "Registered service"
    );

    let token = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &Auth::basic(&id, &secret),
        )
        .await
        .ok();
    assert_eq!(token["scope"], "api.read");
}

#[tokio::test]
async fn registered_client_runs_the_code_flow() {
    let tp = TestProvider::start().await;
    let reply = register(
        &tp,
        json!({"client_name": "Registered web app", "redirect_uris": [REDIRECT]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        reply.body["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    let (id, secret) = (reply.str("client_id"), reply.str("client_secret"));
    let code = tp.code(id, &[("scope", "openid")]).await;
    let token = tp.exchange(&code, &Auth::basic(id, secret)).await;
    assert!(token["id_token"].is_string());
}

#[tokio::test]
async fn registration_with_auth_method_none_gives_a_public_client() {
    let tp = TestProvider::start().await;
    let reply = register(
        &tp,
        json!({
            "client_name": "Registered SPA",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(reply.body.get("client_secret").is_none(), "{}", reply.body);
    assert!(reply.body.get("client_secret_expires_at").is_none());
    assert_eq!(reply.body["token_endpoint_auth_method"], "none");
    let id = reply.str("client_id");
    let client = tp.core().get_client(id).await.unwrap();
    assert!(client.is_public() && client.client_secret.is_none());

    // Public: PKCE is required, the client_id alone authenticates.
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(res.redirect_params()["error"], "invalid_request");
    let code = tp.code(id, &[]).await;
    tp.exchange(&code, &Auth::public(id)).await;
}

#[tokio::test]
async fn invalid_redirect_uri_is_refused_with_invalid_redirect_uri() {
    let tp = TestProvider::start().await;
    for (uri, cause) in [
        ("not a url", "not an absolute URI"),
        ("http://example.com/cb", "non-local host"),
        ("javascript:alert(1)", "never a valid redirect target"),
    ] {
        let reply = register(&tp, json!({"client_name": "Bad", "redirect_uris": [uri]})).await;
        reply.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &["redirect_uris", cause],
        );
    }
    assert!(
        tp.core()
            .list_clients()
            .await
            .unwrap()
            .iter()
            .all(|c| c.name != "Bad"),
        "a refused registration created a client"
    );
}

#[tokio::test]
async fn registration_error_descriptions_are_ascii() {
    // RFC 7591 §3.2.2: error_description is ASCII text. The fragment refusal cites
    // "RFC 6749 §3.1.2".
    let tp = TestProvider::start().await;
    let reply = register(
        &tp,
        json!({"client_name": "Bad", "redirect_uris": ["https://app.example/cb#frag"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_redirect_uri");
    let d = reply.str("error_description");
    assert_mentions_any_case(d, &["fragment"]);
    assert_rfc6749_text(d);
}

#[tokio::test]
async fn closed_registration_is_refused_and_not_advertised() {
    let tp = TestProvider::start_with(ServeOptions {
        registration_open: false,
        ..auto_approving("alice")
    })
    .await;
    let doc = discovery(&tp).await;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    let reply = register(
        &tp,
        json!({"client_name": "Nope", "redirect_uris": [REDIRECT]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_mentions_any_case(
        reply.str("error_description"),
        &["registration is turned off"],
    );
    assert!(tp.core().list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_backchannel_logout_uri_is_registered_and_a_remote_http_one_refused() {
    let tp = TestProvider::start().await;
    let reply = register(
        &tp,
        json!({
            "client_name": "Back-channel app",
            "redirect_uris": [REDIRECT],
            "backchannel_logout_uri": "https://app.example.com/bcl",
            "backchannel_logout_session_required": true,
        }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        reply.body["backchannel_logout_uri"],
        "https://app.example.com/bcl"
    );
    assert_eq!(reply.body["backchannel_logout_session_required"], true);
    let id = reply.str("client_id").to_string();
    let stored = tp.core().get_client(&id).await.unwrap();
    assert_eq!(
        stored.backchannel_logout_uri.as_deref(),
        Some("https://app.example.com/bcl")
    );

    let reply = register(
        &tp,
        json!({"redirect_uris": [REDIRECT], "backchannel_logout_uri": "http://app.example.com/bcl"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_client_metadata");
    let desc = reply.str("error_description");
    assert!(
        desc.starts_with("backchannel_logout_uri:") && desc.contains("https"),
        "{desc}"
    );
}
