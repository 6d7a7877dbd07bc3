//! The registry service and live propagation on real Kafka: changes reach every router and intake
//! without a restart, take effect on their date, and the catalogue round-trips through CSV.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use whistle_tests::{RECEIVE_TIMEOUT, Stack, TOWN, as_admin, raise_body, router_settings, token};

async fn post_to(stack: &Stack, url: &str, body: &Value) -> (u16, Value) {
    let resp = stack.http.post(url).bearer_auth(token(&as_admin())).json(body).send().await.expect("request is sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get_from(stack: &Stack, url: &str) -> (u16, Value) {
    let resp = stack.http.get(url).bearer_auth(token(&as_admin())).send().await.expect("request is sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The sum of a router's `whistles_routed_total` over outcomes.
async fn routed_by(stack: &Stack, admin: &str) -> u64 {
    let text = stack.http.get(format!("{admin}/metrics")).send().await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with("whistle_router_whistles_routed_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_recovered_one_second_ahead_routes_to_the_town_before_and_the_department_after_on_two_routers() {
    let stack = Stack::start().await;
    // A second router instance in the same consumer group: both must route alike. It is another
    // instance, so it has its own transactional.id (the same one would fence the first).
    let second_settings = whistle_router::Settings {
        transactional_id: format!("test-{}-router-2", stack.iso.suffix),
        ..router_settings(&stack.iso)
    };
    let second = whistle_router::Application::build(second_settings).await.expect("second router");
    let second_admin = format!("http://127.0.0.1:{}", second.port());
    let second_task = tokio::spawn(second.run_until_stopped(std::future::pending()));

    let item = "CQ-FIRE-001";
    let effective = Utc::now() + chrono::Duration::seconds(1);
    let (status, body) = post_to(
        &stack,
        &format!("{}/api/v1/registry/items/{item}/recover", stack.registry),
        &json!({"district": "500103", "effective_from": rfc3339(effective), "reason": "消防专项整治，收回至消防救援支队",
                "actor": "city-office", "department_type": "FR"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(body["audit"][0]["action"], "recover");
    let history = body["history"].as_array().expect("history");
    assert!(history.iter().any(|h| h["district"] == "*" && h["authority"] == "empowered"), "the past is kept");

    // Before the date: the town holds it (intake refuses the whistle, naming since when).
    if Utc::now() < effective - chrono::Duration::milliseconds(300) {
        let (status, body) = stack.post("/api/v1/whistles", &raise_body(TOWN, item, "楼道消防栓损坏")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "town_holds_item");
    }
    // Intake's live copy answers for both sides of the date.
    let route_at = |t| format!("/api/v1/route?town={TOWN}&item={item}&at={}", rfc3339(t));
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (_, after) = stack.get(&route_at(effective + chrono::Duration::milliseconds(1))).await;
        if after["outcome"] == "department" {
            assert_eq!(after["department"]["code"], "500103-FR");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "intake never applied the change: {after}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, before) = stack.get(&route_at(effective - chrono::Duration::milliseconds(1))).await;
    assert_eq!(before["outcome"], "town", "{before}");

    // After the date: whistles go to the department, whichever router takes them.
    let wait = (effective - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(100);
    tokio::time::sleep(wait).await;
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let mut raised = 0;
    loop {
        for _ in 0..6 {
            let (status, body) = stack.post("/api/v1/whistles", &raise_body(TOWN, item, "电动车楼道充电")).await;
            assert_eq!(status, 202, "{body}");
            let id = body["id"].as_str().expect("id").to_owned();
            let case = stack.wait_for(&id, |c| c["status"] != "raised").await;
            assert_eq!(case["status"], "dispatched", "{case}");
            assert_eq!(case["department"]["code"], "500103-FR", "{case}");
            raised += 1;
        }
        let (a, b) = (routed_by(&stack, &stack.router_admin).await, routed_by(&stack, &second_admin).await);
        if a > 0 && b > 0 {
            assert_eq!(a + b, raised);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "one router never took a whistle: {a} / {b}");
    }
    second_task.abort();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalogue_round_trips_through_csv_and_broken_rows_are_named() {
    let stack = Stack::start().await;
    let export = || async {
        let resp = stack
            .http
            .get(format!("{}/api/v1/registry/export", stack.registry))
            .bearer_auth(token(&as_admin()))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
        resp.text().await.expect("csv")
    };
    let csv = export().await;
    assert!(csv.starts_with("code,name_zh,name_en,"), "{}", &csv[..80]);
    let import = |body: String| stack.import_csv(body);
    let (status, report) = import(csv.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], json!([]), "its own export changes nothing");
    assert_eq!(export().await, csv, "export → import → export is identical");

    // Shape errors (cell counts, values) are found first, then references; both name the row.
    let rows = csv.lines().count();
    for (extra, want) in [
        (
            "CQ-NEW-901,新\r\n".to_owned(),
            format!("row {}: expected {} cells", rows + 1, whistle_registry::csv::HEADER.len()),
        ),
        (
            "CQ-NEW-900,新,New,market,x,true,,,500103,XX,recovered,2030-01-01T00:00:00Z,,x,,,false,,\r\n".to_owned(),
            format!("row {}: registry is inconsistent: item CQ-NEW-900 names unknown department type XX", rows + 1),
        ),
    ] {
        let (status, body) = import(format!("{csv}{extra}")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_csv");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(&want), "{message}");
    }
    let (status, _) = get_from(&stack, &format!("{}/api/v1/registry/items/CQ-NEW-900", stack.registry)).await;
    assert_eq!(status, 404, "nothing was half-applied");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn districts_items_and_bad_changes_answer_as_the_contract_says() {
    let stack = Stack::start().await;
    let (status, body) = get_from(&stack, &format!("{}/api/v1/districts", stack.registry)).await;
    assert_eq!(status, 200);
    let districts = body["districts"].as_array().expect("districts");
    assert_eq!(districts.iter().filter(|d| d["kind"] != "functional_zone").count(), 38);
    assert_eq!(districts.iter().filter(|d| d["kind"] == "functional_zone").count(), 3, "the functional zones");
    assert!(districts.iter().all(|d| (20..=30).contains(&d["departments"].as_array().map_or(0, Vec::len))));
    assert_eq!(districts.iter().map(|d| d["towns"].as_u64().unwrap_or(0)).sum::<u64>(), 1031);

    let (_, list) = get_from(&stack, &format!("{}/api/v1/registry/items", stack.registry)).await;
    let env = list["items"].as_array().expect("items").iter().find(|i| i["code"] == "CQ-ENV-001").cloned();
    assert_eq!(env.as_ref().map(|e| e["authority"].clone()), Some(json!("recovered")));

    // "Who holds CQ-CITY-003 in 渝中区 at T": the towns before its 2025-07-01 recovery, UM after.
    let at = |t: &str| format!("{}/api/v1/registry/items?district=500103&at={t}", stack.registry);
    let holder = |list: &Value| {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["code"] == "CQ-CITY-003")
            .map(|i| i["holder"].clone())
    };
    let (_, before) = get_from(&stack, &at("2025-06-01T00:00:00Z")).await;
    assert_eq!(holder(&before), Some(json!({"kind": "towns"})));
    let (_, after) = get_from(&stack, &at("2025-08-01T00:00:00Z")).await;
    assert_eq!(holder(&after).map(|h| h["code"].clone()), Some(json!("500103-UM")));

    let (status, item) = get_from(&stack, &format!("{}/api/v1/registry/items/CQ-ENV-001", stack.registry)).await;
    assert_eq!(status, 200);
    let h = &item["history"][0];
    for field in ["district", "holder", "authority", "effective_from", "effective_to", "reason"] {
        assert!(h.get(field).is_some(), "history has {field}: {h}");
    }

    let url = |code: &str, action: &str| format!("{}/api/v1/registry/items/{code}/{action}", stack.registry);
    let soon = rfc3339(Utc::now() + chrono::Duration::hours(1));
    let cases = [
        (
            url("CQ-NOPE-001", "recover"),
            json!({"district": "500103", "effective_from": soon, "reason": "r", "actor": "a", "department_type": "EE"}),
            404,
            "not_found",
        ),
        (
            url("CQ-ENV-001", "recover"),
            json!({"district": "500103", "effective_from": soon, "reason": "r", "actor": "a", "department_type": "ZZ"}),
            400,
            "invalid_field",
        ),
        (
            url("CQ-ENV-001", "delegate"),
            json!({"district": "500103", "effective_from": "2020-01-01T00:00:00Z", "reason": "r", "actor": "a"}),
            400,
            "invalid_field",
        ),
    ];
    for (url, body, want, code) in cases {
        let (status, answer) = post_to(&stack, &url, &body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (want, Some(code)), "{url}: {answer}");
    }
    // Two changes scheduled out of order overlap.
    let later = rfc3339(Utc::now() + chrono::Duration::days(10));
    let (status, _) = post_to(
        &stack,
        &url("CQ-ENV-002", "recover"),
        &json!({"district": "500103", "effective_from": later, "reason": "r", "actor": "a", "department_type": "EE"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = post_to(
        &stack,
        &url("CQ-ENV-002", "delegate"),
        &json!({"district": "500103", "effective_from": soon, "reason": "r", "actor": "a"}),
    )
    .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("overlapping_range")), "{answer}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_if_reports_the_open_whistles_a_delegation_would_reroute() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, body) = stack.raise("CQ-ENV-001", "危废桶泄漏").await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        stack.wait_for(&id, |c| c["status"] == "dispatched").await;
        ids.push(id);
    }
    let (status, other) = stack.raise("CQ-SAFE-001", "小作坊安全隐患").await;
    assert_eq!(status, 202, "{other}");
    // The preview counts last month's whistles from the case store: wait until this one is there.
    let other_id = other["id"].as_str().expect("id").to_owned();
    stack.wait_for(&other_id, |c| c["status"] != "raised").await;
    let effective = rfc3339(Utc::now() + chrono::Duration::hours(1));
    let (status, report) = post_to(
        &stack,
        &format!("{}/api/v1/registry/whatif", stack.registry),
        &json!({"item": "CQ-ENV-001", "action": "delegate",
                "change": {"district": "500103", "effective_from": effective, "reason": "赋权乡镇试点", "actor": "city-office"}}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    println!("what-if: {}", serde_json::to_string_pretty(&report).expect("json"));
    let affected: Vec<&str> =
        report["open_affected"].as_array().expect("list").iter().filter_map(|c| c["id"].as_str()).collect();
    for id in &ids {
        assert!(affected.contains(&id.as_str()), "{id} would be re-routed: {report}");
    }
    assert_eq!(report["open_affected"][0]["now"], "department:500103-EE");
    assert_eq!(report["open_affected"][0]["proposed"], "town");
    assert_eq!(report["last_month_affected"], 3);
    assert!(report["last_month_share"].as_f64().expect("share") < 1.0, "the other item is not affected");
    // A preview changes nothing.
    let (_, item) = get_from(&stack, &format!("{}/api/v1/registry/items/CQ-ENV-001", stack.registry)).await;
    assert_eq!(item["version"], 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_nobody_holds_yet_goes_to_the_command_centre_for_triage() {
    let stack = Stack::start().await;
    // A new item whose first holder starts in 2030: today nobody holds it.
    let row = "CQ-TEST-001,新设事项,New item,market,x,true,,,*,MS,department,2030-01-01T00:00:00Z,,from 2030,,unit,false,MS,\r\n";
    let csv = format!("{}\r\n{row}", whistle_registry::csv::HEADER.join(","));
    let (status, report) = stack.import_csv(csv).await;
    assert_eq!(status, 200, "{report}");
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let id = loop {
        let (status, body) = stack.raise("CQ-TEST-001", "新情况").await;
        if status == 202 {
            break body["id"].as_str().expect("id").to_owned();
        }
        // Intake's live copy may not have the new item yet.
        assert_eq!(body["error"]["code"], "unknown_item", "{body}");
        assert!(tokio::time::Instant::now() < deadline, "intake never learned the new item");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let case = stack.wait_for(&id, |c| c["status"] == "dispatched").await;
    assert_eq!(case["department"]["code"], "500103-CC", "{case}");
    let basis = case["timeline"][1]["detail"].as_str().unwrap_or_default();
    assert!(basis.starts_with("triage:"), "{case}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_case_the_department_returns_is_rerouted_to_triage_and_the_town_sees_why() {
    let stack = Stack::start().await;
    let (status, body) = stack.raise("CQ-ENV-001", "危废桶泄漏").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let case = stack.wait_for(&id, |c| c["status"] == "dispatched").await;
    assert_eq!(case["department"]["code"], "500103-EE");
    let basis = case["timeline"][1]["detail"].as_str().unwrap_or_default();
    assert!(basis.contains("registry version 0"), "the decision keeps its registry version: {basis}");

    let (status, body) =
        stack.post(&format!("/api/v1/whistles/{id}/reject"), &json!({"reason": "属于危化品运输，不在本局职责"})).await;
    assert_eq!(status, 202, "{body}");
    let case = stack.wait_for(&id, |c| c["department"]["code"] == "500103-CC").await;
    assert_eq!(case["status"], "dispatched", "{case}");
    let kinds: Vec<&str> =
        case["timeline"].as_array().expect("timeline").iter().filter_map(|t| t["type"].as_str()).collect();
    let rejected = kinds.iter().position(|k| *k == "whistle.rejected").expect("the return is on the timeline");
    assert_eq!(kinds[rejected + 1], "whistle.transferred", "{kinds:?}");
    let why = case["timeline"][rejected + 1]["detail"].as_str().unwrap_or_default();
    assert!(why.contains("属于危化品运输") && why.contains("500103-CC"), "{why}");

    // The command centre's own return is final.
    let (status, _) = stack.post(&format!("/api/v1/whistles/{id}/reject"), &json!({"reason": "无法分办"})).await;
    assert_eq!(status, 202);
    let case = stack.wait_for(&id, |c| c["status"] == "rejected").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, again) = stack.get(&format!("/api/v1/whistles/{id}")).await;
    assert_eq!(again["status"], "rejected", "{case}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_department_transfers_a_case_and_ownership_moves_with_it() {
    let stack = Stack::start().await;
    let mut board = stack.board().await;
    board.subscribe("department:500103-UM", None).await;
    let (_, snapshot) = board.until(|f| f["type"] == "snapshot").await;
    assert_eq!(snapshot["cases"], json!([]));

    let (status, body) = stack.raise("CQ-ENV-001", "河道垃圾").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |c| c["status"] == "dispatched").await;
    stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await;
    stack.wait_for(&id, |c| c["status"] == "acknowledged").await;

    let (status, body) =
        stack.post(&format!("/api/v1/whistles/{id}/transfer"), &json!({"to": "500103-XX", "reason": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let (status, body) = stack
        .post(&format!("/api/v1/whistles/{id}/transfer"), &json!({"to": "500103-UM", "reason": "属于城管职责"}))
        .await;
    assert_eq!(status, 202, "{body}");
    let case = stack.wait_for(&id, |c| c["department"]["code"] == "500103-UM").await;
    assert_eq!(case["status"], "dispatched", "the new owner must acknowledge: {case}");
    let (_, frame) = board
        .until(|f| {
            f["type"] == "event" && f["event"]["type"] == "whistle.transferred" && f["event"]["subject"] == id.as_str()
        })
        .await;
    assert_eq!(frame["case"]["department"]["code"], "500103-UM");
    // The new owner acts on it.
    let (status, _) = stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await;
    assert_eq!(status, 202);
    let case = stack.wait_for(&id, |c| c["status"] == "acknowledged").await;
    let acked = case["timeline"]
        .as_array()
        .and_then(|t| t.iter().rev().find(|e| e["type"] == "whistle.acknowledged"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(acked["actor"]["code"], "500103-UM", "{case}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_town_that_holds_the_item_and_asks_for_support_gets_the_supporting_department() {
    let stack = Stack::start().await;
    let (status, body) = stack.raise("CQ-FIRE-001", "高层消防设施大面积损坏").await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("town_holds_item")), "{body}");
    let mut request = raise_body(TOWN, "CQ-FIRE-001", "高层消防设施大面积损坏，需消防支援");
    request["support"] = json!(true);
    let (status, body) = stack.post("/api/v1/whistles", &request).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let case = stack.wait_for(&id, |c| c["status"] == "dispatched").await;
    assert_eq!(case["department"]["code"], "500103-FR", "{case}");
    let basis = case["timeline"][1]["detail"].as_str().unwrap_or_default();
    assert!(basis.contains("asked for support") && basis.contains("since"), "{basis}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joint_case_is_on_every_departments_board_and_resolves_when_the_lead_resolves() {
    let stack = Stack::start().await;
    let mut board = stack.board().await;
    board.subscribe("department:500103-PS", None).await;
    board.until(|f| f["type"] == "snapshot").await;

    let mut request = raise_body(TOWN, "CQ-ENV-001", "危废倾倒并有人员冲突");
    request["assist"] = json!(["XX"]);
    let (status, body) = stack.post("/api/v1/whistles", &request).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    request["assist"] = json!(["PS", "UM"]);
    let (status, body) = stack.post("/api/v1/whistles", &request).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let case = stack.wait_for(&id, |c| c["status"] == "dispatched").await;
    assert_eq!(case["department"]["code"], "500103-EE", "the holder leads");
    let assisting: Vec<&str> =
        case["assisting"].as_array().expect("assisting").iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(assisting, ["500103-PS", "500103-UM"]);
    let (_, frame) = board.until(|f| f["type"] == "event" && f["event"]["subject"] == id.as_str()).await;
    assert_eq!(frame["event"]["type"], "whistle.dispatched", "the assisting board sees it");

    for (action, status) in [("acknowledge", "acknowledged"), ("arrive", "on_site"), ("resolve", "resolved")] {
        let (code, body) = stack.post(&format!("/api/v1/whistles/{id}/{action}"), &json!({})).await;
        assert_eq!(code, 202, "{action}: {body}");
        stack.wait_for(&id, |c| c["status"] == status).await;
    }
    let case = stack.wait_for(&id, |c| c["status"] == "resolved").await;
    assert_eq!(
        case["timeline"].as_array().and_then(|t| t.last()).map(|l| l["actor"]["code"].clone()),
        Some(json!("500103-EE"))
    );
    let (_, frame) = board
        .until(|f| {
            f["type"] == "event" && f["event"]["subject"] == id.as_str() && f["event"]["type"] == "whistle.resolved"
        })
        .await;
    assert_eq!(frame["case"]["status"], "resolved", "the case leaves the assisting board when the lead resolves");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn towns_have_their_kind_zones_route_to_their_own_departments_and_optional_items_follow_the_town() {
    let stack = Stack::start().await;
    let (status, body) = stack.get("/api/v1/towns").await;
    assert_eq!(status, 200, "{body}");
    let towns = body["towns"].as_array().expect("towns");
    assert_eq!(towns.len(), 1031);
    for t in towns {
        let code = t["code"].as_str().expect("code");
        let want = match &code[6..7] {
            "0" => "subdistrict",
            "1" => "town",
            _ => "township",
        };
        assert_eq!(t["kind"], want, "{t}");
    }
    let yuzui = towns.iter().find(|t| t["names"]["zh"] == "鱼嘴镇").expect("鱼嘴镇");
    assert_eq!(yuzui["district"]["code"], "500105", "administratively in 江北区");
    assert_eq!(yuzui["managed_by"]["names"]["zh"], "两江新区");
    let code = yuzui["code"].as_str().expect("code");
    let (_, route) = stack.get(&format!("/api/v1/route?town={code}&item=CQ-ENV-001")).await;
    assert_eq!(route["outcome"], "department", "{route}");
    assert_eq!(route["department"]["names"]["zh"], "两江新区生态环境局", "{route}");

    // An optional item: the towns that took it up hold it, the others of the district do not.
    let (_, item) = get_from(&stack, &format!("{}/api/v1/registry/items/CQ-OPT-002", stack.registry)).await;
    assert!(item["legal_basis"].as_str().is_some_and(|b| b.contains('《')), "{item}");
    assert_eq!(item["subject_kinds"], json!(["unit"]));
    let taken: Vec<&str> =
        item["history"].as_array().expect("history").iter().filter_map(|h| h["town"].as_str()).collect();
    let holder = taken[0];
    let neighbour = towns
        .iter()
        .filter_map(|t| t["code"].as_str())
        .find(|c| c[..6] == holder[..6] && !taken.contains(c))
        .expect("a town of the same district that did not take it up");
    let (_, held) = stack.get(&format!("/api/v1/route?town={holder}&item=CQ-OPT-002")).await;
    assert_eq!(held["outcome"], "town", "{held}");
    let (_, not_held) = stack.get(&format!("/api/v1/route?town={neighbour}&item=CQ-OPT-002")).await;
    assert_eq!(not_held["outcome"], "department", "{not_held}");

    // Delegate an item to two named towns, then recover it from one of them.
    let soon = Utc::now() + chrono::Duration::hours(1);
    let (status, body) = post_to(
        &stack,
        &format!("{}/api/v1/registry/items/CQ-CITY-015/delegate", stack.registry),
        &json!({"district": "500103", "towns": ["500103001", "500103002"], "effective_from": rfc3339(soon),
                "reason": "两街道试点", "authority": "empowered"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audit"][0]["towns"], json!(["500103001", "500103002"]));
    let (status, body) = post_to(
        &stack,
        &format!("{}/api/v1/registry/items/CQ-CITY-015/recover", stack.registry),
        &json!({"district": "500103", "towns": ["500103002"], "effective_from": rfc3339(soon + chrono::Duration::hours(1)),
                "reason": "收回", "department_type": "UM"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let route_at = |town: &str, t| format!("/api/v1/route?town={town}&item=CQ-CITY-015&at={}", rfc3339(t));
    let later = soon + chrono::Duration::hours(2);
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let (_, one) = stack.get(&route_at("500103001", later)).await;
        if one["outcome"] == "town" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "intake never applied the change: {one}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, two) = stack.get(&route_at("500103002", later)).await;
    assert_eq!((two["outcome"].as_str(), two["authority"].as_str()), (Some("department"), Some("recovered")), "{two}");
    let (_, three) = stack.get(&route_at("500103003", later)).await;
    assert_eq!(three["outcome"], "department", "{three}");
    stack.stop().await;
}

/// A registry change from anyone but an administrator is refused before its body is read: a
/// client that announces an 8 MB import and sends only the first kilobyte gets its `403` at once
/// (before the fix the registry waited for the whole body, for any token).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_non_administrator_import_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stack = Stack::start().await;
    let host = stack.registry.trim_start_matches("http://").to_owned();
    for (who, path) in [
        (whistle_tests::as_town(TOWN), "/api/v1/registry/import"),
        (whistle_tests::as_manager(), "/api/v1/registry/import"),
        (whistle_tests::as_department(whistle_tests::DEPARTMENT), "/api/v1/registry/items/CQ-ENV-001/recover"),
    ] {
        let mut socket = tokio::net::TcpStream::connect(&host).await.expect("connects");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nContent-Type: text/csv\r\n\
             Content-Length: 8000000\r\n\r\n",
            token(&who)
        );
        socket.write_all(head.as_bytes()).await.expect("head");
        socket.write_all(&[b'x'; 1024]).await.expect("first kilobyte");
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{path} as {}: no answer while the body is still coming", who.user))
            .expect("read");
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 403"), "{path} as {}: {answer}", who.user);
        assert!(answer.contains("\"forbidden\""), "{answer}");
    }
    stack.stop().await;
}
