//! Domain events. The core publishes [`ProviderEvent`]s on a broadcast channel; the
//! desktop shell forwards them to the window, the CLI ignores them.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

use crate::model::Timestamp;

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
    /// Clients, users or scopes were changed by another process on the same data
    /// directory (the CLI, an import): whatever shows them reloads.
    RecordsChanged,
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
    /// Signing keys were rotated or retired (here; another process's changes come as
    /// `RecordsChanged`).
    KeysChanged,
    /// Fault rules were added, changed, used or cleared (issue 20).
    FaultsChanged,
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

/// How a logged request ended (or where it stands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Received,
    Rejected,
    PendingConsent,
    Approved,
    Denied,
    Completed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::Rejected => "rejected",
            RequestStatus::PendingConsent => "pending_consent",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Completed => "completed",
        }
    }
}

/// One entry of the request log: what the window shows and the store keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RequestEntry {
    pub id: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub at: Timestamp,
    /// `authorize`, `token`, `revoke`, `introspect`, `userinfo`, `register`, …
    pub kind: String,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub status: RequestStatus,
    /// The RFC error code, when the request failed.
    pub error: Option<String>,
    /// The plain-language cause and fix.
    pub error_description: Option<String>,
    pub params: std::collections::BTreeMap<String, String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown>"))]
    pub detail: serde_json::Value,
    /// How many identical successful requests this entry stands for: 1, or more for a
    /// folded entry (see [`crate::log`]); `at` is the first of them, `last_at` the last.
    #[serde(default = "one")]
    pub count: u32,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    #[serde(default)]
    pub last_at: Timestamp,
}

fn one() -> u32 {
    1
}

/// The sending half of the event bus; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EventBus {
    /// Made at the first subscription: its 1,024 slots (a quarter of a MiB, a fifth
    /// of a millisecond to fault in at start) are only needed by a listener, and a
    /// headless provider has none.
    tx: Arc<OnceLock<broadcast::Sender<ProviderEvent>>>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes an event; having no subscriber is normal (headless mode).
    pub fn publish(&self, event: ProviderEvent) {
        if let Some(tx) = self.tx.get() {
            let _ = tx.send(event);
        }
    }

    /// Whether anyone listens (the desktop window does; headless mode has no one), so
    /// a publisher can skip building an event nobody would receive.
    pub fn has_subscribers(&self) -> bool {
        self.tx.get().is_some_and(|tx| tx.receiver_count() > 0)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ProviderEvent> {
        self.tx
            .get_or_init(|| broadcast::channel(1024).0)
            .subscribe()
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

    #[test]
    fn clones_share_the_bus_made_at_the_first_subscription() {
        let bus = EventBus::new();
        let publisher = bus.clone();
        // Published before anyone listened: dropped, as with no receiver.
        publisher.publish(ProviderEvent::TokenChanged { id: None });
        let mut rx = bus.subscribe();
        assert!(publisher.has_subscribers());
        publisher.publish(ProviderEvent::TokenChanged {
            id: Some("t1".into()),
        });
        match rx.try_recv() {
            Ok(ProviderEvent::TokenChanged { id }) => assert_eq!(id.as_deref(), Some("t1")),
            other => panic!("expected the event published after subscribing, got {other:?}"),
        }
    }
}
