//! The tray icon: the issuer and the provider's state, and Open, Copy issuer URL,
//! Restart provider and Quit.

use std::sync::Arc;

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::shell::{ProviderState, ProviderStatus, Shell};

const OPEN: &str = "open";
const COPY_ISSUER: &str = "copy-issuer";
const RESTART: &str = "restart";
const QUIT: &str = "quit";

/// The parts of the tray that change with the status.
struct TrayParts<R: Runtime> {
    icon: TrayIcon<R>,
    issuer: MenuItem<R>,
    state: MenuItem<R>,
}

fn state_label(status: &ProviderStatus) -> String {
    match status.state {
        ProviderState::Starting => "Starting…".into(),
        ProviderState::Running => format!("Running on port {}", status.port),
        ProviderState::PortInUse => {
            format!("Port {} in use: open Authdesk to pick another", status.port)
        }
        ProviderState::Stopped => "Stopped".into(),
        ProviderState::Error => "Stopped with an error".into(),
    }
}

fn tooltip(status: &ProviderStatus) -> String {
    format!("Authdesk — {}\n{}", state_label(status), status.issuer)
}

pub fn create<R: Runtime>(app: &AppHandle<R>, status: &ProviderStatus) -> tauri::Result<()> {
    let issuer = MenuItem::with_id(app, "issuer", &status.issuer, false, None::<&str>)?;
    let state = MenuItem::with_id(app, "state", state_label(status), false, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &issuer,
            &state,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, OPEN, "Open Authdesk", true, None::<&str>)?,
            &MenuItem::with_id(app, COPY_ISSUER, "Copy issuer URL", true, None::<&str>)?,
            &MenuItem::with_id(app, RESTART, "Restart provider", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("main")
        .icon(tauri::include_image!("../icons/tray.png"))
        .tooltip(tooltip(status))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayParts {
        icon,
        issuer,
        state,
    });
    Ok(())
}

/// Shows a new status in the tray.
pub fn update<R: Runtime>(app: &AppHandle<R>, status: &ProviderStatus) {
    let Some(parts) = app.try_state::<TrayParts<R>>() else {
        return;
    };
    let _ = parts.issuer.set_text(&status.issuer);
    let _ = parts.state.set_text(state_label(status));
    let _ = parts.icon.set_tooltip(Some(tooltip(status)));
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(shell) = app.try_state::<Arc<Shell>>().map(|s| s.inner().clone()) else {
        return;
    };
    match id {
        OPEN => crate::show_window(app),
        COPY_ISSUER => copy_to_clipboard(&shell.status().issuer),
        RESTART => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = shell.restart().await {
                    tracing::error!(error = %e, "restart failed");
                }
            });
        }
        QUIT => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = shell.shutdown().await {
                    tracing::warn!(error = %e, "the provider did not stop cleanly");
                }
                app.exit(0);
            });
        }
        _ => {}
    }
}

/// Called from a menu event, on the main thread where GTK lives.
#[cfg(target_os = "linux")]
fn copy_to_clipboard(text: &str) {
    let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
    clipboard.set_text(text);
    clipboard.store();
}

#[cfg(not(target_os = "linux"))]
fn copy_to_clipboard(text: &str) {
    tracing::info!(
        issuer = text,
        "copying to the clipboard is only wired on Linux"
    );
}
