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

#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn the_openapi_document_through_the_ingress_is_valid_and_covers_the_readme_api_table() {
    let base = base();
    let resp = reqwest::get(format!("{base}/api/v1/openapi.json")).await.expect("openapi.json");
    assert_eq!(resp.status().as_u16(), 200, "served without a token");
    let text = resp.text().await.expect("body");
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);

    // An independent validator (PyPI's openapi-spec-validator, installed by deploy/dev/openapi.sh).
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = std::env::temp_dir().join(format!("whistle-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &text).expect("written");
    let out = std::process::Command::new("bash")
        .arg(root.join("deploy/dev/openapi.sh"))
        .arg("validate")
        .arg(&file)
        .output()
        .expect("the validator runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the served document is not valid OpenAPI:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Every path of the README's API table is an operation of it.
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("### API summary"))
        .take_while(|l| !l.starts_with("Statuses:"))
        .filter(|l| l.starts_with("| `"))
        .collect();
    assert!(table.len() >= 15, "the README's API table was not found");
    let mut checked = 0;
    for row in table {
        for cell in row.split('`').skip(1).step_by(2) {
            let Some((method, path)) = cell.split_once(' ') else { continue };
            if !matches!(method, "GET" | "POST") || !path.starts_with("/api/") {
                continue;
            }
            let path = path.split(['[', '?', ' ']).next().unwrap_or(path);
            let method = method.to_lowercase();
            assert!(doc["paths"][path][&method].is_object(), "README lists {method} {path}; the document lacks it");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} README paths checked");
}

/// What the dev stack writes (logs, Redis and Kafka data, the token signing key, pid files) is
/// readable by its user only: no file in the run directory grants anything to group or others.
#[test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
fn the_stack_s_logs_data_and_secrets_are_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt as _;
    let run = std::env::var_os("WHISTLE_RUN").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/whistle/run")
    });
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode(&run), 0o700, "{}", run.display());
    let mut open = Vec::new();
    let mut checked = 0;
    for dir in ["logs", "redis", "kafka", "pids", "jwt-secret"] {
        let mut stack = vec![run.join(dir)];
        while let Some(path) = stack.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if meta.is_dir() {
                stack.extend(std::fs::read_dir(&path).into_iter().flatten().flatten().map(|e| e.path()));
            }
            checked += 1;
            if meta.permissions().mode() & 0o077 != 0 && !meta.file_type().is_symlink() {
                open.push(format!("{:o} {}", meta.permissions().mode() & 0o777, path.display()));
            }
        }
    }
    assert!(checked > 5, "found the stack's files under {}", run.display());
    assert!(
        open.is_empty(),
        "readable by others: {open:#?} (a server started before the scripts set umask 077 keeps \
         writing such files: `cargo xtask down && cargo xtask up`)"
    );
}
