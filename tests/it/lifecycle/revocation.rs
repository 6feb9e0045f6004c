//! Introspection answers from a cache of access-token rows. Every way a token can lose
//! its validity must reach the next answer: each test introspects a token first (so
//! its row is cached), changes it, and introspects again.

use std::time::{Duration, Instant};

use authdesk::Core;
use serde_json::{Value, json};

use super::harness::{Authz, Lab, SCOPES, str_of};

/// Signs `username` in and exchanges the code; returns the token response.
async fn tokens(lab: &Lab, username: &str) -> Value {
    let authz = Authz::new(SCOPES);
    let code = lab.browser().sign_in(username, &authz).await;
    lab.exchange(&code, &authz).await
}

/// Introspects the access token of `tokens` while it is active (caching its row);
/// returns its id (`jti`).
async fn active_access_token(lab: &Lab, tokens: &Value) -> String {
    let v = lab.introspect(str_of(tokens, "access_token")).await;
    assert_eq!(v["active"], json!(true), "a fresh access token: {v}");
    // A second answer, from the cache, says the same.
    assert_eq!(lab.introspect(str_of(tokens, "access_token")).await, v);
    str_of(&v, "jti").to_string()
}

async fn assert_inactive(lab: &Lab, tokens: &Value, after: &str) {
    let v = lab.introspect(str_of(tokens, "access_token")).await;
    assert_eq!(
        v,
        json!({"active": false}),
        "the access token after {after}"
    );
}

#[tokio::test]
async fn every_revocation_reaches_the_next_introspection() {
    let lab = Lab::start().await;
    let core = lab.core();

    let t = tokens(&lab, "alice").await;
    let id = active_access_token(&lab, &t).await;
    core.expire_token(&id).await.expect("force-expire");
    assert_inactive(&lab, &t, "a forced expiry").await;

    let t = tokens(&lab, "alice").await;
    let id = active_access_token(&lab, &t).await;
    core.revoke_token(&id).await.expect("revoke one token");
    assert_inactive(&lab, &t, "revoking it in the window").await;

    let t = tokens(&lab, "alice").await;
    active_access_token(&lab, &t).await;
    let (status, body) = lab
        .post_as_client(
            "/revoke",
            super::harness::SECRET,
            &[("token", str_of(&t, "refresh_token"))],
        )
        .await;
    assert!(status.is_success(), "revocation: {body}");
    assert_inactive(&lab, &t, "revoking its refresh token (and so the grant)").await;

    let t = tokens(&lab, "bob").await;
    active_access_token(&lab, &t).await;
    core.revoke_user_tokens("bob").await.expect("revoke bob's");
    assert_inactive(&lab, &t, "revoking the user's tokens").await;

    let t = tokens(&lab, "alice").await;
    active_access_token(&lab, &t).await;
    core.revoke_client_tokens(super::harness::CLIENT)
        .await
        .expect("revoke the client's");
    assert_inactive(&lab, &t, "revoking the client's tokens").await;

    let t = tokens(&lab, "bob").await;
    active_access_token(&lab, &t).await;
    core.revoke_consent("bob", super::harness::CLIENT)
        .await
        .expect("revoke bob's consent");
    assert_inactive(&lab, &t, "revoking the consent").await;

    let t = tokens(&lab, "alice").await;
    active_access_token(&lab, &t).await;
    core.delete_client(super::harness::CLIENT)
        .await
        .expect("delete the client");
    // The deleted client cannot introspect any more, and the provider must not answer
    // from what it cached for it.
    let (status, body) = lab
        .post_as_client(
            "/introspect",
            super::harness::SECRET,
            &[("token", str_of(&t, "access_token"))],
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], json!("invalid_client"), "{body}");
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_revocation_by_another_process_reaches_introspection() {
    // The window and `authdesk serve` can share a data directory; the other process's
    // change is noticed through the store's revision counter, not at once.
    let lab = Lab::start().await;
    let t = tokens(&lab, "alice").await;
    let id = active_access_token(&lab, &t).await;
    let other = Core::open(&lab.sandbox.data_dir())
        .await
        .expect("a second process's view of the data directory");
    other
        .revoke_token(&id)
        .await
        .expect("revoke from the other");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = lab.introspect(str_of(&t, "access_token")).await;
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
    lab.provider.shutdown().await.expect("clean shutdown");
}
