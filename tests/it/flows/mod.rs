//! The OAuth 2.0 / OpenID Connect flows, end to end: each test starts the real
//! provider ([`crate::support::TestProvider`], approving as alice unless the test asks
//! for the consent page) and drives it with a real client — the `openidconnect` and
//! `oauth2` crates where a client library would be used, raw HTTP where the wire format
//! itself is under test.
//!
//! A test marked `#[ignore = "BUG: ..."]` shows a defect of the provider; it fails
//! until the provider is fixed, then the marker goes.
//!
//! - [`oidc`]: discovery, code + PKCE + nonce, id_token verification, userinfo (RS256, ES256).
//! - [`with_oauth2`]: public-client PKCE, refresh rotation, client_credentials,
//!   password, revocation and introspection through the `oauth2` crate.
//! - [`claims`]: RFC 8707 resources, extra claims, overrides, the claims parameter, presets.
//! - [`client_auth`]: client_secret_basic / post / jwt and private_key_jwt on the wire.
//! - [`jwks_uri`]: client keys by URL: fetched at registration, cached, rotated, refused.
//! - [`refusals`]: each refused request gets its RFC error code and a description naming the cause.
//! - [`bearer`]: RFC 6750 access to `/userinfo` and `/api/me`.
//! - [`registration`]: RFC 7591 dynamic client registration.
//! - [`registration_management`]: RFC 7592 reading, replacing and deleting a registration.
//! - [`authorize`]: RFC 9207 `iss` and RFC 8252 loopback redirects.
//! - [`consent`]: the consent page and the window's decisions.
//! - [`device`]: RFC 8628 device authorization.
//! - [`hardening`]: what probing the provider from outside found, each fixed.
//! - [`keys`]: signing-key rotation and retirement, each client's algorithms, signed userinfo.

mod authorize;
mod bearer;
mod claims;
mod client_auth;
mod consent;
mod device;
mod hardening;
mod jwks_uri;
mod keys;
mod oidc;
mod refusals;
mod registration;
mod registration_management;
mod with_oauth2;
