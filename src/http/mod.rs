//! The provider's HTTP surface (axum), adapters only: each handler extracts what the
//! request carries (parameters, the `Authorization` header's value, cookies), calls
//! one operation of [`crate::oauth`], logs where the protocol does not, and answers.
//! No handler decides a protocol question or touches the store.
//!
//! One router per concern, merged here: [`discovery`], [`authorize`] (with the
//! consent page), [`token`] (with introspection and revocation), [`resource`]
//! (userinfo and the sample API), [`register`], [`logout`] and [`device`]. [`extract`]
//! and [`reply`] are the shared request and answer shapes; [`pages`] renders the
//! browser pages; [`cors`] wraps the whole app; [`faults`] applies the fault rules
//! (failures on demand) around the endpoints.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::oauth::{Context, paths};

pub mod authorize;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod extract;
pub mod faults;
pub mod logout;
pub mod pages;
pub mod par;
pub mod register;
pub mod reply;
pub mod resource;
pub mod token;

/// What every handler gets: the protocol's context and the page renderer, in one
/// shared allocation (axum clones the state for every request).
#[derive(Debug, Clone)]
pub struct AppState(Arc<HttpParts>);

#[derive(Debug)]
pub struct HttpParts {
    pub ctx: Context,
    pub pages: pages::Pages,
}

impl AppState {
    pub fn new(ctx: Context) -> Self {
        AppState(Arc::new(HttpParts {
            ctx,
            pages: pages::Pages::new(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = HttpParts;
    fn deref(&self) -> &HttpParts {
        &self.0
    }
}

/// The provider's HTTP app: the routes, with CORS on those browser apps call.
pub type App = cors::Cors<Router>;

pub fn app(ctx: Context) -> App {
    let state = AppState::new(ctx);
    cors::Cors::new(
        Router::new()
            .merge(discovery::router())
            .merge(authorize::router())
            .merge(token::router())
            .merge(resource::router())
            .merge(register::router())
            .merge(logout::router())
            .merge(device::router())
            .merge(par::router())
            .fallback(not_found)
            .layer(faults::Faults::new(state.clone()))
            .with_state(state),
    )
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "error": "not_found",
            "error_description": format!("{method} {} is not an Authdesk endpoint; see {} for the endpoints", uri.path(), paths::DISCOVERY),
        })),
    )
        .into_response()
}
