//! Authdesk's integration tests, in one binary (each extra test file is another slow
//! link). Every test uses real parts: a provider on port 0 over a temporary data
//! directory, HTTPS through the CA it generated (and nothing else), a real SQLite file,
//! and the `authdesk` binary as scripts run it. No test touches the user's real data
//! directory: processes get `--data-dir` and a temporary HOME and XDG directories.
//!
//! - [`provider`]: discovery, JWKS, the certificate chain, restarts, file permissions.
//! - [`cli_serve`]: `authdesk serve`: readiness line, signals, seeds, start-up failures.
//! - [`cli_ca`]: `authdesk ca export` in every format.
//! - [`cli_trust`]: `authdesk ca install|uninstall|status` with real stores built for
//!   the test (Debian system store, NSS, a JDK's cacerts) and the clients that read
//!   them (curl, headless Chromium, Java).
//! - [`cli_records`]: `clients`, `users`, `export` and `import`.
//! - [`flows`]: every OAuth 2.0 / OpenID Connect flow with the `oauth2` and
//!   `openidconnect` crates and raw requests, refusals included.
//! - [`lifecycle`]: live authorization requests and consent: events, the request log,
//!   the consent page, window decisions, sessions and logout.

// clippy.toml allows these in `#[test]` functions; the helpers they call are test code too.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cli_ca;
mod cli_records;
mod cli_serve;
mod cli_trust;
mod flows;
mod lifecycle;
mod provider;
mod support;
