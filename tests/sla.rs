//! SLA clocks end to end: real Kafka, real Redis, a policy with second-long deadlines.

use std::time::Duration;

use serde_json::{Value, json};
use whistle_tests::*;

fn timeline_types(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .map(|t| t.iter().filter_map(|e| e["type"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn count(view: &Value, kind: &str, detail_prefix: &str) -> usize {
    view["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|e| e["type"] == kind && e["detail"].as_str().is_some_and(|d| d.starts_with(detail_prefix)))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unacknowledged_whistle_warns_breaches_and_escalates_to_the_command_centre() {
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let mut manager = stack.board().await;
    manager.subscribe("manager:500103", None).await;
    assert_eq!(manager.next().await["type"], "snapshot");

    let (status, body) = stack.raise(DEPT_ITEM, "nobody answers").await;
    assert_eq!(status, 202);
    let id = body["id"].as_str().expect("id").to_owned();
    let scheduled = stack.wait_for(&id, |v| v["deadlines"]["acknowledge"].is_string()).await;
    assert!(scheduled["deadlines"]["arrive"].is_string(), "all three clocks run: {scheduled}");

    let view =
        stack.wait_for(&id, |v| timeline_types(v).iter().filter(|t| *t == "whistle.escalated").count() == 3).await;
    let types = timeline_types(&view);
    let pos = |kind: &str| types.iter().position(|t| t == kind).unwrap_or_else(|| panic!("{kind} in {types:?}"));
    assert!(pos("sla.warning") < pos("sla.breached"), "{types:?}");
    assert!(pos("sla.breached") < pos("whistle.escalated"), "{types:?}");
    assert_eq!(count(&view, "sla.breached", "acknowledge"), 1, "one breach per deadline");
    assert_eq!(view["overdue"], json!(["acknowledge"]));
    assert_eq!(view["status"], "dispatched", "SLA events do not change the status");
    let last = view["timeline"]
        .as_array()
        .and_then(|t| t.iter().rev().find(|e| e["type"] == "whistle.escalated"))
        .expect("escalation");
    assert!(last["detail"].as_str().is_some_and(|d| d.contains("command_centre")), "{last}");

    // Managers saw the breach live.
    let (_, frame) = manager.until(|f| event_of(f) == Some(("sla.breached", id.as_str()))).await;
    assert_eq!(frame["case"]["overdue"], json!(["acknowledge"]));

    // The summary counts it as overdue now and breached.
    let summary: Value = stack
        .http
        .get(format!("{}/api/v1/sla/summary?district=500103", stack.sla))
        .bearer_auth(token(&as_manager()))
        .send()
        .await
        .expect("summary")
        .json()
        .await
        .expect("json");
    assert_eq!(summary["total"]["dispatched"], 1, "{summary}");
    assert_eq!(summary["total"]["breach_rate"], 1.0, "{summary}");
    assert_eq!(summary["total"]["overdue_now"], 1, "{summary}");
    assert!(
        summary["total"]["mtta_seconds"].as_f64().is_some_and(|s| s >= 3.0),
        "the open case counts with its age: {summary}"
    );
    assert_eq!(summary["departments"][0]["department"], DEPARTMENT);
    assert_eq!(summary["departments"][0]["names"]["zh"], "渝中区生态环境局");
    let metrics =
        stack.http.get(format!("{}/metrics", stack.sla)).send().await.expect("metrics").text().await.expect("text");
    let breaches = metrics
        .lines()
        .find(|l| l.starts_with("whistle_sla_breaches_total{") && l.contains("stage=\"acknowledge\""))
        .unwrap_or_else(|| panic!("a breach counter: {metrics}"));
    assert!(breaches.ends_with(" 1"), "{breaches}");
    let bad = stack
        .http
        .get(format!("{}/api/v1/sla/summary?window_hours=0", stack.sla))
        .bearer_auth(token(&as_manager()))
        .send()
        .await
        .expect("summary");
    assert_eq!(bad.status().as_u16(), 400);

    // Acting ends it: the case leaves the managers' view.
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await.0, 202);
    let view = stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    assert_eq!(view["overdue"], json!(null), "nothing overdue once acknowledged: {view}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_sla_service_before_a_deadline_still_fires_the_breach_once() {
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let (status, body) = stack.raise(DEPT_ITEM, "the SLA service dies").await;
    assert_eq!(status, 202);
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["deadlines"]["acknowledge"].is_string()).await;
    // kill -9: no graceful shutdown, no final commit.
    stack.sla_task.abort();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let view = stack.wait_for(&id, |_| true).await;
    assert_eq!(count(&view, "sla.breached", "acknowledge"), 0, "nobody fired while the service was down");

    let (_, again) = start_sla(&stack.iso, fast_sla_policy()).await;
    let view = stack
        .wait_for(&id, |v| {
            count(v, "sla.breached", "acknowledge") == 1 && count(v, "whistle.escalated", "acknowledge") == 3
        })
        .await;
    // Give a duplicate every chance to show up, then count again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let view_later = stack.wait_for(&id, |_| true).await;
    assert_eq!(count(&view_later, "sla.breached", "acknowledge"), 1, "{view}");
    assert_eq!(count(&view_later, "sla.warning", "acknowledge"), 1);
    again.abort();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_case_does_not_breach_until_it_is_resumed() {
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let (_, body) = stack.raise(DEPT_ITEM, "waiting for the owner").await;
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["deadlines"]["acknowledge"].is_string()).await;
    let (status, answer) =
        stack.post(&format!("/api/v1/whistles/{id}/pause"), &json!({"reason": "业主不在，约定明天上门"})).await;
    assert_eq!(status, 202, "{answer}");
    let paused = stack.wait_for(&id, |v| v["deadlines"]["paused"] == true).await;
    assert_eq!(paused["paused"], true);
    let (status, answer) = stack.post(&format!("/api/v1/whistles/{id}/pause"), &json!({"reason": "again"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("invalid_transition")));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let view = stack.wait_for(&id, |_| true).await;
    assert_eq!(count(&view, "sla.breached", "acknowledge"), 0, "paused time does not count: {view}");
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/resume"), &json!({})).await.0, 202);
    stack.wait_for(&id, |v| count(v, "sla.breached", "acknowledge") == 1).await;
    let (status, _) = stack.post(&format!("/api/v1/whistles/{id}/resume"), &json!({})).await;
    assert_eq!(status, 409, "not paused any more");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_for_a_district_that_does_not_exist_is_not_found() {
    let iso = Isolation::new();
    let (sla, task) = start_sla(&iso, default_sla_policy()).await;
    let http = reqwest::Client::new();
    let get = |district: &str| {
        http.get(format!("{sla}/api/v1/sla/summary?district={district}")).bearer_auth(token(&as_manager())).send()
    };
    let resp = get("999999").await.expect("sent");
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert_eq!(get("500103").await.expect("sent").status().as_u16(), 200);
    task.abort();
    iso.clean_up().await;
}

/// The `policy` of the `sla.scheduled` event for `id`, from a board.
async fn scheduled_policy(board: &mut Board, id: &str) -> String {
    let (_, frame) = board.until(|f| event_of(f) == Some(("sla.scheduled", id))).await;
    frame["event"]["data"]["policy"].as_str().expect("policy").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sla_service_follows_registry_changes_live() {
    let stack = Stack::start().await;
    let mut board = stack.board().await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    board.until(|f| f["type"] == "snapshot").await;
    let (_, body) = stack.raise(DEPT_ITEM, "危废桶泄漏").await;
    let id = body["id"].as_str().expect("id").to_owned();
    let before = scheduled_policy(&mut board, &id).await;
    assert!(before.starts_with("default"), "an environment item runs on business hours: {before}");

    // The city office reclassifies the item as a fire-safety one (a registry change, published
    // on the registry topic): new whistles for it run on the round-the-clock policy.
    let registry = whistle_registry::Registry::load(&registry_path()).expect("registry");
    let rows: Vec<String> = whistle_registry::csv::export(&registry)
        .lines()
        .filter(|l| l.starts_with(&format!("{DEPT_ITEM},")))
        .map(|l| l.replacen(",environment,", ",fire_safety,", 1))
        .collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains(",fire_safety,")), "{rows:?}");
    let csv = format!("{}\r\n{}\r\n", whistle_registry::csv::HEADER.join(","), rows.join("\r\n"));
    let (status, report) = stack.import_csv(csv).await;
    assert_eq!(status, 200, "{report}");

    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (_, body) = stack.raise(DEPT_ITEM, "危废桶泄漏，又一起").await;
        let id = body["id"].as_str().expect("id").to_owned();
        let policy = scheduled_policy(&mut board, &id).await;
        if policy.starts_with("urgent") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the SLA service never saw the change: still {policy}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.stop().await;
}
