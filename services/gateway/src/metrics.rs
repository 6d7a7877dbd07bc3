//! Gateway metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Case events applied to Redis, by CloudEvents type.
    pub projected: IntCounterVec,
    pub duplicates: IntCounter,
    /// Events that did not fit their case (e.g. two conflicting actions); not applied.
    pub refused: IntCounter,
    pub dead_letters: IntCounter,
    /// From an event's time to its projection: how stale boards are.
    pub projection_lag: Histogram,
    pub connections: IntGauge,
    pub subscriptions: IntGauge,
    pub frames_sent: IntCounter,
    /// Subscribes admitted after waiting their turn, and refused (`overloaded`) under a storm.
    pub subscribes_delayed: IntCounter,
    pub subscribes_refused: IntCounter,
    /// Sessions closed, by reason (client, slow_consumer, shutdown, error, too_big, policy_violation).
    pub closed: IntCounterVec,
    /// Upgrades refused at a connection cap, by reason (`process_limit`, `address_limit`).
    pub connections_refused: IntCounterVec,
    /// Subscribes refused by a connection's own subscribe rate.
    pub subscribes_rate_limited: IntCounter,
    /// Resumes answered with a snapshot because the connection's replay budget was spent.
    pub replays_over_budget: IntCounter,
    /// Stream entries replayed to resuming sessions.
    pub replayed_entries: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_gateway".into()), None)?;
        let projected =
            IntCounterVec::new(Opts::new("events_projected_total", "Case events applied to Redis"), &["type"])?;
        let duplicates = IntCounter::new("events_duplicate_total", "Case events already applied (replays)")?;
        let refused = IntCounter::new("events_refused_total", "Case events that did not fit their case")?;
        let dead_letters = IntCounter::new("dead_letters_total", "Messages sent to the dead-letter topic")?;
        let projection_lag = Histogram::with_opts(
            HistogramOpts::new("projection_lag_seconds", "Event time to projection in Redis")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0]),
        )?;
        let connections = IntGauge::new("websocket_connections", "Open WebSocket connections")?;
        let subscriptions = IntGauge::new("websocket_subscriptions", "Active channel subscriptions")?;
        let frames_sent = IntCounter::new("websocket_frames_sent_total", "Frames sent to clients")?;
        let subscribes_delayed =
            IntCounter::new("websocket_subscribes_delayed_total", "Subscribes admitted after waiting their turn")?;
        let subscribes_refused = IntCounter::new(
            "websocket_subscribes_refused_total",
            "Subscribes refused as overloaded, with a retry hint",
        )?;
        registry.register(Box::new(subscribes_delayed.clone()))?;
        registry.register(Box::new(subscribes_refused.clone()))?;
        let closed =
            IntCounterVec::new(Opts::new("websocket_closed_total", "Sessions closed, by reason"), &["reason"])?;
        let connections_refused = IntCounterVec::new(
            Opts::new("websocket_connections_refused_total", "Upgrades refused at a connection cap, by reason"),
            &["reason"],
        )?;
        // Every label value exists from the start, so the series is there before the first refusal.
        for refused in crate::connections::Refused::ALL {
            connections_refused.with_label_values(&[refused.label()]);
        }
        let subscribes_rate_limited = IntCounter::new(
            "websocket_subscribes_rate_limited_total",
            "Subscribes refused by the connection's subscribe rate",
        )?;
        let replays_over_budget = IntCounter::new(
            "websocket_replays_over_budget_total",
            "Resumes answered with a snapshot because the connection's replay budget was spent",
        )?;
        let replayed_entries =
            IntCounter::new("websocket_replayed_entries_total", "Stream entries replayed to resuming sessions")?;
        registry.register(Box::new(connections_refused.clone()))?;
        registry.register(Box::new(subscribes_rate_limited.clone()))?;
        registry.register(Box::new(replays_over_budget.clone()))?;
        registry.register(Box::new(replayed_entries.clone()))?;
        registry.register(Box::new(projected.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(projection_lag.clone()))?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(subscriptions.clone()))?;
        registry.register(Box::new(frames_sent.clone()))?;
        registry.register(Box::new(closed.clone()))?;
        Ok(Metrics {
            registry,
            projected,
            duplicates,
            refused,
            dead_letters,
            projection_lag,
            connections,
            subscriptions,
            frames_sent,
            subscribes_delayed,
            subscribes_refused,
            closed,
            connections_refused,
            subscribes_rate_limited,
            replays_over_budget,
            replayed_entries,
        })
    }
}
