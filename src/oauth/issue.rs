//! Issuing tokens: every grant (and the implicit flow) describes what it hands out as
//! an [`Issue`], and [`Context::issue`] mints it. Minting is pure apart from the cached
//! scope definitions; the caller stores the rows in its one transaction, then answers.

use std::sync::Arc;

use super::claims::SignIn;
use super::context::Context;
use super::context::ProviderConfig;
use super::error::OAuthError;
use super::mint::{Mint, TokenResponse, access_format, id_token, mint};
use crate::model::{Client, GrantType, Timestamp, TokenFormat, User};
use crate::store::flows::{self, GrantRow, TokenRow};
use crate::store::writer::boxed;

/// A sign-in that asked for nothing beyond the defaults.
static NO_SIGN_IN: SignIn = SignIn {
    resources: Vec::new(),
    claims: None,
    requested: None,
    acr_values: Vec::new(),
    amr: Vec::new(),
    added: None,
    aud: None,
    sid: None,
};

/// What a grant issues.
#[derive(Debug, Clone, Copy)]
pub struct Issue<'a> {
    pub client: &'a Client,
    pub user: Option<&'a User>,
    pub scopes: &'a [String],
    pub grant_id: Option<&'a str>,
    pub auth_time: Option<Timestamp>,
    pub nonce: Option<&'a str>,
    /// What the sign-in asked for and how it happened.
    pub sign_in: &'a SignIn,
    /// A refresh token comes with the access token.
    pub refresh: bool,
    /// An id_token comes with the access token.
    pub id_token: bool,
    /// The DPoP key (its thumbprint) the tokens are bound to (RFC 9449).
    pub jkt: Option<&'a str>,
}

impl<'a> Issue<'a> {
    /// Tokens for `client` (and `user`, if any) with `scopes`: a refresh token when
    /// there is a user and the client may refresh, an id_token when there is a user
    /// and `openid` was granted.
    pub fn new(client: &'a Client, user: Option<&'a User>, scopes: &'a [String]) -> Self {
        Issue {
            client,
            user,
            scopes,
            grant_id: None,
            auth_time: None,
            nonce: None,
            sign_in: &NO_SIGN_IN,
            refresh: user.is_some() && client.allows_grant(GrantType::RefreshToken),
            id_token: user.is_some() && scopes.iter().any(|s| s == "openid"),
            jkt: None,
        }
    }

    /// Bound to the DPoP key with thumbprint `jkt` (RFC 9449), if any.
    pub fn bound(mut self, jkt: Option<&'a str>) -> Self {
        self.jkt = jkt;
        self
    }

    /// Under the grant `id`, signed in at `auth_time`.
    pub fn grant(mut self, id: Option<&'a str>, auth_time: Option<Timestamp>) -> Self {
        self.grant_id = id;
        self.auth_time = auth_time;
        self
    }

    pub fn nonce(mut self, nonce: Option<&'a str>) -> Self {
        self.nonce = nonce;
        self
    }

    pub fn sign_in(mut self, sign_in: &'a SignIn) -> Self {
        self.sign_in = sign_in;
        self
    }

    /// An access token alone (the implicit flow adds its id_token itself).
    pub fn access_only(mut self) -> Self {
        self.refresh = false;
        self.id_token = false;
        self
    }

    fn mint_args(&self, config: &'a ProviderConfig, now: Timestamp) -> Mint<'a> {
        Mint {
            issuer: &config.issuer,
            client: self.client,
            user: self.user,
            sign_in: self.sign_in,
            preset: self.client.preset.or(config.preset),
            scopes: self.scopes,
            grant_id: self.grant_id,
            auth_time: self.auth_time,
            nonce: self.nonce,
            refresh: self.refresh,
            id_token: self.id_token,
            now,
            jkt: self.jkt,
        }
    }
}

impl Context {
    async fn scope_defs(
        &self,
        user: Option<&User>,
    ) -> Result<Arc<Vec<crate::model::Scope>>, OAuthError> {
        // Without a user no claims are released, so no definitions are needed.
        Ok(match user {
            Some(_) => self.core.cached_scopes().await?,
            None => Arc::new(Vec::new()),
        })
    }

    /// Mints the tokens `what` describes; returns the response and the rows to store.
    pub async fn issue(
        &self,
        what: &Issue<'_>,
        now: Timestamp,
    ) -> Result<(TokenResponse, Vec<TokenRow>), OAuthError> {
        let keys = self.current_keys().await?;
        if access_format(what.client, what.client.preset.or(self.config.preset)) == TokenFormat::Jwt
        {
            keys.ready(what.client.access_token_signed_response_alg)
                .await?;
        }
        if what.id_token {
            keys.ready(what.client.id_token_signed_response_alg).await?;
        }
        let defs = self.scope_defs(what.user).await?;
        mint(keys, &defs, &what.mint_args(&self.config, now))
    }

    /// Signs an id_token for `what`'s user alone (the implicit flow), with `at_hash` of
    /// `access_token` when one comes with it.
    pub async fn issue_id_token(
        &self,
        what: &Issue<'_>,
        access_token: Option<&str>,
        now: Timestamp,
    ) -> Result<String, OAuthError> {
        let user = what
            .user
            .ok_or_else(|| OAuthError::server_error("an id_token needs a user"))?;
        let keys = self.current_keys().await?;
        keys.ready(what.client.id_token_signed_response_alg).await?;
        let defs = self.scope_defs(Some(user)).await?;
        id_token(
            keys,
            &defs,
            &what.mint_args(&self.config, now),
            user,
            access_token,
        )
    }

    /// Stores freshly minted tokens (and their grant, if new) through the group writer.
    pub async fn store_tokens(
        &self,
        grant: Option<GrantRow>,
        rows: Vec<TokenRow>,
    ) -> Result<(), OAuthError> {
        let mut append: crate::store::writer::Rows = Vec::with_capacity(rows.len() + 1);
        if let Some(g) = grant {
            append.push(Box::new(g));
        }
        append.extend(boxed(rows));
        self.core.store.writer().append(append).await?;
        Ok(())
    }

    /// Revokes a grant (and its tokens) in the writer, for a refusal that must persist.
    pub async fn revoke_grant(
        &self,
        grant_id: String,
        now: Timestamp,
        reason: &'static str,
    ) -> Result<u64, OAuthError> {
        let n = self
            .core
            .store
            .writer()
            .run_now(move |tx| flows::revoke_grant_now(tx, &grant_id, now, reason))
            .await?;
        self.core.tokens_revoked(None);
        Ok(n)
    }

    /// The persona with subject `sub`, or `invalid_grant` saying whose it was.
    pub async fn user_by_sub(&self, sub: &str, whose: &str) -> Result<User, OAuthError> {
        self.core
            .cached_user(sub)
            .await?
            .map(|u| (*u).clone())
            .ok_or_else(|| OAuthError::invalid_grant(format!("the user {whose} no longer exists")))
    }
}

/// A new grant row for `what` (a sign-in's consent, a password or device grant).
pub fn new_grant(what: &Issue<'_>, id: String, now: Timestamp) -> GrantRow {
    GrantRow {
        id,
        client_id: what.client.client_id.clone(),
        sub: what.user.map(|u| u.sub.clone()),
        scopes: what.scopes.join(" "),
        auth_time: what.auth_time,
        created_at: now,
        revoked_at: None,
        extras: what.sign_in.to_column(),
    }
}

/// A token made on request, without a flow (`authdesk tokens mint`): for a client, and
/// a persona when one is named.
#[derive(Debug, Clone, Default)]
pub struct MintRequest {
    pub client_id: String,
    pub username: Option<String>,
    /// The scopes; without any, what the client may have (without a persona: what
    /// needs none).
    pub scopes: Vec<String>,
    /// The access token's lifetime; the client's when absent.
    pub ttl: Option<i64>,
    pub format: Option<crate::model::TokenFormat>,
    /// Already expired: issued `ttl` + 60 s ago.
    pub expired: bool,
    /// Claims added to the access token and id_token (none reserved).
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// RFC 8707 resources: the access token's audience.
    pub audiences: Vec<String>,
}

impl Context {
    /// Mints and stores the tokens of `req` (an access token, and an id_token when a
    /// persona is named and `openid` is among the scopes), and logs them as minted.
    pub async fn mint(
        &self,
        req: &MintRequest,
        now: Timestamp,
    ) -> Result<TokenResponse, OAuthError> {
        let found = self
            .core
            .cached_client(&req.client_id)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "no client '{}'; see `authdesk clients list`",
                    req.client_id
                ))
            })?;
        let mut client = (*found).clone();
        if let Some(ttl) = req.ttl {
            if !(1..=crate::model::MAX_TTL).contains(&ttl) {
                return Err(OAuthError::invalid_request(format!(
                    "--ttl {ttl} is not a lifetime between 1 second and 10 years"
                )));
            }
            client.access_token_ttl = ttl;
        }
        if let Some(format) = req.format {
            client.access_token_format = format;
        }
        let user = match &req.username {
            Some(name) => Some(super::consent::choose_persona(self, Some(name), None).await?),
            None => None,
        };
        let asked = (!req.scopes.is_empty()).then(|| req.scopes.join(" "));
        let scopes = match &user {
            Some(_) => {
                super::token::resolve_scopes(&client, asked.as_deref(), || client.scopes.clone())?
            }
            None => super::token::client_credentials_scopes(&client, asked.as_deref())?,
        };
        if let Some(added) = &req.claims {
            crate::token_shape::check_not_reserved(added.keys().map(String::as_str), "--claims")
                .map_err(OAuthError::invalid_request)?;
        }
        let asked: Vec<&str> = req.audiences.iter().map(String::as_str).collect();
        let sign_in = SignIn {
            resources: super::claims::resources(&client, &asked)?,
            added: req.claims.clone(),
            ..SignIn::default()
        };
        let mut what = Issue::new(&client, user.as_ref(), &scopes).sign_in(&sign_in);
        what.refresh = false;
        let issued_at = if req.expired {
            now - client.access_token_ttl - 60
        } else {
            now
        };
        let what = what.grant(None, user.as_ref().map(|_| issued_at));
        let (response, rows) = self.issue(&what, issued_at).await?;
        self.store_tokens(None, rows).await?;
        self.record(
            super::context::LogLine::new("mint", crate::events::RequestStatus::Completed)
                .client(Some(client.client_id.clone()))
                .user(user.map(|u| u.username))
                .detail(serde_json::json!({
                    "scope": response.scope,
                    "tokens": response.issued,
                    "expired": req.expired,
                    "id_token": response.id_token.is_some(),
                })),
        );
        Ok(response)
    }
}
