//! Authdesk in CI and scripts: `authdesk exec` around a command, `serve --port 0`
//! with `--ready-file`, `authdesk env`, and the CLI's management of clients, users and
//! tokens (`clients update|rotate-secret`, `users update`, `tokens list|show|revoke|
//! expire`), each with its refusals: one line, exit 1, nothing changed.

use std::net::TcpStream;

use serde_json::Value;

use crate::support::{Sandbox, assert_mentions, client_trusting, parse_json};

const SEED: &str = "clients:
  - client_id: ci-service
    name: CI service
    client_secret: ci-secret
    grant_types: [client_credentials]
    scopes: [api.read]
  - client_id: legacy
    name: Legacy app
    client_secret: legacy-secret
    grant_types: [password, refresh_token]
    scopes: [openid, profile, offline_access]
scopes:
  - name: api.read
    description: Read the API
";

fn seeded(sb: &Sandbox) -> std::path::PathBuf {
    let seed = sb.file("ci.yaml");
    std::fs::write(&seed, SEED).unwrap();
    seed
}

#[test]
fn exec_runs_the_command_with_the_provider_around_it_and_passes_its_status() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    let out = sb.file("seen.txt");
    // No --data-dir: a temporary one, removed afterwards.
    let script = format!(
        "printf '%s\\n%s\\n%s\\n%s\\n' \"$AUTHDESK_ISSUER\" \"$AUTHDESK_CA\" \"$AUTHDESK_CLIENT_CI_SERVICE_SECRET\" \"$REQUESTS_CA_BUNDLE\" > {}; \
         curl -sf --cacert \"$AUTHDESK_CA\" -u \"$AUTHDESK_CLIENT_CI_SERVICE_ID:$AUTHDESK_CLIENT_CI_SERVICE_SECRET\" -d grant_type=client_credentials \"$AUTHDESK_ISSUER/token\" >> {} || exit 9; exit 3",
        out.display(),
        out.display()
    );
    let mut cmd = sb.bare_command();
    cmd.args(["exec", "--seed"])
        .arg(&seed)
        .args(["--", "sh", "-c", &script]);
    let run = cmd.output().expect("authdesk exec runs");
    assert_eq!(
        run.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    let issuer = url::Url::parse(lines[0]).expect("AUTHDESK_ISSUER is a URL");
    assert_eq!(issuer.scheme(), "https");
    assert_eq!(lines[2], "ci-secret");
    let token: Value = parse_json(lines[4]);
    assert_eq!(token["token_type"], "Bearer", "{token}");
    // The CA and bundle files lived in the temporary directory, gone with it; and the
    // provider is stopped: its port is free, nothing listens.
    assert!(
        !std::path::Path::new(lines[1]).exists(),
        "{} left behind",
        lines[1]
    );
    assert!(!std::path::Path::new(lines[3]).exists());
    let port = issuer.port().expect("a port");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on {port}"
    );
    // The sandbox's default data directory was never created.
    assert!(!sb.home().join(".local/share").exists());
}

#[test]
fn exec_fails_before_the_command_when_the_seed_has_a_bad_entry() {
    let sb = Sandbox::new();
    let seed = sb.file("bad.yaml");
    std::fs::write(
        &seed,
        "clients:\n  - client_id: broken\n    name: Broken\n    redirect_uris: ['not a uri']\n",
    )
    .unwrap();
    let marker = sb.file("ran");
    let mut cmd = sb.bare_command();
    cmd.args(["exec", "--seed"])
        .arg(&seed)
        .args(["--", "touch"])
        .arg(&marker);
    let run = cmd.output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_mentions(&stderr, &["error:", "redirect"]);
    assert!(
        !marker.exists(),
        "the command ran although the provider could not start"
    );
}

#[test]
fn exec_reports_a_command_that_cannot_run() {
    let sb = Sandbox::new();
    let mut cmd = sb.bare_command();
    cmd.args(["exec", "--", "/nonexistent/tool"]);
    let run = cmd.output().unwrap();
    assert_eq!(run.status.code(), Some(127));
    assert_mentions(
        &String::from_utf8_lossy(&run.stderr),
        &["cannot run /nonexistent/tool"],
    );
}

#[test]
fn serve_on_port_zero_writes_the_ready_file_and_env_prints_the_variables() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    let ready = sb.file("ready");
    let mut served = sb.serve(&[
        "--seed",
        seed.to_str().unwrap(),
        "--ready-file",
        ready.to_str().unwrap(),
    ]);
    assert_ne!(served.port, 0);
    let written = std::fs::read_to_string(&ready).expect("the ready file exists once it answers");
    assert_eq!(written.trim(), served.issuer);
    let exports = sb.ok(&["env"]);
    assert!(
        exports.contains(&format!("export AUTHDESK_ISSUER='{}'", served.issuer)),
        "{exports}"
    );
    assert!(exports.contains("export AUTHDESK_CLIENT_CI_SERVICE_SECRET='ci-secret'"));
    let vars = sb.ok_json(&["env"]);
    let bundle = vars["REQUESTS_CA_BUNDLE"].as_str().unwrap();
    let pem = std::fs::read(bundle).expect("the bundle exists");
    let doc = crate::support::get_json_blocking(
        &pem,
        &format!("{}/.well-known/openid-configuration", served.issuer),
    );
    assert_eq!(doc["issuer"], Value::String(served.issuer.clone()));
    served.stop_with(libc::SIGTERM);
    assert!(!ready.exists(), "the ready file outlived the provider");
    sb.run(&["env"])
        .one_line_error(&["no authdesk serve is running"]);
}

/// A token from the running provider, as a client gets it.
fn password_token(issuer: &str, ca: &[u8]) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        client_trusting(ca)
            .post(format!("{issuer}/token"))
            .basic_auth("legacy", Some("legacy-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "password"),
                ("scope", "openid offline_access"),
            ])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

fn introspect(issuer: &str, ca: &[u8], token: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        client_trusting(ca)
            .post(format!("{issuer}/introspect"))
            .basic_auth("ci-service", Some("ci-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

#[test]
fn tokens_are_listed_expired_and_revoked_while_serve_runs() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    let mut served = sb.serve(&["--seed", seed.to_str().unwrap()]);
    let ca = sb.ca_pem();
    let first = password_token(&served.issuer, &ca);
    let access = first["access_token"].as_str().expect("an access token");

    let listed = sb.ok_json(&["tokens", "list", "--client", "legacy", "--user", "alice"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "an access and a refresh token: {listed:?}");
    let access_id = listed.iter().find(|t| t["kind"] == "access_token").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = sb.ok_json(&["tokens", "show", &access_id]);
    assert_eq!(shown["value"], Value::String(access.to_string()));
    assert_eq!(shown["token"]["state"], "active");

    // Introspected (and so cached by serve) before the command line expires it: the
    // next introspection, at once, already says inactive.
    assert_eq!(introspect(&served.issuer, &ca, access)["active"], true);
    sb.ok(&["tokens", "expire", &access_id]);
    assert_eq!(introspect(&served.issuer, &ca, access)["active"], false);

    // Every token of alice at legacy, although the password grant left no consent.
    let second = password_token(&served.issuer, &ca);
    let revoked = sb.ok_json(&["tokens", "revoke", "--client", "legacy", "--user", "alice"]);
    assert!(revoked["revoked"].as_u64().unwrap() >= 2, "{revoked}");
    for t in ["access_token", "refresh_token"] {
        let v = second[t].as_str().unwrap();
        assert_eq!(introspect(&served.issuer, &ca, v)["active"], false, "{t}");
    }
    served.stop_with(libc::SIGTERM);
}

#[test]
fn clients_and_users_change_from_the_command_line() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    sb.ok(&["import", seed.to_str().unwrap()]);
    let before = sb.ok_json(&["clients", "show", "ci-service"]);
    let after = sb.ok_json(&[
        "clients",
        "update",
        "ci-service",
        "--name",
        "Renamed",
        "--access-token-ttl",
        "600",
        "--code-ttl",
        "60",
        "--auto-approve",
    ]);
    assert_eq!(after["name"], "Renamed");
    assert_eq!(after["access_token_ttl"], 600);
    assert_eq!(after["code_ttl"], 60);
    assert_eq!(after["auto_approve"], true);
    // What was not given stays.
    assert_eq!(after["scopes"], before["scopes"]);
    assert_eq!(after["client_secret"], before["client_secret"]);
    let off = sb.ok_json(&["clients", "update", "ci-service", "--auto-approve=false"]);
    assert_eq!(off["auto_approve"], false);

    let rotated = sb.ok_json(&["clients", "rotate-secret", "ci-service"]);
    assert_ne!(rotated["client_secret"], before["client_secret"]);
    assert!(rotated["client_secret"].as_str().unwrap().len() >= 32);

    let user = sb.ok_json(&[
        "users",
        "update",
        "bob",
        "--claims",
        "{\"name\": \"Robert\"}",
        "--password",
        "s3cret-pass",
    ]);
    assert_eq!(user["claims"]["name"], "Robert");
    assert_eq!(user["has_password"], true);
}

#[test]
fn bad_management_input_is_one_line_exit_1_and_changes_nothing() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    sb.ok(&["import", seed.to_str().unwrap()]);
    let before = sb.ok_json(&["clients", "show", "ci-service"]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["clients", "update", "nope", "--name", "X"],
            &["client", "nope"],
        ),
        (
            &["clients", "update", "ci-service", "--access-token-ttl=-5"],
            &["access_token_ttl"],
        ),
        (
            &["clients", "update", "ci-service", "--code-ttl", "3600"],
            &["code_ttl", "600"],
        ),
        (
            &["clients", "update", "ci-service", "--id", "other"],
            &["client_id", "cannot change"],
        ),
        (&["clients", "rotate-secret", "nope"], &["nope"]),
        (
            &["users", "update", "nobody", "--password", "x"],
            &["nobody"],
        ),
        (
            &["users", "update", "bob", "--claims", "{not json"],
            &["claims", "JSON"],
        ),
        (
            &["tokens", "show", "no-such-token"],
            &["token", "no-such-token"],
        ),
        (&["tokens", "expire", "no-such-token"], &["no-such-token"]),
        (&["tokens", "revoke"], &["token id", "--client"]),
        (&["tokens", "list", "--client", "nope"], &["nope"]),
        (
            &["tokens", "revoke", "--client", "legacy", "--user", "alice"],
            &["alice", "legacy"],
        ),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
    }
    assert_eq!(sb.ok_json(&["clients", "show", "ci-service"]), before);
}

#[test]
fn minted_tokens_are_stored_introspectable_and_logged_while_serve_runs() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    let mut served = sb.serve(&["--seed", seed.to_str().unwrap()]);
    let ca = sb.ca_pem();
    let minted = parse_json(&sb.ok(&["tokens", "mint", "--client", "ci-service", "--ttl", "5m"]));
    assert_eq!(minted["token_type"], "Bearer");
    assert_eq!(minted["expires_in"], 300);
    assert_eq!(minted["scope"], "api.read");
    let access = minted["access_token"].as_str().unwrap();
    let seen = introspect(&served.issuer, &ca, access);
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["iss"], Value::String(served.issuer.clone()));

    // For a persona, with openid: an id_token too.
    let as_alice = parse_json(&sb.ok(&[
        "tokens", "mint", "--client", "legacy", "--user", "alice", "--scope", "openid", "--format",
        "opaque",
    ]));
    assert!(as_alice["id_token"].as_str().is_some(), "{as_alice}");
    let seen = introspect(
        &served.issuer,
        &ca,
        as_alice["access_token"].as_str().unwrap(),
    );
    assert_eq!(seen["username"], "alice");

    // Already expired on purpose.
    let expired = parse_json(&sb.ok(&["tokens", "mint", "--client", "ci-service", "--expired"]));
    let seen = introspect(
        &served.issuer,
        &ca,
        expired["access_token"].as_str().unwrap(),
    );
    assert_eq!(seen["active"], false);

    let listed = sb.ok_json(&["tokens", "list", "--client", "ci-service"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    served.stop_with(libc::SIGTERM);
}

#[test]
fn bad_mint_requests_are_one_line_exit_1_and_store_nothing() {
    let sb = Sandbox::new();
    let seed = seeded(&sb);
    sb.ok(&["import", seed.to_str().unwrap()]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["tokens", "mint", "--client", "nope"],
            &["no client 'nope'"],
        ),
        (
            &["tokens", "mint", "--client", "legacy", "--user", "nobody"],
            &["no persona 'nobody'"],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "ci-service",
                "--scope",
                "admin",
            ],
            &["scope 'admin'", "allowed"],
        ),
        (
            &["tokens", "mint", "--client", "legacy", "--scope", "openid"],
            &["openid", "signed-in user"],
        ),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
    }
    // A duration clap cannot read is a usage error (exit 2), as every bad flag is.
    assert_eq!(
        sb.run(&["tokens", "mint", "--client", "ci-service", "--ttl", "5x"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(sb.ok_json(&["tokens", "list"]), serde_json::json!([]));
}
