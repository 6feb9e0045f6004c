//! Provider sessions (the `authdesk_session` cookie set by a decision on the page) and
//! remembered consent: `prompt=none|login|consent`, `max_age`, answers without the
//! page, revoking a consent, and RP-initiated logout.

use authdesk::events::ProviderEvent;
use authdesk::events::RequestStatus;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{
    Authz, Browser, LOGOUT_REDIRECT, Reply, TestProvider, assert_redirect_error, code_of,
    hidden_inputs, jwt_claims, str_of,
};

/// A browser signed in on the page as `username` (consent to [`SCOPES`] remembered),
/// with the sign-in time.
async fn signed_in(tp: &TestProvider, username: &str) -> (Browser, i64) {
    let browser = tp.browser();
    let at = tp.core().now();
    let authz = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in(username, &authz).await;
    assert!(
        browser.session_cookie().is_some(),
        "approving on the page did not set the session cookie"
    );
    tp.exchange(&code, &CLIENT_AUTH).await;
    (browser, at)
}

/// Asserts that `answer` redirected to the client with `error`; returns the description.
fn assert_silent_error(tp: &TestProvider, answer: &Reply, authz: &Authz, error: &str) -> String {
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    assert_redirect_error(&answer.redirect_params(), error, &authz.state, &tp.issuer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_without_a_session_is_login_required() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let authz = Authz::new(CLIENT, SCOPES).with("prompt", "none");
    let answer = tp.browser().authorize(&authz).await;
    let description = assert_silent_error(&tp, &answer, &authz, "login_required");
    assert!(description.contains("prompt=none"), "{description}");
    let entry = events.request("authorize", RequestStatus::Rejected).await;
    assert_eq!(entry.error.as_deref(), Some("login_required"));
    assert!(tp.provider.context.pending_consents().is_empty());
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_with_a_session_but_new_scopes_is_consent_required() {
    let tp = super::provider().await;
    let (browser, _) = signed_in(&tp, "bob").await;
    let authz = Authz::new(CLIENT, "openid profile email").with("prompt", "none");
    let answer = browser.authorize(&authz).await;
    let description = assert_silent_error(&tp, &answer, &authz, "consent_required");
    assert!(
        description.contains("bob") && description.contains("email"),
        "the cause should name the persona and the scopes: {description}"
    );
    assert!(tp.provider.context.pending_consents().is_empty());
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_with_a_session_and_consent_answers_with_a_code_and_no_page() {
    let tp = super::provider().await;
    let (browser, signed_in_at) = signed_in(&tp, "bob").await;
    let mut events = tp.events();
    let authz = Authz::new(CLIENT, SCOPES).with("prompt", "none");
    let answer = browser.authorize(&authz).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    let code = code_of(&answer.redirect_params(), &authz, &tp.issuer);
    let approved = events.request("authorize", RequestStatus::Approved).await;
    assert_eq!(approved.username.as_deref(), Some("bob"));
    assert_eq!(approved.detail["decided_by"], json!("remembered_consent"));
    assert!(
        !events
            .all_so_far()
            .iter()
            .any(|e| matches!(e, ProviderEvent::ConsentPending { .. })),
        "a silent answer waited for consent"
    );
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    assert_eq!(claims["auth_time"], json!(signed_in_at));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_with_a_session_shows_the_page_again() {
    let tp = super::provider().await;
    let (browser, signed_in_at) = signed_in(&tp, "bob").await;
    tp.clock.advance(5);
    let authz = Authz::new(CLIENT, SCOPES).with("prompt", "login");
    let form = browser.authorize(&authz).await.consent();
    // A fresh sign-in: a new auth_time.
    let code = browser.approve_as(&form, "bob", &authz).await;
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["auth_time"], json!(signed_in_at + 5));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_shorter_than_the_sign_in_age_is_not_answered_silently() {
    let tp = super::provider().await;
    let (browser, _) = signed_in(&tp, "bob").await;
    // max_age=0 is prompt=login (OIDC Core §3.1.2.1), even in the second of the sign-in.
    browser
        .authorize(&Authz::new(CLIENT, SCOPES).with("max_age", "0"))
        .await
        .consent();
    tp.clock.advance(3);

    // A generous max_age is answered silently: the session is what counts.
    let fresh = Authz::new(CLIENT, SCOPES).with("max_age", "3600");
    let answer = browser.authorize(&fresh).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    code_of(&answer.redirect_params(), &fresh, &tp.issuer);

    // max_age=0 needs a new sign-in: the page, not a code.
    browser
        .authorize(&Authz::new(CLIENT, SCOPES).with("max_age", "0"))
        .await
        .consent();

    // …which prompt=none forbids.
    let silent = Authz::new(CLIENT, SCOPES)
        .with("prompt", "none")
        .with("max_age", "0");
    let answer = browser.authorize(&silent).await;
    let description = assert_silent_error(&tp, &answer, &silent, "login_required");
    assert!(description.contains("max_age"), "{description}");
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_consent_skips_the_page_and_keeps_the_first_sign_in_time() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let signed_in_at = tp.core().now();
    let first = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in("bob", &first).await;
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["auth_time"], json!(signed_in_at));

    let consents = tp
        .core()
        .list_consents(Some("bob"))
        .await
        .expect("consents");
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert_eq!(consents[0].client_id, CLIENT);

    tp.clock.advance(30);
    let mut events = tp.events();
    let second = Authz::new(CLIENT, SCOPES);
    let answer = browser.authorize(&second).await;
    assert_eq!(
        answer.status,
        StatusCode::FOUND,
        "remembered consent should skip the page:\n{}",
        answer.text
    );
    let code = code_of(&answer.redirect_params(), &second, &tp.issuer);
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    assert_eq!(claims["nonce"], json!(second.nonce));
    assert_eq!(
        claims["auth_time"],
        json!(signed_in_at),
        "auth_time is the first sign-in's"
    );
    assert_eq!(claims["iat"], json!(signed_in_at + 30));
    let approved = events.request("authorize", RequestStatus::Approved).await;
    assert_eq!(approved.detail["decided_by"], json!("remembered_consent"));

    // A subset of the consented scopes needs no page either.
    let subset = Authz::new(CLIENT, "openid");
    let answer = browser.authorize(&subset).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);

    // prompt=consent asks again.
    let form = browser
        .authorize(&Authz::new(CLIENT, SCOPES).with("prompt", "consent"))
        .await
        .consent();
    assert_eq!(
        form.checked.as_deref(),
        Some("bob"),
        "the signed-in persona is preselected"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_consent_shows_the_page_again_and_revokes_the_grants_tokens() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let first = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in("bob", &first).await;
    let page_tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let second = Authz::new(CLIENT, SCOPES);
    let answer = browser.authorize(&second).await;
    let code = code_of(&answer.redirect_params(), &second, &tp.issuer);
    let silent_tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    // alice's grant to the same client is not bob's to revoke.
    let alice = Authz::new(CLIENT, SCOPES);
    let code = tp.browser().sign_in("alice", &alice).await;
    let alice_tokens = tp.exchange(&code, &CLIENT_AUTH).await;

    tp.core()
        .revoke_consent("bob", CLIENT)
        .await
        .expect("revoke bob's consent");

    for (what, tokens) in [("page", &page_tokens), ("silent", &silent_tokens)] {
        for kind in ["access_token", "refresh_token"] {
            let v = tp.introspect(str_of(tokens, kind), &CLIENT_AUTH).await;
            assert_eq!(
                v["active"],
                json!(false),
                "{what} sign-in's {kind} after revoking the consent: {v}"
            );
        }
        let refused = tp
            .token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", str_of(tokens, "refresh_token")),
                ],
                &CLIENT_AUTH,
            )
            .await;
        let (status, body) = (refused.status, refused.body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], json!("invalid_grant"), "{body}");
    }
    assert_eq!(
        tp.introspect(str_of(&alice_tokens, "access_token"), &CLIENT_AUTH)
            .await["active"],
        json!(true),
        "alice's tokens were revoked with bob's consent"
    );
    assert!(
        tp.core()
            .list_consents(Some("bob"))
            .await
            .expect("consents")
            .is_empty()
    );

    // The next sign-in asks again, still as bob by default.
    let form = browser
        .authorize(&Authz::new(CLIENT, SCOPES))
        .await
        .consent();
    assert_eq!(form.checked.as_deref(), Some("bob"));
    let again = tp.core().revoke_consent("bob", CLIENT).await;
    assert!(
        matches!(again, Err(authdesk::Error::NotFound { .. })),
        "revoking a consent twice: {again:?}"
    );
    tp.stop().await;
}

fn logout_url(tp: &TestProvider, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&tp.url("/end_session")).expect("URL");
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_link_without_a_hint_signs_nobody_out_until_confirmed() {
    let tp = super::provider().await;
    let (browser, _) = signed_in(&tp, "bob").await;
    let cookie = browser.session_cookie().expect("signed in");
    // Any page can link (or POST) here: without a hint nothing happens yet.
    for answer in [
        browser.get(&logout_url(&tp, &[])).await,
        browser.post_form(&tp.url("/end_session"), &[]).await,
        browser
            .post_form(&tp.url("/end_session"), &[("confirm", "forged")])
            .await,
    ] {
        answer.assert_page(StatusCode::OK);
        assert!(
            answer.html_text().contains("Sign out of Authdesk?"),
            "{}",
            answer.text
        );
    }
    assert_eq!(browser.session_cookie().as_deref(), Some(cookie.as_str()));
    let silent = Authz::new(CLIENT, SCOPES).with("prompt", "none");
    let answer = browser.authorize(&silent).await;
    code_of(&answer.redirect_params(), &silent, &tp.issuer);
    // A confirmation posted from another browser (without the page's cookie) fails too.
    let asked = browser.get(&logout_url(&tp, &[])).await;
    let fields = hidden_inputs(&asked.text);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let elsewhere = tp
        .http
        .post(tp.url("/end_session"))
        .header(COOKIE, format!("authdesk_session={cookie}"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert!(
        elsewhere
            .text()
            .await
            .unwrap_or_default()
            .contains("Sign out of Authdesk?")
    );
    let answer = browser.authorize(&silent).await;
    code_of(&answer.redirect_params(), &silent, &tp.issuer);
    // The person's own confirmation signs out.
    let answer = browser.post_form(&tp.url("/end_session"), &form).await;
    answer.assert_page(StatusCode::OK);
    assert!(
        answer.html_text().contains("You are signed out"),
        "{}",
        answer.text
    );
    let answer = browser.authorize(&silent).await;
    assert_silent_error(&tp, &answer, &silent, "login_required");
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_returns_to_a_registered_uri_with_state_and_ends_the_session() {
    let tp = super::provider().await;
    let (browser, _) = signed_in(&tp, "bob").await;
    let old_cookie = browser.session_cookie().expect("signed in");
    let mut events = tp.events();

    let state = "bye & see you";
    // Without an id_token_hint the request is not known to come from the client, so
    // the person confirms first (RP-Initiated Logout 1.0 §2)…
    let asked = browser
        .get(&logout_url(
            &tp,
            &[
                ("client_id", CLIENT),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
                ("state", state),
            ],
        ))
        .await;
    asked.assert_page(StatusCode::OK);
    assert!(
        asked.html_text().contains("Sign out of Authdesk?"),
        "{}",
        asked.text
    );
    assert_eq!(
        browser.session_cookie().as_deref(),
        Some(old_cookie.as_str())
    );
    // …and the confirmation carries the request on.
    let fields = hidden_inputs(&asked.text);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = browser.post_form(&tp.url("/end_session"), &form).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    let location = answer.location();
    assert_eq!(
        &location[..url::Position::AfterPath],
        LOGOUT_REDIRECT,
        "{location}"
    );
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(query, [("state".to_string(), state.to_string())]);
    let cleared = answer
        .set_cookie("authdesk_session")
        .unwrap_or_else(|| panic!("logout did not clear the cookie: {:?}", answer.headers));
    assert!(
        cleared.starts_with("authdesk_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.session_cookie(), None);

    let entry = events
        .request("end_session", RequestStatus::Completed)
        .await;
    assert_eq!(entry.client_id.as_deref(), Some(CLIENT));
    assert_eq!(entry.username.as_deref(), Some("bob"));

    // The browser is signed out…
    let silent = Authz::new(CLIENT, SCOPES).with("prompt", "none");
    let answer = browser.authorize(&silent).await;
    assert_silent_error(&tp, &answer, &silent, "login_required");
    // …and so is anyone still holding the old cookie: the session is gone server-side.
    let replayed = tp
        .http
        .get(silent.url(&tp.issuer))
        .header(COOKIE, format!("authdesk_session={old_cookie}"))
        .send()
        .await
        .expect("authorize with the old cookie");
    let replayed = Reply::read(replayed).await;
    assert_eq!(replayed.status, StatusCode::FOUND);
    assert_redirect_error(
        &replayed.redirect_params(),
        "login_required",
        &silent.state,
        &tp.issuer,
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_finds_the_client_from_the_id_token_hint() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in("bob", &authz).await;
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let answer = browser
        .get(&logout_url(
            &tp,
            &[
                ("id_token_hint", str_of(&tokens, "id_token")),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    assert_eq!(answer.location().as_str(), LOGOUT_REDIRECT);
    assert_eq!(browser.session_cookie(), None);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_refuses_a_hint_it_did_not_sign_or_issued_to_another_client() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in("bob", &authz).await;
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let id_token = str_of(&tokens, "id_token");
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut events = tp.events();
    // The same claims unsigned (alg none), and with another payload under the signature.
    let unsigned = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), parts[1]);
    let mut claims = jwt_claims(id_token);
    claims["sub"] = json!("someone-else");
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(claims.to_string()),
        parts[2]
    );
    for hint in [&unsigned, &altered] {
        let answer = browser
            .get(&logout_url(
                &tp,
                &[
                    ("id_token_hint", hint.as_str()),
                    ("post_logout_redirect_uri", LOGOUT_REDIRECT),
                ],
            ))
            .await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer
                .html_text()
                .contains("id_token_hint is not an ID token issued by this Authdesk"),
            "{}",
            answer.html_text()
        );
        let entry = events.request("end_session", RequestStatus::Rejected).await;
        assert_eq!(entry.error.as_deref(), Some("invalid_request"));
    }
    // A real hint with another client's id.
    let answer = browser
        .get(&logout_url(
            &tp,
            &[
                ("id_token_hint", id_token),
                ("client_id", "someone-elses-app"),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ],
        ))
        .await;
    answer.assert_page(StatusCode::BAD_REQUEST);
    assert!(
        answer.html_text().contains("someone-elses-app"),
        "{}",
        answer.html_text()
    );
    // None of them ended the session; the real hint, with its client, does.
    assert!(browser.session_cookie().is_some());
    let answer = browser
        .get(&logout_url(
            &tp,
            &[
                ("id_token_hint", id_token),
                ("client_id", CLIENT),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ],
        ))
        .await;
    assert_eq!(
        answer.location().as_str(),
        LOGOUT_REDIRECT,
        "{}",
        answer.text
    );
    assert_eq!(browser.session_cookie(), None);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_to_an_unregistered_uri_shows_an_error_page_and_never_redirects() {
    let tp = super::provider().await;
    let (browser, _) = signed_in(&tp, "bob").await;
    let mut events = tp.events();
    let evil = "https://evil.example/after-logout";
    for params in [
        vec![
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", evil),
            ("state", "s"),
        ],
        // Without the client, no URI can be checked.
        vec![("post_logout_redirect_uri", evil), ("state", "s")],
    ] {
        let answer = browser.get(&logout_url(&tp, &params)).await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer.text.contains("post_logout_redirect_uri"),
            "{params:?}: the page should name the parameter:\n{}",
            answer.text
        );
        let entry = events.request("end_session", RequestStatus::Rejected).await;
        assert_eq!(
            entry.error.as_deref(),
            Some("invalid_request"),
            "{params:?}"
        );
    }
    let answer = browser
        .get(&logout_url(
            &tp,
            &[("client_id", CLIENT), ("post_logout_redirect_uri", evil)],
        ))
        .await;
    let text = answer.html_text();
    assert!(
        text.contains(evil) && text.contains(LOGOUT_REDIRECT),
        "the page should name the URI and the registered ones:\n{text}"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_the_end_session_endpoint() {
    let tp = super::provider().await;
    let doc: serde_json::Value = tp
        .http
        .get(tp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["end_session_endpoint"], json!(tp.url("/end_session")));
    let prompts = doc["prompt_values_supported"].to_string();
    for p in ["none", "login", "consent"] {
        assert!(prompts.contains(p), "{p} missing from {prompts}");
    }
    tp.stop().await;
}
