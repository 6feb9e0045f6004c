//! The benchmark's work floor: the same web stack as the ceiling (and Authdesk) doing
//! only the irreducible work of each answer Authdesk gives, so every token and login
//! figure can be read against what that work costs on this machine:
//!
//! - `POST /token` with `grant_type=client_credentials` and HTTP Basic: a
//!   constant-time client check, one ES256 signature (ring) over an access token's
//!   claims, one row group-committed to SQLite in WAL mode (`synchronous = NORMAL`,
//!   Authdesk's default), then a token response.
//! - A login: `GET /authorize?client_id&redirect_uri&code_challenge&state` checks the
//!   client and redirect URI, makes a code, group-commits one code row and answers
//!   `302` with the code; `POST /token` with `grant_type=authorization_code`, the code
//!   and the PKCE `code_verifier` checks the S256 challenge, signs an access token and
//!   an id_token (ES256, two signatures) and group-commits one token row.
//!
//! No logging, no consent, no request log, no caches to keep current: whatever
//! Authdesk does beyond this is its own cost. The group commit is the same idea as
//! Authdesk's writer: one thread, everything waiting in one transaction, each caller
//! answered after the commit.
//!
//! floor --cert server.pem --key server-key.pem [--port 0] [--db FILE]
//! prints `listening https://127.0.0.1:PORT` once it accepts connections.

#[path = "../stack.rs"]
mod stack;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

const CLIENT: &str = "service";
const SECRET: &str = "service-secret-with-at-least-32-bytes!!";
const PUBLIC_CLIENT: &str = "spa";
const REDIRECT: &str = "http://127.0.0.1:8765/callback";
const ISSUER: &str = "https://localhost";

/// A row for the group commit, and who waits for its commit.
struct Row {
    table: &'static str,
    id: String,
    hash: String,
    client_id: &'static str,
    at: i64,
    value: String,
    done: oneshot::Sender<Result<(), String>>,
}

struct Floor {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    clients: HashMap<&'static str, &'static [u8]>,
    counter: AtomicU64,
    writer: mpsc::UnboundedSender<Row>,
    /// Codes issued and not yet exchanged: hash → code_challenge.
    codes: Mutex<HashMap<String, String>>,
}

fn main() {
    stack::run("floor", |args| async move {
        let db = args
            .extra
            .iter()
            .find(|(k, _)| k == "--db")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| {
                std::env::temp_dir()
                    .join(format!("authdesk-floor-{}.db", std::process::id()))
                    .display()
                    .to_string()
            });
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot make a P-256 key".to_string())?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| "cannot load the P-256 key".to_string())?;
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = open_db(&db)?;
        std::thread::spawn(move || writer(conn, rx));
        let floor = Arc::new(Floor {
            key,
            rng,
            clients: HashMap::from([(CLIENT, SECRET.as_bytes())]),
            counter: AtomicU64::new(0),
            writer: tx,
            codes: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/authorize", get(authorize))
            .with_state(floor);
        stack::serve(&args, app).await
    });
}

fn open_db(path: &str) -> Result<rusqlite::Connection, String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| format!("{path}: {e}"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL,
             client_id TEXT NOT NULL, issued_at INTEGER NOT NULL, value TEXT) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS codes (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL,
             client_id TEXT NOT NULL, issued_at INTEGER NOT NULL, value TEXT) WITHOUT ROWID;",
    )
    .map_err(|e| format!("{path}: {e}"))?;
    Ok(conn)
}

/// The group commit: everything waiting goes into one transaction; each caller is
/// answered once it is committed.
fn writer(conn: rusqlite::Connection, mut rx: mpsc::UnboundedReceiver<Row>) {
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(r) = rx.try_recv() {
            batch.push(r);
        }
        let res = (|| -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN")?;
            for r in &batch {
                let sql = if r.table == "codes" {
                    "INSERT INTO codes (id, token_hash, client_id, issued_at, value) VALUES (?1, ?2, ?3, ?4, ?5)"
                } else {
                    "INSERT INTO tokens (id, token_hash, client_id, issued_at, value) VALUES (?1, ?2, ?3, ?4, ?5)"
                };
                conn.prepare_cached(sql)?
                    .execute((&r.id, &r.hash, r.client_id, r.at, &r.value))?;
            }
            conn.execute_batch("COMMIT")
        })();
        if res.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for r in batch.drain(..) {
            let _ = r.done.send(res.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }
}

impl Floor {
    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    /// An id that sorts in the order ids were made (new rows at the b-tree's right edge).
    fn id(&self, now: i64) -> String {
        format!("{now:010x}{:012x}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// A compact ES256 JWT.
    fn sign(&self, typ: &str, claims: &serde_json::Value) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"floor"}}"#));
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{body}");
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| "cannot sign".to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    async fn store(&self, table: &'static str, id: String, client_id: &'static str, value: &str, at: i64) -> Result<(), String> {
        let hash = hex(ring::digest::digest(&ring::digest::SHA256, value.as_bytes()).as_ref());
        let (done, wait) = oneshot::channel();
        let row = Row { table, id, hash, client_id, at, value: value.to_string(), done };
        self.writer.send(row).map_err(|_| "the writer stopped".to_string())?;
        wait.await.map_err(|_| "the writer stopped".to_string())?
    }

    /// The client of an HTTP Basic header, checked in constant time.
    fn client(&self, headers: &HeaderMap) -> Option<&'static str> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let b64 = v.strip_prefix("Basic ")?;
        let raw = STANDARD.decode(b64).ok()?;
        let colon = raw.iter().position(|&b| b == b':')?;
        let (id, secret) = (&raw[..colon], &raw[colon + 1..]);
        let (name, stored) = self.clients.get_key_value(std::str::from_utf8(id).ok()?)?;
        bool::from(stored.ct_eq(secret)).then_some(*name)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn json(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn error(status: StatusCode, code: &str) -> Response {
    json(status, format!(r#"{{"error":"{code}"}}"#))
}

async fn token(
    State(f): State<Arc<Floor>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let now = Floor::now();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let Some(client) = f.client(&headers) else {
                return error(StatusCode::UNAUTHORIZED, "invalid_client");
            };
            let id = f.id(now);
            let scope = form.get("scope").map(String::as_str).unwrap_or("");
            let claims = serde_json::json!({
                "iss": ISSUER, "sub": client, "aud": client, "client_id": client,
                "iat": now, "exp": now + 3600, "jti": id, "scope": scope,
            });
            let Ok(at) = f.sign("at+jwt", &claims) else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
            };
            if f.store("tokens", id, client, &at, now).await.is_err() {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
            }
            json(
                StatusCode::OK,
                serde_json::json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600, "scope": scope})
                    .to_string(),
            )
        }
        Some("authorization_code") => {
            let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
                return error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            if form.get("client_id").map(String::as_str) != Some(PUBLIC_CLIENT)
                || form.get("redirect_uri").map(String::as_str) != Some(REDIRECT)
            {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let hash = hex(ring::digest::digest(&ring::digest::SHA256, code.as_bytes()).as_ref());
            let Some(challenge) = f.codes.lock().ok().and_then(|mut c| c.remove(&hash)) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let computed = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let id = f.id(now);
            let sub = "alice-sub";
            let at_claims = serde_json::json!({
                "iss": ISSUER, "sub": sub, "aud": PUBLIC_CLIENT, "client_id": PUBLIC_CLIENT,
                "iat": now, "exp": now + 3600, "jti": id, "scope": "openid",
            });
            let id_claims = serde_json::json!({
                "iss": ISSUER, "sub": sub, "aud": PUBLIC_CLIENT, "iat": now, "exp": now + 3600,
                "auth_time": now,
            });
            let (Ok(at), Ok(idt)) = (f.sign("at+jwt", &at_claims), f.sign("JWT", &id_claims)) else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
            };
            if f.store("tokens", id, PUBLIC_CLIENT, &at, now).await.is_err() {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
            }
            json(
                StatusCode::OK,
                serde_json::json!({"access_token": at, "id_token": idt, "token_type": "Bearer",
                    "expires_in": 3600, "scope": "openid"})
                .to_string(),
            )
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

async fn authorize(State(f): State<Arc<Floor>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let now = Floor::now();
    if q.get("client_id").map(String::as_str) != Some(PUBLIC_CLIENT)
        || q.get("redirect_uri").map(String::as_str) != Some(REDIRECT)
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Some(challenge) = q.get("code_challenge") else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut raw = [0u8; 32];
    if f.rng.fill(&mut raw).is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    let code = URL_SAFE_NO_PAD.encode(raw);
    let hash = hex(ring::digest::digest(&ring::digest::SHA256, code.as_bytes()).as_ref());
    if f.store("codes", f.id(now), PUBLIC_CLIENT, challenge, now).await.is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    if let Ok(mut codes) = f.codes.lock() {
        codes.insert(hash, challenge.clone());
    }
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let location = format!("{REDIRECT}?code={code}&state={state}");
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
