//! Signals between the processes that share a data directory: counters in a small
//! file (`signals`) that every process maps into memory, as SQLite shares its WAL
//! index. A process that commits a change the running provider must act on at once
//! (a fault rule added by the CLI, a token revoked or force-expired by the CLI) bumps
//! a counter after the commit; the provider compares the counter with the value it
//! last acted on before each request that depends on it. Reading a counter is one
//! load from shared memory: no system call, no path lookup (it used to be a `stat`
//! of a file per request, about a tenth of an introspection's CPU time).
//!
//! The counters only say "look again"; what changed is always read from the database.
//! Where the file cannot be mapped (a file system without shared mappings), a counter
//! reads as the half-seconds since the process started instead, so changes by other processes are still
//! seen within 0.5 s, like the records' revision check.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The file's name inside the data directory.
pub const SIGNALS_FILE: &str = "signals";

/// The file's size: one page; the counters take its first bytes.
const SIZE: u64 = 4096;

/// What a counter announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The fault rules changed (`oauth::faults`).
    Faults = 0,
    /// A token was revoked or force-expired: cached token rows are out of date.
    Tokens = 1,
}

/// The data directory's counters, mapped (cheap to clone: one shared mapping).
#[derive(Debug, Clone)]
pub struct Signals {
    map: Option<std::sync::Arc<memmap2::MmapRaw>>,
}

impl Signals {
    /// Maps the data directory's signals file, creating it (owner-only) if needed.
    /// Never fails: without the mapping, counters follow the clock (see the module).
    pub fn open(data_dir: &Path) -> Self {
        match Self::map(data_dir) {
            Ok(map) => Signals {
                map: Some(std::sync::Arc::new(map)),
            },
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "changes by other processes (the command line) reach this one within 0.5 s"
                );
                Signals { map: None }
            }
        }
    }

    fn map(data_dir: &Path) -> Result<memmap2::MmapRaw> {
        let path = data_dir.join(SIGNALS_FILE);
        let cannot = |e| Error::io(format!("cannot map {}", path.display()), e);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(cannot)?;
        // Only ever grown (to the same size by every process), never shrunk: a mapped
        // page past the end of the file would fault.
        if file.metadata().map_err(cannot)?.len() < SIZE {
            file.set_len(SIZE).map_err(cannot)?;
        }
        let map = memmap2::MmapOptions::new()
            .len(SIZE as usize)
            .map_raw(&file)
            .map_err(cannot)?;
        Ok(map)
    }

    fn counter(&self, signal: Signal) -> Option<&AtomicU64> {
        let map = self.map.as_ref()?;
        let offset = signal as usize * std::mem::size_of::<u64>();
        debug_assert!(offset + 8 <= SIZE as usize);
        // SAFETY: the mapping is page-aligned, SIZE bytes long and lives as long as
        // `self`; the file is never shrunk (see `map`). `AtomicU64` has the layout of a
        // `u64`, and every process touches these bytes only through atomics.
        Some(unsafe { &*(map.as_ptr().add(offset) as *const AtomicU64) })
    }

    /// Announces a committed change to every process mapping the file.
    pub fn bump(&self, signal: Signal) {
        if let Some(counter) = self.counter(signal) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The counter's current value: a change since a value read earlier means "look
    /// again".
    pub fn read(&self, signal: Signal) -> u64 {
        match self.counter(signal) {
            Some(counter) => counter.load(Ordering::SeqCst),
            None => {
                static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
                (START
                    .get_or_init(std::time::Instant::now)
                    .elapsed()
                    .as_millis()
                    / 500) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_seen_through_another_mapping_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // Two opens map the file twice, as two processes do.
        let cli = Signals::open(dir.path());
        let provider = Signals::open(dir.path());
        assert!(provider.map.is_some(), "the file must be mappable here");
        let faults = provider.read(Signal::Faults);
        let tokens = provider.read(Signal::Tokens);
        cli.bump(Signal::Tokens);
        assert_eq!(provider.read(Signal::Tokens), tokens + 1);
        assert_eq!(
            provider.read(Signal::Faults),
            faults,
            "counters are separate"
        );
        cli.bump(Signal::Faults);
        assert_eq!(provider.read(Signal::Faults), faults + 1);
        // A later open sees the counters where they are (the file keeps them).
        assert_eq!(Signals::open(dir.path()).read(Signal::Tokens), tokens + 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only_and_a_short_file_is_grown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SIGNALS_FILE), b"short").unwrap();
        let signals = Signals::open(dir.path());
        signals.bump(Signal::Faults);
        let meta = std::fs::metadata(dir.path().join(SIGNALS_FILE)).unwrap();
        assert_eq!(meta.len(), SIZE);
        let fresh = tempfile::tempdir().unwrap();
        Signals::open(fresh.path());
        let mode = std::fs::metadata(fresh.path().join(SIGNALS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn without_a_mapping_counters_follow_the_clock() {
        let unmapped = Signals { map: None };
        let first = unmapped.read(Signal::Tokens);
        unmapped.bump(Signal::Tokens); // no effect, no panic
        assert!(unmapped.read(Signal::Tokens) >= first, "never goes back");
    }

    #[test]
    fn an_unwritable_directory_gives_unmapped_signals() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        assert!(Signals::open(&missing).map.is_none());
    }
}
