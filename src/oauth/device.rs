//! RFC 8628 device authorization: the device asks for a code pair, the user approves
//! the user code on the provider's page (`/device`), and the device polls the token
//! endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.

use serde_json::{Value, json};

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::token::resolve_scopes;
use super::tokens::{Mint, TokenResponse, mint};
use crate::http::{AppState, paths};
use crate::model::{Client, GrantType, Timestamp, random_token};
use crate::store::flows::{self, DeviceRow, GrantRow, hash_secret};

/// Device codes live this long.
pub const DEVICE_CODE_TTL: i64 = 600;
/// The minimum seconds between polls.
pub const POLL_INTERVAL: i64 = 5;

/// Consonants only, as RFC 8628 §6.1 suggests: no vowels (no words), no look-alikes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub fn generate_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char);
    }
    code
}

/// Accepts what a person types: any case, with or without the dash or spaces.
pub fn normalize_user_code(input: &str) -> Option<String> {
    let chars: Vec<char> = input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.len() != 8 {
        return None;
    }
    let s: String = chars.iter().collect();
    Some(format!("{}-{}", &s[..4], &s[4..]))
}

/// The device authorization endpoint (RFC 8628 §3.1–3.2).
pub async fn authorize_device(
    state: &AppState,
    client: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<Value, OAuthError> {
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client(format!(
            "client '{}' is not allowed the device_code grant; enable it on the client in Authdesk",
            client.client_id
        )));
    }
    let scopes = resolve_scopes(client, params.get("scope"), || client.scopes.clone())?;
    // Auto-approval (CI): the request starts approved.
    let auto = match (&state.config.auto_approve, client.auto_approve) {
        (Some(u), _) => state.core.get_user(u).await.ok(),
        (None, true) => state
            .core
            .list_users()
            .await
            .ok()
            .and_then(|u| u.into_iter().next()),
        (None, false) => None,
    };
    let device_code = random_token(32);
    let row = DeviceRow {
        user_code: generate_user_code(),
        client_id: client.client_id.clone(),
        scopes: scopes.join(" "),
        status: if auto.is_some() {
            "approved"
        } else {
            "pending"
        }
        .to_string(),
        sub: auto.as_ref().map(|u| u.sub.clone()),
        auth_time: auto.as_ref().map(|_| now),
        interval_secs: POLL_INTERVAL,
        last_poll_at: None,
        created_at: now,
        expires_at: now + DEVICE_CODE_TTL,
    };
    let hash = hash_secret(&device_code);
    let stored = row.clone();
    state
        .core
        .store
        .writer()
        .run(move |conn| Box::pin(async move { flows::insert_device(conn, &hash, &stored).await }))
        .await?;
    let verification_uri = state.config.url(paths::DEVICE);
    let complete = format!("{verification_uri}?user_code={}", row.user_code);
    Ok(json!({
        "device_code": device_code,
        "user_code": row.user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": DEVICE_CODE_TTL,
        "interval": POLL_INTERVAL,
    }))
}

/// The device_code grant at the token endpoint (RFC 8628 §3.4–3.5).
pub async fn exchange(
    state: &AppState,
    client: &Client,
    device_code: &str,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let hash = hash_secret(device_code);
    let row = {
        let mut conn = state.core.store.pool().acquire().await?;
        sqlx::query_scalar::<_, String>(
            "SELECT client_id FROM device_codes WHERE device_code_hash = ?",
        )
        .bind(&hash)
        .fetch_optional(&mut *conn)
        .await?
    };
    match row {
        None => {
            return Err(OAuthError::invalid_grant(
                "the device_code is unknown to this provider; start again at the device authorization endpoint",
            ));
        }
        Some(owner) if owner != client.client_id => {
            return Err(OAuthError::invalid_grant(format!(
                "the device_code was issued to client '{owner}', not '{}'",
                client.client_id
            )));
        }
        Some(_) => {}
    }
    // Record the poll and read the state in one step.
    let poll_hash = hash.clone();
    let row = state
        .core
        .store
        .writer()
        .run(move |conn| Box::pin(async move { flows::poll_device(conn, &poll_hash, now).await }))
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the device_code is unknown to this provider"))?;
    if row.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            format!(
                "the device code expired {}s ago (it lives {DEVICE_CODE_TTL}s); start a new device authorization",
                now - row.expires_at
            ),
        ));
    }
    match row.status.as_str() {
        "pending" => {
            if row
                .last_poll_at
                .is_some_and(|t| now - t < row.interval_secs)
            {
                return Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    format!(
                        "polling too fast; wait at least {}s between token requests (RFC 8628 §3.5)",
                        row.interval_secs
                    ),
                ));
            }
            return Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                format!(
                    "the user has not approved yet; they should open {} and enter {}",
                    state.config.url(paths::DEVICE),
                    row.user_code
                ),
            ));
        }
        "denied" => {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the device's request",
            ));
        }
        "used" => {
            return Err(OAuthError::invalid_grant(
                "this device_code was already exchanged for tokens; device codes are single-use",
            ));
        }
        _ => {}
    }
    // Approved: poll_device has marked it used, so this is the one exchange.
    let sub = row
        .sub
        .clone()
        .ok_or_else(|| OAuthError::server_error("an approved device request has no user"))?;
    let user = state
        .core
        .cached_user(&sub)
        .await?
        .map(|u| (*u).clone())
        .ok_or_else(|| {
            OAuthError::invalid_grant("the user who approved this device no longer exists")
        })?;
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
    let grant_id = crate::model::sortable_id(now);
    let scope_defs = state.core.cached_scopes().await?;
    let (response, rows) = mint(
        &state.keys,
        &scope_defs,
        &Mint {
            issuer: &state.config.issuer,
            client,
            user: Some(&user),
            claims_override: None,
            scopes: &scopes,
            grant_id: Some(&grant_id),
            auth_time: row.auth_time,
            nonce: None,
            refresh: client.allows_grant(GrantType::RefreshToken),
            id_token: scopes.iter().any(|s| s == "openid"),
            now,
        },
    )?;
    let grant = GrantRow {
        id: grant_id,
        client_id: client.client_id.clone(),
        sub: Some(sub),
        scopes: row.scopes.clone(),
        auth_time: row.auth_time,
        created_at: now,
        revoked_at: None,
    };
    super::token::store_tokens(state, Some(grant), rows).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typed_forgivingly() {
        let code = generate_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(
            normalize_user_code(&code.to_lowercase().replace('-', " ")),
            Some(code)
        );
        assert_eq!(normalize_user_code("WDJB-MJH"), None);
    }
}
