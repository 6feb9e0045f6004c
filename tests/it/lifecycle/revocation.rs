//! Introspection answers from a cache of access-token rows. Every way a token can lose
//! its validity must reach the next answer: each test introspects a token first (so
//! its row is cached), changes it, and introspects again.

use std::time::{Duration, Instant};

use authdesk::Core;
use serde_json::{Value, json};

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{Authz, TestProvider, str_of};

/// Signs `username` in and exchanges the code; returns the token response.
async fn tokens(tp: &TestProvider, username: &str) -> Value {
    let authz = Authz::new(CLIENT, SCOPES);
    let code = tp.browser().sign_in(username, &authz).await;
    tp.exchange(&code, &CLIENT_AUTH).await
}

/// Introspects the access token of `tokens` while it is active (caching its row);
/// returns its id (`jti`).
async fn active_access_token(tp: &TestProvider, tokens: &Value) -> String {
    let v = tp
        .introspect(str_of(tokens, "access_token"), &CLIENT_AUTH)
        .await;
    assert_eq!(v["active"], json!(true), "a fresh access token: {v}");
    // A second answer, from the cache, says the same.
    assert_eq!(
        tp.introspect(str_of(tokens, "access_token"), &CLIENT_AUTH)
            .await,
        v
    );
    str_of(&v, "jti").to_string()
}

async fn assert_inactive(tp: &TestProvider, tokens: &Value, after: &str) {
    let v = tp
        .introspect(str_of(tokens, "access_token"), &CLIENT_AUTH)
        .await;
    assert_eq!(
        v,
        json!({"active": false}),
        "the access token after {after}"
    );
}

#[tokio::test]
async fn every_revocation_reaches_the_next_introspection() {
    let tp = super::provider().await;
    let core = tp.core();

    let t = tokens(&tp, "alice").await;
    let id = active_access_token(&tp, &t).await;
    core.expire_token(&id).await.expect("force-expire");
    assert_inactive(&tp, &t, "a forced expiry").await;

    let t = tokens(&tp, "alice").await;
    let id = active_access_token(&tp, &t).await;
    core.revoke_token(&id).await.expect("revoke one token");
    assert_inactive(&tp, &t, "revoking it in the window").await;

    let t = tokens(&tp, "alice").await;
    active_access_token(&tp, &t).await;
    let revoked = tp
        .post_form(
            "/revoke",
            &[("token", str_of(&t, "refresh_token"))],
            &CLIENT_AUTH,
        )
        .await;
    let (status, body) = (revoked.status, revoked.body);
    assert!(status.is_success(), "revocation: {body}");
    assert_inactive(&tp, &t, "revoking its refresh token (and so the grant)").await;

    let t = tokens(&tp, "bob").await;
    active_access_token(&tp, &t).await;
    core.revoke_user_tokens("bob").await.expect("revoke bob's");
    assert_inactive(&tp, &t, "revoking the user's tokens").await;

    let t = tokens(&tp, "alice").await;
    active_access_token(&tp, &t).await;
    core.revoke_client_tokens(CLIENT)
        .await
        .expect("revoke the client's");
    assert_inactive(&tp, &t, "revoking the client's tokens").await;

    let t = tokens(&tp, "bob").await;
    active_access_token(&tp, &t).await;
    core.revoke_consent("bob", CLIENT)
        .await
        .expect("revoke bob's consent");
    assert_inactive(&tp, &t, "revoking the consent").await;

    let t = tokens(&tp, "alice").await;
    active_access_token(&tp, &t).await;
    core.delete_client(CLIENT).await.expect("delete the client");
    // The deleted client cannot introspect any more, and the provider must not answer
    // from what it cached for it.
    let refused = tp
        .post_form(
            "/introspect",
            &[("token", str_of(&t, "access_token"))],
            &CLIENT_AUTH,
        )
        .await;
    let (status, body) = (refused.status, refused.body);
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], json!("invalid_client"), "{body}");
    tp.stop().await;
}

#[tokio::test]
async fn a_revocation_by_another_process_reaches_introspection() {
    // The window and `authdesk serve` can share a data directory; the other process's
    // change is noticed through the store's revision counter, not at once.
    let tp = super::provider().await;
    let t = tokens(&tp, "alice").await;
    let id = active_access_token(&tp, &t).await;
    let other = Core::open(tp.data_dir())
        .await
        .expect("a second process's view of the data directory");
    other
        .revoke_token(&id)
        .await
        .expect("revoke from the other");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = tp
            .introspect(str_of(&t, "access_token"), &CLIENT_AUTH)
            .await;
        if v["active"] == json!(false) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still active 20 s after another process revoked it: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    other.store.close().await;
    tp.stop().await;
}
