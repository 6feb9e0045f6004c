//! The benchmark's ceiling: what the web stack Authdesk is built on (axum 0.8 on
//! axum-server, rustls 0.23 with the ring provider, ALPN h2 + http/1.1, a tokio
//! multi-thread runtime) can answer at most on this machine. `POST /token` reads the
//! request body and returns a fixed, token-shaped JSON document with the same
//! `Cache-Control: no-store` headers as a real token response; no parsing, no
//! authentication, no signing, no storage.
//!
//! ceiling --cert server.pem --key server-key.pem [--port 0] [--bind 127.0.0.1]
//! prints `listening https://127.0.0.1:PORT` once it accepts connections.

#[path = "stack.rs"]
mod stack;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// A token response as long as a real one: an ES256 JWT access token of the usual size.
fn token_body() -> Bytes {
    let header = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImNlaWxpbmcifQ";
    let claims = "x".repeat(300);
    let sig = "s".repeat(86);
    let body = serde_json::json!({
        "access_token": format!("{header}.{claims}.{sig}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "api.read api.write",
    });
    Bytes::from(body.to_string())
}

async fn token(body: Bytes, fixed: Bytes) -> Response {
    drop(body);
    let mut res = fixed.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn main() {
    stack::run("ceiling", |args| async move {
        if let Some((name, _)) = args.extra.first() {
            return Err(format!("unknown argument {name}"));
        }
        let fixed = token_body();
        let app = Router::new().route(
            "/token",
            post(move |body: Bytes| token(body, fixed.clone())),
        );
        stack::serve(&args, app).await
    });
}
