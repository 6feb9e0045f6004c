//! `authdesk faults …`: failures on demand (issue 20). Works while `serve` (or the
//! desktop app) runs on the same data directory: a rule added here applies to the
//! running provider's very next request.

use std::path::Path;

use clap::{Args, Subcommand};

use super::print_json;
use crate::core::Core;
use crate::error::Result;
use crate::oauth::faults::{self, FaultSpec, FaultView};

#[derive(Debug, Subcommand)]
pub enum FaultsCommand {
    /// Add a fault rule (a target, one effect, at most one duration; without a
    /// duration it lasts until cleared), or run a scenario.
    Add(Box<AddArgs>),
    /// List the rules, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove one rule, or every rule without an id.
    Clear {
        id: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Pause one rule, or every rule without an id (it stays listed).
    Pause {
        id: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Resume one paused rule, or every rule without an id.
    Resume {
        id: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// token, authorize, userinfo, introspect, revoke, jwks, discovery, device,
    /// registration or all.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Only requests of this client.
    #[arg(long = "client", value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Only token requests with this grant type.
    #[arg(long)]
    pub grant_type: Option<String>,
    /// Effect: an OAuth error with this RFC code (invalid_grant,
    /// temporarily_unavailable, slow_down, access_denied, …).
    #[arg(long, value_name = "CODE")]
    pub error: Option<String>,
    /// The error's description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Effect: this HTTP status (500, 502, 503 or 429).
    #[arg(long, allow_negative_numbers = true)]
    pub status: Option<u16>,
    /// Retry-After seconds of a 503 or 429.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub retry_after: Option<i64>,
    /// Effect: latency in milliseconds (2000) or a range (500-3000).
    #[arg(long, value_name = "MS")]
    pub latency: Option<String>,
    /// Effect: close the connection without an answer.
    #[arg(long)]
    pub drop: bool,
    /// Effect: a truncated or malformed JSON body.
    #[arg(long, value_name = "truncated|malformed")]
    pub body: Option<String>,
    /// Effect: a bad token on purpose: wrong-aud, wrong-iss, wrong-nonce,
    /// wrong-at-hash, expired-id-token, unknown-key, alg-none, expired-access-token.
    #[arg(long, value_name = "KIND")]
    pub bad_token: Option<String>,
    /// Effect: tokens issued this many seconds in the past (negative) or future.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub clock_skew: Option<i64>,
    /// A scenario: next-refresh-fails, expire-access-tokens, rotate-keys,
    /// jwks-unavailable, clock-skew, consent-denied.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// The scenario's seconds (jwks-unavailable: how long, default 60; clock-skew: the
    /// offset).
    #[arg(long, allow_negative_numbers = true)]
    pub seconds: Option<i64>,
    /// Duration: the next N matching requests.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub count: Option<i64>,
    /// Duration: this percentage of the matching requests.
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub percent: Option<i64>,
    /// Duration: for this long (seconds, or 90s, 5m, 2h).
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    #[arg(long)]
    pub json: bool,
}

impl AddArgs {
    fn spec(&self) -> FaultSpec {
        FaultSpec {
            endpoint: self.endpoint.clone(),
            client: self.client.clone(),
            grant_type: self.grant_type.clone(),
            error: self.error.clone(),
            description: self.description.clone(),
            status: self.status,
            retry_after: self.retry_after,
            latency: self.latency.clone(),
            drop: self.drop.then_some(true),
            body: self.body.clone(),
            bad_token: self.bad_token.clone(),
            clock_skew: self.clock_skew,
            scenario: self.scenario.clone(),
            seconds: self.seconds,
            count: self.count,
            percent: self.percent,
            for_: self.for_.clone(),
        }
    }
}

impl FaultsCommand {
    pub fn json(&self) -> bool {
        match self {
            FaultsCommand::Add(a) => a.json,
            FaultsCommand::List { json }
            | FaultsCommand::Clear { json, .. }
            | FaultsCommand::Pause { json, .. }
            | FaultsCommand::Resume { json, .. } => *json,
        }
    }
}

fn print_rule(v: &FaultView) {
    let state = if v.active { "" } else { " [inactive]" };
    println!(
        "{}{state}  (origin {}, injected {})",
        v.summary, v.origin, v.injected
    );
}

pub async fn faults(dir: &Path, cmd: FaultsCommand) -> Result<()> {
    // Bad input is refused before the data directory is opened.
    if let FaultsCommand::Add(args) = &cmd {
        faults::parse(
            &args.spec(),
            "cli",
            crate::clock::Clock::now(&crate::clock::SystemClock),
        )?;
    }
    let core = Core::open(dir).await?;
    match cmd {
        FaultsCommand::Add(args) => {
            let added = faults::add(&core, &[args.spec()], "cli", false).await?;
            if args.json {
                return print_json(&added);
            }
            for v in &added.rules {
                println!("added {}", v.summary);
            }
            for d in &added.done {
                println!("{d}");
            }
            Ok(())
        }
        FaultsCommand::List { json } => {
            let all = faults::list(&core).await?;
            if json {
                return print_json(&all);
            }
            if all.is_empty() {
                println!("no fault rules");
            }
            for v in &all {
                print_rule(v);
            }
            Ok(())
        }
        FaultsCommand::Clear { id, json } => {
            let n = faults::clear(&core, id).await?;
            if json {
                return print_json(&serde_json::json!({"cleared": n}));
            }
            println!("cleared {n} fault rule{}", if n == 1 { "" } else { "s" });
            Ok(())
        }
        FaultsCommand::Pause { id, json } => pause(&core, id, true, json).await,
        FaultsCommand::Resume { id, json } => pause(&core, id, false, json).await,
    }
}

async fn pause(core: &Core, id: Option<i64>, paused: bool, json: bool) -> Result<()> {
    let n = faults::pause(core, id, paused).await?;
    if json {
        return print_json(&serde_json::json!({"changed": n, "paused": paused}));
    }
    println!(
        "{} {n} fault rule{}",
        if paused { "paused" } else { "resumed" },
        if n == 1 { "" } else { "s" }
    );
    Ok(())
}
