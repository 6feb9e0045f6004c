//! Copy-ready configuration for popular client libraries, with a client's issuer,
//! endpoints, credentials and the local CA's path filled in.
//!
//! Each snippet picks the flow the client is set up for: the authorization code flow
//! with PKCE when it allows `authorization_code`, otherwise client credentials when it
//! allows those. Values are quoted for the target language, never pasted raw, so an
//! odd client id or path still gives code that parses.

use serde::{Deserialize, Serialize};

use crate::model::{AuthMethod, Client, GrantType};
use crate::oauth::paths;

/// One library's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Snippet {
    /// A stable id: `python`, `python-requests-oauthlib`, `node`, `rust`, `curl`.
    pub language: String,
    /// What the window shows on the tab.
    pub label: String,
    pub code: String,
}

/// Where the provider is and the CA file clients must trust.
#[derive(Debug, Clone, Copy)]
pub struct SnippetContext<'a> {
    /// Without a trailing slash, as the provider announces it.
    pub issuer: &'a str,
    /// The exported or stored CA certificate (PEM).
    pub ca_path: &'a str,
}

/// The redirect URI snippets use when the client has none (e.g. client credentials).
const FALLBACK_REDIRECT: &str = "http://127.0.0.1:8080/callback";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    AuthorizationCode,
    ClientCredentials,
}

/// What every renderer needs, worked out once.
struct Facts<'a> {
    client_id: &'a str,
    secret: Option<&'a str>,
    method: AuthMethod,
    flow: Flow,
    scope: String,
    redirect_uri: &'a str,
    issuer: &'a str,
    authorize: String,
    token: String,
    ca: &'a str,
}

impl<'a> Facts<'a> {
    fn new(client: &'a Client, ctx: SnippetContext<'a>) -> Self {
        let flow = if !client.allows_grant(GrantType::AuthorizationCode)
            && client.allows_grant(GrantType::ClientCredentials)
        {
            Flow::ClientCredentials
        } else {
            Flow::AuthorizationCode
        };
        // `openid` makes no sense without a user; leave it out of machine-to-machine requests.
        let scope = client
            .scopes
            .iter()
            .filter(|s| {
                flow == Flow::AuthorizationCode
                    || (s.as_str() != "openid" && s.as_str() != "offline_access")
            })
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        Facts {
            client_id: &client.client_id,
            secret: client
                .client_secret
                .as_deref()
                .filter(|_| client.token_endpoint_auth_method != AuthMethod::None),
            method: client.token_endpoint_auth_method,
            flow,
            scope,
            redirect_uri: client
                .redirect_uris
                .first()
                .map(String::as_str)
                .unwrap_or(FALLBACK_REDIRECT),
            issuer: ctx.issuer,
            authorize: format!("{}{}", ctx.issuer, paths::AUTHORIZE),
            token: format!("{}{}", ctx.issuer, paths::TOKEN),
            ca: ctx.ca_path,
        }
    }

    /// Secrets go in the form body rather than an Authorization header.
    fn posts_secret(&self) -> bool {
        self.method == AuthMethod::ClientSecretPost
    }

    /// A note for methods the snippets do not show (JWT assertions).
    fn jwt_note(&self, comment: &str) -> String {
        match self.method {
            AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt => format!(
                "{comment} This client authenticates with {} (RFC 7523): configure the library's\n{comment} JWT client authentication; the secret shown here is for reference.\n",
                self.method
            ),
            _ => String::new(),
        }
    }
}

/// Renders every snippet for `client`.
pub fn render(client: &Client, ctx: SnippetContext<'_>) -> Vec<Snippet> {
    let f = Facts::new(client, ctx);
    vec![
        snippet("python", "Python · Authlib", authlib(&f)),
        snippet(
            "python-requests-oauthlib",
            "Python · requests-oauthlib",
            requests_oauthlib(&f),
        ),
        snippet("node", "Node · openid-client", openid_client(&f)),
        snippet("rust", "Rust · oauth2", rust_oauth2(&f)),
        snippet("curl", "curl", curl(&f)),
    ]
}

fn snippet(language: &str, label: &str, code: String) -> Snippet {
    Snippet {
        language: language.into(),
        label: label.into(),
        code,
    }
}

/// A double-quoted literal valid in Python and JavaScript.
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A Rust string literal.
fn rq(s: &str) -> String {
    format!("{s:?}")
}

/// A single-quoted POSIX shell word.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn authlib(f: &Facts<'_>) -> String {
    let method = match f.method {
        AuthMethod::ClientSecretPost => "client_secret_post",
        AuthMethod::None => "none",
        _ => "client_secret_basic",
    };
    let secret = f
        .secret
        .map(|s| format!("    client_secret={},\n", q(s)))
        .unwrap_or_default();
    let mut out = format!(
        "# pip install authlib requests\nfrom authlib.integrations.requests_client import OAuth2Session\n\n{note}\
         CA = {ca}  # the Authdesk local CA\nTOKEN_URL = {token}\n\n",
        note = f.jwt_note("#"),
        ca = q(f.ca),
        token = q(&f.token),
    );
    match f.flow {
        Flow::AuthorizationCode => out.push_str(&format!(
            "client = OAuth2Session(\n    client_id={id},\n{secret}    scope={scope},\n    redirect_uri={redirect},\n    \
             code_challenge_method=\"S256\",\n    token_endpoint_auth_method={method},\n)\nclient.verify = CA\n\n\
             from authlib.common.security import generate_token\n\ncode_verifier = generate_token(48)\n\
             url, state = client.create_authorization_url({authorize}, code_verifier=code_verifier)\n\
             print(\"Open in a browser:\", url)\n\n\
             # After signing in, paste the URL the browser was redirected to.\n\
             token = client.fetch_token(TOKEN_URL, authorization_response=input(\"Callback URL: \"), code_verifier=code_verifier)\n\
             print(token)\n",
            id = q(f.client_id),
            scope = q(&f.scope),
            redirect = q(f.redirect_uri),
            method = q(method),
            authorize = q(&f.authorize),
        )),
        Flow::ClientCredentials => out.push_str(&format!(
            "client = OAuth2Session(\n    client_id={id},\n{secret}    scope={scope},\n    token_endpoint_auth_method={method},\n)\n\
             client.verify = CA\n\ntoken = client.fetch_token(TOKEN_URL, grant_type=\"client_credentials\")\nprint(token[\"access_token\"])\n",
            id = q(f.client_id),
            scope = q(&f.scope),
            method = q(method),
        )),
    }
    out
}

fn requests_oauthlib(f: &Facts<'_>) -> String {
    let scopes = format!(
        "[{}]",
        f.scope
            .split_whitespace()
            .map(q)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let secret_arg = f
        .secret
        .map(|s| format!(", client_secret={}", q(s)))
        .unwrap_or_default();
    // requests-oauthlib sends the secret with HTTP Basic unless told to post it.
    let post = if f.posts_secret() || f.secret.is_none() {
        ", include_client_id=True"
    } else {
        ""
    };
    let mut out = format!(
        "# pip install requests-oauthlib\n{note}",
        note = f.jwt_note("#")
    );
    match f.flow {
        Flow::AuthorizationCode => out.push_str(&format!(
            "import os\n\nfrom requests_oauthlib import OAuth2Session\n\n\
             # oauthlib refuses plain-http callbacks; the loopback redirect URI is one (RFC 8252).\n\
             os.environ[\"OAUTHLIB_INSECURE_TRANSPORT\"] = \"1\"\n\n\
             CA = {ca}  # the Authdesk local CA\n\n\
             oauth = OAuth2Session({id}, redirect_uri={redirect}, scope={scopes}, pkce=\"S256\")\n\
             url, state = oauth.authorization_url({authorize})\nprint(\"Open in a browser:\", url)\n\n\
             # After signing in, paste the URL the browser was redirected to.\n\
             token = oauth.fetch_token(\n    {token},\n    authorization_response=input(\"Callback URL: \"){secret_arg}{post},\n    verify=CA,\n)\n\
             print(token)\n",
            ca = q(f.ca),
            id = q(f.client_id),
            redirect = q(f.redirect_uri),
            authorize = q(&f.authorize),
            token = q(&f.token),
        )),
        Flow::ClientCredentials => out.push_str(&format!(
            "from oauthlib.oauth2 import BackendApplicationClient\nfrom requests_oauthlib import OAuth2Session\n\n\
             CA = {ca}  # the Authdesk local CA\n\n\
             oauth = OAuth2Session(client=BackendApplicationClient(client_id={id}), scope={scopes})\n\
             token = oauth.fetch_token(\n    {token},\n    client_id={id}{secret_arg}{post},\n    verify=CA,\n)\n\
             print(token[\"access_token\"])\n",
            ca = q(f.ca),
            id = q(f.client_id),
            token = q(&f.token),
        )),
    }
    out
}

fn openid_client(f: &Facts<'_>) -> String {
    let auth = match (f.secret, f.method) {
        (None, _) | (_, AuthMethod::None) => "client.None()".to_string(),
        (Some(s), AuthMethod::ClientSecretPost) => format!("client.ClientSecretPost({})", q(s)),
        (Some(s), AuthMethod::ClientSecretJwt) => format!("client.ClientSecretJwt({})", q(s)),
        (Some(s), _) => format!("client.ClientSecretBasic({})", q(s)),
    };
    let mut out = format!(
        "// npm install openid-client\n// Trust the Authdesk local CA when you run it:\n//   NODE_EXTRA_CA_CERTS={ca} node app.mjs\n{note}\
         import * as client from \"openid-client\";\n\n\
         const config = await client.discovery(new URL({issuer}), {id}, undefined, {auth});\n\n",
        ca = sh(f.ca),
        note = f.jwt_note("//"),
        issuer = q(f.issuer),
        id = q(f.client_id),
    );
    match f.flow {
        Flow::AuthorizationCode => out.push_str(&format!(
            "const code_verifier = client.randomPKCECodeVerifier();\n\
             const url = client.buildAuthorizationUrl(config, {{\n  redirect_uri: {redirect},\n  scope: {scope},\n  \
             code_challenge: await client.calculatePKCECodeChallenge(code_verifier),\n  code_challenge_method: \"S256\",\n}});\n\
             console.log(\"Open in a browser:\", url.href);\n\n\
             // On the redirect URI, with the full URL the browser arrived at:\n\
             // const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {{ pkceCodeVerifier: code_verifier }});\n\
             // console.log(tokens.access_token, tokens.claims());\n",
            redirect = q(f.redirect_uri),
            scope = q(&f.scope),
        )),
        Flow::ClientCredentials => out.push_str(&format!(
            "const tokens = await client.clientCredentialsGrant(config, {{ scope: {scope} }});\nconsole.log(tokens.access_token);\n",
            scope = q(&f.scope),
        )),
    }
    out
}

fn rust_oauth2(f: &Facts<'_>) -> String {
    let secret = f
        .secret
        .map(|s| {
            format!(
                "\n        .set_client_secret(ClientSecret::new({}.to_string()))",
                rq(s)
            )
        })
        .unwrap_or_default();
    let request_body = f.posts_secret() || f.secret.is_none();
    let auth_type = if request_body {
        "\n        .set_auth_type(AuthType::RequestBody)"
    } else {
        ""
    };
    let scopes: String = f
        .scope
        .split_whitespace()
        .map(|s| format!("\n        .add_scope(Scope::new({}.to_string()))", rq(s)))
        .collect();
    let mut imports: Vec<&str> = match f.flow {
        Flow::AuthorizationCode => vec![
            "AuthUrl",
            "AuthorizationCode",
            "ClientId",
            "CsrfToken",
            "PkceCodeChallenge",
            "RedirectUrl",
            "Scope",
            "TokenResponse",
            "TokenUrl",
        ],
        Flow::ClientCredentials => vec!["ClientId", "Scope", "TokenResponse", "TokenUrl"],
    };
    if request_body {
        imports.push("AuthType");
    }
    if f.secret.is_some() {
        imports.push("ClientSecret");
    }
    imports.sort_unstable();
    let head = format!(
        "// Cargo.toml: oauth2 = \"5\", tokio = {{ version = \"1\", features = [\"full\"] }},\n\
         //   reqwest = {{ version = \"0.12\", default-features = false, features = [\"rustls-tls\"] }}\n{note}\
         use oauth2::basic::BasicClient;\nuse oauth2::{{{imports}}};\n\n\
         #[tokio::main]\nasync fn main() -> Result<(), Box<dyn std::error::Error>> {{\n    \
         // Trust the Authdesk local CA; never follow redirects from the token endpoint.\n    \
         let ca = reqwest::Certificate::from_pem(&std::fs::read({ca})?)?;\n    \
         let http = reqwest::Client::builder()\n        .add_root_certificate(ca)\n        \
         .redirect(reqwest::redirect::Policy::none())\n        .build()?;\n\n",
        note = f.jwt_note("//"),
        imports = imports.join(", "),
        ca = rq(f.ca),
    );
    let body = match f.flow {
        Flow::AuthorizationCode => format!(
            "    let client = BasicClient::new(ClientId::new({id}.to_string())){secret}\n        \
             .set_auth_uri(AuthUrl::new({authorize}.to_string())?)\n        \
             .set_token_uri(TokenUrl::new({token}.to_string())?)\n        \
             .set_redirect_uri(RedirectUrl::new({redirect}.to_string())?){auth_type};\n\n    \
             let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();\n    \
             let (url, _state) = client\n        .authorize_url(CsrfToken::new_random){scopes}\n        \
             .set_pkce_challenge(challenge)\n        .url();\n    println!(\"Open in a browser: {{url}}\");\n\n    \
             // Paste the `code` parameter of the URL the browser was redirected to.\n    \
             let mut code = String::new();\n    std::io::stdin().read_line(&mut code)?;\n    \
             let token = client\n        .exchange_code(AuthorizationCode::new(code.trim().to_string()))\n        \
             .set_pkce_verifier(verifier)\n        .request_async(&http)\n        .await?;\n",
            id = rq(f.client_id),
            authorize = rq(&f.authorize),
            token = rq(&f.token),
            redirect = rq(f.redirect_uri),
        ),
        Flow::ClientCredentials => format!(
            "    let client = BasicClient::new(ClientId::new({id}.to_string())){secret}\n        \
             .set_token_uri(TokenUrl::new({token}.to_string())?){auth_type};\n\n    \
             let token = client\n        .exchange_client_credentials(){scopes}\n        .request_async(&http)\n        .await?;\n",
            id = rq(f.client_id),
            token = rq(&f.token),
        ),
    };
    format!("{head}{body}    println!(\"{{}}\", token.access_token().secret());\n    Ok(())\n}}\n")
}

fn curl(f: &Facts<'_>) -> String {
    let ca = sh(f.ca);
    let credentials = match (f.secret, f.posts_secret()) {
        (Some(s), false) => format!(" -u {}", sh(&format!("{}:{}", f.client_id, s))),
        (Some(s), true) => format!(
            " \\\n  --data-urlencode {} --data-urlencode {}",
            sh(&format!("client_id={}", f.client_id)),
            sh(&format!("client_secret={s}"))
        ),
        (None, _) => format!(
            " \\\n  --data-urlencode {}",
            sh(&format!("client_id={}", f.client_id))
        ),
    };
    let mut out = format!(
        "{note}# Discovery\ncurl --cacert {ca} {discovery}\n\n",
        note = f.jwt_note("#"),
        discovery = sh(&format!("{}{}", f.issuer, paths::DISCOVERY)),
    );
    match f.flow {
        Flow::ClientCredentials => out.push_str(&format!(
            "# Client credentials\ncurl --cacert {ca}{credentials} \\\n  -d grant_type=client_credentials \\\n  \
             --data-urlencode {scope} \\\n  {token}\n",
            scope = sh(&format!("scope={}", f.scope)),
            token = sh(&f.token),
        )),
        Flow::AuthorizationCode => {
            let mut url = match url::Url::parse(&f.authorize) {
                Ok(u) => u,
                Err(_) => return out,
            };
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", f.client_id)
                .append_pair("redirect_uri", f.redirect_uri)
                .append_pair("scope", &f.scope)
                .append_pair("state", "xyz");
            out.push_str(&format!(
                "# 1. A PKCE verifier and its S256 challenge\n\
                 VERIFIER=$(openssl rand -base64 60 | tr -dc 'A-Za-z0-9' | cut -c1-64)\n\
                 CHALLENGE=$(printf %s \"$VERIFIER\" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')\n\n\
                 # 2. Open this in a browser, sign in, and copy `code` from the redirect\n\
                 echo {url}\"&code_challenge=$CHALLENGE&code_challenge_method=S256\"\n\n\
                 # 3. Exchange the code\n\
                 curl --cacert {ca}{credentials} \\\n  -d grant_type=authorization_code \\\n  --data-urlencode \"code=$CODE\" \\\n  \
                 --data-urlencode {redirect} \\\n  --data-urlencode \"code_verifier=$VERIFIER\" \\\n  {token}\n",
                url = sh(url.as_str()),
                redirect = sh(&format!("redirect_uri={}", f.redirect_uri)),
                token = sh(&f.token),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType};

    const CTX: SnippetContext<'static> = SnippetContext {
        issuer: "https://localhost:8443",
        ca_path: "/home/dev/.local/share/dev.authdesk.app/tls/ca.pem",
    };

    fn client(input: ClientInput) -> Client {
        let scopes: Vec<String> = crate::model::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect();
        input.into_client(None, &scopes, 1_800_000_000).unwrap()
    }

    fn by_lang<'a>(snippets: &'a [Snippet], lang: &str) -> &'a str {
        &snippets.iter().find(|s| s.language == lang).unwrap().code
    }

    fn web_app() -> Client {
        client(ClientInput {
            client_id: Some("web-app".into()),
            client_secret: Some("s3cret".into()),
            name: Some("Web".into()),
            redirect_uris: Some(vec!["http://127.0.0.1:5000/callback".into()]),
            scopes: Some(vec!["openid".into(), "profile".into()]),
            ..Default::default()
        })
    }

    #[test]
    fn every_library_gets_the_issuer_endpoints_credentials_and_ca() {
        let c = web_app();
        let snippets = render(&c, CTX);
        let langs: Vec<_> = snippets.iter().map(|s| s.language.as_str()).collect();
        assert_eq!(
            langs,
            ["python", "python-requests-oauthlib", "node", "rust", "curl"]
        );
        for s in &snippets {
            assert!(s.code.contains("web-app"), "{}: no client id", s.language);
            assert!(s.code.contains("s3cret"), "{}: no secret", s.language);
            assert!(s.code.contains(CTX.ca_path), "{}: no CA path", s.language);
            assert!(
                s.code.contains("http://127.0.0.1:5000/callback")
                    || s.language == "curl" && s.code.contains("127.0.0.1%3A5000"),
                "{}: no redirect",
                s.language
            );
        }
        assert!(by_lang(&snippets, "python").contains("\"https://localhost:8443/token\""));
        assert!(
            by_lang(&snippets, "python")
                .contains("create_authorization_url(\"https://localhost:8443/authorize\"")
        );
        assert!(by_lang(&snippets, "node").contains("new URL(\"https://localhost:8443\")"));
        assert!(by_lang(&snippets, "node").contains("client.ClientSecretBasic(\"s3cret\")"));
        assert!(
            by_lang(&snippets, "rust")
                .contains("AuthUrl::new(\"https://localhost:8443/authorize\"")
        );
        assert!(by_lang(&snippets, "curl").contains("-u 'web-app:s3cret'"));
        assert!(by_lang(&snippets, "curl").contains("code_challenge_method=S256"));
    }

    #[test]
    fn client_credentials_only_clients_get_the_client_credentials_grant() {
        let c = client(ClientInput {
            client_id: Some("svc".into()),
            client_secret: Some("k".into()),
            name: Some("Service".into()),
            grant_types: Some(vec![GrantType::ClientCredentials]),
            redirect_uris: Some(vec![]),
            response_types: Some(vec![]),
            scopes: Some(vec!["openid".into(), "profile".into()]),
            ..Default::default()
        });
        let snippets = render(&c, CTX);
        let curl = by_lang(&snippets, "curl");
        assert!(curl.contains("grant_type=client_credentials"), "{curl}");
        assert!(
            curl.contains("'scope=profile'"),
            "openid is for users: {curl}"
        );
        assert!(by_lang(&snippets, "python").contains("grant_type=\"client_credentials\""));
        assert!(
            by_lang(&snippets, "python-requests-oauthlib").contains("BackendApplicationClient")
        );
        assert!(by_lang(&snippets, "node").contains("clientCredentialsGrant"));
        assert!(by_lang(&snippets, "rust").contains("exchange_client_credentials()"));
    }

    #[test]
    fn public_clients_have_no_secret_and_use_pkce() {
        let c = client(ClientInput {
            client_id: Some("spa".into()),
            name: Some("SPA".into()),
            client_type: Some(ClientType::Public),
            redirect_uris: Some(vec!["http://localhost:3000/cb".into()]),
            ..Default::default()
        });
        assert!(c.client_secret.is_none());
        let snippets = render(&c, CTX);
        for s in &snippets {
            assert!(!s.code.contains("client_secret=\""), "{}", s.language);
            assert!(
                s.code.contains("S256") || s.code.contains("new_random_sha256"),
                "{}: no PKCE",
                s.language
            );
        }
        assert!(by_lang(&snippets, "node").contains("client.None()"));
        assert!(by_lang(&snippets, "python").contains("token_endpoint_auth_method=\"none\""));
        assert!(!by_lang(&snippets, "rust").contains("ClientSecret"));
        assert!(by_lang(&snippets, "curl").contains("'client_id=spa'"));
    }

    #[test]
    fn client_secret_post_sends_the_secret_in_the_body() {
        let c = client(ClientInput {
            client_id: Some("poster".into()),
            client_secret: Some("p".into()),
            name: Some("Poster".into()),
            redirect_uris: Some(vec!["http://127.0.0.1/cb".into()]),
            token_endpoint_auth_method: Some(AuthMethod::ClientSecretPost),
            ..Default::default()
        });
        let snippets = render(&c, CTX);
        assert!(by_lang(&snippets, "curl").contains("--data-urlencode 'client_secret=p'"));
        assert!(!by_lang(&snippets, "curl").contains(" -u "));
        assert!(by_lang(&snippets, "node").contains("ClientSecretPost(\"p\")"));
        assert!(by_lang(&snippets, "python").contains("\"client_secret_post\""));
        assert!(by_lang(&snippets, "python-requests-oauthlib").contains("include_client_id=True"));
        assert!(by_lang(&snippets, "rust").contains("AuthType::RequestBody"));
    }

    #[test]
    fn values_are_quoted_for_each_language() {
        let mut c = web_app();
        c.client_secret = Some("it's \"quoted\"\\".into());
        let ctx = SnippetContext {
            issuer: CTX.issuer,
            ca_path: "/tmp/it's here/ca.pem",
        };
        let snippets = render(&c, ctx);
        assert!(by_lang(&snippets, "curl").contains(r#"-u 'web-app:it'\''s "quoted"\'"#));
        assert!(by_lang(&snippets, "curl").contains(r"--cacert '/tmp/it'\''s here/ca.pem'"));
        assert!(by_lang(&snippets, "python").contains(r#"client_secret="it's \"quoted\"\\","#));
        assert!(
            by_lang(&snippets, "rust")
                .contains(r#"ClientSecret::new("it's \"quoted\"\\".to_string())"#)
        );
    }

    #[test]
    fn rust_imports_match_what_the_code_uses() {
        let c = web_app();
        let rust = by_lang(&render(&c, CTX), "rust").to_string();
        assert!(
            !rust.contains("AuthType"),
            "basic auth needs no AuthType: {rust}"
        );
        assert!(rust.contains("ClientSecret,"));
    }
}
