//! The seed file: clients, users and scopes as JSON or YAML. `authdesk export` writes
//! it, `authdesk import` and `serve --seed` apply it (idempotently: clients match by
//! `client_id`, users by `username`, scopes by `name`), and the window imports and
//! exports the same format, so a team can commit its mock setup.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ClientInput, UserInput};
use crate::store::faults::FaultSpec;

pub const SEED_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts-bindings",
    derive(ts_rs::TS),
    ts(export, optional_fields)
)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeInput {
    pub name: String,
    pub description: Option<String>,
    pub claims: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default, deny_unknown_fields)]
pub struct SeedFile {
    pub version: u32,
    pub scopes: Vec<ScopeInput>,
    pub users: Vec<UserInput>,
    pub clients: Vec<ClientInput>,
    /// Fault rules (issue 20), spelled as `authdesk faults add`'s options; `serve
    /// --seed` and `import` set them afresh (rules added otherwise are kept).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts-bindings", ts(optional, as = "Option<Vec<FaultSpec>>"))]
    pub faults: Vec<FaultSpec>,
}

/// What applying a seed changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportSummary {
    pub scopes_created: u32,
    pub scopes_updated: u32,
    pub users_created: u32,
    pub users_updated: u32,
    pub clients_created: u32,
    pub clients_updated: u32,
}

/// The two spellings of a seed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum SeedFormat {
    Json,
    Yaml,
}

impl SeedFormat {
    /// What the window's save dialog suggests.
    pub fn default_file_name(self) -> &'static str {
        match self {
            SeedFormat::Json => "authdesk-records.json",
            SeedFormat::Yaml => "authdesk-records.yaml",
        }
    }

    /// `.yaml`/`.yml` files are YAML; everything else is JSON.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => {
                SeedFormat::Yaml
            }
            _ => SeedFormat::Json,
        }
    }
}

impl SeedFile {
    /// Parses JSON or YAML (YAML is a superset of JSON, but JSON errors read better).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let trimmed = text.trim_start();
        let parsed: Result<SeedFile> = if trimmed.starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| Error::invalid(origin, format!("not a valid seed file: {e}")))
        } else {
            serde_yaml_ng::from_str(text)
                .map_err(|e| Error::invalid(origin, format!("not a valid seed file: {e}")))
        };
        let seed = parsed?;
        if seed.version > SEED_VERSION {
            return Err(Error::invalid(
                "version",
                format!(
                    "{origin} is seed format version {}, newer than this Authdesk understands ({SEED_VERSION}); upgrade Authdesk",
                    seed.version
                ),
            ));
        }
        Ok(seed)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read seed file {}", path.display()), e))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn render(&self, format: SeedFormat) -> Result<String> {
        match format {
            SeedFormat::Json => serde_json::to_string_pretty(self)
                .map(|s| s + "\n")
                .map_err(|e| Error::Other(e.to_string())),
            SeedFormat::Yaml => {
                serde_yaml_ng::to_string(self).map_err(|e| Error::Other(e.to_string()))
            }
        }
    }
}
