//! The walking skeleton end to end, in-process services against the real Kafka and Redis.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use whistle_tests::*;

/// How long a dead letter may take to reach a fresh reader.
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads the stack's dead-letter topic from its start.
fn dead_letter_reader(stack: &Stack) -> StreamConsumer {
    let consumer: StreamConsumer = whistle_common::kafka::client_config(&stack.iso.kafka)
        .set("group.id", format!("test-{}-dlq-reader", stack.iso.suffix))
        .set("auto.offset.reset", "earliest")
        // The router's dead letters are written in its transactions.
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&stack.iso.kafka.topics.deadletter]).expect("subscribed");
    consumer
}

/// The first dead letter the gateway's projector wrote.
async fn projector_dead_letter(stack: &Stack) -> Value {
    let consumer = dead_letter_reader(stack);
    loop {
        // Joining the reader's consumer group can take a while on a busy broker.
        let msg = tokio::time::timeout(DEAD_LETTER_TIMEOUT, consumer.recv())
            .await
            .expect("the dead letter arrives")
            .expect("readable");
        let letter: Value = serde_json::from_slice(msg.payload().expect("payload")).expect("dead letters are JSON");
        if letter["consumer"].as_str().is_some_and(|c| c.ends_with("-projector")) {
            return letter;
        }
    }
}

/// The whistle's own steps on a case view, in order (the SLA service's `sla.*` steps left out).
fn whistle_steps(view: &Value) -> Vec<&str> {
    view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["type"].as_str())
        .filter(|t| t.starts_with("whistle."))
        .collect()
}

fn is_event(frame: &Value, kind: &str, id: &str) -> bool {
    event_of(frame) == Some((kind, id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whistle_travels_from_town_to_department_board_and_the_acknowledgement_back() {
    let stack = Stack::start().await;
    let mut board = stack.board().await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    let snapshot = board.next().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["cases"], json!([]), "a fresh department has no open cases");
    let mut town = stack.board().await;
    town.subscribe(&format!("town:{TOWN}"), None).await;
    assert_eq!(town.next().await["type"], "snapshot");

    let (status, body) = stack.raise(DEPT_ITEM, "河边堆放的废油桶正在泄漏").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "raised");
    let id = body["id"].as_str().expect("an id").to_owned();

    let (_, dispatched) = board.until(|f| is_event(f, "whistle.dispatched", &id)).await;
    assert_eq!(dispatched["channel"], format!("department:{DEPARTMENT}"));
    assert_eq!(dispatched["case"]["department"]["code"], DEPARTMENT);
    assert_eq!(dispatched["case"]["description"], "河边堆放的废油桶正在泄漏");

    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "acknowledged");

    let (_, ack) = town.until(|f| is_event(f, "whistle.acknowledged", &id)).await;
    assert_eq!(ack["case"]["status"], "acknowledged");
    assert_eq!(ack["event"]["data"]["actor"]["code"], DEPARTMENT);

    let view = stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    // The whistle's own steps, in order; the SLA service's `sla.*` steps may fall anywhere
    // between them (it schedules on dispatch, concurrently with the acknowledgement).
    let steps = whistle_steps(&view);
    assert_eq!(steps, ["whistle.raised", "whistle.dispatched", "whistle.acknowledged"]);

    // The rest of the life: arrive, resolve; then the case leaves the board's open set.
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/arrive"), &json!({})).await.0, 202);
    board.until(|f| is_event(f, "whistle.arrived", &id)).await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/resolve"), &json!({"note": "已清理"})).await.0, 202);
    board.until(|f| is_event(f, "whistle.resolved", &id)).await;
    let mut fresh = stack.board().await;
    fresh.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    let snapshot = fresh.next().await;
    assert_eq!(snapshot["cases"], json!([]), "a resolved case is not open any more");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_board_cut_mid_stream_resumes_from_its_cursor_missing_nothing_and_duplicating_nothing() {
    let stack = Stack::start().await;
    let channel = format!("department:{DEPARTMENT}");
    let mut board = stack.board().await;
    board.subscribe(&channel, None).await;
    let snapshot = board.next().await;
    let mut cursor = snapshot["cursor"].as_str().expect("cursor").to_owned();

    // Whistles keep coming while the board is cut and reconnects.
    const TOTAL: usize = 30;
    let raiser = {
        let (api, http) = (stack.api.clone(), stack.http.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..TOTAL {
                let resp = http
                    .post(format!("{api}/api/v1/whistles"))
                    .bearer_auth(token(&as_town(TOWN)))
                    .json(&raise_body(TOWN, DEPT_ITEM, &format!("burst {n}")))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(resp.status().as_u16(), 202);
                let body: Value = resp.json().await.expect("json");
                ids.push(body["id"].as_str().expect("id").to_owned());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ids
        })
    };

    let mut seen: Vec<String> = Vec::new();
    // Read a few live events, then cut the connection without a goodbye.
    while seen.len() < 5 {
        let frame = board.next().await;
        if let Some(("whistle.dispatched", id)) = event_of(&frame) {
            seen.push(id.to_owned());
        }
        cursor = frame["cursor"].as_str().unwrap_or(&cursor).to_owned();
    }
    board.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut board = stack.board().await;
    board.subscribe(&channel, Some(&cursor)).await;
    let resumed = board.next().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["cursor"], cursor);
    let ids = raiser.await.expect("raiser finished");
    let mut cursors = HashSet::new();
    let mut check = |frame: &Value| {
        let (kind, id) = event_of(frame).unwrap_or_else(|| panic!("only events after a resume, got {frame}"));
        assert!(cursors.insert(frame["cursor"].as_str().expect("cursor").to_owned()), "cursor repeated: {frame}");
        (kind == "whistle.dispatched").then(|| id.to_owned())
    };
    while seen.len() < TOTAL {
        let frame = board.next().await;
        // The SLA service's `sla.scheduled` events share the channel; count the dispatches.
        seen.extend(check(&frame));
    }
    // Whatever still trails (SLA schedules) must not repeat a dispatch or a cursor.
    while let Some(frame) = board.next_within(Duration::from_millis(800)).await {
        assert!(check(&frame).is_none(), "a dispatch arrived twice: {frame}");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no whistle was delivered twice");
    assert_eq!(unique, ids.iter().collect::<HashSet<_>>(), "every whistle was delivered");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_specific_errors_while_valid_whistles_keep_flowing() {
    let stack = Stack::start().await;
    let mut valid = Vec::new();
    let bad: Vec<(&str, Value, u16, &str)> = vec![
        ("unknown item", raise_body(TOWN, "CQ-NOPE-999", "x"), 422, "unknown_item"),
        ("unknown town", raise_body("500103999", DEPT_ITEM, "x"), 422, "unknown_town"),
        ("town holds it", raise_body(TOWN, TOWN_ITEM, "消防栓损坏"), 422, "town_holds_item"),
        ("missing field", json!({"town": TOWN, "item": DEPT_ITEM}), 400, "malformed_body"),
        (
            "unknown field",
            json!({"town": TOWN, "item": DEPT_ITEM, "description": "x", "location": {"lat": 1.0, "lon": 1.0, "address": "a"}, "priority": 1}),
            400,
            "malformed_body",
        ),
        (
            "latitude out of range",
            json!({"town": TOWN, "item": DEPT_ITEM, "description": "x", "location": {"lat": 95.0, "lon": 1.0, "address": "a"}}),
            400,
            "invalid_field",
        ),
        ("empty description", raise_body(TOWN, DEPT_ITEM, "   "), 400, "invalid_field"),
        ("oversized", raise_body(TOWN, DEPT_ITEM, &"x".repeat(100_000)), 413, "body_too_large"),
    ];
    for (what, body, status, code) in bad {
        let (got, answer) = stack.post("/api/v1/whistles", &body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what} explains itself");
        let (ok, accepted) = stack.raise(DEPT_ITEM, &format!("valid after {what}")).await;
        assert_eq!(ok, 202, "{accepted}");
        valid.push(accepted["id"].as_str().expect("id").to_owned());
    }
    // Not JSON at all.
    let resp = stack
        .http
        .post(format!("{}/api/v1/whistles", stack.api))
        .bearer_auth(token(&as_town(TOWN)))
        .header("content-type", "application/json")
        .body("{\"town\":")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    let unknown = "00000000-0000-7000-8000-000000000000";
    let (status, body) = stack.get(&format!("/api/v1/whistles/{unknown}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    assert_eq!(stack.get("/api/v1/whistles/not-a-uuid").await.0, 404);
    // An action the status does not allow.
    let first = &valid[0];
    stack.wait_for(first, |v| v["status"] == "dispatched").await;
    let (status, body) = stack.post(&format!("/api/v1/whistles/{first}/resolve"), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "{body}");
    let (status, body) = stack.post(&format!("/api/v1/whistles/{first}/reject"), &json!({"reason": ""})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    // Every valid whistle still went all the way.
    for id in &valid {
        let view = stack.wait_for(id, |v| v["status"] == "dispatched").await;
        assert_eq!(view["department"]["code"], DEPARTMENT);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_is_dead_lettered_with_its_reason_and_does_not_block_the_partition() {
    let stack = Stack::start().await;
    let producer: FutureProducer = whistle_common::kafka::client_config(&stack.iso.kafka).create().expect("producer");
    // Every partition gets garbage, so whichever one the next whistle lands on had poison first.
    for partition in 0..stack.iso.kafka.partitions {
        let record =
            FutureRecord::to(&stack.iso.kafka.topics.cases).key("poison").partition(partition).payload("{not an event");
        producer.send(record, Duration::from_secs(10)).await.expect("garbage is written");
    }
    let (status, body) = stack.raise(DEPT_ITEM, "after the poison").await;
    assert_eq!(status, 202);
    let id = body["id"].as_str().expect("id");
    stack.wait_for(id, |v| v["status"] == "dispatched").await;

    let consumer = dead_letter_reader(&stack);
    let mut by_consumer: HashMap<String, usize> = HashMap::new();
    let expected = stack.iso.kafka.partitions as usize * 3; // router, projector and SLA each
    while by_consumer.values().sum::<usize>() < expected {
        let msg = tokio::time::timeout(RECEIVE_TIMEOUT, consumer.recv())
            .await
            .expect("dead letters arrive")
            .expect("readable");
        let letter: Value = serde_json::from_slice(msg.payload().expect("payload")).expect("dead letters are JSON");
        assert_eq!(letter["payload"], "{not an event");
        assert!(letter["reason"].as_str().is_some_and(|r| r.contains("not a valid case event")), "{letter}");
        *by_consumer.entry(letter["consumer"].as_str().expect("consumer").to_owned()).or_default() += 1;
    }
    assert_eq!(by_consumer.len(), 3, "router, projector and SLA each dead-lettered: {by_consumer:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_raise_with_the_same_idempotency_key_returns_the_same_whistle() {
    let stack = Stack::start().await;
    let send = |key: &'static str, body: Value| {
        let (api, http) = (stack.api.clone(), stack.http.clone());
        async move {
            let resp = http
                .post(format!("{api}/api/v1/whistles"))
                .bearer_auth(token(&as_town(TOWN)))
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("sent");
            (resp.status().as_u16(), resp.json::<Value>().await.expect("json"))
        }
    };
    let body = raise_body(TOWN, DEPT_ITEM, "retried on a bad network");
    let (s1, first) = send("retry-1", body.clone()).await;
    let (s2, second) = send("retry-1", body.clone()).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first["id"], second["id"]);
    let id = first["id"].as_str().expect("id");
    let view = stack.wait_for(id, |v| v["status"] == "dispatched").await;
    let steps = whistle_steps(&view);
    assert_eq!(steps, ["whistle.raised", "whistle.dispatched"], "raised and dispatched once: {view}");
    let (s3, third) = send("retry-1", raise_body(TOWN, DEPT_ITEM, "a different request")).await;
    assert_eq!((s3, third["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn intake_shut_down_mid_burst_loses_no_accepted_whistle() {
    let stack = Stack::start().await;
    let mut sends = Vec::new();
    for n in 0..40 {
        let (api, http) = (stack.api.clone(), stack.http.clone());
        sends.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            let resp = http
                .post(format!("{api}/api/v1/whistles"))
                .bearer_auth(token(&as_town(TOWN)))
                .json(&raise_body(TOWN, DEPT_ITEM, &format!("burst {n}")))
                .send()
                .await;
            match resp {
                Ok(r) if r.status().as_u16() == 202 => {
                    Some(r.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned())
                }
                _ => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stack.intake_stop.cancel();
    let mut accepted = Vec::new();
    for s in sends {
        accepted.extend(s.await.expect("task"));
    }
    assert!(!accepted.is_empty(), "some whistles were accepted before the shutdown");
    // Intake is gone; read the outcome from Redis through a fresh intake on the same stores.
    let reader = whistle_intake::Application::build(intake_settings(&stack.iso)).await.expect("second intake");
    let api = format!("http://127.0.0.1:{}", reader.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let task = tokio::spawn(reader.run_until_stopped(async move { stopped.cancelled().await }));
    for id in &accepted {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            let body: Value = stack
                .http
                .get(format!("{api}/api/v1/whistles/{id}"))
                .bearer_auth(token(&as_manager()))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            if body["status"] == "dispatched" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "accepted whistle {id} was never dispatched: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(60), task).await;
    assert!(stopped.is_ok(), "the second intake did not stop within 60 s of its shutdown");
    stack.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_the_trimmed_history_cannot_resume() {
    let iso = Isolation::new();
    let conn = whistle_common::redis_conn::managed(&iso.redis).await.expect("redis");
    let store = whistle_casestore::CaseStore::new(conn.clone(), iso.redis.key_prefix.clone());
    let channel = whistle_casestore::Channel::Town("500103001".into());
    let key = store.stream_key(&channel);
    let mut ids = Vec::new();
    let mut c = conn.clone();
    for n in 0..20 {
        let id: String = redis::cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg(5)
            .arg("*")
            .arg("n")
            .arg(n)
            .query_async(&mut c)
            .await
            .expect("xadd");
        ids.push(id.parse::<whistle_casestore::Cursor>().expect("cursor"));
    }
    assert!(!store.can_resume(&channel, ids[0]).await.expect("redis"), "entries after the first were trimmed");
    assert!(!store.can_resume(&channel, ids[13]).await.expect("redis"), "entry 14 was trimmed");
    assert!(store.can_resume(&channel, ids[15]).await.expect("redis"), "every entry after 16 is kept");
    assert!(store.can_resume(&channel, ids[19]).await.expect("redis"), "the latest cursor resumes");
    let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut c).await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_conflicting_actions_sent_at_once_are_not_both_accepted() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let (status, body) = stack.raise(DEPT_ITEM, &format!("conflict {n}")).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        stack.wait_for(id, |v| v["status"] == "dispatched").await;
    }
    let officer = as_department(DEPARTMENT);
    for id in &ids {
        let ack = format!("/api/v1/whistles/{id}/acknowledge");
        let reject = format!("/api/v1/whistles/{id}/reject");
        let (empty, reason) = (json!({}), json!({"reason": "不属于本部门"}));
        let (a, r) = tokio::join!(stack.post_as(&officer, &ack, &empty), stack.post_as(&officer, &reject, &reason));
        let accepted = [a.0, r.0].iter().filter(|s| **s == 202).count();
        assert_eq!(accepted, 1, "exactly one of acknowledge {a:?} and reject {r:?} is accepted");
        let loser = if a.0 == 202 { &r } else { &a };
        assert_eq!(loser.0, 409, "{loser:?}");
        assert!(
            ["action_in_progress", "invalid_transition"].contains(&loser.1["error"]["code"].as_str().unwrap_or("")),
            "{loser:?}"
        );
        // The timeline agrees with what was answered.
        let winner = if a.0 == 202 { "whistle.acknowledged" } else { "whistle.rejected" };
        let view = stack
            .wait_for(id, |v| v["timeline"].as_array().is_some_and(|t| t.iter().any(|s| s["type"] == winner)))
            .await;
        let acted: Vec<&str> = view["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter_map(|s| s["type"].as_str())
            .filter(|t| ["whistle.acknowledged", "whistle.rejected"].contains(t))
            .collect();
        assert_eq!(acted, [winner], "{view}");
    }
    // Once the first action is recorded, the next one is accepted as usual.
    let id = &ids[0];
    let (_, view) = stack.get(&format!("/api/v1/whistles/{id}")).await;
    if view["status"] == "acknowledged" {
        assert_eq!(stack.post_as(&officer, &format!("/api/v1/whistles/{id}/arrive"), &json!({})).await.0, 202);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_idempotency_keys_on_one_request_are_refused() {
    let stack = Stack::start().await;
    let resp = stack
        .http
        .post(format!("{}/api/v1/whistles", stack.api))
        .bearer_auth(token(&as_town(TOWN)))
        .header("Idempotency-Key", "a-1")
        .header("Idempotency-Key", "a-2")
        .json(&raise_body(TOWN, DEPT_ITEM, "which key?"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("Idempotency-Key"), "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_case_record_sends_its_event_to_the_dead_letters_and_the_partition_moves_on() {
    // One partition, so the corrupt case and the next whistle share it.
    let mut iso = Isolation::new();
    iso.kafka.partitions = 1;
    let stack = Stack::start_with(iso).await;
    let (_, body) = stack.raise(DEPT_ITEM, "its record will be corrupted").await;
    let broken = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&broken, |v| v["status"] == "dispatched").await;

    // Something wrote garbage over the stored case.
    let redis = redis::Client::open(std::env::var("WHISTLE_TEST_REDIS").expect("WHISTLE_TEST_REDIS")).expect("url");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    let key = format!("{}case:{broken}", stack.iso.redis.key_prefix);
    // Both fields, so a projection write already under way (its compare-and-set is on the
    // version) cannot quietly put a good record back.
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg("v")
        .arg("not a version")
        .arg("json")
        .arg("{\"id\": 7")
        .query_async(&mut conn)
        .await
        .expect("hset");

    // A later event for it: the projector cannot read the case it applies to.
    let event = whistle_schemas::events::CaseEvent::new(
        uuid::Uuid::new_v4(),
        "/test",
        broken.parse().expect("uuid"),
        chrono::Utc::now(),
        whistle_schemas::events::CaseEventBody::Acknowledged(whistle_schemas::events::Acted {
            actor: whistle_schemas::events::Actor::new(whistle_schemas::events::ActorKind::Department, DEPARTMENT),
        }),
    );
    stack.produce(&event).await;

    // The next whistle on the same partition still reaches its board.
    let mut board = stack.board().await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    board.until(|f| f["type"] == "snapshot").await;
    let (_, body) = stack.raise(DEPT_ITEM, "after the corrupt one").await;
    let next = body["id"].as_str().expect("id").to_owned();
    board.until(|f| is_event(f, "whistle.dispatched", &next)).await;

    // The event went to the dead letters, with the reason.
    let letter = projector_dead_letter(&stack).await;
    let reason = letter["reason"].as_str().unwrap_or("");
    assert!(reason.contains(&broken) && reason.contains("does not decode"), "{letter}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_the_case_refuses_is_kept_in_the_dead_letters_with_the_reason() {
    let stack = Stack::start().await;
    let (_, body) = stack.raise(DEPT_ITEM, "还没受理").await;
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    // A resolution for a case nobody acknowledged (another writer's mistake): it does not fit.
    let event = whistle_schemas::events::CaseEvent::new(
        uuid::Uuid::new_v4(),
        "/test",
        id.parse().expect("uuid"),
        chrono::Utc::now(),
        whistle_schemas::events::CaseEventBody::Resolved(whistle_schemas::events::Resolved {
            actor: whistle_schemas::events::Actor::new(whistle_schemas::events::ActorKind::Department, DEPARTMENT),
            note: None,
        }),
    );
    stack.produce(&event).await;
    let letter = projector_dead_letter(&stack).await;
    let reason = letter["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("the case refuses whistle.resolved: cannot resolve a whistle that is dispatched"),
        "{letter}"
    );
    let view = stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    assert!(view["timeline"].as_array().expect("timeline").iter().all(|t| t["type"] != "whistle.resolved"));
    stack.stop().await;
}
