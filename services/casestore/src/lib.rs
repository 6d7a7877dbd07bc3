//! Case state in Redis: the read side of Whistle.
//!
//! - [`state`]: what projecting an event does — the case after it (the rules are in
//!   `whistle-case`) and the channels that see it. Unit-tested without Redis.
//! - [`channel`]: live-board channel names (`department:CODE`, `town:CODE`) and stream cursors.
//! - [`store`]: the Redis projection. Applying an event updates the case, the open-case sets and
//!   an append-only stream per channel in one atomic script, so a snapshot and its cursor always
//!   agree and a resumed reader sees every later change exactly once.
//!
//! Key layout (all under the deployment's prefix): `case:{id}` (hash: `v` version, `json` view,
//! `sum` the board summary), `openz:{channel}` (sorted set of the open whistle ids, scored so the
//! most urgent rank first: [`store::rank_score`]), `stream:{channel}` (Redis stream of the event
//! and the case summary; ids are cursors), and for the registry's what-if `index:open` and
//! `index:open:item:{item}` (sets of open case ids) and `index:raised`, `index:raised:item:{item}`
//! (raise times of the last [`store::RAISED_INDEX_DAYS`] days); for the duplicate finder
//! `dup:geo:{item}` (a GEO set of recent raises' places) and `dup:at:{item}` (their raise times). Snapshots and pages are bounded
//! inside Redis.
//! Scripts touch keys derived from their arguments, so this layout needs a single Redis node or
//! a cluster-aware key scheme (hash tags) before moving to Redis Cluster.

pub mod channel;
pub mod state;
pub mod store;

pub use channel::{Channel, ChannelError, Cursor};
pub use state::Applied;
pub use store::{CaseStore, Nearby, Page, PageToken, Projected, Snapshot, StoreError, StreamEntry, WhatIfInputs};
pub use whistle_case::Case;
