//! Failures on demand (issue 20): fault rules added with `authdesk faults add` while the
//! provider runs apply to the very next request; "next N" is taken exactly once under
//! concurrent requests; each changed request is marked in the request log with what the
//! real answer was (or that it was not computed); the effects on the wire (a dropped
//! connection, a truncated body, bad tokens, latency); the scenarios; persistence,
//! `serve`'s warnings and the seed file's `faults:`; bad input refused in one line.
//! No timing is asserted: latency is checked as applied and logged.

use authdesk::events::{ProviderEvent, RequestEntry, RequestStatus};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{
    Auth, Events, Run, Sandbox, TestProvider, jwt_claims, parse_json, service_client, web_client,
};

/// `authdesk faults ARGS…` on the running provider's data directory, which must succeed.
fn faults(sb: &Sandbox, tp: &TestProvider, args: &[&str]) -> Value {
    let mut all = vec!["faults"];
    all.extend_from_slice(args);
    all.push("--json");
    parse_json(&Run::of(sb.command_in(tp.data_dir(), &all), &all).success())
}

async fn service_token(tp: &TestProvider) -> crate::support::Reply {
    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::basic("svc", "svc-secret"),
    )
    .await
}

/// The next entry of `kind` that carries an injection mark.
async fn marked(events: &mut Events, kind: &str) -> RequestEntry {
    let what = format!("a marked {kind} entry");
    match events
        .next_where(&what, |e| {
            matches!(e, ProviderEvent::Request { entry } if entry.kind == kind && entry.detail.get("injected").is_some())
        })
        .await
    {
        ProviderEvent::Request { entry } => entry,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_rule_added_by_the_cli_applies_to_the_very_next_request_and_only_n_times() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(service_client("svc", "svc-secret")).await;
    service_token(&tp).await.ok();
    let mut events = tp.events();
    let added = faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "token",
            "--error",
            "temporarily_unavailable",
            "--description",
            "down for maintenance",
            "--count",
            "1",
        ],
    );
    let rule = added["rules"][0]["id"].as_i64().unwrap();
    // No wait: the CLI has returned, so the rule is in force.
    let refused = service_token(&tp).await;
    refused.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        &["down for maintenance"],
    );
    let entry = marked(&mut events, "token").await;
    assert_eq!(entry.status, RequestStatus::Rejected);
    assert_eq!(entry.error.as_deref(), Some("temporarily_unavailable"));
    assert_eq!(entry.client_id.as_deref(), Some("svc"));
    let injected = &entry.detail["injected"];
    assert_eq!(injected["label"], format!("injected by rule {rule}"));
    assert!(
        injected["real"].as_str().unwrap().contains("not processed"),
        "{injected}"
    );
    // Used up: the next request is answered for real.
    service_token(&tp).await.ok();
    let listed = faults(&sb, &tp, &["list"]);
    assert_eq!(listed[0]["remaining"], 0);
    assert_eq!(listed[0]["injected"], 1);
    assert_eq!(listed[0]["active"], false);
    // Cleared rules leave nothing behind.
    faults(&sb, &tp, &["clear"]);
    assert_eq!(faults(&sb, &tp, &["list"]), serde_json::json!([]));
}

#[tokio::test]
async fn next_n_is_taken_exactly_once_under_concurrent_requests() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "jwks",
            "--status",
            "500",
            "--count",
            "5",
        ],
    );
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let http = tp.http.clone();
        let url = tp.url("/jwks");
        tasks.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().status()
        }));
    }
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::INTERNAL_SERVER_ERROR => failed += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(failed, 5);
    assert_eq!(faults(&sb, &tp, &["list"])[0]["injected"], 5);
}

#[tokio::test]
async fn a_replaced_read_only_answer_is_logged_with_the_real_one() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(service_client("svc", "svc-secret")).await;
    let token = service_token(&tp).await.ok();
    let access = token["access_token"].as_str().unwrap();
    faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "introspect",
            "--status",
            "503",
            "--retry-after",
            "9",
            "--count",
            "1",
        ],
    );
    let mut events = tp.events();
    let reply = tp
        .post_form(
            "/introspect",
            &[("token", access)],
            &Auth::basic("svc", "svc-secret"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "9");
    let entry = marked(&mut events, "introspect").await;
    assert_eq!(entry.status, RequestStatus::Rejected);
    let real = entry.detail["injected"]["real"].as_str().unwrap();
    assert!(real.contains("completed"), "{real}");
    // The real answer's own detail is kept.
    assert_eq!(entry.detail["active"], true);
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_on_http1_and_http2() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    faults(
        &sb,
        &tp,
        &["add", "--endpoint", "discovery", "--drop", "--count", "2"],
    );
    let url = tp.url("/.well-known/openid-configuration");
    for http2 in [false, true] {
        let client = tp.client_speaking(http2);
        let res = client.get(&url).send().await;
        let got_body = match res {
            Ok(r) => r.bytes().await.is_ok(),
            Err(_) => false,
        };
        assert!(!got_body, "http2={http2}: an answer arrived");
    }
    let res = tp.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn truncated_and_malformed_bodies_are_not_json_and_the_tokens_are_logged() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(service_client("svc", "svc-secret")).await;
    for kind in ["truncated", "malformed"] {
        faults(
            &sb,
            &tp,
            &["add", "--endpoint", "token", "--body", kind, "--count", "1"],
        );
        let mut events = tp.events();
        let reply = service_token(&tp).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, Value::Null, "{kind}: {}", reply.text);
        assert!(reply.text.starts_with('{'), "{}", reply.text);
        let entry = marked(&mut events, "token").await;
        assert_eq!(entry.status, RequestStatus::Completed);
        assert!(
            entry.detail["injected"]["effect"]
                .as_str()
                .unwrap()
                .contains(kind)
        );
    }
}

#[tokio::test]
async fn latency_is_applied_and_logged_for_an_endpoint_that_does_not_log() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "jwks",
            "--latency",
            "10-30",
            "--count",
            "1",
        ],
    );
    let mut events = tp.events();
    let res = tp.http.get(tp.url("/jwks")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let entry = marked(&mut events, "jwks").await;
    let effect = entry.detail["injected"]["effect"].as_str().unwrap();
    assert!(effect.contains("ms of latency"), "{effect}");
    assert_eq!(faults(&sb, &tp, &["list"])[0]["injected"], 1);
}

#[tokio::test]
async fn an_expired_access_token_on_purpose_is_inactive_and_its_id_token_matches() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(web_client("web", "web-secret")).await;
    let auth = Auth::basic("web", "web-secret");
    faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "token",
            "--client",
            "web",
            "--bad-token",
            "expired-access-token",
            "--count",
            "1",
        ],
    );
    let code = tp.code("web", &[("scope", "openid email")]).await;
    let body = tp.exchange(&code, &auth).await;
    let access = body["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert!(claims["exp"].as_i64().unwrap() < tp.now(), "{claims}");
    assert_eq!(tp.introspect(access, &auth).await["active"], false);
    // The id_token is good, and its at_hash is that of the expired token.
    let id = tp
        .id_token_claims(body["id_token"].as_str().unwrap(), "web")
        .await;
    assert_eq!(id["at_hash"], authdesk::oauth::mint::at_hash(access));
    // The rule is used up: the next token is good.
    let code = tp.code("web", &[("scope", "openid email")]).await;
    let body = tp.exchange(&code, &auth).await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(tp.introspect(access, &auth).await["active"], true);
}

#[tokio::test]
async fn expire_every_access_token_now_is_seen_by_the_running_provider_at_once() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(service_client("svc", "svc-secret")).await;
    let auth = Auth::basic("svc", "svc-secret");
    let token = service_token(&tp).await.ok();
    let access = token["access_token"].as_str().unwrap();
    // Introspected once, so the provider has the row cached.
    assert_eq!(tp.introspect(access, &auth).await["active"], true);
    let added = faults(&sb, &tp, &["add", "--scenario", "expire-access-tokens"]);
    assert!(
        added["done"][0]
            .as_str()
            .unwrap()
            .starts_with("expired 1 access token"),
        "{added}"
    );
    // The CLI expired the token at the wall-clock time, which this provider's manual
    // clock (started with the test) may not have reached yet.
    tp.clock.catch_up();
    assert_eq!(tp.introspect(access, &auth).await["active"], false);
}

#[tokio::test]
async fn an_injected_refusal_at_the_authorization_endpoint_is_a_redirect_with_state_and_iss() {
    let tp = TestProvider::start().await;
    let sb = Sandbox::new();
    tp.add_client(web_client("web", "web-secret")).await;
    faults(
        &sb,
        &tp,
        &[
            "add",
            "--endpoint",
            "authorize",
            "--error",
            "temporarily_unavailable",
            "--count",
            "1",
        ],
    );
    let authz = crate::support::Authz::new("web", "openid");
    let reply = tp.browser().authorize(&authz).await;
    let params = reply.redirect_params();
    assert_eq!(params["error"], "temporarily_unavailable");
    assert_eq!(params["state"], authz.state);
    assert_eq!(params["iss"], tp.issuer);
    // An unknown client is still refused on the page, never redirected.
    faults(
        &sb,
        &tp,
        &["add", "--endpoint", "authorize", "--error", "access_denied"],
    );
    let unknown = crate::support::Authz::new("nobody", "openid");
    let reply = tp.browser().authorize(&unknown).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
}

#[test]
fn bad_cli_and_seed_rules_are_one_line_exit_1_and_change_nothing() {
    let sb = Sandbox::new();
    sb.ok(&["faults", "add", "--endpoint", "jwks", "--drop"]);
    let before = sb.ok_json(&["faults", "list"]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["faults", "add", "--endpoint", "tokn", "--drop"],
            &["unknown endpoint 'tokn'", "token"],
        ),
        (
            &[
                "faults",
                "add",
                "--endpoint",
                "token",
                "--bad-token",
                "wrong-sub",
            ],
            &["unknown bad token 'wrong-sub'"],
        ),
        (
            &["faults", "add", "--endpoint", "token", "--body", "garbled"],
            &["unknown body fault 'garbled'"],
        ),
        (
            &[
                "faults",
                "add",
                "--endpoint",
                "token",
                "--scenario",
                "meteor",
            ],
            &["unknown scenario 'meteor'"],
        ),
        (&["faults", "add", "--endpoint", "token"], &["no effect"]),
        (
            &[
                "faults",
                "add",
                "--endpoint",
                "token",
                "--error",
                "oops",
                "--count",
                "1",
            ],
            &["unknown OAuth error code 'oops'"],
        ),
        (
            &[
                "faults",
                "add",
                "--endpoint",
                "token",
                "--error",
                "invalid_grant",
                "--count",
                "-3",
            ],
            &["count must be 1 or more", "-3"],
        ),
        (&["faults", "clear", "99"], &["fault rule", "99"]),
        (&["faults", "pause", "99"], &["99"]),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
    }
    assert_eq!(sb.ok_json(&["faults", "list"]), before);

    // A seed whose rules are bad applies nothing of itself, neither at `serve --seed`
    // nor at `import`.
    let bad_seeds = [
        (
            "unknown-endpoint.yaml",
            "- endpoint: tokn\n    drop: true",
            "tokn",
        ),
        (
            "unknown-effect.yaml",
            "- endpoint: token\n    explode: true",
            "explode",
        ),
        (
            "negative-count.yaml",
            "- endpoint: token\n    error: invalid_grant\n    count: -1",
            "count",
        ),
    ];
    for (name, rule, needle) in bad_seeds {
        let path = sb.file(name);
        std::fs::write(
            &path,
            format!(
                "version: 1\nclients:\n  - client_id: from-bad-seed\n    client_type: public\n    redirect_uris: [http://127.0.0.1:8765/callback]\nfaults:\n  {rule}\n"
            ),
        )
        .unwrap();
        let run = sb.run(&["import", path.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(1), "{name}: {}", run.stderr);
        run.one_line_error(&[needle]);
        let mut served = sb.spawn_serve(&["--seed", path.to_str().unwrap()]);
        let status = served.wait_exit();
        assert_eq!(status.code(), Some(1), "{name}: {}", served.stderr());
        assert!(served.stderr().contains(needle), "{}", served.stderr());
        let clients = sb.ok_json(&["clients", "list"]);
        assert!(
            !clients.to_string().contains("from-bad-seed"),
            "{name}: {clients}"
        );
        assert_eq!(sb.ok_json(&["faults", "list"]), before, "{name}");
    }
}

#[test]
fn rules_persist_across_restarts_and_serve_warns_about_each_active_one() {
    let sb = Sandbox::new();
    let seed = sb.file("faults.yaml");
    std::fs::write(
        &seed,
        "version: 1\nfaults:\n  - scenario: jwks-unavailable\n    seconds: 300\n  - endpoint: token\n    grant_type: refresh_token\n    error: invalid_grant\n    count: 1\n",
    )
    .unwrap();
    sb.ok(&["faults", "add", "--endpoint", "userinfo", "--status", "502"]);
    let mut served = sb.serve(&["--seed", seed.to_str().unwrap()]);
    let ca = sb.ca_pem();
    let issuer = served.stdout_lines()[0]
        .strip_prefix("issuer ")
        .unwrap()
        .to_string();
    let res = crate::support::client_trusting(&ca);
    let got = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { res.get(format!("{issuer}/jwks")).send().await.unwrap() });
    assert_eq!(got.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(got.headers().contains_key("retry-after"));
    served.stop_with(libc::SIGTERM);
    let warned = served.stderr();
    for rule in ["rule 1:", "rule 2:", "rule 3:"] {
        assert!(
            warned
                .lines()
                .any(|l| l.contains("WARN") && l.contains(rule)),
            "{rule}: {warned}"
        );
    }
    // Restarted with the same seed: its rules are set afresh, not doubled; the CLI's
    // rule is kept.
    let mut again = sb.serve(&["--seed", seed.to_str().unwrap()]);
    again.stop_with(libc::SIGTERM);
    let listed = sb.ok_json(&["faults", "list"]);
    let origins: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["cli", "seed", "seed"], "{listed}");
    sb.ok(&["faults", "pause"]);
    let mut paused = sb.serve(&[]);
    paused.stop_with(libc::SIGTERM);
    assert!(
        !paused.stderr().contains("is active"),
        "{}",
        paused.stderr()
    );
}
