//! Open311 GeoReport v2 on the in-process services with real Kafka and Redis: an independent
//! client (PyPI's georeport, deploy/dev/georeport.sh) lists the services, posts a request and
//! reads its status; the request is a whistle the router dispatches like a town's. The same
//! client runs through the ingress in tests/stack.rs.

use std::time::Duration;

use serde_json::{Value, json};
use whistle_tests::*;

async fn client(base: &str) -> Value {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tokio::process::Command::new("bash")
        .arg(root.join("deploy/dev/georeport.sh"))
        .arg("run")
        .arg(base)
        .output()
        .await
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "the georeport client failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the client's last line is its JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn the_pypi_georeport_client_lists_services_posts_a_request_and_reads_its_status() {
    let stack = Stack::start().await;
    let seen = client(&stack.api).await;
    println!("georeport saw: {seen}");
    assert!(seen["services"].as_u64().is_some_and(|n| n >= 50), "{seen}");
    assert_eq!(seen["has_env_item"], true);
    assert_eq!(seen["definition_code"], "CQ-ENV-001");
    assert_eq!((seen["posted_status"].as_u64(), seen["refused_status"].as_u64()), (Some(201), Some(403)), "{seen}");
    assert_eq!(seen["refused_body"][0]["code"], 403, "a GeoReport error: {seen}");
    assert_eq!(seen["status"], "open");
    assert_eq!(seen["town"], TOWN, "解放碑's point is the town 500103001's");
    assert_eq!(seen["xml_services"], seen["services"], "XML lists what JSON does");
    assert_eq!(seen["xml_status"], "open");
    let id = seen["service_request_id"].as_str().expect("an id").to_owned();
    assert_eq!(seen["listed"], json!([id]));

    // The router dispatches it to the department holding the item, like a town's whistle.
    let mut view = Value::Null;
    for _ in 0..100 {
        view = stack.get(&format!("/api/v1/whistles/{id}")).await.1;
        if view["status"] == "dispatched" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["status"], "dispatched", "{view}");
    assert_eq!(view["department"]["code"], DEPARTMENT);
    assert_eq!(view["timeline"][0]["actor"]["code"], "500103-CC", "raised on behalf of the command centre");
    let read: Value = stack
        .http
        .get(format!("{}/open311/v2/requests/{id}.json", stack.api))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("JSON");
    assert_eq!(read[0]["whistle_status"], "dispatched", "{read}");
    assert_eq!(read[0]["agency_responsible"], view["department"]["names"]["zh"], "{read}");

    // A department closes it: Open311 says closed, with the department's note.
    let officer = token(&as_department(DEPARTMENT));
    for action in ["acknowledge", "arrive"] {
        let resp = stack
            .http
            .post(format!("{}/api/v1/whistles/{id}/{action}", stack.api))
            .bearer_auth(&officer)
            .send()
            .await
            .expect("action");
        assert_eq!(resp.status().as_u16(), 202, "{action}");
        wait_status(&stack, &id, if action == "arrive" { "on_site" } else { "acknowledged" }).await;
    }
    let resp = stack
        .http
        .post(format!("{}/api/v1/whistles/{id}/resolve", stack.api))
        .bearer_auth(&officer)
        .json(&json!({"note": "已清理废油桶"}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resp.status().as_u16(), 202);
    wait_status(&stack, &id, "resolved").await;
    let read: Value = stack
        .http
        .get(format!("{}/open311/v2/requests.json?service_request_id={id}&status=closed", stack.api))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("JSON");
    assert_eq!((read[0]["status"].as_str(), read[0]["whistle_status"].as_str()), (Some("closed"), Some("resolved")));
    assert_eq!(read[0]["status_notes"], "已清理废油桶", "{read}");
    stack.stop().await;
}

/// A citizen's report in a district without town centres reaches that district's command
/// centre for triage.
#[tokio::test]
async fn a_report_where_no_town_is_known_is_triaged_by_the_districts_command_centre() {
    let stack = Stack::start().await;
    let resp = stack
        .http
        .post(format!("{}/open311/v2/requests.json", stack.api))
        .form(&[
            ("api_key", "whistle-demo-open311"),
            ("service_code", DEPT_ITEM),
            ("lat", "30.8078"),
            ("long", "108.3802"),
            ("description", "万州江边有油污"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.expect("JSON");
    let id = created[0]["service_request_id"].as_str().expect("id").to_owned();
    let view = wait_status(&stack, &id, "dispatched").await;
    assert_eq!(view["department"]["code"], "500101-CC", "{view}");
    assert_eq!(view["district"], "500101");
    stack.stop().await;
}

async fn wait_status(stack: &Stack, id: &str, status: &str) -> Value {
    let mut view = Value::Null;
    for _ in 0..100 {
        view = stack.get(&format!("/api/v1/whistles/{id}")).await.1;
        if view["status"] == status {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("whistle {id} never reached {status}: {view}");
}
