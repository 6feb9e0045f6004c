// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

// The same allocator as the `authdesk` binary (see src/main.rs): the provider in this
// process answers the same requests.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Before the first allocation (see authdesk::mem::tune_mimalloc); the setting matters
// where the OS overcommits memory.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = authdesk::mem::tune_mimalloc;

fn main() {
    authdesk_desktop::run();
}
