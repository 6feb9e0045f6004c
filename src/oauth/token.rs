//! The token endpoint (RFC 6749 §3.2): authorization_code (with PKCE, RFC 7636),
//! refresh_token (rotating; reuse revokes the grant), client_credentials and password.
//! Each request is one transaction, committed before the response is sent, including
//! when the answer is an error that must persist (a replayed code, a reused refresh token).

use axum::http::HeaderMap;
use base64::Engine;
use sha2::Digest;

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::tokens::{Mint, TokenResponse, mint};
use crate::http::{AppState, paths};
use crate::model::{Client, GrantType, Timestamp, User};
use crate::store::flows::{self, Exchange, GrantRow, TokenKind, hash_secret};
use crate::store::writer::{Rows, boxed};

/// A parsed token request: an unknown grant type cannot be represented.
#[derive(Debug, PartialEq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
    DeviceCode {
        device_code: String,
    },
}

impl TokenRequest {
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        let grant = p.require(
            "grant_type",
            "say which grant you use, e.g. grant_type=authorization_code",
        )?;
        let scope = p.get("scope").map(str::to_string);
        Ok(match grant {
            "authorization_code" => TokenRequest::AuthorizationCode {
                code: p
                    .require("code", "send the code your redirect URI received")?
                    .to_string(),
                redirect_uri: p.get("redirect_uri").map(str::to_string),
                code_verifier: p.get("code_verifier").map(str::to_string),
            },
            "refresh_token" => TokenRequest::RefreshToken {
                refresh_token: p
                    .require(
                        "refresh_token",
                        "send the refresh token from the last token response",
                    )?
                    .to_string(),
                scope,
            },
            "client_credentials" => TokenRequest::ClientCredentials { scope },
            "urn:ietf:params:oauth:grant-type:device_code" => TokenRequest::DeviceCode {
                device_code: p
                    .require(
                        "device_code",
                        "send the device_code from the device authorization response",
                    )?
                    .to_string(),
            },
            "password" => TokenRequest::Password {
                username: p
                    .require("username", "the password grant needs username and password")?
                    .to_string(),
                password: p
                    .require("password", "the password grant needs username and password")?
                    .to_string(),
                scope,
            },
            other => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!(
                        "grant_type '{other}' is not supported; use authorization_code, refresh_token, client_credentials, password or urn:ietf:params:oauth:grant-type:device_code"
                    ),
                ));
            }
        })
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::Password { .. } => GrantType::Password,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// Checks a PKCE verifier against the stored challenge (RFC 7636 §4.6).
pub fn verify_pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "a code_verifier was sent, but the authorization request had no code_challenge; send code_challenge (S256) when you authorize",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "the authorization request used PKCE, so the token request needs the code_verifier; send the verifier you derived the code_challenge from",
        )),
        (Some(challenge), Some(verifier)) => {
            if !(43..=128).contains(&verifier.len())
                || !verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            {
                return Err(OAuthError::invalid_grant(
                    "the code_verifier must be 43-128 characters of [A-Z a-z 0-9 - . _ ~] (RFC 7636 §4.1)",
                ));
            }
            let computed = match method.unwrap_or("plain") {
                "S256" => base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes())),
                _ => verifier.to_string(),
            };
            let ok: bool =
                subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into();
            if ok {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(format!(
                    "the code_verifier does not match the code_challenge ({}): BASE64URL(SHA256(code_verifier)) must equal the challenge; send the same verifier you derived it from",
                    method.unwrap_or("plain")
                )))
            }
        }
    }
}

/// Checks requested scopes against the client's allowance; `None` means `default`.
pub fn resolve_scopes(
    client: &Client,
    requested: Option<&str>,
    default: impl FnOnce() -> Vec<String>,
) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(default());
    };
    let mut out: Vec<String> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !client.scopes.iter().any(|a| a == s) {
            return Err(OAuthError::invalid_scope(format!(
                "scope '{s}' is not allowed for client '{}'; allowed: {}. Add it to the client's scopes in Authdesk",
                client.client_id,
                client.scopes.join(" ")
            )));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Runs a token request; the caller has parsed the form.
pub async fn token(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(TokenResponse, std::sync::Arc<Client>), (OAuthError, Option<String>)> {
    let now = state.core.now();
    let client = client_auth::authenticate(state, headers, params, paths::TOKEN, now)
        .await
        .map_err(|e| (e, client_auth::claimed_client_id(headers, params)))?;
    let with_client = |e: OAuthError| (e, Some(client.client_id.clone()));
    let request = TokenRequest::parse(params).map_err(with_client)?;
    let grant = request.grant_type();
    if !client.allows_grant(grant) {
        return Err(with_client(OAuthError::unauthorized_client(format!(
            "client '{}' is not allowed the {grant} grant; allowed: {}. Enable it on the client in Authdesk",
            client.client_id,
            client
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))));
    }
    let res = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            authorization_code(
                state,
                &client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                now,
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh(state, &client, &refresh_token, scope.as_deref(), now).await,
        TokenRequest::ClientCredentials { scope } => {
            client_credentials(state, &client, scope.as_deref(), now).await
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => password_grant(state, &client, &username, &password, scope.as_deref(), now).await,
        TokenRequest::DeviceCode { device_code } => {
            super::device::exchange(state, &client, &device_code, now).await
        }
    };
    res.map(|r| (r, client.clone())).map_err(with_client)
}

/// Stores freshly minted tokens (and their grant, if new) through the group writer.
pub(super) async fn store_tokens(
    state: &AppState,
    grant: Option<GrantRow>,
    rows: Vec<flows::TokenRow>,
) -> Result<(), OAuthError> {
    let mut append: crate::store::writer::Rows = Vec::with_capacity(rows.len() + 1);
    if let Some(g) = grant {
        append.push(Box::new(g));
    }
    append.extend(boxed(rows));
    state.core.store.writer().append(append).await?;
    Ok(())
}

/// Burns a code whose exchange failed a check (redirect, PKCE), so it cannot be tried again.
async fn burn_code(state: &AppState, code_hash: String, now: Timestamp) -> Result<(), OAuthError> {
    state
        .core
        .store
        .writer()
        .run_now(move |tx| flows::consume_code(tx, &code_hash, now).map(drop))
        .await?;
    Ok(())
}

async fn revoke_replayed(
    state: &AppState,
    grant_id: String,
    now: Timestamp,
    reason: &'static str,
) -> Result<u64, OAuthError> {
    let n = state
        .core
        .store
        .writer()
        .run_now(move |tx| flows::revoke_grant_now(tx, &grant_id, now, reason))
        .await?;
    state.core.tokens_revoked(None);
    Ok(n)
}

async fn user_by_sub(state: &AppState, sub: &str, what: &str) -> Result<User, OAuthError> {
    state
        .core
        .cached_user(sub)
        .await?
        .map(|u| (*u).clone())
        .ok_or_else(|| OAuthError::invalid_grant(format!("the user {what} no longer exists")))
}

fn unknown_code() -> OAuthError {
    OAuthError::invalid_grant(
        "the authorization code is unknown: it was never issued by this provider, expired long ago, or was deleted with its client or user; start the authorization again",
    )
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let code_hash = hash_secret(code);
    let Some(row) = state.core.take_code(&code_hash).await? else {
        return Err(unknown_code());
    };
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "the authorization code was issued to client '{}', not '{}'",
            row.client_id, client.client_id
        )));
    }
    let replayed = |revoked: u64| {
        OAuthError::invalid_grant(format!(
            "the authorization code was already used; codes are single-use (RFC 6749 §4.1.2), so the {revoked} token(s) issued from it are now revoked. Exchange each code once"
        ))
    };
    if row.used_at.is_some() {
        let revoked = revoke_replayed(
            state,
            row.grant_id.clone(),
            now,
            "authorization code replayed",
        )
        .await?;
        return Err(replayed(revoked));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant(format!(
            "the authorization code expired {}s ago (codes live {}s); exchange it right after the redirect",
            now - row.expires_at,
            row.expires_at - row.created_at
        )));
    }
    let checks = match redirect_uri {
        Some(r) if r != row.redirect_uri => Err(OAuthError::invalid_grant(format!(
            "redirect_uri '{r}' differs from '{}' used in the authorization request; send the identical value (RFC 6749 §4.1.3)",
            row.redirect_uri
        ))),
        None if !client.is_public() && row.code_challenge.is_none() => {
            Err(OAuthError::invalid_request(format!(
                "redirect_uri is missing; send '{}' as in the authorization request (RFC 6749 §4.1.3)",
                row.redirect_uri
            )))
        }
        _ => verify_pkce(
            row.code_challenge.as_deref(),
            row.code_challenge_method.as_deref(),
            verifier,
        ),
    };
    if let Err(e) = checks {
        burn_code(state, code_hash, now).await?;
        return Err(e);
    }
    let user = user_by_sub(state, &row.sub, "this code was issued for").await?;
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
    let claims_override = row
        .claims
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(c).ok());
    let scope_defs = state.core.cached_scopes().await?;
    let (response, rows) = mint(
        &state.keys,
        &scope_defs,
        &Mint {
            issuer: &state.config.issuer,
            client,
            user: Some(&user),
            claims_override: claims_override.as_ref(),
            scopes: &scopes,
            grant_id: Some(&row.grant_id),
            auth_time: Some(row.auth_time),
            nonce: row.nonce.as_deref(),
            refresh: client.allows_grant(GrantType::RefreshToken),
            id_token: scopes.iter().any(|s| s == "openid"),
            now,
        },
    )?;
    // Consume the code and store the tokens atomically: of two concurrent exchanges
    // of one code, exactly one issues tokens and the other revokes them.
    let grant_id = row.grant_id.clone();
    let rows: Rows = boxed(rows).collect();
    let outcome = state
        .core
        .store
        .writer()
        .run_now(move |tx| flows::exchange_code(tx, &code_hash, &grant_id, &rows, now))
        .await?;
    match outcome {
        Exchange::Issued => Ok(response),
        Exchange::Unknown => Err(unknown_code()),
        Exchange::Replayed(n) => {
            state.core.tokens_revoked(None);
            Err(replayed(n))
        }
    }
}

fn unknown_refresh_token() -> OAuthError {
    OAuthError::invalid_grant(
        "the refresh token is unknown to this provider; sign in again to get a new one",
    )
}

async fn refresh(
    state: &AppState,
    client: &Client,
    refresh_token: &str,
    scope: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let row = {
        let mut conn = state.core.store.pool().acquire().await?;
        flows::find_token(&mut conn, refresh_token).await?
    }
    .filter(|t| t.kind == TokenKind::RefreshToken)
    .ok_or_else(unknown_refresh_token)?;
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "the refresh token was issued to client '{}', not '{}'",
            row.client_id, client.client_id
        )));
    }
    if row.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was revoked (by a revocation request, from Authdesk, or because a rotated token was reused); sign in again",
        ));
    }
    let reused = |revoked: u64| {
        OAuthError::invalid_grant(format!(
            "this refresh token was already exchanged; refresh tokens rotate on every use, and reusing an old one revokes the whole grant ({revoked} token(s) revoked). Store the refresh_token of each new response and sign in again"
        ))
    };
    let grant_id = row.grant_id.clone().unwrap_or_default();
    if row.rotated_at.is_some() {
        let n = revoke_replayed(state, grant_id, now, "rotated refresh token reused").await?;
        return Err(reused(n));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant(format!(
            "the refresh token expired {}s ago; sign in again",
            now - row.expires_at
        )));
    }
    let granted = row.scope_list();
    let scopes = match scope {
        None => granted.clone(),
        Some(s) => {
            let asked: Vec<String> = s
                .split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(extra) = asked.iter().find(|x| !granted.contains(x)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope '{extra}' was not granted originally; a refresh may only narrow the scopes ({})",
                    granted.join(" ")
                )));
            }
            asked
        }
    };
    let grant = match &row.grant_id {
        Some(g) => {
            let mut conn = state.core.store.pool().acquire().await?;
            flows::get_grant(&mut conn, g).await?
        }
        None => None,
    };
    if grant.as_ref().is_some_and(|g| g.revoked_at.is_some()) {
        return Err(OAuthError::invalid_grant(
            "the grant behind this refresh token was revoked; sign in again",
        ));
    }
    let user = match &row.sub {
        Some(sub) => Some(user_by_sub(state, sub, "of this refresh token").await?),
        None => None,
    };
    let scope_defs = state.core.cached_scopes().await?;
    let (response, rows) = mint(
        &state.keys,
        &scope_defs,
        &Mint {
            issuer: &state.config.issuer,
            client,
            user: user.as_ref(),
            claims_override: None,
            scopes: &scopes,
            grant_id: row.grant_id.as_deref(),
            auth_time: grant.as_ref().and_then(|g| g.auth_time),
            nonce: None,
            refresh: true,
            id_token: user.is_some() && scopes.iter().any(|s| s == "openid"),
            now,
        },
    )?;
    // RFC 6749 §6: a narrowed scope applies to the access token; the new refresh
    // token keeps the scope originally granted.
    let mut rows = rows;
    for r in rows
        .iter_mut()
        .filter(|r| r.kind == TokenKind::RefreshToken)
    {
        r.scopes = granted.join(" ");
    }
    // Rotate and store atomically: of two concurrent uses of one refresh token,
    // exactly one gets new tokens and the other revokes the grant.
    let old_id = row.id.clone();
    let rows: Rows = boxed(rows).collect();
    let outcome = state
        .core
        .store
        .writer()
        .run_now(move |tx| flows::rotate_refresh(tx, &old_id, &grant_id, &rows, now))
        .await?;
    match outcome {
        Exchange::Issued => Ok(response),
        Exchange::Unknown => Err(unknown_refresh_token()),
        Exchange::Replayed(n) => {
            state.core.tokens_revoked(None);
            Err(reused(n))
        }
    }
}

/// Scopes that only make sense with a user.
const USER_SCOPES: &[&str] = &["openid", "offline_access"];

async fn client_credentials(
    state: &AppState,
    client: &Client,
    scope: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    // Without a scope parameter, the client gets what it is allowed that needs no user.
    let scopes = resolve_scopes(client, scope, || {
        client
            .scopes
            .iter()
            .filter(|s| {
                !USER_SCOPES.contains(&s.as_str()) && !["profile", "email"].contains(&s.as_str())
            })
            .cloned()
            .collect()
    })?;
    if let Some(s) = scopes.iter().find(|s| USER_SCOPES.contains(&s.as_str())) {
        return Err(OAuthError::invalid_scope(format!(
            "scope '{s}' needs a signed-in user, and client_credentials has none; drop it, or use the authorization_code grant"
        )));
    }
    // No grant row: client-credentials tokens stand alone and are revoked one by one
    // or all of the client at once.
    let (response, rows) = mint(
        &state.keys,
        &[],
        &Mint {
            issuer: &state.config.issuer,
            client,
            user: None,
            claims_override: None,
            scopes: &scopes,
            grant_id: None,
            auth_time: None,
            nonce: None,
            refresh: false,
            id_token: false,
            now,
        },
    )?;
    store_tokens(state, None, rows).await?;
    Ok(response)
}

async fn password_grant(
    state: &AppState,
    client: &Client,
    username: &str,
    password: &str,
    scope: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let scopes = resolve_scopes(client, scope, || client.scopes.clone())?;
    let rec = state
        .core
        .store
        .get_user_by_username(username)
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_grant(format!(
                "there is no user '{username}'; create the persona in Authdesk"
            ))
        })?;
    let Some(hash) = rec.password_hash.clone() else {
        return Err(OAuthError::invalid_grant(format!(
            "user '{username}' has no password; set one in Authdesk to use the password grant"
        )));
    };
    if !crate::password::verify_blocking(hash, password.to_string()).await {
        return Err(OAuthError::invalid_grant(format!(
            "the password for '{username}' is wrong"
        )));
    }
    let grant_id = crate::model::sortable_id(now);
    let scope_defs = state.core.cached_scopes().await?;
    let (response, rows) = mint(
        &state.keys,
        &scope_defs,
        &Mint {
            issuer: &state.config.issuer,
            client,
            user: Some(&rec.user),
            claims_override: None,
            scopes: &scopes,
            grant_id: Some(&grant_id),
            auth_time: Some(now),
            nonce: None,
            refresh: client.allows_grant(GrantType::RefreshToken),
            id_token: scopes.iter().any(|s| s == "openid"),
            now,
        },
    )?;
    let grant = GrantRow {
        id: grant_id,
        client_id: client.client_id.clone(),
        sub: Some(rec.user.sub.clone()),
        scopes: scopes.join(" "),
        auth_time: Some(now),
        created_at: now,
        revoked_at: None,
    };
    store_tokens(state, Some(grant), rows).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_grant_type_is_unsupported() {
        let p = Params::parse(b"grant_type=magic").unwrap();
        assert_eq!(
            TokenRequest::parse(&p).unwrap_err().code,
            ErrorCode::UnsupportedGrantType
        );
        let p = Params::parse(b"grant_type=authorization_code").unwrap();
        assert_eq!(
            TokenRequest::parse(&p).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify_pkce(Some(challenge), Some("S256"), Some(verifier)).is_ok());
        assert!(
            verify_pkce(
                Some(challenge),
                Some("S256"),
                Some(&verifier.replace('d', "e"))
            )
            .is_err()
        );
        assert!(verify_pkce(Some(challenge), Some("S256"), None).is_err());
        assert!(verify_pkce(None, None, Some(verifier)).is_err());
        assert!(verify_pkce(Some(verifier), Some("plain"), Some(verifier)).is_ok());
    }
}
