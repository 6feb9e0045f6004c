//! The error of core operations (storage, certificates, records). Protocol errors
//! on the OAuth endpoints have their own type, [`crate::oauth::OAuthError`].

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input refused; `field` names what to fix.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{what} '{id}' does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} '{id}' already exists")]
    Conflict { what: &'static str, id: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A failure of the group writer's own SQLite connection (or of the writer itself).
    #[error("database: {0}")]
    Storage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("certificates: {0}")]
    Tls(String),
    #[error("signing keys: {0}")]
    Keys(String),
    /// A protocol refusal (an RFC error code and its plain-words cause), for callers
    /// outside the HTTP layer (the window, the CLI).
    #[error("{code}: {message}")]
    Protocol { code: &'static str, message: String },
    /// A trust store cannot be changed as asked (`code`: `needs_root`, `read_only`,
    /// `missing_tool`, `no_store`, `cancelled`, `failed`); the message says what to do.
    #[error("{message}")]
    Trust { code: &'static str, message: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A stable machine-readable code, used by the CLI's `--json` errors and the window.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::Database(_) | Error::Migrate(_) | Error::Storage(_) => "database",
            Error::Io { .. } => "io",
            Error::Tls(_) => "tls",
            Error::Keys(_) => "keys",
            Error::Protocol { code, .. } | Error::Trust { code, .. } => code,
            Error::Other(_) => "error",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The shape errors take when they cross a boundary (CLI JSON, Tauri IPC).
    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_string(),
            message: self.to_string(),
            field: self.field().map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}
