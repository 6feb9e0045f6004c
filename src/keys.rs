//! Signing keys and compact JWS.
//!
//! The provider signs with RS256 (OpenID Connect's required algorithm), PS256, ES256
//! and EdDSA (Ed25519), several keys per algorithm, all persisted in SQLite: the
//! *active* key of each algorithm signs; a rotation makes a new active key and leaves
//! the one it replaced *published* in the JWKS, so tokens it signed still verify, until
//! it is *retired* — at a time set when it was replaced (24 h later unless the provider
//! is set otherwise, or at once), or by hand. Every state is a time compared with the
//! clock's `now` ([`KeyState::of`]): nothing has to run for a key to retire, and tests
//! move a manual clock. Parsed `ring` key pairs are kept in memory so signing a token
//! never re-parses a key.
//!
//! A first start does not wait for the RSA key (a second of CPU on a small machine):
//! [`KeySet::open`] makes the ES256 key at once and the RS256 one in the background;
//! PS256 and EdDSA keys are made when first needed. What needs a key awaits
//! [`KeySet::ready`]. A key is used only once it is stored, so nothing is ever signed
//! by a key that a crash could lose.
//!
//! Rotations and retirements may come from another process (`authdesk keys rotate`
//! while `serve` runs): they bump the store's revision counter, and
//! [`KeySet::follow`] reloads the keys when the counter moved.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::model::{SigningAlg, Timestamp};
use crate::store::Store;
use crate::store::signing_keys::KeyRow;

/// How long a replaced key stays published unless the provider is set otherwise.
pub const DEFAULT_RETIRE_AFTER: i64 = 24 * 3600;

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// One private key with its public JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    signer: Signer,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn keys_err(e: impl std::fmt::Display) -> Error {
    Error::Keys(e.to_string())
}

impl SigningKey {
    /// Parses a stored PKCS#8 key.
    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self> {
        let (signer, mut jwk) = match alg {
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                let kp =
                    RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| keys_err(format!("RSA key: {e}")))?;
                let parts = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                let jwk = json!({
                    "kty": "RSA",
                    "n": B64.encode(&parts.n),
                    "e": B64.encode(&parts.e),
                });
                (Signer::Rsa(kp), jwk)
            }
            SigningAlg::Es256 => {
                let kp = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(|e| keys_err(format!("EC key: {e}")))?;
                let point = kp.public_key().as_ref();
                if point.len() != 65 {
                    return Err(keys_err("EC public key is not an uncompressed P-256 point"));
                }
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": B64.encode(&point[1..33]),
                    "y": B64.encode(&point[33..65]),
                });
                (Signer::Ec(kp), jwk)
            }
            SigningAlg::EdDsa => {
                let kp = Ed25519KeyPair::from_pkcs8(pkcs8)
                    .map_err(|e| keys_err(format!("Ed25519 key: {e}")))?;
                let jwk = json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": B64.encode(kp.public_key().as_ref()),
                });
                (Signer::Ed(kp), jwk)
            }
        };
        let kid = thumbprint(&jwk);
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), json!(kid));
            m.insert("alg".into(), json!(alg.as_str()));
            m.insert("use".into(), json!("sig"));
        }
        Ok(SigningKey {
            kid,
            alg,
            signer,
            jwk,
        })
    }

    /// Generates a new PKCS#8 key for `alg` (RSA keys take about a second of CPU).
    pub fn generate_pkcs8(alg: SigningAlg) -> Result<Vec<u8>> {
        match alg {
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let key =
                    rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(keys_err)?;
                Ok(key.to_pkcs8_der().map_err(keys_err)?.as_bytes().to_vec())
            }
            SigningAlg::Es256 => Ok(EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(keys_err)?
            .as_ref()
            .to_vec()),
            SigningAlg::EdDsa => Ok(Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(keys_err)?
                .as_ref()
                .to_vec()),
        }
    }

    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let padding: &dyn signature::RsaEncoding = match self.alg {
                    SigningAlg::Ps256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(padding, &rng, message, &mut sig)
                    .map_err(keys_err)?;
                Ok(sig)
            }
            Signer::Ec(kp) => Ok(kp.sign(&rng, message).map_err(keys_err)?.as_ref().to_vec()),
            Signer::Ed(kp) => Ok(kp.sign(message).as_ref().to_vec()),
        }
    }

    /// Whether `signature` over `message` was made with this key.
    fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        let (alg, public): (&dyn signature::VerificationAlgorithm, &[u8]) = match &self.signer {
            Signer::Rsa(kp) if self.alg == SigningAlg::Ps256 => {
                (&signature::RSA_PSS_2048_8192_SHA256, kp.public().as_ref())
            }
            Signer::Rsa(kp) => (&signature::RSA_PKCS1_2048_8192_SHA256, kp.public().as_ref()),
            Signer::Ec(kp) => (
                &signature::ECDSA_P256_SHA256_FIXED,
                kp.public_key().as_ref(),
            ),
            Signer::Ed(kp) => (&signature::ED25519, kp.public_key().as_ref()),
        };
        signature::UnparsedPublicKey::new(alg, public)
            .verify(message, sig)
            .is_ok()
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
    pub fn sign_jwt(&self, typ: &str, claims: &impl serde::Serialize) -> Result<String> {
        #[derive(serde::Serialize)]
        struct Header<'a> {
            alg: &'a str,
            kid: &'a str,
            typ: &'a str,
        }
        let header = Header {
            alg: self.alg.as_str(),
            kid: &self.kid,
            typ,
        };
        let mut out = String::with_capacity(512);
        B64.encode_string(serde_json::to_vec(&header).map_err(keys_err)?, &mut out);
        out.push('.');
        B64.encode_string(serde_json::to_vec(claims).map_err(keys_err)?, &mut out);
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        B64.encode_string(sig, &mut out);
        Ok(out)
    }
}

/// The decoding key of `jwk`. RFC 7518 §6.2.1.2 wants EC coordinates at the curve's full
/// size, but some libraries (authlib among them) drop leading zero bytes, so about one
/// generated P-256 key in 128 arrives with a 31-byte coordinate; such a coordinate is
/// left-padded here rather than turned into a point that no signature matches.
pub fn decoding_key(jwk: &jsonwebtoken::jwk::Jwk) -> Result<jsonwebtoken::DecodingKey, String> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        return jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string());
    };
    let size = match ec.curve {
        EllipticCurve::P256 => 32,
        EllipticCurve::P384 => 48,
        EllipticCurve::P521 => 66,
        EllipticCurve::Ed25519 => {
            return Err("an EC key cannot use the curve Ed25519 (that is an OKP key)".into());
        }
    };
    let coordinate = |name: &str, b64: &str| -> Result<String, String> {
        let bytes = B64
            .decode(b64.trim_end_matches('='))
            .map_err(|e| format!("its {name} is not base64url ({e})"))?;
        if bytes.len() > size {
            return Err(format!(
                "its {name} has {} bytes, more than the {size} of its curve",
                bytes.len()
            ));
        }
        let mut full = vec![0u8; size - bytes.len()];
        full.extend_from_slice(&bytes);
        Ok(B64.encode(full))
    };
    jsonwebtoken::DecodingKey::from_ec_components(
        &coordinate("x", &ec.x)?,
        &coordinate("y", &ec.y)?,
    )
    .map_err(|e| e.to_string())
}

/// RFC 7638 JWK thumbprint, base64url.
fn thumbprint(jwk: &Value) -> String {
    let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_string();
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e"), s("n")),
        Some("OKP") => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv"), s("x")),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv"),
            s("x"),
            s("y")
        ),
    };
    B64.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// The `kid` in a compact JWS's header, if it has one (nothing is verified).
pub fn jws_kid(jws: &str) -> Option<String> {
    /// The last header read on this thread and its kid: a resource server checks the
    /// same few tokens again and again, and decoding and parsing the header was most
    /// of an introspection's own work. (A header is a pure function of itself.)
    const MEMO_MAX: usize = 512;
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, Option<String>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let header = jws.split('.').next()?;
    let memo = header.len() <= MEMO_MAX;
    if memo
        && let Some(kid) = LAST.with_borrow(|last| {
            last.as_ref()
                .filter(|(h, _)| h == header)
                .map(|(_, kid)| kid.clone())
        })
    {
        return kid;
    }
    let kid = decoded_kid(header);
    if memo {
        LAST.with_borrow_mut(|last| *last = Some((header.to_owned(), kid.clone())));
    }
    kid
}

fn decoded_kid(header: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        kid: Option<std::borrow::Cow<'a, str>>,
    }
    // Decoded on the stack (introspection reads the kid of every JWT it is given);
    // a header too long for it is decoded on the heap.
    let mut buf = [0u8; 512];
    let heap;
    let decoded: &[u8] = match B64.decode_slice(header, &mut buf) {
        Ok(n) => &buf[..n],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            heap = B64.decode(header).ok()?;
            &heap
        }
        Err(_) => return None,
    };
    let h: Header = serde_json::from_slice(decoded).ok()?;
    h.kid.map(std::borrow::Cow::into_owned)
}

// ---- the pure part: states, rotation and retirement decisions ----

/// Where a key stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Signs new tokens of its algorithm; in the JWKS.
    Active,
    /// Replaced by a rotation; still in the JWKS, so what it signed verifies.
    Published,
    /// Out of the JWKS; what it signed no longer verifies.
    Retired,
}

impl KeyState {
    /// The state of a key that is `active` (the newest of its algorithm) or not, and
    /// retires at `retire_at`, at `now`.
    pub fn of(active: bool, retire_at: Option<Timestamp>, now: Timestamp) -> Self {
        match (active, retire_at) {
            (_, Some(at)) if at <= now => KeyState::Retired,
            (true, _) => KeyState::Active,
            (false, _) => KeyState::Published,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Published => "published",
            KeyState::Retired => "retired",
        }
    }
}

/// What `authdesk keys list` and the window show of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct KeyInfo {
    pub kid: String,
    pub alg: SigningAlg,
    pub state: KeyState,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: Timestamp,
    /// When a rotation replaced it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub rotated_at: Option<Timestamp>,
    /// When it leaves (or left) the JWKS.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub retire_at: Option<Timestamp>,
}

impl KeyInfo {
    pub fn of(row: &KeyRow, now: Timestamp) -> Self {
        KeyInfo {
            kid: row.kid.clone(),
            alg: row.alg,
            state: KeyState::of(row.active, row.retire_at, now),
            created_at: row.created_at,
            rotated_at: row.rotated_at,
            retire_at: row.retire_at,
        }
    }
}

/// What becomes of the keys a rotation replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetireOld {
    /// They stay published for the provider's setting (24 h unless changed).
    #[default]
    AfterDefault,
    /// They stay published this many seconds.
    After(i64),
    /// They are retired at once: what they signed no longer verifies.
    Now,
}

impl RetireOld {
    /// When the replaced keys retire, given the provider's setting `default_after`.
    pub fn at(self, default_after: i64, now: Timestamp) -> Timestamp {
        match self {
            RetireOld::AfterDefault => now.saturating_add(default_after.max(0)),
            RetireOld::After(s) => now.saturating_add(s.max(0)),
            RetireOld::Now => now,
        }
    }
}

/// The algorithms a rotation makes new keys for: `alg`, or every algorithm that has an
/// active key (ES256 when none has, which a provider that started once never is).
pub fn algs_to_rotate(rows: &[KeyRow], alg: Option<SigningAlg>, now: Timestamp) -> Vec<SigningAlg> {
    if let Some(alg) = alg {
        return vec![alg];
    }
    let mut in_use: Vec<SigningAlg> = SigningAlg::ALL
        .iter()
        .copied()
        .filter(|a| {
            rows.iter().any(|r| {
                r.alg == *a && KeyState::of(r.active, r.retire_at, now) == KeyState::Active
            })
        })
        .collect();
    if in_use.is_empty() {
        in_use.push(SigningAlg::Es256);
    }
    in_use
}

/// Whether the key `kid` may be retired by hand at `now`: it exists, is not the key that
/// signs (rotate first), and is not retired already.
pub fn check_retire(rows: &[KeyRow], kid: &str, now: Timestamp) -> Result<()> {
    let row = rows
        .iter()
        .find(|r| r.kid == kid)
        .ok_or_else(|| Error::NotFound {
            what: "signing key",
            id: kid.into(),
        })?;
    match KeyState::of(row.active, row.retire_at, now) {
        KeyState::Published => Ok(()),
        KeyState::Active => Err(Error::invalid(
            "kid",
            format!(
                "'{kid}' is the active {alg} key, which signs new tokens; rotate first (`authdesk keys rotate --alg {alg} --retire-old now` retires it in the same step)",
                alg = row.alg
            ),
        )),
        KeyState::Retired => Err(Error::invalid(
            "kid",
            format!(
                "'{kid}' is retired already (since {}); nothing to do",
                row.retire_at.unwrap_or(now)
            ),
        )),
    }
}

/// Rotates the keys of `alg` (every algorithm in use when `None`) in the store: each
/// gets a new active key; the keys it replaces retire as `retire_old` says. Works on
/// the store alone, so the CLI rotates while `serve` runs; returns the new keys.
pub async fn rotate_in_store(
    store: &Store,
    alg: Option<SigningAlg>,
    retire_old: RetireOld,
    now: Timestamp,
) -> Result<Vec<KeyInfo>> {
    let rows = store.signing_keys().await?;
    let retire_at = retire_old.at(store.key_retire_after().await?, now);
    let mut made = Vec::new();
    for alg in algs_to_rotate(&rows, alg, now) {
        let row = new_key_row(alg, now).await?;
        store.rotate_signing_key(&row, retire_at, now).await?;
        tracing::info!(kid = %row.kid, %alg, retire_old_at = retire_at, "rotated a signing key");
        made.push(KeyInfo::of(&row, now));
    }
    Ok(made)
}

/// Makes and stores a first key of each of `algs` that has no active key; returns
/// whether it made one.
pub async fn ensure_keys_in_store(
    store: &Store,
    algs: &[SigningAlg],
    now: Timestamp,
) -> Result<bool> {
    let rows = store.signing_keys().await?;
    let mut made = false;
    for alg in algs {
        let has = rows
            .iter()
            .any(|r| r.alg == *alg && KeyState::of(r.active, r.retire_at, now) == KeyState::Active);
        // insert_first_signing_key stores nothing when the algorithm has a key by
        // then (named twice, or made by another process meanwhile).
        if !has {
            let row = new_key_row(*alg, now).await?;
            if store.insert_first_signing_key(&row).await? {
                tracing::info!(kid = %row.kid, alg = %alg, "generated a signing key");
                made = true;
            }
        }
    }
    Ok(made)
}

/// Retires the key `kid` at `now` (see [`check_retire`]).
pub async fn retire_in_store(store: &Store, kid: &str, now: Timestamp) -> Result<KeyInfo> {
    let rows = store.signing_keys().await?;
    check_retire(&rows, kid, now)?;
    if !store.retire_signing_key(kid, now).await? {
        // Changed by someone else between the check and the write: say where it stands.
        check_retire(&store.signing_keys().await?, kid, now)?;
    }
    let rows = store.signing_keys().await?;
    rows.iter()
        .find(|r| r.kid == kid)
        .map(|r| KeyInfo::of(r, now))
        .ok_or_else(|| Error::NotFound {
            what: "signing key",
            id: kid.into(),
        })
}

/// Every key, newest first, with its state at `now`.
pub async fn list_in_store(store: &Store, now: Timestamp) -> Result<Vec<KeyInfo>> {
    Ok(store
        .signing_keys()
        .await?
        .iter()
        .map(|r| KeyInfo::of(r, now))
        .collect())
}

/// A new key of `alg`, generated off the async threads.
async fn new_key_row(alg: SigningAlg, now: Timestamp) -> Result<KeyRow> {
    let pkcs8 = tokio::task::spawn_blocking(move || SigningKey::generate_pkcs8(alg))
        .await
        .map_err(keys_err)??;
    let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
    Ok(KeyRow {
        kid: key.kid,
        alg,
        pkcs8,
        created_at: now,
        active: true,
        rotated_at: None,
        retire_at: None,
    })
}

// ---- the running set ----

/// The outcome of making a key, once known (`Err`: why it could not be made).
type Making = watch::Receiver<Option<std::result::Result<(), String>>>;

/// The provider's signing keys as a running provider uses them: cheap to clone, and
/// changed in place by rotations (its own, or another process's through
/// [`KeySet::follow`]).
#[derive(Debug, Clone)]
pub struct KeySet(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Option<Store>,
    /// Stamps the keys made when first needed.
    clock: SharedClock,
    loaded: RwLock<Arc<Loaded>>,
    /// The store revision `loaded` reflects.
    revision: AtomicI64,
    /// Keys being made (a first key of an algorithm), with the outcome once known.
    making: Mutex<HashMap<SigningAlg, Making>>,
    reload: tokio::sync::Mutex<()>,
}

/// The keys that are not retired (as of their loading), newest first.
#[derive(Debug, Default)]
struct Loaded {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Arc<SigningKey>,
    active: bool,
    retire_at: Option<Timestamp>,
}

impl Entry {
    fn state(&self, now: Timestamp) -> KeyState {
        KeyState::of(self.active, self.retire_at, now)
    }
}

fn stored_key(row: &KeyRow) -> Result<SigningKey> {
    SigningKey::from_pkcs8(row.alg, &row.pkcs8).map_err(|e| {
        Error::Keys(format!(
            "the stored {} signing key '{}' is unreadable ({e}); delete it with `sqlite3 authdesk.db \"DELETE FROM signing_keys WHERE kid='{}'\"` (a new key is made when needed)",
            row.alg, row.kid, row.kid
        ))
    })
}

impl KeySet {
    fn with(store: Option<Store>, clock: SharedClock, revision: i64) -> Self {
        KeySet(Arc::new(Inner {
            store,
            clock,
            loaded: RwLock::default(),
            revision: AtomicI64::new(revision),
            making: Mutex::default(),
            reload: tokio::sync::Mutex::new(()),
        }))
    }

    /// Loads the keys and waits until the RS256 and ES256 keys are there.
    pub async fn load_or_create(store: &Store, clock: SharedClock) -> Result<Self> {
        let keys = Self::open(store, clock).await?;
        keys.ready(SigningAlg::Rs256).await?;
        keys.ready(SigningAlg::Es256).await?;
        Ok(keys)
    }

    /// Loads the keys; a missing ES256 key is made at once (milliseconds), a missing
    /// RS256 key in the background (see [`KeySet::ready`]); PS256 and EdDSA keys when
    /// first needed.
    pub async fn open(store: &Store, clock: SharedClock) -> Result<Self> {
        let rows = store.signing_keys_at_open().await?;
        let (_, revision) = store.opened();
        let now = clock.now();
        let keys = Self::with(Some(store.clone()), clock, revision);
        keys.install(&rows, now)?;
        if keys.active(SigningAlg::Es256).is_none() {
            keys.ready(SigningAlg::Es256).await?;
        }
        if keys.active(SigningAlg::Rs256).is_none() {
            keys.start_making(SigningAlg::Rs256);
        }
        Ok(keys)
    }

    /// Replaces the loaded keys with `rows`' unretired ones, reusing parsed keys.
    fn install(&self, rows: &[KeyRow], now: Timestamp) -> Result<()> {
        let old = self.snapshot();
        let mut entries = Vec::new();
        for row in rows {
            if KeyState::of(row.active, row.retire_at, now) == KeyState::Retired {
                continue;
            }
            let key = match old.entries.iter().find(|e| e.key.kid == row.kid) {
                Some(e) => e.key.clone(),
                None => Arc::new(stored_key(row)?),
            };
            entries.push(Entry {
                key,
                active: row.active,
                retire_at: row.retire_at,
            });
        }
        if let Ok(mut l) = self.0.loaded.write() {
            *l = Arc::new(Loaded { entries });
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.0.loaded.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Reads the keys from the store again (after a change made here).
    pub async fn reload(&self, now: Timestamp) -> Result<()> {
        let Some(store) = &self.0.store else {
            return Ok(());
        };
        let _one = self.0.reload.lock().await;
        let revision = store.revision().await?;
        let rows = store.signing_keys().await?;
        self.install(&rows, now)?;
        self.0.revision.store(revision, Ordering::SeqCst);
        Ok(())
    }

    /// Reloads the keys if the store's revision counter is no longer the one they were
    /// loaded at (another process rotated or retired a key). `revision` is the counter
    /// as the caller last read it (the core checks it at most twice a second).
    pub async fn follow(&self, revision: i64, now: Timestamp) -> Result<()> {
        if self.0.revision.load(Ordering::SeqCst) == revision {
            return Ok(());
        }
        let Some(store) = &self.0.store else {
            return Ok(());
        };
        let _one = self.0.reload.lock().await;
        if self.0.revision.load(Ordering::SeqCst) == revision {
            return Ok(());
        }
        let rows = store.signing_keys().await?;
        self.install(&rows, now)?;
        self.0.revision.store(revision, Ordering::SeqCst);
        Ok(())
    }

    fn active(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        self.snapshot()
            .entries
            .iter()
            .find(|e| e.active && e.key.alg == alg)
            .map(|e| e.key.clone())
    }

    /// Starts making the first key of `alg` unless that is under way; returns the
    /// outcome's receiver.
    fn start_making(&self, alg: SigningAlg) -> Making {
        let Ok(mut making) = self.0.making.lock() else {
            return watch::channel(Some(Err("the key set is poisoned".into()))).1;
        };
        if let Some(rx) = making.get(&alg) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        making.insert(alg, rx.clone());
        drop(making);
        let keys = self.clone();
        // Its own task: a request that gave up waiting does not stop the key.
        tokio::spawn(async move {
            let made = keys.make_first(alg).await.map_err(|e| {
                tracing::error!(error = %e, %alg, "cannot make a signing key");
                e.to_string()
            });
            if let Ok(mut making) = keys.0.making.lock() {
                making.remove(&alg);
            }
            tx.send_replace(Some(made));
        });
        rx
    }

    /// Makes and stores a first key of `alg` (unless another process stored one
    /// meanwhile), then loads the keys.
    async fn make_first(&self, alg: SigningAlg) -> Result<()> {
        let now = self.0.clock.now();
        let store = self
            .0
            .store
            .as_ref()
            .ok_or_else(|| Error::Keys(format!("no {alg} key")))?;
        let row = new_key_row(alg, now).await?;
        if store.insert_first_signing_key(&row).await? {
            tracing::info!(kid = %row.kid, %alg, "generated a signing key");
        }
        self.reload(now).await
    }

    /// Waits until there is an active key of `alg`, making (and storing) one if there is
    /// none: RSA keys take about a second.
    pub async fn ready(&self, alg: SigningAlg) -> Result<()> {
        if self.active(alg).is_some() {
            return Ok(());
        }
        let mut rx = self.start_making(alg);
        let outcome = rx
            .wait_for(|o| o.is_some())
            .await
            .map_err(|_| Error::Keys(format!("the {alg} key was never made")))?
            .clone();
        if let Some(Err(e)) = outcome {
            return Err(Error::Keys(format!("the {alg} key could not be made: {e}")));
        }
        self.get(alg).map(drop)
    }

    /// Waits for the keys being made (the JWKS publishes them all).
    pub async fn ready_all(&self) -> Result<()> {
        let making: Vec<SigningAlg> = self
            .0
            .making
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        for alg in making {
            self.ready(alg).await?;
        }
        Ok(())
    }

    /// The active key of `alg`, once it is there ([`KeySet::ready`] waits for it).
    pub fn get(&self, alg: SigningAlg) -> Result<Arc<SigningKey>> {
        if let Some(k) = self.active(alg) {
            return Ok(k);
        }
        let making = self
            .0
            .making
            .lock()
            .map(|m| m.contains_key(&alg))
            .unwrap_or(false);
        Err(Error::Keys(if making {
            format!("the {alg} key is still being generated")
        } else {
            format!("there is no {alg} key yet")
        }))
    }

    /// The unretired key `kid`.
    pub fn by_kid(&self, kid: &str, now: Timestamp) -> Option<Arc<SigningKey>> {
        // Under the read lock, without taking a reference to the whole set (every
        // introspection and bearer check asks).
        self.0
            .loaded
            .read()
            .ok()?
            .entries
            .iter()
            .find(|e| e.key.kid == kid && e.state(now) != KeyState::Retired)
            .map(|e| e.key.clone())
    }

    /// Whether the key `kid` is in the JWKS at `now` (active or published): a token it
    /// signed is still good.
    pub fn publishes(&self, kid: &str, now: Timestamp) -> bool {
        self.by_kid(kid, now).is_some()
    }

    /// The claims of a compact JWS that one of these keys signed and that is not retired
    /// at `now` (found by its `kid`, with the header's `alg` the key's own: no `none`, no
    /// algorithm swap); `None` for anything else. Checks the signature only, not the
    /// claims.
    pub fn verify(&self, jws: &str, now: Timestamp) -> Option<Value> {
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
            kid: Option<String>,
        }
        let mut parts = jws.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let h: Header = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        let key = match &h.kid {
            Some(kid) => self.by_kid(kid, now)?,
            None => self
                .snapshot()
                .entries
                .iter()
                .find(|e| e.key.alg.as_str() == h.alg && e.state(now) == KeyState::Active)
                .map(|e| e.key.clone())?,
        };
        if h.alg != key.alg.as_str() {
            return None;
        }
        let signed = &jws[..header.len() + 1 + payload.len()];
        if !key.verifies(signed.as_bytes(), &B64.decode(sig).ok()?) {
            return None;
        }
        serde_json::from_slice(&B64.decode(payload).ok()?).ok()
    }

    /// The JWK Set published at the JWKS endpoint: the active and published keys at
    /// `now`, newest first (await [`KeySet::ready_all`] first to include keys being
    /// made).
    pub fn jwks(&self, now: Timestamp) -> Value {
        let loaded = self.snapshot();
        let keys: Vec<&Value> = loaded
            .entries
            .iter()
            .filter(|e| e.state(now) != KeyState::Retired)
            .map(|e| &e.key.jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// Every algorithm the provider signs with (a key is made when first needed).
    pub fn algs(&self) -> Vec<&'static str> {
        SigningAlg::ALL.iter().map(|a| a.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = 1_700_000_000;

    fn clock(at: Timestamp) -> (Arc<crate::clock::ManualClock>, SharedClock) {
        let c = Arc::new(crate::clock::ManualClock::new(at));
        (c.clone(), c)
    }

    #[tokio::test]
    async fn a_first_open_makes_the_rsa_key_in_the_background_and_stores_it_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let keys = KeySet::open(&store, clock(NOW).1).await.unwrap();
        // ES256 (access tokens) is there at once; RS256 may still be on its way, and
        // then get() says so instead of failing later.
        assert!(keys.get(SigningAlg::Es256).is_ok());
        if let Err(e) = keys.get(SigningAlg::Rs256) {
            assert!(e.to_string().contains("still being generated"), "{e}");
        }
        // PS256 and EdDSA keys are made when first needed, not at start.
        assert!(keys.get(SigningAlg::Ps256).is_err());
        assert!(keys.get(SigningAlg::EdDsa).is_err());
        keys.ready_all().await.unwrap();
        let kid = keys.get(SigningAlg::Rs256).unwrap().kid.clone();
        assert_eq!(keys.jwks(NOW)["keys"].as_array().unwrap().len(), 2);
        keys.ready(SigningAlg::EdDsa).await.unwrap();
        assert_eq!(keys.jwks(NOW)["keys"].as_array().unwrap().len(), 3);
        // Ready means stored: a second open finds the same keys and makes none.
        let again = KeySet::open(&store, clock(NOW + 1).1).await.unwrap();
        assert_eq!(again.get(SigningAlg::Rs256).unwrap().kid, kid);
        assert!(again.get(SigningAlg::EdDsa).is_ok());
        assert_eq!(store.signing_keys().await.unwrap().len(), 3);
    }

    fn row(kid: &str, alg: SigningAlg, active: bool, retire_at: Option<Timestamp>) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            alg,
            pkcs8: Vec::new(),
            created_at: NOW - 100,
            active,
            rotated_at: (!active).then_some(NOW - 50),
            retire_at,
        }
    }

    #[test]
    fn the_kid_is_read_from_short_long_and_broken_headers() {
        let enc = |h: &str| format!("{}.e30.sig", B64.encode(h));
        assert_eq!(
            jws_kid(&enc(r#"{"alg":"ES256","kid":"k1"}"#)).as_deref(),
            Some("k1")
        );
        let long = format!(
            r#"{{"alg":"ES256","x":"{}","kid":"k\u0032"}}"#,
            "a".repeat(900)
        );
        assert_eq!(jws_kid(&enc(&long)).as_deref(), Some("k2"));
        assert_eq!(jws_kid(&enc(r#"{"alg":"ES256"}"#)), None);
        assert_eq!(jws_kid("!!!.e30.sig"), None);
        assert_eq!(jws_kid(&enc("not json")), None);
    }

    #[test]
    fn the_remembered_header_answers_only_for_itself() {
        let enc = |h: &str| format!("{}.e30.sig", B64.encode(h));
        let (one, two) = (
            enc(r#"{"alg":"ES256","kid":"one"}"#),
            enc(r#"{"alg":"ES256","kid":"two"}"#),
        );
        let none = enc(r#"{"alg":"ES256"}"#);
        for _ in 0..2 {
            assert_eq!(jws_kid(&one).as_deref(), Some("one"));
            assert_eq!(jws_kid(&one).as_deref(), Some("one"));
            assert_eq!(jws_kid(&two).as_deref(), Some("two"));
            assert_eq!(jws_kid(&none), None);
            assert_eq!(jws_kid(&none), None);
            assert_eq!(jws_kid(&format!("{one}x")).as_deref(), Some("one"));
        }
    }

    #[test]
    fn a_key_state_is_a_time_compared_with_now() {
        assert_eq!(KeyState::of(true, None, NOW), KeyState::Active);
        assert_eq!(KeyState::of(false, None, NOW), KeyState::Published);
        assert_eq!(KeyState::of(false, Some(NOW + 1), NOW), KeyState::Published);
        assert_eq!(KeyState::of(false, Some(NOW), NOW), KeyState::Retired);
        assert_eq!(
            KeyState::of(false, Some(NOW + 1), NOW + 1),
            KeyState::Retired
        );
        assert_eq!(
            RetireOld::AfterDefault.at(DEFAULT_RETIRE_AFTER, NOW),
            NOW + 86_400
        );
        assert_eq!(RetireOld::After(60).at(DEFAULT_RETIRE_AFTER, NOW), NOW + 60);
        assert_eq!(RetireOld::Now.at(DEFAULT_RETIRE_AFTER, NOW), NOW);
    }

    #[test]
    fn a_rotation_covers_the_algorithms_in_use_unless_one_is_named() {
        let rows = [
            row("r2", SigningAlg::Rs256, true, None),
            row("r1", SigningAlg::Rs256, false, Some(NOW + 10)),
            row("e1", SigningAlg::Es256, true, None),
            row("p1", SigningAlg::Ps256, false, Some(NOW - 1)),
        ];
        assert_eq!(
            algs_to_rotate(&rows, None, NOW),
            vec![SigningAlg::Rs256, SigningAlg::Es256]
        );
        assert_eq!(
            algs_to_rotate(&rows, Some(SigningAlg::EdDsa), NOW),
            vec![SigningAlg::EdDsa]
        );
        assert_eq!(algs_to_rotate(&[], None, NOW), vec![SigningAlg::Es256]);
    }

    #[test]
    fn only_a_published_key_can_be_retired_by_hand() {
        let rows = [
            row("active", SigningAlg::Es256, true, None),
            row("old", SigningAlg::Es256, false, Some(NOW + 3600)),
            row("gone", SigningAlg::Es256, false, Some(NOW - 1)),
        ];
        assert!(check_retire(&rows, "old", NOW).is_ok());
        let e = check_retire(&rows, "nope", NOW).unwrap_err();
        assert_eq!(e.code(), "not_found", "{e}");
        let e = check_retire(&rows, "active", NOW).unwrap_err().to_string();
        assert!(e.contains("rotate first"), "{e}");
        let e = check_retire(&rows, "gone", NOW).unwrap_err().to_string();
        assert!(e.contains("retired already"), "{e}");
        // The published key's time comes: then it is retired already.
        assert!(check_retire(&rows, "old", NOW + 3600).is_err());
    }

    #[tokio::test]
    async fn rotation_publishes_the_old_key_until_it_retires() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let (manual, clock) = clock(NOW);
        let keys = KeySet::open(&store, clock).await.unwrap();
        let old = keys.get(SigningAlg::Es256).unwrap();
        let old_jwt = old.sign_jwt("JWT", &json!({"n": 1})).unwrap();
        let made = rotate_in_store(&store, Some(SigningAlg::Es256), RetireOld::After(600), NOW)
            .await
            .unwrap();
        assert_eq!(made.len(), 1);
        // The set follows the store's revision.
        keys.follow(store.revision().await.unwrap(), NOW)
            .await
            .unwrap();
        let new = keys.get(SigningAlg::Es256).unwrap();
        assert_eq!(new.kid, made[0].kid);
        assert_ne!(new.kid, old.kid);
        let kids = |now| -> Vec<String> {
            keys.jwks(now)["keys"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["alg"] == "ES256")
                .map(|k| k["kid"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(kids(NOW), vec![new.kid.clone(), old.kid.clone()]);
        assert!(keys.verify(&old_jwt, NOW).is_some());
        let listed = list_in_store(&store, NOW).await.unwrap();
        let state = |kid: &str, l: &[KeyInfo]| l.iter().find(|k| k.kid == kid).unwrap().state;
        assert_eq!(state(&old.kid, &listed), KeyState::Published);
        assert_eq!(state(&new.kid, &listed), KeyState::Active);
        // Ten minutes on, the old key is retired: gone from the JWKS, its JWS refused.
        manual.advance(600);
        let later = NOW + 600;
        assert_eq!(kids(later), vec![new.kid.clone()]);
        assert!(keys.verify(&old_jwt, later).is_none());
        assert!(!keys.publishes(&old.kid, later));
        let listed = list_in_store(&store, later).await.unwrap();
        assert_eq!(state(&old.kid, &listed), KeyState::Retired);
    }

    #[tokio::test]
    async fn retire_old_now_and_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let keys = KeySet::open(&store, clock(NOW).1).await.unwrap();
        let first = keys.get(SigningAlg::Es256).unwrap();
        rotate_in_store(
            &store,
            Some(SigningAlg::Es256),
            RetireOld::AfterDefault,
            NOW,
        )
        .await
        .unwrap();
        let second = rotate_in_store(
            &store,
            Some(SigningAlg::Es256),
            RetireOld::After(3600),
            NOW + 10,
        )
        .await
        .unwrap();
        let rows = store.signing_keys().await.unwrap();
        let at = |kid: &str| rows.iter().find(|r| r.kid == kid).unwrap().retire_at;
        // A shorter retirement applies to every key replaced, a longer one to none.
        assert_eq!(at(&first.kid), Some(NOW + 10 + 3600));
        // Retire the middle key by hand; then rotate with `now`: only the newest is left.
        let middle = rows
            .iter()
            .find(|r| r.kid != first.kid && r.kid != second[0].kid)
            .unwrap()
            .kid
            .clone();
        let info = retire_in_store(&store, &middle, NOW + 20).await.unwrap();
        assert_eq!(info.state, KeyState::Retired);
        assert!(retire_in_store(&store, &middle, NOW + 21).await.is_err());
        let third = rotate_in_store(&store, Some(SigningAlg::Es256), RetireOld::Now, NOW + 30)
            .await
            .unwrap();
        keys.follow(store.revision().await.unwrap(), NOW + 30)
            .await
            .unwrap();
        let jwks = keys.jwks(NOW + 30);
        let es: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "ES256")
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(es, vec![third[0].kid.as_str()]);
        // The store's default (24 h) is a provider setting.
        assert_eq!(
            store.key_retire_after().await.unwrap(),
            DEFAULT_RETIRE_AFTER
        );
        store.set_key_retire_after(60).await.unwrap();
        assert_eq!(store.key_retire_after().await.unwrap(), 60);
    }

    #[test]
    fn only_jws_signed_by_the_set_verify() {
        let keys = KeySet::with(None, clock(NOW).1, 0);
        let entries = SigningAlg::ALL
            .iter()
            .map(|alg| {
                let pkcs8 = SigningKey::generate_pkcs8(*alg).unwrap();
                Entry {
                    key: Arc::new(SigningKey::from_pkcs8(*alg, &pkcs8).unwrap()),
                    active: true,
                    retire_at: None,
                }
            })
            .collect();
        *keys.0.loaded.write().unwrap() = Arc::new(Loaded { entries });
        for alg in SigningAlg::ALL {
            let jwt = keys
                .get(*alg)
                .unwrap()
                .sign_jwt("JWT", &json!({"aud": "app"}))
                .unwrap();
            assert_eq!(keys.verify(&jwt, NOW).unwrap()["aud"], "app", "{alg}");
            // The payload changed under the signature.
            let mut parts: Vec<&str> = jwt.split('.').collect();
            let forged = B64.encode(br#"{"aud":"evil"}"#);
            parts[1] = &forged;
            assert!(keys.verify(&parts.join("."), NOW).is_none(), "{alg}");
        }
        // alg none, an unknown kid, another key's alg, and a key outside the set.
        let es = keys.get(SigningAlg::Es256).unwrap();
        let none = format!(
            "{}.{}.",
            B64.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, es.kid)),
            B64.encode(br#"{"aud":"app"}"#)
        );
        assert!(keys.verify(&none, NOW).is_none());
        let jwt = es.sign_jwt("JWT", &json!({"aud": "app"})).unwrap();
        let (_, rest) = jwt.split_once('.').unwrap();
        let swapped = format!(
            "{}.{rest}",
            B64.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, es.kid))
        );
        assert!(keys.verify(&swapped, NOW).is_none());
        let unknown = format!(
            "{}.{rest}",
            B64.encode(br#"{"alg":"ES256","kid":"someone-else"}"#)
        );
        assert!(keys.verify(&unknown, NOW).is_none());
        let other = SigningKey::from_pkcs8(
            SigningAlg::Es256,
            &SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap(),
        )
        .unwrap();
        let theirs = other.sign_jwt("JWT", &json!({"aud": "app"})).unwrap();
        let (_, rest) = theirs.split_once('.').unwrap();
        let claimed = format!(
            "{}.{rest}",
            B64.encode(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, es.kid))
        );
        assert!(keys.verify(&claimed, NOW).is_none());
        assert!(keys.verify("not a jwt", NOW).is_none());
        assert!(keys.verify("a.b.c.d", NOW).is_none());
        // PS256 and RS256 share RSA keys' shape but not their padding.
        let ps = keys.get(SigningAlg::Ps256).unwrap();
        let jwt = ps.sign_jwt("JWT", &json!({"aud": "app"})).unwrap();
        let (_, rest) = jwt.split_once('.').unwrap();
        let as_rs = format!(
            "{}.{rest}",
            B64.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, ps.kid))
        );
        assert!(keys.verify(&as_rs, NOW).is_none());
    }

    #[test]
    fn every_algorithm_verifies_with_its_public_jwk_elsewhere() {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, jwk::Jwk};
        for (alg, theirs) in [
            (SigningAlg::Rs256, Algorithm::RS256),
            (SigningAlg::Ps256, Algorithm::PS256),
            (SigningAlg::Es256, Algorithm::ES256),
            (SigningAlg::EdDsa, Algorithm::EdDSA),
        ] {
            let pkcs8 = SigningKey::generate_pkcs8(alg).unwrap();
            let key = SigningKey::from_pkcs8(alg, &pkcs8).unwrap();
            let jwt = key.sign_jwt("JWT", &json!({"sub": "alice"})).unwrap();
            let jwk: Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
            let dk = DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = Validation::new(theirs);
            v.required_spec_claims.clear();
            v.validate_exp = false;
            let data = decode::<Value>(&jwt, &dk, &v).unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(data.claims["sub"], "alice");
            assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
            assert_eq!(jws_kid(&jwt).as_deref(), Some(key.kid.as_str()));
        }
    }

    #[test]
    fn es256_jws_verifies_with_its_public_jwk() {
        let pkcs8 = SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap();
        let key = SigningKey::from_pkcs8(SigningAlg::Es256, &pkcs8).unwrap();
        let jwt = key.sign_jwt("JWT", &json!({"sub": "alice"})).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&jwt, &dk, &v).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[test]
    fn rs256_jws_verifies_and_kid_is_the_thumbprint() {
        let pkcs8 = SigningKey::generate_pkcs8(SigningAlg::Rs256).unwrap();
        let key = SigningKey::from_pkcs8(SigningAlg::Rs256, &pkcs8).unwrap();
        let again = SigningKey::from_pkcs8(SigningAlg::Rs256, &pkcs8).unwrap();
        assert_eq!(key.kid, again.kid);
        let jwt = key.sign_jwt("JWT", &json!({"x": 1})).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        assert!(jsonwebtoken::decode::<Value>(&jwt, &dk, &v).is_ok());
        let tampered = jwt.replacen('.', ".e30", 1);
        assert!(jsonwebtoken::decode::<Value>(&tampered, &dk, &v).is_err());
    }

    #[test]
    fn ec_coordinates_without_their_leading_zero_bytes_still_verify() {
        use jsonwebtoken::{Algorithm, Validation, decode, jwk::Jwk};
        // About one P-256 key in 256 has an x starting with a zero byte; authlib's JWK
        // drops it.
        let key = loop {
            let pkcs8 = SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap();
            let key = SigningKey::from_pkcs8(SigningAlg::Es256, &pkcs8).unwrap();
            let x = B64.decode(key.public_jwk()["x"].as_str().unwrap()).unwrap();
            if x[0] == 0 {
                break key;
            }
        };
        let jwt = key.sign_jwt("JWT", &json!({"sub": "alice"})).unwrap();
        let mut short = key.public_jwk().clone();
        let x = B64.decode(short["x"].as_str().unwrap()).unwrap();
        let stripped = x
            .iter()
            .skip_while(|b| **b == 0)
            .copied()
            .collect::<Vec<_>>();
        short["x"] = json!(B64.encode(&stripped));
        let jwk: Jwk = serde_json::from_value(short.clone()).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let dk = decoding_key(&jwk).unwrap();
        assert_eq!(
            decode::<Value>(&jwt, &dk, &v).unwrap().claims["sub"],
            "alice"
        );

        // A coordinate longer than the curve's size is refused with its reason.
        short["x"] = json!(B64.encode([&[1u8][..], &x].concat()));
        let jwk: Jwk = serde_json::from_value(short).unwrap();
        let e = decoding_key(&jwk).err().unwrap();
        assert!(e.contains("33 bytes, more than the 32"), "{e}");
    }
}
