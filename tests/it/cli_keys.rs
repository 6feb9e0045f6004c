//! `authdesk keys list|rotate|retire` while `authdesk serve` runs on the same data
//! directory: the running provider publishes a key rotated by the CLI, signs with it,
//! and drops a key the CLI retired; bad input is one line, exit 1, nothing changed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Sandbox, get_json_blocking};

fn kids_of(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("a JWK Set")
        .iter()
        .map(|k| k["kid"].as_str().expect("a kid").to_string())
        .collect()
}

/// Reads the served JWKS until `done` holds for it (the provider re-reads the store's
/// revision at most twice a second); fails after a generous wait, which is no measure
/// of speed.
fn jwks_until(sb: &Sandbox, issuer: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kids = kids_of(&get_json_blocking(&sb.ca_pem(), &format!("{issuer}/jwks")));
        if done(&kids) {
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "the JWKS never followed: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn key<'a>(list: &'a Value, alg: &str, state: &str) -> &'a Value {
    list.as_array()
        .expect("a key list")
        .iter()
        .find(|k| k["alg"] == alg && k["state"] == state)
        .unwrap_or_else(|| panic!("no {state} {alg} key in {list}"))
}

#[test]
fn keys_rotated_and_retired_by_the_cli_reach_the_running_provider() {
    let sb = Sandbox::new();
    let mut served = sb.serve(&[]);
    let issuer = served.issuer.clone();
    let list = sb.ok_json(&["keys", "list"]);
    let old = key(&list, "ES256", "active")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    jwks_until(&sb, &issuer, |k| k.contains(&old));

    let rotated = sb.ok_json(&[
        "keys",
        "rotate",
        "--alg",
        "ES256",
        "--retire-old",
        "after",
        "2h",
    ]);
    let new = rotated["rotated"][0]["kid"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let listed = &rotated["keys"];
    assert_eq!(key(listed, "ES256", "active")["kid"], new.as_str());
    let published = key(listed, "ES256", "published");
    assert_eq!(published["kid"], old.as_str());
    assert!(published["retire_at"].as_i64().is_some());
    // The running provider publishes both.
    jwks_until(&sb, &issuer, |k| k.contains(&new) && k.contains(&old));

    // A token minted now is signed by the new key, and verifies at the provider.
    sb.ok(&[
        "clients",
        "create",
        "--name",
        "Svc",
        "--id",
        "svc",
        "--grant-type",
        "client_credentials",
    ]);
    let minted = crate::support::parse_json(&sb.ok(&["tokens", "mint", "--client", "svc"]));
    let token = minted["access_token"].as_str().expect("an access token");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new.as_str());

    sb.ok(&["keys", "retire", &old]);
    let kids = jwks_until(&sb, &issuer, |k| !k.contains(&old));
    assert!(kids.contains(&new), "{kids:?}");
    let list = sb.ok_json(&["keys", "list"]);
    let retired = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old.as_str())
        .unwrap();
    assert_eq!(retired["state"], "retired");
    served.stop_with(libc::SIGTERM);
}

#[test]
fn bad_keys_input_is_one_line_exit_1_and_changes_nothing() {
    let sb = Sandbox::new();
    // A data directory without keys yet (made at a provider's first start): a rotation
    // makes the first one.
    assert_eq!(sb.ok_json(&["keys", "list"]), serde_json::json!([]));
    sb.ok(&["keys", "rotate"]);
    let before = sb.ok_json(&["keys", "list"]);
    let active = key(&before, "ES256", "active")["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["keys", "rotate", "--alg", "HS256"],
            &["HS256", "RS256, ES256, PS256, EdDSA"],
        ),
        (
            &["keys", "rotate", "--retire-old", "later"],
            &["later", "now", "after"],
        ),
        (
            &["keys", "rotate", "--retire-old", "after", "soon"],
            &["soon"],
        ),
        (&["keys", "retire", "no-such-kid"], &["no-such-kid"]),
        (&["keys", "retire", &active], &[&active, "rotate first"]),
    ];
    for (args, needles) in cases {
        let run = sb.run(args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        run.one_line_error(needles);
    }
    let mut json = sb.run(&["keys", "retire", "no-such-kid", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    assert_eq!(json.json_error()["code"], "not_found");
    json.stdout.clear();
    assert_eq!(sb.ok_json(&["keys", "list"]), before);
}
