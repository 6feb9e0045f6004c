//! Live authorization requests and visual consent: what each step publishes and
//! stores, the consent page, decisions from the page and from the window, provider
//! sessions and remembered consent, and RP-initiated logout. Each test starts the real
//! provider asking for consent, with one confidential web client ([`provider`]), and
//! signs in through a [`crate::support::Browser`] that keeps cookies.
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

use authdesk::model::{ClientInput, GrantType};

use crate::support::{Auth, LOGOUT_REDIRECT, REDIRECT, TestProvider, asking_consent};

mod backchannel;
mod codes;
mod log_and_events;
mod page;
mod revocation;
mod sessions;
mod window;

/// The confidential web client every test signs in to.
const CLIENT: &str = "lifecycle-web";
const SECRET: &str = "lifecycle-web-secret";
/// How [`CLIENT`] authenticates at the token, introspection and revocation endpoints.
const CLIENT_AUTH: Auth<'static> = Auth::Basic(CLIENT, SECRET);
/// The scopes of a first sign-in; tests ask for `email` on top to need new consent.
const SCOPES: &str = "openid profile offline_access";

/// A provider that asks for consent (page or window), with [`CLIENT`] registered.
async fn provider() -> TestProvider {
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(ClientInput {
        client_id: Some(CLIENT.into()),
        client_secret: Some(SECRET.into()),
        name: Some("Lifecycle web app".into()),
        redirect_uris: Some(vec![REDIRECT.into()]),
        post_logout_redirect_uris: Some(vec![LOGOUT_REDIRECT.into()]),
        grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        scopes: Some(
            ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
        ),
        ..Default::default()
    })
    .await;
    tp
}
