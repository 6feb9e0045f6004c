//! Request parameters. RFC 6749 §3.1 and §3.2: parameters sent without a value are
//! treated as omitted, and a parameter must not be sent twice.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::error::OAuthError;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, String>, Vec<(String, String)>);

/// Parameters that may appear several times: RFC 8707's `resource` and RFC 8693's
/// `audience` (Auth0's `audience` alias of `resource` too). The first value is in the
/// map, the further ones beside it.
pub const REPEATABLE: &[&str] = &["resource", "audience"];

impl Params {
    /// Parses `application/x-www-form-urlencoded` text, refusing repeated parameters.
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthError> {
        let mut map = BTreeMap::new();
        let mut more = Vec::new();
        for pair in raw.split(|&b| b == b'&') {
            let Some((k, v)) = decode_pair(pair) else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            if map.contains_key(&k) && REPEATABLE.contains(&k.as_str()) {
                more.push((k, v));
                continue;
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter '{k}' appears more than once; RFC 6749 §3.1 allows each parameter once"
                )));
            }
            map.insert(k, v);
        }
        Ok(Params(map, more))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Parameters from a map (each once).
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Params(map, Vec::new())
    }

    /// Every value of a repeatable parameter, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key)
            .into_iter()
            .chain(
                self.1
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str()),
            )
            .collect()
    }

    /// RFC 8707 resources: every `resource`, and Auth0's `audience` alias.
    pub fn resources(&self) -> Vec<&str> {
        let mut all = self.get_all("resource");
        all.extend(self.get_all("audience"));
        all
    }

    pub fn require(&self, key: &str, hint: &str) -> Result<&str, OAuthError> {
        self.get(key).ok_or_else(|| {
            OAuthError::invalid_request(format!("the '{key}' parameter is missing; {hint}"))
        })
    }

    /// The parameters as the log shows them: secrets replaced by their length, never
    /// a part of them (a 6-character password would otherwise be kept whole).
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.shown()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_owned()))
            .collect()
    }

    /// [`Params::redacted`], borrowed where nothing is hidden (in key order).
    pub fn shown(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.0
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret(k) {
                    Cow::Owned(format!("[redacted, {} characters]", v.chars().count()))
                } else {
                    Cow::Borrowed(v.as_str())
                };
                (k.as_str(), shown)
            })
            .collect()
    }
}

/// Parameters whose values are credentials or grant something: never logged.
pub fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "client_secret"
            | "password"
            | "code"
            | "refresh_token"
            | "token"
            | "code_verifier"
            | "client_assertion"
            | "access_token"
            | "device_code"
            | "subject_token"
            | "actor_token"
            | "assertion"
            | "csrf"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let r = Params::parse(b"resource=https://a&resource=https://b&audience=https://c").unwrap();
        assert_eq!(r.resources(), vec!["https://a", "https://b", "https://c"]);
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn secrets_are_logged_as_their_length_only() {
        let p = Params::parse(
            b"password=hunter&client_secret=s3cr3t-value&code_verifier=abcdefgh&refresh_token=rt-123456&subject_token=st&actor_token=at&client_assertion=eyJ.x.y&scope=openid",
        )
        .unwrap();
        let logged = p.redacted();
        assert_eq!(logged["password"], "[redacted, 6 characters]");
        assert_eq!(logged["client_secret"], "[redacted, 12 characters]");
        for (k, v) in &logged {
            if k == "scope" {
                assert_eq!(v, "openid");
                continue;
            }
            let raw = p.get(k).unwrap();
            assert_eq!(
                v,
                &format!("[redacted, {} characters]", raw.chars().count()),
                "{k}"
            );
        }
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
