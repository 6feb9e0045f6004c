//! The protocol as the tests speak it: the redirect URIs the test clients register
//! (one constant each), PKCE, authorization requests and codes, reading a redirect's
//! parameters, asserting error responses, JWT claims, and the test clients.

use std::collections::HashMap;

use authdesk::model::{AuthMethod, ClientInput, ClientType, GrantType, random_token};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Digest;
use url::Url;

/// The redirect URI the test clients register (nothing listens there: the tests read
/// the redirect instead of following it).
pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// The post-logout redirect URI the test clients register.
pub const LOGOUT_REDIRECT: &str = "http://127.0.0.1:8765/signed-out";

/// A PKCE pair (RFC 7636), S256.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// An authorization code and the PKCE verifier it was requested with.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub code: String,
    pub verifier: String,
}

/// An authorization request for a code, as a relying party builds it: a `state` that
/// needs encoding, a nonce and an S256 PKCE challenge, plus any extra parameters.
#[derive(Debug, Clone)]
pub struct Authz {
    pub client_id: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub pkce: Pkce,
    pub extra: Vec<(String, String)>,
}

impl Authz {
    pub fn new(client_id: &str, scope: &str) -> Self {
        Authz {
            client_id: client_id.into(),
            scope: scope.into(),
            state: format!("st {}&=", random_token(8)),
            nonce: random_token(16),
            pkce: Pkce::new(),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// The authorization endpoint's URL for this request, redirecting to [`REDIRECT`].
    pub fn url(&self, issuer: &str) -> String {
        let mut url = Url::parse(&format!("{issuer}/authorize")).expect("issuer URL");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", REDIRECT)
                .append_pair("scope", &self.scope)
                .append_pair("state", &self.state)
                .append_pair("nonce", &self.nonce)
                .append_pair("code_challenge", &self.pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        url.into()
    }
}

/// The query parameters of `url`.
pub fn query_of(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The parameters of a redirect to [`REDIRECT`] (checked: scheme, host, port and
/// path), from the fragment when it has one (`response_mode=fragment`), else the query.
pub fn redirect_params(location: impl AsRef<str>) -> HashMap<String, String> {
    let location = location.as_ref();
    let url = Url::parse(location).unwrap_or_else(|e| panic!("Location {location}: {e}"));
    assert_eq!(
        &url[..url::Position::AfterPath],
        REDIRECT,
        "redirected somewhere else: {location}"
    );
    match url.fragment() {
        Some(f) => url::form_urlencoded::parse(f.as_bytes())
            .into_owned()
            .collect(),
        None => query_of(&url),
    }
}

/// The code of a successful authorization response, after checking `state` and `iss`.
pub fn code_of(params: &HashMap<String, String>, authz: &Authz, issuer: &str) -> Code {
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
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {params:?}"));
    Code {
        code: code.clone(),
        verifier: authz.pkce.verifier.clone(),
    }
}

/// Asserts an error authorization response (RFC 6749 §4.1.2.1): `error`, the request's
/// `state`, RFC 9207 `iss`, no code, and an `error_description` (if any) in RFC 6749's
/// character set. Returns the description, empty when there is none.
pub fn assert_redirect_error(
    params: &HashMap<String, String>,
    error: &str,
    state: &str,
    issuer: &str,
) -> String {
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(state),
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
    let description = params.get("error_description").cloned().unwrap_or_default();
    if params.contains_key("error_description") {
        assert_rfc6749_text(&description);
    }
    description
}

/// Asserts that `text` mentions each of `words`, ignoring case.
pub fn assert_mentions_any_case(text: &str, words: &[&str]) {
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

/// The claims of a JWT, without verifying it (verification: the client libraries, or
/// [`super::TestProvider::id_token_claims`] with the provider's JWKS).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// A string field of a JSON value, or a failure naming it.
pub fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {v}"))
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
/// (which every data directory from the template has).
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
