//! Dynamic client registration (RFC 7591) and its management (RFC 7592) at the client
//! configuration endpoint `/register/{client_id}`.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::AppState;
use super::extract::{Authorization, WholeBody, is_json};
use super::reply::json_no_store;
use crate::events::RequestStatus;
use crate::oauth::{LogLine, OAuthError, paths, register};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTER, post(register_endpoint))
        .route(
            paths::REGISTER_CLIENT,
            get(read_endpoint)
                .put(update_endpoint)
                .delete(delete_endpoint),
        )
}

async fn register_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<WholeBody, OAuthError>,
) -> Response {
    let result = match body {
        Ok(WholeBody(body)) => register::register(&state.ctx, is_json(&headers), &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(registered) => {
            state.ctx.record(
                LogLine::new("register", RequestStatus::Completed)
                    .client(Some(registered.client.client_id.clone()))
                    .detail(json!({"name": registered.client.name})),
            );
            json_no_store(
                StatusCode::CREATED,
                &register::response(state.ctx.issuer(), &registered),
            )
        }
        Err(e) => {
            state.ctx.record(LogLine::rejected("register", &e));
            e.into_response()
        }
    }
}

/// The client id of the path; one that does not decode names no client (and is
/// refused as such, never with the router's rejection text).
fn path_id(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(id)| id).unwrap_or_default()
}

/// Logs a management request (`kind`) about `client_id` and answers it.
fn answer(
    state: &AppState,
    kind: &'static str,
    client_id: String,
    result: Result<Response, OAuthError>,
) -> Response {
    match result {
        Ok(res) => {
            state.ctx.record(
                LogLine::new(kind, RequestStatus::Completed)
                    .client(Some(client_id.clone()))
                    .detail(json!({"client_id": client_id})),
            );
            res
        }
        Err(e) => {
            // The id in the path is what the request claimed, not a verified client.
            state
                .ctx
                .record(LogLine::rejected(kind, &e).detail(json!({"client_id": client_id})));
            e.into_response()
        }
    }
}

async fn read_endpoint(
    State(state): State<AppState>,
    client_id: Result<Path<String>, PathRejection>,
    authorization: Authorization,
) -> Response {
    let client_id = path_id(client_id);
    let result = register::read(&state.ctx, &client_id, authorization.value())
        .await
        .map(|r| json_no_store(StatusCode::OK, &register::response(state.ctx.issuer(), &r)));
    answer(&state, "register_read", client_id, result)
}

async fn update_endpoint(
    State(state): State<AppState>,
    client_id: Result<Path<String>, PathRejection>,
    authorization: Authorization,
    headers: HeaderMap,
    body: Result<WholeBody, OAuthError>,
) -> Response {
    let client_id = path_id(client_id);
    let result = match body {
        Ok(WholeBody(body)) => {
            register::update(
                &state.ctx,
                &client_id,
                authorization.value(),
                is_json(&headers),
                &body,
            )
            .await
        }
        Err(e) => Err(e),
    }
    .map(|r| json_no_store(StatusCode::OK, &register::response(state.ctx.issuer(), &r)));
    answer(&state, "register_update", client_id, result)
}

async fn delete_endpoint(
    State(state): State<AppState>,
    client_id: Result<Path<String>, PathRejection>,
    authorization: Authorization,
) -> Response {
    let client_id = path_id(client_id);
    let result = register::delete(&state.ctx, &client_id, authorization.value())
        .await
        .map(|_| {
            let mut res = StatusCode::NO_CONTENT.into_response();
            super::reply::no_store(res.headers_mut());
            res
        });
    answer(&state, "register_delete", client_id, result)
}
