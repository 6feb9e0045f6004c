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
        for pair in raw.split(|&b| b == b'&') {
            let Some((k, v)) = decode_pair(pair) else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter '{k}' appears more than once; RFC 6749 §3.1 allows each parameter once"
                )));
            }
            map.insert(k, v);
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

/// One `name=value` of a form, decoded as `form_urlencoded` decodes it (`+` is a space,
/// percent escapes, invalid UTF-8 replaced); `None` for an empty one. Most need no
/// decoding (client ids, JWTs, codes): those are found with one vectorised scan and
/// copied once, instead of going through the decoder byte by byte.
fn decode_pair(pair: &[u8]) -> Option<(String, String)> {
    if pair.is_empty() {
        return None;
    }
    if memchr::memchr2(b'%', b'+', pair).is_some() {
        return form_urlencoded::parse(pair)
            .next()
            .map(|(k, v)| (k.into_owned(), v.into_owned()));
    }
    let (k, v) = match memchr::memchr(b'=', pair) {
        Some(at) => (&pair[..at], &pair[at + 1..]),
        None => (pair, &b""[..]),
    };
    Some((text(k), text(v)))
}

fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
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

    #[test]
    fn forms_decode_as_form_urlencoded_decodes_them() {
        let forms: [&[u8]; 14] = [
            b"a=1&b=2",
            b"token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_",
            b"scope=api.read+api.write&x=%41%42",
            b"a==b&c=d=e",
            b"novalue&k=v",
            b"&&a=1&&",
            b"=orphan&b=1",
            b"bad=%zz%4&pct=%",
            b"u=caf\xc3\xa9",
            b"u=caf\xe9&v=\xff",
            b"u=%C3%A9+%E9",
            b"k%20ey=v%2Bw",
            b"a=1;b=2",
            b"",
        ];
        for form in forms {
            let ours: BTreeMap<String, String> = Params::parse(form).unwrap().0;
            let theirs: BTreeMap<String, String> = form_urlencoded::parse(form)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(form));
        }
    }
}
