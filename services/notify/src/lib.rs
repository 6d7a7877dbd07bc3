//! Notify: reach people, and other systems, when a case needs them.
//!
//! The notifier consumes every case event (consumer group `whistle-notify`) and tells the
//! person on duty: a dispatch or transfer to a department's duty officer, SLA warnings and
//! breaches to the owning department's, each escalation step to the person the step names
//! (`duty_officer`, `department_head`, … from the department's roster, `command_centre` from the
//! district command centre's), a rejection to the town. Email goes through SMTP, group messages
//! to the unit's WeCom and DingTalk robots, SMS through an HTTP gateway.
//!
//! Delivery is at least once and idempotent: planned deliveries are recorded in PostgreSQL under
//! a delivery id (a hash of event, recipient and channel) before the event's offset is stored,
//! so a replay after a crash plans nothing twice; senders lease due deliveries, retry failures
//! with backoff and jitter, and give up into a dead-letter list administrators can read.
//!
//! - [`roster`]: rosters and the duty rota (pure: who is on duty at a moment, quiet hours).
//! - [`plan`]: what an event means for people: deliveries with their ids and zh-CN text (pure).
//! - [`store`]: rosters, case towns and deliveries in PostgreSQL.
//! - [`consumer`]: case events in, deliveries recorded.
//! - [`sender`] and [`channels`]: deliveries out (SMTP, robots, SMS), retries, dead letters.
//! - [`http`]: the roster and dead-letter API.
//! - [`webhooks`]: outbound webhooks: subscriptions, signed deliveries of case events, retries,
//!   the address rule (SSRF), `/api/v1/webhooks...`.
//! - [`metrics`], [`settings`], [`startup`]: the usual service shape.

pub mod channels;
pub mod consumer;
pub mod http;
pub mod leases;
pub mod metrics;
pub mod plan;
pub mod roster;
pub mod sender;
pub mod settings;
pub mod startup;
pub mod store;
pub mod webhooks;

pub use settings::Settings;
pub use startup::Application;
