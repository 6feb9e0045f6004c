//! The newer standards (issue 19), each against the real provider, refusals included:
//!
//! - [`par`]: pushed authorization requests (RFC 9126), the request_uri's single use
//!   and lifetime on the provider's clock.
//! - [`dpop`]: DPoP (RFC 9449) bindings, introspection and the proof's age.
//! - [`request_object`]: request objects (RFC 9101) at the authorization endpoint.
//! - [`jwt_bearer`]: the JWT bearer grant (RFC 7523 §2.1).
//! - [`exchange`]: token exchange (RFC 8693), delegation and refusals.

mod dpop;
mod exchange;
mod jwt_bearer;
mod par;
mod request_object;
