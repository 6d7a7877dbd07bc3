//! Plumbing every Whistle service shares, so each service crate holds only its own logic.
//!
//! - [`settings`]: typed settings: defaults, then an optional TOML file, then `WHISTLE_…__…`
//!   environment overrides; unknown keys are rejected.
//! - [`telemetry`]: `tracing` subscriber set-up (text or JSON lines).
//! - [`shutdown`]: the one place SIGTERM and ctrl-c are handled, and the supervisor that runs a
//!   service's long-lived tasks, cancels the rest when one ends, and bounds draining by a grace
//!   period.
//! - [`service`]: the run loop every service shares: its tasks (HTTP among them) under one
//!   supervisor, a bounded drain, the producer flushed before exit.
//! - [`kafka`]: producer and consumer construction with Whistle's delivery guarantees, topic
//!   creation, and the dead-letter writer.
//! - [`redis_conn`]: Redis connections (managed, and dedicated ones for blocking reads).
//! - [`admin`]: `/healthz`, `/readyz` and `/metrics` routes for any service.
//! - [`http_errors`]: middleware turning any non-JSON error answer into the API's error shape.
//! - [`http`]: the layers every API shares (request id, panic catcher, timeout, JSON errors) and
//!   bounded metric labels.
//! - [`text`]: characters free text must not carry (bidi overrides, invisible separators).
//! - [`ratelimit`]: per-key token buckets with bounded memory, and the layer answering
//!   `429 rate_limited`.

pub mod admin;
pub mod http;
pub mod http_errors;
pub mod kafka;
pub mod ratelimit;
pub mod redis_conn;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod text;
