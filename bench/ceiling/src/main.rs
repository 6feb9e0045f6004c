//! The benchmark's ceiling: what the web stack Authdesk is built on (axum 0.8 on
//! axum-server, rustls 0.23 with the ring provider, ALPN h2 + http/1.1, a tokio
//! multi-thread runtime) can answer at most on this machine. `POST /token` reads the
//! request body and returns a fixed, token-shaped JSON document with the same
//! `Cache-Control: no-store` headers as a real token response; no parsing, no
//! authentication, no signing, no storage.
//!
//! ceiling --cert server.pem --key server-key.pem [--port 0] [--bind 127.0.0.1]
//! prints `listening https://127.0.0.1:PORT` once it accepts connections.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_server::tls_rustls::RustlsConfig;

struct Args {
    bind: IpAddr,
    port: u16,
    cert: String,
    key: String,
}

fn parse_args() -> Result<Args, String> {
    let mut bind: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0u16;
    let mut cert = None;
    let mut key = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--bind" => bind = val("--bind")?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--port" => port = val("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--cert" => cert = Some(val("--cert")?),
            "--key" => key = Some(val("--key")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        bind,
        port,
        cert: cert.ok_or("--cert FILE is required")?,
        key: key.ok_or("--key FILE is required")?,
    })
}

fn tls_config(cert: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, String> {
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

/// A token response as long as a real one: an ES256 JWT access token of the usual size.
fn token_body() -> Bytes {
    let header = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImNlaWxpbmcifQ";
    let claims = "x".repeat(300);
    let sig = "s".repeat(86);
    let body = serde_json::json!({
        "access_token": format!("{header}.{claims}.{sig}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "api.read api.write",
    });
    Bytes::from(body.to_string())
}

async fn token(body: Bytes, fixed: Bytes) -> Response {
    drop(body);
    let mut res = fixed.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ceiling: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ceiling: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(args)) {
        eprintln!("ceiling: {e}");
        std::process::exit(1);
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let tls = tls_config(&args.cert, &args.key)?;
    let listener = TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .map_err(|e| format!("cannot listen: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let fixed = token_body();
    let app = Router::new().route(
        "/token",
        post(move |body: Bytes| token(body, fixed.clone())),
    );
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
