//! Going idle: a second after the last request of any kind, the provider hands what
//! the burst allocated back to the OS (SQLite's page caches, then glibc's free heap),
//! because the tray app idles most of the day.
//!
//! Every request marks [`Activity`] as it arrives (the server does it for each request,
//! whatever its endpoint: the request log, which used to trigger the release, records
//! no JWKS or discovery request). While idle the watcher waits without a timer, so an
//! idle provider makes no system calls at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long without requests counts as idle.
pub const IDLE: Duration = Duration::from_secs(1);

/// No request since the memory was last released; the watcher waits for one.
const IDLE_STATE: u8 = 0;
/// The watcher is timing a quiet second: no request seen since it started.
const QUIET: u8 = 1;
/// A request arrived since the watcher last looked.
const BUSY: u8 = 2;

/// Marks requests for the idle watcher; cheap to clone and to call for every request.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: AtomicU8,
    wake: Notify,
    closed: AtomicBool,
    releases: AtomicU64,
}

impl Activity {
    pub fn new() -> Self {
        Self::default()
    }

    /// A request arrived. Under load this is one read of a value that changes once a
    /// second: requests do not contend on it.
    pub fn touch(&self) {
        let state = &self.inner.state;
        if state.load(Ordering::Relaxed) == BUSY {
            return;
        }
        // Exactly one notification per idle period: the watcher takes one per period.
        if state.swap(BUSY, Ordering::AcqRel) == IDLE_STATE {
            self.inner.wake.notify_one();
        }
    }

    /// How many times the watcher released memory (for tests and probes).
    pub fn releases(&self) -> u64 {
        self.inner.releases.load(Ordering::Acquire)
    }

    /// Stops the watcher (the provider stops).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }

    fn closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Runs `release` once [`IDLE`] passed without a request after some, until
    /// [`Activity::close`].
    pub fn spawn_watcher<F, Fut>(&self, release: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let activity = self.clone();
        tokio::spawn(async move {
            loop {
                // Idle: no timer, only the first request (or the stop) wakes it.
                activity.inner.wake.notified().await;
                if activity.closed() {
                    return;
                }
                loop {
                    activity.inner.state.store(QUIET, Ordering::Release);
                    tokio::time::sleep(IDLE).await;
                    if activity.closed() {
                        return;
                    }
                    if activity
                        .inner
                        .state
                        .compare_exchange(QUIET, IDLE_STATE, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        break;
                    }
                }
                release().await;
                activity.inner.releases.fetch_add(1, Ordering::AcqRel);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (paused clock) until the watcher released `n` times, or fails.
    async fn released(activity: &Activity, n: u64) {
        for _ in 0..100 {
            if activity.releases() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("released {} times, not {n}", activity.releases());
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_released_once_per_quiet_second_after_requests_and_never_while_idle() {
        let activity = Activity::new();
        activity.spawn_watcher(|| async {});
        // Idle from the start: nothing to release, however long it waits.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(activity.releases(), 0);
        // A burst over three seconds: one release, a second after its last request.
        for _ in 0..30 {
            activity.touch();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(activity.releases(), 0, "released during the burst");
        released(&activity, 1).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(activity.releases(), 1, "released again without requests");
        // One more request: one more release.
        activity.touch();
        released(&activity, 2).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(activity.releases(), 2);
        activity.close();
    }
}
