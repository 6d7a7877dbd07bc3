//! SLA: every dispatched case runs against the clock.
//!
//! The SLA service consumes every case event (consumer group `whistle-sla`). A dispatch starts
//! three clocks — acknowledge, arrive, resolve — with budgets from the policy for the item; an
//! acknowledgement, an arrival or a resolution stops them; a pause stops them all and a resume
//! restarts them. Timers fire `sla.warning`, `sla.breached` and, step by step along the chain,
//! `whistle.escalated`, each at most once per case; `sla.scheduled` tells boards the deadlines.
//!
//! - [`calendar`]: wall and business clocks (working hours, weekends, holidays).
//! - [`policy`]: the policy file: budgets, warning threshold, escalation chain, calendars.
//! - [`case`]: one case's clocks and the timers they imply (pure).
//! - [`timers`]: the timer loop, generic over storage and time (tested with a paused clock).
//! - [`store`]: the state in Redis, with timers partitioned like the Kafka topic, so instances
//!   share the work by consumer-group assignment and a restart loses nothing.
//! - [`service`]: the Kafka consumer and the Redis-backed timer firing.
//! - [`summary`] and [`http`]: `GET /api/v1/sla/summary` for managers.
//! - [`metrics`], [`settings`], [`startup`]: the usual service shape.

pub mod calendar;
pub mod case;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod service;
pub mod settings;
pub mod startup;
pub mod store;
pub mod summary;
pub mod timers;

pub use settings::Settings;
pub use startup::Application;
