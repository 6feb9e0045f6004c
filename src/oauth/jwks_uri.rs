//! Client keys by URL (RFC 7591 §2 `jwks_uri`): the JWK Set a client publishes, fetched
//! when the client registers (so a bad URL is refused at once, naming the cause) and
//! cached for verifying what the client signs: client assertions (`private_key_jwt`),
//! request objects and JWT bearer assertions.
//!
//! A cached set is used for [`MAX_AGE`] seconds; after that, or when a JWT names a
//! `kid` the cached set lacks (the client rotated its keys), it is fetched again — at
//! most once every [`MIN_REFETCH`] seconds per client, so JWTs with made-up `kid`s
//! cannot make the provider hammer the URL. A failed fetch of a set that has gone stale
//! keeps the cached keys in use. Ages are read from the provider's clock.
//!
//! A fetch trusts the public web roots (Mozilla's, compiled in; no environment
//! variable changes them), follows no redirects, and gives up after [`TIMEOUT`] or
//! [`MAX_BYTES`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use crate::model::{Client, Timestamp, validate_jwks_uri};

/// How long a fetched set is used before it is fetched again, in seconds.
pub const MAX_AGE: i64 = 5 * 60;
/// The shortest time between two fetches for one client, in seconds.
pub const MIN_REFETCH: i64 = 10;
/// How long a fetch may take, from connecting to the last byte.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWK Set accepted, in bytes.
pub const MAX_BYTES: usize = 64 * 1024;

/// Fetches JWK Sets (two HTTP clients, made on first use: one for loopback URLs, which
/// never go through a proxy, and one for the others, which follow the proxy settings
/// of the environment).
#[derive(Debug)]
pub struct Fetcher {
    timeout: Duration,
    max_bytes: usize,
    direct: OnceLock<Result<reqwest::Client, String>>,
    proxied: OnceLock<Result<reqwest::Client, String>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new(TIMEOUT, MAX_BYTES)
    }
}

fn http_client(proxied: bool, timeout: Duration) -> Result<reqwest::Client, String> {
    web_client(proxied, timeout)
        .build()
        .map_err(|e| format!("Authdesk could not set up its HTTPS client ({e})"))
}

/// An HTTP client for calls out to other servers (a client's keys, its back-channel
/// logout URI): the public web roots only, no redirects, `timeout` for everything; a
/// loopback target is reached without the environment's proxy (`proxied: false`).
pub(super) fn web_client(proxied: bool, timeout: Duration) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("authdesk/", env!("CARGO_PKG_VERSION")));
    if !proxied {
        builder = builder.no_proxy();
    }
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        // A root that does not load is left out; the others still verify.
        if let Ok(cert) = reqwest::Certificate::from_der(der.as_ref()) {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
}

/// An error and its sources, e.g. `error sending request: client error (Connect): dns
/// error: failed to lookup address information: Name or service not known`.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Fetcher {
    pub fn new(timeout: Duration, max_bytes: usize) -> Self {
        Fetcher {
            timeout,
            max_bytes,
            direct: OnceLock::new(),
            proxied: OnceLock::new(),
        }
    }

    /// Fetches the JWK Set at `uri` and checks it: at most `max_bytes` of JSON, an
    /// object with a `keys` array of public keys Authdesk can use. The error says
    /// what failed: the URL, the connection (DNS, TLS), the status, the size, the
    /// time, or the content.
    pub async fn fetch(&self, uri: &str) -> Result<Value, String> {
        let url = validate_jwks_uri(uri).map_err(|e| match e {
            crate::error::Error::Invalid { message, .. } => message,
            other => other.to_string(),
        })?;
        let loopback = crate::model::is_loopback_or_localhost(&url);
        let cell = if loopback {
            &self.direct
        } else {
            &self.proxied
        };
        let http = cell
            .get_or_init(|| http_client(!loopback, self.timeout))
            .as_ref()
            .map_err(Clone::clone)?;
        let secs = self.timeout.as_secs_f64();
        let body = tokio::time::timeout(self.timeout, self.get(http, url))
            .await
            .map_err(|_| format!("{uri} did not answer within {secs} s"))??;
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            format!("{uri} did not answer JSON ({e}); serve the JWK Set {{\"keys\": [...]}} there as application/json")
        })?;
        check_set(&value).map_err(|e| format!("{uri} answered JSON that {e}"))?;
        Ok(value)
    }

    async fn get(&self, http: &reqwest::Client, url: url::Url) -> Result<Vec<u8>, String> {
        let uri = url.to_string();
        let secs = self.timeout.as_secs_f64();
        let described = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("{uri} did not answer within {secs} s")
            } else if e.is_connect() {
                format!("could not connect to {uri} ({})", chain(&e))
            } else {
                format!("fetching {uri} failed ({})", chain(&e))
            }
        };
        let mut res = http
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(described)?;
        let status = res.status();
        if status.is_redirection() {
            let to = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)");
            return Err(format!(
                "{uri} answered HTTP {status} (a redirect to {to}); Authdesk does not follow redirects for keys: register the final URL"
            ));
        }
        if !status.is_success() {
            return Err(format!(
                "{uri} answered HTTP {status}; serve the client's JWK Set there with status 200"
            ));
        }
        let too_large = || {
            format!(
                "{uri} answered more than {} KiB, more than a JWK Set of public keys needs; check the URL",
                self.max_bytes / 1024
            )
        };
        if res
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(described)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Checks that `value` is a JWK Set of usable public keys; the error completes "… JSON
/// that".
fn check_set(value: &Value) -> Result<(), String> {
    if !value.get("keys").is_some_and(Value::is_array) {
        return Err("is not a JWK Set (an object with a \"keys\" array)".into());
    }
    let set: JwkSet = serde_json::from_value(value.clone())
        .map_err(|e| format!("is not a JWK Set Authdesk can read ({e})"))?;
    if set.keys.is_empty() {
        return Err("is a JWK Set without keys; publish at least one public key".into());
    }
    for k in &set.keys {
        if let Err(e) = crate::keys::decoding_key(k) {
            let kid = k.common.key_id.as_deref().unwrap_or("(no kid)");
            return Err(format!("is a JWK Set with an unusable key {kid} ({e})"));
        }
    }
    Ok(())
}

fn has_kid(set: &Value, kid: &str) -> bool {
    set.get("keys")
        .and_then(Value::as_array)
        .is_some_and(|keys| {
            keys.iter()
                .any(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
        })
}

/// What is known of one client's `jwks_uri`.
#[derive(Debug, Clone)]
struct Entry {
    uri: String,
    keys: Option<Arc<Value>>,
    fetched_at: Timestamp,
    attempted_at: Timestamp,
    last_error: Option<String>,
}

/// The fetched key sets, by client id (a client whose `jwks_uri` changed starts anew).
#[derive(Debug, Default)]
pub struct JwksUris {
    fetcher: Fetcher,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Entries kept at most; beyond, the cache starts empty again.
const LIMIT: usize = 10_000;

impl JwksUris {
    pub fn with_fetcher(fetcher: Fetcher) -> Self {
        JwksUris {
            fetcher,
            entries: Mutex::default(),
        }
    }

    /// Fetches `uri` (at registration, before the client exists): the checked JWK Set,
    /// or why it cannot be used.
    pub async fn fetch(&self, uri: &str) -> Result<Value, String> {
        self.fetcher.fetch(uri).await
    }

    /// Remembers the set just fetched from `client_id`'s `uri` at `now`.
    pub fn remember(&self, client_id: &str, uri: &str, keys: Value, now: Timestamp) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= LIMIT {
                entries.clear();
            }
            entries.insert(
                client_id.to_string(),
                Entry {
                    uri: uri.to_string(),
                    keys: Some(Arc::new(keys)),
                    fetched_at: now,
                    attempted_at: now,
                    last_error: None,
                },
            );
        }
    }

    fn entry(&self, client_id: &str, uri: &str) -> Option<Entry> {
        let entries = self.entries.lock().ok()?;
        entries.get(client_id).filter(|e| e.uri == uri).cloned()
    }

    /// The key set of `client`'s `jwks_uri` for a JWT whose header names `kid`:
    /// the cached set while it is fresh and has the kid, else fetched again (at most
    /// every [`MIN_REFETCH`] seconds). `None` when the client has no `jwks_uri`.
    pub async fn keys(
        &self,
        client: &Client,
        kid: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<Arc<Value>>, String> {
        let Some(uri) = client.jwks_uri.as_deref() else {
            return Ok(None);
        };
        let id = &client.client_id;
        let known = self.entry(id, uri);
        let cached = known.as_ref().and_then(|e| e.keys.clone());
        let fresh = known
            .as_ref()
            .is_some_and(|e| e.keys.is_some() && now - e.fetched_at < MAX_AGE);
        let has = |set: &Value| kid.is_none_or(|k| has_kid(set, k));
        if let Some(set) = &cached
            && fresh
            && has(set)
        {
            return Ok(Some(set.clone()));
        }
        if let Some(e) = &known
            && now - e.attempted_at < MIN_REFETCH
        {
            let ago = now - e.attempted_at;
            return match (&cached, &e.last_error, kid) {
                (Some(set), _, Some(k)) if !has(set) => Err(format!(
                    "the kid '{k}' is not among the keys of client '{id}' fetched from its jwks_uri {uri} {ago}s ago; Authdesk fetches a client's keys again at most every {MIN_REFETCH} s, so retry in a few seconds"
                )),
                (Some(set), _, _) => Ok(Some(set.clone())),
                (None, Some(err), _) => Err(format!(
                    "the keys of client '{id}' could not be fetched {ago}s ago ({err}); Authdesk tries again at most every {MIN_REFETCH} s"
                )),
                (None, None, _) => Err(format!(
                    "the keys of client '{id}' are being fetched from {uri}; retry in a few seconds"
                )),
            };
        }
        // Claim this attempt before fetching, so concurrent requests do not all fetch.
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= LIMIT {
                entries.clear();
            }
            let e = entries.entry(id.clone()).or_insert_with(|| Entry {
                uri: uri.to_string(),
                keys: None,
                fetched_at: now,
                attempted_at: now,
                last_error: None,
            });
            if e.uri != uri {
                *e = Entry {
                    uri: uri.to_string(),
                    keys: None,
                    fetched_at: now,
                    attempted_at: now,
                    last_error: None,
                };
            }
            e.attempted_at = now;
        }
        match self.fetcher.fetch(uri).await {
            Ok(set) => {
                let set = Arc::new(set);
                if let Ok(mut entries) = self.entries.lock()
                    && let Some(e) = entries.get_mut(id.as_str())
                    && e.uri == uri
                {
                    e.keys = Some(set.clone());
                    e.fetched_at = now;
                    e.last_error = None;
                }
                Ok(Some(set))
            }
            Err(err) => {
                if let Ok(mut entries) = self.entries.lock()
                    && let Some(e) = entries.get_mut(id.as_str())
                {
                    e.last_error = Some(err.clone());
                }
                match cached {
                    // A stale set that has the kid is better than none while the
                    // client's key server is away.
                    Some(set) if has(&set) => {
                        tracing::warn!(client_id = %id, uri, error = %err, "jwks_uri fetch failed; using the keys fetched before");
                        Ok(Some(set))
                    }
                    _ => Err(format!(
                        "the keys of client '{id}' could not be fetched from its jwks_uri ({err})"
                    )),
                }
            }
        }
    }
}

/// The public keys that verify a JWT `client` signed: its inline `jwks`, or the set
/// of its `jwks_uri` (the JWT's `kid` may have it fetched again). `None` when the
/// client has neither, or when the JWT is not signed with a public key (HMAC, `none`,
/// or unreadable: its verifier names what is wrong), and then nothing is fetched.
pub async fn client_keys(
    ctx: &super::Context,
    client: &Client,
    jwt: &str,
    now: Timestamp,
) -> Result<Option<Arc<Value>>, String> {
    if let Some(j) = &client.jwks {
        return Ok(Some(Arc::new(j.clone())));
    }
    if client.jwks_uri.is_none() {
        return Ok(None);
    }
    let Ok(peeked) = super::jose::peek(jwt, "JWT") else {
        return Ok(None);
    };
    let alg = peeked.alg();
    if alg == "none" || alg.starts_with("HS") {
        return Ok(None);
    }
    let kid = peeked.header.get("kid").and_then(Value::as_str);
    ctx.jwks_uris.keys(client, kid, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback HTTP server that answers every request with `response` (raw bytes)
    /// and counts the requests; `None` never answers.
    async fn server(response: Option<Vec<u8>>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/jwks.json",
            listener.local_addr().unwrap().port()
        );
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    match response {
                        Some(r) => {
                            let _ = sock.write_all(&r).await;
                            let _ = sock.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        (url, hits)
    }

    fn ok(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn ec_set(kid: &str) -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        }]})
    }

    #[tokio::test]
    async fn a_jwk_set_is_fetched_and_each_bad_answer_is_named() {
        let fetcher = Fetcher::new(Duration::from_millis(300), 1024);
        let (good, _) = server(Some(ok(&ec_set("k1").to_string()))).await;
        assert_eq!(fetcher.fetch(&good).await.unwrap(), ec_set("k1"));

        let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let moved = b"HTTP/1.1 302 Found\r\nlocation: https://elsewhere.example/jwks\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        for (response, cause) in [
            (Some(not_found.to_vec()), "HTTP 404 Not Found"),
            (Some(moved.to_vec()), "does not follow redirects"),
            (Some(ok("<html>hello</html>")), "did not answer JSON"),
            (Some(ok(r#"{"issuer": "x"}"#)), "not a JWK Set"),
            (Some(ok(r#"{"keys": []}"#)), "without keys"),
            (
                Some(ok(
                    r#"{"keys": [{"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}]}"#,
                )),
                "unusable key r",
            ),
            (
                Some(ok(&format!(
                    r#"{{"keys": [], "pad": "{}"}}"#,
                    "x".repeat(2000)
                ))),
                "more than 1 KiB",
            ),
            (None, "did not answer within 0.3 s"),
        ] {
            let (url, _) = server(response).await;
            let e = fetcher.fetch(&url).await.unwrap_err();
            assert!(e.contains(cause), "{cause}: {e}");
        }
        for (url, cause) in [
            ("http://example.com/jwks", "non-local host"),
            ("ftp://127.0.0.1/jwks", "'ftp' scheme"),
            ("https://authdesk-test.invalid/jwks", "could not connect"),
        ] {
            let e = fetcher.fetch(url).await.unwrap_err();
            assert!(e.contains(cause), "{url}: {e}");
        }
        // Nothing listens on a port just freed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = fetcher
            .fetch(&format!("http://127.0.0.1:{port}/jwks"))
            .await
            .unwrap_err();
        assert!(e.contains("could not connect"), "{e}");
    }

    fn client(uri: &str) -> Client {
        crate::model::ClientInput {
            name: Some("c".into()),
            client_id: Some("c1".into()),
            grant_types: Some(vec![crate::model::GrantType::ClientCredentials]),
            token_endpoint_auth_method: Some(crate::model::AuthMethod::PrivateKeyJwt),
            jwks_uri: Some(uri.into()),
            scopes: Some(vec![]),
            ..Default::default()
        }
        .into_client(None, &[], 0)
        .unwrap()
    }

    #[tokio::test]
    async fn keys_are_cached_and_fetched_again_when_stale_or_a_new_kid_appears() {
        const T: Timestamp = 1_000_000;
        let (url, hits) = server(Some(ok(&ec_set("k1").to_string()))).await;
        let cache = JwksUris::default();
        let c = client(&url);
        let fetched = || hits.load(std::sync::atomic::Ordering::SeqCst);

        assert_eq!(
            *cache.keys(&c, Some("k1"), T).await.unwrap().unwrap(),
            ec_set("k1")
        );
        assert_eq!(fetched(), 1);
        cache.keys(&c, Some("k1"), T + MAX_AGE - 1).await.unwrap();
        cache.keys(&c, None, T + 1).await.unwrap();
        assert_eq!(fetched(), 1, "a fresh set is not fetched again");

        // An unknown kid: fetched again, but not more often than MIN_REFETCH.
        let e = cache.keys(&c, Some("k2"), T + 1).await.unwrap_err();
        assert!(e.contains("at most every 10 s"), "{e}");
        assert_eq!(fetched(), 1);
        cache.keys(&c, Some("k2"), T + MIN_REFETCH).await.unwrap();
        assert_eq!(fetched(), 2);
        let e = cache
            .keys(&c, Some("k2"), T + MIN_REFETCH + 1)
            .await
            .unwrap_err();
        assert!(e.contains("'k2' is not among the keys"), "{e}");
        assert_eq!(fetched(), 2);

        // Stale: fetched again.
        cache
            .keys(&c, Some("k1"), T + MIN_REFETCH + MAX_AGE)
            .await
            .unwrap();
        assert_eq!(fetched(), 3);

        // Another URL for the client starts anew.
        let (other, other_hits) = server(Some(ok(&ec_set("k9").to_string()))).await;
        let moved = client(&other);
        let set = cache
            .keys(&moved, Some("k9"), T + MIN_REFETCH + MAX_AGE)
            .await
            .unwrap();
        assert_eq!(*set.unwrap(), ec_set("k9"));
        assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 1);

        // A client without a jwks_uri has no keys here.
        let mut inline = client(&url);
        inline.jwks_uri = None;
        assert!(cache.keys(&inline, Some("k1"), T).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_stale_set_stays_in_use_while_the_key_server_is_down() {
        const T: Timestamp = 1_000_000;
        let cache = JwksUris::with_fetcher(Fetcher::new(Duration::from_millis(300), MAX_BYTES));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/jwks");
        let c = client(&url);
        cache.remember("c1", &url, ec_set("k1"), T);

        let set = cache.keys(&c, Some("k1"), T + MAX_AGE).await.unwrap();
        assert_eq!(*set.unwrap(), ec_set("k1"));
        let e = cache
            .keys(&c, Some("k2"), T + MAX_AGE + MIN_REFETCH)
            .await
            .unwrap_err();
        assert!(
            e.contains("could not be fetched") && e.contains("could not connect"),
            "{e}"
        );
        let e = cache
            .keys(&c, Some("k2"), T + MAX_AGE + MIN_REFETCH + 1)
            .await
            .unwrap_err();
        assert!(e.contains("'k2' is not among the keys"), "{e}");
    }
}
