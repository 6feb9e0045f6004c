//! Placeholder until the desktop shell lands: the Tauri app lives here.
fn main() {
    println!("authdesk-desktop: the desktop shell is not built yet; use `authdesk serve`");
}
