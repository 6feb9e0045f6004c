//! Extractors: the protocol's parameters, credentials and bodies out of a request,
//! malformed input answered with the protocol's own errors (never axum's rejection
//! text).
//!
//! Bodies are always read to their end before anything is answered, refusals included
//! (a JSON body at the token endpoint, a body over the limit): an answer sent while
//! the client still sends its body reaches HTTP/1.1 clients as a broken pipe and
//! HTTP/2 clients as a stream error instead of the error's description.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use http_body_util::BodyExt;

use crate::oauth::OAuthError;
use crate::oauth::params::Params;

/// The largest body a request may have (forms, registration JSON).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// A body over the limit is still read (and dropped) up to this size, so its refusal
/// reaches the client; beyond it the connection is closed instead.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// How long reading the rest of a refused body may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads a body whole, up to [`BODY_LIMIT`]. A larger one is drained (up to
/// [`DRAIN_LIMIT`]) and refused with 413 and a description.
pub async fn read_body(body: Body) -> Result<Bytes, OAuthError> {
    let mut body = body;
    // Most bodies come in one frame: kept as it is, without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            OAuthError::invalid_request(format!("the request body could not be read: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > BODY_LIMIT {
                drain(body, total).await;
                return Err(OAuthError::invalid_request(format!(
                    "the request body is larger than {} MiB; OAuth requests are small forms, so check what your client sends",
                    BODY_LIMIT / (1024 * 1024)
                ))
                .with_status(413));
            }
            match &first {
                None => first = Some(data),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&data);
                }
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

/// Reads and drops the rest of a refused body (bounded in size and time).
async fn drain(mut body: Body, mut read: usize) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while read <= DRAIN_LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    })
    .await;
}

/// The `Content-Type`'s media type, lower case.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).starts_with("application/x-www-form-urlencoded")
}

pub fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).starts_with("application/json")
}

/// Parameters from the query (GET, HEAD) or a form body (POST).
#[derive(Debug, Clone)]
pub struct OAuthParams(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let q = req.uri().query().unwrap_or("");
            return Params::parse(q.as_bytes()).map(OAuthParams);
        }
        let content_type = media_type(req.headers());
        let body = read_body(req.into_body()).await?;
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            let got = if content_type.is_empty() {
                "no Content-Type".to_string()
            } else {
                format!("'{content_type}'")
            };
            return Err(OAuthError::invalid_request(format!(
                "the request body must be application/x-www-form-urlencoded (RFC 6749 §3.2), but it has {got}; send the parameters as a form, not JSON"
            )));
        }
        Params::parse(&body).map(OAuthParams)
    }
}

/// A whole request body, read as [`read_body`] does.
#[derive(Debug, Clone)]
pub struct WholeBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for WholeBody {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        read_body(req.into_body()).await.map(WholeBody)
    }
}

/// The `Authorization` header's value, if it is text.
#[derive(Debug, Clone, Default)]
pub struct Authorization(pub Option<String>);

impl Authorization {
    pub fn value(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authorization {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // A value that is not text reads as empty: no method is recognised in it.
        Ok(Authorization(
            parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or("").to_string()),
        ))
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a form's CSRF token (`sent`) is the one in cookie `name` (double submit),
/// compared in constant time.
pub fn csrf_cookie_matches(headers: &HeaderMap, name: &str, sent: Option<&str>) -> bool {
    match (sent, cookie(headers, name)) {
        (Some(a), Some(b)) => bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes())),
        _ => false,
    }
}
