//! Request parameters. RFC 6749 §3.1 and §3.2: parameters sent without a value are
//! treated as omitted, and a parameter must not be sent twice.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};

use super::error::OAuthError;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text, refusing repeated parameters.
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthError> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter '{k}' appears more than once; RFC 6749 §3.1 allows each parameter once"
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn require(&self, key: &str, hint: &str) -> Result<&str, OAuthError> {
        self.get(key).ok_or_else(|| {
            OAuthError::invalid_request(format!("the '{key}' parameter is missing; {hint}"))
        })
    }

    /// The parameters as the log shows them, secrets masked.
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| {
                let secret = matches!(
                    k.as_str(),
                    "client_secret"
                        | "password"
                        | "code"
                        | "refresh_token"
                        | "token"
                        | "code_verifier"
                        | "client_assertion"
                        | "access_token"
                );
                let shown = if secret {
                    let prefix: String = v.chars().take(6).collect();
                    format!("{prefix}…")
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// Extracts parameters from the query (GET) or a form body (POST), answering malformed
/// input with `invalid_request` instead of axum's rejection text.
#[derive(Debug, Clone)]
pub struct OAuthParams(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let q = req.uri().query().unwrap_or("");
            return Params::parse(q.as_bytes()).map(OAuthParams);
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            let got = if content_type.is_empty() {
                "no Content-Type".to_string()
            } else {
                format!("'{content_type}'")
            };
            return Err(OAuthError::invalid_request(format!(
                "the request body must be application/x-www-form-urlencoded (RFC 6749 §3.2), but it has {got}; send the parameters as a form, not JSON"
            )));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                OAuthError::invalid_request(format!("the request body could not be read: {e}"))
            })?;
        Params::parse(&body).map(OAuthParams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }
}
