//! The gateway's WebSocket limits against a real socket: oversized frames close with 1009, a
//! run of bad frames closes with 1008, a channel with more open cases than a snapshot carries
//! gets the most urgent ones with `truncated` and `total`, connections are capped per client
//! address, subscribes per connection are rate-limited without losing the live subscription,
//! replays from old cursors fall back to a snapshot once a connection's replay budget is spent,
//! and re-subscribing does not get past the subscription cap.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_common::settings::HttpSettings;
use whistle_schemas::Location;
use whistle_schemas::events::{Actor, ActorKind, CaseEvent, CaseEventBody, Raised};
use whistle_tests::*;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Gateway {
    iso: Isolation,
    url: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn gateway(websocket: whistle_gateway::settings::WebSocketSettings) -> Gateway {
    let iso = Isolation::new();
    let app = whistle_gateway::Application::build(whistle_gateway::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        group_id: format!("test-{}-projector", iso.suffix),
        websocket,
        registry_path: registry_path(),
        auth: auth_settings(),
        ..Default::default()
    })
    .await
    .expect("gateway starts");
    let url = format!("ws://127.0.0.1:{}/ws", app.port());
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped({
        let stop = stop.clone();
        async move { stop.cancelled().await }
    }));
    Gateway { iso, url, stop, task }
}

impl Gateway {
    /// A connection authenticated as a city manager.
    async fn connect(&self) -> Socket {
        let mut socket = self.upgrade().await.expect("websocket connects");
        let auth = json!({"type": "auth", "token": token(&as_manager())}).to_string();
        socket.send(Message::Text(auth.into())).await.expect("sent");
        match next(&mut socket).await {
            Received::Json(frame) if frame["type"] == "authenticated" => socket,
            Received::Json(frame) => panic!("expected authenticated, got {frame}"),
            Received::Closed(code) => panic!("closed with {code:?} on auth"),
        }
    }

    /// A bare connection, not authenticated; `Err` holds the refused upgrade's answer.
    async fn upgrade(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        tokio_tungstenite::connect_async(&self.url).await.map(|(socket, _)| socket)
    }

    async fn store(&self) -> whistle_casestore::CaseStore {
        let redis = whistle_common::redis_conn::managed(&self.iso.redis).await.expect("redis");
        whistle_casestore::CaseStore::new(redis, self.iso.redis.key_prefix.clone())
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        self.iso.clean_up().await;
    }
}

enum Received {
    Json(Value),
    Closed(Option<u16>),
}

async fn next(socket: &mut Socket) -> Received {
    loop {
        let msg = tokio::time::timeout(RECEIVE_TIMEOUT, socket.next()).await.expect("the server answers in time");
        match msg {
            Some(Ok(Message::Text(text))) => return Received::Json(serde_json::from_str(&text).expect("JSON frames")),
            Some(Ok(Message::Close(frame))) => return Received::Closed(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("socket error instead of a close frame: {err}"),
            None => return Received::Closed(None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_closed_with_1009_not_dropped_silently() {
    let gw = gateway(Default::default()).await;
    let mut socket = gw.connect().await;
    let huge = json!({"type": "subscribe", "channel": "x".repeat(20 * 1024)}).to_string();
    socket.send(Message::Text(huge.into())).await.expect("sent");
    match next(&mut socket).await {
        Received::Closed(code) => assert_eq!(code, Some(1009)),
        Received::Json(frame) => panic!("expected a close, got {frame}"),
    }
    // A frame just under the limit is an ordinary (bad) frame: an error, and the session lives.
    let mut socket = gw.connect().await;
    let big = json!({"type": "subscribe", "channel": "x".repeat(15 * 1024)}).to_string();
    socket.send(Message::Text(big.into())).await.expect("sent");
    match next(&mut socket).await {
        Received::Json(frame) => assert_eq!(frame["code"], "invalid_channel", "{frame}"),
        Received::Closed(code) => panic!("closed with {code:?}"),
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_bad_frames_is_closed_with_1008_but_a_good_frame_resets_the_count() {
    let settings = whistle_gateway::settings::WebSocketSettings { max_consecutive_errors: 5, ..Default::default() };
    let gw = gateway(settings).await;
    let mut socket = gw.connect().await;
    for round in 0..3 {
        for _ in 0..5 {
            socket.send(Message::Text("{nope".into())).await.expect("sent");
            match next(&mut socket).await {
                Received::Json(frame) => assert_eq!(frame["code"], "malformed_message", "{frame}"),
                Received::Closed(code) => panic!("closed early with {code:?} in round {round}"),
            }
        }
        socket
            .send(Message::Text(json!({"type": "unsubscribe", "channel": "town:500103001"}).to_string().into()))
            .await
            .expect("sent");
        match next(&mut socket).await {
            Received::Json(frame) => assert_eq!(frame["type"], "unsubscribed", "{frame}"),
            Received::Closed(code) => panic!("closed with {code:?}"),
        }
    }
    for n in 0..6 {
        socket.send(Message::Binary(vec![0u8; 4].into())).await.expect("sent");
        match next(&mut socket).await {
            Received::Json(frame) => assert_eq!(frame["code"], "unsupported_frame", "{frame}"),
            Received::Closed(code) => panic!("closed after {n} frames with {code:?}"),
        }
    }
    match next(&mut socket).await {
        Received::Closed(code) => assert_eq!(code, Some(u16::from(CloseCode::Policy))),
        Received::Json(frame) => panic!("expected a close, got {frame}"),
    }
    gw.stop().await;
}

fn raised(n: u32) -> CaseEvent {
    let whistle = Uuid::now_v7();
    CaseEvent::new(
        Uuid::new_v5(&whistle, b"raised"),
        "/test",
        whistle,
        Utc.timestamp_opt(1_700_000_000 + i64::from(n), 0).single().expect("valid time"),
        CaseEventBody::Raised(Raised {
            town: TOWN.into(),
            district: "500103".into(),
            item: DEPT_ITEM.into(),
            description: format!("case {n}"),
            location: Location { lat: 29.5, lon: 106.5, address: "x".into() },
            photos: vec![],
            attachments: vec![],
            raised_by: Actor::new(ActorKind::Town, TOWN),
            support: false,
            assist: vec![],
            hotline: None,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_channel_snapshot_carries_the_newest_cases_and_says_it_is_truncated() {
    let settings = whistle_gateway::settings::WebSocketSettings { max_snapshot_cases: 3, ..Default::default() };
    let gw = gateway(settings).await;
    let store = gw.store().await;
    for n in 0..10 {
        store.project(&raised(n)).await.expect("projected");
    }
    let mut socket = gw.connect().await;
    socket
        .send(Message::Text(json!({"type": "subscribe", "channel": format!("town:{TOWN}")}).to_string().into()))
        .await
        .expect("sent");
    let Received::Json(snapshot) = next(&mut socket).await else { panic!("closed") };
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["truncated"], true);
    assert_eq!(snapshot["total"], 10);
    let descriptions: Vec<&str> =
        snapshot["cases"].as_array().expect("cases").iter().filter_map(|c| c["description"].as_str()).collect();
    assert_eq!(descriptions, ["case 9", "case 8", "case 7"], "newest first");
    // A channel within the bound is whole.
    socket
        .send(Message::Text(json!({"type": "subscribe", "channel": "town:500103002"}).to_string().into()))
        .await
        .expect("sent");
    let Received::Json(small) = next(&mut socket).await else { panic!("closed") };
    assert_eq!((small["truncated"].as_bool(), small["total"].as_u64()), (Some(false), Some(0)));
    gw.stop().await;
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::Text(frame.to_string().into())).await.expect("sent");
}

async fn json(socket: &mut Socket) -> Value {
    match next(socket).await {
        Received::Json(frame) => frame,
        Received::Closed(code) => panic!("closed with {code:?}"),
    }
}

/// The status, `Retry-After` and JSON body of a refused upgrade.
fn refusal(result: Result<Socket, tokio_tungstenite::tungstenite::Error>) -> (u16, Option<String>, Value) {
    match result {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = response.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            (response.status().as_u16(), retry_after, body)
        }
        Err(err) => panic!("expected an HTTP refusal, got {err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_gets_at_most_its_cap_of_connections_then_429_with_retry_after() {
    let gw = gateway(Default::default()).await;
    let cap = whistle_gateway::Settings::default().websocket.max_connections_per_address;
    assert_eq!(cap, 256, "the documented default (docs/security.md)");
    let mut open = Vec::new();
    for n in 0..cap {
        open.push(gw.upgrade().await.unwrap_or_else(|e| panic!("connection {n} refused: {e}")));
    }
    let (status, retry_after, body) = refusal(gw.upgrade().await);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    assert!(retry_after.as_deref().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{retry_after:?}");
    // A connection that goes frees its place.
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    while gw.upgrade().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the freed place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_loop_is_rate_limited_per_connection_and_the_live_subscription_stays() {
    let gw = gateway(Default::default()).await;
    let store = gw.store().await;
    let mut socket = gw.connect().await;
    let channel = format!("town:{TOWN}");
    let (mut started, mut limited) = (0, 0);
    let began = tokio::time::Instant::now();
    for _ in 0..55 {
        send(&mut socket, json!({"type": "subscribe", "channel": channel})).await;
        let answer = json(&mut socket).await;
        match (answer["type"].as_str(), answer["code"].as_str()) {
            (Some("snapshot"), _) => started += 1,
            (Some("error"), Some("rate_limited")) => {
                assert!(answer["retry_after_ms"].as_u64().is_some_and(|ms| ms >= 1), "{answer}");
                assert_eq!(answer["channel"], channel.as_str(), "{answer}");
                limited += 1;
            }
            _ => panic!("unexpected answer {answer}"),
        }
    }
    let refill = began.elapsed().as_secs() + 1;
    assert!(limited > 0, "55 subscribes in a row were all served");
    assert!(started <= 40 + refill, "{started} subscribes served");
    // The refused re-subscribes left the subscription in place: the board still gets events.
    store.project(&raised(1)).await.expect("projected");
    let frame = json(&mut socket).await;
    assert_eq!(frame["type"], "event", "{frame}");
    assert_eq!(frame["channel"], channel.as_str());
    gw.stop().await;
}

/// What one re-subscribe from cursor `0-0` on a channel of `open` entries got.
#[derive(Debug, PartialEq)]
enum Answer {
    /// `resumed`, then this many `event` frames, then (when the budget ran out part-way) a
    /// `snapshot` with `reset: true`.
    Replay { events: usize, then_snapshot: bool },
    /// A `snapshot` with `reset: true` straight away.
    Snapshot,
}

async fn resubscribe_from_start(socket: &mut Socket, channel: &str, open: usize) -> Answer {
    // Never a blank board: a fallback snapshot has every open case, and says to start over.
    let check = |snapshot: &Value| {
        assert_eq!(snapshot["reset"], true, "{snapshot}");
        assert_eq!(snapshot["total"], open, "{snapshot}");
        assert_eq!(snapshot["cases"].as_array().map(Vec::len), Some(open));
    };
    send(socket, json!({"type": "subscribe", "channel": channel, "cursor": "0-0"})).await;
    let first = json(socket).await;
    match first["type"].as_str() {
        Some("snapshot") => {
            check(&first);
            Answer::Snapshot
        }
        Some("resumed") => {
            let mut events = 0;
            while events < open {
                let frame = json(socket).await;
                match frame["type"].as_str() {
                    Some("event") => events += 1,
                    Some("snapshot") => {
                        check(&frame);
                        return Answer::Replay { events, then_snapshot: true };
                    }
                    _ => panic!("unexpected frame in a replay: {frame}"),
                }
            }
            Answer::Replay { events, then_snapshot: false }
        }
        _ => panic!("unexpected answer {first}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_from_the_start_over_and_over_replays_within_a_budget_then_gets_snapshots() {
    let gw = gateway(Default::default()).await;
    let store = gw.store().await;
    for n in 0..300 {
        store.project(&raised(n)).await.expect("projected");
    }
    let mut socket = gw.connect().await;
    let channel = format!("town:{TOWN}");
    let (mut replayed, mut snapshots) = (0usize, 0usize);
    let began = tokio::time::Instant::now();
    for _ in 0..10 {
        match resubscribe_from_start(&mut socket, &channel, 300).await {
            Answer::Replay { events, then_snapshot } => {
                replayed += events;
                snapshots += usize::from(then_snapshot);
            }
            Answer::Snapshot => snapshots += 1,
        }
    }
    // 2,000 entries at once by default, refilled by 10 a second.
    let refill = 10 * (began.elapsed().as_secs() as usize + 1);
    assert!(replayed <= 2_000 + refill, "{replayed} entries replayed to one connection");
    assert!(snapshots > 0, "every re-subscribe was a replay");
    // Events still arrive after the snapshots.
    store.project(&raised(301)).await.expect("projected");
    assert_eq!(json(&mut socket).await["type"], "event");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_outgrows_the_budget_part_way_ends_in_a_snapshot_and_later_ones_start_with_one() {
    // Room for one whole replay of 300 and a part of the next (entries are read 256 at a time).
    let settings = whistle_gateway::settings::WebSocketSettings {
        replay_burst: 580,
        replay_per_second: 0.01,
        ..Default::default()
    };
    let gw = gateway(settings).await;
    let store = gw.store().await;
    for n in 0..300 {
        store.project(&raised(n)).await.expect("projected");
    }
    let mut socket = gw.connect().await;
    let channel = format!("town:{TOWN}");
    assert_eq!(
        resubscribe_from_start(&mut socket, &channel, 300).await,
        Answer::Replay { events: 300, then_snapshot: false }
    );
    assert_eq!(
        resubscribe_from_start(&mut socket, &channel, 300).await,
        Answer::Replay { events: 256, then_snapshot: true },
        "280 left: the first 256 go, the next read shows more than the budget, a snapshot follows"
    );
    assert_eq!(resubscribe_from_start(&mut socket, &channel, 300).await, Answer::Snapshot);
    // A fresh connection has a budget of its own.
    let mut other = gw.connect().await;
    assert_eq!(
        resubscribe_from_start(&mut other, &channel, 300).await,
        Answer::Replay { events: 300, then_snapshot: false }
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_a_channel_replaces_it_and_never_gets_past_32_subscriptions() {
    let gw = gateway(Default::default()).await;
    let mut socket = gw.connect().await;
    // A city manager may watch every district's overdue channel.
    let registry: Value =
        serde_json::from_str(&std::fs::read_to_string(registry_path()).expect("registry")).expect("json");
    let channels: Vec<String> = registry["districts"]
        .as_array()
        .expect("districts")
        .iter()
        .take(33)
        .map(|d| format!("manager:{}", d["code"].as_str().expect("code")))
        .collect();
    for channel in &channels[..32] {
        send(&mut socket, json!({"type": "subscribe", "channel": channel})).await;
        assert_eq!(json(&mut socket).await["type"], "snapshot", "{channel}");
    }
    for again in [&channels[0], &channels[31], &channels[0]] {
        send(&mut socket, json!({"type": "subscribe", "channel": again})).await;
        assert_eq!(json(&mut socket).await["type"], "snapshot", "re-subscribing {again} replaces it");
        send(&mut socket, json!({"type": "subscribe", "channel": channels[32]})).await;
        let refused = json(&mut socket).await;
        assert_eq!(refused["code"], "too_many_subscriptions", "after re-subscribing {again}: {refused}");
    }
    send(&mut socket, json!({"type": "unsubscribe", "channel": channels[5]})).await;
    assert_eq!(json(&mut socket).await["type"], "unsubscribed");
    send(&mut socket, json!({"type": "subscribe", "channel": channels[32]})).await;
    assert_eq!(json(&mut socket).await["type"], "snapshot", "a freed place is usable");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_gateway_refuses_upgrades_with_503_and_retry_after_and_counts_them() {
    let settings = whistle_gateway::settings::WebSocketSettings {
        max_connections: 3,
        max_connections_per_address: 3,
        ..Default::default()
    };
    let gw = gateway(settings).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(gw.connect().await);
    }
    let (status, retry_after, body) = refusal(gw.upgrade().await);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    let metrics_url = gw.url.replace("ws://", "http://").replace("/ws", "/metrics");
    let metrics = reqwest::get(&metrics_url).await.expect("metrics").text().await.expect("text");
    let refused = |reason: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!("whistle_gateway_websocket_connections_refused_total{{reason=\"{reason}\"}}"))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(refused("process_limit").as_deref(), Some("1"), "{metrics}");
    assert_eq!(refused("address_limit").as_deref(), Some("0"), "the label set is closed and complete");
    // Closing one connection (the session ending) gives its place back.
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    while gw.upgrade().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the freed place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_per_address_cap_counts_the_forwarded_address() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    async fn via(gw: &Gateway, forwarded: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut request = gw.url.as_str().into_client_request().expect("request");
        request.headers_mut().insert("x-forwarded-for", forwarded.parse().expect("header"));
        tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
    }
    let settings = whistle_gateway::settings::WebSocketSettings {
        max_connections_per_address: 2,
        trust_forwarded_for: true,
        ..Default::default()
    };
    let gw = gateway(settings).await;
    let a =
        [via(&gw, "203.0.113.7").await.expect("first"), via(&gw, "198.51.100.1, 203.0.113.7").await.expect("second")];
    assert_eq!(refusal(via(&gw, "203.0.113.7").await).0, 429, "the last entry is the client our proxy saw");
    let b = via(&gw, "203.0.113.8").await.expect("another client behind the same proxy");
    drop((a, b));
    // Not trusted: the header is the client's own word, and the peer address counts.
    let gw2 =
        gateway(whistle_gateway::settings::WebSocketSettings { max_connections_per_address: 2, ..Default::default() })
            .await;
    let _kept = [via(&gw2, "203.0.113.1").await.expect("first"), via(&gw2, "203.0.113.2").await.expect("second")];
    assert_eq!(refusal(via(&gw2, "203.0.113.3").await).0, 429, "a made-up header does not buy a new quota");
    gw.stop().await;
    gw2.stop().await;
}
