//! The gateway's WebSocket limits against a real socket: oversized frames close with 1009, a
//! run of bad frames closes with 1008, a channel with more open cases than a snapshot carries
//! gets the most urgent ones with `truncated` and `total`, and connections are capped per
//! gateway and per client address.

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
            raised_by: Actor::new(ActorKind::Town, TOWN),
            support: false,
            assist: vec![],
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
async fn one_client_address_gets_at_most_200_connections_then_429_with_retry_after() {
    let gw = gateway(Default::default()).await;
    let mut open = Vec::new();
    for n in 0..200 {
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
