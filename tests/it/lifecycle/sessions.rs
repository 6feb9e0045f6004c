//! Provider sessions (the `authdesk_session` cookie set by a decision on the page) and
//! remembered consent: `prompt=none|login|consent`, `max_age`, answers without the
//! page, revoking a consent, and RP-initiated logout.

use authdesk::events::ProviderEvent;
use authdesk::events::RequestStatus;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

use super::harness::{
    Answer, Authz, Browser, CLIENT, LOGOUT_URI, Lab, SCOPES, assert_error_response, code_of, str_of,
};

/// A browser signed in on the page as `username` (consent to [`SCOPES`] remembered),
/// with the sign-in time.
async fn signed_in(lab: &Lab, username: &str) -> (Browser, i64) {
    let browser = lab.browser();
    let at = lab.core().now();
    let authz = Authz::new(SCOPES);
    let code = browser.sign_in(username, &authz).await;
    assert!(
        browser.session_cookie().is_some(),
        "approving on the page did not set the session cookie"
    );
    lab.exchange(&code, &authz).await;
    (browser, at)
}

/// Asserts that `answer` redirected to the client with `error`; returns the description.
fn assert_silent_error(lab: &Lab, answer: &Answer, authz: &Authz, error: &str) -> String {
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    assert_error_response(&answer.redirect_params(), error, authz, lab.issuer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_without_a_session_is_login_required() {
    let lab = Lab::start().await;
    let mut events = lab.events();
    let authz = Authz::new(SCOPES).with("prompt", "none");
    let answer = lab.browser().authorize(&authz).await;
    let description = assert_silent_error(&lab, &answer, &authz, "login_required");
    assert!(description.contains("prompt=none"), "{description}");
    let entry = events.request("authorize", RequestStatus::Rejected).await;
    assert_eq!(entry.error.as_deref(), Some("login_required"));
    assert!(lab.provider.context.pending_consents().is_empty());
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_with_a_session_but_new_scopes_is_consent_required() {
    let lab = Lab::start().await;
    let (browser, _) = signed_in(&lab, "bob").await;
    let authz = Authz::new("openid profile email").with("prompt", "none");
    let answer = browser.authorize(&authz).await;
    let description = assert_silent_error(&lab, &answer, &authz, "consent_required");
    assert!(
        description.contains("bob") && description.contains("email"),
        "the cause should name the persona and the scopes: {description}"
    );
    assert!(lab.provider.context.pending_consents().is_empty());
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_with_a_session_and_consent_answers_with_a_code_and_no_page() {
    let lab = Lab::start().await;
    let (browser, signed_in_at) = signed_in(&lab, "bob").await;
    let mut events = lab.events();
    let authz = Authz::new(SCOPES).with("prompt", "none");
    let answer = browser.authorize(&authz).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let code = code_of(&answer.redirect_params(), &authz, lab.issuer());
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
    let tokens = lab.exchange(&code, &authz).await;
    let claims = lab.id_token_claims(str_of(&tokens, "id_token")).await;
    assert_eq!(claims["sub"], json!(lab.sub_of("bob").await));
    assert_eq!(claims["auth_time"], json!(signed_in_at));
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_with_a_session_shows_the_page_again() {
    let lab = Lab::start().await;
    let (browser, signed_in_at) = signed_in(&lab, "bob").await;
    lab.clock.advance(5);
    let authz = Authz::new(SCOPES).with("prompt", "login");
    let form = browser.authorize(&authz).await.consent();
    // A fresh sign-in: a new auth_time.
    let code = browser.approve_as(&form, "bob", &authz).await;
    let tokens = lab.exchange(&code, &authz).await;
    let claims = lab.id_token_claims(str_of(&tokens, "id_token")).await;
    assert_eq!(claims["auth_time"], json!(signed_in_at + 5));
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_shorter_than_the_sign_in_age_is_not_answered_silently() {
    let lab = Lab::start().await;
    let (browser, _) = signed_in(&lab, "bob").await;
    // max_age=0 is prompt=login (OIDC Core §3.1.2.1), even in the second of the sign-in.
    browser
        .authorize(&Authz::new(SCOPES).with("max_age", "0"))
        .await
        .consent();
    lab.clock.advance(3);

    // A generous max_age is answered silently: the session is what counts.
    let fresh = Authz::new(SCOPES).with("max_age", "3600");
    let answer = browser.authorize(&fresh).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    code_of(&answer.redirect_params(), &fresh, lab.issuer());

    // max_age=0 needs a new sign-in: the page, not a code.
    browser
        .authorize(&Authz::new(SCOPES).with("max_age", "0"))
        .await
        .consent();

    // …which prompt=none forbids.
    let silent = Authz::new(SCOPES)
        .with("prompt", "none")
        .with("max_age", "0");
    let answer = browser.authorize(&silent).await;
    let description = assert_silent_error(&lab, &answer, &silent, "login_required");
    assert!(description.contains("max_age"), "{description}");
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_consent_skips_the_page_and_keeps_the_first_sign_in_time() {
    let lab = Lab::start().await;
    let browser = lab.browser();
    let signed_in_at = lab.core().now();
    let first = Authz::new(SCOPES);
    let code = browser.sign_in("bob", &first).await;
    let tokens = lab.exchange(&code, &first).await;
    let claims = lab.id_token_claims(str_of(&tokens, "id_token")).await;
    assert_eq!(claims["auth_time"], json!(signed_in_at));

    let consents = lab
        .core()
        .list_consents(Some("bob"))
        .await
        .expect("consents");
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert_eq!(consents[0].client_id, CLIENT);

    lab.clock.advance(30);
    let mut events = lab.events();
    let second = Authz::new(SCOPES);
    let answer = browser.authorize(&second).await;
    assert_eq!(
        answer.status,
        StatusCode::FOUND,
        "remembered consent should skip the page:\n{}",
        answer.body
    );
    let code = code_of(&answer.redirect_params(), &second, lab.issuer());
    let tokens = lab.exchange(&code, &second).await;
    let claims = lab.id_token_claims(str_of(&tokens, "id_token")).await;
    assert_eq!(claims["sub"], json!(lab.sub_of("bob").await));
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
    let subset = Authz::new("openid");
    let answer = browser.authorize(&subset).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);

    // prompt=consent asks again.
    let form = browser
        .authorize(&Authz::new(SCOPES).with("prompt", "consent"))
        .await
        .consent();
    assert_eq!(
        form.checked.as_deref(),
        Some("bob"),
        "the signed-in persona is preselected"
    );
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_consent_shows_the_page_again_and_revokes_the_grants_tokens() {
    let lab = Lab::start().await;
    let browser = lab.browser();
    let first = Authz::new(SCOPES);
    let code = browser.sign_in("bob", &first).await;
    let page_tokens = lab.exchange(&code, &first).await;
    let second = Authz::new(SCOPES);
    let answer = browser.authorize(&second).await;
    let code = code_of(&answer.redirect_params(), &second, lab.issuer());
    let silent_tokens = lab.exchange(&code, &second).await;
    // alice's grant to the same client is not bob's to revoke.
    let alice = Authz::new(SCOPES);
    let code = lab.browser().sign_in("alice", &alice).await;
    let alice_tokens = lab.exchange(&code, &alice).await;

    lab.core()
        .revoke_consent("bob", CLIENT)
        .await
        .expect("revoke bob's consent");

    for (what, tokens) in [("page", &page_tokens), ("silent", &silent_tokens)] {
        for kind in ["access_token", "refresh_token"] {
            let v = lab.introspect(str_of(tokens, kind)).await;
            assert_eq!(
                v["active"],
                json!(false),
                "{what} sign-in's {kind} after revoking the consent: {v}"
            );
        }
        let (status, body) = lab
            .post_as_client(
                "/token",
                super::harness::SECRET,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", str_of(tokens, "refresh_token")),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], json!("invalid_grant"), "{body}");
    }
    assert_eq!(
        lab.introspect(str_of(&alice_tokens, "access_token")).await["active"],
        json!(true),
        "alice's tokens were revoked with bob's consent"
    );
    assert!(
        lab.core()
            .list_consents(Some("bob"))
            .await
            .expect("consents")
            .is_empty()
    );

    // The next sign-in asks again, still as bob by default.
    let form = browser.authorize(&Authz::new(SCOPES)).await.consent();
    assert_eq!(form.checked.as_deref(), Some("bob"));
    let again = lab.core().revoke_consent("bob", CLIENT).await;
    assert!(
        matches!(again, Err(authdesk::Error::NotFound { .. })),
        "revoking a consent twice: {again:?}"
    );
    lab.provider.shutdown().await.expect("clean shutdown");
}

fn logout_url(lab: &Lab, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&lab.url("/end_session")).expect("URL");
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// The hidden fields of a page's form, unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_link_without_a_hint_signs_nobody_out_until_confirmed() {
    let lab = Lab::start().await;
    let (browser, _) = signed_in(&lab, "bob").await;
    let cookie = browser.session_cookie().expect("signed in");
    // Any page can link (or POST) here: without a hint nothing happens yet.
    for answer in [
        browser.get(&logout_url(&lab, &[])).await,
        browser.post_form(&lab.url("/end_session"), &[]).await,
        browser
            .post_form(&lab.url("/end_session"), &[("confirm", "forged")])
            .await,
    ] {
        answer.assert_page(StatusCode::OK);
        assert!(
            answer.text().contains("Sign out of Authdesk?"),
            "{}",
            answer.body
        );
    }
    assert_eq!(browser.session_cookie().as_deref(), Some(cookie.as_str()));
    let silent = Authz::new(SCOPES).with("prompt", "none");
    let answer = browser.authorize(&silent).await;
    code_of(&answer.redirect_params(), &silent, lab.issuer());
    // A confirmation posted from another browser (without the page's cookie) fails too.
    let asked = browser.get(&logout_url(&lab, &[])).await;
    let fields = hidden_fields(&asked.text());
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let elsewhere = lab
        .backchannel()
        .post(lab.url("/end_session"))
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
    code_of(&answer.redirect_params(), &silent, lab.issuer());
    // The person's own confirmation signs out.
    let answer = browser.post_form(&lab.url("/end_session"), &form).await;
    answer.assert_page(StatusCode::OK);
    assert!(
        answer.text().contains("You are signed out"),
        "{}",
        answer.body
    );
    let answer = browser.authorize(&silent).await;
    assert_silent_error(&lab, &answer, &silent, "login_required");
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_returns_to_a_registered_uri_with_state_and_ends_the_session() {
    let lab = Lab::start().await;
    let (browser, _) = signed_in(&lab, "bob").await;
    let old_cookie = browser.session_cookie().expect("signed in");
    let mut events = lab.events();

    let state = "bye & see you";
    // Without an id_token_hint the request is not known to come from the client, so
    // the person confirms first (RP-Initiated Logout 1.0 §2)…
    let asked = browser
        .get(&logout_url(
            &lab,
            &[
                ("client_id", CLIENT),
                ("post_logout_redirect_uri", LOGOUT_URI),
                ("state", state),
            ],
        ))
        .await;
    asked.assert_page(StatusCode::OK);
    assert!(
        asked.text().contains("Sign out of Authdesk?"),
        "{}",
        asked.body
    );
    assert_eq!(
        browser.session_cookie().as_deref(),
        Some(old_cookie.as_str())
    );
    // …and the confirmation carries the request on.
    let fields = hidden_fields(&asked.text());
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = browser.post_form(&lab.url("/end_session"), &form).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let location = url::Url::parse(answer.location().expect("Location")).expect("URL");
    assert_eq!(
        &location[..url::Position::AfterPath],
        LOGOUT_URI,
        "{location}"
    );
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(query, [("state".to_string(), state.to_string())]);
    let cleared = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("authdesk_session="))
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
    let silent = Authz::new(SCOPES).with("prompt", "none");
    let answer = browser.authorize(&silent).await;
    assert_silent_error(&lab, &answer, &silent, "login_required");
    // …and so is anyone still holding the old cookie: the session is gone server-side.
    let replayed = lab
        .backchannel()
        .get(silent.url(lab.issuer()))
        .header(COOKIE, format!("authdesk_session={old_cookie}"))
        .send()
        .await
        .expect("authorize with the old cookie");
    assert_eq!(replayed.status(), StatusCode::FOUND);
    let location = replayed
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    assert_error_response(
        &super::harness::redirect_params(&location),
        "login_required",
        &silent,
        lab.issuer(),
    );
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_finds_the_client_from_the_id_token_hint() {
    let lab = Lab::start().await;
    let browser = lab.browser();
    let authz = Authz::new(SCOPES);
    let code = browser.sign_in("bob", &authz).await;
    let tokens = lab.exchange(&code, &authz).await;
    let answer = browser
        .get(&logout_url(
            &lab,
            &[
                ("id_token_hint", str_of(&tokens, "id_token")),
                ("post_logout_redirect_uri", LOGOUT_URI),
            ],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    assert_eq!(answer.location(), Some(LOGOUT_URI));
    assert_eq!(browser.session_cookie(), None);
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_refuses_a_hint_it_did_not_sign_or_issued_to_another_client() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let lab = Lab::start().await;
    let browser = lab.browser();
    let authz = Authz::new(SCOPES);
    let code = browser.sign_in("bob", &authz).await;
    let tokens = lab.exchange(&code, &authz).await;
    let id_token = str_of(&tokens, "id_token");
    let parts: Vec<&str> = id_token.split('.').collect();
    let mut events = lab.events();
    // The same claims unsigned (alg none), and with another payload under the signature.
    let unsigned = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), parts[1]);
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).expect("base64")).expect("claims");
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
                &lab,
                &[
                    ("id_token_hint", hint.as_str()),
                    ("post_logout_redirect_uri", LOGOUT_URI),
                ],
            ))
            .await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer
                .text()
                .contains("id_token_hint is not an ID token issued by this Authdesk"),
            "{}",
            answer.text()
        );
        let entry = events.request("end_session", RequestStatus::Rejected).await;
        assert_eq!(entry.error.as_deref(), Some("invalid_request"));
    }
    // A real hint with another client's id.
    let answer = browser
        .get(&logout_url(
            &lab,
            &[
                ("id_token_hint", id_token),
                ("client_id", "someone-elses-app"),
                ("post_logout_redirect_uri", LOGOUT_URI),
            ],
        ))
        .await;
    answer.assert_page(StatusCode::BAD_REQUEST);
    assert!(
        answer.text().contains("someone-elses-app"),
        "{}",
        answer.text()
    );
    // None of them ended the session; the real hint, with its client, does.
    assert!(browser.session_cookie().is_some());
    let answer = browser
        .get(&logout_url(
            &lab,
            &[
                ("id_token_hint", id_token),
                ("client_id", CLIENT),
                ("post_logout_redirect_uri", LOGOUT_URI),
            ],
        ))
        .await;
    assert_eq!(answer.location(), Some(LOGOUT_URI), "{}", answer.body);
    assert_eq!(browser.session_cookie(), None);
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_to_an_unregistered_uri_shows_an_error_page_and_never_redirects() {
    let lab = Lab::start().await;
    let (browser, _) = signed_in(&lab, "bob").await;
    let mut events = lab.events();
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
        let answer = browser.get(&logout_url(&lab, &params)).await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer.body.contains("post_logout_redirect_uri"),
            "{params:?}: the page should name the parameter:\n{}",
            answer.body
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
            &lab,
            &[("client_id", CLIENT), ("post_logout_redirect_uri", evil)],
        ))
        .await;
    let text = answer.text();
    assert!(
        text.contains(evil) && text.contains(LOGOUT_URI),
        "the page should name the URI and the registered ones:\n{text}"
    );
    lab.provider.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_the_end_session_endpoint() {
    let lab = Lab::start().await;
    let doc: serde_json::Value = lab
        .backchannel()
        .get(lab.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["end_session_endpoint"], json!(lab.url("/end_session")));
    let prompts = doc["prompt_values_supported"].to_string();
    for p in ["none", "login", "consent"] {
        assert!(prompts.contains(p), "{p} missing from {prompts}");
    }
    lab.provider.shutdown().await.expect("clean shutdown");
}
