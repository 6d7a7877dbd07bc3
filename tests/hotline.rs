//! The 12345 hotline bridge end to end (issue L, item 5), on real Kafka, Redis and PostgreSQL:
//! a district's command centre imports a CSV of work orders with the hotline's Chinese headers;
//! good rows become whistles routed to their towns and departments, bad rows are refused with
//! their column and reason, a re-import raises nothing twice (on the topic), an order re-sent
//! with other content is refused, and the order number stays on the case and in the ledger's
//! export.

use std::time::Duration;

use serde_json::{Value, json};
use whistle_tests::*;

const CENTRE: &str = "500103-CC";

async fn import(stack: &Stack, who: &whistle_auth::Principal, kind: &str, body: String, query: &str) -> (u16, Value) {
    let resp = stack
        .http
        .post(format!("{}/api/v1/hotline/orders{query}", stack.api))
        .bearer_auth(token(who))
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .expect("sent");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn row(report: &Value, n: u64) -> &Value {
    report["rows"].as_array().and_then(|rows| rows.iter().find(|r| r["row"] == n)).expect("the row is reported")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hotline_import_raises_each_order_once_and_refuses_bad_rows_by_column() {
    let stack = Stack::start().await;
    let ledger = LedgerService::start(&stack.iso).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let no = |n: u32| format!("CQ12345-{}-{n}", &run[..8]);
    let centre = as_department(CENTRE);

    // The hotline's own export: Chinese headers, its status column (ignored), one good order for
    // a named town, one placed by its point, and three bad ones.
    let csv = format!(
        "\u{feff}工单编号,受理时间,事项编码,街镇编码,纬度,经度,地址,诉求内容,来电人,来电号码,处理状态\r\n\
         {a},2026-11-30 08:30:00,{DEPT_ITEM},{TOWN},29.5570,106.5770,解放碑步行街,\"河边有废油桶, 泄漏\",王先生,13800000000,待派\r\n\
         {b},,{DEPT_ITEM},,29.5575,106.5770,,夜间施工噪声,,,待派\r\n\
         {c},,{DEPT_ITEM},,abc,106.5770,,坐标不对,,,待派\r\n\
         {d},,CQ-NOPE-999,,29.5575,106.5770,,没有这个事项,,,待派\r\n\
         {e},,{DEPT_ITEM},,29.6000,106.5500,,渝北区的工单,,,待派\r\n",
        a = no(1),
        b = no(2),
        c = no(3),
        d = no(4),
        e = no(5),
    );
    let (status, report) = import(&stack, &centre, "text/csv; charset=utf-8", csv.clone(), "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].as_u64(), report["existing"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(0), Some(3)),
        "{report}"
    );
    assert_eq!(report["ignored_columns"], json!(["处理状态"]), "{report}");
    let first = row(&report, 1);
    assert_eq!((first["outcome"].as_str(), first["town"].as_str()), (Some("created"), Some(TOWN)), "{report}");
    let second = row(&report, 2);
    assert_eq!(second["outcome"], "created", "{report}");
    assert!(second["town"].as_str().is_some_and(|t| t.starts_with("500103")), "placed by its point: {report}");
    let refused = |n: u64| {
        let r = row(&report, n);
        assert_eq!(r["outcome"], "failed", "{report}");
        assert_eq!(r["order_no"], no(n as u32), "a refused row names its order: {report}");
        (r["error"]["code"].as_str().unwrap_or("").to_owned(), r["error"]["field"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(refused(3), ("invalid_field".into(), "lat".into()));
    assert_eq!(refused(4), ("unknown_item".into(), "item".into()));
    assert_eq!(refused(5), ("outside_district".into(), "lat".into()), "渝北区's order is not 渝中区's");
    let first_id = first["id"].as_str().expect("an id").to_owned();
    let second_id = second["id"].as_str().expect("an id").to_owned();

    // The whistle: routed to the department, the order on it and in its text.
    let view = stack.wait_for(&first_id, |v| v["department"]["code"] == DEPARTMENT).await;
    assert_eq!(view["hotline"]["order_no"], no(1), "{view}");
    assert_eq!(view["hotline"]["received_at"], "2026-11-30T00:30:00Z", "China time, stored as UTC: {view}");
    assert_eq!(view["town"], TOWN);
    let text = view["description"].as_str().expect("a description");
    assert!(text.starts_with("河边有废油桶, 泄漏") && text.contains(&no(1)) && text.contains("13800000000"), "{text}");
    assert_eq!(view["location"]["address"], "解放碑步行街");
    stack.wait_for(&second_id, |v| v["department"]["code"] == DEPARTMENT).await;

    // The same file again: nothing new, the same whistles named.
    let (status, again) = import(&stack, &centre, "text/csv", csv, "").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["created"].as_u64(), again["existing"].as_u64(), again["failed"].as_u64()),
        (Some(0), Some(2), Some(3)),
        "{again}"
    );
    assert_eq!(row(&again, 1)["id"], first_id.as_str());
    assert_eq!(row(&again, 2)["id"], second_id.as_str());
    // The same order with other content: refused, the whistle untouched.
    let changed = format!("order_no,item,lat,lon,description\r\n{},{DEPT_ITEM},29.5570,106.5770,改过的内容\r\n", no(1));
    let (_, conflict) = import(&stack, &centre, "text/csv", changed, "").await;
    assert_eq!(row(&conflict, 1)["error"]["code"], "order_conflict", "{conflict}");
    assert!(row(&conflict, 1)["error"]["message"].as_str().is_some_and(|m| m.contains(&first_id)), "{conflict}");

    // JSON, dry run: checked and counted, nothing raised.
    let orders = json!({"orders": [
        {"order_no": no(6), "item": DEPT_ITEM, "lat": 29.5572, "lon": 106.5771, "description": "试运行", "datum": "gcj02"},
        {"order_no": no(7), "item": DEPT_ITEM, "lat": "29.5", "lon": 106.5, "description": "lat 是字符串"},
    ]});
    let (status, dry) = import(&stack, &centre, "application/json", orders.to_string(), "?dry_run=true").await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["created"].as_u64(), dry["failed"].as_u64()),
        (Some(true), Some(1), Some(1)),
        "{dry}"
    );
    assert_eq!(row(&dry, 2)["error"]["code"], "malformed_row", "{dry}");
    let dry_id = row(&dry, 1)["id"].as_str().expect("an id").to_owned();
    assert_eq!(stack.get(&format!("/api/v1/whistles/{dry_id}")).await.0, 404, "a dry run raises nothing");

    // Who may: a town may not; a file-level problem is the whole request's.
    let (status, body) = import(&stack, &as_town(TOWN), "text/csv", "order_no\r\n".into(), "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) =
        import(&stack, &centre, "text/csv", "order_no,item,lat,description\r\nA,B,1,x\r\n".into(), "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_body")), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("lon (经度)")), "{body}");
    let (status, body) = import(&stack, &centre, "text/plain", "x".into(), "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");

    // On the topic: each imported order was raised exactly once, across both imports.
    let events = {
        let (kafka, topic) = (stack.iso.kafka.clone(), stack.iso.kafka.topics.cases.clone());
        tokio::task::spawn_blocking(move || read_case_log(&kafka, &topic, ReadLevel::Committed))
            .await
            .expect("the reader ran")
            .expect("the topic is read")
    };
    let raises =
        |id: &str| events.iter().filter(|e| e.subject.to_string() == id && e.type_name() == "whistle.raised").count();
    assert_eq!((raises(&first_id), raises(&second_id)), (1, 1), "one raise per order");

    // The ledger's export carries the order number.
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let csv = loop {
        let resp = stack
            .http
            .get(format!("{}/api/v1/whistles/export.csv", ledger.url))
            .bearer_auth(token(&centre))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.expect("a body");
        if text.contains(&first_id) && text.contains(&second_id) {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ledger never listed the imported whistles: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let records = whistle_registry::csv::parse_rows(&csv).expect("the export is CSV");
    let column = records[0].iter().position(|h| h == "hotline_order").expect("a hotline_order column");
    let line = records.iter().find(|r| r[0] == first_id).expect("the first order's line");
    assert_eq!(line[column], no(1), "{line:?}");

    ledger.stop(&stack.iso).await;
    stack.stop().await;
}
