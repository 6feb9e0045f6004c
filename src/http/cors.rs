//! CORS for the endpoints a browser app (an SPA on its own origin) calls with
//! `fetch`: discovery, JWKS, token, userinfo, introspection, revocation, device
//! authorization and the sample resource. Any origin may: none of them reads a cookie
//! (clients authenticate with their credentials, resources with bearer tokens), so a
//! page can do with them only what its own credentials allow — and an app served from
//! any local port works without registering its origin. Preflights are answered
//! (`Authorization` and `Content-Type` allowed, cached for 10 minutes), and
//! `WWW-Authenticate` is readable, so an app sees why a token was refused. The pages
//! (session cookie) and dynamic registration get no CORS. Every answer, CORS or not,
//! carries `X-Content-Type-Options: nosniff`.
//!
//! A small service around the whole app rather than a route layer: tower-http's
//! `CorsLayer` as a route layer cost about a tenth of a token's CPU time in A/B runs;
//! this costs two header inserts on the responses of these paths.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::oauth::paths;

/// The paths that answer CORS.
pub const PATHS: &[&str] = &[
    paths::DISCOVERY,
    paths::AS_METADATA,
    paths::JWKS,
    paths::TOKEN,
    paths::USERINFO,
    paths::INTROSPECT,
    paths::REVOKE,
    paths::API_ME,
    paths::DEVICE_AUTHORIZATION,
    paths::PAR,
];

/// `inner` with CORS on [`PATHS`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
}

impl<S> Cors<S> {
    pub fn new(inner: S) -> Self {
        Cors { inner }
    }
}

impl<S, B> tower::Service<Request<B>> for Cors<S>
where
    S: tower::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !PATHS.contains(&req.uri().path()) {
            return CorsFuture::Plain {
                inner: self.inner.call(req),
            };
        }
        if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return CorsFuture::Preflight;
        }
        CorsFuture::Allowed {
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Cors`]: the app's, with CORS headers on [`PATHS`], or a preflight's.
    #[project = Projected]
    pub enum CorsFuture<F> {
        Plain { #[pin] inner: F },
        Allowed { #[pin] inner: F },
        Preflight,
    }
}

impl<F, E> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Plain { inner } => inner.poll(cx).map_ok(|mut res| {
                nosniff(res.headers_mut());
                res
            }),
            Projected::Allowed { inner } => inner.poll(cx).map_ok(|mut res| {
                allow(res.headers_mut());
                nosniff(res.headers_mut());
                res
            }),
            Projected::Preflight => {
                let mut res = preflight();
                nosniff(res.headers_mut());
                Poll::Ready(Ok(res))
            }
        }
    }
}

/// Every answer, JSON errors that echo input included, is read as the type it says.
fn nosniff(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn allow(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("www-authenticate, dpop-nonce"),
    );
}

fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    allow(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, dpop"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    res
}
