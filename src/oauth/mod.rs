//! The OAuth 2.0 / OpenID Connect provider: every protocol decision, and nothing of
//! HTTP (this module never names axum, hyper or `crate::http`; a check in the test
//! command keeps it so).
//!
//! A request's way through it: the HTTP layer parses the parameters ([`params`]) and
//! hands the credentials over as header values, then calls one operation with the
//! shared [`Context`]:
//! - [`authorize::begin`] validates an authorization request (pure), then answers it
//!   automatically, silently from the provider [`session`], or leaves it waiting in
//!   [`consent`], where the page and the window decide it through one
//!   [`consent::decide`];
//! - [`token::token`] is the token endpoint's pipeline: [`client_auth`] once, then one
//!   module per grant under `token/`, each a pure `check(…, now)` plus an operation
//!   that commits once; [`issue`] mints what a grant hands out ([`mint`] signs);
//! - [`resource`] answers introspection, revocation, userinfo and bearer checks;
//!   [`device`] the device authorization and verification; [`logout`] RP-initiated
//!   logout; [`register`] dynamic registration; [`discovery`] the metadata.
//! - the newer standards, each in its own module: [`par`] pushed authorization
//!   requests, [`request_object`] request objects, [`dpop`] DPoP proofs and token
//!   bindings (with [`jose`], verifying JWTs that others sign, and [`jwks_uri`],
//!   the keys clients publish by URL), advertised by [`standards`].
//!
//! [`faults`] holds the fault rules (failures on demand): the pure choice of which rule
//! changes a request and the bad tokens on purpose.
//!
//! Every refusal is an [`OAuthError`]: an RFC code with a plain-words cause and fix.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod consent;
pub mod context;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod faults;
pub mod issue;
pub mod jose;
pub mod jwks_uri;
pub mod logout;
pub mod mint;
pub mod par;
pub mod params;
pub mod register;
pub mod request_object;
pub mod resource;
pub mod session;
pub mod signing;
pub mod standards;
pub mod token;

pub use context::{Context, LogLine, Parts, ProviderConfig, paths};
pub use error::{ErrorCode, OAuthError};
