//! Bearer-protected resources: userinfo (OIDC Core §5.3) and a sample API.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::dpop::DpopHeader;
use super::extract::{Authorization, WholeBody, is_form};
use super::reply::{json_no_store, no_store};
use crate::events::RequestStatus;
use crate::oauth::dpop;
use crate::oauth::params::Params;
use crate::oauth::resource::{self, Bearer};
use crate::oauth::signing::Userinfo;
use crate::oauth::{LogLine, OAuthError, paths};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::USERINFO, get(userinfo).post(userinfo))
        .route(paths::API_ME, get(api_me).post(api_me))
}

/// The access token of a resource request (header, or a form body, RFC 6750 §2),
/// validated.
async fn bearer(
    state: &AppState,
    auth: &Authorization,
    headers: &HeaderMap,
    (method, path): (&Method, &str),
    body: Result<WholeBody, OAuthError>,
) -> Result<Bearer, OAuthError> {
    let WholeBody(body) = body?;
    let form = if is_form(headers) && !body.is_empty() {
        Some(Params::parse(&body)?)
    } else {
        None
    };
    let DpopHeader(proof) = DpopHeader::read(headers);
    dpop::authorize_resource(
        &state.ctx,
        auth.value(),
        form.as_ref(),
        proof?.as_deref(),
        method.as_str(),
        path,
        state.ctx.now(),
    )
    .await
}

/// Logs a refused resource request (not one without any token: every client's first
/// try) and answers with a bearer challenge.
fn refused(state: &AppState, kind: &str, e: OAuthError, detail: serde_json::Value) -> Response {
    let e = e.for_bearer();
    if !e.is_missing_credentials() {
        state.ctx.record(LogLine::rejected(kind, &e).detail(detail));
    }
    e.into_response()
}

async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    auth: Authorization,
    headers: HeaderMap,
    body: Result<WholeBody, OAuthError>,
) -> Response {
    let result = async {
        let b = bearer(&state, &auth, &headers, (&method, paths::USERINFO), body).await?;
        let claims = resource::userinfo(&state.ctx, &b).await?;
        let answer = state
            .ctx
            .userinfo_answer(&b.token.client_id, claims, state.ctx.now())
            .await?;
        Ok::<_, OAuthError>((b, answer))
    }
    .await;
    match result {
        Ok((b, answer)) => {
            state.ctx.record(
                LogLine::new("userinfo", RequestStatus::Completed)
                    .client(Some(b.token.client_id.clone()))
                    .user(b.user.as_ref().map(|u| u.username.clone()))
                    .detail(json!({"signed": matches!(answer, Userinfo::Jwt(_))})),
            );
            match answer {
                Userinfo::Json(claims) => json_no_store(StatusCode::OK, &claims),
                Userinfo::Jwt(jwt) => {
                    let mut res = (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/jwt")],
                        jwt,
                    )
                        .into_response();
                    no_store(res.headers_mut());
                    res
                }
            }
        }
        Err(e) => refused(&state, "userinfo", e, json!({})),
    }
}

/// A sample protected resource: who the bearer token speaks for.
async fn api_me(
    State(state): State<AppState>,
    method: Method,
    auth: Authorization,
    headers: HeaderMap,
    body: Result<WholeBody, OAuthError>,
) -> Response {
    match bearer(&state, &auth, &headers, (&method, paths::API_ME), body).await {
        Ok(b) => json_no_store(StatusCode::OK, &resource::who(&b)),
        Err(e) => refused(&state, "resource", e, json!({"path": paths::API_ME})),
    }
}
