//! The bounds and defaults the window's forms check while the person types: the values
//! the core ([`authdesk::model`]) and the shell ([`crate::settings`]) enforce, in one
//! value. They reach the window generated into `ui/src/bindings/Limits.ts` (the `LIMITS`
//! constant, written by `cargo test export_bindings` and compared in CI like the other
//! bindings), so TypeScript never carries a copy of its own.

use std::ops::RangeInclusive;

use authdesk::model::{
    DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_CODE_TTL, DEFAULT_ID_TOKEN_TTL, DEFAULT_REFRESH_TOKEN_TTL,
    DEFAULT_SCOPES, MAX_CODE_TTL, MAX_IDENTIFIER_LEN, MAX_TTL, RESERVED_CLAIMS,
};
use serde::Serialize;

/// How many entries the request log keeps (the settings' `log_max_entries`).
pub const LOG_MAX_ENTRIES: RangeInclusive<u32> = 100..=1_000_000;
/// How many days the request log keeps an entry (the settings' `log_max_age_days`).
pub const LOG_MAX_AGE_DAYS: RangeInclusive<u32> = 1..=365;

/// An inclusive range of whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

impl From<&RangeInclusive<u32>> for Bounds {
    fn from(r: &RangeInclusive<u32>) -> Self {
        Bounds {
            min: *r.start(),
            max: *r.end(),
        }
    }
}

/// What the window checks before a round trip; Rust still has the last word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Limits {
    /// A token lifetime in seconds (a client's, or a default in the settings).
    pub ttl: Bounds,
    /// The lifetimes (seconds) new clients get when neither the form nor the settings
    /// say otherwise.
    pub default_access_token_ttl: u32,
    pub default_refresh_token_ttl: u32,
    pub default_id_token_ttl: u32,
    /// An authorization code's lifetime (seconds), and the default.
    pub code_ttl: Bounds,
    pub default_code_ttl: u32,
    /// The longest client id or username.
    pub max_identifier_len: u32,
    /// Entries the request log keeps.
    pub log_max_entries: Bounds,
    /// Days the request log keeps an entry.
    pub log_max_age_days: Bounds,
    /// The scopes every installation has (they cannot be deleted) and new clients get.
    pub default_scopes: Vec<String>,
    /// Claims the provider sets itself; a persona's claims cannot hold them.
    pub reserved_claims: Vec<String>,
}

/// A core constant as the window's number type; every one of them fits.
fn whole(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Limits {
    pub fn current() -> Limits {
        Limits {
            ttl: Bounds {
                min: 1,
                max: whole(MAX_TTL),
            },
            default_access_token_ttl: whole(DEFAULT_ACCESS_TOKEN_TTL),
            default_refresh_token_ttl: whole(DEFAULT_REFRESH_TOKEN_TTL),
            default_id_token_ttl: whole(DEFAULT_ID_TOKEN_TTL),
            code_ttl: Bounds {
                min: 1,
                max: whole(MAX_CODE_TTL),
            },
            default_code_ttl: whole(DEFAULT_CODE_TTL),
            max_identifier_len: u32::try_from(MAX_IDENTIFIER_LEN).unwrap_or(u32::MAX),
            log_max_entries: (&LOG_MAX_ENTRIES).into(),
            log_max_age_days: (&LOG_MAX_AGE_DAYS).into(),
            default_scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            reserved_claims: RESERVED_CLAIMS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether `v` is a lifetime the core accepts.
    pub fn ttl_ok(&self, v: u32) -> bool {
        (self.ttl.min..=self.ttl.max).contains(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authdesk::model::ClientInput;

    #[test]
    fn the_ttl_bounds_are_the_cores() {
        let limits = Limits::current();
        let client = |ttl: u32| ClientInput {
            name: Some("limits".into()),
            redirect_uris: Some(vec!["http://127.0.0.1/cb".into()]),
            access_token_ttl: Some(i64::from(ttl)),
            ..Default::default()
        };
        let known = limits.default_scopes.clone();
        let accepted = |ttl: u32| client(ttl).into_client(None, &known, 0).is_ok();
        assert!(accepted(limits.ttl.min) && accepted(limits.ttl.max));
        assert!(!accepted(limits.ttl.min - 1) && !accepted(limits.ttl.max + 1));
        assert!(limits.ttl_ok(limits.default_refresh_token_ttl));
    }

    #[test]
    fn export_bindings_limits() {
        let ts = crate::bindings::limits_ts(&Limits::current());
        crate::bindings::write("Limits.ts", &ts);
    }
}
