//! The consent page itself: it cannot be framed, its form needs its CSRF token, a
//! `login_hint` preselects the persona, the claims override is checked before it is
//! used, and a denial goes back to the client as `access_denied`.

use authdesk::events::RequestStatus;
use reqwest::StatusCode;
use serde_json::json;

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{Authz, REDIRECT, assert_redirect_error, code_of, str_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_cannot_be_framed_and_allows_only_its_own_scripts_and_form() {
    let tp = super::provider().await;
    let answer = tp.browser().authorize(&Authz::new(CLIENT, SCOPES)).await;
    answer.assert_page(StatusCode::OK);
    let csp = answer.header("content-security-policy");
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for d in [
        "frame-ancestors 'none'",
        "default-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(directives.contains(&d), "{d:?} missing from CSP {csp:?}");
    }
    // The form posts to the provider and its answer redirects to the client: exactly
    // those two origins (Chromium applies form-action to the redirect too).
    let redirect_origin = url::Url::parse(REDIRECT)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(
        directives.contains(&format!("form-action 'self' {redirect_origin}").as_str()),
        "form-action should allow only 'self' and {redirect_origin}: {csp:?}"
    );
    // Inline script and style run only with this page's nonce.
    let script_src = directives
        .iter()
        .find(|d| d.starts_with("script-src "))
        .unwrap_or_else(|| panic!("no script-src in {csp:?}"));
    let nonce = script_src
        .strip_prefix("script-src 'nonce-")
        .and_then(|n| n.strip_suffix('\''))
        .unwrap_or_else(|| panic!("script-src is not a nonce: {script_src}"));
    assert!(
        answer.text.contains(&format!("<script nonce=\"{nonce}\">")),
        "the page's script does not carry the CSP nonce"
    );
    assert_eq!(answer.header("x-frame-options"), "DENY");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("cache-control"), "no-store");

    // Each page gets a fresh nonce.
    let again = tp.browser().authorize(&Authz::new(CLIENT, SCOPES)).await;
    assert_ne!(again.header("content-security-policy"), csp);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_without_the_right_csrf_token_is_refused_on_a_page() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    let decision = tp.url("/authorize/decision");
    let request_id = form.request_id.as_str();
    let other = browser
        .authorize(&Authz::new(CLIENT, SCOPES))
        .await
        .consent();

    for (what, fields) in [
        (
            "a wrong token",
            vec![
                ("request_id", request_id),
                ("csrf", "0123456789abcdef0123"),
                ("action", "approve"),
                ("username", "bob"),
            ],
        ),
        (
            "no token",
            vec![
                ("request_id", request_id),
                ("action", "approve"),
                ("username", "bob"),
            ],
        ),
        (
            "the token of another request",
            vec![
                ("request_id", request_id),
                ("csrf", other.csrf.as_str()),
                ("action", "approve"),
                ("username", "bob"),
            ],
        ),
    ] {
        let answer = browser.post_form(&decision, &fields).await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer.text.contains("CSRF"),
            "{what}: the page should name the CSRF token:\n{}",
            answer.text
        );
        assert!(
            browser.session_cookie().is_none(),
            "{what}: a refused decision signed the browser in"
        );
    }
    // The request is still pending, and the real form still works.
    assert!(
        tp.provider
            .context
            .pending_consents()
            .iter()
            .any(|p| p.request_id == form.request_id),
        "a refused decision dropped the pending request"
    );
    let code = browser.approve_as(&form, "bob", &authz).await;
    assert!(!code.code.is_empty());
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_hint_preselects_the_persona() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let plain = browser
        .authorize(&Authz::new(CLIENT, SCOPES))
        .await
        .consent();
    assert!(
        plain.personas.iter().any(|p| p == "alice") && plain.personas.iter().any(|p| p == "bob"),
        "{:?}",
        plain.personas
    );
    let first = plain.personas[0].clone();
    assert_eq!(plain.checked.as_ref(), Some(&first), "without a hint");

    // Hint the persona that is not preselected by default.
    let other = if first == "bob" { "alice" } else { "bob" };
    let hinted = browser
        .authorize(&Authz::new(CLIENT, SCOPES).with("login_hint", other))
        .await
        .consent();
    assert_eq!(
        hinted.checked.as_deref(),
        Some(other),
        "with login_hint={other}"
    );
    let checked = hinted.html.matches(" checked").count();
    assert_eq!(
        checked, 1,
        "exactly one persona is checked:\n{}",
        hinted.html
    );

    // An unknown hint falls back to the first persona rather than checking nothing.
    let unknown = browser
        .authorize(&Authz::new(CLIENT, SCOPES).with("login_hint", "nobody"))
        .await
        .consent();
    assert_eq!(unknown.checked.as_ref(), Some(&first));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_claims_override_is_refused_on_a_page_and_the_request_stays_pending() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, "openid profile email");
    let form = browser.authorize(&authz).await.consent();
    for (claims, cause) in [
        ("{\"email\": ", "not valid"),
        ("[\"an\", \"array\"]", "JSON object"),
        ("{\"sub\": \"someone-else\"}", "'sub'"),
    ] {
        let answer = browser
            .decide(
                &form,
                &[
                    ("action", "approve"),
                    ("username", "bob"),
                    ("claims", claims),
                ],
            )
            .await;
        answer.assert_page(StatusCode::BAD_REQUEST);
        assert!(
            answer.html_text().contains("claims override") && answer.html_text().contains(cause),
            "claims {claims}: the page should say why ({cause}):\n{}",
            answer.text
        );
    }
    assert!(
        tp.provider
            .context
            .pending_consents()
            .iter()
            .any(|p| p.request_id == form.request_id),
        "a refused override dropped the pending request"
    );
    // Fixing the override on the same form works.
    let answer = browser
        .decide(
            &form,
            &[
                ("action", "approve"),
                ("username", "bob"),
                ("claims", "{\"email\": \"bob@override.example\"}"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    let code = code_of(&answer.redirect_params(), &authz, &tp.issuer);
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    assert_eq!(claims["email"], json!("bob@override.example"));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_claims_override_appears_in_the_id_token_of_that_sign_in_only() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, "openid profile email");
    let form = browser.authorize(&authz).await.consent();
    let answer = browser
        .decide(
            &form,
            &[
                ("action", "approve"),
                ("username", "bob"),
                (
                    "claims",
                    "{\"name\": \"Robert Override\", \"email\": \"robert@override.example\", \"email_verified\": false}",
                ),
            ],
        )
        .await;
    let code = code_of(&answer.redirect_params(), &authz, &tp.issuer);
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["sub"], json!(tp.sub_of("bob").await));
    assert_eq!(claims["nonce"], json!(authz.nonce));
    assert_eq!(claims["name"], json!("Robert Override"));
    assert_eq!(claims["email"], json!("robert@override.example"));
    assert_eq!(claims["email_verified"], json!(false));

    // The persona itself is unchanged: the next sign-in (with a fresh browser, so the
    // page is shown) carries bob's own claims.
    let authz = Authz::new(CLIENT, "openid profile email");
    let code = tp.browser().sign_in("bob", &authz).await;
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(claims["name"], json!("Bob Example"));
    assert_eq!(claims["email"], json!("bob@example.com"));
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denying_on_the_page_returns_access_denied_with_state_and_iss() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    let answer = browser.decide(&form, &[("action", "deny")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    let description = assert_redirect_error(
        &answer.redirect_params(),
        "access_denied",
        &authz.state,
        &tp.issuer,
    );
    assert!(description.contains("denied"), "{description}");
    assert!(
        browser.session_cookie().is_none(),
        "a denial signed the browser in"
    );

    let denied = events.request("authorize", RequestStatus::Denied).await;
    assert_eq!(denied.client_id.as_deref(), Some(CLIENT));
    assert_eq!(denied.error.as_deref(), Some("access_denied"));
    assert_eq!(denied.detail["decided_by"], json!("page"));
    assert!(
        tp.core()
            .list_consents(Some("bob"))
            .await
            .expect("consents")
            .is_empty(),
        "a denial was remembered as consent"
    );
    assert!(tp.provider.context.pending_consents().is_empty());
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_request_to_authorize_starts_nothing() {
    let tp = super::provider().await;
    let authz = Authz::new(CLIENT, SCOPES);
    let answer = tp
        .http
        .head(authz.url(&tp.issuer))
        .send()
        .await
        .expect("HEAD /authorize");
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        tp.provider.context.pending_consents().is_empty(),
        "a HEAD request waits for consent in the window"
    );
    // The same URL in a browser does.
    tp.browser().authorize(&authz).await.consent();
    assert_eq!(tp.provider.context.pending_consents().len(), 1);
    tp.stop().await;
}

/// A request waits for consent for `PENDING_TTL` (15 minutes); after that the window
/// no longer lists it and the page says it expired instead of issuing a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_can_no_longer_be_approved() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let form = browser.authorize(&authz).await.consent();
    tp.clock.advance(authdesk::oauth::consent::PENDING_TTL + 1);
    assert!(
        tp.provider.context.pending_consents().is_empty(),
        "the window still lists an expired request"
    );
    let answer = browser
        .decide(&form, &[("action", "approve"), ("username", "bob")])
        .await;
    answer.assert_page(StatusCode::BAD_REQUEST);
    assert!(
        answer.html_text().contains("no longer pending"),
        "{}",
        answer.text
    );
    tp.stop().await;
}
