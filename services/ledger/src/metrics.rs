//! Ledger metrics. Labels are bounded: outcome (4), query kind (3: list, report, figures), export format (2).

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Case events by what applying them did: written, duplicate, refused, undecodable.
    pub events: IntCounterVec,
    /// Database time of a list page, a report or the outcome figures.
    pub query_seconds: HistogramVec,
    pub exports: IntCounterVec,
    /// Case events per transaction (a consumer batch).
    pub batch: Histogram,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_ledger".into()), None)?;
        let events = IntCounterVec::new(Opts::new("events_total", "Case events applied to the ledger"), &["outcome"])?;
        let query_seconds = HistogramVec::new(
            HistogramOpts::new("query_seconds", "Database time of a ledger query")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["query"],
        )?;
        let exports = IntCounterVec::new(Opts::new("exports_total", "Exports started"), &["format"])?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(query_seconds.clone()))?;
        let batch = Histogram::with_opts(
            HistogramOpts::new("batch_events", "Case events applied in one transaction")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]),
        )?;
        registry.register(Box::new(exports.clone()))?;
        registry.register(Box::new(batch.clone()))?;
        Ok(Metrics { registry, events, query_seconds, exports, batch })
    }
}
