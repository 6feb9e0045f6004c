//! Serving: the caller binds the listener and owns the shutdown signal
//! (`run(listener, tls, state, shutdown)`); [`Provider::start`] wires the usual case
//! for the CLI, the desktop shell and the tests.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::config::ServeOptions;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::http::{self, AppParts, AppState, ProviderConfig};
use crate::keys::KeySet;
use crate::tls::TlsMaterial;

/// How long in-flight requests get to finish after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Binds `addr`, turning the usual failures into one clear sentence.
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => Error::Other(format!(
            "{addr} is already in use (another Authdesk, or another server?); stop it or choose another port with --port"
        )),
        std::io::ErrorKind::PermissionDenied => Error::Other(format!(
            "no permission to listen on {addr}; ports below 1024 need privileges, choose another with --port"
        )),
        std::io::ErrorKind::AddrNotAvailable => Error::Other(format!(
            "{} is not an address of this machine; choose another with --bind",
            addr.ip()
        )),
        _ => Error::io(format!("cannot listen on {addr}"), e),
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("cannot configure the listener", e))?;
    Ok(listener)
}

/// Serves HTTPS on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (up to [`GRACE`]).
pub async fn run(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(GRACE));
    });
    serve_with_handle(listener, tls, state, handle).await
}

async fn serve_with_handle(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    handle: Handle<SocketAddr>,
) -> std::io::Result<()> {
    let app = http::app(state);
    axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

async fn check_auto_approve(core: &Core, options: &ServeOptions) -> Result<()> {
    if let Some(user) = &options.auto_approve {
        core.get_user(user).await.map_err(|_| {
            Error::invalid(
                "auto_approve",
                format!(
                    "--auto-approve {user}: no such user; create it first or pick an existing one"
                ),
            )
        })?;
    }
    Ok(())
}

/// A provider that is accepting connections.
#[derive(Debug)]
pub struct Provider {
    pub issuer: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub tls: TlsMaterial,
    handle: Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Provider {
    /// Loads certificates and keys, binds, and starts serving. Returns once the server
    /// accepts connections.
    pub async fn start(core: Core, options: &ServeOptions) -> Result<Provider> {
        check_auto_approve(&core, options).await?;
        let listener = bind(options.addr())?;
        Self::start_on(core, options, listener).await
    }

    /// Like [`Provider::start`] on a listener the caller bound.
    pub async fn start_on(
        core: Core,
        options: &ServeOptions,
        listener: TcpListener,
    ) -> Result<Provider> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        let issuer = options.issuer_for(addr.port())?;
        let now = core.now();
        let data_dir = core.data_dir().to_path_buf();
        let extra = options.extra_hosts();
        // The certificates (files) and the signing keys (database) load side by side.
        let tls = tokio::task::spawn_blocking(move || {
            TlsMaterial::load_or_create(&data_dir, &extra, now)
        });
        let keys = KeySet::load_or_create(&core.store, now).await?;
        let tls = tls.await.map_err(|e| Error::Other(e.to_string()))??;
        check_auto_approve(&core, options).await?;
        let log = crate::log::RequestLog::start(
            core.store.clone(),
            core.events.clone(),
            options.log_retention,
        );
        let state = AppState::new(AppParts {
            core,
            keys,
            config: Arc::new(ProviderConfig {
                issuer: issuer.clone(),
                registration_open: options.registration_open,
                auto_approve: options.auto_approve.clone(),
            }),
            pending: Default::default(),
            pages: Default::default(),
            log,
        });
        spawn_pruner(state.core.clone(), options.log_retention);
        let handle = Handle::new();
        let server_config = tls.server_config()?;
        let task = tokio::spawn(serve_with_handle(
            listener,
            server_config,
            state.clone(),
            handle.clone(),
        ));
        if handle.listening().await.is_none() {
            return Err(match task.await {
                Ok(Err(e)) => Error::io("the server stopped at start", e),
                _ => Error::Other("the server stopped at start".into()),
            });
        }
        Ok(Provider {
            issuer,
            addr,
            state,
            tls,
            handle,
            task,
        })
    }

    /// Stops accepting, lets in-flight requests finish, and closes the database.
    pub async fn shutdown(self) -> Result<()> {
        self.handle.graceful_shutdown(Some(GRACE));
        let res = self.task.await;
        self.state.core.store.close().await;
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("server", e)),
            Err(e) => Err(Error::Other(format!("server task: {e}"))),
        }
    }

    pub fn core(&self) -> &Core {
        &self.state.core
    }
}

/// Expired codes and tokens are kept a day for the window, then removed in the
/// background so lookups stay fast as the tables would otherwise grow.
/// The pruner's first run waits this long after start, so it does not hold SQLite's
/// write lock (and open pool connections) while a freshly started provider answers
/// its first requests.
const PRUNE_FIRST_AFTER: Duration = Duration::from_secs(2);

fn spawn_pruner(core: Core, retention: crate::log::Retention) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + PRUNE_FIRST_AFTER,
            Duration::from_secs(600),
        );
        loop {
            tick.tick().await;
            match crate::store::flows::prune_expired(&core.store, core.now(), 24 * 3600).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "pruned expired codes and tokens"),
                Err(e) => tracing::warn!(error = %e, "cannot prune expired tokens"),
            }
            if let Err(e) = crate::log::prune(&core.store, core.now(), retention).await {
                tracing::warn!(error = %e, "cannot prune the request log");
            }
            if core.store.pool().is_closed() {
                break;
            }
        }
    });
}
