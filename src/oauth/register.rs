//! Dynamic client registration (RFC 7591): client metadata in, a registered client out.

use serde::Deserialize;
use serde_json::{Value, json};

use super::context::Context;
use super::error::{ErrorCode, OAuthError};
use crate::error::Error;
use crate::model::{
    AuthMethod, Client, ClientInput, ClientType, GrantType, ResponseType, SigningAlg,
};

/// The metadata of RFC 7591 §2 (and OIDC Registration) that Authdesk understands.
/// Unknown members are ignored, as §2 asks.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<String>,
    pub application_type: Option<String>,
    pub userinfo_signed_response_alg: Option<String>,
    /// RFC 9126 §6.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2.
    pub dpop_bound_access_tokens: Option<bool>,
}

fn metadata_err(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, d)
}

fn parse_list<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: &[String],
) -> Result<Vec<T>, OAuthError> {
    v.iter()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| metadata_err(format!("{field}: {e}")))
        })
        .collect()
}

/// Turns registration metadata into a client input with RFC 7591's defaults.
pub fn to_input(m: Metadata) -> Result<ClientInput, OAuthError> {
    if m.jwks_uri.is_some() {
        return Err(metadata_err(
            "jwks_uri is not supported; register the keys inline with jwks",
        ));
    }
    let method: AuthMethod = match &m.token_endpoint_auth_method {
        Some(s) => s
            .parse()
            .map_err(|e: String| metadata_err(format!("token_endpoint_auth_method: {e}")))?,
        None => AuthMethod::ClientSecretBasic,
    };
    let grant_types: Vec<GrantType> = match &m.grant_types {
        Some(g) => parse_list("grant_types", g)?,
        None => vec![GrantType::AuthorizationCode],
    };
    let response_types: Option<Vec<ResponseType>> = match &m.response_types {
        Some(r) => Some(parse_list("response_types", r)?),
        None => None,
    };
    let signing_alg = |field: &str, v: &Option<String>| -> Result<Option<SigningAlg>, OAuthError> {
        v.as_ref()
            .map(|a| {
                a.parse()
                    .map_err(|e: String| metadata_err(format!("{field}: {e}")))
            })
            .transpose()
    };
    let alg = signing_alg(
        "id_token_signed_response_alg",
        &m.id_token_signed_response_alg,
    )?;
    let userinfo_alg = signing_alg(
        "userinfo_signed_response_alg",
        &m.userinfo_signed_response_alg,
    )?;
    let scopes = m.scope.as_ref().map(|s| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    });
    Ok(ClientInput {
        client_id: None,
        client_secret: None,
        name: Some(
            m.client_name
                .clone()
                .unwrap_or_else(|| "Registered client".to_string()),
        ),
        client_type: Some(if method == AuthMethod::None {
            ClientType::Public
        } else {
            ClientType::Confidential
        }),
        redirect_uris: m.redirect_uris,
        post_logout_redirect_uris: m.post_logout_redirect_uris,
        grant_types: Some(grant_types),
        response_types,
        scopes,
        token_endpoint_auth_method: Some(method),
        id_token_signed_response_alg: alg,
        userinfo_signed_response_alg: userinfo_alg.map(Some),
        jwks: m.jwks,
        tags: Some(vec!["registered".into()]),
        require_pushed_authorization_requests: m.require_pushed_authorization_requests,
        dpop_bound_access_tokens: m.dpop_bound_access_tokens,
        ..Default::default()
    })
}

/// Maps a validation error to RFC 7591's codes.
pub fn from_core_error(e: Error) -> OAuthError {
    match e {
        Error::Invalid { field, message }
            if field.starts_with("redirect_uris") || field.starts_with("post_logout") =>
        {
            OAuthError::new(ErrorCode::InvalidRedirectUri, format!("{field}: {message}"))
        }
        Error::Invalid { field, message } => {
            let field = match field.as_str() {
                "scopes" => "scope",
                "name" => "client_name",
                other => other,
            };
            metadata_err(format!("{field}: {message}"))
        }
        other => OAuthError::from(other),
    }
}

/// The RFC 7591 §3.2.1 response for a registered client.
pub fn response(c: &Client) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "response_types": c.response_types,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "scope": c.scopes.join(" "),
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
    });
    if let Some(secret) = &c.client_secret {
        v["client_secret"] = json!(secret);
        v["client_secret_expires_at"] = json!(0);
    }
    if !c.post_logout_redirect_uris.is_empty() {
        v["post_logout_redirect_uris"] = json!(c.post_logout_redirect_uris);
    }
    if let Some(j) = &c.jwks {
        v["jwks"] = j.clone();
    }
    if let Some(alg) = c.userinfo_signed_response_alg {
        v["userinfo_signed_response_alg"] = json!(alg);
    }
    if c.require_pushed_authorization_requests {
        v["require_pushed_authorization_requests"] = json!(true);
    }
    if c.dpop_bound_access_tokens {
        v["dpop_bound_access_tokens"] = json!(true);
    }
    v
}

/// The registration endpoint (RFC 7591 §3): `body` is the request's JSON (when
/// `is_json`, from its Content-Type). Returns the registered client.
pub async fn register(ctx: &Context, is_json: bool, body: &[u8]) -> Result<Client, OAuthError> {
    if !ctx.config.registration_open {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "dynamic client registration is turned off in this Authdesk; turn it on in Settings (or drop --no-registration), or create the client in the window",
        )
        .with_status(403));
    }
    if !is_json {
        return Err(OAuthError::invalid_request(
            "registration requests are JSON (RFC 7591 §3.1); send Content-Type: application/json",
        ));
    }
    let metadata: Metadata = serde_json::from_slice(body).map_err(|e| {
        metadata_err(format!(
            "the client metadata is not valid JSON of the RFC 7591 shape: {e}"
        ))
    })?;
    let input = to_input(metadata)?;
    ctx.core.create_client(input).await.map_err(from_core_error)
}
