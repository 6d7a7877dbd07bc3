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

/// The stack's pids, from the pid files of `deploy/dev/services.sh` (in `WHISTLE_RUN`) and of
/// `infra.sh` (Kafka, Redis, PostgreSQL, nginx; in `WHISTLE_INFRA_RUN` when the stack measured is a
/// second one beside the dev stack, see services.sh's `WHISTLE_DEV_NAMESPACE`).
pub fn service_pids() -> Vec<(String, u32)> {
    let default_run = || format!("{}/.cache/whistle/run", std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    let run = std::env::var("WHISTLE_RUN").unwrap_or_else(|_| default_run());
    let infra = std::env::var("WHISTLE_INFRA_RUN").unwrap_or_else(|_| run.clone());
    let pid = |dir: &str, name: &str| -> Option<(String, u32)> {
        let text = std::fs::read_to_string(format!("{dir}/pids/{name}.pid")).ok()?;
        Some((name.to_owned(), text.split_whitespace().next()?.parse().ok()?))
    };
    let services = ["intake", "router", "gateway", "sla", "registry", "ledger", "notify", "nginx"];
    let services = services.iter().filter_map(|name| pid(&run, name));
    let shared = ["kafka", "redis", "postgres"].into_iter().filter_map(|name| pid(&infra, name));
    services.chain(shared).collect()
}

/// Clock ticks per second of `/proc/PID/stat`'s times (`getconf CLK_TCK`, 100 on Linux here).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds a process has used, its threads included, and with the children it
/// has reaped (`/proc/PID/stat`); and its parent's pid.
fn stat_cpu(pid: u32, ticks: f64) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: the fields after it start at the last ')'.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // Fields from the state (3): ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
    let at = |field: usize| fields.get(field - 3).and_then(|v| v.parse::<f64>().ok());
    let ppid = fields.get(1)?.parse().ok()?;
    Some(((at(14)? + at(15)? + at(16)? + at(17)?) / ticks, ppid))
}

/// CPU seconds of a process and of its live descendants (PostgreSQL's backends and nginx's
/// workers are children of the process in the pid file).
pub fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let (own, _) = stat_cpu(pid, ticks)?;
    let mut parents = std::collections::HashMap::<u32, Vec<(u32, f64)>>::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some((cpu, ppid)) = stat_cpu(child, ticks) {
                parents.entry(ppid).or_default().push((child, cpu));
            }
        }
    }
    let mut total = own;
    let mut stack = vec![pid];
    while let Some(parent) = stack.pop() {
        for &(child, cpu) in parents.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            total += cpu;
            stack.push(child);
        }
    }
    Some(total)
}

/// CPU seconds used so far by each process of [`service_pids`], and by this load generator.
pub fn stack_cpu_seconds() -> Vec<(String, f64)> {
    let ticks = clock_ticks();
    let mut out: Vec<(String, f64)> =
        service_pids().into_iter().filter_map(|(name, pid)| Some((name, cpu_seconds(pid, ticks)?))).collect();
    if let Some(own) = cpu_seconds(std::process::id(), ticks) {
        out.push(("loadtest".to_owned(), own));
    }
    out
}

/// CPU per whistle of one step, in total (the stack without the load generator) and per process.
pub fn print_cpu(step: &crate::pipeline::Step) {
    if step.cpu.is_empty() || step.on_board == 0 {
        println!("CPU per whistle: no process of the stack found (pid files: WHISTLE_RUN, WHISTLE_INFRA_RUN)");
        return;
    }
    let per = |s: f64| s * 1000.0 / step.on_board as f64;
    let stack: f64 = step.cpu.iter().filter(|(n, _)| n != "loadtest").map(|(_, s)| s).sum();
    let parts: Vec<String> = step.cpu.iter().map(|(n, s)| format!("{n} {:.2}", per(*s))).collect();
    println!("CPU per whistle: {:.2} ms for the stack (ms: {})", per(stack), parts.join(", "));
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
