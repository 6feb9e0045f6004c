//! `grant_type=client_credentials` (RFC 6749 §4.4): a client acting for itself.

use super::resolve_scopes;
use crate::model::{Client, Timestamp};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::Context;
use crate::oauth::error::OAuthError;
use crate::oauth::issue::Issue;
use crate::oauth::mint::TokenResponse;

/// Scopes that only make sense with a user.
const USER_SCOPES: &[&str] = &["openid", "offline_access"];
/// Scopes left out when the client names none: they release a user's claims.
const USER_CLAIM_SCOPES: &[&str] = &["profile", "email"];

/// The scopes a client_credentials token gets for `scope` (pure): without a scope
/// parameter, what the client is allowed that needs no user.
pub fn check(client: &Client, scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let scopes = resolve_scopes(client, scope, || {
        client
            .scopes
            .iter()
            .filter(|s| {
                !USER_SCOPES.contains(&s.as_str()) && !USER_CLAIM_SCOPES.contains(&s.as_str())
            })
            .cloned()
            .collect()
    })?;
    if let Some(s) = scopes.iter().find(|s| USER_SCOPES.contains(&s.as_str())) {
        return Err(OAuthError::invalid_scope(format!(
            "scope '{s}' needs a signed-in user, and client_credentials has none; drop it, or use the authorization_code grant"
        )));
    }
    Ok(scopes)
}

pub async fn exchange(
    ctx: &Context,
    client: &Client,
    scope: Option<&str>,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let scopes = check(client, scope)?;
    let sign_in = SignIn {
        resources: claims::resources(client, resources)?,
        ..SignIn::default()
    };
    // No grant row: client-credentials tokens stand alone and are revoked one by one
    // or all of the client at once.
    let what = Issue::new(client, None, &scopes)
        .sign_in(&sign_in)
        .bound(jkt);
    let (response, rows) = ctx.issue(&what, now).await?;
    ctx.store_tokens(None, rows).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType, GrantType};
    use crate::oauth::ErrorCode;

    fn service() -> Client {
        let allowed: Vec<String> = ["openid", "profile", "email", "offline_access", "api.read"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        ClientInput {
            client_id: Some("service".into()),
            name: Some("Test app".into()),
            client_type: Some(ClientType::Confidential),
            grant_types: Some(vec![GrantType::ClientCredentials]),
            scopes: Some(allowed.clone()),
            ..Default::default()
        }
        .into_client(None, &allowed, 0)
        .unwrap()
    }

    #[test]
    fn without_a_scope_the_client_gets_what_needs_no_user() {
        assert_eq!(
            check(&service(), None).unwrap(),
            vec!["api.read".to_string()]
        );
    }

    #[test]
    fn user_scopes_and_unknown_scopes_are_invalid_scope() {
        for scope in ["openid", "api.read offline_access", "admin"] {
            let e = check(&service(), Some(scope)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidScope, "{scope}");
        }
        assert_eq!(
            check(&service(), Some("api.read")).unwrap(),
            vec!["api.read".to_string()]
        );
    }
}
