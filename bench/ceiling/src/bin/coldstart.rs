//! Cold start: time from process launch to the first successful token response.
//!
//! coldstart --runs N --cacert CA.pem [--path /token] [--auth 'Basic …']
//!           [--body 'grant_type=client_credentials'] [--expect access_token]
//!           [--timeout-secs 30] -- PROGRAM ARGS…
//!
//! Each run picks a free loopback port and substitutes it for `{port}` in the
//! arguments, launches the program (stdout and stderr discarded), then tries, every
//! 250 µs, to connect to 127.0.0.1:PORT, complete a TLS handshake verified against
//! CA.pem (server name `localhost`) and POST the body. The clock stops at the first
//! HTTP 200 whose body contains the expected text; connection refusals and other
//! answers are retried. The program is then stopped with SIGTERM and waited for
//! before the next run. Prints one JSON object: every run in ms, median, min, max.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    runs: usize,
    cacert: String,
    path: String,
    auth: Option<String>,
    body: String,
    expect: String,
    timeout: Duration,
    program: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runs: 5,
        cacert: String::new(),
        path: "/token".into(),
        auth: None,
        body: "grant_type=client_credentials".into(),
        expect: "access_token".into(),
        timeout: Duration::from_secs(30),
        program: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--" {
            a.program = it.by_ref().collect();
            break;
        }
        let v = it.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--runs" => a.runs = v.parse().map_err(|e| format!("--runs: {e}"))?,
            "--cacert" => a.cacert = v,
            "--path" => a.path = v,
            "--auth" => a.auth = Some(v),
            "--body" => a.body = v,
            "--expect" => a.expect = v,
            "--timeout-secs" => {
                a.timeout = Duration::from_secs(v.parse().map_err(|e| format!("--timeout-secs: {e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.program.is_empty() {
        return Err("give the program after --".into());
    }
    if a.cacert.is_empty() {
        return Err("--cacert CA.pem is required".into());
    }
    Ok(a)
}

fn client_config(cacert: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let pem = std::fs::read(cacert).map_err(|e| format!("cannot read {cacert}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(c.map_err(|e| format!("{cacert}: {e}"))?)
            .map_err(|e| format!("{cacert}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

enum Attempt {
    /// Not listening yet, or the connection broke: try again.
    NotYet,
    Answer(u16, String),
}

fn attempt(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, a: &Args) -> Result<Attempt, String> {
    let Ok(tcp) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return Ok(Attempt::NotYet);
    };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(tls.clone(), name).map_err(|e| e.to_string())?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: localhost:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.path,
        addr.port(),
        a.body.len()
    );
    if let Some(auth) = &a.auth {
        req.push_str(&format!("Authorization: {auth}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&a.body);
    if let Err(e) = s.write_all(req.as_bytes()).and_then(|_| s.flush()) {
        // A certificate the CA does not vouch for is a setup error, not "not yet".
        if e.kind() == std::io::ErrorKind::InvalidData {
            return Err(format!("TLS: {e}"));
        }
        return Ok(Attempt::NotYet);
    }
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        // rustls reports a peer that closes without close_notify as UnexpectedEof.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Err(format!("TLS: {e}")),
        Err(_) => return Ok(Attempt::NotYet),
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Attempt::Answer(status, text))
}

fn one_run(a: &Args, tls: &Arc<rustls::ClientConfig>) -> Result<f64, String> {
    let port = free_port()?;
    let args: Vec<String> = a.program[1..]
        .iter()
        .map(|s| s.replace("{port}", &port.to_string()))
        .collect();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let start = Instant::now();
    let mut child = Command::new(&a.program[0])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot launch {}: {e}", a.program[0]))?;
    let result = loop {
        if start.elapsed() > a.timeout {
            break Err(format!("no successful token response within {:?}", a.timeout));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("{} exited early with {status}", a.program[0]));
        }
        match attempt(addr, tls, a) {
            Err(e) => break Err(e),
            Ok(Attempt::Answer(200, text)) if text.contains(&a.expect) => {
                break Ok(start.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(Attempt::Answer(status, text)) if status >= 400 && status != 503 => {
                let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
                break Err(format!("the server answered {status}: {body}"));
            }
            Ok(_) => std::thread::sleep(Duration::from_micros(250)),
        }
    };
    // SIGTERM, then wait (SIGKILL after 10 s).
    let pid = child.id() as libc::pid_t;
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
        }
    }
    result
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("coldstart: {e}");
            std::process::exit(2);
        }
    };
    let tls = match client_config(&a.cacert) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("coldstart: {e}");
            std::process::exit(2);
        }
    };
    let mut runs = Vec::new();
    for _ in 0..a.runs {
        match one_run(&a, &tls) {
            Ok(ms) => runs.push(ms),
            Err(e) => {
                eprintln!("coldstart: {e}");
                std::process::exit(1);
            }
        }
        // Let the previous process's exit settle before the next launch.
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut sorted = runs.clone();
    sorted.sort_by(|x, y| x.total_cmp(y));
    let n = sorted.len();
    let median = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let out = serde_json::json!({
        "runs_ms": runs.iter().map(|v| round(*v)).collect::<Vec<_>>(),
        "median_ms": round(median),
        "min_ms": round(sorted.first().copied().unwrap_or(0.0)),
        "max_ms": round(sorted.last().copied().unwrap_or(0.0)),
    });
    println!("{out}");
}
