//! The ledger on the real Kafka and the real PostgreSQL: case events published to a test's own
//! topic, the ledger's consumer writing them to the test's own database, and the API answering
//! from it — filters, Chinese text search, each role's scope, keyset pages while new cases
//! arrive, a rebuild equal to the incremental ledger, the CSV's BOM and neutralised formulas, the
//! XLSX read back by openpyxl, the monthly report, the outcome figures of whistles and town
//! cases driven through the API (equal to the figures of the test's own case topic), and the
//! charts' overview.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use uuid::Uuid;
use whistle_auth::Principal;
use whistle_common::settings::DatabaseSettings;
use whistle_ledger::store::LedgerStore;
use whistle_ledger::synth::{self, CaseSpec, Progress};
use whistle_schemas::events::{CaseEvent, SlaStageKind};
use whistle_tests::*;

/// 解放碑街道 and 朝天门街道, Yuzhong; 大渡口区's 新山村街道.
const TOWN_A: &str = "500103001";
const TOWN_B: &str = "500103002";
const TOWN_OTHER: &str = "500104001";
const UM: &str = "500103-UM";
const EE: &str = "500103-EE";

struct Ledger {
    iso: Isolation,
    api: String,
    http: reqwest::Client,
    producer: FutureProducer,
    service: LedgerService,
    store: LedgerStore,
}

impl Ledger {
    async fn start() -> Ledger {
        let iso = Isolation::new();
        let service = LedgerService::start(&iso).await;
        let producer = whistle_common::kafka::client_config(&iso.kafka).create().expect("producer");
        Ledger {
            api: service.url.clone(),
            store: service.store.clone(),
            iso,
            http: reqwest::Client::new(),
            producer,
            service,
        }
    }

    async fn publish(&self, events: &[CaseEvent]) {
        for event in events {
            let payload = serde_json::to_vec(event).expect("json");
            let key = event.subject.to_string();
            let record = FutureRecord::to(&self.iso.kafka.topics.cases).key(&key).payload(&payload);
            self.producer.send(record, Duration::from_secs(10)).await.expect("sent");
        }
    }

    async fn publish_cases(&self, specs: &[CaseSpec]) {
        let events: Vec<CaseEvent> = specs.iter().flat_map(synth::events).collect();
        self.publish(&events).await;
    }

    async fn get_raw(&self, who: &Principal, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.api)).bearer_auth(token(who)).send().await.expect("sent")
    }

    async fn get(&self, who: &Principal, path: &str) -> (u16, Value) {
        let resp = self.get_raw(who, path).await;
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the ledger holds `n` cases whose timelines have `steps` steps in all.
    async fn wait_for(&self, n: i64, steps: i64) {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            let (cases, total): (i64, Option<i64>) =
                sqlx::query_as("SELECT count(*), sum(steps)::int8 FROM ledger_cases")
                    .fetch_one(self.store.pool())
                    .await
                    .expect("counts");
            if cases == n && total.unwrap_or(0) == steps {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ledger has {cases} cases, {total:?} steps; want {n}, {steps}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.service.stop(&self.iso).await;
        self.iso.clean_up().await;
    }
}

/// id, status, closed_at, overdue, breaches, reopens, reroutes.
type Figures = (Uuid, String, Option<DateTime<Utc>>, bool, i32, i32, i32);

fn steps(specs: &[CaseSpec]) -> i64 {
    specs.iter().map(|s| synth::events(s).len() as i64).sum()
}

fn spec(
    n: u128,
    town: &str,
    department: &str,
    description: &str,
    progress: Progress,
    raised_at: DateTime<Utc>,
) -> CaseSpec {
    CaseSpec {
        id: Uuid::from_u128(0x1ed9_0000_0000_0000_0000_0000_0000_0000 + n),
        raised_at,
        town: town.into(),
        district: town[..6].into(),
        item: if department == UM { "CQ-CITY-001".into() } else { DEPT_ITEM.into() },
        department: department.into(),
        description: description.into(),
        address: format!("重庆市渝中区解放碑步行街{n}号"),
        progress,
        breach: None,
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|v| v["id"].as_str().expect("id").to_owned()).collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("a time").with_timezone(&Utc)
}

/// Eight cases over two towns of Yuzhong and one of Dadukou, two departments, every status.
fn fixture() -> Vec<CaseSpec> {
    let t = |d: u32| at(&format!("2026-03-{d:02}T10:00:00+08:00"));
    let mut cases = vec![
        spec(1, TOWN_A, UM, "解放碑占道经营，摊贩在人行道摆摊", Progress::Resolved, t(1)),
        spec(2, TOWN_A, UM, "夜间施工噪声扰民", Progress::Acknowledged, t(2)),
        spec(3, TOWN_A, EE, "河道旁堆放废油桶，油污流入排水沟", Progress::Dispatched, t(3)),
        spec(4, TOWN_B, EE, "餐饮油烟直排", Progress::Reopened, t(4)),
        spec(5, TOWN_B, UM, "违规搭建彩钢棚", Progress::Rerouted, t(5)),
        spec(6, TOWN_B, UM, "露天焚烧垃圾", Progress::Raised, t(6)),
        spec(7, TOWN_OTHER, "500104-UM", "占道经营，水果摊", Progress::OnSite, t(7)),
        spec(8, TOWN_A, EE, "=HYPERLINK(\"http://evil\")", Progress::Rejected, t(8)),
    ];
    cases[1].breach = Some(SlaStageKind::Arrive);
    cases[2].breach = Some(SlaStageKind::Acknowledge);
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_filters_searches_chinese_and_keeps_each_role_to_its_scope() {
    let ledger = Ledger::start().await;
    let cases = fixture();
    ledger.publish_cases(&cases).await;
    ledger.wait_for(cases.len() as i64, steps(&cases)).await;
    let id = |n: usize| cases[n - 1].id.to_string();
    let set = |v: &[usize]| v.iter().map(|&n| id(n)).collect::<HashSet<_>>();
    let manager = as_manager();
    let list = |who: Principal, q: String| {
        let ledger = &ledger;
        async move {
            let (status, body) = ledger.get(&who, &format!("/api/v1/whistles?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            ids(&body).into_iter().collect::<HashSet<_>>()
        }
    };
    // Newest raised first, every case for the city's manager.
    let (_, all) = ledger.get(&manager, "/api/v1/whistles").await;
    assert_eq!(ids(&all), (1..=8).rev().map(id).collect::<Vec<_>>());
    assert!(all["next_cursor"].is_null());
    assert_eq!(all["items"][0]["timeline"].as_array().map(Vec::len), Some(synth::events(&cases[7]).len()));
    // Filters.
    assert_eq!(list(manager.clone(), "status=resolved".into()).await, set(&[1, 4]));
    assert_eq!(list(manager.clone(), "status=dispatched,raised".into()).await, set(&[3, 5, 6]));
    assert_eq!(list(manager.clone(), "district=500104".into()).await, set(&[7]));
    assert_eq!(list(manager.clone(), format!("town={TOWN_B}")).await, set(&[4, 5, 6]));
    assert_eq!(list(manager.clone(), format!("department={EE}")).await, set(&[3, 4, 8]));
    assert_eq!(list(manager.clone(), "item=CQ-CITY-001&status=resolved".into()).await, set(&[1]));
    assert_eq!(list(manager.clone(), "breached=true".into()).await, set(&[2, 3]));
    assert_eq!(list(manager.clone(), "reopened=true".into()).await, set(&[4]), "reopened by the town");
    assert_eq!(list(manager.clone(), "from=2026-03-03&to=2026-03-05".into()).await, set(&[3, 4]));
    assert_eq!(
        list(manager.clone(), "resolved_from=2026-03-04T00:00:00%2B08:00".into()).await,
        set(&[4]),
        "resolve range"
    );
    // Chinese substrings of the description or the address, two characters and longer.
    assert_eq!(list(manager.clone(), "q=占道".into()).await, set(&[1, 7]));
    assert_eq!(list(manager.clone(), "q=%E5%99%AA%E5%A3%B0%E6%89%B0%E6%B0%91".into()).await, set(&[2]), "噪声扰民");
    assert_eq!(list(manager.clone(), "q=步行街5号".into()).await, set(&[5]));
    assert_eq!(list(manager.clone(), "q=100%25".into()).await, set(&[]), "a literal %, no wildcard");
    // Scope: a town sees its own cases only, whatever it asks for.
    assert_eq!(list(as_town(TOWN_A), String::new()).await, set(&[1, 2, 3, 8]));
    assert_eq!(list(as_town(TOWN_A), format!("town={TOWN_B}")).await, set(&[]));
    assert_eq!(
        list(as_department(UM), String::new()).await,
        set(&[1, 2]),
        "5 went to the command centre, 6 nowhere yet"
    );
    assert_eq!(list(as_department("500103-CC"), String::new()).await, set(&[1, 2, 3, 4, 5, 6, 8]));
    let district_manager =
        Principal::new("manager-500104", whistle_auth::Role::Manager { district: Some("500104".into()) });
    assert_eq!(list(district_manager, String::new()).await, set(&[7]));
    let (status, body) = ledger.get(&as_admin(), "/api/v1/whistles").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    // Refusals name the parameter.
    for (q, param) in [("status=open", "status"), ("limit=0", "limit"), ("cursor=zz", "cursor"), ("from=soon", "from")]
    {
        let (status, body) = ledger.get(&manager, &format!("/api/v1/whistles?{q}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")), "{q}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().starts_with(param), "{body}");
    }
    let (status, body) = ledger.get(&manager, "/api/v1/whistles?colour=red").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_query")));
    // Every kind through /api/v1/cases; its kind filter.
    let (status, body) = ledger.get(&manager, "/api/v1/cases?kind=whistle&limit=3").await;
    assert_eq!((status, ids(&body).len()), (200, 3));
    assert!(body["next_cursor"].is_string());
    let (_, none) = ledger.get(&manager, "/api/v1/cases?kind=town_case").await;
    assert_eq!(ids(&none), Vec::<String>::new());
    ledger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_have_no_gaps_or_repeats_while_new_cases_arrive() {
    let ledger = Ledger::start().await;
    let base = at("2026-02-01T09:00:00+08:00");
    let old: Vec<CaseSpec> = (0..40)
        .map(|n| {
            spec(100 + n, TOWN_A, UM, "占道经营", Progress::Dispatched, base + chrono::Duration::minutes(n as i64 / 2))
        })
        .collect();
    ledger.publish_cases(&old).await;
    ledger.wait_for(old.len() as i64, steps(&old)).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut arrived = 0u128;
    loop {
        let q = cursor.as_ref().map_or_else(|| "limit=7".to_owned(), |c| format!("limit=7&cursor={c}"));
        let (status, page) = ledger.get(&as_town(TOWN_A), &format!("/api/v1/whistles?{q}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        // New cases arrive between pages, raised now (at the head of the newest-first order).
        arrived += 1;
        let fresh = spec(500 + arrived, TOWN_A, UM, "新案件", Progress::Raised, Utc::now());
        ledger.publish_cases(std::slice::from_ref(&fresh)).await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = {
        let mut by_time: Vec<&CaseSpec> = old.iter().collect();
        by_time.sort_by_key(|s| std::cmp::Reverse((s.raised_at, s.id)));
        by_time.into_iter().map(|s| s.id.to_string()).collect()
    };
    assert_eq!(seen.len(), expected.len(), "no repeats, nothing new mixed in: {seen:?}");
    assert_eq!(seen, expected, "every old case once, in order (ties broken by id)");
    assert!(arrived >= 6);
    ledger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_from_the_topic_equals_the_incremental_ledger() {
    let ledger = Ledger::start().await;
    let cases = fixture();
    ledger.publish_cases(&cases).await;
    // A replay of some events (a producer retry, a consumer restart) changes nothing.
    let again: Vec<CaseEvent> = synth::events(&cases[0]).into_iter().chain(synth::events(&cases[4])).collect();
    ledger.publish(&again).await;
    ledger.wait_for(cases.len() as i64, steps(&cases)).await;
    // Let the consumer pass the repeated events too.
    let end = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let metrics =
            reqwest::get(format!("{}/metrics", ledger.api)).await.expect("metrics").text().await.expect("text");
        if metrics.contains(&format!("whistle_ledger_events_total{{outcome=\"duplicate\"}} {}", again.len())) {
            break;
        }
        assert!(tokio::time::Instant::now() < end, "duplicates not counted: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let incremental = ledger.store.all_views().await.expect("views");

    let url = ledger.iso.create_named_database("rebuilt").await;
    let rebuilt = LedgerStore::connect(&DatabaseSettings {
        url: Some(secrecy::SecretString::from(url)),
        ..DatabaseSettings::default()
    })
    .await
    .expect("connects");
    let done = whistle_ledger::rebuild::replay(&ledger.iso.kafka, &rebuilt).await.expect("replays");
    assert_eq!(done.duplicates, again.len() as u64, "{done:?}");
    assert_eq!(done.written as i64, steps(&cases), "{done:?}");
    let replayed = rebuilt.all_views().await.expect("views");
    assert_eq!(replayed.len(), cases.len());
    assert_eq!(replayed, incremental, "the rebuilt ledger equals the incremental one");
    // The events the figures count, too: each applied event once, the repeated ones not again.
    let events = ledger.store.all_events().await.expect("events");
    assert_eq!(events.len() as i64, steps(&cases));
    assert_eq!(rebuilt.all_events().await.expect("events"), events, "the rebuilt events equal the incremental ones");
    // And every indexed column agrees, not just the views.
    let columns = |store: LedgerStore| async move {
        let rows: Vec<Figures> = sqlx::query_as(
            "SELECT id, status, closed_at, overdue, breaches, reopens, reroutes FROM ledger_cases ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .expect("rows");
        rows
    };
    assert_eq!(columns(rebuilt.clone()).await, columns(ledger.store.clone()).await);
    rebuilt.pool().close().await;
    ledger.iso.drop_named_database("rebuilt").await;
    ledger.stop().await;
}

/// The consumer writes a batch of events in one transaction (`LedgerStore::apply_batch`): the
/// cases interleaved, a case's events several to a batch and across batches, replays inside a
/// batch and across, an event of a case never raised. Every outcome and every row and event must
/// equal applying the same events one at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_writes_what_its_events_write_one_at_a_time() {
    use whistle_ledger::store::Applied;
    let iso = Isolation::new();
    let connect = |url: String| async move {
        LedgerStore::connect(&DatabaseSettings { url: Some(secrecy::SecretString::from(url)), ..Default::default() })
            .await
            .expect("connects")
    };
    let single = connect(iso.create_named_database("single").await).await;
    let batched = connect(iso.create_named_database("batched").await).await;
    let cases = fixture();
    // Round robin over the cases, each case's events in order.
    let per_case: Vec<Vec<CaseEvent>> = cases.iter().map(synth::events).collect();
    let longest = per_case.iter().map(Vec::len).max().unwrap_or(0);
    let mut events: Vec<CaseEvent> = Vec::new();
    for i in 0..longest {
        for case in &per_case {
            if let Some(e) = case.get(i) {
                events.push(e.clone());
                // Case 1's events arrive twice in a row: the second inside the same batch.
                if case[0].subject == per_case[0][0].subject {
                    events.push(e.clone());
                }
            }
        }
    }
    // A replay of case 5's events long after, and a step of a case never raised.
    events.extend(per_case[4].iter().cloned());
    let mut stray = per_case[1][1].clone();
    stray.id = Uuid::new_v4();
    stray.subject = Uuid::new_v4();
    events.insert(events.len() / 2, stray);

    let mut one_at_a_time = Vec::new();
    for e in &events {
        one_at_a_time.push(single.apply(e).await.expect("applied"));
    }
    let mut in_batches = Vec::new();
    for chunk in events.chunks(7) {
        let refs: Vec<&CaseEvent> = chunk.iter().collect();
        in_batches.extend(batched.apply_batch(&refs).await.expect("applied"));
    }
    assert_eq!(in_batches, one_at_a_time, "each event's outcome");
    let count = |outcomes: &[Applied], f: fn(&Applied) -> bool| outcomes.iter().filter(|a| f(a)).count();
    assert_eq!(count(&in_batches, |a| matches!(a, Applied::Refused(_))), 1, "the stray step is refused");
    assert_eq!(
        count(&in_batches, |a| *a == Applied::Duplicate),
        per_case[0].len() + per_case[4].len(),
        "replays are duplicates"
    );
    assert_eq!(count(&in_batches, |a| *a == Applied::Written) as i64, steps(&cases));
    assert_eq!(batched.all_views().await.expect("views"), single.all_views().await.expect("views"));
    assert_eq!(batched.all_events().await.expect("events"), single.all_events().await.expect("events"));
    type Columns = (Uuid, String, Option<String>, Vec<String>, Option<String>, Option<DateTime<Utc>>, i32, i32, bool);
    let columns = |store: LedgerStore| async move {
        let rows: Vec<Columns> = sqlx::query_as(
            "SELECT id, status, department, assisting, authority, closed_at, breaches, reroutes, overdue \
             FROM ledger_cases ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .expect("rows");
        rows
    };
    let rows = columns(batched.clone()).await;
    assert_eq!(rows.len(), cases.len());
    assert!(rows.iter().any(|r| r.4.is_some()), "the router's authority is kept: {rows:?}");
    assert_eq!(rows, columns(single.clone()).await);
    single.pool().close().await;
    batched.pool().close().await;
    iso.drop_named_database("single").await;
    iso.drop_named_database("batched").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_csv_export_has_a_bom_chinese_and_neutralised_formulas() {
    let ledger = Ledger::start().await;
    let cases = fixture();
    ledger.publish_cases(&cases).await;
    ledger.wait_for(cases.len() as i64, steps(&cases)).await;
    let resp = ledger.get_raw(&as_town(TOWN_A), "/api/v1/whistles/export.csv").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM first");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("id,status,district,town,department"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 4, "the town's four cases: {text}");
    assert!(text.contains("解放碑占道经营，摊贩在人行道摆摊"), "{text}");
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "the formula is text: {text}");
    assert!(!text.contains(&cases[3].id.to_string()), "another town's case is not exported");
    let (status, body) = ledger.get(&as_manager(), "/api/v1/whistles/export.csv?limit=5").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")));
    ledger.stop().await;
}

/// A Python with openpyxl (a virtualenv under the Whistle cache, made on first use).
fn openpyxl() -> std::path::PathBuf {
    let cache = std::env::var("WHISTLE_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/whistle"));
    let venv = cache.join("venv-openpyxl");
    let python = venv.join("bin/python");
    let ok = |py: &std::path::Path| {
        std::process::Command::new(py).args(["-c", "import openpyxl"]).output().is_ok_and(|o| o.status.success())
    };
    if !ok(&python) {
        let status = std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3");
        assert!(status.success(), "python3 -m venv failed (apt-get install python3-venv)");
        let status = std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "openpyxl==3.1.5"])
            .status()
            .expect("pip");
        assert!(status.success(), "pip install openpyxl failed");
    }
    python
}

/// Every sheet's rows of a workbook, as openpyxl reads them.
fn read_xlsx(bytes: &[u8]) -> BTreeMap<String, Vec<Vec<Value>>> {
    let path = std::env::temp_dir().join(format!("ledger-test-{}.xlsx", Uuid::new_v4().simple()));
    std::fs::write(&path, bytes).expect("written");
    let script = "import json, sys, openpyxl\n\
        wb = openpyxl.load_workbook(sys.argv[1], read_only=True)\n\
        print(json.dumps({ws.title: [[c for c in row] for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}, ensure_ascii=False, default=str))\n";
    let out = std::process::Command::new(openpyxl()).arg("-c").arg(script).arg(&path).output().expect("python runs");
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "openpyxl could not read it: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_xlsx_export_and_the_monthly_report_open_in_openpyxl() {
    let ledger = Ledger::start().await;
    let cases = fixture();
    ledger.publish_cases(&cases).await;
    ledger.wait_for(cases.len() as i64, steps(&cases)).await;
    let resp = ledger.get_raw(&as_department("500103-CC"), "/api/v1/whistles/export.xlsx?q=占道").await;
    assert_eq!(resp.status().as_u16(), 200);
    let sheets = read_xlsx(&resp.bytes().await.expect("body"));
    let rows = &sheets["whistles-1"];
    assert_eq!(rows[0][0], "id");
    assert_eq!(rows.len(), 2, "one case of Yuzhong matches 占道: {rows:?}");
    assert_eq!(rows[1][0], Value::String(cases[0].id.to_string()));
    assert!(rows[1].contains(&Value::String("解放碑占道经营，摊贩在人行道摆摊".into())), "{rows:?}");
    let (_, all) = (0, ledger.get_raw(&as_manager(), "/api/v1/whistles/export.xlsx").await);
    let all = read_xlsx(&all.bytes().await.expect("body"));
    assert_eq!(all["whistles-1"].len(), 1 + cases.len());
    let formula = all["whistles-1"].iter().find(|r| r[0] == Value::String(cases[7].id.to_string())).expect("case 8");
    assert_eq!(formula[7], "'=HYPERLINK(\"http://evil\")", "kept as text");

    // The monthly report of Yuzhong, March 2026.
    let (status, report) = ledger.get(&as_manager(), "/api/v1/reports/monthly?district=500103&month=2026-03").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"]["raised"], 7);
    assert_eq!(report["total"]["dispatched"], 6);
    assert_eq!(report["total"]["breaches"], 2);
    assert_eq!(report["total"]["reopened"], 1);
    assert_eq!(report["total"]["rejected"], 1);
    assert_eq!(report["total"]["rerouted"], 1);
    assert_eq!(report["names"]["zh"], "渝中区");
    let dept = |code: &str| report["departments"].as_array().unwrap().iter().find(|d| d["code"] == code).cloned();
    let um = dept(UM).expect("UM's row");
    assert_eq!((um["raised"].as_u64(), um["mtta_seconds"].as_f64()), (Some(2), Some(995.0)));
    assert_eq!(um["arrive_on_time_rate"].as_f64(), Some(0.5), "case 1 arrived in time, case 2 breached arrival");
    let ee = dept(EE).expect("EE's row");
    // Case 4, reopened, counts until its final resolution (4,200 s after the raise).
    assert_eq!((ee["raised"].as_u64(), ee["mttr_seconds"].as_f64()), (Some(3), Some(4195.0)));
    assert_eq!(report["towns"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["trend"].as_array().map(Vec::len), Some(6));
    assert_eq!(report["trend"][5]["month"], "2026-03");
    assert_eq!(report["trend"][4]["raised"], 0);
    // Scope: another district's command centre, a department and a town are refused.
    for who in [as_department("500104-CC"), as_department(UM), as_town(TOWN_A)] {
        let (status, _) = ledger.get(&who, "/api/v1/reports/monthly?district=500103&month=2026-03").await;
        assert_eq!(status, 403, "{who}");
    }
    let (status, body) = ledger.get(&as_manager(), "/api/v1/reports/monthly?district=500103&month=2026-3").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")));
    let resp = ledger
        .get_raw(&as_department("500103-CC"), "/api/v1/reports/monthly?district=500103&month=2026-03&format=xlsx")
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let book = read_xlsx(&resp.bytes().await.expect("body"));
    let title = book["departments"][0][0].as_str().expect("a title").to_owned();
    assert!(title.contains("渝中区") && title.contains("2026-03"), "{title}");
    let total = book["departments"].iter().find(|r| r[0] == "total").expect("a total row");
    assert_eq!(total[1].as_f64(), Some(7.0));
    ledger.stop().await;
}

/// A unified social credit code whose check character matches (the town cases' unit).
const UNIT_CODE: &str = "91500103MA60XY312F";

/// Posts as `who` and expects `202`.
async fn accepted(stack: &Stack, who: &Principal, path: &str, body: serde_json::Value) {
    let (status, answer) = stack.post_as(who, path, &body).await;
    assert_eq!(status, 202, "{path}: {answer}");
}

/// Takes a whistle's department action and waits until its timeline shows `done`.
async fn act(stack: &Stack, id: &str, action: &str, body: serde_json::Value, done: &str) {
    let (status, answer) = stack.post(&format!("/api/v1/whistles/{id}/{action}"), &body).await;
    assert_eq!(status, 202, "{action}: {answer}");
    stack.wait_for(id, |v| v["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == done))).await;
}

/// A whistle for the department item, raised by `TOWN` and dispatched.
async fn dispatched_whistle(stack: &Stack, description: &str) -> String {
    let (status, body) = stack.raise(DEPT_ITEM, description).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    id
}

/// A town case of `TOWN` on the unit `UNIT_CODE`, walked register → investigate → notify →
/// decide (a fine inside the benchmark tier that applies) → serve → close.
async fn town_case_walked(stack: &Stack) -> String {
    let town = as_town(TOWN);
    let open = serde_json::json!({
        "item": TOWN_ITEM,
        "description": "住宅楼消防栓被拆除",
        "location": {"lat": 29.56, "lon": 106.57, "address": "渝中区解放碑某小区"},
        "subject": {"kind": "unit", "name": "某物业服务有限公司", "credit_code": UNIT_CODE},
    });
    let (status, body) = stack.post_as(&town, "/api/v1/cases", &open).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    let wait = |status: &'static str| {
        let id = id.clone();
        let town = town.clone();
        async move {
            let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
            loop {
                let (code, view) = stack.get_as(&town, &format!("/api/v1/cases/{id}")).await;
                if code == 200 && view["status"] == status {
                    return view;
                }
                assert!(tokio::time::Instant::now() < deadline, "case {id} never {status}: {view}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait("registered").await;
    let officers =
        serde_json::json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "现场照片"});
    accepted(stack, &town, &format!("/api/v1/cases/{id}/investigate"), officers).await;
    wait("investigated").await;
    accepted(stack, &town, &format!("/api/v1/cases/{id}/notify"), serde_json::json!({"intended": "拟罚款"})).await;
    wait("notified").await;
    // The ordinary tier for a first case, the repeat tier for the second on the same unit.
    let mut decided = false;
    for fine in [8_000, 30_000] {
        let (status, body) = stack
            .post_as(
                &town,
                &format!("/api/v1/cases/{id}/decide"),
                &serde_json::json!({"outcome": "fine", "fine_yuan": fine}),
            )
            .await;
        if status == 202 {
            decided = true;
            break;
        }
        assert_eq!(body["error"]["code"], "override_reason_required", "{body}");
    }
    assert!(decided, "a fine inside one of the tiers");
    wait("decided").await;
    accepted(stack, &town, &format!("/api/v1/cases/{id}/serve"), serde_json::json!({})).await;
    wait("served").await;
    accepted(stack, &town, &format!("/api/v1/cases/{id}/close"), serde_json::json!({"note": "已缴纳"})).await;
    wait("closed").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outcome_figures_from_the_ledger_equal_the_figures_of_the_case_topic() {
    let stack = Stack::start().await;
    let ledger = LedgerService::start(&stack.iso).await;
    let town = as_town(TOWN);
    // Whistle 1: inspected, resolved, reopened by the town, re-checked, resolved, confirmed (4).
    let w1 = dispatched_whistle(&stack, "河边有废油桶").await;
    act(&stack, &w1, "acknowledge", serde_json::json!({}), "whistle.acknowledged").await;
    let inspect = serde_json::json!({"subject": {"address": "渝中区民生路 5 号"}});
    act(&stack, &w1, "inspect", inspect.clone(), "whistle.inspected").await;
    act(&stack, &w1, "resolve", serde_json::json!({}), "whistle.resolved").await;
    accepted(&stack, &town, &format!("/api/v1/whistles/{w1}/reopen"), serde_json::json!({"reason": "油桶仍在"})).await;
    stack.wait_for(&w1, |v| v["status"] == "dispatched" && v["reopens"] == 1).await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{w1}/acknowledge"), &serde_json::json!({})).await.0, 202);
    stack.wait_for(&w1, |v| v["status"] == "acknowledged").await;
    let recheck = serde_json::json!({"subject": {"address": "渝中区民生路 5 号"}, "recheck": true});
    assert_eq!(stack.post(&format!("/api/v1/whistles/{w1}/inspect"), &recheck).await.0, 202);
    stack
        .wait_for(&w1, |v| {
            v["timeline"].as_array().is_some_and(|t| t.iter().filter(|e| e["type"] == "whistle.inspected").count() == 2)
        })
        .await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{w1}/resolve"), &serde_json::json!({})).await.0, 202);
    stack.wait_for(&w1, |v| v["status"] == "resolved").await;
    accepted(&stack, &town, &format!("/api/v1/whistles/{w1}/confirm"), serde_json::json!({"rating": 4})).await;
    stack.wait_for(&w1, |v| v["confirmation"]["rating"] == 4).await;
    // Whistle 2: inspected elsewhere, resolved, confirmed (5). Whistle 3: dispatched, still open.
    let w2 = dispatched_whistle(&stack, "夜间排放废水").await;
    act(&stack, &w2, "acknowledge", serde_json::json!({}), "whistle.acknowledged").await;
    let elsewhere = serde_json::json!({"subject": {"address": "渝中区民生路 9 号"}});
    act(&stack, &w2, "inspect", elsewhere, "whistle.inspected").await;
    act(&stack, &w2, "resolve", serde_json::json!({}), "whistle.resolved").await;
    stack.wait_for(&w2, |v| v["status"] == "resolved").await;
    accepted(&stack, &town, &format!("/api/v1/whistles/{w2}/confirm"), serde_json::json!({"rating": 5})).await;
    stack.wait_for(&w2, |v| v["confirmation"]["rating"] == 5).await;
    let _w3 = dispatched_whistle(&stack, "河道漂浮油污").await;
    // Two town cases on one unit: the second investigation repeats the first.
    town_case_walked(&stack).await;
    town_case_walked(&stack).await;

    // The ledger holds every event of the topic (and the figures see only those).
    let topic_events = || {
        let (kafka, topic) = (stack.iso.kafka.clone(), stack.iso.kafka.topics.cases.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                whistle_assist::figures::read_log(&kafka, &topic, Duration::from_secs(10))
            })
            .await
            .expect("the reader ran")
            .expect("the topic is read")
            .0
        }
    };
    let manager = as_manager();
    let figures_of = |who: Principal, query: String| {
        let http = stack.http.clone();
        let url = format!("{}/api/v1/figures{query}", ledger.url);
        async move {
            let resp = http.get(url).bearer_auth(token(&who)).send().await.expect("sent");
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let time =
        |v: &Value| DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("RFC 3339").with_timezone(&Utc);
    // Every event of the topic is applied or refused (the SLA service may schedule a clock on a
    // case the town has closed meanwhile: the case rules refuse it, and it is no figure).
    let outcomes = || {
        let url = format!("{}/metrics", ledger.url);
        async move {
            let text = reqwest::get(url).await.expect("metrics").text().await.expect("text");
            let count = |outcome: &str| {
                let prefix = format!("whistle_ledger_events_total{{outcome=\"{outcome}\"}} ");
                text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.parse::<u64>().expect("a count"))
            };
            (count("written"), count("duplicate") + count("refused"))
        }
    };
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let (events, city) = loop {
        let events = topic_events().await;
        let (written, passed) = outcomes().await;
        if written + passed == events.len() as u64 {
            let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_case_events")
                .fetch_one(ledger.store.pool())
                .await
                .expect("counts");
            assert_eq!(stored as u64, written, "every event written is stored");
            let (status, city) = figures_of(manager.clone(), String::new()).await;
            assert_eq!(status, 200, "{city}");
            // Nothing new arrived meanwhile (an SLA event after the read).
            if topic_events().await.len() == events.len() {
                println!("{} events on the topic, {written} in the ledger, {passed} refused or repeated", events.len());
                break (events, city);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ledger applied {written} and passed over {passed} of {} events",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The default period: the last 30 days to now; the city; the fence's 30-day window.
    let (from, to) = (time(&city["from"]), time(&city["to"]));
    assert_eq!(to - from, chrono::Duration::days(30));
    assert!(city["district"].is_null(), "{city}");
    assert_eq!(city["repeat_window_days"], 30);
    assert_eq!(city["definitions"], "docs/figures.md#definitions");
    let window = chrono::Duration::days(30);
    // Through JSON text, as the answer came: serde_json's default float parser may land one ulp
    // off the printed value, the same way for both.
    let expected = |from, to| {
        let f = whistle_case::figures::compute(&events, window, Some(from), Some(to));
        let text = serde_json::to_string(&whistle_schemas::api::OutcomeFigures::from(&f)).expect("json");
        serde_json::from_str::<Value>(&text).expect("json")
    };
    assert_eq!(city["figures"], expected(from, to), "the ledger's figures equal those of the topic");
    let f = &city["figures"];
    assert_eq!((f["cases"].as_u64(), f["closed"].as_u64()), (Some(5), Some(4)), "{f}");
    assert_eq!(f["inspections"], 4, "two whistles' and two town investigations; the re-check is apart: {f}");
    assert_eq!((f["repeated_inspections"].as_u64(), f["rechecks"].as_u64()), (Some(1), Some(1)), "{f}");
    assert_eq!((f["reopens"].as_u64(), f["confirmations"].as_u64()), (Some(1), Some(2)), "{f}");
    assert_eq!(f["rating_mean"], 4.5);
    assert_eq!(f["penalties"], 2, "the two town fines: {f}");
    // 3 dispatches and a reopen (hand-offs), 2 inspections and a re-check, 2 × (investigate,
    // notify, decide, serve).
    assert_eq!((f["procedures"].as_u64(), f["handoffs"].as_u64()), (Some(4 + 3 + 8), Some(4)), "{f}");
    assert!(f["handling_median_seconds"].as_f64().is_some_and(|s| s > 0.0), "{f}");

    // The district, an explicit period in dates (China time), for its command centre.
    let (status, district) = figures_of(
        as_department("500103-CC"),
        format!("?from={}", (Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%d")),
    )
    .await;
    assert_eq!(status, 200, "{district}");
    assert_eq!(district["district"], "500103", "narrowed to its own district: {district}");
    assert_eq!(district["figures"], expected(time(&district["from"]), time(&district["to"])));
    assert_eq!(district["figures"]["cases"], 5);
    // An empty period counts nothing.
    let (status, before) = figures_of(manager.clone(), "?district=500103&from=2026-01-01&to=2026-02-01".into()).await;
    assert_eq!((status, before["figures"]["cases"].as_u64()), (200, Some(0)), "{before}");
    assert!(before["figures"]["handling_mean_seconds"].is_null(), "{before}");

    // Another district's manager: its own (empty) district, and 403 for this one.
    let other = Principal::new("manager-500104", whistle_auth::Role::Manager { district: Some("500104".into()) });
    let (status, own) = figures_of(other.clone(), String::new()).await;
    assert_eq!((status, own["district"].as_str(), own["figures"]["cases"].as_u64()), (200, Some("500104"), Some(0)));
    for who in [other, as_town(TOWN), as_department(DEPARTMENT)] {
        let (status, body) = figures_of(who.clone(), "?district=500103".into()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{who}: {body}");
    }
    // Periods the wrong way round or too long: 422 with a clear message; a bad district: 400.
    let (status, body) = figures_of(manager.clone(), "?from=2026-03-01&to=2026-02-01".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_period")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("must be after"), "{body}");
    let (status, body) = figures_of(manager.clone(), "?from=2025-01-01&to=2026-02-01".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_period")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("366 days"), "{body}");
    let (status, body) = figures_of(manager.clone(), "?district=5001".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")), "{body}");
    ledger.stop(&stack.iso).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_overview_counts_a_periods_cases_by_district_day_and_duration_in_each_scope() {
    let ledger = Ledger::start().await;
    let mut cases = fixture();
    // Half an hour into 9 March in Chongqing, still 8 March in UTC: a day is a day in China.
    cases.push(spec(9, TOWN_A, UM, "深夜占道", Progress::Raised, at("2026-03-09T00:30:00+08:00")));
    ledger.publish_cases(&cases).await;
    ledger.wait_for(cases.len() as i64, steps(&cases)).await;
    let period = "from=2026-03-01&to=2026-03-10";
    let (status, o) = ledger.get(&as_manager(), &format!("/api/v1/reports/overview?district=500103&{period}")).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["district"], "500103");
    assert_eq!(o["from"], "2026-02-28T16:00:00Z");
    let total = &o["total"];
    // Yuzhong's eight: 1 resolved, 2 acknowledged (arrival breached), 3 dispatched (acknowledgement
    // breached), 4 reopened and resolved again, 5 rejected and re-routed (open), 6 and 9 raised,
    // 8 rejected.
    assert_eq!(
        (&total["raised"], &total["dispatched"], &total["open"], &total["resolved"], &total["breached"]),
        (&Value::from(8), &Value::from(6), &Value::from(5), &Value::from(2), &Value::from(2)),
        "{total}"
    );
    assert_eq!(total["overdue"], 2, "2 and 3 are open past a deadline");
    assert_eq!(total["breach_rate"].as_f64(), Some(2.0 / 6.0));
    assert_eq!(total["mtta_seconds"].as_f64(), Some(995.0), "1, 2 and 4 acknowledged 995 s after dispatch");
    assert_eq!(total["mttr_seconds"].as_f64(), Some((3595.0 + 4195.0) / 2.0));
    assert_eq!(o["districts"].as_array().map(Vec::len), Some(1));
    assert_eq!(o["districts"][0]["code"], "500103");
    assert_eq!(o["districts"][0]["raised"], 8);
    // The list agrees: the same period's open whistles of the district.
    let (_, open) = ledger
        .get(
            &as_manager(),
            &format!("/api/v1/whistles?district=500103&{period}&status=raised,dispatched,acknowledged,on_site"),
        )
        .await;
    assert_eq!(ids(&open).len(), 5);
    // Day by day (China time): every day of the period, zeros included.
    let daily = o["daily"].as_array().expect("daily");
    assert_eq!(daily.len(), 9);
    let column = |name: &str| daily.iter().map(|d| d[name].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(daily[0]["day"], "2026-03-01");
    assert_eq!(daily[8]["day"], "2026-03-09");
    assert_eq!(column("raised"), vec![1, 1, 1, 1, 1, 1, 0, 1, 1], "7 is Dadukou's; 9 is on the 9th");
    assert_eq!(column("resolved"), vec![1, 0, 0, 1, 0, 0, 0, 0, 0], "1 on the 1st, 4 (again) on the 4th");
    assert_eq!(column("breached"), vec![0, 1, 1, 0, 0, 0, 0, 0, 0]);
    // Durations: MTTA 995 s ×3 in [15 min, 30 min); MTTR 3,595 s in [0, 1 h), 4,195 s in [1 h, 4 h).
    let bars =
        |name: &str| o[name].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(bars("mtta_histogram"), vec![0, 0, 3, 0, 0, 0, 0, 0, 0]);
    assert_eq!(o["mtta_histogram"][2]["from_seconds"], 900);
    assert_eq!(o["mtta_histogram"][2]["to_seconds"], 1800);
    assert!(o["mtta_histogram"][8]["to_seconds"].is_null(), "the last bar is open");
    assert_eq!(bars("mttr_histogram"), vec![1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // Top items: Urban Management's item 5 times (1 breached), the bureau's 3 times (1 breached).
    let items: Vec<(String, u64, u64)> = o["top_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["code"].as_str().unwrap().to_owned(), i["raised"].as_u64().unwrap(), i["breached"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(items, vec![("CQ-CITY-001".to_owned(), 5, 1), (DEPT_ITEM.to_owned(), 3, 1)]);
    // Slowest first: EE (4 resolved 4,195 s after dispatch), then UM (1: 3,595 s); the command
    // centre resolved nothing and is not ranked.
    let slow = o["slowest_departments"].as_array().unwrap();
    assert_eq!(slow.len(), 2, "{slow:?}");
    assert_eq!((slow[0]["code"].as_str(), slow[0]["mttr_seconds"].as_f64()), (Some(EE), Some(4195.0)));
    assert_eq!((slow[0]["raised"].as_u64(), slow[0]["resolved"].as_u64()), (Some(3), Some(1)));
    assert_eq!(slow[0]["breach_rate"].as_f64(), Some(1.0 / 3.0));
    assert_eq!((slow[1]["code"].as_str(), slow[1]["mttr_seconds"].as_f64()), (Some(UM), Some(3595.0)));

    // Each account its own scope.
    let raised = |who: Principal, q: &'static str| {
        let ledger = &ledger;
        async move {
            let (status, o) = ledger.get(&who, &format!("/api/v1/reports/overview?{period}{q}")).await;
            assert_eq!(status, 200, "{who}: {o}");
            let districts: Vec<String> =
                o["districts"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_owned()).collect();
            (o["total"]["raised"].as_u64().unwrap(), districts)
        }
    };
    assert_eq!(raised(as_manager(), "").await, (9, vec!["500103".to_owned(), "500104".to_owned()]));
    assert_eq!(raised(as_town(TOWN_A), "").await, (5, vec!["500103".to_owned()]), "1, 2, 3, 8, 9");
    assert_eq!(raised(as_town(TOWN_A), "&district=500104").await, (0, vec![]));
    assert_eq!(
        raised(as_department(UM), "").await,
        (2, vec!["500103".to_owned()]),
        "1 and 2 (5 went to the command centre)"
    );
    let dadukou = Principal::new("manager-500104", whistle_auth::Role::Manager { district: Some("500104".into()) });
    assert_eq!(raised(dadukou.clone(), "").await, (1, vec!["500104".to_owned()]));
    assert_eq!(raised(dadukou, "&district=500103").await, (0, vec![]), "another district answers nothing");
    let (status, body) = ledger.get(&as_admin(), "/api/v1/reports/overview").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    // The default period: the 30 days up to the end of today; bounded periods.
    let (status, o) = ledger.get(&as_manager(), "/api/v1/reports/overview").await;
    assert_eq!((status, o["daily"].as_array().map(Vec::len)), (200, Some(30)), "{o}");
    assert_eq!(o["total"]["raised"], 0);
    for (q, param) in [
        ("from=2025-01-01&to=2026-03-01", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("district=5001", "district"),
    ] {
        let (status, body) = ledger.get(&as_manager(), &format!("/api/v1/reports/overview?{q}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_query")), "{q}: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().starts_with(param), "{body}");
    }
    let (status, body) = ledger.get(&as_manager(), "/api/v1/reports/overview?month=2026-03").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_query")));
    ledger.stop().await;
}
