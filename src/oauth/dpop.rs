//! DPoP (RFC 9449): a client proves possession of a key with a signed proof JWT on
//! each request. At the token endpoint a proof binds the issued tokens to its key
//! (`token_type: DPoP`, `cnf.jkt` in JWT access tokens and introspection; refresh
//! tokens of public clients too). A bound access token is then refused as a plain
//! Bearer token and accepted with `Authorization: DPoP` and a proof for that request
//! (`htm`, `htu`, `ath`, `iat` window, single-use `jti`). With `serve --dpop-nonce` the
//! provider also asks for its own nonces (`use_dpop_nonce`, RFC 9449 §8, §9).
//!
//! [`check_proof`] is pure; [`verify_proof`] adds the replay check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use ring::hmac;
use serde_json::{Value, json};
use sha2::Digest;

use super::context::Context;
use super::error::{Challenge, ErrorCode, OAuthError};
use super::jose;
use super::mint::TokenResponse;
use crate::model::{Client, Timestamp};
use crate::store::standards::{self, BindingRow};

/// The asymmetric algorithms a proof may use (advertised as
/// `dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 9] = [
    "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
];
/// How old a proof's `iat` may be, in seconds.
pub const MAX_AGE: i64 = 300;
/// How far ahead of the provider's clock a proof's `iat` may be, in seconds.
pub const MAX_SKEW: i64 = 60;
/// A server nonce is good for this window and the next, in seconds.
pub const NONCE_WINDOW: i64 = 300;

/// The HMAC key of this provider's DPoP nonces: new at each start (a nonce from before
/// a restart is answered with a fresh one, which clients retry with).
pub struct NonceKey(hmac::Key);

impl Default for NonceKey {
    fn default() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        NonceKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    fn for_window(&self, window: i64) -> String {
        let tag = hmac::sign(&self.0, &window.to_be_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(window.to_be_bytes()),
            URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
        )
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: Timestamp) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW))
    }

    /// Whether `nonce` is this provider's, of this window or the one before.
    pub fn accepts(&self, nonce: &str, now: Timestamp) -> bool {
        let w = now.div_euclid(NONCE_WINDOW);
        [w, w - 1].iter().any(|w| {
            let expected = self.for_window(*w);
            expected.len() == nonce.len()
                && bool::from(subtle::ConstantTimeEq::ct_eq(
                    expected.as_bytes(),
                    nonce.as_bytes(),
                ))
        })
    }
}

/// What a request must prove: the method and URL it was sent to, the access token it
/// carries (resource requests) and the nonce the provider expects (if any).
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub htm: &'a str,
    pub htu: &'a str,
    pub access_token: Option<&'a str>,
    /// The nonce check, when the provider asks for nonces.
    pub nonces: Option<&'a NonceKey>,
}

/// A proof that passed [`check_proof`].
#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key.
    pub jkt: String,
    pub jti: String,
    pub iat: Timestamp,
}

fn invalid(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, d)
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key.
pub fn thumbprint(jwk: &Value) -> Result<String, String> {
    let s = |k: &str| {
        jwk.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the proof's jwk has no '{k}'"))
    };
    // The required members only, in lexicographic order, no whitespace (§3.2).
    let canonical = match s("kty")? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            json!(s("crv")?),
            json!(s("x")?),
            json!(s("y")?)
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            json!(s("e")?),
            json!(s("n")?)
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            json!(s("crv")?),
            json!(s("x")?)
        ),
        other => {
            return Err(format!(
                "the proof's jwk has kty '{other}'; use EC, RSA or OKP"
            ));
        }
    };
    Ok(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes())))
}

/// `ath`: base64url(SHA-256(access token)).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(access_token.as_bytes()))
}

/// The URL without query and fragment, as `htu` compares it (RFC 9449 §4.3).
fn htu_form(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.as_str().trim_end_matches('/').to_string())
}

/// Checks a DPoP proof JWT against what the request must prove (pure, without the
/// replay check). Refusals are `invalid_dpop_proof` (or `use_dpop_nonce`) naming
/// the cause.
pub fn check_proof(proof: &str, expect: &Expect<'_>, now: Timestamp) -> Result<Proof, OAuthError> {
    let peeked = jose::peek(proof, "DPoP proof").map_err(invalid)?;
    let typ = peeked.header.get("typ").and_then(Value::as_str);
    if typ != Some("dpop+jwt") {
        return Err(invalid(format!(
            "the DPoP proof's typ must be dpop+jwt (RFC 9449 section 4.2); got {}",
            typ.map_or("none".to_string(), |t| format!("'{t}'"))
        )));
    }
    let alg = peeked.alg();
    if !ALGS.contains(&alg) {
        return Err(invalid(format!(
            "the DPoP proof is signed with '{alg}'; use an asymmetric algorithm: {}",
            ALGS.join(", ")
        )));
    }
    let jwk_value = peeked
        .header
        .get("jwk")
        .filter(|j| j.is_object())
        .ok_or_else(|| invalid("the DPoP proof has no jwk header with its public key"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|k| jwk_value.get(k).is_some())
    {
        return Err(invalid(
            "the DPoP proof's jwk contains private key material; put only the public key in the header",
        ));
    }
    let jkt = thumbprint(jwk_value).map_err(invalid)?;
    let jwk: Jwk = serde_json::from_value(jwk_value.clone())
        .map_err(|e| invalid(format!("the DPoP proof's jwk cannot be read ({e})")))?;
    let key = crate::keys::decoding_key(&jwk)
        .map_err(|e| invalid(format!("the DPoP proof's jwk is unusable ({e})")))?;
    let algorithm: Algorithm = alg
        .parse()
        .map_err(|_| invalid(format!("the DPoP proof's alg '{alg}' is unknown")))?;
    jose::verify_with(proof, algorithm, &key, "DPoP proof").map_err(invalid)?;

    let c = &peeked;
    let jti = c
        .claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| invalid("the DPoP proof has no jti; each proof needs a unique jti"))?;
    match c.claim_str("htm") {
        Some(m) if m == expect.htm => {}
        other => {
            return Err(invalid(format!(
                "the DPoP proof is for method {}, but this request is {}; make a proof for each request with its htm",
                other.unwrap_or("(none)"),
                expect.htm
            )));
        }
    }
    let want = htu_form(expect.htu).unwrap_or_else(|| expect.htu.to_string());
    match c.claim_str("htu") {
        Some(u) if htu_form(u).as_deref() == Some(want.as_str()) => {}
        other => {
            return Err(invalid(format!(
                "the DPoP proof is for URL {}, but this request went to {want}; a proof is good only for the URL its htu names",
                other.unwrap_or("(none)")
            )));
        }
    }
    let iat = c
        .claim_i64("iat")
        .ok_or_else(|| invalid("the DPoP proof has no iat"))?;
    if iat < now - MAX_AGE {
        return Err(invalid(format!(
            "the DPoP proof was made {}s ago (iat); proofs are accepted for {MAX_AGE} s, so make a fresh one for each request",
            now - iat
        )));
    }
    if iat > now + MAX_SKEW {
        return Err(invalid(format!(
            "the DPoP proof's iat is {}s in the future; check the client's clock",
            iat - now
        )));
    }
    if let Some(token) = expect.access_token {
        match c.claim_str("ath") {
            Some(a) if a == ath(token) => {}
            Some(_) => {
                return Err(invalid(
                    "the DPoP proof's ath is not the hash of this access token; make the proof with ath = base64url(SHA-256(access token))",
                ));
            }
            None => {
                return Err(invalid(
                    "the DPoP proof has no ath; a proof sent with an access token must carry its hash (RFC 9449 section 4.2)",
                ));
            }
        }
    }
    if let Some(nonces) = expect.nonces {
        let fresh = nonces.current(now);
        match c.claim_str("nonce") {
            Some(n) if nonces.accepts(n, now) => {}
            Some(_) => {
                return Err(use_nonce(
                    "the DPoP proof's nonce is not current (or not this provider's); retry with the nonce in the DPoP-Nonce header",
                    fresh,
                ));
            }
            None => {
                return Err(use_nonce(
                    "this provider asks for a DPoP nonce (serve --dpop-nonce); retry with the nonce in the DPoP-Nonce header",
                    fresh,
                ));
            }
        }
    }
    Ok(Proof {
        jkt,
        jti: jti.to_string(),
        iat,
    })
}

fn use_nonce(d: &str, nonce: String) -> OAuthError {
    let mut e = OAuthError::new(ErrorCode::UseDpopNonce, d);
    e.dpop_nonce = Some(nonce);
    e
}

/// [`check_proof`], then the proof's `jti` is recorded: a replayed proof is refused.
pub async fn verify_proof(
    ctx: &Context,
    proof: &str,
    expect: &Expect<'_>,
    now: Timestamp,
) -> Result<Proof, OAuthError> {
    let p = check_proof(proof, expect, now)?;
    let fresh = crate::store::flows::use_assertion_jti(
        ctx.core.store.pool(),
        &format!("dpop:{}", p.jkt),
        &p.jti,
        p.iat + MAX_AGE + MAX_SKEW,
        now,
    )
    .await?;
    if !fresh {
        return Err(invalid(format!(
            "the DPoP proof with jti '{}' was already used; a proof is single-use, so make a new one (new jti) for each request",
            p.jti
        )));
    }
    Ok(p)
}

/// The nonce checker when the provider asks for nonces.
fn nonces(ctx: &Context) -> Option<&NonceKey> {
    ctx.config.dpop_nonce.then_some(&ctx.dpop)
}

/// The key the tokens of a token request are bound to: the proof's, if one was sent
/// (`proof`, the `DPoP` header's value). A client set to require DPoP must send one.
pub async fn at_token_endpoint(
    ctx: &Context,
    client: &Client,
    proof: Option<&str>,
    now: Timestamp,
) -> Result<Option<String>, OAuthError> {
    let Some(proof) = proof else {
        if client.dpop_bound_access_tokens {
            return Err(invalid(format!(
                "client '{}' requires DPoP-bound tokens (dpop_bound_access_tokens), but the request has no DPoP header; send a DPoP proof (RFC 9449 section 5)",
                client.client_id
            )));
        }
        return Ok(None);
    };
    let url = ctx.config.url(super::context::paths::TOKEN);
    let expect = Expect {
        htm: "POST",
        htu: &url,
        access_token: None,
        nonces: nonces(ctx),
    };
    Ok(Some(verify_proof(ctx, proof, &expect, now).await?.jkt))
}

/// A refresh token bound to a key (a public client's) is refreshed only with a proof
/// of that key (pure).
pub fn check_refresh_binding(
    bound_to: Option<&str>,
    presented: Option<&str>,
) -> Result<(), OAuthError> {
    match (bound_to, presented) {
        (None, _) => Ok(()),
        (Some(b), Some(p)) if b == p => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "the refresh token is bound to another DPoP key than this proof's; sign the proof with the key the tokens were issued for",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key (it was issued to a public client with a DPoP proof); send a DPoP proof signed with that key",
        )),
    }
}

/// The key a stored token is bound to, if any.
pub async fn binding_of(ctx: &Context, token_id: &str) -> Result<Option<String>, OAuthError> {
    if let Some(known) = ctx.dpop_bindings.get(token_id) {
        return Ok(known);
    }
    let found = standards::binding_of(ctx.core.store.pool(), token_id).await?;
    ctx.dpop_bindings.put(token_id, found.clone());
    Ok(found)
}

/// The DPoP bindings of tokens already looked up (or issued here): a token's binding
/// is stored with it, before the token is handed out, and never changes, so an answer
/// once read stays true. Spares introspection and every bearer check a query.
#[derive(Debug, Default)]
pub struct Bindings(std::sync::Mutex<std::collections::HashMap<String, Option<String>>>);

impl Bindings {
    /// At most this many are kept; the map starts over when full.
    const LIMIT: usize = 10_000;

    fn get(&self, token_id: &str) -> Option<Option<String>> {
        self.0.lock().ok()?.get(token_id).cloned()
    }

    fn put(&self, token_id: &str, jkt: Option<String>) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::LIMIT {
                m.clear();
            }
            m.insert(token_id.to_string(), jkt);
        }
    }
}

/// Stores the binding of freshly issued tokens: the access token, and the refresh
/// token of a public client (RFC 9449 §5). Done before the response is sent.
pub async fn store_bindings(
    ctx: &Context,
    response: &TokenResponse,
    jkt: &str,
    public_client: bool,
) -> Result<(), OAuthError> {
    let mut ids: Vec<&String> = response.issued.iter().take(1).collect();
    if public_client && response.refresh_token.is_some() {
        ids.extend(response.issued.get(1));
    }
    let rows: Vec<BindingRow> = ids
        .into_iter()
        .map(|id| BindingRow {
            token_id: id.clone(),
            jkt: jkt.to_string(),
        })
        .collect();
    ctx.core
        .store
        .writer()
        .append(crate::store::writer::boxed(rows.clone()).collect())
        .await?;
    for r in rows {
        ctx.dpop_bindings.put(&r.token_id, Some(r.jkt));
    }
    Ok(())
}

/// How a protected resource was called: `Authorization: Bearer` or `Authorization:
/// DPoP` (with the `DPoP` header's proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The access token of `Authorization: DPoP <token>` (`None` for another scheme).
pub fn dpop_token(authorization: Option<&str>) -> Option<String> {
    let (scheme, rest) = authorization?.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("dpop") && !rest.trim().is_empty())
        .then(|| rest.trim().to_string())
}

/// The DPoP side of a protected resource request: a token bound to a key (`bound_to`)
/// needs the DPoP scheme and a valid proof for this request; an unbound one the
/// Bearer scheme.
pub async fn check_resource(
    ctx: &Context,
    bound_to: Option<&str>,
    scheme: Scheme,
    proof: Option<&str>,
    expect: Expect<'_>,
    now: Timestamp,
) -> Result<(), OAuthError> {
    let challenge = |mut e: OAuthError| {
        e.challenge = Challenge::Dpop;
        e
    };
    match (bound_to, scheme) {
        (None, Scheme::Bearer) => Ok(()),
        (None, Scheme::Dpop) => Err(challenge(OAuthError::invalid_token(
            "this access token is not bound to a DPoP key; send it as Authorization: Bearer",
        ))),
        (Some(jkt), Scheme::Bearer) => Err(challenge(OAuthError::invalid_token(format!(
            "this access token is bound to a DPoP key (cnf.jkt {jkt}), so it is refused as a Bearer token; send Authorization: DPoP <token> with a DPoP proof header (RFC 9449 section 7)"
        )))),
        (Some(jkt), Scheme::Dpop) => {
            let proof = proof.ok_or_else(|| {
                challenge(invalid(
                    "Authorization: DPoP needs a DPoP header with a proof for this request",
                ))
            })?;
            let expect = Expect {
                nonces: nonces(ctx),
                ..expect
            };
            let p = verify_proof(ctx, proof, &expect, now)
                .await
                .map_err(challenge)?;
            if p.jkt != jkt {
                return Err(challenge(invalid(
                    "the DPoP proof is signed by another key than the one the access token is bound to; sign it with the key you got the token with",
                )));
            }
            Ok(())
        }
    }
}

/// Validates the access token of a protected resource request (`Authorization:
/// Bearer` or a form body, or `Authorization: DPoP` with its `proof`), sent with
/// `method` to the endpoint `path`: a DPoP-bound token only with a proof of its key.
pub async fn authorize_resource(
    ctx: &Context,
    authorization: Option<&str>,
    form: Option<&super::params::Params>,
    proof: Option<&str>,
    method: &str,
    path: &str,
    now: Timestamp,
) -> Result<super::resource::Bearer, OAuthError> {
    let (token, scheme) = match dpop_token(authorization) {
        Some(t) => (t, Scheme::Dpop),
        None => (
            super::resource::bearer_token(authorization, form)?,
            Scheme::Bearer,
        ),
    };
    let with_scheme = |mut e: OAuthError| {
        if scheme == Scheme::Dpop {
            e.challenge = Challenge::Dpop;
        }
        e
    };
    let bearer = super::resource::authorize_bearer(ctx, &token, now)
        .await
        .map_err(with_scheme)?;
    let bound_to = binding_of(ctx, &bearer.token.id).await?;
    let url = ctx.config.url(path);
    let expect = Expect {
        htm: method,
        htu: &url,
        access_token: Some(&token),
        nonces: None,
    };
    check_resource(ctx, bound_to.as_deref(), scheme, proof, expect, now).await?;
    Ok(bearer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const NOW: Timestamp = 1_700_000_000;
    const URL: &str = "https://localhost:8443/token";

    /// A P-256 key, its public JWK and thumbprint.
    fn key() -> (EncodingKey, Value) {
        let kp = rcgen::KeyPair::generate().unwrap();
        let point = kp.public_key_raw();
        let jwk = json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        (
            EncodingKey::from_ec_pem(kp.serialize_pem().as_bytes()).unwrap(),
            jwk,
        )
    }

    fn proof(k: &(EncodingKey, Value), claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(serde_json::from_value(k.1.clone()).unwrap());
        jsonwebtoken::encode(&h, &claims, &k.0).unwrap()
    }

    fn expect(token: Option<&str>) -> Expect<'_> {
        Expect {
            htm: "POST",
            htu: URL,
            access_token: token,
            nonces: None,
        }
    }

    fn refused(p: &str, e: &Expect<'_>) -> String {
        let err = check_proof(p, e, NOW).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidDpopProof, "{}", err.description);
        err.description
    }

    #[test]
    fn rfc_7638_thumbprint_example() {
        // RFC 7638 section 3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
          "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_good_proof_gives_its_key_thumbprint() {
        let k = key();
        let p = proof(
            &k,
            json!({"jti": "1", "htm": "POST", "htu": URL, "iat": NOW}),
        );
        let got = check_proof(&p, &expect(None), NOW).unwrap();
        assert_eq!(got.jkt, thumbprint(&k.1).unwrap());
        // Query and fragment do not count in htu.
        let p = proof(
            &k,
            json!({"jti": "1", "htm": "POST", "htu": format!("{URL}?x=1"), "iat": NOW}),
        );
        assert!(check_proof(&p, &expect(None), NOW).is_ok());
    }

    #[test]
    fn each_wrong_claim_is_named() {
        let k = key();
        let base = json!({"jti": "1", "htm": "POST", "htu": URL, "iat": NOW});
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = base.clone();
            f(&mut c);
            proof(&k, c)
        };
        assert!(
            refused(
                &with(&|c| c["htu"] = json!("https://localhost:8443/userinfo")),
                &expect(None)
            )
            .contains("is for URL https://localhost:8443/userinfo")
        );
        assert!(
            refused(&with(&|c| c["htm"] = json!("GET")), &expect(None)).contains("for method GET")
        );
        assert!(
            refused(&with(&|c| c["iat"] = json!(NOW - 301)), &expect(None))
                .contains("made 301s ago")
        );
        assert!(
            refused(&with(&|c| c["iat"] = json!(NOW + 61)), &expect(None))
                .contains("61s in the future")
        );
        assert!(
            refused(
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
                &expect(None)
            )
            .contains("no jti")
        );
        assert!(refused(&with(&|_| {}), &expect(Some("tok"))).contains("no ath"));
        assert!(
            refused(
                &with(&|c| c["ath"] = json!(ath("other"))),
                &expect(Some("tok"))
            )
            .contains("not the hash of this access token")
        );
        assert!(
            check_proof(
                &with(&|c| c["ath"] = json!(ath("tok"))),
                &expect(Some("tok")),
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn nonces_are_asked_for_and_checked() {
        let k = key();
        let nonces = NonceKey::default();
        let e = Expect {
            nonces: Some(&nonces),
            ..expect(None)
        };
        let p = proof(
            &k,
            json!({"jti": "1", "htm": "POST", "htu": URL, "iat": NOW}),
        );
        let err = check_proof(&p, &e, NOW).unwrap_err();
        assert_eq!(err.code, ErrorCode::UseDpopNonce);
        let nonce = err.dpop_nonce.unwrap();
        let p = proof(
            &k,
            json!({"jti": "1", "htm": "POST", "htu": URL, "iat": NOW, "nonce": nonce}),
        );
        assert!(check_proof(&p, &e, NOW).is_ok());
        // Good for its window and the next, not after.
        assert!(nonces.accepts(&nonce, NOW + NONCE_WINDOW));
        assert!(!nonces.accepts(&nonce, NOW + 2 * NONCE_WINDOW));
        assert!(!NonceKey::default().accepts(&nonce, NOW));
    }

    #[test]
    fn a_bound_refresh_token_needs_its_key() {
        assert!(check_refresh_binding(None, None).is_ok());
        assert!(check_refresh_binding(Some("a"), Some("a")).is_ok());
        assert_eq!(
            check_refresh_binding(Some("a"), None).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        assert!(
            check_refresh_binding(Some("a"), Some("b"))
                .unwrap_err()
                .description
                .contains("another DPoP key")
        );
    }

    #[test]
    fn private_keys_and_symmetric_algs_are_refused() {
        let k = key();
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("dpop+jwt".into());
        let p = jsonwebtoken::encode(&h, &json!({}), &EncodingKey::from_secret(b"s")).unwrap();
        assert!(refused(&p, &expect(None)).contains("asymmetric"));
        let mut no_typ = Header::new(Algorithm::ES256);
        no_typ.jwk = Some(serde_json::from_value(k.1.clone()).unwrap());
        let p = jsonwebtoken::encode(&no_typ, &json!({}), &k.0).unwrap();
        assert!(refused(&p, &expect(None)).contains("typ must be dpop+jwt"));
    }
}
