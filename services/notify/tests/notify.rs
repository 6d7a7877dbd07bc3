//! The notifier against the real Kafka, PostgreSQL and SMTP server (exim, `deploy/dev/smtp.sh`)
//! and a local HTTP receiver standing in for the WeCom robot's endpoint (a real HTTP server in
//! this test, speaking WeCom's answer format).
//!
//! Case events come from real services where the test needs them to: the test publishes a
//! whistle's `whistle.raised` and `whistle.dispatched` to a random case topic, and the real SLA
//! service, with a policy of second-long deadlines (`tests/data/sla-fast.json`), fires the
//! warning, the breach and the escalation steps because nobody acknowledges.
//!
//! Needs `WHISTLE_TEST_KAFKA`, `WHISTLE_TEST_REDIS`, `WHISTLE_TEST_POSTGRES`, `WHISTLE_TEST_SMTP`
//! and `WHISTLE_TEST_MAILBOX` (`cargo xtask test` sets them).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use rdkafka::producer::{FutureProducer, FutureRecord};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::Connection as _;
use uuid::Uuid;
use whistle_auth::{Principal, Role, TokenKeys};
use whistle_common::settings::{AuthSettings, DatabaseSettings, HttpSettings, KafkaSettings, RedisSettings, Topics};
use whistle_notify::settings::{DeliverySettings, SmtpSettings};

const JWT_SECRET: &str = "whistle-tests-only-signing-key-0123456789";
const DEPARTMENT: &str = "500103-EE";
const TOWN: &str = "500103001";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn auth() -> AuthSettings {
    AuthSettings {
        jwt_secret: SecretString::from(JWT_SECRET),
        environment: whistle_common::settings::Environment::Development,
        ..Default::default()
    }
}

fn token(p: &Principal) -> String {
    TokenKeys::from_settings(&auth()).issue(p).0
}

/// One test's topics, database, Redis prefix and mail addresses.
struct Run {
    suffix: String,
    kafka: KafkaSettings,
    redis: RedisSettings,
    database: String,
    admin_db: String,
}

impl Run {
    async fn new() -> Run {
        whistle_common::telemetry::init("notify-test");
        let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
        let kafka = KafkaSettings {
            brokers: env("WHISTLE_TEST_KAFKA"),
            topics: Topics {
                cases: format!("test-{suffix}.cases"),
                deadletter: format!("test-{suffix}.deadletter"),
                registry: format!("test-{suffix}.registry"),
            },
            partitions: 3,
            replication_factor: 1,
            ..KafkaSettings::default()
        };
        // The dev broker takes logins only (`cargo xtask test` passes the suite's).
        let mut kafka = kafka;
        if let Ok(protocol) = std::env::var("WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL") {
            kafka.security_protocol = protocol;
            kafka.sasl_username = Some(env("WHISTLE_TEST_KAFKA_SASL_USERNAME"));
            kafka.sasl_password = Some(SecretString::from(env("WHISTLE_TEST_KAFKA_SASL_PASSWORD")));
        }
        let redis = RedisSettings {
            url: SecretString::from(env("WHISTLE_TEST_REDIS")),
            key_prefix: format!("test:{suffix}:"),
            ..RedisSettings::default()
        };
        let admin_db = env("WHISTLE_TEST_POSTGRES");
        let mut conn = sqlx::PgConnection::connect(&admin_db).await.expect("connects to WHISTLE_TEST_POSTGRES");
        sqlx::query(&format!("CREATE DATABASE \"test_{suffix}\""))
            .execute(&mut conn)
            .await
            .expect("creates a database");
        let _ = conn.close().await;
        let (base, _) = admin_db.rsplit_once('/').expect("a postgres:// URL");
        let database = format!("{base}/test_{suffix}");
        Run { suffix, kafka, redis, database, admin_db }
    }

    fn email(&self, who: &str) -> String {
        format!("{who}-{}@example.cn", self.suffix)
    }

    fn settings(&self) -> whistle_notify::Settings {
        whistle_notify::Settings {
            http: HttpSettings::new(0),
            kafka: self.kafka.clone(),
            redis: self.redis.clone(),
            database: DatabaseSettings { url: Some(SecretString::from(self.database.clone())), ..Default::default() },
            group_id: format!("test-{}-notify", self.suffix),
            rosters_path: None,
            console_url: "http://127.0.0.1:8080".into(),
            smtp: SmtpSettings { url: env("WHISTLE_TEST_SMTP"), ..Default::default() },
            delivery: DeliverySettings {
                backoff_base_ms: 100,
                backoff_cap_seconds: 1,
                lease_seconds: 2,
                poll_ms: 100,
                ..Default::default()
            },
            auth: auth(),
            rate_limit: whistle_common::ratelimit::RateLimitSettings { enabled: false, ..Default::default() },
            ..Default::default()
        }
    }

    async fn start_notify(&self) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
        self.start_notify_in(&self.settings().group_id).await
    }

    /// A notifier in consumer group `group` (a fresh group reads the case topic from the start).
    async fn start_notify_in(&self, group: &str) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let settings = whistle_notify::Settings { group_id: group.to_owned(), ..self.settings() };
        let app = whistle_notify::Application::build(settings).await.expect("notify starts");
        let url = format!("http://127.0.0.1:{}", app.port());
        (url, tokio::spawn(app.run_until_stopped(std::future::pending())))
    }

    async fn start_sla(&self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let settings = whistle_sla::Settings {
            http: HttpSettings::new(0),
            kafka: self.kafka.clone(),
            redis: self.redis.clone(),
            registry_path: root().join("deploy/data/registry.json"),
            policy_path: root().join("tests/data/sla-fast.json"),
            group_id: format!("test-{}-sla", self.suffix),
            gauge_seconds: 1,
            auth: auth(),
            ..Default::default()
        };
        let app = whistle_sla::Application::build(settings).await.expect("sla starts");
        tokio::spawn(app.run_until_stopped(std::future::pending()))
    }

    async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database).await.expect("connects to the test database")
    }

    async fn clean_up(&self) {
        if std::env::var("WHISTLE_TEST_KEEP").is_ok() {
            return;
        }
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_db).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"test_{}\" WITH (FORCE)", self.suffix))
                .execute(&mut conn)
                .await;
        }
    }
}

/// A WeCom group robot endpoint: records every body, answers `{"errcode":0,"errmsg":"ok"}`.
async fn wecom_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    async fn hook(State(seen): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>) -> Json<Value> {
        seen.lock().unwrap().push(body);
        Json(json!({"errcode": 0, "errmsg": "ok"}))
    }
    let app = axum::Router::new().route("/cgi-bin/webhook/send", axum::routing::post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cgi-bin/webhook/send?key=test", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A client that keeps no idle connection: an aborted in-process notifier must not live on in
/// a kept-alive connection's task (which holds its router, and through it its Kafka consumer,
/// which would keep its partitions without polling them). A killed process has no such remains.
fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

fn person(id: &str, name: &str, email: &str, phone: &str) -> Value {
    json!({"id": id, "name": name, "email": email, "phone": phone})
}

/// Around the clock, so the test passes at any hour: the duty officer has the whole week.
fn department_roster(run: &Run, wecom: &str) -> Value {
    let week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!({
        "people": [
            person("duty", "王值班", &run.email("duty"), "13800000001"),
            person("head", "张局长", &run.email("head"), "13800000002")
        ],
        "shifts": [{"days": week, "start": "00:00", "end": "00:00", "person": "duty"}],
        "roles": {"department_head": "head"},
        "robots": {"wecom": wecom}
    })
}

fn command_centre_roster(run: &Run) -> Value {
    let week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!({
        "people": [person("cc", "赵指挥", &run.email("cc"), "13800000003")],
        "shifts": [{"days": week, "start": "12:00", "end": "12:00", "person": "cc"}]
    })
}

async fn put(http: &reqwest::Client, url: &str, who: &Principal, body: &Value) -> (u16, Value) {
    let r = http.put(url).bearer_auth(token(who)).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn event(whistle: Uuid, ty: &str, data: Value) -> Value {
    json!({
        "specversion": "1.0", "id": Uuid::new_v4(), "source": "/whistle/test", "subject": whistle,
        "time": chrono::Utc::now(), "datacontenttype": "application/json", "type": ty, "data": data
    })
}

async fn publish(producer: &FutureProducer, topic: &str, whistle: Uuid, event: &Value) {
    let payload = serde_json::to_vec(event).unwrap();
    let key = whistle.to_string();
    producer
        .send(FutureRecord::to(topic).key(&key).payload(&payload), Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .expect("published");
}

/// Raises and dispatches a whistle to the department; nobody acknowledges it.
async fn raise_and_dispatch(producer: &FutureProducer, topic: &str) -> Uuid {
    let whistle = Uuid::now_v7();
    let actor = json!({"kind": "town", "code": TOWN});
    let raised = event(
        whistle,
        "whistle.raised",
        json!({"town": TOWN, "district": "500103", "item": "CQ-ENV-001", "description": "河道排污",
               "location": {"address": "解放碑", "lat": 29.557, "lon": 106.577}, "raised_by": actor}),
    );
    let dispatched = event(
        whistle,
        "whistle.dispatched",
        json!({"department": {"code": DEPARTMENT, "names": {"zh": "渝中区生态环境局", "en": "Yuzhong EE"}},
               "district": "500103", "item": "CQ-ENV-001", "authority": "recovered", "basis": "市级收回事项"}),
    );
    publish(producer, topic, whistle, &raised).await;
    publish(producer, topic, whistle, &dispatched).await;
    whistle
}

/// A delivered message in the Maildir: its envelope recipient and Message-ID.
#[derive(Debug, Clone)]
struct Mail {
    to: String,
    message_id: String,
    text: String,
}

fn mailbox(run: &Run) -> Vec<Mail> {
    let dir = PathBuf::from(env("WHISTLE_TEST_MAILBOX")).join("new");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let Ok(text) = std::fs::read_to_string(entry.unwrap().path()) else { continue };
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap_or_default()
        };
        let to = header("Envelope-to:");
        if to.ends_with(&format!("-{}@example.cn", run.suffix)) {
            out.push(Mail { to, message_id: header("Message-ID:"), text: text.clone() });
        }
    }
    out
}

/// (delivery id, kind, channel, unit, person, state) of a whistle's deliveries.
async fn deliveries(
    pool: &sqlx::PgPool,
    whistle: Uuid,
) -> Vec<(String, String, String, String, Option<String>, String)> {
    sqlx::query_as(
        "SELECT id, kind, channel, unit, person, state FROM notify.deliveries WHERE whistle = $1 ORDER BY created_at",
    )
    .bind(whistle)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn eventually<T>(what: &str, secs: u64, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Dispatch, warning, breach, escalation 1 (duty officer) by email and WeCom; escalation 2 to
/// the head by email and WeCom; escalation 3 to the command centre's duty officer by email.
const EXPECTED_PER_WHISTLE: usize = 4 * 2 + 2 + 1;

#[tokio::test]
async fn an_unacknowledged_whistle_mails_the_duty_officer_then_the_department_head() {
    let run = Run::new().await;
    let (wecom, seen) = wecom_receiver().await;
    let (notify, notify_task) = run.start_notify().await;
    let http = client();
    let admin = Principal::new("admin", Role::Admin);
    let (status, body) =
        put(&http, &format!("{notify}/api/v1/rosters/{DEPARTMENT}"), &admin, &department_roster(&run, &wecom)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["updated_by"], "admin");
    let cc = Principal::new("cc", Role::CommandCentre { district: "500103".into() });
    let (status, body) =
        put(&http, &format!("{notify}/api/v1/rosters/500103-CC"), &cc, &command_centre_roster(&run)).await;
    assert_eq!(status, 200, "a command centre administers its district's rosters: {body}");

    let sla = run.start_sla().await;
    let producer = whistle_common::kafka::producer(&run.kafka, "notify-test").unwrap();
    let whistle = raise_and_dispatch(&producer, &run.kafka.topics.cases).await;

    let pool = run.pool().await;
    let all = eventually("every notification sent", 60, async || {
        let d = deliveries(&pool, whistle).await;
        (d.len() == EXPECTED_PER_WHISTLE && d.iter().all(|d| d.5 == "sent")).then_some(d)
    })
    .await;
    let kinds_to = |person: &str, channel: &str| {
        all.iter()
            .filter(|d| d.4.as_deref() == Some(person) && d.2 == channel)
            .map(|d| d.1.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds_to("duty", "email"), ["dispatched", "sla_warning", "sla_breached", "escalated"]);
    assert_eq!(kinds_to("head", "email"), ["escalated"]);
    assert_eq!(kinds_to("cc", "email"), ["escalated"]);

    let mails = eventually("the mails in the mailbox", 30, async || {
        let m = mailbox(&run);
        (m.len() >= 6).then_some(m)
    })
    .await;
    let by_id: HashMap<&str, &str> = all.iter().map(|d| (d.0.as_str(), d.1.as_str())).collect();
    let mut to_kind: Vec<(String, &str)> = mails
        .iter()
        .map(|m| {
            let id = m.message_id.trim_start_matches('<').split('@').next().unwrap_or_default();
            (m.to.clone(), *by_id.get(id).unwrap_or_else(|| panic!("a mail with an unknown Message-ID: {m:?}")))
        })
        .collect();
    to_kind.sort();
    assert_eq!(mails.len(), 6, "one mail per notification: {to_kind:?}");
    assert!(to_kind.contains(&(run.email("duty"), "escalated")), "level 1 to the duty officer: {to_kind:?}");
    assert!(to_kind.contains(&(run.email("head"), "escalated")), "level 2 to the department head: {to_kind:?}");
    assert!(to_kind.contains(&(run.email("cc"), "escalated")), "level 3 to the command centre: {to_kind:?}");
    let head = mails.iter().find(|m| m.to == run.email("head")).unwrap();
    assert!(head.text.contains(&format!("To: {}", run.email("head"))), "{}", head.text);
    assert!(head.text.contains("charset=utf-8") || head.text.contains("charset=\"utf-8\""), "{}", head.text);

    let wecom_posts = seen.lock().unwrap().clone();
    // The department's group robot hears every notification of the department, each
    // @-mentioning its person: dispatch, warning, breach and level 1 the duty officer, level 2
    // the head.
    let mut mentioned: Vec<String> = wecom_posts
        .iter()
        .map(|post| {
            assert_eq!(post["msgtype"], "text", "{post}");
            let content = post["text"]["content"].as_str().unwrap();
            assert!(content.contains(&whistle.to_string()) && content.contains("【吹哨报到】"), "{content}");
            post["text"]["mentioned_mobile_list"][0].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    mentioned.sort();
    assert_eq!(mentioned, ["13800000001", "13800000001", "13800000001", "13800000001", "13800000002"]);

    let metrics = http.get(format!("{notify}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("whistle_notify_sent_total{channel=\"email\"} 6"), "{metrics}");
    assert!(metrics.contains("whistle_notify_sent_total{channel=\"wecom\"} 5"), "{metrics}");
    notify_task.abort();
    sla.abort();
    run.clean_up().await;
}

#[tokio::test]
async fn killing_the_notifier_mid_run_loses_and_duplicates_no_notification() {
    let run = Run::new().await;
    let (wecom, seen) = wecom_receiver().await;
    let (notify, first) = run.start_notify().await;
    let http = client();
    let admin = Principal::new("admin", Role::Admin);
    assert_eq!(
        put(&http, &format!("{notify}/api/v1/rosters/{DEPARTMENT}"), &admin, &department_roster(&run, &wecom)).await.0,
        200
    );
    assert_eq!(
        put(&http, &format!("{notify}/api/v1/rosters/500103-CC"), &admin, &command_centre_roster(&run)).await.0,
        200
    );
    let sla = run.start_sla().await;
    let producer = whistle_common::kafka::producer(&run.kafka, "notify-test").unwrap();
    let mut whistles = Vec::new();
    for _ in 0..6 {
        whistles.push(raise_and_dispatch(&producer, &run.kafka.topics.cases).await);
    }
    let pool = run.pool().await;
    // Kill it (no graceful shutdown) once some notifications are out and others are not.
    eventually("the first notifications sent", 60, async || {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM notify.deliveries WHERE state = 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap();
        (n >= 24).then_some(())
    })
    .await;
    first.abort();
    let _ = first.await;
    let (sent_before,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM notify.deliveries WHERE state = 'sent'").fetch_one(&pool).await.unwrap();
    // What the dead instance was sending when it died: leased, not recorded. A channel may have
    // taken one of these just before the kill; the next sender sends it again after the lease.
    let in_flight: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, channel FROM notify.deliveries WHERE state = 'pending' AND leased_until IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let in_flight_ids: std::collections::HashSet<String> = in_flight.iter().map(|(id, _)| id.clone()).collect();
    assert!(sent_before < (EXPECTED_PER_WHISTLE * whistles.len()) as i64, "killed mid-run, not after the end");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, second) = run.start_notify().await;

    let expected = EXPECTED_PER_WHISTLE * whistles.len();
    eventually("every notification of every whistle sent", 90, async || {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT state FROM notify.deliveries").fetch_all(&pool).await.unwrap();
        (rows.len() == expected && rows.iter().all(|(s,)| s == "sent")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Nothing lost: every whistle's notifications went to the right people …
    for &w in &whistles {
        let d = deliveries(&pool, w).await;
        assert_eq!(d.len(), EXPECTED_PER_WHISTLE, "{w}: {d:?}");
    }
    // … and nothing twice: one mail per email delivery id, one robot post per notification.
    // … and nothing twice: every email delivery id arrived, and the only repeats are of
    // deliveries the dead instance had in flight (their Message-ID is the same, so a mail client
    // shows one). Replaying the case topic added no delivery (the counts above are exact).
    let mails = mailbox(&run);
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for m in &mails {
        let id = m.message_id.trim_start_matches('<').split('@').next().unwrap_or_default().to_owned();
        *per_id.entry(id).or_default() += 1;
    }
    let emails: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM notify.deliveries WHERE channel = 'email'").fetch_all(&pool).await.unwrap();
    assert_eq!(emails.len(), 6 * whistles.len());
    for (id,) in &emails {
        assert!(per_id.contains_key(id), "email delivery {id} never arrived");
    }
    let repeated: Vec<_> = per_id.iter().filter(|&(_, &n)| n > 1).map(|(id, _)| id.clone()).collect();
    for id in &repeated {
        assert!(in_flight_ids.contains(id), "{id} arrived twice but was not in flight at the kill");
        assert_eq!(per_id[id], 2, "{id}");
    }
    assert_eq!(per_id.len(), emails.len(), "no mail with an unknown Message-ID");
    let posts = seen.lock().unwrap().clone();
    let mut per_content: BTreeMap<String, usize> = BTreeMap::new();
    for p in &posts {
        *per_content.entry(p["text"]["content"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_content.len(), 5 * whistles.len(), "every robot notification arrived");
    let repeated_posts: usize = per_content.values().map(|n| n - 1).sum();
    let wecom_in_flight = in_flight.iter().filter(|(_, c)| c == "wecom").count();
    assert!(
        repeated_posts <= wecom_in_flight,
        "{repeated_posts} robot posts repeated, {wecom_in_flight} were in flight"
    );
    eprintln!(
        "killed with {sent_before} sent and {} in flight; repeated after the restart: {} mails, {repeated_posts} robot posts",
        in_flight.len(),
        repeated.len()
    );
    second.abort();
    let _ = second.await;

    // The worst replay: every event of the topic again (a notifier whose offsets were lost).
    // The delivery ids make it plan only what is already recorded: nothing new is sent.
    let (third, replay) = run.start_notify_in(&format!("test-{}-notify-replay", run.suffix)).await;
    eventually("the replay planned every notification again", 60, async || {
        let metrics = http.get(format!("{third}/metrics")).send().await.ok()?.text().await.ok()?;
        let planned: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("whistle_notify_planned_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (planned >= expected as f64).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM notify.deliveries").fetch_one(&pool).await.unwrap();
    assert_eq!(rows as usize, expected, "the replay recorded no delivery twice");
    assert_eq!(mailbox(&run).len(), mails.len(), "the replay sent no mail again");
    assert_eq!(seen.lock().unwrap().len(), posts.len(), "the replay sent no robot post again");
    replay.abort();
    sla.abort();
    run.clean_up().await;
}

#[tokio::test]
async fn rosters_are_administered_by_admins_and_their_districts_command_centre_only() {
    let run = Run::new().await;
    let (notify, task) = run.start_notify().await;
    let http = client();
    let roster = department_roster(&run, "http://127.0.0.1:9/robot");
    let url = format!("{notify}/api/v1/rosters/{DEPARTMENT}");
    let other_cc = Principal::new("cc2", Role::CommandCentre { district: "500104".into() });
    let dept = Principal::new("dept", Role::Department { department: DEPARTMENT.into(), district: "500103".into() });
    assert_eq!(put(&http, &url, &other_cc, &roster).await.0, 403, "another district's command centre");
    assert_eq!(put(&http, &url, &dept, &roster).await.0, 403, "a department does not edit its own roster");
    let mut broken = roster.clone();
    broken["shifts"][0]["person"] = json!("nobody");
    let (status, body) = put(&http, &url, &Principal::new("admin", Role::Admin), &broken).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("shifts[0].person"), "{body}");
    let admin = Principal::new("admin", Role::Admin);
    assert_eq!(put(&http, &url, &admin, &roster).await.0, 200);
    let r = http.get(format!("{url}/on-duty?at=2026-12-02T03:00:00Z")).bearer_auth(token(&admin)).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["duty_officer"]["id"], "duty", "{body}");
    assert_eq!(body["roles"]["department_head"]["id"], "head", "{body}");
    let r = http.get(format!("{notify}/api/v1/notify/dead-letters")).bearer_auth(token(&dept)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http.get(format!("{notify}/api/v1/notify/dead-letters")).bearer_auth(token(&admin)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    task.abort();
    run.clean_up().await;
}
