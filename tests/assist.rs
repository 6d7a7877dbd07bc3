//! Assisted enforcement through the API: item suggestion, and each electronic fence seen on the
//! case timeline and on a live board. In-process services against the real Kafka and Redis.

use serde_json::{Value, json};
use whistle_tests::*;

async fn suggest(stack: &Stack, text: &str) -> (u16, Value) {
    let resp = stack
        .http
        .get(format!("{}/api/v1/assist/suggest", stack.api))
        .bearer_auth(token(&as_town(TOWN)))
        .query(&[("text", text)])
        .send()
        .await
        .expect("request is sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_description_suggests_the_item_with_its_names_and_matched_terms() {
    let stack = Stack::start().await;
    let (status, body) = suggest(&stack, "河边有废油桶泄漏，味道很大").await;
    assert_eq!(status, 200, "{body}");
    let first = &body["suggestions"][0];
    assert_eq!(first["item"], DEPT_ITEM, "{body}");
    assert_eq!(first["names"]["zh"], "非法处置危险废物");
    assert!(first["score"].as_f64().expect("a score") > 0.0);
    assert!(!first["matched"].as_array().expect("matched terms").is_empty());
    let scores: Vec<f64> =
        body["suggestions"].as_array().expect("list").iter().map(|s| s["score"].as_f64().unwrap_or(0.0)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");

    let (status, body) = suggest(&stack, "someone is blocking the fire exit with boxes").await;
    assert_eq!(status, 200);
    assert_eq!(body["suggestions"][0]["item"], "CQ-FIRE-002", "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_suggestion_input_gets_a_clear_answer_never_a_panic() {
    let stack = Stack::start().await;
    for blank in ["", "   "] {
        let (status, body) = suggest(&stack, blank).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_field");
        assert!(body["error"]["message"].as_str().unwrap_or("").starts_with("text:"), "{body}");
    }
    let (status, body) = stack.get("/api/v1/assist/suggest").await;
    assert_eq!(status, 400, "no text at all: {body}");

    let (status, body) = suggest(&stack, &"河边有油桶".repeat(600)).await;
    assert_eq!(status, 400, "3,000 characters in the URL");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("at most 2000"), "{body}");
    // 100 KB does not fit in a URL at all; pasted into the POST form it meets the body limit.
    let (status, body) =
        stack.post("/api/v1/assist/suggest", &serde_json::json!({"text": "油".repeat(100 * 1024 / 3)})).await;
    assert_eq!(status, 413, "100 KB of text");
    assert_eq!(body["error"]["code"], "body_too_large");
    let (status, body) = stack.post("/api/v1/assist/suggest", &serde_json::json!({"text": "河边有废油桶"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestions"][0]["item"], DEPT_ITEM);

    let (status, body) = suggest(&stack, "油桶\u{7}泄漏").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("control character"), "{body}");

    let (status, body) = suggest(&stack, "🔥🔥🔥").await;
    assert_eq!(status, 200, "emoji alone is a valid query with nothing to match: {body}");
    assert_eq!(body["suggestions"], serde_json::json!([]));

    let (status, body) = suggest(&stack, "电瓶车在楼道charge，太危险了⚡").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestions"][0]["item"], "CQ-FIRE-003", "mixed scripts with emoji: {body}");

    let (status, body) = stack.get("/api/v1/assist/suggest?text=x&limit=99").await;
    assert_eq!(status, 400, "{body}");
    stack.stop().await;
}

/// Raises a whistle for `item`, waits for its dispatch, acknowledges it; returns its id.
async fn acknowledged_case(stack: &Stack, item: &str) -> String {
    let (status, body) = stack.raise(item, "现场核查").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await;
    assert_eq!(status, 202, "{body}");
    stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    id
}

/// A whistle for an item the town holds, raised asking for the competent department's support,
/// and acknowledged by it: the way a department enforces a town-held (e.g. persuade-first) item.
async fn acknowledged_support_case(stack: &Stack, item: &str) -> String {
    let mut request = raise_body(TOWN, item, "现场劝导无效，请求支援");
    request["support"] = json!(true);
    let (status, body) = stack.post("/api/v1/whistles", &request).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await;
    assert_eq!(status, 202, "{body}");
    stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    id
}

fn fenced(frame: &Value, id: &str, rule: &str) -> bool {
    event_of(frame) == Some(("whistle.fenced", id)) && frame["event"]["data"]["rule"] == rule
}

/// The case's timeline entries of type `whistle.fenced`, once at least `n` are there.
async fn fences_on_timeline(stack: &Stack, id: &str, n: usize) -> Vec<Value> {
    let view = stack
        .wait_for(id, |v| {
            v["timeline"].as_array().is_some_and(|t| t.iter().filter(|e| e["type"] == "whistle.fenced").count() >= n)
        })
        .await;
    assert_eq!(view["status"], "acknowledged", "fences do not move the status");
    let fences: Vec<Value> = view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["type"] == "whistle.fenced")
        .cloned()
        .collect();
    assert!(fences.iter().all(|e| e["status"] == "acknowledged"), "{view}");
    fences
}

const CREDIT_CODE: &str = "91500103MA60XY312F";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_department_inspecting_the_same_enterprise_is_told_to_inspect_jointly() {
    let stack = Stack::start().await;
    let env_case = acknowledged_case(&stack, DEPT_ITEM).await; // → 500103-EE
    let market_case = acknowledged_case(&stack, "CQ-MKT-004").await; // → 500103-MS
    let mut board = stack.board().await;
    board.subscribe("department:500103-MS", None).await;
    assert_eq!(board.next().await["type"], "snapshot");

    let body = json!({"subject": {"credit_code": CREDIT_CODE}});
    let (status, first) = stack.post(&format!("/api/v1/whistles/{env_case}/inspect"), &body).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["warnings"], json!([]), "the first inspection trips nothing");

    let (status, second) = stack.post(&format!("/api/v1/whistles/{market_case}/inspect"), &body).await;
    assert_eq!(status, 202, "an inspection fence warns, it does not refuse: {second}");
    assert_eq!(second["warnings"][0]["rule"], "multi_department_inspection", "{second}");
    assert_eq!(second["warnings"][0]["severity"], "warning");
    assert!(second["warnings"][0]["message"].as_str().unwrap_or("").contains("joint inspection"));

    let fences = fences_on_timeline(&stack, &market_case, 1).await;
    assert!(fences[0]["detail"].as_str().unwrap_or("").starts_with("[multi_department_inspection]"), "{fences:?}");
    let (_, frame) = board.until(|f| fenced(f, &market_case, "multi_department_inspection")).await;
    assert_eq!(frame["event"]["data"]["severity"], "warning");
    assert_eq!(frame["event"]["data"]["subject"], format!("ucc:{CREDIT_CODE}"));
    assert_eq!(frame["case"]["status"], "acknowledged");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_department_inspecting_the_same_address_too_often_is_warned_of_repeated_inspection() {
    let stack = Stack::start().await;
    let id = acknowledged_case(&stack, DEPT_ITEM).await;
    let mut board = stack.board().await;
    board.subscribe(&format!("town:{TOWN}"), None).await;
    assert_eq!(board.next().await["type"], "snapshot");
    // The same place written three ways.
    for (n, address) in ["重庆市渝中区民族路 100 号", "渝中区民族路100号", "渝中区 民族路１００号"].iter().enumerate()
    {
        let (status, body) =
            stack.post(&format!("/api/v1/whistles/{id}/inspect"), &json!({"subject": {"address": address}})).await;
        assert_eq!(status, 202, "{body}");
        let rules: Vec<&str> =
            body["warnings"].as_array().expect("warnings").iter().filter_map(|w| w["rule"].as_str()).collect();
        if n < 2 {
            assert!(rules.is_empty(), "inspection {n}: {body}");
        } else {
            assert_eq!(rules, ["repeated_inspection"], "{body}");
        }
    }
    let fences = fences_on_timeline(&stack, &id, 1).await;
    assert!(
        fences[0]["detail"].as_str().unwrap_or("").contains("3th time")
            || fences[0]["detail"].as_str().unwrap_or("").contains("第3次")
    );
    board.until(|f| fenced(f, &id, "repeated_inspection")).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fine_outside_the_benchmark_range_needs_a_reason_and_the_override_is_flagged() {
    let stack = Stack::start().await;
    let id = acknowledged_case(&stack, DEPT_ITEM).await;
    let mut board = stack.board().await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    assert_eq!(board.next().await["type"], "snapshot");

    let (status, tier) = stack
        .post_as(
            &as_department(DEPARTMENT),
            "/api/v1/assist/benchmark",
            &json!({"item": DEPT_ITEM, "subject": {"credit_code": CREDIT_CODE}}),
        )
        .await;
    assert_eq!(status, 200, "{tier}");
    assert_eq!(tier["tier"], "ordinary");
    let max = tier["fine_max_yuan"].as_u64().expect("a range");

    let penalty = json!({"subject": {"credit_code": CREDIT_CODE}, "amount_yuan": max * 3});
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/penalty"), &penalty).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "override_reason_required");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("outside"), "{body}");
    let (_, blocked) = board.until(|f| fenced(f, &id, "fine_out_of_range")).await;
    assert_eq!(blocked["event"]["data"]["severity"], "blocked");

    let mut with_reason = penalty.clone();
    with_reason["override_reason"] = json!("危废已流入河道，后果接近严重，按上限以上处罚并报批");
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/penalty"), &with_reason).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["warnings"][0]["severity"], "overridden");
    assert_eq!(body["benchmark"]["tier"], "ordinary");
    let (_, overridden) =
        board.until(|f| fenced(f, &id, "fine_out_of_range") && f["event"]["data"]["severity"] == "overridden").await;
    assert_eq!(overridden["event"]["data"]["flagged"], true, "overrides are flagged for managers");
    assert!(overridden["event"]["data"]["override_reason"].as_str().is_some());

    let view = stack
        .wait_for(&id, |v| v["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == "whistle.penalised")))
        .await;
    let fences = fences_on_timeline(&stack, &id, 2).await;
    assert_eq!(fences.len(), 2, "the refusal and the override are both on the timeline: {view}");

    // The penalty is history now: the same enterprise on a new case for the same item is a repeat.
    let (status, tier) = stack
        .post_as(
            &as_department(DEPARTMENT),
            "/api/v1/assist/benchmark",
            &json!({"item": DEPT_ITEM, "subject": {"credit_code": CREDIT_CODE}}),
        )
        .await;
    assert_eq!(status, 200, "{tier}");
    assert_eq!(tier["tier"], "repeat_offence", "{tier}");
    assert_eq!(tier["prior_offences"], 1);
    stack.stop().await;
}

/// A town case of `item` against `subject` walked to `notified`, persuading first when `persuade`.
/// An individual's history is kept by `address`.
async fn notified_town_case(stack: &Stack, item: &str, subject: Value, address: &str, persuade: bool) -> String {
    let open = json!({
        "item": item,
        "description": "消防通道堆放杂物",
        "location": {"lat": 29.56, "lon": 106.57, "address": address},
        "subject": subject,
    });
    let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    let step = |name: &str, body: Value, status: &'static str| {
        let path = format!("/api/v1/cases/{id}/{name}");
        let id = id.clone();
        async move {
            let (code, answer) = stack.post_as(&as_town(TOWN), &path, &body).await;
            assert_eq!(code, 202, "{answer}");
            wait_case_status(stack, &id, status).await;
        }
    };
    wait_case_status(stack, &id, "registered").await;
    if persuade {
        step("persuade", json!({"outcome": "refused"}), "persuaded").await;
    }
    let officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "现场照片"});
    step("investigate", officers, "investigated").await;
    step("notify", json!({"intended": "拟警告"}), "notified").await;
    id
}

/// A town case's fence warnings (`GET /api/v1/cases/{id}`), once at least `n` are there.
async fn case_fences(stack: &Stack, id: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (_, view) = stack.get_as(&as_town(TOWN), &format!("/api/v1/cases/{id}")).await;
        if let Some(f) = view["fences"].as_array().filter(|f| f.len() >= n) {
            return f.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "case {id} never had {n} fences: {view}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn wait_case_status(stack: &Stack, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (code, view) = stack.get_as(&as_town(TOWN), &format!("/api/v1/cases/{id}")).await;
        if code == 200 && view["status"] == status {
            return view;
        }
        assert!(tokio::time::Instant::now() < deadline, "case {id} never became {status}: {view}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_penalty_for_a_persuade_first_item_without_recorded_persuasion_is_fenced() {
    let stack = Stack::start().await;
    // Debris in fire exits is one of the three persuade-first items, held by the towns. A person:
    // a warning or at most 500 yuan.
    let person = json!({"kind": "individual", "name": "张某"});
    let id = notified_town_case(&stack, "CQ-FIRE-002", person.clone(), "渝中区八一路 20 号", false).await;
    let warn = json!({"outcome": "warning"});
    let (status, body) = stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/decide"), &warn).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "override_reason_required");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("persuade-first"), "{body}");
    let fences = case_fences(&stack, &id, 1).await;
    assert!(fences[0]["detail"].as_str().unwrap_or("").starts_with("[persuasion_skipped]"), "{fences:?}");
    // With a reason it passes, and the passed fence is flagged for the supervisors.
    let reasoned = json!({"outcome": "warning", "override_reason": "当事人多次拒绝劝导，已留存录像"});
    let (status, body) = stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/decide"), &reasoned).await;
    assert_eq!(status, 202, "{body}");
    let fences = case_fences(&stack, &id, 2).await;
    assert_eq!(fences[1]["status"], "decided", "the passed fence follows the decision: {fences:?}");
    let supervisor = whistle_auth::Principal::new(
        "supervisor-500103",
        whistle_auth::Role::Supervisor { district: Some("500103".into()) },
    );
    let (status, queue) = stack.get_as(&supervisor, "/api/v1/supervision/queue").await;
    assert_eq!(status, 200, "{queue}");
    let flagged =
        queue["items"].as_array().expect("items").iter().any(|i| i["case"] == id.as_str() && i["reason"] == "fence");
    assert!(flagged, "the passed fence awaits review: {queue}");

    // Persuasion on record satisfies the fence.
    let id = notified_town_case(&stack, "CQ-FIRE-002", person, "渝中区八一路 22 号", true).await;
    let (status, body) = stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/decide"), &warn).await;
    assert_eq!(status, 202, "{body}");
    let view = wait_case_status(&stack, &id, "decided").await;
    assert_eq!(view["fences"], json!([]), "{view}");

    // A department asked for support on a town-held item does not hold it: it may not penalise.
    let support = acknowledged_support_case(&stack, "CQ-FIRE-002").await;
    let penalty = json!({"subject": {"address": "渝中区八一路 20 号"}, "amount_yuan": 100, "override_reason": "x"});
    let (status, body) = stack.post(&format!("/api/v1/whistles/{support}/penalty"), &penalty).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("not_item_holder")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains(TOWN), "names the town as holder: {body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_benchmark_and_the_fine_fence_use_the_subject_kinds_range() {
    let stack = Stack::start().await;
    let lookup = |body: Value| {
        let stack = &stack;
        async move { stack.post_as(&as_town(TOWN), "/api/v1/assist/benchmark", &body).await }
    };
    // Fire Protection Law art. 60: an individual a warning or at most 500 yuan, a unit 5,000-50,000.
    let (status, ind) = lookup(json!({"item": "CQ-FIRE-002"})).await;
    assert_eq!(status, 200, "{ind}");
    assert_eq!((ind["kind"].as_str(), ind["action"].as_str()), (Some("individual"), Some("warning")), "{ind}");
    assert_eq!(ind["statutory"], json!({"warning": true, "min_yuan": 0, "max_yuan": 500}));
    assert!(ind["fine_max_yuan"].as_u64().expect("max") <= 500, "{ind}");
    let (status, unit) = lookup(json!({"item": "CQ-FIRE-002", "kind": "unit"})).await;
    assert_eq!(status, 200, "{unit}");
    assert_eq!(unit["statutory"], json!({"warning": false, "min_yuan": 5000, "max_yuan": 50000}));
    assert!(unit["fine_min_yuan"].as_u64().expect("min") >= 5000, "{unit}");
    assert_eq!(unit["persuade_first"], true);
    // Hazardous waste is a unit's offence only: without a kind that is the kind; an individual is refused.
    let (status, body) = lookup(json!({"item": DEPT_ITEM})).await;
    assert_eq!((status, body["kind"].as_str()), (200, Some("unit")), "{body}");
    let (status, body) = lookup(json!({"item": DEPT_ITEM, "kind": "individual"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("unit only"), "{body}");
    // An article with no fine has no benchmark.
    let (status, body) = lookup(json!({"item": "CQ-EDU-001"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unknown_item")), "{body}");

    // 2,000 yuan, the seed's old first-offence range: above an individual's 500, below a unit's 5,000:
    // unlawful for both, whatever the reason.
    for (n, subject) in [
        json!({"kind": "individual", "name": "李某"}),
        json!({"kind": "unit", "name": "某公司", "credit_code": CREDIT_CODE}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = notified_town_case(&stack, "CQ-FIRE-002", subject, &format!("渝中区八一路 {} 号", 30 + n), true).await;
        let fine = json!({"outcome": "fine", "fine_yuan": 2000, "override_reason": "情节严重"});
        let (status, body) = stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/decide"), &fine).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("outside_statutory_range")), "{body}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("fine of 2000 yuan is outside"), "{body}");
    }
    // Inside the unit's tier it passes, and the recorded tier range is the unit's.
    let amount = unit["fine_min_yuan"].as_u64().expect("min");
    let unit_party = json!({"kind": "unit", "name": "某公司", "credit_code": CREDIT_CODE});
    let id = notified_town_case(&stack, "CQ-FIRE-002", unit_party, "渝中区八一路 40 号", true).await;
    let fine = json!({"outcome": "fine", "fine_yuan": amount});
    let (status, body) = stack.post_as(&as_town(TOWN), &format!("/api/v1/cases/{id}/decide"), &fine).await;
    assert_eq!(status, 202, "{body}");
    let view = wait_case_status(&stack, &id, "decided").await;
    assert_eq!(view["benchmark"]["min_yuan"].as_u64(), Some(amount), "{view}");
    assert_eq!(view["fences"], json!([]), "{view}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enforcement_actions_need_an_acknowledged_case_and_a_valid_subject() {
    let stack = Stack::start().await;
    let (_, body) = stack.raise(DEPT_ITEM, "x").await;
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    let inspect = json!({"subject": {"credit_code": CREDIT_CODE}});
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/inspect"), &inspect).await;
    assert_eq!(status, 409, "{body}");
    let id = acknowledged_case(&stack, DEPT_ITEM).await;
    let (status, body) = stack
        .post(&format!("/api/v1/whistles/{id}/inspect"), &json!({"subject": {"credit_code": "91500103MA60XY312G"}}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("check character"), "{body}");
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/inspect"), &json!({"subject": {}})).await;
    assert_eq!(status, 400, "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outcome_figures_are_computed_from_the_case_topic() {
    let stack = Stack::start().await;
    let id = acknowledged_case(&stack, DEPT_ITEM).await;
    let inspect = json!({"subject": {"address": "渝中区民生路 5 号"}});
    for _ in 0..2 {
        assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/inspect"), &inspect).await.0, 202);
    }
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/resolve"), &json!({})).await.0, 202);
    stack.wait_for(&id, |v| v["status"] == "resolved").await;

    let (kafka, topic) = (stack.iso.kafka.clone(), stack.iso.kafka.topics.cases.clone());
    let (events, skipped) = tokio::task::spawn_blocking(move || {
        whistle_assist::figures::read_log(&kafka, &topic, std::time::Duration::from_secs(10))
    })
    .await
    .expect("reader ran")
    .expect("topic is read");
    assert_eq!(skipped, 0);
    let f = whistle_case::figures::compute(&events, chrono::Duration::days(30), None, None);
    assert_eq!((f.cases, f.closed), (1, 1), "{f:?}");
    // Dispatched (a hand-off) and two inspections; acknowledge and resolve are not procedures.
    assert_eq!((f.procedures, f.handoffs), (3, 1), "{f:?}");
    assert!((f.procedures_per_case - 3.0).abs() < 1e-9, "{f:?}");
    assert_eq!((f.inspections, f.repeated_inspections), (2, 1), "{f:?}");
    assert!(f.handling_mean_seconds.is_some_and(|s| s >= 0.0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inspections_on_one_case_stop_at_its_limit_with_case_limit_reached_and_it_can_still_be_resolved() {
    let stack = Stack::start().await;
    let id = acknowledged_case(&stack, DEPT_ITEM).await;
    let limit = whistle_case::limits::MAX_ENFORCEMENT_RECORDS;
    let mut accepted = 0;
    let refused = loop {
        // A different address each time, so no fence adds warnings of its own.
        let inspect = json!({"subject": {"address": format!("渝中区民生路 {accepted} 号")}});
        let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/inspect"), &inspect).await;
        match status {
            202 => accepted += 1,
            409 => break body,
            other => panic!("inspection {accepted}: {other} {body}"),
        }
        assert!(accepted <= limit + 20, "{accepted} inspections accepted on one case; the limit is {limit}");
    };
    assert_eq!(refused["error"]["code"], "case_limit_reached", "{refused}");
    assert!(accepted >= limit, "refused after {accepted}, before the limit of {limit}");
    // Every accepted one is on the timeline; closing the case is never refused for a limit.
    let view = stack
        .wait_for(&id, |v| {
            v["timeline"]
                .as_array()
                .is_some_and(|t| t.iter().filter(|e| e["type"] == "whistle.inspected").count() == accepted)
        })
        .await;
    assert!(view["timeline"].as_array().expect("timeline").len() <= limit + 40, "the case stays bounded");
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/resolve"), &json!({})).await;
    assert_eq!(status, 202, "{body}");
    stack.wait_for(&id, |v| v["status"] == "resolved").await;
    stack.stop().await;
}
