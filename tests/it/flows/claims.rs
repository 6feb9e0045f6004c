//! Claims and audiences (issue 18), end to end: RFC 8707 resources at the authorization
//! and token endpoints (and Auth0's `audience` alias), a client's extra claims, the
//! per-sign-in claims override of the consent page, the `claims` request parameter,
//! `acr`/`amr`, the standard claims of the default personas, and each preset's token
//! shape, decoded from real responses.

use authdesk::config::ServeOptions;
use authdesk::model::{ClientInput, GrantType};
use authdesk::token_shape::{ClaimRule, Preset};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    Auth, Authz, Pkce, REDIRECT, Sandbox, TestProvider, asking_consent, assert_mentions,
    assert_redirect_error, auto_approving, code_of, get_json, jwt_claims, service_client, str_of,
    web_client,
};

const API: &str = "https://api.example";
const OTHER: &str = "https://other.example";
const SECRET: &str = "web-secret";

/// A confidential code-flow client `id` that may ask for [`API`] and [`OTHER`].
fn with_resources(id: &str) -> ClientInput {
    ClientInput {
        resources: Some(vec![API.into(), OTHER.into()]),
        scopes: Some(
            [
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "offline_access",
                "api.read",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..web_client(id, SECRET)
    }
}

fn rules(rules: &[&str]) -> Option<Vec<ClaimRule>> {
    Some(
        rules
            .iter()
            .map(|r| ClaimRule::parse_cli(r).expect("a valid rule"))
            .collect(),
    )
}

/// Runs the code flow for `id` (auto-approved as alice) with `extra` authorization
/// parameters and `token_extra` token parameters; returns the token response.
async fn tokens_with(
    tp: &TestProvider,
    id: &str,
    extra: &[(&str, &str)],
    token_extra: &[(&str, &str)],
) -> Value {
    let code = tp.code(id, extra).await;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", code.verifier.as_str()),
    ];
    form.extend_from_slice(token_extra);
    tp.token(&form, &Auth::basic(id, SECRET)).await.ok()
}

async fn tokens(tp: &TestProvider, id: &str, extra: &[(&str, &str)]) -> Value {
    tokens_with(tp, id, extra, &[]).await
}

fn at_claims(body: &Value) -> Value {
    jwt_claims(str_of(body, "access_token"))
}

fn id_claims(body: &Value) -> Value {
    jwt_claims(str_of(body, "id_token"))
}

/// The authorization request's URL parameters for a code request of `id`, as a list
/// that may repeat `resource`.
fn authorize_params<'a>(
    id: &'a str,
    pkce: &'a Pkce,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "state-1"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    p.extend_from_slice(extra);
    p
}

// ---------------------------------------------------------------- RFC 8707

#[tokio::test]
async fn a_resource_becomes_the_access_tokens_aud_and_two_make_an_array() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;

    let one = tokens(&tp, "web", &[("resource", API)]).await;
    assert_eq!(at_claims(&one)["aud"], API);
    // The id_token's audience stays the client.
    assert_eq!(id_claims(&one)["aud"], "web");

    // Two `resource` parameters: `Provider::code` replaces by key, so build by hand.
    let pkce = Pkce::new();
    let params = authorize_params("web", &pkce, &[("resource", API), ("resource", OTHER)]);
    let redirect = tp.approved_redirect(&params).await;
    let body = tp
        .exchange(
            &crate::support::Code {
                code: redirect["code"].clone(),
                verifier: pkce.verifier.clone(),
            },
            &Auth::basic("web", SECRET),
        )
        .await;
    assert_eq!(at_claims(&body)["aud"], json!([API, OTHER]));

    // Without a resource: the client id, as before issue 18.
    let none = tokens(&tp, "web", &[]).await;
    assert_eq!(at_claims(&none)["aud"], "web");
}

#[tokio::test]
async fn the_token_endpoint_may_narrow_the_resources_but_not_widen_them() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;

    // Asked for two at authorization, one at the token endpoint: narrowed.
    let pkce = Pkce::new();
    let redirect = tp
        .approved_redirect(&authorize_params(
            "web",
            &pkce,
            &[("resource", API), ("resource", OTHER)],
        ))
        .await;
    let narrowed = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &redirect["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &pkce.verifier),
                ("resource", OTHER),
            ],
            &Auth::basic("web", SECRET),
        )
        .await
        .ok();
    assert_eq!(at_claims(&narrowed)["aud"], OTHER);

    // Asked for API only at authorization; OTHER (registered) at the token endpoint.
    let code = tp.code("web", &[("resource", API)]).await;
    let widened = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &code.verifier),
                ("resource", OTHER),
            ],
            &Auth::basic("web", SECRET),
        )
        .await;
    widened.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        &[OTHER, "not asked for at authorization"],
    );
}

#[tokio::test]
async fn an_unregistered_resource_is_invalid_target_listing_the_allowed_ones() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;

    // At the authorization endpoint: an error redirect.
    let pkce = Pkce::new();
    let reply = tp
        .authorize(&authorize_params(
            "web",
            &pkce,
            &[("resource", "https://unknown.example")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let description = assert_redirect_error(
        &reply.redirect_params(),
        "invalid_target",
        "state-1",
        &tp.issuer,
    );
    assert_mentions(
        &description,
        &["https://unknown.example", "allowed", API, OTHER],
    );

    // At the token endpoint: JSON.
    let code = tp.code("web", &[]).await;
    let res = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &code.verifier),
                ("resource", "https://unknown.example"),
            ],
            &Auth::basic("web", SECRET),
        )
        .await;
    res.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        &["https://unknown.example", "allowed", API, OTHER],
    );

    // A client with no resources at all says so.
    tp.add_client(web_client("plain", SECRET)).await;
    let pkce = Pkce::new();
    let reply = tp
        .authorize(&authorize_params("plain", &pkce, &[("resource", API)]))
        .await;
    let description = assert_redirect_error(
        &reply.redirect_params(),
        "invalid_target",
        "state-1",
        &tp.issuer,
    );
    assert_mentions(&description, &[API, "none registered"]);
}

#[tokio::test]
async fn auth0s_audience_parameter_is_an_alias_of_resource() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;
    let body = tokens(&tp, "web", &[("audience", API)]).await;
    assert_eq!(at_claims(&body)["aud"], API);
}

#[tokio::test]
async fn client_credentials_takes_a_resource_and_introspection_reports_the_aud() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        resources: Some(vec![API.into()]),
        ..service_client("svc", "svc-secret")
    })
    .await;
    let auth = Auth::basic("svc", "svc-secret");
    let body = tp
        .token(
            &[("grant_type", "client_credentials"), ("resource", API)],
            &auth,
        )
        .await
        .ok();
    let access = str_of(&body, "access_token");
    assert_eq!(jwt_claims(access)["aud"], API);
    let seen = tp.introspect(access, &auth).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], API, "{seen}");

    // Without a resource the token's audience is the client, and introspection says so.
    let plain = tp
        .token(&[("grant_type", "client_credentials")], &auth)
        .await
        .ok();
    let seen = tp.introspect(str_of(&plain, "access_token"), &auth).await;
    assert_eq!(seen["aud"], "svc", "{seen}");

    let refused = tp
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://unknown.example"),
            ],
            &auth,
        )
        .await;
    refused.assert_error(StatusCode::BAD_REQUEST, "invalid_target", &[API]);
}

#[tokio::test]
async fn the_default_audience_is_used_when_no_resource_is_asked_for() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        default_audience: Some(API.into()),
        ..with_resources("web")
    })
    .await;
    let body = tokens(&tp, "web", &[]).await;
    assert_eq!(at_claims(&body)["aud"], API);
    let seen = tp
        .introspect(str_of(&body, "access_token"), &Auth::basic("web", SECRET))
        .await;
    assert_eq!(seen["aud"], API, "{seen}");
    // A resource asked for wins over the default.
    let body = tokens(&tp, "web", &[("resource", OTHER)]).await;
    assert_eq!(at_claims(&body)["aud"], OTHER);
}

// ---------------------------------------------------------------- extra claims

#[tokio::test]
async fn extra_claims_go_to_their_targets_fixed_or_copied_from_the_persona() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        extra_claims: rules(&[
            "tenant=acme@access_token",
            "roles<-roles@access_token,id_token",
            "team<-groups@userinfo",
            "level=3",
        ]),
        ..with_resources("web")
    })
    .await;
    let body = tokens(&tp, "web", &[]).await;
    let at = at_claims(&body);
    let id = tp.id_token_claims(str_of(&body, "id_token"), "web").await;
    assert_eq!(at["tenant"], "acme");
    assert_eq!(at["roles"], json!(["admin", "user"]), "alice's roles");
    assert_eq!(at["level"], 3);
    assert!(at.get("team").is_none(), "{at}");
    assert!(
        id.get("tenant").is_none(),
        "the fixed claim is for the access token only: {id}"
    );
    assert_eq!(id["roles"], json!(["admin", "user"]));
    assert_eq!(id["level"], 3);
    assert!(id.get("team").is_none(), "{id}");

    let info = tp
        .bearer_get("/userinfo", str_of(&body, "access_token"))
        .await
        .ok();
    assert_eq!(info["team"], json!(["engineering"]), "{info}");
    assert_eq!(info["level"], 3);
    assert!(info.get("tenant").is_none(), "{info}");
    assert!(info.get("roles").is_none(), "{info}");
}

#[tokio::test]
async fn client_credentials_gets_the_fixed_extra_claims_only() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        extra_claims: rules(&["tenant=acme", "roles<-roles"]),
        ..service_client("svc", "svc-secret")
    })
    .await;
    let body = tp
        .token(
            &[("grant_type", "client_credentials")],
            &Auth::basic("svc", "svc-secret"),
        )
        .await
        .ok();
    let at = at_claims(&body);
    assert_eq!(at["tenant"], "acme");
    assert!(
        at.get("roles").is_none(),
        "no persona, nothing to copy: {at}"
    );
}

// ---------------------------------------------------------------- sign-in override

#[tokio::test]
async fn the_consent_pages_claims_override_reaches_id_token_userinfo_access_token_and_refreshes() {
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(ClientInput {
        extra_claims: rules(&["roles<-roles@access_token"]),
        ..with_resources("web")
    })
    .await;
    let browser = tp.browser();
    let authz = Authz::new("web", "openid profile email offline_access");
    let form = browser.authorize(&authz).await.consent();
    let answer = browser
        .decide(
            &form,
            &[
                ("action", "approve"),
                ("username", "bob"),
                (
                    "claims",
                    r#"{"name":"Override Name","email":"override@example.org","roles":["auditor"]}"#,
                ),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    let code = code_of(&answer.redirect_params(), &authz, &tp.issuer);
    let auth = Auth::basic("web", SECRET);
    let body = tp.exchange(&code, &auth).await;
    let id = tp.id_token_claims(str_of(&body, "id_token"), "web").await;
    assert_eq!(id["sub"], tp.sub_of("bob").await.as_str());
    assert_eq!(id["name"], "Override Name");
    assert_eq!(id["email"], "override@example.org");
    assert_eq!(id["amr"], json!(["user"]), "a page sign-in: {id}");
    assert_eq!(at_claims(&body)["roles"], json!(["auditor"]));

    let info = tp
        .bearer_get("/userinfo", str_of(&body, "access_token"))
        .await
        .ok();
    assert_eq!(info["email"], "override@example.org", "{info}");
    assert_eq!(info["name"], "Override Name");

    let refreshed = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&body, "refresh_token")),
            ],
            &auth,
        )
        .await
        .ok();
    let id = id_claims(&refreshed);
    assert_eq!(id["email"], "override@example.org", "{id}");
    assert_eq!(id["name"], "Override Name");
    assert_eq!(at_claims(&refreshed)["roles"], json!(["auditor"]));
    let info = tp
        .bearer_get("/userinfo", str_of(&refreshed, "access_token"))
        .await
        .ok();
    assert_eq!(info["email"], "override@example.org", "{info}");
}

#[tokio::test]
async fn reserved_claims_are_refused_in_an_override_and_in_a_client_rule() {
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(with_resources("web")).await;
    let browser = tp.browser();
    let authz = Authz::new("web", "openid");
    let form = browser.authorize(&authz).await.consent();
    let answer = browser
        .decide(
            &form,
            &[
                ("action", "approve"),
                ("username", "bob"),
                ("claims", r#"{"exp":1,"name":"x"}"#),
            ],
        )
        .await;
    answer.assert_error_page("invalid_request", &["exp", "claims"]);

    // A client rule, through the model and through the CLI.
    let err = tp
        .core()
        .create_client(ClientInput {
            extra_claims: Some(vec![ClaimRule {
                name: "sub".into(),
                value: Some(json!("x")),
                from: None,
                into: vec![authdesk::token_shape::ClaimTarget::AccessToken],
            }]),
            ..with_resources("bad")
        })
        .await
        .unwrap_err();
    assert_mentions(&err.to_string(), &["sub", "reserved"]);

    let sb = Sandbox::new();
    let run = sb.run(&[
        "clients",
        "create",
        "--name",
        "Bad",
        "--redirect-uri",
        REDIRECT,
        "--claim",
        "sub=x",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    run.one_line_error(&["sub", "reserved"]);
    let run = sb.run(&[
        "clients",
        "create",
        "--name",
        "Bad",
        "--redirect-uri",
        REDIRECT,
        "--claim",
        "exp=1",
    ]);
    run.one_line_error(&["exp"]);
}

// ---------------------------------------------------------------- claims parameter, acr, amr

#[tokio::test]
async fn the_claims_parameter_releases_claims_per_target_and_acr_values_set_acr() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;
    // Scope openid only: nothing but the claims request releases persona claims.
    let body = tokens(
        &tp,
        "web",
        &[
            ("scope", "openid"),
            (
                "claims",
                r#"{"id_token":{"email":{"essential":true},"given_name":null},"userinfo":{"phone_number":null,"locale":null}}"#,
            ),
            ("acr_values", "urn:example:gold urn:example:silver"),
        ],
    )
    .await;
    let id = tp.id_token_claims(str_of(&body, "id_token"), "web").await;
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["given_name"], "Alice");
    assert!(id.get("phone_number").is_none(), "a userinfo claim: {id}");
    assert!(id.get("name").is_none(), "not asked for: {id}");
    assert_eq!(id["acr"], "urn:example:gold");

    let info = tp
        .bearer_get("/userinfo", str_of(&body, "access_token"))
        .await
        .ok();
    assert_eq!(info["phone_number"], "+1 555 0100", "{info}");
    assert_eq!(info["locale"], "en-US");
    assert!(info.get("email").is_none(), "an id_token claim: {info}");

    // A malformed claims parameter is a redirect error naming it.
    let pkce = Pkce::new();
    let reply = tp
        .authorize(&authorize_params("web", &pkce, &[("claims", "[1]")]))
        .await;
    let description = assert_redirect_error(
        &reply.redirect_params(),
        "invalid_request",
        "state-1",
        &tp.issuer,
    );
    assert_mentions(&description, &["claims"]);
}

#[tokio::test]
async fn amr_is_pwd_after_the_password_grant() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        grant_types: Some(vec![GrantType::Password, GrantType::RefreshToken]),
        ..with_resources("legacy")
    })
    .await;
    let body = tp
        .token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "password"),
                ("scope", "openid"),
                ("resource", API),
            ],
            &Auth::basic("legacy", SECRET),
        )
        .await
        .ok();
    assert_eq!(id_claims(&body)["amr"], json!(["pwd"]));
    assert_eq!(
        at_claims(&body)["aud"],
        API,
        "resource works with the password grant"
    );
}

// ---------------------------------------------------------------- standard claims

#[tokio::test]
async fn discovery_advertises_address_phone_and_the_claims_parameter() {
    let tp = TestProvider::start().await;
    let d = get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await;
    let scopes: Vec<&str> = d["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(scopes.contains(&"address"), "{scopes:?}");
    assert!(scopes.contains(&"phone"), "{scopes:?}");
    assert_eq!(d["claims_parameter_supported"], true);
    let claims = d["claims_supported"].as_array().expect("claims_supported");
    for c in [
        "address",
        "phone_number",
        "acr",
        "amr",
        "given_name",
        "family_name",
    ] {
        assert!(claims.contains(&json!(c)), "{c} not in {claims:?}");
    }
}

#[tokio::test]
async fn default_personas_carry_the_standard_claims_and_address_and_phone_release_them() {
    let tp = TestProvider::start().await;
    for name in ["alice", "bob"] {
        let user = tp.core().get_user(name).await.expect("a default persona");
        for c in [
            "given_name",
            "family_name",
            "address",
            "phone_number",
            "roles",
            "groups",
            "preferred_username",
            "picture",
            "locale",
            "updated_at",
        ] {
            assert!(
                user.claims.contains_key(c),
                "{name} has no {c}: {:?}",
                user.claims
            );
        }
    }
    tp.add_client(with_resources("web")).await;
    let body = tokens(&tp, "web", &[("scope", "openid address phone")]).await;
    let id = id_claims(&body);
    assert_eq!(id["address"]["locality"], "Springfield", "{id}");
    assert_eq!(id["phone_number"], "+1 555 0100");
    assert_eq!(id["phone_number_verified"], true);
    assert!(id.get("email").is_none(), "email was not asked for: {id}");
    let info = tp
        .bearer_get("/userinfo", str_of(&body, "access_token"))
        .await
        .ok();
    assert_eq!(info["address"]["country"], "US", "{info}");
    assert_eq!(info["phone_number"], "+1 555 0100");

    // Without the scopes, neither is released.
    let body = tokens(&tp, "web", &[("scope", "openid profile")]).await;
    let id = id_claims(&body);
    assert!(
        id.get("address").is_none() && id.get("phone_number").is_none(),
        "{id}"
    );
    assert_eq!(id["given_name"], "Alice");
}

// ---------------------------------------------------------------- presets

const PRESET_SCOPE: &str = "openid profile email offline_access api.read";

/// The access token (claims, or the raw token when opaque) and id_token claims of a
/// code flow for a client with `preset` (None: the provider's).
async fn preset_tokens(
    tp: &TestProvider,
    id: &str,
    preset: Option<&str>,
) -> (Value, String, Value) {
    tp.add_client(ClientInput {
        preset: preset.map(String::from),
        ..with_resources(id)
    })
    .await;
    let body = tokens(tp, id, &[("scope", PRESET_SCOPE)]).await;
    let access = str_of(&body, "access_token").to_string();
    let at = if access.split('.').count() == 3 {
        jwt_claims(&access)
    } else {
        Value::Null
    };
    let idt = tp.id_token_claims(str_of(&body, "id_token"), id).await;
    (at, access, idt)
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 36
            && s.chars().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    })
}

#[tokio::test]
async fn preset_entra_id_shapes_tokens_like_entra_v2() {
    let tp = TestProvider::start().await;
    let (at, _, id) = preset_tokens(&tp, "entra", Some("entra_id")).await;
    assert_eq!(at["ver"], "2.0", "{at}");
    assert!(is_uuid(&at["tid"]), "{at}");
    assert!(is_uuid(&at["oid"]), "{at}");
    assert_eq!(at["scp"], "api.read", "only API scopes in scp: {at}");
    assert_eq!(at["roles"], json!(["admin", "user"]));
    assert_eq!(at["azp"], "entra");
    assert_eq!(at["preferred_username"], "alice");
    assert_eq!(id["ver"], "2.0", "{id}");
    assert_eq!(id["tid"], at["tid"]);
    assert_eq!(id["oid"], at["oid"], "one oid per person");
    assert_eq!(id["roles"], json!(["admin", "user"]));
    assert_eq!(id["preferred_username"], "alice");
    // The issuer stays Authdesk's.
    assert_eq!(id["iss"], tp.issuer.as_str());
}

#[tokio::test]
async fn preset_auth0_namespaces_roles_and_lists_permissions() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        preset: Some("auth0".into()),
        ..with_resources("a0")
    })
    .await;
    let body = tokens(&tp, "a0", &[("scope", PRESET_SCOPE), ("audience", API)]).await;
    let at = at_claims(&body);
    assert!(
        at["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("api.read")),
        "{at}"
    );
    assert_eq!(at["https://authdesk.local/roles"], json!(["admin", "user"]));
    assert_eq!(
        at["aud"],
        json!([API, format!("{}/userinfo", tp.issuer)]),
        "Auth0 adds its userinfo audience with openid"
    );
    let id = tp.id_token_claims(str_of(&body, "id_token"), "a0").await;
    assert_eq!(
        id["https://authdesk.local/roles"],
        json!(["admin", "user"]),
        "{id}"
    );
    assert!(id["nickname"].is_string(), "{id}");
}

#[tokio::test]
async fn preset_keycloak_puts_roles_in_realm_and_resource_access() {
    let tp = TestProvider::start().await;
    let (at, _, id) = preset_tokens(&tp, "kc", Some("keycloak")).await;
    assert_eq!(at["typ"], "Bearer", "{at}");
    assert_eq!(at["realm_access"]["roles"], json!(["admin", "user"]));
    assert_eq!(
        at["resource_access"]["kc"]["roles"],
        json!(["admin", "user"])
    );
    assert_eq!(at["preferred_username"], "alice");
    assert_eq!(at["azp"], "kc");
    assert_eq!(id["typ"], "ID", "{id}");
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["groups"], json!(["engineering"]));
}

#[tokio::test]
async fn preset_cognito_marks_token_use_and_groups() {
    let tp = TestProvider::start().await;
    let (at, _, id) = preset_tokens(&tp, "cog", Some("cognito")).await;
    assert_eq!(at["token_use"], "access", "{at}");
    assert_eq!(at["username"], "alice");
    assert_eq!(at["cognito:groups"], json!(["engineering"]));
    assert_eq!(at["client_id"], "cog");
    assert_eq!(id["token_use"], "id", "{id}");
    assert_eq!(id["cognito:username"], "alice");
    assert_eq!(id["cognito:groups"], json!(["engineering"]));
}

#[tokio::test]
async fn preset_okta_has_cid_uid_and_scp_as_an_array() {
    let tp = TestProvider::start().await;
    let (at, _, id) = preset_tokens(&tp, "okta", Some("okta")).await;
    assert_eq!(at["ver"], 1, "{at}");
    assert_eq!(at["cid"], "okta");
    assert_eq!(at["uid"], tp.sub_of("alice").await.as_str());
    let scp: Vec<&str> = at["scp"]
        .as_array()
        .expect("scp is an array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut want: Vec<&str> = PRESET_SCOPE.split(' ').collect();
    let mut got = scp.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(at["groups"], json!(["engineering"]));
    assert_eq!(id["ver"], 1, "{id}");
    assert!(is_uuid(&id["idp"]), "{id}");
    assert_eq!(id["groups"], json!(["engineering"]));
}

#[tokio::test]
async fn preset_google_issues_opaque_access_tokens_and_google_id_tokens() {
    let tp = TestProvider::start().await;
    let (at, access, id) = preset_tokens(&tp, "goog", Some("google")).await;
    assert_eq!(
        at,
        Value::Null,
        "Google's access tokens are opaque: {access}"
    );
    assert_eq!(id["hd"], "example.com", "{id}");
    assert_eq!(id["picture"], "https://example.com/people/alice.png");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["email"], "alice@example.com");
    // The opaque token still works at userinfo, which adds hd too.
    let info = tp.bearer_get("/userinfo", &access).await.ok();
    assert_eq!(info["hd"], "example.com", "{info}");
}

#[tokio::test]
async fn the_providers_preset_applies_to_clients_without_their_own() {
    let tp = TestProvider::start_with(ServeOptions {
        preset: Some(Preset::Okta),
        ..auto_approving("alice")
    })
    .await;
    let (at, _, id) = preset_tokens(&tp, "plain", None).await;
    assert_eq!(at["cid"], "plain", "the provider's okta preset: {at}");
    assert_eq!(id["ver"], 1);
    // A client's own preset wins.
    let (at, _, _) = preset_tokens(&tp, "kc", Some("keycloak")).await;
    assert_eq!(at["typ"], "Bearer", "{at}");
    assert!(at.get("cid").is_none(), "{at}");
}

#[test]
fn serve_preset_refuses_an_unknown_name() {
    let sb = Sandbox::new();
    let run = sb.run(&["serve", "--preset", "ping"]);
    assert_ne!(run.status.code(), Some(0));
    assert_mentions(&run.stderr, &["ping", "keycloak"]);
}

#[tokio::test]
async fn refreshes_keep_the_sign_ins_resources_and_may_narrow_them() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;
    let auth = Auth::basic("web", SECRET);
    let pkce = Pkce::new();
    let mut params = authorize_params("web", &pkce, &[("resource", API), ("resource", OTHER)]);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "openid offline_access"));
    let redirect = tp.approved_redirect(&params).await;
    let body = tp
        .exchange(
            &crate::support::Code {
                code: redirect["code"].clone(),
                verifier: pkce.verifier.clone(),
            },
            &auth,
        )
        .await;
    let refresh = |rt: String, resource: Option<&'static str>| {
        let tp = &tp;
        let auth = &auth;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            if let Some(r) = resource {
                form.push(("resource", r));
            }
            tp.token(&form, auth).await
        }
    };
    let both = refresh(str_of(&body, "refresh_token").into(), None)
        .await
        .ok();
    assert_eq!(at_claims(&both)["aud"], json!([API, OTHER]));
    let seen = tp.introspect(str_of(&both, "access_token"), &auth).await;
    assert_eq!(seen["aud"], json!([API, OTHER]), "{seen}");
    let one = refresh(str_of(&both, "refresh_token").into(), Some(OTHER))
        .await
        .ok();
    assert_eq!(at_claims(&one)["aud"], OTHER);
    // The next refresh still has the sign-in's two.
    let again = refresh(str_of(&one, "refresh_token").into(), None)
        .await
        .ok();
    assert_eq!(at_claims(&again)["aud"], json!([API, OTHER]));
    refresh(
        str_of(&again, "refresh_token").into(),
        Some("https://unknown.example"),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        &["https://unknown.example"],
    );
}

#[tokio::test]
async fn a_password_grants_refresh_keeps_its_amr_and_audience() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        grant_types: Some(vec![GrantType::Password, GrantType::RefreshToken]),
        ..with_resources("legacy")
    })
    .await;
    let auth = Auth::basic("legacy", SECRET);
    let body = tp
        .token(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "password"),
                ("scope", "openid offline_access"),
                ("resource", API),
            ],
            &auth,
        )
        .await
        .ok();
    let refreshed = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&body, "refresh_token")),
            ],
            &auth,
        )
        .await
        .ok();
    assert_eq!(at_claims(&refreshed)["aud"], API);
    assert_eq!(id_claims(&refreshed)["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn presets_shape_client_credentials_tokens_too() {
    let tp = TestProvider::start().await;
    let mut by_preset = Vec::new();
    for preset in ["entra_id", "auth0", "cognito", "okta"] {
        let id = format!("svc-{preset}");
        tp.add_client(ClientInput {
            preset: Some(preset.into()),
            ..service_client(&id, "svc-secret")
        })
        .await;
        let body = tp
            .token(
                &[("grant_type", "client_credentials")],
                &Auth::basic(&id, "svc-secret"),
            )
            .await
            .ok();
        by_preset.push((preset, id, at_claims(&body)));
    }
    for (preset, id, at) in &by_preset {
        assert!(at.get("sub").is_some(), "{preset}: {at}");
        assert_eq!(at["client_id"], id.as_str(), "{preset}: {at}");
        match *preset {
            "entra_id" => {
                assert_eq!(at["idtyp"], "app", "{at}");
                assert!(is_uuid(&at["oid"]), "{at}");
                assert!(at.get("scp").is_none(), "no scp without a user: {at}");
            }
            "auth0" => {
                assert_eq!(at["gty"], "client-credentials", "{at}");
                assert_eq!(at["permissions"], json!(["api.read"]));
            }
            "cognito" => {
                assert_eq!(at["token_use"], "access", "{at}");
                assert!(at.get("username").is_none(), "{at}");
            }
            "okta" => {
                assert_eq!(at["cid"], id.as_str(), "{at}");
                assert_eq!(at["scp"], json!(["api.read"]));
                assert!(at.get("uid").is_none(), "{at}");
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn a_claims_request_acr_and_amr_hold_after_a_refresh() {
    let tp = TestProvider::start().await;
    tp.add_client(with_resources("web")).await;
    let body = tokens(
        &tp,
        "web",
        &[
            ("scope", "openid offline_access"),
            (
                "claims",
                r#"{"userinfo":{"locale":null},"id_token":{"given_name":null}}"#,
            ),
            ("acr_values", "urn:example:gold"),
        ],
    )
    .await;
    let refreshed = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&body, "refresh_token")),
            ],
            &Auth::basic("web", SECRET),
        )
        .await
        .ok();
    let id = id_claims(&refreshed);
    assert_eq!(id["given_name"], "Alice", "{id}");
    assert_eq!(id["acr"], "urn:example:gold", "{id}");
    assert_eq!(id["amr"], json!(["user"]), "{id}");
    let info = tp
        .bearer_get("/userinfo", str_of(&refreshed, "access_token"))
        .await
        .ok();
    assert_eq!(info["locale"], "en-US", "{info}");
}

#[tokio::test]
async fn introspection_reports_the_aud_of_an_opaque_access_token() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        preset: Some("google".into()),
        ..with_resources("goog")
    })
    .await;
    let auth = Auth::basic("goog", SECRET);
    let body = tokens(&tp, "goog", &[("resource", API)]).await;
    let access = str_of(&body, "access_token");
    assert_ne!(access.split('.').count(), 3, "opaque: {access}");
    let seen = tp.introspect(access, &auth).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], API, "{seen}");
}

#[tokio::test]
async fn the_device_grant_takes_a_resource_at_the_token_endpoint() {
    const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(ClientInput {
        client_id: Some("tv".into()),
        name: Some("TV".into()),
        client_type: Some(authdesk::model::ClientType::Public),
        grant_types: Some(vec![GrantType::DeviceCode]),
        resources: Some(vec![API.into()]),
        ..Default::default()
    })
    .await;
    let auth = Auth::public("tv");
    let start = tp
        .post_form("/device_authorization", &[("scope", "openid")], &auth)
        .await
        .ok();
    let device_code = str_of(&start, "device_code").to_string();
    let user_code = str_of(&start, "user_code").to_string();
    let decided = tp.approve_device(&user_code, "bob").await;
    assert_eq!(decided.status(), StatusCode::OK);
    tp.clock.advance(6);
    // An unregistered resource is refused, and does not use the code up.
    tp.token(
        &[
            ("grant_type", GRANT),
            ("device_code", &device_code),
            ("resource", "https://unknown.example"),
        ],
        &auth,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_target", &[API]);
    tp.clock.advance(6);
    let tokens = tp
        .token(
            &[
                ("grant_type", GRANT),
                ("device_code", &device_code),
                ("resource", API),
            ],
            &auth,
        )
        .await
        .ok();
    assert_eq!(at_claims(&tokens)["aud"], API);
    assert_eq!(
        id_claims(&tokens)["amr"],
        json!(["user"]),
        "approved on a page, like a consent-page sign-in"
    );
}
