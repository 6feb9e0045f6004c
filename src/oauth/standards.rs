//! What the newer standards add to the metadata document (RFC 8414 / OIDC Discovery):
//! each feature is advertised only when it is on.

use serde_json::{Value, json};

use super::context::{Context, paths};

/// Adds the metadata of PAR, request objects, DPoP, the JWT bearer grant, token
/// exchange and back-channel logout to `doc`.
pub fn metadata(ctx: &Context, doc: &mut Value) {
    let c = &ctx.config;
    // RFC 9126 §5.
    doc["pushed_authorization_request_endpoint"] = json!(c.url(paths::PAR));
    doc["require_pushed_authorization_requests"] = json!(c.require_par);
    // RFC 9101 / OIDC Core §6: `request` at /authorize and /par; request_uri only as
    // PAR hands it out (no request objects are fetched from URLs).
    doc["request_parameter_supported"] = json!(true);
    doc["request_object_signing_alg_values_supported"] = json!(super::jose::VERIFY_ALGS);
    // RFC 9449 §5.1.
    doc["dpop_signing_alg_values_supported"] = json!(super::dpop::ALGS);
    // OpenID Connect Back-Channel Logout 1.0 §2.1.
    doc["backchannel_logout_supported"] = json!(true);
    doc["backchannel_logout_session_supported"] = json!(true);
    // RFC 7523 §2.1: clients allowed the grant trade assertions for tokens.
    if let Some(grants) = doc["grant_types_supported"].as_array_mut() {
        grants.push(json!(super::token::jwt_bearer::GRANT_TYPE));
        // RFC 8693.
        grants.push(json!(super::token::exchange::GRANT_TYPE));
    }
}
