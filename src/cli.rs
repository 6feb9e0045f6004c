//! The `authdesk` command line: a contract that scripts and CI rely on (see the
//! README). Human output by default, `--json` for machines; errors are one line on
//! stderr and a non-zero exit.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use url::Url;

mod exec;
mod faults;
mod keys;
mod manage;

use crate::config::{self, ServeOptions};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::model::{
    AuthMethod, Client, ClientInput, ClientType, GrantType, ResponseType, SigningAlg, TokenFormat,
    User, UserInput,
};
use crate::seed::{SeedFile, SeedFormat};
use crate::server::Provider;
use crate::tls::{ExportFormat, TlsMaterial};
use crate::trust::{self, CaCert, TrustEnv, TrustStore};

#[derive(Debug, Parser)]
#[command(
    name = "authdesk",
    version,
    about = "A local OAuth 2.0 / OpenID Connect provider for developers",
    long_about = "A local OAuth 2.0 / OpenID Connect provider for developers.\n\nState lives in the data directory shared with the desktop app; \
                  override it with --data-dir or AUTHDESK_DATA_DIR."
)]
pub struct Cli {
    /// Data directory (default: $AUTHDESK_DATA_DIR if set and not empty, else the
    /// platform's application data directory, shared with the desktop app).
    // Not clap's `env`: it refuses an empty variable, which CI setups often export.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the provider; prints `issuer https://localhost:PORT` once it accepts connections.
    Serve(Box<ServeArgs>),
    /// The local certificate authority.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage users (mock personas).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Inspect, revoke and expire tokens (works while `serve` runs on the same data directory).
    #[command(subcommand)]
    Tokens(manage::TokensCommand),
    /// List, rotate and retire the signing keys (works while `serve` runs on the same
    /// data directory).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Failures on demand: fault rules that make the provider fail on purpose (works
    /// while `serve` runs on the same data directory).
    #[command(subcommand)]
    Faults(faults::FaultsCommand),
    /// Run COMMAND with a provider around it: starts one on a free port (on a temporary
    /// data directory unless --data-dir is given), runs COMMAND with the variables a
    /// client needs (issuer, CA, client credentials), stops the provider and exits with
    /// COMMAND's status.
    Exec(Box<exec::ExecArgs>),
    /// Print the variables a client needs for the provider running on the data
    /// directory, as `export` lines (`eval "$(authdesk env)"`).
    Env {
        #[arg(long)]
        json: bool,
    },
    /// Write clients, users and scopes as JSON or YAML (the seed format).
    Export {
        /// Output file (.json, .yaml or .yml); stdout when absent.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Format when writing to stdout, or to override the file extension.
        #[arg(long, value_enum)]
        format: Option<SeedFormatArg>,
    },
    /// Apply a seed file (JSON or YAML): clients by client_id, users by username, scopes by name.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeedFormatArg {
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (an IP address, or localhost); loopback unless you mean to
    /// share the provider.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_bind)]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = config::DEFAULT_PORT)]
    pub port: u16,
    /// Approve every authorization request as this user (for CI).
    #[arg(long, value_name = "USER")]
    pub auto_approve: Option<String>,
    /// Shape the tokens of every client without a preset of its own like this identity
    /// provider's: entra_id, auth0, keycloak, cognito, okta or google.
    #[arg(long, value_name = "PRESET", value_parser = crate::token_shape::Preset::parse)]
    pub preset: Option<crate::token_shape::Preset>,
    /// Apply this seed file (JSON/YAML) at start, idempotently.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Issuer URL to advertise instead of https://localhost:PORT (e.g. https://host.docker.internal:8443).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<Url>,
    /// Close RFC 7591 dynamic client registration.
    #[arg(long)]
    pub no_registration: bool,
    /// Keep request-log entries this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub log_max_age_days: u32,
    /// Keep at most this many request-log entries.
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub log_max_entries: u32,
    /// Write the issuer to this file once the provider answers (for scripts that
    /// cannot read stdout); removed when it stops.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// normal: a token or code is on disk (in SQLite's WAL) before it is returned, so it
    /// survives the process being killed, not necessarily an OS crash or power loss.
    /// full: the WAL is also synced to the disk at every commit, so it survives those
    /// too (an fsync per commit).
    #[arg(long, value_enum, default_value = "normal")]
    pub durability: crate::store::Durability,
    /// How long a signing key replaced by a rotation stays in the JWKS before it
    /// retires (90s, 5m, 2h, 1d; default 24h). Kept in the data directory: `authdesk
    /// keys rotate` and the window use it too.
    #[arg(long, value_name = "DURATION", value_parser = manage::parse_duration)]
    pub key_retire_after: Option<i64>,
    /// Require pushed authorization requests (RFC 9126) from every client.
    #[arg(long)]
    pub require_par: bool,
    /// Ask for server nonces in DPoP proofs (RFC 9449 §8, `use_dpop_nonce`).
    #[arg(long)]
    pub dpop_nonce: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Export the CA for your HTTP clients to trust.
    Export {
        /// Output file; without it the PEM (or bundle) goes to stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "pem")]
        format: ExportFormat,
    },
    /// Show the CA and server certificates.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Trust the CA: put it into this machine's trust stores (every store found, or
    /// those named), replacing an older Authdesk CA. The system store needs root.
    Install {
        /// Stores to change, comma-separated: system, nss (Chromium, Firefox), java.
        #[arg(
            long = "store",
            value_enum,
            value_delimiter = ',',
            value_name = "STORE,..."
        )]
        stores: Vec<TrustStore>,
        #[arg(long)]
        json: bool,
    },
    /// Take the CA (and older Authdesk CAs) back out of the trust stores; only
    /// certificates with an Authdesk CA's fingerprint are removed.
    Uninstall {
        /// Stores to change, comma-separated: system, nss, java.
        #[arg(
            long = "store",
            value_enum,
            value_delimiter = ',',
            value_name = "STORE,..."
        )]
        stores: Vec<TrustStore>,
        #[arg(long)]
        json: bool,
    },
    /// Whether each trust store and ecosystem trusts the CA, and what to do.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client. Defaults: confidential, authorization_code + refresh_token, scopes openid profile email offline_access.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: Box<ClientArgs>,
    },
    /// Change a client: only the options given change (lists given replace the old ones).
    Update {
        /// The client to change.
        #[arg(allow_hyphen_values = true, value_name = "CLIENT_ID")]
        target: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: Box<ClientArgs>,
    },
    /// Replace a confidential client's secret with a new random one (printed).
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client, its secret included.
    Show {
        /// The client's id (one that begins with '-' needs no '--' before it).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and everything issued to it.
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Client id (generated when absent).
    #[arg(long = "id", visible_alias = "client-id", value_name = "CLIENT_ID")]
    pub client_id: Option<String>,
    /// Client secret (generated for confidential clients when absent).
    #[arg(
        long = "secret",
        visible_alias = "client-secret",
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,
    /// confidential (default) or public.
    #[arg(long = "type", visible_alias = "client-type", value_name = "TYPE", value_parser = parse_wire::<ClientType>)]
    pub client_type: Option<ClientType>,
    /// Redirect URI; repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URI; repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant type; repeat for several (authorization_code, refresh_token, client_credentials, password, implicit, device_code, jwt-bearer, token-exchange).
    #[arg(long = "grant", visible_alias = "grant-type", value_name = "GRANT", value_parser = parse_grant)]
    pub grant_types: Vec<GrantType>,
    /// Response type; repeat for several (code, token, id_token, "id_token token").
    #[arg(long = "response-type", value_name = "TYPE", value_parser = parse_wire::<ResponseType>)]
    pub response_types: Vec<ResponseType>,
    /// Allowed scope; repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Token endpoint authentication method (client_secret_basic, client_secret_post, none, client_secret_jwt, private_key_jwt).
    #[arg(long = "auth-method", visible_alias = "token-endpoint-auth-method", value_name = "METHOD", value_parser = parse_wire::<AuthMethod>)]
    pub auth_method: Option<AuthMethod>,
    /// Require PKCE (always required for public clients). `--require-pkce=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_pkce: Option<bool>,
    /// Accept the `plain` PKCE method. `--allow-plain-pkce=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_plain_pkce: Option<bool>,
    /// Access token format: jwt (default) or opaque.
    #[arg(long, visible_alias = "access-token-format", value_name = "FORMAT", value_parser = parse_wire::<TokenFormat>)]
    pub token_format: Option<TokenFormat>,
    /// Seconds.
    #[arg(long)]
    pub access_token_ttl: Option<i64>,
    /// Seconds.
    #[arg(long)]
    pub refresh_token_ttl: Option<i64>,
    /// Seconds.
    #[arg(long)]
    pub id_token_ttl: Option<i64>,
    /// Authorization code lifetime, seconds (default 120).
    #[arg(long)]
    pub code_ttl: Option<i64>,
    /// id_token signing algorithm: RS256 (default), PS256, ES256 or EdDSA.
    #[arg(long, visible_alias = "id-token-signed-response-alg", value_name = "ALG", value_parser = parse_wire::<SigningAlg>)]
    pub id_token_alg: Option<SigningAlg>,
    /// JWT access token signing algorithm: ES256 (default), RS256, PS256 or EdDSA.
    #[arg(long, value_name = "ALG", value_parser = parse_wire::<SigningAlg>)]
    pub access_token_alg: Option<SigningAlg>,
    /// Answer userinfo as a JWT signed with ALG (application/jwt); `none` for plain JSON.
    #[arg(long, visible_alias = "userinfo-signed-response-alg", value_name = "ALG|none", value_parser = parse_optional_alg)]
    pub userinfo_alg: Option<Option<SigningAlg>>,
    /// Approve this client's requests without the consent page. `--auto-approve=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub auto_approve: Option<bool>,
    /// Tag; repeat for several.
    #[arg(long = "tag", visible_alias = "tags")]
    pub tags: Vec<String>,
    /// A JWK Set file with the client's public keys (private_key_jwt).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// The URL of the client's JWK Set instead (https, or http on a loopback address;
    /// the provider fetches and caches it); `--jwks-uri none` removes it. `--jwks` and
    /// `--jwks-uri` each replace the other.
    #[arg(long, value_name = "URL|none")]
    pub jwks_uri: Option<String>,
    /// An issuer whose assertions the JWT bearer grant accepts: ISSUER=JWKS_FILE (a
    /// JWK Set of its public keys); repeat for several. `--trusted-issuer none`
    /// removes them.
    #[arg(long = "trusted-issuer", value_name = "ISSUER=FILE")]
    pub trusted_issuers: Vec<String>,
    /// OpenID Connect Back-Channel Logout: where logout tokens are POSTed (https, or
    /// http on loopback); `none` removes it.
    #[arg(long, value_name = "URL|none")]
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens must carry sid. `=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub backchannel_logout_session_required: Option<bool>,
    /// An extra claim: name=VALUE (JSON or text) or name<-persona_claim, optionally
    /// @access_token,id_token,userinfo (default: all three); repeat for several.
    /// `--claim none` removes every extra claim.
    #[arg(long = "claim", value_name = "RULE")]
    pub claims: Vec<String>,
    /// A resource (audience) the client may ask for (RFC 8707); repeat for several.
    /// `--resource none` removes them.
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,
    /// The access token's audience when no resource is asked for ("" removes it).
    #[arg(long, value_name = "URI")]
    pub default_audience: Option<String>,
    /// Token shape: entra_id, auth0, keycloak, cognito, okta, google, or none.
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Require pushed authorization requests (RFC 9126). `--require-par=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_par: Option<bool>,
    /// Accept unsigned request objects (`alg: none`, RFC 9101). `=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_unsigned_request_objects: Option<bool>,
    /// Require DPoP-bound tokens (RFC 9449). `--require-dpop=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_dpop: Option<bool>,
}

/// A repeated option where the single value `none` means "empty".
fn list_or_none(v: Vec<String>) -> Option<Vec<String>> {
    match v.as_slice() {
        [] => None,
        [only] if only == "none" => Some(Vec::new()),
        _ => Some(v),
    }
}

fn parse_wire<T: std::str::FromStr<Err = String>>(s: &str) -> std::result::Result<T, String> {
    s.parse()
}

fn parse_bind(s: &str) -> std::result::Result<IpAddr, String> {
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    s.parse().map_err(|_| {
        format!("'{s}' is not an IP address; use 127.0.0.1 (loopback), localhost, ::1 or 0.0.0.0 (every interface)")
    })
}

fn parse_grant(s: &str) -> std::result::Result<GrantType, String> {
    match s {
        "device_code" => Ok(GrantType::DeviceCode),
        "jwt-bearer" | "jwt_bearer" => Ok(GrantType::JwtBearer),
        "token-exchange" | "token_exchange" => Ok(GrantType::TokenExchange),
        other => other.parse(),
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

impl ClientArgs {
    fn into_input(self, name: Option<String>) -> Result<ClientInput> {
        let jwks = match &self.jwks {
            Some(path) => {
                let text = crate::fsutil::read_to_string(path)?;
                Some(serde_json::from_str(&text).map_err(|e| {
                    Error::invalid("jwks", format!("{} is not JSON: {e}", path.display()))
                })?)
            }
            None => None,
        };
        Ok(ClientInput {
            client_id: self.client_id,
            client_secret: self.client_secret,
            name,
            client_type: self.client_type,
            redirect_uris: non_empty(self.redirect_uris),
            post_logout_redirect_uris: non_empty(self.post_logout_redirect_uris),
            grant_types: non_empty(self.grant_types),
            response_types: non_empty(self.response_types),
            scopes: non_empty(self.scopes),
            token_endpoint_auth_method: self.auth_method,
            require_pkce: self.require_pkce,
            allow_plain_pkce: self.allow_plain_pkce,
            access_token_format: self.token_format,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            id_token_ttl: self.id_token_ttl,
            code_ttl: self.code_ttl,
            id_token_signed_response_alg: self.id_token_alg,
            auto_approve: self.auto_approve,
            tags: non_empty(self.tags),
            jwks,
            jwks_uri: self
                .jwks_uri
                .map(|u| if u.trim() == "none" { String::new() } else { u }),
            extra_claims: list_or_none(self.claims)
                .map(|rules| {
                    rules
                        .iter()
                        .map(|r| {
                            crate::token_shape::ClaimRule::parse_cli(r)
                                .map_err(|e| Error::invalid("--claim", e))
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            resources: list_or_none(self.resources),
            default_audience: self.default_audience,
            preset: self.preset,
            access_token_signed_response_alg: self.access_token_alg,
            userinfo_signed_response_alg: self.userinfo_alg,
            require_pushed_authorization_requests: self.require_par,
            allow_unsigned_request_objects: self.allow_unsigned_request_objects,
            dpop_bound_access_tokens: self.require_dpop,
            trusted_issuers: list_or_none(self.trusted_issuers)
                .map(|all| {
                    all.iter()
                        .map(|t| trusted_issuer(t))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .map(|u| if u == "none" { String::new() } else { u }),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
        })
    }
}

/// `ISSUER=FILE`: the issuer and the JWK Set read from the file.
fn trusted_issuer(arg: &str) -> Result<crate::model::TrustedIssuer> {
    let (issuer, path) = arg.rsplit_once('=').ok_or_else(|| {
        Error::invalid(
            "--trusted-issuer",
            format!("'{arg}' is not ISSUER=JWKS_FILE, e.g. https://idp.example.com=idp-jwks.json"),
        )
    })?;
    let text = crate::fsutil::read_to_string(std::path::Path::new(path))?;
    let jwks = serde_json::from_str(&text)
        .map_err(|e| Error::invalid("--trusted-issuer", format!("{path} is not JSON: {e}")))?;
    Ok(crate::model::TrustedIssuer {
        issuer: issuer.to_string(),
        jwks,
    })
}

/// An algorithm, or `none`.
fn parse_optional_alg(s: &str) -> std::result::Result<Option<SigningAlg>, String> {
    match s {
        "none" => Ok(None),
        other => parse_wire::<SigningAlg>(other).map(Some),
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a persona.
    Create {
        #[arg(allow_hyphen_values = true)]
        username: String,
        /// Password for the password grant and the login page (optional).
        #[arg(long)]
        password: Option<String>,
        /// Claims as a JSON object, e.g. '{"name":"Carol","email":"carol@example.com"}'.
        #[arg(long)]
        claims: Option<String>,
        /// A fixed subject identifier (a UUID is generated otherwise).
        #[arg(long)]
        sub: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List personas.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a persona: its name, password or claims (only what is given changes).
    Update {
        #[arg(allow_hyphen_values = true)]
        username: String,
        /// A new username.
        #[arg(long)]
        rename: Option<String>,
        /// A new password (for the password grant and the login page).
        #[arg(long)]
        password: Option<String>,
        /// The claims, as a JSON object (replaces the old ones).
        #[arg(long)]
        claims: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a persona and everything issued to it.
    Delete {
        #[arg(allow_hyphen_values = true)]
        username: String,
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    fn json(&self) -> bool {
        match self {
            Command::Ca(
                CaCommand::Show { json }
                | CaCommand::Status { json }
                | CaCommand::Install { json, .. }
                | CaCommand::Uninstall { json, .. },
            ) => *json,
            Command::Clients(c) => match c {
                ClientsCommand::Create { fields, .. } | ClientsCommand::Update { fields, .. } => {
                    fields.json
                }
                ClientsCommand::List { json }
                | ClientsCommand::Show { json, .. }
                | ClientsCommand::RotateSecret { json, .. }
                | ClientsCommand::Delete { json, .. } => *json,
            },
            Command::Users(u) => match u {
                UsersCommand::Create { json, .. }
                | UsersCommand::List { json }
                | UsersCommand::Update { json, .. }
                | UsersCommand::Delete { json, .. } => *json,
            },
            Command::Tokens(t) => t.json(),
            Command::Faults(f) => f.json(),
            Command::Env { json } => *json,
            Command::Import { json, .. } => *json,
            Command::Keys(cmd) => cmd.json(),
            _ => false,
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    crate::mem::tune_malloc();
    let cli = Cli::parse();
    let json = cli.command.json();
    let serving = matches!(cli.command, Command::Serve(_) | Command::Exec(_));
    if serving {
        crate::fsutil::raise_open_files_limit();
    } else {
        restore_sigpipe();
    }
    // Around a command, the provider's own log keeps to warnings: the output is the command's.
    init_tracing(serving && !matches!(cli.command, Command::Exec(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    if let Command::Exec(args) = cli.command {
        let dir = cli.data_dir.clone();
        return match runtime.block_on(exec::exec(dir, *args)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        };
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            if json {
                let payload = serde_json::json!({"error": e.to_payload()});
                eprintln!("{payload}");
            } else {
                eprintln!("error: {e}");
            }
            1
        }
    }
}

/// Commands that print end quietly when their reader goes away (`authdesk clients
/// list --json | head -1`), as other Unix tools do, instead of panicking on the
/// failed write: Rust ignores SIGPIPE. Not for `serve`, whose sockets must not kill it.
fn restore_sigpipe() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called at the start of main, before any other thread; it only resets the
    // disposition of SIGPIPE to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_tracing(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn data_dir(cli: &Option<PathBuf>) -> Result<PathBuf> {
    match cli {
        Some(d) => Ok(d.clone()),
        None => config::default_data_dir(),
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

pub async fn run(cli: Cli) -> Result<()> {
    let dir = data_dir(&cli.data_dir)?;
    match cli.command {
        Command::Serve(args) => serve(&dir, *args).await,
        Command::Ca(cmd) => ca(&dir, cmd).await,
        Command::Clients(cmd) => clients(&dir, cmd).await,
        Command::Users(cmd) => users(&dir, cmd).await,
        Command::Tokens(cmd) => manage::tokens(&dir, cmd).await,
        Command::Keys(cmd) => keys::keys(&dir, cmd).await,
        Command::Faults(cmd) => faults::faults(&dir, cmd).await,
        Command::Env { json } => exec::env(&dir, json).await,
        Command::Exec(_) => Err(Error::Other("exec runs from main".into())),
        Command::Export { out, format } => {
            let core = Core::open(&dir).await?;
            let seed = core.export().await?;
            let format = match (format, &out) {
                (Some(SeedFormatArg::Json), _) => SeedFormat::Json,
                (Some(SeedFormatArg::Yaml), _) => SeedFormat::Yaml,
                (None, Some(path)) => SeedFormat::from_path(path),
                (None, None) => SeedFormat::Json,
            };
            let text = seed.render(format)?;
            match out {
                // The export holds client secrets and password hashes.
                Some(path) => {
                    crate::fsutil::write_atomic(&path, text.as_bytes(), true)?;
                    eprintln!(
                        "exported {} clients, {} users, {} scopes to {}",
                        seed.clients.len(),
                        seed.users.len(),
                        seed.scopes.len(),
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Import { file, json } => {
            let seed = SeedFile::read(&file)?;
            let now = crate::clock::Clock::now(&crate::clock::SystemClock);
            crate::oauth::faults::check_all(&seed.faults, "seed", now)?;
            let seed_faults = seed.faults.clone();
            let core = Core::open(&dir).await?;
            let summary = core.import(seed).await?;
            crate::oauth::faults::add(&core, &seed_faults, "seed", true).await?;
            if json {
                print_json(&summary)
            } else {
                println!(
                    "imported {}: clients {} created, {} updated; users {} created, {} updated; scopes {} created, {} updated",
                    file.display(),
                    summary.clients_created,
                    summary.clients_updated,
                    summary.users_created,
                    summary.users_updated,
                    summary.scopes_created,
                    summary.scopes_updated
                );
                Ok(())
            }
        }
    }
}

async fn serve(dir: &Path, args: ServeArgs) -> Result<()> {
    let opening = async {
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let core = Core::open_with(dir, clock, args.durability).await?;
        if let Some(seconds) = args.key_retire_after {
            core.set_key_retire_after(seconds).await?;
        }
        if let Some(seed) = &args.seed {
            // A seed's fault rules are checked before anything of it is applied.
            let seed_faults = SeedFile::read(seed)?.faults;
            crate::oauth::faults::check_all(&seed_faults, "seed", core.now())?;
            match core.import_seed_file(seed).await? {
                Some(summary) => tracing::info!(
                    file = %seed.display(),
                    clients = summary.clients_created + summary.clients_updated,
                    users = summary.users_created + summary.users_updated,
                    "applied seed"
                ),
                None => tracing::info!(
                    file = %seed.display(),
                    "seed unchanged since it was applied, and nothing changed the records since"
                ),
            }
            crate::oauth::faults::add(&core, &seed_faults, "seed", true).await?;
        }
        for rule in crate::oauth::faults::active_summaries(&core).await? {
            tracing::warn!(
                "fault {rule} is active: requests fail on purpose until it ends or `authdesk faults clear` removes it"
            );
        }
        Ok(core)
    };
    let options = ServeOptions {
        bind: args.bind,
        port: args.port,
        issuer_override: args.issuer,
        auto_approve: args.auto_approve,
        preset: args.preset,
        registration_open: !args.no_registration,
        log_retention: crate::log::Retention {
            max_age_secs: i64::from(args.log_max_age_days) * 24 * 3600,
            max_entries: i64::from(args.log_max_entries),
        },
        require_par: args.require_par,
        dpop_nonce: args.dpop_nonce,
    };
    // Install the signal handlers before announcing readiness, so a script that
    // signals as soon as it reads the issuer line still gets a clean stop.
    let shutdown = shutdown_signal()?;
    // The listener and the certificates come first; the core opens meanwhile.
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let provider = Provider::open_and_start(dir, now, opening, &options).await?;
    tracing::info!(
        addr = %provider.addr,
        data_dir = %dir.display(),
        synchronous = provider.core().store.durability().pragma(),
        "listening"
    );
    if let Err(e) = exec::record_running(dir, &provider.issuer, options.preset) {
        tracing::warn!(error = %e, "cannot record the running provider for `authdesk env`");
    }
    if let Some(path) = &args.ready_file
        && let Err(e) =
            crate::fsutil::write_atomic(path, format!("{}\n", provider.issuer).as_bytes(), false)
    {
        tracing::warn!(error = %e, path = %path.display(), "cannot write the ready file");
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "issuer {}", provider.issuer);
        let _ = out.flush();
    }
    shutdown.await;
    tracing::info!("shutting down");
    exec::forget_running(dir);
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    provider.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now; the returned future completes on
/// the first of them.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot handle SIGINT", e))?;
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::io("cannot handle SIGTERM", e))?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn ca(dir: &Path, cmd: CaCommand) -> Result<()> {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let cmd = match cmd {
        CaCommand::Install { stores, json } => return ca_trust(dir, now, true, &stores, json),
        CaCommand::Uninstall { stores, json } => return ca_trust(dir, now, false, &stores, json),
        CaCommand::Status { json } => return ca_status(dir, now, json),
        other => other,
    };
    let material = TlsMaterial::load_or_create(dir, &[], now)?;
    match cmd {
        CaCommand::Export { out, format } => {
            let bytes = material.export(format)?;
            match out {
                Some(path) => {
                    crate::fsutil::write_atomic(&path, &bytes, false)?;
                    eprintln!("wrote {} to {}", describe(format), path.display());
                    eprintln!("{}", usage_hint(format, &path));
                    Ok(())
                }
                None => match format {
                    // Binary formats go to a pipe or file (`> ca.der`), not to a terminal.
                    ExportFormat::Der | ExportFormat::P12
                        if std::io::IsTerminal::is_terminal(&std::io::stdout()) =>
                    {
                        Err(Error::invalid(
                            "out",
                            format!(
                                "{} is binary and stdout is a terminal; give --out FILE or redirect stdout to a file",
                                format
                                    .to_possible_value()
                                    .map_or_else(String::new, |v| v.get_name().to_string())
                            ),
                        ))
                    }
                    _ => {
                        let mut stdout = std::io::stdout().lock();
                        stdout
                            .write_all(&bytes)
                            .and_then(|_| stdout.flush())
                            .map_err(|e| Error::io("cannot write to stdout", e))
                    }
                },
            }
        }
        CaCommand::Show { json } => {
            let info = material.info()?;
            if json {
                return print_json(&info);
            }
            for (label, c) in [("CA", &info.ca), ("server", &info.server)] {
                println!("{label}: {}", c.subject);
                println!("  file:     {}", c.path);
                println!("  issuer:   {}", c.issuer);
                if !c.sans.is_empty() {
                    println!("  names:    {}", c.sans.join(", "));
                }
                println!(
                    "  valid:    {} .. {}",
                    fmt_time(c.not_before),
                    fmt_time(c.not_after)
                );
                println!("  sha256:   {}", c.sha256_fingerprint);
            }
            Ok(())
        }
        // Answered above, without the CA's key.
        CaCommand::Install { .. } | CaCommand::Uninstall { .. } | CaCommand::Status { .. } => {
            Ok(())
        }
    }
}

/// `ca install` / `ca uninstall`: all or nothing; the system store needs root, and
/// without it the error gives the exact `sudo` command.
fn ca_trust(
    dir: &Path,
    now: crate::model::Timestamp,
    install: bool,
    stores: &[TrustStore],
    json: bool,
) -> Result<()> {
    let ca = CaCert::load(dir, now)?;
    let env = TrustEnv::from_process();
    let stores = (!stores.is_empty()).then_some(stores);
    let report = if install {
        trust::install(&ca, &env, stores, trust::Elevation::Sudo)?
    } else {
        trust::uninstall(&ca, &env, stores, trust::Elevation::Sudo)?
    };
    if json {
        return print_json(&report);
    }
    if report.changes.is_empty() {
        let why: Vec<String> = report
            .status
            .stores
            .iter()
            .filter_map(|s| s.problem.as_ref().map(|p| format!("{}: {p}", s.store)))
            .collect();
        println!(
            "{}: no trust store found ({})",
            if install {
                "nothing to install into"
            } else {
                "nothing to remove"
            },
            why.join("; ")
        );
        return Ok(());
    }
    for c in &report.changes {
        let what = match c.outcome {
            trust::ChangeOutcome::Installed => "installed",
            trust::ChangeOutcome::AlreadyTrusted => "already trusted, nothing changed",
            trust::ChangeOutcome::Removed => "removed",
            trust::ChangeOutcome::NothingToRemove => "not there, nothing removed",
        };
        println!("{:<7} {}: {what} ({})", c.store.as_str(), c.name, c.path);
        for fp in &c.removed {
            let which = if *fp == report.status.ca_sha256 {
                "the Authdesk CA"
            } else {
                "a stale Authdesk CA"
            };
            println!("        removed {which} {fp}");
        }
    }
    if install
        && report
            .changes
            .iter()
            .any(|c| c.outcome == trust::ChangeOutcome::Installed)
    {
        eprintln!("restart browsers and programs that were running to pick it up");
    }
    Ok(())
}

/// `ca status`: a table of store, where, trusted, what to do.
fn ca_status(dir: &Path, now: crate::model::Timestamp, json: bool) -> Result<()> {
    let ca = CaCert::load(dir, now)?;
    let status = trust::status(&ca, &TrustEnv::from_process());
    if json {
        return print_json(&status);
    }
    let mut rows: Vec<[String; 4]> = Vec::new();
    for s in &status.stores {
        if s.locations.is_empty() {
            rows.push([
                s.store.to_string(),
                s.title.clone(),
                s.state.label().into(),
                s.problem.clone().unwrap_or_default(),
            ]);
        }
        for l in &s.locations {
            let trusted = match (l.state, l.stale.is_empty()) {
                (state, true) => state.label().to_string(),
                (state, false) => format!("{}, stale CA", state.label()),
            };
            rows.push([
                s.store.to_string(),
                format!("{}: {}", l.name, l.path),
                trusted,
                if l.action.is_empty() {
                    "-".into()
                } else {
                    l.action.clone()
                },
            ]);
        }
    }
    for e in &status.ecosystems {
        rows.push([
            e.id.clone(),
            format!("{}: {}", e.name, e.uses),
            e.state.label().into(),
            if e.action.is_empty() {
                "-".into()
            } else {
                e.action.clone()
            },
        ]);
    }
    println!("CA {} ({})", status.ca_sha256, status.ca_path);
    let head = ["STORE", "WHERE", "TRUSTED", "WHAT TO DO"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = std::io::stdout().lock();
    for r in std::iter::once(head.map(str::to_string)).chain(rows) {
        let _ = writeln!(out, "{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
    }
    Ok(())
}

fn describe(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Pem => "the CA certificate (PEM)",
        ExportFormat::Der => "the CA certificate (DER)",
        ExportFormat::Bundle => "the public roots plus the CA (PEM bundle)",
        ExportFormat::P12 => "a PKCS#12 trust store with the CA",
    }
}

/// How to use an exported file; printed to stderr so stdout stays clean.
pub fn usage_hint(format: ExportFormat, path: &Path) -> String {
    let p = path.display();
    match format {
        ExportFormat::Pem => {
            format!("use it: NODE_EXTRA_CA_CERTS={p} node app.js · curl --cacert {p} …")
        }
        ExportFormat::Der => format!("use it: import {p} into your OS or browser trust store"),
        ExportFormat::Bundle => {
            format!("use it: REQUESTS_CA_BUNDLE={p} SSL_CERT_FILE={p} CURL_CA_BUNDLE={p} …")
        }
        ExportFormat::P12 => format!(
            "use it: java -Djavax.net.ssl.trustStore={p} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword={} …",
            crate::tls::P12_PASSWORD
        ),
    }
}

fn fmt_time(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

fn print_client(c: &Client) {
    println!("client_id:     {}", c.client_id);
    if let Some(s) = &c.client_secret {
        println!("client_secret: {s}");
    }
    println!("name:          {}", c.name);
    println!("type:          {}", c.client_type);
    println!("auth method:   {}", c.token_endpoint_auth_method);
    println!(
        "grant types:   {}",
        c.grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "redirect URIs: {}",
        if c.redirect_uris.is_empty() {
            "(none)".to_string()
        } else {
            c.redirect_uris.join(" ")
        }
    );
    println!("scopes:        {}", c.scopes.join(" "));
    println!(
        "PKCE:          {}",
        if c.pkce_required() {
            "required"
        } else {
            "optional"
        }
    );
    println!(
        "access tokens: {} ({}s), refresh {}s, id_token {} {}s",
        c.access_token_format,
        c.access_token_ttl,
        c.refresh_token_ttl,
        c.id_token_signed_response_alg,
        c.id_token_ttl
    );
    println!(
        "signing:       access tokens {}, id_token {}, userinfo {}",
        c.access_token_signed_response_alg,
        c.id_token_signed_response_alg,
        c.userinfo_signed_response_alg
            .map_or("unsigned (JSON)", |a| a.as_str())
    );
    if let Some(uri) = &c.jwks_uri {
        println!("keys:          {uri}");
    } else if c.jwks.is_some() {
        println!("keys:          inline JWK Set");
    }
    if c.auto_approve {
        println!("auto-approve:  yes");
    }
    if !c.tags.is_empty() {
        println!("tags:          {}", c.tags.join(", "));
    }
}

async fn clients(dir: &Path, cmd: ClientsCommand) -> Result<()> {
    let core = Core::open(dir).await?;
    match cmd {
        ClientsCommand::Create { name, fields } => {
            let json = fields.json;
            let client = core
                .create_client((*fields).into_input(Some(name))?)
                .await?;
            if json {
                print_json(&client)
            } else {
                print_client(&client);
                Ok(())
            }
        }
        ClientsCommand::Update {
            target,
            name,
            fields,
        } => {
            let json = fields.json;
            let client = core
                .update_client(&target, manage::update_input(name, *fields)?)
                .await?;
            if json {
                print_json(&client)
            } else {
                print_client(&client);
                Ok(())
            }
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let client = core.regenerate_client_secret(&client_id).await?;
            if json {
                print_json(&client)
            } else {
                println!(
                    "client_secret: {}",
                    client.client_secret.as_deref().unwrap_or("")
                );
                Ok(())
            }
        }
        ClientsCommand::List { json } => {
            let list = core.list_clients().await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!(
                    "no clients yet; create one with `authdesk clients create --name NAME --redirect-uri URI`"
                );
                return Ok(());
            }
            println!("{:<24} {:<13} {:<20} NAME", "CLIENT ID", "TYPE", "AUTH");
            for c in list {
                println!(
                    "{:<24} {:<13} {:<20} {}",
                    c.client_id,
                    c.client_type.as_str(),
                    c.token_endpoint_auth_method.as_str(),
                    c.name
                );
            }
            Ok(())
        }
        ClientsCommand::Show { client_id, json } => {
            let c = core.get_client(&client_id).await?;
            if json {
                print_json(&c)
            } else {
                print_client(&c);
                Ok(())
            }
        }
        ClientsCommand::Delete { client_id, json } => {
            core.delete_client(&client_id).await?;
            if json {
                print_json(&serde_json::json!({"deleted": client_id}))
            } else {
                println!("deleted client {client_id}");
                Ok(())
            }
        }
    }
}

fn parse_claims(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::invalid(
            "claims",
            format!("not valid JSON ({e}); e.g. '{{\"name\":\"Carol\"}}'"),
        )
    })
}

fn print_user(u: &User) {
    println!("username: {}", u.username);
    println!("sub:      {}", u.sub);
    println!("password: {}", if u.has_password { "set" } else { "none" });
    println!(
        "claims:   {}",
        serde_json::to_string(&u.claims).unwrap_or_default()
    );
}

async fn users(dir: &Path, cmd: UsersCommand) -> Result<()> {
    let core = Core::open(dir).await?;
    match cmd {
        UsersCommand::Create {
            username,
            password,
            claims,
            sub,
            json,
        } => {
            let claims = claims.as_deref().map(parse_claims).transpose()?;
            let user = core
                .create_user(UserInput {
                    username: Some(username),
                    sub,
                    password,
                    password_hash: None,
                    claims,
                })
                .await?;
            if json {
                print_json(&user)
            } else {
                print_user(&user);
                Ok(())
            }
        }
        UsersCommand::List { json } => {
            let list = core.list_users().await?;
            if json {
                return print_json(&list);
            }
            println!("{:<20} {:<38} {:<9} NAME", "USERNAME", "SUB", "PASSWORD");
            for u in list {
                println!(
                    "{:<20} {:<38} {:<9} {}",
                    u.username,
                    u.sub,
                    if u.has_password { "set" } else { "none" },
                    u.claims.get("name").and_then(|v| v.as_str()).unwrap_or("")
                );
            }
            Ok(())
        }
        UsersCommand::Update {
            username,
            rename,
            password,
            claims,
            json,
        } => {
            let input = UserInput {
                username: rename,
                sub: None,
                password,
                password_hash: None,
                claims: claims.as_deref().map(parse_claims).transpose()?,
            };
            let user = core.update_user(&username, input).await?;
            if json {
                print_json(&user)
            } else {
                print_user(&user);
                Ok(())
            }
        }
        UsersCommand::Delete { username, json } => {
            core.delete_user(&username).await?;
            if json {
                print_json(&serde_json::json!({"deleted": username}))
            } else {
                println!("deleted user {username}");
                Ok(())
            }
        }
    }
}
