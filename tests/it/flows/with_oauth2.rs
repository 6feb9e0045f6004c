//! OAuth 2.0 grants through the `oauth2` crate, as a client application would use it.

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, IntrospectionUrl, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken,
    TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;

use crate::support::{
    Auth, REDIRECT, Reply, TestProvider, jwt_claims, public_client, service_client, web_client,
};
use authdesk::model::{ClientInput, ClientType, GrantType};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// An `oauth2` client for the provider's endpoints; `secret` `None` is a public client.
fn client(tp: &TestProvider, id: &str, secret: Option<&str>) -> Client {
    let c = BasicClient::new(ClientId::new(id.into()))
        .set_auth_uri(AuthUrl::new(tp.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(tp.url("/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(tp.url("/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(tp.url("/revoke")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    match secret {
        Some(s) => c.set_client_secret(ClientSecret::new(s.into())),
        None => c,
    }
}

/// The code flow with S256 PKCE through the crate; returns the token response.
async fn code_flow(
    tp: &TestProvider,
    c: &Client,
    scopes: &[&str],
) -> oauth2::basic::BasicTokenResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = c
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(challenge)
        .url();
    let res = Reply::read(tp.http.get(url).send().await.unwrap()).await;
    assert_eq!(res.status, StatusCode::FOUND);
    let params = res.redirect_params();
    assert_eq!(params["state"], *csrf.secret());
    c.exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&tp.http)
        .await
        .expect("the code exchanges")
}

/// The server's error code of a refused token request.
fn server_error<RE: std::error::Error>(
    err: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> (BasicErrorResponseType, String) {
    match err {
        RequestTokenError::ServerResponse(e) => (
            e.error().clone(),
            e.error_description().cloned().unwrap_or_default(),
        ),
        other => panic!("expected an error response from the server, got {other:?}"),
    }
}

#[tokio::test]
async fn public_client_code_flow_with_pkce_through_oauth2() {
    let tp = TestProvider::start().await;
    tp.add_client(public_client("spa")).await;
    let c = client(&tp, "spa", None);
    let token = code_flow(&tp, &c, &["openid", "email", "offline_access"]).await;
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert!(token.expires_in().is_some_and(|d| d.as_secs() > 0));
    assert!(token.refresh_token().is_some(), "no refresh token");
    let scopes: Vec<String> = token
        .scopes()
        .expect("the granted scope is returned")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "email", "offline_access"]);
    let me = tp
        .bearer_get("/api/me", token.access_token().secret())
        .await
        .ok();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["client_id"], "spa");
}

#[tokio::test]
async fn refresh_token_exchange_rotates_the_refresh_token() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let c = client(&tp, "web", Some("web-secret"));
    let first = code_flow(&tp, &c, &["openid", "offline_access"]).await;
    let old_refresh = first.refresh_token().expect("a refresh token").clone();

    let second = c
        .exchange_refresh_token(&old_refresh)
        .request_async(&tp.http)
        .await
        .expect("the refresh token exchanges");
    let new_refresh = second.refresh_token().expect("a new refresh token");
    assert_ne!(
        new_refresh.secret(),
        old_refresh.secret(),
        "the refresh token did not rotate"
    );
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    let me = tp
        .bearer_get("/api/me", second.access_token().secret())
        .await
        .ok();
    assert_eq!(me["username"], "alice");

    let basic = Auth::basic("web", "web-secret");
    let old = tp.introspect(old_refresh.secret(), &basic).await;
    assert_eq!(
        old["active"], false,
        "the exchanged refresh token is still active"
    );
    let new = tp.introspect(new_refresh.secret(), &basic).await;
    assert_eq!(new["active"], true);
    assert_eq!(new["token_type"], "refresh_token");
}

#[tokio::test]
async fn introspection_answers_every_claim_of_an_active_token_and_only_active_of_others() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let c = client(&tp, "web", Some("web-secret"));
    let tokens = code_flow(&tp, &c, &["openid", "email"]).await;
    let basic = Auth::basic("web", "web-secret");
    let reply = tp
        .post_form(
            "/introspect",
            &[("token", tokens.access_token().secret())],
            &basic,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[reqwest::header::CACHE_CONTROL], "no-store");
    assert_eq!(
        reply.headers[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
    let v = reply.body;
    let jwt = jwt_claims(tokens.access_token().secret());
    let exp = v["exp"].as_i64().expect("exp");
    let iat = v["iat"].as_i64().expect("iat");
    assert_eq!(
        v,
        serde_json::json!({
            "active": true,
            "aud": "web",
            "client_id": "web",
            "exp": exp,
            "iat": iat,
            "iss": tp.issuer,
            "jti": jwt["jti"],
            "nbf": iat,
            "scope": "openid email",
            "sub": jwt["sub"],
            "token_type": "Bearer",
            "username": "alice",
        })
    );
    assert_eq!(jwt["exp"], exp);
    assert!(exp > iat);
    let unknown = tp.introspect("not-a-token", &basic).await;
    assert_eq!(unknown, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn back_to_back_refreshes_all_succeed() {
    // A client refreshes while other requests come and go (each is written to the
    // request log in the background); every refresh must succeed.
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let c = client(&tp, "web", Some("web-secret"));
    let mut refresh = code_flow(&tp, &c, &["openid", "offline_access"])
        .await
        .refresh_token()
        .expect("a refresh token")
        .clone();
    let (http, api) = (tp.http.clone(), tp.url("/api/me"));
    let traffic = tokio::spawn(async move {
        loop {
            let _ = http.get(&api).bearer_auth("not-a-token").send().await;
        }
    });
    for i in 0..100 {
        let next = c
            .exchange_refresh_token(&refresh)
            .request_async(&tp.http)
            .await
            .unwrap_or_else(|e| panic!("refresh {i} failed: {e:?}"));
        refresh = next
            .refresh_token()
            .expect("a rotated refresh token")
            .clone();
    }
    traffic.abort();
}

#[tokio::test]
async fn client_credentials_through_oauth2() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let c = client(&tp, "svc", Some("svc-secret"));
    let token = c
        .exchange_client_credentials()
        .add_scope(Scope::new("api.read".into()))
        .request_async(&tp.http)
        .await
        .expect("client_credentials succeeds");
    assert!(
        token.refresh_token().is_none(),
        "client_credentials gets no refresh token"
    );
    let claims = jwt_claims(token.access_token().secret());
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["scope"], "api.read");
    assert_eq!(claims["iss"], tp.issuer.as_str());
    let me = tp
        .bearer_get("/api/me", token.access_token().secret())
        .await
        .ok();
    assert_eq!(me["sub"], "svc");
    assert_eq!(me["username"], serde_json::Value::Null);

    let wrong = client(&tp, "svc", Some("not-the-secret"))
        .exchange_client_credentials()
        .request_async(&tp.http)
        .await
        .expect_err("a wrong secret is refused");
    assert_eq!(server_error(wrong).0, BasicErrorResponseType::InvalidClient);
}

#[tokio::test]
async fn password_grant_works_only_for_a_client_allowed_it() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        client_id: Some("legacy".into()),
        client_secret: Some("legacy-secret".into()),
        name: Some("Legacy CLI".into()),
        client_type: Some(ClientType::Confidential),
        grant_types: Some(vec![GrantType::Password, GrantType::RefreshToken]),
        ..Default::default()
    })
    .await;
    tp.add_client(web_client("web", "web-secret")).await;
    let (alice, password) = (
        ResourceOwnerUsername::new("alice".into()),
        ResourceOwnerPassword::new("password".into()),
    );

    let token = client(&tp, "legacy", Some("legacy-secret"))
        .exchange_password(&alice, &password)
        .add_scope(Scope::new("openid".into()))
        .request_async(&tp.http)
        .await
        .expect("the password grant succeeds for a client allowed it");
    assert!(token.refresh_token().is_some());
    let me = tp
        .bearer_get("/api/me", token.access_token().secret())
        .await
        .ok();
    assert_eq!(me["username"], "alice");

    let wrong = client(&tp, "legacy", Some("legacy-secret"))
        .exchange_password(&alice, &ResourceOwnerPassword::new("guess".into()))
        .request_async(&tp.http)
        .await
        .expect_err("a wrong password is refused");
    let (code, description) = server_error(wrong);
    assert_eq!(code, BasicErrorResponseType::InvalidGrant);
    assert!(description.contains("password"), "{description}");

    let not_allowed = client(&tp, "web", Some("web-secret"))
        .exchange_password(&alice, &password)
        .request_async(&tp.http)
        .await
        .expect_err("a client without the password grant is refused");
    let (code, description) = server_error(not_allowed);
    assert_eq!(code, BasicErrorResponseType::UnauthorizedClient);
    assert!(description.contains("password"), "{description}");
}

#[tokio::test]
async fn revocation_and_introspection_through_oauth2() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("web", "web-secret")).await;
    let c = client(&tp, "web", Some("web-secret"));
    let token = code_flow(&tp, &c, &["openid", "email", "offline_access"]).await;
    let access = token.access_token().clone();
    let refresh = token.refresh_token().expect("a refresh token").clone();
    let now = tp.now();

    let info = c
        .introspect(&access)
        .request_async(&tp.http)
        .await
        .expect("introspection answers");
    assert!(info.active());
    let scopes: Vec<String> = info
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "email", "offline_access"]);
    assert_eq!(info.client_id().map(|c| c.as_str()), Some("web"));
    assert_eq!(info.sub(), Some(tp.sub_of("alice").await.as_str()));
    assert_eq!(info.username(), Some("alice"));
    assert_eq!(info.token_type(), Some(&BasicTokenType::Bearer));
    let iat = info.iat().expect("iat").timestamp();
    let exp = info.exp().expect("exp").timestamp();
    assert_eq!(iat, now);
    assert_eq!(exp, now + authdesk::model::DEFAULT_ACCESS_TOKEN_TTL);

    c.revoke_token(StandardRevocableToken::AccessToken(access.clone()))
        .unwrap()
        .request_async(&tp.http)
        .await
        .expect("revocation succeeds");
    let info = c.introspect(&access).request_async(&tp.http).await.unwrap();
    assert!(!info.active(), "a revoked access token is still active");
    assert!(info.scopes().is_none() && info.sub().is_none() && info.client_id().is_none());

    // The refresh token outlives its access token, until it is revoked itself.
    let refresh_as_token = AccessToken::new(refresh.secret().clone());
    let info = c
        .introspect(&refresh_as_token)
        .request_async(&tp.http)
        .await
        .unwrap();
    assert!(info.active());
    assert_eq!(
        info.token_type(),
        Some(&BasicTokenType::Extension("refresh_token".into()))
    );
    c.revoke_token(StandardRevocableToken::RefreshToken(refresh.clone()))
        .unwrap()
        .request_async(&tp.http)
        .await
        .expect("revocation succeeds");
    let info = c
        .introspect(&refresh_as_token)
        .request_async(&tp.http)
        .await
        .unwrap();
    assert!(!info.active(), "a revoked refresh token is still active");
    let err = c
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&tp.http)
        .await
        .expect_err("a revoked refresh token cannot be used");
    let (code, description) = server_error(err);
    assert_eq!(code, BasicErrorResponseType::InvalidGrant);
    assert!(description.contains("revoked"), "{description}");
}
