//! The token endpoint (RFC 6749 §3.2), one pipeline for every grant (as ory/fosite's):
//! parse the request, authenticate the client once, check it may use the grant, hand
//! the request to the grant's own module, and answer. Each grant module has a pure
//! `check(…, now)` and an operation that commits once in the writer — refusals that
//! must persist (a replayed code, a reused refresh token) included — before answering.

mod authorization_code;
mod client_credentials;

pub use client_credentials::check as client_credentials_scopes;
mod device_code;
pub mod exchange;
pub mod jwt_bearer;
mod password;
mod refresh;

use base64::Engine;
use sha2::Digest;

use super::client_auth;
use super::context::{Context, paths};
use super::error::{ErrorCode, OAuthError};
use super::mint::TokenResponse;
use super::params::Params;
use crate::model::{Client, GrantType};

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
    JwtBearer {
        assertion: String,
        scope: Option<String>,
    },
    TokenExchange(exchange::Exchange),
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
            jwt_bearer::GRANT_TYPE => TokenRequest::JwtBearer {
                assertion: p
                    .require(
                        "assertion",
                        "the jwt-bearer grant sends the signed JWT as assertion (RFC 7523 §2.1)",
                    )?
                    .to_string(),
                scope,
            },
            exchange::GRANT_TYPE => TokenRequest::TokenExchange(exchange::Exchange::parse(p)?),
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
                        "grant_type '{other}' is not supported; use authorization_code, refresh_token, client_credentials, password, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:jwt-bearer or urn:ietf:params:oauth:grant-type:token-exchange"
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
            TokenRequest::JwtBearer { .. } => GrantType::JwtBearer,
            TokenRequest::TokenExchange(_) => GrantType::TokenExchange,
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

/// A token request's outcome: the response and the client, or the refusal and the
/// client the request claimed to be (for the log).
pub type TokenOutcome =
    Result<(TokenResponse, std::sync::Arc<Client>), (OAuthError, Option<String>)>;

/// Runs a token request; `authorization` is the `Authorization` header's value and
/// `dpop` the `DPoP` header's (a proof binding the tokens to its key, RFC 9449).
pub async fn token(
    ctx: &Context,
    authorization: Option<&str>,
    dpop: Option<&str>,
    params: &Params,
) -> TokenOutcome {
    let now = ctx.now();
    // RFC 7523 §2.1: a JWT bearer grant may come without client authentication; then
    // the assertion, signed by the client itself, names and authenticates it.
    let unauthenticated_assertion = params.get("grant_type") == Some(jwt_bearer::GRANT_TYPE)
        && matches!(client_auth::presented(authorization, params), Ok(None));
    let client = if unauthenticated_assertion {
        jwt_bearer::client_of_assertion(ctx, params.get("assertion")).await
    } else {
        client_auth::authenticate(ctx, authorization, params, paths::TOKEN, now).await
    }
    .map_err(|e| (e, client_auth::claimed_client_id(authorization, params)))?;
    let with_client = |e: OAuthError| (e, Some(client.client_id.clone()));
    let request = TokenRequest::parse(params).map_err(with_client)?;
    check_grant_allowed(&client, request.grant_type()).map_err(with_client)?;
    // RFC 8707 resources (and Auth0's `audience`), for every grant.
    let asked = params.resources();
    let jkt = super::dpop::at_token_endpoint(ctx, &client, dpop, now)
        .await
        .map_err(with_client)?;
    let jkt = jkt.as_deref();
    let res = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let presented = authorization_code::Presented {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                verifier: code_verifier.as_deref(),
            };
            authorization_code::exchange(ctx, &client, presented, &asked, jkt, now).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            refresh::exchange(
                ctx,
                &client,
                &refresh_token,
                scope.as_deref(),
                &asked,
                jkt,
                now,
            )
            .await
        }
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::exchange(ctx, &client, scope.as_deref(), &asked, jkt, now).await
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => {
            let login = password::Login {
                username: &username,
                password: &password,
            };
            password::exchange(ctx, &client, login, scope.as_deref(), &asked, jkt, now).await
        }
        TokenRequest::DeviceCode { device_code } => {
            device_code::exchange(ctx, &client, &device_code, &asked, jkt, now).await
        }
        TokenRequest::JwtBearer { assertion, scope } => {
            jwt_bearer::exchange(ctx, &client, &assertion, scope.as_deref(), &asked, jkt, now).await
        }
        TokenRequest::TokenExchange(req) => {
            exchange::exchange(ctx, &client, &req, &asked, jkt, now).await
        }
    };
    let res = match (res, jkt) {
        (Ok(r), Some(jkt)) => super::dpop::store_bindings(ctx, &r, jkt, client.is_public())
            .await
            .map(|()| r),
        (res, _) => res,
    };
    res.map(|r| (r, client.clone())).map_err(with_client)
}

/// The client must be allowed the grant it uses.
pub fn check_grant_allowed(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
    if client.allows_grant(grant) {
        return Ok(());
    }
    Err(OAuthError::unauthorized_client(format!(
        "client '{}' is not allowed the {grant} grant; allowed: {}. Enable it on the client in Authdesk",
        client.client_id,
        client
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
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
