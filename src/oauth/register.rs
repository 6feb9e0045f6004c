//! Dynamic client registration (RFC 7591): client metadata in, a registered client out;
//! and its management (RFC 7592): the registered client reads, replaces or deletes its
//! registration at its `registration_client_uri` with the registration access token
//! handed out once at registration (only its hash is stored).

use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::context::{Context, paths};
use super::error::{ErrorCode, OAuthError};
use crate::error::Error;
use crate::model::{
    AuthMethod, Client, ClientInput, ClientType, GrantType, ResponseType, SigningAlg,
};
use crate::store::flows::hash_secret;

/// The metadata of RFC 7591 §2 (and OIDC Registration) that Authdesk understands.
/// Unknown members are ignored, as §2 asks.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// RFC 7592 §2.2: an update repeats the client's id (ignored at registration).
    pub client_id: Option<String>,
    /// RFC 7592 §2.2: an update may repeat the current secret (ignored at registration).
    pub client_secret: Option<String>,
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
    /// OpenID Connect Back-Channel Logout §2.2.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
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
    if m.jwks.is_some() && m.jwks_uri.is_some() {
        return Err(metadata_err(
            "jwks and jwks_uri were both sent; give the client's public keys one way, inline (jwks) or by URL (jwks_uri) (RFC 7591 section 2)",
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
        jwks_uri: m.jwks_uri,
        tags: Some(vec!["registered".into()]),
        require_pushed_authorization_requests: m.require_pushed_authorization_requests,
        dpop_bound_access_tokens: m.dpop_bound_access_tokens,
        backchannel_logout_uri: m.backchannel_logout_uri,
        backchannel_logout_session_required: m.backchannel_logout_session_required,
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

/// A registered client and the registration access token its answer carries: the new
/// one at registration, the one presented at management.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub registration_access_token: String,
}

/// The client configuration endpoint of a client (RFC 7592 §1.2):
/// `{issuer}/register/{client_id}`, the id percent-encoded as a path segment.
pub fn client_uri(issuer: &str, client_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(client_id.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("{issuer}{}/{encoded}", paths::REGISTER)
}

/// The RFC 7591 §3.2.1 response for a registered client, with RFC 7592 §3's
/// `registration_access_token` and `registration_client_uri`.
pub fn response(issuer: &str, r: &Registered) -> Value {
    let c = &r.client;
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
        "registration_access_token": r.registration_access_token,
        "registration_client_uri": client_uri(issuer, &c.client_id),
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
    if let Some(u) = &c.jwks_uri {
        v["jwks_uri"] = json!(u);
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
    if let Some(u) = &c.backchannel_logout_uri {
        v["backchannel_logout_uri"] = json!(u);
        v["backchannel_logout_session_required"] = json!(c.backchannel_logout_session_required);
    }
    v
}

fn ensure_open(ctx: &Context) -> Result<(), OAuthError> {
    if ctx.config.registration_open {
        return Ok(());
    }
    Err(OAuthError::new(
        ErrorCode::AccessDenied,
        "dynamic client registration is turned off in this Authdesk; turn it on in Settings (or drop --no-registration), or create the client in the window",
    )
    .with_status(403))
}

fn parse_metadata(is_json: bool, body: &[u8]) -> Result<Metadata, OAuthError> {
    if !is_json {
        return Err(OAuthError::invalid_request(
            "registration requests are JSON (RFC 7591 §3.1); send Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        metadata_err(format!(
            "the client metadata is not valid JSON of the RFC 7591 shape: {e}"
        ))
    })
}

/// The registration endpoint (RFC 7591 §3): `body` is the request's JSON (when
/// `is_json`, from its Content-Type). Returns the registered client and its new
/// registration access token (RFC 7592 §3), of which only the hash is kept.
pub async fn register(ctx: &Context, is_json: bool, body: &[u8]) -> Result<Registered, OAuthError> {
    ensure_open(ctx)?;
    let metadata = parse_metadata(is_json, body)?;
    let input = to_input(metadata)?;
    let keys = fetch_keys(ctx, &input).await?;
    let token = crate::model::random_token(32);
    let client = ctx
        .core
        .create_registered_client(input, Some(&hash_secret(&token)))
        .await
        .map_err(from_core_error)?;
    remember_keys(ctx, &client, keys);
    Ok(Registered {
        client,
        registration_access_token: token,
    })
}

/// Fetches the JWK Set of the `jwks_uri` a registration gives, so that a URL that does
/// not serve usable keys is refused at once, naming the cause.
async fn fetch_keys(ctx: &Context, input: &ClientInput) -> Result<Option<Value>, OAuthError> {
    let Some(uri) = input
        .jwks_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    if let Err(e) = crate::model::validate_jwks_uri(uri) {
        return Err(from_core_error(e));
    }
    ctx.jwks_uris.fetch(uri).await.map(Some).map_err(|e| {
        metadata_err(format!(
            "jwks_uri: the client's keys cannot be fetched: {e}"
        ))
    })
}

/// Keeps the keys fetched at registration for the client's first JWTs.
fn remember_keys(ctx: &Context, client: &Client, keys: Option<Value>) {
    if let (Some(uri), Some(keys)) = (&client.jwks_uri, keys) {
        ctx.jwks_uris
            .remember(&client.client_id, uri, keys, ctx.now());
    }
}

/// The registration access token of a management request: `Authorization: Bearer`.
/// Anything else is a request without credentials (RFC 6750 §3.1).
fn presented_token(authorization: Option<&str>) -> Result<&str, OAuthError> {
    let missing = || {
        let mut e = OAuthError::missing_bearer_token();
        e.description = "no registration access token: send Authorization: Bearer <registration_access_token>, the token of the client's registration response (RFC 7592 section 3)".into();
        e
    };
    let v = authorization.ok_or_else(missing)?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    let token = rest.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

/// Checks a management request's registration access token against the client's
/// (RFC 7592 §2): the client, or `invalid_token` (401) alike for a wrong token and an
/// unknown client, so a token reveals nothing about other clients.
async fn authorized(
    ctx: &Context,
    client_id: &str,
    authorization: Option<&str>,
) -> Result<Registered, OAuthError> {
    ensure_open(ctx)?;
    let token = presented_token(authorization)?;
    let refused = || {
        OAuthError::invalid_token(
            "the registration access token is not valid for this client (or the client does not exist); use the registration_access_token of the client's registration response at its registration_client_uri",
        )
        .for_bearer()
    };
    let stored = match ctx.core.registration_token_hash(client_id).await? {
        None => return Err(refused()),
        Some(None) => {
            return Err(OAuthError::invalid_token(format!(
                "client '{client_id}' was not dynamically registered (it was made in the Authdesk window, the CLI or a seed file), so it has no registration access token and cannot be managed here; change it in the window or with authdesk clients update"
            ))
            .for_bearer());
        }
        Some(Some(h)) => h,
    };
    let presented = hash_secret(token);
    if !bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) {
        return Err(refused());
    }
    let client = ctx
        .core
        .cached_client(client_id)
        .await?
        .ok_or_else(refused)?;
    Ok(Registered {
        client: (*client).clone(),
        registration_access_token: token.to_string(),
    })
}

/// RFC 7592 §2.1: the client's current registration.
pub async fn read(
    ctx: &Context,
    client_id: &str,
    authorization: Option<&str>,
) -> Result<Registered, OAuthError> {
    authorized(ctx, client_id, authorization).await
}

/// The client input that replaces `existing` with `meta`, the registration metadata
/// of an update: the metadata fields come from `meta` alone (absent ones take their
/// defaults, RFC 7592 §2.2), the id, secret and Authdesk's own settings (lifetimes,
/// claims, tags, …) stay.
fn replacing(existing: &Client, meta: ClientInput) -> ClientInput {
    ClientInput {
        client_id: Some(existing.client_id.clone()),
        client_secret: existing.client_secret.clone(),
        name: meta.name,
        client_type: meta.client_type,
        redirect_uris: meta.redirect_uris,
        post_logout_redirect_uris: meta.post_logout_redirect_uris,
        grant_types: meta.grant_types,
        response_types: meta.response_types,
        scopes: meta.scopes,
        token_endpoint_auth_method: meta.token_endpoint_auth_method,
        id_token_signed_response_alg: meta.id_token_signed_response_alg,
        userinfo_signed_response_alg: meta.userinfo_signed_response_alg,
        jwks: meta.jwks,
        // Absent: the client's keys are replaced by `jwks` or removed.
        jwks_uri: Some(meta.jwks_uri.unwrap_or_default()),
        require_pushed_authorization_requests: meta.require_pushed_authorization_requests,
        dpop_bound_access_tokens: meta.dpop_bound_access_tokens,
        // Absent: no back-channel logout any more.
        backchannel_logout_uri: Some(meta.backchannel_logout_uri.unwrap_or_default()),
        backchannel_logout_session_required: Some(
            meta.backchannel_logout_session_required.unwrap_or(false),
        ),
        ..ClientInput::from(existing)
    }
}

/// RFC 7592 §2.2: replaces the client's registration with the metadata of `body`,
/// which repeats the client's id (and may repeat its current secret).
pub async fn update(
    ctx: &Context,
    client_id: &str,
    authorization: Option<&str>,
    is_json: bool,
    body: &[u8],
) -> Result<Registered, OAuthError> {
    let Registered {
        client: existing,
        registration_access_token,
    } = authorized(ctx, client_id, authorization).await?;
    let mut metadata = parse_metadata(is_json, body)?;
    match metadata.client_id.take() {
        Some(id) if id == existing.client_id => {}
        Some(id) => {
            return Err(OAuthError::invalid_request(format!(
                "the body's client_id '{id}' is not the id of the client being updated, '{}'; an update repeats the client's own id (RFC 7592 section 2.2)",
                existing.client_id
            )));
        }
        None => {
            return Err(OAuthError::invalid_request(format!(
                "the body has no client_id; an update repeats the client's id, '{}' (RFC 7592 section 2.2)",
                existing.client_id
            )));
        }
    }
    if let Some(sent) = metadata.client_secret.take() {
        let current = existing.client_secret.as_deref().unwrap_or("");
        if current.is_empty() || !bool::from(sent.as_bytes().ct_eq(current.as_bytes())) {
            return Err(OAuthError::invalid_request(
                "the body's client_secret is not the client's current secret; leave it out, or send the current one: a client cannot choose its own secret (RFC 7592 section 2.2)",
            ));
        }
    }
    let input = replacing(&existing, to_input(metadata)?);
    let keys = fetch_keys(ctx, &input).await?;
    let client = ctx
        .core
        .replace_client(&existing, input)
        .await
        .map_err(from_core_error)?;
    remember_keys(ctx, &client, keys);
    Ok(Registered {
        client,
        registration_access_token,
    })
}

/// RFC 7592 §2.3: deletes the client, with its tokens, grants and consents (as
/// `authdesk clients delete` does). Returns the deleted client.
pub async fn delete(
    ctx: &Context,
    client_id: &str,
    authorization: Option<&str>,
) -> Result<Client, OAuthError> {
    let Registered { client, .. } = authorized(ctx, client_id, authorization).await?;
    ctx.core.delete_client(&client.client_id).await?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_uri_is_the_registration_endpoint_and_the_encoded_id() {
        assert_eq!(
            client_uri("https://localhost:8443", "Ab12"),
            "https://localhost:8443/register/Ab12"
        );
        assert_eq!(
            client_uri("https://localhost:8443", "a/b c"),
            "https://localhost:8443/register/a%2Fb%20c"
        );
    }

    #[test]
    fn only_a_bearer_header_presents_a_registration_access_token() {
        assert_eq!(presented_token(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(presented_token(Some("bearer  abc ")).unwrap(), "abc");
        for refused in [None, Some("Basic abc"), Some("Bearer"), Some("Bearer  ")] {
            let e = presented_token(refused).unwrap_err();
            assert!(e.is_missing_credentials(), "{refused:?}: {e}");
            assert_eq!(e.status(), 401);
            assert!(e.description.contains("registration_access_token"));
        }
    }
}
