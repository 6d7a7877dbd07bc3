//! Whistle's wire contract.
//!
//! Everything that crosses a process boundary is defined here, once, as serde types:
//!
//! - [`events`]: the CloudEvents 1.0 JSON events on Kafka (`whistle.raised`, `whistle.dispatched`,
//!   …). Every event of one whistle carries the whistle's id as `subject` and as the Kafka key.
//! - [`api`]: request and response bodies of the HTTP API (`/api/v1/...`).
//! - [`accounts`]: bodies of the account administration API and the password change.
//! - [`assist`]: bodies of the assist API (item suggestion, benchmarks, fenced enforcement actions).
//! - [`notify`]: bodies of the notifier's API (duty rosters, undeliverable notifications).
//! - [`registry`]: the registry topic's item records and the registry API's bodies.
//! - [`ws`]: the frames of the WebSocket protocol (`/ws`) used by live boards and dashboards.
//!
//! These are *wire* types: codes are plain strings here. Services parse them into domain newtypes
//! at the edge (see `whistle-registry`). JSON Schema files generated from these types are checked
//! in under `schemas/json/`; a test fails when they drift (`cargo xtask schemas` rewrites them).

pub mod accounts;
pub mod api;
pub mod assist;
pub mod events;
pub mod notify;
pub mod openapi;
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

/// The lifecycle of a case. A whistle goes `raised` → … → `resolved` or `rejected`; a town's own
/// enforcement case follows the administrative penalty procedure, `registered` → `persuaded` →
/// `investigated` → `notified` → `decided` → `served` → `closed`. `resolved`, `rejected`,
/// `merged` and `closed` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Raised,
    Dispatched,
    Acknowledged,
    OnSite,
    Resolved,
    Rejected,
    /// Merged into another open whistle about the same problem (a duplicate): the surviving
    /// case carries on, this one's clocks stop and it leaves the boards.
    Merged,
    /// 立案: a town registered its own case.
    Registered,
    /// 劝导: the party was persuaded (with an outcome) before any penalty.
    Persuaded,
    /// 调查取证: evidence taken by two certified officers.
    Investigated,
    /// 告知: the party was told the intended decision and its right to a defence or hearing.
    Notified,
    /// 决定: the penalty decision.
    Decided,
    /// 送达: the decision was served.
    Served,
    /// 结案: closed.
    Closed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 14] = [
        Status::Raised,
        Status::Dispatched,
        Status::Acknowledged,
        Status::OnSite,
        Status::Resolved,
        Status::Rejected,
        Status::Merged,
        Status::Registered,
        Status::Persuaded,
        Status::Investigated,
        Status::Notified,
        Status::Decided,
        Status::Served,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Raised => "raised",
            Status::Dispatched => "dispatched",
            Status::Acknowledged => "acknowledged",
            Status::OnSite => "on_site",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
            Status::Merged => "merged",
            Status::Registered => "registered",
            Status::Persuaded => "persuaded",
            Status::Investigated => "investigated",
            Status::Notified => "notified",
            Status::Decided => "decided",
            Status::Served => "served",
            Status::Closed => "closed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Resolved | Status::Rejected | Status::Merged | Status::Closed)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the console's generated types live, from the workspace root.
pub const TYPESCRIPT_PATH: &str = "services/console/src/generated/names.ts";

/// The console's TypeScript names, made from the same lists as the Rust types (event types,
/// statuses, SLA stages), written by `cargo xtask schemas`; a test fails when the file drifts.
pub fn typescript() -> String {
    fn list(values: impl IntoIterator<Item = &'static str>) -> String {
        values.into_iter().map(|v| format!("  '{v}',\n")).collect()
    }
    let terminal = Status::ALL.into_iter().filter(|s| s.is_terminal()).map(Status::as_str);
    format!(
        "// Generated by `cargo xtask schemas` from the Rust types in schemas/src. Do not edit.\n\n\
         /** Every CloudEvents `type` on the case topic. */\n\
         export const CASE_EVENT_TYPES = [\n{}] as const;\n\
         export type CaseEventType = (typeof CASE_EVENT_TYPES)[number];\n\n\
         /** A whistle's statuses, in lifecycle order. */\n\
         export const STATUSES = [\n{}] as const;\n\
         export type Status = (typeof STATUSES)[number];\n\n\
         /** Statuses a case does not leave (but for a returned case re-routed by the router). */\n\
         export const TERMINAL_STATUSES = [\n{}] as const;\n\n\
         /** The SLA clocks of a case. */\n\
         export const SLA_STAGES = [\n{}] as const;\n\
         export type SlaStage = (typeof SLA_STAGES)[number];\n",
        list(events::CaseEventBody::TYPES.iter().copied()),
        list(Status::ALL.into_iter().map(Status::as_str)),
        list(terminal),
        list(events::SlaStageKind::ALL.into_iter().map(events::SlaStageKind::as_str)),
    )
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
        ("auth-config", schema::<api::AuthConfig>()),
        ("account-create-request", schema::<accounts::CreateAccountRequest>()),
        ("account-scope", schema::<accounts::AccountScope>()),
        ("account-reset-password-request", schema::<accounts::ResetPasswordRequest>()),
        ("account-change-password-request", schema::<accounts::ChangePasswordRequest>()),
        ("account", schema::<accounts::AccountRecord>()),
        ("accounts", schema::<accounts::AccountList>()),
        ("account-audit", schema::<accounts::AccountAudit>()),
        ("raise-whistle-request", schema::<api::RaiseWhistleRequest>()),
        ("merge-request", schema::<api::MergeRequest>()),
        ("hotline-import-request", schema::<api::HotlineImportRequest>()),
        ("hotline-import-report", schema::<api::HotlineImportReport>()),
        ("duplicates", schema::<api::DuplicateList>()),
        ("whistle-accepted", schema::<api::WhistleAccepted>()),
        ("whistle", schema::<api::WhistleView>()),
        ("reject-request", schema::<api::RejectRequest>()),
        ("resolve-request", schema::<api::ResolveRequest>()),
        ("action-accepted", schema::<api::ActionAccepted>()),
        ("attachment-uploaded", schema::<api::AttachmentUploaded>()),
        ("error", schema::<api::ErrorBody>()),
        ("towns", schema::<api::TownList>()),
        ("items", schema::<api::ItemList>()),
        ("route", schema::<api::RouteView>()),
        ("pause-request", schema::<api::PauseRequest>()),
        ("transfer-request", schema::<api::TransferRequest>()),
        ("sla-summary", schema::<api::SlaSummary>()),
        ("ledger-page", schema::<api::LedgerPage>()),
        ("monthly-report", schema::<api::MonthlyReport>()),
        ("figures-report", schema::<api::FiguresReport>()),
        ("overview", schema::<api::Overview>()),
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
        ("roster", schema::<notify::Roster>()),
        ("rosters", schema::<notify::RosterList>()),
        ("on-duty", schema::<notify::OnDuty>()),
        ("notifications", schema::<notify::NotificationList>()),
        ("webhook-request", schema::<notify::WebhookRequest>()),
        ("webhook", schema::<notify::Webhook>()),
        ("webhook-created", schema::<notify::WebhookCreated>()),
        ("webhooks", schema::<notify::WebhookList>()),
        ("webhook-deliveries", schema::<notify::WebhookDeliveryList>()),
    ]
}
