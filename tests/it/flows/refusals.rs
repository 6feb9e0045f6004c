//! Refused requests: each gets its RFC error code, and a description that names the
//! cause in RFC 6749 §5.2's character set. What must persist does (a replayed code or
//! a reused refresh token revokes what its grant issued).

use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;

use crate::support::{
    Auth, Pkce, REDIRECT, Reply, TestProvider, assert_mentions_any_case, assert_redirect_error,
    assert_rfc6749_text, basic, public_client, service_client, web_client,
};

async fn web(tp: &TestProvider) -> Auth<'static> {
    tp.add_client(web_client("web", "web-secret")).await;
    Auth::basic("web", "web-secret")
}

fn exchange_form<'a>(
    code: &'a str,
    redirect: &'a str,
    verifier: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form
}

#[tokio::test]
async fn unregistered_redirect_uri_is_shown_on_a_page_never_redirected_to() {
    let tp = TestProvider::start().await;
    web(&tp).await;
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", "https://evil.example/cb"),
            ("state", "s"),
        ])
        .await;
    res.assert_error_page(
        "invalid_request",
        &["https://evil.example/cb", "not registered", REDIRECT],
    );
}

#[tokio::test]
async fn unknown_client_id_is_shown_on_a_page() {
    let tp = TestProvider::start().await;
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    res.assert_error_page("invalid_request", &["no client with id 'nope'"]);
}

#[tokio::test]
async fn another_redirect_uri_at_the_token_endpoint_is_invalid_grant() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    let other = "http://127.0.0.1:8765/other";
    tp.token(
        &exchange_form(&code.code, other, Some(&code.verifier)),
        &auth,
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        &["redirect_uri", other, "differs"],
    );
}

#[tokio::test]
async fn missing_pkce_verifier_is_invalid_grant() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    tp.token(&exchange_form(&code.code, REDIRECT, None), &auth)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &["code_verifier", "PKCE"],
        );
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    let other = Pkce::new().verifier;
    tp.token(&exchange_form(&code.code, REDIRECT, Some(&other)), &auth)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &["code_verifier does not match the code_challenge"],
        );
}

#[tokio::test]
async fn public_client_without_code_challenge_is_sent_back_invalid_request() {
    let tp = TestProvider::start().await;
    tp.add_client(public_client("spa")).await;
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "spa"),
            ("redirect_uri", REDIRECT),
            ("state", "st@te 1"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let description = assert_redirect_error(
        &res.redirect_params(),
        "invalid_request",
        "st@te 1",
        &tp.issuer,
    );
    assert_rfc6749_text(&description);
    assert_mentions_any_case(
        &description,
        &["requires PKCE", "public client", "code_challenge"],
    );
}

#[tokio::test]
async fn replayed_code_is_refused_and_revokes_the_tokens_it_issued() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    let first = tp.exchange(&code, &auth).await;
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(tp.introspect(access, &auth).await["active"], true);

    tp.token(
        &exchange_form(&code.code, REDIRECT, Some(&code.verifier)),
        &auth,
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        &["already used", "revoked"],
    );
    assert_eq!(
        tp.introspect(access, &auth).await["active"],
        false,
        "the access token of a replayed code is still active"
    );
    assert_eq!(tp.introspect(refresh, &auth).await["active"], false);
    let me = tp.bearer_get("/api/me", access).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reused_rotated_refresh_token_revokes_the_whole_grant() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    let first = tp.exchange(&code, &auth).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second = tp
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt1)],
            &auth,
        )
        .await
        .ok();
    let rt2 = second["refresh_token"].as_str().unwrap();
    let access2 = second["access_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);

    tp.token(
        &[("grant_type", "refresh_token"), ("refresh_token", rt1)],
        &auth,
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        &["already exchanged", "revoked"],
    );
    tp.token(
        &[("grant_type", "refresh_token"), ("refresh_token", rt2)],
        &auth,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", &["revoked"]);
    assert_eq!(tp.introspect(access2, &auth).await["active"], false);
}

#[tokio::test]
async fn wrong_client_secret_is_401_with_a_basic_challenge() {
    let tp = TestProvider::start().await;
    web(&tp).await;
    let code = tp.code("web", &[]).await;
    let reply = tp
        .token(
            &exchange_form(&code.code, REDIRECT, Some(&code.verifier)),
            &Auth::basic("web", "not-the-secret"),
        )
        .await;
    reply.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &["secret", "wrong", "'web'"],
    );
    assert!(
        reply.header("www-authenticate").starts_with("Basic "),
        "{}",
        reply.header("www-authenticate")
    );
    // The code was not spent by the refused request.
    tp.exchange(&code, &Auth::basic("web", "web-secret")).await;
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    tp.clock.advance(authdesk::oauth::consent::CODE_TTL + 1);
    tp.token(
        &exchange_form(&code.code, REDIRECT, Some(&code.verifier)),
        &auth,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", &["expired"]);
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    tp.token(&[("grant_type", "urn:example:magic")], &auth)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &["urn:example:magic"],
        );
}

#[tokio::test]
async fn scope_beyond_the_clients_allowance_is_invalid_scope() {
    let tp = TestProvider::start().await;
    web(&tp).await;
    tp.add_client(service_client("svc", "svc-secret")).await;

    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid api.write"),
            ("state", "s1"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let description =
        assert_redirect_error(&res.redirect_params(), "invalid_scope", "s1", &tp.issuer);
    assert_rfc6749_text(&description);
    assert_mentions_any_case(&description, &["api.write", "not allowed", "'web'"]);

    tp.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api.read api.write"),
        ],
        &Auth::basic("svc", "svc-secret"),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        &["api.write", "not allowed"],
    );
}

#[tokio::test]
async fn json_body_at_the_token_endpoint_is_invalid_request() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let res = tp
        .http
        .post(tp.url("/token"))
        .header(reqwest::header::AUTHORIZATION, basic("svc", "svc-secret"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    Reply::read(res).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &["application/x-www-form-urlencoded", "application/json"],
    );
}

#[tokio::test]
async fn token_responses_and_errors_are_not_cached() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let good = Auth::basic("svc", "svc-secret");
    let replies = [
        tp.token(&[("grant_type", "client_credentials")], &good)
            .await,
        tp.token(
            &[("grant_type", "client_credentials")],
            &Auth::basic("svc", "x"),
        )
        .await,
        tp.token(&[("grant_type", "magic")], &good).await,
        tp.token(
            &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
            &good,
        )
        .await,
        tp.token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            &good,
        )
        .await,
    ];
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses, [200, 401, 400, 400, 400]);
    for r in &replies {
        let cache = r.headers.get(CACHE_CONTROL).map(|v| v.to_str().unwrap());
        assert_eq!(cache, Some("no-store"), "Cache-Control of {}", r.body);
    }
}

#[tokio::test]
async fn error_descriptions_are_rfc6749_printable_ascii() {
    // These causes are explained with text that cites RFC sections (§) or quotes: the
    // descriptions on the wire must still be RFC 6749 §5.2 characters.
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[]).await;
    tp.exchange(&code, &auth).await;
    let replay = tp
        .token(
            &exchange_form(&code.code, REDIRECT, Some(&code.verifier)),
            &auth,
        )
        .await;
    let code2 = tp.code("web", &[]).await;
    let short_verifier = tp
        .token(&exchange_form(&code2.code, REDIRECT, Some("short")), &auth)
        .await;
    let twice = tp
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "password"),
            ],
            &auth,
        )
        .await;
    let json = Reply::read(
        tp.http
            .post(tp.url("/token"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for (reply, mention) in [
        (&replay, "already used"),
        (&short_verifier, "43-128"),
        (&twice, "more than once"),
        (&json, "form"),
    ] {
        assert!(reply.status.is_client_error(), "{}", reply.body);
        let d = reply.str("error_description");
        assert_rfc6749_text(d);
        assert_mentions_any_case(d, &[mention]);
    }
}

#[tokio::test]
async fn refresh_cannot_widen_the_granted_scope() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp.code("web", &[("scope", "openid offline_access")]).await;
    let first = tp.exchange(&code, &auth).await;
    let rt = first["refresh_token"].as_str().unwrap();
    tp.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid email"),
        ],
        &auth,
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        &["'email'", "not granted"],
    );
    // The refused request did not spend the refresh token.
    tp.token(
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        &auth,
    )
    .await
    .ok();
}

#[tokio::test]
async fn refresh_with_a_narrower_scope_keeps_the_refresh_tokens_scope() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    let code = tp
        .code("web", &[("scope", "openid email offline_access")])
        .await;
    let first = tp.exchange(&code, &auth).await;
    let narrowed = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ("scope", "openid"),
            ],
            &auth,
        )
        .await
        .ok();
    assert_eq!(narrowed["scope"], "openid", "the access token is narrowed");
    let rt = narrowed["refresh_token"].as_str().unwrap();
    // RFC 6749 section 6: the new refresh token's scope is identical to the old one's.
    assert_eq!(
        tp.introspect(rt, &auth).await["scope"],
        "openid email offline_access",
        "the narrowed refresh lost the scopes granted by the user"
    );
    let again = tp
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            &auth,
        )
        .await
        .ok();
    assert_eq!(again["scope"], "openid email offline_access");
}

#[tokio::test]
async fn introspection_and_revocation_need_the_clients_credentials() {
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let code = tp.code("web", &[]).await;
    let token = tp.exchange(&code, &auth).await;
    let access = token["access_token"].as_str().unwrap();

    tp.post_form("/introspect", &[("token", access)], &Auth::None)
        .await
        .assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &["no client authentication"],
        );
    tp.post_form(
        "/introspect",
        &[("token", access)],
        &Auth::basic("web", "wrong"),
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_client", &["secret"]);
    tp.post_form("/revoke", &[("token", access)], &Auth::None)
        .await
        .assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &["no client authentication"],
        );

    // RFC 7009 section 2.1: only the client the token was issued to may revoke it.
    tp.post_form(
        "/revoke",
        &[("token", access)],
        &Auth::basic("svc", "svc-secret"),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        &["'web'", "'svc'"],
    );
    assert_eq!(tp.introspect(access, &auth).await["active"], true);

    // RFC 7009 section 2.2: an unknown token is answered 200 like a revoked one.
    let unknown = tp
        .post_form("/revoke", &[("token", "never-issued")], &auth)
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(tp.introspect("never-issued", &auth).await["active"], false);
}

#[tokio::test]
async fn a_public_client_id_alone_does_not_open_introspection() {
    // Client ids are public; RFC 7662 section 2.1 requires real authorization at the
    // introspection endpoint to prevent token scanning.
    let tp = TestProvider::start().await;
    let auth = web(&tp).await;
    tp.add_client(public_client("spa")).await;
    let code = tp.code("web", &[]).await;
    let token = tp.exchange(&code, &auth).await;
    let reply = tp
        .post_form(
            "/introspect",
            &[("token", token["access_token"].as_str().unwrap())],
            &Auth::public("spa"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_client");
}
