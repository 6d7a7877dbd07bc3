//! Prints the outcome figures (procedures per case, handling time, repeated inspections) from a
//! case topic, optionally split at a date into before/after with the relative change.
//!
//! `cargo run -p whistle-assist --bin assist-figures -- --brokers 127.0.0.1:19092
//!  [--topic whistle.cases.v1] [--split 2026-01-01T00:00:00+08:00] [--window-days 30]`
//!
//! A broker that takes logins only: `WHISTLE_KAFKA__SECURITY_PROTOCOL` (`sasl_plaintext`,
//! `sasl_ssl`), `WHISTLE_KAFKA__SASL_USERNAME` and `WHISTLE_KAFKA__SASL_PASSWORD`, as the services
//! take them (the dev broker: `whistle-test`, `deploy/dev/kafka.sh password whistle-test`).

use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use whistle_assist::figures::read_log;
use whistle_case::figures::{Figures, change_percent, compute};

fn main() -> anyhow::Result<()> {
    let mut brokers = "127.0.0.1:19092".to_owned();
    let mut topic = "whistle.cases.v1".to_owned();
    let mut split: Option<DateTime<Utc>> = None;
    let mut window_days = 30i64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--brokers" => brokers = value()?,
            "--topic" => topic = value()?,
            "--split" => split = Some(DateTime::parse_from_rfc3339(&value()?).context("--split")?.with_timezone(&Utc)),
            "--window-days" => window_days = value()?.parse().context("--window-days")?,
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    let mut kafka = whistle_common::settings::KafkaSettings { brokers, ..Default::default() };
    if let Ok(protocol) = std::env::var("WHISTLE_KAFKA__SECURITY_PROTOCOL") {
        kafka.security_protocol = protocol;
        kafka.sasl_username = std::env::var("WHISTLE_KAFKA__SASL_USERNAME").ok();
        kafka.sasl_password = std::env::var("WHISTLE_KAFKA__SASL_PASSWORD").ok().map(Into::into);
    }
    let (events, skipped) = read_log(&kafka, &topic, StdDuration::from_secs(10))?;
    println!("{topic}: {} case events ({skipped} other payloads skipped)", events.len());
    let window = Duration::days(window_days);
    match split {
        None => print(&compute(&events, window, None, None)),
        Some(at) => {
            let before = compute(&events, window, None, Some(at));
            let after = compute(&events, window, Some(at), None);
            println!("-- before {at}");
            print(&before);
            println!("-- from {at}");
            print(&after);
            println!("-- change");
            let pct = |b: f64, a: f64| change_percent(b, a).map_or("n/a".to_owned(), |c| format!("{c:+.1}%"));
            println!("procedures per case   {}", pct(before.procedures_per_case, after.procedures_per_case));
            println!(
                "handling time (mean)  {}",
                pct(before.handling_mean_seconds.unwrap_or(0.0), after.handling_mean_seconds.unwrap_or(0.0))
            );
            println!("repeated inspections  {}", pct(before.repeated_inspection_rate, after.repeated_inspection_rate));
        }
    }
    Ok(())
}

fn print(f: &Figures) {
    let secs = |s: Option<f64>| s.map_or("n/a".to_owned(), |s| format!("{:.1} min", s / 60.0));
    println!("cases {} (closed {}, rejected {})", f.cases, f.closed, f.rejected);
    println!("procedures per case   {:.2}  ({} in all, {} hand-offs)", f.procedures_per_case, f.procedures, f.handoffs);
    println!(
        "handling time         mean {}  median {}  p90 {}",
        secs(f.handling_mean_seconds),
        secs(f.handling_median_seconds),
        secs(f.handling_p90_seconds)
    );
    println!(
        "inspections {}  repeated {} ({:.1}%)  re-checks {}  penalties {}",
        f.inspections,
        f.repeated_inspections,
        100.0 * f.repeated_inspection_rate,
        f.rechecks,
        f.penalties
    );
    println!(
        "complaints (reopens) {}  confirmations {}  mean rating {}",
        f.reopens,
        f.confirmations,
        f.rating_mean.map_or("n/a".to_owned(), |r| format!("{r:.2}"))
    );
    println!("fences  warned {}  blocked {}  overridden {}", f.fences_warned, f.fences_blocked, f.fences_overridden);
}
