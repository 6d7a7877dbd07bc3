//! Suggestion latency as a dashboard would cause it: every prefix of every evaluation description
//! (one query per keystroke), repeated, into a histogram. Not a test: timings depend on the
//! machine.
//!
//! `cargo run --release -p whistle-assist --example suggest_latency`

use std::path::PathBuf;
use std::time::Instant;

use hdrhistogram::Histogram;
use whistle_assist::{Assist, eval};
use whistle_registry::Registry;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let registry = Registry::load(&root.join("deploy/data/registry.json"))?;
    let assist = Assist::load(&root.join("deploy/data/assist"), &registry)?;
    let cases = eval::load(&eval::default_path())?;
    let mut queries: Vec<String> = Vec::new();
    for case in &cases {
        let chars: Vec<char> = case.text.chars().collect();
        for end in 1..=chars.len() {
            let q: String = chars[..end].iter().collect();
            if !q.trim().is_empty() {
                queries.push(q);
            }
        }
    }
    // The longest accepted query, too.
    queries.push("河边有废油桶泄漏 someone dumped oil drums ".repeat(60).chars().take(2000).collect());

    let mut hist = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3)?;
    let mut sink = 0usize;
    for round in 0..5 {
        for q in &queries {
            let started = Instant::now();
            sink += assist.index.suggest(q, 5).len();
            if round > 0 {
                hist.record(started.elapsed().as_nanos() as u64)?;
            }
        }
    }
    let us = |v: u64| v as f64 / 1000.0;
    println!("{} queries (every keystroke prefix of {} descriptions, 4 timed rounds)", hist.len(), cases.len());
    println!(
        "p50 {:.1} µs  p90 {:.1} µs  p99 {:.1} µs  p99.9 {:.1} µs  max {:.1} µs",
        us(hist.value_at_quantile(0.5)),
        us(hist.value_at_quantile(0.9)),
        us(hist.value_at_quantile(0.99)),
        us(hist.value_at_quantile(0.999)),
        us(hist.max())
    );
    std::hint::black_box(sink);
    Ok(())
}
