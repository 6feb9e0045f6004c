//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2).
//!
//! Validation is a pure function of the client and the parameters. An unknown client
//! or a redirect URI that does not match is answered on a page and never redirected
//! to; every other error goes back to the client with `error`, `error_description`,
//! `state` and `iss` (RFC 9207).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::watch;
use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::token::resolve_scopes;
use super::tokens::{Mint, mint};
use crate::http::AppState;
use crate::model::{
    Client, GrantType, ResponseType, Timestamp, User, is_loopback_or_localhost, random_token,
};
use crate::store::flows::{self, CodeRow, GrantRow, hash_secret};

/// Authorization codes live this long (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL: i64 = 120;
/// A request waiting for consent is dropped after this long.
pub const PENDING_TTL: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub response_type: ResponseType,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Vec<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<i64>,
    pub params: Params,
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug, Clone)]
pub enum AuthFailure {
    /// Shown on a page: the client or redirect URI cannot be trusted with a redirect.
    Page(OAuthError),
    /// Sent back to the client's redirect URI.
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
    },
}

impl AuthFailure {
    pub fn error(&self) -> &OAuthError {
        match self {
            AuthFailure::Page(e) => e,
            AuthFailure::Redirect { error, .. } => error,
        }
    }
}

/// RFC 6749 §3.1.2.3 exact matching, with RFC 8252 §7.3's exception: a native
/// (public) client's loopback IP redirect URI matches on any port.
pub fn redirect_matches(client: &Client, registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    if !client.is_public() {
        return false;
    }
    let (Ok(r), Ok(g)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    r.scheme() == "http"
        && g.scheme() == "http"
        && is_loopback_or_localhost(&r)
        && r.host() == g.host()
        && r.path() == g.path()
        && r.query() == g.query()
        && g.fragment().is_none()
}

fn valid_pkce_challenge(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Validates an authorization request against its client (pure).
pub fn validate(client: Option<Client>, params: &Params) -> Result<AuthRequest, AuthFailure> {
    let page = |d: String| AuthFailure::Page(OAuthError::invalid_request(d));
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page("the client_id parameter is missing, so Authdesk cannot tell which app is asking; add client_id to the authorization URL".into()))?;
    let client = client.ok_or_else(|| {
        AuthFailure::Page(OAuthError::new(
            ErrorCode::InvalidRequest,
            format!("no client with id '{client_id}' is registered; create it in Authdesk (Clients → New) or check the client_id in your app's configuration"),
        ))
    })?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(given) => {
            if !client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(&client, r, given))
            {
                return Err(page(format!(
                    "redirect_uri {given} is not registered for client '{}'; registered: {}. Add it to the client in Authdesk, or fix your app's redirect URI (matching is exact{})",
                    client.client_id,
                    if client.redirect_uris.is_empty() {
                        "(none)".to_string()
                    } else {
                        client.redirect_uris.join(", ")
                    },
                    if client.is_public() {
                        "; loopback ports may vary"
                    } else {
                        ""
                    }
                )));
            }
            given.to_string()
        }
        // OpenID Connect requires it (Core §3.1.2.1); plain OAuth may leave it out when
        // the client has one (RFC 6749 §3.1.2.3).
        None if params
            .get("scope")
            .is_some_and(|s| s.split(' ').any(|v| v == "openid")) =>
        {
            return Err(page(format!(
                "redirect_uri is missing; OpenID Connect requests (scope openid) must name it (OpenID Connect Core §3.1.2.1). Add redirect_uri={} to the request",
                client
                    .redirect_uris
                    .first()
                    .map_or("<a URI registered for the client>", String::as_str)
            )));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            [] => {
                return Err(page(format!(
                    "client '{}' has no redirect URI registered; add one in Authdesk",
                    client.client_id
                )));
            }
            many => {
                return Err(page(format!(
                    "redirect_uri is missing and client '{}' has several ({}); say which one with redirect_uri",
                    client.client_id,
                    many.join(", ")
                )));
            }
        },
    };
    let state = params.get("state").map(str::to_string);
    let response_type_raw = params.get("response_type");
    let parsed_type = response_type_raw.map(parse_response_type);
    let default_mode = match parsed_type {
        Some(Some(ResponseType::Code)) | None | Some(None) => ResponseMode::Query,
        _ => ResponseMode::Fragment,
    };
    let response_mode = match params.get("response_mode") {
        None => default_mode,
        Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            return Err(AuthFailure::Redirect {
                error: OAuthError::invalid_request(format!(
                    "response_mode '{other}' is not supported; use query, fragment or form_post"
                )),
                redirect_uri,
                response_mode: default_mode,
                state,
            });
        }
    };
    if response_mode == ResponseMode::Query && default_mode == ResponseMode::Fragment {
        // Tokens never go in a query string (OAuth 2.0 Multiple Response Type Encoding
        // Practices §2.1): servers and proxies log URLs with their queries.
        return Err(AuthFailure::Redirect {
            error: OAuthError::invalid_request(
                "response_mode=query cannot carry tokens (response_type with token or id_token); use fragment (the default) or form_post",
            ),
            redirect_uri,
            response_mode: default_mode,
            state,
        });
    }
    let fail = |error: OAuthError| AuthFailure::Redirect {
        error,
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
    };
    if params.get("request").is_some() {
        return Err(fail(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported; send the parameters in the URL",
        )));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported; send the parameters in the URL",
        )));
    }
    let response_type = match (response_type_raw, parsed_type.flatten()) {
        (None, _) => {
            return Err(fail(OAuthError::invalid_request(
                "the response_type parameter is missing; use response_type=code",
            )));
        }
        (Some(raw), None) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!(
                    "response_type '{raw}' is not supported; use code (or token / id_token / \"id_token token\" for implicit clients)"
                ),
            )));
        }
        (_, Some(rt)) => rt,
    };
    if !client.response_types.contains(&response_type) {
        return Err(fail(OAuthError::unauthorized_client(format!(
            "client '{}' may not use response_type '{response_type}'; allowed: {}. {}",
            client.client_id,
            client
                .response_types
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if response_type == ResponseType::Code {
                "Enable the authorization_code grant on the client"
            } else {
                "The implicit flow is legacy and off by default; enable the implicit grant on the client if you really need it"
            }
        ))));
    }
    let needed_grant = if response_type == ResponseType::Code {
        GrantType::AuthorizationCode
    } else {
        GrantType::Implicit
    };
    if !client.allows_grant(needed_grant) {
        return Err(fail(OAuthError::unauthorized_client(format!(
            "client '{}' is not allowed the {needed_grant} grant",
            client.client_id
        ))));
    }
    let scopes =
        resolve_scopes(&client, params.get("scope"), || client.scopes.clone()).map_err(fail)?;
    let is_oidc = scopes.iter().any(|s| s == "openid");
    if matches!(
        response_type,
        ResponseType::IdToken | ResponseType::IdTokenToken
    ) && !is_oidc
    {
        return Err(fail(OAuthError::invalid_scope(format!(
            "response_type '{response_type}' returns an id_token, which needs the openid scope"
        ))));
    }
    let nonce = params.get("nonce").map(str::to_string);
    if matches!(
        response_type,
        ResponseType::IdToken | ResponseType::IdTokenToken
    ) && nonce.is_none()
    {
        return Err(fail(OAuthError::invalid_request(
            "the implicit flow needs a nonce (OIDC Core §3.2.2.1); add a random nonce and check it in the id_token",
        )));
    }
    let code_challenge = params.get("code_challenge").map(str::to_string);
    let code_challenge_method = match (&code_challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            )));
        }
        (None, None) => None,
        (Some(_), m) => Some(m.unwrap_or("plain").to_string()),
    };
    if response_type == ResponseType::Code {
        match (&code_challenge, code_challenge_method.as_deref()) {
            (None, _) if client.pkce_required() => {
                return Err(fail(OAuthError::invalid_request(format!(
                    "client '{}' requires PKCE{}: send code_challenge=BASE64URL(SHA256(code_verifier)) and code_challenge_method=S256",
                    client.client_id,
                    if client.is_public() {
                        " (it is a public client)"
                    } else {
                        ""
                    }
                ))));
            }
            (Some(c), _) if !valid_pkce_challenge(c) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge must be 43-128 characters of [A-Z a-z 0-9 - . _ ~]; for S256 it is BASE64URL(SHA256(code_verifier)) without padding",
                )));
            }
            (Some(_), Some("S256")) | (None, _) => {}
            (Some(_), Some("plain")) if client.allow_plain_pkce => {}
            (Some(_), Some("plain")) => {
                return Err(fail(OAuthError::invalid_request(format!(
                    "the plain PKCE method is not allowed for client '{}'{}; use code_challenge_method=S256",
                    client.client_id,
                    if params.get("code_challenge_method").is_none() {
                        " (code_challenge_method defaults to plain when omitted)"
                    } else {
                        ""
                    }
                ))));
            }
            (Some(_), other) => {
                let other = other.unwrap_or("");
                return Err(fail(OAuthError::invalid_request(format!(
                    "code_challenge_method '{other}' is not supported; use S256"
                ))));
            }
        }
    }
    let prompt: Vec<String> = params
        .get("prompt")
        .map(|p| {
            p.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for p in &prompt {
        if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(fail(OAuthError::invalid_request(format!(
                "prompt value '{p}' is unknown; use none, login, consent or select_account"
            ))));
        }
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(OAuthError::invalid_request(
            "prompt=none cannot be combined with other prompt values (OIDC Core §3.1.2.1)",
        )));
    }
    let max_age = match params.get("max_age") {
        Some(m) => Some(m.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
            fail(OAuthError::invalid_request(format!(
                "max_age '{m}' is not a non-negative number of seconds"
            )))
        })?),
        None => None,
    };
    Ok(AuthRequest {
        client,
        response_type,
        redirect_uri,
        response_mode,
        scopes,
        state,
        nonce,
        code_challenge,
        code_challenge_method,
        prompt,
        login_hint: params.get("login_hint").map(str::to_string),
        max_age,
        params: params.clone(),
    })
}

fn parse_response_type(raw: &str) -> Option<ResponseType> {
    let mut parts: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
    parts.sort_unstable();
    match parts.as_slice() {
        ["code"] => Some(ResponseType::Code),
        ["token"] => Some(ResponseType::Token),
        ["id_token"] => Some(ResponseType::IdToken),
        ["id_token", "token"] => Some(ResponseType::IdTokenToken),
        _ => None,
    }
}

/// Where the browser goes at the end: a redirect or a self-submitting form.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    Redirect(String),
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

impl Completion {
    pub fn url(&self) -> String {
        match self {
            Completion::Redirect(u) => u.clone(),
            Completion::FormPost { action, .. } => action.clone(),
        }
    }
}

/// Builds the response to the client with `fields` (plus `state` and `iss`).
pub fn respond(
    redirect_uri: &str,
    mode: ResponseMode,
    mut fields: Vec<(String, String)>,
    state: Option<&str>,
    issuer: &str,
) -> Completion {
    if let Some(s) = state {
        fields.push(("state".into(), s.to_string()));
    }
    fields.push(("iss".into(), issuer.to_string()));
    match mode {
        ResponseMode::FormPost => Completion::FormPost {
            action: redirect_uri.to_string(),
            fields,
        },
        ResponseMode::Query => match Url::parse(redirect_uri) {
            Ok(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in &fields {
                        q.append_pair(k, v);
                    }
                }
                Completion::Redirect(url.to_string())
            }
            Err(_) => Completion::Redirect(redirect_uri.to_string()),
        },
        ResponseMode::Fragment => {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let base = redirect_uri.split('#').next().unwrap_or(redirect_uri);
            Completion::Redirect(format!("{base}#{encoded}"))
        }
    }
}

pub fn error_completion(failure: &AuthFailure, issuer: &str) -> Option<Completion> {
    match failure {
        AuthFailure::Page(_) => None,
        AuthFailure::Redirect {
            error,
            redirect_uri,
            response_mode,
            state,
        } => Some(respond(
            redirect_uri,
            *response_mode,
            vec![
                ("error".into(), error.code.as_str().to_string()),
                (
                    "error_description".into(),
                    super::error::quote_safe(&error.description),
                ),
            ],
            state.as_deref(),
            issuer,
        )),
    }
}

/// Who decided a request, for the log and the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Page,
    Window,
    AutoApprove,
    RememberedConsent,
}

/// A decision on a pending request.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve {
        user: User,
        claims_override: Option<Map<String, Value>>,
        by: DecidedBy,
        /// When the user authenticated: now, or the session's sign-in for silent answers.
        auth_time: Option<Timestamp>,
    },
    Deny {
        by: DecidedBy,
    },
}

/// A request waiting for consent, on the page and in the window.
#[derive(Debug)]
pub struct Pending {
    pub id: String,
    pub request: AuthRequest,
    pub created_at: Timestamp,
    /// Set once decided: where the browser goes next.
    pub outcome: watch::Sender<Option<Completion>>,
    pub csrf: String,
    /// A session created by a decision in the window, handed to the waiting page.
    pub session_cookie: Mutex<Option<String>>,
    /// Set by the first decision; later ones are refused.
    pub decided: AtomicBool,
}

/// The requests waiting for consent. In memory: a waiting browser page cannot survive
/// a provider restart anyway.
#[derive(Debug, Default)]
pub struct PendingRegistry {
    map: Mutex<HashMap<String, Arc<Pending>>>,
}

impl PendingRegistry {
    pub fn insert(&self, request: AuthRequest, now: Timestamp) -> Arc<Pending> {
        let (tx, _) = watch::channel(None);
        let pending = Arc::new(Pending {
            id: random_token(16),
            request,
            created_at: now,
            outcome: tx,
            csrf: random_token(16),
            session_cookie: Mutex::new(None),
            decided: AtomicBool::new(false),
        });
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, p| p.created_at + PENDING_TTL > now);
            map.insert(pending.id.clone(), pending.clone());
        }
        pending
    }

    fn live(&self, id: &str, now: Timestamp) -> Option<Arc<Pending>> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .filter(|p| p.created_at + PENDING_TTL > now)
    }

    /// A request still waiting for a decision.
    pub fn get(&self, id: &str, now: Timestamp) -> Option<Arc<Pending>> {
        self.live(id, now)
            .filter(|p| !p.decided.load(Ordering::SeqCst))
    }

    /// A request, decided or not, so a page that polls after the decision still
    /// receives where to go.
    pub fn get_for_outcome(&self, id: &str, now: Timestamp) -> Option<Arc<Pending>> {
        self.live(id, now)
    }

    /// Claims the decision of a request: only the first decision wins.
    pub fn take(&self, id: &str, now: Timestamp) -> Option<Arc<Pending>> {
        self.live(id, now)
            .filter(|p| !p.decided.swap(true, Ordering::SeqCst))
    }

    pub fn list(&self, now: Timestamp) -> Vec<Arc<Pending>> {
        let mut v: Vec<_> = self
            .map
            .lock()
            .map(|m| {
                m.values()
                    .filter(|p| {
                        p.created_at + PENDING_TTL > now && !p.decided.load(Ordering::SeqCst)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|p| p.created_at);
        v
    }
}

/// Carries out a decision: issues the code (or implicit tokens) or the denial, and
/// returns where the browser goes.
pub async fn complete(
    state: &AppState,
    req: &AuthRequest,
    decision: Decision,
    now: Timestamp,
) -> Result<Completion, OAuthError> {
    let issuer = &state.config.issuer;
    let (user, claims_override, auth_time) = match decision {
        Decision::Deny { .. } => {
            return Ok(respond(
                &req.redirect_uri,
                req.response_mode,
                vec![
                    ("error".into(), "access_denied".into()),
                    (
                        "error_description".into(),
                        "the user denied the request".into(),
                    ),
                ],
                req.state.as_deref(),
                issuer,
            ));
        }
        Decision::Approve {
            user,
            claims_override,
            auth_time,
            ..
        } => (user, claims_override, auth_time.unwrap_or(now)),
    };
    let grant_id = crate::model::sortable_id(now);
    let grant = GrantRow {
        id: grant_id.clone(),
        client_id: req.client.client_id.clone(),
        sub: Some(user.sub.clone()),
        scopes: req.scopes.join(" "),
        auth_time: Some(auth_time),
        created_at: now,
        revoked_at: None,
    };
    let mut code_row = None;
    let mut token_rows = Vec::new();
    let fields = match req.response_type {
        ResponseType::Code => {
            let code = random_token(32);
            code_row = Some((
                hash_secret(&code),
                CodeRow {
                    grant_id,
                    client_id: req.client.client_id.clone(),
                    sub: user.sub.clone(),
                    redirect_uri: req.redirect_uri.clone(),
                    scopes: req.scopes.join(" "),
                    nonce: req.nonce.clone(),
                    code_challenge: req.code_challenge.clone(),
                    code_challenge_method: req.code_challenge_method.clone(),
                    auth_time,
                    claims: claims_override
                        .as_ref()
                        .map(|c| Value::Object(c.clone()).to_string()),
                    created_at: now,
                    expires_at: now + CODE_TTL,
                    used_at: None,
                },
            ));
            vec![("code".to_string(), code)]
        }
        rt => {
            let scope_defs = state.core.cached_scopes().await?;
            let m = Mint {
                issuer,
                client: &req.client,
                user: Some(&user),
                claims_override: claims_override.as_ref(),
                scopes: &req.scopes,
                grant_id: Some(&grant_id),
                auth_time: Some(auth_time),
                nonce: req.nonce.as_deref(),
                refresh: false,
                id_token: false,
                now,
            };
            let mut fields = Vec::new();
            let mut access = None;
            if matches!(rt, ResponseType::Token | ResponseType::IdTokenToken) {
                let (resp, rows) = mint(&state.keys, &scope_defs, &m)?;
                token_rows = rows;
                fields.push(("access_token".to_string(), resp.access_token.clone()));
                fields.push(("token_type".to_string(), "Bearer".to_string()));
                fields.push(("expires_in".to_string(), resp.expires_in.to_string()));
                fields.push(("scope".to_string(), resp.scope.clone()));
                access = Some(resp.access_token);
            }
            if matches!(rt, ResponseType::IdToken | ResponseType::IdTokenToken) {
                let idt = super::tokens::id_token(
                    &state.keys,
                    &scope_defs,
                    &m,
                    &user,
                    access.as_deref(),
                )?;
                fields.push(("id_token".to_string(), idt));
            }
            fields
        }
    };
    // The code (or tokens) is committed before the browser is sent back.
    let mut rows: crate::store::writer::Rows = vec![Box::new(grant)];
    if let Some((code_hash, code)) = &code_row {
        rows.push(Box::new(flows::NewCode {
            code_hash: code_hash.clone(),
            code: code.clone(),
        }));
    }
    rows.extend(crate::store::writer::boxed(token_rows));
    state.core.store.writer().append(rows).await?;
    if let Some((code_hash, code)) = code_row {
        state.core.code_issued(code_hash, code, now);
    }
    if req.response_type != ResponseType::Code {
        state
            .core
            .events
            .publish(crate::events::ProviderEvent::TokenChanged { id: None });
    }
    Ok(respond(
        &req.redirect_uri,
        req.response_mode,
        fields,
        req.state.as_deref(),
        issuer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType, DEFAULT_SCOPES};

    fn client(kind: ClientType) -> Client {
        ClientInput {
            client_id: Some("demo".into()),
            name: Some("Demo".into()),
            client_type: Some(kind),
            redirect_uris: Some(vec![
                "http://127.0.0.1:5000/cb".into(),
                "https://app.example/cb".into(),
            ]),
            ..Default::default()
        }
        .into_client(
            None,
            &DEFAULT_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            0,
        )
        .unwrap()
    }

    fn params(q: &str) -> Params {
        Params::parse(q.as_bytes()).unwrap()
    }

    #[test]
    fn unknown_client_and_wrong_redirect_stay_on_the_page() {
        let p = params("client_id=nope&response_type=code");
        assert!(matches!(validate(None, &p), Err(AuthFailure::Page(_))));
        let p = params("client_id=demo&response_type=code&redirect_uri=https://evil.example/cb");
        let err = validate(Some(client(ClientType::Confidential)), &p).unwrap_err();
        let AuthFailure::Page(e) = err else {
            panic!("redirected to an unregistered URI")
        };
        assert!(e.description.contains("https://evil.example/cb"));
        assert!(
            e.description
                .contains("registered: http://127.0.0.1:5000/cb")
        );
    }

    #[test]
    fn openid_requests_must_name_the_redirect_uri_even_with_one_registered() {
        let mut one = client(ClientType::Confidential);
        one.redirect_uris.truncate(1);
        let p = params("client_id=demo&response_type=code&scope=openid%20profile&state=s");
        let Err(AuthFailure::Page(e)) = validate(Some(one.clone()), &p) else {
            panic!("an OpenID request without redirect_uri went on")
        };
        assert!(
            e.description
                .contains("redirect_uri=http://127.0.0.1:5000/cb")
        );
        // Plain OAuth may leave it out when the client has one (RFC 6749 §3.1.2.3).
        let p = params("client_id=demo&response_type=code&scope=profile&state=s");
        assert!(validate(Some(one), &p).is_ok());
    }

    #[test]
    fn tokens_are_never_put_in_a_query_string() {
        for response_type in ["token", "id_token", "id_token%20token"] {
            let p = params(&format!(
                "client_id=demo&response_type={response_type}&response_mode=query&redirect_uri=http://127.0.0.1:5000/cb&scope=openid&nonce=n&state=s"
            ));
            let Err(AuthFailure::Redirect {
                error,
                response_mode,
                state,
                ..
            }) = validate(Some(client(ClientType::Confidential)), &p)
            else {
                panic!("{response_type}: no error redirect")
            };
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{response_type}");
            assert!(error.description.contains("response_mode=query"));
            assert_eq!(response_mode, ResponseMode::Fragment, "{response_type}");
            assert_eq!(state.as_deref(), Some("s"));
        }
    }

    #[test]
    fn loopback_port_may_vary_only_for_public_clients() {
        let p = params(
            "client_id=demo&response_type=code&redirect_uri=http://127.0.0.1:6123/cb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        );
        assert!(validate(Some(client(ClientType::Public)), &p).is_ok());
        assert!(matches!(
            validate(Some(client(ClientType::Confidential)), &p),
            Err(AuthFailure::Page(_))
        ));
    }

    #[test]
    fn public_clients_need_s256_pkce() {
        let p = params(
            "client_id=demo&response_type=code&redirect_uri=http://127.0.0.1:5000/cb&state=xyz",
        );
        let err = validate(Some(client(ClientType::Public)), &p).unwrap_err();
        let AuthFailure::Redirect { error, state, .. } = err else {
            panic!()
        };
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert_eq!(state.as_deref(), Some("xyz"));
        let p = params(
            "client_id=demo&response_type=code&redirect_uri=http://127.0.0.1:5000/cb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        );
        let err = validate(Some(client(ClientType::Public)), &p).unwrap_err();
        assert!(err.error().description.contains("plain"));
    }

    #[test]
    fn scope_beyond_allowance_is_invalid_scope() {
        let p = params(
            "client_id=demo&response_type=code&redirect_uri=http://127.0.0.1:5000/cb&scope=openid%20admin",
        );
        let err = validate(Some(client(ClientType::Confidential)), &p).unwrap_err();
        assert_eq!(err.error().code, ErrorCode::InvalidScope);
    }

    #[test]
    fn implicit_is_refused_unless_allowed() {
        let p = params("client_id=demo&response_type=token&redirect_uri=http://127.0.0.1:5000/cb");
        let err = validate(Some(client(ClientType::Confidential)), &p).unwrap_err();
        assert_eq!(err.error().code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn responses_carry_state_and_iss_encoded() {
        let c = respond(
            "http://127.0.0.1:5000/cb?x=1",
            ResponseMode::Query,
            vec![("code".into(), "abc".into())],
            Some("a b&c"),
            "https://localhost:8443",
        );
        assert_eq!(
            c.url(),
            "http://127.0.0.1:5000/cb?x=1&code=abc&state=a+b%26c&iss=https%3A%2F%2Flocalhost%3A8443"
        );
    }
}
