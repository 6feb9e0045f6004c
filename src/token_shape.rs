//! What a client configures about the shape of its tokens (issue 18): extra claims,
//! the audiences it may ask for, and a preset that makes its tokens look like those of
//! a popular identity provider. The records only; `oauth::claims` applies them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Claims the provider sets itself in access tokens, beyond a persona's reserved
/// claims ([`crate::model::RESERVED_CLAIMS`]): a client's extra claims and
/// `tokens mint --claims` cannot replace either.
pub const TOKEN_CLAIMS: &[&str] = &["client_id", "scope", "cnf", "act", "s_hash"];

fn reserved(name: &str) -> bool {
    crate::model::RESERVED_CLAIMS.contains(&name) || TOKEN_CLAIMS.contains(&name)
}

/// The reserved names among `names`, or `Ok` when there are none.
pub fn check_not_reserved<'a>(
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<(), String> {
    let mut found: Vec<&str> = names.into_iter().filter(|n| reserved(n)).collect();
    if found.is_empty() {
        return Ok(());
    }
    found.sort_unstable();
    found.dedup();
    Err(format!(
        "{what} cannot set {}: the provider sets {} itself (reserved: {}); rename the claim",
        found.join(", "),
        if found.len() == 1 { "it" } else { "them" },
        crate::model::RESERVED_CLAIMS
            .iter()
            .chain(TOKEN_CLAIMS)
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    ))
}

/// Where an extra claim goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ClaimTarget {
    AccessToken,
    IdToken,
    Userinfo,
}

impl ClaimTarget {
    pub const ALL: [ClaimTarget; 3] = [
        ClaimTarget::AccessToken,
        ClaimTarget::IdToken,
        ClaimTarget::Userinfo,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access_token" | "access" | "at" => Some(ClaimTarget::AccessToken),
            "id_token" | "id" => Some(ClaimTarget::IdToken),
            "userinfo" => Some(ClaimTarget::Userinfo),
            _ => None,
        }
    }
}

fn all_targets() -> Vec<ClaimTarget> {
    ClaimTarget::ALL.to_vec()
}

/// One claim a client adds to its tokens: a fixed value (for client_credentials too:
/// the client's own claims), or a persona's claim copied under a name (`roles` ←
/// the persona's `roles`; a persona without it adds nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(deny_unknown_fields)]
pub struct ClaimRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(type = "unknown"))]
    pub value: Option<Value>,
    /// The persona claim whose value this claim takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Where it goes; every token and userinfo when absent.
    #[serde(default = "all_targets")]
    pub into: Vec<ClaimTarget>,
}

impl ClaimRule {
    /// Checks a rule as a person wrote it.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("an extra claim needs a name".into());
        }
        check_not_reserved([name], "an extra claim")?;
        match (&self.value, &self.from) {
            (Some(_), Some(_)) => Err(format!(
                "the extra claim '{name}' has both a value and 'from'; give one: a fixed value, or the persona claim to copy"
            )),
            (None, None) => Err(format!(
                "the extra claim '{name}' needs a value or 'from' (the persona claim to copy, e.g. from: roles)"
            )),
            (None, Some(f)) if f.trim().is_empty() => {
                Err(format!("the extra claim '{name}' has an empty 'from'"))
            }
            _ if self.into.is_empty() => Err(format!(
                "the extra claim '{name}' goes nowhere: 'into' needs access_token, id_token or userinfo"
            )),
            _ => Ok(()),
        }
    }

    /// The rule `name=JSON` (a fixed value; text that is not JSON is a string) or
    /// `name<-claim` (copied from the persona), optionally followed by `@targets`
    /// (`access_token,id_token,userinfo`), as the CLI takes it.
    pub fn parse_cli(s: &str) -> Result<Self, String> {
        let (rule, into) = match s.rsplit_once('@') {
            Some((r, t)) if t.split(',').all(|t| ClaimTarget::parse(t.trim()).is_some()) => {
                let into = t
                    .split(',')
                    .filter_map(|t| ClaimTarget::parse(t.trim()))
                    .collect();
                (r, into)
            }
            _ => (s, all_targets()),
        };
        let parsed = if let Some((name, from)) = rule.split_once("<-") {
            ClaimRule {
                name: name.trim().into(),
                value: None,
                from: Some(from.trim().into()),
                into,
            }
        } else if let Some((name, value)) = rule.split_once('=') {
            let value = serde_json::from_str(value.trim())
                .unwrap_or_else(|_| Value::String(value.trim().into()));
            ClaimRule {
                name: name.trim().into(),
                value: Some(value),
                from: None,
                into,
            }
        } else {
            return Err(format!(
                "'{s}' is not a claim rule; write name=VALUE (a fixed value, JSON or text) or name<-persona_claim, optionally with @access_token,id_token,userinfo"
            ));
        };
        parsed.validate()?;
        Ok(parsed)
    }
}

/// An identity provider whose token shape a client (or the whole provider) imitates.
/// A preset changes claims and the access token's format, never the issuer or the
/// endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Microsoft Entra ID (v2.0 tokens).
    EntraId,
    Auth0,
    Keycloak,
    /// Amazon Cognito user pools.
    Cognito,
    Okta,
    Google,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::EntraId,
        Preset::Auth0,
        Preset::Keycloak,
        Preset::Cognito,
        Preset::Okta,
        Preset::Google,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::EntraId => "entra_id",
            Preset::Auth0 => "auth0",
            Preset::Keycloak => "keycloak",
            Preset::Cognito => "cognito",
            Preset::Okta => "okta",
            Preset::Google => "google",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Preset::ALL
            .into_iter()
            .find(|p| p.as_str() == s || (s == "entra" || s == "azure_ad") && *p == Preset::EntraId)
            .ok_or_else(|| {
                format!(
                    "unknown preset '{s}'; choose one of: {}",
                    Preset::ALL.map(Preset::as_str).join(", ")
                )
            })
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 8707 resource indicator (or an audience name): an absolute URI without a
/// fragment.
pub fn validate_resource(r: &str) -> Result<(), String> {
    let url = url::Url::parse(r).map_err(|_| {
        format!("'{r}' is not an absolute URI; a resource is written like https://api.example.com (RFC 8707)")
    })?;
    if url.fragment().is_some() {
        return Err(format!(
            "'{r}' has a fragment (#…); RFC 8707 resources must not"
        ));
    }
    if r.chars().any(char::is_whitespace) {
        return Err(format!("'{r}' contains white space"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_claims_are_named_in_the_error() {
        let e = check_not_reserved(["roles", "sub", "exp"], "--claims").unwrap_err();
        assert!(e.starts_with("--claims cannot set exp, sub:"), "{e}");
        assert!(check_not_reserved(["roles", "tenant"], "x").is_ok());
    }

    #[test]
    fn cli_rules_parse_values_copies_and_targets() {
        let r = ClaimRule::parse_cli("tenant=acme").unwrap();
        assert_eq!(r.value, Some(json!("acme")));
        assert_eq!(r.into, ClaimTarget::ALL.to_vec());
        let r = ClaimRule::parse_cli("level=3@access_token").unwrap();
        assert_eq!(r.value, Some(json!(3)));
        assert_eq!(r.into, vec![ClaimTarget::AccessToken]);
        let r = ClaimRule::parse_cli("roles<-roles@access_token,id_token").unwrap();
        assert_eq!(r.from.as_deref(), Some("roles"));
        assert_eq!(r.into, vec![ClaimTarget::AccessToken, ClaimTarget::IdToken]);
        assert!(ClaimRule::parse_cli("sub=x").unwrap_err().contains("sub"));
        assert!(ClaimRule::parse_cli("novalue").is_err());
        // An email address in a value is not mistaken for targets.
        let r = ClaimRule::parse_cli("owner=a@example.com").unwrap();
        assert_eq!(r.value, Some(json!("a@example.com")));
    }

    #[test]
    fn resources_are_absolute_uris_without_fragments() {
        assert!(validate_resource("https://api.example.com").is_ok());
        assert!(validate_resource("api://my-api").is_ok());
        assert!(validate_resource("my-api").is_err());
        assert!(validate_resource("https://api.example.com#x").is_err());
    }

    #[test]
    fn presets_parse_by_name() {
        assert_eq!(Preset::parse("Entra-ID").unwrap(), Preset::EntraId);
        assert_eq!(Preset::parse("azure_ad").unwrap(), Preset::EntraId);
        assert!(Preset::parse("ping").unwrap_err().contains("keycloak"));
    }
}
