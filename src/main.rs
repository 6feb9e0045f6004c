// mimalloc rather than glibc's malloc: a token request makes a few hundred small
// allocations across the runtime's threads, and glibc's arenas spent about a seventh of
// the workers' CPU on them (bench/profile.sh; README "Performance").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Before the first allocation (see authdesk::mem::tune_mimalloc); the setting matters
// where the OS overcommits memory.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = authdesk::mem::tune_mimalloc;

fn main() {
    std::process::exit(authdesk::cli::main());
}
