//! Handing freed memory back to the OS, for a provider that idles in the tray all day.
//!
//! glibc keeps freed memory in its heaps for reuse, and raises its mmap threshold to
//! the size of large freed blocks, so later large blocks stay in the heap too. Argon2
//! (~19 MiB per hash) left a provider that hashed a few personas at start idling at
//! ~70 MiB instead of ~13 MiB, and a burst of requests leaves tens of MiB behind.

/// Returns the free memory of every malloc arena to the OS. Cheap when there is
/// nothing to return; a few milliseconds after a burst. Called after argon2 and when
/// the provider goes idle.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the OS; it has no
    // preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Caps glibc's malloc arenas at two, unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives threads their own arenas (up to eight per core): the tokio workers,
/// sqlx's connection threads and the writer each fill and free theirs, and the memory
/// left scattered over them stays resident after a burst, since a page with one live
/// block cannot be returned. With two arenas, RSS a few seconds after a mixed load
/// (tokens, introspection, logins) fell from 30 MiB to 20 MiB, with no throughput
/// change beyond this machine's run-to-run drift. Call first thing in `main`, before
/// any other thread exists (the CLI's `main` does).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes the allocator's tuning; called before any other
        // thread runs, so no arena is being created concurrently.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
