//! Java: the `cacerts` trust store of each JDK found (JAVA_HOME, `/usr/lib/jvm/*`),
//! changed with `keytool`. JDKs sharing one file (Debian links them all to
//! `/etc/ssl/certs/java/cacerts`) are one location. The CA goes in under the alias
//! `authdesk-ca-<id>`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::exec::{Plan, Step, run_checked};
use super::{
    CaCert, Found, Inspected, StoreInspection, StoreLocation, TrustEnv, TrustState, TrustStore,
    ca_name, certificates_in_bytes,
};
use crate::error::Error;

/// One `cacerts` file and the JDKs that use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cacerts {
    pub jdks: Vec<String>,
    pub path: PathBuf,
    /// The first JDK's own keytool, else the one on PATH.
    pub keytool: Option<PathBuf>,
}

fn jdk_homes(env: &TrustEnv) -> Vec<PathBuf> {
    if let Some(homes) = &env.java_homes {
        return homes.clone();
    }
    let mut homes = Vec::new();
    if let Some(h) = env.vars.get("JAVA_HOME") {
        homes.push(env.under_root(h));
    }
    if let Ok(entries) = std::fs::read_dir(env.under_root("/usr/lib/jvm")) {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        homes.extend(found);
    }
    homes
}

pub fn cacerts_files(env: &TrustEnv) -> Vec<Cacerts> {
    let mut out: Vec<Cacerts> = Vec::new();
    for home in jdk_homes(env) {
        let Some(file) = cacerts_of(&home) else {
            continue;
        };
        let path = std::fs::canonicalize(&file).unwrap_or(file);
        // A link to a JDK already seen (java-1.17.0-openjdk-amd64 → java-17-…) adds nothing.
        let real_home = std::fs::canonicalize(&home).unwrap_or_else(|_| home.clone());
        let name = real_home
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| home.display().to_string());
        let keytool = Some(home.join("bin/keytool"))
            .filter(|p| p.is_file())
            .or_else(|| env.tool("keytool"));
        match out.iter_mut().find(|c| c.path == path) {
            Some(c) => {
                if !c.jdks.contains(&name) {
                    c.jdks.push(name);
                }
                if c.keytool.is_none() {
                    c.keytool = keytool;
                }
            }
            None => out.push(Cacerts {
                jdks: vec![name],
                path,
                keytool,
            }),
        }
    }
    out
}

/// Parses `keytool -list -rfc`: each `Alias name:` and the PEM certificates under it.
fn parse_listing(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut alias: Option<String> = None;
    let mut pem = String::new();
    let mut in_pem = false;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(a) = line.strip_prefix("Alias name: ") {
            alias = Some(a.to_string());
        } else if line.starts_with("-----BEGIN CERTIFICATE-----") {
            in_pem = true;
            pem.clear();
            pem.push_str(line);
            pem.push('\n');
        } else if in_pem {
            pem.push_str(line);
            pem.push('\n');
            if line.starts_with("-----END CERTIFICATE-----") {
                in_pem = false;
                if let Some(a) = &alias {
                    for der in certificates_in_bytes(pem.as_bytes()) {
                        out.push((a.clone(), der));
                    }
                }
            }
        }
    }
    out
}

fn keytool_args(args: &[&str], cacerts: &Cacerts, env: &TrustEnv) -> Vec<String> {
    let mut all: Vec<String> = vec!["-J-Duser.language=en".into()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend([
        "-keystore".into(),
        cacerts.path.to_string_lossy().into_owned(),
        "-storepass".into(),
        env.java_storepass.clone(),
    ]);
    all
}

pub fn inspect(ca: &CaCert, env: &TrustEnv) -> StoreInspection {
    let locations = cacerts_files(env)
        .iter()
        .map(|c| inspect_cacerts(ca, env, c))
        .collect();
    StoreInspection {
        store: TrustStore::Java,
        title: "Java (cacerts)".into(),
        locations,
        blocker: None,
        absent: "no JDK found (JAVA_HOME, /usr/lib/jvm/*); for a JDK elsewhere set JAVA_HOME"
            .into(),
    }
}

fn inspect_cacerts(ca: &CaCert, env: &TrustEnv, cacerts: &Cacerts) -> Inspected {
    let name = format!("Java ({})", cacerts.jdks.join(", "));
    let location = |state, stale, action| StoreLocation {
        name: name.clone(),
        path: cacerts.path.display().to_string(),
        state,
        stale,
        action,
    };
    let unknown = |e: Error| Inspected {
        store: TrustStore::Java,
        location: location(TrustState::Unknown, Vec::new(), e.to_string()),
        install: Plan::default(),
        uninstall: Plan::default(),
        blocker: Some(e),
    };
    let Some(keytool) = &cacerts.keytool else {
        return unknown(Error::Trust {
            code: "missing_tool",
            message: "keytool not found (in the JDK's bin/ nor on PATH); install a JDK or JRE, e.g. sudo apt-get install default-jre-headless".into(),
        });
    };
    let listing = match run_checked(
        keytool,
        &keytool_args(&["-list", "-rfc"], cacerts, env)
            .into_iter()
            .map(OsString::from)
            .collect::<Vec<_>>(),
    ) {
        Ok(l) => l,
        Err(e) => return unknown(e),
    };
    let privileged = !env.writable(&cacerts.path);
    let run = |args: &[&str]| Step::Run {
        program: keytool.to_path_buf(),
        args: keytool_args(args, cacerts, env),
    };
    let mut install = Plan {
        privileged,
        ..Plan::default()
    };
    let mut uninstall = install.clone();
    let mut stale = Vec::new();
    let mut trusted = false;
    for (alias, der) in parse_listing(&listing) {
        match ca.classify(&der) {
            Found::Current => {
                trusted = true;
                uninstall.steps.push(run(&["-delete", "-alias", &alias]));
            }
            Found::Stale(fp) => {
                stale.push(fp);
                install.steps.push(run(&["-delete", "-alias", &alias]));
                uninstall.steps.push(run(&["-delete", "-alias", &alias]));
            }
            Found::Other => {}
        }
    }
    if !trusted {
        let alias = ca_name(ca);
        install.steps.push(run(&[
            "-importcert",
            "-noprompt",
            "-trustcacerts",
            "-alias",
            &alias,
            "-file",
            &ca.path.to_string_lossy(),
        ]));
        install.undo.push(run(&["-delete", "-alias", &alias]));
    }
    let action = if install.is_empty() {
        String::new()
    } else if privileged && !env.is_root {
        install.sudo_command()
    } else if stale.is_empty() {
        "authdesk ca install --store java".into()
    } else {
        "authdesk ca install --store java (replaces the stale Authdesk CA)".into()
    };
    stale.sort();
    stale.dedup();
    Inspected {
        store: TrustStore::Java,
        location: location(
            if trusted {
                TrustState::Trusted
            } else {
                TrustState::NotTrusted
            },
            stale,
            action,
        ),
        install,
        uninstall,
        blocker: None,
    }
}

/// The `cacerts` of a JDK home: `lib/security/` (9 and later) or `jre/lib/security/` (8).
pub fn cacerts_of(home: &Path) -> Option<PathBuf> {
    ["lib/security/cacerts", "jre/lib/security/cacerts"]
        .iter()
        .map(|p| home.join(p))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn keytool_listings_give_each_alias_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_in(dir.path());
        let pem = std::fs::read_to_string(&ca.path).unwrap();
        let text = format!(
            "Keystore type: JKS\nKeystore provider: SUN\n\nYour keystore contains 2 entries\n\nAlias name: debian:x.pem\nCreation date: Jun 24, 2025\nEntry type: trustedCertEntry\n\n{pem}\n\n*******************************************\n\n\nAlias name: authdesk-ca-1\nCreation date: Jun 24, 2025\nEntry type: trustedCertEntry\n\n{pem}\n"
        );
        let parsed = parse_listing(&text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0, "debian:x.pem");
        assert_eq!(parsed[1], ("authdesk-ca-1".to_string(), ca.der.clone()));
    }

    #[test]
    fn jdks_sharing_one_cacerts_are_one_location_and_links_add_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let shared = root.join("etc/ssl/certs/java/cacerts");
        std::fs::create_dir_all(shared.parent().unwrap()).unwrap();
        std::fs::write(&shared, "").unwrap();
        for jdk in ["java-17-openjdk-amd64", "temurin-25-jdk-amd64"] {
            let sec = root.join("usr/lib/jvm").join(jdk).join("lib/security");
            std::fs::create_dir_all(&sec).unwrap();
            std::os::unix::fs::symlink(&shared, sec.join("cacerts")).unwrap();
        }
        std::os::unix::fs::symlink(
            root.join("usr/lib/jvm/java-17-openjdk-amd64"),
            root.join("usr/lib/jvm/java-1.17.0-openjdk-amd64"),
        )
        .unwrap();
        let own = root.join("opt/jdk21/lib/security");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cacerts"), "").unwrap();
        let mut env = env(root);
        env.java_homes = None;
        env.vars.insert("JAVA_HOME".into(), "/opt/jdk21".into());
        let found = cacerts_files(&env);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].jdks, vec!["jdk21"]);
        assert_eq!(
            found[1].jdks,
            vec!["java-17-openjdk-amd64", "temurin-25-jdk-amd64"]
        );
        assert_eq!(found[1].path, std::fs::canonicalize(&shared).unwrap());
    }
}
