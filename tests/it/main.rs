//! Authdesk's integration tests, in one binary (each extra test file is another slow
//! link), on one harness: [`support`]. Every test uses real parts: the provider started
//! in-process on port 0 ([`support::TestProvider`]) over a temporary data directory (a
//! copy of a template made once per run, or an empty one for a first start), HTTPS
//! through the CA it generated (and nothing else), a real SQLite file, a manual clock
//! the test moves instead of sleeping; and the `authdesk` binary as scripts run it
//! ([`support::Sandbox`]). No test touches the user's real data directory: processes get
//! `--data-dir` and a temporary HOME and XDG directories.
//!
//! - [`provider`]: discovery, JWKS, the certificate chain, restarts, file permissions.
//! - [`cli_serve`]: `authdesk serve`: readiness line, signals, seeds, start-up failures.
//! - [`cli_ca`]: `authdesk ca export` in every format.
//! - [`cli_ci`]: `authdesk exec`, `serve --ready-file`, `authdesk env`, and the
//!   management of clients, users and tokens from the command line.
//! - [`cli_mint_claims`]: `clients … --claim/--resource/--preset` and `tokens mint
//!   --claims/--audience`, with their refusals.
//! - [`cli_trust`]: `authdesk ca install|uninstall|status` with real stores built for
//!   the test (Debian system store, NSS, a JDK's cacerts) and the clients that read
//!   them (curl, headless Chromium, Java).
//! - [`cli_records`]: `clients`, `users`, `export` and `import`.
//! - [`cli_keys`]: `keys list|rotate|retire` while `serve` runs, and their refusals.
//! - [`faults`]: failures on demand: fault rules from the CLI and seed files, their
//!   effects on the wire, the request log's marks, the scenarios.
//! - [`flows`]: every OAuth 2.0 / OpenID Connect flow with the `oauth2` and
//!   `openidconnect` crates and raw requests, refusals included.
//! - [`lifecycle`]: live authorization requests and consent: events, the request log,
//!   the consent page, window decisions, sessions and logout.
//! - [`debugger`]: the window's debugger: trials through the loopback listener, their
//!   fixes, token facts, the comparison with the registration.
//! - [`standards`]: the newer standards of issue 19 (PAR, …) and their refusals.
//! - [`slow_clients`]: deadlines of slow or stuck connections; memory released when idle.

// clippy.toml allows these in `#[test]` functions; the helpers they call are test code too.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cli_ca;
mod cli_ci;
mod cli_keys;
mod cli_mint_claims;
mod cli_records;
mod cli_serve;
mod cli_trust;
mod debugger;
mod faults;
mod flows;
mod lifecycle;
mod provider;
mod slow_clients;
mod standards;
mod support;
