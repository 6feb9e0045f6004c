//! `authdesk clients`, `users`, `export` and `import`: human and `--json` output, and
//! refusals that name the field to fix.

use serde_json::{Value, json};

use crate::support::{REDIRECT, Sandbox, assert_mentions, parse_json};

#[test]
fn clients_create_list_show_delete_in_json() {
    let sandbox = Sandbox::new();
    let created = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "Web app",
        "--redirect-uri",
        REDIRECT,
        "--redirect-uri",
        "https://app.example.com/cb",
    ]);
    let id = created["client_id"]
        .as_str()
        .expect("a generated client_id")
        .to_string();
    assert!(
        id.chars().all(|c| c.is_ascii_alphanumeric()),
        "a generated id is letters and digits, never a leading '-': {id}"
    );
    let secret = created["client_secret"]
        .as_str()
        .expect("a confidential client gets a secret");
    assert!(secret.len() >= 32, "secret {secret:?} is short");
    assert_eq!(created["name"], "Web app");
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(
        created["redirect_uris"],
        json!([REDIRECT, "https://app.example.com/cb"])
    );
    assert_eq!(
        created["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(created["response_types"], json!(["code"]));
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        created["scopes"],
        json!(["openid", "profile", "email", "offline_access"])
    );

    let public = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "SPA",
        "--id",
        "spa",
        "--type",
        "public",
        "--redirect-uri",
        "http://localhost:5173/cb",
    ]);
    assert_eq!(public["client_id"], "spa");
    assert_eq!(
        public["client_secret"],
        Value::Null,
        "a public client has no secret"
    );
    assert_eq!(public["token_endpoint_auth_method"], "none");

    let list = sandbox.ok_json(&["clients", "list"]);
    let list = list.as_array().expect("clients list --json is an array");
    assert_eq!(list.len(), 2);
    assert!(
        list.contains(&created),
        "list shows the record as created: {list:?}"
    );
    assert!(
        list.contains(&public),
        "list shows the record as created: {list:?}"
    );

    assert_eq!(sandbox.ok_json(&["clients", "show", &id]), created);

    let deleted = sandbox.ok_json(&["clients", "delete", &id]);
    assert_eq!(deleted, json!({"deleted": id}));
    let err = sandbox
        .run(&["clients", "show", &id, "--json"])
        .json_error();
    assert_eq!(err["code"], "not_found");
    assert_mentions(err["message"].as_str().expect("message"), &[&id]);
    sandbox
        .run(&["clients", "show", &id])
        .one_line_error(&[&id, "does not exist"]);
    sandbox
        .run(&["clients", "delete", &id])
        .one_line_error(&[&id, "does not exist"]);
    assert_eq!(sandbox.ok_json(&["clients", "list"]), json!([public]));
}

#[test]
fn ids_and_usernames_that_begin_with_a_hyphen_need_no_double_dash() {
    let sandbox = Sandbox::new();
    let created = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "Dashed",
        "--id=-w3",
        "--redirect-uri",
        REDIRECT,
    ]);
    assert_eq!(created["client_id"], "-w3");
    // The id before and after the flag: both read it as the id, not as an option.
    assert_eq!(sandbox.ok_json(&["clients", "show", "-w3"]), created);
    let shown = sandbox.ok(&["clients", "show", "--json", "-w3"]);
    assert_eq!(serde_json::from_str::<Value>(&shown).unwrap(), created);
    assert_eq!(
        sandbox.ok_json(&["clients", "delete", "-w3"]),
        json!({"deleted": "-w3"})
    );

    let user = sandbox.ok_json(&["users", "create", "-eve"]);
    assert_eq!(user["username"], "-eve");
    assert_eq!(
        sandbox.ok_json(&["users", "delete", "-eve"]),
        json!({"deleted": "-eve"})
    );
}

#[test]
fn clients_human_output_shows_the_record_and_its_secret() {
    let sandbox = Sandbox::new();
    assert_mentions(&sandbox.ok(&["clients", "list"]), &["no clients yet"]);

    let out = sandbox.ok(&[
        "clients",
        "create",
        "--name",
        "Backend",
        "--id",
        "backend",
        "--secret",
        "s3cret-value",
        "--redirect-uri",
        REDIRECT,
    ]);
    assert_mentions(
        &out,
        &[
            "client_id:",
            "backend",
            "client_secret:",
            "s3cret-value",
            REDIRECT,
        ],
    );
    assert!(
        serde_json::from_str::<Value>(&out).is_err(),
        "without --json the output is for people"
    );
    assert_mentions(
        &sandbox.ok(&["clients", "list"]),
        &["CLIENT ID", "backend", "Backend"],
    );
    assert_mentions(
        &sandbox.ok(&["clients", "show", "backend"]),
        &["s3cret-value"],
    );
    assert_mentions(
        &sandbox.ok(&["clients", "delete", "backend"]),
        &["deleted", "backend"],
    );
}

#[test]
fn clients_create_refuses_a_bad_redirect_uri_naming_redirect_uris() {
    let sandbox = Sandbox::new();
    for bad in [
        "not a uri",
        "http://example.com/cb",
        "https://example.com/cb#fragment",
    ] {
        let base = ["clients", "create", "--name", "Bad", "--redirect-uri", bad];
        sandbox.run(&base).one_line_error(&["redirect_uris", bad]);
        let mut with_json = base.to_vec();
        with_json.push("--json");
        let err = sandbox.run(&with_json).json_error();
        assert_eq!(err["field"], "redirect_uris", "{err}");
        assert_eq!(err["code"], "invalid_input");
    }
    assert_eq!(
        sandbox.ok_json(&["clients", "list"]),
        json!([]),
        "a refused client was stored"
    );
}

#[test]
fn clients_create_refuses_an_unknown_grant_listing_the_valid_ones() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "clients",
        "create",
        "--name",
        "X",
        "--redirect-uri",
        REDIRECT,
        "--grant",
        "magic",
    ]);
    let stderr = run.failure();
    assert_eq!(run.status.code(), Some(2), "a usage error exits 2");
    assert_mentions(
        stderr,
        &[
            "magic",
            "--grant",
            "authorization_code",
            "client_credentials",
            "refresh_token",
        ],
    );
}

#[test]
fn clients_create_refuses_an_unknown_scope() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "clients",
        "create",
        "--name",
        "X",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "admin",
    ]);
    run.one_line_error(&["scopes", "admin", "openid"]);
}

#[test]
fn public_client_cannot_use_client_credentials() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "clients",
        "create",
        "--name",
        "X",
        "--type",
        "public",
        "--grant",
        "client_credentials",
    ]);
    run.one_line_error(&["grant_types", "public", "client_credentials"]);

    // The same grant is fine for a confidential client, and needs no redirect URI.
    let ok = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "Service",
        "--grant",
        "client_credentials",
    ]);
    assert_eq!(ok["grant_types"], json!(["client_credentials"]));
    assert_eq!(ok["response_types"], json!([]));
}

fn find_user<'a>(list: &'a Value, username: &str) -> Option<&'a Value> {
    list.as_array()
        .expect("users list --json is an array")
        .iter()
        .find(|u| u["username"] == username)
}

#[test]
fn users_create_list_delete() {
    let sandbox = Sandbox::new();
    let defaults = sandbox.ok_json(&["users", "list"]);
    for name in ["alice", "bob"] {
        let u =
            find_user(&defaults, name).unwrap_or_else(|| panic!("default persona {name} missing"));
        assert_eq!(u["has_password"], true);
        assert_eq!(u["claims"]["email"], format!("{name}@example.com"));
        assert!(
            u.get("password_hash").is_none() && u.get("password").is_none(),
            "secret leaked: {u}"
        );
    }

    let carol = sandbox.ok_json(&[
        "users",
        "create",
        "carol",
        "--password",
        "pw",
        "--claims",
        r#"{"name":"Carol","email":"carol@example.com","roles":["admin"]}"#,
        "--sub",
        "carol-sub-1",
    ]);
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["sub"], "carol-sub-1");
    assert_eq!(carol["has_password"], true);
    assert_eq!(carol["claims"]["roles"], json!(["admin"]));
    assert!(
        !carol.to_string().contains("\"pw\""),
        "the password is echoed: {carol}"
    );

    let dave = sandbox.ok(&["users", "create", "dave"]);
    assert_mentions(&dave, &["username: dave", "password: none"]);

    let list = sandbox.ok_json(&["users", "list"]);
    assert_eq!(find_user(&list, "carol"), Some(&carol));
    assert!(find_user(&list, "dave").is_some());
    assert_mentions(
        &sandbox.ok(&["users", "list"]),
        &["USERNAME", "carol", "Carol"],
    );

    assert_eq!(
        sandbox.ok_json(&["users", "delete", "carol"]),
        json!({"deleted": "carol"})
    );
    assert!(find_user(&sandbox.ok_json(&["users", "list"]), "carol").is_none());
    sandbox
        .run(&["users", "delete", "carol"])
        .one_line_error(&["carol", "does not exist"]);
}

#[test]
fn duplicate_username_is_refused_naming_username() {
    let sandbox = Sandbox::new();
    sandbox.run(&["users", "create", "alice"]).one_line_error(&[
        "username",
        "alice",
        "already exists",
    ]);
    let err = sandbox
        .run(&["users", "create", "alice", "--json"])
        .json_error();
    assert_eq!(err["field"], "username");
    let list = sandbox.ok_json(&["users", "list"]);
    assert_eq!(
        list.as_array().expect("array").len(),
        2,
        "a duplicate was stored"
    );
}

#[test]
fn invalid_claims_are_refused_naming_claims() {
    let sandbox = Sandbox::new();
    for claims in ["not json", "[\"a list\"]", r#"{"sub":"override"}"#] {
        sandbox
            .run(&["users", "create", "erin", "--claims", claims])
            .one_line_error(&["claims"]);
        let err = sandbox
            .run(&["users", "create", "erin", "--claims", claims, "--json"])
            .json_error();
        assert_eq!(err["field"], "claims", "{claims}: {err}");
    }
    assert!(find_user(&sandbox.ok_json(&["users", "list"]), "erin").is_none());
}

/// Clients and users sorted by name, without the timestamps an import rewrites.
fn records(sandbox: &Sandbox) -> (Vec<Value>, Vec<Value>) {
    let strip = |list: Value, key: &str| -> Vec<Value> {
        let mut list: Vec<Value> = list.as_array().expect("array").clone();
        for v in &mut list {
            let v = v.as_object_mut().expect("object");
            v.remove("created_at");
            v.remove("updated_at");
            // Default personas are made afresh in each data directory, with their own sub.
            if v.get("username")
                .is_some_and(|u| u == "alice" || u == "bob")
            {
                v.remove("sub");
            }
        }
        list.sort_by_key(|v| v[key].as_str().expect("name").to_string());
        list
    };
    (
        strip(sandbox.ok_json(&["clients", "list"]), "client_id"),
        strip(sandbox.ok_json(&["users", "list"]), "username"),
    )
}

#[test]
fn export_then_import_round_trips_into_a_fresh_data_dir_idempotently() {
    let source = Sandbox::new();
    source.ok(&[
        "clients",
        "create",
        "--name",
        "Web",
        "--id",
        "web",
        "--redirect-uri",
        REDIRECT,
    ]);
    source.ok(&[
        "clients",
        "create",
        "--name",
        "Service",
        "--id",
        "svc",
        "--grant",
        "client_credentials",
        "--token-format",
        "opaque",
        "--tag",
        "backend",
    ]);
    source.ok(&[
        "users",
        "create",
        "carol",
        "--password",
        "pw",
        "--claims",
        r#"{"name":"Carol"}"#,
    ]);

    // JSON on stdout.
    let json_export = parse_json(&source.ok(&["export"]));
    assert_eq!(json_export["version"], 1);
    let mut ids: Vec<&str> = json_export["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|c| c["client_id"].as_str().expect("client_id"))
        .collect();
    ids.sort();
    assert_eq!(ids, ["svc", "web"]);

    // YAML to a file, owner-only since it holds secrets.
    let yaml_path = source.file("team.yaml");
    let yaml_arg = yaml_path.to_str().expect("utf-8");
    source.ok(&["export", "--out", yaml_arg]);
    let yaml_text = std::fs::read_to_string(&yaml_path).expect("export file");
    assert!(
        !yaml_text.trim_start().starts_with('{'),
        "a .yaml export should be YAML:\n{yaml_text}"
    );
    let yaml_export: Value =
        serde_yaml_ng::from_str(&yaml_text).expect("the export parses as YAML");
    assert_eq!(yaml_export, json_export, "the JSON and YAML exports differ");
    #[cfg(unix)]
    assert_eq!(
        crate::support::mode(&yaml_path),
        0o600,
        "the export holds secrets"
    );

    let target = Sandbox::new();
    let first = target.ok_json(&["import", yaml_arg]);
    assert_eq!(first["clients_created"], 2, "{first}");
    assert_eq!(first["clients_updated"], 0, "{first}");
    assert_eq!(first["users_created"], 1, "{first}");
    assert_eq!(
        first["users_updated"], 2,
        "alice and bob exist in a fresh data dir: {first}"
    );
    assert_eq!(
        records(&target),
        records(&source),
        "the import differs from the source"
    );

    let second = target.ok_json(&["import", yaml_arg]);
    assert_eq!(second["clients_created"], 0, "{second}");
    assert_eq!(second["clients_updated"], 2, "{second}");
    assert_eq!(second["users_created"], 0, "{second}");
    assert_eq!(second["users_updated"], 3, "{second}");
    assert_eq!(second["scopes_created"], 0, "{second}");
    assert_eq!(
        records(&target),
        records(&source),
        "a second import changed the records"
    );

    // The human summary of the JSON export's import says the same.
    let json_path = source.file("team.json");
    std::fs::write(
        &json_path,
        serde_json::to_string(&json_export).expect("json"),
    )
    .expect("write");
    let human = target.ok(&["import", json_path.to_str().expect("utf-8")]);
    assert_mentions(
        &human,
        &["clients 0 created, 2 updated", "users 0 created, 3 updated"],
    );
}

#[test]
fn import_of_a_broken_file_changes_nothing() {
    let sandbox = Sandbox::new();
    let path = sandbox.file("broken.json");
    std::fs::write(&path, "{ this is not json").expect("write");
    sandbox
        .run(&["import", path.to_str().expect("utf-8")])
        .one_line_error(&["broken.json"]);
    let missing = sandbox.file("missing.yaml");
    sandbox
        .run(&["import", missing.to_str().expect("utf-8")])
        .one_line_error(&["missing.yaml"]);
    assert_eq!(sandbox.ok_json(&["clients", "list"]), json!([]));
}

#[test]
fn import_refused_for_a_taken_sub_changes_nothing() {
    let sandbox = Sandbox::new();
    let users = sandbox.ok_json(&["users", "list"]);
    let alice_sub = find_user(&users, "alice").expect("alice")["sub"]
        .as_str()
        .expect("sub")
        .to_string();
    let before = sandbox.ok(&["export"]);

    let path = sandbox.file("seed.yaml");
    std::fs::write(
        &path,
        format!(
            "scopes:\n  - name: api.read\nusers:\n  - username: zed\n  - username: yan\n    sub: {alice_sub}\n\
             clients:\n  - client_id: c1\n    name: C1\n    redirect_uris: [\"{REDIRECT}\"]\n"
        ),
    )
    .expect("write seed");
    sandbox
        .run(&["import", path.to_str().expect("utf-8")])
        .one_line_error(&["users[1]", "yan", "sub"]);
    assert_eq!(
        sandbox.ok(&["export"]),
        before,
        "a refused import changed the records"
    );
}

#[test]
fn import_refused_for_any_persona_it_could_not_create_changes_nothing() {
    let sandbox = Sandbox::new();
    let before = sandbox.ok(&["export"]);
    let path = sandbox.file("seed.yaml");
    for (bad, field) in [
        (
            "  - username: erin\n    password: pw\n    password_hash: \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\"\n",
            "password",
        ),
        ("  - username: erin\n    sub: \"   \"\n", "sub"),
    ] {
        std::fs::write(
            &path,
            format!(
                "scopes:\n  - name: partial.scope\nusers:\n  - username: dave\n    password: pw\n{bad}"
            ),
        )
        .expect("write seed");
        sandbox
            .run(&["import", path.to_str().expect("utf-8")])
            .one_line_error(&["users[1]", "erin", field]);
        assert_eq!(
            sandbox.ok(&["export"]),
            before,
            "a refused import ({field}) changed the records"
        );
    }
}

#[test]
fn clients_create_takes_the_json_field_names_as_flags() {
    let sandbox = Sandbox::new();
    let created = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "By field names",
        "--client-id",
        "by-field-names",
        "--client-type",
        "public",
        "--redirect-uri",
        REDIRECT,
        "--grant-type",
        "authorization_code",
        "--token-endpoint-auth-method",
        "none",
        "--access-token-format",
        "opaque",
        "--id-token-signed-response-alg",
        "ES256",
    ]);
    assert_eq!(created["client_id"], json!("by-field-names"));
    assert_eq!(created["client_type"], json!("public"));
    assert_eq!(created["token_endpoint_auth_method"], json!("none"));
    assert_eq!(created["access_token_format"], json!("opaque"));
    assert_eq!(created["id_token_signed_response_alg"], json!("ES256"));
}

#[test]
fn an_empty_data_dir_variable_means_the_default_directory() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .bare_command()
        .env("AUTHDESK_DATA_DIR", "")
        .args(["users", "list", "--json"])
        .output()
        .expect("run users list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The default directory under the sandbox's XDG_DATA_HOME got the first-start personas.
    assert!(
        sandbox
            .home()
            .join(".local/share/dev.authdesk.app/authdesk.db")
            .exists()
    );
}

#[cfg(unix)]
#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let sandbox = Sandbox::new();
    for i in 0..12 {
        sandbox.ok(&[
            "clients",
            "create",
            "--name",
            &format!("Client {i}"),
            "--redirect-uri",
            REDIRECT,
        ]);
    }
    // A pipe of one page, which the listing overflows: the write must wait for the
    // reader, which then hangs up after one byte, as `| head -c1` does.
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds` with two new descriptors, owned below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are open and owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETPIPE_SZ on a pipe we own.
    unsafe { libc::fcntl(fds[0], libc::F_SETPIPE_SZ, 4096) };
    let mut child = sandbox
        .command(&["clients", "list", "--json"])
        .stdout(write_end)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn clients list");
    let mut reader = std::fs::File::from(read_end);
    let mut first = [0u8; 1];
    reader.read_exact(&mut first).expect("first byte");
    drop(reader);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGPIPE),
        "{status:?} {stderr}"
    );
}

#[test]
fn clients_take_their_keys_by_url_with_jwks_uri() {
    let sandbox = Sandbox::new();
    let uri = "https://keys.example/jwks.json";
    let created = sandbox.ok_json(&[
        "clients",
        "create",
        "--name",
        "Keys by URL",
        "--id",
        "by-url",
        "--grant",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        uri,
    ]);
    assert_eq!(created["jwks_uri"], uri);
    assert_eq!(created["jwks"], Value::Null);
    assert_mentions(&sandbox.ok(&["clients", "show", "by-url"]), &["keys:", uri]);

    // Inline keys replace the URL, and the URL the inline keys.
    let jwks = sandbox.file("jwks.json");
    std::fs::write(&jwks, r#"{"keys": []}"#).unwrap();
    let inline = sandbox.ok_json(&[
        "clients",
        "update",
        "by-url",
        "--jwks",
        jwks.to_str().unwrap(),
    ]);
    assert_eq!(inline["jwks"], json!({"keys": []}));
    assert_eq!(inline["jwks_uri"], Value::Null);
    let back = sandbox.ok_json(&["clients", "update", "by-url", "--jwks-uri", uri]);
    assert_eq!(back["jwks_uri"], uri);
    assert_eq!(back["jwks"], Value::Null);

    sandbox
        .run(&[
            "clients",
            "update",
            "by-url",
            "--jwks-uri",
            "http://keys.example/jwks.json",
        ])
        .one_line_error(&["jwks_uri", "http on a non-local host"]);
    // private_key_jwt needs keys one way or the other.
    sandbox
        .run(&["clients", "update", "by-url", "--jwks-uri", "none"])
        .one_line_error(&["private_key_jwt", "jwks_uri"]);
    let cleared = sandbox.ok_json(&[
        "clients",
        "update",
        "by-url",
        "--auth-method",
        "client_secret_basic",
        "--jwks-uri",
        "none",
    ]);
    assert_eq!(cleared["jwks_uri"], Value::Null);
}
