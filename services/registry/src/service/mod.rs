//! The registry service (`whistle-registry`, :8085): serves the registry, takes delegations,
//! recoveries and CSV imports, and publishes every change to the compacted registry topic.
//!
//! - [`settings`], [`startup`]: the usual service shape.
//! - [`http`]: the routes; [`error`]: the one error-to-response conversion; [`views`]: bodies.
//! - [`whatif`]: the what-if preview over stored case views.

pub mod error;
pub mod http;
pub mod settings;
pub mod startup;
pub mod views;
pub mod whatif;

pub use settings::Settings;
pub use startup::Application;
