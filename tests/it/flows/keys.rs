//! Signing keys: rotation publishes the new key and signs with it, the old one stays in
//! the JWKS (its tokens verify) until it retires — on the manual clock — and then its
//! tokens fail verification, introspection and bearer checks. Signed userinfo.

use authdesk::keys::RetireOld;
use authdesk::model::{ClientInput, SigningAlg};
use serde_json::Value;

use crate::support::{Auth, TestProvider, get_json, jwt_claims, service_client, web_client};

/// The kids of the provider's JWKS, and the key of `kid` to verify with.
async fn jwks(tp: &TestProvider) -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_value(get_json(&tp.http, &tp.url("/jwks")).await).expect("a JWK Set")
}

async fn kids(tp: &TestProvider) -> Vec<String> {
    jwks(tp)
        .await
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

/// Verifies `jwt`'s signature with the provider's JWKS as a resource server would;
/// `Err` when its key is not published or the signature is wrong.
async fn verify_with_jwks(tp: &TestProvider, jwt: &str) -> Result<Value, String> {
    let set = jwks(tp).await;
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    let kid = header.kid.clone().ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or(format!("kid {kid} is not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_aud = false;
    // exp is checked when present (userinfo JWTs have none).
    v.required_spec_claims.clear();
    v.set_issuer(&[&tp.issuer]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn jwt_header(jwt: &str) -> Value {
    use base64::Engine;
    let head = jwt.split('.').next().expect("a compact JWS");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(head)
            .expect("base64url"),
    )
    .expect("a JSON header")
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt)
        .expect("a JWS header")
        .kid
        .expect("a kid")
}

async fn service_token(tp: &TestProvider) -> String {
    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::basic("svc", "svc-secret"),
    )
    .await
    .ok()["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

#[tokio::test]
async fn after_a_rotation_old_tokens_verify_until_the_old_key_retires() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let auth = Auth::basic("svc", "svc-secret");
    let before = service_token(&tp).await;
    let old_kid = kid_of(&before);
    assert!(kids(&tp).await.contains(&old_kid));

    let made = tp
        .provider
        .context
        .rotate_keys(Some(SigningAlg::Es256), RetireOld::After(600), tp.now())
        .await
        .expect("the rotation");
    assert_eq!(made.len(), 1);
    let new_kid = made[0].kid.clone();
    assert_ne!(new_kid, old_kid);

    // Both keys are published; new tokens are signed by the new one.
    let published = kids(&tp).await;
    assert!(
        published.contains(&old_kid) && published.contains(&new_kid),
        "{published:?}"
    );
    let after = service_token(&tp).await;
    assert_eq!(kid_of(&after), new_kid);
    for token in [&before, &after] {
        verify_with_jwks(&tp, token)
            .await
            .expect("verifies with the JWKS");
        assert_eq!(tp.introspect(token, &auth).await["active"], true);
        assert_eq!(tp.bearer_get("/api/me", token).await.status, 200);
    }

    // Ten minutes on (the tokens live an hour) the old key is retired.
    tp.clock.advance(600);
    let published = kids(&tp).await;
    assert!(!published.contains(&old_kid), "{published:?}");
    assert!(published.contains(&new_kid));
    let refused = verify_with_jwks(&tp, &before).await.unwrap_err();
    assert!(refused.contains("not in the JWKS"), "{refused}");
    assert_eq!(tp.introspect(&before, &auth).await["active"], false);
    let me = tp.bearer_get("/api/me", &before).await;
    assert_eq!(me.status, 401);
    assert!(me.text.contains("retired"), "{}", me.text);
    // The new key's token is untouched.
    verify_with_jwks(&tp, &after).await.expect("still verifies");
    assert_eq!(tp.introspect(&after, &auth).await["active"], true);
    assert_eq!(tp.bearer_get("/api/me", &after).await.status, 200);
}

#[tokio::test]
async fn a_rotation_through_the_core_is_followed_and_a_key_retired_by_hand_is_gone() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("svc", "svc-secret")).await;
    let auth = Auth::basic("svc", "svc-secret");
    let before = service_token(&tp).await;
    let old_kid = kid_of(&before);
    // Rotated through the core alone (as the window and the CLI do): the running
    // provider's keys follow the store's revision.
    let made = tp
        .core()
        .rotate_keys(None, RetireOld::AfterDefault, tp.now())
        .await
        .expect("the rotation");
    let algs: Vec<SigningAlg> = made.iter().map(|k| k.alg).collect();
    assert!(
        algs.contains(&SigningAlg::Es256) && algs.contains(&SigningAlg::Rs256),
        "{algs:?}"
    );
    let after = service_token(&tp).await;
    let new_es = made.iter().find(|k| k.alg == SigningAlg::Es256).unwrap();
    assert_eq!(kid_of(&after), new_es.kid);
    let listed = tp.core().list_keys().await.unwrap();
    let old = listed.iter().find(|k| k.kid == old_kid).unwrap();
    assert_eq!(old.state, authdesk::keys::KeyState::Published);
    assert_eq!(old.retire_at, Some(tp.now() + 24 * 3600));
    assert_eq!(tp.introspect(&before, &auth).await["active"], true);

    // The active key cannot be retired; the published one can, at once.
    let e = tp
        .core()
        .retire_key(&new_es.kid, tp.now())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("rotate first"), "{e}");
    tp.core()
        .retire_key(&old_kid, tp.now())
        .await
        .expect("retired");
    assert!(!kids(&tp).await.contains(&old_kid));
    assert_eq!(tp.introspect(&before, &auth).await["active"], false);
    assert_eq!(tp.bearer_get("/api/me", &before).await.status, 401);
    assert_eq!(tp.bearer_get("/api/me", &after).await.status, 200);
}

#[tokio::test]
async fn access_tokens_and_id_tokens_are_signed_with_each_clients_algorithms() {
    let tp = TestProvider::start().await;
    for (id, at, idt) in [
        ("ps", SigningAlg::Ps256, SigningAlg::EdDsa),
        ("ed", SigningAlg::EdDsa, SigningAlg::Ps256),
        ("rs", SigningAlg::Rs256, SigningAlg::Es256),
    ] {
        tp.add_client(ClientInput {
            access_token_signed_response_alg: Some(at),
            id_token_signed_response_alg: Some(idt),
            ..web_client(id, &format!("{id}-secret"))
        })
        .await;
        let code = tp.code(id, &[]).await;
        let secret = format!("{id}-secret");
        let tokens = tp.exchange(&code, &Auth::basic(id, &secret)).await;
        let access = tokens["access_token"].as_str().unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jwt_header(access)["alg"], at.as_str());
        let claims = tp.id_token_claims(id_token, id).await;
        assert_eq!(claims["aud"], id);
        assert_eq!(jwt_claims(id_token)["iss"], tp.issuer);
        verify_with_jwks(&tp, access)
            .await
            .expect("the access token verifies");
        assert_eq!(jwt_header(id_token)["alg"], idt.as_str());
    }
    let doc = get_json(&tp.http, &tp.url("/.well-known/openid-configuration")).await;
    for field in [
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
    ] {
        for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
            assert!(
                doc[field].as_array().unwrap().iter().any(|a| a == alg),
                "{field} lacks {alg}: {doc}"
            );
        }
    }
}

#[tokio::test]
async fn a_client_that_registered_userinfo_signing_gets_a_signed_jwt() {
    let tp = TestProvider::start().await;
    // Registered through RFC 7591, as a relying party would.
    let reg = tp
        .http
        .post(tp.url("/register"))
        .json(&serde_json::json!({
            "client_name": "Signed userinfo",
            "redirect_uris": [crate::support::REDIRECT],
            "grant_types": ["authorization_code"],
            "scope": "openid profile email",
            "userinfo_signed_response_alg": "ES256",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    let reg: Value = reg.json().await.unwrap();
    assert_eq!(reg["userinfo_signed_response_alg"], "ES256");
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let code = tp.code(&id, &[("scope", "openid profile email")]).await;
    let tokens = tp.exchange(&code, &Auth::basic(&id, &secret)).await;
    let access = tokens["access_token"].as_str().unwrap();
    let res = tp
        .http
        .get(tp.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/jwt"
    );
    let jwt = res.text().await.unwrap();
    let claims = verify_with_jwks(&tp, &jwt)
        .await
        .expect("userinfo JWT verifies");
    assert_eq!(claims["aud"], id);
    assert_eq!(claims["sub"], tp.sub_of("alice").await);
    assert_eq!(claims["email"], "alice@example.com");
    // Turned off again: plain JSON.
    tp.core()
        .update_client(
            &id,
            ClientInput {
                userinfo_signed_response_alg: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let plain = tp.bearer_get("/userinfo", access).await;
    assert_eq!(plain.body["email"], "alice@example.com");
}
