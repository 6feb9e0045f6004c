//! Discovery and the signing keys.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::reply::json_cached;
use crate::oauth::{discovery, paths};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::DISCOVERY, get(metadata))
        .route(paths::AS_METADATA, get(metadata))
        .route(paths::JWKS, get(jwks))
}

async fn metadata(State(state): State<AppState>) -> Response {
    match discovery::document(&state.ctx).await {
        Ok(doc) => json_cached(&doc, "public, max-age=60"),
        Err(e) => e.into_response(),
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    // Keys being made (a first start's RSA key) are published with the rest.
    let jwks = match state.ctx.jwks(state.ctx.now()).await {
        Ok(jwks) => jwks,
        Err(e) => return e.into_response(),
    };
    let mut res = json_cached(&jwks, "public, max-age=300");
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    res
}
