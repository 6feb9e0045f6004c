//! The provider under test and the small tools the flow tests share.
//!
//! Every [`TestProvider`] is the real provider: its own temporary data directory (a
//! copy of one that a provider has started in once, see [`template`]), a
//! [`ManualClock`] the test moves instead of sleeping, a listener on port 0, and an
//! HTTP client that trusts only the CA in that data directory and never follows
//! redirects (the tests read `Location` themselves).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use authdesk::Core;
use authdesk::clock::{Clock, ManualClock};
use authdesk::config::ServeOptions;
use authdesk::model::{AuthMethod, Client, ClientInput, ClientType, GrantType};
use authdesk::server::Provider;
use authdesk::tls::ExportFormat;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use serde_json::Value;
use sha2::Digest;
use url::Url;

/// The redirect URI the test clients register (nothing listens there: the tests read
/// the redirect instead of following it).
pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// One file of the template data directory.
struct TemplateFile {
    path: PathBuf,
    bytes: Vec<u8>,
    mode: std::fs::Permissions,
}

impl TemplateFile {
    fn write_into(&self, dir: &Path) {
        let path = dir.join(&self.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a template directory");
        }
        std::fs::write(&path, &self.bytes).expect("a template file");
        std::fs::set_permissions(&path, self.mode.clone()).expect("the template file's mode");
    }
}

/// A data directory as a provider leaves it after its first start (personas seeded,
/// sample scopes, signing keys, CA and server certificate), made once per test run
/// and kept in memory: each test copies it into its own temporary directory instead
/// of generating an RSA key, a CA and password hashes again.
fn template() -> &'static [TemplateFile] {
    static TEMPLATE: OnceLock<Vec<TemplateFile>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        // Its own runtime on its own thread: the caller is inside a test's runtime.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(make_template())
        })
        .join()
        .expect("the template is made")
    })
}

async fn make_template() -> Vec<TemplateFile> {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let clock = Arc::new(ManualClock::starting_now());
    let now = clock.now();
    let core = Core::open_with_clock(dir.path(), clock)
        .await
        .expect("the core opens a fresh data directory");
    // The sample API scopes of examples/seed.yaml.
    for name in ["api.read", "api.write"] {
        core.save_scope(authdesk::seed::ScopeInput {
            name: name.into(),
            description: Some(format!("test scope {name}")),
            claims: None,
        })
        .await
        .expect("the scope is valid");
    }
    // What Provider::start_on makes on a first start with the default options.
    let hosts = ServeOptions::default().extra_hosts();
    authdesk::tls::TlsMaterial::load_or_create(dir.path(), &hosts, now).expect("certificates");
    authdesk::keys::KeySet::load_or_create(&core.store, now)
        .await
        .expect("signing keys");
    core.store.close().await;

    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(dir.path().join(&rel)).expect("the template lists") {
            let entry = entry.expect("a directory entry");
            let rel = rel.join(entry.file_name());
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                pending.push(rel);
            } else {
                files.push(TemplateFile {
                    bytes: std::fs::read(entry.path()).expect("a template file reads"),
                    mode: meta.permissions(),
                    path: rel,
                });
            }
        }
    }
    files
}

/// How a test provider is served.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `serve --auto-approve USER`; `None` shows the consent page.
    pub auto_approve: Option<String>,
    pub registration_open: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            auto_approve: Some("alice".into()),
            registration_open: true,
        }
    }
}

pub struct TestProvider {
    pub provider: Provider,
    pub clock: Arc<ManualClock>,
    /// Trusts only this provider's CA; does not follow redirects.
    pub http: reqwest::Client,
    /// `https://localhost:PORT`
    pub issuer: String,
    /// The provider's CA, PEM.
    pub ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TestProvider {
    /// A provider that approves every request as alice.
    pub async fn start() -> Self {
        Self::start_with(Setup::default()).await
    }

    pub async fn start_with(setup: Setup) -> Self {
        // The provider's log goes to the test's captured output: a failing test shows
        // what the provider said (warnings and errors unless RUST_LOG says otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("a temporary data directory");
        for file in template() {
            file.write_into(dir.path());
        }
        let clock = Arc::new(ManualClock::starting_now());
        let core = Core::open_with_clock(dir.path(), clock.clone())
            .await
            .expect("the core opens a fresh data directory");
        let options = ServeOptions {
            port: 0,
            auto_approve: setup.auto_approve,
            registration_open: setup.registration_open,
            ..Default::default()
        };
        let listener = authdesk::server::bind("127.0.0.1:0".parse().expect("an address"))
            .expect("a free loopback port");
        let provider = Provider::start_on(core, &options, listener)
            .await
            .expect("the provider starts");
        let ca = provider
            .tls
            .export(ExportFormat::Pem)
            .expect("the CA exports as PEM");
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("the CA parses"))
            .redirect(reqwest::redirect::Policy::none())
            // The issuer names localhost; the listener is on 127.0.0.1 only.
            .resolve("localhost", provider.addr)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let issuer = provider.issuer.clone();
        TestProvider {
            provider,
            clock,
            http,
            issuer,
            ca,
            _dir: dir,
        }
    }

    /// A client like [`TestProvider::http`] speaking only HTTP/1.1, or HTTP/2 (ALPN).
    pub fn client_speaking(&self, http2: bool) -> reqwest::Client {
        let builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca).expect("the CA parses"))
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", self.provider.addr)
            .timeout(Duration::from_secs(30));
        let builder = if http2 { builder } else { builder.http1_only() };
        builder.build().expect("an HTTP client")
    }

    pub fn core(&self) -> &Core {
        self.provider.core()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The provider's current time, in seconds since the epoch.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub async fn add_client(&self, input: ClientInput) -> Client {
        self.core()
            .create_client(input)
            .await
            .expect("the test client is valid")
    }

    pub async fn sub_of(&self, username: &str) -> String {
        self.core()
            .get_user(username)
            .await
            .expect("the persona exists")
            .sub
    }

    /// The authorization endpoint's URL with `params`.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> Url {
        let mut url = Url::parse(&self.url("/authorize")).expect("the issuer is a URL");
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// GET /authorize with `params`, without following the answer.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.authorize_url(params))
            .send()
            .await
            .expect("the authorization endpoint answers")
    }

    /// Runs the authorization request of a code flow that the provider approves by
    /// itself (auto-approve) and returns the redirect's parameters.
    pub async fn approved_redirect(&self, params: &[(&str, &str)]) -> HashMap<String, String> {
        let res = self.authorize(params).await;
        assert_eq!(
            res.status(),
            StatusCode::FOUND,
            "authorization should redirect"
        );
        let params = query_of(&location(&res));
        assert!(
            params.contains_key("code"),
            "the redirect carries no code: {params:?}"
        );
        params
    }

    /// An authorization code for `client_id` with S256 PKCE, approved as the
    /// auto-approve persona; `extra` adds or overrides parameters.
    pub async fn code(&self, client_id: &str, extra: &[(&str, &str)]) -> Code {
        let pkce = Pkce::new();
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email offline_access"),
            ("state", "state-1"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.retain(|(pk, _)| pk != k);
            params.push((k, v));
        }
        let redirect = self.approved_redirect(&params).await;
        Code {
            code: redirect["code"].clone(),
            verifier: pkce.verifier,
        }
    }

    /// POSTs a form to `path` with the given client authentication.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], auth: &Auth) -> Reply {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.url(path));
        match auth {
            Auth::None => {}
            Auth::Basic(id, secret) => {
                req = req.header(reqwest::header::AUTHORIZATION, basic(id, secret));
            }
            Auth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            Auth::Public(id) => form.push(("client_id", id)),
        }
        Reply::read(req.form(&form).send().await.expect("the endpoint answers")).await
    }

    /// POST /token.
    pub async fn token(&self, form: &[(&str, &str)], auth: &Auth) -> Reply {
        self.post_form("/token", form, auth).await
    }

    /// Exchanges `code` at the token endpoint, expecting success.
    pub async fn exchange(&self, code: &Code, auth: &Auth) -> Value {
        let reply = self
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code.code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &code.verifier),
                ],
                auth,
            )
            .await;
        reply.ok()
    }

    /// GET `path` (`/api/me`, `/userinfo`) with `Authorization: Bearer token`.
    pub async fn bearer_get(&self, path: &str, token: &str) -> Reply {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the resource answers");
        Reply::read(res).await
    }

    /// RFC 7662 introspection of `token`, expecting a 200 answer.
    pub async fn introspect(&self, token: &str, auth: &Auth) -> Value {
        self.post_form("/introspect", &[("token", token)], auth)
            .await
            .ok()
    }
}

/// Client authentication for a form request.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `client_secret_basic`
    Basic(String, String),
    /// `client_secret_post`
    Post(String, String),
    /// `none`: client_id only.
    Public(String),
}

impl Auth {
    pub fn basic(id: &str, secret: &str) -> Self {
        Auth::Basic(id.into(), secret.into())
    }
    pub fn post(id: &str, secret: &str) -> Self {
        Auth::Post(id.into(), secret.into())
    }
    pub fn public(id: &str) -> Self {
        Auth::Public(id.into())
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, joined by a colon, then base64.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// An HTTP answer with its JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("the body arrives");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The body of a 200 answer.
    pub fn ok(self) -> Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected success, got {:?}",
            self.body
        );
        self.body
    }

    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string '{key}' in {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("a visible-ASCII header")
    }

    /// Asserts an RFC 6749 §5.2 error: the status, the code, and that the description
    /// names the cause (`mentions`, case-insensitive), in RFC 6749's character set.
    pub fn assert_error(&self, status: StatusCode, code: &str, mentions: &[&str]) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.body["error"], code, "error code of {}", self.body);
        let description = self.str("error_description");
        assert_rfc6749_text(description);
        assert_mentions(description, mentions);
    }
}

/// Asserts that `text` mentions each of `words`, ignoring case.
pub fn assert_mentions(text: &str, words: &[&str]) {
    let lower = text.to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "'{w}' is not mentioned in: {text}"
        );
    }
}

/// RFC 6749 §5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`.
pub fn assert_rfc6749_text(text: &str) {
    assert!(!text.is_empty(), "empty error_description");
    if let Some(c) = text
        .chars()
        .find(|c| !matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
    {
        panic!("error_description has {c:?}, outside RFC 6749 section 5.2's set: {text}");
    }
}

/// The `Location` of a redirect.
pub fn location(res: &reqwest::Response) -> Url {
    let raw = res
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location header (status {})", res.status()))
        .to_str()
        .expect("an ASCII Location");
    Url::parse(raw).expect("Location is an absolute URL")
}

/// The query parameters of `url`.
pub fn query_of(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// A PKCE pair (RFC 7636), S256.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = authdesk::model::random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// An authorization code and the PKCE verifier it was requested with.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub verifier: String,
}

/// The claims of a JWT, without verifying it (the tests that need verification use
/// the client libraries or `jsonwebtoken` with the provider's JWKS).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// Undoes the HTML escaping of the provider's pages, for asserting on their text.
pub fn html_text(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden input `name` in a page.
pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input '{name}' in the page"))
        + marker.len();
    let end = html[start..].find('"').expect("a closed attribute") + start;
    html_text(&html[start..end])
}

/// A confidential client for the code flow, with a known secret.
pub fn web_client(id: &str, secret: &str) -> ClientInput {
    ClientInput {
        client_id: Some(id.into()),
        client_secret: Some(secret.into()),
        name: Some(format!("Web app {id}")),
        client_type: Some(ClientType::Confidential),
        redirect_uris: Some(vec![REDIRECT.into()]),
        grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretBasic),
        ..Default::default()
    }
}

/// A public client (SPA / native app): no secret, PKCE required.
pub fn public_client(id: &str) -> ClientInput {
    ClientInput {
        client_id: Some(id.into()),
        name: Some(format!("Native app {id}")),
        client_type: Some(ClientType::Public),
        redirect_uris: Some(vec![REDIRECT.into()]),
        grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        ..Default::default()
    }
}

/// A backend service with the client_credentials grant and the `api.read` scope
/// (which every test provider has).
pub fn service_client(id: &str, secret: &str) -> ClientInput {
    ClientInput {
        client_id: Some(id.into()),
        client_secret: Some(secret.into()),
        name: Some(format!("Service {id}")),
        client_type: Some(ClientType::Confidential),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        scopes: Some(vec!["api.read".into()]),
        token_endpoint_auth_method: Some(AuthMethod::ClientSecretBasic),
        ..Default::default()
    }
}
