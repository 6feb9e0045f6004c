//! Pushed authorization requests (RFC 9126) on the wire: the parts the JS suite cannot
//! reach without waiting (expiry on the manual clock) or without a raw request.

use reqwest::StatusCode;

use crate::support::{Auth, Pkce, REDIRECT, TestProvider, web_client};

/// Pushes a code + PKCE request for `id` and returns the request_uri and the verifier.
async fn push(tp: &TestProvider, id: &str, secret: &str) -> (String, Pkce) {
    let pkce = Pkce::new();
    let reply = tp
        .post_form(
            "/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ],
            &Auth::Basic(id, secret),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["expires_in"], 60);
    (
        reply.body["request_uri"].as_str().unwrap().to_string(),
        pkce,
    )
}

#[tokio::test]
async fn a_pushed_request_expires_after_60_seconds() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let (uri, _) = push(&tp, "web", "web-secret").await;
    tp.clock.advance(61);
    let reply = tp
        .authorize(&[("client_id", "web"), ("request_uri", &uri)])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text.contains("invalid_request_uri"), "{}", reply.text);
    assert!(reply.text.contains("expired 1s ago"), "{}", reply.text);
    // Within its minute it works, once.
    let (uri, pkce) = push(&tp, "web", "web-secret").await;
    tp.clock.advance(59);
    let params = tp
        .approved_redirect(&[("client_id", "web"), ("request_uri", &uri)])
        .await;
    let tokens = tp
        .exchange(
            &crate::support::Code {
                code: params["code"].clone(),
                verifier: pkce.verifier,
            },
            &Auth::Basic("web", "web-secret"),
        )
        .await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn the_pushed_parameters_replace_those_of_the_url() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let (uri, _) = push(&tp, "web", "web-secret").await;
    // A redirect_uri in the URL that was never registered is not where the code goes:
    // the pushed request's is.
    let params = tp
        .approved_redirect(&[
            ("client_id", "web"),
            ("request_uri", &uri),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .await;
    assert_eq!(params["state"], "s");
}

#[tokio::test]
async fn request_uri_is_not_accepted_at_the_par_endpoint_nor_unauthenticated_pushes() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let reply = tp
        .post_form(
            "/par",
            &[
                ("response_type", "code"),
                ("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            ],
            &Auth::Basic("web", "web-secret"),
        )
        .await;
    assert_eq!(reply.str("error"), "invalid_request");
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap()
            .contains("RFC 9126 section 2.1")
    );
    let reply = tp
        .post_form("/par", &[("response_type", "code")], &Auth::Public("web"))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.str("error"), "invalid_client");
}

#[tokio::test]
async fn registration_accepts_require_pushed_authorization_requests() {
    let tp = TestProvider::start().await;
    let res = tp
        .http
        .post(tp.url("/register"))
        .json(&serde_json::json!({
            "client_name": "PAR app",
            "redirect_uris": [REDIRECT],
            "require_pushed_authorization_requests": true,
            "dpop_bound_access_tokens": true,
        }))
        .send()
        .await
        .unwrap();
    let reply = crate::support::Reply::read(res).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["require_pushed_authorization_requests"], true);
    assert_eq!(reply.body["dpop_bound_access_tokens"], true);
    let id = reply.str("client_id").to_string();
    let pkce = Pkce::new();
    let refused = tp
        .authorize(&[
            ("client_id", id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    let params = refused.redirect_params();
    assert_eq!(params["error"], "invalid_request");
    assert!(params["error_description"].contains("requires pushed authorization requests"));
}
