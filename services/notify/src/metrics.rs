//! `whistle_notify_*` metrics. Labels are closed sets: channel (5), kind (7) and a webhook
//! delivery's outcome (3: `delivered`, `failed`, `dead`).

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

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
    /// Webhook attempts by outcome: `delivered` (a 2xx), `failed` (every failed attempt), and
    /// `dead` for the deliveries given up on.
    pub webhook_deliveries: IntCounterVec,
    /// How long one webhook attempt took.
    pub webhook_latency: Histogram,
    /// Webhook deliveries recorded (one per event and subscription).
    pub webhook_planned: IntCounter,
    /// Subscriptions paused for failing too long.
    pub webhooks_paused: IntCounter,
}

/// The outcomes of [`Metrics::webhook_deliveries`].
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "failed", "dead"];

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
        let webhook_deliveries = IntCounterVec::new(
            Opts::new("webhook_deliveries_total", "Webhook delivery attempts by outcome"),
            &["outcome"],
        )?;
        let webhook_latency = Histogram::with_opts(
            HistogramOpts::new("webhook_duration_seconds", "Time of one webhook attempt")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        let webhook_planned =
            IntCounter::new("webhook_planned_total", "Webhook deliveries recorded (one per event and subscription)")?;
        let webhooks_paused = IntCounter::new("webhook_paused_total", "Webhook subscriptions paused for failing")?;
        for o in WEBHOOK_OUTCOMES {
            webhook_deliveries.with_label_values(&[o]);
        }
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
        registry.register(Box::new(webhook_deliveries.clone()))?;
        registry.register(Box::new(webhook_latency.clone()))?;
        registry.register(Box::new(webhook_planned.clone()))?;
        registry.register(Box::new(webhooks_paused.clone()))?;
        Ok(Metrics {
            registry,
            sent,
            failed,
            dead,
            latency,
            planned,
            webhook_deliveries,
            webhook_latency,
            webhook_planned,
            webhooks_paused,
        })
    }

    /// The label of a stored channel name (`none` for anything unexpected, to keep the set closed).
    pub fn channel(name: &str) -> &'static str {
        Channel::parse(name).unwrap_or(Channel::None).as_str()
    }
}
