//! RFC 7592 registration management: a dynamically registered client reads, replaces
//! and deletes its registration at its `registration_client_uri` with the
//! registration access token of its registration response.

use authdesk::config::ServeOptions;
use authdesk::events::RequestStatus;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Auth, DataDir, REDIRECT, Reply, TestProvider, auto_approving, service_client,
};

/// The redirect URI a registration moves to.
const MOVED_REDIRECT: &str = "http://127.0.0.1:8765/moved";

async fn register(tp: &TestProvider, metadata: Value) -> Reply {
    let res = tp
        .http
        .post(tp.url("/register"))
        .json(&metadata)
        .send()
        .await
        .expect("the registration endpoint answers");
    Reply::read(res).await
}

/// A registered client: its id, secret, registration access token and configuration URI.
struct Registered {
    id: String,
    secret: String,
    token: String,
    uri: String,
}

async fn registered(tp: &TestProvider, metadata: Value) -> Registered {
    let reply = register(tp, metadata).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    Registered {
        id: reply.str("client_id").into(),
        secret: reply.str("client_secret").into(),
        token: reply.str("registration_access_token").into(),
        uri: reply.str("registration_client_uri").into(),
    }
}

/// A management request to `uri` with `Authorization: Bearer token` (none without).
async fn manage(
    tp: &TestProvider,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = tp.http.request(method, uri);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Reply::read(
        req.send()
            .await
            .expect("the configuration endpoint answers"),
    )
    .await
}

fn web_and_service(redirect: &str) -> Value {
    json!({
        "client_name": "Managed app",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "openid api.read",
    })
}

async fn service_token(tp: &TestProvider, id: &str, secret: &str) -> String {
    tp.token(
        &[("grant_type", "client_credentials"), ("scope", "api.read")],
        &Auth::basic(id, secret),
    )
    .await
    .ok()["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

/// Asserts an RFC 6750 refusal of the registration access token: 401, invalid_token,
/// a Bearer challenge with the error.
fn assert_token_refused(reply: &Reply, mentions: &[&str]) {
    reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_token", mentions);
    let challenge = reply.header(WWW_AUTHENTICATE.as_str());
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_registration_is_read_replaced_and_deleted_with_its_access_token() {
    let tp = TestProvider::start().await;
    tp.add_client(service_client("introspector", "introspector-secret"))
        .await;
    let mut events = tp.events();
    let c = registered(&tp, web_and_service(REDIRECT)).await;
    assert!(c.token.len() >= 32, "a guessable token: {}", c.token);
    assert_eq!(c.uri, tp.url(&format!("/register/{}", c.id)));

    // Read: the registration as it stands, the secret included (RFC 7592 §3).
    let read = manage(&tp, Method::GET, &c.uri, Some(&c.token), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.headers[CACHE_CONTROL], "no-store");
    assert_eq!(read.body["client_id"], c.id.as_str());
    assert_eq!(read.body["client_secret"], c.secret.as_str());
    assert_eq!(read.body["redirect_uris"], json!([REDIRECT]));
    assert_eq!(read.body["registration_access_token"], c.token.as_str());
    assert_eq!(read.body["registration_client_uri"], c.uri.as_str());
    let entry = events
        .request("register_read", RequestStatus::Completed)
        .await;
    assert_eq!(entry.client_id.as_deref(), Some(c.id.as_str()));

    let before = service_token(&tp, &c.id, &c.secret).await;

    // Replace: a new redirect URI, the name left out (so back to its default).
    let mut update = web_and_service(MOVED_REDIRECT);
    update["client_id"] = json!(c.id);
    update["client_secret"] = json!(c.secret);
    update.as_object_mut().unwrap().remove("client_name");
    let put = manage(&tp, Method::PUT, &c.uri, Some(&c.token), Some(update)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["redirect_uris"], json!([MOVED_REDIRECT]));
    assert_eq!(put.body["client_name"], "Registered client");
    assert_eq!(
        put.body["client_secret"],
        c.secret.as_str(),
        "the secret stays"
    );
    events
        .request("register_update", RequestStatus::Completed)
        .await;
    let stored = tp.core().get_client(&c.id).await.unwrap();
    assert_eq!(stored.redirect_uris, vec![MOVED_REDIRECT.to_string()]);

    // The change is in force: the old redirect URI is refused, the new one works.
    tp.authorize(&[
        ("response_type", "code"),
        ("client_id", &c.id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
    ])
    .await
    .assert_error_page("invalid_request", &["redirect_uri"]);
    let code = tp
        .code(
            &c.id,
            &[("redirect_uri", MOVED_REDIRECT), ("scope", "openid")],
        )
        .await;
    let token = tp
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("redirect_uri", MOVED_REDIRECT),
                ("code_verifier", &code.verifier),
            ],
            &Auth::basic(&c.id, &c.secret),
        )
        .await
        .ok();
    assert!(token["id_token"].is_string(), "{token}");
    let auth = Auth::basic("introspector", "introspector-secret");
    assert_eq!(tp.introspect(&before, &auth).await["active"], true);

    // Delete: 204, then the registration and the client's tokens are gone.
    let deleted = manage(&tp, Method::DELETE, &c.uri, Some(&c.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    events
        .request("register_delete", RequestStatus::Completed)
        .await;
    assert!(
        tp.core().get_client(&c.id).await.is_err(),
        "the client is still stored"
    );
    let gone = manage(&tp, Method::GET, &c.uri, Some(&c.token), None).await;
    assert_token_refused(&gone, &["not valid"]);
    assert_eq!(tp.introspect(&before, &auth).await["active"], false);
    tp.token(
        &[("grant_type", "client_credentials")],
        &Auth::basic(&c.id, &c.secret),
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_client", &[&c.id]);
}

#[tokio::test]
async fn management_without_the_clients_token_is_refused_alike_for_any_client() {
    let tp = TestProvider::start().await;
    let a = registered(&tp, web_and_service(REDIRECT)).await;
    let b = registered(&tp, web_and_service(REDIRECT)).await;
    let mut events = tp.events();

    // No token: a bare Bearer challenge (RFC 6750 §3.1), the body says what to send.
    let missing = manage(&tp, Method::GET, &a.uri, None, None).await;
    missing.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        &["Authorization: Bearer", "registration_access_token"],
    );
    assert!(
        missing
            .header(WWW_AUTHENTICATE.as_str())
            .starts_with("Bearer "),
        "{:?}",
        missing.headers
    );
    events
        .request("register_read", RequestStatus::Rejected)
        .await;
    let basic = tp
        .http
        .get(&a.uri)
        .basic_auth(&a.id, Some(&a.secret))
        .send()
        .await
        .unwrap();
    Reply::read(basic).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        &["registration_access_token"],
    );

    // A wrong token, another client's token, an unknown client: the same answer, so
    // a token tells nothing about which clients exist.
    let wrong = manage(&tp, Method::GET, &a.uri, Some("not-the-token"), None).await;
    assert_token_refused(&wrong, &["not valid"]);
    let others = manage(&tp, Method::GET, &a.uri, Some(&b.token), None).await;
    assert_token_refused(&others, &["not valid"]);
    let unknown_uri = tp.url("/register/no-such-client");
    let unknown = manage(&tp, Method::GET, &unknown_uri, Some(&a.token), None).await;
    assert_token_refused(&unknown, &["not valid"]);
    assert_eq!(wrong.body, others.body);
    assert_eq!(wrong.body, unknown.body);

    // Nor do they change or delete anything.
    let mut update = web_and_service(REDIRECT);
    update["client_id"] = json!(a.id);
    let put = manage(&tp, Method::PUT, &a.uri, Some(&b.token), Some(update)).await;
    assert_token_refused(&put, &["not valid"]);
    let delete = manage(&tp, Method::DELETE, &a.uri, Some(&b.token), None).await;
    assert_token_refused(&delete, &["not valid"]);
    assert_eq!(
        tp.core().get_client(&a.id).await.unwrap().name,
        "Managed app"
    );
}

#[tokio::test]
async fn an_update_repeats_the_client_id_and_valid_metadata() {
    let tp = TestProvider::start().await;
    let c = registered(&tp, web_and_service(REDIRECT)).await;
    let put = |body: Value| manage(&tp, Method::PUT, &c.uri, Some(&c.token), Some(body));

    let mut other_id = web_and_service(MOVED_REDIRECT);
    other_id["client_id"] = json!("someone-else");
    put(other_id).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &["client_id", "someone-else", &c.id],
    );
    put(web_and_service(MOVED_REDIRECT)).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &["no client_id"],
    );

    let mut chosen_secret = web_and_service(MOVED_REDIRECT);
    chosen_secret["client_id"] = json!(c.id);
    chosen_secret["client_secret"] = json!("a-secret-of-my-choosing");
    put(chosen_secret).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &["client_secret", "current secret"],
    );

    let mut bad_redirect = web_and_service("http://example.com/cb");
    bad_redirect["client_id"] = json!(c.id);
    put(bad_redirect).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        &["redirect_uris", "non-local host"],
    );
    // Leaving redirect_uris out removes them, which the code grant cannot do without.
    let mut no_redirects = web_and_service(REDIRECT);
    no_redirects["client_id"] = json!(c.id);
    no_redirects
        .as_object_mut()
        .unwrap()
        .remove("redirect_uris");
    put(no_redirects).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
        &["redirect_uris", "at least one redirect URI"],
    );
    let mut bad_method = web_and_service(REDIRECT);
    bad_method["client_id"] = json!(c.id);
    bad_method["token_endpoint_auth_method"] = json!("carrier_pigeon");
    put(bad_method).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        &["token_endpoint_auth_method", "carrier_pigeon"],
    );
    let not_json = tp
        .http
        .put(&c.uri)
        .bearer_auth(&c.token)
        .form(&[("client_id", c.id.as_str())])
        .send()
        .await
        .unwrap();
    Reply::read(not_json)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request", &["JSON"]);

    // None of them changed the registration.
    let read = manage(&tp, Method::GET, &c.uri, Some(&c.token), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["redirect_uris"], json!([REDIRECT]));
    assert_eq!(read.body["client_name"], "Managed app");
    assert_eq!(read.body["client_secret"], c.secret.as_str());
}

#[tokio::test]
async fn a_client_made_in_authdesk_has_no_registration_to_manage() {
    let tp = TestProvider::start().await;
    // What `authdesk clients create` and the window's form do: Core::create_client.
    tp.add_client(service_client("made-in-the-window", "secret-1"))
        .await;
    let uri = tp.url("/register/made-in-the-window");
    for method in [Method::GET, Method::DELETE] {
        let reply = manage(&tp, method, &uri, Some("any-token"), None).await;
        assert_token_refused(&reply, &["was not dynamically registered"]);
    }
    assert!(tp.core().get_client("made-in-the-window").await.is_ok());
}

#[tokio::test]
async fn closed_registration_closes_management_too() {
    let tp = TestProvider::start().await;
    let c = registered(&tp, web_and_service(REDIRECT)).await;
    let dir: DataDir = tp.stop().await;
    let tp = TestProvider::start_in(
        dir,
        ServeOptions {
            registration_open: false,
            ..auto_approving("alice")
        },
    )
    .await;
    for method in [Method::GET, Method::DELETE] {
        let reply = manage(&tp, method, &c.uri_on(&tp), Some(&c.token), None).await;
        reply.assert_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &["registration is turned off"],
        );
    }
    assert!(tp.core().get_client(&c.id).await.is_ok());
}

impl Registered {
    /// The configuration URI on `tp` (a restarted provider listens on another port).
    fn uri_on(&self, tp: &TestProvider) -> String {
        tp.url(&format!("/register/{}", self.id))
    }
}
