//! `whistle_notify_*` metrics. Labels are closed sets: channel (5) and kind (6).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::plan::{Channel, Kind};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Deliveries accepted by their channel.
    pub sent: IntCounterVec,
    /// Failed attempts (each one; a retried delivery can count several).
    pub failed: IntCounterVec,
    /// Deliveries given up on (the dead-letter list), including the unaddressable ones.
    pub dead: IntCounterVec,
    /// How long one attempt took, by channel.
    pub latency: HistogramVec,
    /// Notifications planned, by kind.
    pub planned: IntCounterVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_notify".into()), None)?;
        let sent = IntCounterVec::new(Opts::new("sent_total", "Deliveries accepted by their channel"), &["channel"])?;
        let failed = IntCounterVec::new(Opts::new("failed_total", "Failed delivery attempts"), &["channel"])?;
        let dead = IntCounterVec::new(Opts::new("dead_total", "Deliveries given up on"), &["channel"])?;
        let latency = HistogramVec::new(
            HistogramOpts::new("send_duration_seconds", "Time of one delivery attempt")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["channel"],
        )?;
        let planned = IntCounterVec::new(Opts::new("planned_total", "Deliveries planned"), &["kind"])?;
        for c in Channel::ALL {
            sent.with_label_values(&[c.as_str()]);
            failed.with_label_values(&[c.as_str()]);
            dead.with_label_values(&[c.as_str()]);
        }
        for k in Kind::ALL {
            planned.with_label_values(&[k.as_str()]);
        }
        registry.register(Box::new(sent.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(dead.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(planned.clone()))?;
        Ok(Metrics { registry, sent, failed, dead, latency, planned })
    }

    /// The label of a stored channel name (`none` for anything unexpected, to keep the set closed).
    pub fn channel(name: &str) -> &'static str {
        Channel::parse(name).unwrap_or(Channel::None).as_str()
    }
}
