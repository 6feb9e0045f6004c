//! Serving: the caller binds the listener and owns the shutdown signal
//! (`run(listener, tls, context, shutdown)`); [`Provider::start`] wires the usual case
//! for the CLI, the desktop shell and the tests.

use std::convert::Infallible;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::Extension;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::middleware::AddExtension;
use axum::response::IntoResponse;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use hyper::body::Incoming;
use tokio::sync::watch;
use tower::util::Either;
use tower::{Layer, Service, ServiceExt};

use crate::config::ServeOptions;
use crate::conn::{GuardedAcceptor, WithBodyDeadline};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::http;
use crate::idle::Activity;
use crate::keys::KeySet;
use crate::model::Timestamp;
use crate::oauth::{Context, Parts, ProviderConfig};
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
    ctx: Context,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(GRACE));
    });
    serve_with_handle(listener, tls, ctx, handle).await
}

async fn serve_with_handle(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    ctx: Context,
    handle: Handle<SocketAddr>,
) -> std::io::Result<()> {
    let activity = Activity::new();
    spawn_idle_release(&activity, &ctx.core);
    let (_ready, app) = watch::channel(Some(http::app(ctx)));
    let served = serve_app(listener, tls, app, handle, activity.clone()).await;
    activity.close();
    served
}

/// Serves `app` once it is there: connections are accepted, and their TLS handshakes
/// done, while it is still `None`; their requests wait for it. Every request marks
/// `activity`; slow clients are cut off as [`crate::conn`] says.
async fn serve_app(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: watch::Receiver<Option<http::App>>,
    handle: Handle<SocketAddr>,
    activity: Activity,
) -> std::io::Result<()> {
    let acceptor = GuardedAcceptor::new(RustlsConfig::from_config(tls), activity);
    let server = axum_server::from_tcp(listener)?.acceptor(acceptor);
    server.handle(handle).serve(MakeApp { app }).await
}

/// Once the provider goes idle after requests (of any kind), hands SQLite's caches and
/// glibc's free heap back to the OS.
fn spawn_idle_release(activity: &Activity, core: &Core) {
    let store = core.store.clone();
    activity.spawn_watcher(move || {
        let store = store.clone();
        async move {
            store.release_memory().await;
            crate::mem::release_freed_memory();
        }
    });
}

/// The service of each new connection: the app (with the peer's address, as
/// `into_make_service_with_connect_info` gives it) or, while the provider is still
/// starting, [`Starting`].
#[derive(Clone)]
struct MakeApp {
    app: watch::Receiver<Option<http::App>>,
}

type ConnService = Either<AddExtension<http::App, ConnectInfo<SocketAddr>>, Starting>;
/// The body of a request as the app gets it: hyper's, with the deadline of
/// [`crate::conn`].
type ReqBody = crate::conn::BodyDeadline<Incoming>;

impl Service<SocketAddr> for MakeApp {
    type Response = WithBodyDeadline<ConnService>;
    type Error = Infallible;
    type Future = std::future::Ready<std::result::Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, peer: SocketAddr) -> Self::Future {
        let ready = self.app.borrow().clone();
        std::future::ready(Ok(WithBodyDeadline(match ready {
            Some(app) => Either::Left(Extension(ConnectInfo(peer)).layer(app)),
            None => Either::Right(Starting {
                app: self.app.clone(),
                peer,
            }),
        })))
    }
}

/// A connection accepted before the app was ready: each request waits for it.
#[derive(Clone)]
struct Starting {
    app: watch::Receiver<Option<http::App>>,
    peer: SocketAddr,
}

impl Service<Request<ReqBody>> for Starting {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = std::result::Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let mut app = self.app.clone();
        let peer = self.peer;
        Box::pin(async move {
            let ready = app
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|r| r.clone());
            match ready {
                Some(app) => {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.oneshot(req).await
                }
                // The start failed; the server is being stopped.
                None => Ok((
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(serde_json::json!({
                        "error": "temporarily_unavailable",
                        "error_description": "Authdesk could not start; its log says why",
                    })),
                )
                    .into_response()),
            }
        })
    }
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
    /// The protocol's state: what the desktop shell and tests act on.
    pub context: Context,
    pub tls: TlsMaterial,
    handle: Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Marked by every request; releases memory once they stop.
    activity: Activity,
    /// Keeps the app published to connections accepted while it started.
    _app: watch::Sender<Option<http::App>>,
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
        let data_dir = core.data_dir().to_path_buf();
        let now = core.now();
        Self::start_opening(&data_dir, now, async { Ok(core) }, options, listener).await
    }

    /// Binds, then accepts connections (and completes their TLS handshakes) while
    /// `opening` opens the data directory's core: a freshly launched `authdesk serve`
    /// answers its first request sooner. Requests that arrive before the core is open
    /// wait for it. Returns once the provider answers; if `opening` fails, stops
    /// serving and returns its error. On a first start (no local CA yet) the core
    /// opens first.
    pub async fn open_and_start(
        data_dir: &Path,
        now: Timestamp,
        opening: impl Future<Output = Result<Core>>,
        options: &ServeOptions,
    ) -> Result<Provider> {
        let listener = bind(options.addr())?;
        Self::open_and_start_on(data_dir, now, opening, options, listener).await
    }

    /// Like [`Provider::open_and_start`] on a listener the caller bound.
    pub async fn open_and_start_on(
        data_dir: &Path,
        now: Timestamp,
        opening: impl Future<Output = Result<Core>>,
        options: &ServeOptions,
        listener: TcpListener,
    ) -> Result<Provider> {
        let paths = crate::tls::TlsPaths::new(data_dir);
        if !(paths.ca_cert().exists() && paths.ca_key().exists()) {
            // A first start makes its certificates after the core opened, so one that
            // fails on the database leaves nothing behind.
            let core = opening.await?;
            return Self::start_on(core, options, listener).await;
        }
        Self::start_opening(data_dir, now, opening, options, listener).await
    }

    async fn start_opening(
        data_dir: &Path,
        now: Timestamp,
        opening: impl Future<Output = Result<Core>>,
        options: &ServeOptions,
        listener: TcpListener,
    ) -> Result<Provider> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        let issuer = options.issuer_for(addr.port())?;
        let (app_tx, app_rx) = watch::channel(None);
        let activity = Activity::new();
        // The certificates (files) load and the server starts on a task of their own,
        // so on the other worker thread, while the core opens and its signing keys
        // load (database).
        let serving = {
            let data_dir = data_dir.to_path_buf();
            let extra = options.extra_hosts();
            let activity = activity.clone();
            tokio::spawn(async move {
                let tls = tokio::task::spawn_blocking(move || {
                    TlsMaterial::load_or_create(&data_dir, &extra, now)
                })
                .await
                .map_err(|e| Error::Other(e.to_string()))??;
                let handle = Handle::new();
                let task = tokio::spawn(serve_app(
                    listener,
                    tls.server_config()?,
                    app_rx,
                    handle.clone(),
                    activity,
                ));
                if handle.listening().await.is_none() {
                    return Err(match task.await {
                        Ok(Err(e)) => Error::io("the server stopped at start", e),
                        _ => Error::Other("the server stopped at start".into()),
                    });
                }
                Ok((tls, handle, task))
            })
        };
        let ready = async {
            let core = opening.await?;
            check_auto_approve(&core, options).await?;
            let keys = KeySet::open(&core.store, core.clock.clone()).await?;
            Ok::<_, Error>((core, keys))
        };
        let (served, ready) = tokio::join!(serving, ready);
        let (tls, handle, task) = served.map_err(|e| Error::Other(e.to_string()))??;
        let (core, keys) = match ready {
            Ok(r) => r,
            Err(e) => {
                // Waiting requests get 503 (the app never comes), then the server stops.
                drop(app_tx);
                handle.graceful_shutdown(Some(Duration::from_secs(1)));
                let _ = task.await;
                activity.close();
                return Err(e);
            }
        };
        let log = crate::log::RequestLog::start(
            core.store.clone(),
            core.events.clone(),
            options.log_retention,
            core.clock.clone(),
        );
        let faults = crate::oauth::faults::Faults::new();
        let context = Context::new(Parts {
            core,
            keys,
            config: ProviderConfig {
                issuer: issuer.clone(),
                registration_open: options.registration_open,
                auto_approve: options.auto_approve.clone(),
                preset: options.preset,
                require_par: options.require_par,
                dpop_nonce: options.dpop_nonce,
            },
            pending: Default::default(),
            log,
            dpop: Default::default(),
            dpop_bindings: Default::default(),
            faults,
            jwks_uris: Default::default(),
        });
        spawn_pruner(context.core.clone(), options.log_retention);
        spawn_idle_release(&activity, &context.core);
        app_tx.send_replace(Some(http::app(context.clone())));
        context.core.store.warm_pool();
        Ok(Provider {
            issuer,
            addr,
            context,
            tls,
            handle,
            task,
            activity,
            _app: app_tx,
        })
    }

    /// Stops accepting, lets in-flight requests finish, and closes the database.
    pub async fn shutdown(self) -> Result<()> {
        self.handle.graceful_shutdown(Some(GRACE));
        let res = self.task.await;
        self.activity.close();
        self.context.log.close().await;
        self.context.core.store.close().await;
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("server", e)),
            Err(e) => Err(Error::Other(format!("server task: {e}"))),
        }
    }

    pub fn core(&self) -> &Core {
        &self.context.core
    }

    /// How many times the provider went idle after requests and released memory.
    pub fn idle_releases(&self) -> u64 {
        self.activity.releases()
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
            let pruned = match crate::store::flows::prune_expired(
                &core.store,
                core.now(),
                24 * 3600,
            )
            .await
            {
                Ok(0) => false,
                Ok(n) => {
                    tracing::debug!(removed = n, "pruned expired codes and tokens");
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prune expired tokens");
                    false
                }
            };
            if let Err(e) = crate::log::prune(&core.store, core.now(), retention).await {
                tracing::warn!(error = %e, "cannot prune the request log");
            }
            if pruned {
                // Deleting reads the pages it changes into SQLite's caches (tens of MiB
                // after a weekend's worth on a big database), and no request may come
                // to trigger the idle release: give them back now.
                core.store.release_memory().await;
                crate::mem::release_freed_memory();
            }
            if core.store.pool().is_closed() {
                break;
            }
        }
    });
}
