//! "Try a sign-in": the window plays the client. Each request goes to the provider
//! over HTTPS trusting only its CA, exactly as a client library would send it, and
//! becomes a [`Step`]. The authorization code flow opens the browser at the
//! authorization URL and receives the redirect on a loopback listener it owns
//! (RFC 8252 §7.3): [`begin`] sends what comes before the browser and answers a
//! [`Pending`] half; [`finish`] waits for the browser (or the device's approval) and
//! sends the rest. A step that fails ends the trial with the provider's reason and
//! the fixes of [`super::compare`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use super::compare;
use super::{Answer, Field, SentRequest, Step, StepError};
use crate::model::{AuthMethod, Client, GrantType, random_token};
use crate::oauth::params::Params;
use crate::{Error, Result};

/// The flows a trial can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TrialFlow {
    AuthorizationCode,
    ClientCredentials,
    DeviceCode,
    RefreshToken,
    Password,
}

impl TrialFlow {
    pub fn grant(self) -> GrantType {
        match self {
            TrialFlow::AuthorizationCode => GrantType::AuthorizationCode,
            TrialFlow::ClientCredentials => GrantType::ClientCredentials,
            TrialFlow::DeviceCode => GrantType::DeviceCode,
            TrialFlow::RefreshToken => GrantType::RefreshToken,
            TrialFlow::Password => GrantType::Password,
        }
    }
}

/// What the person chose in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default)]
pub struct TrialInput {
    pub client_id: String,
    pub flow: Option<TrialFlow>,
    /// Space-separated; the client's allowed scopes when empty.
    pub scope: Option<String>,
    /// `prompt` of the authorization request (`login`, `consent`, `none`, …).
    pub prompt: Option<String>,
    /// More parameters of the authorization (or token) request; they win over ours.
    pub extra: BTreeMap<String, String>,
    /// The password grant's persona.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The refresh grant's token (the window offers the last one it received).
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Waiting for the browser (the authorization) or for the device's approval.
    Waiting,
    Done,
    Failed,
    Cancelled,
}

/// Where the person has to go while the trial waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Waiting {
    pub url: String,
    /// The device flow's user code.
    pub user_code: Option<String>,
    /// The loopback redirect URI the window listens on (authorization code flow).
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Trial {
    pub id: String,
    pub client_id: String,
    pub flow: TrialFlow,
    pub state: TrialState,
    pub steps: Vec<Step>,
    pub waiting: Option<Waiting>,
}

/// The provider a trial talks to.
#[derive(Debug, Clone)]
pub struct Target {
    pub issuer: String,
    /// The CA certificate (PEM): the only root the trial trusts.
    pub ca_pem: Vec<u8>,
    /// Its path, for the `curl` lines.
    pub ca_path: String,
    /// The provider's clock (client assertions' `iat` and `exp`).
    pub now: i64,
}

/// The second half of a trial that waits.
pub struct Pending {
    run: Runner,
    kind: PendingKind,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

enum PendingKind {
    Code {
        callback: oneshot::Receiver<String>,
        state: String,
        verifier: String,
        redirect_uri: String,
        listener: tokio::task::JoinHandle<()>,
    },
    Device {
        device_code: String,
        interval: u64,
        expires_in: u64,
    },
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let PendingKind::Code { listener, .. } = &self.kind {
            listener.abort();
        }
    }
}

/// Endpoints, from discovery.
#[derive(Debug, Clone, Default)]
struct Endpoints {
    authorization: String,
    token: String,
    userinfo: Option<String>,
    device: Option<String>,
}

struct Runner {
    http: reqwest::Client,
    target: Target,
    client: Client,
    input: TrialInput,
    flow: TrialFlow,
    ep: Endpoints,
    trial: Trial,
}

/// How long a trial waits for the browser or the device's approval.
pub const WAIT_LIMIT: Duration = Duration::from_secs(600);

fn http_client(target: &Target) -> Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(&target.ca_pem)
        .map_err(|e| Error::Other(format!("cannot read the Authdesk CA: {e}")))?;
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Other(format!("cannot make the HTTP client: {e}")))
}

fn url_with(base: &str, params: &[(String, String)]) -> String {
    match Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

/// Starts a trial: sends the requests that need no person, and answers the trial with
/// its steps so far and, when it waits, the half that [`finish`] completes.
pub async fn begin(
    target: Target,
    client: Client,
    input: TrialInput,
) -> Result<(Trial, Option<Pending>)> {
    let flow = input.flow.unwrap_or(TrialFlow::AuthorizationCode);
    let mut run = Runner {
        http: http_client(&target)?,
        trial: Trial {
            id: random_token(12),
            client_id: client.client_id.clone(),
            flow,
            state: TrialState::Done,
            steps: Vec::new(),
            waiting: None,
        },
        target,
        client,
        input,
        flow,
        ep: Endpoints::default(),
    };
    if !run.discover().await {
        return Ok((run.failed(), None));
    }
    let kind = match flow {
        TrialFlow::AuthorizationCode => run.authorize().await?,
        TrialFlow::DeviceCode => run.device_authorization().await,
        TrialFlow::ClientCredentials => {
            let form = vec![("grant_type".into(), "client_credentials".into())];
            run.token(form, "Token request (client credentials)").await;
            None
        }
        TrialFlow::Password => {
            let form = vec![
                ("grant_type".into(), "password".into()),
                (
                    "username".into(),
                    run.input.username.clone().unwrap_or_default(),
                ),
                (
                    "password".into(),
                    run.input.password.clone().unwrap_or_default(),
                ),
            ];
            if let Some(tokens) = run.token(form, "Token request (password)").await {
                run.userinfo(&tokens).await;
            }
            None
        }
        TrialFlow::RefreshToken => {
            let form = vec![
                ("grant_type".into(), "refresh_token".into()),
                (
                    "refresh_token".into(),
                    run.input.refresh_token.clone().unwrap_or_default(),
                ),
            ];
            if let Some(tokens) = run.token(form, "Token request (refresh)").await {
                run.userinfo(&tokens).await;
            }
            None
        }
    };
    match kind {
        Some(kind) if run.trial.state == TrialState::Waiting => {
            Ok((run.trial.clone(), Some(Pending { run, kind })))
        }
        _ => Ok((run.trial.clone(), None)),
    }
}

/// Completes a waiting trial: the browser's redirect (then the code exchange and
/// userinfo), or the device's approval. `cancel` ends the wait.
pub async fn finish(mut pending: Pending, cancel: oneshot::Receiver<()>) -> Trial {
    let deadline = tokio::time::sleep(WAIT_LIMIT);
    tokio::pin!(deadline);
    tokio::pin!(cancel);
    let kind = std::mem::replace(
        &mut pending.kind,
        PendingKind::Device {
            device_code: String::new(),
            interval: 0,
            expires_in: 0,
        },
    );
    let run = &mut pending.run;
    match kind {
        PendingKind::Code {
            callback,
            state,
            verifier,
            redirect_uri,
            listener,
        } => {
            let query = tokio::select! {
                q = callback => q.ok(),
                _ = &mut deadline => None,
                _ = &mut cancel => { listener.abort(); return run.cancelled(); }
            };
            listener.abort();
            let Some(query) = query else {
                return run.timed_out();
            };
            run.trial.waiting = None;
            if let Some(code) = run.callback(&query, &state, &redirect_uri) {
                let form = vec![
                    ("grant_type".into(), "authorization_code".into()),
                    ("code".into(), code),
                    ("redirect_uri".into(), redirect_uri),
                    ("code_verifier".into(), verifier),
                ];
                if let Some(tokens) = run.token(form, "Token request (authorization code)").await {
                    run.userinfo(&tokens).await;
                }
            }
        }
        PendingKind::Device {
            device_code,
            mut interval,
            expires_in,
        } => {
            let started = Instant::now();
            let mut polls = 0u32;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(interval.max(1))) => {}
                    _ = &mut deadline => return run.timed_out(),
                    _ = &mut cancel => return run.cancelled(),
                }
                polls += 1;
                let form = vec![
                    (
                        "grant_type".to_string(),
                        GrantType::DeviceCode.as_str().to_string(),
                    ),
                    ("device_code".into(), device_code.clone()),
                ];
                let (step, body) = run.send_token(form, "Token request (device code)").await;
                match body
                    .as_ref()
                    .and_then(|b| b.get("error"))
                    .and_then(Value::as_str)
                {
                    Some("authorization_pending")
                        if started.elapsed().as_secs() < expires_in.max(1) =>
                    {
                        continue;
                    }
                    Some("slow_down") => {
                        interval += 5;
                        continue;
                    }
                    _ => {}
                }
                run.trial.waiting = None;
                let mut step = step;
                step.note = Some(format!(
                    "Polled {polls} time{} while the device waited for approval.",
                    if polls == 1 { "" } else { "s" }
                ));
                let ok = step.error.is_none();
                run.push(step);
                if ok && let Some(tokens) = body {
                    run.userinfo(&tokens).await;
                }
                break;
            }
        }
    }
    if run.trial.state == TrialState::Waiting {
        run.trial.state = TrialState::Done;
    }
    run.trial.clone()
}

impl Runner {
    fn push(&mut self, step: Step) {
        if step.error.is_some() {
            self.trial.state = TrialState::Failed;
            self.trial.waiting = None;
        }
        self.trial.steps.push(step);
    }

    fn failed(&mut self) -> Trial {
        self.trial.state = TrialState::Failed;
        self.trial.clone()
    }

    fn cancelled(&mut self) -> Trial {
        self.trial.state = TrialState::Cancelled;
        self.trial.waiting = None;
        self.trial.clone()
    }

    fn timed_out(&mut self) -> Trial {
        self.trial.waiting = None;
        if let Some(last) = self.trial.steps.last_mut() {
            last.error = Some(StepError {
                error: "timeout".into(),
                description: format!(
                    "nothing came back within {} minutes; start the trial again",
                    WAIT_LIMIT.as_secs() / 60
                ),
                fixes: Vec::new(),
            });
        }
        self.failed()
    }

    /// Sends a request and makes its step; a 4xx/5xx answer is the step's error.
    async fn send(&self, name: &str, title: &str, req: SentRequest) -> (Step, Option<Value>) {
        let curl = req.curl(&self.target.ca_path);
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or_default();
        let mut builder = self.http.request(method, &req.url);
        for h in &req.headers {
            builder = builder.header(&h.name, &h.value);
        }
        if !req.form.is_empty() {
            let pairs: Vec<(&str, &str)> = req
                .form
                .iter()
                .map(|f| (f.name.as_str(), f.value.as_str()))
                .collect();
            builder = builder.form(&pairs);
        }
        let started = Instant::now();
        let sent = builder.send().await;
        let mut step = Step {
            name: name.into(),
            title: title.into(),
            request: req,
            answer: None,
            elapsed_ms: None,
            error: None,
            note: None,
            curl,
        };
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                step.elapsed_ms = Some(started.elapsed().as_millis() as u64);
                step.error = Some(StepError {
                    error: "unreachable".into(),
                    description: format!(
                        "the request did not reach the provider: {e}; is it running (see the header)?"
                    ),
                    fixes: Vec::new(),
                });
                return (step, None);
            }
        };
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| Field {
                name: k.as_str().to_string(),
                value: v.to_str().unwrap_or("(not text)").to_string(),
                secret: false,
            })
            .collect();
        let text = res.text().await.unwrap_or_default();
        step.elapsed_ms = Some(started.elapsed().as_millis() as u64);
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if status >= 400 {
            let b = body.clone().unwrap_or(Value::Null);
            step.error = Some(StepError {
                error: b
                    .get("error")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("http_{status}"), str::to_string),
                description: b
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map_or_else(|| text.chars().take(500).collect(), str::to_string),
                fixes: Vec::new(),
            });
        }
        step.answer = Some(Answer {
            status,
            headers,
            body: body.clone().unwrap_or(Value::String(text)),
        });
        (step, body)
    }

    async fn discover(&mut self) -> bool {
        let url = format!("{}/.well-known/openid-configuration", self.target.issuer);
        let req = SentRequest {
            method: "GET".into(),
            url,
            headers: vec![Field::new("accept", "application/json")],
            form: Vec::new(),
        };
        let (step, body) = self.send("discovery", "Discovery", req).await;
        let ok = step.error.is_none();
        self.push(step);
        let Some(m) = body.filter(|_| ok) else {
            return false;
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        self.ep = Endpoints {
            authorization: s("authorization_endpoint").unwrap_or_default(),
            token: s("token_endpoint").unwrap_or_default(),
            userinfo: s("userinfo_endpoint"),
            device: s("device_authorization_endpoint"),
        };
        true
    }

    fn scope(&self) -> String {
        match self.input.scope.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            // Client credentials get the provider's default; a refresh keeps the grant's.
            _ if matches!(
                self.flow,
                TrialFlow::ClientCredentials | TrialFlow::RefreshToken
            ) =>
            {
                String::new()
            }
            _ => self.client.scopes.join(" "),
        }
    }

    /// The client's credentials as its registration says to send them.
    fn authenticate(
        &self,
        headers: &mut Vec<Field>,
        form: &mut Vec<(String, String)>,
    ) -> Result<()> {
        let id = self.client.client_id.clone();
        let secret = self.client.client_secret.clone().unwrap_or_default();
        match self.client.token_endpoint_auth_method {
            AuthMethod::ClientSecretBasic => {
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&id),
                    enc(&secret)
                ));
                headers.push(Field::new("authorization", format!("Basic {basic}")));
            }
            AuthMethod::ClientSecretPost => {
                form.push(("client_id".into(), id));
                form.push(("client_secret".into(), secret));
            }
            AuthMethod::None => form.push(("client_id".into(), id)),
            AuthMethod::ClientSecretJwt => {
                let now = self.target.now;
                let claims = json!({
                    "iss": id, "sub": id, "aud": self.ep.token,
                    "jti": random_token(16), "iat": now, "exp": now + 60,
                });
                let jwt = jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
                )
                .map_err(|e| Error::Other(format!("cannot sign the client assertion: {e}")))?;
                form.push((
                    "client_assertion_type".into(),
                    crate::oauth::client_auth::JWT_BEARER_ASSERTION.into(),
                ));
                form.push(("client_assertion".into(), jwt));
                form.push(("client_id".into(), id));
            }
            AuthMethod::PrivateKeyJwt => {
                return Err(Error::Other(format!(
                    "client '{id}' authenticates with private_key_jwt, and its private key is the app's, not Authdesk's: the window cannot sign for it. Try a client with a secret, or the playground client"
                )));
            }
        }
        Ok(())
    }

    /// The fixes for a refused request, from the comparison with the registration.
    fn fixes(&self, kind: &str, params: &[(String, String)]) -> Vec<compare::Fix> {
        let map: BTreeMap<String, String> = params.iter().cloned().collect();
        let detail = json!({"client_auth": self.client.token_endpoint_auth_method.as_str()});
        compare::compare(&self.client, kind, &map, &detail).fixes
    }

    async fn send_token(
        &self,
        mut form: Vec<(String, String)>,
        title: &str,
    ) -> (Step, Option<Value>) {
        let mut headers = vec![Field::new("accept", "application/json")];
        if let Err(e) = self.authenticate(&mut headers, &mut form) {
            let req = SentRequest {
                method: "POST".into(),
                url: self.ep.token.clone(),
                headers,
                form: Vec::new(),
            };
            let step = Step {
                name: "token".into(),
                title: title.into(),
                curl: req.curl(&self.target.ca_path),
                request: req,
                answer: None,
                elapsed_ms: None,
                error: Some(StepError {
                    error: "not_sent".into(),
                    description: e.to_string(),
                    fixes: Vec::new(),
                }),
                note: None,
            };
            return (step, None);
        }
        let scope = self.scope();
        let grant = form.first().map(|(_, g)| g.clone()).unwrap_or_default();
        if !scope.is_empty() && grant != "authorization_code" && !grant.ends_with("device_code") {
            form.push(("scope".into(), scope));
        }
        if self.flow != TrialFlow::AuthorizationCode {
            for (k, v) in &self.input.extra {
                form.retain(|(n, _)| n != k);
                form.push((k.clone(), v.clone()));
            }
        }
        let fields = form.iter().map(|(k, v)| Field::new(k, v.clone())).collect();
        let req = SentRequest {
            method: "POST".into(),
            url: self.ep.token.clone(),
            headers,
            form: fields,
        };
        let (mut step, body) = self.send("token", title, req).await;
        if let Some(err) = step.error.as_mut() {
            err.fixes = self.fixes("token", &form);
        }
        (step, body)
    }

    /// A token request; answers the token response when it succeeded.
    async fn token(&mut self, form: Vec<(String, String)>, title: &str) -> Option<Value> {
        let (step, body) = self.send_token(form, title).await;
        let ok = step.error.is_none();
        self.push(step);
        body.filter(|_| ok)
    }

    async fn userinfo(&mut self, tokens: &Value) {
        let (Some(url), Some(at)) = (
            self.ep.userinfo.clone(),
            tokens.get("access_token").and_then(Value::as_str),
        ) else {
            return;
        };
        let openid = tokens
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|x| x == "openid"));
        if !openid {
            return;
        }
        let req = SentRequest {
            method: "GET".into(),
            url,
            headers: vec![
                Field::new("accept", "application/json"),
                Field::new("authorization", format!("Bearer {at}")),
            ],
            form: Vec::new(),
        };
        let (step, _) = self.send("userinfo", "UserInfo", req).await;
        self.push(step);
    }

    async fn authorize(&mut self) -> Result<Option<PendingKind>> {
        let (listener, redirect_uri) = loopback(&self.client).await?;
        let state = random_token(16);
        let verifier = random_token(32);
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        let scope = self.scope();
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.client.client_id.clone()),
            ("redirect_uri".into(), redirect_uri.clone()),
            ("scope".into(), scope.clone()),
            ("state".into(), state.clone()),
            ("code_challenge".into(), challenge),
            ("code_challenge_method".into(), "S256".into()),
        ];
        if scope.split(' ').any(|s| s == "openid") {
            params.push(("nonce".into(), random_token(16)));
        }
        if let Some(p) = self.input.prompt.clone().filter(|p| !p.trim().is_empty()) {
            params.push(("prompt".into(), p));
        }
        for (k, v) in &self.input.extra {
            params.retain(|(n, _)| n != k);
            params.push((k.clone(), v.clone()));
        }
        let url = url_with(&self.ep.authorization, &params);
        let req = SentRequest {
            method: "GET".into(),
            url: url.clone(),
            headers: Vec::new(),
            form: Vec::new(),
        };
        let mut step = Step {
            name: "authorize".into(),
            title: "Authorization request (browser)".into(),
            curl: req.curl(&self.target.ca_path),
            request: req,
            answer: None,
            elapsed_ms: None,
            error: None,
            note: None,
        };
        // The provider's own checks, before the browser goes: a client or redirect URI
        // it cannot trust is only explained on its page, never sent back to us.
        let map: BTreeMap<String, String> = params.iter().cloned().collect();
        if let Err(failure) =
            crate::oauth::authorize::validate(Some(self.client.clone()), &Params::from_map(map))
        {
            let e = failure.error();
            step.error = Some(StepError {
                error: e.code.as_str().to_string(),
                description: e.description.clone(),
                fixes: self.fixes("authorize", &params),
            });
            step.note = Some(
                "Not sent: Authdesk would refuse it with this reason (checked with the provider's own rules)."
                    .into(),
            );
            self.push(step);
            return Ok(None);
        }
        let path = Url::parse(&redirect_uri)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "/callback".into());
        let (tx, rx) = oneshot::channel();
        let listener = tokio::spawn(serve_callback(listener, path, tx));
        step.note = Some(format!(
            "Waiting for the browser to come back to {redirect_uri}."
        ));
        self.push(step);
        self.trial.state = TrialState::Waiting;
        self.trial.waiting = Some(Waiting {
            url,
            user_code: None,
            redirect_uri: Some(redirect_uri.clone()),
        });
        Ok(Some(PendingKind::Code {
            callback: rx,
            state,
            verifier,
            redirect_uri,
            listener,
        }))
    }

    /// The browser's return to the loopback listener: the code, or the step's error.
    fn callback(&mut self, query: &str, state: &str, redirect_uri: &str) -> Option<String> {
        let got: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let url = format!("{redirect_uri}?{query}");
        let req = SentRequest {
            method: "GET".into(),
            url: url.clone(),
            headers: Vec::new(),
            form: got.iter().map(|(k, v)| Field::new(k, v.clone())).collect(),
        };
        let mut step = Step {
            name: "callback".into(),
            title: "Redirect back to the app (loopback)".into(),
            curl: String::new(),
            request: req,
            answer: None,
            elapsed_ms: None,
            error: None,
            note: None,
        };
        let fail = |error: &str, description: String| StepError {
            error: error.into(),
            description,
            fixes: Vec::new(),
        };
        if let Some(err) = got.get("error") {
            step.error = Some(fail(
                err,
                got.get("error_description")
                    .cloned()
                    .unwrap_or_else(|| "the provider gave no description".into()),
            ));
        } else if got.get("state").map(String::as_str) != Some(state) {
            step.error = Some(fail(
                "state_mismatch",
                "the state that came back is not the one sent: the redirect does not answer this request".into(),
            ));
        } else if got.get("iss").is_some_and(|i| i != &self.target.issuer) {
            step.error = Some(fail(
                "iss_mismatch",
                format!(
                    "iss {} is not the issuer {} (RFC 9207): the answer comes from another provider",
                    got.get("iss").map(String::as_str).unwrap_or_default(),
                    self.target.issuer
                ),
            ));
        } else if !got.contains_key("code") {
            step.error = Some(fail(
                "invalid_request",
                "the redirect carries no code".into(),
            ));
        }
        let code = got.get("code").cloned().filter(|_| step.error.is_none());
        if code.is_some() {
            step.note = Some("state matches; iss is the issuer (RFC 9207).".into());
        }
        self.push(step);
        code
    }

    async fn device_authorization(&mut self) -> Option<PendingKind> {
        let Some(url) = self.ep.device.clone() else {
            self.push(Step {
                name: "device_authorization".into(),
                title: "Device authorization".into(),
                request: SentRequest {
                    method: "POST".into(),
                    url: String::new(),
                    headers: Vec::new(),
                    form: Vec::new(),
                },
                answer: None,
                elapsed_ms: None,
                error: Some(StepError {
                    error: "not_supported".into(),
                    description: "discovery names no device_authorization_endpoint".into(),
                    fixes: Vec::new(),
                }),
                note: None,
                curl: String::new(),
            });
            return None;
        };
        let mut headers = vec![Field::new("accept", "application/json")];
        let mut form: Vec<(String, String)> = Vec::new();
        if let Err(e) = self.authenticate(&mut headers, &mut form) {
            tracing::debug!(error = %e, "device authorization without client authentication");
        }
        if !form.iter().any(|(k, _)| k == "client_id") {
            form.push(("client_id".into(), self.client.client_id.clone()));
        }
        let scope = self.scope();
        if !scope.is_empty() {
            form.push(("scope".into(), scope));
        }
        let req = SentRequest {
            method: "POST".into(),
            url,
            headers,
            form: form.iter().map(|(k, v)| Field::new(k, v.clone())).collect(),
        };
        let (mut step, body) = self
            .send("device_authorization", "Device authorization", req)
            .await;
        if let Some(err) = step.error.as_mut() {
            form.push((
                "grant_type".into(),
                GrantType::DeviceCode.as_str().to_string(),
            ));
            err.fixes = self.fixes("token", &form);
        }
        let ok = step.error.is_none();
        let body = body.filter(|_| ok)?;
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let visit = s("verification_uri_complete").or_else(|| s("verification_uri"))?;
        step.note = Some(format!(
            "Open {visit} and approve as a persona (user code {}).",
            s("user_code").unwrap_or_default()
        ));
        self.push(step);
        self.trial.state = TrialState::Waiting;
        self.trial.waiting = Some(Waiting {
            url: visit,
            user_code: s("user_code"),
            redirect_uri: None,
        });
        Some(PendingKind::Device {
            device_code: s("device_code").unwrap_or_default(),
            interval: body.get("interval").and_then(Value::as_u64).unwrap_or(5),
            expires_in: body
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(600),
        })
    }
}

/// The loopback listener and its redirect URI: a registered loopback URI whose port
/// is free (so a confidential client's exact match holds), a public client's
/// port-less loopback URI on any port, else `http://127.0.0.1:<free port>/callback`
/// (which the client may not have registered: the trial then suggests adding it).
pub async fn loopback(client: &Client) -> Result<(TcpListener, String)> {
    for r in &client.redirect_uris {
        let Ok(u) = Url::parse(r) else { continue };
        let loopback = matches!(
            u.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        );
        if u.scheme() != "http" || !loopback || u.query().is_some() {
            continue;
        }
        let ip = if u.host_str() == Some("[::1]") {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        match u.port() {
            Some(port) => {
                if let Ok(l) = TcpListener::bind(format!("{ip}:{port}")).await {
                    return Ok((l, r.clone()));
                }
            }
            None if client.is_public() => {
                if let Ok(l) = TcpListener::bind(format!("{ip}:0")).await {
                    let port = l
                        .local_addr()
                        .map_err(|e| Error::io("loopback listener", e))?
                        .port();
                    let mut with = u.clone();
                    let _ = with.set_port(Some(port));
                    return Ok((l, with.to_string()));
                }
            }
            None => {}
        }
    }
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::io("cannot listen on a loopback port", e))?;
    let port = l
        .local_addr()
        .map_err(|e| Error::io("loopback listener", e))?
        .port();
    Ok((l, format!("http://127.0.0.1:{port}/callback")))
}

const RECEIVED_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Authdesk</title><body style=\"font-family:system-ui;margin:3em\"><h1>Back in Authdesk</h1><p>The window received the redirect and continues the sign-in. You can close this tab.</p>";

/// Answers requests on the loopback port until one arrives at `path`; sends its query.
async fn serve_callback(listener: TcpListener, path: String, tx: oneshot::Sender<String>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::with_capacity(2048);
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 2048];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        if read.is_err() {
            continue;
        }
        let head = String::from_utf8_lossy(&buf);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("");
        let (p, q) = target.split_once('?').unwrap_or((target, ""));
        if p == path {
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{RECEIVED_PAGE}",
                RECEIVED_PAGE.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
            let _ = tx.send(q.to_string());
            return;
        }
        let _ = sock
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    }
}
