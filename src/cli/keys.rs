//! `authdesk keys list|rotate|retire`: the signing keys, from the command line. Each
//! works while `serve` (or the desktop app) runs on the same data directory: the
//! running provider follows the store's revision counter within half a second.

use std::path::Path;

use clap::Subcommand;

use super::{fmt_time, print_json};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::keys::{KeyInfo, RetireOld};
use crate::model::SigningAlg;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys, newest first: kid, algorithm, state (active: signs;
    /// published: in the JWKS for verification; retired: gone), created, retires at.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a new signing key that signs from now on; the one it replaces stays in the
    /// JWKS until it retires (after the provider's setting, 24 h unless changed).
    Rotate {
        /// RS256, PS256, ES256 or EdDSA (default: every algorithm in use).
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
        /// When the replaced keys retire: `now`, or `after DURATION` (90s, 5m, 2h, 1d).
        #[arg(long, value_name = "now|after DURATION", num_args = 1..=2)]
        retire_old: Option<Vec<String>>,
        #[arg(long)]
        json: bool,
    },
    /// Retire a published key now: it leaves the JWKS, and tokens it signed no longer
    /// verify.
    Retire {
        /// The key's id (from `authdesk keys list`; a kid may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[arg(long)]
        json: bool,
    },
}

impl KeysCommand {
    pub fn json(&self) -> bool {
        match self {
            KeysCommand::List { json }
            | KeysCommand::Rotate { json, .. }
            | KeysCommand::Retire { json, .. } => *json,
        }
    }
}

/// `--alg`, read here so a wrong one is a one-line error with exit 1.
fn parse_alg(s: &str) -> Result<SigningAlg> {
    s.parse()
        .map_err(|e: String| Error::invalid("alg", format!("{e} (see `authdesk keys list`)")))
}

/// `--retire-old now`, `--retire-old after 2h` (or just `2h`).
fn parse_retire_old(words: &[String]) -> Result<RetireOld> {
    let bad = || {
        Error::invalid(
            "retire-old",
            format!(
                "'{}' is not when to retire the old keys; use `now` or `after DURATION` (90s, 5m, 2h, 1d)",
                words.join(" ")
            ),
        )
    };
    match words {
        [now] if now == "now" => Ok(RetireOld::Now),
        [after, d] if after == "after" => super::manage::parse_duration(d)
            .map(RetireOld::After)
            .map_err(|e| Error::invalid("retire-old", e)),
        [d] if d != "after" => super::manage::parse_duration(d)
            .map(RetireOld::After)
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn print_keys(keys: &[KeyInfo]) {
    println!(
        "{:<44} {:<6} {:<10} {:<21} RETIRES AT",
        "KID", "ALG", "STATE", "CREATED"
    );
    for k in keys {
        println!(
            "{:<44} {:<6} {:<10} {:<21} {}",
            k.kid,
            k.alg.as_str(),
            k.state.as_str(),
            fmt_time(k.created_at),
            k.retire_at.map(fmt_time).unwrap_or_else(|| "-".into())
        );
    }
}

pub async fn keys(dir: &Path, cmd: KeysCommand) -> Result<()> {
    // Arguments are checked before the data directory is opened: a bad one changes
    // nothing, not even a first start.
    match cmd {
        KeysCommand::List { json } => {
            let core = Core::open(dir).await?;
            let list = core.list_keys().await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no signing keys yet: a provider makes them at its first start");
                return Ok(());
            }
            print_keys(&list);
            Ok(())
        }
        KeysCommand::Rotate {
            alg,
            retire_old,
            json,
        } => {
            let alg = alg.as_deref().map(parse_alg).transpose()?;
            let retire_old = match &retire_old {
                Some(words) => parse_retire_old(words)?,
                None => RetireOld::AfterDefault,
            };
            let core = Core::open(dir).await?;
            let made = core.rotate_keys(alg, retire_old, core.now()).await?;
            let list = core.list_keys().await?;
            if json {
                return print_json(&serde_json::json!({"rotated": made, "keys": list}));
            }
            for k in &made {
                println!("rotated {}: {} signs from now on", k.alg, k.kid);
            }
            print_keys(&list);
            Ok(())
        }
        KeysCommand::Retire { kid, json } => {
            let core = Core::open(dir).await?;
            let retired = core.retire_key(&kid, core.now()).await?;
            if json {
                return print_json(&retired);
            }
            println!(
                "retired {} ({}): out of the JWKS; tokens it signed no longer verify",
                retired.kid, retired.alg
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retire_old_reads_now_and_durations() {
        let w = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(parse_retire_old(&w("now")).unwrap(), RetireOld::Now);
        assert_eq!(
            parse_retire_old(&w("after 2h")).unwrap(),
            RetireOld::After(7200)
        );
        assert_eq!(parse_retire_old(&w("90s")).unwrap(), RetireOld::After(90));
        for bad in ["later", "after", "after soon", "now 5m", "-5m"] {
            let e = parse_retire_old(&w(bad)).unwrap_err();
            assert_eq!(e.field(), Some("retire-old"), "{bad}: {e}");
        }
        assert_eq!(parse_alg("PS256").unwrap(), SigningAlg::Ps256);
        let e = parse_alg("HS256").unwrap_err().to_string();
        assert!(e.contains("RS256, ES256, PS256, EdDSA"), "{e}");
    }
}
