//! The authorization matrix: every role against every HTTP endpoint and every kind of WebSocket
//! channel, on the in-process services with real Kafka and Redis. The expected outcome of each
//! cell is written out here, independently of the rules in `whistle-auth`, so a change to those
//! rules that widens or narrows anyone's access fails this test.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use whistle_auth::{Principal, Role, TokenKeys};
use whistle_tests::*;

const OTHER_TOWN: &str = "500103002";
const ASSISTING: &str = "500103-UM";
const OTHER_DEPT: &str = "500103-PS";
/// A well-formed unified social credit code (the check character matches).
const CREDIT_CODE: &str = "91500103MA60XY312F";

/// The accounts of the matrix, by a short name used in the tables.
fn accounts() -> Vec<(&'static str, Principal)> {
    vec![
        ("town", as_town(TOWN)),
        ("other_town", as_town(OTHER_TOWN)),
        ("owner", as_department(DEPARTMENT)),
        ("assisting", as_department(ASSISTING)),
        ("other_dept", as_department(OTHER_DEPT)),
        ("cc", as_department("500103-CC")),
        ("other_cc", as_department("500104-CC")),
        ("manager", as_manager()),
        ("district_manager", Principal::new("manager-500103", Role::Manager { district: Some("500103".into()) })),
        ("other_manager", Principal::new("manager-500104", Role::Manager { district: Some("500104".into()) })),
        ("admin", as_admin()),
        ("supervisor", Principal::new("supervisor", Role::Supervisor { district: None })),
        (
            "district_supervisor",
            Principal::new("supervisor-500103", Role::Supervisor { district: Some("500103".into()) }),
        ),
        ("other_supervisor", Principal::new("supervisor-500104", Role::Supervisor { district: Some("500104".into()) })),
    ]
}

/// Which accounts pass authorization for a request; every other account must get `403`.
#[derive(Debug, Clone, Copy)]
enum Who {
    All,
    Only(&'static [&'static str]),
}

impl Who {
    fn allows(self, name: &str) -> bool {
        match self {
            Who::All => true,
            Who::Only(names) => names.contains(&name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Service {
    Intake,
    Registry,
    Sla,
    Ledger,
    Notify,
}

/// The ledger service of the matrix (started beside the stack, on its topics and Redis prefix).
static LEDGER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn call(
    stack: &Stack,
    service: Service,
    method: &str,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> (u16, Value) {
    let base = match service {
        Service::Intake => &stack.api,
        Service::Registry => &stack.registry,
        Service::Sla => &stack.sla,
        Service::Ledger => LEDGER.get().expect("the ledger runs"),
        Service::Notify => stack.notify.as_ref().expect("a stack with a database runs the notifier"),
    };
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => stack.http.get(&url),
        "PUT" => stack.http.put(&url),
        "DELETE" => stack.http.delete(&url),
        _ => stack.http.post(&url),
    };
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    // An upload: a multipart POST of a small photo.
    if method == "UPLOAD" {
        let part =
            reqwest::multipart::Part::bytes(tiny_png()).file_name("photo.png").mime_str("image/png").expect("mime");
        req = req.multipart(reqwest::multipart::Form::new().part("file", part));
    }
    if method == "POST" || method == "PUT" {
        req = match body {
            Value::String(csv) => req.header("content-type", "text/csv").body(csv.clone()),
            other => req.json(other),
        };
    }
    let resp = req.send().await.expect("request is sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A 2×2 PNG.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(2, 2, image::Rgb([200, 30, 30]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encodes");
    out
}

/// Raises a joint whistle (lead `DEPARTMENT`, assisted by `ASSISTING`) and waits until routed.
async fn joint_case(stack: &Stack) -> String {
    joint_case_with(stack, &[]).await
}

/// A joint whistle referencing `attachments` (the town's own).
async fn joint_case_with(stack: &Stack, attachments: &[&str]) -> String {
    let mut body = raise_body(TOWN, DEPT_ITEM, "authorization matrix");
    body["assist"] = json!(["UM"]);
    if !attachments.is_empty() {
        body["attachments"] = json!(attachments);
    }
    let (status, answer) = stack.post("/api/v1/whistles", &body).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().expect("id").to_owned();
    stack
        .wait_for(&id, |v| v["status"] == "dispatched" && v["assisting"].as_array().is_some_and(|a| !a.is_empty()))
        .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_role_against_every_endpoint() {
    let stack = Stack::start_with_database().await;
    let ledger = LedgerService::start(&stack.iso).await;
    LEDGER.set(ledger.url.clone()).expect("one matrix");
    // An account of the account store for the administration endpoints to act on.
    let (status, created) = call(
        &stack,
        Service::Intake,
        "POST",
        "/api/v1/accounts",
        &json!({"username": "matrix.target", "password": "initial-password-1", "role": "town", "town": TOWN}),
        Some(&token(&as_admin())),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let future = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let subject = json!({"subject": {"credit_code": CREDIT_CODE}});
    let penalty = json!({"subject": {"credit_code": CREDIT_CODE}, "amount_yuan": 1000});
    let readers: &[&str] =
        &["town", "owner", "assisting", "cc", "manager", "district_manager", "supervisor", "district_supervisor"];
    let ledger_readers: &[&str] = &[
        "town",
        "other_town",
        "owner",
        "assisting",
        "other_dept",
        "cc",
        "other_cc",
        "manager",
        "district_manager",
        "other_manager",
        "supervisor",
        "district_supervisor",
        "other_supervisor",
    ];

    // The surviving case of the merges the matrix allows (its owner and the command centre
    // may merge into it; the merged case must be theirs too).
    let survivor = joint_case(&stack).await;
    // Whistle-scoped endpoints: (method, action path, body, who passes authorization).
    let case_endpoints: Vec<(&str, &str, Value, Who)> = vec![
        ("GET", "", Value::Null, Who::Only(readers)),
        ("POST", "acknowledge", json!({}), Who::Only(&["owner"])),
        ("POST", "arrive", json!({}), Who::Only(&["owner"])),
        ("POST", "resolve", json!({"note": "done"}), Who::Only(&["owner"])),
        ("POST", "reject", json!({"reason": "not ours"}), Who::Only(&["owner"])),
        ("POST", "transfer", json!({"to": OTHER_DEPT, "reason": "theirs"}), Who::Only(&["owner", "cc"])),
        ("POST", "pause", json!({"reason": "waiting for the owner"}), Who::Only(&["owner", "cc"])),
        ("POST", "resume", json!({}), Who::Only(&["owner", "cc"])),
        ("POST", "merge", json!({"into": survivor}), Who::Only(&["owner", "cc"])),
        ("POST", "inspect", subject.clone(), Who::Only(&["owner", "assisting"])),
        ("POST", "penalty", penalty.clone(), Who::Only(&["owner", "assisting"])),
        // Closing the loop is the raising town's; comments are the case's parties'.
        ("POST", "confirm", json!({"rating": 5}), Who::Only(&["town"])),
        ("POST", "reopen", json!({"reason": "still there"}), Who::Only(&["town"])),
        (
            "POST",
            "comments",
            json!({"text": "the owner is back at 3 pm"}),
            Who::Only(&["town", "owner", "assisting", "cc"]),
        ),
    ];
    // Denied calls all go to one case; every allowed (role, action) gets a fresh case, since an
    // allowed action may change it.
    let shared = joint_case(&stack).await;
    let mut cells = 0;
    for (method, action, body, who) in &case_endpoints {
        for (name, principal) in accounts() {
            let id = if who.allows(name) && *method == "POST" { joint_case(&stack).await } else { shared.clone() };
            let path = if action.is_empty() {
                format!("/api/v1/whistles/{id}")
            } else {
                format!("/api/v1/whistles/{id}/{action}")
            };
            let (status, answer) = call(&stack, Service::Intake, method, &path, body, Some(&token(&principal))).await;
            if who.allows(name) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{name} may {method} {action:?}, got {status}: {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (403, Some("forbidden")),
                    "{name} {method} {action:?}: {answer}"
                );
            }
            cells += 1;
        }
    }

    // A town's own enforcement case: only its town acts on it; its readers are the town and the
    // district's command centre, managers and supervisors (no department owns it).
    let case_readers: &[&str] = &["town", "cc", "manager", "district_manager", "supervisor", "district_supervisor"];
    let open_body = json!({
        "town": TOWN, "item": TOWN_ITEM, "description": "matrix case",
        "location": {"lat": 29.56, "lon": 106.57, "address": "解放碑"},
        "subject": {"kind": "unit", "name": "某商贸有限公司", "credit_code": CREDIT_CODE},
    });
    let town_case = {
        let (status, body) = stack.post_as(&as_town(TOWN), "/api/v1/cases", &open_body).await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let (status, _) = stack.get_as(&as_town(TOWN), &format!("/api/v1/cases/{id}")).await;
        assert_eq!(status, 200);
        id
    };
    let officers = json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "photos"});
    let town_case_endpoints: Vec<(&str, &str, Value, Who)> = vec![
        ("GET", "", Value::Null, Who::Only(case_readers)),
        ("POST", "persuade", json!({"outcome": "refused"}), Who::Only(&["town"])),
        ("POST", "investigate", officers, Who::Only(&["town"])),
        ("POST", "notify", json!({"intended": "a fine"}), Who::Only(&["town"])),
        ("POST", "decide", json!({"outcome": "warning"}), Who::Only(&["town"])),
        ("POST", "serve", json!({}), Who::Only(&["town"])),
        ("POST", "close", json!({}), Who::Only(&["town"])),
        ("POST", "comments", json!({"text": "a note"}), Who::Only(&["town"])),
    ];
    for (method, action, body, who) in &town_case_endpoints {
        for (name, principal) in accounts() {
            let path = if action.is_empty() {
                format!("/api/v1/cases/{town_case}")
            } else {
                format!("/api/v1/cases/{town_case}/{action}")
            };
            let (status, answer) = call(&stack, Service::Intake, method, &path, body, Some(&token(&principal))).await;
            if who.allows(name) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{name} may {method} {action:?} on a town case, got {status}: {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (403, Some("forbidden")),
                    "{name} {method} {action:?} on a town case: {answer}"
                );
            }
            cells += 1;
        }
    }

    // Everything else: (service, method, path, body, who passes).
    let csv_with_an_error = format!("{}\r\nnot,a,row\r\n", whistle_registry::csv::HEADER.join(","));
    let change = json!({"district": "500103", "effective_from": "2020-01-01T00:00:00Z", "reason": "matrix", "department_type": "EE"});
    let admin_only = Who::Only(&["admin"]);
    let roster = json!({
        "people": [{"id": "duty", "name": "王值班", "email": "duty@example.cn"}],
        "shifts": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:30", "end": "17:30", "person": "duty"}]
    });
    // Webhook subscriptions to act on: one of district 500103, and one of 500104 to delete (its
    // command centre deletes it before the administrator's call finds it gone, `404`).
    let webhook = json!({"url": "http://127.0.0.1:9/hook", "events": ["whistle.raised"]});
    let mut hooks = Vec::new();
    for district in ["500103", "500104"] {
        let mut body = webhook.clone();
        body["district"] = json!(district);
        let (status, created) =
            call(&stack, Service::Notify, "POST", "/api/v1/webhooks", &body, Some(&token(&as_admin()))).await;
        assert_eq!(status, 201, "{created}");
        hooks.push(created["id"].as_str().expect("id").to_owned());
    }
    let (hook, doomed_hook) = (&hooks[0], &hooks[1]);
    let endpoints: Vec<(Service, &str, String, Value, Who)> = vec![
        (Service::Intake, "GET", "/api/v1/auth/me".into(), Value::Null, Who::All),
        // Every token here is fresh, so logging one out leaves the others alone.
        (Service::Intake, "POST", "/api/v1/auth/logout".into(), Value::Null, Who::All),
        // Demo accounts pass authorization and are then told their password is not changed here.
        (
            Service::Intake,
            "POST",
            "/api/v1/auth/password".into(),
            json!({"old_password": DEMO_PASSWORD, "new_password": "a-new-password-1"}),
            Who::All,
        ),
        (Service::Intake, "GET", "/api/v1/accounts".into(), Value::Null, admin_only),
        (
            Service::Intake,
            "POST",
            "/api/v1/accounts".into(),
            json!({"username": "matrix.created", "password": "initial-password-2", "role": "manager"}),
            admin_only,
        ),
        (Service::Intake, "GET", "/api/v1/accounts/audit".into(), Value::Null, admin_only),
        (Service::Intake, "POST", "/api/v1/accounts/matrix.target/disable".into(), Value::Null, admin_only),
        (Service::Intake, "POST", "/api/v1/accounts/matrix.target/enable".into(), Value::Null, admin_only),
        (
            Service::Intake,
            "POST",
            "/api/v1/accounts/matrix.target/password".into(),
            json!({"password": "another-password-3"}),
            admin_only,
        ),
        (
            Service::Intake,
            "POST",
            "/api/v1/accounts/matrix.target/role".into(),
            json!({"role": "department", "department": DEPARTMENT}),
            admin_only,
        ),
        (Service::Intake, "GET", "/api/v1/towns".into(), Value::Null, Who::All),
        (Service::Intake, "GET", format!("/api/v1/route?town={TOWN}&item={DEPT_ITEM}"), Value::Null, Who::All),
        (Service::Intake, "GET", "/api/v1/assist/suggest?text=河道非法捕捞".into(), Value::Null, Who::All),
        (Service::Intake, "POST", "/api/v1/assist/suggest".into(), json!({"text": "占道经营"}), Who::All),
        (Service::Intake, "POST", "/api/v1/assist/benchmark".into(), json!({"item": DEPT_ITEM}), Who::All),
        // A subject's prior offences come from its penalty history: enforcement officers only.
        (
            Service::Intake,
            "POST",
            "/api/v1/assist/benchmark".into(),
            json!({"item": DEPT_ITEM, "subject": {"credit_code": CREDIT_CODE}}),
            Who::Only(&["owner", "assisting", "other_dept", "cc", "other_cc"]),
        ),
        (
            Service::Intake,
            "POST",
            "/api/v1/whistles".into(),
            raise_body(TOWN, DEPT_ITEM, "matrix raise"),
            Who::Only(&["town"]),
        ),
        (Service::Intake, "POST", "/api/v1/cases".into(), open_body.clone(), Who::Only(&["town"])),
        // 12345 hotline orders: a district's command centre imports its own (an empty file here).
        (
            Service::Intake,
            "POST",
            "/api/v1/hotline/orders".into(),
            Value::String("order_no,item,lat,lon,description\r\n".into()),
            Who::Only(&["cc", "other_cc"]),
        ),
        // Likely duplicates before a raise: every account that reads cases (a city-wide one is
        // then asked to name the district, 400); the administrator reads none.
        (
            Service::Intake,
            "GET",
            format!("/api/v1/whistles/duplicates?item={DEPT_ITEM}&lat=29.557&lon=106.577"),
            Value::Null,
            Who::Only(ledger_readers),
        ),
        (
            Service::Intake,
            "GET",
            "/api/v1/supervision/queue".into(),
            Value::Null,
            Who::Only(&["supervisor", "district_supervisor", "other_supervisor"]),
        ),
        // Nothing awaits a review on the shared case: a supervisor in scope is told so (422).
        (
            Service::Intake,
            "POST",
            format!("/api/v1/supervision/{shared}~{shared}/review"),
            json!({"verdict": "upheld"}),
            Who::Only(&["supervisor", "district_supervisor"]),
        ),
        (Service::Registry, "GET", "/api/v1/registry/items".into(), Value::Null, Who::All),
        (Service::Registry, "GET", format!("/api/v1/registry/items/{DEPT_ITEM}"), Value::Null, Who::All),
        (Service::Registry, "GET", "/api/v1/registry/export".into(), Value::Null, Who::All),
        (Service::Registry, "GET", "/api/v1/districts".into(), Value::Null, Who::All),
        // Admin passes authorization, then the past effective date is refused: nothing changes.
        (
            Service::Registry,
            "POST",
            format!("/api/v1/registry/items/{DEPT_ITEM}/delegate"),
            change.clone(),
            Who::Only(&["admin"]),
        ),
        (
            Service::Registry,
            "POST",
            format!("/api/v1/registry/items/{DEPT_ITEM}/recover"),
            change.clone(),
            Who::Only(&["admin"]),
        ),
        (
            Service::Registry,
            "POST",
            format!("/api/v1/registry/items/{DEPT_ITEM}/holder"),
            change.clone(),
            Who::Only(&["admin"]),
        ),
        (
            Service::Registry,
            "POST",
            "/api/v1/registry/import".into(),
            Value::String(csv_with_an_error),
            Who::Only(&["admin"]),
        ),
        (
            Service::Registry,
            "POST",
            "/api/v1/registry/whatif".into(),
            json!({"item": DEPT_ITEM, "action": "delegate", "change": {"district": "500103", "effective_from": future, "reason": "preview"}}),
            Who::Only(&["admin"]),
        ),
        (
            Service::Sla,
            "GET",
            "/api/v1/sla/summary".into(),
            Value::Null,
            Who::Only(&["cc", "other_cc", "manager", "district_manager", "other_manager"]),
        ),
        (
            Service::Sla,
            "GET",
            "/api/v1/sla/summary?district=500103".into(),
            Value::Null,
            Who::Only(&["cc", "manager", "district_manager"]),
        ),
        (
            Service::Sla,
            "GET",
            "/api/v1/sla/summary?district=500104".into(),
            Value::Null,
            Who::Only(&["other_cc", "manager", "other_manager"]),
        ),
        // The ledger: every account that reads cases lists them (each its own scope's rows).
        (Service::Ledger, "GET", "/api/v1/whistles".into(), Value::Null, Who::Only(ledger_readers)),
        (Service::Ledger, "GET", "/api/v1/cases".into(), Value::Null, Who::Only(ledger_readers)),
        (Service::Ledger, "GET", "/api/v1/whistles/export.csv".into(), Value::Null, Who::Only(ledger_readers)),
        (Service::Ledger, "GET", "/api/v1/whistles/export.xlsx".into(), Value::Null, Who::Only(ledger_readers)),
        (
            Service::Ledger,
            "GET",
            "/api/v1/reports/monthly?district=500103&month=2026-03".into(),
            Value::Null,
            Who::Only(&["cc", "manager", "district_manager"]),
        ),
        // Outcome figures: managers, supervisors and command centres of their scope, and the
        // administrator; a district account asking for nothing gets its own district.
        (
            Service::Ledger,
            "GET",
            "/api/v1/figures".into(),
            Value::Null,
            Who::Only(&[
                "cc",
                "other_cc",
                "manager",
                "district_manager",
                "other_manager",
                "admin",
                "supervisor",
                "district_supervisor",
                "other_supervisor",
            ]),
        ),
        (
            Service::Ledger,
            "GET",
            "/api/v1/figures?district=500103".into(),
            Value::Null,
            Who::Only(&["cc", "manager", "district_manager", "admin", "supervisor", "district_supervisor"]),
        ),
        // The charts' overview: every account that reads cases, over its own scope.
        (Service::Ledger, "GET", "/api/v1/reports/overview".into(), Value::Null, Who::Only(ledger_readers)),
        (
            Service::Ledger,
            "GET",
            "/api/v1/reports/overview?district=500103&from=2026-03-01&to=2026-04-01".into(),
            Value::Null,
            Who::Only(ledger_readers),
        ),
        // Rosters and undelivered notifications: administrators, and a command centre for its
        // own district's units.
        (Service::Notify, "GET", "/api/v1/rosters".into(), Value::Null, Who::Only(&["admin", "cc", "other_cc"])),
        (Service::Notify, "GET", "/api/v1/rosters?district=500103".into(), Value::Null, Who::Only(&["admin", "cc"])),
        (Service::Notify, "PUT", format!("/api/v1/rosters/{DEPARTMENT}"), roster.clone(), Who::Only(&["admin", "cc"])),
        (Service::Notify, "GET", format!("/api/v1/rosters/{DEPARTMENT}"), Value::Null, Who::Only(&["admin", "cc"])),
        (
            Service::Notify,
            "GET",
            format!("/api/v1/rosters/{DEPARTMENT}/on-duty"),
            Value::Null,
            Who::Only(&["admin", "cc"]),
        ),
        (
            Service::Notify,
            "GET",
            "/api/v1/notify/dead-letters".into(),
            Value::Null,
            Who::Only(&["admin", "cc", "other_cc"]),
        ),
        (
            Service::Notify,
            "GET",
            "/api/v1/notify/dead-letters?district=500104".into(),
            Value::Null,
            Who::Only(&["admin", "other_cc"]),
        ),
        // Webhooks: administrators for any scope, a command centre for its own district's.
        (Service::Notify, "POST", "/api/v1/webhooks".into(), webhook.clone(), Who::Only(&["admin", "cc", "other_cc"])),
        (Service::Notify, "GET", "/api/v1/webhooks".into(), Value::Null, Who::Only(&["admin", "cc", "other_cc"])),
        (Service::Notify, "GET", "/api/v1/webhooks?district=500103".into(), Value::Null, Who::Only(&["admin", "cc"])),
        (Service::Notify, "GET", format!("/api/v1/webhooks/{hook}"), Value::Null, Who::Only(&["admin", "cc"])),
        (Service::Notify, "POST", format!("/api/v1/webhooks/{hook}/resume"), Value::Null, Who::Only(&["admin", "cc"])),
        (
            Service::Notify,
            "GET",
            format!("/api/v1/webhooks/{hook}/deliveries"),
            Value::Null,
            Who::Only(&["admin", "cc"]),
        ),
        (
            Service::Notify,
            "DELETE",
            format!("/api/v1/webhooks/{doomed_hook}"),
            Value::Null,
            Who::Only(&["admin", "other_cc"]),
        ),
    ];
    // Evidence: uploaded by those who raise, open or act on cases; read by the readers of a case
    // that references it, and `404` (not `403`) for everyone else, as for an id naming nothing.
    let uploaders: &[&str] = &["town", "other_town", "owner", "assisting", "other_dept", "cc", "other_cc"];
    let (status, uploaded) =
        call(&stack, Service::Intake, "UPLOAD", "/api/v1/attachments", &Value::Null, Some(&token(&as_town(TOWN))))
            .await;
    assert_eq!(status, 201, "{uploaded}");
    let attachment = uploaded["id"].as_str().expect("id").to_owned();
    joint_case_with(&stack, &[&attachment]).await;
    let attachment_path = format!("/api/v1/attachments/{attachment}");
    for (name, principal) in accounts() {
        let (status, answer) =
            call(&stack, Service::Intake, "GET", &attachment_path, &Value::Null, Some(&token(&principal))).await;
        if readers.contains(&name) {
            assert_eq!(status, 200, "{name} reads the attachment of a case it reads: {answer}");
        } else {
            // Issue M's contract: 403 for an attachment the account may not read.
            assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{name}: {answer}");
        }
        cells += 1;
    }
    let endpoints: Vec<(Service, &str, String, Value, Who)> = endpoints
        .into_iter()
        .chain([(Service::Intake, "UPLOAD", "/api/v1/attachments".to_owned(), Value::Null, Who::Only(uploaders))])
        .collect();
    for (service, method, path, body, who) in &endpoints {
        for (name, principal) in accounts() {
            let (status, answer) = call(&stack, *service, method, path, body, Some(&token(&principal))).await;
            if who.allows(name) {
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{name} may {method} {path}, got {status}: {answer}"
                );
            } else {
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (403, Some("forbidden")),
                    "{name} {method} {path}: {answer}"
                );
            }
            cells += 1;
        }
    }
    // A district manager's summary is narrowed to its district even when it asks for none.
    let district_manager = &accounts()[8].1;
    let (_, summary) =
        call(&stack, Service::Sla, "GET", "/api/v1/sla/summary", &Value::Null, Some(&token(district_manager))).await;
    assert_eq!(summary["district"], "500103", "{summary}");

    // Without a valid token, every endpoint answers 401 with the reason.
    let keys = keys();
    let forged = TokenKeys::new(b"not-the-deployment-key-not-the-deployment-key", chrono::Duration::hours(1))
        .issue(&as_manager())
        .0;
    let expired = keys.issue_at(&as_manager(), Utc::now() - chrono::Duration::hours(2), chrono::Duration::hours(1)).0;
    let all = endpoints
        .iter()
        .map(|(s, m, p, b, _)| (*s, *m, p.clone(), b.clone()))
        .chain([(Service::Intake, "GET", attachment_path.clone(), Value::Null)])
        .chain(case_endpoints.iter().map(|(m, a, b, _)| {
            let path = if a.is_empty() {
                format!("/api/v1/whistles/{shared}")
            } else {
                format!("/api/v1/whistles/{shared}/{a}")
            };
            (Service::Intake, *m, path, b.clone())
        }))
        .collect::<Vec<_>>();
    // A token logged out at intake is refused by every service (intake, registry, SLA).
    let revoked = token(&as_manager());
    let (status, _) = call(&stack, Service::Intake, "POST", "/api/v1/auth/logout", &Value::Null, Some(&revoked)).await;
    assert_eq!(status, 204);
    for (service, method, path, body) in &all {
        for (token, code) in [
            (None, "unauthenticated"),
            (Some(forged.as_str()), "invalid_token"),
            (Some(expired.as_str()), "token_expired"),
            (Some("garbage"), "invalid_token"),
            (Some(revoked.as_str()), "token_revoked"),
        ] {
            let (status, answer) = call(&stack, *service, method, path, body, token).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (401, Some(code)),
                "{method} {path} with {code}: {answer}"
            );
            cells += 1;
        }
    }
    println!(
        "authorization matrix: {cells} cells checked over {} endpoints and {} accounts",
        all.len(),
        accounts().len()
    );

    // Nothing the refused calls sent reached the shared case's timeline.
    let (_, view) = stack.get(&format!("/api/v1/whistles/{shared}")).await;
    let steps: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().filter_map(|t| t["type"].as_str()).collect();
    assert!(steps.iter().all(|t| ["whistle.raised", "whistle.dispatched", "sla.scheduled"].contains(t)), "{steps:?}");
    ledger.stop(&stack.iso).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_role_against_every_channel() {
    let stack = Stack::start().await;
    let channels = [
        format!("department:{DEPARTMENT}"),
        format!("department:{ASSISTING}"),
        format!("town:{TOWN}"),
        format!("town:{OTHER_TOWN}"),
        "manager:city".to_owned(),
        "manager:500103".to_owned(),
        "manager:500104".to_owned(),
        "supervision:500103".to_owned(),
        "supervision:500104".to_owned(),
    ];
    let allowed: &[(&str, &[usize])] = &[
        ("town", &[2]),
        ("other_town", &[3]),
        ("owner", &[0]),
        ("assisting", &[1]),
        ("other_dept", &[]),
        ("cc", &[0, 1, 2, 3, 5]),
        ("other_cc", &[6]),
        ("manager", &[0, 1, 2, 3, 4, 5, 6]),
        ("district_manager", &[0, 1, 2, 3, 5]),
        ("other_manager", &[6]),
        ("admin", &[]),
        ("supervisor", &[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        ("district_supervisor", &[0, 1, 2, 3, 5, 7]),
        ("other_supervisor", &[6, 8]),
    ];
    let mut cells = 0;
    for (name, principal) in accounts() {
        let ok = allowed.iter().find(|(n, _)| *n == name).expect("every account has a row").1;
        let mut board = Board::connect_as(&stack.ws, &principal).await;
        for (i, channel) in channels.iter().enumerate() {
            board.subscribe(channel, None).await;
            let frame = board.next().await;
            if ok.contains(&i) {
                assert_eq!(frame["type"], "snapshot", "{name} may watch {channel}: {frame}");
            } else {
                assert_eq!(
                    (frame["type"].as_str(), frame["code"].as_str()),
                    (Some("error"), Some("forbidden")),
                    "{name} on {channel}: {frame}"
                );
            }
            cells += 1;
        }
    }
    println!("channel matrix: {cells} cells");

    // Well-formed codes that name nothing get a specific error, not an empty board.
    let mut board = Board::connect_as(&stack.ws, &as_manager()).await;
    for channel in ["department:500103-ZZ", "town:500103999", "manager:999999", "department:999999-EE"] {
        board.subscribe(channel, None).await;
        let frame = board.next().await;
        assert_eq!(
            (frame["type"].as_str(), frame["code"].as_str()),
            (Some("error"), Some("unknown_channel")),
            "{channel}: {frame}"
        );
    }

    // The token in the upgrade request's header works as the first frame does.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(stack.ws.as_str())
        .expect("request");
    req.headers_mut()
        .insert("authorization", format!("Bearer {}", token(&as_department(DEPARTMENT))).parse().expect("header"));
    let (socket, _) = tokio_tungstenite::connect_async(req).await.expect("connects");
    let mut header_board = Board::from_socket(socket);
    assert_eq!(header_board.next().await["type"], "authenticated");
    header_board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    assert_eq!(header_board.next().await["type"], "snapshot");
    stack.stop().await;
}

/// The close code and reason a board gets, or None if the server sent something else first.
async fn close_code(stack: &Stack, first: Option<Value>, header: Option<String>) -> Option<u16> {
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(stack.ws.as_str())
        .expect("request");
    if let Some(h) = header {
        req.headers_mut().insert("authorization", h.parse().expect("header"));
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.expect("connects");
    if let Some(first) = first {
        futures::SinkExt::send(&mut socket, Message::Text(first.to_string().into())).await.expect("sent");
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(15), socket.next()).await.ok()?? {
            Ok(Message::Close(Some(frame))) => return Some(frame.code.into()),
            Ok(Message::Close(None)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_tokens_close_the_socket_with_4001() {
    let stack = Stack::start().await;
    let forged = TokenKeys::new(b"not-the-deployment-key-not-the-deployment-key", chrono::Duration::hours(1))
        .issue(&as_manager())
        .0;
    let expired = keys().issue_at(&as_manager(), Utc::now() - chrono::Duration::hours(2), chrono::Duration::hours(1)).0;
    assert_eq!(close_code(&stack, Some(json!({"type": "auth", "token": forged})), None).await, Some(4001), "forged");
    assert_eq!(close_code(&stack, Some(json!({"type": "auth", "token": expired})), None).await, Some(4001), "expired");
    assert_eq!(close_code(&stack, None, Some(format!("Bearer {forged}"))).await, Some(4001), "forged header");
    assert_eq!(close_code(&stack, None, Some("Basic abc".into())).await, Some(4001), "not a bearer header");
    // A logged-out token is refused by the gateway too.
    let revoked = token(&as_manager());
    let (status, _) = call(&stack, Service::Intake, "POST", "/api/v1/auth/logout", &Value::Null, Some(&revoked)).await;
    assert_eq!(status, 204);
    assert_eq!(close_code(&stack, Some(json!({"type": "auth", "token": revoked})), None).await, Some(4001), "revoked");
    assert_eq!(close_code(&stack, None, Some(format!("Bearer {revoked}"))).await, Some(4001), "revoked header");

    // Subscribing before authenticating is refused, and the connection may still authenticate.
    let mut board = Board::connect(&stack.ws).await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    let frame = board.next().await;
    assert_eq!((frame["type"].as_str(), frame["code"].as_str()), (Some("error"), Some("unauthenticated")), "{frame}");
    board.send(json!({"type": "auth", "token": token(&as_department(DEPARTMENT))})).await;
    assert_eq!(board.next().await["type"], "authenticated");

    // A token that expires during the session closes it when it expires.
    let short = keys().issue_at(&as_manager(), Utc::now(), chrono::Duration::seconds(2)).0;
    let started = std::time::Instant::now();
    assert_eq!(
        close_code(&stack, Some(json!({"type": "auth", "token": short})), None).await,
        Some(4001),
        "expired mid-session"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "closed at expiry, not at once: {:?}", started.elapsed());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_board_is_closed_with_4001_once_its_token_is_logged_out() {
    let stack = Stack::start().await;
    // A second gateway that pings (and so re-checks its sessions' tokens) every second.
    let mut settings = gateway_settings(&stack.iso);
    settings.websocket.ping_seconds = 1;
    let gateway = whistle_gateway::Application::build(settings).await.expect("gateway starts");
    let url = format!("ws://127.0.0.1:{}/ws", gateway.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(gateway.run_until_stopped({
        let stop = stop.clone();
        async move { stop.cancelled().await }
    }));
    let token = token(&as_manager());
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connects");
    futures::SinkExt::send(&mut socket, Message::Text(json!({"type": "auth", "token": token}).to_string().into()))
        .await
        .expect("sent");
    let (status, _) = call(&stack, Service::Intake, "POST", "/api/v1/auth/logout", &Value::Null, Some(&token)).await;
    assert_eq!(status, 204);
    let closed = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return Some(u16::from(frame.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    let code = tokio::time::timeout(Duration::from_secs(10), closed).await.expect("closed in time");
    assert_eq!(code, Some(4001), "the session ends at its next token check");
    stop.cancel();
    let _ = task.await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_accounts_log_in_with_their_role_and_wrong_passwords_do_not() {
    let stack = Stack::start().await;
    let login = |username: &str, password: &str| {
        let body = json!({"username": username, "password": password});
        let url = format!("{}/api/v1/auth/login", stack.api);
        let http = stack.http.clone();
        async move {
            let resp = http.post(url).json(&body).send().await.expect("sent");
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (user, role, district) in [
        (format!("town-{TOWN}"), "town", Some("500103")),
        (format!("dept-{DEPARTMENT}"), "department", Some("500103")),
        ("dept-500103-CC".to_owned(), "command_centre", Some("500103")),
        ("manager".to_owned(), "manager", None),
        ("manager-500104".to_owned(), "manager", Some("500104")),
        ("admin".to_owned(), "admin", None),
    ] {
        let (status, answer) = login(&user, DEMO_PASSWORD).await;
        assert_eq!(status, 200, "{user}: {answer}");
        assert_eq!(answer["account"]["role"], role, "{answer}");
        assert_eq!(answer["account"]["district"].as_str(), district, "{answer}");
        // The token it got works, and says who it is.
        let token = answer["token"].as_str().expect("token");
        let (status, me) = call(&stack, Service::Intake, "GET", "/api/v1/auth/me", &Value::Null, Some(token)).await;
        assert_eq!((status, me["user"].as_str()), (200, Some(user.as_str())), "{me}");
    }
    for (user, password) in [("manager", "wrong"), ("town-999999999", DEMO_PASSWORD), ("root", DEMO_PASSWORD), ("", "")]
    {
        let (status, answer) = login(user, password).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("invalid_credentials")), "{user}: {answer}");
    }
    let (status, answer) =
        call(&stack, Service::Intake, "POST", "/api/v1/auth/login", &json!({"username": "admin"}), None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("malformed_body")), "{answer}");

    // The other ways in are public: no token, and every account's, get the same answer (this
    // stack has no single sign-on configured; tests/oidc.rs has one that does).
    let public: [(&str, u16, Option<&str>); 3] = [
        ("/api/v1/auth/config", 200, None),
        ("/api/v1/auth/oidc/login?return_to=/", 404, Some("oidc_not_configured")),
        ("/api/v1/auth/oidc/callback?code=c&state=s", 404, Some("oidc_not_configured")),
    ];
    let tokens: Vec<(&str, Option<String>)> =
        std::iter::once(("anonymous", None)).chain(accounts().into_iter().map(|(n, p)| (n, Some(token(&p))))).collect();
    for (path, want, code) in public {
        for (name, bearer) in &tokens {
            let (status, answer) = call(&stack, Service::Intake, "GET", path, &Value::Null, bearer.as_deref()).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (want, code), "{name} GET {path}: {answer}");
            if want == 200 {
                assert_eq!(answer, json!({"password": true, "oidc": null}), "{name} GET {path}");
            }
        }
    }

    // The audit: an action records the account and role that took it.
    let (_, raised) = stack.post("/api/v1/whistles", &raise_body(TOWN, DEPT_ITEM, "audited")).await;
    let id = raised["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await.0, 202);
    let view = stack.wait_for(&id, |v| v["status"] == "acknowledged").await;
    let timeline = view["timeline"].as_array().expect("timeline");
    let raised = timeline.iter().find(|t| t["type"] == "whistle.raised").expect("raised");
    assert_eq!(raised["actor"], json!({"kind": "town", "code": TOWN, "user": format!("town-{TOWN}"), "role": "town"}));
    let acked = timeline.iter().find(|t| t["type"] == "whistle.acknowledged").expect("acknowledged");
    assert_eq!(
        acked["actor"],
        json!({"kind": "department", "code": DEPARTMENT, "user": format!("dept-{DEPARTMENT}"), "role": "department"})
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_belongs_to_the_account_that_sent_it() {
    let stack = Stack::start().await;
    let id = joint_case(&stack).await;
    let pause = |who: Principal| {
        let (http, url) = (stack.http.clone(), format!("{}/api/v1/whistles/{id}/pause", stack.api));
        async move {
            let resp = http
                .post(url)
                .bearer_auth(token(&who))
                .header("Idempotency-Key", "shared-key-1")
                .json(&json!({"reason": "等待业主到场"}))
                .send()
                .await
                .expect("sent");
            (resp.status().as_u16(), resp.json::<Value>().await.expect("json"))
        }
    };
    let (status, first) = pause(as_department(DEPARTMENT)).await;
    assert_eq!(status, 202, "{first}");
    stack.wait_for(&id, |v| v["paused"] == true).await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/resume"), &json!({})).await.0, 202);
    stack.wait_for(&id, |v| v["paused"].is_null() || v["paused"] == false).await;
    // The command centre reusing the key pauses for itself: a new event, on the timeline.
    let (status, second) = pause(as_department("500103-CC")).await;
    assert_eq!(status, 202, "{second}");
    assert_ne!(first["event_id"], second["event_id"], "{first} {second}");
    let view = stack.wait_for(&id, |v| v["paused"] == true).await;
    let pauses: Vec<&Value> =
        view["timeline"].as_array().expect("timeline").iter().filter(|t| t["type"] == "whistle.paused").collect();
    assert_eq!(pauses.len(), 2, "{view}");
    assert_eq!(pauses[1]["actor"]["user"], "dept-500103-CC", "{view}");
    // The owner's retry of its own first pause still answers as the first attempt did.
    let (status, again) = pause(as_department(DEPARTMENT)).await;
    assert_eq!((status, &again["event_id"]), (202, &first["event_id"]), "{again}");
    stack.stop().await;
}

/// A login from a client bound to `source` (a loopback address: the whole of 127.0.0.0/8 is
/// this host), so the server sees that client address: status, `Retry-After`, body.
async fn login_from(stack: &Stack, source: &str, username: &str, password: &str) -> (u16, Option<String>, Value) {
    let client = reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().expect("address"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let resp = client
        .post(format!("{}/api/v1/auth/login", stack.api))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sent");
    let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (resp.status().as_u16(), retry, resp.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_correct_logins_of_one_account_within_ten_seconds_all_succeed() {
    let stack = Stack::start().await;
    let started = std::time::Instant::now();
    for n in 0..20 {
        let (status, _, body) = login_from(&stack, "127.0.0.1", "dept-500103-CC", DEMO_PASSWORD).await;
        assert_eq!(status, 200, "correct login {n}: {body}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_passwords_from_one_address_slow_that_address_and_never_lock_the_account() {
    let stack = Stack::start().await;
    let (guesser, owner) = ("127.0.0.2", "127.0.0.3");
    let mut slowed = 0;
    for n in 0..11 {
        let (status, retry, body) = login_from(&stack, guesser, "dept-500103-CC", "guess").await;
        match status {
            401 => assert_eq!(body["error"]["code"], "invalid_credentials", "attempt {n}: {body}"),
            429 => {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)), "Retry-After is set");
                slowed += 1;
            }
            other => panic!("attempt {n}: {other} {body}"),
        }
    }
    assert!(slowed > 0, "the guesser was slowed");
    // The account's owner, at another address, logs in at once.
    let started = std::time::Instant::now();
    let (status, _, body) = login_from(&stack, owner, "dept-500103-CC", DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "at once, not after a delay: {:?}", started.elapsed());
    // The guesser's address waits, even with the right password; other accounts it may still try.
    let (status, _, body) = login_from(&stack, guesser, "dept-500103-CC", DEMO_PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    let (status, _, body) = login_from(&stack, guesser, "manager-500103", DEMO_PASSWORD).await;
    assert_eq!(status, 200, "another account from the same address: {body}");
    stack.stop().await;
}

/// What a town must not read about the enforcement on its own case, and its department must.
const OVERRIDE_REASON: &str = "危废已流入河道，按上限以上处罚并报批";
const INSPECTION_NOTE: &str = "负责人李某在场";

/// Whether a frame or view mentions anything of the enforcement record a town may not see.
fn enforcement_secrets(value: &Value) -> Vec<&'static str> {
    let text = value.to_string();
    let mut found: Vec<&'static str> =
        [CREDIT_CODE, OVERRIDE_REASON, INSPECTION_NOTE, "whistle.fenced", "fine_out_of_range", "\"blocked\""]
            .into_iter()
            .filter(|s| text.contains(s))
            .collect();
    found.sort_unstable();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_towns_frames_and_view_of_its_own_case_carry_no_subject_override_reason_or_fence_the_departments_do() {
    let stack = Stack::start().await;
    let town_channel = format!("town:{TOWN}");
    let mut town = Board::connect_as(&stack.ws, &as_town(TOWN)).await;
    town.subscribe(&town_channel, None).await;
    assert_eq!(town.next().await["type"], "snapshot");
    let mut department = Board::connect_as(&stack.ws, &as_department(DEPARTMENT)).await;
    department.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    assert_eq!(department.next().await["type"], "snapshot");

    let (status, body) = stack.raise(DEPT_ITEM, "河边有废油桶泄漏").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("an id").to_owned();
    stack.wait_for(&id, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/acknowledge"), &json!({})).await.0, 202);
    // The SLA's answer to the acknowledgement (the arrive and resolve deadlines) first, so the
    // override below stays the case's latest step.
    stack
        .wait_for(&id, |v| {
            v["timeline"].as_array().is_some_and(|steps| {
                steps.iter().any(|s| {
                    s["actor"]["code"] == "sla" && s["detail"].as_str().is_some_and(|d| d.starts_with("arrive by"))
                })
            })
        })
        .await;
    let inspect = json!({"subject": {"credit_code": CREDIT_CODE}, "note": INSPECTION_NOTE});
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/inspect"), &inspect).await.0, 202);
    let (status, tier) = stack
        .post_as(
            &as_department(DEPARTMENT),
            "/api/v1/assist/benchmark",
            &json!({"item": DEPT_ITEM, "subject": {"credit_code": CREDIT_CODE}}),
        )
        .await;
    assert_eq!(status, 200, "{tier}");
    let over = tier["fine_max_yuan"].as_u64().expect("a range") * 3;
    let penalty = json!({"subject": {"credit_code": CREDIT_CODE}, "amount_yuan": over});
    let (status, body) = stack.post(&format!("/api/v1/whistles/{id}/penalty"), &penalty).await;
    assert_eq!((status, &body["error"]["code"]), (422, &json!("override_reason_required")), "{body}");
    let overridden =
        json!({"subject": {"credit_code": CREDIT_CODE}, "amount_yuan": over, "override_reason": OVERRIDE_REASON});
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/penalty"), &overridden).await.0, 202);

    // The department's board carries it all: the subject, the override reason, both fences.
    let is_override = |f: &Value| {
        event_of(f) == Some(("whistle.fenced", id.as_str())) && f["event"]["data"]["severity"] == "overridden"
    };
    let (seen, last) = department.until(is_override).await;
    let all: Vec<Value> = seen.into_iter().chain([last]).collect();
    let full = enforcement_secrets(&Value::Array(all));
    assert_eq!(full.len(), 6, "the department sees everything: {full:?}");

    // A city manager watching the town's channel sees the fence as the case's latest step; a
    // town subscribing right after (the stream has not moved) does not get that frame.
    let mut manager = stack.board().await;
    manager.subscribe(&town_channel, None).await;
    let snapshot = manager.next().await;
    let card = snapshot["cases"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id.as_str())).expect("the case");
    assert!(enforcement_secrets(card).contains(&"whistle.fenced"), "manager snapshot: {card}");

    // A fresh town subscription and a replay from the channel's start: summaries and events
    // without any of it, the enforcement steps still there.
    let mut fresh = Board::connect_as(&stack.ws, &as_town(TOWN)).await;
    fresh.subscribe(&town_channel, None).await;
    let snapshot = fresh.next().await;
    assert_eq!(snapshot["type"], "snapshot");
    let card = snapshot["cases"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id.as_str())).expect("the case");
    assert_eq!(enforcement_secrets(card), Vec::<&str>::new(), "town snapshot: {card}");
    fresh.subscribe(&town_channel, Some("0-0")).await;
    assert_eq!(fresh.next().await["type"], "resumed");
    let (replay, penalised) = fresh.until(|f| event_of(f) == Some(("whistle.penalised", id.as_str()))).await;
    let replay = Value::Array(replay.into_iter().chain([penalised.clone()]).collect());
    assert_eq!(enforcement_secrets(&replay), Vec::<&str>::new(), "town replay: {replay}");
    assert_eq!(penalised["event"]["data"]["subject"], json!({"id": "withheld"}), "{penalised}");
    assert_eq!(penalised["event"]["data"]["amount_yuan"], over, "the outcome is the town's to know");

    // The HTTP view agrees: the town's timeline has the inspection and the penalty, no fence,
    // no subject; the department's has everything.
    let (status, view) = stack.get_as(&as_town(TOWN), &format!("/api/v1/whistles/{id}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(enforcement_secrets(&view), Vec::<&str>::new(), "town view: {view}");
    let kinds: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"whistle.inspected") && kinds.contains(&"whistle.penalised"), "{kinds:?}");
    let (_, view) = stack.get_as(&as_department(DEPARTMENT), &format!("/api/v1/whistles/{id}")).await;
    assert!(enforcement_secrets(&view).contains(&CREDIT_CODE), "department view: {view}");

    // The live town board: every frame up to the case's resolution, none of it either.
    assert_eq!(stack.post(&format!("/api/v1/whistles/{id}/resolve"), &json!({})).await.0, 202);
    let (live, resolved) = town.until(|f| event_of(f) == Some(("whistle.resolved", id.as_str()))).await;
    let live = Value::Array(live.into_iter().chain([resolved]).collect());
    assert_eq!(enforcement_secrets(&live), Vec::<&str>::new(), "town live frames: {live}");
    stack.stop().await;
}

/// Open311 (docs/open311.md) has its own kind of credential: an `api_key` form field per
/// client, not a bearer token. Reading is public for everyone, as GeoReport v2 has it; posting
/// needs a valid key, and no account's token stands in for one. Every Open311 operation of the
/// OpenAPI document is a row here.
#[tokio::test]
async fn open311_reads_are_public_and_posting_needs_an_api_key_that_no_token_replaces() {
    let stack = Stack::start().await;
    let form = |key: Option<&'static str>| {
        let mut f = vec![
            ("service_code", DEPT_ITEM),
            ("lat", "29.5575"),
            ("long", "106.5770"),
            ("description", "authorization matrix"),
        ];
        if let Some(key) = key {
            f.push(("api_key", key));
        }
        f
    };
    let post = |path: &'static str, key: Option<&'static str>, bearer: Option<String>| {
        let mut req = stack.http.post(format!("{}{path}", stack.api)).form(&form(key));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req
    };
    // One request made with the demo key, for the reads of one request.
    let created: Value = post("/open311/v2/requests.json", Some("whistle-demo-open311"), None)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("JSON");
    let id = created[0]["service_request_id"].as_str().expect("created").to_owned();
    let reads = [
        "/open311/v2/services.json".to_owned(),
        "/open311/v2/services.xml".to_owned(),
        format!("/open311/v2/services/{DEPT_ITEM}.json"),
        "/open311/v2/requests.json".to_owned(),
        "/open311/v2/requests.xml".to_owned(),
        format!("/open311/v2/requests/{id}.json"),
    ];
    let posts = ["/open311/v2/requests.json", "/open311/v2/requests.xml"];
    // Every Open311 operation is a row of this table.
    let covered: Vec<(&str, &str)> = [("get", "/open311/v2/services/{file}"), ("get", "/open311/v2/requests/{file}")]
        .into_iter()
        .chain(reads.iter().filter(|p| !p.contains(&id) && !p.contains(DEPT_ITEM)).map(|p| ("get", p.as_str())))
        .chain(posts.iter().map(|p| ("post", *p)))
        .collect();
    for (method, path) in whistle_schemas::openapi::operations().into_iter().filter(|(_, p)| p.starts_with("/open311/"))
    {
        assert!(covered.contains(&(method, path)), "{method} {path} has no row in the Open311 matrix");
    }
    let mut cells = 0;
    let bearers: Vec<(&str, Option<String>)> =
        std::iter::once(("anonymous", None)).chain(accounts().into_iter().map(|(n, p)| (n, Some(token(&p))))).collect();
    for path in &reads {
        for (name, bearer) in &bearers {
            let mut req = stack.http.get(format!("{}{path}", stack.api));
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let status = req.send().await.expect("read").status().as_u16();
            assert_eq!(status, 200, "{name} reads {path}");
            cells += 1;
        }
    }
    for path in posts {
        for (name, bearer) in &bearers {
            for key in [None, Some("not-a-key-not-a-key")] {
                let resp = post(path, key, bearer.clone()).send().await.expect("post");
                assert_eq!(resp.status().as_u16(), 403, "{name} posts {path} with key {key:?}");
                let body = resp.text().await.expect("body");
                assert!(body.contains("api_key"), "{name} {path}: the refusal names the api_key: {body}");
                cells += 1;
            }
        }
        let resp = post(path, Some("whistle-demo-open311"), None).send().await.expect("post");
        assert_eq!(resp.status().as_u16(), 201, "the demo client posts {path}");
        cells += 1;
    }
    println!("open311 matrix: {cells} cells");
    stack.stop().await;
}
