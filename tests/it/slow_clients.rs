//! Clients that hold a connection without finishing what they started are cut off, so
//! a stuck or malicious client cannot exhaust the provider's connections; and a
//! provider left idle after any request gives its memory back. Real TLS through the
//! provider's CA, over raw sockets (a client library would not stop halfway).
//!
//! These tests wait for the server to close each connection; they measure nothing.
//! [`GUARD`] only keeps a broken build from hanging the suite.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authdesk::Provider;

use crate::support::{TestProvider, client_trusting, get_json, pem_certificates};

/// How long a test waits for the server to close a connection before it fails.
/// Far beyond every deadline of `authdesk::conn`.
const GUARD: Duration = Duration::from_secs(90);

/// A TCP connection to the provider whose reads give up after [`GUARD`].
/// The provider's CA, PEM.
fn provider_ca_pem(provider: &Provider) -> Vec<u8> {
    provider
        .tls
        .export(authdesk::tls::ExportFormat::Pem)
        .expect("the CA exports as PEM")
}

fn tcp(provider: &Provider) -> TcpStream {
    let tcp = TcpStream::connect(("127.0.0.1", provider.addr.port())).expect("connect");
    tcp.set_read_timeout(Some(GUARD)).expect("read timeout");
    tcp
}

/// A completed TLS connection trusting only the provider's CA, offering `alpn`.
fn tls(
    provider: &Provider,
    alpn: &[&[u8]],
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for der in pem_certificates(&provider_ca_pem(provider)) {
        roots.add(der.into()).expect("CA certificate");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = tcp(provider);
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("TLS handshake");
    }
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads until the server closes the connection; returns what it sent. Fails if the
/// connection is still open after [`GUARD`].
fn wait_for_close(mut stream: impl Read, what: &str) -> Vec<u8> {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                return out;
            }
            Err(e) => panic!(
                "{what}: the connection was still open after {:?} ({e}); received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_halfway_through_its_request_head_is_disconnected() {
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let mut stream = tls(provider, &[b"http/1.1"]);
    let received = tokio::task::spawn_blocking(move || {
        stream
            .write_all(b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n")
            .expect("send half a request head");
        stream.flush().expect("flush");
        wait_for_close(stream, "half a request head")
    })
    .await
    .unwrap();
    let received = String::from_utf8_lossy(&received);
    assert!(
        !received.contains(" 200 "),
        "an unfinished request was answered: {received}"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_request_head_byte_by_byte_is_disconnected() {
    // Each byte arrives well within the idle deadline; the head as a whole never does.
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let mut stream = tls(provider, &[b"http/1.1"]);
    tokio::task::spawn_blocking(move || {
        stream
            .write_all(b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .expect("start a request head");
        // The read timeout paces the bytes: one a second while the connection is open.
        stream
            .sock
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("read timeout");
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            assert!(
                started.elapsed() < GUARD,
                "a head trickled for {GUARD:?} is still being read"
            );
            match stream.write_all(b"a").and_then(|()| stream.flush()) {
                Ok(()) => {}
                Err(_) => return, // closed while writing
            }
            match stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {} // an error answer (408) before the close
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return, // reset or closed without close_notify
            }
        }
    })
    .await
    .unwrap();
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_sending_its_request_body_gets_a_400_and_is_disconnected() {
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let mut stream = tls(provider, &[b"http/1.1"]);
    let received = tokio::task::spawn_blocking(move || {
        stream
            .write_all(
                b"POST /token HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\n\
                  Content-Length: 1000\r\n\r\ngrant_type",
            )
            .expect("send a head and the start of its body");
        stream.flush().expect("flush");
        wait_for_close(stream, "a body that stops")
    })
    .await
    .unwrap();
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.starts_with("HTTP/1.1 400 "),
        "a body that never came should be a bad request: {received}"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_nothing_after_its_tls_handshake_is_disconnected() {
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    // Both protocols: with no byte sent the server cannot yet tell HTTP/1 from HTTP/2.
    let stream = tls(provider, &[b"h2", b"http/1.1"]);
    tokio::task::spawn_blocking(move || wait_for_close(stream, "nothing after the handshake"))
        .await
        .unwrap();
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_that_stops_inside_its_preface_is_disconnected() {
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let mut stream = tls(provider, &[b"h2"]);
    tokio::task::spawn_blocking(move || {
        stream
            .write_all(b"PRI * HTTP/2.0\r\n")
            .expect("half a preface");
        stream.flush().expect("flush");
        wait_for_close(stream, "half an HTTP/2 preface")
    })
    .await
    .unwrap();
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_its_tls_hello_is_disconnected() {
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let tcp = tcp(provider);
    let received = tokio::task::spawn_blocking(move || wait_for_close(tcp, "no TLS hello"))
        .await
        .unwrap();
    assert!(received.is_empty(), "{received:?}");
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_still_serves_request_after_request() {
    // The deadlines must not cut off a client that keeps its side of the bargain.
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let mut stream = tls(provider, &[b"http/1.1"]);
    let answers = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        for _ in 0..3 {
            stream
                .write_all(b"GET /jwks HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .expect("send a request");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).expect("read the answer");
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().expect("content-length"))
                .expect("a content-length");
            let mut body = vec![0u8; length];
            stream.read_exact(&mut body).expect("read the body");
            answers.push(head.lines().next().unwrap_or_default().to_string());
        }
        answers
    })
    .await
    .unwrap();
    assert_eq!(answers, ["http/1.1 200 ok"; 3]);
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_released_after_requests_the_log_does_not_record() {
    // JWKS and discovery are not in the request log, which used to be what started
    // the idle release; after traffic to them alone RSS stayed at 32-36 MiB.
    let tp = TestProvider::start().await;
    let provider = &tp.provider;
    let before = provider.idle_releases();
    let client = client_trusting(&provider_ca_pem(provider));
    get_json(&client, &format!("{}/jwks", provider.issuer)).await;
    get_json(
        &client,
        &format!("{}/.well-known/openid-configuration", provider.issuer),
    )
    .await;
    let deadline = Instant::now() + GUARD;
    while provider.idle_releases() == before {
        assert!(
            Instant::now() < deadline,
            "no idle release within {GUARD:?} of the last request"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = authdesk::log::list(provider.core().store.pool(), None, None, 100)
        .await
        .unwrap();
    assert!(
        logged.is_empty(),
        "these requests are logged now, so this test no longer tests requests the log does not record: {logged:?}"
    );
    tp.stop().await;
}
