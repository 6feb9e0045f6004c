//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the provider
//! session, then returns to `post_logout_redirect_uri` only when the client registered
//! it, carrying `state`. A request not known to come from the client (no valid
//! `id_token_hint`) is confirmed by the person first (§2), so no page can sign the
//! browser out by linking here.

use serde_json::json;

use super::context::{Context, LogLine, paths};
use super::error::OAuthError;
use super::params::Params;
use super::session;
use crate::events::RequestStatus;
use crate::model::Client;

/// What the browser gets.
#[derive(Debug, PartialEq)]
pub enum Logout {
    /// Signed out: redirected to the client's registered URI, or shown a page.
    SignedOut { redirect: Option<String> },
    /// The person is asked to confirm (the request did not prove it comes from a
    /// client); `client_name` says which app asked, if it said.
    Confirm { client_name: Option<String> },
}

/// The audiences of a hint this provider issued (signature and `iss` checked; expired
/// ones are accepted, as §2 allows).
fn hint_audiences(ctx: &Context, hint: &str) -> Result<Vec<String>, OAuthError> {
    let claims = ctx
        .keys
        .verify(hint, ctx.now())
        .filter(|claims| claims["iss"].as_str() == Some(ctx.config.issuer.as_str()))
        .ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "id_token_hint is not an ID token issued by this Authdesk: its signature does not verify with the keys at {}, or its iss is not {}. Send the id_token your app received from this provider, or leave id_token_hint out and send client_id",
                ctx.config.url(paths::JWKS),
                ctx.config.issuer
            ))
        })?;
    Ok(super::jose::audiences(claims.get("aud")))
}

/// The client a logout speaks for: `client_id`, which must be an audience of the hint
/// when both are sent, else the hint's audience.
fn claimed_client(
    params: &Params,
    audiences: Option<&[String]>,
) -> Result<Option<String>, OAuthError> {
    Ok(match (params.get("client_id"), audiences) {
        (Some(id), Some(audiences)) if !audiences.iter().any(|a| a == id) => {
            return Err(OAuthError::invalid_request(format!(
                "client_id '{id}' is not the client the id_token_hint was issued to ({}); send the ID token of that client, or its client_id",
                audiences.join(", ")
            )));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(audiences)) => audiences.first().cloned(),
        (None, None) => None,
    })
}

/// Where to go after signing out: `post_logout_redirect_uri` if `client` registered it
/// (pure).
pub fn check_redirect(
    params: &Params,
    client: Option<&Client>,
) -> Result<Option<String>, OAuthError> {
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    match client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            let mut url = uri.to_string();
            if let (Some(st), Ok(mut parsed)) = (params.get("state"), url::Url::parse(uri)) {
                parsed.query_pairs_mut().append_pair("state", st);
                url = parsed.to_string();
            }
            Ok(Some(url))
        }
        Some(c) => Err(OAuthError::invalid_request(format!(
            "post_logout_redirect_uri {uri} is not registered for client '{}'; registered: {}. Add it to the client's post-logout redirect URIs in Authdesk",
            c.client_id,
            if c.post_logout_redirect_uris.is_empty() {
                "(none)".to_string()
            } else {
                c.post_logout_redirect_uris.join(", ")
            }
        ))),
        None => Err(OAuthError::invalid_request(
            "post_logout_redirect_uri needs the client: send client_id or id_token_hint so Authdesk can check the URI is registered",
        )),
    }
}

/// Handles a logout request. `session_id` is the browser's provider session;
/// `confirmed` says the person confirmed on Authdesk's own page.
pub async fn end_session(
    ctx: &Context,
    params: &Params,
    session_id: Option<&str>,
    confirmed: bool,
) -> Result<Logout, OAuthError> {
    let reject = |e: OAuthError, client_id: Option<String>| {
        ctx.record(
            LogLine::rejected("end_session", &e)
                .client(client_id)
                .params(params),
        );
        e
    };
    let audiences = match params.get("id_token_hint") {
        Some(hint) => Some(
            hint_audiences(ctx, hint)
                .map_err(|e| reject(e, params.get("client_id").map(str::to_string)))?,
        ),
        None => None,
    };
    let client_id = claimed_client(params, audiences.as_deref())
        .map_err(|e| reject(e, params.get("client_id").map(str::to_string)))?;
    let client = match &client_id {
        Some(id) => ctx.core.cached_client(id).await?,
        None => None,
    };
    let redirect =
        check_redirect(params, client.as_deref()).map_err(|e| reject(e, client_id.clone()))?;
    if audiences.is_none() && !confirmed {
        return Ok(Logout::Confirm {
            client_name: client.map(|c| c.name.clone()),
        });
    }
    let username = match session_id {
        Some(id) => session::end(ctx, id, ctx.now()).await?,
        None => None,
    };
    // Back-channel logout: the clients signed in under the session (§2.7).
    if let Some(id) = session_id {
        ctx.backchannel_logout(
            crate::store::flows::SignedIn::Session(id),
            super::backchannel::Reason::EndSession,
        )
        .await?;
    }
    ctx.record(
        LogLine::new("end_session", RequestStatus::Completed)
            .client(client_id)
            .user(username)
            .params(params)
            .detail(json!({"redirect": redirect})),
    );
    Ok(Logout::SignedOut { redirect })
}
