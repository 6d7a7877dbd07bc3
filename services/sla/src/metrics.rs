//! SLA metrics. Labels are bounded: district (38), department (district × type), stage (3),
//! level (chain length).

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub time_to: [HistogramVec; 4],
    pub warnings: IntCounterVec,
    pub breaches: IntCounterVec,
    pub escalations: IntCounterVec,
    pub open: IntGaugeVec,
    pub overdue: IntGaugeVec,
    pub armed_timers: IntGauge,
    /// How long after its due time a timer fired.
    pub lateness: Histogram,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_sla".into()), None)?;
        let buckets = vec![
            30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 259_200.0,
            604_800.0,
        ];
        let histogram = |name: &str, help: &str| {
            HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.clone()), &["district", "department"])
        };
        let time_to = [
            histogram("time_to_acknowledge_seconds", "Dispatch to acknowledgement")?,
            histogram("time_to_arrive_seconds", "Dispatch to arrival on site")?,
            histogram("time_to_resolve_seconds", "Dispatch to resolution")?,
            histogram("time_to_decide_seconds", "Registration of a town case to its decision")?,
        ];
        let warnings = IntCounterVec::new(Opts::new("warnings_total", "SLA warnings fired"), &["stage"])?;
        let breaches =
            IntCounterVec::new(Opts::new("breaches_total", "SLA deadlines breached"), &["stage", "district"])?;
        let escalations =
            IntCounterVec::new(Opts::new("escalations_total", "Escalation steps taken"), &["level", "district"])?;
        let open = IntGaugeVec::new(
            Opts::new("open_cases", "Open dispatched cases (last 30 days), whole deployment"),
            &["district"],
        )?;
        let overdue = IntGaugeVec::new(
            Opts::new("overdue_cases", "Open cases past a deadline now, whole deployment"),
            &["district"],
        )?;
        let armed_timers = IntGauge::new("armed_timers", "Timers armed on the partitions this instance owns")?;
        let lateness = Histogram::with_opts(
            HistogramOpts::new("timer_lateness_seconds", "Due time to firing")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0]),
        )?;
        for h in &time_to {
            registry.register(Box::new(h.clone()))?;
        }
        registry.register(Box::new(warnings.clone()))?;
        registry.register(Box::new(breaches.clone()))?;
        registry.register(Box::new(escalations.clone()))?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(overdue.clone()))?;
        registry.register(Box::new(armed_timers.clone()))?;
        registry.register(Box::new(lateness.clone()))?;
        Ok(Metrics { registry, time_to, warnings, breaches, escalations, open, overdue, armed_timers, lateness })
    }
}
