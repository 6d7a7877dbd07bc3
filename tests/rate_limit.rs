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
