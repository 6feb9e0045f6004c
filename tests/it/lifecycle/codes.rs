//! Authorization codes across a restart. The provider remembers the codes it issued
//! until they are exchanged, so an exchange needs no database read; a code issued
//! before a restart is only in the database, and must still work once, and only once.

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{Authz, Lab, SCOPES, SECRET, str_of};

#[tokio::test]
async fn a_code_issued_before_a_restart_is_exchanged_once_after_it() {
    let lab = Lab::start().await;
    let authz = Authz::new(SCOPES);
    let code = lab.browser().sign_in("alice", &authz).await;
    let lab = lab.restart().await;

    let tokens = lab.exchange(&code, &authz).await;
    let claims = lab.id_token_claims(str_of(&tokens, "id_token")).await;
    assert_eq!(
        claims["nonce"],
        json!(authz.nonce),
        "the code's nonce: {claims}"
    );
    assert_eq!(claims["sub"], json!(lab.sub_of("alice").await));

    let (status, body) = lab
        .post_as_client(
            "/token",
            SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", super::harness::REDIRECT_URI),
                ("code_verifier", &authz.verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        str_of(&body, "error_description").contains("already used"),
        "{body}"
    );
    let access = lab.introspect(str_of(&tokens, "access_token")).await;
    assert_eq!(
        access,
        json!({"active": false}),
        "the replay revoked what the first exchange got"
    );
}
