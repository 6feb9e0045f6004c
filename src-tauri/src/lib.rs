//! Authdesk's desktop shell: a Tauri 2 window and tray over the `authdesk` core.
//!
//! - [`shell`] owns the core and the provider's lifecycle (start, port in use,
//!   restart, quit) and forwards the core's events to the window through a [`shell::Host`].
//! - [`commands`] are the window's commands, each a few lines over one core operation;
//!   [`debugger`] those of the OAuth debugger (trials, comparison, token facts).
//! - [`settings`] are the app's settings, kept in `tauri-plugin-store`.
//! - [`host`] implements the host over a Tauri `AppHandle`; [`tray`] is the tray icon.
//! - [`limits`] are the bounds and defaults the window's forms check as the person types.
//!
//! The window's TypeScript follows from here: ts-rs writes the shared types, and the
//! test-only `bindings` module writes the commands registered below (names, argument keys,
//! answers) and the [`limits::Limits`] value; `scripts/desktop-bindings.sh` compares them
//! with `ui/src/bindings`.
//!
//! [`app`] assembles the parts on any runtime so `tauri::test::mock_builder()` can test
//! the command layer; [`run`] adds what only a desktop has (tray, single instance,
//! notifications) and runs the real window.

use std::sync::Arc;

use tauri::{Builder, Manager, Runtime};

#[cfg(test)]
mod bindings;
pub mod commands;
pub mod debugger;
pub mod host;
pub mod limits;
pub mod settings;
pub mod shell;
pub mod tray;

pub use shell::{Launch, Shell};

/// The app on any runtime: settings store, commands and, on setup, the core and the
/// provider ([`attach`]). `desktop` turns on the tray and notifications.
pub fn app<R: Runtime>(builder: Builder<R>, launch: Launch, desktop: bool) -> Builder<R> {
    builder
        .plugin(tauri_plugin_store::Builder::default().build())
        .manage(commands::TrustConfig::from_process())
        .manage(debugger::Trials::default())
        .invoke_handler(tauri::generate_handler![
            commands::provider_status,
            commands::restart_provider,
            commands::change_port,
            commands::list_clients,
            commands::get_client,
            commands::create_client,
            commands::update_client,
            commands::delete_client,
            commands::regenerate_client_secret,
            commands::client_snippets,
            commands::list_users,
            commands::create_user,
            commands::update_user,
            commands::delete_user,
            commands::list_scopes,
            commands::save_scope,
            commands::delete_scope,
            commands::list_tokens,
            commands::get_token,
            commands::revoke_token,
            commands::revoke_client_tokens,
            commands::revoke_user_tokens,
            commands::expire_token,
            commands::mint_token,
            commands::list_requests,
            commands::list_pending_consents,
            commands::list_consents,
            commands::revoke_consent,
            commands::sign_out_user,
            commands::decide_consent,
            commands::certificates,
            commands::list_keys,
            commands::rotate_keys,
            commands::retire_key,
            commands::export_certificate,
            commands::regenerate_server_certificate,
            commands::trust_status,
            commands::install_trust,
            commands::uninstall_trust,
            commands::export_records,
            commands::import_records,
            commands::get_settings,
            commands::save_settings,
            debugger::begin_trial,
            debugger::finish_trial,
            debugger::cancel_trial,
            debugger::ensure_playground_client,
            debugger::compare_request,
            debugger::apply_fix,
            debugger::token_facts,
            commands::list_faults,
            commands::add_fault,
            commands::clear_faults,
            commands::pause_faults,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            let shell = attach(&handle, launch, desktop)?;
            if desktop && !shell.settings().start_minimized {
                open_window(&handle)?;
            }
            Ok(())
        })
}

/// Opens the core and manages the [`Shell`]; the provider starts in the background so
/// the window appears at once. Called by the app's setup, and by tests on a mock app.
pub fn attach<R: Runtime>(
    app: &tauri::AppHandle<R>,
    launch: Launch,
    desktop: bool,
) -> Result<Arc<Shell>, authdesk::Error> {
    let host = Arc::new(host::TauriHost::new(
        app.clone(),
        launch.data_dir.clone(),
        desktop,
    ));
    let settings = host.load_settings();
    let shell = tauri::async_runtime::block_on(Shell::open(launch, settings, host))?;
    app.manage(shell.clone());
    if desktop {
        tray::create(app, &shell.status())
            .map_err(|e| authdesk::Error::Other(format!("cannot create the tray icon: {e}")))?;
    }
    let starting = shell.clone();
    tauri::async_runtime::spawn(async move {
        starting.start().await;
    });
    // Records changed by another process (the CLI, an import) reach the open window
    // within a second. Without a window nothing is checked: a tray app stays idle.
    let following = shell.clone();
    let windows = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if windows.get_webview_window(MAIN_WINDOW).is_some() {
                let _ = following.core().follow_other_processes().await;
            }
        }
    });
    Ok(shell)
}

/// The main window's label (the capability in `capabilities/` names it).
pub const MAIN_WINDOW: &str = "main";

/// Opens the main window, or shows and focuses it when it is open (tray "Open", a
/// second launch, start-up unless `start_minimized`).
///
/// The window exists only while it is open: closing it destroys the web view, so
/// WebKit's processes exit and the app idles in the tray with the provider alone.
/// Its state lives in the core and comes back when the window opens again.
pub fn open_window<R: Runtime>(
    app: &tauri::AppHandle<R>,
) -> tauri::Result<tauri::WebviewWindow<R>> {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        w.show()?;
        let _ = w.set_focus();
        return Ok(w);
    }
    tauri::WebviewWindowBuilder::new(app, MAIN_WINDOW, tauri::WebviewUrl::default())
        .title("Authdesk")
        .inner_size(1200.0, 780.0)
        .min_inner_size(880.0, 560.0)
        .focused(true)
        .build()
}

fn show_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Err(e) = open_window(app) {
        tracing::error!(error = %e, "cannot open the window");
    }
}

/// Runs the desktop app until Quit.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // The embedded provider takes as many connections as `authdesk serve`.
    authdesk::fsutil::raise_open_files_limit();
    let launch = match Launch::from_env() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("authdesk-desktop: {e}");
            std::process::exit(2);
        }
    };
    // The single-instance plugin must come first: a second launch only focuses the first.
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_window(app)
        }))
        .plugin(tauri_plugin_notification::init())
        .on_window_event(|_window, event| {
            // The web view and its WebKit processes are gone: hand what they freed in
            // this process back to the OS, since the app now idles in the tray.
            if let tauri::WindowEvent::Destroyed = event {
                authdesk::mem::release_freed_memory();
            }
        });
    let app = match app(builder, launch, true).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("authdesk-desktop: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|_app, event| {
        // Closing the last window keeps the provider running in the tray; only Quit
        // (an exit with a code) ends the app.
        if let tauri::RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
