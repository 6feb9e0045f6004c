//! RFC 6750 bearer tokens at `/userinfo` and the sample resource `/api/me`.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

use crate::support::{
    Auth, Reply, TestProvider, assert_mentions_any_case, service_client, web_client,
};

const RESOURCES: [&str; 2] = ["/userinfo", "/api/me"];

/// An access token for alice with `openid email`, and the client's credentials.
async fn alice_token(tp: &TestProvider) -> (String, Auth<'static>) {
    tp.add_client(web_client("web", "web-secret")).await;
    let auth = Auth::basic("web", "web-secret");
    let code = tp.code("web", &[("scope", "openid email")]).await;
    let body = tp.exchange(&code, &auth).await;
    (body["access_token"].as_str().unwrap().to_string(), auth)
}

async fn post_form_token(tp: &TestProvider, path: &str, token: &str) -> Reply {
    let res = tp
        .http
        .post(tp.url(path))
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    Reply::read(res).await
}

/// Asserts a 401 whose `WWW-Authenticate: Bearer` challenge says invalid_token and
/// whose description mentions `cause`.
fn assert_invalid_token(reply: &Reply, cause: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let challenge = reply.header(WWW_AUTHENTICATE.as_str());
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_mentions_any_case(challenge, &[cause]);
    assert_eq!(reply.body["error"], "invalid_token");
}

#[tokio::test]
async fn bearer_token_in_the_header_or_the_form_body_is_accepted() {
    let tp = TestProvider::start().await;
    let (token, _) = alice_token(&tp).await;
    let alice = tp.sub_of("alice").await;

    let header = tp.bearer_get("/userinfo", &token).await.ok();
    assert_eq!(header["sub"], alice.as_str());
    assert_eq!(header["email"], "alice@example.com");
    assert!(
        header.get("name").is_none(),
        "profile claims without the profile scope"
    );
    let form = post_form_token(&tp, "/userinfo", &token).await.ok();
    assert_eq!(form, header);

    let header = tp.bearer_get("/api/me", &token).await.ok();
    assert_eq!(header["sub"], alice.as_str());
    assert_eq!(header["username"], "alice");
    assert_eq!(header["client_id"], "web");
    let form = post_form_token(&tp, "/api/me", &token).await.ok();
    assert_eq!(form["username"], "alice");

    // RFC 6750 §2: one method per request.
    let res = tp
        .http
        .post(tp.url("/api/me"))
        .bearer_auth(&token)
        .form(&[("access_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let both = Reply::read(res).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.body["error"], "invalid_request");
}

#[tokio::test]
async fn revoked_access_token_gets_an_invalid_token_challenge() {
    let tp = TestProvider::start().await;
    let (token, auth) = alice_token(&tp).await;
    tp.bearer_get("/api/me", &token).await.ok();
    let revoked = tp.post_form("/revoke", &[("token", &token)], &auth).await;
    assert_eq!(revoked.status, StatusCode::OK);
    for path in RESOURCES {
        assert_invalid_token(&tp.bearer_get(path, &token).await, "revoked");
        assert_invalid_token(&post_form_token(&tp, path, &token).await, "revoked");
    }
}

#[tokio::test]
async fn expired_access_token_gets_an_invalid_token_challenge() {
    let tp = TestProvider::start().await;
    let (token, _) = alice_token(&tp).await;
    tp.clock
        .advance(authdesk::model::DEFAULT_ACCESS_TOKEN_TTL - 1);
    for path in RESOURCES {
        tp.bearer_get(path, &token).await.ok();
    }
    tp.clock.advance(1);
    for path in RESOURCES {
        assert_invalid_token(&tp.bearer_get(path, &token).await, "expired");
    }
}

#[tokio::test]
async fn request_without_a_token_gets_a_bare_bearer_challenge() {
    let tp = TestProvider::start().await;
    for path in RESOURCES {
        let reply = Reply::read(tp.http.get(tp.url(path)).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        let challenge = reply.header(WWW_AUTHENTICATE.as_str());
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        // RFC 6750 §3.1: no error code when the request had no credentials.
        assert!(!challenge.contains("error="), "{challenge}");
    }
}

#[tokio::test]
async fn userinfo_needs_an_openid_access_token() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let service = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &Auth::basic("svc", "svc-secret"),
        )
        .await
        .ok();
    let reply = tp
        .bearer_get("/userinfo", service["access_token"].as_str().unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let challenge = reply.header(WWW_AUTHENTICATE.as_str());
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_mentions_any_case(challenge, &["openid"]);

    // A refresh token is not an access token.
    tp.add_client(web_client("web", "web-secret")).await;
    let code = tp.code("web", &[]).await;
    let body = tp.exchange(&code, &Auth::basic("web", "web-secret")).await;
    let refresh = body["refresh_token"].as_str().unwrap();
    for path in RESOURCES {
        assert_invalid_token(&tp.bearer_get(path, refresh).await, "refresh token");
    }
}
