//! The provider's records: clients, users (personas) and scopes, and the inputs that
//! create or change them. Inputs are validated into records by pure functions so the
//! CLI, the HTTP registration endpoint and the window refuse bad input the same way,
//! naming the field at fault.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;

/// Seconds since the Unix epoch; the unit of every timestamp the provider stores.
pub type Timestamp = i64;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The accepted spellings, for error messages.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err(format!("'{other}' is not one of: {}", Self::choices())),
                }
            }
        }
    };
}

wire_enum!(
    /// OAuth 2.0 grant types (RFC 6749, RFC 8628).
    GrantType {
        AuthorizationCode = "authorization_code",
        RefreshToken = "refresh_token",
        ClientCredentials = "client_credentials",
        Password = "password",
        Implicit = "implicit",
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
        JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer",
        TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
    }
);

/// An issuer whose signed assertions a client may trade for tokens with the JWT bearer
/// grant (RFC 7523 §2.1): its `iss` and the public keys that verify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The assertions' `iss`.
    pub issuer: String,
    /// Its public keys (a JWK Set).
    #[cfg_attr(feature = "ts-bindings", ts(type = "unknown"))]
    pub jwks: serde_json::Value,
}

wire_enum!(
    /// Authorization endpoint response types.
    ResponseType {
        Code = "code",
        Token = "token",
        IdToken = "id_token",
        IdTokenToken = "id_token token",
    }
);

wire_enum!(
    /// How a client authenticates at the token, revocation and introspection endpoints.
    AuthMethod {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        None = "none",
        ClientSecretJwt = "client_secret_jwt",
        PrivateKeyJwt = "private_key_jwt",
    }
);

wire_enum!(
    /// Confidential clients hold a secret or key; public clients (SPAs, native apps) do not.
    ClientType {
        Confidential = "confidential",
        Public = "public",
    }
);

wire_enum!(
    /// Access tokens are either RFC 9068 JWTs or opaque random strings.
    TokenFormat {
        Jwt = "jwt",
        Opaque = "opaque",
    }
);

wire_enum!(
    /// JWS algorithms the provider signs with.
    SigningAlg {
        Rs256 = "RS256",
        Es256 = "ES256",
        Ps256 = "PS256",
        EdDsa = "EdDSA",
    }
);

/// Default lifetimes, in seconds.
pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
pub const DEFAULT_ID_TOKEN_TTL: i64 = 3600;
/// Authorization codes live this long unless the client says otherwise (RFC 6749
/// §4.1.2 recommends at most 10 minutes).
pub const DEFAULT_CODE_TTL: i64 = 120;
/// The longest authorization-code lifetime a client may choose.
pub const MAX_CODE_TTL: i64 = 600;

fn default_code_ttl() -> i64 {
    DEFAULT_CODE_TTL
}
/// The longest lifetime a client may set, in seconds: ten years (more is a typo).
pub const MAX_TTL: i64 = 10 * 365 * 24 * 3600;

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Client {
    pub client_id: String,
    /// Present for confidential clients. Stored so `client_secret_jwt` can be verified
    /// and the window can show it; the database is owner-only.
    pub client_secret: Option<String>,
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    /// Scopes this client may request.
    pub scopes: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    /// PKCE is always required for public clients; this requires it for confidential ones too.
    pub require_pkce: bool,
    /// Accept the `plain` PKCE method (S256 is always accepted).
    pub allow_plain_pkce: bool,
    pub access_token_format: TokenFormat,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub access_token_ttl: i64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub refresh_token_ttl: i64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id_token_ttl: i64,
    /// Authorization-code lifetime, seconds (clients stored before it existed: 120).
    #[serde(default = "default_code_ttl")]
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub code_ttl: i64,
    pub id_token_signed_response_alg: SigningAlg,
    /// Skip the consent page: every request is approved as the chosen (or hinted) persona.
    pub auto_approve: bool,
    pub tags: Vec<String>,
    /// Public keys for `private_key_jwt` (a JWK Set).
    #[cfg_attr(feature = "ts-bindings", ts(type = "unknown"))]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys instead (RFC 7591 §2 `jwks_uri`):
    /// `https`, or `http` on a loopback address; fetched and cached by the provider.
    /// Never together with `jwks`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub updated_at: Timestamp,
    /// Claims added to this client's tokens and userinfo (issue 18).
    #[serde(default)]
    pub extra_claims: Vec<crate::token_shape::ClaimRule>,
    /// RFC 8707 resources (audiences) this client may ask for with `resource` (or
    /// Auth0's `audience`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// The access token's `aud` when no resource is asked for (else the client id).
    #[serde(default)]
    pub default_audience: Option<String>,
    /// Token shape of a popular identity provider (else the provider-wide one, if set).
    #[serde(default)]
    pub preset: Option<crate::token_shape::Preset>,
    /// The algorithm of JWT access tokens (clients stored before it existed: ES256).
    #[serde(default = "default_access_token_alg")]
    pub access_token_signed_response_alg: SigningAlg,
    /// Userinfo answers as a JWT signed with this algorithm (`application/jwt`);
    /// plain JSON when `None` (OIDC Dynamic Client Registration §2).
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// RFC 9126: authorization requests must be pushed to the PAR endpoint first.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101: accept request objects signed with `alg: none` (refused otherwise).
    #[serde(default)]
    pub allow_unsigned_request_objects: bool,
    /// RFC 9449 §5.2: tokens must be bound to a DPoP key (a plain Bearer request is refused).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Issuers besides the client itself whose assertions the JWT bearer grant accepts.
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// OpenID Connect Back-Channel Logout: where logout tokens are POSTed.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens must carry `sid` (they always do when the sign-in had a session).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
}

/// JWT access tokens are signed with ES256 unless a client chooses otherwise: fast to
/// sign and to verify.
pub const DEFAULT_ACCESS_TOKEN_ALG: SigningAlg = SigningAlg::Es256;

fn default_access_token_alg() -> SigningAlg {
    DEFAULT_ACCESS_TOKEN_ALG
}

/// A field that tells "absent" (`None`: keep) from `null` (`Some(None)`: clear).
fn absent_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }

    /// PKCE is mandatory for public clients (RFC 7636 / OAuth 2.1) and opt-in otherwise.
    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }
}

/// What a person or a seed file gives to create or replace a client. Every field but
/// `name` has a sensible default, chosen from the client type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default, deny_unknown_fields)]
pub struct ClientInput {
    /// Chosen by the caller or generated.
    pub client_id: Option<String>,
    /// Chosen by the caller or generated for confidential clients.
    pub client_secret: Option<String>,
    pub name: Option<String>,
    pub client_type: Option<ClientType>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    pub response_types: Option<Vec<ResponseType>>,
    pub scopes: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub require_pkce: Option<bool>,
    pub allow_plain_pkce: Option<bool>,
    pub access_token_format: Option<TokenFormat>,
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub access_token_ttl: Option<i64>,
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub refresh_token_ttl: Option<i64>,
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub id_token_ttl: Option<i64>,
    #[cfg_attr(feature = "ts-bindings", ts(as = "Option<f64>"))]
    pub code_ttl: Option<i64>,
    pub id_token_signed_response_alg: Option<SigningAlg>,
    pub auto_approve: Option<bool>,
    pub tags: Option<Vec<String>>,
    #[cfg_attr(feature = "ts-bindings", ts(optional, type = "unknown"))]
    pub jwks: Option<serde_json::Value>,
    /// The URL of the client's JWK Set; `""` removes it. Giving `jwks` or `jwks_uri`
    /// replaces the other.
    pub jwks_uri: Option<String>,
    pub extra_claims: Option<Vec<crate::token_shape::ClaimRule>>,
    pub resources: Option<Vec<String>>,
    /// `""` removes the default audience.
    pub default_audience: Option<String>,
    /// A preset's name (`entra_id`, `auth0`, `keycloak`, `cognito`, `okta`, `google`);
    /// `""` or `none` removes it.
    pub preset: Option<String>,
    pub access_token_signed_response_alg: Option<SigningAlg>,
    /// `null` turns signed userinfo off; absent keeps what the client has.
    #[serde(
        deserialize_with = "absent_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ts-bindings", ts(optional, type = "SigningAlg | null"))]
    pub userinfo_signed_response_alg: Option<Option<SigningAlg>>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub allow_unsigned_request_objects: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub trusted_issuers: Option<Vec<TrustedIssuer>>,
    /// `""` removes it.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
}

impl From<&Client> for ClientInput {
    fn from(c: &Client) -> Self {
        ClientInput {
            client_id: Some(c.client_id.clone()),
            client_secret: c.client_secret.clone(),
            name: Some(c.name.clone()),
            client_type: Some(c.client_type),
            redirect_uris: Some(c.redirect_uris.clone()),
            post_logout_redirect_uris: Some(c.post_logout_redirect_uris.clone()),
            grant_types: Some(c.grant_types.clone()),
            response_types: Some(c.response_types.clone()),
            scopes: Some(c.scopes.clone()),
            token_endpoint_auth_method: Some(c.token_endpoint_auth_method),
            require_pkce: Some(c.require_pkce),
            allow_plain_pkce: Some(c.allow_plain_pkce),
            access_token_format: Some(c.access_token_format),
            access_token_ttl: Some(c.access_token_ttl),
            refresh_token_ttl: Some(c.refresh_token_ttl),
            id_token_ttl: Some(c.id_token_ttl),
            code_ttl: Some(c.code_ttl),
            id_token_signed_response_alg: Some(c.id_token_signed_response_alg),
            auto_approve: Some(c.auto_approve),
            tags: Some(c.tags.clone()),
            jwks: c.jwks.clone(),
            jwks_uri: c.jwks_uri.clone(),
            extra_claims: Some(c.extra_claims.clone()),
            resources: Some(c.resources.clone()),
            default_audience: Some(c.default_audience.clone().unwrap_or_default()),
            preset: Some(c.preset.map(|p| p.as_str().to_string()).unwrap_or_default()),
            access_token_signed_response_alg: Some(c.access_token_signed_response_alg),
            userinfo_signed_response_alg: Some(c.userinfo_signed_response_alg),
            require_pushed_authorization_requests: Some(c.require_pushed_authorization_requests),
            allow_unsigned_request_objects: Some(c.allow_unsigned_request_objects),
            dpop_bound_access_tokens: Some(c.dpop_bound_access_tokens),
            trusted_issuers: Some(c.trusted_issuers.clone()),
            backchannel_logout_uri: Some(c.backchannel_logout_uri.clone().unwrap_or_default()),
            backchannel_logout_session_required: Some(c.backchannel_logout_session_required),
        }
    }
}

/// A back-channel logout URI (OIDC Back-Channel Logout 1.0 §2.2): absolute, `https`
/// or loopback `http`, without a fragment.
fn validate_backchannel_logout_uri(raw: &str) -> Result<String, Error> {
    const F: &str = "backchannel_logout_uri";
    let url = Url::parse(raw).map_err(|e| {
        field(
            F,
            format!("'{raw}' is not an absolute URL ({e}); write it in full, e.g. https://app.example.com/backchannel-logout"),
        )
    })?;
    if url.fragment().is_some() {
        return Err(field(
            F,
            format!(
                "'{raw}' has a #fragment, which a back-channel logout URI must not have; remove it"
            ),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_or_localhost(&url) => {}
        _ => {
            return Err(field(
                F,
                format!(
                    "'{raw}' must be https, or http on a loopback address (127.0.0.1, [::1], localhost)"
                ),
            ));
        }
    }
    Ok(url.to_string())
}

/// An issuer is a non-empty string without spaces (usually a URL), with a JWK Set of
/// at least one usable public key.
fn validate_trusted_issuer(t: &TrustedIssuer) -> Result<(), String> {
    let iss = t.issuer.as_str();
    if iss.is_empty() || iss.len() > 2048 || iss.chars().any(char::is_whitespace) {
        return Err(format!(
            "'{iss}' is not an issuer: give the assertions' iss value (usually a URL), without spaces"
        ));
    }
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(t.jwks.clone()).map_err(|e| {
        format!("the keys of issuer '{iss}' are not a JWK Set {{\"keys\": [...]}} ({e})")
    })?;
    if set.keys.is_empty() {
        return Err(format!(
            "issuer '{iss}' has no keys; give at least one public key"
        ));
    }
    for k in &set.keys {
        crate::keys::decoding_key(k)
            .map_err(|e| format!("a key of issuer '{iss}' is unusable ({e})"))?;
    }
    Ok(())
}

/// The scopes that exist on a fresh provider.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

fn field(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Validates a redirect URI as RFC 6749 §3.1.2 and RFC 8252 want it: absolute, no
/// fragment, and `https`, loopback `http`, or a private-use scheme for native apps.
pub fn validate_redirect_uri(field_name: &str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw).map_err(|e| {
        field(
            field_name,
            format!("'{raw}' is not an absolute URI ({e}); write it in full, e.g. http://127.0.0.1:8080/callback"),
        )
    })?;
    if url.fragment().is_some() {
        return Err(field(
            field_name,
            format!(
                "'{raw}' has a #fragment, which RFC 6749 §3.1.2 forbids in a redirect URI; remove it"
            ),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if !is_loopback_or_localhost(&url) => {
            return Err(field(
                field_name,
                format!(
                    "'{raw}' uses http on a non-local host; use https, or a loopback address (127.0.0.1, [::1], localhost)"
                ),
            ));
        }
        "http" => {}
        "javascript" | "data" | "file" | "vbscript" => {
            return Err(field(
                field_name,
                format!(
                    "'{raw}' uses the '{}' scheme, which is never a valid redirect target",
                    url.scheme()
                ),
            ));
        }
        // Private-use URI schemes for native apps are reverse domain names (RFC 8252
        // §7.1), e.g. com.example.app:/cb; `localhost:3000/cb` is a missing scheme.
        scheme if !scheme.contains('.') => {
            return Err(field(
                field_name,
                format!(
                    "'{raw}' has no http(s) scheme ('{scheme}:' is not one); write e.g. http://{raw}, or a reverse-domain private-use scheme like com.example.app:/callback"
                ),
            ));
        }
        _ => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        let mut without = url.clone();
        // Cannot fail: the URL has a host, since it has userinfo.
        let _ = without.set_username("");
        let _ = without.set_password(None);
        return Err(field(
            field_name,
            format!(
                "'{raw}' has userinfo (the part before '@'), which a redirect URI must not have: it makes the URI read like another host; write it as {without}"
            ),
        ));
    }
    if !written_normally(&url, raw) {
        return Err(field(
            field_name,
            format!(
                "'{raw}' is not written in normal form, and redirect URIs are matched exactly as written; write it as {url} (lower-case scheme and host, no default port, no '.' or '..' segments or backslashes, percent-encoded spaces)"
            ),
        ));
    }
    Ok(url)
}

/// Whether `raw` is the text the URL parser makes of it, so that what is registered is
/// what a browser or client library sends. One difference is allowed: an empty path
/// may be left out (`http://127.0.0.1:8080` for `http://127.0.0.1:8080/`), as both
/// are common; the URI is then matched as written.
fn written_normally(url: &Url, raw: &str) -> bool {
    if raw == url.as_str() {
        return true;
    }
    url.has_authority()
        && url.path() == "/"
        && raw.len() + 1 == url.as_str().len()
        && raw
            .strip_prefix(&url[..url::Position::BeforePath])
            .is_some_and(|rest| rest == &url[url::Position::AfterPath..])
}

/// The longest `jwks_uri`, in bytes.
pub const MAX_JWKS_URI_LEN: usize = 2048;

/// Validates a `jwks_uri` (RFC 7591 §2): an absolute `https` URL, or `http` on a
/// loopback address (a key server on the developer's machine); no fragment, no
/// userinfo.
pub fn validate_jwks_uri(raw: &str) -> Result<Url, Error> {
    const FIELD: &str = "jwks_uri";
    if raw.len() > MAX_JWKS_URI_LEN {
        return Err(field(
            FIELD,
            format!("the URL is longer than {MAX_JWKS_URI_LEN} characters"),
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
        field(
            FIELD,
            format!("'{raw}' is not an absolute URL ({e}); write it in full, e.g. https://app.example/jwks.json"),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_or_localhost(&url) => {}
        "http" => {
            return Err(field(
                FIELD,
                format!(
                    "'{raw}' uses http on a non-local host; keys are fetched over https, or over http only from a loopback address (127.0.0.1, [::1], localhost)"
                ),
            ));
        }
        other => {
            return Err(field(
                FIELD,
                format!(
                    "'{raw}' uses the '{other}' scheme; give an https URL (or http on a loopback address)"
                ),
            ));
        }
    }
    if url.host().is_none() {
        return Err(field(FIELD, format!("'{raw}' has no host")));
    }
    if url.fragment().is_some() {
        return Err(field(
            FIELD,
            format!("'{raw}' has a #fragment, which is never sent to the server; remove it"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(field(
            FIELD,
            format!("'{raw}' has userinfo (the part before '@'); remove it"),
        ));
    }
    Ok(url)
}

/// True for `http(s)://127.0.0.1`, `[::1]` and `localhost` — the hosts whose redirect
/// port may vary (RFC 8252 §7.3).
pub fn is_loopback_or_localhost(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The longest client id or username, in bytes.
pub const MAX_IDENTIFIER_LEN: usize = 200;

fn validate_identifier(field_name: &str, value: &str, what: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(field(field_name, format!("{what} must not be empty")));
    }
    if value.len() > MAX_IDENTIFIER_LEN {
        return Err(field(
            field_name,
            format!("{what} is longer than {MAX_IDENTIFIER_LEN} characters"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == ':')
    {
        return Err(field(
            field_name,
            format!("{what} '{value}' contains {c:?}; use letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

/// A scope token as RFC 6749 §3.3 defines it: printable ASCII except space, `"` and `\`.
pub fn validate_scope_name(field_name: &str, scope: &str) -> Result<(), Error> {
    if scope.is_empty()
        || !scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    {
        return Err(field(
            field_name,
            format!(
                "'{scope}' is not a valid scope token (printable ASCII without spaces, quotes or backslashes)"
            ),
        ));
    }
    Ok(())
}

fn validate_ttl(field_name: &str, v: i64) -> Result<i64, Error> {
    if !(1..=MAX_TTL).contains(&v) {
        return Err(field(
            field_name,
            format!("{v} is not a lifetime between 1 second and 10 years"),
        ));
    }
    Ok(v)
}

fn dedup<T: Ord + Clone>(v: Vec<T>) -> Vec<T> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// Generates a URL-safe random string with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    // ThreadRng is a CSPRNG (ChaCha) seeded and periodically reseeded from the OS, so a
    // token costs no system call.
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A generated client id: 16 letters and digits (95 bits). Never `-` or `_`, so the id
/// cannot begin like a command-line option (`authdesk clients show -w…`) and survives
/// being double-clicked, pasted into a shell or put in a URL unescaped.
pub fn random_client_id() -> String {
    use rand::{Rng, distributions::Alphanumeric};
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

/// A unique id that sorts by creation time: the second `now` in hex, a counter of this
/// process in hex, then 64 random bits (unique across processes). Rows keyed by it are
/// appended at the right edge of their table's b-tree, in order, so the rows of one
/// commit share pages and full pages stay full: a busy provider writes fewer pages per
/// commit, and an insert costs the same however large the table grows.
pub fn sortable_id(now: Timestamp) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    use base64::Engine;
    use rand::RngCore;
    use std::fmt::Write;
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
    // One allocation: every request-log entry gets an id.
    let mut random = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut random);
    let mut id = String::with_capacity(8 + 6 + 11);
    let _ = write!(id, "{:08x}{n:06x}", now.clamp(0, i64::from(u32::MAX)));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(random, &mut id);
    id
}

impl ClientInput {
    /// Builds the client record this input describes, on top of `existing` when editing.
    /// `known_scopes` are the scopes the provider defines.
    pub fn into_client(
        self,
        existing: Option<&Client>,
        known_scopes: &[String],
        now: Timestamp,
    ) -> Result<Client, Error> {
        let base = existing.cloned();
        let client_type = self
            .client_type
            .or(base.as_ref().map(|c| c.client_type))
            .unwrap_or(ClientType::Confidential);
        let name = self
            .name
            .or(base.as_ref().map(|c| c.name.clone()))
            .unwrap_or_default()
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(field("name", "a client needs a name, e.g. \"My web app\""));
        }
        let client_id = match (&base, self.client_id) {
            (Some(b), Some(id)) if id != b.client_id => {
                return Err(field(
                    "client_id",
                    format!(
                        "cannot change the client id of '{}'; create a new client instead",
                        b.client_id
                    ),
                ));
            }
            (Some(b), _) => b.client_id.clone(),
            (None, Some(id)) => id,
            (None, None) => random_client_id(),
        };
        validate_identifier("client_id", &client_id, "a client id")?;

        let grant_types = dedup(
            self.grant_types
                .or(base.as_ref().map(|c| c.grant_types.clone()))
                .unwrap_or_else(|| vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        );
        if grant_types.is_empty() {
            return Err(field(
                "grant_types",
                format!("allow at least one grant type: {}", GrantType::choices()),
            ));
        }
        let default_response_types = || {
            let mut r = Vec::new();
            if grant_types.contains(&GrantType::AuthorizationCode) {
                r.push(ResponseType::Code);
            }
            if grant_types.contains(&GrantType::Implicit) {
                r.push(ResponseType::Token);
                r.push(ResponseType::IdToken);
                r.push(ResponseType::IdTokenToken);
            }
            r
        };
        let response_types = dedup(
            self.response_types
                .or(base.as_ref().map(|c| c.response_types.clone()))
                .unwrap_or_else(default_response_types),
        );
        for rt in &response_types {
            let needs = match rt {
                ResponseType::Code => GrantType::AuthorizationCode,
                _ => GrantType::Implicit,
            };
            if !grant_types.contains(&needs) {
                return Err(field(
                    "response_types",
                    format!(
                        "response type '{rt}' needs the '{needs}' grant type; add it to grant_types or remove '{rt}'"
                    ),
                ));
            }
        }
        if client_type == ClientType::Public
            && (grant_types.contains(&GrantType::ClientCredentials))
        {
            return Err(field(
                "grant_types",
                "a public client cannot use client_credentials (it has no secret); make the client confidential",
            ));
        }

        let redirect_uris = dedup(
            self.redirect_uris
                .or(base.as_ref().map(|c| c.redirect_uris.clone()))
                .unwrap_or_default(),
        );
        for uri in &redirect_uris {
            validate_redirect_uri("redirect_uris", uri)?;
        }
        let redirect_needed = grant_types.contains(&GrantType::AuthorizationCode)
            || grant_types.contains(&GrantType::Implicit);
        if redirect_needed && redirect_uris.is_empty() {
            return Err(field(
                "redirect_uris",
                "the authorization_code and implicit grants need at least one redirect URI, e.g. http://127.0.0.1:8080/callback",
            ));
        }
        let post_logout_redirect_uris = dedup(
            self.post_logout_redirect_uris
                .or(base.as_ref().map(|c| c.post_logout_redirect_uris.clone()))
                .unwrap_or_default(),
        );
        for uri in &post_logout_redirect_uris {
            validate_redirect_uri("post_logout_redirect_uris", uri)?;
        }

        let scopes = dedup(
            self.scopes
                .or(base.as_ref().map(|c| c.scopes.clone()))
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
        );
        for s in &scopes {
            validate_scope_name("scopes", s)?;
            if !known_scopes.iter().any(|k| k == s) {
                return Err(field(
                    "scopes",
                    format!(
                        "scope '{s}' does not exist; known scopes: {} (create it first)",
                        known_scopes.join(" ")
                    ),
                ));
            }
        }

        let default_method = match client_type {
            ClientType::Public => AuthMethod::None,
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
        };
        let token_endpoint_auth_method = self
            .token_endpoint_auth_method
            .or(base.as_ref().map(|c| c.token_endpoint_auth_method))
            .filter(|m| {
                // A type change resets a method that no longer fits.
                !(client_type == ClientType::Confidential && *m == AuthMethod::None)
                    || self.client_type.is_none()
            })
            .unwrap_or(default_method);
        match (client_type, token_endpoint_auth_method) {
            (ClientType::Public, m) if m != AuthMethod::None => {
                return Err(field(
                    "token_endpoint_auth_method",
                    format!(
                        "a public client authenticates with 'none', not '{m}'; make the client confidential to use '{m}'"
                    ),
                ));
            }
            (ClientType::Confidential, AuthMethod::None) => {
                return Err(field(
                    "token_endpoint_auth_method",
                    "a confidential client must authenticate; choose client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt, or make the client public",
                ));
            }
            _ => {}
        }

        // The client's public keys come inline (jwks) or by URL (jwks_uri), never both;
        // giving one replaces the other, giving both is refused (RFC 7591 §2).
        let jwks_uri_given = self
            .jwks_uri
            .as_deref()
            .map(|u| u.trim().to_string())
            .map(|u| (!u.is_empty()).then_some(u));
        let (jwks, jwks_uri) = match (self.jwks, jwks_uri_given) {
            (Some(_), Some(Some(_))) => {
                return Err(field(
                    "jwks_uri",
                    "give the client's public keys either inline (jwks) or by URL (jwks_uri), not both (RFC 7591 section 2)",
                ));
            }
            (Some(j), _) => (Some(j), None),
            (None, Some(Some(uri))) => (None, Some(uri)),
            (None, Some(None)) => (base.as_ref().and_then(|c| c.jwks.clone()), None),
            (None, None) => (
                base.as_ref().and_then(|c| c.jwks.clone()),
                base.as_ref().and_then(|c| c.jwks_uri.clone()),
            ),
        };
        if let Some(uri) = &jwks_uri {
            validate_jwks_uri(uri)?;
        }
        if let Some(j) = &jwks
            && !j.get("keys").is_some_and(|k| k.is_array())
        {
            return Err(field(
                "jwks",
                "a JWK Set is an object with a \"keys\" array",
            ));
        }
        if token_endpoint_auth_method == AuthMethod::PrivateKeyJwt
            && jwks.is_none()
            && jwks_uri.is_none()
        {
            return Err(field(
                "jwks",
                "private_key_jwt needs the client's public keys: give a JWK Set {\"keys\": [...]}, or the URL it is published at (jwks_uri)",
            ));
        }

        let trusted_issuers = self
            .trusted_issuers
            .or(base.as_ref().map(|c| c.trusted_issuers.clone()))
            .unwrap_or_default();
        for (i, t) in trusted_issuers.iter().enumerate() {
            validate_trusted_issuer(t).map_err(|e| field("trusted_issuers", e))?;
            if trusted_issuers[..i].iter().any(|o| o.issuer == t.issuer) {
                return Err(field(
                    "trusted_issuers",
                    format!("issuer '{}' is trusted twice; keep one entry", t.issuer),
                ));
            }
        }
        if grant_types.contains(&GrantType::JwtBearer)
            && client_type == ClientType::Public
            && jwks.is_none()
            && jwks_uri.is_none()
            && trusted_issuers.is_empty()
        {
            return Err(field(
                "trusted_issuers",
                "the jwt-bearer grant needs keys to verify assertions: add a trusted issuer with its JWK Set, or the client's own public keys (jwks)",
            ));
        }

        let backchannel_logout_uri = match self.backchannel_logout_uri.as_deref().map(str::trim) {
            Some("") => None,
            Some(uri) => Some(validate_backchannel_logout_uri(uri)?),
            None => base.as_ref().and_then(|c| c.backchannel_logout_uri.clone()),
        };

        let client_secret = match client_type {
            ClientType::Public => None,
            ClientType::Confidential => Some(
                self.client_secret
                    .or(base.as_ref().and_then(|c| c.client_secret.clone()))
                    .unwrap_or_else(|| random_token(32)),
            ),
        };
        if let Some(s) = &client_secret
            && s.is_empty()
        {
            return Err(field("client_secret", "a client secret must not be empty"));
        }

        let access_token_ttl = validate_ttl(
            "access_token_ttl",
            self.access_token_ttl
                .or(base.as_ref().map(|c| c.access_token_ttl))
                .unwrap_or(DEFAULT_ACCESS_TOKEN_TTL),
        )?;
        let refresh_token_ttl = validate_ttl(
            "refresh_token_ttl",
            self.refresh_token_ttl
                .or(base.as_ref().map(|c| c.refresh_token_ttl))
                .unwrap_or(DEFAULT_REFRESH_TOKEN_TTL),
        )?;
        let id_token_ttl = validate_ttl(
            "id_token_ttl",
            self.id_token_ttl
                .or(base.as_ref().map(|c| c.id_token_ttl))
                .unwrap_or(DEFAULT_ID_TOKEN_TTL),
        )?;
        let code_ttl = self
            .code_ttl
            .or(base.as_ref().map(|c| c.code_ttl))
            .unwrap_or(DEFAULT_CODE_TTL);
        if !(1..=MAX_CODE_TTL).contains(&code_ttl) {
            return Err(field(
                "code_ttl",
                format!(
                    "{code_ttl} is not an authorization-code lifetime between 1 and {MAX_CODE_TTL} seconds (RFC 6749 section 4.1.2 recommends at most 10 minutes)"
                ),
            ));
        }
        let mut tags: Vec<String> = dedup(
            self.tags
                .or(base.as_ref().map(|c| c.tags.clone()))
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        );
        tags.sort();

        let extra_claims = self
            .extra_claims
            .or(base.as_ref().map(|c| c.extra_claims.clone()))
            .unwrap_or_default();
        for rule in &extra_claims {
            rule.validate().map_err(|e| field("extra_claims", e))?;
        }
        let resources = dedup(
            self.resources
                .or(base.as_ref().map(|c| c.resources.clone()))
                .unwrap_or_default(),
        );
        for r in &resources {
            crate::token_shape::validate_resource(r).map_err(|e| field("resources", e))?;
        }
        let default_audience = match self.default_audience {
            Some(a) if a.trim().is_empty() => None,
            Some(a) => Some(a.trim().to_string()),
            None => base.as_ref().and_then(|c| c.default_audience.clone()),
        };
        if let Some(a) = &default_audience {
            crate::token_shape::validate_resource(a).map_err(|e| field("default_audience", e))?;
        }
        let preset = match self.preset.as_deref().map(str::trim) {
            Some("") | Some("none") => None,
            Some(name) => {
                Some(crate::token_shape::Preset::parse(name).map_err(|e| field("preset", e))?)
            }
            None => base.as_ref().and_then(|c| c.preset),
        };

        Ok(Client {
            client_id,
            client_secret,
            name,
            client_type,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            scopes,
            token_endpoint_auth_method,
            require_pkce: self
                .require_pkce
                .or(base.as_ref().map(|c| c.require_pkce))
                .unwrap_or(false),
            allow_plain_pkce: self
                .allow_plain_pkce
                .or(base.as_ref().map(|c| c.allow_plain_pkce))
                .unwrap_or(false),
            access_token_format: self
                .access_token_format
                .or(base.as_ref().map(|c| c.access_token_format))
                .unwrap_or(TokenFormat::Jwt),
            access_token_ttl,
            refresh_token_ttl,
            id_token_ttl,
            code_ttl,
            id_token_signed_response_alg: self
                .id_token_signed_response_alg
                .or(base.as_ref().map(|c| c.id_token_signed_response_alg))
                .unwrap_or(SigningAlg::Rs256),
            auto_approve: self
                .auto_approve
                .or(base.as_ref().map(|c| c.auto_approve))
                .unwrap_or(false),
            tags,
            jwks,
            jwks_uri,
            trusted_issuers,
            backchannel_logout_uri,
            backchannel_logout_session_required: self
                .backchannel_logout_session_required
                .or(base.as_ref().map(|c| c.backchannel_logout_session_required))
                .unwrap_or(false),
            created_at: base.as_ref().map(|c| c.created_at).unwrap_or(now),
            updated_at: now,
            extra_claims,
            resources,
            default_audience,
            preset,
            access_token_signed_response_alg: self
                .access_token_signed_response_alg
                .or(base.as_ref().map(|c| c.access_token_signed_response_alg))
                .unwrap_or(DEFAULT_ACCESS_TOKEN_ALG),
            userinfo_signed_response_alg: match self.userinfo_signed_response_alg {
                Some(alg) => alg,
                None => base.as_ref().and_then(|c| c.userinfo_signed_response_alg),
            },
            require_pushed_authorization_requests: self
                .require_pushed_authorization_requests
                .or(base
                    .as_ref()
                    .map(|c| c.require_pushed_authorization_requests))
                .unwrap_or(false),
            allow_unsigned_request_objects: self
                .allow_unsigned_request_objects
                .or(base.as_ref().map(|c| c.allow_unsigned_request_objects))
                .unwrap_or(false),
            dpop_bound_access_tokens: self
                .dpop_bound_access_tokens
                .or(base.as_ref().map(|c| c.dpop_bound_access_tokens))
                .unwrap_or(false),
        })
    }
}

/// A mock identity. `sub` is stable for the life of the persona.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct User {
    pub sub: String,
    pub username: String,
    pub has_password: bool,
    /// Free-form OpenID Connect claims (`name`, `email`, …), always a JSON object.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown>"))]
    pub claims: serde_json::Map<String, serde_json::Value>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub updated_at: Timestamp,
}

/// Creates or edits a persona. `password: ""` removes the password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default, deny_unknown_fields)]
pub struct UserInput {
    pub username: Option<String>,
    pub sub: Option<String>,
    pub password: Option<String>,
    /// An argon2 PHC string, as `authdesk export` writes it.
    pub password_hash: Option<String>,
    #[cfg_attr(
        feature = "ts-bindings",
        ts(optional, type = "Record<string, unknown>")
    )]
    pub claims: Option<serde_json::Value>,
}

/// Claims the provider sets itself; a persona cannot override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "acr",
    "amr",
    "sid",
];

pub fn validate_username(username: &str) -> Result<(), Error> {
    validate_identifier("username", username, "a username")
}

/// Checks a claims value: a JSON object without reserved claim names.
pub fn validate_claims(
    value: serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let serde_json::Value::Object(map) = value else {
        return Err(field(
            "claims",
            "claims must be a JSON object, e.g. {\"name\": \"Carol\", \"email\": \"carol@example.com\"}",
        ));
    };
    if let Some(k) = map.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(field(
            "claims",
            format!("'{k}' is set by the provider and cannot be a persona claim; remove it"),
        ));
    }
    Ok(map)
}

/// A scope the provider knows, and the user claims it releases (OIDC Core §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub claims: Vec<String>,
}

impl Scope {
    pub fn defaults() -> Vec<Scope> {
        let s = |name: &str, description: &str, claims: &[&str]| Scope {
            name: name.into(),
            description: description.into(),
            claims: claims.iter().map(|c| c.to_string()).collect(),
        };
        vec![
            s("openid", "Sign you in and share a stable identifier", &[]),
            s(
                "profile",
                "Your name, username and profile details",
                &[
                    "name",
                    "family_name",
                    "given_name",
                    "middle_name",
                    "nickname",
                    "preferred_username",
                    "profile",
                    "picture",
                    "website",
                    "gender",
                    "birthdate",
                    "zoneinfo",
                    "locale",
                    "updated_at",
                ],
            ),
            s("email", "Your email address", &["email", "email_verified"]),
            s("address", "Your postal address", &["address"]),
            s(
                "phone",
                "Your phone number",
                &["phone_number", "phone_number_verified"],
            ),
            s(
                "offline_access",
                "Stay signed in: the app may refresh its access while you are away",
                &[],
            ),
        ]
    }
}

#[cfg(test)]
impl ClientInput {
    /// The client this input makes on a fresh provider (its default scopes known).
    pub(crate) fn test_client(self) -> Client {
        let scopes: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        self.into_client(None, &scopes, 0).unwrap()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_jwks_uri_is_https_or_loopback_http_and_replaces_inline_keys() {
        for ok in [
            "https://app.example/.well-known/jwks.json",
            "http://127.0.0.1:9000/jwks",
            "http://localhost:3000/keys",
            "http://[::1]/jwks",
        ] {
            assert!(validate_jwks_uri(ok).is_ok(), "{ok}");
        }
        for (bad, cause) in [
            ("jwks.json", "not an absolute URL"),
            ("http://app.example/jwks", "non-local host"),
            ("file:///etc/jwks.json", "'file' scheme"),
            ("https://app.example/jwks#k", "#fragment"),
            ("https://me@app.example/jwks", "userinfo"),
        ] {
            match validate_jwks_uri(bad).unwrap_err() {
                Error::Invalid { field, message } => {
                    assert_eq!(field, "jwks_uri");
                    assert!(message.contains(cause), "{bad}: {message}");
                }
                other => panic!("{other}"),
            }
        }

        let known: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        let jwks = serde_json::json!({"keys": []});
        let uri = "https://app.example/jwks";
        let input = |jwks: Option<serde_json::Value>, jwks_uri: Option<&str>| ClientInput {
            name: Some("Keys".into()),
            grant_types: Some(vec![GrantType::ClientCredentials]),
            token_endpoint_auth_method: Some(AuthMethod::PrivateKeyJwt),
            jwks,
            jwks_uri: jwks_uri.map(str::to_string),
            ..Default::default()
        };
        let by_url = input(None, Some(uri)).into_client(None, &known, 1).unwrap();
        assert_eq!(by_url.jwks_uri.as_deref(), Some(uri));
        match input(Some(jwks.clone()), Some(uri))
            .into_client(None, &known, 1)
            .unwrap_err()
        {
            Error::Invalid { field, message } => {
                assert_eq!(field, "jwks_uri");
                assert!(message.contains("not both"), "{message}");
            }
            other => panic!("{other}"),
        }
        // Editing: inline keys replace the URL, a URL replaces inline keys, "" removes it.
        let inline = input(Some(jwks.clone()), None)
            .into_client(Some(&by_url), &known, 2)
            .unwrap();
        assert_eq!(
            (inline.jwks.as_ref(), inline.jwks_uri.as_deref()),
            (Some(&jwks), None)
        );
        let back = ClientInput {
            jwks_uri: Some(uri.into()),
            ..Default::default()
        }
        .into_client(Some(&inline), &known, 3)
        .unwrap();
        assert_eq!(
            (back.jwks.as_ref(), back.jwks_uri.as_deref()),
            (None, Some(uri))
        );
        let kept = ClientInput::default()
            .into_client(Some(&back), &known, 4)
            .unwrap();
        assert_eq!(kept.jwks_uri.as_deref(), Some(uri));
        let Error::Invalid { field, message } = ClientInput {
            jwks_uri: Some(String::new()),
            ..Default::default()
        }
        .into_client(Some(&back), &known, 5)
        .unwrap_err() else {
            panic!("not a field error")
        };
        assert_eq!(field, "jwks");
        assert!(message.contains("jwks_uri"), "{message}");
        // A client stored before jwks_uri existed reads without it.
        let mut stored = serde_json::to_value(&inline).unwrap();
        stored.as_object_mut().unwrap().remove("jwks_uri");
        let read: Client = serde_json::from_value(stored).unwrap();
        assert_eq!(read.jwks_uri, None);
    }

    #[test]
    fn trusted_issuers_need_usable_keys_and_the_jwt_bearer_grant_needs_some_key() {
        let known: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        let with = |client_type: ClientType, trusted: Vec<TrustedIssuer>| {
            ClientInput {
                name: Some("Assertions".into()),
                client_type: Some(client_type),
                grant_types: Some(vec![GrantType::JwtBearer]),
                trusted_issuers: Some(trusted),
                ..Default::default()
            }
            .into_client(None, &known, 1)
        };
        let issuer = |iss: &str, jwks: serde_json::Value| TrustedIssuer {
            issuer: iss.into(),
            jwks,
        };
        let ed = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        let ok = with(
            ClientType::Public,
            vec![issuer("https://idp.test", ed.clone())],
        )
        .unwrap();
        assert_eq!(ok.trusted_issuers[0].issuer, "https://idp.test");
        let message = |e: Error| match e {
            Error::Invalid { field, message } => {
                assert_eq!(field, "trusted_issuers");
                message
            }
            other => panic!("{other}"),
        };
        let m = message(with(ClientType::Public, vec![]).unwrap_err());
        assert!(m.contains("needs keys to verify assertions"), "{m}");
        // A confidential client can sign its own assertions with its secret.
        assert!(with(ClientType::Confidential, vec![]).is_ok());
        for (bad, expected) in [
            (issuer("", ed.clone()), "is not an issuer"),
            (
                issuer("https://idp.test", serde_json::json!({"keys": []})),
                "has no keys",
            ),
            (
                issuer("https://idp.test", serde_json::json!([1])),
                "not a JWK Set",
            ),
            (
                issuer(
                    "https://idp.test",
                    serde_json::json!({"keys": [{"kty": "RSA", "n": "not base64!", "e": "AQAB"}]}),
                ),
                "unusable",
            ),
        ] {
            let m = message(with(ClientType::Confidential, vec![bad]).unwrap_err());
            assert!(m.contains(expected), "{m}");
        }
        let twice = vec![
            issuer("https://idp.test", ed.clone()),
            issuer("https://idp.test", ed),
        ];
        assert!(
            message(with(ClientType::Confidential, twice).unwrap_err()).contains("trusted twice")
        );
    }

    #[test]
    fn signing_algs_default_for_stored_clients_and_userinfo_null_clears() {
        let known: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        // A client stored before the signing fields existed reads with their defaults.
        let mut stored = serde_json::to_value(
            ClientInput {
                name: Some("Old".into()),
                redirect_uris: Some(vec!["http://127.0.0.1/cb".into()]),
                ..Default::default()
            }
            .into_client(None, &known, 1)
            .unwrap(),
        )
        .unwrap();
        let m = stored.as_object_mut().unwrap();
        m.remove("access_token_signed_response_alg");
        m.remove("userinfo_signed_response_alg");
        let old: Client = serde_json::from_value(stored).unwrap();
        assert_eq!(old.access_token_signed_response_alg, SigningAlg::Es256);
        assert_eq!(old.userinfo_signed_response_alg, None);
        // Absent keeps, null clears, a value sets.
        let set: ClientInput =
            serde_json::from_str(r#"{"userinfo_signed_response_alg": "PS256"}"#).unwrap();
        let signed = set.into_client(Some(&old), &known, 2).unwrap();
        assert_eq!(signed.userinfo_signed_response_alg, Some(SigningAlg::Ps256));
        let keep: ClientInput = serde_json::from_str("{}").unwrap();
        assert_eq!(
            keep.into_client(Some(&signed), &known, 3)
                .unwrap()
                .userinfo_signed_response_alg,
            Some(SigningAlg::Ps256)
        );
        let clear: ClientInput =
            serde_json::from_str(r#"{"userinfo_signed_response_alg": null}"#).unwrap();
        assert_eq!(
            clear
                .into_client(Some(&signed), &known, 4)
                .unwrap()
                .userinfo_signed_response_alg,
            None
        );
    }

    use super::*;

    fn known() -> Vec<String> {
        DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sortable_ids_sort_in_the_order_they_were_made() {
        // Within one second too: new rows then land at the right edge of the b-tree.
        let ids: Vec<String> = (0..200).map(|_| sortable_id(1_800_000_000)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "in order and unique");
        assert!(
            sortable_id(1_800_000_001) > ids[199],
            "a later second sorts after"
        );
        assert!(
            ids.iter()
                .all(|id| id.starts_with(&format!("{:08x}", 1_800_000_000)))
        );
    }

    #[test]
    fn generated_client_ids_are_letters_and_digits_and_differ() {
        // 2,000 ids: were '-' or '_' possible (2 of 64 symbols), some id would begin with
        // one of them with probability 1 - (62/64)^2000, which is 1 to 27 decimal places.
        let ids: BTreeSet<String> = (0..2000)
            .map(|_| {
                let client = input("App").into_client(None, &known(), 0).unwrap();
                client.client_id
            })
            .collect();
        assert_eq!(ids.len(), 2000, "unique");
        for id in &ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
    }

    fn input(name: &str) -> ClientInput {
        ClientInput {
            name: Some(name.into()),
            redirect_uris: Some(vec!["http://127.0.0.1:8080/cb".into()]),
            ..Default::default()
        }
    }

    #[test]
    fn confidential_defaults_get_a_secret_and_basic_auth() {
        let c = input("web").into_client(None, &known(), 10).unwrap();
        assert_eq!(c.client_type, ClientType::Confidential);
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert!(c.client_secret.as_deref().is_some_and(|s| s.len() >= 40));
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(c.response_types, vec![ResponseType::Code]);
        assert_eq!(c.created_at, 10);
    }

    #[test]
    fn public_clients_use_none_and_need_pkce() {
        let mut i = input("spa");
        i.client_type = Some(ClientType::Public);
        let c = i.into_client(None, &known(), 0).unwrap();
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::None);
        assert!(c.client_secret.is_none());
        assert!(c.pkce_required());
    }

    #[test]
    fn bad_redirect_uri_names_the_field() {
        let mut i = input("x");
        i.redirect_uris = Some(vec!["not a uri".into()]);
        let err = i.into_client(None, &known(), 0).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref field, .. } if field == "redirect_uris"),
            "{err}"
        );
        let mut i = input("x");
        i.redirect_uris = Some(vec!["http://example.com/cb".into()]);
        assert!(i.into_client(None, &known(), 0).is_err());
        let mut i = input("x");
        i.redirect_uris = Some(vec!["https://example.com/cb#frag".into()]);
        assert!(i.into_client(None, &known(), 0).is_err());
        let mut i = input("x");
        i.redirect_uris = Some(vec!["localhost:3000/cb".into()]);
        assert!(i.into_client(None, &known(), 0).is_err());
        let mut i = input("x");
        i.redirect_uris = Some(vec!["com.example.app:/cb".into()]);
        assert!(i.into_client(None, &known(), 0).is_ok());
    }

    fn redirect_error(uri: &str) -> String {
        let mut i = input("x");
        i.redirect_uris = Some(vec![uri.into()]);
        match i.into_client(None, &known(), 0) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "redirect_uris", "{uri}: {message}");
                message
            }
            other => panic!("{uri} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn redirect_uris_with_userinfo_are_refused_naming_the_uri_without_it() {
        for (uri, fix) in [
            (
                "http://evil@127.0.0.1/cb",
                "write it as http://127.0.0.1/cb",
            ),
            (
                "https://user:pw@app.example.com/cb",
                "write it as https://app.example.com/cb",
            ),
        ] {
            let message = redirect_error(uri);
            assert!(message.contains("userinfo"), "{uri}: {message}");
            assert!(message.contains(fix), "{uri}: {message}");
        }
        let mut i = input("x");
        i.post_logout_redirect_uris = Some(vec!["http://a:b@localhost/out".into()]);
        let err = i.into_client(None, &known(), 0).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref field, .. } if field == "post_logout_redirect_uris"),
            "{err}"
        );
    }

    #[test]
    fn redirect_uris_not_in_normal_form_are_refused_naming_the_normal_form() {
        for (uri, normal) in [
            ("HTTP://127.0.0.1/a/../cb", "http://127.0.0.1/cb"),
            ("http://0x7f.1/cb", "http://127.0.0.1/cb"),
            ("http://127.1/cb", "http://127.0.0.1/cb"),
            ("http://127.0.0.1\\cb", "http://127.0.0.1/cb"),
            ("http://LOCALHOST/cb", "http://localhost/cb"),
            ("http://127.0.0.1:80/cb", "http://127.0.0.1/cb"),
            (
                "https://App.Example.com:443/cb",
                "https://app.example.com/cb",
            ),
            ("http://127.0.0.1/./cb", "http://127.0.0.1/cb"),
            ("http://127.0.0.1/c b", "http://127.0.0.1/c%20b"),
            ("http://[0:0:0:0:0:0:0:1]/cb", "http://[::1]/cb"),
            ("Com.Example.App:/cb", "com.example.app:/cb"),
            ("http://@127.0.0.1/cb", "http://127.0.0.1/cb"),
        ] {
            let message = redirect_error(uri);
            assert!(
                message.contains(&format!("write it as {normal} ")),
                "{uri}: {message}"
            );
        }
    }

    #[test]
    fn redirect_uris_in_normal_form_are_kept_as_written() {
        for uri in [
            "http://127.0.0.1:8080/callback",
            "http://127.0.0.1:8080/",
            // An empty path may be left out; it is then matched as written.
            "http://127.0.0.1:8080",
            "http://localhost:5173",
            "https://app.example.com/cb?x=1",
            "https://app.example.com?x=1",
            "http://[::1]:3000/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "https://app.example.com/c%20b",
        ] {
            let mut i = input("x");
            i.redirect_uris = Some(vec![uri.into()]);
            let client = i
                .into_client(None, &known(), 0)
                .unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(client.redirect_uris, [uri]);
        }
    }

    #[test]
    fn unknown_scope_and_code_without_grant_are_refused() {
        let mut i = input("x");
        i.scopes = Some(vec!["admin".into()]);
        let err = i.into_client(None, &known(), 0).unwrap_err();
        assert!(err.to_string().contains("admin"));
        let mut i = input("x");
        i.grant_types = Some(vec![GrantType::ClientCredentials]);
        i.response_types = Some(vec![ResponseType::Code]);
        let err = i.into_client(None, &known(), 0).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "response_types"));
    }

    #[test]
    fn editing_keeps_unspecified_fields_and_refuses_id_change() {
        let c = input("web").into_client(None, &known(), 1).unwrap();
        let edit = ClientInput {
            name: Some("renamed".into()),
            ..Default::default()
        };
        let e = edit.into_client(Some(&c), &known(), 2).unwrap();
        assert_eq!(e.name, "renamed");
        assert_eq!(e.client_secret, c.client_secret);
        assert_eq!(e.created_at, 1);
        assert_eq!(e.updated_at, 2);
        let bad = ClientInput {
            client_id: Some("other".into()),
            ..Default::default()
        };
        assert!(bad.into_client(Some(&c), &known(), 2).is_err());
    }

    #[test]
    fn grant_type_parses_from_wire_names() {
        assert_eq!(
            "urn:ietf:params:oauth:grant-type:device_code".parse::<GrantType>(),
            Ok(GrantType::DeviceCode)
        );
        assert!(
            "magic"
                .parse::<GrantType>()
                .unwrap_err()
                .contains("authorization_code")
        );
    }

    #[test]
    fn reserved_claims_are_refused() {
        assert!(validate_claims(serde_json::json!({"sub": "x"})).is_err());
        assert!(validate_claims(serde_json::json!(["x"])).is_err());
        assert!(validate_claims(serde_json::json!({"name": "Carol"})).is_ok());
    }
}
