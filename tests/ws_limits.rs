//! The gateway's WebSocket limits against a real socket: oversized frames close with 1009, a
//! run of bad frames closes with 1008, and a channel with more open cases than a snapshot
//! carries gets the most urgent ones with `truncated` and `total`.

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
        let mut socket = tokio_tungstenite::connect_async(&self.url).await.expect("websocket connects").0;
        let auth = json!({"type": "auth", "token": token(&as_manager())}).to_string();
        socket.send(Message::Text(auth.into())).await.expect("sent");
        match next(&mut socket).await {
            Received::Json(frame) if frame["type"] == "authenticated" => socket,
            Received::Json(frame) => panic!("expected authenticated, got {frame}"),
            Received::Closed(code) => panic!("closed with {code:?} on auth"),
        }
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
    let redis = whistle_common::redis_conn::managed(&gw.iso.redis).await.expect("redis");
    let store = whistle_casestore::CaseStore::new(redis, gw.iso.redis.key_prefix.clone());
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
