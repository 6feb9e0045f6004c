//! Signing keys and compact JWS.
//!
//! The provider holds one RS256 key (OpenID Connect's required algorithm) and one
//! ES256 key, generated on first start and persisted in SQLite. Parsed `ring` key
//! pairs are kept in memory so signing a token never re-parses a key.
//!
//! A first start does not wait for the RSA key (a second of CPU on a small machine):
//! [`KeySet::open`] generates it in the background, and what needs it awaits
//! [`KeySet::ready`] — an id_token, the JWKS. A key is used only once it is stored, so
//! nothing is ever signed by a key that a crash could lose.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};
use sha2::Digest;

use crate::error::{Error, Result};
use crate::model::SigningAlg;
use crate::store::Store;

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
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
            SigningAlg::Rs256 => {
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

    /// Generates a new PKCS#8 key for `alg`.
    pub fn generate_pkcs8(alg: SigningAlg) -> Result<Vec<u8>> {
        match alg {
            SigningAlg::Rs256 => {
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
        }
    }

    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(keys_err)?;
                Ok(sig)
            }
            Signer::Ec(kp) => Ok(kp.sign(&rng, message).map_err(keys_err)?.as_ref().to_vec()),
        }
    }

    /// Whether `signature` over `message` was made with this key.
    fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        let (alg, public): (&dyn signature::VerificationAlgorithm, &[u8]) = match &self.signer {
            Signer::Rsa(kp) => (&signature::RSA_PKCS1_2048_8192_SHA256, kp.public().as_ref()),
            Signer::Ec(kp) => (
                &signature::ECDSA_P256_SHA256_FIXED,
                kp.public_key().as_ref(),
            ),
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

/// RFC 7638 JWK thumbprint, base64url.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap_or_default(),
            jwk["n"].as_str().unwrap_or_default()
        ),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap_or_default(),
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        ),
    };
    B64.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// The provider's signing keys, one per algorithm.
#[derive(Debug, Clone)]
pub struct KeySet {
    slots: Arc<Vec<Slot>>,
}

/// One algorithm's key: set once, when it is stored (or its generation failed).
#[derive(Debug)]
struct Slot {
    alg: SigningAlg,
    key: OnceLock<std::result::Result<SigningKey, String>>,
    done: watch::Sender<bool>,
}

impl Slot {
    fn new(alg: SigningAlg) -> Self {
        Slot {
            alg,
            key: OnceLock::new(),
            done: watch::channel(false).0,
        }
    }

    fn set(&self, key: std::result::Result<SigningKey, String>) {
        let _ = self.key.set(key);
        self.done.send_replace(true);
    }
}

/// Generates and stores a key for `alg`.
async fn generate(store: &Store, alg: SigningAlg, now: i64) -> Result<SigningKey> {
    let pkcs8 = tokio::task::spawn_blocking(move || SigningKey::generate_pkcs8(alg))
        .await
        .map_err(keys_err)??;
    let key = SigningKey::from_pkcs8(alg, &pkcs8)?;
    store.insert_signing_key(&key.kid, alg, &pkcs8, now).await?;
    tracing::info!(kid = %key.kid, %alg, "generated a signing key");
    Ok(key)
}

fn stored_key(alg: SigningAlg, pkcs8: &[u8]) -> Result<SigningKey> {
    SigningKey::from_pkcs8(alg, pkcs8).map_err(|e| {
        Error::Keys(format!(
            "the stored {alg} signing key is unreadable ({e}); delete it with `sqlite3 authdesk.db \"DELETE FROM signing_keys WHERE alg='{alg}'\"` to generate a new one"
        ))
    })
}

impl KeySet {
    /// Loads the active keys, generating (and persisting) one for each algorithm that
    /// has none yet; returns once every key is there.
    pub async fn load_or_create(store: &Store, now: i64) -> Result<Self> {
        let keys = Self::open(store, now).await?;
        for alg in SigningAlg::ALL {
            keys.ready(*alg).await?;
        }
        Ok(keys)
    }

    /// Loads the active keys; a missing ES256 key is generated at once (milliseconds),
    /// a missing RS256 key in the background (see [`KeySet::ready`]).
    pub async fn open(store: &Store, now: i64) -> Result<Self> {
        let slots: Vec<Slot> = SigningAlg::ALL.iter().map(|a| Slot::new(*a)).collect();
        let mut missing = Vec::new();
        for slot in &slots {
            match store.active_signing_key_at_open(slot.alg).await? {
                Some(pkcs8) => slot.set(Ok(stored_key(slot.alg, &pkcs8)?)),
                None if slot.alg == SigningAlg::Rs256 => missing.push(slot.alg),
                None => slot.set(Ok(generate(store, slot.alg, now).await?)),
            }
        }
        let keys = KeySet {
            slots: Arc::new(slots),
        };
        for alg in missing {
            let (keys, store) = (keys.clone(), store.clone());
            tokio::spawn(async move {
                let made = generate(&store, alg, now).await.map_err(|e| {
                    tracing::error!(error = %e, %alg, "cannot generate a signing key");
                    e.to_string()
                });
                if let Some(slot) = keys.slot(alg) {
                    slot.set(made);
                }
            });
        }
        Ok(keys)
    }

    fn slot(&self, alg: SigningAlg) -> Option<&Slot> {
        self.slots.iter().find(|s| s.alg == alg)
    }

    /// Waits until the key of `alg` is there (generated and stored).
    pub async fn ready(&self, alg: SigningAlg) -> Result<()> {
        let slot = self
            .slot(alg)
            .ok_or_else(|| Error::Keys(format!("no {alg} key")))?;
        if slot.key.get().is_none() {
            let mut done = slot.done.subscribe();
            done.wait_for(|d| *d)
                .await
                .map_err(|_| Error::Keys(format!("the {alg} key was never made")))?;
        }
        self.get(alg).map(drop)
    }

    /// Waits for every key (the JWKS publishes them all).
    pub async fn ready_all(&self) -> Result<()> {
        for alg in SigningAlg::ALL {
            self.ready(*alg).await?;
        }
        Ok(())
    }

    fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.slots
            .iter()
            .filter_map(|s| s.key.get().and_then(|k| k.as_ref().ok()))
    }

    /// The key of `alg`, once it is there ([`KeySet::ready`] waits for it).
    pub fn get(&self, alg: SigningAlg) -> Result<&SigningKey> {
        match self.slot(alg).map(|s| s.key.get()) {
            Some(Some(Ok(k))) => Ok(k),
            Some(Some(Err(e))) => Err(Error::Keys(format!("the {alg} key could not be made: {e}"))),
            Some(None) => Err(Error::Keys(format!(
                "the {alg} key is still being generated"
            ))),
            None => Err(Error::Keys(format!("no {alg} key"))),
        }
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys().find(|k| k.kid == kid)
    }

    /// The claims of a compact JWS that one of these keys signed (found by its `kid`,
    /// with the header's `alg` the key's own: no `none`, no algorithm swap); `None`
    /// for anything else. Checks the signature only, not the claims.
    pub fn verify(&self, jws: &str) -> Option<Value> {
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
            Some(kid) => self.by_kid(kid)?,
            None => self.keys().find(|k| k.alg.as_str() == h.alg)?,
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

    /// The JWK Set published at the JWKS endpoint.
    /// The JWK Set published at the JWKS endpoint: the keys that are there (await
    /// [`KeySet::ready_all`] first to publish every one).
    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
    }

    /// Every algorithm this set signs with (a key being generated included).
    pub fn algs(&self) -> Vec<&'static str> {
        self.slots.iter().map(|s| s.alg.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_first_open_makes_the_rsa_key_in_the_background_and_stores_it_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let keys = KeySet::open(&store, 1_700_000_000).await.unwrap();
        // ES256 (access tokens) is there at once; RS256 may still be on its way, and
        // then get() says so instead of failing later.
        assert!(keys.get(SigningAlg::Es256).is_ok());
        if let Err(e) = keys.get(SigningAlg::Rs256) {
            assert!(e.to_string().contains("still being generated"), "{e}");
        }
        assert_eq!(keys.algs(), vec!["RS256", "ES256"]);
        keys.ready_all().await.unwrap();
        let kid = keys.get(SigningAlg::Rs256).unwrap().kid.clone();
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
        // Ready means stored: a second open finds the same key and makes none.
        let again = KeySet::open(&store, 1_700_000_001).await.unwrap();
        assert_eq!(again.get(SigningAlg::Rs256).unwrap().kid, kid);
    }

    #[test]
    fn only_jws_signed_by_the_set_verify() {
        let keys = KeySet {
            slots: Arc::new(
                SigningAlg::ALL
                    .iter()
                    .map(|alg| {
                        let pkcs8 = SigningKey::generate_pkcs8(*alg).unwrap();
                        let slot = Slot::new(*alg);
                        slot.set(Ok(SigningKey::from_pkcs8(*alg, &pkcs8).unwrap()));
                        slot
                    })
                    .collect(),
            ),
        };
        for alg in SigningAlg::ALL {
            let jwt = keys
                .get(*alg)
                .unwrap()
                .sign_jwt("JWT", &json!({"aud": "app"}))
                .unwrap();
            assert_eq!(keys.verify(&jwt).unwrap()["aud"], "app", "{alg}");
            // The payload changed under the signature.
            let mut parts: Vec<&str> = jwt.split('.').collect();
            let forged = B64.encode(br#"{"aud":"evil"}"#);
            parts[1] = &forged;
            assert!(keys.verify(&parts.join(".")).is_none(), "{alg}");
        }
        // alg none, an unknown kid, another key's alg, and a key outside the set.
        let es = keys.get(SigningAlg::Es256).unwrap();
        let none = format!(
            "{}.{}.",
            B64.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, es.kid)),
            B64.encode(br#"{"aud":"app"}"#)
        );
        assert!(keys.verify(&none).is_none());
        let jwt = es.sign_jwt("JWT", &json!({"aud": "app"})).unwrap();
        let (_, rest) = jwt.split_once('.').unwrap();
        let swapped = format!(
            "{}.{rest}",
            B64.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, es.kid))
        );
        assert!(keys.verify(&swapped).is_none());
        let unknown = format!(
            "{}.{rest}",
            B64.encode(br#"{"alg":"ES256","kid":"someone-else"}"#)
        );
        assert!(keys.verify(&unknown).is_none());
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
        assert!(keys.verify(&claimed).is_none());
        assert!(keys.verify("not a jwt").is_none());
        assert!(keys.verify("a.b.c.d").is_none());
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
}
