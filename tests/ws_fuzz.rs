//! Property test of the WebSocket protocol: `gateway::session::run`, driven through channels
//! (no socket) against the real Redis under a random key prefix, gets arbitrary client frames —
//! random strings, random JSON, subscribe/unsubscribe with weird channels and cursors, binary
//! frames. It must never panic or hang; every frame gets exactly the answer a model of the
//! protocol predicts (an `error` with the right code for every bad frame); and the session stays
//! usable afterwards.
//!
//! 1,000 sessions by default (a few seconds); `PROPTEST_CASES=20000` runs more.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use whistle_auth::{Principal, Role};
use whistle_casestore::{CaseStore, Channel};
use whistle_common::ratelimit::Rate;
use whistle_gateway::hub::{Hub, HubConfig};
use whistle_gateway::metrics::Metrics;
use whistle_gateway::session::{self, Auth, Ended, Incoming, Limits, Outgoing, channel_ref};
use whistle_schemas::ws::ClientMessage;
use whistle_tests::{Isolation, keys};

const MAX_SUBSCRIPTIONS: usize = 3;
/// A session that does not answer within this is hung.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone)]
enum Frame {
    Text(String),
    Binary,
}

fn channel() -> impl Strategy<Value = String> {
    prop_oneof![
        // A few real channels, so subscriptions pile up, repeat and are left.
        4 => prop_oneof![
            Just("department:500103-EE"),
            Just("town:500103001"),
            Just("manager:city"),
            Just("town:500103002"),
            Just("manager:500103"),
        ]
        .prop_map(str::to_owned),
        2 => "(department|town|manager|Town|dept)?:?[A-Za-z0-9\\-_./ \u{4e00}-\u{4e10}\u{0}]{0,40}",
        1 => any::<String>(),
        1 => (30usize..40).prop_map(|n| format!("town:{}", "9".repeat(n))),
    ]
}

fn cursor() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("0-0".to_owned()),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| format!("{a}-{b}")),
        Just("99999999999999999999-1".to_owned()),
        "[0-9a-z\\-+]{0,12}",
        any::<String>(),
    ])
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(Value::from("subscribe")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("channel".to_owned()),
                    Just("cursor".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        25 => (channel(), cursor()).prop_map(|(channel, cursor)| {
            let mut m = json!({"type": "subscribe", "channel": channel});
            if let Some(c) = cursor {
                m["cursor"] = json!(c);
            }
            Frame::Text(m.to_string())
        }),
        15 => channel().prop_map(|channel| Frame::Text(json!({"type": "unsubscribe", "channel": channel}).to_string())),
        5 => (channel(), prop_oneof![Just("0:00000000-0000-0000-0000-000000000000".to_owned()), "[0-9a-z:-]{0,12}"])
            .prop_map(|(channel, after)| Frame::Text(json!({"type": "more", "channel": channel, "after": after}).to_string())),
        10 => json_value().prop_map(|v| Frame::Text(v.to_string())),
        5 => any::<String>().prop_map(Frame::Text),
        5 => Just(Frame::Text(r#"{"type":"subscribe","channel":"town:500103001","extra":1}"#.to_owned())),
        5 => Just(Frame::Text(r#"{"type":"subscribe","channel":"town:500103001""#.to_owned())),
        5 => Just(Frame::Binary),
        // Rare: a forged token ends the session, so it would cut most sessions short.
        1 => "[A-Za-z0-9._-]{0,40}".prop_map(|token| Frame::Text(json!({"type": "auth", "token": token}).to_string())),
    ]
}

/// The account the fuzzed sessions run as: a district manager, so some well-formed channels are
/// outside its scope.
fn account() -> Principal {
    Principal::new("manager-500103", Role::Manager { district: Some("500103".into()) })
}

/// What the protocol answers, from a model of the session's subscriptions.
fn expected(frame: &Frame, subscribed: &mut HashSet<Channel>) -> &'static str {
    let text = match frame {
        Frame::Binary => return "error:unsupported_frame",
        Frame::Text(text) => text,
    };
    match serde_json::from_str::<ClientMessage>(text) {
        Err(_) => "error:malformed_message",
        Ok(ClientMessage::More { channel, after }) => match Channel::parse(&channel) {
            Err(_) => "error:invalid_channel",
            Ok(c) if !subscribed.contains(&c) => "error:not_subscribed",
            Ok(_) if after.parse::<whistle_casestore::PageToken>().is_err() => "error:invalid_page_token",
            Ok(_) => "page",
        },
        Ok(ClientMessage::Unsubscribe { channel }) => match Channel::parse(&channel) {
            Err(_) => "error:invalid_channel",
            Ok(c) => {
                subscribed.remove(&c);
                "unsubscribed"
            }
        },
        // A token the gateway did not sign ends the session with 4001.
        Ok(ClientMessage::Auth { .. }) => "closed 4001",
        Ok(ClientMessage::Subscribe { channel, cursor }) => {
            let Ok(c) = Channel::parse(&channel) else { return "error:invalid_channel" };
            if !account().can_watch(channel_ref(&c)) {
                return "error:forbidden";
            }
            if cursor.as_deref().is_some_and(|c| c.parse::<whistle_casestore::Cursor>().is_err()) {
                return "error:invalid_cursor";
            }
            subscribed.remove(&c);
            if subscribed.len() >= MAX_SUBSCRIPTIONS {
                return "error:too_many_subscriptions";
            }
            subscribed.insert(c);
            "start"
        }
    }
}

fn kind(answer: &Value) -> String {
    match answer["type"].as_str() {
        Some("error") => format!("error:{}", answer["code"].as_str().unwrap_or("")),
        Some("snapshot" | "resumed") => "start".to_owned(),
        Some(other) => other.to_owned(),
        None => format!("not a server frame: {answer}"),
    }
}

struct Harness {
    tx: mpsc::UnboundedSender<Incoming>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
    task: tokio::task::JoinHandle<Ended>,
}

impl Harness {
    fn start(hub: &Arc<Hub>) -> Harness {
        let (tx, incoming) = mpsc::unbounded();
        let (out, rx) = mpsc::unbounded();
        let limits = Limits {
            max_subscriptions: MAX_SUBSCRIPTIONS,
            ping: Duration::from_secs(3600),
            // Bad frames are the point here; the 1008 cut-off has its own test (ws_limits).
            max_consecutive_errors: u32::MAX,
            frames: Rate::new(u32::MAX, 1e9),
            ..Limits::default()
        };
        let metrics = Metrics::new().expect("metrics");
        let keys = Arc::new(keys());
        let verified = keys.verify(&keys.issue(&account()).0).expect("a valid token");
        // Never revoked: the denylist is this process's memory.
        let verifier =
            whistle_auth::Verifier::new(keys, whistle_auth::Revocations::in_memory(Duration::from_secs(3600)));
        let auth =
            Auth { verifier: Arc::new(verifier), upgrade: Some(Ok(verified)), deadline: Duration::from_secs(10) };
        let task =
            tokio::spawn(session::run(hub.clone(), out, incoming, limits, auth, metrics, CancellationToken::new()));
        Harness { tx, rx, task }
    }

    /// The next JSON answer (pings skipped).
    async fn answer(&mut self) -> Result<Value, String> {
        loop {
            match tokio::time::timeout(ANSWER_TIMEOUT, self.rx.next()).await {
                Err(_) => return Err("the session did not answer in time".into()),
                Ok(None) => return Err("the session ended".into()),
                Ok(Some(Outgoing::Text(text))) => {
                    return serde_json::from_str(&text).map_err(|e| format!("answer is not JSON: {e}: {text}"));
                }
                Ok(Some(Outgoing::Frame(f))) => {
                    return serde_json::from_str(&f.text).map_err(|e| format!("frame is not JSON: {e}"));
                }
                Ok(Some(Outgoing::Shared(text))) => {
                    return serde_json::from_str(&text).map_err(|e| format!("frame is not JSON: {e}"));
                }
                Ok(Some(Outgoing::Ping)) => continue,
                Ok(Some(Outgoing::Close(code, reason))) => return Err(format!("closed {code}: {reason}")),
            }
        }
    }

    fn send(&self, frame: &Frame) {
        let msg = match frame {
            Frame::Text(t) => Incoming::Text(t.clone()),
            Frame::Binary => Incoming::Binary,
        };
        self.tx.unbounded_send(msg).expect("session is running");
    }
}

#[test]
fn arbitrary_client_frames_get_the_answer_the_protocol_promises_and_the_session_survives() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let iso = Isolation::new();
    let hub = rt.block_on(async {
        let redis = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
        // Admission is not under test here (the storm test covers it): let every subscribe in.
        let config =
            HubConfig { capacity: 64, subscribes_per_second: 1e9, subscribes_burst: u32::MAX, ..HubConfig::default() };
        Hub::with_known(CaseStore::new(redis, iso.redis.key_prefix.clone()), config, None)
    });
    let counts = std::sync::Mutex::new(std::collections::BTreeMap::<String, u64>::new());
    let config = ProptestConfig { cases: cases(1000), failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(frame(), 1..30), |frames| {
        rt.block_on(async {
            let mut h = Harness::start(&hub);
            let hello = h.answer().await.map_err(TestCaseError::fail)?;
            prop_assert_eq!(kind(&hello), "authenticated");
            let mut model = HashSet::new();
            for f in &frames {
                h.send(f);
                let want = expected(f, &mut model);
                if want == "closed 4001" {
                    let closed = h.answer().await.expect_err("a forged token ends the session");
                    prop_assert!(closed.starts_with("closed 4001"), "{}", closed);
                    *counts.lock().expect("lock").entry(want.to_owned()).or_default() += 1;
                    return Ok(());
                }
                let answer = h.answer().await.map_err(|e| TestCaseError::fail(format!("{e} after {f:?}")))?;
                let got = kind(&answer);
                prop_assert_eq!(&got, want, "frame {:?} answered {}", f, answer);
                if got.starts_with("error:") {
                    prop_assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty() && m.len() <= 400));
                }
                *counts.lock().expect("lock").entry(got).or_default() += 1;
            }
            // Still usable: an unsubscribe and a (re)subscription both work.
            h.send(&Frame::Text(json!({"type": "unsubscribe", "channel": "town:500103001"}).to_string()));
            prop_assert_eq!(kind(&h.answer().await.map_err(TestCaseError::fail)?), "unsubscribed");
            model.remove(&Channel::Town("500103001".into()));
            let again = model.iter().next().map_or_else(|| "town:500103001".to_owned(), ToString::to_string);
            h.send(&Frame::Text(json!({"type": "subscribe", "channel": again}).to_string()));
            prop_assert_eq!(kind(&h.answer().await.map_err(TestCaseError::fail)?), "start");
            // The client leaves; the session ends cleanly, never by a panic.
            drop(h.tx);
            let ended = tokio::time::timeout(ANSWER_TIMEOUT, h.task)
                .await
                .map_err(|_| TestCaseError::fail("the session did not end"))?
                .map_err(|e| TestCaseError::fail(format!("the session panicked: {e}")))?;
            prop_assert_eq!(ended, Ended::Client);
            Ok(())
        })
    });
    let counts = counts.into_inner().expect("lock");
    eprintln!("answers by kind over {} sessions: {counts:?}", cases(1000));
    rt.block_on(iso.clean_up());
    result.expect("property holds");
    for kind in [
        "start",
        "unsubscribed",
        "error:malformed_message",
        "error:invalid_channel",
        "error:invalid_cursor",
        "error:forbidden",
    ] {
        assert!(counts.get(kind).is_some_and(|n| *n > 0), "the generator never produced {kind}: {counts:?}");
    }
}
