//! Idle board connections: what one costs the gateway.
//!
//! With `--department-cases N` every connection watches one department's channel holding N open
//! cases (raised here first, and resolved again at the end), so each subscribe is answered with
//! an N-case snapshot, as a duty officer's board is; without it, town channels in turn.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::IdleArgs;
use crate::accounts::{self, Logins, Socket};
use crate::pipeline::{Target, targets};
use crate::report::{proc_kib, service_pids};

/// Raises, acknowledgements and resolutions in flight at once while seeding and cleaning up.
const SEED_IN_FLIGHT: usize = 16;

/// How long the seeded cases may take to appear on their channel.
const SEED_VISIBLE_WITHIN: Duration = Duration::from_secs(60);

pub async fn run(args: &IdleArgs) -> anyhow::Result<()> {
    let gateway = service_pids()
        .into_iter()
        .find(|(n, _)| n == "gateway")
        .map(|(_, p)| p)
        .context("no gateway pid file: start the stack with `cargo xtask up`")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(SEED_IN_FLIGHT).build()?;
    let logins = Logins::new(http.clone(), &args.base);
    let ws_url = args.ws.clone().unwrap_or_else(|| format!("{}/ws", args.base.replacen("http", "ws", 1)));
    let manager = logins.token("manager").await?;
    let (token, channels, seeded) = if args.department_cases > 0 {
        let target = targets(&http, &args.base, &manager, 1).await?.remove(0);
        let officer = logins.token(&format!("dept-{}", target.department)).await?;
        let channel = format!("department:{}", target.department);
        let ids = seed(&http, &args.base, &logins, &target, args.department_cases).await?;
        let shown = wait_visible(&ws_url, &officer, &channel, args.department_cases).await?;
        println!("seeded {} open cases on {channel}; its snapshot carries {shown}", ids.len());
        (officer.clone(), vec![channel], Some((officer, ids)))
    } else {
        // A city manager may watch every town's channel.
        let towns: Value =
            http.get(format!("{}/api/v1/towns", args.base)).bearer_auth(&manager).send().await?.json().await?;
        let towns: Vec<String> = towns["towns"]
            .as_array()
            .context("towns")?
            .iter()
            .filter_map(|t| t["code"].as_str().map(|c| format!("town:{c}")))
            .collect();
        (manager, towns, None)
    };
    let measured = measure(gateway, &ws_url, &token, &channels, args.connections).await;
    if let Some((officer, ids)) = seeded {
        let resolved = resolve(&http, &args.base, &officer, &ids).await;
        println!("resolved {resolved} of the {} seeded cases again", ids.len());
    }
    measured
}

/// Opens `connections` subscribed boards, and prints the gateway's RSS per connection.
async fn measure(
    gateway: u32,
    ws_url: &str,
    token: &str,
    channels: &[String],
    connections: usize,
) -> anyhow::Result<()> {
    let before = proc_kib(gateway, "VmRSS:").context("gateway RSS")?;
    let mut sockets = Vec::with_capacity(connections);
    let mut snapshot_bytes = 0;
    for n in 0..connections {
        let mut ws = accounts::connect(ws_url, token).await.with_context(|| format!("connection {n}"))?;
        snapshot_bytes =
            subscribe(&mut ws, &channels[n % channels.len()]).await.with_context(|| format!("connection {n}"))?.1;
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proc_kib(gateway, "VmRSS:").context("gateway RSS")?;
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / connections as f64;
    println!(
        "idle: {connections} subscribed connections (snapshot frames of {:.1} KiB); gateway RSS {:.1} MiB -> {:.1} MiB; {:.1} KiB per connection",
        snapshot_bytes as f64 / 1024.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per / 1024.0
    );
    drop(sockets);
    Ok(())
}

/// Subscribes and waits for the snapshot: its cases, and its size in bytes.
async fn subscribe(ws: &mut Socket, channel: &str) -> anyhow::Result<(usize, usize)> {
    ws.send(Message::Text(json!({"type": "subscribe", "channel": channel}).to_string().into())).await?;
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            let frame: Value = serde_json::from_str(&t)?;
            match frame["type"].as_str() {
                Some("snapshot") => Ok((frame["cases"].as_array().map_or(0, Vec::len), t.len())),
                _ => bail!("subscribing to {channel}: {t}"),
            }
        }
        other => bail!("no snapshot of {channel}: {other:?}"),
    }
}

/// Waits until the channel's snapshot carries `cases` cases; returns how many it carries.
async fn wait_visible(ws_url: &str, token: &str, channel: &str, cases: u64) -> anyhow::Result<usize> {
    let until = tokio::time::Instant::now() + SEED_VISIBLE_WITHIN;
    loop {
        let mut ws = accounts::connect(ws_url, token).await?;
        let (shown, _) = subscribe(&mut ws, channel).await?;
        if shown as u64 >= cases {
            return Ok(shown);
        }
        if tokio::time::Instant::now() > until {
            bail!("{channel} shows {shown} of {cases} seeded cases after {SEED_VISIBLE_WITHIN:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// POSTs as `token`, waiting out `429 rate_limited` (the per-account limit) as a client should.
async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> anyhow::Result<reqwest::Response> {
    for _ in 0..20 {
        let resp = http.post(url).bearer_auth(token).json(body).send().await?;
        if resp.status().as_u16() != 429 {
            return Ok(resp);
        }
        let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait.clamp(1, 10))).await;
    }
    bail!("{url}: still rate limited after 20 tries")
}

/// Raises `cases` whistles that route to the target's department; their ids.
async fn seed(
    http: &reqwest::Client,
    base: &str,
    logins: &Logins,
    target: &Target,
    cases: u64,
) -> anyhow::Result<Vec<String>> {
    let token = logins.token(&format!("town-{}", target.town)).await?;
    let url = format!("{base}/api/v1/whistles");
    let raised = futures::stream::iter(0..cases)
        .map(|n| {
            // Spread over a few kilometres so that the seeded cases are not all each other's
            // likely duplicates.
            let body = json!({"town": target.town, "item": target.item,
                              "description": format!("loadtest idle {n}: 河边有废油桶泄漏"),
                              "location": {"lat": 29.50 + (n % 25) as f64 * 0.004, "lon": 106.50 + (n / 25) as f64 * 0.004,
                                           "address": "loadtest idle"}});
            let (url, token) = (url.clone(), token.clone());
            async move {
                let resp = post(http, &url, &token, &body).await?;
                let status = resp.status();
                let answer: Value = resp.json().await.unwrap_or_default();
                match answer["id"].as_str() {
                    Some(id) if status.as_u16() == 202 => Ok(id.to_owned()),
                    _ => bail!("raising a seeded whistle: {status} {answer}"),
                }
            }
        })
        .buffer_unordered(SEED_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    raised.into_iter().collect()
}

/// Acknowledges and resolves the seeded cases, so that the run leaves no open cases on the
/// department's board; how many were resolved.
async fn resolve(http: &reqwest::Client, base: &str, officer: &str, ids: &[String]) -> usize {
    // The dispatch may still be on its way for the last raises: a refused acknowledgement is
    // retried a few times.
    let done = futures::stream::iter(ids)
        .map(|id| async move {
            for _ in 0..5 {
                let ack = post(http, &format!("{base}/api/v1/whistles/{id}/acknowledge"), officer, &json!({})).await;
                if matches!(&ack, Ok(r) if r.status().as_u16() == 202) {
                    let url = format!("{base}/api/v1/whistles/{id}/resolve");
                    // The acknowledgement must be projected before the resolution is decided.
                    for _ in 0..5 {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if matches!(post(http, &url, officer, &json!({})).await, Ok(r) if r.status().as_u16() == 202) {
                            return true;
                        }
                    }
                    return false;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            false
        })
        .buffer_unordered(SEED_IN_FLIGHT)
        .collect::<Vec<bool>>()
        .await;
    done.into_iter().filter(|d| *d).count()
}
