//! Domain events. The core publishes [`ProviderEvent`]s on a broadcast channel; the
//! desktop shell forwards them to the window, the CLI ignores them.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::log::RequestEntry;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderEvent {
    ClientChanged {
        client_id: String,
    },
    UserChanged {
        username: String,
    },
    ScopesChanged,
    /// A token was issued, revoked or expired; `id` is None for bulk changes.
    TokenChanged {
        id: Option<String>,
    },
    /// A request was received, decided, rejected or completed.
    Request {
        entry: RequestEntry,
    },
    /// An authorization request waits for consent.
    ConsentPending {
        consent: PendingConsent,
    },
    /// A pending request was approved or denied (on the page, in the window, …).
    ConsentResolved {
        request_id: String,
        approved: bool,
    },
}

/// What the window shows of a request waiting for consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct PendingConsent {
    pub request_id: String,
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub login_hint: Option<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: crate::model::Timestamp,
}

/// The sending half of the event bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<ProviderEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx }
    }

    /// Publishes an event; having no subscriber is normal (headless mode).
    pub fn publish(&self, event: ProviderEvent) {
        let _ = self.tx.send(event);
    }

    /// Whether anyone listens (the desktop window does; headless mode has no one), so
    /// a publisher can skip building an event nobody would receive.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ProviderEvent> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_subscribers_follows_the_receivers() {
        let bus = EventBus::new();
        assert!(!bus.has_subscribers());
        let rx = bus.subscribe();
        assert!(bus.has_subscribers());
        drop(rx);
        assert!(!bus.has_subscribers());
    }
}
