//! `authdesk ca install|uninstall|status`: the CA put into real trust stores built for
//! the test — a Debian-layout system store under a temporary root (the real
//! `update-ca-certificates` with its directory options pointing there), an NSS
//! database in a temporary HOME, a copy of a JDK's `cacerts` — and checked with the
//! clients that read them: curl, headless Chromium, Java. The machine's own stores are
//! never touched: every command gets `AUTHDESK_TRUST_ROOT`, an explicit list of JDKs,
//! and a sandboxed HOME, and the variables this machine sets for its own CA bundle are
//! removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Run, Sandbox, assert_mentions, parse_json, pem_certificates};

/// Variables that would make a client trust this machine's own bundle instead of
/// the store under test.
const TRUST_VARS: &[&str] = &[
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "NIX_SSL_CERT_FILE",
    "JAVA_HOME",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
];

/// Where the stores of one test are.
struct Stores {
    /// The root prefix of the system store.
    root: PathBuf,
    /// Explicit NSS databases; `None` finds them under the sandbox HOME.
    nss: Option<Vec<PathBuf>>,
    java: Vec<PathBuf>,
    /// Where the tools are looked for.
    tools: String,
}

impl Stores {
    fn new(sandbox: &Sandbox) -> Stores {
        let root = sandbox.file("root");
        std::fs::create_dir_all(&root).unwrap();
        Stores {
            root,
            nss: Some(vec![]),
            java: vec![],
            tools: std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin",
        }
    }

    /// A Debian/Ubuntu system store under the root: the real public roots (read
    /// through a link, never written), the real `ca-certificates.conf`, empty local
    /// and output directories.
    fn debian(sandbox: &Sandbox) -> Stores {
        let stores = Stores::new(sandbox);
        let root = &stores.root;
        for d in [
            "usr/local/share/ca-certificates",
            "etc/ssl/certs",
            "usr/share",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::os::unix::fs::symlink(
            "/usr/share/ca-certificates",
            root.join("usr/share/ca-certificates"),
        )
        .unwrap();
        std::fs::copy(
            "/etc/ca-certificates.conf",
            root.join("etc/ca-certificates.conf"),
        )
        .expect("Debian's ca-certificates package (scripts/test.sh installs it)");
        stores
    }

    fn bundle(&self) -> PathBuf {
        self.root.join("etc/ssl/certs/ca-certificates.crt")
    }

    fn anchors(&self) -> PathBuf {
        self.root.join("usr/local/share/ca-certificates")
    }

    /// Confines a command to these stores.
    fn confine(&self, cmd: &mut Command) {
        cmd.env("AUTHDESK_TRUST_ROOT", &self.root)
            .env("AUTHDESK_TRUST_PATH", &self.tools)
            .env(
                "AUTHDESK_JAVA_HOMES",
                std::env::join_paths(&self.java).unwrap(),
            );
        match &self.nss {
            Some(dbs) => cmd.env("AUTHDESK_NSS_DBS", std::env::join_paths(dbs).unwrap()),
            None => cmd.env_remove("AUTHDESK_NSS_DBS"),
        };
        for v in TRUST_VARS {
            cmd.env_remove(v);
        }
    }

    fn run(&self, sandbox: &Sandbox, args: &[&str]) -> Run {
        self.run_in(sandbox, &sandbox.data_dir(), args)
    }

    fn run_in(&self, sandbox: &Sandbox, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = sandbox.command_in(dir, args);
        self.confine(&mut cmd);
        Run::of(cmd, args)
    }

    fn status(&self, sandbox: &Sandbox) -> Value {
        parse_json(&self.run(sandbox, &["ca", "status", "--json"]).success())
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ca_der(sandbox: &Sandbox) -> Vec<u8> {
    pem_certificates(&sandbox.ca_pem()).remove(0)
}

/// Runs a client, killing it if it hangs (a guard, not a measure).
fn output_within(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// `curl URL` trusting the given bundle and hashed directory (no `--cacert`).
fn curl(bundle: &Path, capath: &Path, url: &str) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail", "--max-time", "60", "--capath"])
        .arg(capath)
        .arg(url)
        .env("CURL_CA_BUNDLE", bundle);
    for v in TRUST_VARS {
        if *v != "CURL_CA_BUNDLE" {
            cmd.env_remove(v);
        }
    }
    output_within(cmd, "curl")
}

#[test]
fn ca_install_into_a_debian_system_store_lets_curl_reach_serve_without_cacert() {
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    let out = stores
        .run(&sandbox, &["ca", "install", "--store", "system"])
        .success();
    assert_mentions(
        &out,
        &["system", "System store (Debian/Ubuntu)", "installed"],
    );
    let ca = ca_der(&sandbox);
    let anchors = files_in(&stores.anchors());
    assert_eq!(anchors.len(), 1, "{anchors:?}");
    assert!(anchors[0].starts_with("authdesk-ca-") && anchors[0].ends_with(".crt"));
    let bundle = pem_certificates(&read(&stores.bundle()));
    assert!(bundle.contains(&ca), "the generated bundle lacks the CA");
    assert!(bundle.len() > 50, "the public roots are kept beside it");
    assert_eq!(stores.status(&sandbox)["stores"][0]["state"], "trusted");

    let served = sandbox.serve(&[]);
    let url = format!("{}/.well-known/openid-configuration", served.issuer);
    let certs = stores.root.join("etc/ssl/certs");
    let ok = curl(&stores.bundle(), &certs, &url);
    let body = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["issuer"].as_str(), Some(served.issuer.as_str()));

    let fingerprint = stores.status(&sandbox)["ca_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let out = stores
        .run(&sandbox, &["ca", "uninstall", "--store", "system"])
        .success();
    assert_mentions(&out, &["removed", "the Authdesk CA", &fingerprint]);
    assert!(files_in(&stores.anchors()).is_empty());
    assert!(!pem_certificates(&read(&stores.bundle())).contains(&ca));
    let refused = curl(&stores.bundle(), &certs, &url);
    // 60: the peer certificate cannot be authenticated with the known CA certificates.
    assert_eq!(
        refused.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn installing_again_says_it_is_trusted_already_and_changes_nothing() {
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    stores
        .run(&sandbox, &["ca", "install", "--store", "system"])
        .success();
    let bundle = read(&stores.bundle());
    let anchors = files_in(&stores.anchors());
    let out = stores.run(&sandbox, &["ca", "install"]).success();
    assert_mentions(&out, &["system", "already trusted, nothing changed"]);
    assert_eq!(read(&stores.bundle()), bundle);
    assert_eq!(files_in(&stores.anchors()), anchors);

    let report = parse_json(
        &stores
            .run(&sandbox, &["ca", "install", "--store", "system", "--json"])
            .success(),
    );
    assert_eq!(report["changes"][0]["outcome"], "already_trusted");
    assert_eq!(report["changes"][0]["store"], "system");
}

#[test]
fn a_ca_from_a_reset_data_directory_is_flagged_stale_and_replaced_on_install() {
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    let old_dir = sandbox.file("old-data");
    stores
        .run_in(&sandbox, &old_dir, &["ca", "install", "--store", "system"])
        .success();
    let old = parse_json(
        &stores
            .run_in(&sandbox, &old_dir, &["ca", "status", "--json"])
            .success(),
    )["ca_sha256"]
        .clone();

    let status = stores.status(&sandbox);
    let system = &status["stores"][0]["locations"][0];
    assert_eq!(system["state"], "not_trusted");
    assert_eq!(system["stale"], serde_json::json!([old]));
    let table = stores.run(&sandbox, &["ca", "status"]).success();
    assert_mentions(&table, &["no, stale CA", "replaces the stale Authdesk CA"]);

    let out = stores.run(&sandbox, &["ca", "install"]).success();
    assert_mentions(
        &out,
        &["removed a stale Authdesk CA", old.as_str().unwrap()],
    );
    let anchors = files_in(&stores.anchors());
    assert_eq!(anchors.len(), 1, "{anchors:?}");
    let bundle = pem_certificates(&read(&stores.bundle()));
    assert!(bundle.contains(&ca_der(&sandbox)));
    let status = stores.status(&sandbox);
    assert_eq!(status["stores"][0]["state"], "trusted");
    assert_eq!(
        status["stores"][0]["locations"][0]["stale"],
        serde_json::json!([])
    );
}

#[test]
fn without_certutil_install_names_the_package_and_changes_no_store() {
    let sandbox = Sandbox::new();
    let mut stores = Stores::debian(&sandbox);
    let db = sandbox.home().join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("cert9.db"), b"").unwrap();
    stores.nss = None;
    // update-ca-certificates is found, certutil (in /usr/bin) is not.
    stores.tools = "/usr/sbin:/sbin".into();
    let run = stores.run(&sandbox, &["ca", "install"]);
    let line = run.one_line_error(&[
        "nothing changed",
        "nss: certutil not found",
        "sudo apt-get install libnss3-tools",
        "--store system",
    ]);
    assert_eq!(run.status.code(), Some(1), "{line}");
    assert!(
        files_in(&stores.anchors()).is_empty(),
        "the system store was changed"
    );
    assert!(!stores.bundle().exists());

    let json = stores.run(&sandbox, &["ca", "install", "--store", "nss", "--json"]);
    assert_eq!(json.json_error()["code"], "missing_tool");
    assert_eq!(
        stores.status(&sandbox)["stores"][1]["problem"],
        "certutil not found; install it: sudo apt-get install libnss3-tools"
    );
}

#[test]
fn a_read_only_system_store_is_refused_even_for_root_and_nothing_changes() {
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    // A read-only mount of the store, in a mount namespace of the command's own: the
    // machine's mounts stay as they are.
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut cmd = Command::new("unshare");
    cmd.arg(if as_root { "-m" } else { "-rm" })
        .args([
            "sh",
            "-c",
            "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\"",
        ])
        .arg(&stores.root)
        .arg(env!("CARGO_BIN_EXE_authdesk"))
        .arg("--data-dir")
        .arg(sandbox.data_dir())
        .args(["ca", "install", "--store", "system"])
        .env("HOME", sandbox.home());
    stores.confine(&mut cmd);
    let run = Run::of(cmd, &["ca", "install", "--store", "system"]);
    run.one_line_error(&[
        "nothing changed",
        "system: System store (Debian/Ubuntu) is read-only (even for root)",
    ]);
    assert!(files_in(&stores.anchors()).is_empty());
}

/// A real non-root process: as root the test drops to `nobody` (with a copy of the
/// binary it can reach); otherwise it runs as the user it is, on a store it cannot write.
#[test]
fn not_root_the_system_store_is_refused_with_the_exact_sudo_command() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = open.path().join("data");
    let home = open.path().join("home");
    std::fs::create_dir(&data).unwrap();
    std::fs::create_dir(&home).unwrap();
    let mut cmd = if as_root {
        // The sandbox (0700) is root's; the store must be readable by nobody.
        for dir in [sandbox.file(""), stores.root.clone()] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for d in [&data, &home] {
            std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
        }
        let bin = open.path().join("authdesk");
        std::fs::copy(env!("CARGO_BIN_EXE_authdesk"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin);
        cmd
    } else {
        for d in ["usr/local/share/ca-certificates", "etc/ssl/certs"] {
            std::fs::set_permissions(stores.root.join(d), std::fs::Permissions::from_mode(0o555))
                .unwrap();
        }
        Command::new(env!("CARGO_BIN_EXE_authdesk"))
    };
    cmd.arg("--data-dir")
        .arg(&data)
        .args(["ca", "install", "--store", "system"])
        .env("HOME", &home)
        .current_dir(open.path());
    stores.confine(&mut cmd);
    let run = Run::of(cmd, &["ca", "install", "--store", "system"]);
    let line = run.one_line_error(&[
        "nothing changed",
        "System store (Debian/Ubuntu) needs root",
        "run: sudo sh -c 'install -m 0644 ",
        &format!("{}/tls/ca.pem", data.display()),
        &format!("{}/authdesk-ca-", stores.anchors().display()),
        "update-ca-certificates --certsconf ",
    ]);
    assert!(files_in(&stores.anchors()).is_empty(), "{line}");
    assert!(!stores.bundle().exists());
}

#[test]
fn ca_status_is_a_table_of_stores_and_ecosystems_with_what_to_do() {
    let sandbox = Sandbox::new();
    let stores = Stores::debian(&sandbox);
    let table = stores.run(&sandbox, &["ca", "status"]).success();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CA "), "{table}");
    let head: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(head, ["STORE", "WHERE", "TRUSTED", "WHAT", "TO", "DO"]);
    let row = |store: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{store} ")))
            .unwrap_or_else(|| panic!("no {store} row:\n{table}"))
            .to_string()
    };
    assert_mentions(
        &row("system"),
        &[
            "ca-certificates.crt",
            " no ",
            "authdesk ca install --store system",
        ],
    );
    assert_mentions(&row("nss"), &["absent", "no NSS database found"]);
    assert_mentions(&row("java"), &["absent", "no JDK found"]);
    assert_mentions(
        &row("python-requests"),
        &["certifi", " no ", "export REQUESTS_CA_BUNDLE="],
    );
    let ca_path = sandbox.data_dir().join("tls/ca.pem");
    assert_mentions(
        &row("node"),
        &[&format!("export NODE_EXTRA_CA_CERTS={}", ca_path.display())],
    );

    // Once the system store trusts it, the bundle variables point at the system bundle.
    stores
        .run(&sandbox, &["ca", "install", "--store", "system"])
        .success();
    let status = stores.status(&sandbox);
    assert_eq!(
        status["ecosystems"][0]["action"],
        format!("export REQUESTS_CA_BUNDLE={}", stores.bundle().display())
    );
}

// ---- NSS and Chromium ----

fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} not found: Debian's chromium package is needed (scripts/test.sh installs it)",
        path.display()
    );
    path
}

fn certutil(args: &[&str]) -> String {
    let out = Command::new("certutil")
        .args(args)
        .output()
        .expect("certutil (Debian libnss3-tools; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "certutil {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Loads `url` in headless Chromium with HOME (and so `~/.pki/nssdb`) in the sandbox
/// and a fresh profile; its DOM and its log.
fn chromium_load(sandbox: &Sandbox, profile: &str, url: &str) -> (String, String) {
    let mut cmd = Command::new(chromium_binary());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!(
        "--user-data-dir={}",
        sandbox.file(profile).display()
    ))
    .args(["--dump-dom", url])
    .env("HOME", sandbox.home())
    .env("XDG_CONFIG_HOME", sandbox.home().join(".config"))
    .env("XDG_CACHE_HOME", sandbox.home().join(".cache"))
    .env("XDG_DATA_HOME", sandbox.home().join(".local/share"));
    for v in TRUST_VARS {
        cmd.env_remove(v);
    }
    let out = output_within(cmd, "chromium");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ca_install_into_nss_lets_headless_chromium_load_discovery_and_uninstall_takes_it_away() {
    let sandbox = Sandbox::new();
    let mut stores = Stores::new(&sandbox);
    stores.nss = None;
    let db = sandbox.home().join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let spec = format!("sql:{}", db.display());
    certutil(&["-N", "-d", &spec, "--empty-password"]);

    let out = stores
        .run(&sandbox, &["ca", "install", "--store", "nss"])
        .success();
    assert_mentions(&out, &["nss", "Chromium/Chrome", "installed"]);
    let listed = certutil(&["-L", "-d", &spec]);
    assert!(listed.contains("authdesk-ca-"), "{listed}");
    assert_eq!(stores.status(&sandbox)["stores"][1]["state"], "trusted");

    let served = sandbox.serve(&[]);
    let url = format!("{}/.well-known/openid-configuration", served.issuer);
    let (dom, log) = chromium_load(&sandbox, "profile-trusted", &url);
    assert!(
        dom.contains(&format!("\"issuer\":\"{}\"", served.issuer)),
        "Chromium did not load discovery:\n{dom}\n{log}"
    );
    assert!(!log.contains("ERR_CERT"), "{log}");

    let out = stores
        .run(&sandbox, &["ca", "uninstall", "--store", "nss"])
        .success();
    assert_mentions(&out, &["removed", "the Authdesk CA"]);
    assert!(!certutil(&["-L", "-d", &spec]).contains("authdesk-ca-"));
    let (dom, log) = chromium_load(&sandbox, "profile-untrusted", &url);
    assert!(!dom.contains("\"issuer\""), "{dom}");
    assert!(log.contains("net::ERR_CERT_AUTHORITY_INVALID"), "{log}");
}

// ---- Java ----

/// The `cacerts` of the `java` on PATH.
fn system_cacerts() -> PathBuf {
    let java = Command::new("sh")
        .args(["-c", "command -v java"])
        .output()
        .expect("sh");
    let java = String::from_utf8_lossy(&java.stdout).trim().to_string();
    assert!(
        !java.is_empty(),
        "java not found: a JRE 11+ is needed (Debian openjdk-17-jre-headless; scripts/test.sh installs it)"
    );
    let home = std::fs::canonicalize(&java)
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    authdesk::trust::java::cacerts_of(&home)
        .unwrap_or_else(|| panic!("no cacerts under {}", home.display()))
}

/// The entries of a keystore, alias and certificate, sorted.
fn keystore_entries(cacerts: &Path) -> Vec<String> {
    let out = Command::new("keytool")
        .args([
            "-J-Duser.language=en",
            "-list",
            "-rfc",
            "-storepass",
            "changeit",
            "-keystore",
        ])
        .arg(cacerts)
        .env("LC_ALL", "C")
        .output()
        .expect("keytool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut entries: Vec<String> = text
        .split("Alias name: ")
        .skip(1)
        .map(|e| {
            let alias = e.lines().next().unwrap_or_default();
            let pem = e
                .find("-----BEGIN")
                .map(|i| &e[i..])
                .and_then(|p| p.find("-----END CERTIFICATE-----").map(|j| &p[..j]))
                .unwrap_or_default();
            format!("{alias}\n{pem}")
        })
        .collect();
    entries.sort();
    entries
}

const FETCH_JAVA: &str = r#"
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create(args[0])).build(),
            HttpResponse.BodyHandlers.ofString());
        System.out.println(r.statusCode());
        System.out.println(r.body());
    }
}
"#;

fn java_fetch(sandbox: &Sandbox, truststore: &Path, url: &str) -> Output {
    let source = sandbox.file("Fetch.java");
    std::fs::write(&source, FETCH_JAVA).unwrap();
    let mut cmd = Command::new("java");
    cmd.arg(format!(
        "-Djavax.net.ssl.trustStore={}",
        truststore.display()
    ))
    .arg("-Djavax.net.ssl.trustStorePassword=changeit")
    .arg(&source)
    .arg(url);
    for v in TRUST_VARS {
        cmd.env_remove(v);
    }
    output_within(cmd, "java")
}

#[test]
fn ca_install_into_a_copy_of_cacerts_lets_java_connect_and_uninstall_removes_only_that_alias() {
    let sandbox = Sandbox::new();
    let mut stores = Stores::new(&sandbox);
    let jdk = sandbox.file("jdk");
    let cacerts = jdk.join("lib/security/cacerts");
    std::fs::create_dir_all(cacerts.parent().unwrap()).unwrap();
    std::fs::copy(system_cacerts(), &cacerts).unwrap();
    stores.java = vec![jdk];
    let before = keystore_entries(&cacerts);
    assert!(before.len() > 50, "a JDK's cacerts holds the public roots");

    let served = sandbox.serve(&[]);
    let url = format!("{}/.well-known/openid-configuration", served.issuer);
    let refused = java_fetch(&sandbox, &cacerts, &url);
    assert!(
        !refused.status.success(),
        "Java trusted the CA before it was installed"
    );
    assert_mentions(
        &String::from_utf8_lossy(&refused.stderr),
        &["PKIX path building failed"],
    );

    let out = stores
        .run(&sandbox, &["ca", "install", "--store", "java"])
        .success();
    assert_mentions(&out, &["java", "Java (jdk)", "installed"]);
    let after = keystore_entries(&cacerts);
    assert_eq!(after.len(), before.len() + 1);
    let added: Vec<&String> = after.iter().filter(|e| !before.contains(e)).collect();
    assert!(added[0].starts_with("authdesk-ca-"), "{added:?}");

    let ok = java_fetch(&sandbox, &cacerts, &url);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "Java could not connect: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.starts_with("200\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("\"issuer\":\"{}\"", served.issuer)),
        "{stdout}"
    );

    let out = stores
        .run(&sandbox, &["ca", "uninstall", "--store", "java"])
        .success();
    assert_mentions(&out, &["removed", "the Authdesk CA"]);
    assert_eq!(
        keystore_entries(&cacerts),
        before,
        "uninstall removes exactly that alias"
    );
    assert_eq!(stores.status(&sandbox)["stores"][2]["state"], "not_trusted");
}
