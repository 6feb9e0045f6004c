//! NSS databases: Chromium and Chrome on Linux read `~/.pki/nssdb`, Firefox its
//! profile's `cert9.db` (also under snap and flatpak). Changed with `certutil` (Debian
//! `libnss3-tools`); the CA goes in as `authdesk-ca-<id>` with trust `C,,` (a trusted
//! authority for TLS servers).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::exec::{Plan, Step, run_checked};
use super::{
    CaCert, Found, Inspected, StoreInspection, StoreLocation, SystemLayout, TrustEnv, TrustState,
    TrustStore, ca_name, certificates_in_bytes,
};
use crate::error::Error;

/// An NSS database directory and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NssDb {
    pub name: String,
    pub dir: PathBuf,
}

impl NssDb {
    /// `sql:DIR` (cert9.db) or `dbm:DIR` (the legacy cert8.db), as certutil's `-d`.
    fn spec(&self) -> String {
        let kind = if self.dir.join("cert9.db").exists() {
            "sql"
        } else {
            "dbm"
        };
        format!("{kind}:{}", self.dir.display())
    }

    fn exists(&self) -> bool {
        self.dir.join("cert9.db").is_file() || self.dir.join("cert8.db").is_file()
    }

    fn writable(&self, env: &TrustEnv) -> bool {
        let files = ["cert9.db", "key4.db", "cert8.db", "key3.db"];
        env.writable(&self.dir)
            && files
                .iter()
                .map(|f| self.dir.join(f))
                .filter(|p| p.exists())
                .all(|p| env.writable(&p))
    }
}

/// The databases of `env`: its explicit list, or those found under HOME.
pub fn databases(env: &TrustEnv) -> Vec<NssDb> {
    if let Some(dirs) = &env.nss_dbs {
        return dirs
            .iter()
            .map(|d| NssDb {
                name: "NSS database".into(),
                dir: d.clone(),
            })
            .filter(NssDb::exists)
            .collect();
    }
    let Some(home) = &env.home else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, dir) in [
        ("Chromium/Chrome", ".pki/nssdb"),
        ("Chromium (snap)", "snap/chromium/current/.pki/nssdb"),
        (
            "Chromium (flatpak)",
            ".var/app/org.chromium.Chromium/.pki/nssdb",
        ),
        ("Chrome (flatpak)", ".var/app/com.google.Chrome/.pki/nssdb"),
    ] {
        out.push(NssDb {
            name: name.into(),
            dir: home.join(dir),
        });
    }
    for (name, dir) in [
        ("Firefox", ".mozilla/firefox"),
        ("Firefox", ".config/mozilla/firefox"),
        ("Firefox (snap)", "snap/firefox/common/.mozilla/firefox"),
        (
            "Firefox (flatpak)",
            ".var/app/org.mozilla.firefox/.mozilla/firefox",
        ),
    ] {
        let Ok(entries) = std::fs::read_dir(home.join(dir)) else {
            continue;
        };
        let mut profiles: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        profiles.sort();
        for p in profiles {
            let profile = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(NssDb {
                name: format!("{name}, profile {profile}"),
                dir: p,
            });
        }
    }
    out.retain(NssDb::exists);
    out
}

/// A nickname of the database, its trust flags and certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    nickname: String,
    trust: String,
    certs: Vec<Vec<u8>>,
}

/// Parses `certutil -L`: a nickname (spaces allowed) then trust flags like `C,,`.
fn parse_listing(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end();
            let (nick, trust) = line.rsplit_once(char::is_whitespace)?;
            let nick = nick.trim();
            let flags_ok = trust.matches(',').count() == 2
                && trust.chars().all(|c| c == ',' || c.is_ascii_alphabetic());
            (flags_ok && !nick.is_empty() && !line.starts_with(' '))
                .then(|| (nick.to_string(), trust.to_string()))
        })
        .collect()
}

fn read_entries(certutil: &Path, db: &NssDb) -> Result<Vec<Entry>, Error> {
    let spec = db.spec();
    let listing = run_checked(certutil, &["-L".into(), "-d".into(), OsString::from(&spec)])?;
    let mut out = Vec::new();
    for (nickname, trust) in parse_listing(&listing) {
        let pem = run_checked(
            certutil,
            &[
                "-L".into(),
                "-d".into(),
                OsString::from(&spec),
                "-n".into(),
                OsString::from(&nickname),
                "-a".into(),
            ],
        )?;
        out.push(Entry {
            nickname,
            trust,
            certs: certificates_in_bytes(pem.as_bytes()),
        });
    }
    Ok(out)
}

/// Whether a trust string (`SSL,S/MIME,JAR`) makes a trusted authority for TLS servers.
fn trusted_for_tls(trust: &str) -> bool {
    trust.split(',').next().is_some_and(|ssl| ssl.contains('C'))
}

/// Where certutil comes from, per distribution.
fn certutil_package(env: &TrustEnv) -> String {
    let layout = env.layout.or_else(|| {
        let root = |p: &str| env.under_root(p);
        if root("/etc/pki/ca-trust").is_dir() {
            Some(SystemLayout::Fedora)
        } else if root("/etc/debian_version").is_file()
            || root("/usr/local/share/ca-certificates").is_dir()
        {
            Some(SystemLayout::Debian)
        } else if root("/etc/arch-release").is_file() {
            Some(SystemLayout::Arch)
        } else {
            None
        }
    });
    match layout {
        Some(SystemLayout::Debian) => "install it: sudo apt-get install libnss3-tools".into(),
        Some(SystemLayout::Fedora) => "install it: sudo dnf install nss-tools".into(),
        Some(SystemLayout::Arch) => "install it: sudo pacman -S nss".into(),
        None => "install libnss3-tools (Debian/Ubuntu), nss-tools (Fedora) or nss (Arch)".into(),
    }
}

pub fn inspect(ca: &CaCert, env: &TrustEnv) -> StoreInspection {
    let dbs = databases(env);
    let certutil = env.tool("certutil");
    let locations = dbs
        .iter()
        .map(|db| match &certutil {
            Some(tool) => inspect_db(ca, env, tool, db),
            None => {
                let message = format!("certutil not found; {}", certutil_package(env));
                Inspected {
                    store: TrustStore::Nss,
                    location: StoreLocation {
                        name: db.name.clone(),
                        path: db.dir.display().to_string(),
                        state: TrustState::Unknown,
                        stale: Vec::new(),
                        action: message.clone(),
                    },
                    install: Plan::default(),
                    uninstall: Plan::default(),
                    blocker: Some(Error::Trust {
                        code: "missing_tool",
                        message,
                    }),
                }
            }
        })
        .collect();
    StoreInspection {
        store: TrustStore::Nss,
        title: "NSS (Chromium, Chrome, Firefox)".into(),
        locations,
        blocker: None,
        absent: "no NSS database found (Chromium's ~/.pki/nssdb, a Firefox profile); start the browser once so that it creates one".into(),
    }
}

fn inspect_db(ca: &CaCert, env: &TrustEnv, certutil: &Path, db: &NssDb) -> Inspected {
    let location = |state, stale, action| StoreLocation {
        name: db.name.clone(),
        path: db.dir.display().to_string(),
        state,
        stale,
        action,
    };
    let entries = match read_entries(certutil, db) {
        Ok(e) => e,
        Err(e) => {
            return Inspected {
                store: TrustStore::Nss,
                location: location(TrustState::Unknown, Vec::new(), e.to_string()),
                install: Plan::default(),
                uninstall: Plan::default(),
                blocker: Some(e),
            };
        }
    };
    let spec = db.spec();
    let privileged = !db.writable(env);
    let nick = ca_name(ca);
    let delete = |n: &str| Step::run(certutil, &["-D", "-d", &spec, "-n", n]);

    let mut stale = Vec::new();
    let mut current: Option<&Entry> = None;
    let mut install = Plan {
        privileged,
        ..Plan::default()
    };
    let mut uninstall = install.clone();
    for entry in &entries {
        let kinds: Vec<Found> = entry.certs.iter().map(|c| ca.classify(c)).collect();
        let has_current = kinds.contains(&Found::Current);
        let stale_here: Vec<String> = kinds
            .iter()
            .filter_map(|k| match k {
                Found::Stale(fp) => Some(fp.clone()),
                _ => None,
            })
            .collect();
        let authdesk_only = kinds.iter().all(|k| *k != Found::Other);
        stale.extend(stale_here.iter().cloned());
        if (has_current || !stale_here.is_empty()) && authdesk_only {
            // certutil -D removes one certificate of a nickname at a time.
            for _ in &entry.certs {
                uninstall.steps.push(delete(&entry.nickname));
            }
        }
        if !stale_here.is_empty() && authdesk_only {
            for _ in &entry.certs {
                install.steps.push(delete(&entry.nickname));
            }
        } else if has_current {
            current = Some(entry);
        }
    }
    let trusted = current.is_some_and(|e| trusted_for_tls(&e.trust));
    match current {
        Some(e) if !trusted => install.steps.push(Step::run(
            certutil,
            &["-M", "-d", &spec, "-n", &e.nickname, "-t", "C,,"],
        )),
        Some(_) => {}
        None => {
            install.steps.push(Step::run(
                certutil,
                &[
                    "-A",
                    "-d",
                    &spec,
                    "-t",
                    "C,,",
                    "-n",
                    &nick,
                    "-i",
                    &ca.path.to_string_lossy(),
                ],
            ));
            install.undo.push(delete(&nick));
        }
    }
    let state = if trusted {
        TrustState::Trusted
    } else {
        TrustState::NotTrusted
    };
    let action = if install.is_empty() {
        String::new()
    } else if privileged && !env.is_root {
        install.sudo_command()
    } else {
        format!(
            "authdesk ca install --store nss{}",
            if stale.is_empty() {
                ""
            } else {
                " (replaces the stale Authdesk CA)"
            }
        )
    };
    // Firefox reads its database at start.
    let action = if !action.is_empty() && db.name.starts_with("Firefox") {
        format!("{action}, then restart Firefox")
    } else {
        action
    };
    stale.sort();
    stale.dedup();
    Inspected {
        store: TrustStore::Nss,
        location: location(state, stale, action),
        install,
        uninstall,
        blocker: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{ChangeOutcome, Elevation, install, status, uninstall};
    use super::*;

    #[test]
    fn certutil_listings_give_nicknames_with_spaces_and_their_trust() {
        let text = "\nCertificate Nickname                                         Trust Attributes\n                                                             SSL,S/MIME,JAR/XPI\n\nTest CA                                                      C,,  \nauthdesk-ca-0123456789abcdef                                 CT,c,c\nsomeone's peer                                               P,,\n";
        assert_eq!(
            parse_listing(text),
            vec![
                ("Test CA".to_string(), "C,,".to_string()),
                (
                    "authdesk-ca-0123456789abcdef".to_string(),
                    "CT,c,c".to_string()
                ),
                ("someone's peer".to_string(), "P,,".to_string()),
            ]
        );
        assert!(trusted_for_tls("C,,"));
        assert!(trusted_for_tls("CT,C,C"));
        assert!(!trusted_for_tls("c,C,C"));
        assert!(!trusted_for_tls("P,,"));
    }

    #[test]
    fn firefox_profiles_under_snap_and_flatpak_and_chromium_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        for db in [
            ".pki/nssdb",
            ".mozilla/firefox/abc.default-release",
            "snap/firefox/common/.mozilla/firefox/snp.default",
            ".var/app/org.mozilla.firefox/.mozilla/firefox/flt.default",
        ] {
            std::fs::create_dir_all(home.join(db)).unwrap();
            std::fs::write(home.join(db).join("cert9.db"), "").unwrap();
        }
        // A profile directory without a database is not one.
        std::fs::create_dir_all(home.join(".mozilla/firefox/Crash Reports")).unwrap();
        let mut env = env(dir.path());
        env.nss_dbs = None;
        let names: Vec<String> = databases(&env).into_iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            vec![
                "Chromium/Chrome",
                "Firefox, profile abc.default-release",
                "Firefox (snap), profile snp.default",
                "Firefox (flatpak), profile flt.default",
            ]
        );
    }

    #[test]
    fn without_certutil_nss_is_unknown_and_install_names_the_package_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nssdb");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("cert9.db"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("usr/local/share/ca-certificates")).unwrap();
        let mut env = env(dir.path());
        env.nss_dbs = Some(vec![db.clone()]);
        let ca = ca_in(dir.path());
        let st = status(&ca, &env);
        let nss = &st.stores[1];
        assert_eq!(nss.state, TrustState::Unknown);
        assert_eq!(
            nss.problem.as_deref(),
            Some("certutil not found; install it: sudo apt-get install libnss3-tools")
        );
        let err = install(&ca, &env, Some(&[TrustStore::Nss]), Elevation::Sudo).unwrap_err();
        assert_eq!(err.code(), "missing_tool");
        assert_eq!(
            err.to_string(),
            "nothing changed: nss: certutil not found; install it: sudo apt-get install libnss3-tools"
        );
        assert_eq!(std::fs::read(db.join("cert9.db")).unwrap(), b"");
    }

    /// The real certutil over a database made for the test.
    #[test]
    fn certutil_installs_replaces_a_stale_ca_and_uninstalls_by_fingerprint() {
        let Some(certutil) = super::super::exec::find_tool(
            &std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .collect::<Vec<_>>(),
            "certutil",
            false,
        ) else {
            panic!("certutil is needed (Debian: libnss3-tools; scripts/test.sh installs it)");
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nssdb");
        std::fs::create_dir_all(&db).unwrap();
        let spec = format!("sql:{}", db.display());
        run_checked(
            &certutil,
            &[
                "-N".into(),
                "-d".into(),
                spec.clone().into(),
                "--empty-password".into(),
            ],
        )
        .unwrap();
        let mut env = env(dir.path());
        env.path = vec![certutil.parent().unwrap().to_path_buf()];
        env.nss_dbs = Some(vec![db.clone()]);
        let old = ca_in(&dir.path().join("old"));
        let ca = ca_in(dir.path());

        // Someone else's certificate, which stays through everything.
        let other =
            crate::tls::TlsMaterial::load_or_create(&dir.path().join("o"), &[], NOW).unwrap();
        let other_pem = dir.path().join("other.pem");
        std::fs::write(&other_pem, &other.server_pem).unwrap();
        let certutil_args = |args: &[&str]| {
            run_checked(
                &certutil,
                &args.iter().map(OsString::from).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        certutil_args(&[
            "-A",
            "-d",
            &spec,
            "-n",
            "corp peer",
            "-t",
            "P,,",
            "-i",
            &other_pem.to_string_lossy(),
        ]);
        let nick_list = || parse_listing(&certutil_args(&["-L", "-d", &spec]));
        let corp = ("corp peer".to_string(), "P,,".to_string());

        install(&old, &env, None, Elevation::Sudo).unwrap();
        let st = status(&ca, &env);
        assert_eq!(st.stores[1].locations[0].stale, vec![old.fingerprint()]);
        assert_eq!(st.stores[1].state, TrustState::NotTrusted);

        let report = install(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(report.changes[0].outcome, ChangeOutcome::Installed);
        assert_eq!(report.changes[0].removed, vec![old.fingerprint()]);
        assert_eq!(report.status.stores[1].state, TrustState::Trusted);
        let mut expected = vec![corp.clone(), (ca_name(&ca), "C,,".to_string())];
        expected.sort();
        let mut listed = nick_list();
        listed.sort();
        assert_eq!(listed, expected, "the stale CA is replaced");

        let again = install(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(again.changes[0].outcome, ChangeOutcome::AlreadyTrusted);

        let removed = uninstall(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(removed.changes[0].removed, vec![ca.fingerprint()]);
        assert_eq!(nick_list(), vec![corp]);
        let nothing = uninstall(&ca, &env, None, Elevation::Sudo).unwrap();
        assert_eq!(nothing.changes[0].outcome, ChangeOutcome::NothingToRemove);
    }
}
