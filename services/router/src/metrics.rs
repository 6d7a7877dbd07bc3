//! Router metrics.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Raised whistles routed, by outcome (department, triage, town_holds, unroutable).
    pub routed: IntCounterVec,
    pub dead_letters: IntCounter,
    /// Case events of other types, passed over.
    pub skipped: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_router".into()), None)?;
        let routed =
            IntCounterVec::new(Opts::new("whistles_routed_total", "Raised whistles routed, by outcome"), &["outcome"])?;
        let dead_letters = IntCounter::new("dead_letters_total", "Messages sent to the dead-letter topic")?;
        let skipped = IntCounter::new("events_skipped_total", "Case events that need no routing")?;
        registry.register(Box::new(routed.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(skipped.clone()))?;
        Ok(Metrics { registry, routed, dead_letters, skipped })
    }
}
