//! HTTP API bodies (`/api/v1/...`). Requests reject unknown fields: a typo in a field name is an
//! error the caller sees, not a value silently dropped.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::{
    Actor, Authority, BenchmarkApplied, CaseParty, Deadlines, DecisionOutcome, DepartmentRef, EnforcementSubject,
    HotlineOrder, PersuasionOutcome, SlaStageKind, Verdict,
};
use crate::registry::{StatutoryRange, SubjectKind};
use crate::{Location, Names, Status};

/// `POST /api/v1/whistles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseWhistleRequest {
    pub town: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    /// URLs of photos already uploaded; optional.
    #[serde(default)]
    pub photos: Vec<String>,
    /// Evidence uploaded with `POST /api/v1/attachments` by this town (their `id`s), at most 9.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// The town holds the item itself but asks a department for support: the whistle goes to the
    /// supporting department instead of being refused with `town_holds_item`.
    #[serde(default)]
    pub support: bool,
    /// A joint case: department types (e.g. `["UM", "PS"]`) of the district that assist the
    /// lead department. Each sees the case on its board; it resolves when the lead resolves it.
    #[serde(default)]
    pub assist: Vec<String>,
    /// The datum of `location`'s coordinates: `wgs84` (GPS; the default) or `gcj02` (picked on
    /// AMap, Tencent Maps or another Chinese map SDK), converted to WGS-84 before they are
    /// stored. The point must lie in Chongqing (`400 invalid_field`, field `location`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datum: Option<String>,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A successful login: send `Authorization: Bearer <token>` on every request, and the token as
/// the WebSocket's first message (`{"type":"auth","token":…}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoginResponse {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
    pub account: AccountView,
}

/// How one logs in here (`GET /api/v1/auth/config`, no token needed): the console shows the
/// single sign-on button only when `oidc` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthConfig {
    /// Username and password (`POST /api/v1/auth/login`); always on.
    pub password: bool,
    /// Single sign-on with the deployment's OpenID Connect provider; `null` when not configured.
    pub oidc: Option<OidcLoginOption>,
}

/// The single sign-on button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OidcLoginOption {
    /// Where the browser goes to sign in (`?return_to=<path of the console>`); it comes back to
    /// `return_to` with `#/login?sso_token=…&expires_at=…`, or `#/login?sso_error=<code>`.
    pub login_url: String,
    /// The button's label per language.
    pub label: OidcLabel,
}

/// A label in the console's two languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OidcLabel {
    pub zh: String,
    pub en: String,
}

/// Who an account is (`GET /api/v1/auth/me`, and in a login's answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccountView {
    pub user: String,
    /// `town`, `department`, `command_centre`, `manager` or `admin`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// The department the account acts as (`<district>-CC` for a command centre).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The district the account is confined to; absent for the whole city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// `202 Accepted` answer to a raise: Kafka has the whistle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhistleAccepted {
    pub id: Uuid,
    pub status: Status,
    /// Open whistles of the same district for the same item raised near this one (within the
    /// item's radius, 200 m by default) in the last 24 hours, nearest first: likely the same
    /// problem. Always present; empty when there are none. The raise is accepted either way; a
    /// department or the command centre may merge it (`POST /api/v1/whistles/{id}/merge`).
    #[serde(default)]
    pub possible_duplicates: Vec<Uuid>,
}

/// `POST /api/v1/whistles/{id}/merge`: the whistle `{id}` is a duplicate of `into`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The surviving case: an open whistle of the same district.
    pub into: Uuid,
}

/// `GET /api/v1/whistles/duplicates?item=&lat=&lon=`: open whistles that are likely the same
/// problem, nearest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DuplicateList {
    /// The radius searched, in metres (the item's).
    pub radius_m: f64,
    /// The window searched, in hours.
    pub window_hours: u32,
    pub items: Vec<Duplicate>,
}

/// `POST /api/v1/hotline/orders` as JSON (a CSV with the same columns is taken too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineImportRequest {
    /// 1 to 1,000 work orders; each is imported or refused on its own.
    pub orders: Vec<HotlineOrderRow>,
}

/// One 12345 work order as the hotline exports it. CSV headers may be these names or the
/// hotline's Chinese ones (工单编号, 受理时间, 事项编码, 街镇编码, 纬度, 经度, 坐标系, 地址, 诉求内容,
/// 来电人, 来电号码).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineOrderRow {
    /// The order number (工单编号): 1-64 letters, digits, `-` or `_`; a re-import of the same
    /// order creates nothing.
    pub order_no: String,
    /// When the hotline took the call: RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` in China time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// The registry item code.
    pub item: String,
    /// The town the hotline assigned (a 9-digit code); without it the point decides, and where no
    /// town can be told the command centre triages the whistle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    pub lat: f64,
    pub lon: f64,
    /// `wgs84` (GPS, the default) or `gcj02` (Chinese map SDKs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What the caller reported (诉求内容).
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_phone: Option<String>,
}

/// What a hotline import did, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HotlineImportReport {
    /// `?dry_run=true`: every row was checked, nothing was raised.
    pub dry_run: bool,
    /// Whistles raised by this import (or, in a dry run, that it would raise).
    pub created: u32,
    /// Orders imported before: nothing new was raised for them.
    pub existing: u32,
    /// Rows refused; the rest were imported.
    pub failed: u32,
    /// CSV columns this import does not take (ignored), e.g. the hotline's own status columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_columns: Vec<String>,
    pub rows: Vec<HotlineRowResult>,
}

/// One row's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HotlineRowResult {
    /// 1 for the first order (in a CSV, the line after the header).
    pub row: u32,
    /// The order number as given (empty when the row had none).
    pub order_no: String,
    pub outcome: HotlineOutcome,
    /// The whistle (`created`, `existing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The town it went to; absent when the command centre triages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// Open whistles of the item nearby (as a raise answers): likely the same problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possible_duplicates: Vec<Uuid>,
    /// Why the row was refused (`failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<HotlineRowError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HotlineOutcome {
    Created,
    Existing,
    Failed,
}

/// A refused row: a stable code, the column at fault, and a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HotlineRowError {
    /// `invalid_field`, `unknown_item`, `unknown_town`, `outside_district`, `order_conflict` or
    /// `unavailable` (retry the file: nothing of the row was kept).
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// One likely duplicate. A reader who may not read the case gets only its id, status, distance
/// and time, and whether it is the reader's own town's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Duplicate {
    pub id: Uuid,
    pub status: Status,
    pub raised_at: DateTime<Utc>,
    /// From the point asked about, in metres.
    pub distance_m: f64,
    /// The caller may read the case (`GET /api/v1/whistles/{id}`).
    pub readable: bool,
    /// The case's description and address, only when `readable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A whistle merged into a case: its id and its town, which follows the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MergedCase {
    pub id: Uuid,
    pub town: String,
}

/// `GET /api/v1/whistles/{id}`, and the case shown on boards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhistleView {
    pub id: Uuid,
    pub status: Status,
    pub town: String,
    pub district: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// Every attachment of the case (`GET /api/v1/attachments/{id}`): the raise's or the
    /// registration's, then the investigation's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// The responsible (lead) department, once routed.
    pub department: Option<DepartmentRef>,
    /// Assisting departments of a joint case; they see it on their boards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assisting: Vec<DepartmentRef>,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The SLA deadlines, once the SLA service has scheduled them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<Deadlines>,
    /// SLA stages breached and not yet completed: the case is overdue while this is non-empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<SlaStageKind>,
    /// True between `whistle.paused` and `whistle.resumed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Every step, oldest first; append-only.
    pub timeline: Vec<TimelineEntry>,
    /// A whistle raised to a department, or a town's own enforcement case.
    #[serde(default)]
    pub kind: CaseKind,
    /// The administrative penalty procedure of an enforcement case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procedure: Option<Procedure>,
    /// The raising town's confirmation of a resolved whistle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    /// Times the raising town reopened the whistle.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopens: u32,
    /// Flagged steps (overridden decisions, fence warnings passed over) awaiting a supervisor's
    /// review: their event ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub review: Vec<Uuid>,
    /// A `merged` whistle: the surviving case it was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<MergedCase>,
    /// The surviving case of merges: the whistles merged into it, with their towns (each may read
    /// this case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<MergedCase>,
    /// The 12345 hotline work order the whistle came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotline: Option<HotlineOrder>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a case is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A whistle: a town needs a district department ("towns whistle, departments respond").
    #[default]
    Whistle,
    /// A town's own case for an item it holds, under the administrative penalty procedure.
    Enforcement,
}

/// How far the administrative penalty procedure of a case has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Procedure {
    pub party: CaseParty,
    /// The key of the party's enforcement history (`ucc:…` or `addr:…`).
    pub subject: EnforcementSubject,
    pub registered_at: DateTime<Utc>,
    /// 90 days from registration (Administrative Penalty Law, art. 60): the decision is due by then.
    pub decide_by: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persuasion: Option<PersuasionOutcome>,
    /// The certified officers of the investigation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub officers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ProcedureDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_whistle: Option<Uuid>,
}

/// The decision of a procedure, as the case keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcedureDecision {
    pub outcome: DecisionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_yuan: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statutory: Option<StatutoryRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkApplied>,
    /// The decision left the benchmark tier (inside the law), with a reason.
    #[serde(default)]
    pub overridden: bool,
}

/// A town's confirmation of a resolved whistle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    pub rating: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    /// `town` (confirmed by the town) or `deemed` (3 working days passed without an answer).
    pub by: String,
}

/// `POST /api/v1/cases`: a town opens its own enforcement case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    pub item: String,
    pub description: String,
    pub location: Location,
    pub subject: CaseSubjectInput,
    /// Evidence uploaded with `POST /api/v1/attachments` by this town (their `id`s), at most 9.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The town whose case it is; defaults to the account's own town.
    #[serde(default)]
    pub town: Option<String>,
    /// A whistle of this town the case continues (e.g. one refused with `town_holds_item`). A
    /// department opens its own case only from a whistle it owns (acknowledged, on site or
    /// resolved), for an item it holds in the whistle's town; that department then takes the
    /// procedure's steps (its certified officers `<department code>-01` to `-04`).
    #[serde(default)]
    pub from_whistle: Option<Uuid>,
    /// `location`'s datum, as in a raise: `wgs84` (the default) or `gcj02`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datum: Option<String>,
}

/// The party of a new case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseSubjectInput {
    pub kind: SubjectKind,
    pub name: String,
    /// Required for a unit: its unified social credit code (18 characters).
    #[serde(default)]
    pub credit_code: Option<String>,
}

/// `202` answer to `POST /api/v1/cases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseAccepted {
    pub id: Uuid,
    pub status: Status,
}

/// `POST /api/v1/cases/{id}/persuade`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersuadeRequest {
    pub outcome: PersuasionOutcome,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/v1/cases/{id}/investigate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvestigateRequest {
    /// Certificate numbers of the town's certified officers (at least two, e.g. `<town>-01`).
    pub officers: Vec<String>,
    pub evidence: String,
    /// Evidence uploaded with `POST /api/v1/attachments` by the town (their `id`s), at most 9.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// `POST /api/v1/cases/{id}/notify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    pub intended: String,
}

/// `POST /api/v1/cases/{id}/decide`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub outcome: DecisionOutcome,
    #[serde(default)]
    pub fine_yuan: Option<u64>,
    /// Required when the decision leaves the benchmark tier (inside the law).
    #[serde(default)]
    pub override_reason: Option<String>,
    /// Circumstances that pick the benchmark tier (repeat offences come from the history).
    #[serde(default)]
    pub corrected_in_time: bool,
    #[serde(default)]
    pub serious_consequences: bool,
}

/// `POST /api/v1/cases/{id}/close` (and `/serve`): an optional note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepNote {
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/v1/cases/{id}`: the case, with what its decision was measured against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: WhistleView,
    /// The party (当事人).
    pub subject: Option<CaseParty>,
    /// The benchmark tier and range that applied to the decision (null before it).
    pub benchmark: Option<BenchmarkApplied>,
    /// The electronic fences' warnings recorded on the case.
    pub fences: Vec<TimelineEntry>,
}

/// `POST /api/v1/whistles/{id}/confirm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// 1 to 5.
    pub rating: u8,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/whistles/{id}/reopen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    pub reason: String,
}

/// `POST /api/v1/whistles/{id}/comments` (and `/api/v1/cases/{id}/comments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub text: String,
}

/// `POST /api/v1/supervision/{item_id}/review`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub verdict: Verdict,
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/v1/supervision/queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionQueue {
    pub items: Vec<SupervisionItem>,
}

/// One thing for a supervisor to look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionItem {
    /// The id to review (`POST /api/v1/supervision/{id}/review`): `<case id>~<step event id>`
    /// for a flagged step, `<case id>~time_limit` for a case near or past its time limit.
    pub id: String,
    /// `override` (a decision or penalty outside the benchmark), `fence` (a fence warning passed
    /// over), `time_limit_near` or `time_limit_passed` (the 90-day limit to decide).
    pub reason: String,
    pub case: Uuid,
    pub kind: CaseKind,
    pub town: String,
    pub district: String,
    pub item: String,
    pub status: Status,
    pub time: DateTime<Utc>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide_by: Option<DateTime<Utc>>,
}

/// A case as boards see it: everything of [`WhistleView`] but the timeline, which a board fetches
/// (`GET /api/v1/whistles/{id}`) when a card is opened. Snapshots and live `event` frames carry
/// this, so their size does not grow with the case's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseSummary {
    pub id: Uuid,
    pub status: Status,
    /// A whistle or a town's enforcement case.
    #[serde(default)]
    pub kind: CaseKind,
    pub town: String,
    pub district: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// The case's attachment ids (at most 18: the raise's or registration's and the
    /// investigation's), so a board can offer them without fetching the case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// The responsible (lead) department, once routed.
    pub department: Option<DepartmentRef>,
    /// Assisting departments of a joint case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assisting: Vec<DepartmentRef>,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<Deadlines>,
    /// SLA stages breached and not yet completed: the case is overdue while this is non-empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<SlaStageKind>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// The reason of the pause in force, while `paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    /// Steps on the case's timeline.
    pub steps: usize,
    /// The latest step (who acted last, and how).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<TimelineEntry>,
    /// The 12345 hotline work order the whistle came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotline: Option<HotlineOrder>,
}

/// One step in a whistle's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEntry {
    pub event_id: Uuid,
    /// The CloudEvents type, e.g. `whistle.acknowledged`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status after this step.
    pub status: Status,
    pub time: DateTime<Utc>,
    pub actor: Option<Actor>,
    /// Reason, note or routing basis, where the step has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `POST /api/v1/whistles/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}

/// `POST /api/v1/whistles/{id}/transfer`: hand the case to another department, ownership and
/// clocks included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The receiving department's code, e.g. `500103-UM`.
    pub to: String,
    pub reason: String,
}

/// `POST /api/v1/whistles/{id}/pause`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    pub reason: String,
}

/// `POST /api/v1/whistles/{id}/resolve` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    #[serde(default)]
    pub note: Option<String>,
}

/// `202 Accepted` answer to a department action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionAccepted {
    pub id: Uuid,
    pub event_id: Uuid,
    /// The status the whistle moves to.
    pub status: Status,
}

/// `201` answer to `POST /api/v1/attachments`: the file as stored (its metadata stripped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttachmentUploaded {
    /// Reference it as `attachments: [id]` in a raise, a town case or an investigation.
    pub id: Uuid,
    /// Lower-case hex SHA-256 of the stored bytes (what `GET /api/v1/attachments/{id}` returns).
    pub sha256: String,
    /// By the file's bytes: `image/jpeg`, `image/png`, `image/webp` or `video/mp4`.
    pub content_type: String,
    /// Bytes stored.
    pub size: u64,
}

/// Every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable, e.g. `unknown_item`.
    pub code: String,
    /// For people; may change between versions. At most [`ErrorBody::MAX_MESSAGE_CHARS`]
    /// characters plus an ellipsis.
    pub message: String,
}

impl ErrorBody {
    /// Messages can quote the input (serde's "invalid type: string \"…\""); an answer never
    /// echoes more than this many characters of it.
    pub const MAX_MESSAGE_CHARS: usize = 300;

    /// The error answer every service sends, its message cut to [`Self::MAX_MESSAGE_CHARS`].
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = match message.char_indices().nth(Self::MAX_MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message,
        };
        ErrorBody { error: ErrorDetail { code: code.into(), message } }
    }
}

/// `GET /api/v1/towns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TownList {
    pub towns: Vec<TownView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TownView {
    pub code: String,
    pub names: Names,
    /// `subdistrict` (街道), `town` (镇) or `township` (乡), as the code's last three digits say.
    pub kind: String,
    /// The administrative district the town belongs to (its code's first six digits).
    pub district: DistrictRef,
    /// The functional zone that runs enforcement for the town, when one does (e.g. 两江新区):
    /// its whistles go to the zone's departments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<DistrictRef>,
    pub illustrative: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DistrictRef {
    pub code: String,
    pub names: Names,
}

/// `GET /api/v1/registry/items[?district=CODE]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ItemList {
    /// The district whose holders are shown, or `*` for the city-wide default.
    pub district: String,
    pub at: DateTime<Utc>,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ItemView {
    pub code: String,
    pub names: Names,
    pub category: String,
    pub legal_basis: String,
    pub illustrative: bool,
    /// `individual`, `unit`: who can commit the offence.
    #[serde(default)]
    pub subject_kinds: Vec<crate::registry::SubjectKind>,
    #[serde(default)]
    pub persuade_first: bool,
    /// Who holds it now (in the requested district), or null where nobody does.
    pub authority: Option<Authority>,
    pub holder: Option<HolderView>,
}

/// Who holds an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HolderView {
    /// The district's towns and subdistricts hold it themselves.
    Towns,
    /// A district department of this type holds it (`code` is set when a district is known).
    Department {
        department_type: String,
        names: Names,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

/// `GET /api/v1/route?town=CODE&item=CODE[&at=RFC3339]`: where a whistle would go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RouteView {
    pub town: String,
    pub district: String,
    pub item: String,
    pub at: DateTime<Utc>,
    pub outcome: RouteOutcome,
    pub authority: Option<Authority>,
    /// Set when a district department (or the command centre) is responsible.
    pub department: Option<DepartmentRef>,
    /// Since when the current holder holds the item.
    pub effective_from: Option<DateTime<Utc>>,
    pub message: Names,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteOutcome {
    /// A district department is responsible: a whistle is dispatched to it.
    Department,
    /// The town holds the item itself: it should act, not whistle.
    Town,
    /// Nobody holds it here: the district command centre triages.
    Triage,
}

/// `GET /api/v1/sla/summary[?district=CODE][&window_hours=N]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlaSummary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub district: Option<String>,
    pub total: SlaFigures,
    pub departments: Vec<DepartmentFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentFigures {
    pub department: String,
    /// The department's names, where the registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Names>,
    pub district: String,
    #[serde(flatten)]
    pub figures: SlaFigures,
}

/// Figures over the cases dispatched in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SlaFigures {
    pub dispatched: u64,
    pub acknowledged: u64,
    pub resolved: u64,
    /// Mean time to acknowledge, in seconds; a still-unacknowledged case counts with its age so
    /// far, so a backlog of ignored cases raises it instead of hiding.
    pub mtta_seconds: Option<f64>,
    /// Mean time to resolve, in seconds, counting open cases by their age so far.
    pub mttr_seconds: Option<f64>,
    /// Cases with at least one breached stage, over dispatched.
    pub breach_rate: Option<f64>,
    /// Open cases overdue right now.
    pub overdue_now: u64,
    pub open: u64,
    /// Whistles the raising town reopened after their resolution (each counted once).
    #[serde(default)]
    pub reopened: u64,
    /// Resolved whistles the town confirmed, or that were deemed confirmed.
    #[serde(default)]
    pub confirmed: u64,
}

#[cfg(test)]
mod tests {
    use super::ErrorBody;

    #[test]
    fn an_error_message_quoting_a_long_input_is_cut_on_a_character_boundary() {
        let long = "長".repeat(2_000);
        let body = ErrorBody::new("malformed_body", format!("invalid type: string \"{long}\""));
        assert_eq!(body.error.message.chars().count(), ErrorBody::MAX_MESSAGE_CHARS + 1);
        assert!(body.error.message.ends_with('…'));
        assert!(body.error.message.starts_with("invalid type: string \"長"));

        let short = ErrorBody::new("unknown_item", "no item X");
        assert_eq!(short.error.message, "no item X");
        assert_eq!(short.error.code, "unknown_item");
    }
}

/// `GET /api/v1/whistles` and `GET /api/v1/cases`: one page of the ledger, newest raised first
/// unless `sort` says otherwise. Pass `next_cursor` back as `cursor` for the next page; it is
/// `null` on the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LedgerPage {
    /// Each case as the caller may see it (a town's view leaves out the enforcement record's
    /// particulars, as `GET /api/v1/whistles/{id}` does).
    pub items: Vec<WhistleView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/reports/monthly?district=CODE&month=YYYY-MM`: the district's month (China
/// time) by department and by town, over the cases raised in it, with the months before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonthlyReport {
    pub district: String,
    /// The district's names, where the registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Names>,
    /// `YYYY-MM`.
    pub month: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: ReportFigures,
    /// By lead department (cases never routed are under `department: null`).
    pub departments: Vec<ReportRow>,
    pub towns: Vec<ReportRow>,
    /// The district's totals for this month and the months before it, oldest first.
    pub trend: Vec<MonthFigures>,
}

/// One department's or town's figures in a [`MonthlyReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportRow {
    /// The department or town code.
    pub code: Option<String>,
    #[serde(flatten)]
    pub figures: ReportFigures,
}

/// One month of a [`MonthlyReport`]'s trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonthFigures {
    pub month: String,
    #[serde(flatten)]
    pub figures: ReportFigures,
}

/// Figures over the cases raised in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportFigures {
    pub raised: u64,
    /// Routed to a department at least once.
    pub dispatched: u64,
    /// Acknowledged before the deadline, over the cases acknowledged or past the deadline.
    pub ack_on_time_rate: Option<f64>,
    /// Arrived on site before the deadline, over the cases arrived or past the deadline.
    pub arrive_on_time_rate: Option<f64>,
    /// Mean dispatch to acknowledgement, in seconds, over the acknowledged cases.
    pub mtta_seconds: Option<f64>,
    /// Mean dispatch to resolution, in seconds, over the resolved cases.
    pub mttr_seconds: Option<f64>,
    /// SLA stages breached (a case can breach up to three).
    pub breaches: u64,
    /// Cases opened again after being closed.
    pub reopened: u64,
    /// Cases whose final status is rejected.
    pub rejected: u64,
    /// Cases that changed owner after the first dispatch (transfers, re-routes).
    pub rerouted: u64,
}

/// `GET /api/v1/figures?district=CODE&from=&to=`: the outcome figures of the cases begun (a
/// whistle raised, a town case registered) in `[from, to)`, counted from the case events the
/// ledger applied, as `whistle_case::figures` defines them (see `definitions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FiguresReport {
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
    /// The district counted; `null`: the whole city.
    pub district: Option<String>,
    /// The repeat window of the inspection count, in days: the inspection fence's
    /// (`deploy/data/assist/fences.json`). Inspections of the district's cases begun up to this
    /// long before `from` count as history.
    pub repeat_window_days: u32,
    pub figures: OutcomeFigures,
    /// Where the figures are defined: `docs/figures.md#definitions`.
    pub definitions: String,
}

/// Outcome figures as the seed counts them: legal steps and hand-offs, handling time, repeated
/// inspections, complaints (reopens) and confirmations. Times are in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutcomeFigures {
    /// Cases begun in the period: whistles raised and town cases registered, less the whistles
    /// merged into another (a problem is counted once).
    pub cases: u64,
    /// Of those, resolved or closed (and not reopened since).
    pub closed: u64,
    /// Of those, rejected (returned, or refused by the router) and not re-routed.
    pub rejected: u64,
    /// Whistles begun in the period and merged into another as duplicates (not in `cases`).
    #[serde(default)]
    pub merged: u64,
    /// Legal steps and hand-offs in all: dispatch, transfer, reopen; inspection or re-check,
    /// persuade, investigate, notify, decide (or a department's penalty), serve.
    pub procedures: u64,
    pub procedures_per_case: f64,
    /// Of the procedures, hand-offs: dispatch, transfer, reopen.
    pub handoffs: u64,
    /// A department's inspection that is not a re-check, a town's investigation; a joint case's
    /// departments at one subject within an hour are one.
    pub inspections: u64,
    /// Re-checks (复查) of an earlier order: not inspections, never repeats.
    pub rechecks: u64,
    /// Department penalties and town decisions of a fine or a warning.
    pub penalties: u64,
    /// Inspections of a subject that any body inspected within the repeat window before.
    pub repeated_inspections: u64,
    /// `repeated_inspections / inspections` (0 when there were none).
    pub repeated_inspection_rate: f64,
    /// From the raise or registration to the resolution or close that stands, over the closed
    /// cases.
    pub handling_mean_seconds: Option<f64>,
    pub handling_median_seconds: Option<f64>,
    pub handling_p90_seconds: Option<f64>,
    /// Reopens by the raising town (complaints about the result).
    pub reopens: u64,
    /// Confirmations by the raising town (deemed ones included).
    pub confirmations: u64,
    /// The mean rating (1–5) of the confirmations that carry one.
    pub rating_mean: Option<f64>,
    /// Fence warnings, by how they were met.
    pub fences_warned: u64,
    pub fences_blocked: u64,
    pub fences_overridden: u64,
}

/// `GET /api/v1/reports/overview?district=&from=&to=`: the pictures of the manager's charts over
/// the whistles of a period in the caller's scope — per district, day by day, the distributions of
/// MTTA and MTTR, the items raised most and the slowest departments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Overview {
    /// The district asked for; absent: every district of the caller's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// The period: cases raised at or after `from` and before `to`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: OverviewFigures,
    /// One row per district with cases in the period (districts without any are absent).
    pub districts: Vec<OverviewDistrict>,
    /// Every day of the period (China time), oldest first, days without anything included.
    pub daily: Vec<OverviewDay>,
    /// Dispatch to acknowledgement, over the period's acknowledged cases.
    pub mtta_histogram: Vec<OverviewBucket>,
    /// Dispatch to resolution, over the period's resolved cases.
    pub mttr_histogram: Vec<OverviewBucket>,
    /// The items raised most in the period (at most ten), most first.
    pub top_items: Vec<OverviewItem>,
    /// The lead departments with the longest mean time to resolve (at most ten), slowest first.
    pub slowest_departments: Vec<OverviewDepartment>,
}

/// Counts over the cases raised in an [`Overview`]'s period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewFigures {
    pub raised: u64,
    /// Routed to a department at least once.
    pub dispatched: u64,
    /// Not closed now (no terminal status).
    pub open: u64,
    /// Resolved now.
    pub resolved: u64,
    /// With at least one SLA stage breached.
    pub breached: u64,
    /// Open and past a deadline now.
    pub overdue: u64,
    /// `breached` over `dispatched`; absent when nothing was dispatched.
    pub breach_rate: Option<f64>,
    /// Mean dispatch to acknowledgement, in seconds, over the acknowledged cases.
    pub mtta_seconds: Option<f64>,
    /// Mean dispatch to resolution, in seconds, over the resolved cases.
    pub mttr_seconds: Option<f64>,
}

/// One district's row of an [`Overview`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewDistrict {
    /// The 6-digit district (or functional zone) code.
    pub code: String,
    #[serde(flatten)]
    pub figures: OverviewFigures,
}

/// What happened on one day (China time) of an [`Overview`]'s period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Cases raised that day.
    pub raised: u64,
    /// Cases resolved that day (whenever they were raised, before the period's end).
    pub resolved: u64,
    /// Cases whose first SLA breach fell on that day.
    pub breached: u64,
}

/// One bar of a duration histogram: cases that took at least `from_seconds` and less than
/// `to_seconds` (no upper bound on the last bar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewBucket {
    pub from_seconds: u64,
    pub to_seconds: Option<u64>,
    pub count: u64,
}

/// An item's row among an [`Overview`]'s top items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewItem {
    pub code: String,
    pub raised: u64,
    pub breached: u64,
}

/// A lead department's row among an [`Overview`]'s slowest departments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OverviewDepartment {
    pub code: String,
    /// Cases it leads that were raised in the period.
    pub raised: u64,
    /// Of those, resolved (the mean is over these).
    pub resolved: u64,
    /// Mean dispatch to resolution, in seconds.
    pub mttr_seconds: f64,
    /// Its breached cases over its dispatched ones.
    pub breach_rate: Option<f64>,
}
