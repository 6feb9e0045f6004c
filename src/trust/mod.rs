//! Trust installed where clients look: the Authdesk CA put into (and taken back out of)
//! the trust stores of this machine, and what each ecosystem will trust.
//!
//! - [`system`]: the operating system's store (Debian/Ubuntu, Fedora/RHEL, Arch), which
//!   needs root;
//! - [`nss`]: the NSS databases of Chromium/Chrome and every Firefox profile (`certutil`);
//! - [`java`]: the `cacerts` of the JDKs found (`keytool`);
//! - [`ecosystems`]: Python and Node, which do not read the system store in every
//!   setup: what they use and the variable to set (status only).
//!
//! Each store is inspected into locations (a database, a `cacerts`, the system bundle)
//! with a [`exec::Plan`] to install and one to uninstall. [`install`] and [`uninstall`]
//! check every plan first — a missing tool, a read-only store, root needed and not
//! available — and change nothing unless all of them can run; a plan that fails midway
//! is undone. Certificates are matched by their SHA-256 fingerprint: uninstall removes
//! only what has the Authdesk CA's fingerprint, or the subject of an Authdesk CA made
//! by an earlier data directory (a *stale* CA, which install replaces).
//!
//! Every path and program comes from a [`TrustEnv`] (a root prefix, HOME, PATH, the NSS
//! databases, the JDKs), so tests never touch the machine's real stores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, pem::PemObject};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::tls::{CA_COMMON_NAME, TlsMaterial, TlsPaths};

pub mod ecosystems;
pub mod exec;
pub mod java;
pub mod nss;
pub mod system;

use exec::Plan;

/// A store `authdesk ca install` can change.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum TrustStore {
    /// The operating system's store (needs root).
    System,
    /// The NSS databases of Chromium/Chrome and Firefox.
    Nss,
    /// The `cacerts` of the JDKs found.
    Java,
}

impl TrustStore {
    pub const ALL: [TrustStore; 3] = [TrustStore::System, TrustStore::Nss, TrustStore::Java];

    pub fn as_str(self) -> &'static str {
        match self {
            TrustStore::System => "system",
            TrustStore::Nss => "nss",
            TrustStore::Java => "java",
        }
    }
}

impl std::fmt::Display for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a location (or a whole store, or an ecosystem) trusts the Authdesk CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TrustState {
    Trusted,
    NotTrusted,
    /// Some locations of the store trust it, others do not.
    Partly,
    /// It could not be read (a tool is missing); `problem` says why.
    Unknown,
    /// Nothing of this store was found on this machine.
    Absent,
}

impl TrustState {
    pub fn label(self) -> &'static str {
        match self {
            TrustState::Trusted => "yes",
            TrustState::NotTrusted => "no",
            TrustState::Partly => "partly",
            TrustState::Unknown => "unknown",
            TrustState::Absent => "absent",
        }
    }
}

/// One place of a store: the system bundle, an NSS database, a `cacerts`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct StoreLocation {
    /// What it is, e.g. `Firefox (profile abc.default-release)`.
    pub name: String,
    /// Where it is.
    pub path: String,
    pub state: TrustState,
    /// SHA-256 fingerprints of older Authdesk CAs left here (from a data directory
    /// since reset); install replaces them, uninstall removes them.
    pub stale: Vec<String>,
    /// What to do, in a sentence or a command; empty when nothing is to be done.
    pub action: String,
}

/// A store and its locations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct StoreStatus {
    pub store: TrustStore,
    pub title: String,
    pub state: TrustState,
    pub locations: Vec<StoreLocation>,
    /// Why the store cannot be read or changed here (a missing tool, a read-only
    /// location), with the fix.
    pub problem: Option<String>,
    /// Changing it needs root (the window asks through the privilege prompt).
    pub needs_root: bool,
    /// What install would run, one shell command a line (shown before it runs).
    pub install_commands: Vec<String>,
    /// What uninstall would run.
    pub uninstall_commands: Vec<String>,
}

/// What a language runtime trusts, and the variable that changes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct EcosystemStatus {
    /// `python-requests`, `python-ssl`, `node`.
    pub id: String,
    pub name: String,
    /// The roots it will use, as a path or a sentence.
    pub uses: String,
    pub state: TrustState,
    /// The environment variable it reads.
    pub variable: String,
    /// The exact line to run; empty when it trusts the CA already.
    pub action: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TrustStatus {
    /// The SHA-256 fingerprint of the current Authdesk CA (`AA:BB:…`).
    pub ca_sha256: String,
    pub ca_path: String,
    pub stores: Vec<StoreStatus>,
    pub ecosystems: Vec<EcosystemStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ChangeOutcome {
    Installed,
    AlreadyTrusted,
    Removed,
    NothingToRemove,
}

/// What install or uninstall did at one location.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TrustChange {
    pub store: TrustStore,
    pub name: String,
    pub path: String,
    pub outcome: ChangeOutcome,
    /// Fingerprints of the certificates removed (the CA on uninstall, stale CAs on both).
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TrustReport {
    pub changes: Vec<TrustChange>,
    /// The status afterwards.
    pub status: TrustStatus,
}

/// How to get root for a store that needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elevation {
    /// Refuse, naming the exact `sudo` command (the CLI).
    Sudo,
    /// Ask through the desktop's privilege prompt, [`TrustEnv::prompt`] (the window).
    Prompt,
}

/// Which distribution's system store layout applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemLayout {
    /// `/usr/local/share/ca-certificates/*.crt` + `update-ca-certificates`.
    Debian,
    /// `/etc/pki/ca-trust/source/anchors/` + `update-ca-trust extract`.
    Fedora,
    /// `trust anchor --store` (p11-kit) into `/etc/ca-certificates/trust-source/`.
    Arch,
}

/// Where the stores and the tools are. [`TrustEnv::from_process`] reads the real
/// machine; tests build one over a temporary root.
#[derive(Debug, Clone)]
pub struct TrustEnv {
    /// System paths (`/etc`, `/usr`, JAVA_HOME) are read under this prefix (`/`
    /// normally; `AUTHDESK_TRUST_ROOT` overrides it).
    pub root: PathBuf,
    /// Where the NSS databases are looked for (HOME).
    pub home: Option<PathBuf>,
    /// Where the stores' programs are looked for (`AUTHDESK_TRUST_PATH`, else PATH;
    /// the programs themselves run with the process's PATH).
    pub path: Vec<PathBuf>,
    /// The NSS databases; `None` looks under `home` (`AUTHDESK_NSS_DBS`).
    pub nss_dbs: Option<Vec<PathBuf>>,
    /// The JDKs; `None` is JAVA_HOME and `/usr/lib/jvm/*` (`AUTHDESK_JAVA_HOMES`).
    pub java_homes: Option<Vec<PathBuf>>,
    /// The password of the `cacerts` files (`changeit`).
    pub java_storepass: String,
    /// The distribution's layout; `None` detects it under `root`.
    pub layout: Option<SystemLayout>,
    /// This process runs as root.
    pub is_root: bool,
    /// The privilege prompt the window runs commands through (`pkexec`;
    /// `AUTHDESK_PRIVILEGE_PROMPT` overrides it, split on spaces).
    pub prompt: Vec<String>,
    /// The environment variables the ecosystems read (REQUESTS_CA_BUNDLE, …).
    pub vars: BTreeMap<String, String>,
}

/// The environment variables that choose which roots Python and Node trust.
pub const ECOSYSTEM_VARS: &[&str] = &["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"];

impl TrustEnv {
    /// The real machine, with the `AUTHDESK_*` overrides.
    pub fn from_process() -> TrustEnv {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let list = |k: &str| {
            std::env::var_os(k).map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect::<Vec<_>>()
            })
        };
        let mut vars = BTreeMap::new();
        for k in ECOSYSTEM_VARS.iter().chain(&["JAVA_HOME"]) {
            if let Some(v) = var(k) {
                vars.insert(k.to_string(), v.to_string_lossy().into_owned());
            }
        }
        TrustEnv {
            root: var("AUTHDESK_TRUST_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            home: var("HOME").map(PathBuf::from),
            path: var("AUTHDESK_TRUST_PATH")
                .or_else(|| var("PATH"))
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
            nss_dbs: list("AUTHDESK_NSS_DBS"),
            java_homes: list("AUTHDESK_JAVA_HOMES"),
            java_storepass: "changeit".into(),
            layout: None,
            is_root: effective_root(),
            prompt: var("AUTHDESK_PRIVILEGE_PROMPT")
                .map(|p| {
                    p.to_string_lossy()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| vec!["pkexec".into()]),
            vars,
        }
    }

    /// `path` (absolute, e.g. `/etc/ssl/certs`) under the root prefix.
    pub fn under_root(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Whether this process may change `path`. A root process whose `is_root` is false
    /// acts as a user: it also needs a write bit a user would have (tests of the prompt).
    pub fn writable(&self, path: &Path) -> bool {
        exec::writable(path, !self.is_root && effective_root())
    }

    /// A program on PATH, or in the system's sbin directories (which a person's PATH
    /// often lacks) unless a root prefix is set: a test's tools come from its PATH only.
    pub fn tool(&self, name: &str) -> Option<PathBuf> {
        exec::find_tool(&self.path, name, self.root == Path::new("/"))
    }
}

fn effective_root() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The Authdesk CA of a data directory.
#[derive(Debug, Clone)]
pub struct CaCert {
    pub der: Vec<u8>,
    /// `tls/ca.pem`, the file the stores' tools import.
    pub path: PathBuf,
    sha256: [u8; 32],
}

impl CaCert {
    /// Reads `tls/ca.pem` (only the certificate: the key may stay unreadable), creating
    /// the CA first in a new data directory.
    pub fn load(data_dir: &Path, now: Timestamp) -> Result<CaCert> {
        let path = TlsPaths::new(data_dir).ca_cert();
        if !path.exists() {
            TlsMaterial::load_or_create(data_dir, &[], now)?;
        }
        let pem = crate::fsutil::read_to_string(&path)?;
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| Error::Tls(format!("{} is not a PEM certificate ({e})", path.display())))?
            .to_vec();
        Ok(CaCert::from_der(der, path))
    }

    pub fn from_der(der: Vec<u8>, path: PathBuf) -> CaCert {
        let sha256 = sha2::Sha256::digest(&der).into();
        CaCert { der, path, sha256 }
    }

    /// `AA:BB:…`, as `ca show` prints it.
    pub fn fingerprint(&self) -> String {
        colon_hex(&self.sha256)
    }

    /// The first 8 bytes of the fingerprint, lowercase: the suffix of the names Authdesk
    /// gives the CA in the stores (file, nickname, alias), so two CAs never collide.
    pub fn short_id(&self) -> String {
        hex::encode(&self.sha256[..8])
    }

    /// How a certificate found in a store relates to this CA.
    pub fn classify(&self, der: &[u8]) -> Found {
        let digest: [u8; 32] = sha2::Sha256::digest(der).into();
        if digest == self.sha256 {
            Found::Current
        } else if is_authdesk_ca(der) {
            Found::Stale(colon_hex(&digest))
        } else {
            Found::Other
        }
    }
}

/// A certificate found in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// This data directory's CA.
    Current,
    /// An Authdesk CA of another (earlier) data directory; its fingerprint.
    Stale(String),
    Other,
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An Authdesk CA: a CA certificate whose subject common name is Authdesk's.
fn is_authdesk_ca(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    cert.is_ca()
        && cert
            .subject()
            .iter_common_name()
            .any(|cn| cn.as_str().ok() == Some(CA_COMMON_NAME))
}

/// The certificates of a PEM file (or one DER certificate); empty when unreadable.
pub fn certificates_in(path: &Path) -> Vec<Vec<u8>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    certificates_in_bytes(&bytes)
}

pub fn certificates_in_bytes(bytes: &[u8]) -> Vec<Vec<u8>> {
    let pems: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(bytes)
        .filter_map(|c| c.ok().map(|c| c.to_vec()))
        .collect();
    if pems.is_empty() && x509_parser::parse_x509_certificate(bytes).is_ok() {
        return vec![bytes.to_vec()];
    }
    pems
}

/// One location as a store module sees it: its status and the plans to change it.
#[derive(Debug)]
pub struct Inspected {
    pub store: TrustStore,
    pub location: StoreLocation,
    /// Empty when the CA is trusted here already and no stale CA is left.
    pub install: Plan,
    /// Empty when nothing of Authdesk's is here.
    pub uninstall: Plan,
    /// Why this location cannot be read or changed (a missing tool).
    pub blocker: Option<Error>,
}

impl Inspected {
    /// Fingerprints the uninstall plan removes: the CA's (when present) and the stale ones.
    fn removed_by_uninstall(&self, ca: &CaCert) -> Vec<String> {
        let mut out = Vec::new();
        if self.location.state == TrustState::Trusted {
            out.push(ca.fingerprint());
        }
        out.extend(self.location.stale.iter().cloned());
        out
    }
}

/// A store's locations, or why it cannot be looked at.
#[derive(Debug)]
pub struct StoreInspection {
    pub store: TrustStore,
    pub title: String,
    pub locations: Vec<Inspected>,
    /// A problem of the whole store (a missing tool, an unknown system).
    pub blocker: Option<Error>,
    /// Why there is no location, when there is none (e.g. no Firefox profile).
    pub absent: String,
}

fn inspect_store(store: TrustStore, ca: &CaCert, env: &TrustEnv) -> StoreInspection {
    match store {
        TrustStore::System => system::inspect(ca, env),
        TrustStore::Nss => nss::inspect(ca, env),
        TrustStore::Java => java::inspect(ca, env),
    }
}

fn aggregate(locations: &[Inspected]) -> TrustState {
    if locations.is_empty() {
        return TrustState::Absent;
    }
    let count = |s: TrustState| locations.iter().filter(|l| l.location.state == s).count();
    if count(TrustState::Unknown) > 0 {
        TrustState::Unknown
    } else if count(TrustState::Trusted) == locations.len() {
        TrustState::Trusted
    } else if count(TrustState::Trusted) > 0 {
        TrustState::Partly
    } else {
        TrustState::NotTrusted
    }
}

/// Why a plan cannot run here: root needed, or a read-only location for root itself.
fn plan_blocker(plan: &Plan, what: &str, env: &TrustEnv, elevation: Elevation) -> Option<Error> {
    if plan.is_empty() || !plan.privileged {
        return None;
    }
    if env.is_root {
        return Some(Error::Trust {
            code: "read_only",
            message: format!("{what} is read-only (even for root)"),
        });
    }
    match elevation {
        Elevation::Prompt => None,
        Elevation::Sudo => Some(Error::Trust {
            code: "needs_root",
            message: format!(
                "{what} needs root (not writable by this user); run: {}",
                plan.sudo_command()
            ),
        }),
    }
}

fn store_status(insp: &StoreInspection, env: &TrustEnv) -> StoreStatus {
    let state = aggregate(&insp.locations);
    let commands = |pick: fn(&Inspected) -> &Plan| {
        insp.locations
            .iter()
            .map(pick)
            .filter(|p| !p.is_empty())
            .map(Plan::shell)
            .collect::<Vec<_>>()
    };
    let needs_root = !env.is_root
        && insp
            .locations
            .iter()
            .any(|l| l.install.privileged || l.uninstall.privileged);
    let problem = insp
        .blocker
        .as_ref()
        .or_else(|| insp.locations.iter().find_map(|l| l.blocker.as_ref()))
        .map(|e| e.to_string())
        .or_else(|| {
            insp.locations.iter().find_map(|l| {
                [&l.install, &l.uninstall].into_iter().find_map(|p| {
                    plan_blocker(p, &l.location.name, env, Elevation::Prompt).map(|e| e.to_string())
                })
            })
        });
    StoreStatus {
        store: insp.store,
        title: insp.title.clone(),
        state,
        locations: insp.locations.iter().map(|l| l.location.clone()).collect(),
        problem: problem.or_else(|| {
            (insp.locations.is_empty() && !insp.absent.is_empty()).then(|| insp.absent.clone())
        }),
        needs_root,
        install_commands: commands(|l| &l.install),
        uninstall_commands: commands(|l| &l.uninstall),
    }
}

/// Every store's state and each ecosystem's.
pub fn status(ca: &CaCert, env: &TrustEnv) -> TrustStatus {
    let inspections: Vec<StoreInspection> = TrustStore::ALL
        .iter()
        .map(|s| inspect_store(*s, ca, env))
        .collect();
    status_of(ca, env, &inspections)
}

fn status_of(ca: &CaCert, env: &TrustEnv, inspections: &[StoreInspection]) -> TrustStatus {
    let stores: Vec<StoreStatus> = inspections.iter().map(|i| store_status(i, env)).collect();
    let ecosystems = ecosystems::status(ca, env, &stores);
    TrustStatus {
        ca_sha256: ca.fingerprint(),
        ca_path: ca.path.display().to_string(),
        stores,
        ecosystems,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Install,
    Uninstall,
}

/// Puts the CA into `stores` (all the stores found on this machine when `None`),
/// replacing stale Authdesk CAs. Checks everything first: if any location cannot be
/// changed, nothing is, and the error names each problem with its fix.
pub fn install(
    ca: &CaCert,
    env: &TrustEnv,
    stores: Option<&[TrustStore]>,
    elevation: Elevation,
) -> Result<TrustReport> {
    change(ca, env, stores, elevation, Direction::Install)
}

/// Removes the CA, and any stale Authdesk CA, from `stores` (every store where there
/// is one when `None`). All or nothing, as [`install`].
pub fn uninstall(
    ca: &CaCert,
    env: &TrustEnv,
    stores: Option<&[TrustStore]>,
    elevation: Elevation,
) -> Result<TrustReport> {
    change(ca, env, stores, elevation, Direction::Uninstall)
}

fn change(
    ca: &CaCert,
    env: &TrustEnv,
    stores: Option<&[TrustStore]>,
    elevation: Elevation,
    direction: Direction,
) -> Result<TrustReport> {
    let explicit = stores.is_some();
    let wanted: Vec<TrustStore> = match stores {
        Some(list) => {
            let mut v = list.to_vec();
            v.sort();
            v.dedup();
            v
        }
        None => TrustStore::ALL.to_vec(),
    };
    let inspections: Vec<StoreInspection> =
        wanted.iter().map(|s| inspect_store(*s, ca, env)).collect();

    let mut problems: Vec<(TrustStore, Error)> = Vec::new();
    let mut selected: Vec<&Inspected> = Vec::new();
    for insp in &inspections {
        if insp.locations.is_empty() {
            // Unless named, a store this machine does not have is left out.
            if !explicit {
                continue;
            }
            if let Some(e) = &insp.blocker {
                problems.push((insp.store, clone_err(e)));
            } else {
                problems.push((
                    insp.store,
                    Error::Trust {
                        code: "no_store",
                        message: insp.absent.clone(),
                    },
                ));
            }
            continue;
        }
        if let Some(e) = &insp.blocker {
            problems.push((insp.store, clone_err(e)));
            continue;
        }
        for loc in &insp.locations {
            let plan = match direction {
                Direction::Install => &loc.install,
                Direction::Uninstall => &loc.uninstall,
            };
            if let Some(e) = &loc.blocker {
                problems.push((insp.store, clone_err(e)));
            } else if let Some(e) = plan_blocker(plan, &loc.location.name, env, elevation) {
                problems.push((insp.store, e));
            }
            selected.push(loc);
        }
    }
    if !problems.is_empty() {
        return Err(refusal(&problems, &inspections, explicit));
    }

    let plan_of = |l: &Inspected| match direction {
        Direction::Install => l.install.clone(),
        Direction::Uninstall => l.uninstall.clone(),
    };
    // Unprivileged plans run here one by one; the privileged ones together, last, so
    // one prompt covers them and a dismissed prompt can still undo the others.
    let mut done: Vec<Plan> = Vec::new();
    let mut elevated = Plan {
        privileged: true,
        ..Plan::default()
    };
    for loc in &selected {
        let plan = plan_of(loc);
        if plan.is_empty() {
            continue;
        }
        if plan.privileged && !env.is_root {
            elevated.steps.extend(plan.steps);
            elevated.undo.extend(plan.undo);
            continue;
        }
        if let Err(e) = plan.execute() {
            undo_all(&done);
            return Err(failed(e, &loc.location.name));
        }
        done.push(plan);
    }
    if !elevated.is_empty()
        && let Err(e) = elevated.execute_elevated(&env.prompt)
    {
        undo_all(&done);
        return Err(e);
    }

    let changes = selected
        .iter()
        .map(|loc| {
            let plan = plan_of(loc);
            let (outcome, removed) = match direction {
                Direction::Install if plan.is_empty() => (ChangeOutcome::AlreadyTrusted, vec![]),
                Direction::Install => (ChangeOutcome::Installed, loc.location.stale.clone()),
                Direction::Uninstall if plan.is_empty() => (ChangeOutcome::NothingToRemove, vec![]),
                Direction::Uninstall => (ChangeOutcome::Removed, loc.removed_by_uninstall(ca)),
            };
            TrustChange {
                store: loc.store,
                name: loc.location.name.clone(),
                path: loc.location.path.clone(),
                outcome,
                removed,
            }
        })
        .collect();
    Ok(TrustReport {
        changes,
        status: status(ca, env),
    })
}

fn undo_all(done: &[Plan]) {
    for plan in done.iter().rev() {
        plan.rollback();
    }
}

fn failed(e: Error, location: &str) -> Error {
    let code = match &e {
        Error::Trust { code, .. } => code,
        _ => "failed",
    };
    Error::Trust {
        code,
        message: format!("{location}: {e}; nothing changed"),
    }
}

fn clone_err(e: &Error) -> Error {
    Error::Trust {
        code: e.code(),
        message: e.to_string(),
    }
}

/// One line naming every problem with its fix, and the stores that could go alone.
fn refusal(
    problems: &[(TrustStore, Error)],
    inspections: &[StoreInspection],
    explicit: bool,
) -> Error {
    let code = problems.first().map_or("failed", |(_, e)| e.code());
    let mut message = format!(
        "nothing changed: {}",
        problems
            .iter()
            .map(|(s, e)| format!("{s}: {e}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let fine: Vec<&str> = inspections
        .iter()
        .filter(|i| !i.locations.is_empty() && !problems.iter().any(|(s, _)| *s == i.store))
        .map(|i| i.store.as_str())
        .collect();
    if !fine.is_empty() {
        message.push_str(&format!(
            "; or {} the others alone: --store {}",
            if explicit { "name" } else { "choose" },
            fine.join(",")
        ));
    }
    Error::Trust { code, message }
}

/// The file name, NSS nickname and Java alias Authdesk gives its CA.
pub fn ca_name(ca: &CaCert) -> String {
    format!("authdesk-ca-{}", ca.short_id())
}

#[cfg(test)]
pub(crate) mod testing {
    //! A CA and fake tools for the store modules' tests.
    use super::*;

    pub const NOW: Timestamp = 1_800_000_000;

    /// A fresh Authdesk CA in `dir/data`.
    pub fn ca_in(dir: &Path) -> CaCert {
        CaCert::load(&dir.join("data"), NOW).unwrap()
    }

    /// An environment over `root` with no stores and no tools.
    pub fn env(root: &Path) -> TrustEnv {
        TrustEnv {
            root: root.to_path_buf(),
            home: Some(root.join("home")),
            path: vec![root.join("bin")],
            nss_dbs: Some(vec![]),
            java_homes: Some(vec![]),
            java_storepass: "changeit".into(),
            layout: None,
            is_root: true,
            prompt: vec![],
            vars: BTreeMap::new(),
        }
    }

    /// Writes an executable shell script `root/bin/NAME`.
    pub fn fake_tool(root: &Path, name: &str, script: &str) -> PathBuf {
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn the_current_ca_a_stale_one_and_others_are_told_apart() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ca = ca_in(a.path());
        let old = ca_in(b.path());
        assert_eq!(ca.classify(&ca.der), Found::Current);
        assert_eq!(ca.classify(&old.der), Found::Stale(old.fingerprint()));
        let server = TlsMaterial::load_or_create(&a.path().join("data"), &[], NOW).unwrap();
        assert_eq!(
            ca.classify(&server.server_der),
            Found::Other,
            "a leaf is no CA"
        );
        assert_eq!(ca.fingerprint().len(), 32 * 3 - 1);
        assert_eq!(ca.short_id().len(), 16);
    }

    #[test]
    fn a_missing_system_store_asked_for_by_name_is_a_clear_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_in(dir.path());
        let env = env(&dir.path().join("root"));
        let err = install(&ca, &env, Some(&[TrustStore::System]), Elevation::Sudo).unwrap_err();
        assert_eq!(err.code(), "no_store", "{err}");
        assert!(
            err.to_string().starts_with("nothing changed: system: "),
            "{err}"
        );
    }

    #[test]
    fn with_no_store_found_install_changes_nothing_and_reports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_in(dir.path());
        let env = env(&dir.path().join("root"));
        let report = install(&ca, &env, None, Elevation::Sudo).unwrap();
        assert!(report.changes.is_empty());
        assert!(
            report
                .status
                .stores
                .iter()
                .all(|s| s.state == TrustState::Absent),
            "{:?}",
            report.status.stores
        );
    }
}
