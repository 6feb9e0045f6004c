//! `grant_type=authorization_code` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6).

use super::verify_pkce;
use crate::model::{Client, Timestamp};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::Context;
use crate::oauth::error::OAuthError;
use crate::oauth::issue::Issue;
use crate::oauth::mint::TokenResponse;
use crate::store::flows::{self, CodeRow, Exchange, hash_secret};
use crate::store::writer::{Rows, boxed};

/// What the client sent with the code.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// Why a code is refused, and what the refusal must leave behind.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// Refused; the code stays as it was.
    Refuse(OAuthError),
    /// Refused after a failed check of its redirect URI or PKCE: the code is burnt, so
    /// it cannot be tried again.
    Burn(OAuthError),
    /// The code was already used: the grant (and every token it issued) is revoked.
    Replayed,
}

/// Decides whether `code` may be exchanged by `client` (pure).
pub fn check(
    code: &CodeRow,
    client: &Client,
    presented: &Presented<'_>,
    now: Timestamp,
) -> Result<(), Refusal> {
    if code.client_id != client.client_id {
        return Err(Refusal::Refuse(OAuthError::invalid_grant(format!(
            "the authorization code was issued to client '{}', not '{}'",
            code.client_id, client.client_id
        ))));
    }
    if code.used_at.is_some() {
        return Err(Refusal::Replayed);
    }
    if code.expires_at <= now {
        return Err(Refusal::Refuse(OAuthError::invalid_grant(format!(
            "the authorization code expired {}s ago (codes live {}s); exchange it right after the redirect",
            now - code.expires_at,
            code.expires_at - code.created_at
        ))));
    }
    let checked = match presented.redirect_uri {
        Some(r) if r != code.redirect_uri => Err(OAuthError::invalid_grant(format!(
            "redirect_uri '{r}' differs from '{}' used in the authorization request; send the identical value (RFC 6749 §4.1.3)",
            code.redirect_uri
        ))),
        None if !client.is_public() && code.code_challenge.is_none() => {
            Err(OAuthError::invalid_request(format!(
                "redirect_uri is missing; send '{}' as in the authorization request (RFC 6749 §4.1.3)",
                code.redirect_uri
            )))
        }
        _ => verify_pkce(
            code.code_challenge.as_deref(),
            code.code_challenge_method.as_deref(),
            presented.verifier,
        ),
    };
    checked.map_err(Refusal::Burn)
}

fn unknown_code() -> OAuthError {
    OAuthError::invalid_grant(
        "the authorization code is unknown: it was never issued by this provider, expired long ago, or was deleted with its client or user; start the authorization again",
    )
}

fn replayed(revoked: u64) -> OAuthError {
    OAuthError::invalid_grant(format!(
        "the authorization code was already used; codes are single-use (RFC 6749 §4.1.2), so the {revoked} token(s) issued from it are now revoked. Exchange each code once"
    ))
}

/// Exchanges a code for tokens: consumes it and stores the tokens in one commit.
pub async fn exchange(
    ctx: &Context,
    client: &Client,
    presented: Presented<'_>,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let code_hash = hash_secret(presented.code);
    let Some(row) = ctx.core.take_code(&code_hash).await? else {
        return Err(unknown_code());
    };
    match check(&row, client, &presented, now) {
        Ok(()) => {}
        Err(Refusal::Refuse(e)) => return Err(e),
        Err(Refusal::Burn(e)) => {
            ctx.core
                .store
                .writer()
                .run_now(move |tx| flows::consume_code(tx, &code_hash, now).map(drop))
                .await?;
            return Err(e);
        }
        Err(Refusal::Replayed) => {
            let n = ctx
                .revoke_grant(row.grant_id.clone(), now, "authorization code replayed")
                .await?;
            return Err(replayed(n));
        }
    }
    let user = ctx
        .user_by_sub(&row.sub, "this code was issued for")
        .await?;
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
    let mut sign_in = SignIn::from_column(row.claims.as_deref());
    sign_in.resources = claims::narrow(client, &sign_in.resources, resources)?;
    let what = Issue::new(client, Some(&user), &scopes)
        .grant(Some(&row.grant_id), Some(row.auth_time))
        .nonce(row.nonce.as_deref())
        .sign_in(&sign_in)
        .bound(jkt);
    let (response, rows) = ctx.issue(&what, now).await?;
    // Consume the code and store the tokens atomically: of two concurrent exchanges
    // of one code, exactly one issues tokens and the other revokes them.
    let grant_id = row.grant_id.clone();
    let rows: Rows = boxed(rows).collect();
    let outcome = ctx
        .core
        .store
        .writer()
        .run_now(move |tx| flows::exchange_code(tx, &code_hash, &grant_id, &rows, now))
        .await?;
    match outcome {
        Exchange::Issued => Ok(response),
        Exchange::Unknown => Err(unknown_code()),
        Exchange::Replayed(n) => {
            ctx.core.tokens_revoked(None);
            Err(replayed(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType};
    use crate::oauth::ErrorCode;

    const NOW: Timestamp = 1_700_000_000;
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "https://app.example/cb";

    fn client(id: &str, kind: ClientType) -> Client {
        ClientInput {
            client_id: Some(id.into()),
            name: Some("Test app".into()),
            client_type: Some(kind),
            redirect_uris: Some(vec![REDIRECT.into()]),
            ..Default::default()
        }
        .test_client()
    }

    fn code(challenge: Option<&str>) -> CodeRow {
        CodeRow {
            grant_id: "g1".into(),
            client_id: "web".into(),
            sub: "alice-sub".into(),
            redirect_uri: REDIRECT.into(),
            scopes: "openid".into(),
            nonce: None,
            code_challenge: challenge.map(str::to_string),
            code_challenge_method: challenge.map(|_| "S256".to_string()),
            auth_time: NOW - 10,
            claims: None,
            created_at: NOW - 10,
            expires_at: NOW + 110,
            used_at: None,
        }
    }

    fn sent<'a>(redirect_uri: Option<&'a str>, verifier: Option<&'a str>) -> Presented<'a> {
        Presented {
            code: "c",
            redirect_uri,
            verifier,
        }
    }

    fn code_of(r: Result<(), Refusal>) -> (ErrorCode, &'static str) {
        match r {
            Err(Refusal::Refuse(e)) => (e.code, "refuse"),
            Err(Refusal::Burn(e)) => (e.code, "burn"),
            Err(Refusal::Replayed) => (ErrorCode::InvalidGrant, "replayed"),
            Ok(()) => panic!("the code was accepted"),
        }
    }

    #[test]
    fn a_fresh_code_with_its_redirect_and_verifier_is_exchanged() {
        let web = client("web", ClientType::Confidential);
        let ok = check(
            &code(Some(CHALLENGE)),
            &web,
            &sent(Some(REDIRECT), Some(VERIFIER)),
            NOW,
        );
        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn an_expired_code_is_refused_without_burning_it() {
        let web = client("web", ClientType::Confidential);
        let c = code(None);
        let at_expiry = check(&c, &web, &sent(Some(REDIRECT), None), c.expires_at);
        assert_eq!(code_of(at_expiry), (ErrorCode::InvalidGrant, "refuse"));
        assert_eq!(
            check(&c, &web, &sent(Some(REDIRECT), None), c.expires_at - 1),
            Ok(())
        );
    }

    #[test]
    fn a_code_of_another_client_is_refused() {
        let other = client("other", ClientType::Confidential);
        let r = check(&code(None), &other, &sent(Some(REDIRECT), None), NOW);
        assert_eq!(code_of(r), (ErrorCode::InvalidGrant, "refuse"));
    }

    #[test]
    fn a_wrong_redirect_uri_burns_the_code() {
        let web = client("web", ClientType::Confidential);
        let r = check(
            &code(None),
            &web,
            &sent(Some("https://app.example/other"), None),
            NOW,
        );
        assert_eq!(code_of(r), (ErrorCode::InvalidGrant, "burn"));
        // A confidential client without PKCE must send it (RFC 6749 §4.1.3).
        let r = check(&code(None), &web, &sent(None, None), NOW);
        assert_eq!(code_of(r), (ErrorCode::InvalidRequest, "burn"));
    }

    #[test]
    fn a_missing_or_wrong_pkce_verifier_burns_the_code() {
        let web = client("web", ClientType::Confidential);
        let c = code(Some(CHALLENGE));
        let none = check(&c, &web, &sent(Some(REDIRECT), None), NOW);
        assert_eq!(code_of(none), (ErrorCode::InvalidGrant, "burn"));
        let wrong = VERIFIER.replace('d', "e");
        let bad = check(&c, &web, &sent(Some(REDIRECT), Some(&wrong)), NOW);
        assert_eq!(code_of(bad), (ErrorCode::InvalidGrant, "burn"));
    }

    #[test]
    fn a_used_code_is_a_replay() {
        let web = client("web", ClientType::Confidential);
        let mut c = code(None);
        c.used_at = Some(NOW - 5);
        let r = check(&c, &web, &sent(Some(REDIRECT), None), NOW);
        assert_eq!(r, Err(Refusal::Replayed));
    }
}
