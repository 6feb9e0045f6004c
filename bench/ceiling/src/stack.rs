//! What the ceiling and the floor share: their arguments, the TLS configuration (rustls
//! 0.23 with the ring provider, ALPN h2 + http/1.1, as Authdesk's) and serving a router
//! on axum-server until SIGINT or SIGTERM.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;

pub struct Args {
    pub bind: IpAddr,
    pub port: u16,
    pub cert: String,
    pub key: String,
    /// Anything else (`--name value`), for the program's own options.
    pub extra: Vec<(String, String)>,
}

pub fn parse_args() -> Result<Args, String> {
    let mut bind: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0u16;
    let mut cert = None;
    let mut key = None;
    let mut extra = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--bind" => bind = val("--bind")?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--port" => port = val("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--cert" => cert = Some(val("--cert")?),
            "--key" => key = Some(val("--key")?),
            other if other.starts_with("--") => extra.push((other.to_string(), val(other)?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        bind,
        port,
        cert: cert.ok_or("--cert FILE is required")?,
        key: key.ok_or("--key FILE is required")?,
        extra,
    })
}

pub fn tls_config(cert: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| format!("{key}: {e}"))?
        .ok_or(format!("{key}: no private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs `serve` on a tokio multi-thread runtime (one worker per core, as Authdesk's),
/// exiting with a message on failure.
pub fn run<F: std::future::Future<Output = Result<(), String>>>(name: &str, serve: impl FnOnce(Args) -> F) {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(args)) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}

/// Serves `app` over HTTPS; prints `listening https://ADDR` once it accepts connections.
pub async fn serve(args: &Args, app: Router) -> Result<(), String> {
    let tls = tls_config(&args.cert, &args.key)?;
    let listener = TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .map_err(|e| format!("cannot listen: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))
        .map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening https://{addr}");
        let _ = out.flush();
    }
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            h.shutdown();
        }
    });
    server
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .map_err(|e| e.to_string())
}
