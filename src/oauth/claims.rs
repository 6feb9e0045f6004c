//! The claims of tokens and userinfo (issue 18): what the scopes release, what the
//! sign-in asked for (the `claims` request parameter of OIDC Core §5.5, `acr_values`,
//! RFC 8707 resources), the client's extra claims, and a preset that places them
//! where a popular identity provider does. Everything here is pure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::error::{ErrorCode, OAuthError};
use crate::model::{Client, Scope, User};
use crate::token_shape::{ClaimTarget, Preset, validate_resource};

/// Auth0 wants custom claims namespaced by a URL of your own (not an Auth0 domain).
pub const AUTH0_NAMESPACE: &str = "https://authdesk.local/";

/// What one sign-in asked for and how it happened. Kept (as JSON) with its code, its
/// grant and its access tokens, so every token of the sign-in, its refreshes and
/// userinfo answer the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    /// RFC 8707 resources asked for (the access token's audiences).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Claims replacing the persona's for this sign-in (the consent page or panel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    /// The `claims` request parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<ClaimsRequest>,
    /// `acr_values`, in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// How the person was authenticated (RFC 8176 values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Claims added as they are to the access token and id_token (`tokens mint
    /// --claims`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<Map<String, Value>>,
    /// On a token row: the audience it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// The provider session's id for this client (OIDC Back-Channel Logout `sid`),
    /// when the sign-in had a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl SignIn {
    /// The JSON kept in a column, `None` when there is nothing beyond the defaults.
    pub fn to_column(&self) -> Option<String> {
        (self != &SignIn::default())
            .then(|| serde_json::to_string(self).ok())
            .flatten()
    }

    /// Reads a column; a plain object (a code stored before issue 18) is a claims
    /// override.
    pub fn from_column(text: Option<&str>) -> SignIn {
        let Some(text) = text else {
            return SignIn::default();
        };
        match serde_json::from_str::<SignIn>(text) {
            Ok(s) if s != SignIn::default() => s,
            _ => SignIn {
                claims: serde_json::from_str(text).ok(),
                ..SignIn::default()
            },
        }
    }
}

/// OIDC Core §5.5: the claims a client asks for, per target; each value is `null` or
/// `{"essential": bool, "value": …, "values": […]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Map<String, Value>>,
}

impl ClaimsRequest {
    /// Parses the `claims` parameter.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let bad = |why: String| {
            OAuthError::invalid_request(format!(
                "the claims parameter is not valid: {why}; it is a JSON object like {{\"id_token\":{{\"email\":{{\"essential\":true}}}},\"userinfo\":{{\"name\":null}}}} (OpenID Connect Core 5.5)"
            ))
        };
        let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let Value::Object(top) = value else {
            return Err(bad("it is not a JSON object".into()));
        };
        let mut out = ClaimsRequest::default();
        for (target, members) in top {
            let slot = match target.as_str() {
                "userinfo" => &mut out.userinfo,
                "id_token" => &mut out.id_token,
                // Unknown members are ignored (§5.5).
                _ => continue,
            };
            let Value::Object(m) = members else {
                return Err(bad(format!("'{target}' is not an object")));
            };
            for (name, spec) in &m {
                if !(spec.is_null() || spec.is_object()) {
                    return Err(bad(format!(
                        "the request for '{name}' must be null or an object"
                    )));
                }
            }
            *slot = Some(m);
        }
        Ok(out)
    }

    fn names(&self, target: ClaimTarget) -> impl Iterator<Item = (&String, &Value)> {
        let m = match target {
            ClaimTarget::IdToken => self.id_token.as_ref(),
            ClaimTarget::Userinfo => self.userinfo.as_ref(),
            ClaimTarget::AccessToken => None,
        };
        m.into_iter().flatten()
    }
}

/// The resources of a request: `resource` (RFC 8707, repeatable) and Auth0's
/// `audience` alias, each checked against what the client may ask for.
pub fn resources(client: &Client, asked: &[&str]) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in asked {
        validate_resource(r).map_err(|e| OAuthError::new(ErrorCode::InvalidTarget, e))?;
        if !client.resources.iter().any(|ok| ok == r) {
            let allowed = if client.resources.is_empty() {
                "it has none registered".to_string()
            } else {
                format!("allowed: {}", client.resources.join(" "))
            };
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!(
                    "the resource '{r}' is not registered for client '{}' ({allowed}); add it with `authdesk clients update {} --resource {r}` or in the client's Audiences",
                    client.client_id, client.client_id
                ),
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}

/// At the token endpoint: the resources asked for must be among those the sign-in
/// asked for (RFC 8707 §2.2), or, when it asked for none, allowed for the client.
pub fn narrow(
    client: &Client,
    granted: &[String],
    asked: &[&str],
) -> Result<Vec<String>, OAuthError> {
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    let wanted = resources(client, asked)?;
    if !granted.is_empty()
        && let Some(extra) = wanted.iter().find(|w| !granted.contains(w))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!(
                "the resource '{extra}' was not asked for at authorization (asked: {}); a token request may only narrow the resources",
                granted.join(" ")
            ),
        ));
    }
    Ok(wanted)
}

/// A stable UUID-shaped identifier made from `seed` (Entra's `oid` and `tid`).
pub fn uuid_from(seed: &str) -> String {
    let d = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Everything the claims of one response depend on.
#[derive(Debug, Clone, Copy)]
pub struct Shaper<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    /// The client's preset, else the provider's.
    pub preset: Option<Preset>,
    pub user: Option<&'a User>,
    pub sign_in: &'a SignIn,
    pub scopes: &'a [String],
    pub scope_defs: &'a [Scope],
}

impl<'a> Shaper<'a> {
    /// The persona's claims for this sign-in: the override, else the persona's.
    fn persona(&self) -> Option<&'a Map<String, Value>> {
        match (&self.sign_in.claims, self.user) {
            (Some(o), _) => Some(o),
            (None, Some(u)) => Some(&u.claims),
            (None, None) => None,
        }
    }

    fn persona_claim(&self, name: &str) -> Option<Value> {
        if name == "preferred_username"
            && let Some(u) = self.user
            && self.persona().and_then(|p| p.get(name)).is_none()
        {
            return Some(json!(u.username));
        }
        self.persona().and_then(|p| p.get(name)).cloned()
    }

    fn granted(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The scopes that name an API permission (not OpenID Connect's own).
    fn api_scopes(&self) -> Vec<&str> {
        self.scopes
            .iter()
            .map(String::as_str)
            .filter(|s| {
                ![
                    "openid",
                    "profile",
                    "email",
                    "address",
                    "phone",
                    "offline_access",
                ]
                .contains(s)
            })
            .collect()
    }

    fn list(&self, name: &str) -> Vec<Value> {
        match self.persona_claim(name) {
            Some(Value::Array(a)) => a,
            Some(Value::String(s)) => s
                .split_whitespace()
                .map(|x| Value::String(x.into()))
                .collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other],
        }
    }

    /// The access token's `aud`: the resources asked for, else the client's default
    /// audience, else the client id; a single audience as a string.
    pub fn audience(&self) -> Value {
        let mut aud: Vec<String> = if !self.sign_in.resources.is_empty() {
            self.sign_in.resources.clone()
        } else if let Some(a) = &self.client.default_audience {
            vec![a.clone()]
        } else {
            vec![self.client.client_id.clone()]
        };
        // Auth0 adds its userinfo endpoint when an API audience comes with openid.
        if self.preset == Some(Preset::Auth0)
            && self.granted("openid")
            && self.user.is_some()
            && aud.iter().all(|a| a != &self.client.client_id)
        {
            aud.push(format!("{}/userinfo", self.issuer.trim_end_matches('/')));
        }
        match aud.len() {
            1 => Value::String(aud.remove(0)),
            _ => json!(aud),
        }
    }

    /// The claims the scopes release, and those the claims request names (OIDC Core
    /// §5.4, §5.5), from the persona.
    fn released(&self, target: ClaimTarget) -> Map<String, Value> {
        let Some(user) = self.user else {
            return Map::new();
        };
        let mut out = super::mint::claims_for_scopes(
            user,
            self.sign_in.claims.as_ref(),
            self.scopes,
            self.scope_defs,
        );
        if let Some(req) = &self.sign_in.requested {
            for (name, _) in req.names(target) {
                if let Some(v) = self.persona_claim(name) {
                    out.insert(name.clone(), v);
                }
            }
        }
        out
    }

    fn extras(&self, target: ClaimTarget, out: &mut Map<String, Value>) {
        for rule in self
            .client
            .extra_claims
            .iter()
            .filter(|r| r.into.contains(&target))
        {
            let value = match (&rule.value, &rule.from) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(from)) => self.persona_claim(from),
                (None, None) => None,
            };
            if let Some(v) = value {
                out.insert(rule.name.clone(), v);
            }
        }
    }

    /// `acr`: the persona's, else the first of `acr_values` or of an `acr` claim
    /// request's values.
    fn acr(&self) -> Option<Value> {
        if let Some(v) = self.persona_claim("acr") {
            return Some(v);
        }
        if let Some(first) = self.sign_in.acr_values.first() {
            return Some(json!(first));
        }
        let spec = self
            .sign_in
            .requested
            .as_ref()?
            .id_token
            .as_ref()?
            .get("acr")?;
        spec.get("value")
            .cloned()
            .or_else(|| spec.get("values")?.as_array()?.first().cloned())
    }

    fn amr(&self) -> Option<Value> {
        self.persona_claim("amr")
            .or_else(|| (!self.sign_in.amr.is_empty()).then(|| json!(self.sign_in.amr)))
    }

    /// Claims of the access token beyond RFC 9068's own (which the minter sets last).
    pub fn access_claims(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(p) = self.preset {
            self.preset_access(p, &mut out);
        }
        self.extras(ClaimTarget::AccessToken, &mut out);
        out
    }

    /// Claims of the id_token beyond the protocol's (iss, sub, aud, exp, …).
    pub fn id_claims(&self) -> Map<String, Value> {
        let mut out = self.released(ClaimTarget::IdToken);
        if let Some(acr) = self.acr() {
            out.insert("acr".into(), acr);
        }
        if let Some(amr) = self.amr() {
            out.insert("amr".into(), amr);
        }
        if let Some(p) = self.preset {
            self.preset_id(p, &mut out);
        }
        self.extras(ClaimTarget::IdToken, &mut out);
        out
    }

    /// The userinfo claims beside `sub`.
    pub fn userinfo_claims(&self) -> Map<String, Value> {
        let mut out = self.released(ClaimTarget::Userinfo);
        if self.preset == Some(Preset::Google)
            && let Some(hd) = self.google_hd()
        {
            out.insert("hd".into(), hd);
        }
        self.extras(ClaimTarget::Userinfo, &mut out);
        out
    }

    fn put_user_names(&self, out: &mut Map<String, Value>, names: &[&str]) {
        for n in names {
            if let Some(v) = self.persona_claim(n) {
                out.insert((*n).into(), v);
            }
        }
    }

    fn google_hd(&self) -> Option<Value> {
        self.persona_claim("hd").or_else(|| {
            let email = self.persona_claim("email")?;
            let domain = email.as_str()?.rsplit_once('@')?.1.to_ascii_lowercase();
            (domain != "gmail.com").then(|| json!(domain))
        })
    }

    fn entra_ids(&self, out: &mut Map<String, Value>) {
        out.insert("ver".into(), json!("2.0"));
        out.insert("tid".into(), json!(uuid_from(self.issuer)));
        let oid = match self.user {
            Some(u) => self
                .persona_claim("oid")
                .unwrap_or_else(|| json!(uuid_from(&format!("user:{}", u.sub)))),
            None => json!(uuid_from(&format!("client:{}", self.client.client_id))),
        };
        out.insert("oid".into(), oid);
    }

    fn preset_access(&self, preset: Preset, out: &mut Map<String, Value>) {
        let roles = self.list("roles");
        let groups = self.list("groups");
        let user = self.user.is_some();
        match preset {
            Preset::EntraId => {
                self.entra_ids(out);
                out.insert("azp".into(), json!(self.client.client_id));
                out.insert(
                    "azpacr".into(),
                    json!(if self.client.is_public() { "0" } else { "1" }),
                );
                if user {
                    let scp = self.api_scopes().join(" ");
                    if !scp.is_empty() {
                        out.insert("scp".into(), json!(scp));
                    }
                    self.put_user_names(out, &["name", "preferred_username"]);
                } else {
                    out.insert("idtyp".into(), json!("app"));
                }
                if !roles.is_empty() {
                    out.insert("roles".into(), json!(roles));
                }
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            Preset::Auth0 => {
                out.insert("azp".into(), json!(self.client.client_id));
                let mut permissions: Vec<Value> =
                    self.api_scopes().into_iter().map(|s| json!(s)).collect();
                for p in self.list("permissions") {
                    if !permissions.contains(&p) {
                        permissions.push(p);
                    }
                }
                out.insert("permissions".into(), json!(permissions));
                if !user {
                    out.insert("gty".into(), json!("client-credentials"));
                }
                if !roles.is_empty() {
                    out.insert(format!("{AUTH0_NAMESPACE}roles"), json!(roles));
                }
            }
            Preset::Keycloak => {
                out.insert("typ".into(), json!("Bearer"));
                out.insert("azp".into(), json!(self.client.client_id));
                out.insert("realm_access".into(), json!({"roles": roles}));
                out.insert(
                    "resource_access".into(),
                    json!({ self.client.client_id.clone(): {"roles": roles} }),
                );
                if user {
                    self.put_user_names(
                        out,
                        &[
                            "preferred_username",
                            "name",
                            "given_name",
                            "family_name",
                            "email",
                            "email_verified",
                        ],
                    );
                }
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            Preset::Cognito => {
                out.insert("token_use".into(), json!("access"));
                out.insert("version".into(), json!(2));
                if let Some(u) = self.user {
                    out.insert("username".into(), json!(u.username));
                    let g = if groups.is_empty() { roles } else { groups };
                    if !g.is_empty() {
                        out.insert("cognito:groups".into(), json!(g));
                    }
                }
            }
            Preset::Okta => {
                out.insert("ver".into(), json!(1));
                out.insert("cid".into(), json!(self.client.client_id));
                out.insert("scp".into(), json!(self.scopes));
                if let Some(u) = self.user {
                    out.insert("uid".into(), json!(u.sub));
                }
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            // Google's access tokens are opaque: nothing to shape.
            Preset::Google => {}
        }
    }

    fn preset_id(&self, preset: Preset, out: &mut Map<String, Value>) {
        let roles = self.list("roles");
        let groups = self.list("groups");
        match preset {
            Preset::EntraId => {
                self.entra_ids(out);
                self.put_user_names(out, &["preferred_username", "name"]);
                if !roles.is_empty() {
                    out.insert("roles".into(), json!(roles));
                }
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            Preset::Auth0 => {
                if let Some(u) = self.user
                    && self.granted("profile")
                {
                    out.entry("nickname").or_insert_with(|| json!(u.username));
                }
                if !roles.is_empty() {
                    out.insert(format!("{AUTH0_NAMESPACE}roles"), json!(roles));
                }
            }
            Preset::Keycloak => {
                out.insert("typ".into(), json!("ID"));
                self.put_user_names(out, &["preferred_username"]);
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            Preset::Cognito => {
                out.insert("token_use".into(), json!("id"));
                if let Some(u) = self.user {
                    out.insert("cognito:username".into(), json!(u.username));
                }
                let g = if groups.is_empty() { roles } else { groups };
                if !g.is_empty() {
                    out.insert("cognito:groups".into(), json!(g));
                }
            }
            Preset::Okta => {
                out.insert("ver".into(), json!(1));
                out.insert("idp".into(), json!(uuid_from(self.issuer)));
                self.put_user_names(out, &["preferred_username"]);
                if !groups.is_empty() {
                    out.insert("groups".into(), json!(groups));
                }
            }
            Preset::Google => {
                if let Some(hd) = self.google_hd() {
                    out.insert("hd".into(), hd);
                }
                if self.granted("email") || self.granted("profile") {
                    self.put_user_names(out, &["email", "email_verified", "picture", "name"]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientInput, ClientType};
    use crate::token_shape::ClaimRule;

    fn client() -> Client {
        ClientInput {
            client_id: Some("app".into()),
            name: Some("App".into()),
            client_type: Some(ClientType::Confidential),
            redirect_uris: Some(vec!["http://127.0.0.1:9/cb".into()]),
            resources: Some(vec![
                "https://api.example".into(),
                "https://b.example".into(),
            ]),
            ..Default::default()
        }
        .test_client()
    }

    fn user() -> User {
        User {
            sub: "s-1".into(),
            username: "ann".into(),
            has_password: true,
            claims: json!({"name": "Ann", "email": "ann@corp.example", "roles": ["admin", "dev"], "groups": ["g1"]})
                .as_object()
                .unwrap()
                .clone(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn resources_must_be_registered_and_invalid_target_lists_the_allowed() {
        let c = client();
        assert_eq!(
            resources(&c, &["https://api.example", "https://api.example"]).unwrap(),
            vec!["https://api.example"]
        );
        let e = resources(&c, &["https://other.example"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert!(
            e.description
                .contains("allowed: https://api.example https://b.example"),
            "{}",
            e.description
        );
        let e = narrow(&c, &["https://api.example".into()], &["https://b.example"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert_eq!(
            narrow(&c, &["https://api.example".into()], &[]).unwrap(),
            vec!["https://api.example"]
        );
    }

    #[test]
    fn audience_is_the_resources_else_the_default_else_the_client() {
        let mut c = client();
        let u = user();
        let sign_in = SignIn::default();
        let scopes = vec!["openid".to_string()];
        let shaper = |c: &Client, s: &SignIn| {
            Shaper {
                issuer: "https://localhost:1",
                client: c,
                preset: None,
                user: Some(&u),
                sign_in: s,
                scopes: &scopes,
                scope_defs: &[],
            }
            .audience()
        };
        assert_eq!(shaper(&c, &sign_in), json!("app"));
        c.default_audience = Some("https://api.example".into());
        assert_eq!(shaper(&c, &sign_in), json!("https://api.example"));
        let two = SignIn {
            resources: vec!["https://api.example".into(), "https://b.example".into()],
            ..Default::default()
        };
        assert_eq!(
            shaper(&c, &two),
            json!(["https://api.example", "https://b.example"])
        );
    }

    #[test]
    fn extra_claims_go_where_they_are_told_and_copy_from_the_persona() {
        let mut c = client();
        c.extra_claims = vec![
            ClaimRule::parse_cli("tenant=acme@access_token").unwrap(),
            ClaimRule::parse_cli("roles<-roles@access_token,id_token").unwrap(),
            ClaimRule::parse_cli("dept<-department").unwrap(),
        ];
        let u = user();
        let s = SignIn::default();
        let scopes = vec!["openid".to_string()];
        let sh = Shaper {
            issuer: "https://localhost:1",
            client: &c,
            preset: None,
            user: Some(&u),
            sign_in: &s,
            scopes: &scopes,
            scope_defs: &[],
        };
        let at = sh.access_claims();
        assert_eq!(at["tenant"], "acme");
        assert_eq!(at["roles"], json!(["admin", "dev"]));
        assert!(!at.contains_key("dept"), "the persona has no department");
        let id = sh.id_claims();
        assert!(!id.contains_key("tenant"));
        assert_eq!(id["roles"], json!(["admin", "dev"]));
        assert!(!sh.userinfo_claims().contains_key("roles"));
        // client_credentials: the fixed values only.
        let cc = Shaper { user: None, ..sh }.access_claims();
        assert_eq!(cc["tenant"], "acme");
        assert!(!cc.contains_key("roles"));
    }

    #[test]
    fn the_override_replaces_the_persona_everywhere() {
        let c = client();
        let u = user();
        let s = SignIn {
            claims: Some(
                json!({"email": "other@x.example"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            ..Default::default()
        };
        let scopes = vec!["openid".to_string(), "email".to_string()];
        let defs = Scope::defaults();
        let sh = Shaper {
            issuer: "https://localhost:1",
            client: &c,
            preset: None,
            user: Some(&u),
            sign_in: &s,
            scopes: &scopes,
            scope_defs: &defs,
        };
        assert_eq!(sh.id_claims()["email"], "other@x.example");
        assert_eq!(sh.userinfo_claims()["email"], "other@x.example");
    }

    #[test]
    fn the_claims_request_releases_named_claims_for_its_target_only() {
        let req = ClaimsRequest::parse(
            r#"{"id_token":{"email":{"essential":true},"acr":{"values":["urn:gold"]}},"userinfo":{"name":null},"other":{}}"#,
        )
        .unwrap();
        let c = client();
        let u = user();
        let s = SignIn {
            requested: Some(req),
            ..Default::default()
        };
        let scopes = vec!["openid".to_string()];
        let sh = Shaper {
            issuer: "https://localhost:1",
            client: &c,
            preset: None,
            user: Some(&u),
            sign_in: &s,
            scopes: &scopes,
            scope_defs: &Scope::defaults(),
        };
        let id = sh.id_claims();
        assert_eq!(id["email"], "ann@corp.example");
        assert_eq!(id["acr"], "urn:gold");
        assert!(!id.contains_key("name"));
        let ui = sh.userinfo_claims();
        assert_eq!(ui["name"], "Ann");
        assert!(!ui.contains_key("email"));
        assert!(ClaimsRequest::parse("[1]").is_err());
        assert!(ClaimsRequest::parse(r#"{"id_token":{"email":true}}"#).is_err());
    }

    #[test]
    fn sign_in_columns_round_trip_and_read_old_overrides() {
        assert_eq!(SignIn::default().to_column(), None);
        let s = SignIn {
            resources: vec!["https://api.example".into()],
            amr: vec!["pwd".into()],
            ..Default::default()
        };
        assert_eq!(SignIn::from_column(s.to_column().as_deref()), s);
        let old = SignIn::from_column(Some(r#"{"email":"x@y.example"}"#));
        assert_eq!(old.claims.unwrap()["email"], "x@y.example");
    }

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid_from("x");
        assert_eq!(a, uuid_from("x"));
        assert_ne!(a, uuid_from("y"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
    }
}
