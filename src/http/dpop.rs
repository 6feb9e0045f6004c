//! The `DPoP` request header (RFC 9449 §4.1): the proof, passed to the protocol as
//! text; more than one is refused there.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::oauth::{ErrorCode, OAuthError};

/// The `DPoP` header's value: `Ok(None)` without one, an error for several or one
/// that is not text.
#[derive(Debug, Clone)]
pub struct DpopHeader(pub Result<Option<String>, OAuthError>);

impl DpopHeader {
    /// The proof, if one was sent.
    pub fn proof(&self) -> Result<Option<&str>, OAuthError> {
        self.0.as_ref().map(Option::as_deref).map_err(Clone::clone)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DpopHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::read(&parts.headers))
    }
}

impl DpopHeader {
    /// Reads the header from `headers`.
    pub fn read(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all("dpop").iter();
        let first = values.next();
        let refuse = |d: &str| Err(OAuthError::new(ErrorCode::InvalidDpopProof, d));
        DpopHeader(match (first, values.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => refuse(
                "the request has more than one DPoP header; send exactly one proof (RFC 9449 section 4.3)",
            ),
            (Some(v), None) => match v.to_str() {
                Ok(s) => Ok(Some(s.trim().to_string())),
                Err(_) => refuse("the DPoP header is not a JWT (it has non-ASCII bytes)"),
            },
        })
    }
}
