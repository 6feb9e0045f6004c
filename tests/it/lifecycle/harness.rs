//! What the lifecycle tests share: a provider started in-process over a temporary data
//! directory with a [`ManualClock`], a confidential client, a "browser" (an HTTPS
//! client with a cookie jar that trusts only the provider's CA and never follows
//! redirects), the consent form read out of the page, the event bus and the stored
//! request log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk::Core;
use authdesk::clock::ManualClock;
use authdesk::config::ServeOptions;
use authdesk::events::ProviderEvent;
use authdesk::events::{RequestEntry, RequestStatus};
use authdesk::model::{ClientInput, GrantType};
use authdesk::server::{Provider, bind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION};
use serde_json::Value;
use sha2::Digest;
use tokio::sync::broadcast;

use crate::support::{Sandbox, error_chain, provider_ca_pem};

/// The confidential web client every test uses.
pub const CLIENT: &str = "lifecycle-web";
pub const SECRET: &str = "lifecycle-web-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
pub const LOGOUT_URI: &str = "http://127.0.0.1:8765/signed-out";
/// The scopes of a first sign-in; tests ask for `email` on top to need new consent.
pub const SCOPES: &str = "openid profile offline_access";

/// How long an event may take to arrive. Exceeding it fails the test; it measures
/// nothing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the background writer may take to store a log entry.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(30);

/// One provider on a temporary data directory, with a clock the test moves.
pub struct Lab {
    pub sandbox: Sandbox,
    pub clock: Arc<ManualClock>,
    pub provider: Provider,
    pub ca: Vec<u8>,
}

impl Lab {
    /// A fresh provider with the lifecycle client registered.
    pub async fn start() -> Lab {
        let sandbox = Sandbox::new();
        let clock = Arc::new(ManualClock::starting_now());
        let core = open(&sandbox, &clock).await;
        core.create_client(ClientInput {
            client_id: Some(CLIENT.into()),
            client_secret: Some(SECRET.into()),
            name: Some("Lifecycle web app".into()),
            redirect_uris: Some(vec![REDIRECT_URI.into()]),
            post_logout_redirect_uris: Some(vec![LOGOUT_URI.into()]),
            grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
            scopes: Some(
                ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
            ),
            ..Default::default()
        })
        .await
        .expect("create the lifecycle client");
        Lab::serve(sandbox, clock, core).await
    }

    async fn serve(sandbox: Sandbox, clock: Arc<ManualClock>, core: Core) -> Lab {
        let listener = bind("127.0.0.1:0".parse().expect("address")).expect("bind port 0");
        let options = ServeOptions {
            port: 0,
            ..Default::default()
        };
        let provider = Provider::start_on(core, &options, listener)
            .await
            .expect("start the provider");
        let ca = provider_ca_pem(&provider);
        Lab {
            sandbox,
            clock,
            provider,
            ca,
        }
    }

    /// Stops the provider (closing the database) and starts a new one on the same data
    /// directory and clock.
    pub async fn restart(self) -> Lab {
        let Lab {
            sandbox,
            clock,
            provider,
            ..
        } = self;
        provider.shutdown().await.expect("clean shutdown");
        let core = open(&sandbox, &clock).await;
        Lab::serve(sandbox, clock, core).await
    }

    pub fn core(&self) -> &Core {
        self.provider.core()
    }

    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.provider.issuer)
    }

    /// Subscribes to the provider's events; subscribe before the request under test.
    pub fn events(&self) -> Events {
        Events {
            rx: self.core().events.subscribe(),
            seen: Vec::new(),
        }
    }

    /// A browser without cookies yet.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca).expect("CA PEM"))
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(Arc::clone(&jar))
            .build()
            .expect("HTTPS client");
        Browser {
            http,
            jar,
            issuer: self.provider.issuer.clone(),
        }
    }

    /// An HTTPS client for the back channel: no cookies, no redirects.
    pub fn backchannel(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca).expect("CA PEM"))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTPS client")
    }

    /// Exchanges a code at the token endpoint (client_secret_basic, PKCE verifier).
    pub async fn exchange(&self, code: &str, authz: &Authz) -> Value {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &authz.verifier),
        ])
        .await
    }

    /// A successful token request as the lifecycle client.
    pub async fn token(&self, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.post_as_client("/token", SECRET, form).await;
        assert_eq!(status, StatusCode::OK, "token request {form:?}: {body}");
        body
    }

    /// POSTs `form` to `path` with HTTP Basic as the lifecycle client and `secret`.
    pub async fn post_as_client(
        &self,
        path: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let url = self.url(path);
        let res = self
            .backchannel()
            .post(&url)
            .basic_auth(CLIENT, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {}", error_chain(&e)));
        let status = res.status();
        let text = res.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("POST {url}: not JSON ({e}): {text}"))
        };
        (status, body)
    }

    /// RFC 7662 introspection of `token` by the lifecycle client.
    pub async fn introspect(&self, token: &str) -> Value {
        let (status, body) = self
            .post_as_client("/introspect", SECRET, &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "introspection: {body}");
        body
    }

    /// Verifies an id_token's signature against the provider's JWKS, its issuer and
    /// audience; returns its claims.
    pub async fn id_token_claims(&self, id_token: &str) -> Value {
        let url = self.url("/jwks");
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .backchannel()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {}", error_chain(&e)))
            .json()
            .await
            .expect("JWKS");
        let header = jsonwebtoken::decode_header(id_token).expect("id_token header");
        let kid = header.kid.clone().expect("id_token has a kid");
        let jwk = jwks
            .find(&kid)
            .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[CLIENT]);
        validation.set_issuer(&[self.issuer()]);
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .unwrap_or_else(|e| panic!("id_token does not verify: {e}"))
            .claims
    }

    pub async fn sub_of(&self, username: &str) -> String {
        self.core().get_user(username).await.expect("persona").sub
    }

    /// Polls the stored request log until every entry of `ids` is there (the writer is
    /// asynchronous); returns them in the order of `ids`.
    pub async fn stored_entries(&self, ids: &[String]) -> Vec<RequestEntry> {
        stored_entries(self.core(), ids).await
    }
}

async fn open(sandbox: &Sandbox, clock: &Arc<ManualClock>) -> Core {
    Core::open_with_clock(&sandbox.data_dir(), Arc::clone(clock) as _)
        .await
        .expect("open the data directory")
}

/// Polls `core`'s stored request log until every entry of `ids` is there.
pub async fn stored_entries(core: &Core, ids: &[String]) -> Vec<RequestEntry> {
    let deadline = Instant::now() + LOG_TIMEOUT;
    loop {
        let all = core
            .list_requests(None, None, 5000)
            .await
            .expect("read the request log");
        let found: Vec<RequestEntry> = ids
            .iter()
            .filter_map(|id| all.iter().find(|e| &e.id == id).cloned())
            .collect();
        if found.len() == ids.len() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the request log did not store {:?} within {LOG_TIMEOUT:?}; it has {:?}",
            ids.iter()
                .filter(|id| !all.iter().any(|e| &e.id == *id))
                .collect::<Vec<_>>(),
            all.iter()
                .map(|e| format!("{} {} {}", e.id, e.kind, e.status.as_str()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A subscription to the provider's events that remembers what it skipped, for
/// failure messages.
pub struct Events {
    rx: broadcast::Receiver<ProviderEvent>,
    seen: Vec<ProviderEvent>,
}

impl Events {
    /// The next event that `matches`, skipping others; fails after [`EVENT_TIMEOUT`].
    pub async fn next_where(
        &mut self,
        what: &str,
        matches: impl Fn(&ProviderEvent) -> bool,
    ) -> ProviderEvent {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(event)) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Ok(Err(e)) => panic!("event bus: {e} while waiting for {what}"),
                Err(_) => panic!(
                    "no {what} event within {EVENT_TIMEOUT:?}; events seen: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// The next request-log entry of `kind` with `status`.
    pub async fn request(&mut self, kind: &str, status: RequestStatus) -> RequestEntry {
        let what = format!("Request {{ kind: {kind}, status: {} }}", status.as_str());
        match self
            .next_where(&what, |e| {
                matches!(e, ProviderEvent::Request { entry } if entry.kind == kind && entry.status == status)
            })
            .await
        {
            ProviderEvent::Request { entry } => entry,
            _ => unreachable!(),
        }
    }

    /// Every event received since subscribing, without waiting for more.
    pub fn all_so_far(&mut self) -> &[ProviderEvent] {
        while let Ok(e) = self.rx.try_recv() {
            self.seen.push(e);
        }
        &self.seen
    }
}

/// An authorization request of the lifecycle client: state, nonce and a PKCE S256
/// challenge, plus any extra parameters.
#[derive(Debug, Clone)]
pub struct Authz {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub extra: Vec<(String, String)>,
    pub scope: String,
}

impl Authz {
    pub fn new(scope: &str) -> Self {
        Authz {
            state: format!("st {}&=", authdesk::model::random_token(8)),
            nonce: authdesk::model::random_token(16),
            verifier: authdesk::model::random_token(48),
            extra: Vec::new(),
            scope: scope.into(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    pub fn url(&self, issuer: &str) -> String {
        let challenge = B64URL.encode(sha2::Sha256::digest(self.verifier.as_bytes()));
        let mut url = url::Url::parse(&format!("{issuer}/authorize")).expect("issuer URL");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", CLIENT)
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("scope", &self.scope)
                .append_pair("state", &self.state)
                .append_pair("nonce", &self.nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        url.into()
    }
}

/// A response as a browser sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body with HTML's character references undone, to search for text.
    pub fn text(&self) -> String {
        self.body
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    pub fn location(&self) -> Option<&str> {
        self.header(LOCATION.as_str())
    }

    /// The parameters of a redirect to the client's redirect URI (query).
    pub fn redirect_params(&self) -> HashMap<String, String> {
        let location = self.location().unwrap_or_else(|| {
            panic!(
                "expected a redirect, got {} with body:\n{}",
                self.status, self.body
            )
        });
        redirect_params(location)
    }

    /// The consent form on this page.
    pub fn consent(&self) -> ConsentForm {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected the consent page, got {} (Location {:?}):\n{}",
            self.status,
            self.location(),
            self.body
        );
        ConsentForm::parse(&self.body)
    }

    /// Asserts an HTML page with `status` and no redirect.
    pub fn assert_page(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body:\n{}", self.body);
        assert!(
            self.location().is_none(),
            "a page was expected, but it redirects to {:?}",
            self.location()
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "not HTML: {:?}",
            self.header("content-type")
        );
    }
}

/// The parameters of a redirect URI's query, checked to go to [`REDIRECT_URI`].
pub fn redirect_params(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap_or_else(|e| panic!("Location {location}: {e}"));
    assert_eq!(
        format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ) + url.path(),
        REDIRECT_URI,
        "redirected somewhere else: {location}"
    );
    url.query_pairs().into_owned().collect()
}

/// The values a browser would submit from the consent form.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    pub request_id: String,
    pub csrf: String,
    pub personas: Vec<String>,
    /// The persona whose radio button is checked.
    pub checked: Option<String>,
    pub html: String,
}

/// The value of `attr="…"` inside `tag`, if any.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

impl ConsentForm {
    pub fn parse(html: &str) -> ConsentForm {
        let inputs: Vec<&str> = html
            .split("<input")
            .skip(1)
            .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag))
            .collect();
        let hidden = |name: &str| {
            inputs
                .iter()
                .find(|t| attr(t, "name") == Some(name) && attr(t, "type") == Some("hidden"))
                .and_then(|t| attr(t, "value"))
                .unwrap_or_else(|| panic!("no hidden {name} in the consent form:\n{html}"))
                .to_string()
        };
        let radios: Vec<&&str> = inputs
            .iter()
            .filter(|t| attr(t, "type") == Some("radio") && attr(t, "name") == Some("username"))
            .collect();
        ConsentForm {
            request_id: hidden("request_id"),
            csrf: hidden("csrf"),
            personas: radios
                .iter()
                .filter_map(|t| attr(t, "value"))
                .map(String::from)
                .collect(),
            checked: radios
                .iter()
                .find(|t| t.split_whitespace().any(|w| w == "checked"))
                .and_then(|t| attr(t, "value"))
                .map(String::from),
            html: html.to_string(),
        }
    }
}

/// An HTTPS client that behaves like a browser for these tests: a cookie jar, no
/// automatic redirects, trusting only the provider's CA. Clones share the jar, like
/// two requests of one browser.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    issuer: String,
}

impl Browser {
    pub async fn get(&self, url: &str) -> Answer {
        let res = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {}", error_chain(&e)));
        answer(res).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Answer {
        let res = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {}", error_chain(&e)));
        answer(res).await
    }

    /// Opens the authorization URL of `authz`.
    pub async fn authorize(&self, authz: &Authz) -> Answer {
        self.get(&authz.url(&self.issuer)).await
    }

    /// Submits the consent form with `action` (`approve`/`deny`) and extra fields.
    pub async fn decide(&self, form: &ConsentForm, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![
            ("request_id", form.request_id.as_str()),
            ("csrf", form.csrf.as_str()),
        ];
        all.extend_from_slice(fields);
        self.post_form(&format!("{}/authorize/decision", self.issuer), &all)
            .await
    }

    /// Approves on the page as `username`; returns the code after checking the
    /// redirect's `state` and `iss`.
    pub async fn approve_as(&self, form: &ConsentForm, username: &str, authz: &Authz) -> String {
        let answer = self
            .decide(form, &[("action", "approve"), ("username", username)])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        code_of(&answer.redirect_params(), authz, &self.issuer)
    }

    /// Signs in on the page as `username` for `authz`; returns the code.
    pub async fn sign_in(&self, username: &str, authz: &Authz) -> String {
        let form = self.authorize(authz).await.consent();
        self.approve_as(&form, username, authz).await
    }

    /// The value of the provider session cookie in the jar, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let url = url::Url::parse(&self.issuer).expect("issuer URL");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "authdesk_session")
            .map(|(_, v)| v.to_string())
    }
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.text().await.expect("response body");
    Answer {
        status,
        headers,
        body,
    }
}

/// The code of a successful authorization response, after checking `state` and `iss`.
pub fn code_of(params: &HashMap<String, String>, authz: &Authz, issuer: &str) -> String {
    assert_eq!(
        params.get("state"),
        Some(&authz.state),
        "state in {params:?}"
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(issuer),
        "iss in {params:?}"
    );
    assert!(
        params.get("error").is_none(),
        "an error came back: {params:?}"
    );
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"))
        .clone()
}

/// Asserts an error authorization response with `error`, `state` and `iss`; returns
/// its error_description.
pub fn assert_error_response(
    params: &HashMap<String, String>,
    error: &str,
    authz: &Authz,
    issuer: &str,
) -> String {
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert_eq!(
        params.get("state"),
        Some(&authz.state),
        "state in {params:?}"
    );
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(issuer),
        "iss in {params:?}"
    );
    assert!(
        params.get("code").is_none(),
        "a code came with an error: {params:?}"
    );
    params.get("error_description").cloned().unwrap_or_default()
}

/// A string field of a JSON value, or a failure naming it.
pub fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {v}"))
}
