//! What probing the provider from outside found, each fixed: redirect URIs with
//! userinfo, answers lost when the provider refuses before reading a body, `nosniff`
//! on every answer, database errors shown as what they are, secrets in the log.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{
    Auth, Pkce, REDIRECT, TestProvider, asking_consent, basic, error_chain, public_client,
    query_of, web_client,
};
use authdesk::model::ClientInput;

const LOOPBACK: &str = "http://127.0.0.1:9999/cb";

#[tokio::test]
async fn a_redirect_uri_with_userinfo_gets_the_error_page_and_no_redirect() {
    let tp = TestProvider::start().await;
    tp.add_client(ClientInput {
        redirect_uris: Some(vec![LOOPBACK.into(), "http://[::1]:8765/callback".into()]),
        ..public_client("native")
    })
    .await;
    let pkce = Pkce::new();
    for given in [
        "http://evil@127.0.0.1:9999/cb",
        "http://evil@127.0.0.1:1234/cb",
        "http://evil@[::1]:8765/callback",
        "http://a:b@[::1]:8765/callback",
    ] {
        let res = tp
            .authorize(&[
                ("response_type", "code"),
                ("client_id", "native"),
                ("redirect_uri", given),
                ("scope", "openid"),
                ("state", "s"),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{given}");
        assert!(res.headers.get("location").is_none(), "{given} redirected");
        let page = &res.text;
        assert!(page.contains("is not registered"), "{given}: {page}");
    }
    // The same URI without userinfo (any loopback port) still signs in.
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "native"),
            ("redirect_uri", "http://127.0.0.1:4242/cb"),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let to = res.location();
    assert_eq!(to.port(), Some(4242));
    assert!(query_of(&to).contains_key("code"));
}

async fn header_of(res: reqwest::Response) -> (StatusCode, Option<String>) {
    let nosniff = res
        .headers()
        .get("x-content-type-options")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (res.status(), nosniff)
}

#[tokio::test]
async fn every_answer_says_nosniff_json_errors_included() {
    let tp = TestProvider::start().await;
    let form = [("token", "<script>x</script>")];
    let mut answers = Vec::new();
    for path in ["/token", "/introspect", "/revoke", "/device_authorization"] {
        let res = tp.http.post(tp.url(path)).form(&form).send().await.unwrap();
        answers.push((path, header_of(res).await));
    }
    let res = tp
        .http
        .post(tp.url("/register"))
        .header("content-type", "application/json")
        .body("{\"redirect_uris\": [\"<b>\"]}")
        .send()
        .await
        .unwrap();
    answers.push(("/register", header_of(res).await));
    let res = tp.http.get(tp.url("/nowhere")).send().await.unwrap();
    answers.push(("/nowhere", header_of(res).await));
    let res = tp.http.get(tp.url("/jwks")).send().await.unwrap();
    answers.push(("/jwks", header_of(res).await));
    for (path, (status, nosniff)) in answers {
        assert_eq!(nosniff.as_deref(), Some("nosniff"), "{path} ({status})");
    }
}

#[tokio::test]
async fn refusals_before_the_body_is_read_reach_http1_and_http2_clients() {
    let tp = TestProvider::start().await;
    let json_body = format!(
        "{{\"grant_type\": \"client_credentials\", \"pad\": \"{}\"}}",
        "x".repeat(1900 * 1024)
    );
    let too_big = "a=".to_string() + &"b".repeat(3 * 1024 * 1024);
    for http2 in [false, true] {
        let client = tp.client_speaking(http2);
        for attempt in 0..8 {
            let res = client
                .post(tp.url("/token"))
                .header("content-type", "application/json")
                .header("authorization", basic("service", "secret"))
                .body(json_body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("http2={http2} attempt {attempt}: {}", error_chain(&e)));
            if http2 {
                assert_eq!(res.version(), reqwest::Version::HTTP_2);
            }
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "http2={http2}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("not JSON"),
                "{body}"
            );
        }
        for path in ["/token", "/register"] {
            let res = client
                .post(tp.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(too_big.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("http2={http2} {path}: {}", error_chain(&e)));
            assert_eq!(
                res.status(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "http2={http2} {path}"
            );
            let body: Value = res
                .json()
                .await
                .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
            assert_eq!(body["error"], "invalid_request", "{path}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("larger than 2 MiB"),
                "{body}"
            );
        }
    }
}

/// curl (7.88, Debian's) over HTTP/2 is the client that lost these answers: it
/// reported "Stream error in the HTTP/2 framing layer" when the provider answered
/// before reading the body.
#[tokio::test]
async fn curl_over_http2_receives_the_refusal_of_a_json_body() {
    let tp = TestProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let body = dir.path().join("body.json");
    std::fs::write(&ca, &tp.ca).unwrap();
    std::fs::write(
        &body,
        format!("{{\"pad\": \"{}\"}}", "x".repeat(1900 * 1024)),
    )
    .unwrap();
    let port = tp.provider.addr.port();
    for attempt in 0..5 {
        let out = tokio::process::Command::new("curl")
            .args(["-sS", "--http2", "--cacert"])
            .arg(&ca)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(["-H", "content-type: application/json", "--data-binary"])
            .arg(format!("@{}", body.display()))
            .arg(tp.url("/token"))
            .env_remove("CURL_CA_BUNDLE")
            .env_remove("SSL_CERT_FILE")
            .output()
            .await
            .expect("curl runs (Debian package curl)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && stdout.contains("invalid_request")
                && stdout.contains("not JSON"),
            "attempt {attempt}: curl {:?}: {stdout} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn a_database_error_is_a_server_error_not_a_page_without_personas() {
    let tp = TestProvider::start_with(asking_consent()).await;
    tp.add_client(web_client("web", "web-secret")).await;
    let pkce = Pkce::new();
    tp.core().store.pool().close().await;
    let res = tp
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    let page = &res.text;
    assert!(page.contains("server_error"), "{page}");
    assert!(
        page.contains("could not read or write its database"),
        "{page}"
    );
    assert!(
        !page.contains("name=\"username\""),
        "a consent page was shown: {page}"
    );
    // The token endpoint says the same in JSON.
    let reply = tp
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "unknown"),
            ],
            &Auth::basic("web", "web-secret"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.str("error"), "server_error");
}
