//! Answers: the protocol's error as JSON (with its challenge), JSON with the right
//! cache headers, redirects and pages for the browser.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::extract::Authorization;
use crate::oauth::authorize::{Completion, Untrusted};
use crate::oauth::params::Params;
use crate::oauth::{ErrorCode, LogLine, OAuthError, client_auth};

pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The protocol's one error shape on the wire: RFC 6749 §5.2 JSON, never cached, with
/// the `WWW-Authenticate` challenge its kind asks for (Basic for client
/// authentication, Bearer for protected resources).
impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut res = (status(self.status()), axum::Json(self.body())).into_response();
        no_store(res.headers_mut());
        if let Some(v) = self
            .www_authenticate()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(v) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            res.headers_mut().insert("dpop-nonce", v);
        }
        res
    }
}

/// JSON with the cache headers the endpoint wants.
pub fn json_cached(value: &Value, cache: &'static str) -> Response {
    let mut res = axum::Json(value).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

/// JSON that is never cached (tokens, introspection, registration).
pub fn json_no_store(status: StatusCode, value: &impl serde::Serialize) -> Response {
    // Written once into room for a usual answer (tokens, introspection): axum's `Json`
    // starts at 128 bytes and grows as it writes.
    let mut body = Vec::with_capacity(768);
    if let Err(e) = serde_json::to_writer(&mut body, value) {
        tracing::error!(error = %e, "an answer could not be written as JSON");
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    let mut res = Response::new(axum::body::Body::from(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(headers);
    res
}

/// A redirect (`302`, never cached).
pub fn redirect(status: StatusCode, url: &str) -> Response {
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    no_store(res.headers_mut());
    res
}

/// Where the browser goes at the end of an authorization: a redirect or a
/// self-submitting form (`response_mode=form_post`).
pub fn completion(state: &AppState, c: Completion) -> Response {
    match c {
        Completion::Redirect(url) => redirect(StatusCode::FOUND, &url),
        Completion::FormPost { action, fields } => state.pages.render(
            StatusCode::OK,
            "form_post.html",
            minijinja::context! { action => action, fields => fields },
            true,
        ),
    }
}

/// A protocol error shown to the person in the browser (never redirected to the client).
pub fn error_page(state: &AppState, e: &OAuthError) -> Response {
    untrusted_page(state, e, None)
}

/// An authorization request's error shown on the page because `untrusted` (the client
/// or its redirect URI) cannot be sent anything (RFC 6749 §4.1.2.1).
pub fn untrusted_page(state: &AppState, e: &OAuthError, untrusted: Option<Untrusted>) -> Response {
    let why = untrusted.map(|u| match u {
        Untrusted::Client => "the app could not be identified",
        Untrusted::RedirectUri => "the redirect URI cannot be trusted",
    });
    let status = match e.code {
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    state.pages.render(
        status,
        "error.html",
        minijinja::context! { code => e.code.as_str(), description => e.description.clone(), why => why },
        false,
    )
}

/// A page with a title and a sentence.
pub fn message_page(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    state.pages.render(
        status,
        "message.html",
        minijinja::context! { title => title, message => message },
        false,
    )
}

/// Sets a cookie `name=value` (`Secure`, `HttpOnly`) with the given attributes.
pub fn set_cookie(res: &mut Response, name: &str, value: &str, attributes: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}; HttpOnly; Secure; {attributes}"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Logs a refusal (with the client the request claims to be) and answers it.
pub fn rejected(
    state: &AppState,
    kind: &str,
    auth: &Authorization,
    params: &Params,
    e: OAuthError,
) -> Response {
    state.ctx.record(
        LogLine::rejected(kind, &e)
            .client(client_auth::claimed_client_id(auth.value(), params))
            .params(params),
    );
    e.into_response()
}
