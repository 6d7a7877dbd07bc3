//! Router: sends every raised whistle to the department responsible for it.
//!
//! Consumes the case topic in the `whistle-router` consumer group. For each `whistle.raised` it
//! asks the registry who held the item in the whistle's district at the time of the whistle, and
//! publishes `whistle.dispatched` (or, when the town holds the item itself, `whistle.rejected`
//! with code `town_holds_item`). Consumption is exactly-once: a batch's outputs and its input
//! offsets commit in one Kafka transaction, so a crash replays the batch without a second copy of
//! its outputs in the committed log. Output event ids also derive from the input event id, so a
//! `whistle.raised` published twice (an intake retry) yields the same event and consumers drop the
//! duplicate. A payload that is not a case event goes to the dead-letter topic with the reason, in
//! the same transaction, and never blocks its partition.
//!
//! - [`decide`]: the pure mapping from a raised event to the event to publish.
//! - [`service`]: the consume → decide → produce loop, one transaction per batch.
//! - [`settings`], [`startup`], [`metrics`]: the usual service shape.

pub mod decide;
pub mod metrics;
pub mod service;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;
