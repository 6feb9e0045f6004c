//! The debugger's commands ("Try a sign-in", the request comparison, the token
//! explainer's facts), each over one operation of `authdesk::debugger`. A trial that
//! waits for the browser is kept here between `begin_trial` and `finish_trial`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authdesk::debugger::compare::{self, Change, Comparison};
use authdesk::debugger::facts::{self, TokenFacts};
use authdesk::debugger::playground;
use authdesk::debugger::trial::{self, Pending, Target, Trial, TrialInput, TrialState};
use authdesk::error::{Error, ErrorPayload};
use authdesk::events::RequestEntry;
use authdesk::model::Client;
use authdesk::tls::TlsPaths;
use tauri::State;
use tokio::sync::oneshot;

use crate::shell::Shell;

type Shared<'a> = State<'a, Arc<Shell>>;

fn ipc<T>(r: Result<T, Error>) -> Result<T, ErrorPayload> {
    r.map_err(|e| e.to_payload())
}

/// Trials waiting for the browser or a device, by id; a cancel sender once finishing.
#[derive(Default)]
pub struct Trials(Mutex<HashMap<String, Waiter>>);

enum Waiter {
    Pending(Box<Pending>),
    Finishing(oneshot::Sender<()>),
}

impl Trials {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn target(shell: &Shell) -> Result<Target, Error> {
    let ca = TlsPaths::new(shell.data_dir()).ca_cert();
    let ca_pem = tokio::fs::read(&ca)
        .await
        .map_err(|e| Error::io(format!("cannot read the CA {}", ca.display()), e))?;
    Ok(Target {
        issuer: shell.provider_context().await?.issuer().to_string(),
        ca_pem,
        ca_path: ca.display().to_string(),
        now: shell.core().now(),
    })
}

/// Starts a sign-in as the client would: discovery and, for the code and device
/// flows, everything up to the browser, which opens at the URL to visit (set
/// `AUTHDESK_NO_BROWSER=1` to only show it). Other flows run to their end.
#[tauri::command]
pub async fn begin_trial(
    shell: Shared<'_>,
    trials: State<'_, Trials>,
    input: TrialInput,
) -> Result<Trial, ErrorPayload> {
    let client = ipc(shell.core().get_client(&input.client_id).await)?;
    let target = ipc(target(&shell).await)?;
    let (trial, pending) = ipc(trial::begin(target, client, input).await)?;
    if let Some(p) = pending {
        trials
            .lock()
            .insert(trial.id.clone(), Waiter::Pending(Box::new(p)));
        if let Some(w) = &trial.waiting {
            shell.open_url(&w.url);
        }
    }
    Ok(trial)
}

/// Waits for the browser's redirect (or the device's approval) and sends the rest.
#[tauri::command]
pub async fn finish_trial(trials: State<'_, Trials>, id: String) -> Result<Trial, ErrorPayload> {
    let (tx, rx) = oneshot::channel();
    let waiter = trials.lock().remove(&id);
    let pending = match waiter {
        Some(Waiter::Pending(p)) => *p,
        Some(w @ Waiter::Finishing(_)) => {
            trials.lock().insert(id.clone(), w);
            return ipc(Err(Error::invalid("id", "this trial is already finishing")));
        }
        None => {
            return ipc(Err(Error::NotFound { what: "trial", id }));
        }
    };
    trials.lock().insert(id.clone(), Waiter::Finishing(tx));
    let done = trial::finish(pending, rx).await;
    trials.lock().remove(&id);
    Ok(done)
}

/// Stops waiting: the loopback listener closes and `finish_trial` answers `cancelled`.
#[tauri::command]
pub fn cancel_trial(trials: State<'_, Trials>, id: String) -> TrialState {
    let waiter = trials.lock().remove(&id);
    match waiter {
        Some(Waiter::Finishing(tx)) => {
            let _ = tx.send(());
            TrialState::Cancelled
        }
        Some(Waiter::Pending(_)) => TrialState::Cancelled,
        None => TrialState::Done,
    }
}

/// The playground client, made on first use (never by `authdesk serve`).
#[tauri::command]
pub async fn ensure_playground_client(shell: Shared<'_>) -> Result<Client, ErrorPayload> {
    ipc(playground::ensure(&shell.core()).await)
}

/// A logged authorization or token request beside its client's registration; `None`
/// when the entry names no client Authdesk knows.
#[tauri::command]
pub async fn compare_request(
    shell: Shared<'_>,
    entry: RequestEntry,
) -> Result<Option<Comparison>, ErrorPayload> {
    let Some(id) = entry.client_id.as_deref() else {
        return Ok(None);
    };
    match shell.core().get_client(id).await {
        Ok(c) => Ok(Some(compare::compare(
            &c,
            &entry.kind,
            &entry.params,
            &entry.detail,
        ))),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => ipc(Err(e)),
    }
}

/// Makes a suggested change to a client (add the redirect URI, allow the grant, …).
#[tauri::command]
pub async fn apply_fix(
    shell: Shared<'_>,
    client_id: String,
    change: Change,
) -> Result<Client, ErrorPayload> {
    ipc(compare::apply(&shell.core(), &client_id, &change).await)
}

/// What the provider knows about a token: signature against its keys, stored record.
#[tauri::command]
pub async fn token_facts(shell: Shared<'_>, token: String) -> Result<TokenFacts, ErrorPayload> {
    let ctx = ipc(shell.provider_context().await)?;
    ipc(facts::of(&ctx, &token).await)
}
