//! Whistle's wire contract.
//!
//! Everything that crosses a process boundary is defined here, once, as serde types:
//!
//! - [`events`]: the CloudEvents 1.0 JSON events on Kafka (`whistle.raised`, `whistle.dispatched`,
//!   …). Every event of one whistle carries the whistle's id as `subject` and as the Kafka key.
//! - [`api`]: request and response bodies of the HTTP API (`/api/v1/...`).
//! - [`assist`]: bodies of the assist API (item suggestion, benchmarks, fenced enforcement actions).
//! - [`registry`]: the registry topic's item records and the registry API's bodies.
//! - [`ws`]: the frames of the WebSocket protocol (`/ws`) used by live boards and dashboards.
//!
//! These are *wire* types: codes are plain strings here. Services parse them into domain newtypes
//! at the edge (see `whistle-registry`). JSON Schema files generated from these types are checked
//! in under `schemas/json/`; a test fails when they drift (`cargo xtask schemas` rewrites them).

pub mod api;
pub mod assist;
pub mod events;
pub mod registry;
pub mod ws;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A name in the two languages the UI speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub zh: String,
    pub en: String,
}

/// Where a whistle happened. Coordinates are WGS-84 degrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub address: String,
}

/// The lifecycle of a whistle. `resolved` and `rejected` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Raised,
    Dispatched,
    Acknowledged,
    OnSite,
    Resolved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Raised => "raised",
            Status::Dispatched => "dispatched",
            Status::Acknowledged => "acknowledged",
            Status::OnSite => "on_site",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Resolved | Status::Rejected)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every schema file checked in under `schemas/json/`, by file stem.
pub fn all_schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("a schema is always JSON")
    }
    vec![
        ("case-event", schema::<events::CaseEvent>()),
        ("dead-letter", schema::<events::DeadLetter>()),
        ("login-request", schema::<api::LoginRequest>()),
        ("login-response", schema::<api::LoginResponse>()),
        ("raise-whistle-request", schema::<api::RaiseWhistleRequest>()),
        ("whistle-accepted", schema::<api::WhistleAccepted>()),
        ("whistle", schema::<api::WhistleView>()),
        ("reject-request", schema::<api::RejectRequest>()),
        ("resolve-request", schema::<api::ResolveRequest>()),
        ("action-accepted", schema::<api::ActionAccepted>()),
        ("error", schema::<api::ErrorBody>()),
        ("towns", schema::<api::TownList>()),
        ("items", schema::<api::ItemList>()),
        ("route", schema::<api::RouteView>()),
        ("pause-request", schema::<api::PauseRequest>()),
        ("transfer-request", schema::<api::TransferRequest>()),
        ("sla-summary", schema::<api::SlaSummary>()),
        ("registry-item-record", schema::<registry::ItemRecord>()),
        ("registry-item", schema::<registry::ItemDetail>()),
        ("registry-holder-change-request", schema::<registry::HolderChangeRequest>()),
        ("districts", schema::<registry::DistrictList>()),
        ("registry-import-report", schema::<registry::ImportReport>()),
        ("registry-whatif-request", schema::<registry::WhatIfRequest>()),
        ("registry-whatif-report", schema::<registry::WhatIfReport>()),
        ("ws-client-message", schema::<ws::ClientMessage>()),
        ("ws-server-message", schema::<ws::ServerMessage>()),
        ("assist-suggestions", schema::<assist::SuggestResponse>()),
        ("inspect-request", schema::<assist::InspectRequest>()),
        ("penalty-request", schema::<assist::PenaltyRequest>()),
        ("benchmark-request", schema::<assist::BenchmarkRequest>()),
        ("benchmark", schema::<assist::BenchmarkView>()),
        ("enforcement-accepted", schema::<assist::EnforcementAccepted>()),
    ]
}
