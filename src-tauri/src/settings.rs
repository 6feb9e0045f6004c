//! Settings of the desktop app, kept in `tauri-plugin-store` (`settings.json` in the data
//! directory). Provider state lives in the core's SQLite database, never here.

use std::net::{IpAddr, Ipv4Addr};

use authdesk::config::{DEFAULT_PORT, ServeOptions};
use authdesk::error::Error;
use authdesk::model::{DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_ID_TOKEN_TTL, DEFAULT_REFRESH_TOKEN_TTL};
use serde::{Deserialize, Serialize};

use crate::limits::{LOG_MAX_AGE_DAYS, LOG_MAX_ENTRIES, Limits};

/// The store file, in the data directory.
pub const STORE_FILE: &str = "settings.json";
/// The key the settings are stored under.
pub const STORE_KEY: &str = "settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    #[default]
    System,
}

/// What the Settings view edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct Settings {
    pub port: u16,
    /// An IP address, or `localhost`.
    pub bind_address: String,
    /// Replaces `https://localhost:PORT` as the issuer, e.g. for `host.docker.internal`.
    pub issuer_override: Option<String>,
    /// RFC 7591 dynamic client registration.
    pub registration_open: bool,
    /// Default lifetimes (seconds) of new clients' tokens.
    pub access_token_ttl: u32,
    pub refresh_token_ttl: u32,
    pub id_token_ttl: u32,
    pub theme: Theme,
    pub start_minimized: bool,
    /// The request log keeps at most this many entries…
    pub log_max_entries: u32,
    /// …and none older than this many days (`serve --log-max-entries`,
    /// `--log-max-age-days`).
    pub log_max_age_days: u32,
}

/// The answer to `save_settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SaveSettingsResult {
    /// The provider runs with other address, port, issuer or registration settings
    /// than the saved ones until it restarts.
    pub restart_required: bool,
}

fn ttl(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: DEFAULT_PORT,
            bind_address: Ipv4Addr::LOCALHOST.to_string(),
            issuer_override: None,
            registration_open: true,
            access_token_ttl: ttl(DEFAULT_ACCESS_TOKEN_TTL),
            refresh_token_ttl: ttl(DEFAULT_REFRESH_TOKEN_TTL),
            id_token_ttl: ttl(DEFAULT_ID_TOKEN_TTL),
            theme: Theme::System,
            start_minimized: false,
            log_max_entries: ttl(authdesk::log::Retention::default().max_entries),
            log_max_age_days: ttl(authdesk::log::Retention::default().max_age_secs / 86_400),
        }
    }
}

impl Settings {
    /// Checks every field and returns the settings as they are stored (trimmed; an
    /// empty issuer override is none). Errors name the field, as the form expects.
    pub fn validated(mut self) -> Result<Settings, Error> {
        if self.port == 0 {
            return Err(Error::invalid(
                "port",
                "a port is a whole number from 1 to 65535",
            ));
        }
        self.bind_address = self.bind_address.trim().to_string();
        parse_bind(&self.bind_address)?;
        self.issuer_override = self
            .issuer_override
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        self.serve_options(None)?;
        let limits = Limits::current();
        for (field, v) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("id_token_ttl", self.id_token_ttl),
        ] {
            if !limits.ttl_ok(v) {
                return Err(Error::invalid(
                    field,
                    "a lifetime between 1 second and 10 years",
                ));
            }
        }
        if !LOG_MAX_ENTRIES.contains(&self.log_max_entries) {
            return Err(Error::invalid(
                "log_max_entries",
                format!(
                    "keep between {} and {} entries",
                    thousands(*LOG_MAX_ENTRIES.start()),
                    thousands(*LOG_MAX_ENTRIES.end())
                ),
            ));
        }
        if !LOG_MAX_AGE_DAYS.contains(&self.log_max_age_days) {
            return Err(Error::invalid(
                "log_max_age_days",
                format!(
                    "keep entries between {} and {} days",
                    LOG_MAX_AGE_DAYS.start(),
                    LOG_MAX_AGE_DAYS.end()
                ),
            ));
        }
        Ok(self)
    }

    /// How the provider is served with these settings; `port` overrides the stored port
    /// (the `AUTHDESK_PORT` environment variable, 0 for any free port).
    pub fn serve_options(&self, port: Option<u16>) -> Result<ServeOptions, Error> {
        let issuer_override = match &self.issuer_override {
            Some(s) => Some(url::Url::parse(s).map_err(|e| {
                Error::invalid(
                    "issuer_override",
                    format!(
                        "'{s}' is not an absolute URL ({e}), e.g. https://host.docker.internal:8443"
                    ),
                )
            })?),
            None => None,
        };
        let options = ServeOptions {
            bind: parse_bind(&self.bind_address)?,
            port: port.unwrap_or(self.port),
            issuer_override,
            auto_approve: None,
            registration_open: self.registration_open,
            log_retention: authdesk::log::Retention {
                max_age_secs: i64::from(self.log_max_age_days) * 86_400,
                max_entries: i64::from(self.log_max_entries),
            },
            // The newer standards' provider-wide switches (PAR, DPoP nonces) stay off.
            ..Default::default()
        };
        // The core checks the issuer (https, no query or fragment); name the form's field.
        options.issuer_for(options.port).map_err(|e| match e {
            Error::Invalid { message, .. } => Error::invalid("issuer_override", message),
            other => other,
        })?;
        Ok(options)
    }

    /// Settings that only apply when the provider (re)starts.
    pub fn needs_restart_from(&self, running: &Settings) -> bool {
        self.port != running.port
            || self.bind_address != running.bind_address
            || self.issuer_override != running.issuer_override
            || self.registration_open != running.registration_open
            || self.log_max_entries != running.log_max_entries
            || self.log_max_age_days != running.log_max_age_days
    }
}

/// 1000000 as "1,000,000", as the window writes it.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An IP address to listen on; `localhost` means the IPv4 loopback.
pub fn parse_bind(s: &str) -> Result<IpAddr, Error> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| {
            Error::invalid(
                "bind_address",
                format!("'{s}' is not an IP address; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let s = Settings::default().validated().unwrap();
        let o = s.serve_options(None).unwrap();
        assert!(o.bind.is_loopback());
        assert_eq!(o.port, 8443);
        assert_eq!(o.issuer_for(8443).unwrap(), "https://localhost:8443");
    }

    #[test]
    fn the_request_log_retention_reaches_the_provider_and_is_checked() {
        let s = Settings {
            log_max_entries: 500,
            log_max_age_days: 2,
            ..Settings::default()
        };
        let retention = s
            .validated()
            .unwrap()
            .serve_options(None)
            .unwrap()
            .log_retention;
        assert_eq!(retention.max_entries, 500);
        assert_eq!(retention.max_age_secs, 2 * 86_400);
        let field = |s: Settings| s.validated().unwrap_err().field().map(str::to_string);
        for (s, f) in [
            (
                Settings {
                    log_max_entries: 10,
                    ..Settings::default()
                },
                "log_max_entries",
            ),
            (
                Settings {
                    log_max_age_days: 0,
                    ..Settings::default()
                },
                "log_max_age_days",
            ),
        ] {
            assert_eq!(field(s).as_deref(), Some(f));
        }
        // Settings stored before these fields existed read as the defaults.
        let old: Settings = serde_json::from_value(serde_json::json!({"port": 9443})).unwrap();
        assert_eq!(old.log_max_entries, 10_000);
        assert_eq!(old.log_max_age_days, 7);
        assert!(
            Settings {
                log_max_entries: 200,
                ..Settings::default()
            }
            .needs_restart_from(&Settings::default())
        );
    }

    #[test]
    fn errors_name_the_field_the_form_shows() {
        let field = |s: Settings| s.validated().unwrap_err().field().map(str::to_string);
        let base = Settings::default();
        assert_eq!(
            field(Settings {
                port: 0,
                ..base.clone()
            })
            .as_deref(),
            Some("port")
        );
        assert_eq!(
            field(Settings {
                bind_address: "not an ip".into(),
                ..base.clone()
            })
            .as_deref(),
            Some("bind_address")
        );
        assert_eq!(
            field(Settings {
                issuer_override: Some("http://example.com".into()),
                ..base.clone()
            })
            .as_deref(),
            Some("issuer_override")
        );
        assert_eq!(
            field(Settings {
                issuer_override: Some("nope".into()),
                ..base.clone()
            })
            .as_deref(),
            Some("issuer_override")
        );
        assert_eq!(
            field(Settings {
                id_token_ttl: 0,
                ..base
            })
            .as_deref(),
            Some("id_token_ttl")
        );
    }

    #[test]
    fn blank_issuer_override_is_none_and_localhost_binds_loopback() {
        let s = Settings {
            issuer_override: Some("  ".into()),
            bind_address: " localhost ".into(),
            ..Settings::default()
        }
        .validated()
        .unwrap();
        assert_eq!(s.issuer_override, None);
        assert_eq!(s.bind_address, "localhost");
        assert!(s.serve_options(None).unwrap().bind.is_loopback());
    }

    #[test]
    fn only_server_settings_need_a_restart() {
        let a = Settings::default();
        assert!(
            !Settings {
                theme: Theme::Dark,
                access_token_ttl: 60,
                ..a.clone()
            }
            .needs_restart_from(&a)
        );
        assert!(
            Settings {
                port: 9443,
                ..a.clone()
            }
            .needs_restart_from(&a)
        );
        assert!(
            Settings {
                registration_open: false,
                ..a.clone()
            }
            .needs_restart_from(&a)
        );
    }

    #[test]
    fn retention_errors_name_the_bounds() {
        let err = Settings {
            log_max_entries: 99,
            ..Settings::default()
        }
        .validated()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("between 100 and 1,000,000 entries"),
            "{err}"
        );
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(123_456_789), "123,456,789");
    }

    #[test]
    fn missing_fields_take_defaults() {
        let s: Settings = serde_json::from_str(r#"{"port": 9000}"#).unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.theme, Theme::System);
        assert!(s.registration_open);
    }
}
