//! Authorization codes across a restart. The provider remembers the codes it issued
//! until they are exchanged, so an exchange needs no database read; a code issued
//! before a restart is only in the database, and must still work once, and only once.

use reqwest::StatusCode;
use serde_json::json;

use super::{CLIENT, CLIENT_AUTH, SCOPES};
use crate::support::{Authz, REDIRECT, str_of};

#[tokio::test]
async fn a_code_issued_before_a_restart_is_exchanged_once_after_it() {
    let tp = super::provider().await;
    let authz = Authz::new(CLIENT, SCOPES);
    let code = tp.browser().sign_in("alice", &authz).await;
    let tp = tp.restart().await;

    let tokens = tp.exchange(&code, &CLIENT_AUTH).await;
    let claims = tp
        .id_token_claims(str_of(&tokens, "id_token"), CLIENT)
        .await;
    assert_eq!(
        claims["nonce"],
        json!(authz.nonce),
        "the code's nonce: {claims}"
    );
    assert_eq!(claims["sub"], json!(tp.sub_of("alice").await));

    let replay = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &code.verifier),
            ],
            &CLIENT_AUTH,
        )
        .await;
    let (status, body) = (replay.status, replay.body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        str_of(&body, "error_description").contains("already used"),
        "{body}"
    );
    let access = tp
        .introspect(str_of(&tokens, "access_token"), &CLIENT_AUTH)
        .await;
    assert_eq!(
        access,
        json!({"active": false}),
        "the replay revoked what the first exchange got"
    );
}
