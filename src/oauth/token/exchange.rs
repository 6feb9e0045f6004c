//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a client
//! trades a token it holds (the subject token: an Authdesk access token or id_token,
//! or a JWT from one of its trusted issuers) for a new one, for another audience or a
//! narrower scope. With an actor token the new token is delegated: its `act` claim
//! names the actor, with the subject token's own `act` chain nested in it (§4.1).
//! Without one it impersonates the subject.
//!
//! Policy: the client must be allowed the grant; an Authdesk subject token must have
//! been issued to the client or for it (its `aud` is the client's id, default audience
//! or one of its resources); the new audiences must be among the client's resources
//! (`invalid_target` otherwise); the scope can narrow the subject token's, not widen
//! it. Bad subject or actor tokens are `invalid_request` (§2.2.2), naming the cause.

use serde_json::{Map, Value, json};

use super::resolve_scopes;
use crate::model::{Client, Timestamp, TokenFormat, User};
use crate::oauth::claims::{self, SignIn};
use crate::oauth::context::Context;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issue::Issue;
use crate::oauth::jose;
use crate::oauth::mint::TokenResponse;
use crate::oauth::params::Params;
use crate::store::flows::{TokenKind, TokenState};
use crate::store::standards::OriginRow;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";

/// The token types accepted as subject, actor and requested types.
pub const TOKEN_TYPES: [&str; 3] = [ACCESS_TOKEN, ID_TOKEN, JWT];

/// Scopes a new token gets only when asked for.
const SIGN_IN_SCOPES: &[&str] = &["openid", "offline_access"];

/// A token exchange request's own parameters (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub subject_token: String,
    pub subject_token_type: &'static str,
    pub actor: Option<(String, &'static str)>,
    pub requested_token_type: &'static str,
    pub scope: Option<String>,
}

fn token_type(name: &str, value: &str) -> Result<&'static str, OAuthError> {
    if let Some(t) = TOKEN_TYPES.iter().find(|t| **t == value) {
        return Ok(t);
    }
    let why = if value == REFRESH_TOKEN {
        "refresh tokens are not exchanged here; exchange the access token instead"
    } else {
        "it is not a token type Authdesk exchanges"
    };
    Err(OAuthError::invalid_request(format!(
        "{name} '{value}': {why}; use one of {}",
        TOKEN_TYPES.join(", ")
    )))
}

impl Exchange {
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        let subject_token = p
            .require(
                "subject_token",
                "send the token to exchange as subject_token (RFC 8693 §2.1)",
            )?
            .to_string();
        let subject_token_type = token_type(
            "subject_token_type",
            p.require(
                "subject_token_type",
                &format!(
                    "say what the subject_token is: one of {}",
                    TOKEN_TYPES.join(", ")
                ),
            )?,
        )?;
        let actor = match (p.get("actor_token"), p.get("actor_token_type")) {
            (Some(t), Some(ty)) => Some((t.to_string(), token_type("actor_token_type", ty)?)),
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "actor_token was sent without actor_token_type; RFC 8693 §2.1 requires both",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type was sent without actor_token; send both or neither",
                ));
            }
            (None, None) => None,
        };
        let requested_token_type = match p.get("requested_token_type") {
            Some(t) => token_type("requested_token_type", t)?,
            None => ACCESS_TOKEN,
        };
        Ok(Exchange {
            subject_token,
            subject_token_type,
            actor,
            requested_token_type,
            scope: p.get("scope").map(str::to_string),
        })
    }
}

/// Who a subject or actor token stands for.
#[derive(Debug, Clone, Default)]
struct Party {
    user: Option<User>,
    /// The token's `sub` (the persona's, or the client's for a token without one).
    sub: String,
    /// The token's issuer.
    iss: String,
    /// The stored token's id, for a token Authdesk issued and keeps.
    token_id: Option<String>,
    /// The client an Authdesk token was issued to.
    client_id: Option<String>,
    /// The token's audiences.
    aud: Vec<String>,
    /// The scopes of an Authdesk access token.
    scopes: Option<Vec<String>>,
    /// The delegation chain the token already carries.
    act: Option<Value>,
}

async fn user_by_sub(ctx: &Context, sub: &str) -> Result<Option<User>, OAuthError> {
    Ok(ctx.core.cached_user(sub).await?.map(|u| (*u).clone()))
}

/// Reads and checks a subject or actor token (`role` names it in errors).
async fn resolve(
    ctx: &Context,
    client: &Client,
    token: &str,
    ty: &'static str,
    role: &str,
    now: Timestamp,
) -> Result<Party, OAuthError> {
    let bad = |m: String| OAuthError::invalid_request(m);
    let issuer = ctx.config.issuer.clone();
    if let Some(row) = ctx.core.find_token(token).await? {
        if row.kind != TokenKind::AccessToken {
            return Err(bad(format!(
                "the {role}_token is a refresh token; exchange an access token instead"
            )));
        }
        if ty == ID_TOKEN {
            return Err(bad(format!(
                "the {role}_token is an access token of Authdesk, but {role}_token_type says id_token; send {ACCESS_TOKEN}"
            )));
        }
        let state = row.state(now);
        if state != TokenState::Active || !ctx.signed_by_live_key(token, now).await? {
            let why = match state {
                TokenState::Revoked => "revoked",
                TokenState::Expired => "expired",
                TokenState::Active => "signed by a retired key",
            };
            return Err(bad(format!(
                "the {role}_token (access token {}) is {why}; exchange an active token",
                row.id
            )));
        }
        let kept = SignIn::from_column(row.extras.as_deref());
        let user = match &row.sub {
            Some(sub) => user_by_sub(ctx, sub).await?,
            None => None,
        };
        return Ok(Party {
            user,
            sub: row.sub.clone().unwrap_or_else(|| row.client_id.clone()),
            iss: issuer,
            token_id: Some(row.id.clone()),
            client_id: Some(row.client_id.clone()),
            aud: kept
                .aud
                .as_ref()
                .map(|a| jose::audiences(Some(a)))
                .unwrap_or_else(|| vec![row.client_id.clone()]),
            scopes: Some(row.scope_list()),
            act: kept.added.and_then(|mut a| a.remove("act")),
        });
    }
    let peeked = jose::peek(token, &format!("{role}_token")).map_err(|_| {
        bad(format!(
            "the {role}_token is not a token Authdesk knows (unknown, or an opaque token of another server) nor a JWT; send an access token or id_token Authdesk issued, or a JWT of an issuer the client trusts"
        ))
    })?;
    let iss = peeked.claim_str("iss").unwrap_or_default().to_string();
    let claims = if iss == issuer {
        if ty == ACCESS_TOKEN {
            return Err(bad(format!(
                "the {role}_token is a JWT of Authdesk but no access token it keeps (an id_token?); say {role}_token_type={ID_TOKEN}, or send an active access token"
            )));
        }
        ctx.keys.verify(token, now).ok_or_else(|| {
            bad(format!(
                "the {role}_token's signature does not verify with Authdesk's current keys (a retired key, or not signed by Authdesk)"
            ))
        })?
    } else if let Some(t) = client.trusted_issuers.iter().find(|t| t.issuer == iss) {
        jose::verify_set_signed(
            &t.jwks,
            &format!("trusted issuer '{iss}'"),
            token,
            &format!("{role}_token"),
        )
        .map_err(bad)?
        .claims
    } else {
        return Err(bad(format!(
            "the {role}_token's issuer '{iss}' is neither Authdesk ({issuer}) nor trusted by client '{}'; add it to the client's trusted issuers with its public keys (authdesk clients update {} --trusted-issuer '{iss}=jwks.json')",
            client.client_id, client.client_id
        )));
    };
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp <= now => {
            return Err(bad(format!(
                "the {role}_token expired {}s ago (exp {exp}); exchange a fresh one",
                now - exp
            )));
        }
        Some(_) => {}
        None => {
            return Err(bad(format!(
                "the {role}_token has no exp claim; a JWT exchanged here must expire"
            )));
        }
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("the {role}_token has no sub claim")))?
        .to_string();
    let user = if iss == issuer {
        user_by_sub(ctx, &sub).await?
    } else {
        super::jwt_bearer::persona(ctx, &sub).await?
    };
    Ok(Party {
        user,
        sub,
        iss,
        token_id: None,
        client_id: claims
            .get("azp")
            .and_then(Value::as_str)
            .map(str::to_string),
        aud: jose::audiences(claims.get("aud")),
        scopes: None,
        act: claims.get("act").cloned(),
    })
}

/// Whether `client` may exchange a subject token Authdesk issued: one issued to it, or
/// for it (pure).
fn meant_for(client: &Client, subject: &Party) -> bool {
    subject.client_id.as_deref() == Some(client.client_id.as_str())
        || subject.aud.iter().any(|a| {
            *a == client.client_id
                || client.default_audience.as_deref() == Some(a.as_str())
                || client.resources.iter().any(|r| r == a)
        })
}

/// The new token's scopes (pure): the asked ones, within the client's and, for an
/// Authdesk subject token, within its own; else the subject's (or the client's) but
/// `openid` and `offline_access`.
fn scopes(
    client: &Client,
    asked: Option<&str>,
    subject_scopes: Option<&[String]>,
) -> Result<Vec<String>, OAuthError> {
    let default = || {
        client
            .scopes
            .iter()
            .filter(|s| !SIGN_IN_SCOPES.contains(&s.as_str()))
            .filter(|s| subject_scopes.is_none_or(|held| held.contains(s)))
            .cloned()
            .collect()
    };
    let out = resolve_scopes(client, asked, default)?;
    if let Some(held) = subject_scopes
        && let Some(wider) = out.iter().find(|s| !held.contains(s))
    {
        return Err(OAuthError::invalid_scope(format!(
            "scope '{wider}' is beyond the subject token's scopes ({}); an exchange can narrow the scope, not widen it",
            held.join(" ")
        )));
    }
    Ok(out)
}

/// The `act` claim of the new token (RFC 8693 §4.1): the actor, with the subject's
/// chain nested; without an actor, the subject's own chain.
fn act_claim(issuer: &str, subject: &Party, actor: Option<&Party>) -> Option<Value> {
    let Some(actor) = actor else {
        return subject.act.clone();
    };
    let mut act = Map::new();
    act.insert("sub".into(), json!(actor.sub));
    if actor.iss != issuer {
        act.insert("iss".into(), json!(actor.iss));
    }
    if let Some(c) = &actor.client_id {
        act.insert("client_id".into(), json!(c));
    }
    if let Some(prior) = &subject.act {
        act.insert("act".into(), prior.clone());
    }
    Some(Value::Object(act))
}

pub async fn exchange(
    ctx: &Context,
    client: &Client,
    req: &Exchange,
    resources: &[&str],
    jkt: Option<&str>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let issuer = ctx.config.issuer.as_str();
    let subject = resolve(
        ctx,
        client,
        &req.subject_token,
        req.subject_token_type,
        "subject",
        now,
    )
    .await?;
    if subject.iss == issuer && !meant_for(client, &subject) {
        return Err(OAuthError::invalid_request(format!(
            "the subject_token was issued to client '{}' for audience {}; client '{}' may exchange only tokens issued to it or for it (its id, default audience or resources)",
            subject.client_id.as_deref().unwrap_or("?"),
            subject.aud.join(" "),
            client.client_id
        )));
    }
    let user = subject.user.clone().ok_or_else(|| {
        OAuthError::invalid_request(format!(
            "the subject_token's sub '{}' is no persona of Authdesk (a client's own token, or an unknown user); exchange a token issued for a persona, or create the persona",
            subject.sub
        ))
    })?;
    let actor = match &req.actor {
        Some((token, ty)) => Some(resolve(ctx, client, token, ty, "actor", now).await?),
        None => None,
    };
    let mut scopes = scopes(client, req.scope.as_deref(), subject.scopes.as_deref())?;
    let act = act_claim(issuer, &subject, actor.as_ref());
    let sign_in = SignIn {
        resources: claims::resources(client, resources)?,
        added: act
            .clone()
            .map(|a| Map::from_iter([("act".to_string(), a)])),
        ..SignIn::default()
    };

    if req.requested_token_type == ID_TOKEN {
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        let what = Issue::new(client, Some(&user), &scopes).sign_in(&sign_in);
        let id_token = ctx.issue_id_token(&what, None, now).await?;
        return Ok(TokenResponse {
            access_token: id_token,
            // RFC 8693 §2.2.1: not an access token.
            token_type: "N_A",
            expires_in: client.id_token_ttl,
            refresh_token: None,
            id_token: None,
            scope: scopes.join(" "),
            issued: Vec::new(),
            issued_token_type: Some(ID_TOKEN),
        });
    }
    let mut shaped;
    let client = if req.requested_token_type == JWT {
        shaped = client.clone();
        shaped.access_token_format = TokenFormat::Jwt;
        &shaped
    } else {
        client
    };
    let what = Issue::new(client, Some(&user), &scopes)
        .access_only()
        .sign_in(&sign_in)
        .bound(jkt);
    let (mut response, rows) = ctx.issue(&what, now).await?;
    if req.requested_token_type == JWT && !response.access_token.contains('.') {
        // A preset that makes opaque tokens (Google's) cannot give a JWT.
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            format!(
                "client '{}' issues opaque access tokens (its preset), so it cannot ask for requested_token_type={JWT}; ask for {ACCESS_TOKEN}",
                client.client_id
            ),
        ));
    }
    let origin = json!({
        "exchanged_from": subject.token_id,
        "subject": {"iss": subject.iss, "sub": subject.sub, "token_type": req.subject_token_type},
        "actor": actor.as_ref().map(|a| json!({"iss": a.iss, "sub": a.sub, "token_id": a.token_id})),
        "act": act,
    });
    // The access token and where it came from, committed together.
    let origin_row = rows.first().map(|r| OriginRow {
        token_id: r.id.clone(),
        origin,
    });
    let mut append = crate::store::writer::boxed(rows).collect::<crate::store::writer::Rows>();
    append.extend(crate::store::writer::boxed(origin_row));
    ctx.core.store.writer().append(append).await?;
    response.issued_token_type = Some(req.requested_token_type);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(sub: &str, act: Option<Value>) -> Party {
        Party {
            sub: sub.into(),
            iss: "https://localhost:8443".into(),
            act,
            ..Party::default()
        }
    }

    #[test]
    fn the_actor_nests_the_subjects_chain() {
        let prior = json!({"sub": "gateway"});
        let subject = party("alice-sub", Some(prior.clone()));
        let mut actor = party("orders-service", None);
        actor.client_id = Some("orders".into());
        assert_eq!(
            act_claim("https://localhost:8443", &subject, Some(&actor)),
            Some(json!({"sub": "orders-service", "client_id": "orders", "act": prior}))
        );
        // Without an actor the subject's chain stays; an outside actor names its issuer.
        assert_eq!(
            act_claim("https://localhost:8443", &subject, None),
            Some(json!({"sub": "gateway"}))
        );
        let mut outside = party("robot", None);
        outside.iss = "https://idp.example.com".into();
        assert_eq!(
            act_claim("https://localhost:8443", &party("a", None), Some(&outside)),
            Some(json!({"sub": "robot", "iss": "https://idp.example.com"}))
        );
    }

    #[test]
    fn types_are_checked_and_actor_parameters_come_in_pairs() {
        let p = |q: &str| Exchange::parse(&Params::parse(q.as_bytes()).unwrap());
        let ok =
            p("subject_token=t&subject_token_type=urn:ietf:params:oauth:token-type:access_token")
                .unwrap();
        assert_eq!(ok.requested_token_type, ACCESS_TOKEN);
        assert!(ok.actor.is_none());
        let e =
            p("subject_token=t&subject_token_type=urn:ietf:params:oauth:token-type:refresh_token")
                .unwrap_err();
        assert!(
            e.description.contains("exchange the access token instead"),
            "{}",
            e.description
        );
        let e = p("subject_token=t&subject_token_type=urn:ietf:params:oauth:token-type:access_token&actor_token=a").unwrap_err();
        assert!(
            e.description.contains("without actor_token_type"),
            "{}",
            e.description
        );
        let e = p("subject_token=t").unwrap_err();
        assert!(
            e.description.contains("subject_token_type"),
            "{}",
            e.description
        );
        let e = p("subject_token=t&subject_token_type=urn:ietf:params:oauth:token-type:jwt&requested_token_type=saml").unwrap_err();
        assert!(
            e.description.contains("requested_token_type 'saml'"),
            "{}",
            e.description
        );
    }

    #[test]
    fn an_exchange_narrows_the_scope_but_never_widens_it() {
        let client = crate::model::ClientInput {
            name: Some("API".into()),
            grant_types: Some(vec![crate::model::GrantType::ClientCredentials]),
            scopes: Some(vec!["openid".into(), "profile".into(), "email".into()]),
            ..Default::default()
        }
        .test_client();
        let held = vec!["openid".to_string(), "profile".to_string()];
        assert_eq!(scopes(&client, None, Some(&held)).unwrap(), vec!["profile"]);
        assert_eq!(
            scopes(&client, Some("openid"), Some(&held)).unwrap(),
            vec!["openid"]
        );
        let e = scopes(&client, Some("email"), Some(&held)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(
            e.description
                .contains("beyond the subject token's scopes (openid profile)")
        );
        assert_eq!(
            scopes(&client, None, None).unwrap(),
            vec!["profile", "email"]
        );
    }

    #[test]
    fn a_subject_token_must_be_meant_for_the_client() {
        let client = crate::model::ClientInput {
            client_id: Some("api".into()),
            name: Some("API".into()),
            grant_types: Some(vec![crate::model::GrantType::ClientCredentials]),
            resources: Some(vec!["https://api.example.com".into()]),
            ..Default::default()
        }
        .test_client();
        let mut s = party("alice", None);
        s.client_id = Some("spa".into());
        s.aud = vec!["spa".into()];
        assert!(!meant_for(&client, &s));
        s.aud = vec!["https://api.example.com".into()];
        assert!(meant_for(&client, &s));
        s.aud = vec!["api".into()];
        assert!(meant_for(&client, &s));
    }
}
