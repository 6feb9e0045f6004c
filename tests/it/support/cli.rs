//! The `authdesk` binary as scripts run it: a [`Sandbox`] (temporary data directory
//! and HOME), one-shot commands ([`Run`]) and `authdesk serve` as a child process
//! ([`Served`]).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::get_json_blocking;

/// How long a provider may take to print its issuer line: generous, because the first
/// start generates a CA and an RSA key on a small, busy machine. Exceeding it fails the
/// test; it is not a measure of speed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopped provider may take to exit (its grace period is 10 s).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A temporary place for one test: `data/` is the data directory (not created, so the
/// provider creates it), `home/` is HOME and the XDG directories of every process the
/// test starts, so an accidental default can never reach the real data directory.
pub struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(root.path().join("home")).expect("sandbox home");
        Sandbox { root }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// A path for a test's own files, outside the data directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// `authdesk` with a sandboxed environment and no data directory chosen.
    pub fn bare_command(&self) -> Command {
        let home = self.home();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authdesk"));
        cmd.env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env_remove("AUTHDESK_DATA_DIR")
            // Trust-store commands see an empty root, never the machine's stores.
            .env(
                "AUTHDESK_TRUST_ROOT",
                self.root.path().join("no-trust-root"),
            )
            .env_remove("AUTHDESK_LOG")
            .env_remove("RUST_BACKTRACE")
            .current_dir(self.root.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `authdesk --data-dir <sandbox data dir> ARGS…`
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.data_dir(), args)
    }

    /// `authdesk --data-dir DIR ARGS…`
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.bare_command();
        cmd.arg("--data-dir").arg(dir).args(args);
        cmd
    }

    /// Runs `authdesk ARGS…` on the sandbox data directory.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args), args)
    }

    /// Runs `authdesk ARGS…`, which must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).success()
    }

    /// Runs `authdesk ARGS… --json`, which must succeed; returns its stdout as JSON.
    pub fn ok_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        parse_json(&self.ok(&all))
    }

    /// Starts `authdesk serve --port 0 EXTRA…` and waits for its issuer line.
    pub fn serve(&self, extra: &[&str]) -> Served {
        let mut served = self.spawn_serve(extra);
        served.wait_for_issuer();
        served
    }

    /// Starts `authdesk serve --port 0 EXTRA…` without waiting.
    pub fn spawn_serve(&self, extra: &[&str]) -> Served {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        Served::spawn(self.command(&args), None)
    }

    /// Starts `authdesk serve --port 0` and sends it `sig` the moment its issuer line
    /// arrives, as a script reacting to the line would.
    pub fn serve_and_signal_when_ready(&self, sig: libc::c_int) -> Served {
        let mut served = Served::spawn(self.command(&["serve", "--port", "0"]), Some(sig));
        served.wait_for_issuer();
        served
    }

    /// The CA certificate the provider generated in the sandbox data directory.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir().join("tls/ca.pem")).expect("tls/ca.pem exists")
    }
}

/// A finished `authdesk` process.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(mut cmd: Command, args: &[&str]) -> Run {
        let out = cmd.output().expect("run the authdesk binary");
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and no panic; returns stdout.
    pub fn success(self) -> String {
        assert!(
            self.status.success(),
            "authdesk {:?} failed ({}):\nstdout: {}\nstderr: {}",
            self.args,
            self.status,
            self.stdout,
            self.stderr
        );
        assert_no_panic(&self.stderr);
        self.stdout
    }

    /// Asserts a non-zero exit, no panic, and nothing on stdout; returns stderr.
    pub fn failure(&self) -> &str {
        assert!(
            !self.status.success(),
            "authdesk {:?} should have failed:\nstdout: {}\nstderr: {}",
            self.args,
            self.stdout,
            self.stderr
        );
        assert!(
            self.status.code().is_some(),
            "authdesk {:?} was killed by a signal ({}), stderr: {}",
            self.args,
            self.status,
            self.stderr
        );
        assert_no_panic(&self.stderr);
        assert!(
            self.stdout.is_empty(),
            "authdesk {:?} failed but wrote to stdout: {:?}",
            self.args,
            self.stdout
        );
        &self.stderr
    }

    /// Asserts a failure whose stderr is exactly one `error: …` line holding every
    /// `needle`; returns that line.
    pub fn one_line_error(&self, needles: &[&str]) -> String {
        let stderr = self.failure();
        let line = single_line(stderr, &self.args);
        assert!(
            line.starts_with("error: "),
            "authdesk {:?}: the error should start with 'error: ', got {line:?}",
            self.args
        );
        assert_mentions(&line, needles);
        line
    }

    /// Asserts a `--json` failure: one line `{"error": {code, message, field}}` on stderr.
    pub fn json_error(&self) -> Value {
        let stderr = self.failure();
        let line = single_line(stderr, &self.args);
        let v = parse_json(&line);
        assert!(v["error"]["code"].is_string(), "no error.code in {v}");
        assert!(v["error"]["message"].is_string(), "no error.message in {v}");
        v["error"].clone()
    }
}

fn single_line(stderr: &str, args: &[String]) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "authdesk {args:?} should explain its failure in one line, got:\n{stderr}"
    );
    lines[0].to_string()
}

pub fn assert_mentions(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected {n:?} in {text:?}");
    }
}

pub fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "authdesk panicked:\n{stderr}"
    );
}

pub fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// A running `authdesk serve` process. Dropping it kills the process if the test did
/// not stop it, so a failing test leaves nothing behind.
pub struct Served {
    child: Child,
    stdout_lines: Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    pub issuer: String,
    pub port: u16,
}

impl Served {
    pub fn spawn(mut cmd: Command, signal_when_ready: Option<libc::c_int>) -> Served {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn authdesk serve");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(sig) = signal_when_ready.filter(|_| line.starts_with("issuer ")) {
                    // SAFETY: kill(2) on our child, which cannot be reaped before its
                    // stdout closes, and stdout is still open: we just read from it.
                    unsafe { libc::kill(pid, sig) };
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_buf = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr_buf);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .expect("stderr buffer")
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        Served {
            child,
            stdout_lines: rx,
            stdout_seen: Vec::new(),
            stderr: stderr_buf,
            issuer: String::new(),
            port: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Everything printed on stdout so far, line by line.
    pub fn stdout_lines(&mut self) -> &[String] {
        while let Ok(line) = self.stdout_lines.try_recv() {
            self.stdout_seen.push(line);
        }
        &self.stdout_seen
    }

    /// Waits for `issuer https://localhost:PORT` on stdout; fails the test if the
    /// process exits first or does not print it within [`READY_TIMEOUT`].
    pub fn wait_for_issuer(&mut self) -> &str {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout_seen.push(line.clone());
                    if let Some(issuer) = line.strip_prefix("issuer ") {
                        self.issuer = issuer.to_string();
                        let port = issuer
                            .strip_prefix("https://localhost:")
                            .unwrap_or_else(|| {
                                panic!("issuer line {line:?} is not https://localhost:PORT")
                            });
                        self.port = port
                            .parse()
                            .unwrap_or_else(|e| panic!("issuer line {line:?}: port: {e}"));
                        return &self.issuer;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit();
                    panic!(
                        "authdesk serve exited ({status}) before printing its issuer; stdout: {:?}\nstderr:\n{}",
                        self.stdout_seen,
                        self.stderr()
                    );
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "authdesk serve printed no issuer line within {READY_TIMEOUT:?}; stdout: {:?}\nstderr:\n{}",
                    self.stdout_seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Asserts that the provider answers discovery over HTTPS with the issuer it printed,
    /// trusting only the CA in the data directory `dir`.
    pub fn assert_serves(&self, dir: &Path) {
        let ca = std::fs::read(dir.join("tls/ca.pem")).expect("tls/ca.pem");
        let doc = get_json_blocking(
            &ca,
            &format!("{}/.well-known/openid-configuration", self.issuer),
        );
        assert_eq!(doc["issuer"].as_str(), Some(self.issuer.as_str()));
    }

    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on the pid of our own child, which we have not reaped yet.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits for the process to exit; fails the test if it is still running after
    /// [`EXIT_TIMEOUT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain what the process wrote last.
                let drain_deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < drain_deadline {
                    match self.stdout_lines.recv_timeout(Duration::from_millis(100)) {
                        Ok(line) => self.stdout_seen.push(line),
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "authdesk serve still running {EXIT_TIMEOUT:?} after being stopped; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` and asserts a clean exit: status 0 and no panic.
    pub fn stop_with(&mut self, sig: libc::c_int) {
        self.signal(sig);
        let status = self.wait_exit();
        let stderr = self.stderr();
        assert_no_panic(&stderr);
        assert_eq!(
            status.code(),
            Some(0),
            "authdesk serve should exit 0 on signal {sig}, got {status}; stderr:\n{stderr}"
        );
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
