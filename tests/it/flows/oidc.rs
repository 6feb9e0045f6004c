//! OpenID Connect through the `openidconnect` crate, as a relying party would use it.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::{REDIRECT, Reply, TestProvider, web_client};
use authdesk::model::{ClientInput, SigningAlg};

/// Runs discovery and a code flow with PKCE and a nonce; checks the id_token with the
/// crate's verifier (JWKS signature, nonce, at_hash) and fetches userinfo.
async fn sign_in_and_verify(
    tp: &TestProvider,
    client_id: &str,
    expected_alg: CoreJwsSigningAlgorithm,
) {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(tp.issuer.clone()).unwrap(), &tp.http)
            .await
            .expect("discovery succeeds");
    assert_eq!(metadata.issuer().as_str(), tp.issuer);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        Some(ClientSecret::new(format!("{client_id}-secret"))),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let res = Reply::read(tp.http.get(auth_url).send().await.unwrap()).await;
    assert_eq!(res.status, reqwest::StatusCode::FOUND);
    let params = res.redirect_params();
    assert_eq!(params["state"], *csrf.secret());
    assert_eq!(params["iss"], tp.issuer);

    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&tp.http)
        .await
        .expect("the code exchanges");
    let id_token = token.id_token().expect("an id_token for the openid scope");
    assert_eq!(id_token.signing_alg().unwrap(), &expected_alg);

    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("the id_token verifies: signature via JWKS, iss, aud, exp, nonce");
    let alice = tp.sub_of("alice").await;
    assert_eq!(claims.subject().as_str(), alice);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert!(claims.auth_time().is_some(), "auth_time is missing");

    let expected_hash = claims.access_token_hash().expect("at_hash is present");
    let actual_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(
        &actual_hash, expected_hash,
        "at_hash does not match the access token"
    );

    assert!(
        id_token
            .claims(&id_verifier, &Nonce::new("another nonce".into()))
            .is_err(),
        "a different nonce must not verify"
    );

    let userinfo: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&tp.http)
        .await
        .expect("userinfo answers for the access token");
    assert_eq!(userinfo.subject().as_str(), alice);
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let name = userinfo
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_string());
    assert_eq!(name.as_deref(), Some("Alice Example"));
}

#[tokio::test]
async fn discovery_code_pkce_nonce_id_token_and_userinfo_with_openidconnect() {
    let tp = TestProvider::start().await;
    tp.add_client(web_client("rp", "rp-secret")).await;
    sign_in_and_verify(&tp, "rp", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
}

#[tokio::test]
async fn es256_client_gets_an_id_token_that_verifies_with_openidconnect() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        id_token_signed_response_alg: Some(SigningAlg::Es256),
        ..web_client("rp-ec", "rp-ec-secret")
    })
    .await;
    sign_in_and_verify(&tp, "rp-ec", CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
}

#[tokio::test]
async fn ps256_and_eddsa_id_tokens_verify_with_openidconnect() {
    let tp = TestProvider::start().await;
    for (id, alg, theirs) in [
        (
            "rp-ps",
            SigningAlg::Ps256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        ),
        ("rp-ed", SigningAlg::EdDsa, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        tp.add_client(ClientInput {
            id_token_signed_response_alg: Some(alg),
            ..web_client(id, &format!("{id}-secret"))
        })
        .await;
        sign_in_and_verify(&tp, id, theirs).await;
    }
}
