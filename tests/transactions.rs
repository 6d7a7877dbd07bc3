//! Exactly-once routing: the router's outputs and input offsets commit in one Kafka transaction.
//! Real Kafka, no mocks; a test seam in the router (`with_before_commit`) injects an abort or
//! freezes a transaction so the test can kill the router in the middle of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use rdkafka::producer::FutureRecord;
use tokio::task::JoinHandle;
use uuid::Uuid;
use whistle_common::kafka;
use whistle_router::service::BeforeCommit;
use whistle_schemas::Location;
use whistle_schemas::events::{Actor, ActorKind, CaseEvent, CaseEventBody, Raised};
use whistle_tests::*;

const WHISTLES: usize = 20;

/// Publishes `n` raised whistles for the department item straight to the case topic, as intake
/// would; returns their ids.
async fn raise_directly(iso: &Isolation, n: usize) -> Vec<Uuid> {
    kafka::ensure_topics(&iso.kafka, &kafka::standard_topics(&iso.kafka)).await.expect("topics");
    let producer = kafka::producer(&iso.kafka, "test-raiser").expect("producer");
    let mut ids = Vec::new();
    for n in 0..n {
        let id = Uuid::now_v7();
        let event = CaseEvent::new(
            Uuid::new_v5(&id, b"whistle.raised"),
            "/whistle/intake",
            id,
            Utc::now(),
            CaseEventBody::Raised(Raised {
                town: TOWN.into(),
                district: "500103".into(),
                item: DEPT_ITEM.into(),
                description: format!("transaction test {n}"),
                location: Location { lat: 29.557, lon: 106.577, address: "解放碑".into() },
                photos: vec![],
                attachments: vec![],
                raised_by: Actor::new(ActorKind::Town, TOWN),
                support: false,
                assist: vec![],
                hotline: None,
            }),
        );
        let payload = serde_json::to_vec(&event).expect("json");
        let key = id.to_string();
        producer
            .send(FutureRecord::to(&iso.kafka.topics.cases).key(&key).payload(&payload), Duration::from_secs(10))
            .await
            .expect("raised is written");
        ids.push(id);
    }
    ids
}

async fn start_router(iso: &Isolation, hook: Option<BeforeCommit>) -> (String, JoinHandle<anyhow::Result<()>>) {
    start_router_with(whistle_tests::router_settings(iso), hook).await
}

async fn start_router_with(
    settings: whistle_router::Settings,
    hook: Option<BeforeCommit>,
) -> (String, JoinHandle<anyhow::Result<()>>) {
    let mut app = whistle_router::Application::build(settings).await.expect("router starts");
    if let Some(hook) = hook {
        app = app.with_before_commit(hook);
    }
    let admin = format!("http://127.0.0.1:{}", app.port());
    (admin, tokio::spawn(app.run_until_stopped(std::future::pending())))
}

async fn log(iso: &Isolation, level: ReadLevel) -> Vec<CaseEvent> {
    let (kafka, topic) = (iso.kafka.clone(), iso.kafka.topics.cases.clone());
    tokio::task::spawn_blocking(move || read_case_log(&kafka, &topic, level)).await.expect("task").expect("log")
}

/// Waits until every whistle in `ids` has a committed dispatch, then returns the committed
/// dispatch count per whistle.
async fn committed_dispatches(iso: &Isolation, ids: &[Uuid]) -> HashMap<Uuid, usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counts = dispatches_per_whistle(&log(iso, ReadLevel::Committed).await);
        if ids.iter().all(|id| counts.contains_key(id)) {
            return counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {} whistles were dispatched in time",
            ids.iter().filter(|id| counts.contains_key(id)).count(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn assert_exactly_once(ids: &[Uuid], counts: &HashMap<Uuid, usize>) {
    for id in ids {
        assert_eq!(counts.get(id), Some(&1), "whistle {id} has exactly one committed dispatch");
    }
    assert_eq!(counts.len(), ids.len(), "no dispatch for a whistle nobody raised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_aborted_transaction_leaves_its_dispatches_invisible_to_read_committed_consumers() {
    let iso = Isolation::new();
    let ids = raise_directly(&iso, WHISTLES).await;
    // The first transaction fails after its dispatches reached the broker; the rest commit.
    let calls = Arc::new(AtomicUsize::new(0));
    let hook: BeforeCommit = {
        let calls = calls.clone();
        Arc::new(move || {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                if first {
                    anyhow::bail!("injected: the first transaction fails before its commit");
                }
                Ok(())
            })
        })
    };
    let (admin, router) = start_router(&iso, Some(hook)).await;

    let committed = committed_dispatches(&iso, &ids).await;
    assert_exactly_once(&ids, &committed);
    let everything = dispatches_per_whistle(&log(&iso, ReadLevel::Uncommitted).await);
    let aborted: usize = everything.values().sum::<usize>() - committed.values().sum::<usize>();
    assert!(aborted >= 1, "the aborted transaction's dispatches are in the log, only hidden: {everything:?}");
    let metrics = reqwest::get(format!("{admin}/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains(r#"whistle_router_transactions_total{result="aborted"} 1"#), "{metrics}");

    router.abort();
    iso.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_router_killed_mid_transaction_neither_loses_nor_duplicates_a_dispatch() {
    let iso = Isolation::new();
    let ids = raise_directly(&iso, WHISTLES).await;
    // The first router freezes in its first transaction, after producing, before committing.
    let (produced_tx, produced_rx) = tokio::sync::oneshot::channel::<()>();
    let produced_tx = Arc::new(std::sync::Mutex::new(Some(produced_tx)));
    let hook: BeforeCommit = Arc::new(move || {
        if let Some(tx) = produced_tx.lock().expect("lock").take() {
            let _ = tx.send(());
        }
        Box::pin(std::future::pending())
    });
    let (_, zombie) = start_router(&iso, Some(hook)).await;
    tokio::time::timeout(Duration::from_secs(30), produced_rx).await.expect("a transaction started").expect("signal");
    // Killed: no abort, no commit, no goodbye; its transaction stays open on the broker.
    zombie.abort();
    let _ = zombie.await;
    let open = dispatches_per_whistle(&log(&iso, ReadLevel::Uncommitted).await);
    assert!(!open.is_empty(), "the killed router's dispatches reached the broker");

    // Its successor (same transactional.id) fences it, which aborts the open transaction, and
    // routes the batch again from the committed offsets.
    let (_, router) = start_router(&iso, None).await;
    let committed = committed_dispatches(&iso, &ids).await;
    assert_exactly_once(&ids, &committed);
    let everything = dispatches_per_whistle(&log(&iso, ReadLevel::Uncommitted).await);
    assert!(
        everything.values().sum::<usize>() > committed.values().sum::<usize>(),
        "the killed router's dispatches stay in the log, aborted"
    );

    router.abort();
    iso.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_router_fenced_by_a_newer_instance_with_its_transactional_id_stops() {
    let iso = Isolation::new();
    let settings = whistle_tests::router_settings(&iso);
    let (_, old) = start_router_with(settings.clone(), None).await;
    // A newer incarnation with the same transactional.id (its own group, so both consume).
    let newer = whistle_router::Settings { group_id: format!("{}-newer", settings.group_id), ..settings.clone() };
    let newer = whistle_router::Settings { transactional_id: settings.transactional_id(), ..newer };
    let (_, new) = start_router_with(newer, None).await;
    let ids = raise_directly(&iso, 3).await;

    let ended = tokio::time::timeout(Duration::from_secs(60), old).await.expect("the fenced router stops");
    // The supervisor reports that a task failed (the log says: fenced); the process exits non-zero.
    ended.expect("task").expect_err("a fenced router stops with an error");
    assert_exactly_once(&ids, &committed_dispatches(&iso, &ids).await);
    new.abort();
    iso.clean_up().await;
}

/// The offsets the router's group has committed on the case topic, summed over its partitions.
async fn committed_total(iso: &Isolation, group: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let (kafka, topic, group) = (iso.kafka.clone(), iso.kafka.topics.cases.clone(), group.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer =
            kafka::client_config(&kafka).set("group.id", &group).create().expect("offset reader");
        let mut tpl = rdkafka::TopicPartitionList::new();
        for partition in 0..kafka.partitions {
            tpl.add_partition(&topic, partition);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
        committed.elements().iter().filter_map(|e| e.offset().to_raw()).filter(|o| *o > 0).sum()
    })
    .await
    .expect("task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_that_route_nothing_open_no_transaction_and_their_offsets_commit_within_the_carry() {
    let iso = Isolation::new();
    kafka::ensure_topics(&iso.kafka, &kafka::standard_topics(&iso.kafka)).await.expect("topics");
    let settings = whistle_tests::router_settings(&iso);
    let group = settings.group_id.clone();
    let (admin, router) = start_router_with(settings, None).await;
    // Twenty events the router passes over by their type header, each in a batch of its own
    // (50 ms apart, the linger is 10 ms), all within one carry.
    let producer = kafka::producer(&iso.kafka, "test-acknowledger").expect("producer");
    const EVENTS: i64 = 20;
    for n in 0..EVENTS {
        let key = Uuid::now_v7().to_string();
        let payload = format!(r#"{{"n":{n}}}"#);
        let record = kafka::case_record(&iso.kafka.topics.cases, &key, payload.as_bytes(), "whistle.acknowledged");
        producer.send(record, Duration::from_secs(10)).await.expect("written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The carried offsets commit on their own, at most CARRY_FOR after the first was read.
    let deadline = tokio::time::Instant::now() + whistle_router::service::CARRY_FOR + Duration::from_secs(20);
    while committed_total(&iso, &group).await < EVENTS {
        assert!(tokio::time::Instant::now() < deadline, "the passed-over events' offsets were never committed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(format!("{admin}/metrics")).await.expect("metrics").text().await.expect("text");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    let transactions = value(r#"whistle_router_transactions_total{result="committed"}"#);
    assert!(transactions <= 2.0, "{transactions} transactions for {EVENTS} passed-over events (one per batch before)");
    assert!(value("whistle_router_carried_batches_total") >= 10.0, "{metrics}");
    assert_eq!(value("whistle_router_events_skipped_total"), EVENTS as f64);

    router.abort();
    iso.clean_up().await;
}

/// The projector and the SLA service commit an offset only once a Redis replica holds the writes
/// behind it (`consume_in_order` with `redis.replica_acks`). While no replica confirms (one is
/// down for maintenance, say), the offsets must wait and the messages must still be handled:
/// before, each confirmation took the `WAIT` timeout (2 s) in the loop's place and the next was
/// due at once, so the consumer stopped taking messages (boards and clocks stood still) until a
/// replica came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_goes_on_handling_messages_while_no_redis_replica_confirms_its_writes() {
    use rdkafka::consumer::Consumer as _;
    let iso = Isolation::new();
    let ids = raise_directly(&iso, WHISTLES).await;
    let group = format!("test-{}-confirm", iso.suffix);
    let consumer = Arc::new(kafka::consumer(&iso.kafka, &group, "test-confirm").expect("consumer"));
    consumer.subscribe(&[iso.kafka.topics.cases.as_str()]).expect("subscribe");
    // The test Redis has no replica: every WAIT for one waits its timeout and comes back short.
    let settings = whistle_common::settings::RedisSettings { replica_acks: Some(1), ..iso.redis.clone() };
    let redis = whistle_common::redis_conn::managed(&settings).await.expect("redis");
    assert!(redis.needs_confirmation());
    let handled = Arc::new(AtomicUsize::new(0));
    let one_more = Arc::new(tokio::sync::Notify::new());
    let token = tokio_util::sync::CancellationToken::new();
    let handler = {
        let (handled, one_more, redis, prefix) =
            (handled.clone(), one_more.clone(), redis.clone(), iso.redis.key_prefix.clone());
        move |msg: rdkafka::message::OwnedMessage| {
            let (handled, one_more, mut conn) = (handled.clone(), one_more.clone(), redis.clone());
            let key = format!("{prefix}confirm:{}", rdkafka::Message::offset(&msg));
            async move {
                // A write, as the projector's, and some work after it.
                let () = redis::cmd("SET").arg(&key).arg(1).query_async(&mut conn).await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                handled.fetch_add(1, Ordering::SeqCst);
                one_more.notify_one();
                Ok(())
            }
        }
    };
    let consuming = tokio::spawn(kafka::consume_in_order(consumer, token.clone(), 1, Some(redis), handler));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while handled.load(Ordering::SeqCst) < ids.len() {
        if tokio::time::timeout_at(deadline, one_more.notified()).await.is_err() {
            break;
        }
    }
    token.cancel();
    consuming.await.expect("task").expect("the loop ends without an error (short replicas only hold offsets back)");
    assert_eq!(
        handled.load(Ordering::SeqCst),
        ids.len(),
        "every message handled within 30 s although no replica confirmed a write"
    );
    assert_eq!(committed_total(&iso, &group).await, 0, "no offset committed without a replica's confirmation");
    iso.clean_up().await;
}
