//! RP-initiated logout: the request, and the confirmation page's answer.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::authorize::{session_cookie, set_session_cookie};
use super::extract::{OAuthParams, csrf_cookie_matches};
use super::reply::{self, error_page, redirect};
use crate::model::random_token;
use crate::oauth::logout::{self, Logout};
use crate::oauth::params::Params;
use crate::oauth::{OAuthError, paths};

/// The confirmation form's CSRF cookie (double submit).
const CONFIRM_COOKIE: &str = "authdesk_logout_csrf";

pub fn router() -> Router<AppState> {
    Router::new().route(paths::END_SESSION, get(end_session).post(end_session))
}

async fn end_session(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let mut params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return error_page(&state, &e),
    };
    // Confirmed on Authdesk's own page: a POST whose token matches its cookie.
    let confirm = params.0.remove("confirm");
    let confirmed =
        method == Method::POST && csrf_cookie_matches(&headers, CONFIRM_COOKIE, confirm.as_deref());
    let session = session_cookie(&headers);
    match logout::end_session(&state.ctx, &params, session.as_deref(), confirmed).await {
        Ok(Logout::SignedOut { redirect: to }) => {
            let mut res = match to {
                Some(url) => redirect(StatusCode::FOUND, &url),
                None => reply::message_page(
                    &state,
                    StatusCode::OK,
                    "You are signed out",
                    "Your Authdesk session has ended. You can close this page.",
                ),
            };
            set_session_cookie(&mut res, "", 0);
            res
        }
        Ok(Logout::Confirm { client_name }) => confirm_page(&state, params, client_name),
        Err(e) => error_page(&state, &e),
    }
}

/// Asks the person to confirm; the form posts the request back with a token that
/// must match its cookie.
fn confirm_page(state: &AppState, params: Params, client_name: Option<String>) -> Response {
    let token = random_token(16);
    // Chromium applies form-action to the redirect after the form's POST too.
    let target = params
        .get("post_logout_redirect_uri")
        .unwrap_or("")
        .to_string();
    let fields: Vec<(String, String)> = params.0.into_iter().collect();
    let page = minijinja::context! {
        action => paths::END_SESSION,
        client_name => client_name,
        confirm => token.clone(),
        fields => fields,
    };
    let mut res = state
        .pages
        .render_redirecting(StatusCode::OK, "logout.html", page, &target);
    reply::set_cookie(
        &mut res,
        CONFIRM_COOKIE,
        &token,
        &format!("Path={}; SameSite=Strict; Max-Age=900", paths::END_SESSION),
    );
    res
}
