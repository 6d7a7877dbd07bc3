//! A reconnect storm must not take Redis down (issue S).
//!
//! The gateway runs in-process against the real Redis and Kafka. Cases are seeded through the
//! projection itself (`CaseStore::project`, as the projector writes them), then thousands of
//! boards subscribe to one department at once, as they do when a gateway restarts in the
//! morning. Redis memory is sampled throughout.
//!
//! `WHISTLE_STORM_CASES` and `WHISTLE_STORM_BOARDS` (2,000 each) size the storm. Beside it, the
//! projection's own guarantees on the real Redis: pages without gaps, the projector's memory of
//! the cases it wrote yielding to another writer, and the hub's reader leaving a Redis connection
//! that went silent.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;
use whistle_casestore::{CaseStore, Projected};
use whistle_common::settings::RedisSettings;
use whistle_schemas::Location;
use whistle_schemas::Names;
use whistle_schemas::events::{
    Acted, Actor, ActorKind, Authority, CaseEvent, CaseEventBody, Deadlines, DepartmentRef, Dispatched, Paused, Raised,
    SlaScheduled, SlaStage, SlaStageKind,
};
use whistle_tests::{DEPARTMENT, Isolation, as_department, token};

/// Redis may grow by at most this much above its level before the storm (documented in
/// docs/performance.md). Unbounded snapshots grew it by 2.9 GB for half this storm.
const REDIS_GROWTH_BOUND: u64 = 64 * 1024 * 1024;
/// Cases in a snapshot (the gateway's default).
const SNAPSHOT_CASES: usize = 500;
/// Steps on each seeded case's timeline.
const STEPS: usize = 20;
/// Every this many cases is overdue (its arrival deadline breached).
const OVERDUE_EVERY: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn event(time: chrono::DateTime<Utc>, subject: Uuid, body: CaseEventBody) -> CaseEvent {
    CaseEvent::new(Uuid::new_v4(), "/test/storm", subject, time, body)
}

/// The events of one open case with `STEPS` timeline steps, raised at `raised_at`.
fn case_events(n: usize, id: Uuid, raised_at: chrono::DateTime<Utc>) -> Vec<CaseEvent> {
    let dept = Actor::new(ActorKind::Department, DEPARTMENT);
    let at = |s: i64| raised_at + chrono::Duration::seconds(s);
    let mut events = vec![
        event(
            at(0),
            id,
            CaseEventBody::Raised(Raised {
                town: "500103001".into(),
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                description: format!(
                    "第{n}号：解放碑步行街东侧河道旁堆放废油桶，桶身锈蚀，油污沿排水沟流入河道，气味刺鼻，需生态环境局到场处置"
                ),
                location: Location {
                    lat: 29.557, lon: 106.577, address: format!("重庆市渝中区解放碑步行街{n}号附近")
                },
                photos: vec![],
                attachments: vec![],
                raised_by: Actor::new(ActorKind::Town, "500103001"),
                support: false,
                assist: vec![],
                hotline: None,
            }),
        ),
        event(
            at(1),
            id,
            CaseEventBody::Dispatched(Dispatched {
                department: DepartmentRef {
                    code: DEPARTMENT.into(),
                    names: Names {
                        zh: "渝中区生态环境局".into(), en: "Yuzhong Ecology and Environment Bureau".into()
                    },
                },
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                authority: Some(Authority::Recovered),
                triage: false,
                basis: "recovered to the district department".into(),
                registry_version: Some(0),
                assisting: vec![],
            }),
        ),
        event(at(2), id, CaseEventBody::Acknowledged(Acted { actor: dept.clone() })),
        event(
            at(3),
            id,
            CaseEventBody::SlaScheduled(SlaScheduled {
                deadlines: Deadlines { arrive: Some(at(1800)), resolve: Some(at(86_400)), ..Deadlines::default() },
                policy: "default".into(),
            }),
        ),
    ];
    if n.is_multiple_of(OVERDUE_EVERY) {
        events.push(event(
            at(1801),
            id,
            CaseEventBody::SlaBreached(SlaStage {
                stage: SlaStageKind::Arrive,
                deadline: at(1800),
                department: DEPARTMENT.into(),
                district: "500103".into(),
            }),
        ));
    }
    let mut s = 1802;
    let mut pause = true;
    while events.len() < STEPS {
        let now_pause = pause;
        pause = !pause;
        let body = if now_pause {
            CaseEventBody::Paused(Paused {
                actor: dept.clone(), reason: format!("等待当事人到场（第{s}次）")
            })
        } else {
            CaseEventBody::Resumed(Acted { actor: dept.clone() })
        };
        events.push(event(at(s), id, body));
        s += 1;
    }
    events
}

/// Seeds `count` open cases on the department, each with `STEPS` steps, through the projection.
/// Returns their ids, most urgent first (overdue newest first, then the others newest first).
async fn seed(store: &CaseStore, count: usize) -> Vec<Uuid> {
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    let cases: Vec<(usize, Uuid)> = (0..count).map(|n| (n, Uuid::new_v4())).collect();
    futures::stream::iter(cases.clone())
        .for_each_concurrent(64, |(n, id)| async move {
            for e in case_events(n, id, base + chrono::Duration::seconds(n as i64 * 10)) {
                let projected = store.project(&e).await.expect("projection writes");
                assert!(matches!(projected, Projected::Applied(_)), "seed event refused: {projected:?}");
            }
        })
        .await;
    let mut ranked = cases;
    ranked.sort_by_key(|(n, _)| (!n.is_multiple_of(OVERDUE_EVERY), std::cmp::Reverse(*n)));
    ranked.into_iter().map(|(_, id)| id).collect()
}

async fn redis_info_field(conn: &mut redis::aio::MultiplexedConnection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query_async(conn).await.expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has {field}"))
}

async fn start_gateway(iso: &Isolation) -> (String, tokio_util::sync::CancellationToken) {
    let gateway =
        whistle_gateway::Application::build(whistle_tests::gateway_settings(iso)).await.expect("gateway starts");
    let url = format!("ws://127.0.0.1:{}/ws", gateway.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(gateway.run_until_stopped(async move { stopped.cancelled().await }));
    (url, stop)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, as sent.
async fn next_text(socket: &mut Socket) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text.to_string(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("the gateway did not answer: {other:?}"),
        }
    }
}

/// The next text frame, as JSON.
async fn next_frame(socket: &mut Socket) -> Value {
    serde_json::from_str(&next_text(socket).await).expect("server frames are JSON")
}

/// What one board got.
struct Served {
    /// The snapshot frame as sent (decoding 2,000 of them here would starve the gateway that
    /// runs in this process; they are compared with the first, which is decoded).
    snapshot: String,
    /// From sending the subscribe to the snapshot.
    waited: Duration,
    /// `overloaded` answers before it was served.
    refusals: u32,
}

/// One board: connects, authenticates, waits for the start signal, subscribes, and retries
/// after `overloaded` as the hint says, until it has its snapshot.
async fn board(url: String, token: String, channel: String, go: Arc<tokio::sync::Barrier>) -> Served {
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.expect("websocket connects");
    socket.send(Message::Text(json!({"type": "auth", "token": token}).to_string().into())).await.expect("auth sent");
    let authenticated = next_frame(&mut socket).await;
    assert_eq!(authenticated["type"], "authenticated", "{authenticated}");
    go.wait().await;
    let started = Instant::now();
    let mut refusals = 0;
    let subscribe = json!({"type": "subscribe", "channel": channel}).to_string();
    socket.send(Message::Text(subscribe.clone().into())).await.expect("subscribe sent");
    loop {
        let text = next_text(&mut socket).await;
        if text.starts_with(r#"{"type":"snapshot""#) {
            let waited = started.elapsed();
            let _ = socket.close(None).await;
            return Served { snapshot: text, waited, refusals };
        }
        let frame: Value = serde_json::from_str(&text).expect("server frames are JSON");
        match frame["type"].as_str() {
            Some("error") if frame["code"] == "overloaded" => {
                refusals += 1;
                let wait = frame["retry_after_ms"].as_u64().expect("overloaded carries retry_after_ms");
                tokio::time::sleep(Duration::from_millis(wait)).await;
                socket.send(Message::Text(subscribe.clone().into())).await.expect("subscribe sent");
            }
            Some("event") => continue,
            _ => panic!("unexpected answer to a subscribe: {frame}"),
        }
    }
}

/// Reads every page after the snapshot on one connection; returns every case id, in order.
async fn page_through(url: &str, token: &str, channel: &str) -> Vec<String> {
    let mut board = whistle_tests::Board::connect_with_token(url, token).await;
    board.subscribe(channel, None).await;
    let (_, snapshot) = board.until(|f| f["type"] == "snapshot").await;
    let mut ids: Vec<String> = ids_of(&snapshot);
    let mut next = snapshot["next"].as_str().map(str::to_owned);
    while let Some(after) = next {
        board.send(json!({"type": "more", "channel": channel, "after": after})).await;
        let (_, page) = board.until(|f| f["type"] == "page").await;
        assert_eq!(page["channel"], channel);
        ids.extend(ids_of(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    ids
}

fn ids_of(frame: &Value) -> Vec<String> {
    frame["cases"].as_array().expect("cases").iter().map(|c| c["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_boards_subscribing_at_once_get_bounded_snapshots_and_redis_stays_bounded() {
    let cases = env_usize("WHISTLE_STORM_CASES", 2_000);
    let boards = env_usize("WHISTLE_STORM_BOARDS", 2_000);
    let iso = Isolation::new();
    let (url, stop) = start_gateway(&iso).await;
    let client = redis::Client::open(std::env::var("WHISTLE_TEST_REDIS").expect("WHISTLE_TEST_REDIS")).expect("url");
    let redis_conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let store = CaseStore::new(redis_conn, iso.redis.key_prefix.clone());

    let seeding = Instant::now();
    let ranked = seed(&store, cases).await;
    let seeded_in = seeding.elapsed();

    // Redis memory, sampled every 5 ms on a connection of its own, from before the storm on.
    let mut probe = client.get_multiplexed_async_connection().await.expect("redis");
    let baseline = redis_info_field(&mut probe, "memory", "used_memory").await;
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            let mut max_buffer = 0;
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(redis_info_field(&mut probe, "memory", "used_memory").await, Ordering::Relaxed);
                max_buffer =
                    max_buffer.max(redis_info_field(&mut probe, "clients", "client_recent_max_output_buffer").await);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            max_buffer
        }
    });

    let channel = format!("department:{DEPARTMENT}");
    let token = token(&as_department(DEPARTMENT));
    let go = Arc::new(tokio::sync::Barrier::new(boards + 1));
    let tasks: Vec<_> =
        (0..boards).map(|_| tokio::spawn(board(url.clone(), token.clone(), channel.clone(), go.clone()))).collect();
    go.wait().await;
    let storm = Instant::now();
    let mut served = Vec::with_capacity(boards);
    for task in tasks {
        served.push(task.await.expect("board task"));
    }
    let storm_took = storm.elapsed();
    done.store(true, Ordering::Relaxed);
    let max_output_buffer = sampler.await.expect("sampler");
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);

    // Every board got the same bounded snapshot: the most urgent cases, summaries only.
    let expected: Vec<String> = ranked.iter().take(SNAPSHOT_CASES).map(Uuid::to_string).collect();
    let snap: Value = serde_json::from_str(&served[0].snapshot).expect("snapshot is JSON");
    assert_eq!(snap["total"], cases, "total");
    assert_eq!(snap["truncated"], cases > SNAPSHOT_CASES, "truncated");
    assert_eq!(ids_of(&snap), expected, "overdue first, then newest, at most {SNAPSHOT_CASES}");
    for (i, s) in served.iter().enumerate() {
        assert!(s.snapshot == served[0].snapshot, "board {i} got another snapshot than board 0");
    }
    let first = &snap["cases"][0];
    assert!(first.get("timeline").is_none(), "a snapshot carries summaries, not timelines: {first}");
    assert_eq!(first["steps"], STEPS);
    assert_eq!(first["overdue"], json!(["arrive"]));
    assert!(first["last_step"]["type"].is_string(), "{first}");
    let frame_bytes = served[0].snapshot.len();

    let mut waits: Vec<Duration> = served.iter().map(|s| s.waited).collect();
    waits.sort();
    let refusals: u32 = served.iter().map(|s| s.refusals).sum();
    println!(
        "storm: {cases} open cases x {STEPS} steps seeded in {:.1} s; {boards} boards served in {:.2} s \
         (snapshot p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {refusals} overloaded answers); snapshot frame {} KiB; \
         Redis used_memory peak +{:.1} MiB over {:.1} MiB (bound {} MiB); client_recent_max_output_buffer {} KiB",
        seeded_in.as_secs_f64(),
        storm_took.as_secs_f64(),
        waits[waits.len() / 2].as_secs_f64() * 1e3,
        waits[waits.len() * 99 / 100].as_secs_f64() * 1e3,
        waits[waits.len() - 1].as_secs_f64() * 1e3,
        frame_bytes / 1024,
        growth as f64 / 1048576.0,
        baseline as f64 / 1048576.0,
        REDIS_GROWTH_BOUND / 1048576,
        max_output_buffer / 1024,
    );
    assert!(growth < REDIS_GROWTH_BOUND, "Redis grew by {growth} bytes during the storm (bound {REDIS_GROWTH_BOUND})");

    // Nothing is missing: the pages after the snapshot hold every open case once, in order.
    let all = page_through(&url, &token, &channel).await;
    let want: Vec<String> = ranked.iter().map(Uuid::to_string).collect();
    assert_eq!(all.len(), want.len(), "pages hold every open case");
    assert_eq!(all, want, "pages continue the snapshot's order without a gap or a repeat");
    stop.cancel();
    iso.clean_up().await;
}

/// The projector remembers the cases it wrote (`CaseStore::with_projection_cache`). Another
/// writer changing a case meanwhile (a second gateway around a rebalance) must neither be
/// overwritten nor make a fitting event look refused, and a replay is still a duplicate.
#[tokio::test]
async fn a_remembered_case_yields_to_another_writers_change() {
    let iso = Isolation::new();
    let conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let remembering = CaseStore::new(conn.clone(), iso.redis.key_prefix.clone()).with_projection_cache(16);
    let other = CaseStore::new(conn, iso.redis.key_prefix.clone());
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    let id = Uuid::new_v4();
    let events = case_events(1, id, base);
    let steps = |projected: Projected| match projected {
        Projected::Applied(case) => case.timeline.len(),
        other => panic!("not applied: {other:?}"),
    };
    assert_eq!(steps(remembering.project(&events[0]).await.expect("raised")), 1);
    // The other writer dispatches: the remembered case is one step behind.
    assert_eq!(steps(other.project(&events[1]).await.expect("dispatched")), 2);
    // The acknowledgement fits only after the dispatch: applied on the stored case, not refused
    // on the remembered one, and not written over the dispatch.
    assert_eq!(steps(remembering.project(&events[2]).await.expect("acknowledged")), 3);
    assert!(matches!(remembering.project(&events[1]).await.expect("replayed"), Projected::Duplicate));
    assert_eq!(steps(other.project(&events[3]).await.expect("scheduled")), 4);
    assert_eq!(steps(remembering.project(&events[4]).await.expect("paused")), 5);
    let stored = other.get(id).await.expect("read").expect("stored");
    assert_eq!(stored.timeline.len(), 5);
    for e in &events[..5] {
        assert!(stored.has_event(e.id), "{} is on the stored case", e.type_name());
    }
    iso.clean_up().await;
}

#[tokio::test]
async fn the_hub_reads_the_streams_the_bell_names_without_waiting_for_a_sweep() {
    use whistle_casestore::Channel;
    use whistle_gateway::hub::{Hub, HubConfig};
    let iso = Isolation::new();
    let conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let store = CaseStore::new(conn.clone(), iso.redis.key_prefix.clone());
    // A hub that sweeps once an hour: after its first sweep only the bell can bring it frames.
    let config = HubConfig { sweep_every: Duration::from_secs(3600), ..HubConfig::default() };
    let hub = Hub::with_known(store.clone(), config, None);
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(hub.clone().run_reader(iso.redis.clone(), stop.clone()));
    let town = Channel::parse("town:500103001").expect("channel");
    let quiet = Channel::parse("town:500103002").expect("channel");
    let (_member, mut frames) = hub.join(&town);
    let (_other, _) = hub.join(&quiet);
    hub.start_at(&town, store.last_cursor(&town).await.expect("cursor")).await;
    hub.start_at(&quiet, store.last_cursor(&quiet).await.expect("cursor")).await;
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    let events = case_events(1, Uuid::new_v4(), base);
    let mut last = None;
    for e in &events[..4] {
        assert!(matches!(store.project(e).await.expect("projected"), Projected::Applied(_)), "{}", e.type_name());
        let frame = tokio::time::timeout(Duration::from_secs(20), frames.recv())
            .await
            .unwrap_or_else(|_| panic!("no frame for {} (the reader waits for its next sweep)", e.type_name()))
            .expect("frame");
        if let Some(last) = last {
            assert_eq!(frame.prev, last, "frames follow each other without a gap");
        }
        last = Some(frame.cursor);
    }
    // Each projected event rang the bell once, naming the streams it wrote.
    let bell: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(store.bell_key())
        .arg("-")
        .arg("+")
        .query_async(&mut conn.clone())
        .await
        .expect("bell");
    assert_eq!(bell.ids.len(), 4);
    let named: String = bell.ids[3].get("s").expect("field s");
    assert!(named.split(' ').any(|k| k == store.stream_key(&town)), "{named}");
    stop.cancel();
    reader.await.expect("reader").expect("reader ends cleanly");
    iso.clean_up().await;
}

/// A TCP relay in front of the real Redis that can go silent: after [`Relay::freeze`] the
/// connections it relays already stay open but pass nothing either way (a host lost without a
/// FIN, a partition, a frozen process); connections opened later pass again.
struct Relay {
    port: u16,
    epoch: Arc<AtomicU64>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let epoch = Arc::new(AtomicU64::new(0));
        let frozen = epoch.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                let born = frozen.load(Ordering::Acquire);
                let (epoch_a, epoch_b) = (frozen.clone(), frozen.clone());
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pass(client_read, server_write, born, epoch_a));
                tokio::spawn(pass(server_read, client_write, born, epoch_b));
            }
        });
        Relay { port, epoch }
    }

    /// A relay in front of the Redis of `settings`, and the same settings pointed at it.
    async fn before(settings: &RedisSettings) -> (Relay, RedisSettings) {
        use secrecy::ExposeSecret as _;
        let url = settings.url.expose_secret().to_owned();
        let parsed = url::Url::parse(&url).expect("the test Redis URL");
        let upstream = format!("{}:{}", parsed.host_str().expect("host"), parsed.port().unwrap_or(6379));
        let relay = Relay::start(upstream.clone()).await;
        let mut through_relay = settings.clone();
        through_relay.url = url.replacen(&upstream, &format!("127.0.0.1:{}", relay.port), 1).into();
        (relay, through_relay)
    }

    /// Connections relayed so far go silent.
    fn freeze(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// Copies `from` to `to` until either closes, dropping every byte once the relay froze the
/// connection (it stays open: nothing tells the other end).
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    born: u64,
    epoch: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if epoch.load(Ordering::Acquire) != born {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The hub's reader blocks on Redis on a connection of its own. When the server stops answering
/// without closing it, the reader must leave it and read again on a new one; waiting for ever
/// left every board of the gateway without frames and without an error.
#[tokio::test]
async fn the_hub_reader_leaves_a_redis_connection_that_went_silent() {
    use whistle_casestore::Channel;
    use whistle_gateway::hub::{Hub, HubConfig};
    let iso = Isolation::new();
    let conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let store = CaseStore::new(conn.clone(), iso.redis.key_prefix.clone());
    let (relay, through_relay) = Relay::before(&iso.redis).await;
    let config = HubConfig { sweep_every: Duration::from_millis(500), ..HubConfig::default() };
    let hub = Hub::with_known(store.clone(), config, None);
    let stop = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(hub.clone().run_reader(through_relay, stop.clone()));
    let town = Channel::parse("town:500103001").expect("channel");
    let (_member, mut frames) = hub.join(&town);
    hub.start_at(&town, store.last_cursor(&town).await.expect("cursor")).await;
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    let events = case_events(1, Uuid::new_v4(), base);
    let mut next_frame = async |what: &str| {
        tokio::time::timeout(Duration::from_secs(30), frames.recv())
            .await
            .unwrap_or_else(|_| panic!("no frame for {what} within 30 s: the reader still waits on a silent server"))
            .expect("frame")
    };
    assert!(matches!(store.project(&events[0]).await.expect("projected"), Projected::Applied(_)));
    let first = next_frame("the first event, before the relay froze").await;
    relay.freeze();
    // Written to Redis directly: only the reader's own connection is silent.
    assert!(matches!(store.project(&events[1]).await.expect("projected"), Projected::Applied(_)));
    let second = next_frame("the event after the relay froze").await;
    assert_eq!(second.prev, first.cursor, "the frame after the reconnect follows the last one without a gap");
    stop.cancel();
    reader.await.expect("reader").expect("reader ends cleanly");
    iso.clean_up().await;
}

/// The services' shared Redis connection gives a command 5 s (`RESPONSE_TIMEOUT`). A connection
/// that went silent must then be replaced, not kept: every later command would wait its 5 s and
/// fail the same way, for as long as the process runs.
#[tokio::test]
async fn the_shared_redis_connection_is_replaced_after_it_went_silent() {
    let iso = Isolation::new();
    let (relay, through_relay) = Relay::before(&iso.redis).await;
    let mut conn = whistle_common::redis_conn::managed(&through_relay).await.expect("redis");
    let key = format!("{}silent", iso.redis.key_prefix);
    let () = redis::cmd("SET").arg(&key).arg("before").query_async(&mut conn).await.expect("SET before the freeze");
    relay.freeze();
    let first: redis::RedisResult<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await;
    assert!(first.as_ref().is_err_and(|e| e.is_timeout()), "the silent connection times out: {first:?}");
    // Within a few attempts the handle is on a new connection, which the relay passes.
    let mut answered = None;
    for _ in 0..5 {
        match redis::cmd("GET").arg(&key).query_async::<String>(&mut conn).await {
            Ok(value) => {
                answered = Some(value);
                break;
            }
            Err(err) => eprintln!("GET after the freeze: {err}"),
        }
    }
    assert_eq!(answered.as_deref(), Some("before"), "the handle left the silent connection");
    iso.clean_up().await;
}

#[tokio::test]
async fn pages_walk_ties_and_changes_without_a_gap_or_a_repeat() {
    let iso = Isolation::new();
    let conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let store = CaseStore::new(conn, iso.redis.key_prefix.clone());
    // 23 cases raised in the same second (equal scores), 4 of them overdue.
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    let mut ids = Vec::new();
    for n in 0..23 {
        let id = Uuid::new_v4();
        for mut e in case_events(if n < 4 { 0 } else { 1 }, id, base) {
            e.time = base;
            store.project(&e).await.expect("projected");
        }
        ids.push((n >= 4, id));
    }
    let channel = whistle_casestore::Channel::parse(&format!("department:{DEPARTMENT}")).expect("channel");
    let snapshot = store.snapshot(&channel, 5).await.expect("snapshot");
    assert_eq!(snapshot.total, 23);
    let id_of =
        |json: &String| serde_json::from_str::<Value>(json).expect("json")["id"].as_str().expect("id").to_owned();
    let mut seen: Vec<String> = snapshot.cases.iter().map(id_of).collect();
    let mut next = snapshot.next;
    while let Some(after) = next {
        let page = store.page(&channel, &after, 5).await.expect("page");
        assert!(page.cases.len() <= 5);
        seen.extend(page.cases.iter().map(id_of));
        next = page.next;
    }
    // Overdue ones first; within a score, by id descending; each once.
    ids.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.to_string().cmp(&a.1.to_string())));
    let want: Vec<String> = ids.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(seen, want);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 23);
    iso.clean_up().await;
}

/// A Redis of its own with a tiny `maxmemory` and `noeviction`, as the dev stack runs it (with a
/// larger limit); stopped on drop.
struct TinyRedis {
    child: std::process::Child,
    url: String,
    _dir: std::path::PathBuf,
}

impl TinyRedis {
    async fn start() -> TinyRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let dir = std::env::temp_dir().join(format!("whistle-tiny-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (the dev scripts install it)");
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).expect("url");
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                return TinyRedis { child, url, _dir: dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server on {port} did not answer");
    }
}

impl Drop for TinyRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_full_redis_refuses_writes_with_503_and_retry_after_while_boards_still_get_snapshots() {
    use axum::response::IntoResponse as _;
    let redis = TinyRedis::start().await;
    let client = redis::Client::open(redis.url.as_str()).expect("url");
    let settings = RedisSettings { url: redis.url.clone().into(), ..RedisSettings::default() };
    let store = CaseStore::new(whistle_common::redis_conn::managed(&settings).await.expect("redis"), "t:");
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).single().expect("time");
    for n in 1..=3 {
        for e in case_events(n, Uuid::new_v4(), base + chrono::Duration::seconds(n as i64)) {
            store.project(&e).await.expect("projected");
        }
    }
    // Fill Redis past its maxmemory: 2 MiB of data, then a limit of 1 MiB.
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let filler = "x".repeat(64 * 1024);
    for i in 0..32 {
        let () = redis::cmd("SET").arg(format!("filler:{i}")).arg(&filler).query_async(&mut conn).await.expect("set");
    }
    let () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("1mb").query_async(&mut conn).await.expect("config");
    let refused = redis::cmd("SET").arg("one-more").arg("x").query_async::<()>(&mut conn).await;
    assert_eq!(refused.expect_err("Redis refuses writes past maxmemory").code(), Some("OOM"));

    // A write through the store is refused, and said to be a full store, not a bug.
    let err = store.claim_idempotency("raise:x", "fingerprint").await.expect_err("a full Redis refuses the write");
    assert!(whistle_common::redis_conn::refused_for_memory(&err), "{err:#}");
    let response = whistle_intake::error::ApiError::store(err).into_response();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");

    // Reading is not writing: the board's snapshot still comes.
    let channel = whistle_casestore::Channel::parse(&format!("department:{DEPARTMENT}")).expect("channel");
    let snapshot = store.snapshot(&channel, 500).await.expect("a read-only snapshot runs on a full Redis");
    assert_eq!(snapshot.total, 3);
    assert_eq!(snapshot.cases.len(), 3);
}
