//! RFC 8628 device authorization: code pair, polling errors, approval on the
//! verification page, single use.

use authdesk::model::{ClientInput, ClientType, GrantType};
use reqwest::StatusCode;

use crate::support::{
    Auth, REDIRECT, Reply, TestProvider, asking_consent, get_json, hidden_input, jwt_claims,
};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_client(tp: &TestProvider) {
    tp.add_client(ClientInput {
        client_id: Some("tv".into()),
        name: Some("Living-room TV".into()),
        client_type: Some(ClientType::Public),
        grant_types: Some(vec![GrantType::DeviceCode, GrantType::RefreshToken]),
        ..Default::default()
    })
    .await;
}

/// The verification page for `user_code`, as typed.
async fn device_page(tp: &TestProvider, user_code: &str) -> Reply {
    let url = tp.url(&format!("/device?user_code={user_code}"));
    Reply::read(tp.http.get(url).send().await.unwrap()).await
}

/// The page's CSRF cookie, as a `Cookie` header sends it back (`name=value`).
fn csrf_cookie(page: &Reply) -> String {
    let set_cookie = page
        .set_cookie("authdesk_device_csrf")
        .expect("csrf cookie");
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn device_flow_polls_pending_then_issues_tokens_once_approved_on_the_page() {
    let tp = TestProvider::start_with(asking_consent()).await;
    device_client(&tp).await;
    let disco = get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await;
    assert_eq!(
        disco["device_authorization_endpoint"],
        tp.url("/device_authorization")
    );

    let auth = Auth::public("tv");
    let start = tp
        .post_form(
            "/device_authorization",
            &[("scope", "openid profile offline_access")],
            &auth,
        )
        .await
        .ok();
    let device_code = start["device_code"].as_str().unwrap().to_string();
    let user_code = start["user_code"].as_str().unwrap().to_string();
    assert_eq!(start["verification_uri"], tp.url("/device"));
    assert_eq!(start["interval"], 5);

    // Not approved yet.
    let r = tp
        .token(
            &[("grant_type", GRANT), ("device_code", &device_code)],
            &auth,
        )
        .await;
    r.assert_error(
        StatusCode::BAD_REQUEST,
        "authorization_pending",
        &[&user_code],
    );
    // Polling again at once is too fast.
    let r = tp
        .token(
            &[("grant_type", GRANT), ("device_code", &device_code)],
            &auth,
        )
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "slow_down", &["5s"]);

    // The user types the code (any case, without the dash) and approves as bob.
    let typed = user_code.replace('-', "").to_lowercase();
    let page = device_page(&tp, &typed).await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = csrf_cookie(&page);
    assert!(page.text.contains("Living-room TV"));
    let csrf = hidden_input(&page.text, "csrf");
    // Without the cookie the decision is refused.
    let forged = tp
        .http
        .post(tp.url("/device"))
        .form(&[
            ("user_code", user_code.as_str()),
            ("csrf", &csrf),
            ("action", "approve"),
            ("username", "bob"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let decided = tp
        .http
        .post(tp.url("/device"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[
            ("user_code", user_code.as_str()),
            ("csrf", &csrf),
            ("action", "approve"),
            ("username", "bob"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::OK);

    tp.clock.advance(6);
    let tokens = tp
        .token(
            &[("grant_type", GRANT), ("device_code", &device_code)],
            &auth,
        )
        .await
        .ok();
    assert!(tokens["access_token"].is_string());
    assert!(tokens["refresh_token"].is_string());
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], tp.sub_of("bob").await);

    // Single use.
    tp.clock.advance(6);
    let again = tp
        .token(
            &[("grant_type", GRANT), ("device_code", &device_code)],
            &auth,
        )
        .await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_grant", &["already"]);
}

#[tokio::test]
async fn denied_and_expired_device_requests_say_so() {
    let tp = TestProvider::start_with(asking_consent()).await;
    device_client(&tp).await;
    let auth = Auth::public("tv");
    let start = tp.post_form("/device_authorization", &[], &auth).await.ok();
    let user_code = start["user_code"].as_str().unwrap().to_string();
    let page = device_page(&tp, &user_code).await;
    let cookie = csrf_cookie(&page);
    let csrf = hidden_input(&page.text, "csrf");
    tp.http
        .post(tp.url("/device"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[
            ("user_code", user_code.as_str()),
            ("csrf", &csrf),
            ("action", "deny"),
        ])
        .send()
        .await
        .unwrap();
    let code = start["device_code"].as_str().unwrap();
    let r = tp
        .token(&[("grant_type", GRANT), ("device_code", code)], &auth)
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "access_denied", &["denied"]);

    let start = tp.post_form("/device_authorization", &[], &auth).await.ok();
    tp.clock.advance(601);
    let code = start["device_code"].as_str().unwrap();
    let r = tp
        .token(&[("grant_type", GRANT), ("device_code", code)], &auth)
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "expired_token", &["expired"]);
}

#[tokio::test]
async fn a_client_without_the_device_grant_is_refused() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        client_id: Some("web".into()),
        name: Some("Web".into()),
        redirect_uris: Some(vec![REDIRECT.into()]),
        client_secret: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let r = tp
        .post_form("/device_authorization", &[], &Auth::basic("web", "s3cret"))
        .await;
    r.assert_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        &["device_code"],
    );
}

#[tokio::test]
async fn the_page_of_a_device_approved_automatically_says_it_can_continue() {
    // TestProvider::start approves every request as alice (serve --auto-approve alice).
    let tp = TestProvider::start().await;
    device_client(&tp).await;
    let res = tp
        .post_form(
            "/device_authorization",
            &[("scope", "openid")],
            &Auth::public("tv"),
        )
        .await
        .ok();
    let complete = res["verification_uri_complete"]
        .as_str()
        .unwrap()
        .to_string();
    let page = tp.http.get(&complete).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(text.contains("Device connected"), "{text}");
    assert!(text.contains("approved for alice"), "{text}");
    assert!(!text.contains("already used"), "{text}");
}
