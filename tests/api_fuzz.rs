//! The HTTP APIs under generated abuse. The in-process stack (real Kafka and Redis, this test's
//! own topics and key prefix) gets a few thousand generated requests — random methods and paths
//! under `/api/v1`, random and request-shaped JSON, truncated JSON, huge strings, wrong types,
//! unicode and control characters, garbage query strings and `Idempotency-Key`s — sent to
//! intake, the registry service and the SLA service. No answer may be a 5xx (every dependency is
//! up), none may take longer than a few seconds, and every error must be the API's JSON shape.
//!
//! 2,000 requests by default (well under a minute); `PROPTEST_CASES=20000` sends more.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use whistle_schemas::api::ErrorBody;
use whistle_tests::*;

/// A request is hung if it takes longer than this.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    Intake,
    Registry,
    Sla,
}

#[derive(Debug, Clone)]
struct Generated {
    method: Method,
    path: String,
    query: Option<String>,
    content_type: Option<&'static str>,
    idempotency_key: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
}

impl Generated {
    fn service(&self) -> Service {
        if self.path.starts_with("/api/v1/sla") {
            Service::Sla
        } else if self.path.starts_with("/api/v1/registry") || self.path.starts_with("/api/v1/districts") {
            Service::Registry
        } else {
            Service::Intake
        }
    }
}

/// Where requests go, and the one place every request is sent from.
struct Api {
    http: reqwest::Client,
    intake: String,
    registry: String,
    sla: String,
}

/// The token a generated request carries: mostly the account the endpoint is for (so bodies
/// reach the handlers' own checks), sometimes none, a garbage one, or a wrong account's.
fn bearer_for(r: &Generated) -> Option<String> {
    let spin = r.path.len() + r.body.as_ref().map_or(0, Vec::len) + r.query.as_ref().map_or(0, String::len);
    match spin % 10 {
        0 => return None,
        1 => return Some("not.a.token".to_owned()),
        2 => return Some(token(&as_town("500104001"))),
        _ => {}
    }
    let who = match r.service() {
        Service::Registry => as_admin(),
        Service::Sla => as_manager(),
        Service::Intake if r.path == "/api/v1/whistles" => as_town(TOWN),
        Service::Intake if r.path.starts_with("/api/v1/whistles/") => as_department(DEPARTMENT),
        Service::Intake => as_manager(),
    };
    Some(token(&who))
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Api {
    async fn send(&self, r: &Generated) -> Result<Answer, String> {
        let base = match r.service() {
            Service::Intake => &self.intake,
            Service::Registry => &self.registry,
            Service::Sla => &self.sla,
        };
        let url = match &r.query {
            Some(q) => format!("{base}{}?{q}", r.path),
            None => format!("{base}{}", r.path),
        };
        let mut headers = HeaderMap::new();
        if let Some(ct) = r.content_type {
            headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        if let Some(key) = &r.idempotency_key
            && let Ok(value) = HeaderValue::from_bytes(key)
        {
            headers.insert(HeaderName::from_static("idempotency-key"), value);
        }
        if let Some(token) = bearer_for(r) {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let mut req = self.http.request(r.method.clone(), url).headers(headers);
        if let Some(body) = &r.body {
            req = req.body(body.clone());
        }
        let resp = tokio::time::timeout(ANSWER_TIMEOUT, req.send())
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|e| format!("request failed: {e}: {e:?}"))?;
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = tokio::time::timeout(ANSWER_TIMEOUT, resp.bytes())
            .await
            .map_err(|_| "body not sent in time".to_owned())?
            .map_err(|e| format!("reading the body: {e}"))?;
        Ok(Answer { status, content_type, body: body.to_vec() })
    }
}

/// Strings that tend to break things.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[\\x00-\\x1f\\x7f\u{202e}\u{feff} a\"\\\\/%{}\\[\\]<>]{0,20}",
        1 => (1000usize..70_000).prop_map(|n| "長".repeat(n / 3)),
        1 => Just(String::new()),
        1 => Just("500103001".to_owned()),
        1 => Just(DEPT_ITEM.to_owned()),
        1 => Just("500103-UM".to_owned()),
        1 => Just("9999-12-31T23:59:59Z".to_owned()),
        1 => Just("2000-01-01T00:00:00+23:59".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("town".to_owned()),
                    Just("item".to_owned()),
                    Just("description".to_owned()),
                    Just("reason".to_owned()),
                    Just("subject".to_owned()),
                    Just("to".to_owned()),
                    Just("district".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies close to what each endpoint takes, with one field replaced by something nasty.
fn shaped_body() -> impl Strategy<Value = Value> {
    let raise = raise_body(TOWN, DEPT_ITEM, "河边堆放的废油桶");
    let templates = vec![
        raise,
        json!({"reason": "不属于本部门"}),
        json!({"to": "500103-UM", "reason": "转办"}),
        json!({"note": "已处理"}),
        json!({"text": "油桶泄漏", "limit": 3}),
        json!({"item": DEPT_ITEM, "subject": {"credit_code": "91500103MA60XY312F"}, "corrected_in_time": true}),
        json!({"subject": {"address": "渝中区解放碑步行街8号"}, "persuaded": true, "note": "x"}),
        json!({"subject": {"address": "渝中区解放碑步行街8号"}, "amount_yuan": 500, "override_reason": "x"}),
        json!({"district": "500103", "effective_from": "2099-01-01T00:00:00Z", "reason": "r", "actor": "a",
               "department_type": "FR"}),
        json!({"item": "CQ-FIRE-001", "action": "recover", "change": {"district": "500103",
               "effective_from": "2099-01-01T00:00:00Z", "reason": "r", "actor": "a", "department_type": "FR"}}),
    ];
    (proptest::sample::select(templates), proptest::option::weighted(0.7, ("[a-z_]{1,14}", json_value()))).prop_map(
        |(mut body, edit)| {
            if let (Some((key, value)), Some(obj)) = (edit, body.as_object_mut()) {
                // Replace a known field (most of the time) or add an unknown one.
                let keys: Vec<String> = obj.keys().cloned().collect();
                let target = keys.iter().find(|k| k.starts_with(&key[..1])).cloned().unwrap_or(key);
                obj.insert(target, value);
            }
            body
        },
    )
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        4 => shaped_body().prop_map(|v| Some(serde_json::to_vec(&v).expect("json"))),
        2 => json_value().prop_map(|v| Some(serde_json::to_vec(&v).expect("json"))),
        // Truncated JSON.
        2 => (shaped_body(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            let bytes = serde_json::to_vec(&v).expect("json");
            Some(bytes[..at.index(bytes.len())].to_vec())
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        // Deep nesting and sheer size.
        1 => (1usize..5000).prop_map(|n| Some(format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes())),
        1 => (60_000usize..300_000).prop_map(|n| Some(format!("{{\"description\":\"{}\"}}", "x".repeat(n)).into_bytes())),
        1 => Just(Some(b"town=500103001&item=x".to_vec())),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("{id}".to_owned()),
        2 => any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        1 => Just(DEPT_ITEM.to_owned()),
        1 => Just("CQ-FIRE-001".to_owned()),
        2 => "[A-Za-z0-9._~-]{0,40}",
        1 => prop_oneof![Just("%FF"), Just("%00"), Just("%2F..%2F"), Just("%E4%B8"), Just("..")].prop_map(str::to_owned),
        1 => proptest::collection::vec(any::<u8>(), 1..20).prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect()),
    ]
}

/// A path under `/api/v1` and the method it takes.
fn path() -> impl Strategy<Value = (String, Method)> {
    let action = prop_oneof![
        Just("acknowledge"),
        Just("arrive"),
        Just("resolve"),
        Just("reject"),
        Just("transfer"),
        Just("pause"),
        Just("resume"),
        Just("inspect"),
        Just("penalty"),
        Just("escalate"),
    ];
    let registry_action = prop_oneof![Just("delegate"), Just("recover"), Just("holder"), Just("history")];
    let (get, post) = (Method::GET, Method::POST);
    prop_oneof![
        3 => Just(("/api/v1/whistles".to_owned(), post.clone())),
        2 => segment().prop_map({ let m = get.clone(); move |s| (format!("/api/v1/whistles/{s}"), m.clone()) }),
        6 => (segment(), action).prop_map({ let m = post.clone(); move |(s, a)| (format!("/api/v1/whistles/{s}/{a}"), m.clone()) }),
        1 => Just(("/api/v1/towns".to_owned(), get.clone())),
        2 => Just(("/api/v1/route".to_owned(), get.clone())),
        1 => Just(("/api/v1/assist/suggest".to_owned(), get.clone())),
        1 => Just(("/api/v1/assist/suggest".to_owned(), post.clone())),
        1 => Just(("/api/v1/assist/benchmark".to_owned(), post.clone())),
        1 => Just(("/api/v1/registry/items".to_owned(), get.clone())),
        1 => segment().prop_map({ let m = get.clone(); move |s| (format!("/api/v1/registry/items/{s}"), m.clone()) }),
        2 => (segment(), registry_action)
            .prop_map({ let m = post.clone(); move |(s, a)| (format!("/api/v1/registry/items/{s}/{a}"), m.clone()) }),
        1 => Just(("/api/v1/registry/export".to_owned(), get.clone())),
        1 => Just(("/api/v1/registry/import".to_owned(), post.clone())),
        2 => Just(("/api/v1/registry/whatif".to_owned(), post.clone())),
        1 => Just(("/api/v1/districts".to_owned(), get.clone())),
        2 => Just(("/api/v1/sla/summary".to_owned(), get.clone())),
        1 => segment().prop_map(move |s| (format!("/api/v1/{s}"), get.clone())),
    ]
}

fn query() -> impl Strategy<Value = Option<String>> {
    let key = prop_oneof![
        Just("town"),
        Just("item"),
        Just("at"),
        Just("district"),
        Just("text"),
        Just("limit"),
        Just("window_hours"),
        Just("actor"),
        Just("x"),
    ];
    let value = prop_oneof![
        nasty().prop_map(|s| urlencode(&s)),
        "[0-9-]{0,25}",
        Just("*".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("500103".to_owned()),
    ];
    proptest::option::of(
        proptest::collection::vec((key, value), 0..4)
            .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn request() -> impl Strategy<Value = Generated> {
    // Mostly the method the path takes, so requests reach the handlers; sometimes another.
    let other_method = proptest::option::weighted(
        0.15,
        prop_oneof![
            Just(Method::POST),
            Just(Method::GET),
            Just(Method::PUT),
            Just(Method::DELETE),
            Just(Method::PATCH),
            Just(Method::OPTIONS),
        ],
    );
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(None),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/json; charset=utf-16")),
        1 => Just(Some("text/csv")),
    ];
    let key = proptest::option::weighted(
        0.3,
        prop_oneof![
            "[ -~]{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..300),
            (129usize..1500).prop_map(|n| vec![b'k'; n]),
        ],
    );
    (path(), other_method, query(), content_type, key, body()).prop_map(
        |((path, method), other, query, content_type, idempotency_key, body)| Generated {
            method: other.unwrap_or(method),
            path,
            query,
            content_type,
            idempotency_key,
            body,
        },
    )
}

#[test]
fn generated_requests_never_get_a_5xx_and_every_error_is_the_json_shape() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    let stack = rt.block_on(Stack::start());
    let api = Api {
        // A fresh connection per request: a server that answers before reading a body (a 405, a
        // bad query) closes the connection afterwards, and a pooled connection could be reused
        // in the moment before the client notices, failing the next request for no fault of it.
        http: reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client"),
        intake: stack.api.clone(),
        registry: stack.registry.clone(),
        sla: stack.sla.clone(),
    };
    // A real whistle, so `{id}` paths reach the handlers' checks and not only the 404.
    let (status, raised) = rt.block_on(stack.raise(DEPT_ITEM, "fuzzing target"));
    assert_eq!(status, 202, "{raised}");
    let id = raised["id"].as_str().expect("id").to_owned();
    rt.block_on(stack.wait_for(&id, |v| v["status"] == "dispatched"));

    let counts: Mutex<BTreeMap<(Service, u16), u64>> = Mutex::default();
    let codes: Mutex<BTreeMap<String, u64>> = Mutex::default();
    let unsendable = Mutex::new(0u64);
    let reset = Mutex::new(0u64);
    let total = cases(2000);
    let config = ProptestConfig { cases: total, failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&request(), |mut r| {
        r.path = r.path.replace("{id}", &id);
        let answer = match rt.block_on(api.send(&r)) {
            Ok(a) => a,
            // A URL or header reqwest itself refuses to send is not a server answer.
            Err(e) if e.starts_with("request failed: builder error") => {
                *unsendable.lock().expect("lock") += 1;
                return Ok(());
            }
            // A server that answers without reading a large body (a GET that takes none, a
            // refused query) closes the connection with the body unread; the reset can reach
            // the client before it has read the answer. Any other transport failure is a bug.
            Err(e) if !e.contains("in time") && r.body.as_ref().is_some_and(|b| b.len() > 16 * 1024) => {
                *reset.lock().expect("lock") += 1;
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}: {r:?}"))),
        };
        *counts.lock().expect("lock").entry((r.service(), answer.status)).or_default() += 1;
        prop_assert!(answer.status < 500, "{} for {:?}: {}", answer.status, r, String::from_utf8_lossy(&answer.body));
        if answer.status >= 400 {
            prop_assert!(
                answer.content_type.starts_with("application/json"),
                "{} without JSON for {:?}: {:?}",
                answer.status,
                r,
                String::from_utf8_lossy(&answer.body)
            );
            let error: ErrorBody = serde_json::from_slice(&answer.body).map_err(|e| {
                TestCaseError::fail(format!(
                    "not the error shape ({e}) for {r:?}: {}",
                    String::from_utf8_lossy(&answer.body)
                ))
            })?;
            prop_assert!(!error.error.code.is_empty() && !error.error.message.is_empty());
            prop_assert!(error.error.message.chars().count() <= 1000, "bounded message: {}", error.error.message);
            *codes.lock().expect("lock").entry(format!("{} {}", answer.status, error.error.code)).or_default() += 1;
        }
        Ok(())
    });
    eprintln!("{total} generated requests; answers by service and status:");
    for ((service, status), n) in counts.lock().expect("lock").iter() {
        eprintln!("  {service:?} {status}: {n}");
    }
    eprintln!("error codes: {:?}", codes.lock().expect("lock"));
    eprintln!("not sendable by the client: {}", unsendable.lock().expect("lock"));
    eprintln!("large bodies reset after an early answer: {}", reset.lock().expect("lock"));
    // Still healthy afterwards: a valid whistle goes through.
    let (status, body) = rt.block_on(stack.raise(DEPT_ITEM, "after the fuzzing"));
    rt.block_on(stack.stop());
    result.expect("property holds");
    assert_eq!(status, 202, "{body}");
}
