//! `authdesk ca export`: the trust material each ecosystem needs.

use p12_keystore::Pkcs12Archive;

use crate::support::{Sandbox, assert_mentions, pem_certificates};

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The CA certificate of the sandbox, DER, as the PEM export gives it.
fn ca_der(sandbox: &Sandbox) -> Vec<u8> {
    let pem = sandbox.ok(&["ca", "export"]);
    let certs = pem_certificates(pem.as_bytes());
    assert_eq!(
        certs.len(),
        1,
        "the PEM export holds one certificate:\n{pem}"
    );
    certs.into_iter().next().expect("one certificate")
}

#[test]
fn ca_export_pem_to_stdout_and_to_a_file_is_the_ca_certificate() {
    let sandbox = Sandbox::new();
    let stdout = sandbox.ok(&["ca", "export"]);
    assert!(
        stdout.starts_with("-----BEGIN CERTIFICATE-----"),
        "{stdout}"
    );

    let out = sandbox.file("exported/ca.pem");
    let out_arg = out.to_str().expect("utf-8");
    let run = sandbox.run(&["ca", "export", "--format", "pem", "--out", out_arg]);
    let stderr = run.stderr.clone();
    assert!(run.success().is_empty(), "--out must keep stdout empty");
    assert!(
        stderr.contains(out_arg),
        "stderr should say where the file went: {stderr}"
    );
    assert_eq!(
        read(&out),
        stdout.as_bytes(),
        "file and stdout exports differ"
    );

    // Exporting again gives the same CA: it is generated once.
    assert_eq!(sandbox.ok(&["ca", "export"]), stdout);

    let der = &pem_certificates(stdout.as_bytes())[0];
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("X.509");
    assert!(cert.is_ca(), "the exported certificate is not a CA");
    assert_eq!(cert.subject(), cert.issuer(), "the CA is self-signed");
    assert!(
        cert.subject().to_string().contains("Authdesk"),
        "subject: {}",
        cert.subject()
    );
}

#[test]
fn ca_export_der_is_the_same_certificate() {
    let sandbox = Sandbox::new();
    let expected = ca_der(&sandbox);
    let out = sandbox.file("ca.der");
    sandbox.ok(&[
        "ca",
        "export",
        "--format",
        "der",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(read(&out), expected);
}

#[test]
fn ca_export_bundle_holds_the_public_roots_then_our_ca() {
    let sandbox = Sandbox::new();
    let ca = ca_der(&sandbox);
    let stdout = sandbox.ok(&["ca", "export", "--format", "bundle"]);
    let out = sandbox.file("bundle.pem");
    sandbox.ok(&[
        "ca",
        "export",
        "--format",
        "bundle",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(read(&out), stdout.as_bytes());

    let certs = pem_certificates(stdout.as_bytes());
    assert!(
        certs.len() > 50,
        "a bundle of {} certificates has no public roots",
        certs.len()
    );
    assert_eq!(
        certs.last(),
        Some(&ca),
        "the bundle must end with the Authdesk CA"
    );
    assert_eq!(certs.iter().filter(|c| **c == ca).count(), 1);
    for (i, der) in certs.iter().enumerate() {
        x509_parser::parse_x509_certificate(der)
            .unwrap_or_else(|e| panic!("certificate {i} of the bundle does not parse: {e}"));
    }
}

#[test]
fn ca_export_p12_is_a_java_trust_store_holding_the_ca() {
    let sandbox = Sandbox::new();
    let ca = ca_der(&sandbox);
    let out = sandbox.file("truststore.p12");
    let out_arg = out.to_str().expect("utf-8");
    let run = sandbox.run(&["ca", "export", "--format", "p12", "--out", out_arg]);
    let stderr = run.stderr.clone();
    run.success();
    assert!(
        stderr.contains("changeit"),
        "the hint should give the trust store password: {stderr}"
    );

    let bytes = read(&out);
    let archive =
        Pkcs12Archive::from_pkcs12(&bytes, "changeit").expect("PKCS#12 with password changeit");
    assert!(
        archive.keys.is_empty(),
        "a trust store must not hold private keys"
    );
    assert_eq!(archive.certs.len(), 1);
    let bag = &archive.certs[0];
    assert_eq!(bag.cert.as_der(), ca.as_slice());
    // Java only treats a certificate bag as a trusted entry with Oracle's trusted-key-usage attribute.
    assert!(
        bag.trusted,
        "the CA bag lacks the Java trusted-certificate attribute"
    );

    assert!(
        Pkcs12Archive::from_pkcs12(&bytes, "wrong-password").is_err(),
        "the trust store opened with a wrong password"
    );
}

#[test]
fn binary_ca_formats_go_to_stdout_when_it_is_not_a_terminal() {
    let sandbox = Sandbox::new();
    let exported = |format: &str| {
        let out = sandbox
            .command(&["ca", "export", "--format", format])
            .output()
            .expect("run ca export");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let der = exported("der");
    let pem = String::from_utf8(exported("pem")).expect("PEM is text");
    assert_eq!(pem_certificates(pem.as_bytes()), vec![der]);
    let p12 = exported("p12");
    let archive = Pkcs12Archive::from_pkcs12(&p12, "changeit").expect("PKCS#12 from stdout");
    assert_eq!(archive.certs.len(), 1);
}

#[cfg(unix)]
#[test]
fn ca_export_writes_no_private_key() {
    let sandbox = Sandbox::new();
    for format in ["pem", "bundle"] {
        let out = sandbox.ok(&["ca", "export", "--format", format]);
        assert!(
            !out.contains("PRIVATE KEY"),
            "{format} export holds a private key"
        );
    }
    // The key stays in the data directory, owner-only.
    assert_eq!(
        crate::support::mode(&sandbox.data_dir().join("tls/ca-key.pem")),
        0o600
    );
}

#[test]
fn ca_export_to_a_bare_file_name_writes_in_the_current_directory() {
    let sandbox = Sandbox::new();
    // The sandbox commands run in the sandbox root.
    sandbox.ok(&["ca", "export", "--out", "authdesk-ca.pem"]);
    assert_eq!(read(&sandbox.file("authdesk-ca.pem")), sandbox.ca_pem());
}

#[test]
fn ca_show_describes_the_ca_and_the_server_certificate() {
    let sandbox = Sandbox::new();
    let info = sandbox.ok_json(&["ca", "show"]);
    assert_eq!(
        info["ca"]["pem"].as_str().map(str::as_bytes),
        Some(sandbox.ca_pem().as_slice())
    );
    assert_eq!(info["server"]["issuer"], info["ca"]["subject"]);
    let sans: Vec<&str> = info["server"]["sans"]
        .as_array()
        .expect("sans")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect();
    for host in ["localhost", "127.0.0.1", "::1"] {
        assert!(sans.contains(&host), "{host} missing from {sans:?}");
    }
    assert_mentions(
        &sandbox.ok(&["ca", "show"]),
        &["CA:", "server:", "localhost", "sha256:"],
    );
}

#[test]
fn concurrent_first_ca_exports_agree_on_one_ca() {
    for round in 0..5 {
        let sandbox = Sandbox::new();
        let children: Vec<_> = (0..2)
            .map(|_| {
                sandbox
                    .command(&["ca", "export"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        for out in outputs {
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.stdout,
                sandbox.ca_pem(),
                "round {round}: exported a CA that was not kept"
            );
        }
    }
}
