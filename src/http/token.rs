//! The token endpoint, introspection and revocation: client-authenticated form posts.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::AppState;
use super::dpop::DpopHeader;
use super::extract::{Authorization, OAuthParams};
use super::reply::{json_no_store, no_store, rejected};
use crate::events::{ProviderEvent, RequestStatus};
use crate::oauth::params::Params;
use crate::oauth::{LogLine, OAuthError, paths, resource, token};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::TOKEN, post(token_endpoint))
        .route(paths::INTROSPECT, post(introspect))
        .route(paths::REVOKE, post(revoke))
}

async fn token_endpoint(
    State(state): State<AppState>,
    auth: Authorization,
    dpop: DpopHeader,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return rejected(&state, "token", &auth, &Params::default(), e),
    };
    let proof = match dpop.proof() {
        Ok(p) => p,
        Err(e) => return rejected(&state, "token", &auth, &params, e),
    };
    let grant_type = json!(params.get("grant_type"));
    // Which authentication the client used, for the window's comparison with its
    // registration (never the credentials).
    let client_auth = json!(crate::oauth::client_auth::presented_method(
        auth.value(),
        &params
    ));
    match token::token(&state.ctx, auth.value(), proof, &params).await {
        Ok((resp, client)) => {
            // A client_credentials request carries no one-time value (a code, a refresh
            // token, an assertion): a service fetching tokens again and again repeats it,
            // and its entries fold like any other repeated success. The others each
            // spend a value of their own, so they never repeat one another (their
            // secrets are shown redacted, and could look alike).
            let line = LogLine::new("token", RequestStatus::Completed);
            let line = if params.get("grant_type") == Some("client_credentials") {
                line
            } else {
                line.unique()
            };
            state.ctx.record(
                line.client(Some(client.client_id.clone()))
                    .params(&params)
                    .detail(json!({"grant_type": grant_type, "scope": resp.scope, "refresh_token": resp.refresh_token.is_some(), "id_token": resp.id_token.is_some(), (crate::log::ISSUED): resp.issued, "client_auth": client_auth, "token_type": resp.token_type})),
            );
            state
                .ctx
                .core
                .events
                .publish(ProviderEvent::TokenChanged { id: None });
            json_no_store(StatusCode::OK, &resp)
        }
        Err((e, client_id)) => {
            state.ctx.record(
                LogLine::rejected("token", &e)
                    .client(client_id)
                    .params(&params)
                    .detail(json!({"grant_type": grant_type, "client_auth": client_auth})),
            );
            e.into_response()
        }
    }
}

async fn introspect(
    State(state): State<AppState>,
    auth: Authorization,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let now = state.ctx.now();
    match resource::introspect(&state.ctx, auth.value(), &params, now).await {
        Ok((client, answer)) => {
            state.ctx.record(
                LogLine::new("introspect", RequestStatus::Completed)
                    .client(Some(client.client_id.clone()))
                    .params(&params)
                    .detail(json!({"active": answer.active})),
            );
            json_no_store(StatusCode::OK, &answer)
        }
        Err(e) => rejected(&state, "introspect", &auth, &params, e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    auth: Authorization,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return e.into_response(),
    };
    let now = state.ctx.now();
    match resource::revoke_request(&state.ctx, auth.value(), &params, now).await {
        Ok((client, id)) => {
            state.ctx.record(
                LogLine::new("revoke", RequestStatus::Completed)
                    .client(Some(client.client_id.clone()))
                    .params(&params)
                    .detail(json!({"token_id": id})),
            );
            let mut res = StatusCode::OK.into_response();
            no_store(res.headers_mut());
            res
        }
        Err(e) => rejected(&state, "revoke", &auth, &params, e),
    }
}
