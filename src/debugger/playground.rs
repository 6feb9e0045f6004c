//! The playground client: a ready-made public client (PKCE, loopback redirect on any
//! port, refresh and device grants) for a first sign-in before the person has a client
//! of their own. It is made when the window's first-run state asks for it, never by
//! `authdesk serve`, so a headless provider's records stay exactly its seed's.

use crate::model::{Client, ClientInput, ClientType, GrantType};
use crate::{Core, Error};

pub const CLIENT_ID: &str = "authdesk-playground";
/// RFC 8252 §7.3: a public client's loopback redirect URI matches on any port, so the
/// window's listener takes whatever port is free.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

pub fn input() -> ClientInput {
    ClientInput {
        client_id: Some(CLIENT_ID.into()),
        name: Some("Authdesk playground".into()),
        client_type: Some(ClientType::Public),
        redirect_uris: Some(vec![REDIRECT_URI.into()]),
        grant_types: Some(vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::DeviceCode,
        ]),
        tags: Some(vec!["playground".into()]),
        ..ClientInput::default()
    }
}

/// The playground client, made if it does not exist (it is left as it is otherwise:
/// the person may have changed it).
pub async fn ensure(core: &Core) -> crate::Result<Client> {
    match core.get_client(CLIENT_ID).await {
        Ok(c) => Ok(c),
        Err(Error::NotFound { .. }) => core.create_client(input()).await,
        Err(e) => Err(e),
    }
}
