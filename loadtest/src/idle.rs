//! Idle board connections: what one costs the gateway.

use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::IdleArgs;
use crate::accounts::{self, Logins};
use crate::report::{proc_kib, service_pids};

pub async fn run(args: &IdleArgs) -> anyhow::Result<()> {
    let gateway = service_pids()
        .into_iter()
        .find(|(n, _)| n == "gateway")
        .map(|(_, p)| p)
        .context("no gateway pid file: start the stack with `cargo xtask up`")?;
    let http = reqwest::Client::new();
    // A city manager may watch every town's channel.
    let token = Logins::new(http.clone(), &args.base).token("manager").await?;
    let towns: Value = http.get(format!("{}/api/v1/towns", args.base)).bearer_auth(&token).send().await?.json().await?;
    let towns: Vec<String> = towns["towns"]
        .as_array()
        .context("towns")?
        .iter()
        .filter_map(|t| t["code"].as_str().map(str::to_owned))
        .collect();
    let ws_url = args.ws.clone().unwrap_or_else(|| format!("{}/ws", args.base.replacen("http", "ws", 1)));
    let before = proc_kib(gateway, "VmRSS:").context("gateway RSS")?;
    let mut sockets = Vec::with_capacity(args.connections);
    for n in 0..args.connections {
        let mut ws = accounts::connect(&ws_url, &token).await.with_context(|| format!("connection {n}"))?;
        ws.send(Message::Text(
            json!({"type": "subscribe", "channel": format!("town:{}", towns[n % towns.len()])}).to_string().into(),
        ))
        .await?;
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("snapshot") => {}
            other => bail!("connection {n} got no snapshot: {other:?}"),
        }
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proc_kib(gateway, "VmRSS:").context("gateway RSS")?;
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / args.connections as f64;
    println!(
        "idle: {} subscribed connections; gateway RSS {:.1} MiB -> {:.1} MiB; {:.1} KiB per connection",
        args.connections,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per / 1024.0
    );
    drop(sockets);
    Ok(())
}
