//! The provider started in-process on port 0 as `serve` starts without flags:
//! discovery, JWKS, the TLS chain, what a restart keeps, the permissions of what a first
//! start writes, a launch whose database is slow or fails, and changes made by another
//! process.

use std::collections::BTreeMap;

use authdesk::Core;
use authdesk::config::ServeOptions;
use authdesk::model::{ClientInput, SigningAlg, UserInput};
use authdesk::tls::TlsMaterial;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::{
    DataDir, REDIRECT, TestProvider, client_trusting, error_chain, get_json, mode,
    pem_certificates, trusting,
};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const AS_METADATA: &str = "/.well-known/oauth-authorization-server";

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_documents_name_the_issuer_jwks_algorithms_and_default_scopes() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    assert_eq!(
        provider.issuer,
        format!("https://localhost:{}", provider.addr.port())
    );
    let client = &tp.http;

    for path in [DISCOVERY, AS_METADATA] {
        let doc = get_json(client, &format!("{}{path}", provider.issuer)).await;
        assert_eq!(doc["issuer"], json!(provider.issuer), "{path}: issuer");
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no jwks_uri in {doc}"));
        assert!(
            jwks_uri.starts_with(&format!("{}/", provider.issuer)),
            "{path}: jwks_uri {jwks_uri} is not under the issuer"
        );
        // The advertised JWKS is served where the document says.
        let jwks = get_json(client, jwks_uri).await;
        assert!(
            !jwks["keys"].as_array().expect("keys").is_empty(),
            "{path}: empty JWKS"
        );

        let algs = strings(&doc["id_token_signing_alg_values_supported"]);
        assert!(
            algs.contains(&"RS256"),
            "{path}: RS256 missing from {algs:?}"
        );
        let scopes = strings(&doc["scopes_supported"]);
        for s in ["openid", "profile", "email", "offline_access"] {
            assert!(
                scopes.contains(&s),
                "{path}: scope {s} missing from {scopes:?}"
            );
        }
    }
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_apps_may_call_the_api_endpoints_from_any_origin_but_not_the_pages() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    let client = &tp.http;
    let origin = "http://localhost:5173";
    let preflight = |path: &str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}{path}", provider.issuer),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    for path in [
        "/token",
        "/userinfo",
        "/introspect",
        "/revoke",
        "/device_authorization",
        "/api/me",
        "/jwks",
        DISCOVERY,
        AS_METADATA,
    ] {
        let r = preflight(path).await.expect("preflight");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let headers = header(&r, "access-control-allow-headers").unwrap_or_default();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{path}: {headers}"
        );
        let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("post"), "{path}: {methods}");
    }
    // The answer itself is readable, and so is why a request was refused.
    let r = client
        .post(format!("{}/token", provider.issuer))
        .header("origin", origin)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let exposed = header(&r, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    // The pages (which use the session cookie) and registration are not for scripts of
    // other sites.
    for path in [
        "/authorize",
        "/authorize/decision",
        "/register",
        "/end_session",
        "/device",
    ] {
        let r = preflight(path).await.expect("preflight");
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{path}");
    }
    tp.stop().await;
}

/// RFC 7638: SHA-256 of the required members, lexicographically ordered, no whitespace.
fn rfc7638_thumbprint(jwk: &Value) -> String {
    let required: &[&str] = match jwk["kty"].as_str() {
        Some("RSA") => &["e", "kty", "n"],
        Some("EC") => &["crv", "kty", "x", "y"],
        other => panic!("unexpected kty {other:?}"),
    };
    let members: BTreeMap<&str, &Value> = required
        .iter()
        .map(|k| {
            (
                *k,
                jwk.get(*k)
                    .unwrap_or_else(|| panic!("{k} missing from {jwk}")),
            )
        })
        .collect();
    let canonical = serde_json::to_string(&members).expect("canonical JSON");
    B64URL.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

fn b64url_bytes(jwk: &Value, member: &str) -> Vec<u8> {
    let text = jwk[member]
        .as_str()
        .unwrap_or_else(|| panic!("{member} missing from {jwk}"));
    B64URL
        .decode(text)
        .unwrap_or_else(|e| panic!("{member} is not unpadded base64url ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_has_one_rs256_and_one_es256_key_whose_kids_are_their_thumbprints() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    let client = &tp.http;
    let jwks = get_json(client, &format!("{}/jwks", provider.issuer)).await;
    let keys = jwks["keys"].as_array().expect("keys array");

    let kids: std::collections::HashSet<&str> = keys
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids.len(), keys.len(), "kids are not distinct: {jwks}");

    let rsa: Vec<&Value> = keys.iter().filter(|k| k["alg"] == "RS256").collect();
    let ec: Vec<&Value> = keys.iter().filter(|k| k["alg"] == "ES256").collect();
    assert_eq!(rsa.len(), 1, "one RS256 key expected: {jwks}");
    assert_eq!(ec.len(), 1, "one ES256 key expected: {jwks}");
    let (rsa, ec) = (rsa[0], ec[0]);

    assert_eq!(rsa["kty"], "RSA");
    assert_eq!(rsa["e"], "AQAB");
    let n = b64url_bytes(rsa, "n");
    assert!(
        n.len() >= 256,
        "RSA modulus of {} bytes is under 2048 bits",
        n.len()
    );
    assert_ne!(
        n[0], 0,
        "RFC 7518 §6.3.1.1: n must not have a leading zero octet"
    );

    assert_eq!(ec["kty"], "EC");
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(b64url_bytes(ec, "x").len(), 32);
    assert_eq!(b64url_bytes(ec, "y").len(), 32);

    for key in [rsa, ec] {
        assert_eq!(key["use"], "sig", "{key}");
        assert_eq!(
            key["kid"].as_str(),
            Some(rfc7638_thumbprint(key).as_str()),
            "kid is not the thumbprint: {key}"
        );
        assert!(
            key.get("d").is_none(),
            "the JWKS publishes a private key: {key}"
        );
    }
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_jwks_verifies_what_the_provider_keys_sign() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    let client = &tp.http;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(client, &format!("{}/jwks", provider.issuer)).await)
            .expect("a JWK Set");

    for (alg, jwt_alg) in [
        (SigningAlg::Rs256, jsonwebtoken::Algorithm::RS256),
        (SigningAlg::Es256, jsonwebtoken::Algorithm::ES256),
    ] {
        let key = provider.context.keys.get(alg).expect("signing key");
        let token = key
            .sign_jwt("JWT", &json!({"sub": "alice", "iss": provider.issuer}))
            .expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("JWS header");
        let kid = header.kid.expect("kid in the header");
        let jwk = jwks
            .find(&kid)
            .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
        let mut validation = jsonwebtoken::Validation::new(jwt_alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key from the JWK");
        let data =
            jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap_or_else(|e| {
                panic!("{alg}: the published key does not verify the signature: {e}")
            });
        assert_eq!(data.claims["sub"], "alice");
    }
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_chain_is_valid_for_localhost_and_127_0_0_1() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    let client = &tp.http;
    let port = provider.addr.port();

    for origin in [
        format!("https://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
    ] {
        let doc = get_json(client, &format!("{origin}{DISCOVERY}")).await;
        // The issuer stays https://localhost:PORT whatever name the client used.
        assert_eq!(doc["issuer"], json!(provider.issuer), "via {origin}");
    }

    // The server certificate also names ::1 (not served here: the provider binds 127.0.0.1).
    let (_, cert) =
        x509_parser::parse_x509_certificate(&provider.tls.server_der).expect("server certificate");
    let san = cert
        .subject_alternative_name()
        .expect("SAN extension parses")
        .expect("server certificate has SANs");
    use x509_parser::extensions::GeneralName;
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for expected in ["localhost", "127.0.0.1", "::1"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is not in the server certificate's SANs {names:?}"
        );
    }
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_not_trusting_the_ca_cannot_connect() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let provider = &tp.provider;
    let url = format!("{}{DISCOVERY}", provider.issuer);

    // A client with no roots at all, and one that trusts another Authdesk's CA.
    let other_dir = DataDir::empty();
    let other = TlsMaterial::load_or_create(other_dir.path(), &[], provider.core().now())
        .expect("another CA");
    assert_ne!(other.ca_pem, provider.tls.ca_pem);
    let no_roots = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .expect("client");
    for (label, client) in [
        ("no roots", no_roots),
        ("another CA", client_trusting(other.ca_pem.as_bytes())),
    ] {
        let err = client.get(&url).send().await.expect_err(&format!(
            "{label}: the request should fail certificate verification"
        ));
        let chain = error_chain(&err);
        assert!(err.is_connect(), "{label}: not a connection error: {chain}");
        assert!(
            chain.contains("certificate") || chain.contains("UnknownIssuer"),
            "{label}: not a certificate error: {chain}"
        );
    }

    // The same request succeeds when the CA is trusted, so the failures above are TLS's.
    get_json(&client_trusting(&tp.ca), &url).await;
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_https_port_is_not_served() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let url = format!("http://127.0.0.1:{}{DISCOVERY}", tp.provider.addr.port());
    let res = reqwest::Client::new().get(&url).send().await;
    assert!(
        !res.as_ref().is_ok_and(|r| r.status().is_success()),
        "plain HTTP got a successful answer: {res:?}"
    );
    tp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_override_is_advertised_and_covered_by_the_certificate() {
    // A first start: the certificate is made for the override's host.
    let options = ServeOptions {
        issuer_override: Some("https://host.docker.internal:9443/".parse().expect("url")),
        ..Default::default()
    };
    let tp = TestProvider::start_in(DataDir::empty(), options).await;
    let provider = &tp.provider;
    assert_eq!(
        provider.issuer, "https://host.docker.internal:9443",
        "no trailing slash"
    );

    // Reach the provider by that name, as a container would.
    let client = trusting(&tp.ca)
        .resolve("host.docker.internal", provider.addr)
        .build()
        .expect("client");
    let url = format!(
        "https://host.docker.internal:{}{DISCOVERY}",
        provider.addr.port()
    );
    let doc = get_json(&client, &url).await;
    assert_eq!(doc["issuer"], "https://host.docker.internal:9443");
    assert_eq!(doc["jwks_uri"], "https://host.docker.internal:9443/jwks");
    // localhost keeps working with the same certificate.
    get_json(
        &client_trusting(&tp.ca),
        &format!("https://localhost:{}{DISCOVERY}", provider.addr.port()),
    )
    .await;
    tp.stop().await;
}

async fn jwks_kids(client: &reqwest::Client, issuer: &str) -> Vec<String> {
    let jwks = get_json(client, &format!("{issuer}/jwks")).await;
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect();
    kids.sort();
    kids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_ca_keys_clients_and_users() {
    let first = TestProvider::start_with(ServeOptions::default()).await;
    let ca_pem = first.ca.clone();
    let server_pem = first.provider.tls.server_pem.clone();
    let client = client_trusting(&ca_pem);
    let kids = jwks_kids(&client, &first.issuer).await;
    assert_eq!(kids.len(), 2);
    let dir = first.stop().await;

    // Between runs, as the CLI or the window would.
    let core = Core::open(dir.path()).await.expect("reopen");
    let created = core
        .create_client(ClientInput {
            client_id: Some("restart-app".into()),
            name: Some("Restart app".into()),
            redirect_uris: Some(vec![REDIRECT.into()]),
            ..Default::default()
        })
        .await
        .expect("create client");
    let carol = core
        .create_user(UserInput {
            username: Some("carol".into()),
            password: Some("secret".into()),
            claims: Some(json!({"name": "Carol"})),
            ..Default::default()
        })
        .await
        .expect("create user");
    core.store.close().await;

    let second = TestProvider::start_in(dir, ServeOptions::default()).await;
    assert_eq!(second.ca, ca_pem, "the CA changed across a restart");
    assert_eq!(
        second.provider.tls.server_pem, server_pem,
        "a valid server certificate was re-issued"
    );
    // A client that trusted the first run's CA still reaches the second run.
    let client = client_trusting(&ca_pem);
    assert_eq!(
        jwks_kids(&client, &second.issuer).await,
        kids,
        "the signing keys changed"
    );

    let client_after = second
        .core()
        .get_client("restart-app")
        .await
        .expect("client kept");
    assert_eq!(client_after, created);
    let carol_after = second.core().get_user("carol").await.expect("user kept");
    assert_eq!(carol_after, carol);
    let usernames: Vec<String> = second
        .core()
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(
        usernames,
        ["alice", "bob", "carol"],
        "default personas re-seeded or lost"
    );
    second.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_database_are_owner_only() {
    // What a first start writes, not a copy of the template.
    let tp = TestProvider::start_in(DataDir::empty(), ServeOptions::default()).await;
    let dir = tp.data_dir();

    assert_eq!(mode(dir), 0o700, "data directory");
    assert_eq!(mode(&dir.join("tls")), 0o700, "tls/");
    assert_eq!(mode(&dir.join("tls/ca-key.pem")), 0o600, "tls/ca-key.pem");
    assert_eq!(
        mode(&dir.join("tls/server-key.pem")),
        0o600,
        "tls/server-key.pem"
    );
    assert_eq!(mode(&dir.join("authdesk.db")), 0o600, "authdesk.db");
    for side in ["authdesk.db-wal", "authdesk.db-shm"] {
        let p = dir.join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    // The certificates themselves are public.
    let ca = std::fs::read(dir.join("tls/ca.pem")).expect("ca.pem");
    assert_eq!(pem_certificates(&ca).len(), 1);
    tp.stop().await;
}

/// A provider launched with [`Provider::open_and_start_on`] whose core opens only when
/// the test says so, and a raw TLS client on a blocking thread that reports when its
/// handshake is done and then sends one request.
struct Launch {
    release: tokio::sync::oneshot::Sender<authdesk::Result<()>>,
    starting: tokio::task::JoinHandle<authdesk::Result<authdesk::Provider>>,
    handshaken: tokio::sync::oneshot::Receiver<()>,
    response: tokio::task::JoinHandle<String>,
    port: u16,
}

async fn launch_with_a_held_open(request: &'static str) -> (DataDir, Launch) {
    // An earlier start made the certificates, as on every start but the first: the
    // template is what it left.
    let data = DataDir::from_template();
    let dir = data.path().to_path_buf();
    let ca = std::fs::read(dir.join("tls/ca.pem")).expect("the earlier start's CA");

    let listener = authdesk::server::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (release, released) = tokio::sync::oneshot::channel::<authdesk::Result<()>>();
    let opening = {
        let dir = dir.clone();
        async move {
            released.await.expect("the test releases the open")?;
            Core::open(&dir).await
        }
    };
    let now = authdesk::clock::Clock::now(&authdesk::clock::SystemClock);
    let starting = tokio::spawn(async move {
        let options = ServeOptions::default();
        authdesk::Provider::open_and_start_on(&dir, now, opening, &options, listener).await
    });

    let (handshake_done, handshaken) = tokio::sync::oneshot::channel();
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut roots = rustls::RootCertStore::empty();
        for der in pem_certificates(&ca) {
            roots.add(der.into()).expect("CA certificate");
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // Only a guard against hanging forever if the server never answers.
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("TLS handshake");
        }
        let _ = handshake_done.send(());
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream
            .write_all(request.as_bytes())
            .expect("send the request");
        let mut out = Vec::new();
        match stream.read_to_end(&mut out) {
            Ok(_) => {}
            // A server that stops may close or reset the connection before answering.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => panic!("read the response: {e}"),
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    (
        data,
        Launch {
            release,
            starting,
            handshaken,
            response,
            port,
        },
    )
}

const DISCOVERY_REQUEST: &str = "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_completes_tls_handshakes_while_the_database_opens_and_answers_after() {
    let (_data, launch) = launch_with_a_held_open(DISCOVERY_REQUEST).await;
    // The handshake completes although the core has not even started to open.
    launch
        .handshaken
        .await
        .expect("the TLS handshake completed before the database opened");
    launch.release.send(Ok(())).unwrap();
    let provider = launch
        .starting
        .await
        .unwrap()
        .expect("the provider starts once its database opened");
    let response = launch.response.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(&format!("\"issuer\":\"{}\"", provider.issuer)),
        "{response}"
    );
    provider.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_whose_database_fails_returns_the_error_and_stops_listening() {
    let (_data, launch) = launch_with_a_held_open(DISCOVERY_REQUEST).await;
    launch
        .handshaken
        .await
        .expect("the TLS handshake completed");
    let port = launch.port;
    let during = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        during.is_ok(),
        "listening while the database opens: {during:?}"
    );
    launch
        .release
        .send(Err(authdesk::Error::Other("the disk went away".into())))
        .unwrap();
    let err = launch
        .starting
        .await
        .unwrap()
        .expect_err("the start fails with the database");
    assert!(err.to_string().contains("the disk went away"), "{err}");
    // The request sent meanwhile is never answered as if the provider ran: it gets a
    // 503 that says why, or (if the server had not read it yet) a closed connection.
    let response = launch.response.await.unwrap();
    assert!(
        response.is_empty()
            || (response.starts_with("HTTP/1.1 503") && response.contains("could not start")),
        "{response}"
    );
    let after = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(after.is_err(), "still listening after a failed start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_right_after_a_request_still_stores_its_log_entry() {
    let tp = TestProvider::start_with(ServeOptions::default()).await;
    let answer = tp
        .http
        .post(tp.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(answer.status(), reqwest::StatusCode::UNAUTHORIZED);
    // At once (the client goes first): the log gathers entries for a moment before it
    // writes them.
    let dir = tp.stop().await;
    let core = Core::open(dir.path()).await.expect("reopen");
    let entries = authdesk::log::list(core.store.pool(), None, None, 10)
        .await
        .expect("read the log");
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "token" && e.client_id.as_deref() == Some("nobody")),
        "the last request's entry was lost at the stop: {entries:?}"
    );
    core.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_changed_by_another_process_are_announced_once() {
    use authdesk::events::ProviderEvent;
    let data = DataDir::empty();
    let dir = data.path();
    // A first start seeds the defaults; the core under test opens after it.
    Core::open(dir)
        .await
        .expect("first start")
        .store
        .close()
        .await;
    let core = Core::open(dir).await.expect("open");
    let mut events = core.events.subscribe();
    assert!(
        !core.follow_other_processes().await.expect("check"),
        "nothing changed yet"
    );
    // A change made here is announced by its own event, not as another process's.
    core.create_user(UserInput {
        username: Some("erin".into()),
        ..Default::default()
    })
    .await
    .expect("create here");
    assert!(
        !core.follow_other_processes().await.expect("check"),
        "its own change was taken for another process's"
    );
    let other = Core::open(dir).await.expect("a second process's view");
    other
        .create_user(UserInput {
            username: Some("dora".into()),
            ..Default::default()
        })
        .await
        .expect("create from the other");
    other.store.close().await;
    assert!(core.follow_other_processes().await.expect("check"));
    loop {
        match events.try_recv() {
            Ok(ProviderEvent::RecordsChanged) => break,
            Ok(_) => continue,
            Err(e) => panic!("no records_changed event: {e:?}"),
        }
    }
    assert!(
        !core.follow_other_processes().await.expect("check"),
        "announced once"
    );
    assert!(
        core.cached_user_named("dora")
            .await
            .expect("read")
            .is_some(),
        "the cache still hid the new persona"
    );
    core.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_read_at_start_follows_a_deletion_by_another_process() {
    let data = DataDir::from_template();
    let secret = "a-secret-of-at-least-thirty-two-bytes!!";
    // The client exists before the provider starts, so the start reads it.
    let core = Core::open(data.path()).await.expect("open");
    core.create_client(ClientInput {
        client_id: Some("ci".into()),
        name: Some("CI".into()),
        client_secret: Some(secret.into()),
        client_type: Some(authdesk::model::ClientType::Confidential),
        grant_types: Some(vec![authdesk::model::GrantType::ClientCredentials]),
        token_endpoint_auth_method: Some(authdesk::model::AuthMethod::ClientSecretBasic),
        ..Default::default()
    })
    .await
    .expect("create client");
    core.store.close().await;

    let tp = TestProvider::start_in(data, ServeOptions::default()).await;
    let token = || {
        tp.http
            .post(tp.url("/token"))
            .basic_auth("ci", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let first = token().await.expect("token request");
    assert_eq!(first.status(), reqwest::StatusCode::OK);

    let other = Core::open(tp.data_dir())
        .await
        .expect("a second process's view");
    other
        .delete_client("ci")
        .await
        .expect("delete from the other");
    other.store.close().await;
    // Noticed through the revision counter, within its recheck interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = token().await.expect("token request");
        if res.status() == reqwest::StatusCode::UNAUTHORIZED {
            let body: Value = res.json().await.expect("JSON error");
            assert_eq!(body["error"], json!("invalid_client"), "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted client still gets tokens 20 s later ({})",
            res.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tp.stop().await;
}
