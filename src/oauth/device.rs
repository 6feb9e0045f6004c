//! RFC 8628 device authorization: the device asks for a code pair, the user approves
//! the user code on the provider's page (`/device`), and the device polls the token
//! endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.

use serde_json::{Value, json};

use super::consent::{auto_approver, choose_persona};
use super::context::{Context, LogLine, paths};
use super::error::OAuthError;
use super::params::Params;
use super::token::resolve_scopes;
use crate::events::RequestStatus;
use crate::model::{Client, GrantType, Timestamp, User, random_token};
use crate::store::flows::{self, DeviceRow, DeviceStatus, hash_secret};

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
    ctx: &Context,
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
    let auto = auto_approver(ctx, client, None).await?;
    let device_code = random_token(32);
    let row = DeviceRow {
        user_code: generate_user_code(),
        client_id: client.client_id.clone(),
        scopes: scopes.join(" "),
        status: if auto.is_some() {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Pending
        },
        sub: auto.as_ref().map(|u| u.sub.clone()),
        auth_time: auto.as_ref().map(|_| now),
        interval_secs: POLL_INTERVAL,
        last_poll_at: None,
        created_at: now,
        expires_at: now + DEVICE_CODE_TTL,
    };
    let hash = hash_secret(&device_code);
    let stored = row.clone();
    ctx.core
        .store
        .writer()
        .run(move |conn| Box::pin(async move { flows::insert_device(conn, &hash, &stored).await }))
        .await?;
    let verification_uri = ctx.config.url(paths::DEVICE);
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

/// What the verification page shows for a user code.
#[derive(Debug)]
pub enum Verification {
    /// Not a code at all (a typo).
    Malformed,
    Unknown {
        code: String,
    },
    Expired,
    /// Waiting for a decision: the page asks for one.
    Waiting(Box<Waiting>),
    /// Approved already (by `--auto-approve` or the client's setting, or on the page):
    /// the device can continue.
    Approved {
        username: Option<String>,
    },
    Denied,
    /// Exchanged for tokens already.
    Used,
}

/// A device request waiting for the user.
#[derive(Debug)]
pub struct Waiting {
    pub code: String,
    pub client_name: String,
    pub personas: Vec<User>,
    /// Each requested scope with its description.
    pub scopes: Vec<(String, String)>,
}

/// Looks up what a person typed on the verification page.
pub async fn verification(
    ctx: &Context,
    entered: &str,
    now: Timestamp,
) -> Result<Verification, OAuthError> {
    let Some(code) = normalize_user_code(entered) else {
        return Ok(Verification::Malformed);
    };
    let Some(row) = flows::device_by_user_code(ctx.core.store.pool(), &code).await? else {
        return Ok(Verification::Unknown { code });
    };
    if row.expires_at <= now && row.status != DeviceStatus::Used {
        return Ok(Verification::Expired);
    }
    let username = |sub: Option<String>| async {
        match sub {
            Some(s) => ctx
                .core
                .cached_user(&s)
                .await
                .map(|u| u.map(|u| u.username.clone())),
            None => Ok(None),
        }
    };
    match row.status {
        DeviceStatus::Approved => {
            return Ok(Verification::Approved {
                username: username(row.sub.clone()).await?,
            });
        }
        DeviceStatus::Denied => return Ok(Verification::Denied),
        DeviceStatus::Used => return Ok(Verification::Used),
        DeviceStatus::Pending => {}
    }
    let client_name = ctx
        .core
        .cached_client(&row.client_id)
        .await?
        .map(|c| c.name.clone())
        .unwrap_or_else(|| row.client_id.clone());
    let personas = ctx.core.list_users().await?;
    let defs = ctx.core.cached_scopes().await?;
    let scopes = row
        .scopes
        .split_whitespace()
        .map(|s| {
            let description = defs
                .iter()
                .find(|d| d.name == s)
                .map(|d| d.description.clone())
                .unwrap_or_default();
            (s.to_string(), description)
        })
        .collect();
    Ok(Verification::Waiting(Box::new(Waiting {
        code,
        client_name,
        personas,
        scopes,
    })))
}

/// A person's decision on the verification page. Returns false when the code is no
/// longer waiting (used, denied or expired).
pub async fn decide(
    ctx: &Context,
    code: &str,
    approve: bool,
    username: Option<&str>,
    params: &Params,
    now: Timestamp,
) -> Result<bool, OAuthError> {
    let user = match (approve, username) {
        (false, _) => None,
        (true, None) => {
            return Err(OAuthError::invalid_request(
                "pick a persona before approving",
            ));
        }
        (true, Some(name)) => Some(choose_persona(ctx, Some(name), None).await?),
    };
    let decided = flows::decide_device(
        ctx.core.store.pool(),
        code,
        approve,
        user.as_ref().map(|u| u.sub.as_str()),
        now,
    )
    .await?;
    if decided {
        ctx.record(
            LogLine::new(
                "device",
                if approve {
                    RequestStatus::Approved
                } else {
                    RequestStatus::Denied
                },
            )
            .user(user.map(|u| u.username))
            .params(params)
            .detail(json!({"user_code": code, "decided_by": "page"})),
        );
    }
    Ok(decided)
}

/// The device authorization endpoint's request: the client authenticates, then
/// [`authorize_device`].
pub async fn request(
    ctx: &Context,
    authorization: Option<&str>,
    params: &Params,
    now: Timestamp,
) -> Result<(std::sync::Arc<Client>, Value), OAuthError> {
    let client = super::client_auth::authenticate(
        ctx,
        authorization,
        params,
        paths::DEVICE_AUTHORIZATION,
        now,
    )
    .await?;
    let answer = authorize_device(ctx, &client, params, now).await?;
    Ok((client, answer))
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
