//! What a token grants: introspection (RFC 7662), revocation (RFC 7009), bearer-token
//! validation for userinfo and protected resources (RFC 6750).

use serde_json::{Value, json};

use std::sync::Arc;

use super::claims::SignIn;
use super::client_auth;
use super::context::{Context, paths};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::model::{Client, Timestamp, User};
use crate::store::flows::{self, TokenKind, TokenRow, TokenState};

/// RFC 7662 §2.2 response for `row` (inactive when unknown, expired or revoked).
pub async fn introspection_of(
    ctx: &Context,
    row: Option<Arc<TokenRow>>,
    now: Timestamp,
) -> Result<Introspection, OAuthError> {
    let Some(t) = row.filter(|t| t.state(now) == TokenState::Active) else {
        return Ok(Introspection::default());
    };

    let username = match &t.sub {
        Some(sub) => ctx.core.cached_user(sub).await?.map(|u| u.username.clone()),
        None => None,
    };
    let jkt = super::dpop::binding_of(ctx, &t.id).await?;
    Ok(Introspection {
        active: true,
        token: Some((t, ctx.clone(), username)),
        jkt,
    })
}

/// An introspection response (RFC 7662 §2.2): `{"active": false}` alone for a token
/// that is unknown, expired or revoked.
#[derive(Debug, Default)]
pub struct Introspection {
    pub active: bool,
    /// The active token, the provider (its issuer) and the token's persona.
    token: Option<(Arc<TokenRow>, Context, Option<String>)>,
    /// The DPoP key the token is bound to (RFC 9449 §6.2: `cnf.jkt`).
    jkt: Option<String>,
}

impl serde::Serialize for Introspection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Inactive {
            active: bool,
        }
        let Some((t, ctx, username)) = &self.token else {
            return Inactive { active: false }.serialize(s);
        };
        // The audience the token was issued for (RFC 8707), kept with it when it is
        // not the client.
        let kept = SignIn::from_column(t.extras.as_deref());
        let aud = kept
            .aud
            .map(Aud::Issued)
            .unwrap_or(Aud::Client(&t.client_id));
        // The delegation chain of an exchanged token (RFC 8693 §4.1).
        let act = kept.added.and_then(|mut a| a.remove("act"));
        ActiveClaims {
            active: true,
            aud,
            client_id: &t.client_id,
            exp: t.expires_at,
            iat: t.issued_at,
            iss: &ctx.config.issuer,
            jti: &t.id,
            nbf: t.issued_at,
            scope: &t.scopes,
            sub: t.sub.as_deref().unwrap_or(&t.client_id),
            token_type: match (t.kind, &self.jkt) {
                (TokenKind::AccessToken, Some(_)) => "DPoP",
                (TokenKind::AccessToken, None) => "Bearer",
                _ => "refresh_token",
            },
            username: username.as_deref(),
            cnf: self.jkt.as_ref().map(|jkt| json!({ "jkt": jkt })),
            act,
        }
        .serialize(s)
    }
}

/// What an introspection says of an active token.
#[derive(Debug, serde::Serialize)]
struct ActiveClaims<'a> {
    active: bool,
    aud: Aud<'a>,
    client_id: &'a str,
    exp: Timestamp,
    iat: Timestamp,
    iss: &'a str,
    jti: &'a str,
    nbf: Timestamp,
    scope: &'a str,
    sub: &'a str,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Value>,
}

#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Aud<'a> {
    Client(&'a str),
    Issued(Value),
}

/// The introspection endpoint (RFC 7662): a confidential client asks what a token is.
pub async fn introspect(
    ctx: &Context,
    authorization: Option<&str>,
    params: &Params,
    now: Timestamp,
) -> Result<(Arc<Client>, Introspection), OAuthError> {
    let client =
        client_auth::authenticate(ctx, authorization, params, paths::INTROSPECT, now).await?;
    if client.is_public() {
        // RFC 7662 §2.1: a bare client_id authorizes nothing; anyone could read tokens.
        return Err(OAuthError::invalid_client(format!(
            "client '{}' is public and cannot authenticate, so it may not introspect tokens; introspect from a confidential client (your API's own credentials)",
            client.client_id
        )));
    }
    let row = introspected(ctx, params, now).await?;
    let answer = introspection_of(ctx, row, now).await?;
    Ok((client, answer))
}

/// The revocation endpoint (RFC 7009): returns the client and the id of the token
/// revoked (`None` for a token unknown here, which succeeds silently).
pub async fn revoke_request(
    ctx: &Context,
    authorization: Option<&str>,
    params: &Params,
    now: Timestamp,
) -> Result<(Arc<Client>, Option<String>), OAuthError> {
    let client = client_auth::authenticate(ctx, authorization, params, paths::REVOKE, now).await?;
    let id = revoke(ctx, &client, params, now).await?;
    Ok((client, id))
}

/// Looks a token up by value, trying the hinted kind first (hints are only hints).
pub async fn find_token(ctx: &Context, token: &str) -> Result<Option<Arc<TokenRow>>, OAuthError> {
    Ok(ctx.core.find_token(token).await?)
}

/// The stored token the `token` parameter of an introspection names, if any; its
/// answer is [`introspection_of`] it.
pub async fn introspected(
    ctx: &Context,
    params: &Params,
    now: Timestamp,
) -> Result<Option<Arc<TokenRow>>, OAuthError> {
    // token_type_hint is only a hint: every kind of token is searched, whatever it says
    // (RFC 7662 §2.1, RFC 7009 §2.1).
    let token = params.require("token", "send the token to introspect as token=…")?;
    // A JWT whose signing key was retired no longer verifies anywhere: inactive here too.
    if !ctx.signed_by_live_key(token, now).await? {
        return Ok(None);
    }
    find_token(ctx, token).await
}

/// Revokes a token. Revoking a refresh token revokes its whole grant. Unknown tokens
/// succeed silently (RFC 7009 §2.2).
pub async fn revoke(
    ctx: &Context,
    client: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<Option<String>, OAuthError> {
    // As for introspection, token_type_hint is ignored (RFC 7009 §2.1).
    let token = params.require("token", "send the token to revoke as token=…")?;
    let Some(row) = find_token(ctx, token).await? else {
        return Ok(None);
    };
    if row.client_id != client.client_id {
        return Err(OAuthError::unauthorized_client(format!(
            "this token was issued to client '{}', so client '{}' may not revoke it (RFC 7009 §2.1)",
            row.client_id, client.client_id
        )));
    }
    let mut tx = ctx.core.store.pool().begin_with("BEGIN IMMEDIATE").await?;
    match (row.kind, &row.grant_id) {
        (TokenKind::RefreshToken, Some(grant)) => {
            flows::revoke_grant(&mut tx, grant, now, "refresh token revoked").await?;
        }
        _ => {
            flows::revoke_token(&mut tx, &row.id, now).await?;
        }
    }
    tx.commit().await?;
    ctx.core.tokens_revoked(Some(row.id.clone()));
    Ok(Some(row.id.clone()))
}

/// The bearer token of a request: `Authorization: Bearer` (`authorization`, the
/// header's value) or the form body's `access_token` (RFC 6750 §2.1, §2.2), never both.
pub fn bearer_token(
    authorization: Option<&str>,
    form: Option<&Params>,
) -> Result<String, OAuthError> {
    let header_token = authorization
        .map(|v| {
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
                Ok(rest.trim().to_string())
            } else {
                Err(OAuthError::invalid_request(
                    "the Authorization header must be 'Bearer <access token>'",
                ))
            }
        })
        .transpose()?;
    let form_token = form.and_then(|f| f.get("access_token")).map(str::to_string);
    match (header_token, form_token) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "the access token was sent both in the Authorization header and in the body; RFC 6750 §2 allows one method",
        )),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(OAuthError::missing_bearer_token()),
    }
}

/// A validated access token and its user.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub token: Arc<TokenRow>,
    /// The cached user (not a copy: its claims are a map).
    pub user: Option<Arc<User>>,
}

/// Validates an access token for a protected resource.
pub async fn authorize_bearer(
    ctx: &Context,
    token: &str,
    now: Timestamp,
) -> Result<Bearer, OAuthError> {
    let row = find_token(ctx, token).await?.ok_or_else(|| {
        OAuthError::invalid_token("the access token is unknown to this provider; get a new one")
    })?;
    if row.kind != TokenKind::AccessToken {
        return Err(OAuthError::invalid_token(
            "this is a refresh token; send the access_token, and use the refresh token only at the token endpoint",
        ));
    }
    match row.state(now) {
        TokenState::Revoked => {
            return Err(OAuthError::invalid_token(
                "the access token was revoked; get a new one",
            ));
        }
        TokenState::Expired => {
            return Err(OAuthError::invalid_token(format!(
                "the access token expired {}s ago; refresh it or sign in again",
                now - row.expires_at
            )));
        }
        TokenState::Active => {}
    }
    if !ctx.signed_by_live_key(token, now).await? {
        return Err(OAuthError::invalid_token(
            "the access token was signed by a signing key that has been retired (it is no longer in the JWKS); get a new token",
        ));
    }
    let user = match &row.sub {
        Some(sub) => ctx.core.cached_user(sub).await?,
        None => None,
    };
    Ok(Bearer { token: row, user })
}

/// The userinfo response (OIDC Core §5.3): `sub` plus the claims the scopes release.
pub async fn userinfo(ctx: &Context, bearer: &Bearer) -> Result<Value, OAuthError> {
    let scopes = bearer.token.scope_list();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "userinfo needs an access token with the openid scope; request scope=openid",
        ));
    }
    let user = bearer.user.as_ref().ok_or_else(|| {
        OAuthError::invalid_token(
            "this access token has no user (client_credentials); userinfo needs a user's token",
        )
    })?;
    let defs = ctx.core.cached_scopes().await?;
    let client = ctx.core.cached_client(&bearer.token.client_id).await?;
    let sign_in = SignIn::from_column(bearer.token.extras.as_deref());
    let mut claims = match &client {
        Some(client) => super::claims::Shaper {
            issuer: &ctx.config.issuer,
            client,
            preset: client.preset.or(ctx.config.preset),
            user: Some(user),
            sign_in: &sign_in,
            scopes: &scopes,
            scope_defs: &defs,
        }
        .userinfo_claims(),
        // The client is gone (its tokens with it, normally): the scopes' claims.
        None => super::mint::claims_for_scopes(user, sign_in.claims.as_ref(), &scopes, &defs),
    };
    claims.insert("sub".into(), json!(user.sub));
    Ok(Value::Object(claims))
}

/// What the window shows of one token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TokenDetail {
    pub summary: crate::store::flows::TokenSummary,
    /// The token itself (JWT or opaque).
    pub value: Option<String>,
    /// The RFC 7662 introspection response for it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown>"))]
    pub introspection: Value,
    /// Where an exchanged token came from (RFC 8693): `exchanged_from` (the subject
    /// token's id, when Authdesk keeps it), `subject`, `actor` and `act`.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown> | null"))]
    pub origin: Option<Value>,
}

impl Context {
    /// A token with its value and introspection, for the window.
    pub async fn token_detail(&self, id: &str) -> crate::Result<TokenDetail> {
        let (summary, value) = self.core.get_token(id).await?;
        let mut row = flows::get_token(self.core.store.pool(), id).await?;
        if let Some(v) = &value
            && !self.signed_by_live_key(v, self.now()).await?
        {
            row = None;
        }
        let introspection = introspection_of(self, row.map(Arc::new), self.now()).await?;
        let introspection = serde_json::to_value(&introspection)
            .map_err(|e| crate::Error::Other(format!("cannot write the introspection: {e}")))?;
        let origin = crate::store::standards::origin_of(self.core.store.pool(), id).await?;
        Ok(TokenDetail {
            summary,
            value,
            introspection,
            origin,
        })
    }
}

/// The sample resource's answer: who a bearer token speaks for.
pub fn who(b: &Bearer) -> Value {
    json!({
        "sub": b.token.sub.clone().unwrap_or_else(|| b.token.client_id.clone()),
        "username": b.user.as_ref().map(|u| u.username.clone()),
        "client_id": b.token.client_id,
        "scope": b.token.scopes,
        "expires_at": b.token.expires_at,
    })
}
