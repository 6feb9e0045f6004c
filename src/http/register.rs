//! Dynamic client registration (RFC 7591).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::AppState;
use super::extract::{WholeBody, is_json};
use super::reply::json_no_store;
use crate::events::RequestStatus;
use crate::oauth::{LogLine, OAuthError, paths, register};

pub fn router() -> Router<AppState> {
    Router::new().route(paths::REGISTER, post(register_endpoint))
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
        Ok(client) => {
            state.ctx.record(
                LogLine::new("register", RequestStatus::Completed)
                    .client(Some(client.client_id.clone()))
                    .detail(json!({"name": client.name})),
            );
            json_no_store(StatusCode::CREATED, &register::response(&client))
        }
        Err(e) => {
            state.ctx.record(LogLine::rejected("register", &e));
            e.into_response()
        }
    }
}
