//! OpenID Connect Back-Channel Logout against a small HTTPS receiver in the test (its
//! certificate is the provider's own, from Authdesk's CA): an RP-initiated logout, a
//! sign-out from the window and a revoked consent each POST a logout token that
//! verifies against the JWKS and names the id_token's `sid` and the persona; a
//! receiver that cannot be reached is in the request timeline with the reason.

use std::collections::HashMap;
use std::time::Duration;

use authdesk::events::RequestStatus;
use authdesk::model::{ClientInput, GrantType};
use axum_server::tls_rustls::RustlsConfig;
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;

use super::{SCOPES, SECRET};
use crate::support::{Auth, Authz, REDIRECT, TestProvider, str_of};

const RP: &str = "bcl-web";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// An HTTPS receiver of logout tokens on 127.0.0.1; returns its URI and what it gets.
fn receiver(tp: &TestProvider) -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/backchannel-logout",
        axum::routing::post(
            move |axum::Form(form): axum::Form<HashMap<String, String>>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("its address").port();
    let tls = RustlsConfig::from_config(tp.provider.tls.server_config().expect("TLS"));
    let server = axum_server::from_tcp_rustls(listener, tls).expect("the receiver");
    tokio::spawn(server.serve(app.into_make_service()));
    (format!("https://127.0.0.1:{port}/backchannel-logout"), rx)
}

async fn rp(tp: &TestProvider, uri: &str) {
    tp.add_client(ClientInput {
        client_id: Some(RP.into()),
        client_secret: Some(SECRET.into()),
        name: Some("Back-channel web app".into()),
        redirect_uris: Some(vec![REDIRECT.into()]),
        grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        scopes: Some(
            ["openid", "profile", "offline_access"]
                .map(String::from)
                .to_vec(),
        ),
        backchannel_logout_uri: Some(uri.into()),
        ..Default::default()
    })
    .await;
}

/// Bob signs in on the page; returns his browser and id_token.
async fn signed_in(tp: &TestProvider) -> (crate::support::Browser, String) {
    let browser = tp.browser();
    let code = browser.sign_in("bob", &Authz::new(RP, SCOPES)).await;
    let tokens = tp.exchange(&code, &Auth::Basic(RP, SECRET)).await;
    (browser, str_of(&tokens, "id_token").to_string())
}

async fn next_token(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no logout token reached the receiver")
        .expect("the receiver stopped")
}

/// Verifies a logout token (signature, iss, aud) and checks what §2.4 requires.
async fn logout_claims(tp: &TestProvider, token: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let claims = tp.id_token_claims(token, RP).await;
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert!(
        claims["jti"].is_string() && claims["iat"].is_i64(),
        "{claims}"
    );
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_posts_a_logout_token_with_the_sessions_sid() {
    let tp = super::provider().await;
    let (uri, mut tokens) = receiver(&tp);
    rp(&tp, &uri).await;
    let discovery =
        crate::support::get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let (browser, id_token) = signed_in(&tp).await;
    let sid = tp.id_token_claims(&id_token, RP).await["sid"].clone();
    assert!(
        sid.is_string(),
        "the id_token of a sign-in with a session carries sid"
    );
    let mut events = tp.events();
    let mut url = url::Url::parse(&tp.url("/end_session")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token);
    browser.get(url.as_str()).await;

    let claims = logout_claims(&tp, &next_token(&mut tokens).await).await;
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], tp.sub_of("bob").await);
    let entry = events
        .request("backchannel_logout", RequestStatus::Completed)
        .await;
    assert_eq!(entry.client_id.as_deref(), Some(RP));
    assert_eq!(entry.detail["status"], 200);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_in_the_window_or_revoking_the_consent_notifies_the_client() {
    let tp = super::provider().await;
    let (uri, mut tokens) = receiver(&tp);
    rp(&tp, &uri).await;
    let ctx = &tp.provider.context;

    let (_, id_token) = signed_in(&tp).await;
    let (sessions, notified) = ctx.sign_out("bob").await.unwrap();
    assert_eq!((sessions, notified), (1, 1));
    let claims = logout_claims(&tp, &next_token(&mut tokens).await).await;
    assert_eq!(
        claims["sid"],
        tp.id_token_claims(&id_token, RP).await["sid"]
    );

    signed_in(&tp).await;
    ctx.revoke_consent("bob", RP).await.unwrap();
    let claims = logout_claims(&tp, &next_token(&mut tokens).await).await;
    assert_eq!(claims["sub"], tp.sub_of("bob").await);
    // Notified once: a second sign-out has no sign-in left to end.
    assert_eq!(ctx.sign_out("bob").await.unwrap().1, 0);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_cannot_be_reached_is_in_the_timeline_with_the_reason() {
    let tp = super::provider().await;
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    rp(&tp, &format!("http://127.0.0.1:{port}/backchannel-logout")).await;
    let mut events = tp.events();
    signed_in(&tp).await;
    tp.provider.context.sign_out("bob").await.unwrap();
    let entry = events
        .request("backchannel_logout", RequestStatus::Rejected)
        .await;
    let why = entry.error_description.unwrap_or_default();
    assert!(
        why.contains(&format!("127.0.0.1:{port}")) && why.contains("cannot connect"),
        "{why}"
    );
    tp.stop().await;
}
