//! The provider's HTTP surface (axum). Handlers only extract and answer; the decisions
//! live in [`crate::oauth`].

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::core::Core;
use crate::keys::KeySet;

/// Paths of the endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/jwks";
}

/// Runtime settings of a serving provider.
#[derive(Debug)]
pub struct ProviderConfig {
    /// `https://localhost:8443`, without a trailing slash.
    pub issuer: String,
    pub registration_open: bool,
    pub auto_approve: Option<String>,
}

impl ProviderConfig {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Core,
    pub keys: KeySet,
    pub config: Arc<ProviderConfig>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route(paths::DISCOVERY, get(discovery))
        .route(paths::AS_METADATA, get(discovery))
        .route(paths::JWKS, get(jwks))
        .with_state(state)
}

/// JSON with the cache headers the endpoint wants.
pub(crate) fn json_response(value: &Value, cache: &'static str) -> Response {
    let mut res = axum::Json(value).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

/// OpenID Provider metadata (OIDC Discovery 1.0) and RFC 8414 metadata: one document,
/// listing only what this provider implements.
pub fn metadata(state: &AppState) -> Value {
    let c = &state.config;
    json!({
        "issuer": c.issuer,
        "jwks_uri": c.url(paths::JWKS),
        "scopes_supported": [],
        "id_token_signing_alg_values_supported": state.keys.algs(),
        "subject_types_supported": ["public"],
    })
}

async fn discovery(State(state): State<AppState>) -> Response {
    let mut doc = metadata(&state);
    if let Ok(scopes) = state.core.list_scopes().await {
        doc["scopes_supported"] = json!(scopes.iter().map(|s| &s.name).collect::<Vec<_>>());
    }
    json_response(&doc, "public, max-age=60")
}

async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = json_response(&state.keys.jwks(), "public, max-age=300");
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    res
}
