//! The one error shape of every OAuth endpoint: an RFC error code plus a plain-language
//! cause and fix, and the challenge its answer carries. Token-style endpoints answer
//! RFC 6749 §5.2 JSON; resource endpoints answer RFC 6750 §3 `WWW-Authenticate:
//! Bearer` challenges. How it is written on the wire is the HTTP layer's business.

macro_rules! codes {
    ($($variant:ident = $wire:literal),+ $(,)?) => {
        /// Error codes of RFC 6749, 6750, 7009, 7591, 8628 and OpenID Connect Core.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),+ }
        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire),+ }
            }
            /// The code spelled `s` on the wire.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == s)
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
    TemporarilyUnavailable = "temporarily_unavailable",
    InvalidTarget = "invalid_target",
    InvalidRequestUri = "invalid_request_uri",
    InvalidRequestObject = "invalid_request_object",
    InvalidDpopProof = "invalid_dpop_proof",
    UseDpopNonce = "use_dpop_nonce",
}

/// The `WWW-Authenticate` challenge an error's answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// None, or Basic for `invalid_client` (RFC 6749 §5.2).
    Client,
    /// The client tried HTTP Basic authentication: a Basic challenge whatever the code.
    Basic,
    /// A protected resource's bearer challenge (RFC 6750 §3).
    Bearer,
    /// A protected resource asked without any token: a bare challenge, without an
    /// error code (RFC 6750 §3.1).
    BearerMissing,
    /// A DPoP-bound token's request: a `DPoP` challenge (RFC 9449 §7.1).
    Dpop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// What went wrong and how to fix it, in plain language.
    pub description: String,
    pub challenge: Challenge,
    /// An HTTP status other than the code's usual one (registration's 403, 413).
    pub status_override: Option<u16>,
    /// A fresh DPoP nonce to send in the `DPoP-Nonce` header (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
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
            challenge: Challenge::Client,
            status_override: None,
            dpop_nonce: None,
        }
    }
    /// A protected resource was called without any access token.
    pub fn missing_bearer_token() -> Self {
        let mut e =
            Self::invalid_token("no access token: send Authorization: Bearer <access token>");
        e.challenge = Challenge::BearerMissing;
        e
    }
    /// This error as a protected resource's answer (RFC 6750 §3).
    pub fn for_bearer(mut self) -> Self {
        if !matches!(self.challenge, Challenge::BearerMissing | Challenge::Dpop) {
            self.challenge = Challenge::Bearer;
        }
        self
    }
    /// The client authenticated with HTTP Basic: its answer carries a Basic challenge.
    pub fn with_basic_challenge(mut self, basic: bool) -> Self {
        if basic {
            self.challenge = Challenge::Basic;
        }
        self
    }
    pub fn with_status(mut self, status: u16) -> Self {
        self.status_override = Some(status);
        self
    }
    /// A request without any credentials (not logged: every client's first try).
    pub fn is_missing_credentials(&self) -> bool {
        self.challenge == Challenge::BearerMissing
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

    /// The HTTP status of this error's answer.
    pub fn status(&self) -> u16 {
        if let Some(s) = self.status_override {
            return s;
        }
        match (self.challenge, self.code) {
            (Challenge::BearerMissing, _) => 401,
            (_, ErrorCode::InsufficientScope) => 403,
            (_, ErrorCode::ServerError) => 500,
            (_, ErrorCode::TemporarilyUnavailable) => 503,
            (_, ErrorCode::InvalidClient | ErrorCode::InvalidToken) => 401,
            (Challenge::Bearer | Challenge::Dpop, ErrorCode::InvalidRequest) => 400,
            (Challenge::Bearer | Challenge::Dpop, _) => 401,
            _ => 400,
        }
    }

    /// The JSON body of this error's answer (RFC 6749 §5.2).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": self.code.as_str(), "error_description": quote_safe(&self.description)})
    }

    /// The `WWW-Authenticate` value of this error's answer, if it has one.
    pub fn www_authenticate(&self) -> Option<String> {
        match self.challenge {
            Challenge::Client if self.code != ErrorCode::InvalidClient => None,
            Challenge::Client | Challenge::Basic => {
                Some("Basic realm=\"authdesk\", charset=\"UTF-8\"".to_string())
            }
            Challenge::BearerMissing => Some("Bearer realm=\"authdesk\"".to_string()),
            Challenge::Bearer => Some(format!(
                "Bearer realm=\"authdesk\", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                quote_safe(&self.description)
            )),
            Challenge::Dpop => Some(format!(
                "DPoP realm=\"authdesk\", algs=\"{}\", error=\"{}\", error_description=\"{}\"",
                super::dpop::ALGS.join(" "),
                self.code.as_str(),
                quote_safe(&self.description)
            )),
        }
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

impl From<crate::error::Error> for OAuthError {
    fn from(e: crate::error::Error) -> Self {
        // Database and I/O details stay in the log, not in responses; the answer says
        // in plain words what failed, and it is never a different protocol answer.
        tracing::error!(error = %e, "internal error");
        let what = match &e {
            crate::error::Error::Database(_)
            | crate::error::Error::Migrate(_)
            | crate::error::Error::Storage(_) => "Authdesk could not read or write its database",
            crate::error::Error::Io { .. } => "Authdesk could not read or write a file",
            _ => "Authdesk hit an internal error",
        };
        OAuthError::server_error(format!(
            "{what}; the details are in its log. Retry the request; if it keeps failing, restart Authdesk"
        ))
    }
}

/// A refusal crossing into the window or the CLI keeps its RFC code.
impl From<OAuthError> for crate::error::Error {
    fn from(e: OAuthError) -> Self {
        crate::error::Error::Protocol {
            code: e.code.as_str(),
            message: e.description,
        }
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
