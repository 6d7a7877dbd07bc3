//! WebSocket frames on `/ws`.
//!
//! A client subscribes to channels (`department:CODE`, `town:CODE`). A fresh subscription is
//! answered with a snapshot of the channel's open cases and a cursor; every later change arrives
//! as an `event` frame with the channel's next cursor. A client that reconnects sends the last
//! cursor it saw and receives exactly the events after it: no gap, no duplicate.
//!
//! Close codes the server uses:
//! - `4008` slow consumer: the client fell too far behind; reconnect and resume with its cursor.
//! - `1001` going away: the gateway is shutting down; reconnect and resume.
//! - `1008` policy violation: too many subscriptions or an unparseable frame flood.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::WhistleView;
use crate::events::CaseEvent;

/// Close code sent to a client whose outbound queue overflowed.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Subscribe {
        channel: String,
        /// The last cursor seen on this channel; omit for a fresh snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
    Unsubscribe {
        channel: String,
    },
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The channel's open cases as of `cursor`; events after it follow.
    Snapshot {
        channel: String,
        cursor: String,
        cases: Vec<WhistleView>,
        /// True when the client asked to resume from a cursor the server no longer holds, so it
        /// gets a fresh snapshot instead: replace local state.
        #[serde(default)]
        reset: bool,
    },
    /// A resume was accepted: the events after `cursor` follow.
    Resumed {
        channel: String,
        cursor: String,
    },
    /// One change on a channel.
    Event {
        channel: String,
        cursor: String,
        event: Box<CaseEvent>,
        /// The case as it is after this event.
        case: Box<WhistleView>,
    },
    Unsubscribed {
        channel: String,
    },
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
}
