//! The shipped Prometheus rules, checked by promtool and evaluated by a real Prometheus server
//! (Debian's `prometheus`, installed by `cargo xtask test`) scraping live services.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use whistle_tests::*;

fn rules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/rules.yml")
}

fn which(binary: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| PathBuf::from(d).join(binary))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{binary} is not installed: run the tests with `cargo xtask test` (deploy/dev/prometheus.sh install)"
            )
        })
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").trim_start_matches("ws://").split('/').next().expect("host:port").to_owned()
}

async fn query(http: &reqwest::Client, base: &str, q: &str) -> Vec<Value> {
    let body: Value = http
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "success", "{q}: {body}");
    body["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_shipped_rules_pass_promtool() {
    let out = Command::new(which("promtool")).arg("check").arg("rules").arg(rules()).output().expect("promtool runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_the_services_and_the_slo_rules_see_a_breach() {
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let dir = std::env::temp_dir().join(format!("whistle-prom-{}", stack.iso.suffix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let targets = [host_port(&stack.api), host_port(&stack.ws), host_port(&stack.router_admin), host_port(&stack.sla)];
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: whistle\n    static_configs:\n      - targets: [{}]\n",
        rules().display(),
        targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("config written");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let server = Server(
        Command::new(which("prometheus"))
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let (status, body) = stack.raise(DEPT_ITEM, "metrics see this breach").await;
    assert_eq!(status, 202);
    let id = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&id, |v| v["overdue"].as_array().is_some_and(|o| !o.is_empty())).await;

    // Every service is scraped, and the rules see the breach and the overdue case.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let up = if http.get(format!("{base}/-/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            query(&http, &base, "sum(up)").await
        } else {
            Vec::new()
        };
        let all_up = up.first().and_then(|r| r["value"][1].as_str()).is_some_and(|v| v == "4");
        let overdue = if all_up {
            query(&http, &base, "whistle:sla_overdue_cases:max{district=\"500103\"} > 0").await
        } else {
            Vec::new()
        };
        let breaches = if all_up {
            query(&http, &base, "whistle_sla_breaches_total{stage=\"acknowledge\",district=\"500103\"}").await
        } else {
            Vec::new()
        };
        if all_up && !overdue.is_empty() && !breaches.is_empty() {
            assert_eq!(overdue[0]["value"][1], "1", "one overdue case: {overdue:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "Prometheus never saw the breach (up: {up:?})");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The alerting rules are loaded and evaluate.
    let rules: Value =
        http.get(format!("{base}/api/v1/rules")).send().await.expect("rules").json().await.expect("json");
    let names: Vec<&str> = rules["data"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["name"].as_str())
        .collect();
    for alert in ["WhistleCasesOverdue", "WhistleAcknowledgeSloAtRisk", "WhistleSlaTimersLate", "WhistleDeadLetters"] {
        assert!(names.contains(&alert), "{alert} loaded: {names:?}");
    }
    let pending: Value =
        http.get(format!("{base}/api/v1/alerts")).send().await.expect("alerts").json().await.expect("json");
    let overdue_alert = pending["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["labels"]["alertname"] == "WhistleCasesOverdue");
    assert!(overdue_alert, "the overdue alert is pending: {pending}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    stack.stop().await;
}

/// The series of a `/metrics` page: every sample line's name and labels (values dropped).
async fn series(http: &reqwest::Client, base: &str) -> std::collections::BTreeSet<String> {
    let text = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

/// 200 requests with made-up HTTP methods to each service add at most the one `method="other"`
/// series per route and status: labels come from a closed set, so a client cannot grow the
/// metric store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_random_http_methods_add_no_metric_series() {
    let stack = Stack::start().await;
    let http = reqwest::Client::new();
    let bases = [stack.api.clone(), stack.registry.clone(), stack.sla.clone()];
    let paths = ["/api/v1/whistles", "/api/v1/registry/items", "/api/v1/sla/summary", "/api/v1/towns", "/nowhere"];
    // Warm up: one odd method per service and path, so the "other" series exist.
    for base in &bases {
        for path in paths {
            let method = reqwest::Method::from_bytes(b"WARMUP").expect("method");
            let _ = http.request(method, format!("{base}{path}")).send().await;
        }
    }
    let mut before = Vec::new();
    for base in &bases {
        before.push(series(&http, base).await);
    }
    for n in 0..200u32 {
        let method = reqwest::Method::from_bytes(format!("X{n:03}{}", n.wrapping_mul(2_654_435_761) % 997).as_bytes())
            .expect("a token");
        for base in &bases {
            let path = paths[n as usize % paths.len()];
            let resp = http.request(method.clone(), format!("{base}{path}")).send().await.expect("answered");
            assert!(resp.status().is_client_error(), "{method} {path}: {}", resp.status());
        }
    }
    for (base, before) in bases.iter().zip(before) {
        let after = series(&http, base).await;
        let added: Vec<_> = after.difference(&before).collect();
        assert!(added.is_empty(), "{base}: 200 odd methods added series {added:?}");
    }
    stack.stop().await;
}
