//! The provider's HTTP surface (axum). Handlers only extract and answer; decisions
//! live in [`crate::oauth`], and every outcome is written to the request log.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::core::Core;
use crate::keys::KeySet;
use crate::log::{RequestEntry, RequestLog, RequestStatus};
use crate::model::random_token;
use crate::oauth::authorize::{
    self, AuthFailure, Completion, DecidedBy, Decision, PendingRegistry,
};
use crate::oauth::error::no_store;
use crate::oauth::params::{OAuthParams, Params};
use crate::oauth::{ErrorCode, OAuthError, client_auth, register, resource, token};

pub mod cors;
pub mod pages;

/// Paths of the endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/jwks";
    pub const AUTHORIZE: &str = "/authorize";
    pub const DECISION: &str = "/authorize/decision";
    pub const WAIT: &str = "/authorize/wait";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const INTROSPECT: &str = "/introspect";
    pub const REVOKE: &str = "/revoke";
    pub const REGISTER: &str = "/register";
    pub const API_ME: &str = "/api/me";
    pub const END_SESSION: &str = "/end_session";
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    pub const DEVICE: &str = "/device";
}

/// The provider session cookie.
pub const SESSION_COOKIE: &str = "authdesk_session";
/// How long a provider session lasts.
pub const SESSION_TTL: i64 = 7 * 24 * 3600;

fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// `SameSite=None`: the session must also reach the provider from an app's hidden
/// iframe (`prompt=none` silent renewal) and with an authorization request POSTed
/// from the app's site, both cross-site (an app on `http://localhost:5173` is another
/// site than `https://localhost:8443`), where `Lax` would drop it and every silent
/// renewal answer `login_required`. What the cookie allows stays guarded: the consent
/// and device forms carry CSRF tokens, and codes only go to registered redirect URIs.
fn set_session_cookie(res: &mut Response, value: &str, max_age: i64) {
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=None; Max-Age={max_age}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Starts a provider session for `sub`; returns the cookie value.
async fn start_session(state: &AppState, sub: &str, now: i64) -> Option<String> {
    let id = random_token(32);
    match crate::store::flows::insert_session(
        state.core.store.pool(),
        &id,
        sub,
        now,
        now + SESSION_TTL,
    )
    .await
    {
        Ok(()) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "cannot store the provider session");
            None
        }
    }
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

/// Everything a handler needs, in one shared allocation: axum clones the state for
/// every request, and a clone is then one reference count instead of a dozen (and a
/// path copied).
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppParts>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct AppParts {
    pub core: Core,
    pub keys: KeySet,
    pub config: Arc<ProviderConfig>,
    pub pending: Arc<PendingRegistry>,
    pub pages: Arc<pages::Pages>,
    pub log: RequestLog,
}

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What the window shows of one token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TokenDetail {
    pub summary: crate::store::flows::TokenSummary,
    /// The token itself (JWT or opaque).
    pub value: Option<String>,
    /// The RFC 7662 introspection response for it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown>"))]
    pub introspection: Value,
}

impl AppState {
    /// Requests waiting for consent, oldest first.
    pub fn pending_consents(&self) -> Vec<crate::events::PendingConsent> {
        self.pending
            .list(self.core.now())
            .iter()
            .map(|p| pending_view(p))
            .collect()
    }

    /// Approves (as `username`, default the hinted or first persona) or denies a
    /// pending request from the window; the waiting browser page follows.
    pub async fn decide_consent(
        &self,
        request_id: &str,
        approve: bool,
        username: Option<String>,
    ) -> crate::Result<()> {
        let now = self.core.now();
        let decision = if approve {
            let pending =
                self.pending
                    .get(request_id, now)
                    .ok_or_else(|| crate::Error::NotFound {
                        what: "pending request",
                        id: request_id.into(),
                    })?;
            let name = match username.or_else(|| pending.request.login_hint.clone()) {
                Some(n) => n,
                None => self
                    .core
                    .list_users()
                    .await?
                    .first()
                    .map(|u| u.username.clone())
                    .ok_or_else(|| {
                        crate::Error::invalid("username", "there are no personas; create one first")
                    })?,
            };
            let user = self.core.get_user(&name).await?;
            Decision::Approve {
                user,
                claims_override: None,
                by: DecidedBy::Window,
                auth_time: None,
            }
        } else {
            Decision::Deny {
                by: DecidedBy::Window,
            }
        };
        let (username, sub) = match &decision {
            Decision::Approve { user, .. } => (Some(user.username.clone()), Some(user.sub.clone())),
            Decision::Deny { .. } => (None, None),
        };
        let pending = self
            .pending
            .take(request_id, now)
            .ok_or_else(|| crate::Error::NotFound {
                what: "pending request",
                id: request_id.into(),
            })?;
        let completion = decide(
            self,
            &pending.request,
            decision,
            now,
            &pending.request.params,
            username,
        )
        .await
        .map_err(|e| crate::Error::Other(e.description))?;
        if let Some(sub) = sub {
            crate::store::flows::remember_consent(
                self.core.store.pool(),
                &sub,
                &pending.request.client.client_id,
                &pending.request.scopes,
                now,
            )
            .await?;
            // The waiting page picks the session up from /authorize/wait.
            if let (Some(v), Ok(mut slot)) = (
                start_session(self, &sub, now).await,
                pending.session_cookie.lock(),
            ) {
                *slot = Some(v);
            }
        }
        pending.outcome.send_replace(Some(completion));
        self.core
            .events
            .publish(crate::events::ProviderEvent::ConsentResolved {
                request_id: request_id.into(),
                approved: approve,
            });
        Ok(())
    }

    /// A token with its value and introspection, for the window.
    pub async fn token_detail(&self, id: &str) -> crate::Result<TokenDetail> {
        let (summary, value) = self.core.get_token(id).await?;
        let row = crate::store::flows::get_token(self.core.store.pool(), id).await?;
        let introspection = resource::introspection_of(self, row.as_ref(), self.core.now())
            .await
            .map_err(|e| crate::Error::Other(e.description))?;
        let introspection = serde_json::to_value(&introspection)
            .map_err(|e| crate::Error::Other(format!("cannot write the introspection: {e}")))?;
        Ok(TokenDetail {
            summary,
            value,
            introspection,
        })
    }

    /// Logs the rejection of a request that names its client (in the form or the
    /// Authorization header) and answers the error.
    fn rejected(
        &self,
        kind: &str,
        headers: &HeaderMap,
        params: &Params,
        e: OAuthError,
    ) -> Response {
        self.record(
            kind,
            client_auth::claimed_client_id(headers, params),
            None,
            RequestStatus::Rejected,
            Some(&e),
            params,
            json!({}),
        );
        e.into_response()
    }

    #[allow(clippy::too_many_arguments)] // one call site shape: a log line's fields
    fn record(
        &self,
        kind: &str,
        client_id: Option<String>,
        username: Option<String>,
        status: RequestStatus,
        error: Option<&OAuthError>,
        params: &Params,
        detail: Value,
    ) {
        let at = self.core.now();
        self.log.record(RequestEntry {
            id: crate::model::sortable_id(at),
            at,
            kind: kind.to_string(),
            client_id,
            username,
            status,
            error: error.map(|e| e.code.as_str().to_string()),
            error_description: error.map(|e| e.description.clone()),
            params: params.redacted(),
            detail,
        });
    }
}

/// The provider's HTTP app: the routes, with CORS on those browser apps call.
pub type App = cors::Cors<Router>;

pub fn app(state: AppState) -> App {
    cors::Cors::new(
        Router::new()
            .route(paths::DISCOVERY, get(discovery))
            .route(paths::AS_METADATA, get(discovery))
            .route(paths::JWKS, get(jwks))
            .route(
                paths::AUTHORIZE,
                get(authorize_endpoint)
                    .post(authorize_endpoint)
                    .head(authorize_head),
            )
            .route(paths::DECISION, post(decision))
            .route(paths::WAIT, get(wait))
            .route(paths::TOKEN, post(token_endpoint))
            .route(paths::USERINFO, get(userinfo).post(userinfo))
            .route(paths::INTROSPECT, post(introspect))
            .route(paths::REVOKE, post(revoke))
            .route(paths::REGISTER, post(register_endpoint))
            .route(paths::API_ME, get(api_me).post(api_me))
            .route(paths::END_SESSION, get(end_session).post(end_session))
            .route(paths::DEVICE_AUTHORIZATION, post(device_authorization))
            .route(paths::DEVICE, get(device_page).post(device_decision))
            .fallback(not_found)
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

/// JSON with the cache headers the endpoint wants.
pub(crate) fn json_response(value: &Value, cache: &'static str) -> Response {
    let mut res = axum::Json(value).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

fn no_store_json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let mut res = (status, axum::Json(value)).into_response();
    no_store(res.headers_mut());
    res
}

/// OpenID Provider metadata (OIDC Discovery 1.0) and RFC 8414 metadata: one document,
/// listing only what this provider implements.
pub fn metadata(state: &AppState, scopes: Vec<String>) -> Value {
    let c = &state.config;
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ];
    let endpoint_auth_algs = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ];
    let mut doc = json!({
        "issuer": c.issuer,
        "authorization_endpoint": c.url(paths::AUTHORIZE),
        "token_endpoint": c.url(paths::TOKEN),
        "userinfo_endpoint": c.url(paths::USERINFO),
        "jwks_uri": c.url(paths::JWKS),
        "introspection_endpoint": c.url(paths::INTROSPECT),
        "revocation_endpoint": c.url(paths::REVOKE),
        "end_session_endpoint": c.url(paths::END_SESSION),
        "device_authorization_endpoint": c.url(paths::DEVICE_AUTHORIZATION),
        "scopes_supported": scopes,
        "response_types_supported": ["code", "token", "id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": state.keys.algs(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        // Introspection answers confidential clients only.
        "introspection_endpoint_auth_methods_supported": &auth_methods[..4],
        "introspection_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "name", "given_name", "family_name", "preferred_username", "email", "email_verified"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "claim_types_supported": ["normal"],
    });
    if c.registration_open {
        doc["registration_endpoint"] = json!(c.url(paths::REGISTER));
    }
    doc
}

async fn discovery(State(state): State<AppState>) -> Response {
    let scopes = match state.core.list_scopes().await {
        Ok(s) => s.into_iter().map(|s| s.name).collect(),
        Err(e) => return OAuthError::from(e).into_response(),
    };
    json_response(&metadata(&state, scopes), "public, max-age=60")
}

async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = json_response(&state.keys.jwks(), "public, max-age=300");
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    res
}

// ---- authorization ----

fn completion_response(state: &AppState, c: Completion) -> Response {
    match c {
        Completion::Redirect(url) => {
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            no_store(res.headers_mut());
            res
        }
        Completion::FormPost { action, fields } => state.pages.render(
            StatusCode::OK,
            "form_post.html",
            minijinja::context! { action => action, fields => fields },
            true,
        ),
    }
}

fn error_page(state: &AppState, e: &OAuthError) -> Response {
    let why = if e.description.contains("redirect_uri") {
        "the redirect URI cannot be trusted"
    } else {
        "the app could not be identified"
    };
    state.pages.render(
        StatusCode::BAD_REQUEST,
        "error.html",
        minijinja::context! { code => e.code.as_str(), description => e.description.clone(), why => why },
        false,
    )
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
        Err(e) => return error_page(&state, &e),
    };
    let now = state.core.now();
    let client = match params.get("client_id") {
        Some(id) => match state.core.cached_client(id).await {
            Ok(c) => c.map(|c| (*c).clone()),
            Err(e) => return error_page(&state, &OAuthError::from(e)),
        },
        None => None,
    };
    let client_id = params.get("client_id").map(str::to_string);
    let req = match authorize::validate(client, &params) {
        Ok(r) => r,
        Err(failure) => {
            state.record(
                "authorize",
                client_id,
                None,
                RequestStatus::Rejected,
                Some(failure.error()),
                &params,
                json!({}),
            );
            return match authorize::error_completion(&failure, &state.config.issuer) {
                Some(c) => completion_response(&state, c),
                None => {
                    let AuthFailure::Page(e) = &failure else {
                        return error_page(&state, failure.error());
                    };
                    error_page(&state, e)
                }
            };
        }
    };
    state.record(
        "authorize",
        client_id.clone(),
        None,
        RequestStatus::Received,
        None,
        &params,
        json!({"scopes": req.scopes}),
    );

    // Automatic approval: `serve --auto-approve USER`, or the client's own setting
    // (as the hinted persona, else the first one).
    let auto_user = match (&state.config.auto_approve, req.client.auto_approve) {
        (Some(u), _) => Some(u.clone()),
        (None, true) => match &req.login_hint {
            Some(h) => Some(h.clone()),
            None => state
                .core
                .list_users()
                .await
                .ok()
                .and_then(|u| u.first().map(|u| u.username.clone())),
        },
        (None, false) => None,
    };
    if let Some(username) = auto_user {
        let user = match state.core.cached_user_named(&username).await {
            Ok(Some(u)) => (*u).clone(),
            Ok(None) | Err(_) => {
                let e = OAuthError::new(
                    ErrorCode::LoginRequired,
                    format!(
                        "auto-approve is set to user '{username}', who does not exist; create the persona or change the setting"
                    ),
                );
                state.record(
                    "authorize",
                    client_id,
                    None,
                    RequestStatus::Rejected,
                    Some(&e),
                    &params,
                    json!({}),
                );
                let failure = AuthFailure::Redirect {
                    error: e,
                    redirect_uri: req.redirect_uri.clone(),
                    response_mode: req.response_mode,
                    state: req.state.clone(),
                };
                return match authorize::error_completion(&failure, &state.config.issuer) {
                    Some(c) => completion_response(&state, c),
                    None => error_page(&state, failure.error()),
                };
            }
        };
        let username = user.username.clone();
        return finish(
            &state,
            &req,
            Decision::Approve {
                user,
                claims_override: None,
                by: DecidedBy::AutoApprove,
                auth_time: None,
            },
            now,
            &params,
            Some(username),
        )
        .await;
    }
    // A provider session answers silently when the user already consented, unless
    // the client asks to log in again (prompt=login, an exceeded max_age) or to
    // confirm consent (prompt=consent).
    let session = match session_cookie_value(&headers) {
        Some(v) => crate::store::flows::get_session(state.core.store.pool(), &v, now)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let session_user = match &session {
        Some(s) => state
            .core
            .store
            .get_user_by_sub(&s.sub)
            .await
            .ok()
            .flatten()
            .map(|r| r.user),
        None => None,
    };
    let wants_login = req
        .prompt
        .iter()
        .any(|p| p == "login" || p == "select_account");
    let too_old = match (&session, req.max_age) {
        // max_age=0 asks for a sign-in now, like prompt=login (OIDC Core §3.1.2.1).
        (Some(s), Some(max_age)) => max_age == 0 || now - s.auth_time > max_age,
        _ => false,
    };
    let mut silent_error = None;
    if let (Some(sess), Some(user)) = (&session, &session_user) {
        if !wants_login && !too_old {
            let consented = !req.prompt.iter().any(|p| p == "consent")
                && crate::store::flows::has_consent(
                    state.core.store.pool(),
                    &user.sub,
                    &req.client.client_id,
                    &req.scopes,
                )
                .await
                .unwrap_or(false);
            if consented {
                let decision = Decision::Approve {
                    user: user.clone(),
                    claims_override: None,
                    by: DecidedBy::RememberedConsent,
                    auth_time: Some(sess.auth_time),
                };
                let username = Some(user.username.clone());
                return finish(&state, &req, decision, now, &params, username).await;
            }
            silent_error = Some(OAuthError::new(
                ErrorCode::ConsentRequired,
                format!(
                    "prompt=none was requested and {} is signed in, but has not consented to '{}' for client '{}'; retry without prompt=none to show the consent page",
                    user.username,
                    req.scopes.join(" "),
                    req.client.client_id
                ),
            ));
        } else if too_old {
            silent_error = Some(OAuthError::new(
                ErrorCode::LoginRequired,
                format!(
                    "prompt=none was requested, but the sign-in is {}s old and max_age is {}s; retry without prompt=none to sign in again",
                    now - sess.auth_time,
                    req.max_age.unwrap_or(0)
                ),
            ));
        }
    }
    if req.prompt.iter().any(|p| p == "none") {
        let e = silent_error.unwrap_or_else(|| OAuthError::new(
            ErrorCode::LoginRequired,
            "prompt=none was requested, but nobody is signed in and the client is not set to auto-approve; retry without prompt=none",
        ));
        state.record(
            "authorize",
            client_id,
            None,
            RequestStatus::Rejected,
            Some(&e),
            &params,
            json!({}),
        );
        let failure = AuthFailure::Redirect {
            error: e,
            redirect_uri: req.redirect_uri.clone(),
            response_mode: req.response_mode,
            state: req.state.clone(),
        };
        return match authorize::error_completion(&failure, &state.config.issuer) {
            Some(c) => completion_response(&state, c),
            None => error_page(&state, failure.error()),
        };
    }

    let mut req = req;
    if req.login_hint.is_none() && !wants_login {
        req.login_hint = session_user.map(|u| u.username);
    }
    let pending = state.pending.insert(req, now);
    state
        .core
        .events
        .publish(crate::events::ProviderEvent::ConsentPending {
            consent: pending_view(&pending),
        });
    state.record(
        "authorize",
        client_id,
        None,
        RequestStatus::PendingConsent,
        None,
        &params,
        json!({"request_id": pending.id}),
    );
    consent_page(&state, &pending).await
}

fn pending_view(p: &authorize::Pending) -> crate::events::PendingConsent {
    crate::events::PendingConsent {
        request_id: p.id.clone(),
        client_id: p.request.client.client_id.clone(),
        client_name: p.request.client.name.clone(),
        scopes: p.request.scopes.clone(),
        redirect_uri: p.request.redirect_uri.clone(),
        login_hint: p.request.login_hint.clone(),
        created_at: p.created_at,
    }
}

async fn consent_page(state: &AppState, pending: &authorize::Pending) -> Response {
    let req = &pending.request;
    let users = state.core.list_users().await.unwrap_or_default();
    let hint = req.login_hint.as_deref();
    let selected = users
        .iter()
        .position(|u| Some(u.username.as_str()) == hint)
        .unwrap_or(0);
    let users: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let detail = [u.claims.get("name"), u.claims.get("email")]
                .iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" · ");
            json!({"username": u.username, "detail": detail, "selected": i == selected})
        })
        .collect();
    let defs = state.core.list_scopes().await.unwrap_or_default();
    let scopes: Vec<Value> = req
        .scopes
        .iter()
        .map(|s| {
            let description = defs
                .iter()
                .find(|d| &d.name == s)
                .map(|d| d.description.clone())
                .unwrap_or_default();
            json!({"name": s, "description": description})
        })
        .collect();
    let wait_url = format!("{}?request_id={}", paths::WAIT, pending.id);
    state.pages.render_redirecting(
        StatusCode::OK,
        "consent.html",
        minijinja::context! {
            client_name => req.client.name.clone(),
            client_id => req.client.client_id.clone(),
            redirect_uri => req.redirect_uri.clone(),
            request_id => pending.id.clone(),
            csrf => pending.csrf.clone(),
            action => paths::DECISION,
            users => minijinja::value::Serde(&users),
            scopes => minijinja::value::Serde(&scopes),
            wait_url => wait_url,
        },
        &req.redirect_uri,
    )
}

/// Carries out a decision, logs it and answers the browser.
async fn finish(
    state: &AppState,
    req: &authorize::AuthRequest,
    decision: Decision,
    now: i64,
    params: &Params,
    username: Option<String>,
) -> Response {
    match decide(state, req, decision, now, params, username).await {
        Ok(c) => completion_response(state, c),
        Err(e) => error_page(state, &e),
    }
}

/// Carries out a decision and logs it; shared by the page, the window and auto-approve.
pub async fn decide(
    state: &AppState,
    req: &authorize::AuthRequest,
    decision: Decision,
    now: i64,
    params: &Params,
    username: Option<String>,
) -> Result<Completion, OAuthError> {
    let (status, by) = match &decision {
        Decision::Approve { by, .. } => (RequestStatus::Approved, *by),
        Decision::Deny { by } => (RequestStatus::Denied, *by),
    };
    let client_id = Some(req.client.client_id.clone());
    let result = authorize::complete(state, req, decision, now).await;
    match &result {
        Ok(_) => {
            let denial = (status == RequestStatus::Denied)
                .then(|| OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"));
            state.record(
                "authorize",
                client_id,
                username,
                status,
                denial.as_ref(),
                params,
                json!({"decided_by": by}),
            );
        }
        Err(e) => state.record(
            "authorize",
            client_id,
            username,
            RequestStatus::Rejected,
            Some(e),
            params,
            json!({}),
        ),
    }
    result
}

async fn decision(
    State(state): State<AppState>,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return error_page(&state, &e),
    };
    let gone = || {
        state.pages.render(
            StatusCode::BAD_REQUEST,
            "message.html",
            minijinja::context! { title => "This request is no longer pending", message => "It was already approved or denied (perhaps in the Authdesk window), or it expired. Start the sign-in again from your app." },
            false,
        )
    };
    let Some(id) = params.get("request_id") else {
        return gone();
    };
    let Some(pending) = state.pending.get(id, state.core.now()) else {
        return gone();
    };
    let csrf_ok = params.get("csrf").is_some_and(|c| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            c.as_bytes(),
            pending.csrf.as_bytes(),
        ))
    });
    if !csrf_ok {
        return error_page(
            &state,
            &OAuthError::invalid_request(
                "the consent form's CSRF token is missing or wrong; reload the page",
            ),
        );
    }
    let now = state.core.now();
    let approve = params.get("action") == Some("approve");
    let decision = if approve {
        let Some(username) = params.get("username") else {
            return error_page(
                &state,
                &OAuthError::invalid_request("pick a persona before approving"),
            );
        };
        let user = match state.core.get_user(username).await {
            Ok(u) => u,
            Err(_) => {
                return error_page(
                    &state,
                    &OAuthError::invalid_request(format!("there is no persona '{username}'")),
                );
            }
        };
        let claims_override = match params
            .get("claims")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(text) => match serde_json::from_str::<Value>(text)
                .map_err(|e| e.to_string())
                .and_then(|v| crate::model::validate_claims(v).map_err(|e| e.to_string()))
            {
                Ok(m) => Some(m),
                Err(e) => {
                    return error_page(
                        &state,
                        &OAuthError::invalid_request(format!(
                            "the claims override is not valid: {e}"
                        )),
                    );
                }
            },
            None => None,
        };
        Decision::Approve {
            user,
            claims_override,
            by: DecidedBy::Page,
            auth_time: None,
        }
    } else {
        Decision::Deny {
            by: DecidedBy::Page,
        }
    };
    // Only the first decision counts, whether it comes from the page or the window.
    let Some(pending) = state.pending.take(id, now) else {
        return gone();
    };
    let username = params
        .get("username")
        .filter(|_| approve)
        .map(str::to_string);
    match decide(
        &state,
        &pending.request,
        decision,
        now,
        &pending.request.params,
        username,
    )
    .await
    {
        Ok(c) => {
            pending.outcome.send_replace(Some(c.clone()));
            state
                .core
                .events
                .publish(crate::events::ProviderEvent::ConsentResolved {
                    request_id: pending.id.clone(),
                    approved: approve,
                });
            // Remember the consent and sign the browser in, so the next request of
            // this client is answered silently.
            let mut cookie = None;
            if let (true, Some(name)) = (approve, params.get("username"))
                && let Ok(user) = state.core.get_user(name).await
            {
                let _ = crate::store::flows::remember_consent(
                    state.core.store.pool(),
                    &user.sub,
                    &pending.request.client.client_id,
                    &pending.request.scopes,
                    now,
                )
                .await;
                cookie = start_session(&state, &user.sub, now).await;
            }
            let mut res = completion_response(&state, c);
            if res.status() == StatusCode::FOUND {
                // POST → GET for the redirect.
                *res.status_mut() = StatusCode::SEE_OTHER;
            }
            if let Some(v) = cookie {
                set_session_cookie(&mut res, &v, SESSION_TTL);
            }
            res
        }
        Err(e) => error_page(&state, &e),
    }
}

#[derive(Debug, serde::Deserialize)]
struct WaitQuery {
    request_id: String,
}

/// Long-poll for a decision taken elsewhere (the window): answers when decided or
/// after 25 s, and the page asks again.
async fn wait(State(state): State<AppState>, Query(q): Query<WaitQuery>) -> Response {
    let Some(pending) = state
        .pending
        .get_for_outcome(&q.request_id, state.core.now())
    else {
        return no_store_json(StatusCode::OK, &json!({"done": false, "gone": true}));
    };
    let mut rx = pending.outcome.subscribe();
    let decided = tokio::time::timeout(Duration::from_secs(25), rx.wait_for(|o| o.is_some())).await;
    let outcome = match decided {
        Ok(Ok(o)) => o.clone(),
        Ok(Err(_)) => return no_store_json(StatusCode::OK, &json!({"done": false, "gone": true})),
        Err(_) => None,
    };
    let body = match outcome {
        Some(Completion::Redirect(url)) => json!({"done": true, "redirect": url}),
        Some(Completion::FormPost { action, fields }) => {
            json!({"done": true, "form": {"action": action, "fields": fields}})
        }
        None => json!({"done": false}),
    };
    let mut res = no_store_json(StatusCode::OK, &body);
    let cookie = pending
        .session_cookie
        .lock()
        .ok()
        .and_then(|mut c| c.take());
    if let Some(v) = cookie {
        set_session_cookie(&mut res, &v, SESSION_TTL);
    }
    res
}

// ---- token, introspection, revocation ----

async fn token_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => {
            state.record(
                "token",
                None,
                None,
                RequestStatus::Rejected,
                Some(&e),
                &Params::default(),
                json!({}),
            );
            return e.into_response();
        }
    };
    match token::token(&state, &headers, &params).await {
        Ok((resp, client)) => {
            state.record(
                "token",
                Some(client.client_id.clone()),
                None,
                RequestStatus::Completed,
                None,
                &params,
                json!({"grant_type": params.get("grant_type"), "scope": resp.scope, "refresh_token": resp.refresh_token.is_some(), "id_token": resp.id_token.is_some(), "tokens": resp.issued}),
            );
            state
                .core
                .events
                .publish(crate::events::ProviderEvent::TokenChanged { id: None });
            let value = serde_json::to_value(&resp).unwrap_or_default();
            no_store_json(StatusCode::OK, &value)
        }
        Err((e, client_id)) => {
            state.record(
                "token",
                client_id,
                None,
                RequestStatus::Rejected,
                Some(&e),
                &params,
                json!({"grant_type": params.get("grant_type")}),
            );
            e.into_response()
        }
    }
}

async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    path: &str,
) -> Result<Arc<crate::model::Client>, OAuthError> {
    client_auth::authenticate(state, headers, params, path, state.core.now()).await
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let client = authenticated(&state, &headers, &params, paths::INTROSPECT).await?;
        if client.is_public() {
            // RFC 7662 §2.1: a bare client_id authorizes nothing; anyone could read tokens.
            return Err(OAuthError::invalid_client(format!(
                "client '{}' is public and cannot authenticate, so it may not introspect tokens; introspect from a confidential client (your API's own credentials)",
                client.client_id
            )));
        }
        let row = resource::introspected(&state, &params).await?;
        Ok::<_, OAuthError>((client, row))
    }
    .await;
    let rejected = |e: OAuthError| state.rejected("introspect", &headers, &params, e);
    let (client, row) = match result {
        Ok(found) => found,
        Err(e) => return rejected(e),
    };
    match resource::introspection_of(&state, row.as_deref(), state.core.now()).await {
        Ok(answer) => {
            state.record(
                "introspect",
                Some(client.client_id.clone()),
                None,
                RequestStatus::Completed,
                None,
                &params,
                json!({"active": answer.active}),
            );
            no_store_json(StatusCode::OK, &answer)
        }
        Err(e) => rejected(e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let client = authenticated(&state, &headers, &params, paths::REVOKE).await?;
        let id = resource::revoke(&state, &client, &params, state.core.now()).await?;
        Ok::<_, OAuthError>((client, id))
    }
    .await;
    match result {
        Ok((client, id)) => {
            state.record(
                "revoke",
                Some(client.client_id.clone()),
                None,
                RequestStatus::Completed,
                None,
                &params,
                json!({"token_id": id}),
            );
            let mut res = StatusCode::OK.into_response();
            no_store(res.headers_mut());
            res
        }
        Err(e) => state.rejected("revoke", &headers, &params, e),
    }
}

// ---- bearer-protected resources ----

/// The form body of a resource request, if it has one (RFC 6750 §2.2).
fn resource_form(headers: &HeaderMap, body: &Bytes) -> Result<Option<Params>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if is_form && !body.is_empty() {
        Params::parse(body).map(Some)
    } else {
        Ok(None)
    }
}

async fn bearer_of(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<resource::Bearer, OAuthError> {
    let form = resource_form(headers, body)?;
    let token = resource::bearer_token(headers, form.as_ref())?;
    resource::authorize_bearer(state, &token, state.core.now()).await
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let bearer = bearer_of(&state, &headers, &body).await?;
        let v = resource::userinfo(&state, &bearer).await?;
        Ok::<_, OAuthError>((bearer, v))
    }
    .await;
    match result {
        Ok((b, v)) => {
            state.record(
                "userinfo",
                Some(b.token.client_id.clone()),
                b.user.map(|u| u.username),
                RequestStatus::Completed,
                None,
                &Params::default(),
                json!({}),
            );
            no_store_json(StatusCode::OK, &v)
        }
        Err(e) => {
            if !e.description.is_empty() {
                state.record(
                    "userinfo",
                    None,
                    None,
                    RequestStatus::Rejected,
                    Some(&e),
                    &Params::default(),
                    json!({}),
                );
            }
            e.into_bearer_response()
        }
    }
}

/// A sample protected resource: who the bearer token speaks for.
async fn api_me(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match bearer_of(&state, &headers, &body).await {
        Ok(b) => no_store_json(
            StatusCode::OK,
            &json!({
                "sub": b.token.sub.clone().unwrap_or_else(|| b.token.client_id.clone()),
                "username": b.user.as_ref().map(|u| u.username.clone()),
                "client_id": b.token.client_id,
                "scope": b.token.scopes,
                "expires_at": b.token.expires_at,
            }),
        ),
        Err(e) => {
            if !e.description.is_empty() {
                state.record(
                    "resource",
                    None,
                    None,
                    RequestStatus::Rejected,
                    Some(&e),
                    &Params::default(),
                    json!({"path": paths::API_ME}),
                );
            }
            e.into_bearer_response()
        }
    }
}

// ---- dynamic registration ----

async fn register_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        if !state.config.registration_open {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "dynamic client registration is turned off in this Authdesk; turn it on in Settings (or drop --no-registration), or create the client in the window",
            ));
        }
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
        if !is_json {
            return Err(OAuthError::invalid_request(
                "registration requests are JSON (RFC 7591 §3.1); send Content-Type: application/json",
            ));
        }
        let metadata: register::Metadata = serde_json::from_slice(&body).map_err(|e| {
            OAuthError::new(ErrorCode::InvalidClientMetadata, format!("the client metadata is not valid JSON of the RFC 7591 shape: {e}"))
        })?;
        let input = register::to_input(metadata)?;
        let client = state.core.create_client(input).await.map_err(register::from_core_error)?;
        Ok(client)
    }
    .await;
    match result {
        Ok(client) => {
            state.record(
                "register",
                Some(client.client_id.clone()),
                None,
                RequestStatus::Completed,
                None,
                &Params::default(),
                json!({"name": client.name}),
            );
            no_store_json(StatusCode::CREATED, &register::response(&client))
        }
        Err(e) => {
            state.record(
                "register",
                None,
                None,
                RequestStatus::Rejected,
                Some(&e),
                &Params::default(),
                json!({}),
            );
            let status = if e.code == ErrorCode::AccessDenied {
                StatusCode::FORBIDDEN
            } else {
                e.status()
            };
            no_store_json(
                status,
                &json!({"error": e.code.as_str(), "error_description": crate::oauth::error::quote_safe(&e.description)}),
            )
        }
    }
}

// ---- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) ----

/// Ends the provider session; returns to `post_logout_redirect_uri` only when the
/// client registered it, carrying `state`.
async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return error_page(&state, &e),
    };
    let reject = |e: OAuthError, client_id: Option<String>| {
        state.record(
            "end_session",
            client_id,
            None,
            RequestStatus::Rejected,
            Some(&e),
            &params,
            json!({}),
        );
        error_page(&state, &e)
    };
    // RP-Initiated Logout 1.0 §2: a hint must be an ID token this provider issued
    // (expired ones too), and a client_id sent beside it one of its audiences.
    let hint_audiences = match params.get("id_token_hint") {
        None => None,
        Some(hint) => match state
            .keys
            .verify(hint)
            .filter(|claims| claims["iss"].as_str() == Some(state.config.issuer.as_str()))
        {
            Some(claims) => Some(match &claims["aud"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }),
            None => {
                let e = OAuthError::invalid_request(format!(
                    "id_token_hint is not an ID token issued by this Authdesk: its signature does not verify with the keys at {}, or its iss is not {}. Send the id_token your app received from this provider, or leave id_token_hint out and send client_id",
                    state.config.url(paths::JWKS),
                    state.config.issuer
                ));
                return reject(e, params.get("client_id").map(str::to_string));
            }
        },
    };
    let client_id = match (params.get("client_id"), &hint_audiences) {
        (Some(id), Some(audiences)) if !audiences.iter().any(|a| a == id) => {
            let e = OAuthError::invalid_request(format!(
                "client_id '{id}' is not the client the id_token_hint was issued to ({}); send the ID token of that client, or its client_id",
                audiences.join(", ")
            ));
            return reject(e, Some(id.to_string()));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(audiences)) => audiences.first().cloned(),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => state.core.store.get_client(id).await.ok().flatten(),
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(uri) => match &client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                Some(uri.to_string())
            }
            Some(c) => {
                let e = OAuthError::invalid_request(format!(
                    "post_logout_redirect_uri {uri} is not registered for client '{}'; registered: {}. Add it to the client's post-logout redirect URIs in Authdesk",
                    c.client_id,
                    if c.post_logout_redirect_uris.is_empty() {
                        "(none)".to_string()
                    } else {
                        c.post_logout_redirect_uris.join(", ")
                    }
                ));
                return reject(e, client_id.clone());
            }
            None => {
                let e = OAuthError::invalid_request(
                    "post_logout_redirect_uri needs the client: send client_id or id_token_hint so Authdesk can check the URI is registered",
                );
                return reject(e, None);
            }
        },
        None => None,
    };
    let mut username = None;
    if let Some(v) = session_cookie_value(&headers) {
        if let Ok(Some(sess)) =
            crate::store::flows::get_session(state.core.store.pool(), &v, state.core.now()).await
        {
            username = state
                .core
                .store
                .get_user_by_sub(&sess.sub)
                .await
                .ok()
                .flatten()
                .map(|u| u.user.username);
        }
        let _ = crate::store::flows::delete_session(state.core.store.pool(), &v).await;
    }
    state.record(
        "end_session",
        client_id,
        username,
        RequestStatus::Completed,
        None,
        &params,
        json!({"redirect": redirect}),
    );
    let mut res = match redirect {
        Some(uri) => {
            let mut url = uri.clone();
            if let (Some(st), Ok(mut parsed)) = (params.get("state"), url::Url::parse(&uri)) {
                parsed.query_pairs_mut().append_pair("state", st);
                url = parsed.to_string();
            }
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => state.pages.render(
            StatusCode::OK,
            "message.html",
            minijinja::context! { title => "You are signed out", message => "Your Authdesk session has ended. You can close this page." },
            false,
        ),
    };
    set_session_cookie(&mut res, "", 0);
    res
}

// ---- device authorization (RFC 8628) ----

async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let client = authenticated(&state, &headers, &params, paths::DEVICE_AUTHORIZATION).await?;
        let v = crate::oauth::device::authorize_device(&state, &client, &params, state.core.now())
            .await?;
        Ok::<_, OAuthError>((client, v))
    }
    .await;
    match result {
        Ok((client, v)) => {
            state.record(
                "device_authorization",
                Some(client.client_id.clone()),
                None,
                RequestStatus::PendingConsent,
                None,
                &params,
                json!({"user_code": v["user_code"]}),
            );
            no_store_json(StatusCode::OK, &v)
        }
        Err(e) => state.rejected("device_authorization", &headers, &params, e),
    }
}

const DEVICE_CSRF_COOKIE: &str = "authdesk_device_csrf";

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn device_entry(state: &AppState, entered: &str, error: Option<String>) -> Response {
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
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let entered = q.get("user_code").cloned().unwrap_or_default();
    if entered.is_empty() {
        return device_entry(&state, "", None);
    }
    let now = state.core.now();
    let Some(code) = crate::oauth::device::normalize_user_code(&entered) else {
        return device_entry(
            &state,
            &entered,
            Some("A code has 8 letters, like WDJB-MJHT. Check the device and try again.".into()),
        );
    };
    let row = crate::store::flows::device_by_user_code(state.core.store.pool(), &code)
        .await
        .ok()
        .flatten();
    let row = match row {
        Some(r) if r.status == "pending" && r.expires_at > now => r,
        Some(r) if r.expires_at <= now => {
            return device_entry(
                &state,
                &entered,
                Some("This code has expired. Start again on the device.".into()),
            );
        }
        Some(_) => {
            return device_entry(&state, &entered, Some("This code was already used.".into()));
        }
        None => {
            return device_entry(
                &state,
                &entered,
                Some(format!(
                    "No device is waiting with code {code}. Check the code on the device."
                )),
            );
        }
    };
    let client_name = state
        .core
        .cached_client(&row.client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| row.client_id.clone());
    let users: Vec<Value> = state
        .core
        .list_users()
        .await
        .unwrap_or_default()
        .iter()
        .map(|u| json!({"username": u.username, "detail": u.claims.get("email").and_then(|v| v.as_str()).unwrap_or("")}))
        .collect();
    let defs = state
        .core
        .cached_scopes()
        .await
        .map(|d| (*d).clone())
        .unwrap_or_default();
    let scopes: Vec<Value> = row
        .scopes
        .split_whitespace()
        .map(|s| json!({"name": s, "description": defs.iter().find(|d| d.name == s).map(|d| d.description.clone()).unwrap_or_default()}))
        .collect();
    let csrf = random_token(16);
    let mut res = state.pages.render(
        StatusCode::OK,
        "device.html",
        minijinja::context! {
            action => paths::DEVICE,
            client_name => client_name,
            user_code => code,
            csrf => csrf.clone(),
            users => minijinja::value::Serde(&users),
            scopes => minijinja::value::Serde(&scopes),
        },
        false,
    );
    let cookie = format!(
        "{DEVICE_CSRF_COOKIE}={csrf}; Path={}; HttpOnly; Secure; SameSite=Strict; Max-Age=900",
        paths::DEVICE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
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
    let csrf_ok = match (
        params.get("csrf"),
        cookie_value(&headers, DEVICE_CSRF_COOKIE),
    ) {
        (Some(a), Some(b)) => bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes())),
        _ => false,
    };
    if !csrf_ok {
        return error_page(
            &state,
            &OAuthError::invalid_request(
                "the form's CSRF token is missing or wrong; reload the device page",
            ),
        );
    }
    let now = state.core.now();
    let Some(code) = params
        .get("user_code")
        .and_then(crate::oauth::device::normalize_user_code)
    else {
        return device_entry(&state, "", Some("The code is missing.".into()));
    };
    let approve = params.get("action") == Some("approve");
    let user = if approve {
        match params.get("username") {
            Some(u) => match state.core.get_user(u).await {
                Ok(u) => Some(u),
                Err(_) => {
                    return error_page(
                        &state,
                        &OAuthError::invalid_request(format!("there is no persona '{u}'")),
                    );
                }
            },
            None => {
                return error_page(
                    &state,
                    &OAuthError::invalid_request("pick a persona before approving"),
                );
            }
        }
    } else {
        None
    };
    let decided = crate::store::flows::decide_device(
        state.core.store.pool(),
        &code,
        approve,
        user.as_ref().map(|u| u.sub.as_str()),
        now,
    )
    .await
    .unwrap_or(false);
    if !decided {
        return device_entry(&state, &code, Some("This code is no longer waiting (used, denied or expired). Start again on the device.".into()));
    }
    state.record(
        "device",
        None,
        user.as_ref().map(|u| u.username.clone()),
        if approve {
            RequestStatus::Approved
        } else {
            RequestStatus::Denied
        },
        None,
        &params,
        json!({"user_code": code, "decided_by": "page"}),
    );
    let (title, message) = if approve {
        (
            "Device connected",
            "You can return to your device; it will finish signing in by itself.",
        )
    } else {
        (
            "Request denied",
            "The device will be told that you denied its request.",
        )
    };
    state.pages.render(
        StatusCode::OK,
        "message.html",
        minijinja::context! { title => title, message => message },
        false,
    )
}
