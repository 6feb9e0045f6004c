//! `authdesk serve` as CI runs it: the readiness line, HTTPS, clean stops on signals,
//! seeds, and start-up failures that explain themselves in one line.

use std::path::Path;

use serde_json::Value;

use crate::support::{Run, Sandbox, Served, assert_mentions, client_trusting, get_json};

const DISCOVERY: &str = "/.well-known/openid-configuration";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_issuer_answers_https_and_stops_on_sigterm() {
    let sandbox = Sandbox::new();
    let mut served = sandbox.serve(&[]);
    assert_ne!(
        served.port, 0,
        "--port 0 must print the port actually bound"
    );
    assert_eq!(served.issuer, format!("https://localhost:{}", served.port));

    // The CA as a user gets it: `authdesk ca export`, run while the provider serves.
    let ca_pem = sandbox.ok(&["ca", "export"]);
    assert_eq!(
        ca_pem.as_bytes(),
        sandbox.ca_pem(),
        "ca export differs from the CA in use"
    );
    {
        let client = client_trusting(ca_pem.as_bytes());
        let doc = get_json(&client, &format!("{}{DISCOVERY}", served.issuer)).await;
        assert_eq!(doc["issuer"].as_str(), Some(served.issuer.as_str()));
        let doc = get_json(
            &client,
            &format!("https://127.0.0.1:{}{DISCOVERY}", served.port),
        )
        .await;
        assert_eq!(doc["issuer"].as_str(), Some(served.issuer.as_str()));
    }

    served.stop_with(libc::SIGTERM);
    let issuer_line = format!("issuer {}", served.issuer);
    assert_eq!(
        served.stdout_lines(),
        [issuer_line],
        "stdout holds exactly the issuer line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_cleanly_on_sigint() {
    let sandbox = Sandbox::new();
    let mut served = sandbox.serve(&[]);
    {
        let client = client_trusting(&sandbox.ca_pem());
        get_json(&client, &format!("{}/jwks", served.issuer)).await;
    }
    served.stop_with(libc::SIGINT);
}

#[test]
fn serve_raises_its_open_files_limit_for_many_connections() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.command(&["serve", "--port", "0"]);
    // A low soft limit, as Debian's default of 1,024 is for a load test.
    // SAFETY: getrlimit and setrlimit are async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = 256;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let mut served = Served::spawn(cmd, None);
    served.wait_for_issuer();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", served.pid()))
        .expect("/proc/PID/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open files limit in {limits}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [soft, hard] = numbers[..] else {
        panic!("{line}")
    };
    assert_eq!(soft, hard.min(65_536), "{line}");
    assert!(soft > 256, "{line}");
    served.stop_with(libc::SIGINT);
}

#[test]
fn serve_binds_localhost_by_name_and_explains_an_address_it_cannot_read() {
    let sandbox = Sandbox::new();
    let mut served = sandbox.serve(&["--bind", "localhost"]);
    assert!(
        served.issuer.starts_with("https://localhost:"),
        "{}",
        served.issuer
    );
    served.stop_with(libc::SIGINT);
    let run = sandbox.run(&["serve", "--port", "0", "--bind", "my-laptop"]);
    assert!(
        run.stderr.contains("'my-laptop' is not an IP address"),
        "{}",
        run.stderr
    );
}

#[test]
fn serve_on_a_port_in_use_exits_with_one_line_naming_the_port() {
    let sandbox = Sandbox::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("addr").port().to_string();
    let run = sandbox.run(&["serve", "--port", &port]);
    let line = run.one_line_error(&[&port]);
    assert_mentions(&line, &["in use"]);
    drop(taken);
}

#[test]
fn serve_refuses_an_issuer_that_is_not_https() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["serve", "--port", "0", "--issuer", "http://localhost:8443"]);
    run.one_line_error(&["issuer", "https"]);
}

fn write_seed(path: &Path) {
    std::fs::write(
        path,
        r#"# A team's committed mock setup.
version: 1
users:
  - username: carol
    password: carol-password
    claims:
      name: Carol Example
      email: carol@example.com
clients:
  - client_id: ci-app
    client_secret: ci-secret
    name: CI app
    redirect_uris: ["http://127.0.0.1:5173/callback"]
"#,
    )
    .expect("write the seed file");
}

fn client_ids(sandbox: &Sandbox) -> Vec<String> {
    let list = sandbox.ok_json(&["clients", "list"]);
    list.as_array()
        .expect("clients list --json is an array")
        .iter()
        .map(|c| c["client_id"].as_str().expect("client_id").to_string())
        .collect()
}

fn usernames(sandbox: &Sandbox) -> Vec<String> {
    let list = sandbox.ok_json(&["users", "list"]);
    list.as_array()
        .expect("users list --json is an array")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect()
}

#[test]
fn serve_seed_creates_the_client_and_user_once() {
    let sandbox = Sandbox::new();
    let seed = sandbox.file("seed.yaml");
    write_seed(&seed);
    let seed_arg = seed.to_str().expect("utf-8 path");

    let mut served = sandbox.serve(&["--seed", seed_arg]);
    // Visible to the CLI while the provider runs (they share the data directory).
    let client = sandbox.ok_json(&["clients", "show", "ci-app"]);
    assert_eq!(client["client_secret"], "ci-secret");
    assert_eq!(client["name"], "CI app");
    let carol_sub = {
        let users = sandbox.ok_json(&["users", "list"]);
        let carol = users
            .as_array()
            .expect("array")
            .iter()
            .find(|u| u["username"] == "carol")
            .cloned()
            .expect("carol was seeded");
        assert_eq!(carol["claims"]["name"], "Carol Example");
        assert_eq!(carol["has_password"], true);
        carol["sub"].clone()
    };
    served.assert_serves(&sandbox.data_dir());
    served.stop_with(libc::SIGTERM);

    let mut again = sandbox.serve(&["--seed", seed_arg]);
    again.assert_serves(&sandbox.data_dir());
    again.stop_with(libc::SIGTERM);

    assert_eq!(
        client_ids(&sandbox),
        ["ci-app"],
        "re-seeding duplicated the client"
    );
    assert_eq!(
        usernames(&sandbox),
        ["alice", "bob", "carol"],
        "re-seeding duplicated a user"
    );
    let users = sandbox.ok_json(&["users", "list"]);
    let carol = users
        .as_array()
        .expect("array")
        .iter()
        .find(|u| u["username"] == "carol")
        .expect("carol");
    assert_eq!(carol["sub"], carol_sub, "re-seeding changed carol's sub");
}

#[test]
fn serve_with_a_bad_seed_fails_naming_the_entry() {
    let sandbox = Sandbox::new();
    let seed = sandbox.file("seed.yaml");
    std::fs::write(
        &seed,
        "clients:\n  - client_id: broken\n    name: Broken\n    redirect_uris: [\"not a uri\"]\n",
    )
    .expect("write seed");
    let run = sandbox.run(&[
        "serve",
        "--port",
        "0",
        "--seed",
        seed.to_str().expect("utf-8"),
    ]);
    run.one_line_error(&["clients[0]", "broken", "redirect_uris"]);
}

#[test]
fn serve_auto_approve_needs_an_existing_user() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["serve", "--port", "0", "--auto-approve", "nobody"]);
    let stderr = run.failure();
    // Start-up logs may come first; the error is the last line.
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with("error: "),
        "the last line should be the error: {stderr}"
    );
    assert_mentions(last, &["nobody", "--auto-approve"]);

    // An existing persona is accepted.
    let mut served = sandbox.serve(&["--auto-approve", "alice"]);
    served.assert_serves(&sandbox.data_dir());
    served.stop_with(libc::SIGTERM);
}

#[test]
fn corrupt_database_is_one_clear_line() {
    let sandbox = Sandbox::new();
    let dir = sandbox.data_dir();
    std::fs::create_dir_all(&dir).expect("data dir");
    let garbage: Vec<u8> = b"this is not an SQLite database\n".repeat(200);
    std::fs::write(dir.join("authdesk.db"), &garbage).expect("write garbage");

    for args in [&["clients", "list"][..], &["serve", "--port", "0"][..]] {
        let run = sandbox.run(args);
        run.one_line_error(&["authdesk.db", "not a valid Authdesk database"]);
    }
    // The file is left as it was, for the user to inspect or move aside.
    assert_eq!(std::fs::read(dir.join("authdesk.db")).expect("db"), garbage);
}

#[test]
fn data_dir_under_a_regular_file_is_one_clear_line() {
    let sandbox = Sandbox::new();
    let file = sandbox.file("a-file");
    std::fs::write(&file, "not a directory").expect("write file");
    let dir = file.join("data");

    for args in [
        &["clients", "list"][..],
        &["users", "list", "--json"][..],
        &["serve", "--port", "0"][..],
        &["ca", "export"][..],
    ] {
        let run = Run::of(sandbox.command_in(&dir, args), args);
        if args.contains(&"--json") {
            let err = run.json_error();
            assert_mentions(
                err["message"].as_str().expect("message"),
                &[dir.to_str().expect("utf-8")],
            );
        } else {
            run.one_line_error(&[dir.to_str().expect("utf-8")]);
        }
    }
}

#[test]
fn default_data_dir_is_the_platform_one_and_authdesk_data_dir_overrides_it() {
    let sandbox = Sandbox::new();

    // No --data-dir, no AUTHDESK_DATA_DIR: $XDG_DATA_HOME/dev.authdesk.app (sandboxed here).
    let mut cmd = sandbox.bare_command();
    cmd.args(["users", "list", "--json"]);
    Run::of(cmd, &["users", "list", "--json"]).success();
    let default_dir = sandbox.home().join(".local/share/dev.authdesk.app");
    assert!(
        default_dir.join("authdesk.db").is_file(),
        "no database in {}",
        default_dir.display()
    );

    // AUTHDESK_DATA_DIR wins over the platform directory.
    let env_dir = sandbox.file("from-env");
    let mut cmd = sandbox.bare_command();
    cmd.env("AUTHDESK_DATA_DIR", &env_dir).args([
        "clients",
        "create",
        "--name",
        "Env",
        "--id",
        "env-app",
        "--redirect-uri",
        "http://127.0.0.1:1/cb",
    ]);
    Run::of(cmd, &["clients", "create"]).success();
    assert!(env_dir.join("authdesk.db").is_file());
    let mut cmd = sandbox.bare_command();
    cmd.args(["clients", "list", "--json"]);
    let list: Value =
        crate::support::parse_json(&Run::of(cmd, &["clients", "list", "--json"]).success());
    assert_eq!(
        list,
        serde_json::json!([]),
        "the client went to the platform directory"
    );
}

#[test]
fn a_signal_right_after_the_issuer_line_still_stops_cleanly() {
    let sandbox = Sandbox::new();
    // Make the CA and keys once so each start is quick.
    let mut first = sandbox.serve(&[]);
    first.assert_serves(&sandbox.data_dir());
    first.stop_with(libc::SIGTERM);
    // The race is narrow: try it often. Each attempt is a clean stop when the handlers are
    // in place before the line is printed, so this cannot fail spuriously.
    for (i, sig) in [libc::SIGTERM, libc::SIGINT]
        .into_iter()
        .cycle()
        .take(30)
        .enumerate()
    {
        let mut served = sandbox.serve_and_signal_when_ready(sig);
        let status = served.wait_exit();
        assert_eq!(
            status.code(),
            Some(0),
            "attempt {i}: signal {sig} sent right after the issuer line: {status}; stderr:\n{}",
            served.stderr()
        );
    }
}

#[test]
fn two_commands_started_together_on_a_fresh_data_dir_both_succeed() {
    for round in 0..5 {
        let sandbox = Sandbox::new();
        let children: Vec<_> = (0..2)
            .map(|_| {
                sandbox
                    .command(&["users", "list", "--json"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: a concurrent first start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let users = crate::support::parse_json(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(
                users.as_array().map(Vec::len),
                Some(2),
                "round {round}: {users}"
            );
        }
        assert_eq!(usernames(&sandbox), ["alice", "bob"], "round {round}");
    }
}

#[test]
fn data_dir_with_percent_or_question_mark_in_its_name_works() {
    let sandbox = Sandbox::new();
    for name in ["50%25 off", "what?mode=ro", "a%20b"] {
        let dir = sandbox.file(name);
        let args = ["users", "list", "--json"];
        let out = Run::of(sandbox.command_in(&dir, &args), &args).success();
        assert_eq!(
            crate::support::parse_json(&out).as_array().map(Vec::len),
            Some(2),
            "{name}"
        );
        assert!(
            dir.join("authdesk.db").is_file(),
            "{name}: the database is not where it was asked"
        );
    }
}

/// The `listening` line a stopped `serve` logged.
fn listening_line(served: &Served) -> String {
    let stderr = served.stderr();
    stderr
        .lines()
        .find(|l| l.contains("listening"))
        .unwrap_or_else(|| panic!("no 'listening' line in:\n{stderr}"))
        .to_string()
}

#[test]
fn serve_durability_full_syncs_each_commit_and_an_unknown_level_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let mut served = sandbox.serve(&["--durability", "full"]);
    served.assert_serves(&sandbox.data_dir());
    served.stop_with(libc::SIGTERM);
    let line = listening_line(&served);
    assert_mentions(&line, &["synchronous", "FULL"]);

    let mut served = sandbox.serve(&[]);
    served.stop_with(libc::SIGTERM);
    let line = listening_line(&served);
    assert_mentions(&line, &["synchronous", "NORMAL"]);

    let run = sandbox.run(&["serve", "--port", "0", "--durability", "sometimes"]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert_mentions(&run.stderr, &["--durability", "normal", "full"]);
}
