//! OpenID Connect Back-Channel Logout 1.0: when a person's sign-in ends (RP-initiated
//! logout, a sign-out from the window, their consent to a client revoked), every
//! client that signed in under it and registered a `backchannel_logout_uri` receives
//! a logout token (§2.4: `iss`, `aud`, `iat`, `exp`, `jti`, `events`, `sub`, `sid`;
//! `typ: logout+jwt`), POSTed as `logout_token` (§2.5). Deliveries run in the
//! background; each one's outcome is in the request timeline (kind
//! `backchannel_logout`), a failure with its reason.

use serde_json::{Value, json};

use super::context::{Context, LogLine};
use super::error::{ErrorCode, OAuthError};
use crate::events::RequestStatus;
use crate::model::{Client, Timestamp, random_token};
use crate::store::flows::{self, SessionClientRow, SignedIn};

/// The event a logout token carries (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is good for.
const TOKEN_TTL: i64 = 120;

/// How long a delivery may take.
const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The claims of a logout token for `client` about the sign-in `row` (pure).
pub fn logout_claims(
    issuer: &str,
    client: &Client,
    row: &SessionClientRow,
    now: Timestamp,
) -> Value {
    json!({
        "iss": issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": random_token(16),
        "events": { EVENT: {} },
        "sub": row.sub,
        "sid": row.sid,
    })
}

/// Why a logout ends sign-ins, for the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// RP-initiated logout at the end-session endpoint.
    EndSession,
    /// Signed out from the window.
    SignedOut,
    /// The persona's consent to the client was revoked.
    ConsentRevoked,
}

impl Context {
    /// Ends the sign-ins `which` names and notifies their clients that registered a
    /// back-channel logout URI. Returns how many notifications were sent off; each
    /// delivery logs its outcome when it ends.
    pub async fn backchannel_logout(
        &self,
        which: SignedIn<'_>,
        reason: Reason,
    ) -> Result<usize, OAuthError> {
        let rows = flows::take_session_clients(self.core.store.pool(), which).await?;
        let now = self.now();
        let mut sent = 0;
        for row in rows {
            let Some(client) = self.core.cached_client(&row.client_id).await? else {
                continue;
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let alg = client.id_token_signed_response_alg;
            let keys = self.current_keys().await?;
            keys.ready(alg).await?;
            let token = keys
                .get(alg)
                .and_then(|k| {
                    k.sign_jwt(
                        "logout+jwt",
                        &logout_claims(&self.config.issuer, &client, &row, now),
                    )
                })
                .map_err(OAuthError::from)?;
            let username = self
                .core
                .cached_user(&row.sub)
                .await?
                .map(|u| u.username.clone());
            let ctx = self.clone();
            let ca = std::fs::read(crate::tls::TlsPaths::new(self.core.data_dir()).ca_cert()).ok();
            tokio::spawn(async move {
                let outcome = deliver(&uri, &token, ca.as_deref()).await;
                let mut detail = json!({"uri": uri, "sid": row.sid, "reason": reason});
                let line = LogLine::new("backchannel_logout", RequestStatus::Completed)
                    .client(Some(row.client_id.clone()))
                    .user(username);
                match outcome {
                    Ok(status) => {
                        detail["status"] = json!(status);
                        ctx.record(line.detail(detail));
                    }
                    Err(why) => {
                        let e = OAuthError::new(
                            ErrorCode::ServerError,
                            format!("the back-channel logout POST to {uri} failed: {why}"),
                        );
                        ctx.record(LogLine {
                            status: RequestStatus::Rejected,
                            ..line.error(Some(&e)).detail(detail)
                        });
                    }
                }
            });
            sent += 1;
        }
        Ok(sent)
    }
}

impl Context {
    /// Signs a persona out everywhere (the window's "Sign out"): ends their provider
    /// sessions and notifies the clients they signed in to. Returns the sessions ended
    /// and the notifications sent.
    pub async fn sign_out(&self, username: &str) -> crate::Result<(u64, usize)> {
        let sub = self.core.get_user(username).await?.sub;
        let sent = self
            .backchannel_logout(
                SignedIn::Persona {
                    sub: &sub,
                    client_id: None,
                },
                Reason::SignedOut,
            )
            .await
            .map_err(|e| crate::Error::Other(e.description))?;
        let ended = flows::delete_sessions_of(self.core.store.pool(), &sub).await?;
        Ok((ended, sent))
    }

    /// Forgets a persona's consent to a client and revokes what it granted (as
    /// [`crate::core::Core::revoke_consent`]), and notifies the client by back-channel
    /// logout if it signed in under a session. Returns the tokens revoked.
    pub async fn revoke_consent(&self, username: &str, client_id: &str) -> crate::Result<u64> {
        let revoked = self.core.revoke_consent(username, client_id).await?;
        let sub = self.core.get_user(username).await?.sub;
        self.backchannel_logout(
            SignedIn::Persona {
                sub: &sub,
                client_id: Some(client_id),
            },
            Reason::ConsentRevoked,
        )
        .await
        .map_err(|e| crate::Error::Other(e.description))?;
        Ok(revoked)
    }
}

/// POSTs the logout token; the RP's 2xx answer is success (§2.8).
async fn deliver(uri: &str, token: &str, ca_pem: Option<&[u8]>) -> Result<u16, String> {
    let loopback = url::Url::parse(uri).is_ok_and(|u| crate::model::is_loopback_or_localhost(&u));
    let mut builder = super::jwks_uri::web_client(!loopback, DELIVERY_TIMEOUT);
    // A receiver on this machine may use a certificate of Authdesk's own CA.
    if let Some(cert) = ca_pem.and_then(|pem| reqwest::Certificate::from_pem(pem).ok()) {
        builder = builder.add_root_certificate(cert);
    }
    let http = builder
        .build()
        .map_err(|e| format!("no HTTP client ({e})"))?;
    let res = http
        .post(uri)
        .form(&[("logout_token", token)])
        .send()
        .await
        .map_err(|e| {
            let why = super::jwks_uri::chain(&e);
            if e.is_timeout() {
                format!("no answer within {}s ({why})", DELIVERY_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("cannot connect ({why}); is the app running and listening there?")
            } else {
                why
            }
        })?;
    let status = res.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let body: String = res
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Err(format!(
        "the app answered HTTP {status}{}; it must answer 200 once it has logged the session out (OpenID Connect Back-Channel Logout §2.8)",
        if body.trim().is_empty() {
            String::new()
        } else {
            format!(" ({})", body.trim())
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_token_names_the_event_the_session_and_the_persona() {
        let client = crate::model::ClientInput {
            client_id: Some("web".into()),
            name: Some("Web".into()),
            redirect_uris: Some(vec!["http://127.0.0.1/cb".into()]),
            ..Default::default()
        }
        .test_client();
        let row = SessionClientRow {
            session_hash: "h".into(),
            client_id: "web".into(),
            sid: "s1".into(),
            sub: "alice-sub".into(),
            created_at: 0,
        };
        let c = logout_claims("https://localhost:8443", &client, &row, 1000);
        assert_eq!(c["aud"], "web");
        assert_eq!(c["sid"], "s1");
        assert_eq!(c["sub"], "alice-sub");
        assert_eq!(c["exp"], 1120);
        assert_eq!(c["events"], json!({EVENT: {}}));
        assert!(
            c.get("nonce").is_none(),
            "a logout token has no nonce (§2.4)"
        );
    }
}
