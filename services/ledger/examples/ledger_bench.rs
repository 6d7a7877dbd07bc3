//! The ledger's benchmarks (not timed tests; figures in docs/performance.md):
//!
//! - `generate --cases N`: fills the ledger database with N synthetic cases (`whistle_ledger::
//!   synth::nth`, each evolved by the case rules into its view and row), in bulk;
//! - `query --runs N`: list queries of several shapes through `LedgerStore::page` (the list
//!   handler's query), with p50/p99/max per shape;
//! - `export --format csv|xlsx`: every case exported by the export code, with the process's peak
//!   RSS (VmHWM) before and after;
//! - `overview --runs N`: the charts' overview (`whistle_ledger::overview`) of the city and of a
//!   district over 30 and 366 days, with p50/p99/max.
//!
//! `WHISTLE_DATABASE__URL` names the database, e.g.
//! `WHISTLE_DATABASE__URL=$(bash deploy/dev/postgres.sh url whistle_bench) cargo run -p
//! whistle-ledger --example ledger_bench -- generate --cases 1000000`.

use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use futures::StreamExt as _;
use secrecy::SecretString;
use whistle_auth::{Principal, Role};
use whistle_common::settings::DatabaseSettings;
use whistle_ledger::query::{Filter, ListQuery, Scope, Sort};
use whistle_ledger::record::Record;
use whistle_ledger::store::LedgerStore;
use whistle_ledger::{export, synth};
use whistle_schemas::Status;

const BATCH: usize = 2000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = std::env::var("WHISTLE_DATABASE__URL").context("set WHISTLE_DATABASE__URL")?;
    let store = LedgerStore::connect(&DatabaseSettings {
        url: Some(SecretString::from(url)),
        max_connections: 8,
        acquire_timeout_seconds: 30,
    })
    .await?;
    match args.first().map(String::as_str) {
        Some("generate") => generate(&store, arg(&args, "--cases", "1000000").parse()?).await,
        Some("query") => query(&store, arg(&args, "--runs", "500").parse()?).await,
        Some("export") => export_all(&store, &arg(&args, "--format", "csv")).await,
        Some("overview") => overview(&store, arg(&args, "--runs", "20").parse()?).await,
        _ => anyhow::bail!(
            "usage: ledger_bench generate --cases N | query --runs N | export --format csv|xlsx | overview --runs N"
        ),
    }
}

async fn generate(store: &LedgerStore, cases: u64) -> anyhow::Result<()> {
    let have = store.count().await? as u64;
    let end = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00+08:00")?.with_timezone(&Utc);
    let started = Instant::now();
    // The trigram index is built once at the end: much faster than row by row.
    sqlx::query("DROP INDEX IF EXISTS ledger_cases_search").execute(store.pool()).await?;
    let mut n = have;
    while n < cases {
        let upto = (n + BATCH as u64).min(cases);
        let records: Vec<Record> = (n..upto)
            .map(|i| {
                let view = synth::case(&synth::nth(i, 38, end)).view();
                let json = serde_json::to_value(&view).expect("json");
                Record::of(&view, json)
            })
            .collect();
        store.insert_bulk(&records).await?;
        n = upto;
        if n.is_multiple_of(100_000) {
            println!("{n} cases, {:.0}s", started.elapsed().as_secs_f64());
        }
    }
    let indexing = Instant::now();
    sqlx::query("CREATE INDEX IF NOT EXISTS ledger_cases_search ON ledger_cases USING gin (search_text gin_trgm_ops)")
        .execute(store.pool())
        .await?;
    sqlx::query("ANALYZE ledger_cases").execute(store.pool()).await?;
    let size: String = sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('ledger_cases'))")
        .fetch_one(store.pool())
        .await?;
    println!(
        "generated {} cases in {:.0}s (trigram index {:.0}s); table with indexes {size}",
        cases - have.min(cases),
        started.elapsed().as_secs_f64(),
        indexing.elapsed().as_secs_f64()
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn query(store: &LedgerStore, runs: usize) -> anyhow::Result<()> {
    let filter = Filter::default;
    let shapes: Vec<(&str, Scope, Filter)> = vec![
        ("city, newest first", Scope::City, filter()),
        ("district", Scope::District("500103".into()), filter()),
        ("town", Scope::Town("500103004".into()), filter()),
        ("department", Scope::Department("500103-UM".into()), filter()),
        (
            "district + status resolved + item",
            Scope::District("500110".into()),
            Filter { statuses: vec![Status::Resolved], item: Some("CQ-ENV-007".into()), ..filter() },
        ),
        ("district + breached", Scope::District("500105".into()), Filter { breached: Some(true), ..filter() }),
        (
            "district + month",
            Scope::District("500112".into()),
            Filter {
                from: Some(chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00+08:00")?.with_timezone(&Utc)),
                to: Some(chrono::DateTime::parse_from_rfc3339("2026-07-01T00:00:00+08:00")?.with_timezone(&Utc)),
                ..filter()
            },
        ),
        ("city, q=噪声扰民", Scope::City, Filter { q: Some("噪声扰民".into()), ..filter() }),
        ("district, q=朝天门", Scope::District("500103".into()), Filter { q: Some("朝天门".into()), ..filter() }),
        ("city, q=第4242号 (rare)", Scope::City, Filter { q: Some("第4242号".into()), ..filter() }),
    ];
    let mut all = Vec::new();
    for (name, scope, filter) in &shapes {
        let mut times = Vec::with_capacity(runs);
        let mut after = None;
        for i in 0..runs {
            // Half first pages, half the next page after one of them.
            let started = Instant::now();
            let (rows, more) =
                store.page(scope, filter, Sort::RaisedDesc, if i % 2 == 1 { after } else { None }, 50).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if i % 2 == 0 {
                after = if more { rows.last().map(|r| (r.raised_at, r.id)) } else { None };
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:36} p50 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or(0.0)
        );
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all {} queries over {} cases: p50 {:.2} ms  p99 {:.2} ms",
        all.len(),
        store.count().await?,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    Ok(())
}

async fn export_all(store: &LedgerStore, format: &str) -> anyhow::Result<()> {
    let before = peak_rss_kib();
    let started = Instant::now();
    let principal = Principal::new("manager", Role::Manager { district: None });
    let query = ListQuery { filter: Filter::default(), sort: Sort::RaisedDesc, limit: 50, after: None };
    let bytes = match format {
        "csv" => {
            let mut stream = Box::pin(export::csv_stream(store.clone(), principal, Scope::City, query));
            let mut bytes = 0u64;
            while let Some(chunk) = stream.next().await {
                bytes += chunk?.len() as u64;
            }
            bytes
        }
        "xlsx" => export::xlsx_file(store.clone(), principal, Scope::City, query).await?.metadata()?.len(),
        other => anyhow::bail!("unknown format {other}"),
    };
    println!(
        "{format}: {} cases, {:.1} MB in {:.0}s; peak RSS {} MiB (before the export {} MiB)",
        store.count().await?,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        peak_rss_kib() / 1024,
        before / 1024
    );
    Ok(())
}

async fn overview(store: &LedgerStore, runs: usize) -> anyhow::Result<()> {
    use whistle_ledger::overview::{Period, overview};
    // The generator's cases end on 2026-12-01 and spread over the year before.
    let to = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00+08:00")?.with_timezone(&Utc);
    let shapes: Vec<(&str, Scope, Option<&str>, i64)> = vec![
        ("city, 30 days", Scope::City, None, 30),
        ("city, 366 days", Scope::City, None, 366),
        ("district filter, 30 days", Scope::City, Some("500103"), 30),
        ("district manager, 366 days", Scope::District("500103".into()), None, 366),
        ("department, 366 days", Scope::Department("500103-UM".into()), None, 366),
    ];
    for (name, scope, district, days) in &shapes {
        let period = Period { district: district.map(str::to_owned), from: to - chrono::Duration::days(*days), to };
        let mut times = Vec::with_capacity(runs);
        let mut raised = 0;
        for _ in 0..runs {
            let started = Instant::now();
            raised = overview(store, scope, period.clone()).await?.total.raised;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<28} {raised:>8} cases  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
    Ok(())
}
