//! `grant_type=password` (RFC 6749 §4.3): legacy, only for clients explicitly allowed it.

use super::resolve_scopes;
use crate::model::{Client, Timestamp, User};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::Context;
use crate::oauth::error::OAuthError;
use crate::oauth::issue::{Issue, new_grant};
use crate::oauth::mint::TokenResponse;
use crate::store::UserRecord;

/// Decides whether `username` (found as `record`, if at all) can sign in with a
/// password for `scope`; returns the password hash to verify and the scopes (pure).
pub fn check<'a>(
    client: &Client,
    username: &str,
    record: Option<&'a UserRecord>,
    scope: Option<&str>,
) -> Result<(&'a str, Vec<String>), OAuthError> {
    let scopes = resolve_scopes(client, scope, || client.scopes.clone())?;
    let record = record.ok_or_else(|| {
        OAuthError::invalid_grant(format!(
            "there is no user '{username}'; create the persona in Authdesk"
        ))
    })?;
    let hash = record.password_hash.as_deref().ok_or_else(|| {
        OAuthError::invalid_grant(format!(
            "user '{username}' has no password; set one in Authdesk to use the password grant"
        ))
    })?;
    Ok((hash, scopes))
}

/// The resource owner's credentials.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

pub async fn exchange(
    ctx: &Context,
    client: &Client,
    login: Login<'_>,
    scope: Option<&str>,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let Login { username, password } = login;
    let record = ctx.core.store.get_user_by_username(username).await?;
    let (hash, scopes) = check(client, username, record.as_ref(), scope)?;
    if !crate::password::verify_blocking(hash.to_string(), password.to_string()).await {
        return Err(OAuthError::invalid_grant(format!(
            "the password for '{username}' is wrong"
        )));
    }
    let user: Option<&User> = record.as_ref().map(|r| &r.user);
    let grant_id = crate::model::sortable_id(now);
    let sign_in = SignIn {
        resources: claims::resources(client, resources)?,
        amr: vec!["pwd".into()],
        ..SignIn::default()
    };
    let what = Issue::new(client, user, &scopes)
        .grant(Some(&grant_id), Some(now))
        .sign_in(&sign_in)
        .bound(jkt);
    let (response, rows) = ctx.issue(&what, now).await?;
    let grant = new_grant(&what, grant_id.clone(), now);
    ctx.store_tokens(Some(grant), rows).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType, GrantType};
    use crate::oauth::ErrorCode;

    fn client() -> Client {
        ClientInput {
            client_id: Some("legacy".into()),
            name: Some("Test app".into()),
            client_type: Some(ClientType::Confidential),
            grant_types: Some(vec![GrantType::Password]),
            ..Default::default()
        }
        .test_client()
    }

    fn record(hash: Option<&str>) -> UserRecord {
        UserRecord {
            user: User {
                sub: "alice-sub".into(),
                username: "alice".into(),
                has_password: hash.is_some(),
                claims: Default::default(),
                created_at: 0,
                updated_at: 0,
            },
            password_hash: hash.map(str::to_string),
        }
    }

    #[test]
    fn a_persona_with_a_password_may_sign_in() {
        let r = record(Some("$argon2id$stored"));
        let (hash, scopes) = check(&client(), "alice", Some(&r), Some("openid")).unwrap();
        assert_eq!(hash, "$argon2id$stored");
        assert_eq!(scopes, vec!["openid".to_string()]);
    }

    #[test]
    fn unknown_personas_and_personas_without_a_password_are_invalid_grant() {
        let e = check(&client(), "carol", None, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert!(e.description.contains("no user 'carol'"));
        let r = record(None);
        let e = check(&client(), "alice", Some(&r), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert!(e.description.contains("has no password"));
    }

    #[test]
    fn a_scope_the_client_may_not_have_is_invalid_scope() {
        let r = record(Some("h"));
        let e = check(&client(), "alice", Some(&r), Some("admin")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }
}
