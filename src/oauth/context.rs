//! The provider's shared state: what every protocol operation needs, in one shared
//! allocation (the HTTP layer clones it for every request, and a clone is then one
//! reference count instead of a dozen).

use std::sync::Arc;

use serde_json::Value;

use super::consent::PendingRegistry;
use super::error::OAuthError;
use super::params::Params;
use crate::core::Core;
use crate::events::{RequestEntry, RequestStatus};
use crate::keys::KeySet;
use crate::log::{Repeat, RequestLog};
use crate::model::Timestamp;

/// Paths of the endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/jwks";
    pub const AUTHORIZE: &str = "/authorize";
    pub const DECISION: &str = "/authorize/decision";
    pub const WAIT: &str = "/authorize/wait";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const INTROSPECT: &str = "/introspect";
    pub const REVOKE: &str = "/revoke";
    pub const REGISTER: &str = "/register";
    /// The client configuration endpoint (RFC 7592), as the router spells it.
    pub const REGISTER_CLIENT: &str = "/register/{client_id}";
    pub const API_ME: &str = "/api/me";
    pub const END_SESSION: &str = "/end_session";
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    pub const DEVICE: &str = "/device";
    pub const PAR: &str = "/par";
}

/// Runtime settings of a serving provider.
#[derive(Debug)]
pub struct ProviderConfig {
    /// `https://localhost:8443`, without a trailing slash.
    pub issuer: String,
    pub registration_open: bool,
    pub auto_approve: Option<String>,
    /// The token shape of every client without a preset of its own (`serve --preset`).
    pub preset: Option<crate::token_shape::Preset>,
    /// Every authorization request must be pushed first (RFC 9126 §5, provider-wide).
    pub require_par: bool,
    /// DPoP proofs must carry a nonce of this provider (RFC 9449 §8).
    pub dpop_nonce: bool,
}

impl ProviderConfig {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// Everything a protocol operation needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Context(Arc<Parts>);

/// What [`Context`] holds.
#[derive(Debug)]
pub struct Parts {
    pub core: Core,
    pub keys: KeySet,
    pub config: ProviderConfig,
    /// Authorization requests waiting for consent (in memory).
    pub pending: PendingRegistry,
    pub log: RequestLog,
    /// The key of DPoP nonces.
    pub dpop: super::dpop::NonceKey,
    /// The DPoP bindings of tokens seen (a token's binding never changes).
    pub dpop_bindings: super::dpop::Bindings,
    /// Fault rules in force (failures on demand).
    pub faults: super::faults::Faults,
    /// The key sets of clients that publish them by URL (`jwks_uri`), as fetched.
    pub jwks_uris: super::jwks_uri::JwksUris,
}

impl Context {
    pub fn new(parts: Parts) -> Self {
        Context(Arc::new(parts))
    }

    pub fn now(&self) -> Timestamp {
        self.core.now()
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Writes one request-log entry (and publishes it to the window).
    pub fn record(&self, entry: LogLine<'_>) {
        let at = self.core.now();
        let error = entry.error;
        // A repeat of a remembered success is counted without building its entry (a
        // resource server introspecting one token thousands of times a second).
        let mut key = None;
        let unique = entry.unique;
        if !unique
            && error.is_none()
            && entry.status == RequestStatus::Completed
            && !super::faults::Mark::is_set()
        {
            let params = entry.params.map(Params::shown).unwrap_or_default();
            let repeat = Repeat {
                kind: entry.kind,
                client_id: entry.client_id.as_deref(),
                username: entry.username.as_deref(),
                params: &params,
                detail: &entry.detail,
            };
            match self.log.repeat(&repeat, at) {
                Ok(()) => return,
                Err(k) => key = Some(k),
            }
        }
        let mut entry = RequestEntry {
            id: crate::model::sortable_id(at),
            at,
            kind: entry.kind.to_string(),
            client_id: entry.client_id,
            username: entry.username,
            status: entry.status,
            error: error.map(|e| e.code.as_str().to_string()),
            error_description: error.map(|e| e.description.clone()),
            params: entry.params.map(Params::redacted).unwrap_or_default(),
            detail: entry.detail,
            count: 1,
            last_at: at,
        };
        if let Some(mark) = super::faults::Mark::current() {
            mark.apply(&mut entry);
        }
        if unique {
            self.log.record_unique(entry);
        } else {
            self.log.record_keyed(entry, key);
        }
    }
}

impl std::ops::Deref for Context {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// One line of the request log, as an endpoint describes its outcome.
#[derive(Debug)]
pub struct LogLine<'a> {
    /// `authorize`, `token`, `revoke`, `introspect`, `userinfo`, `register`, …
    pub kind: &'a str,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub status: RequestStatus,
    pub error: Option<&'a OAuthError>,
    pub params: Option<&'a Params>,
    pub detail: Value,
    /// The request spent or created something of its own (a code, a refresh token, a
    /// client): it never repeats another, so it is not remembered for folding. (What a
    /// repeatable request issued goes in the detail under [`crate::log::ISSUED`].)
    pub unique: bool,
}

impl<'a> LogLine<'a> {
    pub fn new(kind: &'a str, status: RequestStatus) -> Self {
        LogLine {
            kind,
            client_id: None,
            username: None,
            status,
            error: None,
            params: None,
            detail: Value::Object(Default::default()),
            unique: false,
        }
    }

    /// A refused request.
    pub fn rejected(kind: &'a str, error: &'a OAuthError) -> Self {
        LogLine {
            error: Some(error),
            ..Self::new(kind, RequestStatus::Rejected)
        }
    }

    pub fn client(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    pub fn user(mut self, username: Option<String>) -> Self {
        self.username = username;
        self
    }

    pub fn params(mut self, params: &'a Params) -> Self {
        self.params = Some(params);
        self
    }

    /// See [`LogLine::unique`].
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn error(mut self, error: Option<&'a OAuthError>) -> Self {
        self.error = error;
        self
    }
}
