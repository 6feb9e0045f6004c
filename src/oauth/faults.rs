//! Failures on demand (issue 20): fault rules that make the provider fail on purpose,
//! so a client's error paths can be exercised before production does it.
//!
//! - A rule ([`Rule`]) is a target (an [`Endpoint`] or all, optionally one client and
//!   one grant type), one [`Effect`] and a [`Limit`] (the next N requests, a
//!   percentage, until a time, or until cleared). [`parse`] turns what the CLI, the
//!   window or a seed file gave ([`FaultSpec`]) into one, or into a scenario acted on
//!   at once ([`Action`]). Bad input is one sentence naming the field and the fix.
//! - [`decide`] is the pure choice: which rule (if any) changes a request, given the
//!   request's [`Facts`], `now` and a random source (percentages, latency ranges).
//! - [`shape_token_response`] makes the bad tokens on purpose (an id_token with a wrong
//!   `aud`, `iss`, `nonce` or `at_hash`, expired, signed by an unknown key or with
//!   `alg: none`; an access token already expired; clock skew).
//! - [`Faults`] is the running provider's copy of the rules: one `stat` of the revision
//!   file per request tells whether another process changed them, so a rule added by
//!   the CLI applies to the very next request, and the database is read only then.
//! - [`Mark`] marks the request-log entries of changed requests ("injected by rule
//!   N", with what the real answer was, or that it was not computed).
//!
//! Only failures are injected: no effect turns a refusal into a success. Rules are
//! added only through the CLI, the window and seed files, never over HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::context::paths;
use super::error::{ErrorCode, OAuthError};
use super::mint::at_hash;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::events::ProviderEvent;
use crate::keys::{KeySet, SigningKey};
use crate::model::{GrantType, SigningAlg, Timestamp, random_token};
use crate::store::faults::{self as store, FaultRow, NewFault};
use crate::store::flows::hash_secret;
use crate::store::signals::Signal;

pub use crate::store::faults::FaultSpec;

/// The endpoints a rule can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Token,
    Authorize,
    Userinfo,
    Introspect,
    Revoke,
    Jwks,
    Discovery,
    Device,
    Registration,
}

impl Endpoint {
    pub const ALL: [Endpoint; 9] = [
        Endpoint::Token,
        Endpoint::Authorize,
        Endpoint::Userinfo,
        Endpoint::Introspect,
        Endpoint::Revoke,
        Endpoint::Jwks,
        Endpoint::Discovery,
        Endpoint::Device,
        Endpoint::Registration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Authorize => "authorize",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Introspect => "introspect",
            Endpoint::Revoke => "revoke",
            Endpoint::Jwks => "jwks",
            Endpoint::Discovery => "discovery",
            Endpoint::Device => "device",
            Endpoint::Registration => "registration",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.as_str() == s)
    }

    /// The endpoint a request path is, if a rule can target it.
    pub fn of_path(path: &str) -> Option<Self> {
        Some(match path {
            paths::TOKEN => Endpoint::Token,
            paths::AUTHORIZE => Endpoint::Authorize,
            paths::USERINFO => Endpoint::Userinfo,
            paths::INTROSPECT => Endpoint::Introspect,
            paths::REVOKE => Endpoint::Revoke,
            paths::JWKS => Endpoint::Jwks,
            paths::DISCOVERY | paths::AS_METADATA => Endpoint::Discovery,
            paths::DEVICE_AUTHORIZATION => Endpoint::Device,
            p if p == paths::REGISTER || p.starts_with("/register/") => Endpoint::Registration,
            _ => return None,
        })
    }

    /// Whether computing this endpoint's answer changes something (a code used, a
    /// refresh token rotated, a token revoked, a client registered, a request left
    /// waiting for consent): a replaced answer is then not computed at all.
    pub fn consumes(self) -> bool {
        matches!(
            self,
            Endpoint::Token
                | Endpoint::Authorize
                | Endpoint::Revoke
                | Endpoint::Device
                | Endpoint::Registration
        )
    }

    /// The request log's `kind` for this endpoint.
    pub fn log_kind(self) -> &'static str {
        match self {
            Endpoint::Device => "device_authorization",
            Endpoint::Registration => "register",
            e => e.as_str(),
        }
    }

    /// Whether the endpoint answers JSON (a body fault can apply).
    fn answers_json(self) -> bool {
        self != Endpoint::Authorize
    }

    fn choices() -> String {
        let mut all: Vec<&str> = Self::ALL.iter().map(|e| e.as_str()).collect();
        all.push("all");
        all.join(", ")
    }
}

/// A JSON body made unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFault {
    /// The first half of the real body.
    Truncated,
    /// The real body with a syntax error (a trailing comma).
    Malformed,
}

/// A bad token on purpose, for checking that a client refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadToken {
    WrongAud,
    WrongIss,
    WrongNonce,
    WrongAtHash,
    ExpiredIdToken,
    UnknownKey,
    AlgNone,
    ExpiredAccessToken,
}

impl BadToken {
    pub const ALL: [BadToken; 8] = [
        BadToken::WrongAud,
        BadToken::WrongIss,
        BadToken::WrongNonce,
        BadToken::WrongAtHash,
        BadToken::ExpiredIdToken,
        BadToken::UnknownKey,
        BadToken::AlgNone,
        BadToken::ExpiredAccessToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BadToken::WrongAud => "wrong-aud",
            BadToken::WrongIss => "wrong-iss",
            BadToken::WrongNonce => "wrong-nonce",
            BadToken::WrongAtHash => "wrong-at-hash",
            BadToken::ExpiredIdToken => "expired-id-token",
            BadToken::UnknownKey => "unknown-key",
            BadToken::AlgNone => "alg-none",
            BadToken::ExpiredAccessToken => "expired-access-token",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        let s = s.replace('_', "-");
        Self::ALL.iter().copied().find(|b| b.as_str() == s)
    }

    /// What the client gets instead of a good token.
    fn describe(self) -> &'static str {
        match self {
            BadToken::WrongAud => "an id_token whose aud is another client",
            BadToken::WrongIss => "an id_token from another issuer",
            BadToken::WrongNonce => "an id_token with a nonce the client did not send",
            BadToken::WrongAtHash => "an id_token whose at_hash does not match the access token",
            BadToken::ExpiredIdToken => "an id_token that is already expired",
            BadToken::UnknownKey => "an id_token signed by a key that is not in the JWKS",
            BadToken::AlgNone => "an unsigned id_token (alg: none)",
            BadToken::ExpiredAccessToken => "an access token that is already expired",
        }
    }
}

/// What a rule does to a request it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An OAuth error (at the authorization endpoint: a redirect with `state` and
    /// `iss`, as a real refusal).
    Error {
        code: ErrorCode,
        description: String,
    },
    /// An HTTP status (500, 502, 503, 429) with `Retry-After` for 503 and 429.
    Status {
        status: u16,
        retry_after: Option<i64>,
    },
    /// The real answer, later (milliseconds, fixed when `min == max`).
    Latency { min_ms: u64, max_ms: u64 },
    /// The connection is closed without an answer.
    Drop,
    /// The real JSON answer, unreadable.
    Body(BodyFault),
    /// The real token answer, with a bad token in it.
    BadToken(BadToken),
    /// Tokens issued this many seconds in the past (negative) or the future.
    ClockSkew(i64),
}

impl Effect {
    /// Whether the effect replaces the answer (the real one is then not sent).
    pub fn replaces(&self) -> bool {
        matches!(
            self,
            Effect::Error { .. } | Effect::Status { .. } | Effect::Drop
        )
    }

    fn applies_at(&self, endpoint: Endpoint) -> bool {
        match self {
            Effect::Body(_) => endpoint.answers_json(),
            Effect::BadToken(_) | Effect::ClockSkew(_) => endpoint == Endpoint::Token,
            _ => true,
        }
    }

    /// One phrase: what the client gets.
    pub fn describe(&self) -> String {
        match self {
            Effect::Error { code, description } => {
                format!("OAuth error {} ({description})", code.as_str())
            }
            Effect::Status {
                status,
                retry_after: Some(s),
            } => format!("HTTP {status} with Retry-After: {s}"),
            Effect::Status { status, .. } => format!("HTTP {status}"),
            Effect::Latency { min_ms, max_ms } if min_ms == max_ms => {
                format!("{min_ms} ms of latency")
            }
            Effect::Latency { min_ms, max_ms } => format!("{min_ms}-{max_ms} ms of latency"),
            Effect::Drop => "the connection dropped without an answer".into(),
            Effect::Body(BodyFault::Truncated) => "a truncated JSON body".into(),
            Effect::Body(BodyFault::Malformed) => "a malformed JSON body".into(),
            Effect::BadToken(b) => b.describe().into(),
            Effect::ClockSkew(s) if *s < 0 => format!("tokens issued {} s in the past", -s),
            Effect::ClockSkew(s) => format!("tokens issued {s} s in the future"),
        }
    }
}

/// How long a rule lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The next N matching requests: this many are left.
    Count(i64),
    /// This percentage of the matching requests.
    Percent(u8),
    /// Until this time.
    Until(Timestamp),
    UntilCleared,
}

/// A stored rule, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: i64,
    /// `None`: every endpoint.
    pub endpoint: Option<Endpoint>,
    pub client: Option<String>,
    pub grant_type: Option<String>,
    pub effect: Effect,
    pub limit: Limit,
    pub paused: bool,
    pub injected: i64,
    pub origin: String,
    pub created_at: Timestamp,
    pub spec: FaultSpec,
}

/// A scenario acted on at once (no rule is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ExpireAccessTokens,
    RotateKeys,
}

/// A validated [`FaultSpec`].
#[derive(Debug, Clone)]
pub enum Parsed {
    Rule(Box<NewFault>),
    Now(Action),
}

/// The scenarios, by name.
pub const SCENARIOS: [&str; 6] = [
    "next-refresh-fails",
    "expire-access-tokens",
    "rotate-keys",
    "jwks-unavailable",
    "clock-skew",
    "consent-denied",
];

const DEFAULT_DESCRIPTION: &str = "this failure was injected on purpose by an Authdesk fault rule; `authdesk faults list` shows it and `authdesk faults clear` removes it";
const MAX_LATENCY_MS: u64 = 120_000;
const MAX_COUNT: i64 = 1_000_000;

fn invalid(field: &str, message: String) -> Error {
    Error::invalid(format!("fault {field}"), message)
}

/// `300`, `90s`, `5m`, `2h`, `1d`: seconds.
fn parse_seconds(s: &str, field: &str) -> Result<i64> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '-') {
        Some(at) => s.split_at(at),
        None => (s, "s"),
    };
    let n: i64 = number.parse().map_err(|_| {
        invalid(
            field,
            format!("'{s}' is not a duration; use seconds or 90s, 5m, 2h, 1d"),
        )
    })?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(invalid(
                field,
                format!("'{s}' has an unknown unit; use s, m, h or d"),
            ));
        }
    };
    Ok(n.saturating_mul(unit))
}

/// `2000`, `2000ms`, `500-3000`: milliseconds.
fn parse_latency(s: &str) -> Result<(u64, u64)> {
    let bad = || {
        invalid(
            "latency",
            format!(
                "'{s}' is not a latency; give milliseconds (2000) or a range (500-3000), at most {MAX_LATENCY_MS}"
            ),
        )
    };
    let one = |p: &str| -> Result<u64> {
        p.trim()
            .trim_end_matches("ms")
            .parse::<u64>()
            .map_err(|_| bad())
    };
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let v = one(s)?;
            (v, v)
        }
    };
    if min > max || max > MAX_LATENCY_MS {
        return Err(bad());
    }
    Ok((min, max))
}

/// The spec a scenario stands for (its own fields filled in), or the action it is.
fn expand_scenario(spec: &FaultSpec, name: &str) -> Result<std::result::Result<FaultSpec, Action>> {
    let effects_given = spec.error.is_some()
        || spec.status.is_some()
        || spec.latency.is_some()
        || spec.drop == Some(true)
        || spec.body.is_some()
        || spec.bad_token.is_some()
        || spec.clock_skew.is_some();
    if effects_given {
        return Err(invalid(
            "scenario",
            format!(
                "scenario '{name}' is an effect of its own; give either the scenario or an effect"
            ),
        ));
    }
    let mut out = spec.clone();
    let seconds_unused = |what: &str| -> Result<()> {
        if spec.seconds.is_some() {
            return Err(invalid(
                "seconds",
                format!("scenario '{what}' takes no seconds"),
            ));
        }
        Ok(())
    };
    match name {
        "next-refresh-fails" => {
            seconds_unused(name)?;
            out.endpoint = Some("token".into());
            out.grant_type = Some("refresh_token".into());
            out.error = Some("invalid_grant".into());
            out.description.get_or_insert_with(|| {
                "the refresh token was revoked (injected on purpose by an Authdesk fault rule: the next refresh fails)".into()
            });
            if out.count.is_none() && out.percent.is_none() && out.for_.is_none() {
                out.count = Some(1);
            }
        }
        "jwks-unavailable" => {
            let seconds = spec.seconds.unwrap_or(60);
            if seconds < 1 {
                return Err(invalid(
                    "seconds",
                    format!("jwks-unavailable needs 1 second or more (got {seconds})"),
                ));
            }
            out.endpoint = Some("jwks".into());
            out.status = Some(503);
            out.retry_after.get_or_insert(seconds);
            if out.count.is_none() && out.percent.is_none() && out.for_.is_none() {
                out.for_ = Some(seconds.to_string());
            }
            out.seconds = None;
        }
        "clock-skew" => {
            let Some(seconds) = spec.seconds.filter(|s| *s != 0) else {
                return Err(invalid(
                    "seconds",
                    "clock-skew needs --seconds N (negative: tokens issued in the past, positive: in the future)".into(),
                ));
            };
            out.endpoint.get_or_insert_with(|| "token".into());
            out.clock_skew = Some(seconds);
            out.seconds = None;
        }
        "consent-denied" => {
            seconds_unused(name)?;
            out.endpoint = Some("authorize".into());
            out.error = Some("access_denied".into());
            out.description.get_or_insert_with(|| {
                "the user denied the request (injected on purpose by an Authdesk fault rule: consent is always denied)".into()
            });
        }
        "expire-access-tokens" | "rotate-keys" => {
            seconds_unused(name)?;
            let extra = spec.endpoint.is_some()
                || spec.client.is_some()
                || spec.grant_type.is_some()
                || spec.count.is_some()
                || spec.percent.is_some()
                || spec.for_.is_some()
                || spec.description.is_some()
                || spec.retry_after.is_some();
            if extra {
                return Err(invalid(
                    "scenario",
                    format!("scenario '{name}' happens at once and takes no target or duration"),
                ));
            }
            return Ok(Err(if name == "rotate-keys" {
                Action::RotateKeys
            } else {
                Action::ExpireAccessTokens
            }));
        }
        other => {
            return Err(invalid(
                "scenario",
                format!(
                    "unknown scenario '{other}'; use one of {}",
                    SCENARIOS.join(", ")
                ),
            ));
        }
    }
    Ok(Ok(out))
}

/// What a spec's target and effect are (its duration aside).
struct Compiled {
    endpoint: Option<Endpoint>,
    client: Option<String>,
    grant_type: Option<String>,
    effect: Effect,
}

fn compile(spec: &FaultSpec) -> Result<Compiled> {
    let endpoint = match spec.endpoint.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(invalid(
                "endpoint",
                format!(
                    "say which endpoint the rule targets: one of {}",
                    Endpoint::choices()
                ),
            ));
        }
        Some("all") => None,
        Some(e) => Some(Endpoint::parse(e).ok_or_else(|| {
            invalid(
                "endpoint",
                format!("unknown endpoint '{e}'; use one of {}", Endpoint::choices()),
            )
        })?),
    };
    let client = match spec.client.as_deref().map(str::trim) {
        Some("") => return Err(invalid("client", "the client id is empty".into())),
        c => c.map(str::to_string),
    };
    let grant_type = match spec.grant_type.as_deref() {
        None => None,
        Some(g) => {
            let g: GrantType = g.parse().map_err(|e| invalid("grant_type", e))?;
            if !matches!(endpoint, None | Some(Endpoint::Token)) {
                return Err(invalid(
                    "grant_type",
                    "a grant type only narrows token requests; use it with --endpoint token".into(),
                ));
            }
            Some(g.as_str().to_string())
        }
    };
    let mut effects: Vec<Effect> = Vec::new();
    if let Some(code) = &spec.error {
        let code = ErrorCode::parse(code.trim()).ok_or_else(|| {
            invalid(
                "error",
                format!(
                    "unknown OAuth error code '{code}'; use an RFC code such as invalid_grant, temporarily_unavailable, slow_down, access_denied, server_error"
                ),
            )
        })?;
        let description = spec
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DESCRIPTION.to_string());
        effects.push(Effect::Error { code, description });
    } else if spec.description.is_some() {
        return Err(invalid(
            "description",
            "a description goes with an OAuth error (--error CODE)".into(),
        ));
    }
    if let Some(status) = spec.status {
        if ![500, 502, 503, 429].contains(&status) {
            return Err(invalid(
                "status",
                format!("unsupported status {status}; use 500, 502, 503 or 429"),
            ));
        }
        let retry_after = match spec.retry_after {
            Some(s) if !(0..=86_400).contains(&s) => {
                return Err(invalid(
                    "retry_after",
                    format!("Retry-After {s} is not 0-86400 seconds"),
                ));
            }
            Some(_) if status != 503 && status != 429 => {
                return Err(invalid(
                    "retry_after",
                    "Retry-After goes with status 503 or 429".into(),
                ));
            }
            r => r,
        };
        effects.push(Effect::Status {
            status,
            retry_after,
        });
    } else if spec.retry_after.is_some() {
        return Err(invalid(
            "retry_after",
            "Retry-After goes with --status 503 or 429".into(),
        ));
    }
    if let Some(l) = &spec.latency {
        let (min_ms, max_ms) = parse_latency(l)?;
        effects.push(Effect::Latency { min_ms, max_ms });
    }
    if spec.drop == Some(true) {
        effects.push(Effect::Drop);
    }
    if let Some(b) = &spec.body {
        let fault = match b.trim() {
            "truncated" => BodyFault::Truncated,
            "malformed" => BodyFault::Malformed,
            other => {
                return Err(invalid(
                    "body",
                    format!("unknown body fault '{other}'; use truncated or malformed"),
                ));
            }
        };
        if endpoint == Some(Endpoint::Authorize) {
            return Err(invalid(
                "body",
                "the authorization endpoint answers redirects and pages, not JSON; target another endpoint".into(),
            ));
        }
        effects.push(Effect::Body(fault));
    }
    if let Some(b) = &spec.bad_token {
        let bad = BadToken::parse(b.trim()).ok_or_else(|| {
            invalid(
                "bad_token",
                format!(
                    "unknown bad token '{b}'; use one of {}",
                    BadToken::ALL.map(|b| b.as_str()).join(", ")
                ),
            )
        })?;
        effects.push(Effect::BadToken(bad));
    }
    if let Some(s) = spec.clock_skew {
        if s == 0 || s.abs() > crate::model::MAX_TTL {
            return Err(invalid(
                "clock_skew",
                format!("clock skew {s} s is not a non-zero number of seconds up to 10 years"),
            ));
        }
        effects.push(Effect::ClockSkew(s));
    }
    let effect = match effects.len() {
        0 => {
            return Err(invalid(
                "effect",
                "no effect: say what the rule does with one of error, status, latency, drop, body, bad_token, clock_skew (or a scenario)".into(),
            ));
        }
        1 => effects.remove(0),
        _ => {
            return Err(invalid(
                "effect",
                "one effect per rule; add a rule for each effect".into(),
            ));
        }
    };
    if matches!(effect, Effect::BadToken(_) | Effect::ClockSkew(_))
        && !matches!(endpoint, None | Some(Endpoint::Token))
    {
        return Err(invalid(
            "endpoint",
            "bad tokens and clock skew are served by the token endpoint; use --endpoint token"
                .into(),
        ));
    }
    Ok(Compiled {
        endpoint,
        client,
        grant_type,
        effect,
    })
}

/// Validates what the CLI, the window or a seed file gave: a rule to store (with its
/// count and end) or a scenario's action. Pure; `now` dates a "for T seconds".
pub fn parse(spec: &FaultSpec, origin: &'static str, now: Timestamp) -> Result<Parsed> {
    let spec = match spec.scenario.as_deref().map(str::trim) {
        Some(name) => match expand_scenario(spec, name)? {
            Ok(expanded) => expanded,
            Err(action) => return Ok(Parsed::Now(action)),
        },
        None => {
            if spec.seconds.is_some() {
                return Err(invalid(
                    "seconds",
                    "seconds go with a scenario (jwks-unavailable, clock-skew)".into(),
                ));
            }
            spec.clone()
        }
    };
    compile(&spec)?;
    let durations = [
        spec.count.is_some(),
        spec.percent.is_some(),
        spec.for_.is_some(),
    ]
    .iter()
    .filter(|d| **d)
    .count();
    if durations > 1 {
        return Err(invalid(
            "duration",
            "give at most one of count, percent and for (without any: until cleared)".into(),
        ));
    }
    if let Some(n) = spec.count
        && !(1..=MAX_COUNT).contains(&n)
    {
        return Err(invalid(
            "count",
            format!("count must be 1 or more (at most {MAX_COUNT}), got {n}"),
        ));
    }
    if let Some(p) = spec.percent
        && !(1..=100).contains(&p)
    {
        return Err(invalid(
            "percent",
            format!("percent must be 1-100, got {p}"),
        ));
    }
    let expires_at = match &spec.for_ {
        Some(f) => {
            let secs = parse_seconds(f, "for")?;
            if !(1..=crate::model::MAX_TTL).contains(&secs) {
                return Err(invalid(
                    "for",
                    format!("'{f}' is not a duration from 1 second to 10 years"),
                ));
            }
            Some(now + secs)
        }
        None => None,
    };
    Ok(Parsed::Rule(Box::new(NewFault {
        remaining: spec.count,
        expires_at,
        spec,
        origin,
    })))
}

impl Rule {
    /// A stored rule; `None` if its spec no longer parses (it is then never applied).
    pub fn from_row(row: FaultRow) -> Option<Rule> {
        let c = compile(&row.spec).ok()?;
        let limit = match (row.remaining, row.expires_at, row.spec.percent) {
            (Some(n), _, _) => Limit::Count(n),
            (None, Some(t), _) => Limit::Until(t),
            (None, None, Some(p)) => Limit::Percent(p.clamp(0, 100) as u8),
            (None, None, None) => Limit::UntilCleared,
        };
        Some(Rule {
            id: row.id,
            endpoint: c.endpoint,
            client: c.client,
            grant_type: c.grant_type,
            effect: c.effect,
            limit,
            paused: row.paused,
            injected: row.injected,
            origin: row.origin,
            created_at: row.created_at,
            spec: row.spec,
        })
    }

    /// Whether the rule can still change a request (not paused, not used up, not over).
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.paused
            && match self.limit {
                Limit::Count(n) => n > 0,
                Limit::Until(t) => now < t,
                Limit::Percent(p) => p > 0,
                Limit::UntilCleared => true,
            }
    }

    fn matches(&self, facts: &Facts<'_>) -> bool {
        self.endpoint.is_none_or(|e| e == facts.endpoint)
            && self.effect.applies_at(facts.endpoint)
            && self
                .client
                .as_deref()
                .is_none_or(|c| facts.client_id == Some(c))
            && self
                .grant_type
                .as_deref()
                .is_none_or(|g| facts.grant_type == Some(g))
    }

    /// "token requests of client web with grant refresh_token", "every request".
    pub fn target(&self) -> String {
        let mut out = match self.endpoint {
            Some(e) => format!("{} requests", e.as_str()),
            None => "requests to any endpoint".to_string(),
        };
        if let Some(c) = &self.client {
            out.push_str(&format!(" of client {c}"));
        }
        if let Some(g) = &self.grant_type {
            out.push_str(&format!(" with grant {g}"));
        }
        out
    }

    pub fn duration(&self, now: Timestamp) -> String {
        match self.limit {
            Limit::Count(n) => format!("{n} more request{}", if n == 1 { "" } else { "s" }),
            Limit::Percent(p) => format!("{p}% of them, until cleared"),
            Limit::Until(t) if t > now => format!("for {} more s", t - now),
            Limit::Until(_) => "ended".into(),
            Limit::UntilCleared => "until cleared".into(),
        }
    }

    /// One line: `rule 3: token requests → OAuth error invalid_grant (…), 1 more request`.
    pub fn summary(&self, now: Timestamp) -> String {
        let paused = if self.paused { " (paused)" } else { "" };
        format!(
            "rule {}: {} -> {}, {}{paused}",
            self.id,
            self.target(),
            self.effect.describe(),
            self.duration(now)
        )
    }
}

/// What a rule is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub endpoint: Endpoint,
    /// The client the request claims to be (before authentication).
    pub client_id: Option<&'a str>,
    pub grant_type: Option<&'a str>,
}

/// A rule's effect on one request, resolved (a latency chosen, `Retry-After` set).
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    pub rule: i64,
    pub effect: Effect,
    /// A "next N" rule: one of its requests must be taken before it applies.
    pub counted: bool,
}

/// Which rule (the oldest that matches and is active) changes a request, if any:
/// pure, with `rng` deciding percentages and latency ranges; rules in `skip` (used up
/// meanwhile) are passed over.
pub fn decide(
    rules: &[Rule],
    facts: &Facts<'_>,
    now: Timestamp,
    rng: &mut impl Rng,
    skip: &[i64],
) -> Option<Injection> {
    for rule in rules {
        if skip.contains(&rule.id) || !rule.is_active(now) || !rule.matches(facts) {
            continue;
        }
        if let Limit::Percent(p) = rule.limit
            && rng.gen_range(0u8..100) >= p
        {
            continue;
        }
        let effect = match &rule.effect {
            Effect::Latency { min_ms, max_ms } => {
                let ms = rng.gen_range(*min_ms..=*max_ms);
                Effect::Latency {
                    min_ms: ms,
                    max_ms: ms,
                }
            }
            Effect::Status {
                status: status @ (503 | 429),
                retry_after: None,
            } => Effect::Status {
                status: *status,
                retry_after: Some(match rule.limit {
                    Limit::Until(t) => (t - now).max(1),
                    _ => 1,
                }),
            },
            e => e.clone(),
        };
        return Some(Injection {
            rule: rule.id,
            effect,
            counted: matches!(rule.limit, Limit::Count(_)),
        });
    }
    None
}

/// A changed request's mark in the request log: the rule, what it did, and what the
/// real answer was (or that it was not computed).
#[derive(Debug, Clone)]
pub struct Mark {
    pub rule: i64,
    pub effect: String,
    /// The answer was replaced: the log entry becomes the injected refusal, its real
    /// outcome kept under `real`.
    pub replaced: Option<(String, String)>,
    /// Set once an entry carried the mark.
    pub logged: Arc<std::sync::atomic::AtomicBool>,
}

tokio::task_local! {
    static MARK: Mark;
}

impl Mark {
    pub fn new(injection: &Injection) -> Self {
        Mark {
            rule: injection.rule,
            effect: injection.effect.describe(),
            replaced: None,
            logged: Arc::default(),
        }
    }

    /// Runs `f` with this mark on every request-log entry it writes.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        MARK.scope(self, f).await
    }

    /// The mark of the request being answered, if it was changed.
    pub fn current() -> Option<Mark> {
        MARK.try_with(Mark::clone).ok()
    }

    /// Whether the request being answered carries a mark (without cloning it).
    pub fn is_set() -> bool {
        MARK.try_with(|_| ()).is_ok()
    }

    /// Whether an entry carried the mark.
    pub fn was_logged(&self) -> bool {
        self.logged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The `injected` detail of an answer that was not computed.
    pub fn not_processed(&self, endpoint: Endpoint) -> Value {
        json!({
            "rule": self.rule,
            "label": format!("injected by rule {}", self.rule),
            "effect": self.effect,
            "real": format!(
                "not processed: computing the real answer of the {} endpoint would have used something up (a code, a refresh token, a registration), so it was not computed",
                endpoint.as_str()
            ),
        })
    }

    /// Puts the mark on a request-log entry (its status and error become the injected
    /// ones when the answer was replaced, the real ones kept under `real`).
    pub fn apply(&self, entry: &mut crate::events::RequestEntry) {
        self.logged
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let real = match &self.replaced {
            Some((code, description)) => {
                let real = json!({
                    "status": entry.status.as_str(),
                    "error": entry.error,
                    "error_description": entry.error_description,
                });
                entry.status = crate::events::RequestStatus::Rejected;
                entry.error = Some(code.clone());
                entry.error_description = Some(description.clone());
                json!(format!("the real answer: {}", describe_real(&real)))
            }
            None => json!(format!(
                "the real answer was computed ({}), then changed: {}",
                entry.status.as_str(),
                self.effect
            )),
        };
        if !entry.detail.is_object() {
            entry.detail = json!({});
        }
        entry.detail["injected"] = json!({
            "rule": self.rule,
            "label": format!("injected by rule {}", self.rule),
            "effect": self.effect,
            "real": real,
        });
    }
}

fn describe_real(real: &Value) -> String {
    match real["error"].as_str() {
        Some(e) => format!(
            "{} with {e} ({})",
            real["status"].as_str().unwrap_or("rejected"),
            real["error_description"].as_str().unwrap_or("")
        ),
        None => real["status"].as_str().unwrap_or("completed").to_string(),
    }
}

/// What a replacing effect is, as a refusal (for the log and the answer's body).
pub fn as_refusal(effect: &Effect) -> OAuthError {
    match effect {
        Effect::Error { code, description } => OAuthError::new(*code, description.clone()),
        Effect::Status { status: 503, .. } => OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is unavailable (HTTP 503 injected on purpose by an Authdesk fault rule); retry after the Retry-After delay",
        )
        .with_status(503),
        Effect::Status { status: 429, .. } => OAuthError::new(
            ErrorCode::SlowDown,
            "too many requests (HTTP 429 injected on purpose by an Authdesk fault rule); retry after the Retry-After delay",
        )
        .with_status(429),
        Effect::Status { status, .. } => OAuthError::server_error(format!(
            "HTTP {status} injected on purpose by an Authdesk fault rule"
        ))
        .with_status(*status),
        _ => OAuthError::server_error(
            "the connection was dropped without an answer on purpose by an Authdesk fault rule",
        ),
    }
}

// ---- bad tokens on purpose ----

fn jwt_parts(jwt: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut it = jwt.split('.');
    let header = B64.decode(it.next()?).ok()?;
    let claims = B64.decode(it.next()?).ok()?;
    Some((
        serde_json::from_slice(&header).ok()?,
        serde_json::from_slice(&claims).ok()?,
    ))
}

/// The unsigned JWT of `claims` (`alg: none`, an empty signature).
fn unsigned_jwt(claims: &Map<String, Value>) -> Result<String> {
    let header = json!({"alg": "none", "typ": "JWT"});
    let encode = |v: &Value| -> Result<String> {
        Ok(B64.encode(serde_json::to_vec(v).map_err(|e| Error::Keys(e.to_string()))?))
    };
    Ok(format!(
        "{}.{}.",
        encode(&header)?,
        encode(&Value::Object(claims.clone()))?
    ))
}

fn shift(claims: &mut Map<String, Value>, names: &[&str], by: i64) {
    for n in names {
        if let Some(v) = claims.get(*n).and_then(Value::as_i64) {
            claims.insert((*n).to_string(), json!(v + by));
        }
    }
}

/// Signing keys for a bad token: the provider's (by `kid`), or a throwaway one.
pub trait Signers {
    fn by_kid(&self, kid: &str) -> Option<Arc<SigningKey>>;
    fn throwaway(&self, alg: SigningAlg) -> Result<Arc<SigningKey>>;
}

/// How a token response was changed, for the store: the access token's new value and
/// times (its row is rewritten), if it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshaped {
    pub old_access_token: String,
    pub new_access_token: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Puts a bad token (or clock skew) into a token response (RFC 6749 §5.1 JSON): pure
/// apart from signing. Returns how the access token changed, if it did; an effect
/// that needs an id_token leaves an answer without one as it is (`Ok(None)`).
pub fn shape_token_response(
    body: &mut Value,
    effect: &Effect,
    signers: &dyn Signers,
    now: Timestamp,
    issued_at: Timestamp,
    expires_in: i64,
) -> Result<Option<Reshaped>> {
    let sign_with = |header: &Map<String, Value>, claims: &Map<String, Value>| -> Result<String> {
        let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
        let key = signers
            .by_kid(kid)
            .ok_or_else(|| Error::Keys(format!("no signing key '{kid}'")))?;
        key.sign_jwt(
            header.get("typ").and_then(Value::as_str).unwrap_or("JWT"),
            &Value::Object(claims.clone()),
        )
    };
    // The access token first: the id_token's at_hash follows its new value.
    let mut reshaped = None;
    let access_shift = match effect {
        Effect::BadToken(BadToken::ExpiredAccessToken) => Some(now - expires_in - 60 - issued_at),
        Effect::ClockSkew(s) => Some(*s),
        _ => None,
    };
    if let (Some(by), Some(at)) = (access_shift, body["access_token"].as_str()) {
        let old = at.to_string();
        let new = match jwt_parts(&old) {
            Some((header, mut claims)) => {
                shift(&mut claims, &["iat", "nbf", "exp", "auth_time"], by);
                sign_with(&header, &claims)?
            }
            None => old.clone(),
        };
        body["access_token"] = json!(new);
        reshaped = Some(Reshaped {
            old_access_token: old,
            new_access_token: new,
            issued_at: issued_at + by,
            expires_at: issued_at + expires_in + by,
        });
    }
    let Some(id_token) = body["id_token"].as_str().map(str::to_string) else {
        return Ok(reshaped);
    };
    let Some((header, mut claims)) = jwt_parts(&id_token) else {
        return Ok(reshaped);
    };
    if let Some(r) = &reshaped {
        claims.insert("at_hash".into(), json!(at_hash(&r.new_access_token)));
    }
    let new = match effect {
        Effect::BadToken(BadToken::WrongAud) => {
            claims.insert("aud".into(), json!("another-client"));
            claims.insert("azp".into(), json!("another-client"));
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::WrongIss) => {
            claims.insert("iss".into(), json!("https://wrong-issuer.example"));
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::WrongNonce) => {
            claims.insert("nonce".into(), json!(random_token(12)));
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::WrongAtHash) => {
            claims.insert("at_hash".into(), json!(at_hash("not the access token")));
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::ExpiredIdToken) => {
            let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(now);
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
            let by = (now - 60) - exp;
            let _ = iat;
            shift(&mut claims, &["iat", "exp", "auth_time"], by);
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::UnknownKey) => {
            let alg = header
                .get("alg")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<SigningAlg>().ok())
                .unwrap_or(SigningAlg::Rs256);
            signers
                .throwaway(alg)?
                .sign_jwt("JWT", &Value::Object(claims.clone()))?
        }
        Effect::BadToken(BadToken::AlgNone) => unsigned_jwt(&claims)?,
        Effect::ClockSkew(s) => {
            shift(&mut claims, &["iat", "exp", "auth_time"], *s);
            sign_with(&header, &claims)?
        }
        Effect::BadToken(BadToken::ExpiredAccessToken) if reshaped.is_some() => {
            sign_with(&header, &claims)?
        }
        _ => id_token,
    };
    body["id_token"] = json!(new);
    Ok(reshaped)
}

/// Makes a JSON body unreadable.
pub fn spoil_body(body: &[u8], fault: BodyFault) -> Vec<u8> {
    match fault {
        BodyFault::Truncated => body[..body.len() / 2].to_vec(),
        BodyFault::Malformed => {
            let text = String::from_utf8_lossy(body);
            let trimmed = text.trim_end();
            match trimmed.strip_suffix('}') {
                Some(open) if open.len() > 1 => format!("{open},}}").into_bytes(),
                _ => b"{,}".to_vec(),
            }
        }
    }
}

// ---- the running provider's copy ----

/// The running provider's rules, re-read only when the faults signal changed.
#[derive(Debug, Default)]
pub struct Faults {
    state: RwLock<Live>,
    reload: tokio::sync::Mutex<()>,
    throwaway: Mutex<HashMap<SigningAlg, Arc<SigningKey>>>,
}

#[derive(Debug, Default)]
struct Live {
    loaded: bool,
    /// The [`Signal::Faults`] counter when the rules were read.
    signal: u64,
    rules: Arc<Vec<Rule>>,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the rules are loaded, current and none: a request then goes straight
    /// to its endpoint, with nothing to await. False means "ask [`Faults::rules`]".
    pub fn none_in_force(&self, core: &Core) -> bool {
        let signal = core.signals().read(Signal::Faults);
        self.state
            .read()
            .is_ok_and(|live| live.loaded && live.signal == signal && live.rules.is_empty())
    }

    /// The rules now in force, or `None` when there are none (the usual case: then a
    /// request costs a load from shared memory and a read lock). Re-reads the database
    /// when the faults signal changed since the last look; another process's change to
    /// the records or tokens (an expiry scenario) is followed at the same time.
    pub async fn rules(&self, core: &Core) -> Option<Arc<Vec<Rule>>> {
        let current = |signal| {
            self.state
                .read()
                .ok()
                .filter(|live| live.loaded && live.signal == signal)
                .map(|live| (!live.rules.is_empty()).then(|| live.rules.clone()))
        };
        let signal = core.signals().read(Signal::Faults);
        if let Some(rules) = current(signal) {
            return rules;
        }
        let _one = self.reload.lock().await;
        // Another request may have re-read it meanwhile.
        let signal = core.signals().read(Signal::Faults);
        if let Some(rules) = current(signal) {
            return rules;
        }
        let rules: Vec<Rule> = match store::list(core.store.pool()).await {
            Ok(rows) => rows.into_iter().filter_map(Rule::from_row).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the fault rules; none applied");
                return None;
            }
        };
        let _ = core.follow_other_processes().await;
        let rules = Arc::new(rules);
        if let Ok(mut live) = self.state.write() {
            *live = Live {
                loaded: true,
                signal,
                rules: rules.clone(),
            };
        }
        (!rules.is_empty()).then_some(rules)
    }

    /// Which rule changes the request described by `facts`, taking one request of a
    /// "next N" rule (exactly once, even under concurrent requests); counted in the
    /// rule's tally.
    pub async fn choose(
        &self,
        core: &Core,
        rules: &[Rule],
        facts: &Facts<'_>,
        now: Timestamp,
    ) -> Option<Injection> {
        let mut skip = Vec::new();
        loop {
            let injection = decide(rules, facts, now, &mut rand::thread_rng(), &skip)?;
            if !injection.counted {
                let pool = core.store.pool().clone();
                let events = core.events.clone();
                let id = injection.rule;
                tokio::spawn(async move {
                    if store::count_injection(&pool, id).await.is_ok() {
                        events.publish(ProviderEvent::FaultsChanged);
                    }
                });
                return Some(injection);
            }
            match store::take_one(core.store.pool(), injection.rule).await {
                Ok(Some(left)) => {
                    self.note_remaining(injection.rule, left);
                    core.events.publish(ProviderEvent::FaultsChanged);
                    return Some(injection);
                }
                Ok(None) => skip.push(injection.rule),
                Err(e) => {
                    tracing::warn!(error = %e, rule = injection.rule, "cannot take a request of the fault rule; not applied");
                    skip.push(injection.rule);
                }
            }
        }
    }

    fn note_remaining(&self, id: i64, left: i64) {
        if let Ok(mut live) = self.state.write() {
            let mut rules = (*live.rules).clone();
            for r in rules.iter_mut().filter(|r| r.id == id) {
                r.limit = Limit::Count(left);
                r.injected += 1;
            }
            live.rules = Arc::new(rules);
        }
    }

    /// A key that is not in the JWKS, made once per algorithm.
    async fn throwaway_key(&self, alg: SigningAlg) -> Result<Arc<SigningKey>> {
        if let Some(k) = self
            .throwaway
            .lock()
            .ok()
            .and_then(|m| m.get(&alg).cloned())
        {
            return Ok(k);
        }
        let key = tokio::task::spawn_blocking(move || {
            SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg)?)
        })
        .await
        .map_err(|e| Error::Keys(e.to_string()))??;
        let key = Arc::new(key);
        if let Ok(mut m) = self.throwaway.lock() {
            m.insert(alg, key.clone());
        }
        Ok(key)
    }
}

struct ProviderSigners<'a> {
    keys: &'a KeySet,
    throwaway: Option<Arc<SigningKey>>,
    now: Timestamp,
}

impl Signers for ProviderSigners<'_> {
    fn by_kid(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys.by_kid(kid, self.now)
    }
    fn throwaway(&self, _alg: SigningAlg) -> Result<Arc<SigningKey>> {
        self.throwaway
            .clone()
            .ok_or_else(|| Error::Keys("no throwaway key".into()))
    }
}

impl super::Context {
    /// Puts the bad token of `effect` into a token answer (`body`, the JSON sent) and
    /// rewrites the stored access token when it changed, so introspection agrees.
    pub async fn shape_token_answer(&self, body: &mut Value, effect: &Effect) -> Result<()> {
        let now = self.now();
        let throwaway = match effect {
            Effect::BadToken(BadToken::UnknownKey) => {
                let alg = body["id_token"]
                    .as_str()
                    .and_then(jwt_parts)
                    .and_then(|(h, _)| h.get("alg").and_then(Value::as_str).map(str::to_string))
                    .and_then(|a| a.parse::<SigningAlg>().ok())
                    .unwrap_or(SigningAlg::Rs256);
                Some(self.faults.throwaway_key(alg).await?)
            }
            _ => None,
        };
        let expires_in = body["expires_in"].as_i64().unwrap_or(0);
        // The token row's times: an access token issued now (a JWT says so itself).
        let issued_at = body["access_token"]
            .as_str()
            .and_then(jwt_parts)
            .and_then(|(_, c)| c.get("iat").and_then(Value::as_i64))
            .unwrap_or(now);
        let signers = ProviderSigners {
            keys: self.current_keys().await?,
            throwaway,
            now,
        };
        let reshaped = shape_token_response(body, effect, &signers, now, issued_at, expires_in)?;
        if let Some(r) = reshaped {
            store::reshape_token(
                self.core.store.pool(),
                &hash_secret(&r.old_access_token),
                &r.new_access_token,
                &hash_secret(&r.new_access_token),
                r.issued_at,
                r.expires_at,
            )
            .await?;
            self.core.tokens_revoked(None);
        }
        Ok(())
    }
}

/// An injected refusal at the authorization endpoint, as a real one: the request is
/// validated first (an unknown client or redirect URI is never redirected to: `None`,
/// and the real answer is given), then answered with `error` at the client's redirect
/// URI with `state` and `iss` (RFC 9207). Nothing else is done (no consent asked, no
/// code issued).
pub async fn refuse_authorization(
    ctx: &super::Context,
    params: &super::params::Params,
    error: OAuthError,
    mark: &Mark,
) -> std::result::Result<Option<super::authorize::Completion>, OAuthError> {
    use super::authorize::{AuthFailure, error_completion, validate};
    let client = match params.get("client_id") {
        Some(id) => ctx.core.cached_client(id).await?.map(|c| (*c).clone()),
        None => None,
    };
    let Ok(req) = validate(client, params) else {
        return Ok(None);
    };
    ctx.record(
        super::LogLine::rejected("authorize", &error)
            .client(Some(req.client.client_id.clone()))
            .params(&req.params)
            .detail(json!({"injected": mark.not_processed(Endpoint::Authorize)})),
    );
    let failure = AuthFailure::Redirect {
        error,
        redirect_uri: req.redirect_uri.clone(),
        response_mode: req.response_mode,
        state: req.state.clone(),
    };
    Ok(error_completion(&failure, &ctx.config.issuer))
}

// ---- operations for the CLI and the window ----

/// A rule as the CLI and the window show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct FaultView {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    /// The whole rule in one line.
    pub summary: String,
    /// `token`, …, or `all`.
    pub endpoint: String,
    pub client: Option<String>,
    pub grant_type: Option<String>,
    /// What the client gets.
    pub effect: String,
    /// How long it lasts, from now.
    pub duration: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub remaining: Option<i64>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub expires_at: Option<Timestamp>,
    pub paused: bool,
    /// Not paused, not used up, not over.
    pub active: bool,
    /// How many requests it changed.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub injected: i64,
    /// `cli`, `window` or `seed`.
    pub origin: String,
    pub scenario: Option<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: Timestamp,
    pub spec: FaultSpec,
}

impl FaultView {
    pub fn of(rule: &Rule, now: Timestamp) -> Self {
        FaultView {
            id: rule.id,
            summary: rule.summary(now),
            endpoint: rule
                .endpoint
                .map_or("all".to_string(), |e| e.as_str().to_string()),
            client: rule.client.clone(),
            grant_type: rule.grant_type.clone(),
            effect: rule.effect.describe(),
            duration: rule.duration(now),
            remaining: match rule.limit {
                Limit::Count(n) => Some(n),
                _ => None,
            },
            expires_at: match rule.limit {
                Limit::Until(t) => Some(t),
                _ => None,
            },
            paused: rule.paused,
            active: rule.is_active(now),
            injected: rule.injected,
            origin: rule.origin.clone(),
            scenario: rule.spec.scenario.clone(),
            created_at: rule.created_at,
            spec: rule.spec.clone(),
        }
    }
}

/// What adding rules did: the rules stored and what scenarios did at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct FaultsAdded {
    pub rules: Vec<FaultView>,
    /// Sentences: "expired 3 access tokens".
    pub done: Vec<String>,
}

/// Validates every spec (nothing is changed if one is refused), then stores the rules
/// (with `replace`, the rules of the same origin are replaced: a seed file's), acts on
/// the scenarios, and tells a running provider.
pub async fn add(
    core: &Core,
    specs: &[FaultSpec],
    origin: &'static str,
    replace: bool,
) -> Result<FaultsAdded> {
    let now = core.now();
    let (rules, actions) = check_all(specs, origin, now)?;
    let ids = if rules.is_empty() && !replace {
        Vec::new()
    } else {
        store::insert(core.store.pool(), &rules, replace.then_some(origin), now).await?
    };
    let mut done = Vec::new();
    for action in actions {
        match action {
            Action::ExpireAccessTokens => {
                let n = store::expire_access_tokens(core.store.pool(), now).await?;
                core.tokens_revoked(None);
                done.push(format!(
                    "expired {n} access token{} now",
                    if n == 1 { "" } else { "s" }
                ));
            }
            Action::RotateKeys => {
                // Every algorithm in use gets a new key and the old ones retire at
                // once: they leave the JWKS, and tokens they signed stop verifying.
                let made = core
                    .rotate_keys(None, crate::keys::RetireOld::Now, now)
                    .await?;
                done.push(format!(
                    "rotated the signing keys ({}); the old keys are retired: clients that cached the JWKS must fetch it again",
                    made.iter()
                        .map(|k| format!("{} {}", k.alg, k.kid))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    changed(core)?;
    let all = list(core).await?;
    Ok(FaultsAdded {
        rules: all.into_iter().filter(|v| ids.contains(&v.id)).collect(),
        done,
    })
}

/// Validates every spec (pure): the rules to store and the scenarios to act on, or the
/// first refusal (naming the entry when there are several, as in a seed file).
pub fn check_all(
    specs: &[FaultSpec],
    origin: &'static str,
    now: Timestamp,
) -> Result<(Vec<NewFault>, Vec<Action>)> {
    let mut rules = Vec::new();
    let mut actions = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let parsed = parse(spec, origin, now).map_err(|e| match e {
            Error::Invalid { field, message } if origin == "seed" => {
                Error::invalid(format!("faults[{i}]: {field}"), message)
            }
            e => e,
        })?;
        match parsed {
            Parsed::Rule(r) => rules.push(*r),
            Parsed::Now(a) => actions.push(a),
        }
    }
    Ok((rules, actions))
}

/// Every rule, oldest first.
pub async fn list(core: &Core) -> Result<Vec<FaultView>> {
    let now = core.now();
    Ok(store::list(core.store.pool())
        .await?
        .into_iter()
        .filter_map(Rule::from_row)
        .map(|r| FaultView::of(&r, now))
        .collect())
}

/// The rules that can still change a request, as one line each (for `serve`'s
/// warnings at start).
pub async fn active_summaries(core: &Core) -> Result<Vec<String>> {
    let now = core.now();
    Ok(store::list(core.store.pool())
        .await?
        .into_iter()
        .filter_map(Rule::from_row)
        .filter(|r| r.is_active(now))
        .map(|r| r.summary(now))
        .collect())
}

/// Removes one rule (`Some(id)`, which must exist) or all; returns how many.
pub async fn clear(core: &Core, id: Option<i64>) -> Result<u64> {
    let n = store::delete(core.store.pool(), id).await?;
    if let (Some(id), 0) = (id, n) {
        return Err(not_found(id));
    }
    changed(core)?;
    Ok(n)
}

/// Pauses or resumes one rule (`Some(id)`, which must exist) or all; returns how many.
pub async fn pause(core: &Core, id: Option<i64>, paused: bool) -> Result<u64> {
    let n = store::set_paused(core.store.pool(), id, paused).await?;
    if let (Some(id), 0) = (id, n) {
        return Err(not_found(id));
    }
    changed(core)?;
    Ok(n)
}

fn not_found(id: i64) -> Error {
    Error::NotFound {
        what: "fault rule",
        id: id.to_string(),
    }
}

fn changed(core: &Core) -> Result<()> {
    core.signals().bump(Signal::Faults);
    core.events.publish(ProviderEvent::FaultsChanged);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const NOW: Timestamp = 1_800_000_000;

    fn spec(endpoint: &str) -> FaultSpec {
        FaultSpec {
            endpoint: Some(endpoint.into()),
            ..Default::default()
        }
    }

    fn rule(id: i64, s: FaultSpec, remaining: Option<i64>, expires_at: Option<i64>) -> Rule {
        Rule::from_row(FaultRow {
            id,
            spec: s,
            origin: "cli".into(),
            remaining,
            expires_at,
            paused: false,
            injected: 0,
            created_at: NOW,
        })
        .unwrap()
    }

    fn facts(endpoint: Endpoint) -> Facts<'static> {
        Facts {
            endpoint,
            client_id: Some("web"),
            grant_type: None,
        }
    }

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    fn err(s: &FaultSpec) -> String {
        match parse(s, "cli", NOW) {
            Err(e) => e.to_string(),
            Ok(p) => panic!("accepted {p:?}"),
        }
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        let mut s = spec("tokn");
        s.error = Some("invalid_grant".into());
        assert!(err(&s).contains("unknown endpoint 'tokn'"), "{}", err(&s));
        let s = spec("token");
        assert!(err(&s).contains("no effect"));
        let mut s = spec("token");
        s.bad_token = Some("wrong-sub".into());
        assert!(err(&s).contains("unknown bad token 'wrong-sub'"));
        let mut s = spec("token");
        s.error = Some("invalid_grant".into());
        s.count = Some(-3);
        assert!(err(&s).contains("count must be 1 or more"), "{}", err(&s));
        let mut s = spec("token");
        s.error = Some("nope".into());
        assert!(err(&s).contains("unknown OAuth error code 'nope'"));
        let mut s = spec("token");
        s.status = Some(404);
        assert!(err(&s).contains("unsupported status 404"));
        let mut s = spec("token");
        s.status = Some(503);
        s.drop = Some(true);
        assert!(err(&s).contains("one effect per rule"));
        let mut s = spec("userinfo");
        s.bad_token = Some("alg-none".into());
        assert!(err(&s).contains("token endpoint"));
        let mut s = spec("token");
        s.error = Some("invalid_grant".into());
        s.count = Some(1);
        s.percent = Some(50);
        assert!(err(&s).contains("at most one of count, percent and for"));
        let s = FaultSpec {
            scenario: Some("meteor".into()),
            ..Default::default()
        };
        assert!(err(&s).contains("unknown scenario 'meteor'"));
    }

    #[test]
    fn a_duration_sets_the_count_or_the_end() {
        let mut s = spec("jwks");
        s.status = Some(503);
        s.for_ = Some("2m".into());
        match parse(&s, "cli", NOW).unwrap() {
            Parsed::Rule(r) => {
                assert_eq!(r.expires_at, Some(NOW + 120));
                assert_eq!(r.remaining, None);
            }
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn scenarios_expand_to_rules_or_actions() {
        let s = FaultSpec {
            scenario: Some("next-refresh-fails".into()),
            ..Default::default()
        };
        let Parsed::Rule(r) = parse(&s, "cli", NOW).unwrap() else {
            panic!()
        };
        let r = rule(1, r.spec, r.remaining, r.expires_at);
        assert_eq!(r.endpoint, Some(Endpoint::Token));
        assert_eq!(r.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(r.limit, Limit::Count(1));
        assert!(matches!(
            r.effect,
            Effect::Error {
                code: ErrorCode::InvalidGrant,
                ..
            }
        ));
        let s = FaultSpec {
            scenario: Some("jwks-unavailable".into()),
            ..Default::default()
        };
        let Parsed::Rule(r) = parse(&s, "cli", NOW).unwrap() else {
            panic!()
        };
        assert_eq!(r.expires_at, Some(NOW + 60));
        let s = FaultSpec {
            scenario: Some("expire-access-tokens".into()),
            ..Default::default()
        };
        assert!(matches!(
            parse(&s, "cli", NOW).unwrap(),
            Parsed::Now(Action::ExpireAccessTokens)
        ));
        let s = FaultSpec {
            scenario: Some("clock-skew".into()),
            ..Default::default()
        };
        assert!(err(&s).contains("--seconds"));
    }

    #[test]
    fn decide_picks_the_oldest_matching_active_rule() {
        let mut grant = spec("token");
        grant.error = Some("invalid_grant".into());
        grant.grant_type = Some("refresh_token".into());
        let mut other_client = spec("all");
        other_client.status = Some(500);
        other_client.client = Some("mobile".into());
        let mut jwks = spec("jwks");
        jwks.status = Some(503);
        let rules = vec![
            rule(1, grant, Some(1), None),
            rule(2, other_client, None, None),
            rule(3, jwks, None, Some(NOW + 30)),
        ];
        let mut r = rng();
        // A token request with another grant: no rule.
        let mut f = facts(Endpoint::Token);
        f.grant_type = Some("authorization_code");
        assert_eq!(decide(&rules, &f, NOW, &mut r, &[]), None);
        f.grant_type = Some("refresh_token");
        assert_eq!(decide(&rules, &f, NOW, &mut r, &[]).unwrap().rule, 1);
        assert!(decide(&rules, &f, NOW, &mut r, &[]).unwrap().counted);
        assert_eq!(decide(&rules, &f, NOW, &mut r, &[1]), None);
        // JWKS: 503 with Retry-After until the rule ends.
        let jwks = decide(&rules, &facts(Endpoint::Jwks), NOW, &mut r, &[]).unwrap();
        assert_eq!(
            jwks.effect,
            Effect::Status {
                status: 503,
                retry_after: Some(30)
            }
        );
        // Ended: no longer applies.
        assert_eq!(
            decide(&rules, &facts(Endpoint::Jwks), NOW + 30, &mut r, &[]),
            None
        );
        // The other client's rule.
        let mut f = facts(Endpoint::Userinfo);
        f.client_id = Some("mobile");
        assert_eq!(decide(&rules, &f, NOW, &mut r, &[]).unwrap().rule, 2);
    }

    #[test]
    fn used_up_and_paused_rules_do_not_apply() {
        let mut s = spec("token");
        s.error = Some("invalid_grant".into());
        let mut used = rule(1, s.clone(), Some(0), None);
        assert_eq!(
            decide(
                std::slice::from_ref(&used),
                &facts(Endpoint::Token),
                NOW,
                &mut rng(),
                &[]
            ),
            None
        );
        used.limit = Limit::UntilCleared;
        used.paused = true;
        assert_eq!(
            decide(&[used], &facts(Endpoint::Token), NOW, &mut rng(), &[]),
            None
        );
    }

    #[test]
    fn a_percentage_applies_to_about_that_share() {
        let mut s = spec("token");
        s.status = Some(500);
        s.percent = Some(25);
        let rules = vec![rule(1, s, None, None)];
        let mut r = rng();
        let hits = (0..4000)
            .filter(|_| decide(&rules, &facts(Endpoint::Token), NOW, &mut r, &[]).is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn a_latency_range_is_chosen_within_it() {
        let mut s = spec("all");
        s.latency = Some("100-200".into());
        let rules = vec![rule(1, s, None, None)];
        let mut r = rng();
        for _ in 0..100 {
            match decide(&rules, &facts(Endpoint::Introspect), NOW, &mut r, &[])
                .unwrap()
                .effect
            {
                Effect::Latency { min_ms, max_ms } => {
                    assert_eq!(min_ms, max_ms);
                    assert!((100..=200).contains(&min_ms));
                }
                e => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn body_faults_and_bad_tokens_keep_to_their_endpoints() {
        let mut s = spec("all");
        s.body = Some("truncated".into());
        let rules = vec![rule(1, s, None, None)];
        assert_eq!(
            decide(&rules, &facts(Endpoint::Authorize), NOW, &mut rng(), &[]),
            None
        );
        assert!(decide(&rules, &facts(Endpoint::Jwks), NOW, &mut rng(), &[]).is_some());
        let mut s = spec("all");
        s.bad_token = Some("wrong-aud".into());
        let rules = vec![rule(1, s, None, None)];
        assert_eq!(
            decide(&rules, &facts(Endpoint::Userinfo), NOW, &mut rng(), &[]),
            None
        );
    }

    #[test]
    fn spoiled_bodies_are_not_json() {
        let body = br#"{"access_token":"abc","expires_in":3600}"#;
        for fault in [BodyFault::Truncated, BodyFault::Malformed] {
            let spoiled = spoil_body(body, fault);
            assert!(
                serde_json::from_slice::<Value>(&spoiled).is_err(),
                "{fault:?}"
            );
            assert!(!spoiled.is_empty());
        }
    }

    struct TestSigners {
        key: Arc<SigningKey>,
        other: Arc<SigningKey>,
    }

    impl Signers for TestSigners {
        fn by_kid(&self, kid: &str) -> Option<Arc<SigningKey>> {
            (kid == self.key.kid).then(|| self.key.clone())
        }
        fn throwaway(&self, _: SigningAlg) -> Result<Arc<SigningKey>> {
            Ok(self.other.clone())
        }
    }

    fn es256() -> SigningKey {
        let pkcs8 = SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap();
        SigningKey::from_pkcs8(SigningAlg::Es256, &pkcs8).unwrap()
    }

    fn answer(signers: &TestSigners) -> Value {
        let access = signers
            .key
            .sign_jwt(
                "at+jwt",
                &json!({"iss": "https://localhost:8443", "aud": "web", "iat": NOW, "nbf": NOW, "exp": NOW + 3600}),
            )
            .unwrap();
        let id = signers
            .key
            .sign_jwt(
                "JWT",
                &json!({"iss": "https://localhost:8443", "aud": "web", "azp": "web", "nonce": "n-1", "iat": NOW, "exp": NOW + 300, "at_hash": at_hash(&access)}),
            )
            .unwrap();
        json!({"access_token": access, "id_token": id, "expires_in": 3600, "token_type": "Bearer"})
    }

    fn claims(jwt: &Value) -> (Map<String, Value>, Map<String, Value>) {
        jwt_parts(jwt.as_str().unwrap()).unwrap()
    }

    #[test]
    fn bad_id_tokens_are_wrong_in_exactly_one_way() {
        let signers = TestSigners {
            key: es256().into(),
            other: Arc::new(es256()),
        };
        let cases = [
            (BadToken::WrongAud, "aud", json!("another-client")),
            (
                BadToken::WrongIss,
                "iss",
                json!("https://wrong-issuer.example"),
            ),
            (BadToken::ExpiredIdToken, "exp", json!(NOW - 60)),
        ];
        for (bad, claim, want) in cases {
            let mut body = answer(&signers);
            let r =
                shape_token_response(&mut body, &Effect::BadToken(bad), &signers, NOW, NOW, 3600)
                    .unwrap();
            assert_eq!(r, None);
            let (h, c) = claims(&body["id_token"]);
            assert_eq!(c[claim], want, "{bad:?}");
            assert_eq!(h["kid"], json!(signers.key.kid));
        }
        let mut body = answer(&signers);
        shape_token_response(
            &mut body,
            &Effect::BadToken(BadToken::WrongNonce),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap();
        assert_ne!(claims(&body["id_token"]).1["nonce"], json!("n-1"));
        let mut body = answer(&signers);
        let good_at_hash = claims(&body["id_token"]).1["at_hash"].clone();
        shape_token_response(
            &mut body,
            &Effect::BadToken(BadToken::WrongAtHash),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap();
        assert_ne!(claims(&body["id_token"]).1["at_hash"], good_at_hash);
        let mut body = answer(&signers);
        shape_token_response(
            &mut body,
            &Effect::BadToken(BadToken::UnknownKey),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap();
        assert_eq!(claims(&body["id_token"]).0["kid"], json!(signers.other.kid));
        let mut body = answer(&signers);
        shape_token_response(
            &mut body,
            &Effect::BadToken(BadToken::AlgNone),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap();
        let token = body["id_token"].as_str().unwrap().to_string();
        assert_eq!(claims(&body["id_token"]).0["alg"], json!("none"));
        assert!(token.ends_with('.'));
    }

    #[test]
    fn an_expired_access_token_keeps_the_id_token_consistent() {
        let signers = TestSigners {
            key: es256().into(),
            other: Arc::new(es256()),
        };
        let mut body = answer(&signers);
        let r = shape_token_response(
            &mut body,
            &Effect::BadToken(BadToken::ExpiredAccessToken),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.expires_at, NOW - 60);
        assert_eq!(r.issued_at, NOW - 3660);
        let (_, at) = claims(&body["access_token"]);
        assert_eq!(at["exp"], json!(NOW - 60));
        let (_, id) = claims(&body["id_token"]);
        assert_eq!(
            id["at_hash"],
            json!(at_hash(body["access_token"].as_str().unwrap()))
        );
        // Clock skew moves both tokens.
        let mut body = answer(&signers);
        let r = shape_token_response(
            &mut body,
            &Effect::ClockSkew(-600),
            &signers,
            NOW,
            NOW,
            3600,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.issued_at, NOW - 600);
        assert_eq!(claims(&body["id_token"]).1["iat"], json!(NOW - 600));
    }

    #[test]
    fn a_replaced_answer_marks_the_entry_with_the_real_one() {
        let mut mark = Mark::new(&Injection {
            rule: 4,
            effect: Effect::Status {
                status: 503,
                retry_after: Some(5),
            },
            counted: false,
        });
        mark.replaced = Some(("temporarily_unavailable".into(), "down".into()));
        let mut entry = crate::events::RequestEntry {
            id: "x".into(),
            at: NOW,
            kind: "introspect".into(),
            client_id: None,
            username: None,
            status: crate::events::RequestStatus::Completed,
            error: None,
            error_description: None,
            params: Default::default(),
            detail: json!({"active": true}),
            count: 1,
            last_at: NOW,
        };
        mark.apply(&mut entry);
        assert_eq!(entry.status, crate::events::RequestStatus::Rejected);
        assert_eq!(entry.error.as_deref(), Some("temporarily_unavailable"));
        assert_eq!(
            entry.detail["injected"]["label"],
            json!("injected by rule 4")
        );
        assert!(
            entry.detail["injected"]["real"]
                .as_str()
                .unwrap()
                .contains("completed")
        );
        assert!(mark.was_logged());
    }
}
