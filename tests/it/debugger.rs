//! The window's debugger (`authdesk::debugger`) against a real provider: trials that
//! play the client over verified TLS with the loopback listener, the fixes they
//! suggest, the token facts, and what the request log keeps for the comparison.

use authdesk::debugger::compare::{self, Change};
use authdesk::debugger::facts::{self, SignatureCheck};
use authdesk::debugger::playground;
use authdesk::debugger::trial::{self, Target, Trial, TrialFlow, TrialInput, TrialState};
use authdesk::model::{ClientInput, GrantType};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::support::{Auth, TestProvider};

fn target(tp: &TestProvider) -> Target {
    Target {
        issuer: tp.issuer.clone(),
        ca_pem: tp.ca.clone(),
        ca_path: "ca.pem".into(),
        now: tp.now(),
    }
}

fn names(t: &Trial) -> Vec<&str> {
    t.steps.iter().map(|s| s.name.as_str()).collect()
}

fn body<'a>(t: &'a Trial, step: &str) -> &'a Value {
    &t.steps
        .iter()
        .find(|s| s.name == step)
        .and_then(|s| s.answer.as_ref())
        .unwrap_or_else(|| panic!("no answer to {step}: {t:#?}"))
        .body
}

async fn begin(tp: &TestProvider, input: TrialInput) -> (Trial, Option<trial::Pending>) {
    let client = tp.core().get_client(&input.client_id).await.unwrap();
    trial::begin(target(tp), client, input).await.unwrap()
}

#[tokio::test]
async fn the_playground_signs_in_with_code_and_pkce_through_the_loopback_listener() {
    let tp = TestProvider::start().await;
    let client = playground::ensure(tp.core()).await.unwrap();
    assert_eq!(client.client_id, playground::CLIENT_ID);
    // A second call leaves it as it is.
    assert_eq!(playground::ensure(tp.core()).await.unwrap(), client);

    let (started, pending) = begin(
        &tp,
        TrialInput {
            client_id: client.client_id.clone(),
            flow: Some(TrialFlow::AuthorizationCode),
            extra: [("login_hint".to_string(), "bob".to_string())].into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(started.state, TrialState::Waiting, "{started:#?}");
    assert_eq!(names(&started), ["discovery", "authorize"]);
    let waiting = started.waiting.clone().unwrap();
    let redirect_uri = waiting.redirect_uri.unwrap();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    assert!(waiting.url.starts_with(&tp.url("/authorize?")));
    assert!(waiting.url.contains("code_challenge_method=S256"));

    // The browser: follows the authorization URL (the provider approves by itself) and
    // the redirect to the window's loopback listener.
    let res = tp.http.get(&waiting.url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&redirect_uri), "{location}");
    let (_cancel, cancelled) = oneshot::channel();
    let finishing = tokio::spawn(trial::finish(pending.unwrap(), cancelled));
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("close this tab"));

    let done = finishing.await.unwrap();
    assert_eq!(done.state, TrialState::Done, "{done:#?}");
    assert_eq!(
        names(&done),
        ["discovery", "authorize", "callback", "token", "userinfo"]
    );
    let tokens = body(&done, "token");
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string());
    assert_eq!(body(&done, "userinfo")["sub"], tp.sub_of("alice").await);
    let token_step = &done.steps[3];
    assert!(token_step.elapsed_ms.is_some());
    let verifier = token_step
        .request
        .form
        .iter()
        .find(|f| f.name == "code_verifier")
        .unwrap();
    assert!(verifier.secret, "the verifier is masked in the window");
    assert!(token_step.curl.contains("--cacert 'ca.pem'"));
    assert!(token_step.curl.contains("grant_type=authorization_code"));

    // The refresh flow with the refresh token the trial received.
    let (refreshed, none) = begin(
        &tp,
        TrialInput {
            client_id: client.client_id.clone(),
            flow: Some(TrialFlow::RefreshToken),
            refresh_token: tokens["refresh_token"].as_str().map(str::to_string),
            ..Default::default()
        },
    )
    .await;
    assert!(none.is_none());
    assert_eq!(refreshed.state, TrialState::Done, "{refreshed:#?}");
    assert_eq!(names(&refreshed), ["discovery", "token", "userinfo"]);
}

#[tokio::test]
async fn an_unregistered_redirect_uri_stops_the_trial_with_the_reason_and_the_fix_registers_it() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        client_id: Some("my-app".into()),
        name: Some("My app".into()),
        client_secret: Some("my-app-secret-0123456789".into()),
        redirect_uris: Some(vec!["https://app.example.com/callback".into()]),
        ..Default::default()
    })
    .await;
    let input = TrialInput {
        client_id: "my-app".into(),
        ..Default::default()
    };
    let (failed, pending) = begin(&tp, input.clone()).await;
    assert!(pending.is_none());
    assert_eq!(failed.state, TrialState::Failed);
    let step = failed.steps.last().unwrap();
    assert_eq!(step.name, "authorize");
    let error = step.error.as_ref().unwrap();
    assert_eq!(error.error, "invalid_request");
    assert!(
        error
            .description
            .contains("is not registered for client 'my-app'")
    );
    let [fix] = error.fixes.as_slice() else {
        panic!("one fix: {:?}", error.fixes)
    };
    let Change::AddRedirectUri { uri } = &fix.change else {
        panic!("{fix:?}")
    };
    assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));

    let changed = compare::apply(tp.core(), "my-app", &fix.change)
        .await
        .unwrap();
    assert!(changed.redirect_uris.contains(uri));

    // Tried again, the trial listens on the registered URI and the provider accepts it.
    let (retried, pending) = begin(&tp, input).await;
    assert_eq!(retried.state, TrialState::Waiting, "{retried:#?}");
    assert_eq!(retried.waiting.unwrap().redirect_uri.as_ref(), Some(uri));
    drop(pending);
}

#[tokio::test]
async fn a_grant_the_client_is_not_allowed_is_refused_and_the_fix_allows_it() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        client_id: Some("web".into()),
        name: Some("Web".into()),
        client_secret: Some("web-secret-0123456789abcdef".into()),
        redirect_uris: Some(vec!["http://127.0.0.1:5000/callback".into()]),
        ..Default::default()
    })
    .await;
    let input = TrialInput {
        client_id: "web".into(),
        flow: Some(TrialFlow::ClientCredentials),
        ..Default::default()
    };
    let (failed, _) = begin(&tp, input.clone()).await;
    assert_eq!(failed.state, TrialState::Failed);
    let step = failed.steps.last().unwrap();
    assert_eq!(step.answer.as_ref().unwrap().status, 400);
    let error = step.error.as_ref().unwrap();
    assert_eq!(error.error, "unauthorized_client");
    let change = Change::AddGrantType {
        grant: GrantType::ClientCredentials,
    };
    assert!(error.fixes.iter().any(|f| f.change == change), "{error:?}");
    // Sent as the registration says: client_secret_basic, the secret masked.
    let auth = step
        .request
        .headers
        .iter()
        .find(|h| h.name == "authorization")
        .unwrap();
    assert!(auth.secret && auth.value.starts_with("Basic "));

    compare::apply(tp.core(), "web", &change).await.unwrap();
    let (done, _) = begin(&tp, input).await;
    assert_eq!(done.state, TrialState::Done, "{done:#?}");
    assert!(body(&done, "token")["access_token"].is_string());
}

#[tokio::test]
async fn token_facts_tell_ours_from_changed_foreign_and_revoked_tokens() {
    let tp = TestProvider::start().await;
    let ctx = &tp.provider.context;
    let secret = "svc-secret-0123456789abcdef";
    tp.add_client(ClientInput {
        client_id: Some("svc".into()),
        name: Some("Service".into()),
        client_secret: Some(secret.into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        ..Default::default()
    })
    .await;
    let issue = || async {
        tp.token(
            &[("grant_type", "client_credentials")],
            &Auth::basic("svc", secret),
        )
        .await
        .ok()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let jwt = issue().await;
    let f = facts::of(ctx, &jwt).await.unwrap();
    assert_eq!(f.signature, SignatureCheck::Valid);
    assert_eq!(f.issuer, tp.issuer);
    let stored = f.stored.unwrap();
    assert_eq!(stored.client_id, "svc");
    assert!(f.claims.is_none(), "a JWT carries its own claims");

    // The claims of another token under this one's signature: our kid, a signature
    // that does not verify.
    let other = issue().await;
    let mut parts: Vec<&str> = jwt.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    let changed = parts.join(".");
    assert_eq!(
        facts::of(ctx, &changed).await.unwrap().signature,
        SignatureCheck::Invalid
    );

    tp.core().revoke_token(&stored.id).await.unwrap();
    let revoked = facts::of(ctx, &jwt).await.unwrap();
    assert_eq!(
        revoked.stored.unwrap().state,
        authdesk::store::flows::TokenState::Revoked
    );

    let unknown = facts::of(ctx, "not-a-token-we-issued").await.unwrap();
    assert_eq!(unknown.signature, SignatureCheck::NotJwt);
    assert!(unknown.stored.is_none());
}

#[tokio::test]
async fn the_request_log_keeps_the_client_authentication_a_token_request_used() {
    let tp = TestProvider::start().await;
    let mut events = tp.events();
    tp.add_client(ClientInput {
        client_id: Some("svc".into()),
        name: Some("Service".into()),
        client_secret: Some("svc-secret-0123456789abcdef".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        token_endpoint_auth_method: Some(authdesk::model::AuthMethod::ClientSecretBasic),
        ..Default::default()
    })
    .await;
    let reply = tp
        .token(
            &[("grant_type", "client_credentials")],
            &Auth::post("svc", "svc-secret-0123456789abcdef"),
        )
        .await;
    // Authdesk accepts either secret method; the log says which one came.
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let entry = events
        .request("token", authdesk::events::RequestStatus::Completed)
        .await;
    assert_eq!(entry.detail["client_auth"], "client_secret_post");
    assert!(
        !entry.params.values().any(|v| v.contains("svc-secret")),
        "the secret is not kept: {:?}",
        entry.params
    );
    let client = tp.core().get_client("svc").await.unwrap();
    let cmp = compare::compare(&client, &entry.kind, &entry.params, &entry.detail);
    let row = cmp.rows.iter().find(|r| r.field == "client_auth").unwrap();
    assert!(row.differs);
    assert_eq!(row.registered, ["client_secret_basic"]);
}

#[tokio::test]
async fn a_device_trial_shows_the_user_code_and_polls_until_approved_on_the_page() {
    let tp = TestProvider::start_with(crate::support::asking_consent()).await;
    playground::ensure(tp.core()).await.unwrap();
    let (started, pending) = begin(
        &tp,
        TrialInput {
            client_id: playground::CLIENT_ID.into(),
            flow: Some(TrialFlow::DeviceCode),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(started.state, TrialState::Waiting, "{started:#?}");
    assert_eq!(names(&started), ["discovery", "device_authorization"]);
    let waiting = started.waiting.unwrap();
    let user_code = waiting.user_code.unwrap();
    assert!(
        waiting.url.starts_with(&tp.url("/device")),
        "{}",
        waiting.url
    );

    let (_cancel, cancelled) = oneshot::channel();
    let finishing = tokio::spawn(trial::finish(pending.unwrap(), cancelled));
    // The person approves on the verification page as bob.
    let decided = tp.approve_device(&user_code, "bob").await;
    assert!(decided.status().is_success(), "{}", decided.status());

    let done = finishing.await.unwrap();
    assert_eq!(done.state, TrialState::Done, "{done:#?}");
    assert_eq!(
        names(&done),
        ["discovery", "device_authorization", "token", "userinfo"]
    );
    assert_eq!(body(&done, "userinfo")["sub"], tp.sub_of("bob").await);
    assert!(
        done.steps[2]
            .note
            .as_deref()
            .unwrap()
            .starts_with("Polled ")
    );
}
