//! Pushed authorization requests (RFC 9126): a client authenticates and posts the
//! parameters of its authorization request to the PAR endpoint, which validates them
//! as the authorization endpoint would and answers a `request_uri` that lives 60 s and
//! is good for one use. The browser then carries only `client_id` and `request_uri`.
//! A client (or the whole provider) can require it.

use serde::Serialize;

use super::authorize;
use super::client_auth;
use super::context::{Context, paths};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::model::{Client, Timestamp, random_token};
use crate::store::standards::{self, PushedRequest};

/// The prefix of every `request_uri` the PAR endpoint hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request may wait for its authorization request, in seconds.
pub const PUSHED_TTL: i64 = 60;

/// The PAR endpoint's answer (RFC 9126 §2.2).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Client authentication parameters: they authenticate the push and are not part of
/// the authorization request that is stored.
const CLIENT_AUTH_PARAMS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// The authorization request carried by a push (pure): the parameters without client
/// authentication, with the authenticated client's id. `request_uri` may not be pushed,
/// and a `client_id` in the form must be the authenticated client's.
pub fn pushed_params(client: &Client, params: &Params) -> Result<Params, OAuthError> {
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri must not be sent to the pushed authorization request endpoint (RFC 9126 section 2.1); push the authorization parameters themselves",
        ));
    }
    if let Some(id) = params.get("client_id")
        && id != client.client_id
    {
        return Err(OAuthError::invalid_request(format!(
            "client_id '{id}' in the form differs from the authenticated client '{}'",
            client.client_id
        )));
    }
    let mut out = params.clone();
    for p in CLIENT_AUTH_PARAMS {
        out.0.remove(p);
    }
    out.0.insert("client_id".into(), client.client_id.clone());
    Ok(out)
}

/// Whether a pushed request found by its `request_uri` may be used now by `client_id`
/// (pure). Errors are `invalid_request_uri` naming the cause.
pub fn check_use(
    found: Option<&PushedRequest>,
    request_uri: &str,
    client_id: &str,
    now: Timestamp,
) -> Result<(), OAuthError> {
    let err = |d: String| OAuthError::new(ErrorCode::InvalidRequestUri, d);
    let Some(found) = found else {
        return Err(err(if request_uri.starts_with(REQUEST_URI_PREFIX) {
            format!(
                "request_uri '{request_uri}' is unknown to this provider (it was never pushed here, or was pushed to another Authdesk data directory); POST the request to the pushed authorization request endpoint and use the request_uri it answers"
            )
        } else {
            format!(
                "request_uri '{request_uri}' was not issued by this provider's pushed authorization request endpoint; Authdesk fetches no request objects from URLs, so push the request (RFC 9126) and use the urn:ietf:params:oauth:request_uri: it answers"
            )
        }));
    };
    if found.client_id != client_id {
        return Err(err(format!(
            "request_uri was pushed by client '{}', not by '{client_id}'; send the client_id that pushed it",
            found.client_id
        )));
    }
    if let Some(used) = found.used_at {
        return Err(err(format!(
            "request_uri was already used {}s ago; a request_uri is single-use (RFC 9126 section 4), so push the request again for each authorization",
            (now - used).max(0)
        )));
    }
    if found.expires_at <= now {
        return Err(err(format!(
            "request_uri expired {}s ago; it lives {PUSHED_TTL} s (RFC 9126 section 2.2), so push the request right before sending the browser to the authorization endpoint",
            now - found.expires_at
        )));
    }
    Ok(())
}

/// Whether a request must have been pushed (pure): a client set to require it, or the
/// provider requiring it of every client.
pub fn check_required(
    client: &Client,
    provider_wide: bool,
    pushed: bool,
) -> Result<(), OAuthError> {
    if pushed || !(client.require_pushed_authorization_requests || provider_wide) {
        return Ok(());
    }
    Err(OAuthError::invalid_request(format!(
        "{} requires pushed authorization requests (RFC 9126): POST the parameters to the pushed_authorization_request_endpoint first, then send only client_id and the request_uri it answers",
        if client.require_pushed_authorization_requests {
            format!("client '{}'", client.client_id)
        } else {
            "this provider (serve --require-par)".to_string()
        }
    )))
}

/// A push's outcome: the answer and the client, or the refusal and the client the
/// request claimed to be (for the log).
pub type PushOutcome = Result<(Pushed, std::sync::Arc<Client>), (OAuthError, Option<String>)>;

/// The PAR endpoint: authenticates the client, validates the request as the
/// authorization endpoint would, and stores it under a new `request_uri`.
pub async fn push(ctx: &Context, authorization: Option<&str>, params: &Params) -> PushOutcome {
    let now = ctx.now();
    let client = client_auth::authenticate(ctx, authorization, params, paths::PAR, now)
        .await
        .map_err(|e| (e, client_auth::claimed_client_id(authorization, params)))?;
    let with_client = |e: OAuthError| (e, Some(client.client_id.clone()));
    let mut request = pushed_params(&client, params).map_err(with_client)?;
    if let Some(jwt) = request.get("request") {
        request = super::request_object::verify_with_keys(ctx, &client, jwt, now)
            .await
            .map_err(with_client)?;
    }
    authorize::validate(Some((*client).clone()), &request)
        .map_err(|failure| with_client(failure.error().clone()))?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token(32));
    standards::push_request(
        ctx.core.store.pool(),
        &request_uri,
        &client.client_id,
        &request.0,
        now,
        now + PUSHED_TTL,
    )
    .await
    .map_err(|e| with_client(e.into()))?;
    Ok((
        Pushed {
            request_uri,
            expires_in: PUSHED_TTL,
        },
        client,
    ))
}

/// The authorization request behind `request_uri`, taken for its one use: the stored
/// parameters, once [`check_use`] passes.
pub async fn take(
    ctx: &Context,
    request_uri: &str,
    client_id: &str,
    now: Timestamp,
) -> Result<Params, OAuthError> {
    let found = standards::take_pushed_request(ctx.core.store.pool(), request_uri, now).await?;
    check_use(found.as_ref(), request_uri, client_id, now)?;
    Ok(Params::from_map(
        found.map(|f| f.params).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClientInput;

    const NOW: Timestamp = 1_700_000_000;

    fn client(require: bool) -> Client {
        ClientInput {
            client_id: Some("web".into()),
            name: Some("Web".into()),
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            require_pushed_authorization_requests: Some(require),
            ..Default::default()
        }
        .test_client()
    }

    fn pushed(client_id: &str, expires_at: Timestamp, used_at: Option<Timestamp>) -> PushedRequest {
        PushedRequest {
            client_id: client_id.into(),
            params: Default::default(),
            expires_at,
            used_at,
        }
    }

    const URI: &str = "urn:ietf:params:oauth:request_uri:abc";

    #[test]
    fn a_request_uri_is_single_use_short_lived_and_the_pushers() {
        assert!(check_use(Some(&pushed("web", NOW + 1, None)), URI, "web", NOW).is_ok());
        let used = check_use(
            Some(&pushed("web", NOW + 30, Some(NOW - 5))),
            URI,
            "web",
            NOW,
        )
        .unwrap_err();
        assert_eq!(used.code, ErrorCode::InvalidRequestUri);
        assert!(
            used.description.contains("already used 5s ago"),
            "{}",
            used.description
        );
        let expired = check_use(Some(&pushed("web", NOW - 3, None)), URI, "web", NOW).unwrap_err();
        assert_eq!(expired.code, ErrorCode::InvalidRequestUri);
        assert!(
            expired.description.contains("expired 3s ago"),
            "{}",
            expired.description
        );
        let other = check_use(Some(&pushed("web", NOW + 30, None)), URI, "spa", NOW).unwrap_err();
        assert!(other.description.contains("pushed by client 'web'"));
        let unknown = check_use(None, "https://x.example/r", "web", NOW).unwrap_err();
        assert!(unknown.description.contains("fetches no request objects"));
    }

    #[test]
    fn pushed_params_drop_client_authentication_and_refuse_request_uri() {
        let c = client(false);
        let p = Params::parse(
            b"response_type=code&client_secret=s&client_assertion_type=x&client_assertion=y&scope=openid",
        )
        .unwrap();
        let out = pushed_params(&c, &p).unwrap();
        assert_eq!(out.get("client_id"), Some("web"));
        assert_eq!(out.get("client_secret"), None);
        assert_eq!(out.get("client_assertion"), None);
        let p = Params::parse(b"request_uri=urn:x").unwrap();
        assert_eq!(
            pushed_params(&c, &p).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let p = Params::parse(b"client_id=other").unwrap();
        assert!(
            pushed_params(&c, &p)
                .unwrap_err()
                .description
                .contains("'other'")
        );
    }

    #[test]
    fn par_is_required_per_client_or_provider_wide() {
        assert!(check_required(&client(false), false, false).is_ok());
        assert!(check_required(&client(true), false, true).is_ok());
        let e = check_required(&client(true), false, false).unwrap_err();
        assert!(e.description.contains("client 'web' requires pushed"));
        let e = check_required(&client(false), true, false).unwrap_err();
        assert!(e.description.contains("--require-par"));
    }
}
