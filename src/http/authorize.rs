//! The authorization endpoint and its consent page: the request, the page's decision,
//! and the page's long poll for a decision taken in the window.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::AppState;
use super::extract::{OAuthParams, cookie};
use super::reply::{self, completion, error_page, json_no_store, no_store, untrusted_page};
use crate::oauth::authorize::{self, Begun, Completion, Untrusted};
use crate::oauth::consent::{self, Answer, ConsentView, DecidedBy, NotDecided};
use crate::oauth::params::Params;
use crate::oauth::session::SESSION_TTL;
use crate::oauth::{OAuthError, paths};

/// The provider session cookie.
pub const SESSION_COOKIE: &str = "authdesk_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            paths::AUTHORIZE,
            get(authorize_endpoint)
                .post(authorize_endpoint)
                .head(authorize_head),
        )
        .route(paths::DECISION, post(decision))
        .route(paths::WAIT, get(wait))
}

/// `SameSite=None`: the session must also reach the provider from an app's hidden
/// iframe (`prompt=none` silent renewal, where the browser allows third-party cookies)
/// and with an authorization request POSTed from the app's site, both cross-site (an
/// app on `http://localhost:5173` is another site than `https://localhost:8443`),
/// where `Lax` would drop it. What the cookie allows stays guarded: the consent and
/// device forms carry CSRF tokens, and codes only go to registered redirect URIs.
pub fn set_session_cookie(res: &mut Response, value: &str, max_age: i64) {
    reply::set_cookie(
        res,
        SESSION_COOKIE,
        value,
        &format!("Path=/; SameSite=None; Max-Age={max_age}"),
    );
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// HEAD of the authorization endpoint answers without acting: link checkers and chat
/// previews probe URLs with it, and answering it as a GET would put a request waiting
/// for consent in the window (or, with a session, issue a code nobody receives).
async fn authorize_head() -> Response {
    let mut res = StatusCode::OK.into_response();
    no_store(res.headers_mut());
    res
}

async fn authorize_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return untrusted_page(&state, &e, Some(Untrusted::Client)),
    };
    let session = session_cookie(&headers);
    match authorize::begin(&state.ctx, &params, session.as_deref()).await {
        Ok(Begun::ErrorPage(e, untrusted)) => untrusted_page(&state, &e, Some(untrusted)),
        Ok(Begun::Done(c)) => completion(&state, c),
        Ok(Begun::Consent(view)) => consent_page(&state, &view),
        Err(e) => error_page(&state, &e),
    }
}

fn consent_page(state: &AppState, view: &ConsentView) -> Response {
    let req = &view.pending.request;
    let users: Vec<Value> = view
        .personas
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let detail = [u.claims.get("name"), u.claims.get("email")]
                .iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" · ");
            json!({"username": u.username, "detail": detail, "selected": i == view.selected})
        })
        .collect();
    let scopes: Vec<Value> = view
        .scopes
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    state.pages.render_redirecting(
        StatusCode::OK,
        "consent.html",
        minijinja::context! {
            client_name => req.client.name.clone(),
            client_id => req.client.client_id.clone(),
            redirect_uri => req.redirect_uri.clone(),
            request_id => view.pending.id.clone(),
            csrf => view.pending.csrf.clone(),
            action => paths::DECISION,
            users => minijinja::value::Serde(&users),
            scopes => minijinja::value::Serde(&scopes),
            wait_url => view.wait_url.clone(),
        },
        &req.redirect_uri,
    )
}

/// The consent page's form: approve (as a persona, optionally with claims for this
/// sign-in) or deny.
async fn decision(
    State(state): State<AppState>,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return error_page(&state, &e),
    };
    let now = state.ctx.now();
    let answer = match answer_of(&state, &params, now) {
        Ok(Some(a)) => a,
        Ok(None) => return gone(&state),
        Err(e) => return error_page(&state, &e),
    };
    match consent::decide(&state.ctx, answer, now).await {
        Ok(decided) => {
            let mut res = completion(&state, decided.completion);
            if res.status() == StatusCode::FOUND {
                // POST → GET for the redirect.
                *res.status_mut() = StatusCode::SEE_OTHER;
            }
            if let Some(v) = decided.session {
                set_session_cookie(&mut res, &v, SESSION_TTL);
            }
            res
        }
        Err(NotDecided::Gone) => gone(&state),
        Err(NotDecided::Refused(e)) => error_page(&state, &e),
    }
}

/// The consent form as an answer: `None` when its request is no longer pending.
fn answer_of(state: &AppState, params: &Params, now: i64) -> Result<Option<Answer>, OAuthError> {
    let request_id = params.get("request_id").unwrap_or_default().to_string();
    let Some(pending) = state.ctx.pending.get(&request_id, now) else {
        return Ok(None);
    };
    if !consent::csrf_matches(&pending, params.get("csrf")) {
        return Err(OAuthError::invalid_request(
            "the consent form's CSRF token is missing or wrong; reload the page",
        ));
    }
    let answer = Answer {
        request_id,
        approve: params.get("action") == Some("approve"),
        username: params.get("username").map(str::to_string),
        claims: params.get("claims").map(str::to_string),
        by: DecidedBy::Page,
    };
    // The page names its persona: no default here.
    if answer.approve && answer.username.is_none() {
        return Err(OAuthError::invalid_request(
            "pick a persona before approving",
        ));
    }
    Ok(Some(answer))
}

fn gone(state: &AppState) -> Response {
    reply::message_page(
        state,
        StatusCode::BAD_REQUEST,
        "This request is no longer pending",
        "It was already approved or denied (perhaps in the Authdesk window), or it expired. Start the sign-in again from your app.",
    )
}

#[derive(Debug, serde::Deserialize)]
struct WaitQuery {
    request_id: String,
}

/// Long-poll for a decision taken elsewhere (the window): answers when decided or
/// after 25 s, and the page asks again.
async fn wait(State(state): State<AppState>, Query(q): Query<WaitQuery>) -> Response {
    let gone = || json_no_store(StatusCode::OK, &json!({"done": false, "gone": true}));
    let Some(pending) = state
        .ctx
        .pending
        .get_for_outcome(&q.request_id, state.ctx.now())
    else {
        return gone();
    };
    let mut rx = pending.outcome.subscribe();
    let decided = tokio::time::timeout(Duration::from_secs(25), rx.wait_for(|o| o.is_some())).await;
    let outcome = match decided {
        Ok(Ok(o)) => o.clone(),
        Ok(Err(_)) => return gone(),
        Err(_) => None,
    };
    let body = match outcome {
        Some(Completion::Redirect(url)) => json!({"done": true, "redirect": url}),
        Some(Completion::FormPost { action, fields }) => {
            json!({"done": true, "form": {"action": action, "fields": fields}})
        }
        None => json!({"done": false}),
    };
    let mut res = json_no_store(StatusCode::OK, &body);
    if let Some(v) = consent::take_session(&pending) {
        set_session_cookie(&mut res, &v, SESSION_TTL);
    }
    res
}
