//! Router: sends every raised whistle to the department responsible for it.
//!
//! Consumes the case topic in the `whistle-router` consumer group. For each `whistle.raised` it
//! asks the registry who held the item in the whistle's district at the time of the whistle, and
//! publishes `whistle.dispatched` (or, when the town holds the item itself, `whistle.rejected`
//! with code `town_holds_item`). An offset is stored only after Kafka acknowledged the output.
//! Output event ids derive from the input event id, so a replay after a crash yields the same
//! event and consumers drop the duplicate. A payload that is not a case event goes to the
//! dead-letter topic with the reason and never blocks its partition.
//!
//! - [`decide`]: the pure mapping from a raised event to the event to publish.
//! - [`service`]: the consume → decide → produce loop.
//! - [`settings`], [`startup`], [`metrics`]: the usual service shape.

pub mod decide;
pub mod metrics;
pub mod service;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;
