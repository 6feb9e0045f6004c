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
