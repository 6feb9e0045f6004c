//! The [`Host`] over a Tauri `AppHandle`: window events, the settings store, the save
//! dialog, the tray and notifications.

use std::path::PathBuf;

use authdesk::Error;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_store::StoreExt;

use crate::settings::{STORE_FILE, STORE_KEY, Settings};
use crate::shell::{Host, ProviderStatus};

pub struct TauriHost<R: Runtime> {
    app: AppHandle<R>,
    /// `settings.json` in the core's data directory, so one directory holds everything.
    store_path: PathBuf,
    /// Tray and notifications exist (not under the mock runtime).
    desktop: bool,
}

impl<R: Runtime> TauriHost<R> {
    pub fn new(app: AppHandle<R>, data_dir: PathBuf, desktop: bool) -> Self {
        TauriHost {
            app,
            store_path: data_dir.join(STORE_FILE),
            desktop,
        }
    }

    /// The stored settings; defaults for what is missing or unreadable.
    pub fn load_settings(&self) -> Settings {
        let stored = self
            .app
            .store(&self.store_path)
            .map_err(|e| tracing::warn!(error = %e, "cannot open the settings store"))
            .ok()
            .and_then(|s| s.get(STORE_KEY));
        match stored.map(serde_json::from_value::<Settings>) {
            Some(Ok(s)) => s.validated().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "stored settings are invalid; using the defaults");
                Settings::default()
            }),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "stored settings are unreadable; using the defaults");
                Settings::default()
            }
            None => Settings::default(),
        }
    }

    /// Whether the person is looking at the window: it exists, is shown, not minimised
    /// and has the focus. Otherwise a request waiting for consent deserves a notification.
    fn window_in_view(&self) -> bool {
        self.app.get_webview_window("main").is_some_and(|w| {
            w.is_visible().unwrap_or(false)
                && !w.is_minimized().unwrap_or(false)
                && w.is_focused().unwrap_or(false)
        })
    }
}

impl<R: Runtime> Host for TauriHost<R> {
    fn emit(&self, event: &str, payload: serde_json::Value) {
        if let Err(e) = self.app.emit(event, payload) {
            tracing::debug!(error = %e, event, "cannot emit to the window");
        }
    }

    fn status_changed(&self, status: &ProviderStatus) {
        if self.desktop {
            crate::tray::update(&self.app, status);
        }
    }

    fn consent_pending(&self, client_name: &str, scopes: &[String]) {
        if !self.desktop || self.window_in_view() {
            return;
        }
        use tauri_plugin_notification::NotificationExt;
        let body = if scopes.is_empty() {
            format!("{client_name} is waiting for your consent.")
        } else {
            format!(
                "{client_name} asks for {}. Open Authdesk to approve or deny.",
                scopes.join(" ")
            )
        };
        if let Err(e) = self
            .app
            .notification()
            .builder()
            .title("Consent requested")
            .body(body)
            .show()
        {
            tracing::debug!(error = %e, "cannot show a notification");
        }
    }

    fn persist_settings(&self, settings: &Settings) -> Result<(), Error> {
        let store = self
            .app
            .store(&self.store_path)
            .map_err(|e| Error::Other(format!("cannot open the settings store: {e}")))?;
        store.set(STORE_KEY, serde_json::json!(settings));
        store
            .save()
            .map_err(|e| Error::Other(format!("cannot save {}: {e}", self.store_path.display())))
    }

    fn ask_save_path(
        &self,
        title: &str,
        file_name: &str,
    ) -> tokio::sync::oneshot::Receiver<Option<PathBuf>> {
        let file_name = file_name.to_string();
        self.dialog(title, "save", move |dialog| {
            dialog.set_file_name(&file_name).save_file()
        })
    }

    /// `AUTHDESK_NO_BROWSER=1` turns it off (the window test follows the URL itself).
    fn open_url(&self, url: &str) -> bool {
        if !self.desktop || std::env::var_os("AUTHDESK_NO_BROWSER").is_some_and(|v| v != "0") {
            return false;
        }
        match tauri_plugin_opener::open_url(url, None::<&str>) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the browser");
                false
            }
        }
    }

    fn ask_open_path(&self, title: &str) -> tokio::sync::oneshot::Receiver<Option<PathBuf>> {
        self.dialog(title, "open", |dialog| {
            dialog
                .add_filter("Seed files (JSON, YAML)", &["json", "yaml", "yml"])
                .add_filter("All files", &["*"])
                .pick_file()
        })
    }
}

impl<R: Runtime> TauriHost<R> {
    /// Runs a native file dialog, starting in the home directory, on the main thread
    /// (GTK dialogs belong to the thread of the event loop).
    fn dialog(
        &self,
        title: &str,
        kind: &'static str,
        run: impl FnOnce(rfd::FileDialog) -> Option<PathBuf> + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<Option<PathBuf>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let title = title.to_string();
        let start = dirs_home();
        let ran = self.app.run_on_main_thread(move || {
            let mut dialog = rfd::FileDialog::new().set_title(&title);
            if let Some(dir) = start {
                dialog = dialog.set_directory(dir);
            }
            let _ = tx.send(run(dialog));
        });
        if let Err(e) = ran {
            tracing::warn!(error = %e, kind, "cannot open the file dialog");
        }
        rx
    }
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}
