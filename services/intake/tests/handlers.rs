//! Intake's handlers through `Router::oneshot`, without Kafka or Redis: the event log and the
//! case store are the in-memory ones of `whistle_intake::memory` (which apply published events
//! with the case's own rules, as the projector does). The integration suites in `tests/` run the
//! same handlers against the real broker and Redis.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;
use whistle_auth::{Principal, Role, TokenKeys};
use whistle_intake::memory::{MemoryCases, MemoryLog};
use whistle_intake::routes::{self, AppState};
use whistle_schemas::Names;
use whistle_schemas::events::{CaseEvent, CaseEventBody, DepartmentRef, Dispatched};

const SECRET: &[u8] = b"handler-tests-only-signing-key-0123456789";

struct Harness {
    app: axum::Router,
    log: Arc<MemoryLog>,
    cases: Arc<MemoryCases>,
    keys: Arc<TokenKeys>,
}

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data").join(path)
}

fn harness() -> Harness {
    let registry = whistle_registry::Registry::load(&data("registry.json")).expect("registry");
    let assist = whistle_assist::Assist::load(&data("assist"), &registry).expect("assist data");
    let registry = whistle_registry::LiveRegistry::new(registry);
    let cases = Arc::new(MemoryCases::default());
    let log = Arc::new(MemoryLog::new(cases.clone()));
    let keys = Arc::new(TokenKeys::new(SECRET, chrono::Duration::hours(1)));
    // Never connected: these tests take no action that reads a subject's history.
    let lazy = whistle_common::redis_conn::Redis::lazy("redis://127.0.0.1:1").expect("url");
    let state = AppState {
        directory: whistle_auth::Directory::new(
            vec![],
            None,
            whistle_intake::accounts::demo_resolver(registry.clone()),
        )
        .expect("directory"),
        registry,
        history: whistle_assist::history::SubjectHistory::new(lazy, "t:", assist.data.fences.history()),
        assist: Arc::new(assist),
        log: log.clone(),
        store: cases.clone(),
        metrics: whistle_intake::metrics::Metrics::new().expect("metrics"),
        keys: keys.clone(),
        verifier: Arc::new(whistle_auth::Verifier::new(
            keys.clone(),
            whistle_auth::Revocations::in_memory(Duration::from_secs(3600)),
        )),
        accounts: None,
        evidence: None,
        trust_forwarded_for: false,
        open311: Arc::new(whistle_intake::routes::open311::Open311Keys::new([(
            "demo".to_owned(),
            whistle_intake::routes::open311::DEMO_KEY.to_owned(),
        )])),
        duplicates: Default::default(),
        oidc: None,
    };
    let rate = whistle_common::ratelimit::RateLimitSettings { enabled: false, ..Default::default() };
    let app = routes::router(
        state,
        64 * 1024,
        whistle_common::ratelimit::RateLimitLayer::from_settings(&rate),
        Duration::from_secs(30),
        whistle_common::http::InFlightLimit::new(256),
    );
    Harness { app, log, cases, keys }
}

fn town() -> Principal {
    Principal::new("town-500103001", Role::Town { town: "500103001".into(), district: "500103".into() })
}

fn officer(code: &str) -> Principal {
    Principal::new(format!("dept-{code}"), Role::Department { department: code.into(), district: code[..6].into() })
}

impl Harness {
    async fn call(&self, who: &Principal, method: &str, uri: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.keys.issue(who).0))
            .header("content-type", "application/json");
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
        let resp = self.app.clone().oneshot(req.body(body).expect("request")).await.expect("infallible");
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A whistle raised by the town and dispatched to `500103-EE`, as the router would.
    async fn dispatched(&self) -> Uuid {
        let body = json!({"town": "500103001", "item": "CQ-ENV-001", "description": "河边有废油桶泄漏",
                          "location": {"lat": 29.557, "lon": 106.577, "address": "渝中区解放碑"}});
        let (status, answer) = self.call(&town(), "POST", "/api/v1/whistles", body, None).await;
        assert_eq!(status, 202, "{answer}");
        let id: Uuid = answer["id"].as_str().expect("id").parse().expect("uuid");
        let dispatch = CaseEvent::new(
            Uuid::new_v4(),
            "/test/router",
            id,
            Utc::now(),
            CaseEventBody::Dispatched(Dispatched {
                department: DepartmentRef {
                    code: "500103-EE".into(),
                    names: Names { zh: "渝中区生态环境局".into(), en: "EE".into() },
                },
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                authority: None,
                triage: false,
                basis: "test".into(),
                registry_version: None,
                assisting: vec![],
            }),
        );
        self.cases.apply(&dispatch);
        id
    }

    fn published(&self, kind: &str) -> usize {
        self.log.events().iter().filter(|e| e.type_name() == kind).count()
    }
}

#[tokio::test]
async fn a_raise_is_published_once_and_readable_at_once() {
    let h = harness();
    let id = h.dispatched().await;
    assert_eq!(h.published("whistle.raised"), 1);
    let (status, view) = h.call(&town(), "GET", &format!("/api/v1/whistles/{id}"), Value::Null, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "dispatched");
    assert_eq!(view["department"]["code"], "500103-EE");
}

#[tokio::test]
async fn an_action_is_decided_by_the_case_and_a_second_one_is_refused_by_it() {
    let h = harness();
    let id = h.dispatched().await;
    let uri = format!("/api/v1/whistles/{id}/acknowledge");
    let (status, answer) = h.call(&officer("500103-EE"), "POST", &uri, Value::Null, None).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("acknowledged")), "{answer}");
    assert_eq!(h.published("whistle.acknowledged"), 1);
    let (status, answer) = h.call(&officer("500103-EE"), "POST", &uri, Value::Null, None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("invalid_transition")), "{answer}");
    assert_eq!(h.published("whistle.acknowledged"), 1, "a refused action publishes nothing");
}

#[tokio::test]
async fn a_retry_with_the_same_key_answers_as_the_first_and_publishes_nothing_more() {
    let h = harness();
    let id = h.dispatched().await;
    let uri = format!("/api/v1/whistles/{id}/pause");
    let body = json!({"reason": "等待业主到场"});
    let (s1, first) = h.call(&officer("500103-EE"), "POST", &uri, body.clone(), Some("k-1")).await;
    let (s2, again) = h.call(&officer("500103-EE"), "POST", &uri, body, Some("k-1")).await;
    assert_eq!((s1, s2), (202, 202), "{first} {again}");
    assert_eq!(first["event_id"], again["event_id"]);
    assert_eq!(h.published("whistle.paused"), 1);
}

#[tokio::test]
async fn an_account_outside_the_case_is_refused_and_nothing_is_published_even_with_a_used_key() {
    let h = harness();
    let id = h.dispatched().await;
    let uri = format!("/api/v1/whistles/{id}/acknowledge");
    assert_eq!(h.call(&officer("500103-EE"), "POST", &uri, Value::Null, Some("k-2")).await.0, 202);
    // Another district's officer with the same key: refused (keys are per account, and the
    // account is authorized before a retry is recognised).
    let (status, answer) = h.call(&officer("500104-EE"), "POST", &uri, Value::Null, Some("k-2")).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{answer}");
    // A town may read its whistle but not act on it.
    let (status, _) = h.call(&town(), "POST", &format!("/api/v1/whistles/{id}/arrive"), Value::Null, None).await;
    assert_eq!(status, 403);
    assert_eq!(h.log.events().len(), 2, "the raise and the one acknowledgement");
}

#[tokio::test]
async fn when_the_log_refuses_nothing_is_recorded_and_the_slot_is_free_for_the_retry() {
    let h = harness();
    let id = h.dispatched().await;
    let uri = format!("/api/v1/whistles/{id}/acknowledge");
    h.log.set_down(true);
    let (status, answer) = h.call(&officer("500103-EE"), "POST", &uri, Value::Null, Some("k-3")).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("unavailable")), "{answer}");
    h.log.set_down(false);
    let (status, answer) = h.call(&officer("500103-EE"), "POST", &uri, Value::Null, Some("k-3")).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(h.published("whistle.acknowledged"), 1);
}

#[tokio::test]
async fn an_action_while_another_is_being_recorded_is_told_to_look_again() {
    let h = harness();
    let id = h.dispatched().await;
    // Another intake accepted an action a moment ago; it is not on the timeline yet.
    h.cases.hold_slot(id, Uuid::new_v4());
    let (status, answer) =
        h.call(&officer("500103-EE"), "POST", &format!("/api/v1/whistles/{id}/acknowledge"), Value::Null, None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("action_in_progress")), "{answer}");
    assert_eq!(h.published("whistle.acknowledged"), 0);
}

#[tokio::test]
async fn the_case_limit_stops_pauses_with_case_limit_reached() {
    let h = harness();
    let id = h.dispatched().await;
    let officer = officer("500103-EE");
    for n in 0..whistle_case::limits::MAX_PAUSES {
        let (status, answer) = h
            .call(
                &officer,
                "POST",
                &format!("/api/v1/whistles/{id}/pause"),
                json!({"reason": format!("第{n}次")}),
                None,
            )
            .await;
        assert_eq!(status, 202, "pause {n}: {answer}");
        let (status, _) = h.call(&officer, "POST", &format!("/api/v1/whistles/{id}/resume"), Value::Null, None).await;
        assert_eq!(status, 202, "resume {n}");
    }
    let (status, answer) =
        h.call(&officer, "POST", &format!("/api/v1/whistles/{id}/pause"), json!({"reason": "again"}), None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("case_limit_reached")), "{answer}");
    assert_eq!(h.published("whistle.paused"), whistle_case::limits::MAX_PAUSES);
}

#[tokio::test]
async fn a_logged_out_token_is_refused_and_another_session_of_the_account_is_not() {
    let h = harness();
    let (first, second) = (h.keys.issue(&town()).0, h.keys.issue(&town()).0);
    let send = |token: String, method: &'static str, uri: &'static str| {
        let app = h.app.clone();
        async move {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let resp = app.oneshot(req).await.expect("infallible");
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    assert_eq!(send(first.clone(), "GET", "/api/v1/auth/me").await.0, 200);
    assert_eq!(send(first.clone(), "POST", "/api/v1/auth/logout").await.0, 204);
    let (status, body) = send(first.clone(), "GET", "/api/v1/auth/me").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("token_revoked")), "{body}");
    assert_eq!(send(first, "POST", "/api/v1/auth/logout").await.0, 401, "a revoked token cannot log out again");
    assert_eq!(send(second, "GET", "/api/v1/auth/me").await.0, 200, "the account's other session stays");
}

#[tokio::test]
async fn account_administration_is_for_admins_and_needs_the_account_store() {
    let h = harness();
    let admin = Principal::new("admin", Role::Admin);
    let (status, body) = h.call(&town(), "GET", "/api/v1/accounts", Value::Null, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = h.call(&admin, "GET", "/api/v1/accounts", Value::Null, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
    // Refused before the body is read: a non-admin's malformed body is still a 403.
    let (status, _) = h.call(&town(), "POST", "/api/v1/accounts", json!(["not", "an", "object"]), None).await;
    assert_eq!(status, 403);
}

// ---- Open311 GeoReport v2 (docs/open311.md).

impl Harness {
    /// A request without a bearer token, as an Open311 client sends it.
    async fn open311(&self, method: &str, uri: &str, form: Option<&str>) -> (u16, String, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if form.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let body = form.map_or_else(Body::empty, |f| Body::from(f.to_owned()));
        let resp = self.app.clone().oneshot(req.body(body).expect("request")).await.expect("infallible");
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        (status, content_type, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    async fn open311_json(&self, method: &str, uri: &str, form: Option<&str>) -> (u16, Value) {
        let (status, _, text) = self.open311(method, uri, form).await;
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {text}")))
    }
}

const OPEN311_FORM: &str = "api_key=whistle-demo-open311&service_code=CQ-ENV-001&lat=29.5575&long=106.5770\
    &address_string=%E8%A7%A3%E6%94%BE%E7%A2%91&description=%E6%B2%B3%E8%BE%B9%E6%9C%89%E5%BA%9F%E6%B2%B9%E6%A1%B6\
    &first_name=San&last_name=Zhang&phone=13800000000";

#[tokio::test]
async fn open311_lists_citizen_services_in_chinese_and_english_and_defines_one() {
    let h = harness();
    let (status, services) = h.open311_json("GET", "/open311/v2/services.json", None).await;
    assert_eq!(status, 200, "{services}");
    let services = services.as_array().expect("an array");
    let env = services.iter().find(|s| s["service_code"] == "CQ-ENV-001").expect("an environment item");
    assert_eq!(env["metadata"], false);
    assert_eq!(env["type"], "realtime");
    assert!(env["service_name"].as_str().is_some_and(|n| !n.is_ascii()), "zh-CN by default: {env}");
    assert!(
        services.iter().all(|s| !["education", "civil_affairs", "labour"].contains(&s["group"].as_str().unwrap_or("")))
    );
    let (_, english) = h.open311_json("GET", "/open311/v2/services.json?locale=en", None).await;
    assert!(english[0]["service_name"].as_str().is_some_and(str::is_ascii), "{}", english[0]);
    let (status, definition) = h.open311_json("GET", "/open311/v2/services/CQ-ENV-001.json", None).await;
    assert_eq!((status, definition["service_code"].as_str()), (200, Some("CQ-ENV-001")));
    assert_eq!(definition["attributes"], json!([]));
    let (status, content_type, xml) = h.open311("GET", "/open311/v2/services.xml", None).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<services><service>")
            && xml.contains("<service_code>CQ-ENV-001</service_code>")
    );
    let (status, missing) = h.open311_json("GET", "/open311/v2/services/CQ-NOPE-999.json", None).await;
    assert_eq!(status, 404);
    assert_eq!(missing[0]["code"], 404, "{missing}");
}

#[tokio::test]
async fn an_open311_request_becomes_a_whistle_of_the_command_centre_in_the_town_and_reads_back() {
    let h = harness();
    let (status, created) = h.open311_json("POST", "/open311/v2/requests.json", Some(OPEN311_FORM)).await;
    assert_eq!(status, 201, "{created}");
    let id: Uuid = created[0]["service_request_id"].as_str().expect("id").parse().expect("uuid");
    let raised = h.log.events().into_iter().find(|e| e.subject == id).expect("published");
    let CaseEventBody::Raised(r) = raised.body else { panic!("a raise") };
    assert_eq!(r.town, "500103001", "解放碑's centre is nearest");
    assert_eq!(r.district, "500103");
    assert_eq!(r.raised_by.code, "500103-CC");
    assert!(r.description.contains("13800000000"), "the department may call back: {}", r.description);
    let (status, read) = h.open311_json("GET", &format!("/open311/v2/requests/{id}.json"), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read[0]["status"], "open");
    assert_eq!(read[0]["whistle_status"], "raised");
    assert_eq!(read[0]["town"], "500103001");
    assert!(!read[0].to_string().contains("13800000000"), "a public reader never sees the contact: {read}");
    let (_, list) = h.open311_json("GET", &format!("/open311/v2/requests.json?service_request_id={id}"), None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let (_, list) = h.open311_json("GET", "/open311/v2/requests.json?status=closed", None).await;
    assert_eq!(list, json!([]));
    let (status, _, xml) = h.open311("GET", &format!("/open311/v2/requests/{id}.xml"), None).await;
    assert_eq!(status, 200);
    assert!(xml.contains("<service_requests><request>") && xml.contains("<status>open</status>"), "{xml}");
}

#[tokio::test]
async fn open311_requests_from_a_chinese_map_are_stored_in_wgs84_and_elsewhere_go_to_triage() {
    let h = harness();
    // 解放碑 as AMap shows it (GCJ-02), said so.
    let gcj = whistle_geo::wgs84_to_gcj02(whistle_geo::Point::new(29.5575, 106.5770));
    let form = format!(
        "api_key=whistle-demo-open311&service_code=CQ-ENV-001&lat={}&long={}&datum=gcj02&description=leak",
        gcj.lat, gcj.lon
    );
    let (status, created) = h.open311_json("POST", "/open311/v2/requests.json", Some(&form)).await;
    assert_eq!(status, 201, "{created}");
    let id: Uuid = created[0]["service_request_id"].as_str().expect("id").parse().expect("uuid");
    let raised = h.log.events().into_iter().find(|e| e.subject == id).expect("published");
    let CaseEventBody::Raised(r) = raised.body else { panic!("a raise") };
    let stored = whistle_geo::Point::new(r.location.lat, r.location.lon);
    assert!(stored.distance_m(whistle_geo::Point::new(29.5575, 106.5770)) < 1.0, "{stored:?}");
    // 万州: no town centres there, so no town: the command centre triages.
    let form = "api_key=whistle-demo-open311&service_code=CQ-ENV-001&lat=30.8078&long=108.3802&description=leak";
    let (status, created) = h.open311_json("POST", "/open311/v2/requests.json", Some(form)).await;
    assert_eq!(status, 201, "{created}");
    let id: Uuid = created[0]["service_request_id"].as_str().expect("id").parse().expect("uuid");
    let raised = h.log.events().into_iter().find(|e| e.subject == id).expect("published");
    let CaseEventBody::Raised(r) = raised.body else { panic!("a raise") };
    assert_eq!((r.town.as_str(), r.district.as_str(), r.raised_by.code.as_str()), ("", "500101", "500101-CC"));
}

#[tokio::test]
async fn open311_refusals_are_georeport_errors_that_say_why() {
    let h = harness();
    let base = "service_code=CQ-ENV-001&lat=29.5575&long=106.5770&description=x";
    for (form, status, says) in [
        (base.to_owned(), 403, "api_key is required"),
        (format!("api_key=not-a-key&{base}"), 403, "not valid"),
        (
            "api_key=whistle-demo-open311&service_code=CQ-ENV-001&lat=30.66&long=104.06&description=x".to_owned(),
            400,
            "outside Chongqing",
        ),
        (
            "api_key=whistle-demo-open311&service_code=CQ-ENV-001&address_string=x&description=x".to_owned(),
            400,
            "does not geocode",
        ),
        (
            "api_key=whistle-demo-open311&service_code=CQ-NOPE-1&lat=29.5575&long=106.5770&description=x".to_owned(),
            400,
            "no such service",
        ),
        (
            "api_key=whistle-demo-open311&service_code=CQ-ENV-001&lat=29.5575&long=106.5770".to_owned(),
            400,
            "description is required",
        ),
        (format!("api_key=whistle-demo-open311&{base}&jurisdiction_id=500101"), 400, "lies in district 500103"),
        (format!("api_key=whistle-demo-open311&{base}&datum=bd09"), 400, "datum"),
    ] {
        let (got, answer) = h.open311_json("POST", "/open311/v2/requests.json", Some(&form)).await;
        assert_eq!(got, status, "{form}: {answer}");
        assert_eq!(answer[0]["code"], status, "{answer}");
        let description = answer[0]["description"].as_str().expect("a description");
        assert!(description.contains(says), "{form}: {description}");
    }
    let (status, _, xml) = h.open311("POST", "/open311/v2/requests.xml", Some(base)).await;
    assert_eq!(status, 403);
    assert!(xml.contains("<errors><error><code>403</code>"), "{xml}");
    let (status, answer) = h
        .open311_json(
            "GET",
            "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer[0]["description"].as_str().is_some_and(|d| d.contains("90 days")));
    let (status, _) = h.open311_json("GET", &format!("/open311/v2/requests/{}.json", Uuid::new_v4()), None).await;
    assert_eq!(status, 404);
    assert!(h.log.events().is_empty(), "nothing refused was published");
}

#[tokio::test]
async fn a_raise_outside_chongqing_is_refused_and_a_gcj02_one_is_stored_in_wgs84() {
    let h = harness();
    let body = json!({"town": "500103001", "item": "CQ-ENV-001", "description": "x",
                      "location": {"lat": 30.66, "lon": 104.06, "address": "成都"}});
    let (status, answer) = h.call(&town(), "POST", "/api/v1/whistles", body, None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{answer}");
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("outside Chongqing")), "{answer}");
    let gcj = whistle_geo::wgs84_to_gcj02(whistle_geo::Point::new(29.5575, 106.5770));
    let body = json!({"town": "500103001", "item": "CQ-ENV-001", "description": "x", "datum": "gcj02",
                      "location": {"lat": gcj.lat, "lon": gcj.lon, "address": "解放碑"}});
    let (status, answer) = h.call(&town(), "POST", "/api/v1/whistles", body, None).await;
    assert_eq!(status, 202, "{answer}");
    let id: Uuid = answer["id"].as_str().expect("id").parse().expect("uuid");
    let case = h.cases.case(id).expect("provisional case");
    assert!(
        whistle_geo::Point::new(case.location.lat, case.location.lon)
            .distance_m(whistle_geo::Point::new(29.5575, 106.5770))
            < 1.0
    );
}

#[tokio::test]
async fn a_raise_near_an_open_whistle_names_it_and_a_merge_publishes_the_survivor_first_and_once() {
    let h = harness();
    let first = h.dispatched().await;
    let second = h.dispatched().await;
    let raised: Vec<_> = h.log.events().into_iter().filter(|e| e.type_name() == "whistle.raised").collect();
    assert_eq!(raised.len(), 2);
    // The second raise (same item, same place) was answered with the first; check through a
    // third raise, which sees both, nearest (equal) first.
    let body = json!({"town": "500103002", "item": "CQ-ENV-001", "description": "油污",
                      "location": {"lat": 29.55745, "lon": 106.577, "address": "解放碑"}});
    let other_town =
        Principal::new("town-500103002", Role::Town { town: "500103002".into(), district: "500103".into() });
    let (status, answer) = h.call(&other_town, "POST", "/api/v1/whistles", body, None).await;
    assert_eq!(status, 202, "{answer}");
    let dups: Vec<&str> =
        answer["possible_duplicates"].as_array().expect("a list").iter().filter_map(Value::as_str).collect();
    assert_eq!(dups.len(), 2, "{answer}");
    assert!(dups.contains(&first.to_string().as_str()) && dups.contains(&second.to_string().as_str()));

    let uri = format!("/api/v1/whistles/{second}/merge");
    let (status, answer) = h.call(&officer("500103-EE"), "POST", &uri, json!({"into": first}), None).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("merged")), "{answer}");
    let kinds: Vec<&str> = h.log.events().iter().rev().take(2).map(|e| e.type_name()).collect();
    assert_eq!(kinds, ["whistle.merged", "whistle.absorbed"], "the survivor's event first");
    let (again, replay) = h.call(&officer("500103-EE"), "POST", &uri, json!({"into": first}), None).await;
    assert_eq!((again, &replay["event_id"]), (202, &answer["event_id"]), "{replay}");
    assert_eq!((h.published("whistle.merged"), h.published("whistle.absorbed")), (1, 1), "a replay publishes nothing");
    // The merged whistle is no likely duplicate any more; the survivor still is.
    let (status, found) = h
        .call(
            &other_town,
            "GET",
            "/api/v1/whistles/duplicates?item=CQ-ENV-001&lat=29.557&lon=106.577",
            Value::Null,
            None,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(ids.contains(&first.to_string().as_str()) && !ids.contains(&second.to_string().as_str()), "{found}");
    // The first whistle's town is 500103001: the other town sees it without its description.
    let shown = found["items"].as_array().expect("items").iter().find(|i| i["id"] == first.to_string()).expect("first");
    assert_eq!(shown["readable"], false);
    assert!(shown.get("description").is_none(), "{shown}");
}

#[tokio::test]
async fn without_single_sign_on_the_config_says_password_only_and_its_endpoints_are_not_configured() {
    let h = harness();
    let (status, config) = h.call(&town(), "GET", "/api/v1/auth/config", Value::Null, None).await;
    assert_eq!((status, config), (200, json!({"password": true, "oidc": null})));
    for uri in ["/api/v1/auth/oidc/login?return_to=/", "/api/v1/auth/oidc/callback?code=x&state=y"] {
        let (status, body) = h.call(&town(), "GET", uri, Value::Null, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("oidc_not_configured")), "{uri}");
    }
}
