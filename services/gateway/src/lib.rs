//! Gateway: case state and live boards.
//!
//! Two jobs, both about what people see:
//!
//! - [`projector`]: consumes every case event (consumer group `whistle-projector`) and applies
//!   it to Redis through `whistle-casestore`: the case's current view and timeline, the open
//!   cases of each channel, and an append-only stream per channel. The offset is stored only once
//!   Redis has the change; replays are dropped by event id.
//! - [`hub`] + [`session`] + [`ws`]: the WebSocket endpoint `/ws`. A session subscribes to channels;
//!   it first gets a snapshot (or, with a cursor, exactly the entries it missed), then live
//!   entries. One reader task per gateway tails the channel streams in Redis and fans each entry
//!   out to the local sessions through bounded broadcast queues; a session that falls behind is
//!   closed with code 4008 and resumes from its cursor.
//! - [`snapshots`]: a reconnect storm costs Redis one bounded read per channel: concurrent
//!   subscribes share one snapshot (single flight, kept while the stream has not moved), and
//!   subscribes are admitted at a bounded rate, in order, with a retry hint past a bounded wait.
//! - [`connections`]: caps on open connections per gateway and per client address, checked
//!   before the upgrade.
//! - [`guard`]: per-connection limits on client frames (rate, and consecutive bad frames).
//! - [`redact`]: frames narrowed to what the account may see (a town gets no enforcement
//!   subjects, override reasons or fence warnings), by the rules of `whistle_case::visibility`.
//!
//! Any gateway instance can serve any board: Redis, not the instance, holds the state.

pub mod connections;
pub mod guard;
pub mod hub;
pub mod metrics;
pub mod projector;
pub mod redact;
pub mod session;
pub mod settings;
pub mod snapshots;
pub mod startup;
pub mod ws;

pub use settings::Settings;
pub use startup::Application;
