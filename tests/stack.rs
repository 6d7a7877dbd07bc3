//! The assembled stack as a user runs it (`cargo xtask up`): real binaries behind the local
//! ingress. `cargo xtask test` runs these after starting the stack; they are `#[ignore]`d in the
//! plain workspace run, which has no stack.

use serde_json::{Value, json};
use whistle_tests::*;

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    let resp = http.get(&url).bearer_auth(token).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status().as_u16(), 200, "GET {url}");
    resp.json().await.unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Logs in with a demo account, as the console does.
async fn login(http: &reqwest::Client, base: &str, username: &str) -> String {
    let password = std::env::var("WHISTLE_DEMO_PASSWORD").unwrap_or_else(|_| DEMO_PASSWORD.to_owned());
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 200, "demo account {username} logs in");
    resp.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

fn base() -> String {
    std::env::var("WHISTLE_STACK_URL").expect("WHISTLE_STACK_URL is set by `cargo xtask test`")
}

#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn the_running_stack_serves_the_external_contract_on_one_origin() {
    let base = base();
    let http = reqwest::Client::new();
    let town = login(&http, &base, &format!("town-{TOWN}")).await;
    let officer = login(&http, &base, &format!("dept-{DEPARTMENT}")).await;
    let manager = login(&http, &base, "manager").await;
    let refused = http.get(format!("{base}/api/v1/towns")).send().await.expect("towns");
    assert_eq!(refused.status().as_u16(), 401, "no token, no data");
    let towns = get_json(&http, format!("{base}/api/v1/towns"), &town).await;
    let towns = towns["towns"].as_array().expect("a list");
    assert!(towns.len() >= 38 * 3, "towns across every district");
    assert!(towns.iter().any(|t| t["code"] == TOWN && t["district"]["code"] == "500103"));
    let items = get_json(&http, format!("{base}/api/v1/registry/items"), &town).await;
    let env_item = items["items"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|i| i["code"] == DEPT_ITEM)
        .expect("the seed's hazardous item");
    assert_eq!(env_item["authority"], "recovered");
    let route = get_json(&http, format!("{base}/api/v1/route?town={TOWN}&item={DEPT_ITEM}"), &town).await;
    assert_eq!(route["department"]["code"], DEPARTMENT);
    let route = get_json(&http, format!("{base}/api/v1/route?town={TOWN}&item={TOWN_ITEM}"), &town).await;
    assert_eq!(route["outcome"], "town");

    let ws = base.replacen("http", "ws", 1) + "/ws";
    let mut board = Board::connect_with_token(&ws, &officer).await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    assert_eq!(board.next().await["type"], "snapshot");
    let started = std::time::Instant::now();
    let resp = http
        .post(format!("{base}/api/v1/whistles"))
        .bearer_auth(&town)
        .json(&raise_body(TOWN, DEPT_ITEM, "stack smoke test"))
        .send()
        .await
        .expect("raise");
    assert_eq!(resp.status().as_u16(), 202);
    let id = resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let (_, frame) = board.until(|f| event_of(f) == Some(("whistle.dispatched", id.as_str()))).await;
    println!("raise -> board through the ingress: {:?}", started.elapsed());
    assert_eq!(frame["case"]["id"], id.as_str());
    let resp = http
        .post(format!("{base}/api/v1/whistles/{id}/reject"))
        .bearer_auth(&officer)
        .json(&json!({"reason": "不属于本部门职责"}))
        .send()
        .await
        .expect("reject");
    assert_eq!(resp.status().as_u16(), 202);
    let (_, frame) = board.until(|f| event_of(f) == Some(("whistle.rejected", id.as_str()))).await;
    assert_eq!(frame["event"]["data"]["reason"], "不属于本部门职责");
    let summary = get_json(&http, format!("{base}/api/v1/sla/summary?district=500103"), &manager).await;
    assert!(summary["total"]["dispatched"].as_u64().is_some_and(|n| n >= 1), "{summary}");
    for port in [8081, 8082, 8083, 8084] {
        let metrics = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(metrics.contains("whistle_"), "port {port} exposes Whistle metrics");
        let ready = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status().as_u16(), 200);
    }
}
