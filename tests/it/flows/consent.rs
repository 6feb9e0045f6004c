//! The consent page (no auto-approve) and the window's decisions on pending requests.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::Value;

use crate::support::{
    Auth, Code, Pkce, REDIRECT, Reply, TestProvider, asking_consent, assert_redirect_error,
    jwt_claims, redirect_params, web_client,
};
use authdesk::model::{ClientInput, UserInput};

/// A provider that asks for consent, with the client "web" named "Acme Dashboard".
async fn manual_provider() -> TestProvider {
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(ClientInput {
        name: Some("Acme Dashboard".into()),
        ..web_client("web", "web-secret")
    })
    .await;
    tp
}

/// Opens the consent page for a code request; returns the page's HTML (unescaped),
/// its request_id and csrf token, and the PKCE verifier.
async fn open_consent(tp: &TestProvider) -> (String, String, String, Pkce) {
    let pkce = Pkce::new();
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "consent-state"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::OK, "the consent page is shown");
    let csp = res.header(CONTENT_SECURITY_POLICY.as_str());
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(res.header(CONTENT_TYPE.as_str()).starts_with("text/html"));
    let form = res.consent();
    (res.html_text(), form.request_id, form.csrf, pkce)
}

async fn decide(tp: &TestProvider, form: &[(&str, &str)]) -> Reply {
    tp.post_form("/authorize/decision", form, &Auth::None).await
}

/// Exchanges the code of `redirect` and returns the id_token's claims.
async fn id_token_of(tp: &TestProvider, redirect: &str, pkce: &Pkce) -> Value {
    let params = redirect_params(redirect);
    assert_eq!(params["state"], "consent-state");
    assert_eq!(params["iss"], tp.issuer);
    let code = Code {
        code: params["code"].clone(),
        verifier: pkce.verifier.clone(),
    };
    let body = tp.exchange(&code, &Auth::basic("web", "web-secret")).await;
    jwt_claims(body["id_token"].as_str().expect("an id_token"))
}

#[tokio::test]
async fn consent_page_shows_client_and_personas_and_approving_as_bob_signs_in_bob() {
    let tp = manual_provider().await;
    let (page, request_id, csrf, pkce) = open_consent(&tp).await;
    assert!(
        page.contains("Sign in to Acme Dashboard"),
        "the client's name is missing"
    );
    assert!(page.contains("data-testid=\"persona-alice\""));
    assert!(page.contains("data-testid=\"persona-bob\""));
    assert!(page.contains("bob@example.com"));
    assert!(
        page.contains("<code class=\"chip\">email</code>"),
        "the requested scope is missing"
    );
    let pending = tp.provider.context.pending_consents();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request_id, request_id);
    assert_eq!(pending[0].client_name, "Acme Dashboard");

    let res = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", &csrf),
            ("action", "approve"),
            ("username", "bob"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let claims = id_token_of(&tp, res.location().as_str(), &pkce).await;
    assert_eq!(claims["sub"], tp.sub_of("bob").await.as_str());
    assert_eq!(claims["email"], "bob@example.com");
    assert!(tp.provider.context.pending_consents().is_empty());

    // Decided once: a second decision finds nothing pending.
    let again = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", &csrf),
            ("action", "deny"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.headers.get(reqwest::header::LOCATION).is_none());
}

#[tokio::test]
async fn denying_on_the_consent_page_sends_access_denied_with_state_and_iss() {
    let tp = manual_provider().await;
    let (_, request_id, csrf, _) = open_consent(&tp).await;
    let res = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", &csrf),
            ("action", "deny"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_redirect_error(
        &res.redirect_params(),
        "access_denied",
        "consent-state",
        &tp.issuer,
    );
}

#[tokio::test]
async fn decision_without_the_pages_csrf_token_is_refused_and_stays_pending() {
    let tp = manual_provider().await;
    let (_, request_id, csrf, pkce) = open_consent(&tp).await;
    let forged = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", "guessed"),
            ("action", "approve"),
            ("username", "bob"),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(forged.headers.get(reqwest::header::LOCATION).is_none());
    assert!(forged.html_text().contains("CSRF"));
    assert_eq!(tp.provider.context.pending_consents().len(), 1);

    let res = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", &csrf),
            ("action", "approve"),
            ("username", "alice"),
        ],
    )
    .await;
    let claims = id_token_of(&tp, res.location().as_str(), &pkce).await;
    assert_eq!(claims["sub"], tp.sub_of("alice").await.as_str());
}

#[tokio::test]
async fn window_approval_reaches_the_waiting_page() {
    let tp = manual_provider().await;
    let (_, request_id, _, pkce) = open_consent(&tp).await;
    let pending = tp.provider.context.pending_consents();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request_id, request_id);
    assert_eq!(pending[0].scopes, ["openid", "email"]);

    // The page long-polls /authorize/wait; decide once that poll is waiting.
    let http = tp.http.clone();
    let wait_url = tp.url(&format!("/authorize/wait?request_id={request_id}"));
    let waiter = tokio::spawn(async move {
        let res = http.get(wait_url).send().await.unwrap();
        assert_eq!(res.headers()["cache-control"], "no-store");
        res.json::<Value>().await.unwrap()
    });
    tp.until_the_page_waits(&request_id).await;
    tp.provider
        .context
        .decide_consent(&request_id, true, Some("bob".into()))
        .await
        .expect("the window approves");

    let answer = waiter.await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    let redirect = answer["redirect"].as_str().expect("a redirect");
    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    let claims = id_token_of(&tp, redirect, &pkce).await;
    assert_eq!(claims["sub"], tp.sub_of("bob").await.as_str());
    assert!(tp.provider.context.pending_consents().is_empty());
}

#[tokio::test]
async fn window_decision_before_the_page_polls_is_still_delivered() {
    // The page polls /authorize/wait in a loop; a decision made in the window while no
    // poll is in flight (between two polls, or before the first) must still reach it.
    let tp = manual_provider().await;
    let (_, request_id, _, pkce) = open_consent(&tp).await;
    tp.provider
        .context
        .decide_consent(&request_id, true, Some("bob".into()))
        .await
        .expect("the window approves");
    let res = tp
        .http
        .get(tp.url(&format!("/authorize/wait?request_id={request_id}")))
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["done"], true,
        "the decision did not reach the page: {answer}"
    );
    let claims = id_token_of(&tp, answer["redirect"].as_str().unwrap(), &pkce).await;
    assert_eq!(claims["sub"], tp.sub_of("bob").await.as_str());
}

#[tokio::test]
async fn auto_approving_client_signs_in_the_hinted_persona() {
    let tp = manual_provider().await;
    tp.add_client(ClientInput {
        auto_approve: Some(true),
        ..web_client("ci", "ci-secret")
    })
    .await;
    let pkce = Pkce::new();
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "ci"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("login_hint", "bob"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(
        res.status,
        StatusCode::FOUND,
        "an auto-approve client skips the page"
    );
    let params = res.redirect_params();
    let code = Code {
        code: params["code"].clone(),
        verifier: pkce.verifier,
    };
    let body = tp.exchange(&code, &Auth::basic("ci", "ci-secret")).await;
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], tp.sub_of("bob").await.as_str());
    assert!(tp.provider.context.pending_consents().is_empty());
}

#[tokio::test]
async fn automatic_approval_follows_a_persona_deleted_and_created_again() {
    // The persona is looked up by name from a cache; deleting and re-creating it must
    // reach the next request at once.
    let tp = manual_provider().await;
    tp.add_client(ClientInput {
        auto_approve: Some(true),
        ..web_client("ci", "ci-secret")
    })
    .await;
    let carol = || UserInput {
        username: Some("carol".into()),
        ..Default::default()
    };
    tp.core().create_user(carol()).await.unwrap();
    let sign_in = || async {
        let pkce = Pkce::new();
        let res = tp
            .authorize(&[
                ("response_type", "code"),
                ("client_id", "ci"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("login_hint", "carol"),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(res.status, StatusCode::FOUND);
        let params = res.redirect_params();
        match params.get("code") {
            Some(code) => {
                let code = Code {
                    code: code.clone(),
                    verifier: pkce.verifier,
                };
                let body = tp.exchange(&code, &Auth::basic("ci", "ci-secret")).await;
                Ok(jwt_claims(body["id_token"].as_str().unwrap())["sub"].clone())
            }
            None => Err(params),
        }
    };
    let first = sign_in().await.expect("carol is signed in");
    assert_eq!(first, tp.sub_of("carol").await.as_str());

    tp.core().delete_user("carol").await.unwrap();
    let refused = sign_in().await.expect_err("carol no longer exists");
    assert_eq!(refused["error"], "login_required", "{refused:?}");
    assert!(
        refused["error_description"].contains("no persona 'carol'"),
        "{refused:?}"
    );

    tp.core().create_user(carol()).await.unwrap();
    let again = sign_in().await.expect("the new carol is signed in");
    assert_eq!(again, tp.sub_of("carol").await.as_str());
    assert_ne!(again, first, "a new persona gets a new subject");
}

#[tokio::test]
async fn expired_consent_request_can_no_longer_be_approved() {
    let tp = manual_provider().await;
    let (_, request_id, csrf, _) = open_consent(&tp).await;
    tp.clock.advance(authdesk::oauth::consent::PENDING_TTL + 1);
    assert!(
        tp.provider.context.pending_consents().is_empty(),
        "the window still lists an expired request"
    );
    let res = decide(
        &tp,
        &[
            ("request_id", &request_id),
            ("csrf", &csrf),
            ("action", "approve"),
            ("username", "bob"),
        ],
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "an expired request was approved: {:?}",
        res.headers.get(reqwest::header::LOCATION)
    );
    assert!(res.html_text().contains("no longer pending"));
}
