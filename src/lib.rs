//! Authdesk: a local OAuth 2.0 / OpenID Connect provider.
//!
//! A map of the crate, following a request through it:
//!
//! - [`server`] binds the listener (the caller owns it and the shutdown signal) and
//!   serves HTTPS with the certificates of [`tls`] (a local CA made on first start).
//! - [`http`] is the axum router: handlers extract and answer, nothing more.
//! - [`oauth`] holds the protocol: each endpoint's operation opens a transaction, reads
//!   the clock once ([`clock`]), decides through pure functions and commits; its
//!   [`oauth::OAuthError`] is the one error shape of every OAuth endpoint.
//! - [`core`] is the record-keeping shared by the CLI, the HTTP layer and the desktop
//!   shell (clients, users, scopes, import/export), over [`store`] (SQLite via sqlx,
//!   migrations in `migrations/`; hot writes go through the group writer,
//!   [`store::writer`]). Records and their validation are in [`model`].
//! - [`keys`] signs JWTs with cached RS256/ES256 keys; [`events`] publishes what happens
//!   for the window; [`log`] is the request log's shape.
//! - [`trust`] puts the CA into the machine's trust stores and takes it out again
//!   (`authdesk ca install|uninstall|status`, the window's Certificates view).
//! - [`cli`] is the `authdesk` command.

pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod http;
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
pub mod trust;

pub use crate::core::Core;
pub use crate::error::{Error, Result};
pub use crate::server::Provider;
