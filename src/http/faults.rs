//! Fault rules on the wire (issue 20): a thin middleware around the endpoints. It asks
//! [`crate::oauth::faults`] which rule (if any) changes the request, then applies the
//! effect: a replaced answer (an OAuth error, an HTTP status with `Retry-After`, a
//! dropped connection), latency, an unreadable body, or a token answer with a bad token
//! in it. Without rules in force a request goes straight to its route: [`Faults`] looks
//! at a shared counter and a read lock, with nothing boxed or awaited.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use axum::routing::future::RouteFuture;
use serde_json::json;
use tower::{Layer, Service, ServiceExt};

use super::AppState;
use super::extract::{is_form, read_body};
use super::reply::{self, completion};
use crate::oauth::client_auth::claimed_client_id;
use crate::oauth::faults::{self, Effect, Endpoint, Facts, Injection, Mark};
use crate::oauth::params::Params;
use crate::oauth::{LogLine, OAuthError};

/// The largest answer whose body a fault rewrites.
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// The layer of the fault rules around each route (`Router::layer`).
#[derive(Debug, Clone)]
pub struct Faults {
    state: AppState,
}

impl Faults {
    pub fn new(state: AppState) -> Self {
        Faults { state }
    }
}

impl Layer<Route> for Faults {
    type Service = WithFaults;

    fn layer(&self, route: Route) -> WithFaults {
        WithFaults {
            route,
            state: self.state.clone(),
        }
    }
}

/// A route with the fault rules in front of it.
#[derive(Clone)]
pub struct WithFaults {
    route: Route,
    state: AppState,
}

impl Service<Request> for WithFaults {
    type Response = Response;
    type Error = Infallible;
    type Future = FaultsFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Route as Service<Request>>::poll_ready(&mut self.route, cx)
    }

    fn call(&mut self, req: Request) -> FaultsFuture {
        let ctx = &self.state.ctx;
        // The usual case: no rules, or a path no rule can name.
        if Endpoint::of_path(req.uri().path()).is_none() || ctx.faults.none_in_force(&ctx.core) {
            return FaultsFuture::Direct {
                inner: self.route.call(req),
            };
        }
        let next = Next(self.route.clone());
        let state = self.state.clone();
        FaultsFuture::Checked {
            inner: Box::pin(async move { Ok(inject(state, req, next).await) }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`WithFaults`]: the route's own, or one the rules may change.
    #[project = Projected]
    pub enum FaultsFuture {
        Direct { #[pin] inner: RouteFuture<Infallible> },
        Checked { inner: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>> },
    }
}

impl Future for FaultsFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Direct { inner } => inner.poll(cx),
            Projected::Checked { inner } => inner.as_mut().poll(cx),
        }
    }
}

/// The route a request goes on to.
struct Next(Route);

impl Next {
    async fn run(self, req: Request) -> Response {
        match self.0.oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }
}

async fn inject(state: AppState, req: Request, next: Next) -> Response {
    let Some(endpoint) = Endpoint::of_path(req.uri().path()) else {
        return next.run(req).await;
    };
    let ctx = &state.ctx;
    let Some(rules) = ctx.faults.rules(&ctx.core).await else {
        return next.run(req).await;
    };
    let (req, params) = match parameters(req).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let client = claimed_client_id(authorization.as_deref(), &params);
    let facts = Facts {
        endpoint,
        client_id: client.as_deref(),
        grant_type: (endpoint == Endpoint::Token)
            .then(|| params.get("grant_type"))
            .flatten(),
    };
    let now = ctx.now();
    let Some(injection) = ctx.faults.choose(&ctx.core, &rules, &facts, now).await else {
        return next.run(req).await;
    };
    tracing::info!(
        rule = injection.rule,
        endpoint = endpoint.as_str(),
        effect = %injection.effect.describe(),
        "fault injected"
    );
    apply(&state, injection, endpoint, req, &params, client, next).await
}

/// The request's parameters (query, or a form body, which is read and put back).
async fn parameters(req: Request) -> Result<(Request, Params), OAuthError> {
    if req.method() == axum::http::Method::POST && is_form(req.headers()) {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body).await?;
        let params = Params::parse(&bytes).unwrap_or_default();
        return Ok((Request::from_parts(parts, Body::from(bytes)), params));
    }
    let params = Params::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
    Ok((req, params))
}

async fn apply(
    state: &AppState,
    injection: Injection,
    endpoint: Endpoint,
    req: Request,
    params: &Params,
    client: Option<String>,
    next: Next,
) -> Response {
    let ctx = &state.ctx;
    let mark = Mark::new(&injection);
    let kind = endpoint.log_kind();
    match &injection.effect {
        Effect::Error { .. } if endpoint == Endpoint::Authorize => {
            let error = faults::as_refusal(&injection.effect);
            match faults::refuse_authorization(ctx, params, error, &mark).await {
                Ok(Some(c)) => completion(state, c),
                // Not a request a real provider could redirect: the real answer.
                Ok(None) => next.run(req).await,
                Err(e) => reply::error_page(state, &e),
            }
        }
        effect if effect.replaces() => {
            let refusal = faults::as_refusal(effect);
            if endpoint.consumes() {
                ctx.record(
                    LogLine::rejected(kind, &refusal)
                        .client(client)
                        .params(params)
                        .detail(json!({"injected": mark.not_processed(endpoint)})),
                );
            } else {
                // Answering changes nothing: the real answer is computed, for the log.
                let mut replaced = mark.clone();
                replaced.replaced = Some((
                    refusal.code.as_str().to_string(),
                    refusal.description.clone(),
                ));
                let real = replaced.clone().scope(next.run(req)).await;
                if !replaced.was_logged() {
                    ctx.record(
                        LogLine::rejected(kind, &refusal)
                            .client(client)
                            .params(params)
                            .detail(json!({"injected": {
                                "rule": mark.rule,
                                "label": format!("injected by rule {}", mark.rule),
                                "effect": mark.effect,
                                "real": format!("the real answer: HTTP {}", real.status().as_u16()),
                            }})),
                    );
                }
            }
            replacement(effect, refusal, endpoint)
        }
        Effect::Latency { min_ms, .. } => {
            tokio::time::sleep(Duration::from_millis(*min_ms)).await;
            let res = mark.clone().scope(next.run(req)).await;
            log_if_silent(state, &mark, kind, client, params, &res);
            res
        }
        Effect::Body(fault) => {
            let res = mark.clone().scope(next.run(req)).await;
            log_if_silent(state, &mark, kind, client, params, &res);
            let (mut parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, ANSWER_LIMIT)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(faults::spoil_body(&bytes, *fault)))
        }
        effect @ (Effect::BadToken(_) | Effect::ClockSkew(_)) => {
            let res = mark.clone().scope(next.run(req)).await;
            if res.status() != StatusCode::OK {
                return res;
            }
            let (mut parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, ANSWER_LIMIT)
                .await
                .unwrap_or_default();
            let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                return Response::from_parts(parts, Body::from(bytes));
            };
            if let Err(e) = ctx.shape_token_answer(&mut answer, effect).await {
                tracing::warn!(error = %e, rule = mark.rule, "cannot make the bad token; the real answer is sent");
                return Response::from_parts(parts, Body::from(bytes));
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            let body = serde_json::to_vec(&answer)
                .map(Bytes::from)
                .unwrap_or(bytes);
            Response::from_parts(parts, Body::from(body))
        }
        // Every effect is handled above.
        _ => next.run(req).await,
    }
}

/// Endpoints that do not log (JWKS, discovery) get an entry for the changed request.
fn log_if_silent(
    state: &AppState,
    mark: &Mark,
    kind: &str,
    client: Option<String>,
    params: &Params,
    res: &Response,
) {
    if mark.was_logged() {
        return;
    }
    state.ctx.record(
        LogLine::new(kind, crate::events::RequestStatus::Completed)
            .client(client)
            .params(params)
            .detail(json!({"injected": {
                "rule": mark.rule,
                "label": format!("injected by rule {}", mark.rule),
                "effect": mark.effect,
                "real": format!("the real answer (HTTP {}) was sent, changed: {}", res.status().as_u16(), mark.effect),
            }})),
    );
}

/// The answer that replaces the real one.
fn replacement(effect: &Effect, refusal: OAuthError, endpoint: Endpoint) -> Response {
    match effect {
        Effect::Drop => dropped(),
        Effect::Status { status: 502, .. } => {
            let mut res = (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n",
            )
                .into_response();
            reply::no_store(res.headers_mut());
            res
        }
        Effect::Status { retry_after, .. } => {
            let mut res = refusal.into_response();
            if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        _ if endpoint == Endpoint::Userinfo => refusal.for_bearer().into_response(),
        _ => refusal.into_response(),
    }
}

/// An answer that never comes: its body fails at once, so the server closes the
/// connection (HTTP/1.1) or resets the stream (HTTP/2) without sending it.
fn dropped() -> Response {
    let mut res = Response::new(Body::new(Failing));
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// A body whose first frame is an error.
struct Failing;

impl hyper::body::Body for Failing {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection dropped on purpose by an Authdesk fault rule",
        ))))
    }
}
