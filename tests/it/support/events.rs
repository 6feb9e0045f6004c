//! What a provider publishes and stores: a subscription to its events ([`Events`]) and
//! its request log, written in the background.

use std::time::{Duration, Instant};

use authdesk::Core;
use authdesk::events::{ProviderEvent, RequestEntry, RequestStatus};
use tokio::sync::broadcast;

/// How long an event may take to arrive. Exceeding it fails the test; it measures
/// nothing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the background writer may take to store a log entry.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(30);

/// A subscription to the provider's events that remembers what it skipped, for
/// failure messages.
pub struct Events {
    rx: broadcast::Receiver<ProviderEvent>,
    seen: Vec<ProviderEvent>,
}

impl Events {
    /// Subscribes to `core`'s events; subscribe before the request under test.
    pub fn of(core: &Core) -> Self {
        Events {
            rx: core.events.subscribe(),
            seen: Vec::new(),
        }
    }

    /// The next event that `matches`, skipping others; fails after [`EVENT_TIMEOUT`].
    pub async fn next_where(
        &mut self,
        what: &str,
        matches: impl Fn(&ProviderEvent) -> bool,
    ) -> ProviderEvent {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(event)) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Ok(Err(e)) => panic!("event bus: {e} while waiting for {what}"),
                Err(_) => panic!(
                    "no {what} event within {EVENT_TIMEOUT:?}; events seen: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// The next request-log entry of `kind` with `status`.
    pub async fn request(&mut self, kind: &str, status: RequestStatus) -> RequestEntry {
        let what = format!("Request {{ kind: {kind}, status: {} }}", status.as_str());
        match self
            .next_where(&what, |e| {
                matches!(e, ProviderEvent::Request { entry } if entry.kind == kind && entry.status == status)
            })
            .await
        {
            ProviderEvent::Request { entry } => entry,
            _ => unreachable!(),
        }
    }

    /// Every event received since subscribing, without waiting for more.
    pub fn all_so_far(&mut self) -> &[ProviderEvent] {
        while let Ok(e) = self.rx.try_recv() {
            self.seen.push(e);
        }
        &self.seen
    }
}

/// Polls `core`'s stored request log until every entry of `ids` is there (the writer is
/// asynchronous); returns them in the order of `ids`.
pub async fn stored_entries(core: &Core, ids: &[String]) -> Vec<RequestEntry> {
    let deadline = Instant::now() + LOG_TIMEOUT;
    loop {
        let all = core
            .list_requests(None, None, 5000)
            .await
            .expect("read the request log");
        let found: Vec<RequestEntry> = ids
            .iter()
            .filter_map(|id| all.iter().find(|e| &e.id == id).cloned())
            .collect();
        if found.len() == ids.len() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the request log did not store {:?} within {LOG_TIMEOUT:?}; it has {:?}",
            ids.iter()
                .filter(|id| !all.iter().any(|e| &e.id == *id))
                .collect::<Vec<_>>(),
            all.iter()
                .map(|e| format!("{} {} {}", e.id, e.kind, e.status.as_str()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
