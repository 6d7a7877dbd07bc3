//! Intake's per-account rate limit, wired: an account past its burst gets `429 rate_limited` with
//! `Retry-After`, in the API's error shape, on every route (unknown ones too), while other accounts
//! go on; requests without a token are limited by client address.

use std::time::Duration;

use whistle_common::ratelimit::RateLimitSettings;
use whistle_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_past_its_burst_is_told_to_retry_later_and_others_go_on() {
    let iso = Isolation::new();
    let settings = whistle_intake::Settings {
        rate_limit: RateLimitSettings { burst: 5, per_second: 0.5, ..Default::default() },
        ..intake_settings(&iso)
    };
    let app = whistle_intake::Application::build(settings).await.expect("intake starts");
    let api = format!("http://127.0.0.1:{}", app.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped({
        let stop = stop.clone();
        async move { stop.cancelled().await }
    }));
    let http = reqwest::Client::new();
    let town = token(&as_town(TOWN));
    for n in 0..5 {
        let resp = http.get(format!("{api}/api/v1/towns")).bearer_auth(&town).send().await.expect("sent");
        assert_eq!(resp.status(), 200, "request {n} is within the burst");
    }
    for path in ["/api/v1/towns", "/api/v1/nowhere"] {
        let resp = http.get(format!("{api}{path}")).bearer_auth(&town).send().await.expect("sent");
        assert_eq!(resp.status(), 429, "{path}");
        let retry: u64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=2).contains(&retry), "one token comes back in 2 s: {retry}");
        let body: serde_json::Value = resp.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "rate_limited");
    }
    // The limit is the account's: another account from the same address goes on.
    let officer = token(&as_department(DEPARTMENT));
    let resp = http.get(format!("{api}/api/v1/towns")).bearer_auth(&officer).send().await.expect("sent");
    assert_eq!(resp.status(), 200, "another account is not throttled by the first");
    // Without a token the address is the key, and it has a burst of its own (here: 401s).
    for n in 0..5 {
        let resp = http.get(format!("{api}/api/v1/towns")).send().await.expect("sent");
        assert_eq!(resp.status(), 401, "anonymous request {n}");
    }
    let resp = http.get(format!("{api}/api/v1/towns")).send().await.expect("sent");
    assert_eq!(resp.status(), 429, "anonymous requests past the address's burst");
    // Health checks are not API calls and are not limited.
    assert_eq!(http.get(format!("{api}/healthz")).send().await.expect("sent").status(), 200);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    iso.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_and_sla_services_limit_each_account_too() {
    let iso = Isolation::new();
    let limit = RateLimitSettings { burst: 3, per_second: 0.5, ..Default::default() };
    let registry = whistle_registry::service::Application::build(whistle_registry::service::Settings {
        rate_limit: limit.clone(),
        ..registry_settings(&iso)
    })
    .await
    .expect("registry starts");
    let registry_url = format!("http://127.0.0.1:{}/api/v1/districts", registry.port());
    let sla = whistle_sla::Application::build(whistle_sla::Settings {
        rate_limit: limit,
        ..sla_settings(&iso, default_sla_policy())
    })
    .await
    .expect("sla starts");
    let sla_url = format!("http://127.0.0.1:{}/api/v1/sla/summary", sla.port());
    let stop = tokio_util::sync::CancellationToken::new();
    let tasks = [
        tokio::spawn(registry.run_until_stopped({
            let stop = stop.clone();
            async move { stop.cancelled().await }
        })),
        tokio::spawn(sla.run_until_stopped({
            let stop = stop.clone();
            async move { stop.cancelled().await }
        })),
    ];
    let http = reqwest::Client::new();
    let manager = token(&as_manager());
    for url in [&registry_url, &sla_url] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(http.get(url.as_str()).bearer_auth(&manager).send().await.expect("sent").status().as_u16());
        }
        assert_eq!(statuses, [200, 200, 200, 429], "{url}");
        let other = http.get(url.as_str()).bearer_auth(token(&as_department("500103-CC"))).send().await.expect("sent");
        assert_eq!(other.status(), 200, "{url}: another account goes on");
    }
    stop.cancel();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    iso.clean_up().await;
}
