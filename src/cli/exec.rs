//! `authdesk exec -- COMMAND` (a provider around one command, like a test container in
//! one line), `authdesk env` (the same variables for a running `serve`), and the
//! runtime file `serve` leaves in its data directory for `env` to find.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use url::Url;

use super::parse_bind;
use crate::config::{self, ServeOptions};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::seed::SeedFile;
use crate::server::Provider;
use crate::tls::{ExportFormat, TlsMaterial};

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_bind)]
    pub bind: std::net::IpAddr,
    /// Port to listen on (default 0: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Approve every authorization request as this user.
    #[arg(long, value_name = "USER")]
    pub auto_approve: Option<String>,
    /// Apply this seed file (JSON/YAML) before the command runs; a bad entry stops
    /// everything before the command starts.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Issuer URL to advertise instead of https://localhost:PORT.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<Url>,
    /// Close RFC 7591 dynamic client registration.
    #[arg(long)]
    pub no_registration: bool,
    /// The command and its arguments (after `--`).
    #[arg(required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// What `serve` leaves in its data directory while it runs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Running {
    pub issuer: String,
    pub pid: u32,
    /// `serve --preset`, so tokens minted meanwhile have the shape served ones have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<crate::token_shape::Preset>,
}

/// The runtime file of the provider serving `dir`.
pub fn running_file(dir: &Path) -> PathBuf {
    dir.join("running.json")
}

/// Records that this process serves `dir` at `issuer`, with the provider-wide
/// `preset` (removed by [`forget_running`]).
pub fn record_running(
    dir: &Path,
    issuer: &str,
    preset: Option<crate::token_shape::Preset>,
) -> Result<()> {
    let text = serde_json::to_string(&Running {
        issuer: issuer.to_string(),
        pid: std::process::id(),
        preset,
    })
    .map_err(|e| Error::Other(e.to_string()))?;
    crate::fsutil::write_atomic(&running_file(dir), text.as_bytes(), true)
}

pub fn forget_running(dir: &Path) {
    let _ = std::fs::remove_file(running_file(dir));
}

fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The environment name of a client id: upper case, anything but letters and digits
/// as `_` (`web-app` → `AUTHDESK_CLIENT_WEB_APP_ID`).
pub fn client_var(client_id: &str, suffix: &str) -> String {
    let name: String = client_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("AUTHDESK_CLIENT_{name}_{suffix}")
}

/// The variables a client of the provider at `issuer` needs: the issuer, the CA and a
/// bundle (public roots + the CA) for every ecosystem, and each client's credentials.
/// Writes the CA and the bundle into `files`.
pub async fn client_env(
    core: &Core,
    issuer: &str,
    tls: &TlsMaterial,
    files: &Path,
) -> Result<Vec<(String, String)>> {
    std::fs::create_dir_all(files)
        .map_err(|e| Error::io(format!("cannot create {}", files.display()), e))?;
    let ca = files.join("authdesk-ca.pem");
    let bundle = files.join("authdesk-ca-bundle.pem");
    crate::fsutil::write_atomic(&ca, &tls.export(ExportFormat::Pem)?, false)?;
    crate::fsutil::write_atomic(&bundle, &tls.export(ExportFormat::Bundle)?, false)?;
    let ca = ca.display().to_string();
    let bundle = bundle.display().to_string();
    let mut vars = vec![
        ("AUTHDESK_ISSUER".to_string(), issuer.to_string()),
        ("OIDC_ISSUER".to_string(), issuer.to_string()),
        (
            "AUTHDESK_DISCOVERY_URL".to_string(),
            format!("{issuer}{}", crate::oauth::paths::DISCOVERY),
        ),
        ("AUTHDESK_CA".to_string(), ca.clone()),
        ("AUTHDESK_CA_BUNDLE".to_string(), bundle.clone()),
        ("REQUESTS_CA_BUNDLE".to_string(), bundle.clone()),
        ("SSL_CERT_FILE".to_string(), bundle.clone()),
        ("CURL_CA_BUNDLE".to_string(), bundle),
        // Node adds these to its own roots.
        ("NODE_EXTRA_CA_CERTS".to_string(), ca),
    ];
    for c in core.list_clients().await? {
        vars.push((client_var(&c.client_id, "ID"), c.client_id.clone()));
        if let Some(secret) = &c.client_secret {
            vars.push((client_var(&c.client_id, "SECRET"), secret.clone()));
        }
    }
    Ok(vars)
}

/// A shell-quoted value for `export` lines.
fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// `authdesk env`: the variables for the `serve` running on `dir`.
pub async fn env(dir: &Path, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(running_file(dir)).map_err(|_| {
        Error::Other(format!(
            "no authdesk serve is running on {}; start one (authdesk serve --data-dir {}) or use authdesk exec -- COMMAND",
            dir.display(),
            dir.display()
        ))
    })?;
    let running: Running = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{} is damaged: {e}", running_file(dir).display())))?;
    if !alive(running.pid) {
        return Err(Error::Other(format!(
            "the authdesk serve that ran on {} (pid {}) has stopped; start it again",
            dir.display(),
            running.pid
        )));
    }
    let core = Core::open(dir).await?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let tls = TlsMaterial::load_or_create(dir, &[], now)?;
    let vars = client_env(&core, &running.issuer, &tls, &dir.join("env")).await?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> = vars
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        return super::print_json(&map);
    }
    for (k, v) in vars {
        println!("export {k}={}", quoted(&v));
    }
    Ok(())
}

/// `authdesk exec`: returns the command's exit status (1 when the provider cannot
/// start, 127 when the command cannot be run).
pub async fn exec(data_dir: Option<PathBuf>, args: ExecArgs) -> Result<i32> {
    let given = data_dir.or_else(|| {
        std::env::var_os("AUTHDESK_DATA_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let temp = match given {
        Some(_) => None,
        // Owner-only, removed when dropped (also when the command fails).
        None => Some(
            tempfile::Builder::new()
                .prefix("authdesk-exec-")
                .tempdir()
                .map_err(|e| Error::io("cannot create a temporary data directory", e))?,
        ),
    };
    let dir = match (&given, &temp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().join("data"),
        (None, None) => config::default_data_dir()?,
    };
    let seed = match &args.seed {
        Some(path) => Some(SeedFile::read(path)?),
        None => None,
    };
    let opening = async {
        let core = Core::open(&dir).await?;
        if let Some(seed) = seed {
            core.import(seed).await?;
        }
        Ok(core)
    };
    let options = ServeOptions {
        bind: args.bind,
        port: args.port,
        issuer_override: args.issuer.clone(),
        auto_approve: args.auto_approve.clone(),
        registration_open: !args.no_registration,
        ..Default::default()
    };
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let provider = Provider::open_and_start(&dir, now, opening, &options).await?;
    let files = match &temp {
        Some(t) => t.path().join("env"),
        None => dir.join("env"),
    };
    let result = run_command(&provider, &files, &args.command).await;
    provider.shutdown().await?;
    drop(temp);
    result
}

async fn run_command(provider: &Provider, files: &Path, command: &[String]) -> Result<i32> {
    let vars = client_env(provider.core(), &provider.issuer, &provider.tls, files).await?;
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| Error::invalid("command", "give the command to run after --"))?;
    eprintln!(
        "authdesk: provider at {} for: {}",
        provider.issuer,
        command.join(" ")
    );
    let mut child = match tokio::process::Command::new(program)
        .args(rest)
        .envs(vars)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot run {program}: {e}");
            return Ok(127);
        }
    };
    let status = wait_forwarding_signals(&mut child).await?;
    Ok(exit_code(status))
}

/// Waits for the child; SIGINT and SIGTERM sent to `authdesk exec` go to it (it
/// decides how to stop), and the provider stops after it.
#[cfg(unix)]
async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot handle SIGINT", e))?;
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::io("cannot handle SIGTERM", e))?;
    loop {
        let sig = tokio::select! {
            status = child.wait() => {
                return status.map_err(|e| Error::io("cannot wait for the command", e));
            }
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
        };
        if let Some(pid) = child.id() {
            // SAFETY: sends a signal to our own child process.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus> {
    child
        .wait()
        .await
        .map_err(|e| Error::io("cannot wait for the command", e))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// `authdesk tokens mint`: a provider context over `core` (the running `serve`'s
/// issuer unless `issuer` says otherwise), the token minted, stored and logged.
pub async fn mint(
    dir: &Path,
    core: Core,
    issuer: Option<Url>,
    request: &crate::oauth::issue::MintRequest,
) -> Result<crate::oauth::mint::TokenResponse> {
    // The running `serve`'s issuer and preset, so a minted token looks like its tokens.
    let running = std::fs::read_to_string(running_file(dir))
        .ok()
        .and_then(|t| serde_json::from_str::<Running>(&t).ok())
        .filter(|r| alive(r.pid));
    let preset = running.as_ref().and_then(|r| r.preset);
    let issuer = match (issuer, running) {
        (Some(url), _) => ServeOptions {
            issuer_override: Some(url),
            ..Default::default()
        }
        .issuer_for(config::DEFAULT_PORT)?,
        (None, Some(running)) => running.issuer,
        (None, None) => ServeOptions::default().issuer_for(config::DEFAULT_PORT)?,
    };
    let keys = crate::keys::KeySet::open(&core.store, core.clock.clone()).await?;
    let log = crate::log::RequestLog::start(
        core.store.clone(),
        core.events.clone(),
        crate::log::Retention::default(),
        core.clock.clone(),
    );
    let ctx = crate::oauth::Context::new(crate::oauth::Parts {
        core: core.clone(),
        keys,
        config: crate::oauth::ProviderConfig {
            issuer,
            registration_open: false,
            auto_approve: None,
            preset,
            require_par: false,
            dpop_nonce: false,
        },
        pending: Default::default(),
        log,
        dpop: Default::default(),
        dpop_bindings: Default::default(),
        faults: crate::oauth::faults::Faults::new(),
        jwks_uris: Default::default(),
    });
    let minted = ctx.mint(request, core.now()).await;
    ctx.log.close().await;
    core.store.close().await;
    minted.map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_become_variable_names() {
        assert_eq!(client_var("web-app", "ID"), "AUTHDESK_CLIENT_WEB_APP_ID");
        assert_eq!(
            client_var("ci.tests", "SECRET"),
            "AUTHDESK_CLIENT_CI_TESTS_SECRET"
        );
    }

    #[test]
    fn export_lines_quote_for_the_shell() {
        assert_eq!(quoted("a'b c"), "'a'\\''b c'");
    }
}
