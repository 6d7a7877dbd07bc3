//! Test support: start Whistle's services in-process against the real Kafka and Redis, each test
//! with its own topics, consumer groups and Redis key prefix, so tests run in parallel.
//!
//! Kafka and Redis come from `WHISTLE_TEST_KAFKA` / `WHISTLE_TEST_REDIS`, which `cargo xtask test`
//! sets after starting them, and PostgreSQL from `WHISTLE_TEST_POSTGRES` (a URL): a test that
//! needs the account store gets a database of its own ([`Isolation::create_database`]), dropped
//! when it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use whistle_auth::{Principal, Role, TokenKeys};
use whistle_common::settings::{AuthSettings, DatabaseSettings, HttpSettings, KafkaSettings, RedisSettings, Topics};

pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// A recovered item, held by the Ecology and Environment Bureau city-wide.
pub const DEPT_ITEM: &str = "CQ-ENV-001";
/// An item empowered to towns.
pub const TOWN_ITEM: &str = "CQ-FIRE-001";
/// 解放碑街道, Yuzhong District.
pub const TOWN: &str = "500103001";
pub const DEPARTMENT: &str = "500103-EE";

/// The signing key every in-process service of the tests shares.
pub const TEST_JWT_SECRET: &str = "whistle-tests-only-signing-key-0123456789";
/// The demo accounts' password in tests.
pub const DEMO_PASSWORD: &str = "whistle-demo";

/// Tests send bursts from one address and one account; the limits have their own tests
/// (`rate_limit.rs` and `whistle_common::ratelimit`).
pub fn no_rate_limit() -> whistle_common::ratelimit::RateLimitSettings {
    whistle_common::ratelimit::RateLimitSettings { enabled: false, ..Default::default() }
}

pub fn auth_settings() -> AuthSettings {
    AuthSettings {
        jwt_secret: SecretString::from(TEST_JWT_SECRET),
        environment: whistle_common::settings::Environment::Development,
        demo: true,
        demo_password: Some(SecretString::from(DEMO_PASSWORD)),
        ..Default::default()
    }
}

/// Signs tokens as the services expect them.
pub fn keys() -> TokenKeys {
    TokenKeys::from_settings(&auth_settings())
}

/// A valid token for `principal`.
pub fn token(principal: &Principal) -> String {
    keys().issue(principal).0
}

pub fn as_town(town: &str) -> Principal {
    Principal::new(format!("town-{town}"), Role::Town { town: town.into(), district: town[..6].into() })
}

/// A department officer, or the command centre's duty officer for `<district>-CC`.
pub fn as_department(code: &str) -> Principal {
    let district = code[..6].to_owned();
    if code.ends_with("-CC") {
        Principal::new(format!("dept-{code}"), Role::CommandCentre { district })
    } else {
        Principal::new(format!("dept-{code}"), Role::Department { department: code.into(), district })
    }
}

pub fn as_manager() -> Principal {
    Principal::new("manager", Role::Manager { district: None })
}

pub fn as_admin() -> Principal {
    Principal::new("admin", Role::Admin)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `cargo xtask test`, which starts Kafka and Redis")
    })
}

/// The test suite's Kafka login, when the broker takes logins only (the dev broker does:
/// `cargo xtask test` sets `WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL`, `_SASL_USERNAME` and
/// `_SASL_PASSWORD` from `deploy/dev/kafka.sh password whistle-test`).
pub fn test_kafka_login(mut kafka: KafkaSettings) -> KafkaSettings {
    if let Ok(protocol) = std::env::var("WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL") {
        kafka.security_protocol = protocol;
        kafka.sasl_username = Some(env("WHISTLE_TEST_KAFKA_SASL_USERNAME"));
        kafka.sasl_password = Some(SecretString::from(env("WHISTLE_TEST_KAFKA_SASL_PASSWORD")));
    }
    kafka
}

pub fn registry_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/data/registry.json")
}

/// Names unique to one test.
#[derive(Debug, Clone)]
pub struct Isolation {
    pub kafka: KafkaSettings,
    pub redis: RedisSettings,
    pub suffix: String,
    /// The URL of this test's own PostgreSQL database, once created.
    pub database: Option<String>,
}

impl Isolation {
    pub fn new() -> Isolation {
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
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
        let kafka = test_kafka_login(kafka);
        let redis = RedisSettings {
            url: SecretString::from(env("WHISTLE_TEST_REDIS")),
            key_prefix: format!("test:{suffix}:"),
            ..RedisSettings::default()
        };
        Isolation { kafka, redis, suffix, database: None }
    }

    fn database_name(&self) -> String {
        format!("test_{}", self.suffix)
    }

    /// The directory this test's intake keeps attachments in (when it has a database):
    /// `whistle-test-<suffix>-attachments` in the system's temporary directory, removed by
    /// [`Isolation::clean_up`].
    pub fn attachments_dir(&self) -> PathBuf {
        std::env::temp_dir().join(format!("whistle-test-{}-attachments", self.suffix))
    }

    /// Creates this test's own database on `WHISTLE_TEST_POSTGRES` (intake migrates it when it
    /// starts); [`Isolation::clean_up`] drops it.
    pub async fn create_database(&mut self) -> String {
        use sqlx::Connection as _;
        let admin = env("WHISTLE_TEST_POSTGRES");
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connects to WHISTLE_TEST_POSTGRES");
        sqlx::query(&format!("CREATE DATABASE \"{}\"", self.database_name()))
            .execute(&mut conn)
            .await
            .expect("creates the test's database");
        let _ = conn.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a postgres:// URL with a database");
        let url = format!("{base}/{}", self.database_name());
        self.database = Some(url.clone());
        url
    }
}

impl Isolation {
    /// Creates another database of this test's (`test_<suffix>_<name>`) and returns its URL,
    /// for a service whose migrations keep their own history (the ledger).
    pub async fn create_named_database(&self, name: &str) -> String {
        use sqlx::Connection as _;
        let admin = env("WHISTLE_TEST_POSTGRES");
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connects to WHISTLE_TEST_POSTGRES");
        let db = format!("{}_{name}", self.database_name());
        sqlx::query(&format!("CREATE DATABASE \"{db}\"")).execute(&mut conn).await.expect("creates the database");
        let _ = conn.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a postgres:// URL with a database");
        format!("{base}/{db}")
    }

    /// Drops a database made by [`Isolation::create_named_database`].
    pub async fn drop_named_database(&self, name: &str) {
        if let Ok(admin) = std::env::var("WHISTLE_TEST_POSTGRES")
            && let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
        {
            let drop = format!("DROP DATABASE IF EXISTS \"{}_{name}\" WITH (FORCE)", self.database_name());
            let _ = sqlx::query(&drop).execute(&mut conn).await;
        }
    }
}

/// The ledger's settings on this test's topics and Redis prefix, with `database`.
pub fn ledger_settings(iso: &Isolation, database: String) -> whistle_ledger::Settings {
    whistle_ledger::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        database: DatabaseSettings { url: Some(SecretString::from(database)), ..DatabaseSettings::default() },
        registry_path: Some(registry_path()),
        group_id: format!("ledger-{}", iso.suffix),
        auth: auth_settings(),
        rate_limit: no_rate_limit(),
        ..whistle_ledger::Settings::default()
    }
}

/// A ledger service running in this process, with a database of its own (`<test>_ledger`).
pub struct LedgerService {
    pub url: String,
    pub store: whistle_ledger::store::LedgerStore,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl LedgerService {
    pub async fn start(iso: &Isolation) -> LedgerService {
        let database = iso.create_named_database("ledger").await;
        let app = whistle_ledger::Application::build(ledger_settings(iso, database)).await.expect("the ledger starts");
        let url = format!("http://127.0.0.1:{}", app.port());
        let store = app.store();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(stopper(&stop)));
        LedgerService { url, store, stop, task }
    }

    /// Stops it and drops its database.
    pub async fn stop(self, iso: &Isolation) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        self.store.pool().close().await;
        iso.drop_named_database("ledger").await;
    }
}

impl Default for Isolation {
    fn default() -> Self {
        Self::new()
    }
}

/// The three services, running in this process on free ports.
pub struct Stack {
    pub iso: Isolation,
    pub api: String,
    pub ws: String,
    pub http: reqwest::Client,
    /// The SLA service's summary endpoint.
    pub sla: String,
    /// The router's admin endpoints (`/metrics`, `/readyz`).
    pub router_admin: String,
    /// The registry service (`/api/v1/registry/...`, `/api/v1/districts`).
    pub registry: String,
    /// The notifier (`/api/v1/rosters...`, `/api/v1/notify/...`), when the stack has a database.
    pub notify: Option<String>,
    pub notify_stop: CancellationToken,
    pub registry_stop: CancellationToken,
    pub intake_stop: CancellationToken,
    pub router_stop: CancellationToken,
    pub gateway_stop: CancellationToken,
    pub sla_task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The default SLA policy (minutes: nothing fires during an ordinary test).
pub fn default_sla_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/data/sla.json")
}

/// A policy with second-long deadlines, for the SLA tests.
pub fn fast_sla_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/sla-fast.json")
}

pub fn sla_settings(iso: &Isolation, policy: PathBuf) -> whistle_sla::Settings {
    whistle_sla::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        registry_path: registry_path(),
        policy_path: policy,
        group_id: format!("test-{}-sla", iso.suffix),
        gauge_seconds: 1,
        auth: auth_settings(),
        rate_limit: no_rate_limit(),
        ..Default::default()
    }
}

/// Starts an SLA service; abort the handle to kill it without a graceful shutdown.
pub async fn start_sla(iso: &Isolation, policy: PathBuf) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let app = whistle_sla::Application::build(sla_settings(iso, policy)).await.expect("sla starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    (url, tokio::spawn(app.run_until_stopped(std::future::pending())))
}

fn stopper(token: &CancellationToken) -> impl std::future::Future<Output = ()> + Send + 'static {
    let token = token.clone();
    async move { token.cancelled().await }
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Isolation::new()).await
    }

    /// A stack whose intake has an account store: a database of the test's own.
    pub async fn start_with_database() -> Stack {
        let mut iso = Isolation::new();
        iso.create_database().await;
        Stack::start_with(iso).await
    }

    pub async fn start_with(iso: Isolation) -> Stack {
        Stack::start_with_policy(iso, default_sla_policy()).await
    }

    pub async fn start_with_policy(iso: Isolation, sla_policy: PathBuf) -> Stack {
        let gateway = whistle_gateway::Application::build(gateway_settings(&iso)).await.expect("gateway starts");
        let registry =
            whistle_registry::service::Application::build(registry_settings(&iso)).await.expect("registry starts");
        let router = whistle_router::Application::build(router_settings(&iso)).await.expect("router starts");
        let intake = whistle_intake::Application::build(intake_settings(&iso)).await.expect("intake starts");
        let mut tasks = Vec::new();
        let (sla, sla_task) = start_sla(&iso, sla_policy).await;
        let notify_stop = CancellationToken::new();
        let notify = match iso.database {
            Some(_) => {
                let app = whistle_notify::Application::build(notify_settings(&iso)).await.expect("notify starts");
                let url = format!("http://127.0.0.1:{}", app.port());
                tasks.push(tokio::spawn(app.run_until_stopped(stopper(&notify_stop))));
                Some(url)
            }
            None => None,
        };
        let api = format!("http://127.0.0.1:{}", intake.port());
        let router_admin = format!("http://127.0.0.1:{}", router.port());
        let registry_url = format!("http://127.0.0.1:{}", registry.port());
        let registry_stop = CancellationToken::new();
        let ws = format!("ws://127.0.0.1:{}/ws", gateway.port());
        let (intake_stop, router_stop, gateway_stop) =
            (CancellationToken::new(), CancellationToken::new(), CancellationToken::new());
        tasks.extend([
            tokio::spawn(gateway.run_until_stopped(stopper(&gateway_stop))),
            tokio::spawn(router.run_until_stopped(stopper(&router_stop))),
            tokio::spawn(intake.run_until_stopped(stopper(&intake_stop))),
            tokio::spawn(registry.run_until_stopped(stopper(&registry_stop))),
        ]);
        Stack {
            iso,
            api,
            ws,
            sla,
            router_admin,
            registry: registry_url,
            registry_stop,
            notify,
            notify_stop,
            // No request of a test may wait forever: a hung answer fails the test, not the run.
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client"),
            intake_stop,
            router_stop,
            gateway_stop,
            sla_task,
            tasks,
        }
    }

    /// `POST /api/v1/registry/import` of a CSV, as the registry administrator; status and body.
    pub async fn import_csv(&self, csv: String) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/api/v1/registry/import", self.registry))
            .bearer_auth(token(&as_admin()))
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("sent");
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// Writes a case event straight onto the case topic, as another producer would.
    pub async fn produce(&self, event: &whistle_schemas::events::CaseEvent) {
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let producer: FutureProducer =
            whistle_common::kafka::client_config(&self.iso.kafka).create().expect("producer");
        let payload = serde_json::to_vec(event).expect("json");
        let key = event.subject.to_string();
        let record = FutureRecord::to(&self.iso.kafka.topics.cases).key(&key).payload(&payload);
        producer.send(record, Duration::from_secs(10)).await.expect("sent");
    }

    /// `POST /api/v1/whistles` with a valid body for `item`; returns status and body.
    pub async fn raise(&self, item: &str, description: &str) -> (u16, Value) {
        self.post("/api/v1/whistles", &raise_body(TOWN, item, description)).await
    }

    /// `POST` to intake as the account the request is for: the body's town for a raise, the
    /// owning department for an action on a whistle, a city manager otherwise. The
    /// authorization tests use [`Stack::post_as`] to pick accounts themselves.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let who = self.account_for(path, body).await;
        self.post_as(&who, path, body).await
    }

    /// `GET` from intake as a city manager (who may read every whistle).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(&as_manager(), path).await
    }

    pub async fn post_as(&self, who: &Principal, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(token(who))
            .json(body)
            .send()
            .await
            .expect("request is sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_as(&self, who: &Principal, path: &str) -> (u16, Value) {
        let resp =
            self.http.get(format!("{}{path}", self.api)).bearer_auth(token(who)).send().await.expect("request is sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn account_for(&self, path: &str, body: &Value) -> Principal {
        if path == "/api/v1/whistles" {
            return body["town"].as_str().filter(|t| t.len() >= 6).map_or_else(as_manager, as_town);
        }
        if let Some((id, _action)) = path.strip_prefix("/api/v1/whistles/").and_then(|rest| rest.split_once('/')) {
            let (_, view) = self.get(&format!("/api/v1/whistles/{id}")).await;
            if let Some(owner) = view["department"]["code"].as_str() {
                return as_department(owner);
            }
        }
        as_manager()
    }

    /// Polls a whistle until `pred` holds on it.
    pub async fn wait_for(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        loop {
            let (status, body) = self.get(&format!("/api/v1/whistles/{id}")).await;
            if status == 200 && pred(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "whistle {id} never reached the expected state; last: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A board connection authenticated as a city manager, who may watch every channel.
    pub async fn board(&self) -> Board {
        Board::connect_as(&self.ws, &as_manager()).await
    }

    pub async fn stop(self) {
        self.sla_task.abort();
        self.intake_stop.cancel();
        self.router_stop.cancel();
        self.gateway_stop.cancel();
        self.registry_stop.cancel();
        self.notify_stop.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.iso.clean_up().await;
    }
}

impl Isolation {
    /// Deletes this test's topics and Redis keys, so repeated runs on one machine do not pile
    /// up data (a failed test skips this and leaves its data for inspection).
    pub async fn clean_up(&self) {
        use rdkafka::admin::{AdminClient, AdminOptions};
        let _ = std::fs::remove_dir_all(self.attachments_dir());
        if self.database.is_some()
            && let Ok(admin) = std::env::var("WHISTLE_TEST_POSTGRES")
            && let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
        {
            let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database_name());
            let _ = sqlx::query(&drop).execute(&mut conn).await;
        }
        if let Ok(admin) = whistle_common::kafka::client_config(&self.kafka)
            .create::<AdminClient<rdkafka::client::DefaultClientContext>>()
        {
            let t = &self.kafka.topics;
            let _ = admin.delete_topics(&[&t.cases, &t.deadletter, &t.registry], &AdminOptions::new()).await;
        }
        if let Ok(mut conn) = whistle_common::redis_conn::managed(&self.redis).await {
            let mut cursor: u64 = 0;
            loop {
                let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", self.redis.key_prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                else {
                    break;
                };
                if !keys.is_empty() {
                    let _: redis::RedisResult<i64> = redis::cmd("UNLINK").arg(&keys).query_async(&mut conn).await;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
    }
}

pub fn gateway_settings(iso: &Isolation) -> whistle_gateway::Settings {
    let websocket = whistle_gateway::settings::WebSocketSettings::default();
    whistle_gateway::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        group_id: format!("test-{}-projector", iso.suffix),
        registry_path: registry_path(),
        auth: auth_settings(),
        // Every board of a test connects from this one address; the per-address cap has its
        // own test (`ws_limits.rs`).
        websocket: whistle_gateway::settings::WebSocketSettings {
            max_connections_per_address: websocket.max_connections,
            ..websocket
        },
        ..Default::default()
    }
}

/// The notifier on the test's database, with no sample rosters (mail goes to the dev SMTP
/// server when `WHISTLE_TEST_SMTP` is set; nothing is addressed without rosters anyway).
pub fn notify_settings(iso: &Isolation) -> whistle_notify::Settings {
    whistle_notify::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        database: DatabaseSettings { url: iso.database.clone().map(SecretString::from), ..Default::default() },
        group_id: format!("test-{}-notify", iso.suffix),
        rosters_path: None,
        smtp: whistle_notify::settings::SmtpSettings {
            url: std::env::var("WHISTLE_TEST_SMTP").unwrap_or_else(|_| "smtp://127.0.0.1:12525".into()),
            ..Default::default()
        },
        // Webhook receivers of the tests listen on loopback; retries come quickly.
        webhooks: whistle_notify::settings::WebhookSettings {
            allow_private_targets: true,
            backoff_base_ms: 100,
            backoff_cap_seconds: 1,
            lease_seconds: 15,
            poll_ms: 100,
            ..Default::default()
        },
        auth: auth_settings(),
        rate_limit: no_rate_limit(),
        ..Default::default()
    }
}

pub fn router_settings(iso: &Isolation) -> whistle_router::Settings {
    whistle_router::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        registry_path: registry_path(),
        group_id: format!("test-{}-router", iso.suffix),
        ..Default::default()
    }
}

pub fn registry_settings(iso: &Isolation) -> whistle_registry::service::Settings {
    whistle_registry::service::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        registry_path: registry_path(),
        auth: auth_settings(),
        rate_limit: no_rate_limit(),
        ..Default::default()
    }
}

pub fn intake_settings(iso: &Isolation) -> whistle_intake::Settings {
    whistle_intake::Settings {
        http: HttpSettings::new(0),
        kafka: iso.kafka.clone(),
        redis: iso.redis.clone(),
        registry_path: registry_path(),
        auth: auth_settings(),
        rate_limit: no_rate_limit(),
        database: DatabaseSettings { url: iso.database.clone().map(SecretString::from), ..Default::default() },
        // A stack with a database keeps evidence attachments in a directory of the test's own.
        attachments: whistle_attachments::AttachmentSettings {
            store: iso.database.as_ref().map(|_| format!("file://{}", iso.attachments_dir().display())),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn raise_body(town: &str, item: &str, description: &str) -> Value {
    json!({
        "town": town,
        "item": item,
        "description": description,
        "location": {"lat": 29.5570, "lon": 106.5770, "address": "重庆市渝中区解放碑步行街"}
    })
}

/// A WebSocket client of the gateway.
pub struct Board {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Board {
    /// Connects without authenticating.
    pub async fn connect(url: &str) -> Board {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        Board { socket }
    }

    /// Wraps a socket connected by the caller (e.g. with its own upgrade headers).
    pub fn from_socket(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Board {
        Board { socket }
    }

    /// Connects and authenticates with a first `auth` frame, as a browser does.
    pub async fn connect_as(url: &str, who: &Principal) -> Board {
        Board::connect_with_token(url, &token(who)).await
    }

    /// Connects and authenticates with a token got elsewhere (e.g. a login).
    pub async fn connect_with_token(url: &str, token: &str) -> Board {
        let mut board = Board::connect(url).await;
        board.send(json!({"type": "auth", "token": token})).await;
        let reply = board.next().await;
        assert_eq!(reply["type"], "authenticated", "{reply}");
        board
    }

    pub async fn send(&mut self, msg: Value) {
        self.socket.send(Message::Text(msg.to_string().into())).await.expect("frame is sent");
    }

    pub async fn subscribe(&mut self, channel: &str, cursor: Option<&str>) {
        let mut msg = json!({"type": "subscribe", "channel": channel});
        if let Some(cursor) = cursor {
            msg["cursor"] = json!(cursor);
        }
        self.send(msg).await;
    }

    /// The next JSON frame, or None when the server closed or nothing came in time.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.socket.next()).await.ok()??.ok()?;
            match msg {
                Message::Text(text) => return Some(serde_json::from_str(&text).expect("server frames are JSON")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(RECEIVE_TIMEOUT).await.expect("a frame arrives in time")
    }

    /// Frames until one satisfies `pred` (returned); earlier frames are returned too.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> (Vec<Value>, Value) {
        let mut seen = Vec::new();
        loop {
            let frame = self.next().await;
            if pred(&frame) {
                return (seen, frame);
            }
            seen.push(frame);
        }
    }

    /// Drops the TCP connection without a closing handshake, as a network cut would.
    pub fn cut(self) {
        drop(self.socket);
    }
}

/// An `event` frame's CloudEvents type and subject (whistle id).
pub fn event_of(frame: &Value) -> Option<(&str, &str)> {
    if frame["type"] != "event" {
        return None;
    }
    Some((frame["event"]["type"].as_str()?, frame["event"]["subject"].as_str()?))
}

/// Which records a log reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLevel {
    /// `isolation.level=read_committed`: what every Whistle consumer sees.
    Committed,
    /// `isolation.level=read_uncommitted`: also records of open and aborted transactions.
    Uncommitted,
}

/// Every case event on `topic`, from the beginning to its end as of the read (for
/// [`ReadLevel::Committed`] the last stable offset), read by a fresh consumer outside any group
/// commit. Payloads that are not case events are skipped. Blocking: call from a blocking thread.
pub fn read_case_log(
    kafka: &KafkaSettings,
    topic: &str,
    level: ReadLevel,
) -> anyhow::Result<Vec<whistle_schemas::events::CaseEvent>> {
    use anyhow::Context as _;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::{Offset, TopicPartitionList};
    use whistle_schemas::events::{Decoded, decode};

    let consumer: BaseConsumer = whistle_common::kafka::client_config(kafka)
        .set("group.id", format!("log-reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set(
            "isolation.level",
            match level {
                ReadLevel::Committed => "read_committed",
                ReadLevel::Uncommitted => "read_uncommitted",
            },
        )
        .create()
        .context("creating the log reader")?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).context("topic metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(topic, *p, Offset::Beginning).context("assignment")?;
    }
    consumer.assign(&tpl).context("assigning the topic")?;
    let mut at_end = std::collections::HashSet::new();
    let mut events = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while at_end.len() < partitions.len() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "reading {topic} did not reach its end in 60 s");
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(err)) => return Err(err).context("reading the case log"),
            Some(Ok(msg)) => {
                at_end.remove(&msg.partition());
                if let Ok(Decoded::Event(event)) = decode(msg.payload().unwrap_or_default()) {
                    events.push(*event);
                }
            }
        }
    }
    Ok(events)
}

/// How many `whistle.dispatched` records each whistle has in `events`.
pub fn dispatches_per_whistle(events: &[whistle_schemas::events::CaseEvent]) -> HashMap<uuid::Uuid, usize> {
    let mut counts = HashMap::new();
    for event in events.iter().filter(|e| e.type_name() == "whistle.dispatched") {
        *counts.entry(event.subject).or_default() += 1;
    }
    counts
}
