//! Live authorization requests and visual consent, against a provider started
//! in-process with a [`authdesk::clock::ManualClock`]: what each step publishes and
//! stores, the consent page, decisions from the page and from the window, provider
//! sessions and remembered consent, and RP-initiated logout.
//!
//! - [`log_and_events`]: every step emits its event and is stored in the request log,
//!   which survives a restart; rejections record their cause.
//! - [`page`]: the consent page's security headers, CSRF, persona choice and claims
//!   override; denial.
//! - [`window`]: decisions taken in the window reach the waiting page; only the first
//!   decision wins.
//! - [`sessions`]: `prompt`, `max_age`, remembered consent and its revocation, logout.
//! - [`codes`]: a code issued before a restart is exchanged once after it.
//! - [`revocation`]: every revocation and forced expiry reaches the next introspection,
//!   cached or not.

mod codes;
mod harness;
mod log_and_events;
mod page;
mod revocation;
mod sessions;
mod window;
