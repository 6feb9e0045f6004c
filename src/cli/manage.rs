//! `authdesk tokens …` and the parts of `clients update` that differ from `create`:
//! what the window can do with tokens, from the command line. Every command works while
//! `serve` (or the desktop app) runs on the same data directory: the running provider
//! follows the database's revision counter.

use std::path::Path;

use clap::Subcommand;

use super::{ClientArgs, fmt_time, parse_wire, print_json};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::model::ClientInput;
use crate::model::TokenFormat;
use crate::oauth::issue::MintRequest;
use crate::store::flows::{TokenFilter, TokenKind, TokenState, TokenSummary};

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List tokens, newest first.
    List {
        /// Only this client's tokens.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client_id: Option<String>,
        /// Only this persona's tokens.
        #[arg(long = "user", value_name = "USERNAME")]
        username: Option<String>,
        /// access_token or refresh_token.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<TokenKind>,
        /// active, expired or revoked.
        #[arg(long, value_parser = parse_state)]
        state: Option<TokenState>,
        /// At most this many (default 500).
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Show one token: what it is, where it stands, and its value.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one token (a refresh token revokes its whole grant), or every token of a
    /// client, of a persona, or of one persona at one client (with --client and --user).
    Revoke {
        /// The token's id (from `tokens list`).
        id: Option<String>,
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client_id: Option<String>,
        #[arg(long = "user", value_name = "USERNAME")]
        username: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mint a token without a flow: prints the token response as JSON. The token is
    /// stored like any other (introspectable, revocable, in the window and the
    /// request log as "mint"); works while `serve` runs on the same data directory.
    Mint {
        /// The client the token is for.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client_id: String,
        /// The persona it speaks for (without one: the client's own token).
        #[arg(long = "user", value_name = "USERNAME")]
        username: Option<String>,
        /// A scope; repeat for several (default: what the client may have).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The access token's lifetime: seconds, or with a unit (90s, 5m, 2h, 1d).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<i64>,
        /// jwt or opaque (default: the client's).
        #[arg(long, value_parser = parse_wire::<TokenFormat>)]
        format: Option<TokenFormat>,
        /// Already expired (for testing that a client refuses it).
        #[arg(long)]
        expired: bool,
        /// Extra claims for the access token and id_token, as a JSON object, e.g.
        /// '{"roles":["admin"],"tenant":"acme"}' (reserved claims such as sub or exp
        /// are refused).
        #[arg(long, value_name = "JSON")]
        claims: Option<String>,
        /// The access token's audience (an RFC 8707 resource the client may ask
        /// for); repeat for several.
        #[arg(long = "audience", visible_alias = "resource", value_name = "URI")]
        audiences: Vec<String>,
        /// The issuer to put in the token (default: the running `serve`'s, else
        /// https://localhost:8443).
        #[arg(long, value_name = "URL")]
        issuer: Option<url::Url>,
    },
    /// Set a token's expiry to now, so a client's refresh logic can be exercised.
    Expire {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

impl TokensCommand {
    pub fn json(&self) -> bool {
        match self {
            TokensCommand::List { json, .. }
            | TokensCommand::Show { json, .. }
            | TokensCommand::Revoke { json, .. }
            | TokensCommand::Expire { json, .. } => *json,
            TokensCommand::Mint { .. } => false,
        }
    }
}

/// `300`, `90s`, `5m`, `2h`, `1d`: seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<i64, String> {
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => s.split_at(at),
        None => (s, "s"),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; use seconds or 90s, 5m, 2h, 1d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{s}' has an unknown unit; use s, m, h or d")),
    };
    n.checked_mul(unit)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("'{s}' is not a positive duration"))
}

fn parse_kind(s: &str) -> std::result::Result<TokenKind, String> {
    match s {
        "access_token" | "access" => Ok(TokenKind::AccessToken),
        "refresh_token" | "refresh" => Ok(TokenKind::RefreshToken),
        other => Err(format!(
            "'{other}' is not a token kind; use access_token or refresh_token"
        )),
    }
}

fn parse_state(s: &str) -> std::result::Result<TokenState, String> {
    match s {
        "active" => Ok(TokenState::Active),
        "expired" => Ok(TokenState::Expired),
        "revoked" => Ok(TokenState::Revoked),
        other => Err(format!(
            "'{other}' is not a token state; use active, expired or revoked"
        )),
    }
}

/// `clients update`: only the options given change.
pub fn update_input(name: Option<String>, fields: ClientArgs) -> Result<ClientInput> {
    if fields.client_id.is_some() {
        return Err(Error::invalid(
            "client_id",
            "a client's id cannot change (tokens and consents refer to it); create a new client instead",
        ));
    }
    fields.into_input(name)
}

fn state_name(s: TokenState) -> &'static str {
    match s {
        TokenState::Active => "active",
        TokenState::Expired => "expired",
        TokenState::Revoked => "revoked",
    }
}

fn print_summary(t: &TokenSummary) {
    println!("id:        {}", t.id);
    println!("kind:      {}", t.kind.as_str());
    println!("state:     {}", state_name(t.state));
    println!("client:    {}", t.client_id);
    if let Some(u) = t.username.as_deref().or(t.sub.as_deref()) {
        println!("user:      {u}");
    }
    println!("scopes:    {}", t.scopes.join(" "));
    println!("issued:    {}", fmt_time(t.issued_at));
    println!("expires:   {}", fmt_time(t.expires_at));
    if let Some(r) = t.revoked_at {
        println!("revoked:   {}", fmt_time(r));
    }
    if let Some(g) = &t.grant_id {
        println!("grant:     {g}");
    }
}

pub async fn tokens(dir: &Path, cmd: TokensCommand) -> Result<()> {
    let core = Core::open(dir).await?;
    match cmd {
        TokensCommand::List {
            client_id,
            username,
            kind,
            state,
            limit,
            json,
        } => {
            if let Some(c) = &client_id {
                core.get_client(c).await?;
            }
            if let Some(u) = &username {
                core.get_user(u).await?;
            }
            let filter = TokenFilter {
                client_id,
                username,
                kind,
                state,
                limit,
            };
            let list = core.list_tokens(filter).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no tokens match");
                return Ok(());
            }
            println!(
                "{:<28} {:<14} {:<8} {:<20} {:<16} EXPIRES",
                "ID", "KIND", "STATE", "CLIENT", "USER"
            );
            for t in list {
                println!(
                    "{:<28} {:<14} {:<8} {:<20} {:<16} {}",
                    t.id,
                    t.kind.as_str(),
                    state_name(t.state),
                    t.client_id,
                    t.username.as_deref().unwrap_or("-"),
                    fmt_time(t.expires_at)
                );
            }
            Ok(())
        }
        TokensCommand::Show { id, json } => {
            let (summary, value) = core.get_token(&id).await?;
            if json {
                return print_json(&serde_json::json!({"token": summary, "value": value}));
            }
            print_summary(&summary);
            if let Some(v) = value {
                println!("value:     {v}");
            }
            Ok(())
        }
        TokensCommand::Revoke {
            id,
            client_id,
            username,
            json,
        } => {
            let (what, n) = match (id, client_id, username) {
                (Some(id), None, None) => {
                    core.revoke_token(&id).await?;
                    (format!("token {id}"), 1)
                }
                (None, Some(c), Some(u)) => {
                    let n = core.revoke_consent(&u, &c).await?;
                    (format!("the tokens of {u} at client {c}"), n)
                }
                (None, Some(c), None) => (
                    format!("the tokens of client {c}"),
                    core.revoke_client_tokens(&c).await?,
                ),
                (None, None, Some(u)) => (
                    format!("the tokens of {u}"),
                    core.revoke_user_tokens(&u).await?,
                ),
                (None, None, None) => {
                    return Err(Error::invalid(
                        "id",
                        "say what to revoke: a token id, --client ID, --user NAME, or both --client and --user",
                    ));
                }
                (Some(_), _, _) => {
                    return Err(Error::invalid(
                        "id",
                        "give a token id, or --client / --user, not both",
                    ));
                }
            };
            if json {
                print_json(&serde_json::json!({"revoked": n}))
            } else {
                println!("revoked {what} ({n} token(s))");
                Ok(())
            }
        }
        TokensCommand::Mint {
            client_id,
            username,
            scopes,
            ttl,
            format,
            expired,
            claims,
            audiences,
            issuer,
        } => {
            let claims = claims
                .map(|text| {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        crate::Error::invalid(
                            "--claims",
                            format!("is not JSON ({e}); give an object, e.g. '{{\"roles\":[\"admin\"]}}'"),
                        )
                    })?;
                    let serde_json::Value::Object(map) = value else {
                        return Err(crate::Error::invalid(
                            "--claims",
                            "must be a JSON object, e.g. '{\"roles\":[\"admin\"]}'",
                        ));
                    };
                    crate::token_shape::check_not_reserved(
                        map.keys().map(String::as_str),
                        "--claims",
                    )
                    .map_err(|e| crate::Error::invalid("--claims", e))?;
                    Ok(map)
                })
                .transpose()?;
            let request = MintRequest {
                client_id,
                username,
                scopes,
                ttl,
                format,
                expired,
                claims,
                audiences,
            };
            let response = super::exec::mint(dir, core, issuer, &request).await?;
            print_json(&response)
        }
        TokensCommand::Expire { id, json } => {
            let summary = core.expire_token(&id).await?;
            if json {
                print_json(&summary)
            } else {
                println!("token {id} now expired at {}", fmt_time(summary.expires_at));
                Ok(())
            }
        }
    }
}
