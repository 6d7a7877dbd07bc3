//! Tracing set-up. `RUST_LOG` filters (default `info`); `WHISTLE_LOG_FORMAT=json` emits JSON lines.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops), so tests
/// that start several services in one process can all call it.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,librdkafka=warn,tower_http=info"));
    let json = std::env::var("WHISTLE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let installed = if json { builder.json().try_init() } else { builder.try_init() };
    if installed.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "telemetry ready");
    }
}
