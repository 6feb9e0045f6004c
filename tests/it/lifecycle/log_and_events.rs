//! Each step of a sign-in publishes its event at once and is written to the request log
//! in the background; the log is still there after a restart, and a rejection records
//! its cause.

use authdesk::events::ProviderEvent;
use authdesk::events::{RequestEntry, RequestStatus};
use reqwest::StatusCode;
use serde_json::json;

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{Auth, Authz, REDIRECT, str_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_of_a_page_sign_in_emits_its_event_and_is_stored_across_a_restart() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let mut entries: Vec<RequestEntry> = Vec::new();

    // The browser arrives: received, then pending on the page and in the window.
    let form = browser.authorize(&authz).await.consent();
    let received = events.request("authorize", RequestStatus::Received).await;
    assert_eq!(received.client_id.as_deref(), Some(CLIENT));
    assert_eq!(received.params.get("state"), Some(&authz.state));
    assert_eq!(
        received.detail["scopes"],
        json!(["openid", "profile", "offline_access"])
    );
    let consent = match events
        .next_where("ConsentPending", |e| {
            matches!(e, ProviderEvent::ConsentPending { .. })
        })
        .await
    {
        ProviderEvent::ConsentPending { consent } => consent,
        _ => unreachable!(),
    };
    assert_eq!(consent.request_id, form.request_id);
    assert_eq!(consent.client_id, CLIENT);
    assert_eq!(consent.redirect_uri, REDIRECT);
    assert_eq!(consent.scopes, ["openid", "profile", "offline_access"]);
    let pending = events
        .request("authorize", RequestStatus::PendingConsent)
        .await;
    assert_eq!(pending.detail["request_id"], json!(form.request_id));
    entries.extend([received, pending]);

    // Approved on the page as bob.
    let code = browser.approve_as(&form, "bob", &authz).await;
    let approved = events.request("authorize", RequestStatus::Approved).await;
    assert_eq!(approved.username.as_deref(), Some("bob"));
    assert_eq!(approved.detail["decided_by"], json!("page"));
    assert!(approved.error.is_none(), "{approved:?}");
    let resolved = events
        .next_where("ConsentResolved", |e| {
            matches!(e, ProviderEvent::ConsentResolved { .. })
        })
        .await;
    assert_eq!(
        resolved,
        ProviderEvent::ConsentResolved {
            request_id: form.request_id.clone(),
            approved: true
        }
    );
    entries.push(approved);

    // The code exchange, then everything a client does with its tokens.
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let exchanged = events.request("token", RequestStatus::Completed).await;
    assert_eq!(exchanged.client_id.as_deref(), Some(CLIENT));
    assert_eq!(exchanged.detail["grant_type"], json!("authorization_code"));
    assert_eq!(exchanged.detail["refresh_token"], json!(true));
    assert_eq!(exchanged.detail["id_token"], json!(true));
    // The tokens it produced, by id: the access token's, then the refresh token's.
    let issued: Vec<String> = serde_json::from_value(exchanged.detail["tokens"].clone())
        .unwrap_or_else(|e| panic!("no token ids in {:?}: {e}", exchanged.detail));
    assert_eq!(issued.len(), 2, "{issued:?}");
    let found = tp
        .core()
        .find_token(str_of(&tokens, "access_token"))
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found.id, issued[0]);
    let found = tp
        .core()
        .find_token(str_of(&tokens, "refresh_token"))
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found.id, issued[1]);
    let logged_code = exchanged.params.get("code").expect("code in the log");
    assert_ne!(logged_code, &code.code, "the log shows the code in clear");
    assert!(
        !exchanged.params.values().any(|v| v == &authz.pkce.verifier),
        "the log shows the PKCE verifier: {:?}",
        exchanged.params
    );
    events
        .next_where("TokenChanged", |e| {
            matches!(e, ProviderEvent::TokenChanged { .. })
        })
        .await;
    entries.push(exchanged);

    let refresh_token = str_of(&tokens, "refresh_token");
    let refreshed = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            &CLIENT_AUTH,
        )
        .await
        .ok();
    let entry = events.request("token", RequestStatus::Completed).await;
    assert_eq!(entry.detail["grant_type"], json!("refresh_token"));
    entries.push(entry);

    let access_token = str_of(&refreshed, "access_token");
    assert_eq!(
        tp.introspect(access_token, &CLIENT_AUTH).await["active"],
        json!(true)
    );
    let entry = events.request("introspect", RequestStatus::Completed).await;
    assert_eq!(entry.client_id.as_deref(), Some(CLIENT));
    assert_eq!(entry.detail["active"], json!(true));
    entries.push(entry);

    let userinfo = tp
        .http
        .get(tp.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    let entry = events.request("userinfo", RequestStatus::Completed).await;
    assert_eq!(entry.username.as_deref(), Some("bob"));
    assert_eq!(entry.client_id.as_deref(), Some(CLIENT));
    entries.push(entry);

    let new_refresh = str_of(&refreshed, "refresh_token");
    let revoked = tp
        .post_form(
            "/revoke",
            &[("token", new_refresh), ("token_type_hint", "refresh_token")],
            &CLIENT_AUTH,
        )
        .await;
    let (status, body) = (revoked.status, revoked.body);
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = events.request("revoke", RequestStatus::Completed).await;
    assert_eq!(entry.client_id.as_deref(), Some(CLIENT));
    assert!(entry.detail["token_id"].is_string(), "{entry:?}");
    entries.push(entry);

    // The stored log has exactly what was published, and keeps it across a restart.
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!(tp.stored_entries(&ids).await, entries);
    let tp = tp.restart().await;
    assert_eq!(
        tp.stored_entries(&ids).await,
        entries,
        "the request log after a restart"
    );
    // Newest first, as the window lists it.
    let listed = tp
        .core()
        .list_requests(Some(CLIENT), None, 100)
        .await
        .expect("list requests");
    let order: Vec<&str> = listed
        .iter()
        .filter(|e| ids.contains(&e.id))
        .map(|e| e.id.as_str())
        .collect();
    let expected: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(order, expected, "the log is not newest first");
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_redirect_uri_is_refused_on_a_page_and_logged_with_its_cause() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let browser = tp.browser();
    let evil = "https://evil.example/callback";
    let url = Authz::new(CLIENT, SCOPES).url(&tp.issuer).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>(),
    );
    assert!(url.contains("evil.example"), "{url}");
    let answer = browser.get(&url).await;
    answer.assert_page(StatusCode::BAD_REQUEST);
    assert!(answer.html_text().contains(evil), "{}", answer.text);

    let entry = events.request("authorize", RequestStatus::Rejected).await;
    assert_eq!(entry.client_id.as_deref(), Some(CLIENT));
    assert_eq!(entry.error.as_deref(), Some("invalid_request"));
    let cause = entry.error_description.clone().unwrap_or_default();
    assert!(
        cause.contains(evil) && cause.contains("not registered") && cause.contains(REDIRECT),
        "the cause should name the URI and what is registered: {cause}"
    );
    assert!(
        events
            .all_so_far()
            .iter()
            .all(|e| !matches!(e, ProviderEvent::ConsentPending { .. })),
        "a refused request must not wait for consent"
    );
    assert!(tp.provider.context.pending_consents().is_empty());
    assert_eq!(
        tp.stored_entries(std::slice::from_ref(&entry.id)).await,
        [entry]
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_refused_and_logged_with_its_cause() {
    let tp = super::provider().await;
    let browser = tp.browser();
    let authz = Authz::new(CLIENT, SCOPES);
    let code = browser.sign_in("alice", &authz).await;
    let mut events = tp.events();

    let refused = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &code.verifier),
            ],
            &Auth::basic(CLIENT, "not-the-secret"),
        )
        .await;
    let (status, body) = (refused.status, refused.body);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], json!("invalid_client"));

    let entry = events.request("token", RequestStatus::Rejected).await;
    assert_eq!(entry.error.as_deref(), Some("invalid_client"));
    assert_eq!(entry.detail["grant_type"], json!("authorization_code"));
    let cause = entry.error_description.clone().unwrap_or_default();
    assert!(
        cause.contains("secret") && cause.contains("wrong") && cause.contains(CLIENT),
        "the cause should say the secret is wrong: {cause}"
    );
    assert!(
        !entry.params.values().any(|v| v.contains("not-the-secret")),
        "{entry:?}"
    );
    assert_eq!(
        tp.stored_entries(std::slice::from_ref(&entry.id)).await,
        [entry]
    );

    // The code was not spent by the refused attempt.
    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    tp.stop().await;
}

/// The window filters the request log by client; a client whose secret is wrong must
/// find that failure under its own id. With HTTP Basic (the default method) the id is
/// only in the Authorization header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_basic_authentication_is_logged_under_the_client_it_named() {
    let tp = super::provider().await;
    let mut events = tp.events();
    let mut ids = Vec::new();
    let mut logged_as = Vec::new();
    for (path, kind, form) in [
        (
            "/token",
            "token",
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
        ),
        ("/introspect", "introspect", vec![("token", "x")]),
        ("/revoke", "revoke", vec![("token", "x")]),
    ] {
        let refused = tp
            .post_form(path, &form, &Auth::basic(CLIENT, "not-the-secret"))
            .await;
        let (status, body) = (refused.status, refused.body);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let entry = events.request(kind, RequestStatus::Rejected).await;
        assert_eq!(entry.error.as_deref(), Some("invalid_client"), "{path}");
        logged_as.push((path, entry.client_id.clone()));
        ids.push(entry.id);
    }
    assert_eq!(
        logged_as,
        [
            ("/token", Some(CLIENT.to_string())),
            ("/introspect", Some(CLIENT.to_string())),
            ("/revoke", Some(CLIENT.to_string())),
        ],
        "the client each failure is logged under"
    );
    tp.stored_entries(&ids).await;
    let listed = tp
        .core()
        .list_requests(Some(CLIENT), Some(RequestStatus::Rejected), 100)
        .await
        .expect("list requests");
    assert_eq!(listed.len(), 3, "{listed:?}");
    tp.stop().await;
}

/// A service fetching tokens again and again makes one timeline entry with a count, not
/// one per token (issue 24); each request still got a token of its own, and code
/// exchanges, which spend a code each, stay one entry per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_client_credentials_requests_fold_into_one_entry_and_code_exchanges_do_not() {
    use crate::support::service_client;
    let tp = super::provider().await;
    tp.add_client(service_client("folding-service", "folding-service-secret"))
        .await;
    let auth = Auth::basic("folding-service", "folding-service-secret");
    let mut events = tp.events();
    let mut issued = Vec::new();
    for _ in 0..5 {
        let reply = tp
            .token(
                &[("grant_type", "client_credentials"), ("scope", "api.read")],
                &auth,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        issued.push(str_of(&reply.body, "access_token").to_string());
    }
    issued.sort();
    issued.dedup();
    assert_eq!(issued.len(), 5, "each request got a token of its own");
    // A failure between them is never folded.
    let refused = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &Auth::basic("folding-service", "wrong-secret"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // Two sign-ins of the web client: each code exchange is an entry of its own.
    for user in ["alice", "bob"] {
        let browser = tp.browser();
        let code = browser.sign_in(user, &Authz::new(CLIENT, SCOPES)).await;
        let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
        assert!(tokens["access_token"].is_string(), "{tokens}");
    }
    // The folded entry closes once its window has passed (the log looks at its open
    // folds a few times a second), in its final state.
    tp.clock.advance(authdesk::log::FOLD_SECS + 1);
    let folded = events
        .next_where("the folded token entry", |e| {
            matches!(e, ProviderEvent::Request { entry } if entry.kind == "token" && entry.count == 4)
        })
        .await;
    let ProviderEvent::Request { entry: folded } = folded else {
        unreachable!()
    };
    // A request after the window is an entry of its own again.
    let reply = tp
        .token(
            &[("grant_type", "client_credentials"), ("scope", "api.read")],
            &auth,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let later = events.request("token", RequestStatus::Completed).await;
    assert_eq!(
        (later.count, later.at),
        (1, folded.last_at + authdesk::log::FOLD_SECS + 1)
    );
    let stored = tp.stored_entries(&[folded.id.clone(), later.id]).await;
    assert_eq!(stored[0].count, 4, "{stored:?}");
    assert_eq!(stored[0].client_id.as_deref(), Some("folding-service"));
    assert_eq!(stored[0].detail["grant_type"], json!("client_credentials"));
    assert_eq!(
        stored[0].detail["tokens"].as_array().map(Vec::len),
        Some(1),
        "the tokens of its first request: {stored:?}"
    );
    let all = tp
        .core()
        .list_requests(None, None, 100)
        .await
        .expect("the request log");
    let of = |client: &str, status: RequestStatus| {
        all.iter()
            .filter(|e| {
                e.kind == "token" && e.client_id.as_deref() == Some(client) && e.status == status
            })
            .map(|e| e.count)
            .collect::<Vec<_>>()
    };
    // The first request alone (nothing to fold into yet), then four folded; the
    // failure alone; the later request alone (its window had closed).
    let mut counts = of("folding-service", RequestStatus::Completed);
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 4], "{all:#?}");
    assert_eq!(of("folding-service", RequestStatus::Rejected), [1]);
    assert_eq!(of(CLIENT, RequestStatus::Completed), [1, 1], "{all:#?}");
    tp.stop().await;
}
