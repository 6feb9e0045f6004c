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
    // SAFETY: mi_collect only frees and purges mimalloc's own unused memory; it does
    // nothing when mimalloc is not the global allocator.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the OS; it has no
    // preconditions and touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Tunes mimalloc, the binaries' global allocator, before its first allocation: the
/// binaries run it from `.init_array`, ahead of Rust's runtime (an option is read when
/// the arena it shapes is made, at the first allocation).
///
/// Where the OS overcommits, mimalloc commits whole arenas up front and does not purge
/// an eagerly committed arena's freed pages, so a provider idled at its high-water mark
/// (argon2 alone takes 19 MiB per hash): 32 MiB after start instead of 15. Committing
/// on demand, as on other OSes, lets freed pages go back. Yields to
/// `MIMALLOC_ARENA_EAGER_COMMIT`.
pub extern "C" fn tune_mimalloc() {
    // getenv rather than std::env, which allocates.
    // SAFETY: getenv reads the environment, which nothing modifies before main;
    // mi_option_set only changes a tuning value.
    unsafe {
        if libc::getenv(c"MIMALLOC_ARENA_EAGER_COMMIT".as_ptr()).is_null() {
            libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        }
    }
}

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_t` (mimalloc.h); the
/// `libmimalloc-sys` bindings do not name it.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Tunes glibc's malloc for a long-running, mostly idle provider; call first thing in
/// `main`, before any other thread exists (the CLI's `main` does). Each setting yields
/// to its environment variable.
///
/// - Arenas capped at two (`MALLOC_ARENA_MAX`). glibc gives threads their own arenas
///   (up to eight per core): the tokio workers, sqlx's connection threads and the
///   writer each fill and free theirs, and the memory left scattered over them stays
///   resident after a burst, since a page with one live block cannot be returned. With
///   two arenas, RSS a few seconds after a mixed load (tokens, introspection, logins)
///   fell from 30 MiB to 20 MiB, with no throughput change beyond this machine's
///   run-to-run drift.
/// - Blocks of 1 MiB and more always mapped on their own (`MALLOC_MMAP_THRESHOLD_`),
///   so freeing one unmaps it. glibc's default threshold rises to the size of the
///   large blocks freed, and argon2's second 19 MiB then came from a thread's arena,
///   where `malloc_trim` cannot return the top of the heap: a provider that re-hashed
///   its personas at start (`--seed`) idled at 31 instead of 13 MiB in about one start
///   in three, depending on which arena the hashing thread used.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only changes the allocator's tuning; called before any
            // other thread runs, so no arena is being created concurrently.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}
