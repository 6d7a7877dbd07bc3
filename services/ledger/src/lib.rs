//! The ledger (台账): every case of the case topic in PostgreSQL, for finding, exporting and
//! reporting on years of records (Redis keeps the live boards; it is not where a city queries
//! its history).
//!
//! - [`record`]: a ledger row from a case's view (pure): the indexed columns of the filters and
//!   the figures (times, breaches, reopens, re-routes), read off the view and its timeline.
//! - [`store`]: PostgreSQL: each event applied with the case's own rules (`whistle_case::evolve`)
//!   in one transaction with the event itself, idempotent on event ids; the list's keyset query.
//! - [`consumer`]: the consumer group `ledger`; offsets stored only after the commit.
//! - [`rebuild`]: the case topic replayed into an empty ledger (`cargo xtask rebuild-ledger`).
//! - [`query`]: the list's parameters, parsed at the edge, and each role's scope.
//! - [`http`]: `GET /api/v1/whistles`, `/api/v1/cases`, the exports, the monthly report and
//!   `GET /api/v1/figures`.
//! - [`export`]: CSV (BOM, formula cells neutralised) and XLSX, page by page.
//! - [`report`]: the monthly report by department and town, with the trend.
//! - [`figures`]: the outcome figures of a period, from the stored case events
//!   (`whistle_case::figures`), streamed in time order with a bound on the cases counted.
//! - [`synth`]: synthetic case histories for the tests and benchmarks.
//! - [`metrics`], [`settings`], [`startup`]: the usual service shape.

pub mod consumer;
pub mod export;
pub mod figures;
pub mod http;
pub mod metrics;
pub mod query;
pub mod rebuild;
pub mod record;
pub mod report;
pub mod settings;
pub mod startup;
pub mod store;
pub mod synth;

pub use settings::Settings;
pub use startup::Application;
