//! The operating system's trust store, which OpenSSL, curl, wget, Go, Rust's
//! native-roots, Python's `ssl` module and most command-line tools read:
//!
//! | layout | anchors | refresh | bundle clients read |
//! |---|---|---|---|
//! | Debian/Ubuntu | `/usr/local/share/ca-certificates/*.crt` | `update-ca-certificates` | `/etc/ssl/certs/ca-certificates.crt` |
//! | Fedora/RHEL | `/etc/pki/ca-trust/source/anchors/` | `update-ca-trust extract` | `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem` |
//! | Arch | `trust anchor --store` into `/etc/ca-certificates/trust-source/` | `trust extract-compat` | `/etc/ca-certificates/extracted/tls-ca-bundle.pem` |
//!
//! Under a root prefix (tests), Debian's `update-ca-certificates` gets its directory
//! options pointing into the prefix; the other layouts' tools have none, so a prefix
//! finds them on PATH only (a test's fakes), never in the system's sbin.
//!
//! Only Linux is supported; macOS and Windows keychains are not implemented (the
//! store reports so, and `authdesk ca export` remains the way there).

use std::path::{Path, PathBuf};

use super::exec::{Plan, Step};
use super::{
    CaCert, Found, Inspected, StoreInspection, StoreLocation, SystemLayout, TrustEnv, TrustState,
    TrustStore, ca_name, certificates_in,
};
use crate::error::Error;

struct Layout {
    kind: SystemLayout,
    title: &'static str,
    /// Where Authdesk puts its file (Debian, Fedora), or the directory `trust anchor`
    /// writes to (Arch); searched for Authdesk CAs, sub-directories included.
    anchors: PathBuf,
    bundle: PathBuf,
    /// The refresh program and the package that provides it.
    tool: &'static str,
    package: &'static str,
}

fn detect(env: &TrustEnv) -> Option<SystemLayout> {
    if let Some(l) = env.layout {
        return Some(l);
    }
    if !cfg!(target_os = "linux") {
        return None;
    }
    if env.under_root("/etc/pki/ca-trust/source/anchors").is_dir() {
        Some(SystemLayout::Fedora)
    } else if env.under_root("/usr/local/share/ca-certificates").is_dir()
        || env.under_root("/etc/ca-certificates.conf").is_file()
    {
        Some(SystemLayout::Debian)
    } else if env.under_root("/etc/ca-certificates/trust-source").is_dir() {
        Some(SystemLayout::Arch)
    } else {
        None
    }
}

fn layout(kind: SystemLayout, env: &TrustEnv) -> Layout {
    match kind {
        SystemLayout::Debian => Layout {
            kind,
            title: "System store (Debian/Ubuntu)",
            anchors: env.under_root("/usr/local/share/ca-certificates"),
            bundle: env.under_root("/etc/ssl/certs/ca-certificates.crt"),
            tool: "update-ca-certificates",
            package: "ca-certificates",
        },
        SystemLayout::Fedora => Layout {
            kind,
            title: "System store (Fedora/RHEL)",
            anchors: env.under_root("/etc/pki/ca-trust/source/anchors"),
            bundle: env.under_root("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
            tool: "update-ca-trust",
            package: "ca-certificates",
        },
        SystemLayout::Arch => Layout {
            kind,
            title: "System store (Arch)",
            anchors: env.under_root("/etc/ca-certificates/trust-source"),
            bundle: env.under_root("/etc/ca-certificates/extracted/tls-ca-bundle.pem"),
            tool: "trust",
            package: "p11-kit",
        },
    }
}

impl Layout {
    /// The file Authdesk adds (Debian and Fedora).
    fn anchor_file(&self, ca: &CaCert) -> PathBuf {
        let ext = match self.kind {
            SystemLayout::Debian => "crt",
            _ => "pem",
        };
        self.anchors.join(format!("{}.{ext}", ca_name(ca)))
    }

    /// The files under the anchors directory, as the refresh tool reads them.
    fn anchor_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.anchors, &mut out, 0);
        out.retain(|p| match self.kind {
            // update-ca-certificates reads only `.crt` files.
            SystemLayout::Debian => p.extension().is_some_and(|e| e == "crt"),
            _ => true,
        });
        out.sort();
        out
    }

    /// The refresh command; `fresh` rebuilds Debian's links from scratch (after a
    /// removal, so no link to a removed file is left).
    fn refresh(&self, tool: &Path, env: &TrustEnv, fresh: bool) -> Step {
        let mut args: Vec<String> = Vec::new();
        match self.kind {
            SystemLayout::Debian => {
                if fresh {
                    args.push("--fresh".into());
                }
                if env.root != Path::new("/") {
                    for (flag, dir) in [
                        ("--certsconf", "/etc/ca-certificates.conf"),
                        ("--certsdir", "/usr/share/ca-certificates"),
                        ("--localcertsdir", "/usr/local/share/ca-certificates"),
                        ("--etccertsdir", "/etc/ssl/certs"),
                        ("--hooksdir", "/etc/ca-certificates/update.d"),
                    ] {
                        args.push(flag.into());
                        args.push(env.under_root(dir).to_string_lossy().into_owned());
                    }
                }
            }
            SystemLayout::Fedora => args.push("extract".into()),
            SystemLayout::Arch => args.push("extract-compat".into()),
        }
        Step::Run {
            program: tool.to_path_buf(),
            args,
        }
    }

    /// Whether this process can change the store: the anchors and the bundle's directory.
    fn writable(&self, env: &TrustEnv) -> bool {
        let bundle_dir = self.bundle.parent().unwrap_or(&self.bundle);
        env.writable(&self.anchors) && env.writable(bundle_dir)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < 4 {
                walk(&path, out, depth + 1);
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
}

pub fn inspect(ca: &CaCert, env: &TrustEnv) -> StoreInspection {
    let Some(kind) = detect(env) else {
        let (title, why) = if cfg!(target_os = "linux") {
            (
                "System store",
                format!(
                    "no known system trust store under {} (Debian/Ubuntu, Fedora/RHEL and Arch layouts are supported); use `authdesk ca export` and your system's own tool",
                    env.root.display()
                ),
            )
        } else {
            (
                "System store",
                "the system keychain is not supported on this platform yet; use `authdesk ca export` and import the CA as a trusted root".to_string(),
            )
        };
        return StoreInspection {
            store: TrustStore::System,
            title: title.into(),
            locations: Vec::new(),
            blocker: Some(Error::Trust {
                code: "no_store",
                message: why.clone(),
            }),
            absent: why,
        };
    };
    let layout = layout(kind, env);
    StoreInspection {
        store: TrustStore::System,
        title: layout.title.into(),
        locations: vec![inspect_layout(&layout, ca, env)],
        blocker: None,
        absent: String::new(),
    }
}

fn inspect_layout(layout: &Layout, ca: &CaCert, env: &TrustEnv) -> Inspected {
    let mut current_files = Vec::new();
    let mut stale_files = Vec::new();
    let mut stale: Vec<String> = Vec::new();
    for file in layout.anchor_files() {
        for der in certificates_in(&file) {
            match ca.classify(&der) {
                Found::Current => current_files.push(file.clone()),
                Found::Stale(fp) => {
                    stale_files.push(file.clone());
                    stale.push(fp);
                }
                Found::Other => {}
            }
        }
    }
    let mut trusted = false;
    let mut stale_in_bundle = false;
    for der in certificates_in(&layout.bundle) {
        match ca.classify(&der) {
            Found::Current => trusted = true,
            Found::Stale(fp) => {
                stale_in_bundle = true;
                stale.push(fp);
            }
            Found::Other => {}
        }
    }
    current_files.dedup();
    stale_files.dedup();
    stale.sort();
    stale.dedup();

    let tool = env.tool(layout.tool);
    let blocker = match &tool {
        Some(_) => None,
        None => Some(Error::Trust {
            code: "missing_tool",
            message: format!(
                "{} not found (package {}); install it, or leave the system store out",
                layout.tool, layout.package
            ),
        }),
    };
    let privileged = !layout.writable(env);
    let (install, uninstall) = match &tool {
        Some(tool) => (
            install_plan(
                layout,
                ca,
                env,
                tool,
                &Anchored {
                    trusted,
                    current_files: &current_files,
                    stale_files: &stale_files,
                    stale_in_bundle,
                },
                privileged,
            ),
            uninstall_plan(
                layout,
                env,
                tool,
                &current_files,
                &stale_files,
                trusted || stale_in_bundle,
                privileged,
            ),
        ),
        None => (Plan::default(), Plan::default()),
    };
    let state = if trusted {
        TrustState::Trusted
    } else {
        TrustState::NotTrusted
    };
    let action = if let Some(b) = &blocker {
        b.to_string()
    } else if install.is_empty() {
        String::new()
    } else if install.privileged && !env.is_root {
        install.sudo_command()
    } else if stale.is_empty() {
        "authdesk ca install --store system".into()
    } else {
        "authdesk ca install --store system (replaces the stale Authdesk CA)".into()
    };
    Inspected {
        store: TrustStore::System,
        location: StoreLocation {
            name: layout.title.into(),
            path: layout.bundle.display().to_string(),
            state: if blocker.is_some() && !layout.bundle.exists() {
                TrustState::Unknown
            } else {
                state
            },
            stale,
            action,
        },
        install,
        uninstall,
        blocker,
    }
}

struct Anchored<'a> {
    trusted: bool,
    current_files: &'a [PathBuf],
    stale_files: &'a [PathBuf],
    stale_in_bundle: bool,
}

fn install_plan(
    layout: &Layout,
    ca: &CaCert,
    env: &TrustEnv,
    tool: &Path,
    a: &Anchored<'_>,
    privileged: bool,
) -> Plan {
    // Trusted already, by Authdesk's file or another way, and nothing stale: done.
    if a.trusted && a.stale_files.is_empty() && !a.stale_in_bundle {
        return Plan::default();
    }
    let mut plan = Plan {
        privileged,
        ..Plan::default()
    };
    let add = a.current_files.is_empty();
    for f in a.stale_files {
        plan.steps.push(Step::Remove { path: f.clone() });
    }
    match layout.kind {
        SystemLayout::Arch if add => {
            // `trust anchor --store` writes the anchor and refreshes the bundles itself;
            // a stale file removed before it is refreshed with it.
            plan.steps.push(Step::run(
                tool,
                &["anchor", "--store", &ca.path.to_string_lossy()],
            ));
            plan.undo.push(Step::run(
                tool,
                &["anchor", "--remove", &ca.path.to_string_lossy()],
            ));
        }
        _ => {
            if add {
                let to = layout.anchor_file(ca);
                plan.steps.push(Step::Copy {
                    from: ca.path.clone(),
                    to: to.clone(),
                });
                plan.undo.push(Step::Remove { path: to });
            }
            plan.steps.push(layout.refresh(tool, env, false));
            plan.undo.push(layout.refresh(tool, env, true));
        }
    }
    plan
}

fn uninstall_plan(
    layout: &Layout,
    env: &TrustEnv,
    tool: &Path,
    current_files: &[PathBuf],
    stale_files: &[PathBuf],
    in_bundle: bool,
    privileged: bool,
) -> Plan {
    let mut files: Vec<PathBuf> = current_files.iter().chain(stale_files).cloned().collect();
    files.sort();
    files.dedup();
    if files.is_empty() && !in_bundle {
        return Plan::default();
    }
    // A CA in the bundle through no file Authdesk can find was not added by Authdesk:
    // it is left alone.
    if files.is_empty() {
        return Plan::default();
    }
    let mut plan = Plan {
        privileged,
        ..Plan::default()
    };
    for f in files {
        plan.steps.push(Step::Remove { path: f });
    }
    plan.steps.push(layout.refresh(tool, env, true));
    plan
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Elevation, TrustStore, install, status, uninstall};
    use super::*;

    /// A Fedora layout under `root`, its `update-ca-trust` a fake that writes the
    /// bundle from the anchors, and logs its calls.
    fn fedora(root: &Path) -> TrustEnv {
        std::fs::create_dir_all(root.join("etc/pki/ca-trust/source/anchors")).unwrap();
        std::fs::create_dir_all(root.join("etc/pki/ca-trust/extracted/pem")).unwrap();
        fake_tool(
            root,
            "update-ca-trust",
            &format!(
                "echo \"$@\" >> {root}/calls\ncat {root}/etc/pki/ca-trust/source/anchors/* > {root}/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem 2>/dev/null || : > {root}/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                root = root.display()
            ),
        );
        env(root)
    }

    fn calls(root: &Path) -> String {
        std::fs::read_to_string(root.join("calls")).unwrap_or_default()
    }

    #[test]
    fn fedora_install_adds_an_anchor_and_extracts_and_uninstall_takes_it_back_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let env = fedora(&root);
        let ca = ca_in(dir.path());
        let st = status(&ca, &env);
        assert_eq!(st.stores[0].title, "System store (Fedora/RHEL)");
        assert_eq!(st.stores[0].state, TrustState::NotTrusted);

        let report = install(&ca, &env, Some(&[TrustStore::System]), Elevation::Sudo).unwrap();
        assert_eq!(report.changes.len(), 1);
        assert_eq!(report.status.stores[0].state, TrustState::Trusted);
        let anchor = root.join(format!(
            "etc/pki/ca-trust/source/anchors/authdesk-ca-{}.pem",
            ca.short_id()
        ));
        assert!(anchor.is_file());
        assert_eq!(calls(&root), "extract\n");

        // Once more: nothing to do, nothing run.
        let again = install(&ca, &env, Some(&[TrustStore::System]), Elevation::Sudo).unwrap();
        assert_eq!(
            again.changes[0].outcome,
            super::super::ChangeOutcome::AlreadyTrusted
        );
        assert_eq!(calls(&root), "extract\n");

        let removed = uninstall(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(removed.changes[0].removed, vec![ca.fingerprint()]);
        assert!(!anchor.exists());
        assert_eq!(removed.status.stores[0].state, TrustState::NotTrusted);
    }

    #[test]
    fn a_stale_authdesk_ca_is_flagged_and_replaced_and_other_anchors_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let env = fedora(&root);
        let old = ca_in(&dir.path().join("old"));
        let ca = ca_in(dir.path());
        install(&old, &env, None, Elevation::Sudo).unwrap();
        let anchors = root.join("etc/pki/ca-trust/source/anchors");
        // Someone else's anchor, which must survive both operations.
        let other = TlsMaterial::load_or_create(&dir.path().join("other"), &[], NOW).unwrap();
        std::fs::write(anchors.join("corp.pem"), &other.server_pem).unwrap();

        let st = status(&ca, &env);
        assert_eq!(st.stores[0].locations[0].stale, vec![old.fingerprint()]);
        assert_eq!(st.stores[0].state, TrustState::NotTrusted);

        let report = install(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(report.changes[0].removed, vec![old.fingerprint()]);
        let loc = &report.status.stores[0].locations[0];
        assert_eq!(loc.state, TrustState::Trusted);
        assert!(loc.stale.is_empty(), "{loc:?}");
        assert!(anchors.join("corp.pem").is_file());
        uninstall(&ca, &env, None, Elevation::Sudo).unwrap();
        assert!(anchors.join("corp.pem").is_file());
    }

    use crate::tls::TlsMaterial;

    /// A store this process cannot write, for a user who is not root: the plan is
    /// refused with the exact `sudo` command (the CLI test runs a real non-root process).
    #[test]
    fn a_privileged_plan_without_root_gives_the_exact_sudo_command() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let mut env = fedora(&root);
        env.is_root = false;
        let ca = ca_in(dir.path());
        let layout = layout(SystemLayout::Fedora, &env);
        let tool = env.tool("update-ca-trust").unwrap();
        let nothing = Anchored {
            trusted: false,
            current_files: &[],
            stale_files: &[],
            stale_in_bundle: false,
        };
        let plan = install_plan(&layout, &ca, &env, &tool, &nothing, true);
        let err = super::super::plan_blocker(&plan, "System store", &env, Elevation::Sudo).unwrap();
        assert_eq!(err.code(), "needs_root");
        assert_eq!(
            err.to_string(),
            format!(
                "System store needs root (not writable by this user); run: sudo sh -c 'install -m 0644 {} {}/authdesk-ca-{}.pem && {} extract'",
                ca.path.display(),
                layout.anchors.display(),
                ca.short_id(),
                tool.display()
            )
        );
        // The window asks instead; root itself on a store it cannot write is read-only.
        assert!(
            super::super::plan_blocker(&plan, "System store", &env, Elevation::Prompt).is_none()
        );
        env.is_root = true;
        let err =
            super::super::plan_blocker(&plan, "System store", &env, Elevation::Prompt).unwrap();
        assert_eq!(err.code(), "read_only");
    }

    #[test]
    fn arch_installs_through_trust_anchor_and_removes_the_file_it_stored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let source = root.join("etc/ca-certificates/trust-source");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::create_dir_all(root.join("etc/ca-certificates/extracted")).unwrap();
        // p11-kit's `trust anchor --store FILE` keeps a copy in trust-source and extracts.
        fake_tool(
            &root,
            "trust",
            &format!(
                "echo \"$@\" >> {root}/calls\nif [ \"$1\" = anchor ] && [ \"$2\" = --store ]; then cp \"$3\" {src}/authdesk.p11-kit; fi\ncat {src}/* > {root}/etc/ca-certificates/extracted/tls-ca-bundle.pem 2>/dev/null || : > {root}/etc/ca-certificates/extracted/tls-ca-bundle.pem",
                root = root.display(),
                src = source.display()
            ),
        );
        let env = env(&root);
        let ca = ca_in(dir.path());
        let report = install(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(report.status.stores[0].title, "System store (Arch)");
        assert_eq!(report.status.stores[0].state, TrustState::Trusted);
        assert_eq!(
            calls(&root),
            format!("anchor --store {}\n", ca.path.display())
        );
        let report = uninstall(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(report.status.stores[0].state, TrustState::NotTrusted);
        assert!(!source.join("authdesk.p11-kit").exists());
        assert!(calls(&root).ends_with("extract-compat\n"));
    }

    #[test]
    fn a_missing_refresh_tool_names_its_package() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("usr/local/share/ca-certificates")).unwrap();
        let env = env(&root);
        let ca = ca_in(dir.path());
        let err = install(&ca, &env, None, Elevation::Sudo).unwrap_err();
        assert_eq!(err.code(), "missing_tool");
        assert!(
            err.to_string()
                .contains("update-ca-certificates not found (package ca-certificates)"),
            "{err}"
        );
    }
}
