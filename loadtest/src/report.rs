//! Histograms, percentiles, and the services' memory.

use hdrhistogram::Histogram;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// `p50 … max` in milliseconds from a histogram of microseconds.
pub fn line(name: &str, h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "{name:>22}: n {:>7}  p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms  max {:>8.2} ms",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

/// The dev stack's service pids, from the pid files of `deploy/dev/services.sh`.
pub fn service_pids() -> Vec<(String, u32)> {
    let run = std::env::var("WHISTLE_RUN")
        .unwrap_or_else(|_| format!("{}/.cache/whistle/run", std::env::var("HOME").unwrap_or_else(|_| "/root".into())));
    ["intake", "router", "gateway", "sla", "kafka", "redis"]
        .iter()
        .filter_map(|name| {
            let text = std::fs::read_to_string(format!("{run}/pids/{name}.pid")).ok()?;
            let pid = text.split_whitespace().next()?.parse().ok()?;
            Some(((*name).to_owned(), pid))
        })
        .collect()
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

pub fn print_peak_rss() {
    let parts: Vec<String> = service_pids()
        .into_iter()
        .filter_map(|(name, pid)| proc_kib(pid, "VmHWM:").map(|kib| format!("{name} {:.0} MiB", kib as f64 / 1024.0)))
        .collect();
    if parts.is_empty() {
        println!("peak RSS: no service pid files found (is the stack from `cargo xtask up` running here?)");
    } else {
        println!("peak RSS: {}", parts.join(", "));
    }
}
