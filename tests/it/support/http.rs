//! HTTPS as the tests speak it: clients that trust only a provider's own CA (never the
//! built-in roots, never an invalid certificate), client authentication ([`Auth`]),
//! answers read once into a [`Reply`], and a [`Browser`] that keeps cookies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::Value;
use url::Url;

use super::{Authz, Code, ConsentForm, code_of, html_text, redirect_params, str_of};

/// How long one request may take before the test fails (the page's long-poll answers
/// within 25 s). It measures nothing: it only keeps a hung request from hanging the run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client builder that trusts only `ca_pem`: no built-in roots, no invalid
/// certificates.
pub fn trusting(ca_pem: &[u8]) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("CA PEM parses");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
}

/// An HTTPS client that trusts only `ca_pem`.
pub fn client_trusting(ca_pem: &[u8]) -> reqwest::Client {
    trusting(ca_pem).build().expect("HTTPS client")
}

/// GETs `url`, expecting `200` and a JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let res = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {}", error_chain(&e)));
    assert_eq!(res.status(), StatusCode::OK, "GET {url}");
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/json")
            || content_type.starts_with("application/jwk-set+json"),
        "GET {url}: content-type {content_type:?}"
    );
    res.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: body is not JSON: {e}"))
}

/// [`get_json`] for tests without an async runtime (on a thread of its own, so it works
/// from anywhere).
pub fn get_json_blocking(ca_pem: &[u8], url: &str) -> Value {
    let ca_pem = ca_pem.to_vec();
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async { get_json(&client_trusting(&ca_pem), &url).await })
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// An error with its sources, for assertion messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Client authentication for a form request.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// `client_secret_basic`
    Basic(&'a str, &'a str),
    /// `client_secret_post`
    Post(&'a str, &'a str),
    /// `none`: client_id only.
    Public(&'a str),
}

impl<'a> Auth<'a> {
    pub fn basic(id: &'a str, secret: &'a str) -> Self {
        Auth::Basic(id, secret)
    }
    pub fn post(id: &'a str, secret: &'a str) -> Self {
        Auth::Post(id, secret)
    }
    pub fn public(id: &'a str) -> Self {
        Auth::Public(id)
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

/// An HTTP answer, read once: its status, headers, body as text, and body as JSON
/// (`Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
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
            text: String::from_utf8_lossy(&bytes).into_owned(),
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

    /// A string field of the JSON body.
    pub fn str(&self, key: &str) -> &str {
        str_of(&self.body, key)
    }

    /// A header, which must be there.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("a visible-ASCII header")
    }

    /// The `Set-Cookie` header that sets cookie `name` (with its attributes), if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.split_once('=').is_some_and(|(n, _)| n == name))
    }

    /// The `Location` of a redirect, which must be there.
    pub fn location(&self) -> Url {
        let raw = self
            .headers
            .get(LOCATION)
            .unwrap_or_else(|| {
                panic!(
                    "expected a redirect, got {} without Location:\n{}",
                    self.status, self.text
                )
            })
            .to_str()
            .expect("an ASCII Location");
        Url::parse(raw).unwrap_or_else(|e| panic!("Location {raw} is not an absolute URL: {e}"))
    }

    /// The parameters of a redirect to [`super::REDIRECT`]; see [`redirect_params`].
    pub fn redirect_params(&self) -> HashMap<String, String> {
        redirect_params(self.location())
    }

    /// The body with HTML's character references undone, to search for text.
    pub fn html_text(&self) -> String {
        html_text(&self.text)
    }

    /// The consent form on this page.
    pub fn consent(&self) -> ConsentForm {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected the consent page, got {} (Location {:?}):\n{}",
            self.status,
            self.headers.get(LOCATION),
            self.text
        );
        ConsentForm::parse(&self.text)
    }

    /// Asserts an HTML page with `status` and no redirect.
    pub fn assert_page(&self, status: StatusCode) {
        assert_eq!(self.status, status, "body:\n{}", self.text);
        assert!(
            self.headers.get(LOCATION).is_none(),
            "a page was expected, but it redirects to {:?}",
            self.headers.get(LOCATION)
        );
        let content_type = self.headers.get(CONTENT_TYPE);
        assert!(
            content_type
                .and_then(|c| c.to_str().ok())
                .is_some_and(|c| c.starts_with("text/html")),
            "not HTML: {content_type:?}"
        );
    }

    /// Asserts the error page the authorization endpoint shows instead of redirecting
    /// to an untrusted URI: 400, HTML, no `Location`, the error `code`, and the cause
    /// (`mentions`, case-insensitive).
    pub fn assert_error_page(&self, code: &str, mentions: &[&str]) {
        self.assert_page(StatusCode::BAD_REQUEST);
        let page = self.html_text();
        assert!(
            page.contains(&format!("<code data-testid=\"error-code\">{code}</code>")),
            "the page does not show {code}:\n{page}"
        );
        super::assert_mentions_any_case(&page, mentions);
    }

    /// Asserts an RFC 6749 §5.2 error: the status, the code, and that the description
    /// names the cause (`mentions`, case-insensitive), in RFC 6749's character set.
    pub fn assert_error(&self, status: StatusCode, code: &str, mentions: &[&str]) {
        assert_eq!(self.status, status, "status of {}", self.body);
        assert_eq!(self.body["error"], code, "error code of {}", self.body);
        let description = self.str("error_description");
        super::assert_rfc6749_text(description);
        super::assert_mentions_any_case(description, mentions);
    }
}

/// An HTTPS client that behaves like a browser: a cookie jar, no automatic redirects,
/// trusting only the provider's CA. Clones share the jar, like two requests of one
/// browser.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    jar: Arc<Jar>,
    issuer: String,
}

impl Browser {
    /// A browser without cookies yet, from a builder that already trusts the provider.
    pub fn new(builder: reqwest::ClientBuilder, issuer: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let http = builder
            .cookie_provider(Arc::clone(&jar))
            .build()
            .expect("HTTPS client");
        Browser {
            http,
            jar,
            issuer: issuer.to_string(),
        }
    }

    pub async fn get(&self, url: &str) -> Reply {
        let res = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {}", error_chain(&e)));
        Reply::read(res).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Reply {
        let res = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {}", error_chain(&e)));
        Reply::read(res).await
    }

    /// Opens the authorization URL of `authz`.
    pub async fn authorize(&self, authz: &Authz) -> Reply {
        self.get(&authz.url(&self.issuer)).await
    }

    /// Submits the consent form with `action` (`approve`/`deny`) and extra fields.
    pub async fn decide(&self, form: &ConsentForm, fields: &[(&str, &str)]) -> Reply {
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
    pub async fn approve_as(&self, form: &ConsentForm, username: &str, authz: &Authz) -> Code {
        let answer = self
            .decide(form, &[("action", "approve"), ("username", username)])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
        code_of(&answer.redirect_params(), authz, &self.issuer)
    }

    /// Signs in on the page as `username` for `authz`; returns the code.
    pub async fn sign_in(&self, username: &str, authz: &Authz) -> Code {
        let form = self.authorize(authz).await.consent();
        self.approve_as(&form, username, authz).await
    }

    /// The value of the provider session cookie in the jar, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let url = Url::parse(&self.issuer).expect("issuer URL");
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
