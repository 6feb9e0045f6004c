//! The authorization endpoint's responses: RFC 9207 `iss` on every one of them, and
//! RFC 8252 §7.3 loopback redirects whose port may vary for native (public) clients.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::support::{
    Auth, Pkce, REDIRECT, Reply, TestProvider, asking_consent, assert_redirect_error, get_json,
    hidden_input, public_client, query_of, web_client,
};

fn base<'a>(client_id: &'a str, pkce: &'a Pkce) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "xyz"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
}

fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        params.push((k, v));
    }
    params
}

/// The parameters of a redirect to REDIRECT (query or fragment).
fn redirected(res: &Reply) -> HashMap<String, String> {
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    res.redirect_params()
}

#[tokio::test]
async fn every_authorization_response_carries_the_issuer() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let pkce = Pkce::new();
    let doc = get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await;
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["issuer"], tp.issuer.as_str());

    // Success, in the query and in the fragment.
    let ok = redirected(&tp.authorize(&base("web", &pkce)).await);
    assert!(ok.contains_key("code"));
    assert_eq!(ok["iss"], tp.issuer);
    assert_eq!(ok["state"], "xyz");
    let frag = redirected(
        &tp.authorize(&with(base("web", &pkce), &[("response_mode", "fragment")]))
            .await,
    );
    assert!(frag.contains_key("code"));
    assert_eq!(frag["iss"], tp.issuer);

    // Success as a form post: iss is one of the posted fields.
    let res = tp
        .authorize(&with(base("web", &pkce), &[("response_mode", "form_post")]))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let page = res.html_text();
    assert!(page.contains(&format!("action=\"{REDIRECT}\"")), "{page}");
    assert_eq!(hidden_input(&res.text, "iss"), tp.issuer);
    assert!(!hidden_input(&res.text, "code").is_empty());

    // Errors sent back to the client.
    for (extra, error) in [
        (
            &[("response_type", "magic")][..],
            "unsupported_response_type",
        ),
        (&[("scope", "openid admin")][..], "invalid_scope"),
        (&[("code_challenge_method", "S512")][..], "invalid_request"),
        (&[("prompt", "sideways")][..], "invalid_request"),
    ] {
        let p = redirected(&tp.authorize(&with(base("web", &pkce), extra)).await);
        assert_redirect_error(&p, error, "xyz", &tp.issuer);
    }

    // Without auto-approve, prompt=none cannot be satisfied: login_required, with iss.
    let manual = TestProvider::start_with(asking_consent()).await;
    manual.add_client(web_client("web", "web-secret")).await;
    let p = redirected(
        &manual
            .authorize(&with(base("web", &pkce), &[("prompt", "none")]))
            .await,
    );
    assert_redirect_error(&p, "login_required", "xyz", &manual.issuer);
}

#[tokio::test]
async fn public_client_loopback_redirect_may_use_another_port() {
    let tp = TestProvider::start().await;
    tp.add_client(public_client("native")).await;
    let pkce = Pkce::new();
    let other_port = "http://127.0.0.1:51234/callback";
    let res = tp
        .authorize(&with(
            base("native", &pkce),
            &[("redirect_uri", other_port)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let url = res.location();
    assert_eq!(url.port(), Some(51234), "{url}");
    assert_eq!(url.path(), "/callback");
    let params = query_of(&url);
    let body = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", other_port),
                ("code_verifier", &pkce.verifier),
            ],
            &Auth::public("native"),
        )
        .await
        .ok();
    assert!(body["access_token"].is_string());

    // Only the port varies: another path or host is still refused.
    for uri in [
        "http://127.0.0.1:51234/elsewhere",
        "http://127.0.0.2:8765/callback",
    ] {
        let res = tp
            .authorize(&with(base("native", &pkce), &[("redirect_uri", uri)]))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(res.headers.get(LOCATION).is_none(), "{uri}");
    }
}

#[tokio::test]
async fn confidential_client_loopback_redirect_port_must_match() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let pkce = Pkce::new();
    let res = tp
        .authorize(&with(
            base("web", &pkce),
            &[("redirect_uri", "http://127.0.0.1:51234/callback")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.headers.get(LOCATION).is_none());
    let page = res.html_text();
    assert!(
        page.contains("http://127.0.0.1:51234/callback is not registered"),
        "{page}"
    );
}
