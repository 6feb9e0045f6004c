//! How a provider is served: address, issuer and behaviour switches.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use url::Url;

use crate::error::{Error, Result};

pub const DEFAULT_PORT: u16 = 8443;

/// The environment variable that overrides the default data directory.
pub const DATA_DIR_ENV: &str = "AUTHDESK_DATA_DIR";
/// The application identifier; also the data directory's name, shared with the desktop app.
pub const APP_ID: &str = "dev.authdesk.app";

/// The platform's application data directory (`$XDG_DATA_HOME/dev.authdesk.app` on
/// Linux), the same one the desktop app uses; `AUTHDESK_DATA_DIR` overrides it.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir().map(|d| d.join(APP_ID)).ok_or_else(|| {
        Error::Other("cannot find the application data directory; pass --data-dir".into())
    })
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Replaces `https://localhost:PORT`, e.g. `https://host.docker.internal:8443`.
    pub issuer_override: Option<Url>,
    /// Approve every authorization request as this username (CI).
    pub auto_approve: Option<String>,
    /// RFC 7591 dynamic registration is open on localhost unless turned off.
    pub registration_open: bool,
    /// How much request history the log keeps.
    pub log_retention: crate::log::Retention,
    /// The token shape of clients without a preset of their own.
    pub preset: Option<crate::token_shape::Preset>,
    /// Every authorization request must be pushed first (RFC 9126 §5).
    pub require_par: bool,
    /// DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            issuer_override: None,
            auto_approve: None,
            registration_open: true,
            log_retention: crate::log::Retention::default(),
            preset: None,
            require_par: false,
            dpop_nonce: false,
        }
    }
}

impl ServeOptions {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// The issuer for a server bound to `port`: no trailing slash, as OIDC wants it.
    pub fn issuer_for(&self, port: u16) -> Result<String> {
        match &self.issuer_override {
            Some(url) => {
                if url.scheme() != "https" {
                    return Err(Error::invalid("issuer", format!("'{url}' must use https")));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(Error::invalid(
                        "issuer",
                        format!("'{url}' must not have a query or fragment"),
                    ));
                }
                Ok(url.as_str().trim_end_matches('/').to_string())
            }
            None => Ok(format!("https://localhost:{port}")),
        }
    }

    /// Hosts the server certificate must cover besides the loopback defaults.
    pub fn extra_hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        if let Some(h) = self.issuer_override.as_ref().and_then(|u| u.host_str()) {
            hosts.push(h.trim_start_matches('[').trim_end_matches(']').to_string());
        }
        if !self.bind.is_loopback() && !self.bind.is_unspecified() {
            hosts.push(self.bind.to_string());
        }
        hosts
    }
}
