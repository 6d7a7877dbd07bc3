//! Outbound webhooks on the real Kafka and PostgreSQL: the in-process stack raises and
//! dispatches real whistles, the notifier records and delivers them, and the receivers are real
//! local HTTP servers in this test. Signatures are checked here with an HMAC of the test's own,
//! not with the notifier's code.
//!
//! The stack's notifier allows loopback receivers (`webhooks.allow_private_targets`, as the dev
//! scripts set it) and retries after 100 ms doubling to 1 s; the address rule (SSRF) and the
//! pause rule are tested on notifiers of their own with those settings changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_auth::Principal;
use whistle_schemas::events::CaseEvent;
use whistle_tests::*;

/// One POST a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

struct ReceiverState {
    /// Requests still to be answered `500`.
    failures: AtomicUsize,
    tx: mpsc::UnboundedSender<Received>,
}

/// A webhook receiver: a real HTTP server on loopback that answers `500` to its first
/// `failures` requests and `200` after.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    rx: mpsc::UnboundedReceiver<Received>,
}

async fn receiver(failures: usize) -> Receiver {
    async fn hook(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let headers =
            headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
        let _ = state.tx.send(Received { headers, body: body.to_vec() });
        let failing = state.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(ReceiverState { failures: AtomicUsize::new(failures), tx });
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().expect("addr").port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, state, rx }
}

impl Receiver {
    async fn next(&mut self) -> Received {
        tokio::time::timeout(RECEIVE_TIMEOUT, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{} received nothing in {RECEIVE_TIMEOUT:?}", self.url))
            .expect("the receiver runs")
    }

    /// Nothing (more) arrives within `wait`.
    async fn quiet(&mut self, wait: Duration) {
        if let Ok(Some(got)) = tokio::time::timeout(wait, self.rx.recv()).await {
            panic!("{} got an unexpected POST: {} {}", self.url, got.header("x-whistle-event"), body_text(&got));
        }
    }
}

fn body_text(r: &Received) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Checks the signature the way a receiver would (HMAC-SHA256 of the raw body, keyed with the
/// secret's bytes) and the headers; answers the event.
fn verify(r: &Received, secret: &str) -> CaseEvent {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(&r.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-whistle-signature"), expected, "signature of {}", body_text(r));
    let delivery = r.header("x-whistle-delivery");
    assert!(delivery.len() == 64 && delivery.bytes().all(|b| b.is_ascii_hexdigit()), "delivery id {delivery:?}");
    assert!(r.header("content-type").starts_with("application/cloudevents+json"), "{:?}", r.headers);
    let event: CaseEvent = serde_json::from_slice(&r.body).expect("the body is the CloudEvent of the case topic");
    assert_eq!(event.specversion, "1.0");
    assert_eq!(r.header("x-whistle-event"), event.type_name());
    event
}

async fn call(http: &reqwest::Client, method: &str, url: &str, who: &Principal, body: Option<&Value>) -> (u16, Value) {
    let mut req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url),
    }
    .bearer_auth(token(who));
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Subscribes as `who`; answers the id and the secret.
async fn subscribe(http: &reqwest::Client, notify: &str, who: &Principal, body: Value) -> (String, String) {
    let (status, created) = call(http, "POST", &format!("{notify}/api/v1/webhooks"), who, Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let (id, secret) = (created["id"].as_str().expect("id"), created["secret"].as_str().expect("secret"));
    assert!(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
    assert_eq!(created["webhook"]["id"], id);
    assert!(created["webhook"].get("secret").is_none(), "the secret is not part of the subscription: {created}");
    (id.to_owned(), secret.to_owned())
}

async fn deliveries(http: &reqwest::Client, notify: &str, id: &str) -> Vec<Value> {
    let (status, list) =
        call(http, "GET", &format!("{notify}/api/v1/webhooks/{id}/deliveries"), &as_admin(), None).await;
    assert_eq!(status, 200, "{list}");
    list["deliveries"].as_array().expect("deliveries").clone()
}

/// Polls a subscription's deliveries until `pred` holds on them.
async fn wait_deliveries(
    http: &reqwest::Client,
    notify: &str,
    id: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let list = deliveries(http, notify, id).await;
        if pred(&list) {
            return list;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries of {id} never matched: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_gets_a_signed_post_for_each_subscribed_event_of_its_district_only() {
    let stack = Stack::start_with_database().await;
    let notify = stack.notify.clone().expect("the notifier runs");
    let http = &stack.http;
    let (mut ours, mut theirs, mut witness) = (receiver(0).await, receiver(0).await, receiver(0).await);
    // The district's command centre, for its own district (left out: its own).
    let (ours_id, ours_secret) = subscribe(
        http,
        &notify,
        &as_department("500103-CC"),
        json!({"url": ours.url, "events": ["whistle.raised", "whistle.dispatched"]}),
    )
    .await;
    let (status, view) = call(http, "GET", &format!("{notify}/api/v1/webhooks/{ours_id}"), &as_admin(), None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["district"].as_str(), view["state"].as_str(), view["url"].as_str()),
        (Some("500103"), Some("active"), Some(ours.url.as_str()))
    );
    // Another district's, for every type the case will see; and an administrator's for every
    // district, hearing only the acknowledgement.
    let (theirs_id, _) = subscribe(
        http,
        &notify,
        &as_department("500104-CC"),
        json!({"url": theirs.url, "events": ["whistle.raised", "whistle.dispatched", "whistle.acknowledged"]}),
    )
    .await;
    let (witness_id, witness_secret) =
        subscribe(http, &notify, &as_admin(), json!({"url": witness.url, "events": ["whistle.acknowledged"]})).await;

    let (status, raised) = stack.raise(DEPT_ITEM, "webhooks: 河道排污").await;
    assert_eq!(status, 202, "{raised}");
    let whistle = raised["id"].as_str().expect("id").to_owned();
    stack.wait_for(&whistle, |v| v["status"] == "dispatched").await;
    let (status, body) = stack.post(&format!("/api/v1/whistles/{whistle}/acknowledge"), &json!({})).await;
    assert_eq!(status, 202, "{body}");

    // The acknowledgement reaches the every-district subscription …
    let ack = verify(&witness.next().await, &witness_secret);
    assert_eq!((ack.type_name(), ack.subject.to_string()), ("whistle.acknowledged", whistle.clone()));
    // … and the district's subscription gets its two types, each once, correctly signed.
    let mut got = HashMap::new();
    for _ in 0..2 {
        let r = ours.next().await;
        let event = verify(&r, &ours_secret);
        assert_eq!(event.subject.to_string(), whistle);
        got.insert(event.type_name().to_owned(), (r.header("x-whistle-delivery").to_owned(), event));
    }
    let mut types: Vec<&str> = got.keys().map(String::as_str).collect();
    types.sort();
    assert_eq!(types, ["whistle.dispatched", "whistle.raised"]);
    let Some((_, raised_event)) = got.get("whistle.raised") else { unreachable!() };
    let raised_json = serde_json::to_value(raised_event).expect("json");
    assert_eq!(raised_json["data"]["district"], "500103", "{raised_json}");
    assert_eq!(raised_json["data"]["town"], TOWN, "{raised_json}");

    // The events are recorded in the topic's order, so once the acknowledgement's delivery is,
    // every delivery of the earlier events is too: exactly these, and none for the other
    // district or for the type the district did not subscribe to.
    let listed = deliveries(http, &notify, &ours_id).await;
    let mut listed_types: Vec<&str> = listed.iter().filter_map(|d| d["event_type"].as_str()).collect();
    listed_types.sort();
    assert_eq!(listed_types, ["whistle.dispatched", "whistle.raised"], "{listed:?}");
    for d in &listed {
        let (delivery, _) = &got[d["event_type"].as_str().expect("type")];
        assert_eq!(d["id"], delivery.as_str(), "the listed id is the header's: {d}");
        assert_eq!(d["whistle"], whistle.as_str());
    }
    let listed = wait_deliveries(http, &notify, &ours_id, |l| l.iter().all(|d| d["state"] == "delivered")).await;
    for d in &listed {
        let attempts = d["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "{d}");
        assert_eq!((attempts[0]["attempt"].as_i64(), attempts[0]["status"].as_u64()), (Some(1), Some(200)), "{d}");
    }
    assert_eq!(deliveries(http, &notify, &theirs_id).await, Vec::<Value>::new());
    wait_deliveries(http, &notify, &witness_id, |l| l.len() == 1 && l[0]["state"] == "delivered").await;
    ours.quiet(Duration::from_millis(500)).await;
    theirs.quiet(Duration::from_millis(100)).await;
    witness.quiet(Duration::from_millis(100)).await;

    // The metrics count the three deliveries.
    let admin = notify.clone();
    let metrics = http.get(format!("{admin}/metrics")).send().await.expect("sent").text().await.expect("text");
    assert!(metrics.contains("whistle_notify_webhook_deliveries_total{outcome=\"delivered\"} 3"), "{metrics}");
    assert!(metrics.contains("whistle_notify_webhook_duration_seconds_count 3"), "{metrics}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_that_answers_500_three_times_gets_the_fourth_attempt_and_the_attempts_are_listed() {
    let stack = Stack::start_with_database().await;
    let notify = stack.notify.clone().expect("the notifier runs");
    let http = &stack.http;
    let mut flaky = receiver(3).await;
    let (id, secret) = subscribe(
        http,
        &notify,
        &as_admin(),
        json!({"url": flaky.url, "events": ["whistle.raised"], "district": "500103"}),
    )
    .await;
    let (status, raised) = stack.raise(DEPT_ITEM, "webhooks: retried").await;
    assert_eq!(status, 202, "{raised}");
    let whistle = raised["id"].as_str().expect("id").to_owned();

    let posts = [flaky.next().await, flaky.next().await, flaky.next().await, flaky.next().await];
    let first = verify(&posts[0], &secret);
    assert_eq!(first.subject.to_string(), whistle);
    for (n, post) in posts.iter().enumerate() {
        verify(post, &secret);
        assert_eq!(post.body, posts[0].body, "every attempt sends the same bytes");
        assert_eq!(post.header("x-whistle-delivery"), posts[0].header("x-whistle-delivery"), "one delivery id");
        assert_eq!(post.header("x-whistle-attempt"), (n + 1).to_string());
    }
    flaky.quiet(Duration::from_millis(500)).await;

    let listed = wait_deliveries(http, &notify, &id, |l| l.first().is_some_and(|d| d["state"] == "delivered")).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let d = &listed[0];
    assert_eq!(d["id"], posts[0].header("x-whistle-delivery"));
    assert_eq!((d["event_type"].as_str(), d["whistle"].as_str()), (Some("whistle.raised"), Some(whistle.as_str())));
    let attempts = d["attempts"].as_array().expect("attempts");
    let seen: Vec<(i64, u64)> =
        attempts.iter().map(|a| (a["attempt"].as_i64().unwrap_or(0), a["status"].as_u64().unwrap_or(0))).collect();
    assert_eq!(seen, [(1, 500), (2, 500), (3, 500), (4, 200)], "{d}");
    for a in &attempts[..3] {
        assert!(a["error"].as_str().is_some_and(|e| e.contains("500")), "{a}");
    }
    assert!(attempts[3].get("error").is_none(), "{d}");
    let times: Vec<&str> = attempts.iter().filter_map(|a| a["at"].as_str()).collect();
    assert_eq!(times.len(), 4);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "attempts come one after another, with backoff: {times:?}");
    // Success clears the run of failures.
    let (_, view) = call(http, "GET", &format!("{notify}/api/v1/webhooks/{id}"), &as_admin(), None).await;
    assert_eq!(view["state"], "active");
    assert!(view.get("failing_since").is_none(), "{view}");
    drop(flaky.state);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_are_validated_scoped_listed_deleted_and_bounded() {
    let stack = Stack::start_with_database().await;
    let notify = stack.notify.clone().expect("the notifier runs");
    let http = &stack.http;
    let hooks = format!("{notify}/api/v1/webhooks");
    let cc = as_department("500103-CC");
    let url = "http://127.0.0.1:9/hook";
    for (body, code, says) in [
        (json!({"url": url, "events": ["whistle.exploded"]}), "invalid_field", "not a case event type"),
        (json!({"url": url, "events": []}), "invalid_field", "at least one event type"),
        (json!({"url": "ftp://example.cn/", "events": ["whistle.raised"]}), "invalid_field", "ftp://"),
        (json!({"url": url, "events": ["whistle.raised"], "district": "yuzhong"}), "invalid_field", "6-digit"),
        (json!({"url": url, "events": ["whistle.raised"], "extra": 1}), "malformed_body", "extra"),
    ] {
        let (status, answer) = call(http, "POST", &hooks, &cc, Some(&body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(code)), "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains(says)), "{answer}");
    }
    // A command centre subscribes for its own district only; towns and departments not at all.
    let other = json!({"url": url, "events": ["whistle.raised"], "district": "500104"});
    let (status, answer) = call(http, "POST", &hooks, &cc, Some(&other)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{answer}");
    let (status, _) = call(http, "POST", &hooks, &as_town(TOWN), Some(&other)).await;
    assert_eq!(status, 403);
    let (own, _) = subscribe(http, &notify, &cc, json!({"url": url, "events": ["whistle.raised"]})).await;
    let (everywhere, _) = subscribe(http, &notify, &as_admin(), json!({"url": url, "events": ["sla.breached"]})).await;
    // Listing: the administrator sees both, the command centre its district's.
    let (_, all) = call(http, "GET", &hooks, &as_admin(), None).await;
    let ids = |v: &Value| -> Vec<String> {
        v["webhooks"].as_array().expect("list").iter().filter_map(|w| w["id"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(ids(&all), [own.clone(), everywhere.clone()]);
    let (_, mine) = call(http, "GET", &hooks, &cc, None).await;
    assert_eq!(ids(&mine), std::slice::from_ref(&own));
    assert!(mine["webhooks"][0].get("secret").is_none(), "{mine}");
    let (status, _) = call(http, "GET", &format!("{hooks}?district=500104"), &cc, None).await;
    assert_eq!(status, 403);
    // Every district's subscription is the administrator's; another centre's is not this one's.
    let (status, answer) = call(http, "GET", &format!("{hooks}/{everywhere}"), &cc, None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("forbidden")), "{answer}");
    let (status, _) = call(http, "GET", &format!("{hooks}/{own}"), &as_department("500104-CC"), None).await;
    assert_eq!(status, 403);
    let (status, answer) = call(http, "GET", &format!("{hooks}/{}", Uuid::new_v4()), &cc, None).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("not_found")), "{answer}");
    // Resume of an active one is harmless; delete, then it is gone.
    let (status, view) = call(http, "POST", &format!("{hooks}/{own}/resume"), &cc, None).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("active")), "{view}");
    let (status, _) = call(http, "DELETE", &format!("{hooks}/{own}"), &cc, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(http, "GET", &format!("{hooks}/{own}"), &cc, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(http, "GET", &format!("{hooks}/{own}/deliveries"), &cc, None).await;
    assert_eq!(status, 404);
    // At most `webhooks.max_per_scope` (20) per district.
    let cap = whistle_notify::settings::WebhookSettings::default().max_per_scope;
    let far = as_department("500105-CC");
    for _ in 0..cap {
        subscribe(http, &notify, &far, json!({"url": url, "events": ["whistle.raised"]})).await;
    }
    let (status, answer) =
        call(http, "POST", &hooks, &far, Some(&json!({"url": url, "events": ["whistle.raised"]}))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("webhook_limit_reached")), "{answer}");
    stack.stop().await;
}

/// A notifier of its own (its own database and topics), with settings changed by `configure`.
struct Notifier {
    iso: Isolation,
    url: String,
    http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Notifier {
    async fn start(configure: impl FnOnce(&mut whistle_notify::Settings)) -> Notifier {
        let mut iso = Isolation::new();
        iso.create_database().await;
        let mut settings = notify_settings(&iso);
        configure(&mut settings);
        let app = whistle_notify::Application::build(settings).await.expect("notify starts");
        let url = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(app.run_until_stopped(async move { token.cancelled().await }));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Notifier { iso, url, http, stop, task }
    }

    /// Publishes a case event of `whistle` in district 500103, as intake or the router would.
    async fn publish(&self, whistle: Uuid, ty: &str) {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let data = match ty {
            "whistle.raised" => json!({
                "town": TOWN, "district": "500103", "item": DEPT_ITEM, "description": "河道排污",
                "location": {"address": "解放碑", "lat": 29.557, "lon": 106.577},
                "raised_by": {"kind": "town", "code": TOWN}
            }),
            _ => json!({"actor": {"kind": "department", "code": DEPARTMENT}}),
        };
        let event = json!({
            "specversion": "1.0", "id": Uuid::new_v4(), "source": "/whistle/test", "subject": whistle,
            "time": chrono::Utc::now(), "datacontenttype": "application/json", "type": ty, "data": data
        });
        let producer: FutureProducer =
            whistle_common::kafka::client_config(&self.iso.kafka).create().expect("producer");
        let (payload, key) = (serde_json::to_vec(&event).expect("json"), whistle.to_string());
        producer
            .send(FutureRecord::to(&self.iso.kafka.topics.cases).key(&key).payload(&payload), Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("published");
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        self.iso.clean_up().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_dev_setting_no_receiver_on_a_loopback_or_private_address_is_reached() {
    let notifier = Notifier::start(|s| s.webhooks.allow_private_targets = false).await;
    let (http, hooks) = (&notifier.http, format!("{}/api/v1/webhooks", notifier.url));
    let mut local = receiver(0).await;
    let port = local.url.rsplit_once(':').and_then(|(_, p)| p.split_once('/')).expect("port").0.to_owned();
    // At subscription: literal addresses, and names resolving to them.
    for url in [
        local.url.clone(),
        format!("http://localhost:{port}/hook"),
        "http://[::1]/".to_owned(),
        "http://10.0.0.7/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00::1]/".to_owned(),
        "http://0.0.0.0/".to_owned(),
    ] {
        let body = json!({"url": url, "events": ["whistle.raised"]});
        let (status, answer) = call(http, "POST", &hooks, &as_admin(), Some(&body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("target_not_allowed")), "{url}: {answer}");
    }
    // At delivery: a subscription whose name resolved to a public address when it was made,
    // and resolves to loopback now (DNS rebinding), is refused at connection time. (Stored
    // straight into the notifier's table: the test cannot make a public name point at itself.)
    let database = notifier.iso.database.clone().expect("a database");
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&database).await.expect("connects");
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO notify.webhooks (id, url, events, district, secret, state, created_by)
         VALUES ($1, $2, ARRAY['whistle.raised'], '500103', 'secret', 'active', 'test')",
    )
    .bind(id)
    .bind(format!("http://localhost:{port}/hook"))
    .execute(&mut db)
    .await
    .expect("inserted");
    notifier.publish(Uuid::now_v7(), "whistle.raised").await;
    let listed = wait_deliveries(http, &notifier.url, &id.to_string(), |l| {
        l.first().is_some_and(|d| d["attempts"].as_array().is_some_and(|a| a.len() >= 2))
    })
    .await;
    for a in listed[0]["attempts"].as_array().expect("attempts") {
        let error = a["error"].as_str().unwrap_or_default();
        assert!(error.contains("localhost resolves to") && error.contains("loopback"), "{a}");
        assert!(a.get("status").is_none(), "{a}");
    }
    local.quiet(Duration::from_millis(300)).await;
    notifier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_failing_for_the_pause_period_is_paused_and_can_be_resumed() {
    // A "day" of one second; attempts 100 ms apart doubling to 1 s.
    let notifier = Notifier::start(|s| {
        s.webhooks.pause_after_seconds = 1;
        s.webhooks.max_attempts = 100;
    })
    .await;
    let (http, base) = (&notifier.http, notifier.url.clone());
    let mut down = receiver(usize::MAX).await;
    let (id, secret) = subscribe(
        http,
        &base,
        &as_department("500103-CC"),
        json!({"url": down.url, "events": ["whistle.raised", "whistle.acknowledged"]}),
    )
    .await;
    let whistle = Uuid::now_v7();
    notifier.publish(whistle, "whistle.raised").await;
    let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
    let view = loop {
        let (_, view) = call(http, "GET", &format!("{base}/api/v1/webhooks/{id}"), &as_admin(), None).await;
        if view["state"] == "paused" {
            break view;
        }
        assert!(tokio::time::Instant::now() < deadline, "never paused: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(view["failing_since"].is_string() && view["paused_at"].is_string(), "{view}");
    let listed = deliveries(http, &base, &id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["state"], "dead");
    assert!(listed[0]["last_error"].as_str().is_some_and(|e| e.contains("paused")), "{}", listed[0]);
    assert!(listed[0]["attempts"].as_array().is_some_and(|a| a.len() >= 2), "{}", listed[0]);
    // Paused: nothing more is sent (drain what was in flight first).
    while tokio::time::timeout(Duration::from_millis(300), down.rx.recv()).await.is_ok_and(|r| r.is_some()) {}
    notifier.publish(whistle, "whistle.acknowledged").await;
    down.quiet(Duration::from_secs(1)).await;
    // The receiver is fixed; resumed, the subscription hears events again.
    down.state.failures.store(0, Ordering::SeqCst);
    let (status, view) = call(http, "POST", &format!("{base}/api/v1/webhooks/{id}/resume"), &as_admin(), None).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("active")), "{view}");
    assert!(view.get("failing_since").is_none() && view.get("paused_at").is_none(), "{view}");
    notifier.publish(whistle, "whistle.acknowledged").await;
    let event = verify(&down.next().await, &secret);
    assert_eq!((event.type_name(), event.subject), ("whistle.acknowledged", whistle));
    notifier.stop().await;
}
