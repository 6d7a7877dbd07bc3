//! The whole pipeline under an open-loop load, then the fan-out test and the baselines.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::PipelineArgs;
use crate::accounts::{self, Logins};
use crate::baseline;
use crate::report::{self, histogram};

/// A town and an item that routes to a department, with that department.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub town: String,
    pub item: String,
    pub department: String,
}

/// Picks (town, item) pairs that route to a department, spread over districts, one per
/// department up to `boards`.
pub(crate) async fn targets(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    boards: usize,
) -> anyhow::Result<Vec<Target>> {
    let towns: Value = http.get(format!("{base}/api/v1/towns")).bearer_auth(token).send().await?.json().await?;
    let items: Value =
        http.get(format!("{base}/api/v1/registry/items")).bearer_auth(token).send().await?.json().await?;
    let items: Vec<String> = items["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter(|i| i["holder"]["kind"] == "department")
        .filter_map(|i| i["code"].as_str().map(str::to_owned))
        .collect();
    let mut by_district: HashMap<String, String> = HashMap::new();
    for t in towns["towns"].as_array().context("towns")? {
        if let (Some(d), Some(c)) = (t["district"]["code"].as_str(), t["code"].as_str()) {
            by_district.entry(d.to_owned()).or_insert_with(|| c.to_owned());
        }
    }
    let mut districts: Vec<&String> = by_district.keys().collect();
    districts.sort();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    'outer: for item in &items {
        for district in &districts {
            if out.len() >= boards {
                break 'outer;
            }
            let town = &by_district[*district];
            let url = format!("{base}/api/v1/route?town={town}&item={item}");
            let route: Value = http.get(url).bearer_auth(token).send().await?.json().await?;
            if let (Some("department"), Some(dept)) = (route["outcome"].as_str(), route["department"]["code"].as_str())
                && seen.insert(dept.to_owned())
            {
                out.push(Target { town: town.clone(), item: item.clone(), department: dept.to_owned() });
            }
        }
    }
    if out.is_empty() {
        bail!("no (town, item) pair routes to a department: is the registry loaded?");
    }
    Ok(out)
}

type Arrival = (String, Instant);

/// One board per department, logged in as its officer; reports each `whistle.dispatched`
/// arrival and acknowledges it after the think time, like a duty officer.
async fn board(
    ws_url: String,
    department: String,
    token: String,
    arrivals: mpsc::UnboundedSender<Arrival>,
    frames: Arc<AtomicU64>,
    ack: Option<(reqwest::Client, String, u64, Arc<AtomicU64>)>,
) -> anyhow::Result<()> {
    let mut ws = accounts::connect(&ws_url, &token).await?;
    ws.send(Message::Text(
        json!({"type": "subscribe", "channel": format!("department:{department}")}).to_string().into(),
    ))
    .await?;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        frames.fetch_add(1, Ordering::Relaxed);
        let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if frame["type"] == "event" && frame["event"]["type"] == "whistle.dispatched" {
            let id = frame["event"]["subject"].as_str().unwrap_or_default().to_owned();
            if arrivals.send((id.clone(), Instant::now())).is_err() {
                break;
            }
            if let Some((http, base, think, acked)) = &ack {
                let (http, base, think, acked, token) =
                    (http.clone(), base.clone(), *think, acked.clone(), token.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(think)).await;
                    let url = format!("{base}/api/v1/whistles/{id}/acknowledge");
                    if let Ok(r) = http.post(url).bearer_auth(&token).send().await
                        && r.status().as_u16() == 202
                    {
                        acked.fetch_add(1, Ordering::Relaxed);
                        // Close it too, so load runs leave no open cases on the boards.
                        tokio::time::sleep(Duration::from_millis(think)).await;
                        let url = format!("{base}/api/v1/whistles/{id}/resolve");
                        let _ = http.post(url).bearer_auth(&token).send().await;
                    }
                });
            }
        }
    }
    Ok(())
}

/// Everything a measured run needs that is set up once: the (town, item) pairs, the logins, the
/// HTTP client. [`Stage::step`] raises at one rate and measures it; `pipeline` runs one step,
/// `sustain` many.
pub struct Stage {
    pub http: reqwest::Client,
    pub base: String,
    pub ws_url: String,
    logins: Logins,
    targets: Vec<Target>,
    town_tokens: HashMap<String, String>,
    ack_think_ms: u64,
}

/// What one step at one rate measured.
pub struct Step {
    /// Whistles offered, and how long offering them took.
    pub total: u64,
    pub offered_secs: f64,
    /// Raises answered `202`, and those that were not (an error or another status).
    pub accepted: u64,
    pub errors: u64,
    /// Of the errors, raises intake shed at once (`503 overloaded`: more requests in flight than
    /// it takes); nothing of them was recorded.
    pub shed: u64,
    /// Accepted whistles whose dispatch reached their board (within 20 s of the last raise).
    pub on_board: u64,
    pub acknowledged: u64,
    /// From the first raise to the last board arrival.
    pub elapsed_secs: f64,
    pub raise: Histogram<u64>,
    pub to_board: Histogram<u64>,
    /// Raise → board of the whistles intended in the first, second and last third of the step.
    pub to_board_thirds: [Histogram<u64>; 3],
    /// CPU seconds each process of the stack (and the load generator) used from the first raise
    /// until the last acknowledgement and resolution had time to run (`report::cpu_seconds`).
    pub cpu: Vec<(String, f64)>,
}

impl Step {
    /// Accepted whistles that never reached their board.
    pub fn missing(&self) -> u64 {
        self.accepted - self.on_board
    }

    /// CPU milliseconds per whistle that reached its board, the stack's processes together (not
    /// the load generator's).
    pub fn cpu_ms_per_whistle(&self) -> Option<f64> {
        let total: f64 = self.cpu.iter().filter(|(n, _)| n != "loadtest").map(|(_, s)| s).sum();
        (!self.cpu.is_empty() && self.on_board > 0).then(|| total * 1000.0 / self.on_board as f64)
    }
}

impl Stage {
    pub async fn prepare(base: &str, ws: Option<&str>, boards: usize, ack_think_ms: u64) -> anyhow::Result<Stage> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let ws_url = ws.map(str::to_owned).unwrap_or_else(|| format!("{}/ws", base.replacen("http", "ws", 1)));
        let logins = Logins::new(http.clone(), base);
        let targets = targets(&http, base, &logins.token("manager").await?, boards).await?;
        // Log every account in before the clock starts: a login is deliberately slow (argon2).
        let mut town_tokens = HashMap::new();
        for t in &targets {
            let token = logins.token(&format!("town-{}", t.town)).await?;
            town_tokens.insert(t.town.clone(), token);
        }
        for t in &targets {
            logins.token(&format!("dept-{}", t.department)).await?;
        }
        Ok(Stage { http, base: base.to_owned(), ws_url, logins, targets, town_tokens, ack_think_ms })
    }

    pub fn departments(&self) -> usize {
        self.targets.len()
    }

    /// Opens one board per department, raises `total` whistles open-loop at `rate`, waits up to
    /// 20 s after the last raise for every accepted one to reach its board, then for the duty
    /// officers to acknowledge and resolve them, and closes the boards.
    pub async fn step(&self, rate: u64, total: u64) -> anyhow::Result<Step> {
        let (arrived_tx, mut arrived_rx) = mpsc::unbounded_channel::<Arrival>();
        let frames = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let mut boards = Vec::new();
        for t in &self.targets {
            let ack = (self.ack_think_ms > 0)
                .then(|| (self.http.clone(), self.base.clone(), self.ack_think_ms, acked.clone()));
            let token = self.logins.token(&format!("dept-{}", t.department)).await?;
            boards.push(tokio::spawn(board(
                self.ws_url.clone(),
                t.department.clone(),
                token,
                arrived_tx.clone(),
                frames.clone(),
                ack,
            )));
        }
        drop(arrived_tx);
        tokio::time::sleep(Duration::from_millis(500)).await;

        let cpu_before = report::stack_cpu_seconds();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<(Result<String, bool>, u64, Instant, Instant)>();
        let start = Instant::now();
        for n in 0..total {
            let intended = start + interval.mul_f64(n as f64);
            tokio::time::sleep_until(intended.into()).await;
            let t = &self.targets[n as usize % self.targets.len()];
            let body = json!({"town": t.town, "item": t.item, "description": format!("loadtest {n}: 河边有废油桶泄漏"),
                              "location": {"lat": 29.557, "lon": 106.577, "address": "loadtest"}});
            let (http, base, tx) = (self.http.clone(), self.base.clone(), sent_tx.clone());
            let token = self.town_tokens[&t.town].clone();
            tokio::spawn(async move {
                let resp = http.post(format!("{base}/api/v1/whistles")).bearer_auth(token).json(&body).send().await;
                // Err(true): shed (`503 overloaded`); Err(false): any other failure.
                let id = match resp {
                    Ok(r) if r.status().as_u16() == 202 => {
                        r.json::<Value>().await.ok().and_then(|v| v["id"].as_str().map(str::to_owned)).ok_or(false)
                    }
                    Ok(r) if r.status().as_u16() == 503 => {
                        let body = r.json::<Value>().await.unwrap_or_default();
                        Err(body["error"]["code"] == "overloaded")
                    }
                    _ => Err(false),
                };
                let _ = tx.send((id, n, intended, Instant::now()));
            });
        }
        drop(sent_tx);
        let mut raise = histogram();
        let mut intended_by_id = HashMap::new();
        let (mut errors, mut shed) = (0u64, 0u64);
        while let Some((id, n, intended, done)) = sent_rx.recv().await {
            raise.record((done - intended).as_micros() as u64)?;
            match id {
                Ok(id) => {
                    intended_by_id.insert(id, (intended, (n * 3 / total) as usize));
                }
                Err(overloaded) => {
                    errors += 1;
                    shed += u64::from(overloaded);
                }
            }
        }
        let offered_secs = start.elapsed().as_secs_f64();
        let mut to_board = histogram();
        let mut thirds = [histogram(), histogram(), histogram()];
        let mut pending: HashMap<String, Instant> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut matched = HashSet::new();
        while matched.len() < intended_by_id.len() {
            let Ok(Some((id, at))) = tokio::time::timeout_at(deadline, arrived_rx.recv()).await else { break };
            pending.insert(id, at);
            pending.retain(|id, at| match intended_by_id.get(id) {
                Some((intended, third)) if matched.insert(id.clone()) => {
                    let micros = (*at - *intended).as_micros() as u64;
                    let _ = to_board.record(micros);
                    let _ = thirds[*third].record(micros);
                    false
                }
                Some(_) => false,
                None => true,
            });
        }
        let elapsed_secs = start.elapsed().as_secs_f64();
        // Let the duty officers finish acknowledging and resolving: the CPU counted is that of
        // each whistle's whole life here (raise, dispatch, acknowledgement, resolution).
        tokio::time::sleep(Duration::from_millis(2 * self.ack_think_ms + 1000)).await;
        let cpu_after = report::stack_cpu_seconds();
        for b in boards {
            b.abort();
        }
        let cpu = cpu_after
            .into_iter()
            .filter_map(|(name, after)| {
                let before = cpu_before.iter().find(|(n, _)| *n == name)?.1;
                Some((name, after - before))
            })
            .collect();
        Ok(Step {
            total,
            offered_secs,
            accepted: intended_by_id.len() as u64,
            errors,
            shed,
            on_board: matched.len() as u64,
            acknowledged: acked.load(Ordering::Relaxed),
            elapsed_secs,
            raise,
            to_board,
            to_board_thirds: thirds,
            cpu,
        })
    }
}

pub async fn run(args: &PipelineArgs) -> anyhow::Result<()> {
    let stage = Stage::prepare(&args.base, args.ws.as_deref(), args.boards, args.ack_think_ms).await?;
    let (http, ws_url, targets, logins) = (&stage.http, &stage.ws_url, &stage.targets, &stage.logins);
    println!(
        "pipeline: {} departments with a board each; raising at {}/s for {}",
        targets.len(),
        args.rate,
        args.count.map_or(format!("{} s", args.seconds), |c| format!("{c} whistles"))
    );
    let total = args.count.unwrap_or(args.rate * args.seconds);
    let step = stage.step(args.rate, total).await?;
    let (accepted, errors, raise, to_board) = (step.accepted, step.errors, &step.raise, &step.to_board);
    println!(
        "whistles: {total} offered in {:.1}s ({:.0}/s), {accepted} accepted, {errors} errors ({} shed: 503 overloaded), {} on their board, {} acknowledged; {:.0} whistles/s end to end",
        step.offered_secs,
        total as f64 / step.offered_secs,
        step.shed,
        step.on_board,
        step.acknowledged,
        step.on_board as f64 / step.elapsed_secs
    );
    println!("{}", report::line("raise (202)", raise));
    println!("{}", report::line("raise -> board", to_board));
    report::print_cpu(&step);
    let missing = step.missing();

    if args.baselines {
        let size = serde_json::to_vec(
            &json!({"town": "500103001", "item": "CQ-ENV-001", "description": "loadtest 0: 河边有废油桶泄漏"}),
        )
        .map(|v| v.len() * 3)
        .unwrap_or(600);
        let kafka = baseline::kafka_round_trip(&args.brokers, args.rate, total.min(args.rate * 10), size).await?;
        println!("{}", report::line("bare Kafka round trip", &kafka));
        let ratio = |a: &hdrhistogram::Histogram<u64>, b: &hdrhistogram::Histogram<u64>, q: f64| {
            a.value_at_quantile(q) as f64 / b.value_at_quantile(q).max(1) as f64
        };
        println!(
            "ratio raise->board / bare Kafka: p50 {:.1}x, p99 {:.1}x",
            ratio(to_board, &kafka, 0.5),
            ratio(to_board, &kafka, 0.99)
        );
        let fan = fanout(http, logins, &args.base, ws_url, &targets[0], 200, 100).await?;
        let bare = baseline::ws_broadcast(200, fan.1, fan.2).await?;
        println!(
            "fan-out: gateway {:.0} frames/s ({} boards on one channel, {} frames each); bare broadcast {bare:.0} frames/s; ratio {:.2}",
            fan.0,
            200,
            fan.1,
            fan.0 / bare
        );
    }
    report::print_peak_rss();
    if errors > 0 || missing > 0 {
        bail!("{errors} raises failed and {missing} accepted whistles never reached their board");
    }
    Ok(())
}

/// `boards` clients on one department channel, `whistles` raised as fast as allowed: frames/s
/// delivered by the gateway, the number of frames each board got, and their mean size.
async fn fanout(
    http: &reqwest::Client,
    logins: &Logins,
    base: &str,
    ws_url: &str,
    target: &Target,
    boards: usize,
    whistles: usize,
) -> anyhow::Result<(f64, u64, usize)> {
    let channel = format!("department:{}", target.department);
    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(boards);
    let officer = logins.token(&format!("dept-{}", target.department)).await?;
    let town = logins.token(&format!("town-{}", target.town)).await?;
    let mut tasks = Vec::new();
    for _ in 0..boards {
        let (url, channel, done, bytes, frames, ready, token) = (
            ws_url.to_owned(),
            channel.clone(),
            done.clone(),
            bytes.clone(),
            frames.clone(),
            ready_tx.clone(),
            officer.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ws = accounts::connect(&url, &token).await?;
            ws.send(Message::Text(json!({"type": "subscribe", "channel": channel}).to_string().into())).await?;
            let mut dispatched = 0;
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                if text.contains("\"type\":\"snapshot\"") {
                    let _ = ready.send(()).await;
                    continue;
                }
                frames.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                if text.contains("\"type\":\"whistle.dispatched\"") && text.contains("fanout ") {
                    dispatched += 1;
                    if dispatched == whistles {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    drop(ready_tx);
    for n in 0..boards {
        match tokio::time::timeout(Duration::from_secs(30), ready_rx.recv()).await {
            Ok(Some(())) => {}
            _ => bail!("fan-out board {n} got no snapshot within 30 s"),
        }
    }
    frames.store(0, Ordering::Relaxed);
    bytes.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let sends = futures::stream::iter(0..whistles)
        .map(|n| {
            let body = json!({"town": target.town, "item": target.item, "description": format!("fanout {n}"),
                              "location": {"lat": 29.557, "lon": 106.577, "address": "loadtest"}});
            http.post(format!("{base}/api/v1/whistles")).bearer_auth(&town).json(&body).send()
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    let mut ids = Vec::new();
    for resp in sends.await.into_iter().flatten() {
        if let Ok(v) = resp.json::<Value>().await
            && let Some(id) = v["id"].as_str()
        {
            ids.push(id.to_owned());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while (done.load(Ordering::Relaxed) as usize) < boards && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    for t in tasks {
        t.abort();
    }
    let delivered = frames.load(Ordering::Relaxed);
    // Acknowledge and resolve what this test raised, so it leaves no open cases behind.
    futures::stream::iter(ids)
        .map(|id| {
            let officer = &officer;
            async move {
                let url = format!("{base}/api/v1/whistles/{id}/acknowledge");
                let _ = http.post(url).bearer_auth(officer).send().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let url = format!("{base}/api/v1/whistles/{id}/resolve");
                let _ = http.post(url).bearer_auth(officer).send().await;
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let per_board = delivered / boards as u64;
    let mean = (bytes.load(Ordering::Relaxed) / delivered.max(1)) as usize;
    Ok((delivered as f64 / secs, per_board, mean))
}
