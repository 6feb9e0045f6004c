//! Python and Node do not read the system store in every setup: `requests` uses
//! certifi's bundle, httpx too unless `SSL_CERT_FILE` is set, Node its built-in roots
//! plus `NODE_EXTRA_CA_CERTS`. Status only: what each will use, whether that trusts the
//! CA, and the exact variable to set (as the export instructions say).

use super::exec::quote;
use super::{
    CaCert, EcosystemStatus, Found, StoreStatus, TrustEnv, TrustState, TrustStore, certificates_in,
};

/// Whether the file `path` holds the CA.
fn holds(ca: &CaCert, path: &str) -> bool {
    certificates_in(std::path::Path::new(path))
        .iter()
        .any(|der| ca.classify(der) == Found::Current)
}

pub fn status(ca: &CaCert, env: &TrustEnv, stores: &[StoreStatus]) -> Vec<EcosystemStatus> {
    // A trusted system bundle holds the public roots and the CA: what a bundle
    // variable should point at. Without it, an exported bundle does the same.
    let system_bundle = stores
        .iter()
        .find(|s| s.store == TrustStore::System && s.state == TrustState::Trusted)
        .and_then(|s| s.locations.first())
        .map(|l| l.path.clone());
    let bundle_line = |var: &str| match &system_bundle {
        Some(b) => format!("export {var}={}", quote(b)),
        None => format!(
            "authdesk ca export --format bundle --out authdesk-bundle.pem && export {var}=\"$PWD/authdesk-bundle.pem\""
        ),
    };
    let var = |k: &str| env.vars.get(k).filter(|v| !v.is_empty()).cloned();
    let from_var = |id: &str, name: &str, variable: &str, set: &str, fix: String| {
        let trusted = holds(ca, set);
        EcosystemStatus {
            id: id.into(),
            name: name.into(),
            uses: format!("{set} (from {variable})"),
            state: if trusted {
                TrustState::Trusted
            } else {
                TrustState::NotTrusted
            },
            variable: variable.into(),
            action: if trusted { String::new() } else { fix },
        }
    };

    let requests = match var("REQUESTS_CA_BUNDLE") {
        Some(set) => from_var(
            "python-requests",
            "Python requests",
            "REQUESTS_CA_BUNDLE",
            &set,
            bundle_line("REQUESTS_CA_BUNDLE"),
        ),
        None => EcosystemStatus {
            id: "python-requests".into(),
            name: "Python requests".into(),
            uses: "certifi's bundle (requests does not read the system store)".into(),
            state: TrustState::NotTrusted,
            variable: "REQUESTS_CA_BUNDLE".into(),
            action: bundle_line("REQUESTS_CA_BUNDLE"),
        },
    };
    let ssl = match var("SSL_CERT_FILE") {
        Some(set) => from_var(
            "python-ssl",
            "Python ssl, httpx, aiohttp",
            "SSL_CERT_FILE",
            &set,
            bundle_line("SSL_CERT_FILE"),
        ),
        None => EcosystemStatus {
            id: "python-ssl".into(),
            name: "Python ssl, httpx, aiohttp".into(),
            uses: "the system store (ssl, aiohttp); certifi's bundle (httpx)".into(),
            state: if system_bundle.is_some() {
                TrustState::Partly
            } else {
                TrustState::NotTrusted
            },
            variable: "SSL_CERT_FILE".into(),
            action: bundle_line("SSL_CERT_FILE"),
        },
    };
    let ca_line = format!(
        "export NODE_EXTRA_CA_CERTS={}",
        quote(&ca.path.to_string_lossy())
    );
    let node = match var("NODE_EXTRA_CA_CERTS") {
        Some(set) => from_var("node", "Node.js", "NODE_EXTRA_CA_CERTS", &set, ca_line),
        None => EcosystemStatus {
            id: "node".into(),
            name: "Node.js".into(),
            uses: "its built-in roots (Node does not read the system store)".into(),
            state: TrustState::NotTrusted,
            variable: "NODE_EXTRA_CA_CERTS".into(),
            action: ca_line,
        },
    };
    vec![requests, ssl, node]
}

#[cfg(test)]
mod tests {
    use super::super::status as trust_status;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn without_variables_python_and_node_are_told_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_in(dir.path());
        let env = env(dir.path());
        let st = trust_status(&ca, &env);
        let by_id = |id: &str| st.ecosystems.iter().find(|e| e.id == id).unwrap().clone();
        let requests = by_id("python-requests");
        assert_eq!(requests.state, TrustState::NotTrusted);
        assert!(requests.uses.contains("certifi"));
        assert_eq!(
            requests.action,
            "authdesk ca export --format bundle --out authdesk-bundle.pem && export REQUESTS_CA_BUNDLE=\"$PWD/authdesk-bundle.pem\""
        );
        assert_eq!(
            by_id("node").action,
            format!("export NODE_EXTRA_CA_CERTS={}", ca.path.display())
        );
    }

    #[test]
    fn a_variable_pointing_at_a_file_with_the_ca_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_in(dir.path());
        let mut env = env(dir.path());
        let other = dir.path().join("other.pem");
        std::fs::write(&other, "").unwrap();
        env.vars.insert(
            "NODE_EXTRA_CA_CERTS".into(),
            ca.path.to_string_lossy().into_owned(),
        );
        env.vars.insert(
            "REQUESTS_CA_BUNDLE".into(),
            other.to_string_lossy().into_owned(),
        );
        let st = trust_status(&ca, &env);
        let node = &st.ecosystems[2];
        assert_eq!(node.state, TrustState::Trusted);
        assert_eq!(node.action, "");
        assert_eq!(st.ecosystems[0].state, TrustState::NotTrusted);
        assert!(
            st.ecosystems[0]
                .uses
                .starts_with(&other.display().to_string())
        );
    }
}
