//! Router metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Raised whistles routed, by outcome (department, triage, town_holds, unroutable); counted
    /// when the transaction that published the outcome committed.
    pub routed: IntCounterVec,
    pub dead_letters: IntCounter,
    /// Case events of other types, passed over.
    pub skipped: IntCounter,
    /// Kafka transactions, by result (`committed`, `aborted`).
    pub transactions: IntCounterVec,
    /// Messages consumed per transaction.
    pub batch_messages: Histogram,
    /// Repeated input events (same event id) passed over instead of routed twice.
    pub repeats: IntCounter,
    /// Batches that routed nothing: no transaction, their offsets committed with a later one.
    pub carried_batches: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_router".into()), None)?;
        let routed =
            IntCounterVec::new(Opts::new("whistles_routed_total", "Raised whistles routed, by outcome"), &["outcome"])?;
        let dead_letters = IntCounter::new("dead_letters_total", "Messages sent to the dead-letter topic")?;
        let skipped = IntCounter::new("events_skipped_total", "Case events that need no routing")?;
        let transactions =
            IntCounterVec::new(Opts::new("transactions_total", "Kafka transactions, by result"), &["result"])?;
        let batch_messages = Histogram::with_opts(
            HistogramOpts::new("batch_messages", "Messages consumed per transaction")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]),
        )?;
        registry.register(Box::new(routed.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(skipped.clone()))?;
        registry.register(Box::new(transactions.clone()))?;
        registry.register(Box::new(batch_messages.clone()))?;
        let repeats = IntCounter::new(
            "repeated_inputs_total",
            "Input events seen again (same event id) after their outputs were committed, passed over",
        )?;
        registry.register(Box::new(repeats.clone()))?;
        let carried_batches = IntCounter::new(
            "carried_batches_total",
            "Batches that routed nothing: no transaction of their own, offsets committed with a later one",
        )?;
        registry.register(Box::new(carried_batches.clone()))?;
        Ok(Metrics { registry, routed, dead_letters, skipped, transactions, batch_messages, repeats, carried_batches })
    }
}
