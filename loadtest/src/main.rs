//! Whistle's load generator. Every run stops by itself.
//!
//! - `pipeline` (default): raises whistles over HTTP at a fixed open-loop rate from many towns,
//!   holds one live board per responsible department, acknowledges like duty officers, and
//!   measures raise latency and raise → board latency from the *intended* send time (no
//!   coordinated omission). Then, in the same run, the baselines: a bare rdkafka produce →
//!   consume round trip on the same broker and message size, and a bare WebSocket broadcast, so
//!   the results are also given as ratios. Prints the peak RSS of each service.
//! - `idle`: opens N idle board connections to the gateway and reports its memory per connection.
//!
//! `cargo run --release -p loadtest --bin loadtest -- pipeline --rate 200 --seconds 20`
//! `cargo run --release -p loadtest --bin loadtest -- idle --connections 10000 [--ws ws://127.0.0.1:8082/ws]`
//! against the stack of `cargo xtask up` (`--base` to point elsewhere).

mod accounts;
mod baseline;
mod idle;
mod pipeline;
mod report;

use anyhow::{Context as _, bail};

/// Flags shared by the modes.
#[derive(Debug, Clone)]
pub struct Args {
    pub base: String,
    pub brokers: String,
    pub rate: u64,
    pub seconds: u64,
    pub count: Option<u64>,
    pub boards: usize,
    pub ack_think_ms: u64,
    pub connections: usize,
    pub baselines: bool,
    /// WebSocket endpoint, when it is not `{base}/ws` (e.g. the gateway itself, bypassing the ingress).
    pub ws: Option<String>,
}

fn parse() -> anyhow::Result<(String, Args)> {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        brokers: "127.0.0.1:19092".into(),
        rate: 50,
        seconds: 10,
        count: None,
        boards: 64,
        ack_think_ms: 500,
        connections: 2000,
        baselines: true,
        ws: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    let mode = match it.peek() {
        Some(m) if !m.starts_with("--") => it.next().unwrap_or_default(),
        _ => "pipeline".to_owned(),
    };
    while let Some(flag) = it.next() {
        if flag == "--no-baselines" {
            args.baselines = false;
            continue;
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().with_context(|| format!("{flag} takes a whole number"));
        match flag.as_str() {
            "--base" => args.base = value,
            "--ws" => args.ws = Some(value),
            "--brokers" => args.brokers = value,
            "--rate" => args.rate = number(&value)?,
            "--seconds" => args.seconds = number(&value)?,
            "--count" => args.count = Some(number(&value)?),
            "--boards" => args.boards = number(&value)? as usize,
            "--ack-think-ms" => args.ack_think_ms = number(&value)?,
            "--connections" => args.connections = number(&value)? as usize,
            other => bail!("unknown flag {other}; see the top of loadtest/src/main.rs"),
        }
    }
    if args.rate == 0 || args.seconds == 0 || args.count == Some(0) {
        bail!("--rate, --seconds and --count must be positive");
    }
    Ok((mode, args))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mode, args) = parse()?;
    match mode.as_str() {
        "pipeline" => pipeline::run(&args).await,
        "idle" => idle::run(&args).await,
        other => bail!("unknown mode {other}: pipeline or idle"),
    }
}
