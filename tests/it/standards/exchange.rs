//! Token exchange (RFC 8693) against the real provider: a person's access token,
//! issued to a web app for the API, is exchanged by the API (delegation: its own
//! client_credentials token as the actor) for a token to call the orders service; the
//! new token carries `act`, its audience and the person, verifies against the JWKS,
//! introspects with `act`, and records where it came from. Refusals: a forbidden
//! audience, a wider scope, a subject token meant for another client, a revoked one,
//! and a client not allowed the grant.

use authdesk::model::{ClientInput, GrantType};
use serde_json::{Value, json};

use crate::support::{Auth, TestProvider, service_client, web_client};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const API: &str = "https://api.example.com";
const ORDERS: &str = "https://orders.example.com";

async fn setup(tp: &TestProvider) -> (String, String) {
    tp.add_client(ClientInput {
        resources: Some(vec![API.into()]),
        ..web_client("web", "web-secret")
    })
    .await;
    tp.add_client(ClientInput {
        grant_types: Some(vec![GrantType::TokenExchange, GrantType::ClientCredentials]),
        resources: Some(vec![API.into(), ORDERS.into()]),
        scopes: Some(vec!["openid".into(), "profile".into(), "email".into()]),
        ..service_client("api", "api-secret")
    })
    .await;
    // Alice signs in to the web app, which asks for a token for the API.
    let code = tp
        .code("web", &[("resource", API), ("scope", "openid profile")])
        .await;
    let body = tp.exchange(&code, &Auth::basic("web", "web-secret")).await;
    let subject = body["access_token"].as_str().unwrap().to_string();
    // The API's own token: the actor.
    let actor = tp
        .token(
            &[("grant_type", "client_credentials")],
            &Auth::basic("api", "api-secret"),
        )
        .await
        .ok()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    (subject, actor)
}

fn refused(reply: &crate::support::Reply, code: &str, cause: &str) {
    assert_eq!(reply.body["error"], code, "{}", reply.text);
    let desc = reply.body["error_description"].as_str().unwrap_or_default();
    assert!(desc.contains(cause), "expected '{cause}' in: {desc}");
}

#[tokio::test]
async fn the_api_exchanges_a_persons_token_for_the_orders_service_acting_for_them() {
    let tp = TestProvider::start().await;
    let (subject, actor) = setup(&tp).await;
    let auth = Auth::basic("api", "api-secret");
    let body = tp
        .token(
            &[
                ("grant_type", GRANT),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                ("actor_token", &actor),
                ("actor_token_type", ACCESS),
                ("audience", ORDERS),
                ("scope", "profile"),
            ],
            &auth,
        )
        .await
        .ok();
    assert_eq!(body["issued_token_type"], ACCESS, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "profile");
    assert!(
        body.get("refresh_token").is_none_or(Value::is_null),
        "{body}"
    );
    let exchanged = body["access_token"].as_str().unwrap();
    let claims = tp.id_token_claims(exchanged, ORDERS).await;
    let alice = tp.sub_of("alice").await;
    assert_eq!(claims["sub"], alice);
    assert_eq!(claims["client_id"], "api");
    assert_eq!(claims["act"], json!({"sub": "api", "client_id": "api"}));

    let seen = tp.introspect(exchanged, &auth).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["aud"], ORDERS);
    assert_eq!(seen["act"]["sub"], "api");

    // The window's token detail says where it came from.
    let subject_id = tp.introspect(&subject, &auth).await["jti"].clone();
    let detail = tp
        .provider
        .context
        .token_detail(claims["jti"].as_str().unwrap())
        .await
        .unwrap();
    let origin = detail.origin.expect("an origin");
    assert_eq!(origin["exchanged_from"], subject_id);
    assert_eq!(origin["actor"]["sub"], "api");

    // Asked for an id_token instead: signed for the API, about Alice, not an access token.
    let body = tp
        .token(
            &[
                ("grant_type", GRANT),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ],
            &auth,
        )
        .await
        .ok();
    assert_eq!(body["token_type"], "N_A");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:id_token"
    );
    let id = tp
        .id_token_claims(body["access_token"].as_str().unwrap(), "api")
        .await;
    assert_eq!(id["sub"], alice);
}

#[tokio::test]
async fn a_forbidden_audience_a_wider_scope_a_token_for_someone_else_or_a_revoked_one_is_refused() {
    let tp = TestProvider::start().await;
    let (subject, _) = setup(&tp).await;
    tp.add_client(ClientInput {
        grant_types: Some(vec![GrantType::TokenExchange]),
        ..service_client("stranger", "stranger-secret")
    })
    .await;
    let auth = Auth::basic("api", "api-secret");
    let exchange = |extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![
            ("grant_type", GRANT),
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS),
        ];
        form.extend(extra);
        form
    };
    refused(
        &tp.token(
            &exchange(vec![("audience", "https://payroll.example.com")]),
            &auth,
        )
        .await,
        "invalid_target",
        "the resource 'https://payroll.example.com' is not registered for client 'api'",
    );
    refused(
        &tp.token(&exchange(vec![("scope", "profile email")]), &auth)
            .await,
        "invalid_scope",
        "scope 'email' is beyond the subject token's scopes (openid profile)",
    );
    refused(
        &tp.token(
            &exchange(vec![]),
            &Auth::basic("stranger", "stranger-secret"),
        )
        .await,
        "invalid_request",
        "client 'stranger' may exchange only tokens issued to it or for it",
    );
    refused(
        &tp.token(&exchange(vec![]), &Auth::basic("web", "web-secret"))
            .await,
        "unauthorized_client",
        "not allowed the urn:ietf:params:oauth:grant-type:token-exchange grant",
    );
    tp.post_form(
        "/revoke",
        &[("token", &subject)],
        &Auth::basic("web", "web-secret"),
    )
    .await;
    refused(
        &tp.token(&exchange(vec![]), &auth).await,
        "invalid_request",
        "is revoked; exchange an active token",
    );
}
