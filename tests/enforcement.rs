//! A town's own enforcement case through the API, on the in-process services with real Kafka and
//! Redis: the administrative penalty procedure step by step, the statutory range and the
//! benchmark, the supervisors' review queue; and closing the loop on whistles (confirm, reopen,
//! comments).

use serde_json::{Value, json};
use whistle_auth::{Principal, Role};
use whistle_tests::*;

const CREDIT_CODE: &str = "91500103MA60XY312F";

fn supervisor() -> Principal {
    Principal::new("supervisor-500103", Role::Supervisor { district: Some("500103".into()) })
}

fn open_body(item: &str) -> Value {
    json!({
        "item": item,
        "description": "消防通道被纸箱堵塞",
        "location": {"lat": 29.56, "lon": 106.57, "address": "渝中区解放碑某商场"},
        "subject": {"kind": "unit", "name": "某商贸有限公司", "credit_code": CREDIT_CODE},
    })
}

/// Polls `GET /api/v1/cases/{id}` as the town until `pred` holds.
async fn wait_case(stack: &Stack, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (status, view) = stack.get_as(&as_town(TOWN), &format!("/api/v1/cases/{id}")).await;
        if status == 200 && pred(&view) {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "case {id} never matched; last: {status} {view}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn step(stack: &Stack, id: &str, step: &str, body: Value) -> (u16, Value) {
    stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/{step}"), &body).await
}

/// The statutory range for units of `item`, from the registry API.
async fn unit_range(stack: &Stack, item: &str) -> (u64, u64) {
    let url = format!("{}/api/v1/registry/items/{item}", stack.registry);
    let resp = stack.http.get(url).bearer_auth(token(&as_town(TOWN))).send().await.expect("sent");
    let item: Value = resp.json().await.expect("json");
    let unit = &item["statutory"]["unit"];
    (unit["min_yuan"].as_u64().expect("a unit minimum"), unit["max_yuan"].as_u64().expect("a unit maximum"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_town_case_walks_the_penalty_procedure_and_an_override_reaches_the_supervisor() {
    let stack = Stack::start().await;
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open_body(TOWN_ITEM)).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("registered")), "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let view = wait_case(&stack, &id, |v| v["status"] == "registered").await;
    assert_eq!(view["kind"], "enforcement");
    assert_eq!(view["subject"]["credit_code"], CREDIT_CODE, "{view}");
    assert!(view["procedure"]["decide_by"].is_string(), "the 90-day limit: {view}");
    // The SLA service runs the statutory limit as a clock of its own.
    let view = wait_case(&stack, &id, |v| v["deadlines"]["decide"].is_string()).await;
    assert_eq!(view["deadlines"]["decide"], view["procedure"]["decide_by"], "{view}");

    // Out of order: nothing to notify before an investigation.
    let (status, body) = step(&stack, &id, "notify", json!({"intended": "a fine"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "{body}");
    // An officer who is not the town's is refused; one officer is not enough.
    let (status, body) =
        step(&stack, &id, "investigate", json!({"officers": [format!("{TOWN}-01"), "500104001-01"], "evidence": "x"}))
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("officer_not_certified")), "{body}");
    let (status, body) =
        step(&stack, &id, "investigate", json!({"officers": [format!("{TOWN}-01")], "evidence": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("two_officers_required")), "{body}");

    let (status, body) = step(&stack, &id, "persuade", json!({"outcome": "refused", "note": "不予配合"})).await;
    assert_eq!(status, 202, "{body}");
    wait_case(&stack, &id, |v| v["status"] == "persuaded").await;
    let officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "现场照片、询问笔录"});
    assert_eq!(step(&stack, &id, "investigate", officers).await.0, 202);
    wait_case(&stack, &id, |v| v["status"] == "investigated").await;
    let (status, body) = step(&stack, &id, "decide", json!({"outcome": "fine", "fine_yuan": 6000})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "notify first: {body}");
    assert_eq!(step(&stack, &id, "notify", json!({"intended": "拟罚款"})).await.0, 202);
    wait_case(&stack, &id, |v| v["status"] == "notified").await;

    // Outside the law: refused, and a reason does not help.
    let (min, max) = unit_range(&stack, TOWN_ITEM).await;
    let (status, body) =
        step(&stack, &id, "decide", json!({"outcome": "fine", "fine_yuan": max + 1, "override_reason": "any"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("outside_statutory_range")), "{body}");
    if min > 0 {
        let (status, body) = step(&stack, &id, "decide", json!({"outcome": "fine", "fine_yuan": min - 1})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("outside_statutory_range")), "{body}");
    }
    // The law's maximum for a first offence leaves the benchmark tier: a reason is required.
    let (status, body) = step(&stack, &id, "decide", json!({"outcome": "fine", "fine_yuan": max})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("override_reason_required")), "{body}");
    let overridden = json!({"outcome": "fine", "fine_yuan": max, "override_reason": "多处通道长期堵塞"});
    assert_eq!(step(&stack, &id, "decide", overridden).await.0, 202);
    let view = wait_case(&stack, &id, |v| v["status"] == "decided").await;
    assert_eq!(view["procedure"]["decision"]["overridden"], true, "{view}");
    assert!(view["benchmark"]["tier"].is_string(), "the tier that applied: {view}");

    // The override is in the district supervisor's queue; a department cannot see the queue.
    let (status, queue) = stack.get_as(&supervisor(), "/api/v1/supervision/queue").await;
    assert_eq!(status, 200, "{queue}");
    let item = queue["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["case"] == id.as_str() && i["reason"] == "override")
        .cloned()
        .unwrap_or_else(|| panic!("the override is queued: {queue}"));
    let (status, _) = stack.get_as(&as_department(DEPARTMENT), "/api/v1/supervision/queue").await;
    assert_eq!(status, 403);
    // A supervisor never acts on a case.
    let (status, _) = stack.post_as(&supervisor(), &format!("/api/v1/cases/{id}/serve"), &json!({})).await;
    assert_eq!(status, 403);
    let review = json!({"verdict": "upheld", "note": "情节属实，裁量理由充分"});
    let path = format!("/api/v1/supervision/{}/review", item["id"].as_str().expect("an item id"));
    let (status, body) = stack.post_as(&supervisor(), &path, &review).await;
    assert_eq!(status, 202, "{body}");
    let view = wait_case(&stack, &id, |v| {
        v["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == "case.reviewed"))
    })
    .await;
    assert!(view.get("review").is_none_or(|r| r.as_array().is_some_and(|r| r.is_empty())), "{view}");
    let (status, body) = stack.post_as(&supervisor(), &path, &review).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("nothing_to_review")), "reviewed once: {body}");

    assert_eq!(step(&stack, &id, "serve", json!({})).await.0, 202);
    wait_case(&stack, &id, |v| v["status"] == "served").await;
    assert_eq!(step(&stack, &id, "close", json!({"note": "罚款已缴纳"})).await.0, 202);
    let view = wait_case(&stack, &id, |v| v["status"] == "closed").await;
    let steps: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["type"].as_str()).collect();
    for expected in [
        "case.registered",
        "case.persuaded",
        "case.investigated",
        "case.notified",
        "case.decided",
        "case.served",
        "case.closed",
    ] {
        assert!(steps.contains(&expected), "{expected} in {steps:?}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_town_cannot_open_a_case_for_an_item_it_does_not_hold_and_a_department_cannot_open_one() {
    let stack = Stack::start().await;
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open_body(DEPT_ITEM)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("town_lacks_authority")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains(DEPARTMENT), "names the holder: {body}");
    let (status, body) = stack.post_as(&as_department(DEPARTMENT), "/api/v1/cases", &open_body(TOWN_ITEM)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let mut no_code = open_body(TOWN_ITEM);
    no_code["subject"] = json!({"kind": "unit", "name": "某公司"});
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &no_code).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolved_whistle_is_reopened_to_its_department_then_confirmed_with_comments_on_both_boards() {
    let stack = Stack::start().await;
    let mut town_board = Board::connect_as(&stack.ws, &as_town(TOWN)).await;
    town_board.subscribe(&format!("town:{TOWN}"), None).await;
    let _snapshot = town_board.next().await;
    let (status, body) = stack.raise(DEPT_ITEM, "河边有废油桶").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    for action in ["acknowledge", "resolve"] {
        assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/{action}"), &json!({})).await.0, 202);
        stack
            .wait_for(&id, |v| {
                v["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == format!("whistle.{action}d")))
            })
            .await;
    }
    let (status, body) =
        stack.post_as(&as_town(TOWN), &format!("/api/v1/whistles/{id}/reopen"), &json!({"reason": "油桶仍在"})).await;
    assert_eq!(status, 202, "{body}");
    let view = stack.wait_for(&id, |v| v["status"] == "dispatched" && v["reopens"] == 1).await;
    assert_eq!(view["department"]["code"], DEPARTMENT, "back to the same department");
    // The department's board holds the case again; a comment reaches both boards.
    let (status, body) = stack
        .post_as(
            &as_department(DEPARTMENT),
            &format!("/api/v1/whistles/{id}/comments"),
            &json!({"text": "下午三点复查"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    loop {
        let frame = town_board.next().await;
        if event_of(&frame) == Some(("case.commented", id.as_str())) {
            assert_eq!(frame["event"]["data"]["text"], "下午三点复查");
            break;
        }
    }
    for (action, status) in [("acknowledge", "acknowledged"), ("resolve", "resolved")] {
        assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/{action}"), &json!({})).await.0, 202);
        stack.wait_for(&id, |v| v["status"] == status).await;
    }
    let (status, body) = stack
        .post_as(&as_town(OTHER_TOWN_FOR_TESTS), &format!("/api/v1/whistles/{id}/confirm"), &json!({"rating": 5}))
        .await;
    assert_eq!(status, 403, "another town: {body}");
    let (status, body) =
        stack.post_as(&as_town(TOWN), &format!("/api/v1/whistles/{id}/confirm"), &json!({"rating": 9})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let (status, body) = stack
        .post_as(
            &as_town(TOWN),
            &format!("/api/v1/whistles/{id}/confirm"),
            &json!({"rating": 4, "comment": "处理及时"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let view = stack.wait_for(&id, |v| v["confirmation"]["rating"] == 4).await;
    assert_eq!(view["status"], "resolved");
    let (status, body) =
        stack.post_as(&as_town(TOWN), &format!("/api/v1/whistles/{id}/reopen"), &json!({"reason": "again"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "confirmed: {body}");
    stack.stop().await;
}

const OTHER_TOWN_FOR_TESTS: &str = "500103002";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_towns_investigation_counts_with_a_departments_inspection_of_the_same_unit() {
    let stack = Stack::start().await;
    // A department inspects the unit in a whistle.
    let (status, body) = stack.raise(DEPT_ITEM, "河边有废油桶").await;
    assert_eq!(status, 202, "{body}");
    let whistle = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&whistle, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{whistle}/acknowledge"), &json!({})).await.0, 202);
    stack.wait_for(&whistle, |v| v["status"] == "acknowledged").await;
    let inspect = json!({"subject": {"credit_code": CREDIT_CODE}});
    let (status, body) = stack.post(&format!("/api/v1/whistles/{whistle}/inspect"), &inspect).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["warnings"].as_array().is_some_and(|w| w.is_empty()), "the first inspection: {body}");
    // A re-check is not a new inspection.
    let recheck = json!({"subject": {"credit_code": CREDIT_CODE}, "recheck": true});
    for _ in 0..3 {
        let (status, body) = stack.post(&format!("/api/v1/whistles/{whistle}/inspect"), &recheck).await;
        assert_eq!(status, 202, "{body}");
        assert!(body["warnings"].as_array().is_some_and(|w| w.is_empty()), "a re-check: {body}");
    }

    // The town's own case investigates the same unit: two bodies within the window.
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open_body(TOWN_ITEM)).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    wait_case(&stack, &id, |v| v["status"] == "registered").await;
    let officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-03")], "evidence": "现场检查"});
    assert_eq!(step(&stack, &id, "investigate", officers).await.0, 202);
    let view = wait_case(&stack, &id, |v| v["fences"].as_array().is_some_and(|f| !f.is_empty())).await;
    let fence = &view["fences"][0];
    assert!(fence["detail"].as_str().unwrap_or("").contains("multi_department_inspection"), "{view}");
    assert!(fence["detail"].as_str().unwrap_or("").contains(DEPARTMENT), "names the other body: {fence}");
    stack.stop().await;
}

/// Polls `GET /api/v1/cases/{id}` as `who` until `pred` holds.
async fn wait_case_as(stack: &Stack, who: &Principal, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (status, view) = stack.get_as(who, &format!("/api/v1/cases/{id}")).await;
        if status == 200 && pred(&view) {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "case {id} never matched; last: {status} {view}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_department_records_the_penalty_procedure_on_a_whistle_it_owns_as_its_own_case() {
    let stack = Stack::start().await;
    let dept = as_department(DEPARTMENT);
    let (status, body) = stack.raise(DEPT_ITEM, "河边倾倒废油").await;
    assert_eq!(status, 202, "{body}");
    let whistle = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&whistle, |v| v["status"] == "dispatched").await;
    let mut open = open_body(DEPT_ITEM);
    open["description"] = json!("河边倾倒废油，立案查处");
    open["from_whistle"] = json!(whistle);

    // Not before the department has taken the whistle on.
    let (status, body) = stack.post_as(&dept, "/api/v1/cases", &open).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "{body}");
    assert_eq!(stack.post(&format!("/api/v1/whistles/{whistle}/acknowledge"), &json!({})).await.0, 202);
    stack.wait_for(&whistle, |v| v["status"] == "acknowledged").await;
    // Only from a whistle the department owns, and for an item it holds there.
    let (status, body) = stack.post_as(&as_department("500103-MS"), "/api/v1/cases", &open).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let mut town_item = open.clone();
    town_item["item"] = json!(TOWN_ITEM);
    let (status, body) = stack.post_as(&dept, "/api/v1/cases", &town_item).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("not_item_holder")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains(TOWN), "names the holder: {body}");

    let (status, body) = stack.post_as(&dept, "/api/v1/cases", &open).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("registered")), "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let view = wait_case_as(&stack, &dept, &id, |v| v["status"] == "registered").await;
    assert_eq!(view["kind"], "enforcement");
    assert_eq!(view["department"]["code"], DEPARTMENT, "{view}");
    assert_eq!(view["procedure"]["from_whistle"], whistle.as_str());
    assert_eq!(view["timeline"][0]["actor"]["code"], DEPARTMENT);
    // The raising town follows it (without the party's particulars) and takes no step.
    let town_view = wait_case(&stack, &id, |v| v["status"] == "registered").await;
    assert_eq!(town_view["subject"]["name"], "withheld", "a town does not see the party: {town_view}");
    assert!(!town_view.to_string().contains(CREDIT_CODE), "nor its credit code: {town_view}");
    let officers =
        json!({"officers": [format!("{DEPARTMENT}-01"), format!("{DEPARTMENT}-02")], "evidence": "现场取样"});
    assert_eq!(step(&stack, &id, "investigate", officers.clone()).await.0, 403, "the town takes no step");

    let dept_step = |name: &'static str, body: Value| {
        let stack = &stack;
        let dept = &dept;
        let id = id.clone();
        async move { stack.post_as(dept, &format!("/api/v1/cases/{id}/{name}"), &body).await }
    };
    let town_officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "现场取样"});
    let (status, body) = dept_step("investigate", town_officers).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("officer_not_certified")), "{body}");
    let (status, body) = dept_step("investigate", officers).await;
    assert_eq!(status, 202, "{body}");
    wait_case_as(&stack, &dept, &id, |v| v["status"] == "investigated").await;
    assert_eq!(dept_step("notify", json!({"intended": "拟罚款"})).await.0, 202);
    wait_case_as(&stack, &dept, &id, |v| v["status"] == "notified").await;
    let (min, _) = unit_range(&stack, DEPT_ITEM).await;
    let (status, body) =
        dept_step("decide", json!({"outcome": "fine", "fine_yuan": min, "override_reason": "面积较大"})).await;
    assert_eq!(status, 202, "{body}");
    let view = wait_case_as(&stack, &dept, &id, |v| v["status"] == "decided").await;
    assert_eq!(view["procedure"]["decision"]["fine_yuan"], min, "{view}");
    assert_eq!(
        view["timeline"].as_array().and_then(|t| t.last()).map(|e| e["actor"]["code"].clone()),
        Some(json!(DEPARTMENT))
    );
    for (name, status) in [("serve", "served"), ("close", "closed")] {
        assert_eq!(dept_step(name, json!({})).await.0, 202, "{name}");
        wait_case_as(&stack, &dept, &id, |v| v["status"] == status).await;
    }
    // Another department reads nothing of it.
    assert_eq!(stack.get_as(&as_department("500103-MS"), &format!("/api/v1/cases/{id}")).await.0, 403);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_penalty_by_a_body_that_no_longer_holds_the_item_is_refused_and_recorded_as_a_fence() {
    let stack = Stack::start().await;
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open_body(TOWN_ITEM)).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    wait_case(&stack, &id, |v| v["status"] == "registered").await;
    let officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "现场检查"});
    assert_eq!(step(&stack, &id, "investigate", officers).await.0, 202);
    wait_case(&stack, &id, |v| v["status"] == "investigated").await;
    assert_eq!(step(&stack, &id, "notify", json!({"intended": "拟罚款"})).await.0, 202);
    wait_case(&stack, &id, |v| v["status"] == "notified").await;

    // The item is recovered to the district's fire brigade while the case is open.
    let recover = json!({"district": "500103", "reason": "消防专项整治", "actor": "city-office", "department_type": "FR",
        "effective_from": (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
    let resp = stack
        .http
        .post(format!("{}/api/v1/registry/items/{TOWN_ITEM}/recover", stack.registry))
        .bearer_auth(token(&as_admin()))
        .json(&recover)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (_, route) = stack.get(&format!("/api/v1/route?town={TOWN}&item={TOWN_ITEM}")).await;
        if route["outcome"] == "department" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "intake never applied the recovery: {route}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (min, _) = unit_range(&stack, TOWN_ITEM).await;
    let decide = json!({"outcome": "fine", "fine_yuan": min, "override_reason": "无论如何"});
    let (status, body) = step(&stack, &id, "decide", decide).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("not_item_holder")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("500103-FR"), "names the holder: {body}");
    // The attempt is on the record for the supervisors; the case is still undecided.
    let view = wait_case_as(&stack, &supervisor(), &id, |v| {
        v["fences"]
            .as_array()
            .is_some_and(|f| f.iter().any(|e| e["detail"].as_str().unwrap_or("").contains("not_item_holder")))
    })
    .await;
    assert_eq!(view["status"], "notified");
    // Not penalising is still the town's to decide (outside the tier: with a reason, reviewed).
    let no_penalty = json!({"outcome": "no_penalty", "override_reason": "事项已收回，移交区消防救援支队"});
    let (status, body) = step(&stack, &id, "decide", no_penalty).await;
    assert_eq!(status, 202, "{body}");
    wait_case(&stack, &id, |v| v["status"] == "decided").await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_assisting_department_penalises_only_for_an_item_it_holds() {
    let stack = Stack::start().await;
    let mut body = raise_body(TOWN, DEPT_ITEM, "河边废油桶，城管协助");
    body["assist"] = json!(["UM"]);
    let (status, answer) = stack.post("/api/v1/whistles", &body).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await.0, 202);
    stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    let um = as_department("500103-UM");
    let penalty = json!({"subject": {"credit_code": CREDIT_CODE}, "amount_yuan": 1000, "override_reason": "x"});
    // The lead's item is the ecology bureau's: the urban management bureau may not penalise it.
    let (status, body) = stack.post_as(&um, &format!("/api/v1/whistles/{id}/penalty"), &penalty).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("not_item_holder")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains(DEPARTMENT), "names the holder: {body}");
    let view = stack
        .wait_for(&id, |v| {
            v["timeline"].as_array().is_some_and(|t| {
                t.iter().any(|e| {
                    e["type"] == "whistle.fenced" && e["detail"].as_str().unwrap_or("").contains("not_item_holder")
                })
            })
        })
        .await;
    assert!(!view["timeline"].as_array().expect("timeline").iter().any(|e| e["type"] == "whistle.penalised"));
    // For an item it holds in the town (CQ-CITY-003 was recovered to it), it may.
    let mut own = penalty.clone();
    own["item"] = json!("CQ-CITY-003");
    let (status, body) = stack.post_as(&um, &format!("/api/v1/whistles/{id}/penalty"), &own).await;
    assert_eq!(status, 202, "{body}");
    let view = stack
        .wait_for(&id, |v| v["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == "whistle.penalised")))
        .await;
    let penalised =
        view["timeline"].as_array().expect("timeline").iter().find(|e| e["type"] == "whistle.penalised").cloned();
    assert_eq!(penalised.map(|e| e["actor"]["code"].clone()), Some(json!("500103-UM")));
    stack.stop().await;
}
