//! Decisions taken in the window (`AppState::decide_consent`): the request is listed
//! while it waits, the page's long-poll (`GET /authorize/wait`) carries the outcome and
//! the session to the browser, and only the first decision counts.

use authdesk::events::ProviderEvent;
use authdesk::events::RequestStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{
    Authz, Browser, EVENT_TIMEOUT, REDIRECT, Reply, TestProvider, assert_redirect_error, code_of,
    redirect_params, str_of,
};

/// Starts the page's long-poll for `request_id` and returns once the provider is
/// waiting on it for this request (so a decision cannot slip in before it).
async fn start_waiting(
    tp: &TestProvider,
    browser: &Browser,
    request_id: &str,
) -> tokio::task::JoinHandle<Reply> {
    let url = tp.url(&format!("/authorize/wait?request_id={request_id}"));
    let b = browser.clone();
    let task = tokio::spawn(async move { b.get(&url).await });
    tp.until_the_page_waits(request_id).await;
    task
}

/// The JSON answer of a finished long-poll.
async fn waited(task: tokio::task::JoinHandle<Reply>) -> (Value, Option<String>) {
    let answer = tokio::time::timeout(EVENT_TIMEOUT, task)
        .await
        .expect("the long-poll answers once decided")
        .expect("long-poll task");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), "no-store");
    let cookie = answer.set_cookie("authdesk_session").map(String::from);
    let body = serde_json::from_str(&answer.text)
        .unwrap_or_else(|e| panic!("the long-poll answer is not JSON ({e}): {}", answer.text));
    (body, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_approval_completes_the_waiting_page_and_signs_the_browser_in() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();

    let listed = tp.provider.context.pending_consents();
    let [pending] = listed.as_slice() else {
        panic!("one pending request expected: {listed:?}")
    };
    assert_eq!(pending.request_id, form.request_id);
    assert_eq!(pending.client_id, CLIENT);
    assert_eq!(pending.client_name, "Lifecycle web app");
    assert_eq!(pending.redirect_uri, REDIRECT);
    assert_eq!(pending.scopes, ["openid", "profile", "offline_access"]);
    assert_eq!(pending.login_hint, None);

    let poll = start_waiting(&tp, &browser, &form.request_id).await;
    tp.provider
        .context
        .decide_consent(&form.request_id, true, Some("bob".into()))
        .await
        .expect("the window approves");

    let (body, cookie) = waited(poll).await;
    assert_eq!(body["done"], json!(true), "{body}");
    let code = code_of(
        &redirect_params(str_of(&body, "redirect")),
        &authz,
        &tp.issuer,
    );
    let cookie = cookie.unwrap_or_else(|| panic!("the long-poll did not sign the page in"));
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(browser.session_cookie().is_some());

    let approved = events.request("authorize", RequestStatus::Approved).await;
    assert_eq!(approved.username.as_deref(), Some("bob"));
    assert_eq!(approved.detail["decided_by"], json!("window"));
    let resolved = events
        .next_where("ConsentResolved", |e| {
            matches!(e, ProviderEvent::ConsentResolved { .. })
        })
        .await;
    assert_eq!(
        resolved,
        ProviderEvent::ConsentResolved {
            request_id: form.request_id.clone(),
            approved: true
        }
    );
    assert!(tp.provider.context.pending_consents().is_empty());

    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    assert_eq!(claims["nonce"], json!(authz.nonce));

    // The session the window handed over answers the next request silently.
    let again = Authz::new(CLIENT, SCOPES).with("prompt", "none");
    let silent = browser.authorize(&again).await;
    assert_eq!(silent.status, StatusCode::FOUND, "{}", silent.text);
    let code = code_of(&silent.redirect_params(), &again, &tp.issuer);
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_approval_without_a_name_uses_the_login_hint() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES).with("login_hint", "bob");
    let form = browser.authorize(&authz).await.consent();
    let listed = tp.provider.context.pending_consents();
    assert_eq!(listed[0].login_hint.as_deref(), Some("bob"));
    let poll = start_waiting(&tp, &browser, &form.request_id).await;
    tp.provider
        .context
        .decide_consent(&form.request_id, true, None)
        .await
        .expect("the window approves");
    let (body, _) = waited(poll).await;
    let code = code_of(
        &redirect_params(str_of(&body, "redirect")),
        &authz,
        &tp.issuer,
    );
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_denial_sends_the_waiting_page_back_with_access_denied() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    let poll = start_waiting(&tp, &browser, &form.request_id).await;
    tp.provider
        .context
        .decide_consent(&form.request_id, false, None)
        .await
        .expect("the window denies");
    let (body, cookie) = waited(poll).await;
    assert_eq!(body["done"], json!(true), "{body}");
    assert_redirect_error(
        &redirect_params(str_of(&body, "redirect")),
        "access_denied",
        &authz.state,
        &tp.issuer,
    );
    assert_eq!(cookie, None, "a denial signed the page in");
    let denied = events.request("authorize", RequestStatus::Denied).await;
    assert_eq!(denied.detail["decided_by"], json!("window"));
    assert_eq!(denied.error.as_deref(), Some("access_denied"));
    assert_eq!(
        events
            .next_where("ConsentResolved", |e| {
                matches!(e, ProviderEvent::ConsentResolved { .. })
            })
            .await,
        ProviderEvent::ConsentResolved {
            request_id: form.request_id.clone(),
            approved: false
        }
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_window_decision_neither_the_window_nor_the_page_can_decide_again() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    let poll = start_waiting(&tp, &browser, &form.request_id).await;
    tp.provider
        .context
        .decide_consent(&form.request_id, true, Some("bob".into()))
        .await
        .expect("the first decision");
    let (body, _) = waited(poll).await;
    let code = code_of(
        &redirect_params(str_of(&body, "redirect")),
        &authz,
        &tp.issuer,
    );

    let second = tp
        .provider
        .context
        .decide_consent(&form.request_id, false, None)
        .await;
    assert!(
        matches!(second, Err(authdesk::Error::NotFound { .. })),
        "a second window decision: {second:?}"
    );
    let page = browser.decide(&form, &[("action", "deny")]).await;
    page.assert_page(StatusCode::BAD_REQUEST);
    assert!(
        page.html_text().contains("no longer pending"),
        "{}",
        page.text
    );

    // The first decision's code still works; one approval was logged, no denial.
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    assert!(tokens["access_token"].is_string());
    events.request("token", RequestStatus::Completed).await;
    let decisions = events.all_so_far();
    assert!(
        !decisions.iter().any(|e| matches!(
            e,
            ProviderEvent::Request { entry } if entry.status == RequestStatus::Denied
        ) || matches!(
            e,
            ProviderEvent::ConsentResolved {
                approved: false,
                ..
            }
        )),
        "the second decision had an effect: {decisions:#?}"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_page_decision_the_window_cannot_decide_and_the_long_poll_follows() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    // The page's own long-poll is waiting while the form is submitted.
    let poll = start_waiting(&tp, &browser, &form.request_id).await;
    let code = browser.approve_as(&form, "alice", &authz).await;
    let (body, _) = waited(poll).await;
    assert_eq!(body["done"], json!(true), "{body}");
    assert_eq!(
        code_of(
            &redirect_params(str_of(&body, "redirect")),
            &authz,
            &tp.issuer
        ),
        code,
        "the long-poll and the form answer differ"
    );
    let late = tp
        .provider
        .context
        .decide_consent(&form.request_id, true, Some("bob".into()))
        .await;
    assert!(
        matches!(late, Err(authdesk::Error::NotFound { .. })),
        "a window decision after the page's: {late:?}"
    );
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("alice").await));
    tp.stop().await;
}

/// The page polls again 200 ms after each 25 s long-poll, and starts polling only once
/// it has loaded; a window decision taken in such a gap must still reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_decision_taken_between_two_polls_still_reaches_the_page() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    tp.provider
        .context
        .decide_consent(&form.request_id, true, Some("bob".into()))
        .await
        .expect("the window approves");
    let answer = browser
        .get(&tp.url(&format!("/authorize/wait?request_id={}", form.request_id)))
        .await;
    let body: Value = serde_json::from_str(&answer.text).expect("JSON");
    assert_eq!(body["done"], json!(true), "{body}");
    code_of(
        &redirect_params(str_of(&body, "redirect")),
        &authz,
        &tp.issuer,
    );
    tp.stop().await;
}
