//! Discovery: OpenID Provider metadata (OIDC Discovery 1.0) and RFC 8414
//! authorization server metadata, one document listing only what is implemented.

use serde_json::{Value, json};

use super::context::{Context, paths};
use super::error::OAuthError;

/// OpenID Provider metadata (OIDC Discovery 1.0) and RFC 8414 metadata: one document,
/// listing only what this provider implements.
pub fn metadata(ctx: &Context, scopes: Vec<String>) -> Value {
    let c = &ctx.config;
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ];
    let endpoint_auth_algs = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ];
    let mut doc = json!({
        "issuer": c.issuer,
        "authorization_endpoint": c.url(paths::AUTHORIZE),
        "token_endpoint": c.url(paths::TOKEN),
        "userinfo_endpoint": c.url(paths::USERINFO),
        "jwks_uri": c.url(paths::JWKS),
        "introspection_endpoint": c.url(paths::INTROSPECT),
        "revocation_endpoint": c.url(paths::REVOKE),
        "end_session_endpoint": c.url(paths::END_SESSION),
        "device_authorization_endpoint": c.url(paths::DEVICE_AUTHORIZATION),
        "scopes_supported": scopes,
        "response_types_supported": ["code", "token", "id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ctx.keys.algs(),
        "userinfo_signing_alg_values_supported": ctx.keys.algs(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        // Introspection answers confidential clients only.
        "introspection_endpoint_auth_methods_supported": &auth_methods[..4],
        "introspection_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": endpoint_auth_algs,
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "acr", "amr", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email", "email_verified", "address", "phone_number", "phone_number_verified"],
        // OIDC Core §5.5: essential and voluntary claims for the id_token and userinfo.
        "claims_parameter_supported": true,
        // RFC 8707: `resource` at the authorization and token endpoints.
        "resource_indicators_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "claim_types_supported": ["normal"],
    });
    if c.registration_open {
        doc["registration_endpoint"] = json!(c.url(paths::REGISTER));
    }
    super::standards::metadata(ctx, &mut doc);
    doc
}

/// The metadata document with the scopes defined now.
pub async fn document(ctx: &Context) -> Result<Value, OAuthError> {
    let scopes = ctx
        .core
        .cached_scopes()
        .await?
        .iter()
        .map(|s| s.name.clone())
        .collect();
    Ok(metadata(ctx, scopes))
}
