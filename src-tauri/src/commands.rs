//! The window's commands: each calls one core operation. Errors cross IPC as the
//! core's `{code, message, field}` payload.

use std::sync::{Arc, Mutex};

use authdesk::error::{Error, ErrorPayload};
use authdesk::events::PendingConsent;
use authdesk::events::{RequestEntry, RequestStatus};
use authdesk::keys::{KeyInfo, RetireOld};
use authdesk::model::{Client, ClientInput, Scope, SigningAlg, TokenFormat, User, UserInput};
use authdesk::oauth::faults::{self, FaultSpec, FaultView, FaultsAdded};
use authdesk::oauth::issue::MintRequest;
use authdesk::oauth::mint::TokenResponse;
use authdesk::oauth::resource::TokenDetail;
use authdesk::seed::{ImportSummary, ScopeInput, SeedFile, SeedFormat};
use authdesk::snippets::{self, Snippet, SnippetContext};
use authdesk::store::flows::{Consent, TokenFilter, TokenSummary};
use authdesk::tls::{CertificatesInfo, ExportFormat, TlsMaterial, TlsPaths};
use authdesk::trust::{self, CaCert, Elevation, TrustEnv, TrustReport, TrustStatus, TrustStore};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::settings::{SaveSettingsResult, Settings};
use crate::shell::{ProviderStatus, Shell};

type Shared<'a> = State<'a, Arc<Shell>>;

fn ipc<T>(r: Result<T, Error>) -> Result<T, ErrorPayload> {
    r.map_err(|e| e.to_payload())
}

/// How many request-log entries the window gets when it does not say.
const DEFAULT_REQUEST_LIMIT: u32 = 500;

// ---- provider ----

#[tauri::command]
pub fn provider_status(shell: Shared<'_>) -> ProviderStatus {
    shell.status()
}

#[tauri::command]
pub async fn restart_provider(shell: Shared<'_>) -> Result<ProviderStatus, ErrorPayload> {
    ipc(shell.restart().await)
}

#[tauri::command]
pub async fn change_port(shell: Shared<'_>, port: u16) -> Result<ProviderStatus, ErrorPayload> {
    ipc(shell.change_port(port).await)
}

// ---- clients ----

#[tauri::command]
pub async fn list_clients(shell: Shared<'_>) -> Result<Vec<Client>, ErrorPayload> {
    ipc(shell.core().list_clients().await)
}

#[tauri::command]
pub async fn get_client(shell: Shared<'_>, client_id: String) -> Result<Client, ErrorPayload> {
    ipc(shell.core().get_client(&client_id).await)
}

/// New clients take the default lifetimes of the settings unless the form sets them.
#[tauri::command]
pub async fn create_client(
    shell: Shared<'_>,
    mut input: ClientInput,
) -> Result<Client, ErrorPayload> {
    let s = shell.settings();
    input.access_token_ttl = input.access_token_ttl.or(Some(s.access_token_ttl.into()));
    input.refresh_token_ttl = input.refresh_token_ttl.or(Some(s.refresh_token_ttl.into()));
    input.id_token_ttl = input.id_token_ttl.or(Some(s.id_token_ttl.into()));
    ipc(shell.core().create_client(input).await)
}

#[tauri::command]
pub async fn update_client(
    shell: Shared<'_>,
    client_id: String,
    input: ClientInput,
) -> Result<Client, ErrorPayload> {
    ipc(shell.core().update_client(&client_id, input).await)
}

#[tauri::command]
pub async fn delete_client(shell: Shared<'_>, client_id: String) -> Result<(), ErrorPayload> {
    ipc(shell.core().delete_client(&client_id).await)
}

#[tauri::command]
pub async fn regenerate_client_secret(
    shell: Shared<'_>,
    client_id: String,
) -> Result<Client, ErrorPayload> {
    ipc(shell.core().regenerate_client_secret(&client_id).await)
}

#[tauri::command]
pub async fn client_snippets(
    shell: Shared<'_>,
    client_id: String,
) -> Result<Vec<Snippet>, ErrorPayload> {
    let client = ipc(shell.core().get_client(&client_id).await)?;
    let issuer = shell.status().issuer;
    let ca = TlsPaths::new(shell.data_dir())
        .ca_cert()
        .display()
        .to_string();
    Ok(snippets::render(
        &client,
        SnippetContext {
            issuer: &issuer,
            ca_path: &ca,
        },
    ))
}

// ---- users and scopes ----

#[tauri::command]
pub async fn list_users(shell: Shared<'_>) -> Result<Vec<User>, ErrorPayload> {
    ipc(shell.core().list_users().await)
}

#[tauri::command]
pub async fn create_user(shell: Shared<'_>, input: UserInput) -> Result<User, ErrorPayload> {
    ipc(shell.core().create_user(input).await)
}

#[tauri::command]
pub async fn update_user(
    shell: Shared<'_>,
    username: String,
    input: UserInput,
) -> Result<User, ErrorPayload> {
    ipc(shell.core().update_user(&username, input).await)
}

#[tauri::command]
pub async fn delete_user(shell: Shared<'_>, username: String) -> Result<(), ErrorPayload> {
    ipc(shell.core().delete_user(&username).await)
}

#[tauri::command]
pub async fn list_scopes(shell: Shared<'_>) -> Result<Vec<Scope>, ErrorPayload> {
    ipc(shell.core().list_scopes().await)
}

/// Creates a scope, or updates the one of that name (description, claims it releases).
#[tauri::command]
pub async fn save_scope(shell: Shared<'_>, input: ScopeInput) -> Result<Scope, ErrorPayload> {
    ipc(shell.core().save_scope(input).await)
}

/// Deletes a scope no client is allowed (the error names the clients that are).
#[tauri::command]
pub async fn delete_scope(shell: Shared<'_>, name: String) -> Result<(), ErrorPayload> {
    ipc(shell.core().delete_scope(&name).await)
}

// ---- tokens ----

#[tauri::command]
pub async fn list_tokens(
    shell: Shared<'_>,
    filter: Option<TokenFilter>,
) -> Result<Vec<TokenSummary>, ErrorPayload> {
    ipc(shell.core().list_tokens(filter.unwrap_or_default()).await)
}

#[tauri::command]
pub async fn get_token(shell: Shared<'_>, id: String) -> Result<TokenDetail, ErrorPayload> {
    match shell.provider_context().await {
        Ok(state) => ipc(state.token_detail(&id).await),
        // Not running (port in use, stopped): the stored token, without the answer
        // only the running provider can give.
        Err(_) => {
            let (summary, value) = ipc(shell.core().get_token(&id).await)?;
            Ok(TokenDetail {
                summary,
                value,
                introspection: serde_json::json!({
                    "unavailable": "the provider is not running; start it to see its introspection answer"
                }),
                origin: None,
            })
        }
    }
}

#[tauri::command]
pub async fn revoke_token(shell: Shared<'_>, id: String) -> Result<(), ErrorPayload> {
    ipc(shell.core().revoke_token(&id).await)
}

#[tauri::command]
pub async fn revoke_client_tokens(
    shell: Shared<'_>,
    client_id: String,
) -> Result<u64, ErrorPayload> {
    ipc(shell.core().revoke_client_tokens(&client_id).await)
}

#[tauri::command]
pub async fn revoke_user_tokens(shell: Shared<'_>, username: String) -> Result<u64, ErrorPayload> {
    ipc(shell.core().revoke_user_tokens(&username).await)
}

#[tauri::command]
pub async fn expire_token(shell: Shared<'_>, id: String) -> Result<TokenSummary, ErrorPayload> {
    ipc(shell.core().expire_token(&id).await)
}

/// What the window's "Generate token" asks for: the options of `authdesk tokens mint`.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct MintInput {
    pub client_id: String,
    /// The persona the token is for; none: a token for the client itself.
    pub username: Option<String>,
    /// None: what the client may have (without a persona: what needs none).
    pub scopes: Vec<String>,
    /// The access token's lifetime in seconds; the client's when absent.
    #[ts(type = "number | null")]
    pub ttl: Option<i64>,
    pub format: Option<TokenFormat>,
    /// Issued already expired.
    pub expired: bool,
    /// Extra claims for the access token and id_token: a JSON object, none reserved.
    #[ts(type = "Record<string, unknown> | null")]
    pub claims: Option<serde_json::Value>,
    /// RFC 8707 resources: the access token's audience (the client's default when empty).
    pub audiences: Vec<String>,
}

impl MintInput {
    fn into_request(self) -> Result<MintRequest, Error> {
        let claims = match self.claims {
            None => None,
            Some(serde_json::Value::Object(map)) => {
                authdesk::token_shape::check_not_reserved(map.keys().map(String::as_str), "claims")
                    .map_err(|e| Error::invalid("claims", e))?;
                Some(map)
            }
            Some(_) => {
                return Err(Error::invalid(
                    "claims",
                    "must be a JSON object, e.g. {\"roles\": [\"admin\"]}",
                ));
            }
        };
        Ok(MintRequest {
            client_id: self.client_id,
            username: self.username.filter(|u| !u.is_empty()),
            scopes: self.scopes,
            ttl: self.ttl,
            format: self.format,
            expired: self.expired,
            claims,
            audiences: self.audiences,
        })
    }
}

/// What signing a persona out did.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SignedOut {
    /// Provider sessions ended.
    pub sessions: u32,
    /// Clients notified by back-channel logout (each delivery is in the timeline).
    pub notified: u32,
}

/// The token response of a minted token (RFC 6749 §5.1), as `authdesk tokens mint` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct MintedToken {
    pub access_token: String,
    pub token_type: String,
    #[ts(type = "number")]
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: String,
}

impl From<TokenResponse> for MintedToken {
    fn from(r: TokenResponse) -> Self {
        MintedToken {
            access_token: r.access_token,
            token_type: r.token_type.to_string(),
            expires_in: r.expires_in,
            refresh_token: r.refresh_token,
            id_token: r.id_token,
            scope: r.scope,
        }
    }
}

/// Mints a token without a flow, as `authdesk tokens mint`: stored like any other
/// (introspectable, revocable) and logged as minted. Needs the running provider (its
/// issuer and keys).
#[tauri::command]
pub async fn mint_token(
    shell: Shared<'_>,
    request: MintInput,
) -> Result<MintedToken, ErrorPayload> {
    let request = ipc(request.into_request())?;
    let ctx = ipc(shell.provider_context().await)?;
    let now = shell.core().now();
    ipc(ctx.mint(&request, now).await.map_err(Error::from)).map(MintedToken::from)
}

// ---- remembered consents ----

/// The consents remembered (per persona, client and scopes), of one persona or all.
#[tauri::command]
pub async fn list_consents(
    shell: Shared<'_>,
    username: Option<String>,
) -> Result<Vec<Consent>, ErrorPayload> {
    ipc(shell.core().list_consents(username.as_deref()).await)
}

/// Forgets a persona's consent to a client and revokes what it granted; the next
/// sign-in asks again. A running provider also notifies the client by back-channel
/// logout.
#[tauri::command]
pub async fn revoke_consent(
    shell: Shared<'_>,
    username: String,
    client_id: String,
) -> Result<(), ErrorPayload> {
    match shell.provider_context().await {
        Ok(ctx) => ipc(ctx.revoke_consent(&username, &client_id).await.map(drop)),
        Err(_) => ipc(shell
            .core()
            .revoke_consent(&username, &client_id)
            .await
            .map(drop)),
    }
}

/// Signs a persona out everywhere: ends their provider sessions and notifies the
/// clients they signed in to by back-channel logout. Needs the running provider.
#[tauri::command]
pub async fn sign_out_user(shell: Shared<'_>, username: String) -> Result<SignedOut, ErrorPayload> {
    let ctx = ipc(shell.provider_context().await)?;
    let (sessions, notified) = ipc(ctx.sign_out(&username).await)?;
    Ok(SignedOut {
        sessions: sessions as u32,
        notified: notified as u32,
    })
}

// ---- requests and consent ----

#[tauri::command]
pub async fn list_requests(
    shell: Shared<'_>,
    client_id: Option<String>,
    status: Option<RequestStatus>,
    limit: Option<u32>,
) -> Result<Vec<RequestEntry>, ErrorPayload> {
    let limit = limit.unwrap_or(DEFAULT_REQUEST_LIMIT);
    ipc(shell
        .core()
        .list_requests(client_id.as_deref(), status, limit)
        .await)
}

/// Pending consents live in the running server; none wait while it is stopped.
#[tauri::command]
pub async fn list_pending_consents(shell: Shared<'_>) -> Result<Vec<PendingConsent>, ErrorPayload> {
    Ok(shell
        .provider_context()
        .await
        .map(|s| s.pending_consents())
        .unwrap_or_default())
}

#[tauri::command]
pub async fn decide_consent(
    shell: Shared<'_>,
    request_id: String,
    approve: bool,
    username: Option<String>,
    claims: Option<String>,
) -> Result<(), ErrorPayload> {
    let state = ipc(shell.provider_context().await)?;
    ipc(state
        .decide_consent_with_claims(&request_id, approve, username, claims)
        .await)
}

// ---- signing keys ----

#[tauri::command]
pub async fn list_keys(shell: Shared<'_>) -> Result<Vec<KeyInfo>, ErrorPayload> {
    ipc(shell.core().list_keys().await)
}

/// Rotates `alg`'s key (every algorithm in use when absent); the replaced keys retire
/// after `retire_after_secs` (0: at once; absent: the provider's setting, 24 h).
#[tauri::command]
pub async fn rotate_keys(
    shell: Shared<'_>,
    alg: Option<SigningAlg>,
    retire_after_secs: Option<u32>,
) -> Result<Vec<KeyInfo>, ErrorPayload> {
    let retire_old = match retire_after_secs {
        None => RetireOld::AfterDefault,
        Some(0) => RetireOld::Now,
        Some(s) => RetireOld::After(i64::from(s)),
    };
    let core = shell.core();
    ipc(core.rotate_keys(alg, retire_old, core.now()).await)
}

#[tauri::command]
pub async fn retire_key(shell: Shared<'_>, kid: String) -> Result<KeyInfo, ErrorPayload> {
    let core = shell.core();
    ipc(core.retire_key(&kid, core.now()).await)
}

// ---- certificates ----

#[tauri::command]
pub async fn certificates(shell: Shared<'_>) -> Result<CertificatesInfo, ErrorPayload> {
    ipc(shell.tls().await.and_then(|t| t.info()))
}

/// Asks where to save the export and writes it; `None` when the person cancels.
#[tauri::command]
pub async fn export_certificate(
    shell: Shared<'_>,
    format: ExportFormat,
) -> Result<Option<String>, ErrorPayload> {
    let bytes = ipc(shell.tls().await.and_then(|t| t.export(format)))?;
    let Some(path) = shell
        .export_path("Export the Authdesk CA", format.default_file_name())
        .await
    else {
        return Ok(None);
    };
    ipc(std::fs::write(&path, bytes)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e)))?;
    Ok(Some(path.display().to_string()))
}

// ---- trust stores ----

/// Where the trust commands look: the real machine (with the `AUTHDESK_*` overrides of
/// [`TrustEnv::from_process`]); tests put their own in.
pub struct TrustConfig(Mutex<TrustEnv>);

impl TrustConfig {
    pub fn from_process() -> TrustConfig {
        TrustConfig(Mutex::new(TrustEnv::from_process()))
    }

    pub fn env(&self) -> TrustEnv {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, env: TrustEnv) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = env;
    }
}

/// Runs a trust operation on the CA of the data directory, off the async threads: it
/// runs certutil, keytool and the privilege prompt, which waits for the person.
async fn with_ca<T: Send + 'static>(
    shell: &Shell,
    config: &TrustConfig,
    op: impl FnOnce(&CaCert, &TrustEnv) -> Result<T, Error> + Send + 'static,
) -> Result<T, ErrorPayload> {
    let dir = shell.data_dir().to_path_buf();
    let now = shell.core().now();
    let env = config.env();
    ipc(
        tauri::async_runtime::spawn_blocking(move || op(&CaCert::load(&dir, now)?, &env))
            .await
            .map_err(|e| Error::Other(e.to_string()))
            .and_then(|r| r),
    )
}

/// Whether each trust store and ecosystem trusts the CA, as `authdesk ca status`.
#[tauri::command]
pub async fn trust_status(
    shell: Shared<'_>,
    config: State<'_, TrustConfig>,
) -> Result<TrustStatus, ErrorPayload> {
    with_ca(&shell, &config, |ca, env| Ok(trust::status(ca, env))).await
}

/// Puts the CA into one store, as `authdesk ca install --store STORE`; a store that
/// needs root is changed through the desktop's privilege prompt (pkexec), which the
/// window explains first with the store's `install_commands`.
#[tauri::command]
pub async fn install_trust(
    shell: Shared<'_>,
    config: State<'_, TrustConfig>,
    store: TrustStore,
) -> Result<TrustReport, ErrorPayload> {
    with_ca(&shell, &config, move |ca, env| {
        trust::install(ca, env, Some(&[store]), Elevation::Prompt)
    })
    .await
}

/// Takes the CA (and stale Authdesk CAs) out of one store, as `authdesk ca uninstall`.
#[tauri::command]
pub async fn uninstall_trust(
    shell: Shared<'_>,
    config: State<'_, TrustConfig>,
    store: TrustStore,
) -> Result<TrustReport, ErrorPayload> {
    with_ca(&shell, &config, move |ca, env| {
        trust::uninstall(ca, env, Some(&[store]), Elevation::Prompt)
    })
    .await
}

// ---- records (seed files) ----

/// Asks where to save, then writes the clients, users and scopes as a seed file — what
/// `authdesk export` writes and `authdesk import` / `serve --seed` read — owner-only,
/// since it holds password hashes and client secrets. `None` when the person cancels.
#[tauri::command]
pub async fn export_records(
    shell: Shared<'_>,
    format: SeedFormat,
) -> Result<Option<String>, ErrorPayload> {
    let text = ipc(shell.core().export().await.and_then(|s| s.render(format)))?;
    let Some(path) = shell
        .export_path(
            "Export clients, users and scopes",
            format.default_file_name(),
        )
        .await
    else {
        return Ok(None);
    };
    ipc(authdesk::fsutil::write_atomic(&path, text.as_bytes(), true))?;
    Ok(Some(path.display().to_string()))
}

/// Asks for a seed file (JSON or YAML) and applies it as `authdesk import` does: all or
/// nothing, records matched by id, username or name. `None` when the person cancels.
#[tauri::command]
pub async fn import_records(shell: Shared<'_>) -> Result<Option<ImportSummary>, ErrorPayload> {
    let Some(path) = shell.import_path("Import clients, users and scopes").await else {
        return Ok(None);
    };
    let seed = ipc(SeedFile::read(&path))?;
    let now = shell.core().now();
    ipc(faults::check_all(&seed.faults, "seed", now))?;
    let seed_faults = seed.faults.clone();
    let summary = ipc(shell.core().import(seed).await)?;
    ipc(faults::add(&shell.core(), &seed_faults, "seed", true).await)?;
    Ok(Some(summary))
}

/// Issues a new server certificate and restarts the provider to serve it.
#[tauri::command]
pub async fn regenerate_server_certificate(
    shell: Shared<'_>,
) -> Result<CertificatesInfo, ErrorPayload> {
    let dir = shell.data_dir().to_path_buf();
    let hosts = shell
        .serve_options()
        .map(|o| o.extra_hosts())
        .unwrap_or_default();
    let now = shell.core().now();
    let material = ipc(tauri::async_runtime::spawn_blocking(move || {
        TlsMaterial::regenerate_server(&dir, &hosts, now)
    })
    .await
    .map_err(|e| Error::Other(e.to_string()))
    .and_then(|r| r))?;
    if shell.status().state == crate::shell::ProviderState::Running {
        ipc(shell.restart().await)?;
    }
    ipc(material.info())
}

// ---- settings ----

#[tauri::command]
pub fn get_settings(shell: Shared<'_>) -> Settings {
    shell.settings()
}

#[tauri::command]
pub fn save_settings(
    shell: Shared<'_>,
    settings: Settings,
) -> Result<SaveSettingsResult, ErrorPayload> {
    let restart_required = ipc(shell.save_settings(settings))?;
    Ok(SaveSettingsResult { restart_required })
}

// ---- faults (failures on demand) ----

/// Every fault rule, oldest first.
#[tauri::command]
pub async fn list_faults(shell: Shared<'_>) -> Result<Vec<FaultView>, ErrorPayload> {
    ipc(faults::list(&shell.core()).await)
}

/// Adds a fault rule (or runs a scenario) from the window's form.
#[tauri::command]
pub async fn add_fault(shell: Shared<'_>, spec: FaultSpec) -> Result<FaultsAdded, ErrorPayload> {
    ipc(faults::add(&shell.core(), &[spec], "window", false).await)
}

/// Removes one rule, or all without an id; returns how many.
#[tauri::command]
pub async fn clear_faults(shell: Shared<'_>, id: Option<i64>) -> Result<u64, ErrorPayload> {
    ipc(faults::clear(&shell.core(), id).await)
}

/// Pauses or resumes one rule, or all without an id; returns how many.
#[tauri::command]
pub async fn pause_faults(
    shell: Shared<'_>,
    id: Option<i64>,
    paused: bool,
) -> Result<u64, ErrorPayload> {
    ipc(faults::pause(&shell.core(), id, paused).await)
}
