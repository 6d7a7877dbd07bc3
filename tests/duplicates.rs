//! Duplicates end to end (issue L, item 6), on real Kafka, Redis and PostgreSQL: two towns report
//! one problem 50 m apart; the second raise is told of the first (`possible_duplicates`), the
//! department merges it into the first, and then the merged card leaves the live board, the SLA
//! service stops its clocks (no breach of it on the case topic, while an unmerged twin breaches),
//! the merged whistle's town reads the surviving case (and its own case says where it went), and
//! the ledger's figures, monthly report and charts count the problem once.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use whistle_tests::*;

const OTHER_TOWN: &str = "500103002";
const THIRD_TOWN: &str = "500103003";

/// A raise body for `town` at a point.
fn raise_at(town: &str, item: &str, description: &str, lat: f64, lon: f64) -> Value {
    let mut body = raise_body(town, item, description);
    body["location"] = json!({"lat": lat, "lon": lon, "address": "渝中区解放碑步行街"});
    body
}

/// Raises and returns the answer (202 asserted).
async fn raise(stack: &Stack, body: &Value) -> Value {
    let town = as_town(body["town"].as_str().expect("town"));
    let (status, answer) = stack.post_as(&town, "/api/v1/whistles", body).await;
    assert_eq!(status, 202, "{answer}");
    answer
}

fn id_of(answer: &Value) -> String {
    answer["id"].as_str().expect("an id").to_owned()
}

/// Whether `id`'s card is in a board snapshot.
fn on_board(snapshot: &Value, id: &str) -> bool {
    snapshot["cases"].as_array().is_some_and(|cases| cases.iter().any(|c| c["id"] == id))
}

/// `GET` from the ledger as `who`.
async fn ledger_get(stack: &Stack, ledger: &LedgerService, who: &whistle_auth::Principal, path: &str) -> (u16, Value) {
    let resp = stack.http.get(format!("{}{path}", ledger.url)).bearer_auth(token(who)).send().await.expect("sent");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn snapshot(stack: &Stack, channel: &str, who: &whistle_auth::Principal) -> Value {
    let mut board = Board::connect_as(&stack.ws, who).await;
    board.subscribe(channel, None).await;
    let snapshot = board.next().await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_raises_50_m_apart_are_possible_duplicates_and_a_merge_counts_the_problem_once() {
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let ledger = LedgerService::start(&stack.iso).await;
    let channel = format!("department:{DEPARTMENT}");
    let mut board = stack.board().await;
    board.subscribe(&channel, None).await;
    assert_eq!(board.next().await["type"], "snapshot");

    // The first report: nothing like it yet (the field is there, empty).
    let first = raise(&stack, &raise_at(TOWN, DEPT_ITEM, "河边废油桶泄漏", 29.5570, 106.5770)).await;
    assert_eq!(first["possible_duplicates"], json!([]), "{first}");
    let first = id_of(&first);
    // The survivor is acknowledged at once, so its own clock does not breach in this test.
    stack.wait_for(&first, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{first}/acknowledge"), &json!({})).await.0, 202);

    // Before sending, the other town's dashboard asks: the first whistle is there, by its id,
    // status and distance only (the other town may not read it).
    let near = format!("/api/v1/whistles/duplicates?item={DEPT_ITEM}&lat=29.55745&lon=106.5770");
    let (status, found) = stack.get_as(&as_town(OTHER_TOWN), &near).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["radius_m"], 200.0);
    assert_eq!(found["window_hours"], 24);
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["id"], first.as_str());
    assert_eq!(items[0]["readable"], false);
    assert!(items[0].get("description").is_none(), "another town's description is not shown: {found}");
    let distance = items[0]["distance_m"].as_f64().expect("a distance");
    assert!((45.0..55.0).contains(&distance), "{distance}");
    // The first whistle's own town sees what it is.
    let (_, own) = stack.get_as(&as_town(TOWN), &near).await;
    assert_eq!(own["items"][0]["description"], "河边废油桶泄漏", "{own}");

    // The second report, 50 m north, from another town: accepted, with the first as a likely
    // duplicate. Another item at the same point, and the same item 300 m away, are not.
    let second = raise(&stack, &raise_at(OTHER_TOWN, DEPT_ITEM, "河道边有油污", 29.55745, 106.5770)).await;
    assert_eq!(second["status"], "raised");
    assert_eq!(second["possible_duplicates"], json!([first]), "{second}");
    let second = id_of(&second);
    let other_item = raise(&stack, &raise_at(OTHER_TOWN, "CQ-ENV-007", "另一事项", 29.55745, 106.5770)).await;
    assert_eq!(other_item["possible_duplicates"], json!([]), "{other_item}");
    let far = raise(&stack, &raise_at(THIRD_TOWN, DEPT_ITEM, "远处的油污", 29.5597, 106.5770)).await;
    assert_eq!(far["possible_duplicates"], json!([]), "300 m away is another place: {far}");
    // A twin of the second, 30 m away and never merged: its clocks keep running and breach.
    let twin = raise(&stack, &raise_at(THIRD_TOWN, DEPT_ITEM, "油污", 29.5570, 106.57731)).await;
    let twin_dups = twin["possible_duplicates"].as_array().expect("a list").clone();
    assert!(twin_dups.contains(&json!(first)) && twin_dups.contains(&json!(second)), "{twin}");
    let twin = id_of(&twin);
    // Routed before the department acts on it below (a case not yet routed is nobody's: 403).
    stack.wait_for(&twin, |v| v["department"]["code"] == DEPARTMENT).await;

    board.until(|f| event_of(f) == Some(("whistle.dispatched", second.as_str()))).await;
    stack.wait_for(&second, |v| v["deadlines"]["acknowledge"].is_string()).await;

    // The department merges the second into the first.
    let merge = format!("/api/v1/whistles/{second}/merge");
    let (status, merged) = stack.post_as(&as_department(DEPARTMENT), &merge, &json!({"into": first})).await;
    assert_eq!(status, 202, "{merged}");
    assert_eq!(merged["status"], "merged");
    // The card leaves the live board: the event frame says so, and a fresh snapshot lacks it.
    let (_, frame) = board.until(|f| event_of(f) == Some(("whistle.merged", second.as_str()))).await;
    assert_eq!(frame["case"]["status"], "merged", "{frame}");
    let view = stack.wait_for(&second, |v| v["status"] == "merged").await;
    assert_eq!(view["merged_into"], json!({"id": first, "town": TOWN}), "{view}");
    assert!(view["deadlines"].is_null(), "no clocks on a merged case: {view}");
    let survivor = stack.wait_for(&first, |v| v["merged"].as_array().is_some_and(|m| !m.is_empty())).await;
    assert_eq!(survivor["merged"], json!([{"id": second, "town": OTHER_TOWN}]));
    assert_eq!(survivor["status"], "acknowledged", "the survivor carries on");
    let board_now = snapshot(&stack, &channel, &as_manager()).await;
    assert!(!on_board(&board_now, &second), "the merged card is gone: {board_now}");
    assert!(on_board(&board_now, &first), "the surviving card stays: {board_now}");

    // The merged whistle's town follows the surviving case: it reads it, and it is on its
    // town channel; its own case names where it went. A third town reads neither.
    let (status, read) = stack.get_as(&as_town(OTHER_TOWN), &format!("/api/v1/whistles/{first}")).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["description"], "河边废油桶泄漏");
    let (status, own) = stack.get_as(&as_town(OTHER_TOWN), &format!("/api/v1/whistles/{second}")).await;
    assert_eq!((status, own["merged_into"]["id"].as_str()), (200, Some(first.as_str())), "{own}");
    let (status, _) = stack.get_as(&as_town("500103004"), &format!("/api/v1/whistles/{first}")).await;
    assert_eq!(status, 403);
    let town_board = snapshot(&stack, &format!("town:{OTHER_TOWN}"), &as_town(OTHER_TOWN)).await;
    assert!(on_board(&town_board, &first), "the survivor is on the merged town's channel: {town_board}");

    // A retry of the merge is the same merge; the other refusals say why.
    let (status, again) = stack.post_as(&as_department(DEPARTMENT), &merge, &json!({"into": first})).await;
    assert_eq!((status, &again["event_id"]), (202, &merged["event_id"]), "{again}");
    let (status, body) = stack.post_as(&as_department(DEPARTMENT), &merge, &json!({"into": twin})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "{body}");
    let (status, body) = stack
        .post_as(&as_department(DEPARTMENT), &format!("/api/v1/whistles/{twin}/merge"), &json!({"into": second}))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_transition")), "no chains: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(&first)), "names the survivor: {body}");
    let (status, body) = stack
        .post_as(&as_department(DEPARTMENT), &format!("/api/v1/whistles/{twin}/merge"), &json!({"into": twin}))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    let (status, body) = stack.post_as(&as_town(OTHER_TOWN), &merge, &json!({"into": first})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");

    // SLA: the twin's acknowledge clock breaches; the merged one's never does (on the topic,
    // where the SLA service's own events are, not only on the case, which would refuse them).
    stack.wait_for(&twin, |v| v["overdue"].as_array().is_some_and(|o| !o.is_empty())).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let events = {
        let (kafka, topic) = (stack.iso.kafka.clone(), stack.iso.kafka.topics.cases.clone());
        tokio::task::spawn_blocking(move || whistle_assist::figures::read_log(&kafka, &topic, Duration::from_secs(10)))
            .await
            .expect("the reader ran")
            .expect("the topic is read")
            .0
    };
    let breaches =
        |id: &str| events.iter().filter(|e| e.subject.to_string() == id && e.type_name() == "sla.breached").count();
    assert!(breaches(&twin) >= 1, "the unmerged twin breaches");
    assert_eq!(breaches(&second), 0, "the merged whistle's clocks stopped");

    // Figures count the problem once: five raised, one merged.
    let from = (Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let figures = format!("/api/v1/figures?district=500103&from={from}");
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let f = loop {
        let (status, body) = ledger_get(&stack, &ledger, &as_manager(), &figures).await;
        assert_eq!(status, 200, "{body}");
        if body["figures"]["merged"] == 1 {
            break body["figures"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the ledger never counted the merge: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((f["cases"].as_u64(), f["merged"].as_u64()), (Some(4), Some(1)), "{f}");
    let topic = whistle_case::figures::compute(&events, chrono::Duration::days(30), None, None);
    assert_eq!((topic.cases, topic.merged), (4, 1), "the figures of the topic agree");
    let month = Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08")).format("%Y-%m");
    let (status, report) =
        ledger_get(&stack, &ledger, &as_manager(), &format!("/api/v1/reports/monthly?district=500103&month={month}"))
            .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"]["raised"], 4, "the monthly report counts the problem once: {report}");
    let (status, overview) =
        ledger_get(&stack, &ledger, &as_manager(), &format!("/api/v1/reports/overview?district=500103&from={from}"))
            .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["total"]["raised"], 4, "the charts count it once: {overview}");
    // The ledger still lists the merged whistle, by its status.
    let (status, list) = ledger_get(&stack, &ledger, &as_manager(), "/api/v1/whistles?status=merged").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");

    ledger.stop(&stack.iso).await;
    stack.stop().await;
}
