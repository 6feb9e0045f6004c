//! The provider under test: [`TestProvider`] is the real provider, started in-process
//! on a loopback port 0 over its own temporary data directory ([`DataDir`], by default
//! a copy of a [`template`] made once per run), with a [`ManualClock`] the test moves
//! instead of sleeping, and an HTTPS client that trusts only that directory's CA.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use authdesk::Core;
use authdesk::clock::{Clock, ManualClock};
use authdesk::config::ServeOptions;
use authdesk::events::RequestEntry;
use authdesk::model::{Client, ClientInput};
use authdesk::server::{Provider, bind};
use authdesk::tls::ExportFormat;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::{
    Auth, Browser, Code, EVENT_TIMEOUT, Events, Pkce, REDIRECT, REQUEST_TIMEOUT, Reply,
    error_chain, query_of, stored_entries, trusting,
};

/// `serve --auto-approve USER`: every authorization request is approved as `username`
/// without a page (registration open, as by default).
pub fn auto_approving(username: &str) -> ServeOptions {
    ServeOptions {
        auto_approve: Some(username.into()),
        ..Default::default()
    }
}

/// `serve` without flags: each authorization request waits for the consent page or
/// the window (registration open).
pub fn asking_consent() -> ServeOptions {
    ServeOptions::default()
}

/// One entry of the template data directory, parents before children.
enum TemplateEntry {
    Dir {
        path: PathBuf,
        mode: std::fs::Permissions,
    },
    File {
        path: PathBuf,
        bytes: Vec<u8>,
        mode: std::fs::Permissions,
    },
}

/// A data directory as a provider leaves it after its first start (personas seeded,
/// the sample API scopes, signing keys, CA and server certificate), made once per test
/// run and kept in memory: each test copies it instead of generating an RSA key, a CA
/// and password hashes again.
fn template() -> &'static [TemplateEntry] {
    static TEMPLATE: OnceLock<Vec<TemplateEntry>> = OnceLock::new();
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

async fn make_template() -> Vec<TemplateEntry> {
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
    authdesk::keys::KeySet::load_or_create(&core.store, core.clock.clone())
        .await
        .expect("signing keys");
    core.store.close().await;

    let mut entries = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(dir.path().join(&rel)).expect("the template lists") {
            let entry = entry.expect("a directory entry");
            let rel = rel.join(entry.file_name());
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                entries.push(TemplateEntry::Dir {
                    path: rel.clone(),
                    mode: meta.permissions(),
                });
                pending.push(rel);
            } else {
                entries.push(TemplateEntry::File {
                    bytes: std::fs::read(entry.path()).expect("a template file reads"),
                    mode: meta.permissions(),
                    path: rel,
                });
            }
        }
    }
    entries
}

/// A temporary data directory, removed with this value. Never the user's real one.
pub struct DataDir {
    _root: tempfile::TempDir,
    path: PathBuf,
}

impl DataDir {
    /// A data directory that does not exist yet: the provider creates it, and
    /// everything in it, as on a first start.
    pub fn empty() -> Self {
        let root = tempfile::tempdir().expect("a temporary directory");
        let path = root.path().join("data");
        DataDir { _root: root, path }
    }

    /// A copy of the [`template`]: what a provider leaves after its first start.
    pub fn from_template() -> Self {
        let dir = DataDir::empty();
        create_private_dir(&dir.path);
        for entry in template() {
            match entry {
                TemplateEntry::Dir { path, mode } => {
                    let path = dir.path.join(path);
                    std::fs::create_dir(&path).expect("a template directory");
                    std::fs::set_permissions(&path, mode.clone()).expect("its mode");
                }
                TemplateEntry::File { path, bytes, mode } => {
                    let path = dir.path.join(path);
                    std::fs::write(&path, bytes).expect("a template file");
                    std::fs::set_permissions(&path, mode.clone()).expect("its mode");
                }
            }
        }
        dir
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The data directory itself is owner-only, as the provider makes it.
fn create_private_dir(path: &Path) {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).expect("the data directory");
}

/// A running provider and what a test needs to talk to it.
pub struct TestProvider {
    pub provider: Provider,
    pub clock: Arc<ManualClock>,
    /// Trusts only this provider's CA; does not follow redirects; keeps no cookies.
    pub http: reqwest::Client,
    /// `https://localhost:PORT`, or the issuer override.
    pub issuer: String,
    /// The provider's CA, PEM.
    pub ca: Vec<u8>,
    options: ServeOptions,
    dir: DataDir,
}

impl TestProvider {
    /// A provider that approves every request as alice.
    pub async fn start() -> Self {
        Self::start_with(auto_approving("alice")).await
    }

    /// A provider with `options` (its port is ignored: always a free one) on a copy of
    /// the template.
    pub async fn start_with(options: ServeOptions) -> Self {
        Self::start_in(DataDir::from_template(), options).await
    }

    /// A provider over `dir`, which the test may have prepared (or left empty for a
    /// first start).
    pub async fn start_in(dir: DataDir, options: ServeOptions) -> Self {
        Self::launch(dir, Arc::new(ManualClock::starting_now()), options).await
    }

    async fn launch(dir: DataDir, clock: Arc<ManualClock>, options: ServeOptions) -> Self {
        // The provider's log goes to the test's captured output: a failing test shows
        // what the provider said (warnings and errors unless RUST_LOG says otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let core = Core::open_with_clock(dir.path(), clock.clone())
            .await
            .expect("the core opens the data directory");
        let listener = bind(SocketAddr::new(options.bind, 0)).expect("a free port");
        let provider = Provider::start_on(
            core,
            &ServeOptions {
                port: 0,
                ..options.clone()
            },
            listener,
        )
        .await
        .expect("the provider starts");
        let ca = provider
            .tls
            .export(ExportFormat::Pem)
            .expect("the CA exports as PEM");
        let http = client_builder(&ca, provider.addr)
            .build()
            .expect("an HTTP client");
        let issuer = provider.issuer.clone();
        TestProvider {
            provider,
            clock,
            http,
            issuer,
            ca,
            options,
            dir,
        }
    }

    /// Stops the provider (closing the database) and starts a new one on the same data
    /// directory, clock and options.
    pub async fn restart(self) -> Self {
        let TestProvider {
            provider,
            clock,
            http,
            options,
            dir,
            ..
        } = self;
        drop(http);
        provider.shutdown().await.expect("clean shutdown");
        Self::launch(dir, clock, options).await
    }

    /// Stops the provider cleanly (after closing this harness's own connections);
    /// returns its data directory for the test to look at.
    pub async fn stop(self) -> DataDir {
        let TestProvider {
            provider,
            http,
            dir,
            ..
        } = self;
        drop(http);
        provider.shutdown().await.expect("clean shutdown");
        dir
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client like [`TestProvider::http`] speaking only HTTP/1.1, or HTTP/2 (ALPN).
    pub fn client_speaking(&self, http2: bool) -> reqwest::Client {
        let builder = client_builder(&self.ca, self.provider.addr);
        let builder = if http2 { builder } else { builder.http1_only() };
        builder.build().expect("an HTTP client")
    }

    /// A browser without cookies yet.
    pub fn browser(&self) -> Browser {
        Browser::new(client_builder(&self.ca, self.provider.addr), &self.issuer)
    }

    /// Subscribes to the provider's events; subscribe before the request under test.
    pub fn events(&self) -> Events {
        Events::of(self.core())
    }

    /// Polls the stored request log until every entry of `ids` is there (the writer is
    /// asynchronous); returns them in the order of `ids`.
    pub async fn stored_entries(&self, ids: &[String]) -> Vec<RequestEntry> {
        stored_entries(self.core(), ids).await
    }

    /// Returns once the consent page's long-poll (`GET /authorize/wait`) for
    /// `request_id` is waiting for the decision, so that a decision taken in the window
    /// cannot slip in before it.
    pub async fn until_the_page_waits(&self, request_id: &str) {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let pending = self
                .provider
                .context
                .pending
                .get(request_id, self.now())
                .unwrap_or_else(|| panic!("{request_id} is not pending"));
            if pending.outcome.receiver_count() > 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the long-poll for {request_id} did not start within {EVENT_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
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

    /// GET /authorize with `params`, without following the answer.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> Reply {
        let mut url = Url::parse(&self.url("/authorize")).expect("the issuer is a URL");
        url.query_pairs_mut().extend_pairs(params);
        let res = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /authorize: {}", error_chain(&e)));
        Reply::read(res).await
    }

    /// Runs the authorization request of a code flow that the provider approves by
    /// itself (auto-approve) and returns the redirect's parameters.
    pub async fn approved_redirect(&self, params: &[(&str, &str)]) -> HashMap<String, String> {
        let reply = self.authorize(params).await;
        assert_eq!(
            reply.status,
            StatusCode::FOUND,
            "authorization should redirect: {}",
            reply.text
        );
        let params = query_of(&reply.location());
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
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], auth: &Auth<'_>) -> Reply {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.url(path));
        match *auth {
            Auth::None => {}
            Auth::Basic(id, secret) => {
                req = req.header(reqwest::header::AUTHORIZATION, super::basic(id, secret));
            }
            Auth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            Auth::Public(id) => form.push(("client_id", id)),
        }
        let res = req
            .form(&form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {}", error_chain(&e)));
        Reply::read(res).await
    }

    /// Approves `user_code` on the device verification page as `username`, as a
    /// person would: opens the page (its CSRF cookie and field), then posts the
    /// decision. Returns the decision's answer.
    pub async fn approve_device(&self, user_code: &str, username: &str) -> reqwest::Response {
        let page = Reply::read(
            self.http
                .get(self.url(&format!("/device?user_code={user_code}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let cookie = page
            .set_cookie("authdesk_device_csrf")
            .expect("the verification page sets its CSRF cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = super::hidden_input(&page.text, "csrf");
        self.http
            .post(self.url("/device"))
            .header(reqwest::header::COOKIE, &cookie)
            .form(&[
                ("user_code", user_code),
                ("csrf", &csrf),
                ("action", "approve"),
                ("username", username),
            ])
            .send()
            .await
            .unwrap()
    }

    /// POST /token.
    pub async fn token(&self, form: &[(&str, &str)], auth: &Auth<'_>) -> Reply {
        self.post_form("/token", form, auth).await
    }

    /// Exchanges `code` at the token endpoint, expecting success.
    pub async fn exchange(&self, code: &Code, auth: &Auth<'_>) -> Value {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &code.verifier),
            ],
            auth,
        )
        .await
        .ok()
    }

    /// GET `path` (`/api/me`, `/userinfo`) with `Authorization: Bearer token`.
    pub async fn bearer_get(&self, path: &str, token: &str) -> Reply {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {}", error_chain(&e)));
        Reply::read(res).await
    }

    /// RFC 7662 introspection of `token`, expecting a 200 answer.
    pub async fn introspect(&self, token: &str, auth: &Auth<'_>) -> Value {
        self.post_form("/introspect", &[("token", token)], auth)
            .await
            .ok()
    }

    /// Verifies an id_token's signature against the provider's JWKS, its issuer and
    /// its audience `client_id`; returns its claims.
    pub async fn id_token_claims(&self, id_token: &str, client_id: &str) -> Value {
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(super::get_json(&self.http, &self.url("/jwks")).await)
                .expect("a JWK Set");
        let header = jsonwebtoken::decode_header(id_token).expect("id_token header");
        let kid = header.kid.clone().expect("id_token has a kid");
        let jwk = jwks
            .find(&kid)
            .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[client_id]);
        validation.set_issuer(&[&self.issuer]);
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .unwrap_or_else(|e| panic!("id_token does not verify: {e}"))
            .claims
    }
}

/// What every client of a test provider starts from: trusting only its CA, never
/// following redirects (the tests read `Location` themselves), reaching `localhost`
/// (which the issuer names) at the address the provider listens on.
fn client_builder(ca: &[u8], addr: SocketAddr) -> reqwest::ClientBuilder {
    trusting(ca)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .timeout(REQUEST_TIMEOUT)
}
