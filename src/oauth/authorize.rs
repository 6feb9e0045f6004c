//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2).
//!
//! Validation is a pure function of the client and the parameters. An unknown client
//! or a redirect URI that does not match is answered on a page and never redirected
//! to; every other error goes back to the client with `error`, `error_description`,
//! `state` and `iss` (RFC 9207). [`begin`] then decides what the browser gets:
//! automatic approval, a silent answer from the provider session (`prompt`,
//! `max_age`, remembered consent), or the consent page.

use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::claims::SignIn;
use super::consent::{
    ConsentView, DecidedBy, Decision, auto_approver, consent_view, finish, pending_view,
};
use super::context::{Context, LogLine};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::session::{self, Session};
use super::token::resolve_scopes;
use crate::events::{ProviderEvent, RequestStatus};
use crate::model::{Client, GrantType, ResponseType, Timestamp, is_loopback_or_localhost};
use crate::store::flows;

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
    /// Resources, the claims request and acr_values (issue 18).
    pub sign_in: SignIn,
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
/// (public) client's loopback IP redirect URI matches on any port. Nothing else may
/// differ — not the userinfo (`http://evil@127.0.0.1/cb` is another URI), the
/// host's spelling, the path or the query (RFC 9700 §4.1.3).
pub fn redirect_matches(client: &Client, registered: &str, given: &str) -> bool {
    let (Ok(r), Ok(g)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let no_userinfo = |u: &Url| u.username().is_empty() && u.password().is_none();
    if !no_userinfo(&g) || !no_userinfo(&r) {
        return false;
    }
    if registered == given {
        return true;
    }
    client.is_public()
        && r.scheme() == "http"
        && g.scheme() == "http"
        && is_loopback_or_localhost(&r)
        && r.host() == g.host()
        && r.path() == g.path()
        && r.query() == g.query()
        && g.fragment().is_none()
        // The given URI must be written as the registered one is (no `HTTP://`,
        // `0x7f.1` or `..`): only the port may differ.
        && given == with_port(&r, g.port()).as_str()
}

fn with_port(u: &Url, port: Option<u16>) -> Url {
    let mut u = u.clone();
    // Setting the port of an http URL with a host cannot fail.
    let _ = u.set_port(port);
    u
}

fn valid_pkce_challenge(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// What a request asks of the sign-in beyond scopes: RFC 8707 resources (or Auth0's
/// `audience`), the `claims` parameter and `acr_values`.
pub fn sign_in_request(client: &Client, params: &Params) -> Result<SignIn, OAuthError> {
    let requested = params
        .get("claims")
        .map(super::claims::ClaimsRequest::parse)
        .transpose()?;
    Ok(SignIn {
        resources: super::claims::resources(client, &params.resources())?,
        requested,
        acr_values: params
            .get("acr_values")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        ..SignIn::default()
    })
}

/// The redirect URI of a request: the given one if it is registered, else the
/// client's only one where the protocol allows leaving it out (errors go on a page).
fn check_redirect_uri(client: &Client, params: &Params) -> Result<String, AuthFailure> {
    let page = |d: String| AuthFailure::Page(OAuthError::invalid_request(d));
    Ok(match params.get("redirect_uri") {
        Some(given) => {
            if !client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(client, r, given))
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
    })
}

type Pkce = (Option<String>, Option<String>);

/// `code_challenge` and its method as sent (the method defaults to `plain`).
fn pkce_params(params: &Params) -> Result<Pkce, OAuthError> {
    let code_challenge = params.get("code_challenge").map(str::to_string);
    let method = match (&code_challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            ));
        }
        (None, None) => None,
        (Some(_), m) => Some(m.unwrap_or("plain").to_string()),
    };
    Ok((code_challenge, method))
}

/// PKCE of a code request (RFC 7636 §4.3): required for public clients (and clients
/// set to require it), S256 unless the client allows `plain`.
fn check_pkce(client: &Client, params: &Params) -> Result<Pkce, OAuthError> {
    let (code_challenge, code_challenge_method) = pkce_params(params)?;
    match (&code_challenge, code_challenge_method.as_deref()) {
        (None, _) if client.pkce_required() => {
            return Err(OAuthError::invalid_request(format!(
                "client '{}' requires PKCE{}: send code_challenge=BASE64URL(SHA256(code_verifier)) and code_challenge_method=S256",
                client.client_id,
                if client.is_public() {
                    " (it is a public client)"
                } else {
                    ""
                }
            )));
        }
        (Some(c), _) if !valid_pkce_challenge(c) => {
            return Err(OAuthError::invalid_request(
                "code_challenge must be 43-128 characters of [A-Z a-z 0-9 - . _ ~]; for S256 it is BASE64URL(SHA256(code_verifier)) without padding",
            ));
        }
        (Some(_), Some("S256")) | (None, _) => {}
        (Some(_), Some("plain")) if client.allow_plain_pkce => {}
        (Some(_), Some("plain")) => {
            return Err(OAuthError::invalid_request(format!(
                "the plain PKCE method is not allowed for client '{}'{}; use code_challenge_method=S256",
                client.client_id,
                if params.get("code_challenge_method").is_none() {
                    " (code_challenge_method defaults to plain when omitted)"
                } else {
                    ""
                }
            )));
        }
        (Some(_), other) => {
            let other = other.unwrap_or("");
            return Err(OAuthError::invalid_request(format!(
                "code_challenge_method '{other}' is not supported; use S256"
            )));
        }
    }
    Ok((code_challenge, code_challenge_method))
}

/// `prompt` (OIDC Core §3.1.2.1): known values only, `none` alone.
fn check_prompt(params: &Params) -> Result<Vec<String>, OAuthError> {
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
            return Err(OAuthError::invalid_request(format!(
                "prompt value '{p}' is unknown; use none, login, consent or select_account"
            )));
        }
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other prompt values (OIDC Core §3.1.2.1)",
        ));
    }
    Ok(prompt)
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
    let redirect_uri = check_redirect_uri(&client, params)?;
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
    let (code_challenge, code_challenge_method) = if response_type == ResponseType::Code {
        check_pkce(&client, params).map_err(fail)?
    } else {
        pkce_params(params).map_err(fail)?
    };
    let prompt = check_prompt(params).map_err(fail)?;
    let max_age = match params.get("max_age") {
        Some(m) => Some(m.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
            fail(OAuthError::invalid_request(format!(
                "max_age '{m}' is not a non-negative number of seconds"
            )))
        })?),
        None => None,
    };
    let sign_in = sign_in_request(&client, params).map_err(fail)?;
    Ok(AuthRequest {
        sign_in,
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

/// What cannot be trusted with a redirect, so an error is shown on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    Client,
    RedirectUri,
}

/// What the browser gets for an authorization request.
#[derive(Debug)]
pub enum Begun {
    /// An error shown on a page: the client or redirect URI cannot be trusted.
    ErrorPage(OAuthError, Untrusted),
    /// Back to the client: an error, or the code (or tokens).
    Done(Completion),
    /// The request waits for a person: the consent page.
    Consent(Box<ConsentView>),
}

/// What the provider session says about a request, before anyone is asked.
#[derive(Debug, PartialEq)]
pub enum Silent {
    /// Signed in recently enough and consented: answer at once.
    Approve { auth_time: Timestamp },
    /// `prompt=none` cannot be honoured: the error to send back.
    Refuse(OAuthError),
    /// Show the consent page.
    Ask,
}

/// Decides from the session (if any) whether `req` is answered without a page
/// (pure): `prompt` (`none`, `login`, `consent`, `select_account`), `max_age`, and
/// whether the session's persona already consented (`consented`).
pub fn check_silent(
    req: &AuthRequest,
    session: Option<&Session>,
    consented: bool,
    now: Timestamp,
) -> Silent {
    let wants = |p: &str| req.prompt.iter().any(|x| x == p);
    let wants_login = wants("login") || wants("select_account");
    let mut refusal = None;
    if let Some(s) = session {
        let age = now - s.row.auth_time;
        // max_age=0 asks for a sign-in now, like prompt=login (OIDC Core §3.1.2.1).
        let too_old = req.max_age.is_some_and(|m| m == 0 || age > m);
        if !wants_login && !too_old {
            if consented && !wants("consent") {
                return Silent::Approve {
                    auth_time: s.row.auth_time,
                };
            }
            refusal = Some(OAuthError::new(
                ErrorCode::ConsentRequired,
                format!(
                    "prompt=none was requested and {} is signed in, but has not consented to '{}' for client '{}'; retry without prompt=none to show the consent page",
                    s.user.username,
                    req.scopes.join(" "),
                    req.client.client_id
                ),
            ));
        } else if too_old {
            refusal = Some(OAuthError::new(
                ErrorCode::LoginRequired,
                format!(
                    "prompt=none was requested, but the sign-in is {age}s old and max_age is {}s; retry without prompt=none to sign in again",
                    req.max_age.unwrap_or(0)
                ),
            ));
        }
    }
    if !wants("none") {
        return Silent::Ask;
    }
    Silent::Refuse(refusal.unwrap_or_else(|| {
        OAuthError::new(
            ErrorCode::LoginRequired,
            "prompt=none was requested, but nobody is signed in and the client is not set to auto-approve; retry without prompt=none",
        )
    }))
}

/// The error redirect of a validated request.
fn refuse(ctx: &Context, req: &AuthRequest, error: OAuthError) -> Begun {
    ctx.record(
        LogLine::rejected("authorize", &error)
            .client(Some(req.client.client_id.clone()))
            .params(&req.params),
    );
    let failure = AuthFailure::Redirect {
        error,
        redirect_uri: req.redirect_uri.clone(),
        response_mode: req.response_mode,
        state: req.state.clone(),
    };
    match error_completion(&failure, &ctx.config.issuer) {
        Some(c) => Begun::Done(c),
        None => Begun::ErrorPage(failure.error().clone(), Untrusted::RedirectUri),
    }
}

/// Handles an authorization request; `session_id` is the browser's provider session
/// (its cookie), if it sent one. A database failure is an `Err` (a server error page).
pub async fn begin(
    ctx: &Context,
    params: &Params,
    session_id: Option<&str>,
) -> Result<Begun, OAuthError> {
    let now = ctx.now();
    let client_id = params.get("client_id").map(str::to_string);
    let client = match &client_id {
        Some(id) => ctx.core.cached_client(id).await?.map(|c| (*c).clone()),
        None => None,
    };
    let known = client.is_some();
    // A pushed request (RFC 9126): its stored parameters replace the URL's.
    let taken;
    let (params, pushed) = match (params.get("request_uri"), &client_id, known) {
        (Some(uri), Some(id), true) => match super::par::take(ctx, uri, id, now).await {
            Ok(p) => {
                taken = p;
                (&taken, true)
            }
            Err(e) if e.code == ErrorCode::ServerError => return Err(e),
            Err(e) => {
                ctx.record(
                    LogLine::rejected("authorize", &e)
                        .client(client_id)
                        .params(params),
                );
                return Ok(Begun::ErrorPage(e, Untrusted::RedirectUri));
            }
        },
        _ => (params, false),
    };
    // A request object (RFC 9101): its verified parameters replace the URL's.
    let objected;
    let params = match (params.get("request"), &client) {
        (Some(jwt), Some(c)) => {
            match super::request_object::verify_with_keys(ctx, c, jwt, now).await {
                Ok(p) => {
                    objected = p;
                    &objected
                }
                Err(e) => {
                    ctx.record(
                        LogLine::rejected("authorize", &e)
                            .client(client_id)
                            .params(params),
                    );
                    return Ok(Begun::ErrorPage(e, Untrusted::RedirectUri));
                }
            }
        }
        _ => params,
    };
    let mut req = match validate(client, params) {
        Ok(r) => r,
        Err(failure) => {
            ctx.record(
                LogLine::rejected("authorize", failure.error())
                    .client(client_id)
                    .params(params),
            );
            // Once the client is known, only its redirect URI is refused on the page.
            let untrusted = if known {
                Untrusted::RedirectUri
            } else {
                Untrusted::Client
            };
            return Ok(match error_completion(&failure, &ctx.config.issuer) {
                Some(c) => Begun::Done(c),
                None => Begun::ErrorPage(failure.error().clone(), untrusted),
            });
        }
    };
    if let Err(e) = super::par::check_required(&req.client, ctx.config.require_par, pushed) {
        return Ok(refuse(ctx, &req, e));
    }
    ctx.record(
        LogLine::new("authorize", RequestStatus::Received)
            .client(client_id.clone())
            .params(params)
            .detail(json!({"scopes": req.scopes, "pushed": pushed})),
    );
    let auto = match auto_approver(ctx, &req.client, req.login_hint.as_deref()).await {
        Ok(auto) => auto,
        Err(e) if e.code == ErrorCode::ServerError => return Err(e),
        Err(e) => return Ok(refuse(ctx, &req, e)),
    };
    if let Some(user) = auto {
        let username = Some(user.username.clone());
        let decision = Decision::Approve {
            user,
            claims_override: None,
            by: DecidedBy::AutoApprove,
            auth_time: None,
            session: None,
        };
        return finish(ctx, &req, decision, now, username)
            .await
            .map(Begun::Done);
    }
    let session = session::find(ctx, session_id, now).await?;
    let consented = match &session {
        Some(s) => {
            flows::has_consent(
                ctx.core.store.pool(),
                &s.user.sub,
                &req.client.client_id,
                &req.scopes,
            )
            .await?
        }
        None => false,
    };
    match check_silent(&req, session.as_ref(), consented, now) {
        Silent::Approve { auth_time } => {
            let user = session
                .map(|s| s.user)
                .ok_or_else(|| OAuthError::server_error("a silent approval without a session"))?;
            let username = Some(user.username.clone());
            let decision = Decision::Approve {
                user,
                claims_override: None,
                by: DecidedBy::RememberedConsent,
                auth_time: Some(auth_time),
                session: session_id.map(str::to_string),
            };
            finish(ctx, &req, decision, now, username)
                .await
                .map(Begun::Done)
        }
        Silent::Refuse(e) => Ok(refuse(ctx, &req, e)),
        Silent::Ask => {
            let wants_login = req
                .prompt
                .iter()
                .any(|p| p == "login" || p == "select_account");
            if req.login_hint.is_none() && !wants_login {
                req.login_hint = session.map(|s| s.user.username);
            }
            let pending = ctx.pending.insert(req, now);
            ctx.core.events.publish(ProviderEvent::ConsentPending {
                consent: pending_view(&pending),
            });
            ctx.record(
                LogLine::new("authorize", RequestStatus::PendingConsent)
                    .client(client_id)
                    .params(params)
                    .detail(json!({"request_id": pending.id})),
            );
            Ok(Begun::Consent(Box::new(consent_view(ctx, pending).await?)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType};

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
        .test_client()
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
    fn redirect_uris_with_userinfo_never_match() {
        let public = client(ClientType::Public);
        for given in [
            "http://evil@127.0.0.1:9999/cb",
            "http://evil@127.0.0.1:5000/cb",
            "http://user:pw@127.0.0.1:5000/cb",
            "https://evil@app.example/cb",
        ] {
            let p = params(&format!(
                "client_id=demo&response_type=code&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
                url::form_urlencoded::byte_serialize(given.as_bytes()).collect::<String>()
            ));
            assert!(
                matches!(
                    validate(Some(public.clone()), &p),
                    Err(AuthFailure::Page(_))
                ),
                "{given} was accepted"
            );
        }
        let mut v6 = client(ClientType::Public);
        v6.redirect_uris = vec!["http://[::1]:8765/callback".into()];
        assert!(!redirect_matches(
            &v6,
            "http://[::1]:8765/callback",
            "http://evil@[::1]:8765/callback"
        ));
        assert!(redirect_matches(
            &v6,
            "http://[::1]:8765/callback",
            "http://[::1]:4321/callback"
        ));
    }

    #[test]
    fn only_the_loopback_port_may_differ_in_spelling() {
        let public = client(ClientType::Public);
        let reg = "http://127.0.0.1:5000/cb";
        assert!(redirect_matches(&public, reg, "http://127.0.0.1:7000/cb"));
        for given in [
            "HTTP://127.0.0.1:7000/cb",
            "http://127.0.0.1:7000/a/../cb",
            "http://0x7f.1:7000/cb",
            "http://127.0.0.1:7000/cb/",
            "http://127.0.0.1:7000/cb?x=1",
        ] {
            assert!(!redirect_matches(&public, reg, given), "{given} matched");
        }
    }

    fn session(auth_time: Timestamp) -> Session {
        Session {
            row: crate::store::flows::SessionRow {
                sub: "alice-sub".into(),
                auth_time,
                expires_at: auth_time + 3600,
            },
            user: crate::model::User {
                sub: "alice-sub".into(),
                username: "alice".into(),
                has_password: true,
                claims: Default::default(),
                created_at: 0,
                updated_at: 0,
            },
        }
    }

    fn request(extra: &str) -> AuthRequest {
        let p = params(&format!(
            "client_id=demo&response_type=code&redirect_uri=https://app.example/cb&scope=openid&state=s{extra}"
        ));
        validate(Some(client(ClientType::Confidential)), &p).unwrap()
    }

    const NOW: Timestamp = 1_700_000_000;

    fn refused(s: Silent) -> ErrorCode {
        match s {
            Silent::Refuse(e) => e.code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_session_that_consented_answers_silently() {
        let s = session(NOW - 100);
        assert_eq!(
            check_silent(&request(""), Some(&s), true, NOW),
            Silent::Approve {
                auth_time: NOW - 100
            }
        );
        assert_eq!(
            check_silent(&request("&prompt=none"), Some(&s), true, NOW),
            Silent::Approve {
                auth_time: NOW - 100
            }
        );
        // Without consent (or asked to confirm it) the page asks.
        assert_eq!(
            check_silent(&request(""), Some(&s), false, NOW),
            Silent::Ask
        );
        assert_eq!(
            check_silent(&request("&prompt=consent"), Some(&s), true, NOW),
            Silent::Ask
        );
        assert_eq!(
            check_silent(&request("&prompt=login"), Some(&s), true, NOW),
            Silent::Ask
        );
    }

    #[test]
    fn prompt_none_without_a_session_or_consent_is_refused() {
        let none = request("&prompt=none");
        assert_eq!(
            refused(check_silent(&none, None, false, NOW)),
            ErrorCode::LoginRequired
        );
        let s = session(NOW - 100);
        assert_eq!(
            refused(check_silent(&none, Some(&s), false, NOW)),
            ErrorCode::ConsentRequired
        );
    }

    #[test]
    fn max_age_asks_for_a_new_sign_in() {
        let s = session(NOW - 100);
        let fresh = request("&prompt=none&max_age=100");
        assert!(matches!(
            check_silent(&fresh, Some(&s), true, NOW),
            Silent::Approve { .. }
        ));
        let stale = request("&prompt=none&max_age=99");
        assert_eq!(
            refused(check_silent(&stale, Some(&s), true, NOW)),
            ErrorCode::LoginRequired
        );
        let zero = request("&max_age=0");
        assert_eq!(check_silent(&zero, Some(&s), true, NOW), Silent::Ask);
        let zero_none = request("&prompt=none&max_age=0");
        assert_eq!(
            refused(check_silent(&zero_none, Some(&s), true, NOW)),
            ErrorCode::LoginRequired
        );
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
