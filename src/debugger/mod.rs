//! The window's OAuth debugger: the provider seen from the client's side.
//!
//! - [`trial`] runs a sign-in as a client would ("Try a sign-in"): discovery, the
//!   authorization request (the browser comes back to a loopback listener of its own,
//!   RFC 8252), the token request, userinfo — each a [`Step`] with the request as
//!   sent, the answer, the time it took and a `curl` line.
//! - [`compare`] sets a request's parameters beside the client's registration and
//!   says what to change ([`Fix`]); the trial and the request timeline share it.
//! - [`facts`] is what only the provider knows about a token pasted into the window
//!   (does its signature come from our keys, is it stored, revoked); the window's
//!   explainer (`ui/src/views/debugger/explain.ts`) reasons over them.
//! - [`playground`] is the ready-made client the first run offers.
//!
//! It sits above [`crate::oauth`] (it reuses its checks, so a refusal foreseen here is
//! worded as the provider words it) and is used by the desktop shell only.

pub mod compare;
pub mod facts;
pub mod playground;
pub mod trial;

use serde::{Deserialize, Serialize};

pub use compare::{Comparison, Fix};
pub use trial::{Trial, TrialFlow, TrialInput};

/// One name and value of a request or an answer (a header, a form field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Field {
    pub name: String,
    pub value: String,
    /// A credential or something that grants access: the window masks it until clicked.
    pub secret: bool,
}

impl Field {
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
            secret: crate::oauth::params::is_secret(name)
                || name.eq_ignore_ascii_case("authorization"),
        }
    }
}

/// A request as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<Field>,
    /// The form body (`application/x-www-form-urlencoded`), empty for a GET.
    pub form: Vec<Field>,
}

impl SentRequest {
    /// The same request as a `curl` command line trusting the given CA file.
    pub fn curl(&self, ca_path: &str) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut out = format!("curl --cacert {}", q(ca_path));
        if self.method != "GET" || !self.form.is_empty() {
            out.push_str(&format!(" -X {}", self.method));
        }
        for h in &self.headers {
            out.push_str(&format!(
                " \\\n  -H {}",
                q(&format!("{}: {}", h.name, h.value))
            ));
        }
        for f in &self.form {
            out.push_str(&format!(
                " \\\n  --data-urlencode {}",
                q(&format!("{}={}", f.name, f.value))
            ));
        }
        out.push_str(&format!(" \\\n  {}", q(&self.url)));
        out
    }
}

/// An answer as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<Field>,
    /// JSON when the body is JSON, else the text.
    #[cfg_attr(feature = "ts-bindings", ts(type = "unknown"))]
    pub body: serde_json::Value,
}

/// Why a step failed, in the provider's words, and what would fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct StepError {
    /// The RFC error code (`invalid_request`, `unauthorized_client`, …).
    pub error: String,
    pub description: String,
    /// Changes to the client's registration that would let the request through.
    pub fixes: Vec<Fix>,
}

/// One card of a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Step {
    /// `discovery`, `authorize`, `callback`, `device_authorization`, `token`, `userinfo`.
    pub name: String,
    pub title: String,
    pub request: SentRequest,
    /// `None` while waiting (the browser has not come back yet) or when the request
    /// was not sent because the provider would refuse it.
    pub answer: Option<Answer>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub elapsed_ms: Option<u64>,
    pub error: Option<StepError>,
    /// A note in plain words (what happened, what to do next).
    pub note: Option<String>,
    pub curl: String,
}
