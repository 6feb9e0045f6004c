//! The local certificate authority and the server certificate it signs.
//!
//! On first start a long-lived CA is generated in `<data dir>/tls/`; the server
//! certificate (for `localhost`, `127.0.0.1`, `::1` and any extra host such as the
//! issuer override's) is signed by it and renewed when it nears expiry, so clients that
//! trust the CA once keep working. Keys are written `0600`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::model::Timestamp;

const CA_VALIDITY_DAYS: i64 = 3650;
/// Under 398 days so that every platform's leaf-lifetime limit accepts it.
const SERVER_VALIDITY_DAYS: i64 = 397;
/// The server certificate is renewed when it has less than this left.
const RENEW_BEFORE_DAYS: i64 = 30;
const DAY: i64 = 24 * 3600;

/// The CA's subject; [`crate::trust`] recognises Authdesk CAs (the current one and
/// those of a reset data directory) in trust stores by it.
pub const CA_COMMON_NAME: &str = "Authdesk Local CA";
pub const CA_ORGANIZATION: &str = "Authdesk (local development only)";

/// The password of the exported PKCS#12 trust store (Java's customary default).
pub const P12_PASSWORD: &str = "changeit";

/// Where the certificate files live, inside the data directory.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    pub dir: PathBuf,
}

impl TlsPaths {
    pub fn new(data_dir: &Path) -> Self {
        TlsPaths {
            dir: data_dir.join("tls"),
        }
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca-key.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server-key.pem")
    }
}

/// The CA and server certificate in use.
#[derive(Clone)]
pub struct TlsMaterial {
    pub paths: TlsPaths,
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server_pem: String,
    pub server_der: Vec<u8>,
    server_key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("dir", &self.paths.dir)
            .finish_non_exhaustive()
    }
}

/// Formats `authdesk ca export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// The CA certificate, PEM (for NODE_EXTRA_CA_CERTS, curl --cacert, browsers).
    Pem,
    /// The CA certificate, DER.
    Der,
    /// The public web roots plus the CA in one PEM file (REQUESTS_CA_BUNDLE, SSL_CERT_FILE).
    Bundle,
    /// A PKCS#12 trust store holding the CA, password "changeit" (Java).
    P12,
}

impl ExportFormat {
    pub fn default_file_name(self) -> &'static str {
        match self {
            ExportFormat::Pem => "authdesk-ca.pem",
            ExportFormat::Der => "authdesk-ca.der",
            ExportFormat::Bundle => "authdesk-ca-bundle.pem",
            ExportFormat::P12 => "authdesk-truststore.p12",
        }
    }
}

/// What the window shows of a certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sans: Vec<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub not_before: Timestamp,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub not_after: Timestamp,
    pub sha256_fingerprint: String,
    pub sha1_fingerprint: String,
    pub pem: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct CertificatesInfo {
    pub ca: CertInfo,
    pub server: CertInfo,
}

fn tls_err(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{context}: {e}"))
}

fn to_offset(ts: Timestamp) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(ts).map_err(|e| tls_err("bad time", e))
}

fn pem_to_der(pem: &str, path: &Path) -> Result<Vec<u8>> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|d| d.to_vec())
        .map_err(|e| {
            Error::Tls(format!(
                "{} is not a PEM certificate ({e}); move the tls/ directory aside to generate new certificates",
                path.display()
            ))
        })
}

/// Hosts the server certificate always covers.
pub const DEFAULT_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

fn server_hosts(extra_hosts: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect();
    for h in extra_hosts {
        if !hosts.iter().any(|x| x.eq_ignore_ascii_case(h)) {
            hosts.push(h.clone());
        }
    }
    hosts
}

fn generate_ca(now: Timestamp) -> Result<(String, String)> {
    let key = KeyPair::generate().map_err(|e| tls_err("cannot generate CA key", e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, CA_ORGANIZATION);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = to_offset(now - DAY)?;
    params.not_after = to_offset(now + CA_VALIDITY_DAYS * DAY)?;
    params.serial_number = Some(random_serial());
    let cert = params
        .self_signed(&key)
        .map_err(|e| tls_err("cannot sign CA certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn random_serial() -> rcgen::SerialNumber {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f; // positive
    rcgen::SerialNumber::from_slice(&bytes)
}

fn generate_server(
    ca_pem: &str,
    ca_key_pem: &str,
    hosts: &[String],
    now: Timestamp,
    paths: &TlsPaths,
) -> Result<(String, String)> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| {
        Error::Tls(format!(
            "the CA key {} is unreadable ({e}); move the tls/ directory aside to generate a new CA (clients must then trust the new one)",
            paths.ca_key().display()
        ))
    })?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key).map_err(|e| {
        Error::Tls(format!(
            "the CA certificate {} is unreadable ({e}); move the tls/ directory aside to generate a new CA",
            paths.ca_cert().display()
        ))
    })?;
    let key = KeyPair::generate().map_err(|e| tls_err("cannot generate server key", e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    dn.push(
        DnType::OrganizationName,
        "Authdesk (local development only)",
    );
    params.distinguished_name = dn;
    params.subject_alt_names = hosts
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h.clone().try_into().map(SanType::DnsName).map_err(|e| {
                Error::invalid("hosts", format!("'{h}' is not a valid host name ({e})"))
            }),
        })
        .collect::<Result<_>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = to_offset(now - DAY)?;
    params.not_after = to_offset(now + SERVER_VALIDITY_DAYS * DAY)?;
    params.serial_number = Some(random_serial());
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| tls_err("cannot sign server certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Reasons to issue a new server certificate.
fn server_needs_renewal(
    server_der: &[u8],
    ca_der: &[u8],
    hosts: &[String],
    now: Timestamp,
) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(server_der) else {
        return true;
    };
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else {
        return true;
    };
    if cert.validity().not_after.timestamp() - now < RENEW_BEFORE_DAYS * DAY {
        return true;
    }
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return true;
    }
    let sans = sans_of(&cert);
    !hosts.iter().all(|h| {
        sans.iter()
            .any(|s| s.eq_ignore_ascii_case(h) || ip_eq(s, h))
    })
}

fn ip_eq(a: &str, b: &str) -> bool {
    matches!((a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()), (Ok(x), Ok(y)) if x == y)
}

fn sans_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let mut out = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => out.push(d.to_string()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => {
                        let a: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
                        out.push(std::net::Ipv4Addr::from(a).to_string());
                    }
                    16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(bytes);
                        out.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    out
}

impl TlsMaterial {
    /// Loads the CA and server certificate from `data_dir/tls`, creating or renewing
    /// what is missing or due. `extra_hosts` are added to the server certificate.
    pub fn load_or_create(data_dir: &Path, extra_hosts: &[String], now: Timestamp) -> Result<Self> {
        let paths = TlsPaths::new(data_dir);
        fsutil::create_private_dir(&paths.dir)?;
        // Two first starts at once must agree on one CA.
        let _lock = fsutil::lock_exclusive(&paths.dir.join(".lock"))?;
        let (ca_pem, ca_key_pem) = match (paths.ca_cert().exists(), paths.ca_key().exists()) {
            (true, true) => (
                fsutil::read_to_string(&paths.ca_cert())?,
                fsutil::read_to_string(&paths.ca_key())?,
            ),
            (false, false) => {
                let (cert, key) = generate_ca(now)?;
                fsutil::write_atomic(&paths.ca_key(), key.as_bytes(), true)?;
                fsutil::write_atomic(&paths.ca_cert(), cert.as_bytes(), false)?;
                tracing::info!(path = %paths.ca_cert().display(), "generated a new local CA");
                (cert, key)
            }
            (has_cert, _) => {
                return Err(Error::Tls(format!(
                    "{} exists but {} is missing; restore it, or move the tls/ directory aside to generate a new CA",
                    if has_cert {
                        paths.ca_cert()
                    } else {
                        paths.ca_key()
                    }
                    .display(),
                    if has_cert {
                        paths.ca_key()
                    } else {
                        paths.ca_cert()
                    }
                    .display(),
                )));
            }
        };
        let ca_der = pem_to_der(&ca_pem, &paths.ca_cert())?;
        let hosts = server_hosts(extra_hosts);

        let existing = if paths.server_cert().exists() && paths.server_key().exists() {
            let pem = fsutil::read_to_string(&paths.server_cert())?;
            let key = fsutil::read_to_string(&paths.server_key())?;
            let der = pem_to_der(&pem, &paths.server_cert()).ok();
            let key_ok = PrivateKeyDer::from_pem_slice(key.as_bytes()).is_ok();
            match der {
                Some(der) if key_ok && !server_needs_renewal(&der, &ca_der, &hosts, now) => {
                    Some((pem, der, key))
                }
                _ => None,
            }
        } else {
            None
        };
        let (server_pem, server_der, server_key_pem) = match existing {
            Some(x) => x,
            None => {
                let (pem, key) = generate_server(&ca_pem, &ca_key_pem, &hosts, now, &paths)?;
                fsutil::write_atomic(&paths.server_key(), key.as_bytes(), true)?;
                fsutil::write_atomic(&paths.server_cert(), pem.as_bytes(), false)?;
                tracing::info!(hosts = ?hosts, "issued a new server certificate");
                let der = pem_to_der(&pem, &paths.server_cert())?;
                (pem, der, key)
            }
        };
        Ok(TlsMaterial {
            paths,
            ca_pem,
            ca_der,
            server_pem,
            server_der,
            server_key_pem,
        })
    }

    /// Issues a new server certificate now, whatever the state of the current one.
    pub fn regenerate_server(
        data_dir: &Path,
        extra_hosts: &[String],
        now: Timestamp,
    ) -> Result<Self> {
        let paths = TlsPaths::new(data_dir);
        {
            let _lock = fsutil::lock_exclusive(&paths.dir.join(".lock"))?;
            for p in [paths.server_cert(), paths.server_key()] {
                if p.exists() {
                    std::fs::remove_file(&p)
                        .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
                }
            }
        }
        Self::load_or_create(data_dir, extra_hosts, now)
    }

    /// The rustls configuration serving the server certificate and its CA.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let chain = vec![
            CertificateDer::from(self.server_der.clone()),
            CertificateDer::from(self.ca_der.clone()),
        ];
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes())
            .map_err(|e| tls_err("server key", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("TLS versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls_err("server certificate", e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The bytes `authdesk ca export --format FORMAT` writes.
    pub fn export(&self, format: ExportFormat) -> Result<Vec<u8>> {
        match format {
            ExportFormat::Pem => Ok(self.ca_pem.clone().into_bytes()),
            ExportFormat::Der => Ok(self.ca_der.clone()),
            ExportFormat::Bundle => {
                let mut out = String::new();
                out.push_str(
                    "# Authdesk bundle: the public web roots (Mozilla, via webpki-root-certs)\n",
                );
                out.push_str(
                    "# followed by the Authdesk local CA. Use it as REQUESTS_CA_BUNDLE,\n",
                );
                out.push_str("# SSL_CERT_FILE or CURL_CA_BUNDLE.\n\n");
                for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
                    out.push_str(&pem_encode("CERTIFICATE", cert.as_ref()));
                }
                out.push_str("\n# Authdesk Local CA\n");
                out.push_str(&self.ca_pem);
                Ok(out.into_bytes())
            }
            ExportFormat::P12 => {
                let cert = p12_keystore::Certificate::from_der(&self.ca_der)
                    .map_err(|e| tls_err("PKCS#12", e))?;
                let mut store = p12_keystore::KeyStore::new();
                store.add_entry(
                    "authdesk-ca",
                    p12_keystore::KeyStoreEntry::Certificate(cert),
                );
                store
                    .writer(P12_PASSWORD)
                    .write()
                    .map_err(|e| tls_err("PKCS#12", e))
            }
        }
    }

    pub fn info(&self) -> Result<CertificatesInfo> {
        Ok(CertificatesInfo {
            ca: cert_info(&self.ca_der, &self.ca_pem, &self.paths.ca_cert())?,
            server: cert_info(
                &self.server_der,
                &self.server_pem,
                &self.paths.server_cert(),
            )?,
        })
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn cert_info(der: &[u8], pem: &str, path: &Path) -> Result<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| tls_err("parse", e))?;
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        sans: sans_of(&cert),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sha256_fingerprint: fingerprint(&sha2::Sha256::digest(der)),
        sha1_fingerprint: fingerprint(
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
        ),
        pem: pem.to_string(),
        path: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = 1_800_000_000;

    #[test]
    fn creates_then_reuses_ca_and_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap();
        let b = TlsMaterial::load_or_create(dir.path(), &[], NOW + 10).unwrap();
        assert_eq!(a.ca_der, b.ca_der);
        assert_eq!(a.server_der, b.server_der);
        let info = a.info().unwrap();
        assert!(info.server.sans.contains(&"localhost".to_string()));
        assert!(info.server.sans.contains(&"127.0.0.1".to_string()));
        assert!(info.server.sans.contains(&"::1".to_string()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(a.paths.ca_key())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn server_certificate_is_renewed_near_expiry_with_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap();
        let later = NOW + (SERVER_VALIDITY_DAYS - RENEW_BEFORE_DAYS + 1) * DAY;
        let b = TlsMaterial::load_or_create(dir.path(), &[], later).unwrap();
        assert_eq!(a.ca_der, b.ca_der);
        assert_ne!(a.server_der, b.server_der);
    }

    #[test]
    fn a_new_extra_host_reissues_the_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap();
        let b =
            TlsMaterial::load_or_create(dir.path(), &["host.docker.internal".into()], NOW).unwrap();
        assert_ne!(a.server_der, b.server_der);
        assert!(
            b.info()
                .unwrap()
                .server
                .sans
                .contains(&"host.docker.internal".to_string())
        );
    }

    #[test]
    fn corrupt_ca_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap();
        std::fs::write(a.paths.ca_key(), "garbage").unwrap();
        std::fs::remove_file(a.paths.server_cert()).unwrap();
        let err = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap_err();
        assert!(err.to_string().contains("ca-key.pem"), "{err}");
    }

    #[test]
    fn exports_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let m = TlsMaterial::load_or_create(dir.path(), &[], NOW).unwrap();
        let bundle = String::from_utf8(m.export(ExportFormat::Bundle).unwrap()).unwrap();
        let n = CertificateDer::pem_slice_iter(bundle.as_bytes()).count();
        assert!(n > 100, "bundle has {n} certificates");
        assert!(bundle.ends_with(&m.ca_pem));
        let p12 = m.export(ExportFormat::P12).unwrap();
        let store = p12_keystore::KeyStore::from_pkcs12(
            &p12,
            P12_PASSWORD,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .unwrap();
        assert_eq!(store.entries_len(), 1);
        assert_eq!(m.export(ExportFormat::Der).unwrap(), m.ca_der);
    }
}
