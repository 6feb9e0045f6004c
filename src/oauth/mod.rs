//! The OAuth 2.0 / OpenID Connect protocol: one module per endpoint, each a pure
//! check plus an operation that commits before the handler answers.

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod error;
pub mod params;
pub mod register;
pub mod resource;
pub mod token;
pub mod tokens;

pub use error::{ErrorCode, OAuthError};
