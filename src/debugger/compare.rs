//! A request beside the client's registration: what was sent, what is registered,
//! where they differ, and the change to the client that would let it through. Pure;
//! [`apply`] makes a change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Core;
use crate::model::{AuthMethod, Client, ClientInput, GrantType, ResponseType};
use crate::oauth::authorize::redirect_matches;

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Row {
    /// `redirect_uri`, `grant_type`, `response_type`, `scope`, `client_auth`, `pkce`.
    pub field: String,
    /// What the request sent (`None`: not sent).
    pub sent: Option<String>,
    /// What the client's registration allows.
    pub registered: Vec<String>,
    /// The request does not fit the registration here.
    pub differs: bool,
    /// Why, in plain words, when it differs.
    pub reason: Option<String>,
}

/// A change to the client's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    AddRedirectUri { uri: String },
    AddGrantType { grant: GrantType },
    AddResponseType { response_type: ResponseType },
    AddScopes { scopes: Vec<String> },
    SetAuthMethod { method: AuthMethod },
}

/// A suggested fix: the change and how the window words it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Fix {
    pub label: String,
    pub change: Change,
}

impl Fix {
    fn new(change: Change) -> Fix {
        let label = match &change {
            Change::AddRedirectUri { uri } => format!("Add {uri} to the client's redirect URIs"),
            Change::AddGrantType { grant } => format!("Allow the {grant} grant"),
            Change::AddResponseType { response_type } => {
                format!("Allow the response type '{response_type}'")
            }
            Change::AddScopes { scopes } => format!("Allow the scopes {}", scopes.join(" ")),
            Change::SetAuthMethod { method } => {
                format!("Set the client's authentication method to {method}")
            }
        };
        Fix { label, change }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Comparison {
    pub client_id: String,
    pub rows: Vec<Row>,
    pub fixes: Vec<Fix>,
}

/// The client authentication a token request used, as the request log records it
/// (`detail.client_auth`): an [`AuthMethod`] name, or `None` for none at all.
pub fn auth_method_of(name: &str) -> Option<AuthMethod> {
    name.parse().ok()
}

/// Compares an `authorize` or `token` request (its logged parameters and detail)
/// with the client's registration.
pub fn compare(
    client: &Client,
    kind: &str,
    params: &BTreeMap<String, String>,
    detail: &serde_json::Value,
) -> Comparison {
    let mut rows = Vec::new();
    let mut fixes = Vec::new();
    let get = |k: &str| params.get(k).cloned();
    let is_authorize = kind == "authorize";

    // redirect_uri: at the authorization endpoint and in a code exchange.
    if is_authorize || params.contains_key("redirect_uri") {
        let sent = get("redirect_uri");
        let unregistered = sent.as_deref().is_some_and(|s| {
            !client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(client, r, s))
        });
        if let Some(uri) = sent.clone().filter(|_| unregistered) {
            fixes.push(Fix::new(Change::AddRedirectUri { uri }));
        }
        rows.push(Row {
            field: "redirect_uri".into(),
            sent,
            registered: client.redirect_uris.clone(),
            differs: unregistered,
            reason: unregistered.then(|| {
                if client.is_public() {
                    "not registered (matching is exact; only a loopback port may vary)".into()
                } else {
                    "not registered (matching is exact, port and path included)".into()
                }
            }),
        });
    }

    // The grant: named at the token endpoint, implied by response_type at authorize.
    let grant = if is_authorize {
        get("response_type").map(|rt| {
            if rt.split(' ').any(|t| t == "code") {
                GrantType::AuthorizationCode.as_str().to_string()
            } else {
                GrantType::Implicit.as_str().to_string()
            }
        })
    } else {
        get("grant_type")
    };
    if let Some(g) = grant {
        let parsed: Option<GrantType> = g.parse().ok();
        let allowed = parsed.is_some_and(|p| client.allows_grant(p));
        if let (Some(p), false) = (parsed, allowed) {
            fixes.push(Fix::new(Change::AddGrantType { grant: p }));
        }
        rows.push(Row {
            field: "grant_type".into(),
            sent: Some(g.clone()),
            registered: client.grant_types.iter().map(|g| g.to_string()).collect(),
            differs: !allowed,
            reason: (!allowed).then(|| match parsed {
                Some(_) => "the client is not allowed this grant".into(),
                None => "not a grant type Authdesk knows".into(),
            }),
        });
    }

    if is_authorize && let Some(rt) = get("response_type") {
        let parsed: Option<ResponseType> = rt.parse().ok();
        let allowed = parsed.is_some_and(|p| client.response_types.contains(&p));
        if let (Some(p), false) = (parsed, allowed) {
            fixes.push(Fix::new(Change::AddResponseType { response_type: p }));
        }
        rows.push(Row {
            field: "response_type".into(),
            sent: Some(rt),
            registered: client
                .response_types
                .iter()
                .map(|r| r.to_string())
                .collect(),
            differs: !allowed,
            reason: (!allowed).then(|| "the client is not allowed this response type".into()),
        });
    }

    if let Some(scope) = get("scope") {
        let missing: Vec<String> = scope
            .split(' ')
            .filter(|s| !s.is_empty() && !client.scopes.iter().any(|a| a == s))
            .map(str::to_string)
            .collect();
        if !missing.is_empty() {
            fixes.push(Fix::new(Change::AddScopes {
                scopes: missing.clone(),
            }));
        }
        rows.push(Row {
            field: "scope".into(),
            reason: (!missing.is_empty())
                .then(|| format!("not allowed for this client: {}", missing.join(" "))),
            differs: !missing.is_empty(),
            sent: Some(scope),
            registered: client.scopes.clone(),
        });
    }

    if !is_authorize && let Some(used) = detail.get("client_auth").and_then(|v| v.as_str()) {
        let method = auth_method_of(used);
        let registered = client.token_endpoint_auth_method;
        let differs = method != Some(registered);
        if let (true, Some(m)) = (differs, method) {
            fixes.push(Fix::new(Change::SetAuthMethod { method: m }));
        }
        rows.push(Row {
            field: "client_auth".into(),
            sent: Some(used.to_string()),
            registered: vec![registered.to_string()],
            differs,
            reason: differs.then(|| {
                format!("the client authenticated with {used}, but is registered for {registered}")
            }),
        });
    }

    if is_authorize {
        let required = client.is_public() || client.require_pkce;
        let sent =
            get("code_challenge_method").or_else(|| get("code_challenge").map(|_| "plain".into()));
        let differs = required && sent.is_none()
            || sent.as_deref() == Some("plain") && !client.allow_plain_pkce;
        rows.push(Row {
            field: "pkce".into(),
            registered: vec![if required { "required" } else { "optional" }.to_string()],
            reason: differs.then(|| {
                if sent.is_none() {
                    "the client must send code_challenge (S256): change the app".into()
                } else {
                    "the client does not allow the plain method: use S256 in the app".into()
                }
            }),
            differs,
            sent,
        });
    }

    Comparison {
        client_id: client.client_id.clone(),
        rows,
        fixes,
    }
}

/// The client's registration with one change made (a list gains what is missing).
pub fn changed(client: &Client, change: &Change) -> ClientInput {
    let mut input = ClientInput::from(client);
    fn add<T: PartialEq + Clone>(list: &mut Option<Vec<T>>, items: &[T]) {
        let l = list.get_or_insert_with(Vec::new);
        for i in items {
            if !l.contains(i) {
                l.push(i.clone());
            }
        }
    }
    match change {
        Change::AddRedirectUri { uri } => add(&mut input.redirect_uris, std::slice::from_ref(uri)),
        Change::AddGrantType { grant } => add(&mut input.grant_types, &[*grant]),
        Change::AddResponseType { response_type } => {
            add(&mut input.response_types, &[*response_type])
        }
        Change::AddScopes { scopes } => add(&mut input.scopes, scopes),
        Change::SetAuthMethod { method } => input.token_endpoint_auth_method = Some(*method),
    }
    input
}

/// Makes a suggested change to the stored client.
pub async fn apply(core: &Core, client_id: &str, change: &Change) -> crate::Result<Client> {
    let client = core.get_client(client_id).await?;
    core.update_client(client_id, changed(&client, change))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClientType;
    use serde_json::json;

    fn client(kind: ClientType) -> Client {
        let input: ClientInput = serde_json::from_value(json!({
            "client_id": "app",
            "name": "App",
            "client_type": kind.as_str(),
            "redirect_uris": ["http://127.0.0.1:5000/callback"],
            "scopes": ["openid", "profile"],
        }))
        .unwrap();
        let scopes: Vec<String> = crate::model::DEFAULT_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect();
        input.into_client(None, &scopes, 0).unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn row<'a>(c: &'a Comparison, field: &str) -> &'a Row {
        c.rows.iter().find(|r| r.field == field).unwrap()
    }

    #[test]
    fn an_unregistered_redirect_uri_differs_and_the_fix_adds_it() {
        let c = client(ClientType::Confidential);
        let p = params(&[
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:53121/callback"),
            ("scope", "openid"),
        ]);
        let cmp = compare(&c, "authorize", &p, &json!({}));
        assert!(row(&cmp, "redirect_uri").differs);
        assert!(!row(&cmp, "scope").differs);
        assert!(!row(&cmp, "grant_type").differs);
        let fix = Change::AddRedirectUri {
            uri: "http://127.0.0.1:53121/callback".into(),
        };
        assert_eq!(cmp.fixes, vec![Fix::new(fix.clone())]);
        let input = changed(&c, &fix);
        assert_eq!(
            input.redirect_uris.unwrap(),
            vec![
                "http://127.0.0.1:5000/callback",
                "http://127.0.0.1:53121/callback"
            ]
        );
    }

    #[test]
    fn a_public_clients_loopback_port_may_vary() {
        let c = client(ClientType::Public);
        let p = params(&[
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:61000/callback"),
            ("code_challenge", "x"),
            ("code_challenge_method", "S256"),
        ]);
        let cmp = compare(&c, "authorize", &p, &json!({}));
        assert!(!row(&cmp, "redirect_uri").differs);
        assert!(!row(&cmp, "pkce").differs);
        assert!(cmp.fixes.is_empty());
    }

    #[test]
    fn a_public_client_without_pkce_differs_with_no_client_side_fix() {
        let c = client(ClientType::Public);
        let p = params(&[
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:5000/callback"),
        ]);
        let cmp = compare(&c, "authorize", &p, &json!({}));
        assert!(row(&cmp, "pkce").differs);
        assert!(cmp.fixes.is_empty(), "the app must send PKCE");
    }

    #[test]
    fn a_grant_scope_and_auth_method_beyond_the_registration_each_get_a_fix() {
        let c = client(ClientType::Confidential);
        let p = params(&[("grant_type", "password"), ("scope", "openid email")]);
        let cmp = compare(
            &c,
            "token",
            &p,
            &json!({"client_auth": "client_secret_post"}),
        );
        assert!(row(&cmp, "grant_type").differs);
        assert!(row(&cmp, "scope").differs);
        assert!(row(&cmp, "client_auth").differs);
        let changes: Vec<Change> = cmp.fixes.into_iter().map(|f| f.change).collect();
        assert_eq!(
            changes,
            vec![
                Change::AddGrantType {
                    grant: GrantType::Password
                },
                Change::AddScopes {
                    scopes: vec!["email".into()]
                },
                Change::SetAuthMethod {
                    method: AuthMethod::ClientSecretPost
                },
            ]
        );
    }

    #[test]
    fn a_request_that_fits_has_no_difference() {
        let c = client(ClientType::Confidential);
        let p = params(&[
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:5000/callback"),
        ]);
        let cmp = compare(
            &c,
            "token",
            &p,
            &json!({"client_auth": "client_secret_basic"}),
        );
        assert!(cmp.rows.iter().all(|r| !r.differs), "{cmp:?}");
        assert!(cmp.fixes.is_empty());
    }
}
