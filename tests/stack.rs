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

// ---- The ingress: browser headers and abuse limits (deploy/nginx/whistle.conf).

/// One value of a header that must appear exactly once.
fn one_header(headers: &reqwest::header::HeaderMap, name: &str, what: &str) -> String {
    let values: Vec<_> = headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("<not text>").to_owned()).collect();
    assert_eq!(values.len(), 1, "{what}: one {name} header, got {values:?}");
    values.into_iter().next().unwrap_or_default()
}

/// The headers the ingress puts on every answer, whoever made it.
fn assert_browser_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    one_header(headers, "x-request-id", what);
    let csp = one_header(headers, "content-security-policy", what);
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for wanted in
        ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]
    {
        assert!(directives.contains(&wanted), "{what}: CSP lacks {wanted}: {csp}");
    }
    assert!(!csp.contains("unsafe-"), "{what}: CSP allows inline or eval: {csp}");
    assert_eq!(one_header(headers, "x-frame-options", what), "DENY", "{what}");
    assert_eq!(one_header(headers, "x-content-type-options", what), "nosniff", "{what}");
    let referrer = one_header(headers, "referrer-policy", what);
    assert!(
        ["no-referrer", "same-origin", "strict-origin"].contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer}"
    );
}

/// A `429` from the ingress: the API's error shape, a `Retry-After` in seconds.
fn assert_rate_limited(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8], what: &str) {
    assert_refused(status, headers, body, what, &["rate_limited"]);
}

/// A `429` with one of `codes`, in the API's error shape, with a `Retry-After` in seconds.
fn assert_refused(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8], what: &str, codes: &[&str]) {
    assert_eq!(status, 429, "{what}");
    let body: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body:?}"));
    assert!(codes.iter().any(|c| body["error"]["code"] == *c), "{what}: {body} (expected one of {codes:?})");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    let retry = one_header(headers, "retry-after", what);
    assert!(retry.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s)), "{what}: Retry-After {retry}");
    assert_browser_headers(headers, what);
}

/// Another loopback address to come from, when the stack is on this host: nginx keys its limits
/// by the client address, and all of 127/8 reaches a listener on 127.0.0.1.
fn other_address(base: &str) -> Option<std::net::IpAddr> {
    let host = base.split("://").nth(1)?.split(['/', ':']).next()?;
    (host == "127.0.0.1" || host == "localhost").then(|| std::net::IpAddr::from([127, 0, 0, 2]))
}

#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn every_answer_through_the_ingress_carries_the_browser_headers_and_the_api_is_not_cached() {
    let base = base();
    let http = reqwest::Client::new();

    let console = http.get(format!("{base}/")).send().await.expect("console");
    assert_eq!(console.status().as_u16(), 200, "the console is served");
    assert!(one_header(console.headers(), "content-type", "console").starts_with("text/html"));
    assert_browser_headers(console.headers(), "console page");
    // Its hashed assets load under that policy: same origin, files of their own, right types.
    let html = console.text().await.expect("html");
    assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style in index.html");
    for asset in html.split(['"', '\'']).filter(|s| s.starts_with("/assets/")) {
        let resp = http.get(format!("{base}{asset}")).send().await.expect("asset");
        assert_eq!(resp.status().as_u16(), 200, "{asset}");
        let kind = one_header(resp.headers(), "content-type", asset);
        let want = if asset.ends_with(".js") {
            "javascript"
        } else if asset.ends_with(".css") {
            "text/css"
        } else {
            ""
        };
        assert!(kind.contains(want), "{asset} is served as {kind} (nosniff needs the right type)");
        assert_browser_headers(resp.headers(), asset);
    }

    let api = http.get(format!("{base}/api/v1/openapi.json")).send().await.expect("openapi");
    assert_eq!(api.status().as_u16(), 200);
    assert_browser_headers(api.headers(), "an API answer");
    assert_eq!(one_header(api.headers(), "cache-control", "an API answer"), "no-store");

    let refused = http.get(format!("{base}/api/v1/towns")).send().await.expect("towns");
    assert_eq!(refused.status().as_u16(), 401);
    assert_browser_headers(refused.headers(), "a service's error answer");
    assert_eq!(one_header(refused.headers(), "cache-control", "a service's error answer"), "no-store");

    // An answer nginx makes itself, before any service sees the request.
    let long = http.get(format!("{base}/api/v1/towns?q={}", "a".repeat(9000))).send().await.expect("long URI");
    assert_eq!(long.status().as_u16(), 414);
    assert_browser_headers(long.headers(), "nginx's own error answer");
    let body: Value = long.json().await.expect("the API's error shape");
    assert_eq!(body["error"]["code"], "uri_too_long");
}

#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn a_burst_of_logins_from_one_address_is_refused_429_while_other_paths_and_addresses_go_through() {
    let base = base();
    let http = reqwest::Client::new();
    let token = login(&http, &base, &format!("town-{TOWN}")).await;

    // 60 logins at once, for names no one has: the services' per-account buckets stay out of it.
    let attempts = futures::future::join_all((0..60).map(|_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let resp = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"username": format!("nobody-{}", uuid::Uuid::new_v4()), "password": "wrong"}))
                .send()
                .await
                .expect("login attempt");
            let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
            (status, headers, resp.bytes().await.expect("body"))
        }
    }))
    .await;
    let refused: Vec<_> = attempts.iter().filter(|(s, ..)| *s == 429).collect();
    let checked = attempts.iter().filter(|(s, ..)| *s == 401).count();
    println!("60 logins at once from one address: {checked} checked (401), {} refused (429)", refused.len());
    assert!(
        attempts.iter().all(|(s, ..)| matches!(s, 401 | 429)),
        "{:?}",
        attempts.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(refused.len() >= 20, "a burst of 60 logins from one address was not cut short: {checked} were checked");
    for (status, headers, body) in &refused {
        assert_rate_limited(*status, headers, body, "a refused login");
    }

    // Meanwhile, from the same address, the rest of the API answers at once...
    let started = std::time::Instant::now();
    let towns = http.get(format!("{base}/api/v1/towns")).bearer_auth(&token).send().await.expect("towns");
    assert_eq!(towns.status().as_u16(), 200, "another path is not limited by the login zone");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // ...and so does a login from another address.
    if let Some(addr) = other_address(&base) {
        let other = reqwest::Client::builder().local_address(addr).build().expect("client");
        login(&other, &base, "manager-500103").await;
    }
    // The address is slowed, not locked out: once Retry-After has passed it logs in again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let resp = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": format!("dept-{DEPARTMENT}"), "password": std::env::var("WHISTLE_DEMO_PASSWORD").unwrap_or_else(|_| DEMO_PASSWORD.to_owned())}))
            .send()
            .await
            .expect("login");
        if resp.status().as_u16() == 200 {
            break;
        }
        assert_eq!(resp.status().as_u16(), 429);
        assert!(std::time::Instant::now() < deadline, "still refused 10 s after the burst");
    }
}

#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn too_many_websockets_from_one_address_are_refused_429_while_another_address_connects() {
    use tokio_tungstenite::tungstenite::Error as WsError;
    const AT_MOST: usize = 1024;
    let base = base();
    let ws = base.replacen("http", "ws", 1) + "/ws";
    let mut open = Vec::new();
    let refusal = loop {
        match tokio_tungstenite::connect_async(&ws).await {
            Ok((socket, _)) => open.push(socket),
            Err(WsError::Http(resp)) => break resp,
            Err(e) => panic!("upgrade {} failed: {e}", open.len() + 1),
        }
        assert!(open.len() < AT_MOST, "{AT_MOST} WebSockets open from one address and none refused");
    };
    println!("WebSockets from one address: {} open, the next refused with {}", open.len(), refusal.status());
    // The loadtest smoke of `cargo xtask test` holds 200 boards from one address.
    assert!(open.len() >= 200, "only {} boards per address", open.len());
    let (parts, body) = (*refusal).into_parts();
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &parts.headers {
        headers.append(
            name.as_str().parse::<reqwest::header::HeaderName>().expect("name"),
            value.as_bytes().try_into().expect("value"),
        );
    }
    // The ingress (rate_limited) or, behind it, the gateway's own per-address cap
    // (too_many_connections): both allow 256 per address.
    assert_refused(
        parts.status.as_u16(),
        &headers,
        &body.unwrap_or_default(),
        "a refused WebSocket",
        &["rate_limited", "too_many_connections"],
    );

    // The limit is per address: another one connects (and authenticates) while this one is full.
    if let Some(addr) = other_address(&base) {
        let http = reqwest::Client::builder().local_address(addr).build().expect("client");
        let token = login(&http, &base, &format!("dept-{DEPARTMENT}")).await;
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(std::net::SocketAddr::new(addr, 0)).expect("bind");
        let authority = ws.split("://").nth(1).and_then(|r| r.split('/').next()).expect("host:port");
        let target = tokio::net::lookup_host(authority).await.expect("resolves").find(|a| a.is_ipv4()).expect("IPv4");
        let stream = socket.connect(target).await.expect("connects");
        let (socket, _) = tokio_tungstenite::client_async(&ws, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("another address upgrades");
        let mut board = Board::from_socket(socket);
        board.send(json!({"type": "auth", "token": token})).await;
        assert_eq!(board.next().await["type"], "authenticated");
    }
    // Closing one makes room for one.
    drop(open.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(&ws).await {
            Ok((socket, _)) => break open.push(socket),
            Err(WsError::Http(resp)) if resp.status().as_u16() == 429 => {}
            Err(e) => panic!("upgrade after a close: {e}"),
        }
        assert!(std::time::Instant::now() < deadline, "no room 5 s after a WebSocket closed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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

/// An independent Open311 client (PyPI's georeport, deploy/dev/georeport.sh) lists the services,
/// posts a request with the demo API key and reads its status, all through the ingress; the
/// request is a whistle the department's board then has.
#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn the_pypi_open311_client_lists_services_posts_a_request_and_reads_its_status_through_the_ingress() {
    let base = base();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tokio::process::Command::new("bash")
        .arg(root.join("deploy/dev/georeport.sh"))
        .arg("run")
        .arg(&base)
        .output()
        .await
        .expect("the client runs");
    assert!(
        out.status.success(),
        "the georeport client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the client's last line is its JSON ({e}): {stdout}"));
    println!("georeport saw: {seen}");
    assert!(seen["services"].as_u64().is_some_and(|n| n >= 50), "{seen}");
    assert_eq!(seen["has_env_item"], true);
    assert_eq!(seen["definition_code"], "CQ-ENV-001");
    assert_eq!(seen["posted_status"], 201);
    assert_eq!(seen["refused_status"], 403);
    assert_eq!(seen["refused_body"][0]["code"], 403, "a GeoReport error: {seen}");
    assert_eq!(seen["status"], "open");
    assert!(["raised", "dispatched"].contains(&seen["whistle_status"].as_str().unwrap_or_default()), "{seen}");
    assert_eq!(seen["town"], TOWN);
    assert_eq!(seen["xml_services"], seen["services"]);
    assert_eq!(seen["xml_status"], "open");
    let id = seen["service_request_id"].as_str().expect("an id").to_owned();
    assert_eq!(seen["listed"], json!([id]));
    // The whistle reaches its department like a town's: its officer reads it as dispatched.
    let http = reqwest::Client::new();
    let officer = login(&http, &base, &format!("dept-{DEPARTMENT}")).await;
    let mut view = Value::Null;
    for _ in 0..50 {
        view = get_json(&http, format!("{base}/api/v1/whistles/{id}"), &officer).await;
        if view["status"] == "dispatched" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(view["status"], "dispatched", "{view}");
    assert_eq!(view["department"]["code"], DEPARTMENT);
    let read: Value = http
        .get(format!("{base}/open311/v2/requests/{id}.json"))
        .send()
        .await
        .expect("read through the ingress")
        .json()
        .await
        .expect("JSON");
    assert_eq!(read[0]["whistle_status"], "dispatched", "{read}");
    assert_eq!(read[0]["agency_responsible"], view["department"]["names"]["zh"], "{read}");
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
    for dir in ["logs", "redis", "kafka", "pids", "jwt-secret", "postgres-password", "attachments"] {
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

/// Single sign-on through the ingress: its starts share the login zone (a burst from one address
/// is cut short with the API's 429), and the callback's query (the provider's code and state)
/// is kept out of the access log. Needs the dev provider (`auth.oidc` on, as `xtask up` runs it).
#[tokio::test]
#[ignore = "needs the stack from `cargo xtask up`; run by `cargo xtask test`"]
async fn single_sign_on_through_the_ingress_is_rate_limited_and_logged_without_its_code() {
    let base = base();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let config: Value =
        http.get(format!("{base}/api/v1/auth/config")).send().await.expect("config").json().await.expect("json");
    assert!(config["oidc"]["login_url"].is_string(), "the dev stack offers single sign-on: {config}");

    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let state = format!("state-{}", uuid::Uuid::new_v4().simple());
    let answer =
        http.get(format!("{base}/api/v1/auth/oidc/callback?code={code}&state={state}")).send().await.expect("callback");
    assert_eq!(answer.status().as_u16(), 400, "a callback without this browser's flow cookie");
    let run = std::env::var_os("WHISTLE_RUN").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/whistle/run")
    });
    let log = std::fs::read_to_string(run.join("logs/nginx-access.log")).expect("nginx's access log");
    let line = log.lines().rev().find(|l| l.contains("/api/v1/auth/oidc/callback"));
    assert!(line.is_some(), "the callback is in the access log");
    assert!(
        !log.contains(&code) && !log.contains(&state),
        "the callback's code or state is in the access log: {line:?}"
    );

    let starts = futures::future::join_all((0..60).map(|_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let resp = http.get(format!("{base}/api/v1/auth/oidc/login")).send().await.expect("sign-in start");
            let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
            (status, headers, resp.bytes().await.expect("body"))
        }
    }))
    .await;
    let refused: Vec<_> = starts.iter().filter(|(s, ..)| *s == 429).collect();
    assert!(
        starts.iter().all(|(s, ..)| matches!(s, 302 | 429)),
        "{:?}",
        starts.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        refused.len() >= 20,
        "a burst of 60 sign-in starts from one address was not cut short: {} refused",
        refused.len()
    );
    for (status, headers, body) in &refused {
        assert_rate_limited(*status, headers, body, "a refused sign-in start");
    }
    // Leave the login zone as the next test expects it: refilled (10/s).
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
}
