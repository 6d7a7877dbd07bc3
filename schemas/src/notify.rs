//! Bodies of the notifier's API: duty rosters (`/api/v1/rosters...`) and the notifications that
//! could not be delivered (`/api/v1/notify/dead-letters`).
//!
//! A roster belongs to one *unit*: a district department (`500103-EE`), a district command
//! centre (`500103-CC`) or a town (`500103001`). Times are local to Chongqing (Asia/Shanghai,
//! UTC+8 all year).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A unit's people and duty rota. `PUT /api/v1/rosters/{unit}` replaces the whole roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// The department or command centre code, or the town code. In a `PUT` it may be left out;
    /// when given it must equal the path's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub people: Vec<RosterPerson>,
    /// The weekly rota: who is the duty officer when. The first shift that covers a moment wins.
    #[serde(default)]
    pub shifts: Vec<RosterShift>,
    /// Holidays and swaps: the person on duty from `from` until `until`, before any shift.
    #[serde(default)]
    pub overrides: Vec<RosterOverride>,
    /// Escalation targets other than the duty officer, by the SLA policy's names (e.g.
    /// `department_head`), each a person's `id`.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// The unit's group robots.
    #[serde(default)]
    pub robots: RosterRobots,
    /// Set by the server: when and by whom the roster was last replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// One person of a roster, with the addresses the notifier may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterPerson {
    /// Unique within the roster; shifts, overrides and roles name people by it.
    pub id: String,
    pub name: String,
    /// Mobile number (SMS, and the robots' @-mention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// WeCom (企业微信) user id, @-mentioned by the WeCom robot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom_id: Option<String>,
    /// No dispatches, warnings or rejections in these hours (they wait until the end);
    /// breaches and escalations are always delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

/// Local times `HH:MM`; `end` at or before `start` runs over midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

/// A weekly shift: on each of `days`, from `start` to `end` (local `HH:MM`). An `end` at or
/// before `start` runs over midnight into the next day (a night shift starting on Friday covers
/// Saturday morning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterShift {
    /// `mon` … `sun`.
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    pub person: String,
}

/// `person` is on duty from `from` until `until` (local `YYYY-MM-DDTHH:MM`), e.g. a holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterOverride {
    pub from: String,
    pub until: String,
    pub person: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Webhook URLs of the unit's group robots (WeCom 群机器人, DingTalk 自定义机器人).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterRobots {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dingtalk: Option<String>,
}

/// `GET /api/v1/rosters`: the rosters the caller may administer, by unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterList {
    pub rosters: Vec<Roster>,
}

/// `GET /api/v1/rosters/{unit}/on-duty[?at=RFC3339]`: who an escalation target reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnDuty {
    pub unit: String,
    pub at: DateTime<Utc>,
    /// The duty officer at `at`, if any shift or override covers it.
    pub duty_officer: Option<RosterPerson>,
    /// Every role of the roster resolved to its person.
    pub roles: BTreeMap<String, RosterPerson>,
}

/// A notification the notifier gave up on (or could not address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRecord {
    /// The delivery id: the same event, recipient and channel always give the same id.
    pub id: String,
    pub event_id: String,
    pub whistle: String,
    /// `dispatched`, `transferred`, `sla_warning`, `sla_breached`, `escalated` or `rejected`.
    pub kind: String,
    /// `email`, `wecom`, `dingtalk`, `sms`, or `none` when nobody could be addressed.
    pub channel: String,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/notify/dead-letters`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationList {
    pub notifications: Vec<NotificationRecord>,
}

/// `POST /api/v1/webhooks`: subscribe `url` to case events of the given types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// The receiver: `http://` or `https://`, at most 2048 characters, no `user:password@`. It
    /// must not reach a loopback, private, link-local, unique-local, multicast or unspecified
    /// address, unless the deployment allows them (`webhooks.allow_private_targets`, the dev
    /// stack only).
    pub url: String,
    /// CloudEvents types, e.g. `whistle.dispatched` (every type of the case topic is allowed).
    pub events: Vec<String>,
    /// Only this district's cases. A command centre may leave it out (its own district) or give
    /// its own; an administrator may leave it out for every district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// A webhook subscription (its secret is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// The district whose cases it hears; absent: every district (an administrator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// `active`, or `paused` after its deliveries failed for `webhooks.pause_after_seconds` (a
    /// day); `POST /api/v1/webhooks/{id}/resume` makes it active again.
    pub state: String,
    /// Since when every attempt has failed (absent once one succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// `201` to `POST /api/v1/webhooks`: the subscription and its signing secret (64 hex digits),
/// which is never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreated {
    pub id: String,
    /// The key of `X-Whistle-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, used as
    /// the UTF-8 bytes of this string.
    pub secret: String,
    pub webhook: Webhook,
}

/// `GET /api/v1/webhooks`: the subscriptions the caller administers, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// One POST of a delivery to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookAttempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the attempt failed (a non-2xx answer, a timeout, a refused address …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One case event for one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDelivery {
    /// The delivery id, sent as `X-Whistle-Delivery`: the same for every attempt (a hash of the
    /// event id and the subscription id), so a receiver can deduplicate.
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub whistle: String,
    /// `pending` (being tried), `delivered` (a 2xx) or `dead` (given up on).
    pub state: String,
    /// When the next attempt is due (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    /// Why it was given up on, or why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

/// `GET /api/v1/webhooks/{id}/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
}
