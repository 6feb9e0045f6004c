//! The pushed authorization request endpoint (RFC 9126): a client-authenticated form
//! post answered with a `request_uri`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::AppState;
use super::extract::{Authorization, OAuthParams};
use super::reply::{json_no_store, rejected};
use crate::events::RequestStatus;
use crate::oauth::params::Params;
use crate::oauth::{LogLine, OAuthError, par, paths};

pub fn router() -> Router<AppState> {
    Router::new().route(paths::PAR, post(par_endpoint))
}

async fn par_endpoint(
    State(state): State<AppState>,
    auth: Authorization,
    params: Result<OAuthParams, OAuthError>,
) -> Response {
    let params = match params {
        Ok(OAuthParams(p)) => p,
        Err(e) => return rejected(&state, "par", &auth, &Params::default(), e),
    };
    match par::push(&state.ctx, auth.value(), &params).await {
        Ok((pushed, client)) => {
            state.ctx.record(
                LogLine::new("par", RequestStatus::Completed)
                    .client(Some(client.client_id.clone()))
                    .params(&params)
                    .detail(json!({"expires_in": pushed.expires_in})),
            );
            json_no_store(StatusCode::CREATED, &pushed)
        }
        Err((e, client_id)) => {
            state.ctx.record(
                LogLine::rejected("par", &e)
                    .client(client_id)
                    .params(&params),
            );
            e.into_response()
        }
    }
}
