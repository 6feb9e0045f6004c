//! The request log: every authorization request and token-endpoint event, with the
//! reason of every failure, kept in SQLite so the window shows history after a restart.

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Received,
    Rejected,
    PendingConsent,
    Approved,
    Denied,
    Completed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::Rejected => "rejected",
            RequestStatus::PendingConsent => "pending_consent",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RequestEntry {
    pub id: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub at: Timestamp,
    /// `authorize`, `token`, `revoke`, `introspect`, `userinfo`, `register`, …
    pub kind: String,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub status: RequestStatus,
    /// The RFC error code, when the request failed.
    pub error: Option<String>,
    /// The plain-language cause and fix.
    pub error_description: Option<String>,
    pub params: std::collections::BTreeMap<String, String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, unknown>"))]
    pub detail: serde_json::Value,
}
