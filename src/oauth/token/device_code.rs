//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the
//! device polls until the user approved or denied on the verification page.

use crate::model::{Client, Timestamp};
use crate::oauth::context::{Context, paths};
use crate::oauth::device::DEVICE_CODE_TTL;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::{Issue, new_grant};
use crate::oauth::mint::TokenResponse;
use crate::store::flows::{self, DeviceRow, DeviceStatus, hash_secret};

/// Decides a poll of `device` (as it was before this poll), made at `now`; returns the
/// approving user's subject when the device gets its tokens (pure).
/// `verification_uri` goes into the "not yet" answer.
pub fn check<'a>(
    device: &'a DeviceRow,
    now: Timestamp,
    verification_uri: &str,
) -> Result<&'a str, OAuthError> {
    if device.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            format!(
                "the device code expired {}s ago (it lives {DEVICE_CODE_TTL}s); start a new device authorization",
                now - device.expires_at
            ),
        ));
    }
    match device.status {
        DeviceStatus::Pending => {
            if device
                .last_poll_at
                .is_some_and(|t| now - t < device.interval_secs)
            {
                return Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    format!(
                        "polling too fast; wait at least {}s between token requests (RFC 8628 §3.5)",
                        device.interval_secs
                    ),
                ));
            }
            Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                format!(
                    "the user has not approved yet; they should open {verification_uri} and enter {}",
                    device.user_code
                ),
            ))
        }
        DeviceStatus::Denied => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the device's request",
        )),
        DeviceStatus::Used => Err(OAuthError::invalid_grant(
            "this device_code was already exchanged for tokens; device codes are single-use",
        )),
        DeviceStatus::Approved => device
            .sub
            .as_deref()
            .ok_or_else(|| OAuthError::server_error("an approved device request has no user")),
    }
}

pub async fn exchange(
    ctx: &Context,
    client: &Client,
    device_code: &str,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    // RFC 8707 at the token endpoint, checked before the poll can use the code up.
    let sign_in = crate::oauth::claims::SignIn {
        resources: crate::oauth::claims::resources(client, resources)?,
        // Approved by a person on the verification page, as on the consent page.
        amr: vec!["user".into()],
        ..Default::default()
    };
    let hash = hash_secret(device_code);
    match flows::device_client(ctx.core.store.pool(), &hash).await? {
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
    // Record the poll (and an approved request's use) and read the state in one step.
    let poll_hash = hash.clone();
    let row = ctx
        .core
        .store
        .writer()
        .run(move |conn| Box::pin(async move { flows::poll_device(conn, &poll_hash, now).await }))
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the device_code is unknown to this provider"))?;
    let sub = check(&row, now, &ctx.config.url(paths::DEVICE))?;
    // Approved: poll_device has marked it used, so this is the one exchange.
    let user = ctx.user_by_sub(sub, "who approved this device").await?;
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
    let grant_id = crate::model::sortable_id(now);
    let what = Issue::new(client, Some(&user), &scopes)
        .grant(Some(&grant_id), row.auth_time)
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

    const NOW: Timestamp = 1_700_000_000;
    const URI: &str = "https://localhost:8443/device";

    fn device(status: DeviceStatus, last_poll_at: Option<Timestamp>) -> DeviceRow {
        DeviceRow {
            user_code: "WDJB-MJHT".into(),
            client_id: "tv".into(),
            scopes: "openid".into(),
            status,
            sub: (status == DeviceStatus::Approved).then(|| "alice-sub".to_string()),
            auth_time: None,
            interval_secs: 5,
            last_poll_at,
            created_at: NOW - 60,
            expires_at: NOW + 540,
        }
    }

    fn code(r: Result<&str, OAuthError>) -> ErrorCode {
        r.map(|s| panic!("approved for {s}")).unwrap_err().code
    }

    #[test]
    fn pending_devices_are_told_to_wait_and_fast_pollers_to_slow_down() {
        let waiting = device(DeviceStatus::Pending, Some(NOW - 5));
        let e = check(&waiting, NOW, URI).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthorizationPending);
        assert!(e.description.contains("WDJB-MJHT") && e.description.contains(URI));
        let fast = device(DeviceStatus::Pending, Some(NOW - 4));
        assert_eq!(code(check(&fast, NOW, URI)), ErrorCode::SlowDown);
        let first = device(DeviceStatus::Pending, None);
        assert_eq!(
            code(check(&first, NOW, URI)),
            ErrorCode::AuthorizationPending
        );
    }

    #[test]
    fn denied_used_and_expired_devices_are_refused() {
        let denied = device(DeviceStatus::Denied, None);
        assert_eq!(code(check(&denied, NOW, URI)), ErrorCode::AccessDenied);
        let used = device(DeviceStatus::Used, None);
        assert_eq!(code(check(&used, NOW, URI)), ErrorCode::InvalidGrant);
        let approved = device(DeviceStatus::Approved, None);
        assert_eq!(
            code(check(&approved, approved.expires_at, URI)),
            ErrorCode::ExpiredToken
        );
    }

    #[test]
    fn an_approved_device_gets_the_approving_user() {
        let approved = device(DeviceStatus::Approved, Some(NOW - 1));
        assert_eq!(check(&approved, NOW, URI).unwrap(), "alice-sub");
    }
}
