//! Provider sessions: a browser that signed in (approved a request as a persona) is
//! remembered, so the next request of a client it consented to is answered silently.
//! The HTTP layer carries the session id in a cookie; this module decides what it means.

use super::context::Context;
use super::error::OAuthError;
use crate::model::{Timestamp, User, random_token};
use crate::store::flows::{self, SessionRow};

/// How long a provider session lasts.
pub const SESSION_TTL: i64 = 7 * 24 * 3600;

/// A live session and its persona.
#[derive(Debug, Clone)]
pub struct Session {
    pub row: SessionRow,
    pub user: User,
}

/// Starts a provider session for `sub`; returns its id (the cookie's value).
pub async fn start(ctx: &Context, sub: &str, now: Timestamp) -> Result<String, OAuthError> {
    let id = random_token(32);
    flows::insert_session(ctx.core.store.pool(), &id, sub, now, now + SESSION_TTL).await?;
    Ok(id)
}

/// The live session `id` names, with its persona; `None` when there is none (expired,
/// signed out, or its persona deleted).
pub async fn find(
    ctx: &Context,
    id: Option<&str>,
    now: Timestamp,
) -> Result<Option<Session>, OAuthError> {
    let Some(id) = id else {
        return Ok(None);
    };
    let Some(row) = flows::get_session(ctx.core.store.pool(), id, now).await? else {
        return Ok(None);
    };
    let user = ctx.core.store.get_user_by_sub(&row.sub).await?;
    Ok(user.map(|u| Session { row, user: u.user }))
}

/// The `sid` of session `id` in id_tokens and logout tokens: derived from the
/// session's stored hash, so it names the session without revealing its cookie.
pub fn sid_of(id: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("sid:{}", flows::hash_secret(id)));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Ends session `id`; returns its persona's name if it was live.
pub async fn end(ctx: &Context, id: &str, now: Timestamp) -> Result<Option<String>, OAuthError> {
    let session = find(ctx, Some(id), now).await?;
    flows::delete_session(ctx.core.store.pool(), id).await?;
    Ok(session.map(|s| s.user.username))
}
