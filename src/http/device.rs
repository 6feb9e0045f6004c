//! Device authorization (RFC 8628): the device's request, and the verification page
//! where a person enters the user code and approves or denies it.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::AppState;
use super::extract::{Authorization, OAuthParams, csrf_cookie_matches};
use super::reply::{self, error_page, json_no_store, rejected};
use crate::events::RequestStatus;
use crate::model::random_token;
use crate::oauth::device::{self, Verification, Waiting};
use crate::oauth::{LogLine, OAuthError, paths};

const DEVICE_CSRF_COOKIE: &str = "authdesk_device_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::DEVICE_AUTHORIZATION, post(device_authorization))
        .route(paths::DEVICE, get(device_page).post(device_decision))
}

async fn device_authorization(
    State(state): State<AppState>,
    auth: Authorization,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let now = state.ctx.now();
    match device::request(&state.ctx, auth.value(), &params, now).await {
        Ok((client, v)) => {
            state.ctx.record(
                LogLine::new("device_authorization", RequestStatus::PendingConsent)
                    .client(Some(client.client_id.clone()))
                    .params(&params)
                    .detail(json!({"user_code": v["user_code"]})),
            );
            json_no_store(StatusCode::OK, &v)
        }
        Err(e) => rejected(&state, "device_authorization", &auth, &params, e),
    }
}

/// The page asking for a code, with an error when the one entered did not work.
fn entry(state: &AppState, entered: &str, error: Option<String>) -> Response {
    state.pages.render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "device.html",
        minijinja::context! { action => paths::DEVICE, entered => entered, error => error },
        false,
    )
}

/// The verification page: enter the user code, then approve or deny as a persona.
async fn device_page(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let entered = q.get("user_code").cloned().unwrap_or_default();
    if entered.is_empty() {
        return entry(&state, "", None);
    }
    match device::verification(&state.ctx, &entered, state.ctx.now()).await {
        Ok(Verification::Waiting(w)) => waiting_page(&state, &w),
        Ok(Verification::Approved { username }) => {
            let text = match username {
                Some(u) => format!(
                    "This device was already approved for {u} (automatically, or on this page). The device can continue; you can close this page."
                ),
                None => "This device was already approved. The device can continue; you can close this page.".to_string(),
            };
            reply::message_page(&state, StatusCode::OK, "Device connected", &text)
        }
        Ok(other) => entry(&state, &entered, Some(why_not(other))),
        Err(e) => error_page(&state, &e),
    }
}

/// Why a code entered on the page leads nowhere.
fn why_not(v: Verification) -> String {
    match v {
        Verification::Malformed => {
            "A code has 8 letters, like WDJB-MJHT. Check the device and try again.".into()
        }
        Verification::Unknown { code } => {
            format!("No device is waiting with code {code}. Check the code on the device.")
        }
        Verification::Expired => "This code has expired. Start again on the device.".into(),
        Verification::Denied => "This code was denied. Start again on the device.".into(),
        Verification::Used => "This code was already used: the device has signed in. Start again on the device to connect it again.".into(),
        Verification::Waiting(_) | Verification::Approved { .. } => String::new(),
    }
}

fn waiting_page(state: &AppState, w: &Waiting) -> Response {
    let users: Vec<Value> = w
        .personas
        .iter()
        .map(|u| json!({"username": u.username, "detail": u.claims.get("email").and_then(|v| v.as_str()).unwrap_or("")}))
        .collect();
    let scopes: Vec<Value> = w
        .scopes
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    let csrf = random_token(16);
    let mut res = state.pages.render(
        StatusCode::OK,
        "device.html",
        minijinja::context! {
            action => paths::DEVICE,
            client_name => w.client_name.clone(),
            user_code => w.code.clone(),
            csrf => csrf.clone(),
            users => minijinja::value::Serde(&users),
            scopes => minijinja::value::Serde(&scopes),
        },
        false,
    );
    reply::set_cookie(
        &mut res,
        DEVICE_CSRF_COOKIE,
        &csrf,
        &format!("Path={}; SameSite=Strict; Max-Age=900", paths::DEVICE),
    );
    res
}

async fn device_decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return error_page(&state, &e),
    };
    if !csrf_cookie_matches(&headers, DEVICE_CSRF_COOKIE, params.get("csrf")) {
        let e = OAuthError::invalid_request(
            "the form's CSRF token is missing or wrong; reload the device page",
        );
        return error_page(&state, &e);
    }
    let Some(code) = params
        .get("user_code")
        .and_then(device::normalize_user_code)
    else {
        return entry(&state, "", Some("The code is missing.".into()));
    };
    let approve = params.get("action") == Some("approve");
    let username = params.get("username");
    let now = state.ctx.now();
    let (title, text) = match device::decide(&state.ctx, &code, approve, username, &params, now)
        .await
    {
        Ok(true) if approve => (
            "Device connected",
            "You can return to your device; it will finish signing in by itself.",
        ),
        Ok(true) => (
            "Request denied",
            "The device will be told that you denied its request.",
        ),
        Ok(false) => {
            let why = "This code is no longer waiting (used, denied or expired). Start again on the device.";
            return entry(&state, &code, Some(why.into()));
        }
        Err(e) => return error_page(&state, &e),
    };
    reply::message_page(&state, StatusCode::OK, title, text)
}
