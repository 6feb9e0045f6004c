//! `grant_type=refresh_token` (RFC 6749 §6): refresh tokens rotate on every use, and
//! reusing a rotated one revokes the whole grant (RFC 9700 §4.14.2).

use crate::model::{Client, Timestamp};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::Context;
use crate::oauth::error::OAuthError;
use crate::oauth::issue::Issue;
use crate::oauth::mint::TokenResponse;
use crate::store::flows::{self, Exchange, GrantRow, TokenKind, TokenRow};
use crate::store::writer::{Rows, boxed};

/// Why a refresh is refused, and what the refusal must leave behind.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    Refuse(OAuthError),
    /// A rotated refresh token came back: the grant is revoked.
    Reused,
}

/// Decides whether `token` (a stored refresh token, of grant `grant`) may be exchanged
/// by `client` for `scope`; returns the scopes of the new access token (pure).
pub fn check(
    token: &TokenRow,
    grant: Option<&GrantRow>,
    client: &Client,
    scope: Option<&str>,
    now: Timestamp,
) -> Result<Vec<String>, Refusal> {
    let refuse = |e| Err(Refusal::Refuse(e));
    if token.kind != TokenKind::RefreshToken {
        return refuse(unknown_refresh_token());
    }
    if token.client_id != client.client_id {
        return refuse(OAuthError::invalid_grant(format!(
            "the refresh token was issued to client '{}', not '{}'",
            token.client_id, client.client_id
        )));
    }
    if token.revoked_at.is_some() {
        return refuse(OAuthError::invalid_grant(
            "the refresh token was revoked (by a revocation request, from Authdesk, or because a rotated token was reused); sign in again",
        ));
    }
    if token.rotated_at.is_some() {
        return Err(Refusal::Reused);
    }
    if token.expires_at <= now {
        return refuse(OAuthError::invalid_grant(format!(
            "the refresh token expired {}s ago; sign in again",
            now - token.expires_at
        )));
    }
    if grant.is_some_and(|g| g.revoked_at.is_some()) {
        return refuse(OAuthError::invalid_grant(
            "the grant behind this refresh token was revoked; sign in again",
        ));
    }
    let granted = token.scope_list();
    let Some(asked) = scope else {
        return Ok(granted);
    };
    let asked: Vec<String> = asked
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(extra) = asked.iter().find(|x| !granted.contains(x)) {
        return refuse(OAuthError::invalid_scope(format!(
            "scope '{extra}' was not granted originally; a refresh may only narrow the scopes ({})",
            granted.join(" ")
        )));
    }
    Ok(asked)
}

fn unknown_refresh_token() -> OAuthError {
    OAuthError::invalid_grant(
        "the refresh token is unknown to this provider; sign in again to get a new one",
    )
}

fn reused(revoked: u64) -> OAuthError {
    OAuthError::invalid_grant(format!(
        "this refresh token was already exchanged; refresh tokens rotate on every use, and reusing an old one revokes the whole grant ({revoked} token(s) revoked). Store the refresh_token of each new response and sign in again"
    ))
}

/// Exchanges a refresh token: rotates it and stores the new tokens in one commit.
pub async fn exchange(
    ctx: &Context,
    client: &Client,
    refresh_token: &str,
    scope: Option<&str>,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let (row, grant) = {
        let mut conn = ctx.core.store.pool().acquire().await?;
        let row = flows::find_token(&mut conn, refresh_token)
            .await?
            .ok_or_else(unknown_refresh_token)?;
        let grant = match &row.grant_id {
            Some(g) => flows::get_grant(&mut conn, g).await?,
            None => None,
        };
        (row, grant)
    };
    let bound_to = super::super::dpop::binding_of(ctx, &row.id).await?;
    super::super::dpop::check_refresh_binding(bound_to.as_deref(), jkt)?;
    let grant_id = row.grant_id.clone().unwrap_or_default();
    let scopes = match check(&row, grant.as_ref(), client, scope, now) {
        Ok(scopes) => scopes,
        Err(Refusal::Refuse(e)) => return Err(e),
        Err(Refusal::Reused) => {
            let n = ctx
                .revoke_grant(grant_id, now, "rotated refresh token reused")
                .await?;
            return Err(reused(n));
        }
    };
    let user = match &row.sub {
        Some(sub) => Some(ctx.user_by_sub(sub, "of this refresh token").await?),
        None => None,
    };
    // The sign-in's resources, override and claims request reach its refreshes too.
    let mut sign_in = SignIn::from_column(grant.as_ref().and_then(|g| g.extras.as_deref()));
    sign_in.resources = claims::narrow(client, &sign_in.resources, resources)?;
    let mut what = Issue::new(client, user.as_ref(), &scopes)
        .grant(
            row.grant_id.as_deref(),
            grant.as_ref().and_then(|g| g.auth_time),
        )
        .sign_in(&sign_in);
    what.refresh = true;
    let what = what.bound(jkt);
    let (response, mut rows) = ctx.issue(&what, now).await?;
    // RFC 6749 §6: a narrowed scope applies to the access token; the new refresh
    // token keeps the scope originally granted.
    let granted = row.scopes.clone();
    for r in rows
        .iter_mut()
        .filter(|r| r.kind == TokenKind::RefreshToken)
    {
        r.scopes = granted.clone();
    }
    // Rotate and store atomically: of two concurrent uses of one refresh token,
    // exactly one gets new tokens and the other revokes the grant.
    let old_id = row.id.clone();
    let rows: Rows = boxed(rows).collect();
    let outcome = ctx
        .core
        .store
        .writer()
        .run_now(move |tx| flows::rotate_refresh(tx, &old_id, &grant_id, &rows, now))
        .await?;
    match outcome {
        Exchange::Issued => Ok(response),
        Exchange::Unknown => Err(unknown_refresh_token()),
        Exchange::Replayed(n) => {
            ctx.core.tokens_revoked(None);
            Err(reused(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType, TokenFormat};
    use crate::oauth::ErrorCode;

    const NOW: Timestamp = 1_700_000_000;

    fn client(id: &str) -> Client {
        ClientInput {
            client_id: Some(id.into()),
            name: Some("Test app".into()),
            client_type: Some(ClientType::Confidential),
            redirect_uris: Some(vec!["https://app.example/cb".into()]),
            ..Default::default()
        }
        .test_client()
    }

    fn refresh_token() -> TokenRow {
        TokenRow {
            id: "rt1".into(),
            token_hash: "h".into(),
            kind: TokenKind::RefreshToken,
            format: TokenFormat::Opaque,
            client_id: "web".into(),
            sub: Some("alice-sub".into()),
            grant_id: Some("g1".into()),
            scopes: "openid profile offline_access".into(),
            issued_at: NOW - 100,
            expires_at: NOW + 3600,
            revoked_at: None,
            rotated_at: None,
            value: None,
            extras: None,
        }
    }

    fn grant() -> GrantRow {
        GrantRow {
            id: "g1".into(),
            client_id: "web".into(),
            sub: Some("alice-sub".into()),
            scopes: "openid profile offline_access".into(),
            auth_time: Some(NOW - 200),
            created_at: NOW - 200,
            revoked_at: None,
            extras: None,
        }
    }

    fn refused(r: Result<Vec<String>, Refusal>) -> ErrorCode {
        match r {
            Err(Refusal::Refuse(e)) => e.code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_live_refresh_token_rotates_with_its_scopes_or_fewer() {
        let web = client("web");
        let all = check(&refresh_token(), Some(&grant()), &web, None, NOW);
        assert_eq!(
            all,
            Ok(vec![
                "openid".to_string(),
                "profile".into(),
                "offline_access".into()
            ])
        );
        let narrowed = check(&refresh_token(), Some(&grant()), &web, Some("openid"), NOW);
        assert_eq!(narrowed, Ok(vec!["openid".to_string()]));
        let wider = check(&refresh_token(), Some(&grant()), &web, Some("email"), NOW);
        assert_eq!(refused(wider), ErrorCode::InvalidScope);
    }

    #[test]
    fn a_rotated_refresh_token_reused_revokes_the_grant() {
        let mut t = refresh_token();
        t.rotated_at = Some(NOW - 1);
        let r = check(&t, Some(&grant()), &client("web"), None, NOW);
        assert_eq!(r, Err(Refusal::Reused));
    }

    #[test]
    fn a_refresh_token_of_another_client_is_refused() {
        let r = check(
            &refresh_token(),
            Some(&grant()),
            &client("other"),
            None,
            NOW,
        );
        assert_eq!(refused(r), ErrorCode::InvalidGrant);
    }

    #[test]
    fn expired_revoked_or_access_tokens_are_refused() {
        let web = client("web");
        let mut t = refresh_token();
        t.expires_at = NOW;
        assert_eq!(
            refused(check(&t, None, &web, None, NOW)),
            ErrorCode::InvalidGrant
        );
        let mut t = refresh_token();
        t.revoked_at = Some(NOW - 1);
        assert_eq!(
            refused(check(&t, None, &web, None, NOW)),
            ErrorCode::InvalidGrant
        );
        let mut t = refresh_token();
        t.kind = TokenKind::AccessToken;
        assert_eq!(
            refused(check(&t, None, &web, None, NOW)),
            ErrorCode::InvalidGrant
        );
        let mut g = grant();
        g.revoked_at = Some(NOW - 1);
        let r = check(&refresh_token(), Some(&g), &web, None, NOW);
        assert_eq!(refused(r), ErrorCode::InvalidGrant);
    }
}
