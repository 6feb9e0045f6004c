//! Authdesk: a local OAuth 2.0 / OpenID Connect provider.
//!
//! A map of the crate, following a request through it (dependencies point downward
//! only: model, error, clock, keys, tls, events, log → store → core → oauth → http →
//! server → cli; `scripts/check-layers.sh` checks it):
//!
//! - [`server`] binds the listener (the caller owns it and the shutdown signal) and
//!   serves HTTPS with the certificates of [`tls`] (a local CA made on first start);
//!   [`conn`] gives slow clients their deadlines, and [`idle`] releases memory once
//!   requests stop.
//! - [`http`] is the axum adapter: one router per concern; each handler extracts the
//!   parameters, the `Authorization` header's value and cookies, calls one operation
//!   of [`oauth`], logs, and answers (JSON, a redirect or a page). It decides nothing
//!   and never touches the store.
//! - [`oauth`] is the provider: every protocol decision, with the shared
//!   [`oauth::Context`] (core, keys, config, pending consents, log). Authorization
//!   ([`oauth::authorize`], [`oauth::consent`], [`oauth::session`]), the token
//!   endpoint's pipeline with one module per grant (each a pure `check(…, now)` and an
//!   operation that commits once, refusals that must persist included), client
//!   authentication, issuing, resources, device, logout, registration, discovery, and
//!   [`oauth::faults`], failures on demand (applied on the wire by `http::faults`). Its
//!   [`oauth::OAuthError`] is the one error shape of every OAuth endpoint. It never
//!   names axum or `http`.
//! - [`core`] is the record-keeping shared by the CLI, the protocol and the desktop
//!   shell (clients, users, scopes, tokens, import/export, caches), over [`store`]
//!   (SQLite via sqlx, one module per table, migrations in `migrations/`; hot writes
//!   go through the group writer, [`store::writer`]). Records and their validation are
//!   in [`model`]; time comes from [`clock`].
//! - [`keys`] signs JWTs with cached RS256/PS256/ES256/EdDSA keys, several per algorithm
//!   (active, published until retired; rotation in [`oauth::signing`]); [`events`] publishes what
//!   happens (the window listens) and defines the request log's entries, which [`log`]
//!   stores.
//! - [`trust`] puts the CA into the machine's trust stores and takes it out again
//!   (`authdesk ca install|uninstall|status`, the window's Certificates view).
//! - [`cli`] is the `authdesk` command; [`snippets`] the client configuration snippets.
//! - [`debugger`] is the window's OAuth debugger: it plays a client against the
//!   provider ("Try a sign-in"), compares a request with the client's registration and
//!   gathers what the provider knows about a pasted token.

pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod core;
pub mod debugger;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod http;
pub mod idle;
pub mod keys;
pub mod log;
pub mod mem;
pub mod model;
pub mod oauth;
pub mod password;
pub mod seed;
pub mod server;
pub mod snippets;
pub mod store;
pub mod tls;
pub mod token_shape;
pub mod trust;

pub use crate::core::Core;
pub use crate::error::{Error, Result};
pub use crate::server::Provider;
