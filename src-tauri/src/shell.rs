//! The running provider as the window sees it: one [`Shell`] owns the core, the
//! provider (when it runs), its status and the settings, and forwards the core's events
//! to the window through a [`Host`] — the only part that knows about Tauri.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use authdesk::config::ServeOptions;
use authdesk::events::ProviderEvent;
use authdesk::oauth::Context;
use authdesk::tls::TlsMaterial;
use authdesk::{Core, Error, Provider};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::settings::Settings;

/// Window event carrying every [`ProviderEvent`] (and the shell's own, below).
pub const EVENT: &str = "provider://event";
/// Window event carrying a bare [`ProviderStatus`] whenever it changes.
pub const STATUS_EVENT: &str = "provider://status";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    Starting,
    Running,
    PortInUse,
    Stopped,
    Error,
}

/// What the header, the banners and the tray show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ProviderStatus {
    pub state: ProviderState,
    pub issuer: String,
    pub bind: String,
    pub port: u16,
    /// Why the provider is not running, in a sentence.
    pub message: Option<String>,
    pub data_dir: String,
}

/// Events the shell adds on [`EVENT`] next to the core's.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ShellEvent {
    SettingsChanged,
}

/// What the shell needs from the desktop around it. Implemented over a Tauri
/// `AppHandle`; tests use the same implementation on the mock runtime.
pub trait Host: Send + Sync + 'static {
    fn emit(&self, event: &str, payload: serde_json::Value);
    /// The status changed (the tray shows it).
    fn status_changed(&self, _status: &ProviderStatus) {}
    /// A request waits for consent; tell the person if the window is out of sight.
    fn consent_pending(&self, _client_name: &str, _scopes: &[String]) {}
    /// Writes the settings to the store.
    fn persist_settings(&self, settings: &Settings) -> Result<(), Error>;
    /// Asks where to save a file (a native dialog titled `title`); `None` when cancelled.
    fn ask_save_path(
        &self,
        title: &str,
        file_name: &str,
    ) -> tokio::sync::oneshot::Receiver<Option<PathBuf>>;
    /// Asks which seed file (JSON or YAML) to open; `None` when cancelled.
    fn ask_open_path(&self, title: &str) -> tokio::sync::oneshot::Receiver<Option<PathBuf>>;
    /// Opens a URL in the system browser (the debugger's sign-in); `false` when it
    /// did not (no browser, or turned off): the window shows the URL to open.
    fn open_url(&self, _url: &str) -> bool {
        false
    }
}

/// How the app was launched.
#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: PathBuf,
    /// Serve on this port instead of the stored one (0: any free port); for tests.
    pub port_override: Option<u16>,
    /// Write exports here instead of asking with a save dialog; for tests.
    pub export_dir: Option<PathBuf>,
    /// Import this file instead of asking with an open dialog; for tests.
    pub import_file: Option<PathBuf>,
}

impl Launch {
    /// The data directory the CLI uses too (`AUTHDESK_DATA_DIR` overrides it), and the
    /// test overrides `AUTHDESK_PORT`, `AUTHDESK_EXPORT_DIR` and `AUTHDESK_IMPORT_FILE`.
    pub fn from_env() -> Result<Launch, Error> {
        let port_override = match std::env::var("AUTHDESK_PORT") {
            Ok(p) if !p.trim().is_empty() => Some(p.trim().parse().map_err(|_| {
                Error::invalid("AUTHDESK_PORT", format!("'{p}' is not a port number"))
            })?),
            _ => None,
        };
        Ok(Launch {
            data_dir: authdesk::config::default_data_dir()?,
            port_override,
            export_dir: std::env::var_os("AUTHDESK_EXPORT_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            import_file: std::env::var_os("AUTHDESK_IMPORT_FILE")
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// Poison only means another thread panicked mid-update; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Shell {
    pub launch: Launch,
    host: Arc<dyn Host>,
    /// Replaced when a provider shuts down, since shutting down closes the database.
    core: RwLock<Core>,
    provider: tokio::sync::Mutex<Option<Provider>>,
    /// The settings the provider runs with; saved settings may differ until a restart.
    running: Mutex<Settings>,
    settings: Mutex<Settings>,
    port_override: Mutex<Option<u16>>,
    status: Mutex<ProviderStatus>,
    bridge: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl Shell {
    /// Opens the core; the provider starts with [`Shell::start`].
    pub async fn open(
        launch: Launch,
        settings: Settings,
        host: Arc<dyn Host>,
    ) -> Result<Arc<Shell>, Error> {
        authdesk::fsutil::create_private_dir(&launch.data_dir)?;
        let core = Core::open(&launch.data_dir).await?;
        let port = launch.port_override.unwrap_or(settings.port);
        let status = ProviderStatus {
            state: ProviderState::Starting,
            issuer: settings
                .serve_options(Some(port))
                .and_then(|o| o.issuer_for(port))
                .unwrap_or_else(|_| format!("https://localhost:{port}")),
            bind: settings.bind_address.clone(),
            port,
            message: None,
            data_dir: launch.data_dir.display().to_string(),
        };
        let shell = Arc::new(Shell {
            port_override: Mutex::new(launch.port_override),
            launch,
            host,
            core: RwLock::new(core.clone()),
            provider: tokio::sync::Mutex::new(None),
            running: Mutex::new(settings.clone()),
            settings: Mutex::new(settings),
            status: Mutex::new(status),
            bridge: Mutex::new(None),
        });
        shell.bridge_events(&core);
        Ok(shell)
    }

    /// Opens `url` in the system browser, through the host.
    pub fn open_url(&self, url: &str) -> bool {
        self.host.open_url(url)
    }

    pub fn data_dir(&self) -> &Path {
        &self.launch.data_dir
    }

    pub fn core(&self) -> Core {
        self.core.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn status(&self) -> ProviderStatus {
        lock(&self.status).clone()
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// The options the provider runs (or would run) with.
    pub fn serve_options(&self) -> Result<ServeOptions, Error> {
        let settings = lock(&self.running).clone();
        settings.serve_options(*lock(&self.port_override))
    }

    /// The running provider's protocol context, for the operations that need it.
    pub async fn provider_context(&self) -> Result<Context, Error> {
        match self.provider.lock().await.as_ref() {
            Some(p) => Ok(p.context.clone()),
            None => Err(Error::Other(format!(
                "the provider is not running ({}); start it first",
                self.status().message.unwrap_or_else(|| "stopped".into())
            ))),
        }
    }

    /// The certificates in use, or those the provider would use.
    pub async fn tls(&self) -> Result<TlsMaterial, Error> {
        if let Some(p) = self.provider.lock().await.as_ref() {
            return Ok(p.tls.clone());
        }
        let dir = self.launch.data_dir.clone();
        let hosts = self
            .serve_options()
            .map(|o| o.extra_hosts())
            .unwrap_or_default();
        let now = self.core().now();
        tauri::async_runtime::spawn_blocking(move || TlsMaterial::load_or_create(&dir, &hosts, now))
            .await
            .map_err(|e| Error::Other(e.to_string()))?
    }

    /// Validates and saves new settings; returns whether the provider must restart to
    /// apply them.
    pub fn save_settings(&self, settings: Settings) -> Result<bool, Error> {
        let settings = settings.validated()?;
        self.host.persist_settings(&settings)?;
        let restart = settings.needs_restart_from(&lock(&self.running));
        *lock(&self.settings) = settings;
        self.host
            .emit(EVENT, serde_json::json!(ShellEvent::SettingsChanged));
        Ok(restart)
    }

    /// Where an export goes: the test directory, or the person's choice.
    pub async fn export_path(&self, title: &str, file_name: &str) -> Option<PathBuf> {
        if let Some(dir) = &self.launch.export_dir {
            return Some(dir.join(file_name));
        }
        self.host
            .ask_save_path(title, file_name)
            .await
            .ok()
            .flatten()
    }

    /// The file to import: the test override, else the person's choice.
    pub async fn import_path(&self, title: &str) -> Option<PathBuf> {
        if let Some(file) = &self.launch.import_file {
            return Some(file.clone());
        }
        self.host.ask_open_path(title).await.ok().flatten()
    }

    fn set_status(&self, status: ProviderStatus) {
        *lock(&self.status) = status.clone();
        self.host.status_changed(&status);
        self.host.emit(STATUS_EVENT, serde_json::json!(status));
    }

    /// Forwards every event of `core` to the window, replacing the previous bridge.
    fn bridge_events(&self, core: &Core) {
        let mut rx = core.events.subscribe();
        let host = self.host.clone();
        let task = tauri::async_runtime::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(event) => {
                        if let ProviderEvent::ConsentPending { consent } = &event {
                            host.consent_pending(&consent.client_name, &consent.scopes);
                        }
                        match serde_json::to_value(&event) {
                            Ok(v) => host.emit(EVENT, v),
                            Err(e) => tracing::warn!(error = %e, "cannot serialise an event"),
                        }
                    }
                    // The window missed some events: have every view reload.
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "event bridge lagged");
                        host.emit(
                            EVENT,
                            serde_json::json!(ProviderEvent::TokenChanged { id: None }),
                        );
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        if let Some(old) = lock(&self.bridge).replace(task) {
            old.abort();
        }
    }

    /// Starts the provider with the saved settings unless it runs. Never fails: a busy
    /// port or any other problem becomes the status, which the window shows.
    pub async fn start(&self) -> ProviderStatus {
        let mut slot = self.provider.lock().await;
        if slot.is_some() {
            return self.status();
        }
        let settings = self.settings();
        *lock(&self.running) = settings.clone();
        let port_override = *lock(&self.port_override);
        let port = port_override.unwrap_or(settings.port);
        let mut status = ProviderStatus {
            state: ProviderState::Starting,
            issuer: format!("https://localhost:{port}"),
            bind: settings.bind_address.clone(),
            port,
            message: None,
            data_dir: self.launch.data_dir.display().to_string(),
        };
        self.set_status(status.clone());
        let options = match settings.serve_options(port_override) {
            Ok(o) => o,
            Err(e) => {
                status.state = ProviderState::Error;
                status.message = Some(e.to_string());
                self.set_status(status.clone());
                return status;
            }
        };
        if let Ok(issuer) = options.issuer_for(port) {
            status.issuer = issuer;
        }
        let listener = match bind(&options) {
            Ok(l) => l,
            Err((state, message)) => {
                tracing::warn!("{message}");
                status.state = state;
                status.message = Some(message);
                self.set_status(status.clone());
                return status;
            }
        };
        match Provider::start_on(self.core(), &options, listener).await {
            Ok(provider) => {
                tracing::info!(issuer = %provider.issuer, "provider running");
                status.state = ProviderState::Running;
                status.issuer = provider.issuer.clone();
                status.port = provider.addr.port();
                *slot = Some(provider);
            }
            Err(e) => {
                tracing::error!(error = %e, "the provider did not start");
                status.state = ProviderState::Error;
                status.message = Some(e.to_string());
            }
        }
        self.set_status(status.clone());
        status
    }

    /// Stops the provider, letting in-flight requests finish. The core is reopened so
    /// the window keeps working while the provider is stopped.
    pub async fn stop(&self) -> Result<(), Error> {
        let mut slot = self.provider.lock().await;
        let Some(provider) = slot.take() else {
            return Ok(());
        };
        let result = provider.shutdown().await;
        let core = Core::open(&self.launch.data_dir).await?;
        *self.core.write().unwrap_or_else(|e| e.into_inner()) = core.clone();
        self.bridge_events(&core);
        let mut status = self.status();
        status.state = ProviderState::Stopped;
        status.message = None;
        self.set_status(status);
        result
    }

    /// Stops for good (Quit): the database is closed and nothing is reopened.
    pub async fn shutdown(&self) -> Result<(), Error> {
        let provider = self.provider.lock().await.take();
        if let Some(old) = lock(&self.bridge).take() {
            old.abort();
        }
        match provider {
            Some(p) => p.shutdown().await,
            None => {
                self.core().store.close().await;
                Ok(())
            }
        }
    }

    pub async fn restart(&self) -> Result<ProviderStatus, Error> {
        self.stop().await?;
        Ok(self.start().await)
    }

    /// Serves on another port from now on (and saves it), e.g. after "port in use".
    pub async fn change_port(&self, port: u16) -> Result<ProviderStatus, Error> {
        if port == 0 {
            return Err(Error::invalid(
                "port",
                "a port is a whole number from 1 to 65535",
            ));
        }
        let mut settings = self.settings();
        settings.port = port;
        self.host.persist_settings(&settings)?;
        *lock(&self.settings) = settings;
        *lock(&self.port_override) = None;
        // An open Settings view shows the new port instead of saving the old one back.
        self.host
            .emit(EVENT, serde_json::json!(ShellEvent::SettingsChanged));
        self.restart().await
    }
}

/// Binds the provider's socket, telling a busy port apart from other failures.
fn bind(options: &ServeOptions) -> Result<TcpListener, (ProviderState, String)> {
    let addr = options.addr();
    match TcpListener::bind(addr) {
        Ok(l) => {
            l.set_nonblocking(true).map_err(|e| {
                (
                    ProviderState::Error,
                    format!("cannot configure the listener: {e}"),
                )
            })?;
            Ok(l)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err((
            ProviderState::PortInUse,
            format!("{addr} is already in use (another Authdesk, or another server?)."),
        )),
        Err(e) => Err((
            ProviderState::Error,
            authdesk::server::bind(addr)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| format!("cannot listen on {addr}: {e}")),
        )),
    }
}
