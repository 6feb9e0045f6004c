//! The one error shape of every OAuth endpoint: an RFC error code plus a plain-language
//! cause and fix. Token-style endpoints answer RFC 6749 §5.2 JSON; resource endpoints
//! answer RFC 6750 §3 `WWW-Authenticate: Bearer` challenges.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

macro_rules! codes {
    ($($variant:ident = $wire:literal),+ $(,)?) => {
        /// Error codes of RFC 6749, 6750, 7009, 7591, 8628 and OpenID Connect Core.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),+ }
        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire),+ }
            }
        }
    };
}

codes! {
    InvalidRequest = "invalid_request",
    InvalidClient = "invalid_client",
    InvalidGrant = "invalid_grant",
    UnauthorizedClient = "unauthorized_client",
    UnsupportedGrantType = "unsupported_grant_type",
    InvalidScope = "invalid_scope",
    AccessDenied = "access_denied",
    UnsupportedResponseType = "unsupported_response_type",
    ServerError = "server_error",
    InvalidToken = "invalid_token",
    InsufficientScope = "insufficient_scope",
    UnsupportedTokenType = "unsupported_token_type",
    InvalidRedirectUri = "invalid_redirect_uri",
    InvalidClientMetadata = "invalid_client_metadata",
    LoginRequired = "login_required",
    ConsentRequired = "consent_required",
    InteractionRequired = "interaction_required",
    RequestNotSupported = "request_not_supported",
    RequestUriNotSupported = "request_uri_not_supported",
    AuthorizationPending = "authorization_pending",
    SlowDown = "slow_down",
    ExpiredToken = "expired_token",
}

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// What went wrong and how to fix it, in plain language.
    pub description: String,
    /// The client tried HTTP Basic authentication (RFC 6749 §5.2: answer with a Basic challenge).
    pub basic_challenge: bool,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            basic_challenge: false,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    pub fn server_error(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, d)
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn body(&self) -> serde_json::Value {
        json!({"error": self.code.as_str(), "error_description": quote_safe(&self.description)})
    }

    /// This error as an RFC 6750 bearer-token challenge (userinfo, protected resources).
    pub fn into_bearer_response(self) -> Response {
        let mut challenge = String::from("Bearer realm=\"authdesk\"");
        // RFC 6750 §3.1: a request without credentials gets a bare challenge.
        let no_credentials = self.code == ErrorCode::InvalidRequest && self.description.is_empty();
        if !no_credentials {
            challenge.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                quote_safe(&self.description)
            ));
        }
        let status = match self.code {
            _ if no_credentials => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        };
        let mut res = if no_credentials {
            (status, axum::Json(json!({"error": "invalid_token", "error_description": "no access token: send Authorization: Bearer <access token>"}))).into_response()
        } else {
            (status, axum::Json(self.body())).into_response()
        };
        no_store(res.headers_mut());
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// `error_description` is restricted to printable ASCII without `"` and `\`
/// (RFC 6749 §5.2); keep the text readable by replacing the rest.
pub fn quote_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push('\''),
            '\\' => out.push('/'),
            '§' => out.push_str("section "),
            '…' => out.push_str("..."),
            '→' => out.push_str("->"),
            '·' => out.push('-'),
            c if (' '..='~').contains(&c) => out.push(c),
            _ => out.push('?'),
        }
    }
    out.replace("section  ", "section ")
}

pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut res = (self.status(), axum::Json(self.body())).into_response();
        no_store(res.headers_mut());
        if self.code == ErrorCode::InvalidClient {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authdesk\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

impl From<crate::error::Error> for OAuthError {
    fn from(e: crate::error::Error) -> Self {
        // Database and I/O details stay in the log, not in responses.
        tracing::error!(error = %e, "internal error");
        OAuthError::server_error(
            "the provider hit an internal error; see the Authdesk log for details",
        )
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        crate::error::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_on_the_wire_are_rfc_6749_ascii() {
        let e = OAuthError::invalid_grant("codes are single-use (RFC 6749 §4.1.2) \"x\" é");
        let body = e.body();
        let d = body["error_description"].as_str().unwrap();
        assert_eq!(d, "codes are single-use (RFC 6749 section 4.1.2) 'x' ?");
        assert!(
            d.bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        );
    }
}
