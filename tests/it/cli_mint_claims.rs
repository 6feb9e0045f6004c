//! Issue 18 from the command line: `clients create|update --claim/--resource/
//! --default-audience/--preset`, and `authdesk tokens mint --claims/--audience`: the
//! claims and audience end up in the JWT, and every bad input is one line naming the
//! fix, exit 1, nothing stored or changed.

use serde_json::Value;

use crate::support::{Sandbox, client_trusting, jwt_claims, parse_json};

const SEED: &str = "clients:
  - client_id: api-svc
    name: API service
    client_secret: svc-secret
    grant_types: [client_credentials]
    scopes: [api.read]
    resources: [https://api.example, https://other.example]
  - client_id: legacy
    name: Legacy app
    client_secret: legacy-secret
    grant_types: [password, refresh_token]
    scopes: [openid, profile, offline_access]
scopes:
  - name: api.read
    description: Read the API
";

fn imported() -> Sandbox {
    let sb = Sandbox::new();
    let seed = sb.file("mint.yaml");
    std::fs::write(&seed, SEED).unwrap();
    sb.ok(&["import", seed.to_str().unwrap()]);
    sb
}

#[test]
fn minted_tokens_carry_the_claims_and_audience_asked_for() {
    let sb = imported();
    let minted = parse_json(&sb.ok(&[
        "tokens",
        "mint",
        "--client",
        "api-svc",
        "--claims",
        r#"{"roles":["admin"],"tenant":"acme"}"#,
        "--audience",
        "https://api.example",
    ]));
    let at = jwt_claims(minted["access_token"].as_str().expect("a JWT access token"));
    assert_eq!(at["roles"], serde_json::json!(["admin"]), "{at}");
    assert_eq!(at["tenant"], "acme");
    assert_eq!(at["aud"], "https://api.example");
    assert_eq!(at["client_id"], "api-svc");

    // Two audiences: an array.
    let minted = parse_json(&sb.ok(&[
        "tokens",
        "mint",
        "--client",
        "api-svc",
        "--audience",
        "https://api.example",
        "--audience",
        "https://other.example",
    ]));
    let at = jwt_claims(minted["access_token"].as_str().unwrap());
    assert_eq!(
        at["aud"],
        serde_json::json!(["https://api.example", "https://other.example"])
    );
    assert!(at.get("tenant").is_none(), "claims of one mint only: {at}");

    // For a persona with openid: the claims reach the id_token too.
    let minted = parse_json(&sb.ok(&[
        "tokens",
        "mint",
        "--client",
        "legacy",
        "--user",
        "alice",
        "--scope",
        "openid",
        "--claims",
        r#"{"tenant":"acme"}"#,
    ]));
    let id = jwt_claims(minted["id_token"].as_str().expect("an id_token"));
    assert_eq!(id["tenant"], "acme", "{id}");
    assert_eq!(sb.ok_json(&["tokens", "list"]).as_array().unwrap().len(), 3);
}

#[test]
fn bad_mint_claims_and_audiences_are_one_line_exit_1_and_store_nothing() {
    let sb = imported();
    let before: Value = sb.ok_json(&["tokens", "list"]);
    assert_eq!(before, serde_json::json!([]));
    let cases: &[(&[&str], &[&str])] = &[
        (&["tokens", "mint", "--client", "nope"], &["nope"]),
        (
            &["tokens", "mint", "--client", "legacy", "--user", "nobody"],
            &["nobody"],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "api-svc",
                "--claims",
                r#"{"sub":"x","roles":[]}"#,
            ],
            &["--claims", "sub", "reserved"],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "api-svc",
                "--claims",
                r#"{"exp":1}"#,
            ],
            &["exp"],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "api-svc",
                "--claims",
                "{not json",
            ],
            &["--claims", "JSON", "object"],
        ),
        (
            &["tokens", "mint", "--client", "api-svc", "--claims", "[1,2]"],
            &["--claims", "object"],
        ),
        (
            &["tokens", "mint", "--client", "api-svc", "--scope", "admin"],
            &["admin", "allowed"],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "api-svc",
                "--audience",
                "https://unknown.example",
            ],
            &[
                "https://unknown.example",
                "https://api.example",
                "--resource",
            ],
        ),
        (
            &[
                "tokens",
                "mint",
                "--client",
                "api-svc",
                "--audience",
                "not-a-uri",
            ],
            &["not-a-uri"],
        ),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
        assert_eq!(
            sb.ok_json(&["tokens", "list"]),
            before,
            "{args:?} stored a token"
        );
    }
}

#[test]
fn clients_take_claims_resources_a_default_audience_and_a_preset_from_the_command_line() {
    let sb = imported();
    let created = sb.ok_json(&[
        "clients",
        "create",
        "--name",
        "Shaped",
        "--redirect-uri",
        "http://127.0.0.1:8765/callback",
        "--claim",
        "tenant=acme@access_token",
        "--claim",
        "roles<-roles",
        "--resource",
        "https://api.example",
        "--default-audience",
        "https://api.example",
        "--preset",
        "keycloak",
    ]);
    let id = created["client_id"].as_str().unwrap().to_string();
    let shown = sb.ok_json(&["clients", "show", &id]);
    assert_eq!(
        shown["resources"],
        serde_json::json!(["https://api.example"])
    );
    assert_eq!(shown["default_audience"], "https://api.example");
    assert_eq!(shown["preset"], "keycloak");
    let claims = shown["extra_claims"].as_array().expect("extra_claims");
    assert_eq!(claims.len(), 2, "{shown}");
    assert_eq!(claims[0]["name"], "tenant");
    assert_eq!(claims[0]["value"], "acme");
    assert_eq!(claims[0]["into"], serde_json::json!(["access_token"]));
    assert_eq!(claims[1]["from"], "roles");

    // `none` and "" remove them.
    sb.ok(&[
        "clients",
        "update",
        &id,
        "--claim",
        "none",
        "--resource",
        "none",
        "--default-audience",
        "",
        "--preset",
        "none",
    ]);
    let shown = sb.ok_json(&["clients", "show", &id]);
    assert_eq!(shown["extra_claims"], serde_json::json!([]), "{shown}");
    assert_eq!(shown["resources"], serde_json::json!([]));
    assert!(shown["default_audience"].is_null(), "{shown}");
    assert!(shown["preset"].is_null(), "{shown}");

    // Bad values: one line, exit 1, the client unchanged.
    let before = sb.ok_json(&["clients", "show", &id]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["clients", "update", &id, "--preset", "ping"],
            &["ping", "keycloak"],
        ),
        (
            &["clients", "update", &id, "--resource", "my-api"],
            &["my-api", "absolute"],
        ),
        (
            &["clients", "update", &id, "--claim", "novalue"],
            &["novalue", "name=VALUE"],
        ),
        (
            &["clients", "update", &id, "--claim", "iss=x"],
            &["iss", "reserved"],
        ),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
    }
    assert_eq!(sb.ok_json(&["clients", "show", &id]), before);
}

#[test]
fn a_minted_tokens_audience_is_reported_by_introspection_while_serve_runs() {
    let sb = imported();
    let mut served = sb.serve(&[]);
    let ca = sb.ca_pem();
    let minted = parse_json(&sb.ok(&[
        "tokens",
        "mint",
        "--client",
        "api-svc",
        "--audience",
        "https://api.example",
        "--format",
        "opaque",
    ]));
    let token = minted["access_token"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen: Value = rt.block_on(async {
        client_trusting(&ca)
            .post(format!("{}/introspect", served.issuer))
            .basic_auth("api-svc", Some("svc-secret"))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], "https://api.example", "{seen}");
    served.stop_with(libc::SIGTERM);
}

#[test]
fn a_token_minted_while_serve_runs_with_a_preset_has_that_presets_shape() {
    let sb = imported();
    let mut served = sb.serve(&["--preset", "okta"]);
    let minted = parse_json(&sb.ok(&["tokens", "mint", "--client", "api-svc"]));
    let at = jwt_claims(minted["access_token"].as_str().unwrap());
    assert_eq!(at["iss"], served.issuer.as_str());
    assert_eq!(at["cid"], "api-svc", "serve's okta preset: {at}");
    assert_eq!(at["scp"], serde_json::json!(["api.read"]), "{at}");
    served.stop_with(libc::SIGTERM);
    // With serve stopped, no provider-wide preset applies.
    let minted = parse_json(&sb.ok(&["tokens", "mint", "--client", "api-svc"]));
    let at = jwt_claims(minted["access_token"].as_str().unwrap());
    assert!(at.get("cid").is_none(), "{at}");
}
