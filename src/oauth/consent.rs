//! Consent: the requests waiting for a person's decision (on the page and in the
//! window at once; the first decision wins), the one way a decision is carried out
//! (by the page, the window, auto-approval or a remembered consent), and which persona
//! approves automatically.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::authorize::{AuthRequest, Completion, respond};
use super::claims::SignIn;
use super::context::{Context, LogLine, paths};
use super::error::{ErrorCode, OAuthError};
use super::issue::Issue;
use super::session;
use crate::events::{PendingConsent, ProviderEvent, RequestStatus};
use crate::model::{Client, ResponseType, Timestamp, User, random_token};
use crate::store::flows::{self, CodeRow, GrantRow, hash_secret};

/// Authorization codes live this long unless their client says otherwise.
pub const CODE_TTL: i64 = crate::model::DEFAULT_CODE_TTL;
/// A request waiting for consent is dropped after this long.
pub const PENDING_TTL: i64 = 15 * 60;

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
        /// The provider session (its cookie) the browser is signed in with, if any:
        /// the sign-in is recorded under it for back-channel logout.
        session: Option<String>,
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
async fn complete(
    ctx: &Context,
    req: &AuthRequest,
    decision: Decision,
    now: Timestamp,
) -> Result<Completion, OAuthError> {
    let issuer = &ctx.config.issuer;
    let (user, claims_override, auth_time, session) = match decision {
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
            session,
            ..
        } => (user, claims_override, auth_time.unwrap_or(now), session),
    };
    let signed_in = session.as_deref().map(|id| flows::SessionClientRow {
        session_hash: hash_secret(id),
        client_id: req.client.client_id.clone(),
        sid: super::session::sid_of(id),
        sub: user.sub.clone(),
        created_at: now,
    });
    let sign_in = SignIn {
        claims: claims_override,
        amr: vec!["user".into()],
        sid: signed_in.as_ref().map(|s| s.sid.clone()),
        ..req.sign_in.clone()
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
        extras: sign_in.to_column(),
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
                    claims: sign_in.to_column(),
                    created_at: now,
                    expires_at: now + req.client.code_ttl,
                    used_at: None,
                },
            ));
            vec![("code".to_string(), code)]
        }
        rt => {
            let what = Issue::new(&req.client, Some(&user), &req.scopes)
                .grant(Some(&grant_id), Some(auth_time))
                .nonce(req.nonce.as_deref())
                .sign_in(&sign_in)
                .access_only();
            let mut fields = Vec::new();
            let mut access = None;
            if matches!(rt, ResponseType::Token | ResponseType::IdTokenToken) {
                let (resp, rows) = ctx.issue(&what, now).await?;
                token_rows = rows;
                fields.push(("access_token".to_string(), resp.access_token.clone()));
                fields.push(("token_type".to_string(), "Bearer".to_string()));
                fields.push(("expires_in".to_string(), resp.expires_in.to_string()));
                fields.push(("scope".to_string(), resp.scope.clone()));
                access = Some(resp.access_token);
            }
            if matches!(rt, ResponseType::IdToken | ResponseType::IdTokenToken) {
                let idt = ctx.issue_id_token(&what, access.as_deref(), now).await?;
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
    rows.extend(crate::store::writer::boxed(signed_in));
    ctx.core.store.writer().append(rows).await?;
    if let Some((code_hash, code)) = code_row {
        ctx.core.code_issued(code_hash, code, now);
    }
    if req.response_type != ResponseType::Code {
        ctx.core
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

/// Carries out a decision, logs it, and returns where the browser goes.
pub async fn finish(
    ctx: &Context,
    req: &AuthRequest,
    decision: Decision,
    now: Timestamp,
    username: Option<String>,
) -> Result<Completion, OAuthError> {
    let (status, by) = match &decision {
        Decision::Approve { by, .. } => (RequestStatus::Approved, *by),
        Decision::Deny { by } => (RequestStatus::Denied, *by),
    };
    let client_id = Some(req.client.client_id.clone());
    let result = complete(ctx, req, decision, now).await;
    let line = LogLine::new("authorize", status)
        .client(client_id)
        .user(username)
        .params(&req.params);
    match &result {
        Ok(_) => {
            let denial = (status == RequestStatus::Denied)
                .then(|| OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"));
            ctx.record(
                line.error(denial.as_ref())
                    .detail(json!({"decided_by": by})),
            );
        }
        Err(e) => ctx.record(LogLine {
            status: RequestStatus::Rejected,
            ..line.error(Some(e))
        }),
    }
    result
}

/// A person's answer to a pending request, from the page or the window.
#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    pub approve: bool,
    /// The persona who approves; default the hinted one, else the first.
    pub username: Option<String>,
    /// Claims that replace the persona's for this sign-in (JSON object text).
    pub claims: Option<String>,
    pub by: DecidedBy,
}

/// A decision carried out.
#[derive(Debug, Clone)]
pub struct Decided {
    pub completion: Completion,
    /// The provider session the approving browser is signed in with (its cookie).
    pub session: Option<String>,
}

/// Why an answer was not carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum NotDecided {
    /// The request is no longer pending: decided elsewhere, or expired.
    Gone,
    /// The answer is wrong (no persona, bad claims) or the decision failed.
    Refused(OAuthError),
}

impl From<OAuthError> for NotDecided {
    fn from(e: OAuthError) -> Self {
        NotDecided::Refused(e)
    }
}

/// Carries out a person's answer: the one path of the page and the window. The
/// answer is checked before the request is claimed, so a wrong one leaves it pending.
pub async fn decide(ctx: &Context, answer: Answer, now: Timestamp) -> Result<Decided, NotDecided> {
    let pending = ctx
        .pending
        .get(&answer.request_id, now)
        .ok_or(NotDecided::Gone)?;
    let decision = if answer.approve {
        let user = choose_persona(
            ctx,
            answer.username.as_deref(),
            pending.request.login_hint.as_deref(),
        )
        .await?;
        let claims_override = match answer.claims.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(parse_claims_override(text)?),
            _ => None,
        };
        Decision::Approve {
            user,
            claims_override,
            by: answer.by,
            auth_time: None,
            // Started below, once the request is claimed.
            session: None,
        }
    } else {
        Decision::Deny { by: answer.by }
    };
    let user = match &decision {
        Decision::Approve { user, .. } => Some(user.clone()),
        Decision::Deny { .. } => None,
    };
    // Only the first decision counts, whether it comes from the page or the window.
    let pending = ctx
        .pending
        .take(&answer.request_id, now)
        .ok_or(NotDecided::Gone)?;
    let req = &pending.request;
    let username = user.as_ref().map(|u| u.username.clone());
    // Remember the consent and sign the browser in, so the next request of this client
    // is answered silently; the sign-in is recorded under the session (its `sid`).
    let mut session = None;
    let mut decision = decision;
    if let Some(user) = &user {
        flows::remember_consent(
            ctx.core.store.pool(),
            &user.sub,
            &req.client.client_id,
            &req.scopes,
            now,
        )
        .await
        .map_err(OAuthError::from)?;
        let id = session::start(ctx, &user.sub, now).await?;
        // A page waiting on /authorize/wait picks the session up from there.
        if let Ok(mut slot) = pending.session_cookie.lock() {
            *slot = Some(id.clone());
        }
        if let Decision::Approve { session: s, .. } = &mut decision {
            *s = Some(id.clone());
        }
        session = Some(id);
    }
    let completion = finish(ctx, req, decision, now, username).await?;
    pending.outcome.send_replace(Some(completion.clone()));
    ctx.core.events.publish(ProviderEvent::ConsentResolved {
        request_id: pending.id.clone(),
        approved: answer.approve,
    });
    Ok(Decided {
        completion,
        session,
    })
}

fn parse_claims_override(text: &str) -> Result<Map<String, Value>, OAuthError> {
    serde_json::from_str::<Value>(text)
        .map_err(|e| e.to_string())
        .and_then(|v| crate::model::validate_claims(v).map_err(|e| e.to_string()))
        .map_err(|e| OAuthError::invalid_request(format!("the claims override is not valid: {e}")))
}

/// The persona named `named`, else the hinted one, else the first persona.
pub async fn choose_persona(
    ctx: &Context,
    named: Option<&str>,
    hint: Option<&str>,
) -> Result<User, OAuthError> {
    let name = match named.or(hint) {
        Some(n) => n.to_string(),
        None => match ctx.core.list_users().await?.into_iter().next() {
            Some(first) => return Ok(first),
            None => {
                return Err(OAuthError::invalid_request(
                    "there are no personas to sign in as; create one in Authdesk (Users) first",
                ));
            }
        },
    };
    match ctx.core.cached_user_named(&name).await? {
        Some(u) => Ok((*u).clone()),
        None => Err(OAuthError::invalid_request(format!(
            "there is no persona '{name}'; pick one of the personas in Authdesk (Users), or create it"
        ))),
    }
}

/// The persona that approves `client`'s requests without asking, if any: the one of
/// `serve --auto-approve`, or, for a client set to auto-approve, the hinted persona
/// (else the first).
pub async fn auto_approver(
    ctx: &Context,
    client: &Client,
    hint: Option<&str>,
) -> Result<Option<User>, OAuthError> {
    let named = match (&ctx.config.auto_approve, client.auto_approve) {
        (Some(u), _) => Some(u.as_str()),
        (None, true) => None,
        (None, false) => return Ok(None),
    };
    match choose_persona(ctx, named, hint).await {
        Ok(u) => Ok(Some(u)),
        Err(e) if e.code == ErrorCode::ServerError => Err(e),
        Err(e) => Err(OAuthError::new(
            ErrorCode::LoginRequired,
            format!(
                "the request is set to be approved automatically{}, but {}",
                named.map(|n| format!(" as user '{n}'")).unwrap_or_default(),
                e.description
            ),
        )),
    }
}

/// What the window shows of a pending request.
pub fn pending_view(p: &Pending) -> PendingConsent {
    PendingConsent {
        request_id: p.id.clone(),
        client_id: p.request.client.client_id.clone(),
        client_name: p.request.client.name.clone(),
        scopes: p.request.scopes.clone(),
        redirect_uri: p.request.redirect_uri.clone(),
        login_hint: p.request.login_hint.clone(),
        created_at: p.created_at,
    }
}

/// What the consent page shows.
#[derive(Debug)]
pub struct ConsentView {
    pub pending: Arc<Pending>,
    pub personas: Vec<User>,
    /// The persona selected first: the hinted one, else the first.
    pub selected: usize,
    /// Each requested scope with its description.
    pub scopes: Vec<(String, String)>,
    /// Where the page long-polls for a decision taken in the window.
    pub wait_url: String,
}

/// The consent page's content for a pending request.
pub async fn consent_view(ctx: &Context, pending: Arc<Pending>) -> Result<ConsentView, OAuthError> {
    let personas = ctx.core.list_users().await?;
    let hint = pending.request.login_hint.as_deref();
    let selected = personas
        .iter()
        .position(|u| Some(u.username.as_str()) == hint)
        .unwrap_or(0);
    let defs = ctx.core.cached_scopes().await?;
    let scopes = pending
        .request
        .scopes
        .iter()
        .map(|s| {
            let description = defs
                .iter()
                .find(|d| &d.name == s)
                .map(|d| d.description.clone())
                .unwrap_or_default();
            (s.clone(), description)
        })
        .collect();
    let wait_url = format!("{}?request_id={}", paths::WAIT, pending.id);
    Ok(ConsentView {
        pending,
        personas,
        selected,
        scopes,
        wait_url,
    })
}

impl Context {
    /// Requests waiting for consent, oldest first.
    pub fn pending_consents(&self) -> Vec<PendingConsent> {
        self.pending
            .list(self.now())
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
        self.decide_consent_with_claims(request_id, approve, username, None)
            .await
    }

    /// [`Context::decide_consent`] with claims (a JSON object's text) that replace the
    /// persona's for this sign-in: its id_token, access token, userinfo and refreshes.
    pub async fn decide_consent_with_claims(
        &self,
        request_id: &str,
        approve: bool,
        username: Option<String>,
        claims: Option<String>,
    ) -> crate::Result<()> {
        let answer = Answer {
            request_id: request_id.to_string(),
            approve,
            username,
            claims,
            by: DecidedBy::Window,
        };
        match decide(self, answer, self.now()).await {
            Ok(_) => Ok(()),
            Err(NotDecided::Gone) => Err(crate::Error::NotFound {
                what: "pending request",
                id: request_id.into(),
            }),
            Err(NotDecided::Refused(e)) => Err(e.into()),
        }
    }
}

/// Whether the consent form's CSRF token is the one its page was given.
pub fn csrf_matches(pending: &Pending, sent: Option<&str>) -> bool {
    sent.is_some_and(|c| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            c.as_bytes(),
            pending.csrf.as_bytes(),
        ))
    })
}

/// The session a decision started, handed once to the page waiting for it.
pub fn take_session(pending: &Pending) -> Option<String> {
    pending
        .session_cookie
        .lock()
        .ok()
        .and_then(|mut c| c.take())
}
