//! Intake: Whistle's HTTP API (`/api/v1/...`).
//!
//! Town teams raise whistles here and departments act on them; every accepted request becomes a
//! CloudEvent on the case topic, and the answer (`202`) is sent only once Kafka has it.
//!
//! - [`settings`]: this service's settings.
//! - [`startup`]: builds the application (binds the listener, connects Kafka and Redis, loads the
//!   registry) and runs it until shutdown.
//! - [`routes`]: the handlers, one file per resource (evidence uploads and downloads in
//!   `routes/attachments.rs`, the files themselves in `whistle-attachments`).
//! - [`accounts`]: the demo accounts, recognised by the live registry.
//! - [`domain`]: request bodies parsed into validated values.
//! - [`duplicates`]: the duplicate finder (open whistles of the item near a raise, from a Redis
//!   GEO index intake writes as it accepts raises).
//! - [`error`]: the one place errors become HTTP answers.
//! - [`extract`]: a JSON extractor whose rejections speak the API's error format.
//! - [`metrics`]: Prometheus metrics and the request-metrics middleware.
//! - [`oidc`]: single sign-on (OpenID Connect, authorization code with PKCE), when configured.
//! - [`ports`]: the event log and the case store as traits, with the real (Kafka, Redis) ones;
//!   [`memory`]: in-memory ones for handler tests without a broker.

pub mod accounts;
pub mod domain;
pub mod duplicates;
pub mod error;
pub mod extract;
pub mod memory;
pub mod metrics;
pub mod oidc;
pub mod ports;
pub mod routes;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;
