//! The one harness of the integration tests. Everything is real: the provider runs
//! in-process over a temporary data directory, speaks HTTPS through the CA it generated
//! (the clients trust that CA and nothing else), stores in a real SQLite file, and the
//! `authdesk` binary runs as scripts run it. Nothing here can reach the user's real data
//! directory: the in-process provider gets a [`DataDir`] under a temporary directory,
//! and every process gets `--data-dir` and a temporary HOME and XDG directories.
//!
//! - [`provider`]: [`TestProvider`], the provider on a loopback port 0, over a copy of a
//!   template data directory (made once per run: no RSA key, CA or password hash is
//!   generated again) or an empty one for a first start, with a manual clock; options
//!   ([`auto_approving`], [`asking_consent`] or any `ServeOptions`), restart on the same
//!   directory, requests at each endpoint, verified id_tokens.
//! - [`http`]: clients that trust only a provider's CA, client authentication
//!   ([`Auth`]), an answer read once ([`Reply`]) with its assertions, and a [`Browser`]
//!   that keeps cookies.
//! - [`oauth`]: the redirect URIs the test clients register ([`REDIRECT`],
//!   [`LOGOUT_REDIRECT`]: one constant each), [`Pkce`], authorization requests
//!   ([`Authz`]) and codes, the parameters of a redirect, error responses, JWT claims,
//!   and the test clients.
//! - [`pages`]: the text and hidden inputs of the provider's pages, the consent form.
//! - [`events`]: the provider's events and its stored request log.
//! - [`cli`]: a [`Sandbox`] and the `authdesk` binary run in it.

mod cli;
mod events;
mod http;
mod oauth;
mod pages;
mod provider;

use std::path::Path;

pub use cli::*;
pub use events::*;
pub use http::*;
pub use oauth::*;
pub use pages::*;
pub use provider::*;

/// Every certificate of a PEM file, DER.
pub fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut &pem[..])
        .map(|c| c.expect("PEM certificate").to_vec())
        .collect()
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
