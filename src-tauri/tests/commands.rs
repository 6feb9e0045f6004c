// Test helpers outside #[test] functions unwrap too; clippy.toml covers only the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The command layer through Tauri's IPC on the mock runtime: the same commands, argument
//! names and error payloads the window uses, over a real core and provider (free port,
//! real TLS) in a temporary data directory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk_desktop::{Launch, Shell};
use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};

struct TestApp {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

impl TestApp {
    fn start() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let launch = Launch {
            data_dir: dir.path().join("data"),
            port_override: Some(0),
            export_dir: Some(dir.path().to_path_buf()),
            import_file: Some(dir.path().join("import.yaml")),
        };
        let app = authdesk_desktop::app(mock_builder(), launch.clone(), false)
            .build(mock_context(noop_assets()))
            .unwrap();
        authdesk_desktop::attach(app.handle(), launch, false).unwrap();
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        TestApp { app, window, dir }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Calls a command as the window does; `Err` holds the rejected payload.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: tauri::ipc::InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn wait_for_state(&self, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.ok("provider_status", json!({}));
            if status["state"] == state {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "provider never reached {state}: {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let shell = self.app.state::<Arc<Shell>>().inner().clone();
        let _ = tauri::async_runtime::block_on(shell.shutdown());
    }
}

fn web_client() -> Value {
    json!({
        "client_id": "web-app",
        "name": "Web App",
        "redirect_uris": ["http://127.0.0.1:5000/callback"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
    })
}

#[test]
fn a_client_created_through_the_command_is_listed_and_stored() {
    let t = TestApp::start();
    assert_eq!(t.ok("list_clients", json!({})), json!([]));
    let created = t.ok("create_client", json!({ "input": web_client() }));
    assert_eq!(created["client_id"], "web-app");
    assert_eq!(created["client_type"], "confidential");
    assert!(created["client_secret"].as_str().unwrap().len() >= 20);

    let list = t.ok("list_clients", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Web App");
    assert_eq!(
        t.ok("get_client", json!({ "clientId": "web-app" }))["client_id"],
        "web-app"
    );

    // The headless CLI reads the same database.
    let core = tauri::async_runtime::block_on(authdesk::Core::open(&t.data_dir())).unwrap();
    let stored = tauri::async_runtime::block_on(core.get_client("web-app")).unwrap();
    assert_eq!(
        stored.client_secret.as_deref(),
        created["client_secret"].as_str()
    );
}

#[test]
fn records_export_to_a_seed_file_and_import_from_one_all_or_nothing() {
    let t = TestApp::start();
    t.ok("create_client", json!({ "input": web_client() }));
    let path = t.ok("export_records", json!({ "format": "yaml" }));
    let path = Path::new(path.as_str().unwrap());
    assert_eq!(path, t.dir.path().join("authdesk-records.yaml"));
    let exported = authdesk::seed::SeedFile::read(path).unwrap();
    assert!(
        exported
            .clients
            .iter()
            .any(|c| c.client_id.as_deref() == Some("web-app"))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the export holds secrets");
    }

    let import = t.dir.path().join("import.yaml");
    std::fs::write(
        &import,
        "scopes:\n  - name: orders.read\nusers:\n  - username: carol\nclients:\n  - client_id: imported\n    name: Imported\n    redirect_uris: [\"http://127.0.0.1:7000/cb\"]\n    scopes: [openid, orders.read]\n",
    )
    .unwrap();
    let summary = t.ok("import_records", json!({}));
    assert_eq!(summary["clients_created"], 1);
    assert_eq!(summary["users_created"], 1);
    assert_eq!(summary["scopes_created"], 1);
    assert!(
        t.ok("list_clients", json!({}))
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "imported")
    );

    // A file with one bad entry changes nothing and names the entry.
    std::fs::write(
        &import,
        "users:\n  - username: dave\nclients:\n  - client_id: broken\n    name: Broken\n    redirect_uris: [\"not a url\"]\n",
    )
    .unwrap();
    let err = t.invoke("import_records", json!({})).unwrap_err();
    assert!(
        err["field"]
            .as_str()
            .unwrap()
            .starts_with("clients[0] (broken)"),
        "{err}"
    );
    let users = t.ok("list_users", json!({}));
    assert!(
        !users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "dave"),
        "a refused import created a user"
    );
}

#[test]
fn bad_input_comes_back_as_code_message_and_field() {
    let t = TestApp::start();
    let err = t
        .invoke(
            "create_client",
            json!({ "input": { "name": "Bad", "redirect_uris": ["not a url"] } }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "invalid_input");
    assert_eq!(err["field"], "redirect_uris");
    assert!(
        err["message"].as_str().unwrap().contains("not a url"),
        "{err}"
    );

    let err = t
        .invoke("get_client", json!({ "clientId": "nope" }))
        .unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "not_found", "message": "client 'nope' does not exist", "field": null })
    );

    let err = t
        .invoke("revoke_token", json!({ "id": "nope" }))
        .unwrap_err();
    assert_eq!(err["code"], "not_found");
}

#[test]
fn core_events_reach_the_window_as_provider_events() {
    let t = TestApp::start();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    t.app.listen_any("provider://event", move |e| {
        let _ = tx.send(serde_json::from_str(e.payload()).unwrap());
    });
    t.ok("create_client", json!({ "input": web_client() }));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = rx
            .recv_timeout(deadline - Instant::now())
            .expect("no client_changed event");
        if event["type"] == "client_changed" {
            assert_eq!(
                event,
                json!({ "type": "client_changed", "client_id": "web-app" })
            );
            break;
        }
    }
}

#[test]
fn settings_are_validated_stored_and_say_when_a_restart_is_needed() {
    let t = TestApp::start();
    let defaults = t.ok("get_settings", json!({}));
    assert_eq!(defaults["port"], 8443);
    assert_eq!(defaults["bind_address"], "127.0.0.1");
    assert_eq!(defaults["theme"], "system");

    let mut s = defaults.clone();
    s["theme"] = json!("dark");
    s["access_token_ttl"] = json!(120);
    assert_eq!(
        t.ok("save_settings", json!({ "settings": s })),
        json!({ "restart_required": false })
    );
    let stored = std::fs::read_to_string(t.data_dir().join("settings.json")).unwrap();
    assert!(stored.contains("\"dark\""), "{stored}");

    // New clients take the default lifetimes of the settings.
    let c = t.ok("create_client", json!({ "input": web_client() }));
    assert_eq!(c["access_token_ttl"], 120);

    s["port"] = json!(9443);
    assert_eq!(
        t.ok("save_settings", json!({ "settings": s })),
        json!({ "restart_required": true })
    );

    s["bind_address"] = json!("not-an-ip");
    let err = t
        .invoke("save_settings", json!({ "settings": s }))
        .unwrap_err();
    assert_eq!(err["field"], "bind_address");
    assert_eq!(
        t.ok("get_settings", json!({}))["bind_address"],
        "127.0.0.1",
        "a refused save changes nothing"
    );
}

#[test]
fn a_busy_port_is_reported_and_change_port_recovers() {
    let t = TestApp::start();
    let running = t.wait_for_state("running");
    let port = running["port"].as_u64().unwrap();
    assert_ne!(port, 0);
    assert_eq!(running["issuer"], format!("https://localhost:{port}"));
    assert_eq!(running["data_dir"], t.data_dir().display().to_string());

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let status = t.ok("change_port", json!({ "port": busy_port }));
    assert_eq!(status["state"], "port_in_use");
    assert_eq!(status["port"], busy_port);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{status}"
    );
    // The window keeps working without a server.
    t.ok("create_client", json!({ "input": web_client() }));
    assert_eq!(t.ok("list_pending_consents", json!({})), json!([]));

    drop(busy);
    let status = t.ok("change_port", json!({ "port": busy_port }));
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(
        t.ok("get_settings", json!({}))["port"],
        busy_port,
        "the new port is saved"
    );
    assert_eq!(t.ok("list_clients", json!({})).as_array().unwrap().len(), 1);

    let err = t.invoke("change_port", json!({ "port": 0 })).unwrap_err();
    assert_eq!(err["field"], "port");
}

#[test]
fn snippets_and_certificates_point_at_the_local_ca() {
    let t = TestApp::start();
    let status = t.wait_for_state("running");
    t.ok("create_client", json!({ "input": web_client() }));
    let snippets = t.ok("client_snippets", json!({ "clientId": "web-app" }));
    let ca = t.data_dir().join("tls").join("ca.pem");
    let langs: Vec<&str> = snippets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["language"].as_str().unwrap())
        .collect();
    assert_eq!(
        langs,
        ["python", "python-requests-oauthlib", "node", "rust", "curl"]
    );
    for s in snippets.as_array().unwrap() {
        let code = s["code"].as_str().unwrap();
        assert!(
            code.contains(status["issuer"].as_str().unwrap()),
            "{}",
            s["language"]
        );
        assert!(
            code.contains(&ca.display().to_string()),
            "{}",
            s["language"]
        );
    }

    let certs = t.ok("certificates", json!({}));
    assert!(
        certs["ca"]["subject"]
            .as_str()
            .unwrap()
            .contains("Authdesk Local CA")
    );
    assert!(
        certs["server"]["sans"]
            .as_array()
            .unwrap()
            .contains(&json!("localhost"))
    );

    let path = t.ok("export_certificate", json!({ "format": "pem" }));
    let path = Path::new(path.as_str().unwrap());
    assert_eq!(path, t.dir.path().join("authdesk-ca.pem"));
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        certs["ca"]["pem"].as_str().unwrap()
    );

    let before = certs["server"]["sha256_fingerprint"].clone();
    let after = t.ok("regenerate_server_certificate", json!({}));
    assert_ne!(after["server"]["sha256_fingerprint"], before);
    assert_eq!(
        after["ca"]["sha256_fingerprint"], certs["ca"]["sha256_fingerprint"],
        "the CA stays"
    );
    t.wait_for_state("running");
}

#[test]
fn tokens_and_requests_commands_answer_on_a_fresh_provider() {
    let t = TestApp::start();
    t.wait_for_state("running");
    assert_eq!(t.ok("list_tokens", json!({ "filter": {} })), json!([]));
    assert_eq!(
        t.ok(
            "list_tokens",
            json!({ "filter": { "state": "active", "client_id": "x" } })
        ),
        json!([])
    );
    assert!(t.ok("list_requests", json!({})).is_array());
    assert!(
        t.ok("list_requests", json!({ "status": "rejected", "limit": 5 }))
            .is_array()
    );
    let users = t.ok("list_users", json!({}));
    assert_eq!(users[0]["username"], "alice");
    let scopes = t.ok("list_scopes", json!({}));
    assert!(
        scopes
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "openid")
    );
    let err = t
        .invoke(
            "decide_consent",
            json!({ "requestId": "nope", "approve": true, "username": "alice" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "not_found");
}

/// The payload of a JWT, decoded.
fn jwt_payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_token_is_minted_for_a_persona_stored_and_bad_input_named() {
    let t = TestApp::start();
    t.wait_for_state("running");
    t.ok("create_client", json!({ "input": web_client() }));
    let minted = t.ok(
        "mint_token",
        json!({ "request": {
            "client_id": "web-app", "username": "alice", "scopes": ["openid", "profile"],
            "ttl": 300, "format": "jwt", "expired": false,
            "claims": { "tenant": "acme" }, "audiences": [],
        } }),
    );
    assert_eq!(minted["token_type"], "Bearer", "{minted}");
    assert_eq!(minted["expires_in"], 300);
    let at = jwt_payload(minted["access_token"].as_str().unwrap());
    assert_eq!(at["tenant"], "acme");
    assert_eq!(at["client_id"], "web-app");
    let id = jwt_payload(minted["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "web-app");
    assert_eq!(id["tenant"], "acme");
    // Stored like any other token: the Tokens view lists it.
    let tokens = t.ok(
        "list_tokens",
        json!({ "filter": { "client_id": "web-app" } }),
    );
    assert!(!tokens.as_array().unwrap().is_empty(), "{tokens}");

    let mint = |request: Value| {
        t.invoke("mint_token", json!({ "request": request }))
            .unwrap_err()
    };
    let base = json!({
        "client_id": "web-app", "username": null, "scopes": [], "ttl": null, "format": null,
        "expired": false, "claims": null, "audiences": [],
    });
    let with = |key: &str, value: Value| {
        let mut r = base.clone();
        r[key] = value;
        r
    };
    let reserved = mint(with("claims", json!({ "iss": "x" })));
    assert_eq!(reserved["code"], "invalid_input", "{reserved}");
    assert_eq!(reserved["field"], "claims");
    assert!(
        reserved["message"].as_str().unwrap().contains("iss"),
        "{reserved}"
    );
    let not_object = mint(with("claims", json!(["roles"])));
    assert_eq!(not_object["field"], "claims", "{not_object}");
    let unknown = mint(with("client_id", json!("nope")));
    assert!(
        unknown["message"].as_str().unwrap().contains("nope"),
        "{unknown}"
    );
    let stranger = mint(with("username", json!("nobody")));
    assert!(
        stranger["message"].as_str().unwrap().contains("nobody"),
        "{stranger}"
    );
    // Nothing more was stored by the refusals.
    assert_eq!(
        t.ok(
            "list_tokens",
            json!({ "filter": { "client_id": "web-app" } })
        ),
        tokens
    );
}

/// The client form's token-shape fields as the window sends them (`ui/src/views/clients/clientForm.ts`).
#[test]
fn the_client_forms_claims_and_audience_fields_shape_minted_tokens() {
    let t = TestApp::start();
    t.wait_for_state("running");
    let mut input = web_client();
    input["preset"] = json!("");
    input["resources"] = json!(["https://api.example.test"]);
    input["default_audience"] = json!("https://api.example.test");
    input["extra_claims"] =
        json!([{ "name": "tenant", "value": "acme", "into": ["access_token"] }]);
    let created = t.ok("create_client", json!({ "input": input }));
    assert_eq!(created["preset"], Value::Null, "{created}");
    assert_eq!(created["default_audience"], "https://api.example.test");
    let mint = json!({ "request": {
        "client_id": "web-app", "username": null, "scopes": [], "ttl": null, "format": "jwt",
        "expired": false, "claims": null, "audiences": [],
    } });
    let at = jwt_payload(
        t.ok("mint_token", mint.clone())["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(at["aud"], "https://api.example.test", "{at}");
    assert_eq!(at["tenant"], "acme");

    // Cleared as the form clears them: "" and empty lists.
    let mut cleared = input.clone();
    cleared["preset"] = json!("keycloak");
    cleared["default_audience"] = json!("");
    cleared["extra_claims"] = json!([]);
    let updated = t.ok(
        "update_client",
        json!({ "clientId": "web-app", "input": cleared }),
    );
    assert_eq!(updated["preset"], "keycloak", "{updated}");
    assert_eq!(updated["default_audience"], Value::Null);
    let at = jwt_payload(t.ok("mint_token", mint)["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "web-app", "{at}");
    assert!(at.get("tenant").is_none(), "{at}");
    let bad = t
        .invoke(
            "update_client",
            json!({ "clientId": "web-app", "input": { "extra_claims": [{ "name": "iss", "value": 1 }] } }),
        )
        .unwrap_err();
    assert_eq!(bad["field"], "extra_claims", "{bad}");
}

#[test]
fn remembered_consents_are_listed_and_revoked() {
    let t = TestApp::start();
    t.ok("create_client", json!({ "input": web_client() }));
    let core = t.app.state::<Arc<Shell>>().inner().core();
    let alice = tauri::async_runtime::block_on(core.get_user("alice")).unwrap();
    tauri::async_runtime::block_on(authdesk::store::flows::remember_consent(
        core.store.pool(),
        &alice.sub,
        "web-app",
        &["openid".to_string(), "profile".to_string()],
        core.now(),
    ))
    .unwrap();
    let list = t.ok("list_consents", json!({ "username": "alice" }));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["client_id"], "web-app");
    assert_eq!(list[0]["username"], "alice");
    assert_eq!(list[0]["scopes"], json!(["openid", "profile"]));
    assert_eq!(
        t.ok("list_consents", json!({ "username": "bob" })),
        json!([])
    );

    t.ok(
        "revoke_consent",
        json!({ "username": "alice", "clientId": "web-app" }),
    );
    assert_eq!(t.ok("list_consents", json!({})), json!([]));
    let err = t
        .invoke(
            "revoke_consent",
            json!({ "username": "alice", "clientId": "web-app" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "not_found");
}

#[test]
fn scopes_are_added_updated_and_deleted_unless_a_client_uses_them() {
    let t = TestApp::start();
    let saved = t.ok(
        "save_scope",
        json!({ "input": { "name": "orders.read", "description": "Read orders", "claims": ["orders"] } }),
    );
    assert_eq!(saved["name"], "orders.read");
    let updated = t.ok(
        "save_scope",
        json!({ "input": { "name": "orders.read", "description": "Read your orders" } }),
    );
    assert_eq!(updated["description"], "Read your orders");
    assert_eq!(
        updated["claims"],
        json!(["orders"]),
        "claims kept when not given"
    );
    let bad = t
        .invoke("save_scope", json!({ "input": { "name": "has space" } }))
        .unwrap_err();
    assert_eq!(bad["field"], "name");

    let mut client = web_client();
    client["scopes"] = json!(["openid", "orders.read"]);
    t.ok("create_client", json!({ "input": client }));
    let refused = t
        .invoke("delete_scope", json!({ "name": "orders.read" }))
        .unwrap_err();
    assert!(
        refused["message"].as_str().unwrap().contains("web-app"),
        "{refused}"
    );
    t.ok("delete_client", json!({ "clientId": "web-app" }));
    t.ok("delete_scope", json!({ "name": "orders.read" }));
    let names: Vec<String> = t
        .ok("list_scopes", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!names.contains(&"orders.read".to_string()), "{names:?}");
}

#[test]
fn a_token_opens_while_the_provider_is_not_running() {
    let t = TestApp::start();
    t.wait_for_state("running");
    let mut input = web_client();
    input["token_endpoint_auth_method"] = json!("client_secret_post");
    let client = t.ok("create_client", json!({ "input": input }));
    // A token, issued as the token endpoint would.
    let shell = t.app.state::<Arc<Shell>>().inner().clone();
    let ctx = tauri::async_runtime::block_on(shell.provider_context()).unwrap();
    let form = format!(
        "grant_type=client_credentials&client_id=web-app&client_secret={}",
        client["client_secret"].as_str().unwrap()
    );
    let params = authdesk::oauth::params::Params::parse(form.as_bytes()).unwrap();
    tauri::async_runtime::block_on(authdesk::oauth::token::token(&ctx, None, None, &params))
        .map_err(|(e, _)| e.description)
        .unwrap();
    let id = t.ok("list_tokens", json!({ "filter": {} }))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(t.ok("get_token", json!({ "id": id }))["introspection"]["active"] == json!(true));

    // The port taken: the provider stops, the token still opens.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let status = t.ok(
        "change_port",
        json!({ "port": busy.local_addr().unwrap().port() }),
    );
    assert_eq!(status["state"], "port_in_use");
    let detail = t.ok("get_token", json!({ "id": id }));
    assert_eq!(detail["summary"]["id"], json!(id));
    assert!(detail["value"].as_str().unwrap().contains('.'), "{detail}");
    assert!(
        detail["introspection"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("not running"),
        "{detail}"
    );
}

#[test]
fn restart_keeps_the_records_and_serves_again() {
    let t = TestApp::start();
    t.wait_for_state("running");
    t.ok(
        "create_user",
        json!({ "input": { "username": "carol", "claims": { "name": "Carol" } } }),
    );
    let status = t.ok("restart_provider", json!({}));
    assert_eq!(status["state"], "running", "{status}");
    let users = t.ok("list_users", json!({}));
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "carol")
    );
    t.ok("delete_user", json!({ "username": "carol" }));
}

/// A Debian-layout system store in `root`, owned by root as `/etc` is, so the shell,
/// told it is not root (it then needs a write bit a user would have), needs the
/// privilege prompt; and a stand-in for pkexec that logs its arguments and runs them.
fn debian_store_behind_a_prompt(dir: &Path) -> authdesk::trust::TrustEnv {
    let root = dir.join("root");
    for d in [
        "usr/local/share/ca-certificates",
        "usr/share/ca-certificates",
        "etc/ssl/certs",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    // One public root besides, as every real store has: update-ca-certificates keeps
    // the old bundle when it finds no certificate at all.
    let public = "mozilla/ISRG_Root_X1.crt";
    std::fs::create_dir_all(root.join("usr/share/ca-certificates/mozilla")).unwrap();
    std::fs::copy(
        Path::new("/usr/share/ca-certificates").join(public),
        root.join("usr/share/ca-certificates").join(public),
    )
    .expect("Debian's ca-certificates package (scripts/test.sh installs it)");
    std::fs::write(root.join("etc/ca-certificates.conf"), format!("{public}\n")).unwrap();
    let prompt = dir.join("pkexec");
    std::fs::write(
        &prompt,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec \"$@\"\n",
            dir.join("prompt.log").display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prompt, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    authdesk::trust::TrustEnv {
        root,
        home: Some(dir.join("home")),
        path: ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .map(std::path::PathBuf::from)
            .to_vec(),
        nss_dbs: Some(vec![]),
        java_homes: Some(vec![]),
        java_storepass: "changeit".into(),
        layout: None,
        is_root: false,
        prompt: vec![prompt.display().to_string()],
        vars: Default::default(),
    }
}

#[test]
fn the_system_store_is_installed_and_removed_through_the_privilege_prompt() {
    let t = TestApp::start();
    let env = debian_store_behind_a_prompt(t.dir.path());
    let bundle = env.root.join("etc/ssl/certs/ca-certificates.crt");
    t.app
        .state::<authdesk_desktop::commands::TrustConfig>()
        .set(env);
    let log = t.dir.path().join("prompt.log");

    let status = t.ok("trust_status", json!({}));
    let system = &status["stores"][0];
    assert_eq!(system["store"], "system");
    assert_eq!(system["state"], "not_trusted");
    assert_eq!(system["needs_root"], true, "{system}");
    // What the window shows before it asks: the exact commands.
    let commands = system["install_commands"][0].as_str().unwrap();
    assert!(
        commands.starts_with("install -m 0644 ") && commands.contains("update-ca-certificates"),
        "{commands}"
    );

    let report = t.ok("install_trust", json!({ "store": "system" }));
    assert_eq!(report["changes"][0]["outcome"], "installed");
    assert_eq!(report["status"]["stores"][0]["state"], "trusted");
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(asked.lines().count(), 1, "one prompt: {asked}");
    assert!(asked.contains(commands), "{asked}");
    let ca = std::fs::read(t.data_dir().join("tls/ca.pem")).unwrap();
    let ca = String::from_utf8(ca).unwrap();
    assert!(std::fs::read_to_string(&bundle).unwrap().contains(&ca));

    // Installing again asks nothing.
    let again = t.ok("install_trust", json!({ "store": "system" }));
    assert_eq!(again["changes"][0]["outcome"], "already_trusted");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);

    let removed = t.ok("uninstall_trust", json!({ "store": "system" }));
    assert_eq!(removed["changes"][0]["outcome"], "removed");
    assert_eq!(
        removed["changes"][0]["removed"][0], status["ca_sha256"],
        "{removed}"
    );
    assert_eq!(removed["status"]["stores"][0]["state"], "not_trusted");
    assert!(!std::fs::read_to_string(&bundle).unwrap().contains(&ca));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

#[test]
fn a_dismissed_privilege_prompt_is_a_cancelled_error_and_changes_nothing() {
    let t = TestApp::start();
    let mut env = debian_store_behind_a_prompt(t.dir.path());
    // pkexec's answer when the person dismisses the dialog.
    let dismiss = t.dir.path().join("dismiss");
    std::fs::write(&dismiss, "#!/bin/sh\nexit 126\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dismiss, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.prompt = vec![dismiss.display().to_string()];
    let anchors = env.root.join("usr/local/share/ca-certificates");
    t.app
        .state::<authdesk_desktop::commands::TrustConfig>()
        .set(env);
    let err = t
        .invoke("install_trust", json!({ "store": "system" }))
        .unwrap_err();
    assert_eq!(err["code"], "cancelled", "{err}");
    assert_eq!(std::fs::read_dir(anchors).unwrap().count(), 0);
    // A store the machine does not have, named: a clear error.
    let err = t
        .invoke("install_trust", json!({ "store": "nss" }))
        .unwrap_err();
    assert_eq!(err["code"], "no_store", "{err}");
}

#[test]
fn the_debugger_commands_try_a_sign_in_compare_a_request_and_explain_a_token() {
    let t = TestApp::start();
    t.wait_for_state("running");
    // Starting the app makes no playground client: only the first run's button does.
    assert_eq!(t.ok("list_clients", json!({})), json!([]));
    let playground = t.ok("ensure_playground_client", json!({}));
    assert_eq!(playground["client_id"], "authdesk-playground");
    assert_eq!(playground["client_type"], "public");

    // A code flow waits for the browser on a loopback port the shell owns.
    let started = t.ok(
        "begin_trial",
        json!({ "input": { "client_id": "authdesk-playground" } }),
    );
    assert_eq!(started["state"], "waiting", "{started}");
    let redirect = started["waiting"]["redirect_uri"].as_str().unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    assert_eq!(
        t.ok("cancel_trial", json!({ "id": started["id"] })),
        "cancelled"
    );
    let gone = t
        .invoke("finish_trial", json!({ "id": started["id"] }))
        .unwrap_err();
    assert_eq!(gone["code"], "not_found");

    // Client credentials run to their end; the token they got is explained.
    t.ok("create_client", json!({ "input": web_client() }));
    let done = t.ok(
        "begin_trial",
        json!({ "input": { "client_id": "web-app", "flow": "client_credentials" } }),
    );
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["steps"][0]["name"], "discovery");
    let at = done["steps"][1]["answer"]["body"]["access_token"]
        .as_str()
        .unwrap();
    let facts = t.ok("token_facts", json!({ "token": at }));
    assert_eq!(facts["signature"], "valid");
    assert_eq!(facts["stored"]["client_id"], "web-app");

    // A logged request beside the registration, and its fix applied.
    let entry = json!({
        "id": "e1", "at": 0, "kind": "authorize", "client_id": "web-app", "username": null,
        "status": "rejected", "error": "invalid_request", "error_description": "…",
        "params": { "response_type": "code", "redirect_uri": "http://127.0.0.1:7000/cb" },
        "detail": {},
    });
    let cmp = t.ok("compare_request", json!({ "entry": entry }));
    assert_eq!(cmp["rows"][0]["field"], "redirect_uri");
    assert_eq!(cmp["rows"][0]["differs"], true);
    let change = cmp["fixes"][0]["change"].clone();
    assert_eq!(change["kind"], "add_redirect_uri");
    let fixed = t.ok(
        "apply_fix",
        json!({ "clientId": "web-app", "change": change }),
    );
    assert!(
        fixed["redirect_uris"]
            .as_array()
            .unwrap()
            .contains(&json!("http://127.0.0.1:7000/cb"))
    );
}
