//! WebSocket frames on `/ws`.
//!
//! A client subscribes to channels (`department:CODE`, `town:CODE`). A fresh subscription is
//! answered with a snapshot of the channel's open cases and a cursor; every later change arrives
//! as an `event` frame with the channel's next cursor. A client that reconnects sends the last
//! cursor it saw and receives exactly the events after it: no gap, no duplicate.
//!
//! Authentication: send `Authorization: Bearer <token>` with the upgrade request, or, from a
//! browser, make the first frame `{"type":"auth","token":"<token>"}` within 10 seconds. The
//! server answers `authenticated`; only then are subscriptions accepted, and each is checked
//! against the account's scope (`forbidden` error frame otherwise, the connection stays).
//! A snapshot carries at most a bounded number of cases (500 by default), the most urgent first
//! (overdue, then newest); when the channel has more, `truncated` is true, `total` says how
//! many are open and `next` is the token for `{"type":"more"}`, answered with a `page`. Later
//! events still arrive for every case of the channel. Cases in frames are summaries (no
//! timeline); `GET /api/v1/whistles/{id}` has the whole case. Frames show a case as the
//! account's HTTP view does: a town's leave out enforcement subjects, override reasons and
//! fence warnings.
//!
//! Every client frame the server cannot act on is answered with an `error` frame (`code`:
//! `malformed_message`, `unsupported_frame`, `invalid_channel`, `unknown_channel` (well formed, but
//! no such department, town or district), `forbidden` (outside the account's scope),
//! `unauthenticated` (no `auth` frame yet), `invalid_cursor`,
//! `too_many_subscriptions`, `rate_limited`, `not_subscribed`, `invalid_page_token`, `overloaded`
//! (a reconnect storm: try again after `retry_after_ms`), or `unavailable` when Redis is), and the
//! session goes on.
//!
//! Close codes the server uses:
//! - `4001` unauthorized: no token in time, or a forged, malformed or expired one (also sent when
//!   the token expires during the session); log in again and reconnect.
//! - `4008` slow consumer: the client fell too far behind; reconnect and resume with its cursor.
//! - `1001` going away: the gateway is shutting down; reconnect and resume.
//! - `1008` policy violation: too many consecutive frames answered with an error (20 by
//!   default); fix the client before reconnecting.
//! - `1009` message too big: a client frame exceeded the size limit (16 KiB by default).
//! - `1011` internal error: the gateway lost track of what it sent (Redis failed during a
//!   catch-up); resume with the last cursor seen.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::CaseSummary;
use crate::events::CaseEvent;

/// Close code sent to a client whose outbound queue overflowed.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code (RFC 6455 policy violation) for a client that keeps sending frames it gets errors
/// for.
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
/// Close code (RFC 6455 message too big) for a client frame over the size limit.
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;

/// Close code for a missing, invalid or expired token.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// The session's token, when the upgrade request carried none (browsers cannot set headers).
    Auth {
        token: String,
    },
    Subscribe {
        channel: String,
        /// The last cursor seen on this channel; omit for a fresh snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
    Unsubscribe {
        channel: String,
    },
    /// The next page of a subscribed channel's open cases, after the `next` token of a snapshot
    /// or of the previous page. Answered with a `page` frame.
    More {
        channel: String,
        after: String,
    },
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The token was accepted; subscriptions may follow.
    Authenticated {
        user: String,
        role: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// The channel's open cases as of `cursor`; events after it follow.
    Snapshot {
        channel: String,
        cursor: String,
        cases: Vec<CaseSummary>,
        /// True when the client asked to resume from a cursor the server no longer holds, so it
        /// gets a fresh snapshot instead: replace local state.
        #[serde(default)]
        reset: bool,
        /// True when the channel has more open cases than this frame carries; the most urgent
        /// (overdue, then newest) are sent.
        #[serde(default)]
        truncated: bool,
        /// Open cases on the channel as of `cursor`, sent or not. Absent from older servers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
        /// When `truncated`: send `{"type":"more","channel":…,"after":next}` for the next page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// A page of open cases, in the snapshot's order (overdue, then newest), as they are now;
    /// events keep coming for them. `next` is absent on the last page.
    Page {
        channel: String,
        cases: Vec<CaseSummary>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// A resume was accepted: the events after `cursor` follow.
    Resumed {
        channel: String,
        cursor: String,
    },
    /// One change on a channel, as the account may see it: a town gets no enforcement subjects,
    /// override reasons or fence warnings (their frames are not sent), like its HTTP view.
    Event {
        channel: String,
        cursor: String,
        event: Box<CaseEvent>,
        /// The case as it is after this event, summarised (no timeline).
        case: Box<CaseSummary>,
    },
    Unsubscribed {
        channel: String,
    },
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// With `overloaded`: try again after this many milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}
