//! Whistle load generator (first cut; issue F grows it).
//!
//! Holds one department board open over WebSocket, raises whistles over HTTP at a fixed
//! open-loop rate, and measures for each whistle:
//! - raise latency: from the *intended* send time to the 202 (no coordinated omission), and
//! - raise → board latency: from the intended send time to the `whistle.dispatched` frame.
//!
//! Usage: `cargo run -p loadtest -- [--base http://127.0.0.1:8080] [--rate 50] [--count 200]`
//! Stops by itself: after `count` whistles and their dispatches, or after a bounded wait.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const TOWN: &str = "500103001";
const ITEM: &str = "CQ-ENV-001";
const DEPARTMENT: &str = "500103-EE";

struct Args {
    base: String,
    rate: u64,
    count: u64,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args { base: "http://127.0.0.1:8080".into(), rate: 50, count: 200 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base" => a.base = value,
            "--rate" => a.rate = value.parse().context("--rate")?,
            "--count" => a.count = value.parse().context("--count")?,
            other => bail!("unknown flag {other}; flags: --base URL --rate PER_SECOND --count N"),
        }
    }
    if a.rate == 0 || a.count == 0 {
        bail!("--rate and --count must be positive");
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let ws_url = format!("{}/ws", args.base.replacen("http", "ws", 1));
    let (mut ws, _) =
        tokio_tungstenite::connect_async(&ws_url).await.with_context(|| format!("connecting {ws_url}"))?;
    ws.send(Message::Text(
        json!({"type": "subscribe", "channel": format!("department:{DEPARTMENT}")}).to_string().into(),
    ))
    .await?;

    let (arrived_tx, mut arrived_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg {
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if frame["type"] == "event" && frame["event"]["type"] == "whistle.dispatched" {
                    let id = frame["event"]["subject"].as_str().unwrap_or_default().to_owned();
                    if arrived_tx.send((id, Instant::now())).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let start = Instant::now();
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Instant, Instant)>();
    for n in 0..args.count {
        let intended = start + interval * n as u32;
        tokio::time::sleep_until(intended.into()).await;
        let (http, base, tx) = (http.clone(), args.base.clone(), sent_tx.clone());
        tokio::spawn(async move {
            let body = json!({"town": TOWN, "item": ITEM, "description": format!("loadtest {n}"),
                              "location": {"lat": 29.557, "lon": 106.577, "address": "loadtest"}});
            let resp = http.post(format!("{base}/api/v1/whistles")).json(&body).send().await;
            let id = match resp {
                Ok(r) if r.status().as_u16() == 202 => {
                    r.json::<Value>().await.ok().and_then(|v| v["id"].as_str().map(str::to_owned))
                }
                _ => None,
            };
            let _ = tx.send((id, intended, Instant::now()));
        });
    }
    drop(sent_tx);

    let mut raise = Histogram::<u64>::new(3)?;
    let mut board = Histogram::<u64>::new(3)?;
    let mut intended_by_id = HashMap::new();
    let mut errors = 0u64;
    while let Some((id, intended, done)) = sent_rx.recv().await {
        raise.record((done - intended).as_micros() as u64)?;
        match id {
            Some(id) => {
                intended_by_id.insert(id, intended);
            }
            None => errors += 1,
        }
    }
    let accepted = intended_by_id.len() as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut early: HashMap<String, Instant> = HashMap::new();
    while board.len() < accepted {
        let Ok(Some((id, at))) = tokio::time::timeout_at(deadline, arrived_rx.recv()).await else { break };
        early.insert(id, at);
        early.retain(|id, at| match intended_by_id.get(id) {
            Some(intended) => {
                let _ = board.record((*at - *intended).as_micros() as u64);
                false
            }
            None => true,
        });
    }
    reader.abort();
    let elapsed = start.elapsed().as_secs_f64();
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "whistles: {} sent, {accepted} accepted, {errors} errors, {} seen on the board, in {elapsed:.1}s ({:.0}/s offered)",
        args.count,
        board.len(),
        args.rate
    );
    for (name, h) in [("raise (202)", &raise), ("raise -> board", &board)] {
        println!(
            "{name:>15}: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            ms(h, 0.999),
            h.max() as f64 / 1000.0
        );
    }
    if errors > 0 || board.len() < accepted {
        bail!("{errors} raises failed and {} accepted whistles never reached the board", accepted - board.len());
    }
    Ok(())
}
