//! Fault injection. The services run as real processes (the built `whistle-intake`,
//! `whistle-router`, `whistle-gateway` and `whistle-sla` binaries) against the suite's OWN Kafka
//! broker and Redis (started by `deploy/dev/kafka.sh` / `redis.sh` on free ports in a private run
//! directory, so the shared ones are never disturbed). While a load of whistles flows, each
//! service is killed with SIGKILL at random moments and restarted, the broker is killed with
//! SIGKILL and started again, and Redis is restarted. Then every whistle that got a `202` must be
//! dispatched exactly once, be on its department's board exactly once, and have a complete
//! timeline.
//!
//! `#[ignore]`d: `cargo xtask test` runs it as its own step after `cargo build --bins`. By hand:
//! `cargo build --bins && cargo test -p whistle-tests --test fault -- --ignored --nocapture`.
//! Knobs (see `docs/faults.md`): `WHISTLE_FAULT_SECONDS` (load duration, default 60),
//! `WHISTLE_FAULT_RATE` (whistles per second, default 8), `WHISTLE_FAULT_SEED` (fault schedule),
//! `WHISTLE_FAULT_KEEP=1` (keep the run directory with every log).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_tests::{DEPT_ITEM, ReadLevel, raise_body, read_case_log};

/// The secret services will verify bearer tokens with once authentication lands (they ignore the
/// variable until then); tests mint tokens from it in [`authed`] and [`authed_ws`].
const JWT_SECRET: &str = "fault-suite-secret-not-for-production";
/// Towns in four districts; the item is held by each district's Ecology and Environment bureau.
const TOWNS: [&str; 4] = ["500103001", "500101001", "500106001", "500112001"];
const SERVICES: [&str; 4] = ["intake", "router", "gateway", "sla"];
/// How long a client keeps retrying one request before it gives up.
const GIVE_UP: Duration = Duration::from_secs(90);
/// One HTTP attempt.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After the load: how long the system may take to settle.
const SETTLE: Duration = Duration::from_secs(120);

// ------------------------------------------------------------------------------------ knobs

struct Knobs {
    seconds: u64,
    rate: f64,
    seed: u64,
    keep: bool,
}

fn knobs() -> Knobs {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let parse = |name: &str, default: f64| {
        var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
    };
    Knobs {
        seconds: parse("WHISTLE_FAULT_SECONDS", 60.0) as u64,
        rate: parse("WHISTLE_FAULT_RATE", 8.0),
        seed: var("WHISTLE_FAULT_SEED").map_or_else(rand::random, |v| v.parse().expect("WHISTLE_FAULT_SEED is a u64")),
        keep: var("WHISTLE_FAULT_KEEP").is_some_and(|v| v == "1"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The directory with the service binaries: next to this test executable's `deps/`.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("WHISTLE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..").to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("[fault {:>7.1}s] {msg}", START.get_or_init(Instant::now).elapsed().as_secs_f64());
}
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

// ------------------------------------------------------------------------------------ auth

/// Who a request acts as.
#[derive(Debug, Clone)]
enum Role {
    Town(String),
    Department(String),
}

/// A token for `role`, signed with the suite's [`JWT_SECRET`], which its services share.
fn token_for(role: &Role) -> String {
    let principal = match role {
        Role::Town(town) => whistle_tests::as_town(town),
        Role::Department(code) => whistle_tests::as_department(code),
    };
    whistle_auth::TokenKeys::new(JWT_SECRET.as_bytes(), chrono::Duration::hours(8)).issue(&principal).0
}

/// Every HTTP request of the suite goes through here: it acts as `role`.
fn authed(req: reqwest::RequestBuilder, role: &Role) -> reqwest::RequestBuilder {
    req.bearer_auth(token_for(role))
}

/// The WebSocket upgrade request for `role`, with its token in the `Authorization` header.
fn authed_ws(url: &str, role: &Role) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().expect("a WebSocket URL");
    let value = format!("Bearer {}", token_for(role)).parse().expect("a header value");
    request.headers_mut().insert("authorization", value);
    request
}

// ------------------------------------------------------------------------------------ infra

/// How the suite's Redis runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedisMode {
    /// One server (`deploy/dev/redis.sh`).
    Single,
    /// A primary, a replica and three Sentinels (`deploy/dev/sentinel.sh`); the services find the
    /// primary through the Sentinels.
    Sentinel,
}

/// The start of every Redis key the suite's services write.
const FAULT_KEY_PREFIX: &str = "fault:";

/// The suite's own Kafka and Redis, run by the dev scripts in a private `WHISTLE_RUN`.
struct Infra {
    run: PathBuf,
    kafka_port: u16,
    controller_port: u16,
    /// The one Redis, or Sentinel node `a` (the first primary).
    redis_port: u16,
    /// Sentinel mode: node `b` (the first replica) and the three Sentinels.
    replica_port: u16,
    sentinel_ports: [u16; 3],
    mode: RedisMode,
    /// The broker takes SASL/SCRAM logins only (`WHISTLE_KAFKA_SASL=1`).
    sasl: bool,
    keep: bool,
}

impl Infra {
    async fn start(keep: bool, mode: RedisMode) -> Infra {
        Infra::start_with(keep, mode, false).await
    }

    async fn start_with(keep: bool, mode: RedisMode, sasl: bool) -> Infra {
        let run = std::env::temp_dir().join(format!("whistle-fault-{}", &Uuid::new_v4().simple().to_string()[..8]));
        std::fs::create_dir_all(&run).expect("run dir");
        let infra = Infra {
            run,
            kafka_port: free_port(),
            controller_port: free_port(),
            redis_port: free_port(),
            replica_port: free_port(),
            sentinel_ports: [free_port(), free_port(), free_port()],
            mode,
            sasl,
            keep,
        };
        log(format_args!(
            "own infra in {}: kafka :{}, redis :{} ({mode:?})",
            infra.run.display(),
            infra.kafka_port,
            infra.redis_port
        ));
        infra.script("kafka.sh", "start").await.expect("the suite's Kafka starts");
        match mode {
            RedisMode::Single => infra.script("redis.sh", "start").await.expect("the suite's Redis starts"),
            RedisMode::Sentinel => infra.script("sentinel.sh", "start").await.expect("the suite's Sentinels start"),
        }
        infra
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// How the suite's own clients reach its broker (as `whistle-test` when it takes logins).
    fn kafka(&self) -> whistle_common::settings::KafkaSettings {
        let mut kafka = whistle_common::settings::KafkaSettings { brokers: self.brokers(), ..Default::default() };
        if self.sasl {
            kafka.security_protocol = "sasl_plaintext".into();
            kafka.sasl_username = Some("whistle-test".into());
            kafka.sasl_password = Some(self.kafka_password("whistle-test").into());
        }
        kafka
    }

    /// A user's password on the SASL broker, from the file `kafka.sh` generated.
    fn kafka_password(&self, user: &str) -> String {
        self.password_in("kafka/users", user)
    }

    /// USER's password in a "user password" file the dev scripts generated under the run dir.
    fn password_in(&self, file: &str, user: &str) -> String {
        let users = std::fs::read_to_string(self.run.join(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        users
            .lines()
            .find_map(|l| l.split_once(' ').filter(|(u, _)| *u == user).map(|(_, p)| p.to_owned()))
            .unwrap_or_else(|| panic!("no password for {user} in {file}"))
    }

    /// The Kafka login settings of service `name` (none when the broker is open).
    fn kafka_env(&self, name: &str) -> Vec<(String, String)> {
        if !self.sasl {
            return Vec::new();
        }
        let user = format!("whistle-{name}");
        vec![
            ("WHISTLE_KAFKA__SECURITY_PROTOCOL".into(), "sasl_plaintext".into()),
            ("WHISTLE_KAFKA__SASL_PASSWORD".into(), self.kafka_password(&user)),
            ("WHISTLE_KAFKA__SASL_USERNAME".into(), user),
        ]
    }

    /// The Redis settings of service `name` (every service but the router). Redis, and each
    /// Sentinel node, takes logins only: each service as its own ACL user, with the password the
    /// scripts generated (`redis.sh`, `sentinel.sh`); with Sentinels the URL lends only them.
    fn redis_env(&self, name: &str) -> Vec<(String, String)> {
        let user = format!("whistle-{name}");
        let url = format!("redis://{user}:{}@127.0.0.1:{}", self.redis_password(&user), self.redis_port);
        let mut env = vec![("WHISTLE_REDIS__URL".to_owned(), url)];
        if self.mode == RedisMode::Sentinel {
            let sentinels = self.sentinel_ports.map(|p| format!("127.0.0.1:{p}")).join(",");
            env.push(("WHISTLE_REDIS__SENTINELS".to_owned(), sentinels));
            env.push(("WHISTLE_REDIS__SENTINEL_PASSWORD".to_owned(), self.redis_password("sentinels")));
        }
        env
    }

    /// A password the dev scripts generated into `redis/users`: an ACL user's, or the Sentinels'
    /// own (`sentinels`).
    fn redis_password(&self, user: &str) -> String {
        self.password_in("redis/users", user)
    }

    async fn script(&self, name: &str, arg: &str) -> anyhow::Result<()> {
        self.script_args(name, &[arg]).await
    }

    async fn script_args(&self, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let arg = args.join(" ");
        let out = Command::new("bash")
            .arg(root().join("deploy/dev").join(name))
            .args(args)
            .env("WHISTLE_RUN", &self.run)
            .env("WHISTLE_KAFKA_PORT", self.kafka_port.to_string())
            .env("WHISTLE_KAFKA_CONTROLLER_PORT", self.controller_port.to_string())
            .env("WHISTLE_REDIS_PORT", self.redis_port.to_string())
            .env("WHISTLE_REDIS_REPLICA_PORT", self.replica_port.to_string())
            .env("WHISTLE_SENTINEL_PORTS", self.sentinel_ports.map(|p| p.to_string()).join(","))
            .env("WHISTLE_KAFKA_SASL", if self.sasl { "1" } else { "0" })
            // The services' Redis users may touch the suite's keys (`fault:<run>:...`) only.
            .env("WHISTLE_REDIS__KEY_PREFIX", FAULT_KEY_PREFIX)
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "{name} {arg}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// SIGKILL to the process the dev script recorded for `name`.
    fn kill(&self, name: &str) {
        let pidfile = self.run.join("pids").join(format!("{name}.pid"));
        if let Some(pid) =
            std::fs::read_to_string(&pidfile).ok().and_then(|s| s.split_whitespace().next().map(str::to_owned))
        {
            let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
        }
    }

    /// The broker: SIGKILL, then started again (its data survives, as after a crash).
    async fn restart_kafka(&self) -> anyhow::Result<()> {
        self.kill("kafka");
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.script("kafka.sh", "start").await
    }

    /// Redis: stopped (it flushes its append-only file), down for `down_for`, started again.
    async fn restart_redis(&self, down_for: Duration) -> anyhow::Result<()> {
        self.script("redis.sh", "stop").await?;
        tokio::time::sleep(down_for).await;
        self.script("redis.sh", "start").await
    }
}

impl Drop for Infra {
    fn drop(&mut self) {
        for name in ["kafka", "redis", "redis-a", "redis-b", "sentinel-0", "sentinel-1", "sentinel-2"] {
            self.kill(name);
        }
        if std::thread::panicking() {
            // CI keeps a failed run's output, not its machine: what the logs say goes there.
            eprint!("{}", log_excerpts(&self.run.join("logs")));
        }
        if self.keep || std::thread::panicking() {
            eprintln!("fault suite: logs and data kept in {}", self.run.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.run);
        }
    }
}

/// Lines of each log printed when a scenario fails: its warnings and errors, and its last lines.
const EXCERPT_WARNINGS: usize = 40;
const EXCERPT_TAIL: usize = 15;

/// For a failed scenario: each log's warnings and errors (the first and the last of them, if
/// there are many) and its last lines, without colour codes, as written (each line starts with
/// its time).
fn log_excerpts(logs: &Path) -> String {
    use std::fmt::Write as _;
    let Ok(entries) = std::fs::read_dir(logs) else { return String::new() };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "log")).collect();
    files.sort();
    let mut out = String::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let lines: Vec<String> = text.lines().map(without_colour).collect();
        let flagged: Vec<&String> =
            lines.iter().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked")).collect();
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let _ = writeln!(out, "---- {name}: {} lines, {} warnings or errors", lines.len(), flagged.len());
        let half = EXCERPT_WARNINGS / 2;
        for (i, line) in flagged.iter().enumerate() {
            if flagged.len() <= EXCERPT_WARNINGS || i < half || i >= flagged.len() - half {
                let _ = writeln!(out, "  {line}");
            } else if i == half {
                let _ = writeln!(out, "  ... {} more ...", flagged.len() - EXCERPT_WARNINGS);
            }
        }
        let _ = writeln!(out, "  -- last lines:");
        for line in &lines[lines.len().saturating_sub(EXCERPT_TAIL)..] {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// A log line without its ANSI colour sequences (ESC [ ... m), cut at 400 characters.
fn without_colour(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.chars().take(400).collect()
}

#[test]
fn a_failed_scenario_prints_each_logs_warnings_and_last_lines_without_colour() {
    let dir = std::env::temp_dir().join(format!("whistle-fault-excerpt-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut gateway = String::new();
    for i in 0..100 {
        let level = if i % 2 == 0 { "\u{1b}[33m WARN\u{1b}[0m" } else { "\u{1b}[32m INFO\u{1b}[0m" };
        gateway.push_str(&format!("2026-12-07T23:38:{:02}Z{level} line {i}\n", i % 60));
    }
    std::fs::write(dir.join("gateway.log"), gateway).expect("log");
    std::fs::write(dir.join("router.log"), "2026-12-07T23:38:00Z  INFO quiet\n").expect("log");
    std::fs::write(dir.join("notes.txt"), "not a log").expect("file");
    let text = log_excerpts(&dir);
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert!(!text.contains('\u{1b}'), "colour codes stripped: {text}");
    assert!(text.contains("---- gateway.log: 100 lines, 50 warnings or errors"), "{text}");
    // The first and last 20 warnings, the 10 between counted, then the last 15 lines.
    assert!(text.contains("  2026-12-07T23:38:00Z WARN line 0\n"), "{text}");
    assert!(text.contains("WARN line 38\n") && !text.contains("WARN line 40\n"), "{text}");
    assert!(text.contains("  ... 10 more ...") && text.contains("WARN line 60\n"), "{text}");
    assert!(text.contains("INFO line 85\n") && !text.contains("INFO line 83\n"), "{text}");
    assert!(text.contains("---- router.log: 1 lines, 0 warnings or errors"), "{text}");
    assert!(!text.contains("notes.txt"), "{text}");
}

// ------------------------------------------------------------------------------------ services

struct Service {
    name: &'static str,
    /// `router`, or `router-1` when the fleet runs several of each.
    label: String,
    port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("service log");
        let err = log.try_clone().expect("service log");
        let bin = bin_dir().join(format!("whistle-{}", self.name));
        let mut command = Command::new(&bin);
        // The suite gives each service all its settings; none come from the caller's environment.
        for (inherited, _) in std::env::vars_os() {
            if inherited.to_string_lossy().starts_with("WHISTLE_") {
                command.env_remove(inherited);
            }
        }
        let child = command
            .current_dir(root())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info,rdkafka=warn,librdkafka=warn")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} (run `cargo build --bins` first)", bin.display()));
        self.child = Some(child);
    }
}

/// The four services, restarted when killed or when they exit by themselves (as a process
/// manager would).
struct Fleet {
    services: Vec<Service>,
    kills: HashMap<&'static str, u32>,
    exits: HashMap<&'static str, u32>,
}

/// A run's topics, consumer groups and transactional ids. An open broker gets names of the run's
/// own (`fault-<suffix>...`). A SASL broker runs the dev stack's ACLs (`kafka.sh acls`: the
/// Kubernetes overlay's users.yaml), which grant each service the production names only, so
/// there the services run under those: the broker is the suite's own and one run uses it.
struct KafkaNames {
    production: bool,
    suffix: String,
}

impl KafkaNames {
    fn new(infra: &Infra, suffix: &str) -> KafkaNames {
        KafkaNames { production: infra.sasl, suffix: suffix.to_owned() }
    }

    /// `cases`, `deadletter` or `registry`.
    fn topic(&self, which: &str) -> String {
        if self.production { format!("whistle.{which}.v1") } else { format!("fault-{}.{which}", self.suffix) }
    }

    /// `router`, `projector` or `sla`.
    fn group(&self, service: &str) -> String {
        if self.production { format!("whistle-{service}") } else { format!("fault-{}-{service}", self.suffix) }
    }

    fn transactional_id(&self, instance: usize) -> String {
        // Each instance restarts under its own id: each restart fences its zombie.
        if self.production {
            format!("whistle-router-{instance}")
        } else {
            format!("fault-{}-router-{instance}", self.suffix)
        }
    }
}

/// `replicas` of each service (each replica its own process and port).
fn fleet(infra: &Infra, suffix: &str, replicas: usize) -> Fleet {
    let names = KafkaNames::new(infra, suffix);
    let topics = [
        ("WHISTLE_KAFKA__TOPICS__CASES", names.topic("cases")),
        ("WHISTLE_KAFKA__TOPICS__DEADLETTER", names.topic("deadletter")),
        ("WHISTLE_KAFKA__TOPICS__REGISTRY", names.topic("registry")),
    ];
    let services = SERVICES
        .iter()
        .flat_map(|&name| (0..replicas).map(move |instance| (name, instance)))
        .map(|(name, instance)| {
            let label = if replicas == 1 { name.to_owned() } else { format!("{name}-{instance}") };
            let port = free_port();
            let mut env: Vec<(String, String)> = vec![
                ("WHISTLE_HTTP__PORT".into(), port.to_string()),
                ("WHISTLE_KAFKA__BROKERS".into(), infra.brokers()),
                ("WHISTLE_KAFKA__PARTITIONS".into(), "3".into()),
            ];
            env.extend(topics.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            env.extend(infra.kafka_env(name));
            // Each service gets only its own settings: one that names no setting stops it.
            if name == "gateway" {
                // The board check reads whole snapshots.
                env.push(("WHISTLE_WEBSOCKET__MAX_SNAPSHOT_CASES".into(), "1000000".into()));
            }
            if name != "router" {
                env.push(("WHISTLE_AUTH__JWT_SECRET".into(), JWT_SECRET.into()));
                env.extend(infra.redis_env(name));
                env.push(("WHISTLE_REDIS__KEY_PREFIX".into(), format!("{FAULT_KEY_PREFIX}{suffix}:")));
            }
            let group = match name {
                "router" => Some("router"),
                "gateway" => Some("projector"),
                "sla" => Some("sla"),
                _ => None,
            };
            if let Some(group) = group {
                env.push(("WHISTLE_GROUP_ID".into(), names.group(group)));
            }
            if name == "router" {
                env.push(("WHISTLE_TRANSACTIONAL_ID".into(), names.transactional_id(instance)));
            }
            let log = infra.run.join("logs").join(format!("{label}.log"));
            Service { name, label, port, env, log, child: None }
        })
        .collect();
    Fleet { services, kills: HashMap::new(), exits: HashMap::new() }
}

impl Fleet {
    /// Every instance's port of `name`, in instance order.
    fn ports(&self, name: &str) -> Vec<u16> {
        self.services.iter().filter(|s| s.name == name).map(|s| s.port).collect()
    }

    /// SIGKILL to the instance `label`, which is not restarted.
    async fn kill_for_good(&mut self, label: &str) {
        let service = self.services.iter_mut().find(|s| s.label == label).expect("a service");
        if let Some(mut child) = service.child.take() {
            let _ = child.kill().await;
        }
        *self.kills.entry(service.name).or_default() += 1;
    }

    async fn start_all(&mut self, http: &reqwest::Client) {
        for service in &mut self.services {
            service.spawn();
        }
        for service in &self.services {
            wait_ready(http, &service.label, service.port, Duration::from_secs(90)).await;
        }
    }

    /// Waits until every instance still meant to run answers `/readyz`.
    async fn wait_running_ready(&self, http: &reqwest::Client) {
        for service in self.services.iter().filter(|s| s.child.is_some()) {
            wait_ready(http, &service.label, service.port, Duration::from_secs(120)).await;
        }
    }
}

async fn wait_ready(http: &reqwest::Client, name: &str, port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is not ready on :{port} after {within:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Restarts services that exited on their own, every half second, until `stop`.
async fn watchdog(fleet: Arc<tokio::sync::Mutex<Fleet>>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let mut fleet = fleet.lock().await;
        let mut exited = Vec::new();
        for service in &mut fleet.services {
            if let Some(child) = &mut service.child
                && let Ok(Some(status)) = child.try_wait()
            {
                log(format_args!("{} exited by itself ({status}); restarting it", service.label));
                exited.push(service.name);
                service.spawn();
            }
        }
        for name in exited {
            *fleet.exits.entry(name).or_default() += 1;
        }
    }
}

// ------------------------------------------------------------------------------------ chaos

#[derive(Debug, Default)]
struct Faults {
    broker_restarts: u32,
    redis_restarts: u32,
}

/// Injects faults at random moments until `stop`, but always completes one round in which every
/// service, the broker and Redis each get one; `round_done` is cancelled after that round.
async fn chaos(
    infra: Arc<Infra>,
    fleet: Arc<tokio::sync::Mutex<Fleet>>,
    seconds: u64,
    seed: u64,
    stop: CancellationToken,
    round_done: CancellationToken,
) -> Faults {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = Faults::default();
    let targets = ["intake", "router", "gateway", "sla", "kafka", "redis"];
    // Spread the first round over the load (the broker restart itself takes ~10-20 s).
    let mean_gap = Duration::from_secs(seconds).div_f64(targets.len() as f64 + 2.0);
    loop {
        let mut round = targets;
        round.shuffle(&mut rng);
        for target in round {
            let gap = mean_gap.mul_f64(rng.random_range(0.4..1.2));
            tokio::select! {
                () = stop.cancelled(), if round_done.is_cancelled() => return faults,
                () = tokio::time::sleep(gap) => {}
            }
            match target {
                "kafka" => {
                    log("fault: kafka broker SIGKILL, then start");
                    if let Err(err) = infra.restart_kafka().await {
                        panic!("the suite's broker did not come back: {err:#}");
                    }
                    faults.broker_restarts += 1;
                    log("kafka broker is back");
                }
                "redis" => {
                    let down_for = Duration::from_millis(rng.random_range(500..3000));
                    log(format_args!("fault: redis stop, start in {} ms", down_for.as_millis()));
                    infra.restart_redis(down_for).await.expect("the suite's Redis restarts");
                    faults.redis_restarts += 1;
                }
                service => {
                    let down_for = Duration::from_millis(rng.random_range(0..2000));
                    let child = {
                        let mut fleet = fleet.lock().await;
                        *fleet.kills.entry(service).or_default() += 1;
                        fleet.services.iter_mut().find(|s| s.name == service).and_then(|s| s.child.take())
                    };
                    log(format_args!("fault: {service} SIGKILL, restart in {} ms", down_for.as_millis()));
                    if let Some(mut child) = child {
                        let _ = child.kill().await;
                    }
                    tokio::time::sleep(down_for).await;
                    let mut fleet = fleet.lock().await;
                    if let Some(s) = fleet.services.iter_mut().find(|s| s.name == service) {
                        s.spawn();
                    }
                }
            }
        }
        round_done.cancel();
    }
}

// ------------------------------------------------------------------------------------ load

#[derive(Debug, Clone)]
struct Accepted {
    id: Uuid,
    town: &'static str,
}

#[derive(Default)]
struct LoadStats {
    started: AtomicU64,
    attempts: AtomicU64,
    gave_up: AtomicU64,
    refused: AtomicU64,
    accepted: Mutex<Vec<Accepted>>,
    /// Acknowledgements that got a `202`.
    acked: Mutex<HashSet<Uuid>>,
    /// Acknowledgements sent at least once (one without a `202` may still have taken effect).
    ack_tried: Mutex<HashSet<Uuid>>,
}

enum Answer {
    Done(Value),
    /// A 4xx: retrying cannot help.
    Refused(u16, String),
}

/// Sends `make()` until it gets `expect`, retrying on errors, timeouts and 5xx with backoff;
/// None when it gave up.
async fn until_answered(stats: &LoadStats, expect: u16, make: impl Fn() -> reqwest::RequestBuilder) -> Option<Answer> {
    let give_up = Instant::now() + GIVE_UP;
    let mut delay = Duration::from_millis(200);
    loop {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        match make().timeout(REQUEST_TIMEOUT).send().await {
            Ok(resp) if resp.status().as_u16() == expect => {
                if let Ok(body) = resp.json::<Value>().await {
                    return Some(Answer::Done(body));
                }
            }
            Ok(resp) if resp.status().is_client_error() && resp.status().as_u16() != 429 => {
                let status = resp.status().as_u16();
                return Some(Answer::Refused(status, resp.text().await.unwrap_or_default()));
            }
            Ok(_) | Err(_) => {}
        }
        if Instant::now() >= give_up {
            return None;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// One town raising one whistle (retrying with its Idempotency-Key), and for every other one the
/// department acknowledging it once it is dispatched.
async fn one_whistle(n: u64, suffix: Arc<str>, api: Arc<str>, http: reqwest::Client, stats: Arc<LoadStats>) {
    let town = TOWNS[n as usize % TOWNS.len()];
    let role = Role::Town(town.to_owned());
    let key = format!("fault-{suffix}-{n}");
    let body = raise_body(town, DEPT_ITEM, &format!("fault load {n}"));
    let raised = until_answered(&stats, 202, || {
        authed(http.post(format!("{api}/api/v1/whistles")).header("Idempotency-Key", &key).json(&body), &role)
    })
    .await;
    let id = match raised {
        Some(Answer::Done(body)) => body["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()).expect("202 has an id"),
        Some(Answer::Refused(status, body)) => {
            log(format_args!("raise {n} refused: {status} {body}"));
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        None => {
            stats.gave_up.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    stats.accepted.lock().expect("lock").push(Accepted { id, town });
    if n % 2 == 1 {
        return;
    }
    // The department acknowledges once the case reached it.
    let deadline = Instant::now() + GIVE_UP;
    let department = loop {
        let view = authed(http.get(format!("{api}/api/v1/whistles/{id}")), &role).timeout(REQUEST_TIMEOUT).send().await;
        if let Ok(resp) = view
            && resp.status().is_success()
            && let Ok(view) = resp.json::<Value>().await
            && view["status"] == "dispatched"
            && let Some(code) = view["department"]["code"].as_str()
        {
            break code.to_owned();
        }
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let role = Role::Department(department);
    stats.ack_tried.lock().expect("lock").insert(id);
    let ack_key = format!("ack-{key}");
    match until_answered(&stats, 202, || {
        authed(
            http.post(format!("{api}/api/v1/whistles/{id}/acknowledge"))
                .header("Idempotency-Key", &ack_key)
                .json(&json!({})),
            &role,
        )
    })
    .await
    {
        Some(Answer::Done(_)) => {
            stats.acked.lock().expect("lock").insert(id);
        }
        Some(Answer::Refused(status, body)) => {
            log(format_args!("acknowledge {id} refused: {status} {body}"));
            stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        None => {}
    }
}

// ------------------------------------------------------------------------------------ checks

#[derive(Debug, Default)]
struct Verdict {
    lost_dispatch: Vec<Uuid>,
    duplicated_dispatch: Vec<Uuid>,
    /// Whistles whose raise is in the log twice (intake published it again on a client retry
    /// after an ambiguous timeout; same event id).
    raise_republished: usize,
    /// Whistles with more than one dispatch record, each for its own `raised` record (the router
    /// skips a repeated raise it committed itself; one after a router restart is routed again;
    /// same event id, consumers drop it).
    repeated_dispatch_records: usize,
    /// Dispatch records in aborted transactions (visible only to read_uncommitted).
    aborted_dispatch_records: usize,
    lost_board: Vec<Uuid>,
    duplicated_board: Vec<Uuid>,
    incomplete_timeline: Vec<(Uuid, String)>,
    duplicated_timeline: Vec<(Uuid, String)>,
}

impl Verdict {
    fn lost(&self) -> usize {
        let mut ids: HashSet<Uuid> = self.lost_dispatch.iter().chain(&self.lost_board).copied().collect();
        ids.extend(self.incomplete_timeline.iter().map(|(id, _)| *id));
        ids.len()
    }

    fn duplicated(&self) -> usize {
        let mut ids: HashSet<Uuid> = self.duplicated_dispatch.iter().chain(&self.duplicated_board).copied().collect();
        ids.extend(self.duplicated_timeline.iter().map(|(id, _)| *id));
        ids.len()
    }
}

async fn case_log(infra: &Infra, topic: &str, level: ReadLevel) -> Vec<whistle_schemas::events::CaseEvent> {
    let (kafka, topic) = (infra.kafka(), topic.to_owned());
    tokio::task::spawn_blocking(move || read_case_log(&kafka, &topic, level))
        .await
        .expect("log task")
        .expect("the case log is readable")
}

/// The Kafka log: each accepted whistle has exactly one dispatch per raise record, all of one
/// event id, read committed.
async fn check_log(infra: &Infra, topic: &str, accepted: &[Accepted], verdict: &mut Verdict) {
    #[derive(Default)]
    struct PerWhistle {
        raised: usize,
        dispatched: usize,
        dispatch_ids: HashSet<Uuid>,
    }
    let deadline = Instant::now() + SETTLE;
    let per = loop {
        let mut per: HashMap<Uuid, PerWhistle> = HashMap::new();
        for event in case_log(infra, topic, ReadLevel::Committed).await {
            let entry = per.entry(event.subject).or_default();
            match event.type_name() {
                "whistle.raised" => entry.raised += 1,
                "whistle.dispatched" => {
                    entry.dispatched += 1;
                    entry.dispatch_ids.insert(event.id);
                }
                _ => {}
            }
        }
        let waiting = accepted.iter().filter(|a| per.get(&a.id).is_none_or(|p| p.dispatched == 0)).count();
        if waiting == 0 || Instant::now() >= deadline {
            break per;
        }
        log(format_args!("settling: {waiting} accepted whistles not dispatched yet"));
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let committed_dispatches: usize = per.values().map(|p| p.dispatched).sum();
    for a in accepted {
        match per.get(&a.id) {
            None => verdict.lost_dispatch.push(a.id),
            Some(p) if p.dispatched == 0 => verdict.lost_dispatch.push(a.id),
            Some(p) if p.dispatch_ids.len() > 1 || p.dispatched > p.raised => verdict.duplicated_dispatch.push(a.id),
            Some(p) => {
                verdict.raise_republished += usize::from(p.raised > 1);
                verdict.repeated_dispatch_records += usize::from(p.dispatched > 1);
            }
        }
    }
    let all = case_log(infra, topic, ReadLevel::Uncommitted).await;
    let all_dispatches = all.iter().filter(|e| e.type_name() == "whistle.dispatched").count();
    verdict.aborted_dispatch_records = all_dispatches.saturating_sub(committed_dispatches);
}

/// The whistle.* steps of a timeline, counted.
fn steps(view: &Value) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for step in view["timeline"].as_array().into_iter().flatten() {
        if let Some(kind) = step["type"].as_str().filter(|k| k.starts_with("whistle.")) {
            *counts.entry(kind.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// Each accepted whistle's timeline: raised and dispatched once, acknowledged once if the load
/// acknowledged it; returns each whistle's department.
async fn check_timelines(
    api: &str,
    http: &reqwest::Client,
    accepted: &[Accepted],
    stats: &LoadStats,
    verdict: &mut Verdict,
) -> HashMap<Uuid, String> {
    let acked = stats.acked.lock().expect("lock").clone();
    let tried = stats.ack_tried.lock().expect("lock").clone();
    let deadline = Instant::now() + SETTLE;
    let results = futures::stream::iter(accepted.iter().cloned())
        .map(|a| {
            let (acked, tried) = (acked.contains(&a.id), tried.contains(&a.id));
            async move {
                let role = Role::Town(a.town.to_owned());
                loop {
                    let resp = authed(http.get(format!("{api}/api/v1/whistles/{}", a.id)), &role)
                        .timeout(REQUEST_TIMEOUT)
                        .send()
                        .await;
                    let view = match resp {
                        Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                    let counts = steps(&view);
                    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
                    let ack_ok =
                        if acked { n("whistle.acknowledged") == 1 } else { tried || n("whistle.acknowledged") == 0 };
                    let extra = counts.keys().any(|k| {
                        !matches!(k.as_str(), "whistle.raised" | "whistle.dispatched" | "whistle.acknowledged")
                    });
                    let repeated = counts.values().any(|&c| c > 1);
                    let complete = n("whistle.raised") == 1 && n("whistle.dispatched") == 1 && ack_ok && !extra;
                    if complete || repeated || Instant::now() >= deadline {
                        let department = view["department"]["code"].as_str().unwrap_or_default().to_owned();
                        return (a.id, complete, repeated, format!("{counts:?} (acked: {acked})"), department);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let mut departments = HashMap::new();
    for (id, complete, repeated, detail, department) in results {
        if repeated {
            verdict.duplicated_timeline.push((id, detail));
        } else if !complete {
            verdict.incomplete_timeline.push((id, detail));
        }
        departments.insert(id, department);
    }
    departments
}

/// A department's board snapshot: the ids of its open cases, as often as listed.
async fn board_snapshot(ws: &str, department: &str) -> anyhow::Result<Vec<Uuid>> {
    let request = authed_ws(ws, &Role::Department(department.to_owned()));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let subscribe = json!({"type": "subscribe", "channel": format!("department:{department}")});
    socket.send(Message::Text(subscribe.to_string().into())).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let frame =
            tokio::time::timeout_at(deadline, socket.next()).await?.ok_or_else(|| anyhow::anyhow!("closed"))??;
        let Message::Text(text) = frame else { continue };
        let frame: Value = serde_json::from_str(&text)?;
        match frame["type"].as_str() {
            Some("snapshot") => {
                let _ = socket.close(None).await;
                anyhow::ensure!(frame["truncated"] != true, "the snapshot was truncated: {}", frame["total"]);
                return Ok(frame["cases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["id"].as_str()?.parse().ok())
                    .collect());
            }
            Some("error") => anyhow::bail!("subscribe refused: {frame}"),
            _ => {}
        }
    }
}

/// Each accepted whistle is on its department's board exactly once.
async fn check_boards(ws: &str, departments: &HashMap<Uuid, String>, verdict: &mut Verdict) {
    let mut by_department: HashMap<&str, Vec<Uuid>> = HashMap::new();
    for (id, department) in departments {
        by_department.entry(department.as_str()).or_default().push(*id);
    }
    for (department, ids) in by_department {
        if department.is_empty() {
            verdict.lost_board.extend(ids);
            continue;
        }
        let mut snapshot = None;
        for _ in 0..5 {
            match board_snapshot(ws, department).await {
                Ok(s) => {
                    snapshot = Some(s);
                    break;
                }
                Err(err) => {
                    log(format_args!("board {department}: {err:#}; retrying"));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        let snapshot = snapshot.unwrap_or_else(|| panic!("no snapshot of department:{department}"));
        let mut seen: HashMap<Uuid, usize> = HashMap::new();
        for id in snapshot {
            *seen.entry(id).or_default() += 1;
        }
        for id in ids {
            match seen.get(&id) {
                None => verdict.lost_board.push(id),
                Some(1) => {}
                Some(_) => verdict.duplicated_board.push(id),
            }
        }
    }
}

// ------------------------------------------------------------------------------------ load runs

/// Raises `rate` whistles a second, spread over `apis` in turn, until `stop`.
struct Load {
    stats: Arc<LoadStats>,
    generator: tokio::task::JoinHandle<tokio::task::JoinSet<()>>,
    stop: CancellationToken,
}

impl Load {
    fn start(apis: Vec<String>, suffix: Arc<str>, http: reqwest::Client, rate: f64) -> Load {
        let stats = Arc::new(LoadStats::default());
        let stop = CancellationToken::new();
        let generator = tokio::spawn({
            let (stats, stop) = (stats.clone(), stop.clone());
            async move {
                let apis: Vec<Arc<str>> = apis.iter().map(|a| a.as_str().into()).collect();
                let mut whistles = tokio::task::JoinSet::new();
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    stats.started.fetch_add(1, Ordering::Relaxed);
                    let api = apis[n as usize % apis.len()].clone();
                    whistles.spawn(one_whistle(n, suffix.clone(), api, http.clone(), stats.clone()));
                    n += 1;
                }
                whistles
            }
        });
        Load { stats, generator, stop }
    }

    /// Stops raising and waits until every client finished (each gives up after [`GIVE_UP`]).
    async fn finish(self) -> Arc<LoadStats> {
        self.stop.cancel();
        let mut whistles = self.generator.await.expect("load generator");
        log(format_args!("load stops after {} whistles", self.stats.started.load(Ordering::Relaxed)));
        while whistles.join_next().await.is_some() {}
        log("every client finished; checking");
        self.stats
    }
}

/// The checks every scenario makes: the log, each timeline (through `api`), and the boards of
/// every gateway in `boards`.
async fn check_everything(
    infra: &Infra,
    cases_topic: &str,
    api: &str,
    boards: &[String],
    http: &reqwest::Client,
    stats: &LoadStats,
) -> (Vec<Accepted>, Verdict) {
    let accepted = stats.accepted.lock().expect("lock").clone();
    let mut verdict = Verdict::default();
    check_log(infra, cases_topic, &accepted, &mut verdict).await;
    let departments = check_timelines(api, http, &accepted, stats, &mut verdict).await;
    for ws in boards {
        check_boards(ws, &departments, &mut verdict).await;
    }
    (accepted, verdict)
}

/// What every scenario asserts: something was accepted, nothing valid was refused, and every
/// accepted whistle was dispatched, shown and recorded exactly once.
fn assert_exactly_once(accepted: &[Accepted], stats: &LoadStats, verdict: &Verdict) {
    let sample = |v: &[Uuid]| v.iter().take(5).map(Uuid::to_string).collect::<Vec<_>>().join(", ");
    assert!(!accepted.is_empty(), "the load got some 202s");
    assert_eq!(stats.refused.load(Ordering::Relaxed), 0, "no valid request was refused (see the log above)");
    assert_eq!(verdict.lost_dispatch.len(), 0, "accepted but never dispatched: {}", sample(&verdict.lost_dispatch));
    assert_eq!(verdict.duplicated_dispatch.len(), 0, "dispatched twice: {}", sample(&verdict.duplicated_dispatch));
    assert_eq!(verdict.lost_board.len(), 0, "missing from the board: {}", sample(&verdict.lost_board));
    assert_eq!(verdict.duplicated_board.len(), 0, "twice on the board: {}", sample(&verdict.duplicated_board));
    assert!(
        verdict.incomplete_timeline.is_empty(),
        "incomplete timelines: {:?}",
        &verdict.incomplete_timeline[..verdict.incomplete_timeline.len().min(5)]
    );
    assert!(
        verdict.duplicated_timeline.is_empty(),
        "repeated timeline steps: {:?}",
        &verdict.duplicated_timeline[..verdict.duplicated_timeline.len().min(5)]
    );
}

/// One line of figures, the same for every scenario.
fn summary(scenario: &str, accepted: &[Accepted], stats: &LoadStats, verdict: &Verdict, fleet: &Fleet) -> String {
    let per = |m: &HashMap<&str, u32>| SERVICES.map(|s| format!("{s}={}", m.get(s).copied().unwrap_or(0))).join(" ");
    format!(
        "{scenario} summary: whistles={} accepted_202={} gave_up={} refused={} acknowledged={} http_attempts={} \
         kills[{}] self_exits[{}] lost={} duplicated={} \
         (lost: dispatch={} board={} timeline={}; duplicated: dispatch={} board={} timeline={}) \
         raise_republished={} repeated_dispatch_records={} aborted_dispatch_records={}",
        stats.started.load(Ordering::Relaxed),
        accepted.len(),
        stats.gave_up.load(Ordering::Relaxed),
        stats.refused.load(Ordering::Relaxed),
        stats.acked.lock().expect("lock").len(),
        stats.attempts.load(Ordering::Relaxed),
        per(&fleet.kills),
        per(&fleet.exits),
        verdict.lost(),
        verdict.duplicated(),
        verdict.lost_dispatch.len(),
        verdict.lost_board.len(),
        verdict.incomplete_timeline.len(),
        verdict.duplicated_dispatch.len(),
        verdict.duplicated_board.len(),
        verdict.duplicated_timeline.len(),
        verdict.raise_republished,
        verdict.repeated_dispatch_records,
        verdict.aborted_dispatch_records,
    )
}

fn check_binaries() {
    for service in SERVICES {
        let bin = bin_dir().join(format!("whistle-{service}"));
        assert!(bin.exists(), "{} is missing: run `cargo build --bins` first", bin.display());
    }
}

/// One scenario's services: `replicas` of each, started and ready, on topics, consumer groups
/// and a Redis prefix of its own (`suffix`).
struct Run {
    suffix: Arc<str>,
    cases_topic: String,
    http: reqwest::Client,
    fleet: Arc<tokio::sync::Mutex<Fleet>>,
    /// Each intake's base URL, in instance order.
    apis: Vec<String>,
    /// Each gateway's WebSocket URL, in instance order.
    boards: Vec<String>,
}

impl Run {
    async fn start(infra: &Infra, replicas: usize) -> Run {
        let suffix: Arc<str> = Uuid::new_v4().simple().to_string()[..10].into();
        let cases_topic = KafkaNames::new(infra, &suffix).topic("cases");
        let http = reqwest::Client::new();
        let mut f = fleet(infra, &suffix, replicas);
        f.start_all(&http).await;
        let apis = f.ports("intake").iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
        let boards = f.ports("gateway").iter().map(|p| format!("ws://127.0.0.1:{p}/ws")).collect();
        Run { suffix, cases_topic, http, fleet: Arc::new(tokio::sync::Mutex::new(f)), apis, boards }
    }
}

// ------------------------------------------------------------------------------------ live boards

/// The department each of the suite's towns raises [`DEPT_ITEM`] to, from the sample registry.
fn departments_of_the_towns() -> Vec<String> {
    let registry = whistle_registry::Registry::load(&whistle_tests::registry_path()).expect("the sample registry");
    let item = whistle_registry::ItemCode::parse(DEPT_ITEM).expect("item code");
    let mut departments: Vec<String> = TOWNS
        .iter()
        .map(|town| {
            let town = whistle_registry::TownCode::parse(town).expect("town code");
            match whistle_registry::route(&registry, &town, &item, chrono::Utc::now()).expect("a route") {
                whistle_registry::Route::Department { department, .. } => department.code.to_string(),
                other => panic!("{DEPT_ITEM} from {town} does not go to a department: {other:?}"),
            }
        })
        .collect();
    departments.sort();
    departments.dedup();
    departments
}

/// A department board held open on one gateway for the whole run: every `event` frame it got,
/// as (case id, event id, event type). It stops at `stop` or when its gateway goes away.
struct LiveBoard {
    gateway: String,
    department: String,
    seen: Arc<Mutex<Vec<(Uuid, Uuid, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveBoard {
    async fn open(ws: &str, department: &str, stop: CancellationToken) -> LiveBoard {
        let request = authed_ws(ws, &Role::Department(department.to_owned()));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("a live board connects");
        let subscribe = json!({"type": "subscribe", "channel": format!("department:{department}")});
        socket.send(Message::Text(subscribe.to_string().into())).await.expect("subscribe");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let frame = tokio::select! {
                        () = stop.cancelled() => return,
                        frame = socket.next() => frame,
                    };
                    let Some(Ok(Message::Text(text))) = frame else {
                        if matches!(frame, None | Some(Err(_))) {
                            return;
                        }
                        continue;
                    };
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                    if frame["type"] != "event" {
                        continue;
                    }
                    let id = |v: &Value| v.as_str().and_then(|s| s.parse::<Uuid>().ok());
                    if let (Some(case), Some(event), Some(kind)) =
                        (id(&frame["case"]["id"]), id(&frame["event"]["id"]), frame["event"]["type"].as_str())
                    {
                        seen.lock().expect("lock").push((case, event, kind.to_owned()));
                    }
                }
            }
        });
        LiveBoard { gateway: ws.to_owned(), department: department.to_owned(), seen, task }
    }

    /// Event ids this board got more than once, and the accepted whistles of its department
    /// (`departments`) whose dispatch it never got (only meaningful for a board open all along).
    fn verdict(&self, departments: &HashMap<Uuid, String>) -> (Vec<Uuid>, Vec<Uuid>) {
        let seen = self.seen.lock().expect("lock");
        let mut events: HashMap<Uuid, usize> = HashMap::new();
        let mut dispatched: HashSet<Uuid> = HashSet::new();
        for (case, event, kind) in seen.iter() {
            *events.entry(*event).or_default() += 1;
            if kind == "whistle.dispatched" {
                dispatched.insert(*case);
            }
        }
        let repeated = events.into_iter().filter(|(_, n)| *n > 1).map(|(e, _)| e).collect();
        let missing = departments
            .iter()
            .filter(|(id, d)| **d == self.department && !dispatched.contains(id))
            .map(|(id, _)| *id)
            .collect();
        (repeated, missing)
    }
}

// ------------------------------------------------------------------------------------ consumer groups

/// The members of consumer group `group` and the partitions each is assigned, as the broker
/// reports them (DescribeGroups; the classic protocol's assignment bytes).
fn group_members(
    kafka: &whistle_common::settings::KafkaSettings,
    group: &str,
) -> anyhow::Result<Vec<(String, Vec<i32>)>> {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let consumer: BaseConsumer = whistle_common::kafka::client_config(kafka).create()?;
    let groups = consumer.fetch_group_list(Some(group), Duration::from_secs(10))?;
    let mut members = Vec::new();
    for g in groups.groups().iter().filter(|g| g.name() == group) {
        for member in g.members() {
            let partitions = member.assignment().map(parse_assignment).transpose()?.unwrap_or_default();
            members.push((member.id().to_owned(), partitions));
        }
    }
    Ok(members)
}

/// `ConsumerProtocolAssignment`: version i16, [topic: string, [partition: i32]], user data.
fn parse_assignment(bytes: &[u8]) -> anyhow::Result<Vec<i32>> {
    let mut at = 0usize;
    let mut take = |n: usize| -> anyhow::Result<&[u8]> {
        let slice = bytes.get(at..at + n).ok_or_else(|| anyhow::anyhow!("assignment cut short at byte {at}"))?;
        at += n;
        Ok(slice)
    };
    let _version = i16::from_be_bytes(take(2)?.try_into()?);
    let topics = i32::from_be_bytes(take(4)?.try_into()?);
    let mut partitions = Vec::new();
    for _ in 0..topics.max(0) {
        let len = i16::from_be_bytes(take(2)?.try_into()?);
        take(len.max(0) as usize)?;
        let count = i32::from_be_bytes(take(4)?.try_into()?);
        for _ in 0..count.max(0) {
            partitions.push(i32::from_be_bytes(take(4)?.try_into()?));
        }
    }
    Ok(partitions)
}

/// Waits until `group` has `members` members that together hold all `partitions` partitions,
/// each member at least one; returns what it saw last.
async fn wait_for_sharing(
    kafka: &whistle_common::settings::KafkaSettings,
    group: &str,
    members: usize,
    partitions: usize,
) -> Result<Vec<(String, Vec<i32>)>, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (kafka, g) = (kafka.clone(), group.to_owned());
        let seen = tokio::task::spawn_blocking(move || group_members(&kafka, &g)).await.expect("describe task");
        if let Ok(seen) = &seen {
            let mut held: Vec<i32> = seen.iter().flat_map(|(_, p)| p.iter().copied()).collect();
            held.sort_unstable();
            held.dedup();
            if seen.len() == members && held.len() == partitions && seen.iter().all(|(_, p)| !p.is_empty()) {
                return Ok(seen.clone());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("{group}: {seen:?}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ------------------------------------------------------------------------------------ the suites

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault injection with its own Kafka and Redis; run by `cargo xtask test` (see docs/faults.md)"]
async fn whistles_accepted_under_kills_and_restarts_are_dispatched_and_shown_exactly_once() {
    let knobs = knobs();
    let started = *START.get_or_init(Instant::now);
    log(format_args!(
        "seconds={} rate={}/s seed={} (WHISTLE_FAULT_SECONDS / WHISTLE_FAULT_RATE / WHISTLE_FAULT_SEED)",
        knobs.seconds, knobs.rate, knobs.seed
    ));
    check_binaries();
    let infra = Arc::new(Infra::start(knobs.keep, RedisMode::Single).await);
    let Run { suffix, cases_topic, http, fleet, apis, boards } = Run::start(&infra, 1).await;
    let (api, ws) = (apis[0].clone(), boards[0].clone());
    log("services ready; load and faults start");
    let stop_watchdog = CancellationToken::new();
    let watchdog = tokio::spawn(watchdog(fleet.clone(), stop_watchdog.clone()));
    let (stop_faults, round_done) = (CancellationToken::new(), CancellationToken::new());
    let chaos = tokio::spawn(chaos(
        infra.clone(),
        fleet.clone(),
        knobs.seconds,
        knobs.seed,
        stop_faults.clone(),
        round_done.clone(),
    ));

    // The load: `rate` new whistles a second until `seconds` passed and every fault struck once,
    // and a little longer, so the last fault also meets traffic.
    let load = Load::start(vec![api.clone()], suffix.clone(), http.clone(), knobs.rate);
    let load_start = Instant::now();
    round_done.cancelled().await;
    let done_at = Instant::now();
    while load_start.elapsed() < Duration::from_secs(knobs.seconds) || done_at.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_faults.cancel();
    let faults = chaos.await.expect("chaos task");
    // Every service is up again before the clients' last retries and the checks.
    fleet.lock().await.wait_running_ready(&http).await;
    let stats = load.finish().await;

    let (accepted, verdict) = check_everything(&infra, &cases_topic, &api, &[ws], &http, &stats).await;
    stop_watchdog.cancel();
    let _ = watchdog.await;

    let f = fleet.lock().await;
    println!(
        "{} broker_restarts={} redis_restarts={} seed={} runtime={:.0}s",
        summary("fault", &accepted, &stats, &verdict, &f),
        faults.broker_restarts,
        faults.redis_restarts,
        knobs.seed,
        started.elapsed().as_secs_f64(),
    );
    assert_exactly_once(&accepted, &stats, &verdict);
    assert!(
        SERVICES.iter().all(|s| f.kills.get(s).is_some_and(|&k| k > 0))
            && faults.broker_restarts > 0
            && faults.redis_restarts > 0,
        "every fault struck at least once"
    );
}

/// Two of each service: the consumer groups share the partitions; SIGKILL of one router, one
/// gateway and one SLA instance mid-load (not restarted) moves their partitions to the survivors,
/// and every accepted whistle is still dispatched, on the surviving gateway's boards and on its
/// timeline exactly once. Whistles go to both intakes in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "two of each service with their own Kafka and Redis; run by `cargo xtask test` (see docs/faults.md)"]
async fn two_of_each_share_the_partitions_and_survivors_take_over_from_killed_instances() {
    let knobs = knobs();
    let started = *START.get_or_init(Instant::now);
    let seconds = knobs.seconds.min(30);
    check_binaries();
    let infra = Arc::new(Infra::start(knobs.keep, RedisMode::Single).await);
    let Run { suffix, cases_topic, http, fleet, apis, boards } = Run::start(&infra, 2).await;
    // A board per department on each gateway, open before the first whistle.
    let stop_boards = CancellationToken::new();
    let mut live = Vec::new();
    for ws in &boards {
        for department in departments_of_the_towns() {
            live.push(LiveBoard::open(ws, &department, stop_boards.clone()).await);
        }
    }
    let stop_watchdog = CancellationToken::new();
    let watchdog = tokio::spawn(watchdog(fleet.clone(), stop_watchdog.clone()));
    let load = Load::start(apis.clone(), suffix.clone(), http.clone(), knobs.rate);

    // Both members of each group hold partitions (3 partitions: 2 + 1).
    let names = KafkaNames::new(&infra, &suffix);
    let groups = ["router", "projector", "sla"].map(|g| names.group(g));
    for group in &groups {
        let members = wait_for_sharing(&infra.kafka(), group, 2, 3).await.unwrap_or_else(|e| {
            panic!("two instances do not share the partitions: {e}");
        });
        log(format_args!("{group}: {members:?}"));
    }
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    log("SIGKILL router-1, gateway-1 and sla-1 (not restarted)");
    {
        let mut f = fleet.lock().await;
        for label in ["router-1", "gateway-1", "sla-1"] {
            f.kill_for_good(label).await;
        }
    }
    // The survivors take every partition over (after the broker's session timeout, 10 s).
    for group in &groups {
        let members = wait_for_sharing(&infra.kafka(), group, 1, 3)
            .await
            .unwrap_or_else(|e| panic!("the survivor did not take the partitions over: {e}"));
        log(format_args!("after the kills, {group}: {members:?}"));
    }
    tokio::time::sleep(Duration::from_secs(seconds * 2 / 3)).await;
    fleet.lock().await.wait_running_ready(&http).await;
    let stats = load.finish().await;

    // Snapshots are checked on the surviving gateway; timelines through the second intake.
    let (accepted, mut verdict) = check_everything(&infra, &cases_topic, &apis[1], &boards[..1], &http, &stats).await;
    // The live boards: on the surviving gateway every dispatch arrived, on both no event twice.
    let departments = check_timelines(&apis[0], &http, &accepted, &stats, &mut Verdict::default()).await;
    stop_boards.cancel();
    let mut live_events = 0;
    for board in &live {
        let (repeated, missing) = board.verdict(&departments);
        live_events += board.seen.lock().expect("lock").len();
        log(format_args!(
            "live board {} on {}: {} events, {} repeated, {} dispatches missing",
            board.department,
            board.gateway,
            board.seen.lock().expect("lock").len(),
            repeated.len(),
            missing.len()
        ));
        verdict.duplicated_board.extend(repeated);
        if board.gateway == boards[0] {
            verdict.lost_board.extend(missing);
        }
    }
    for board in live {
        let _ = board.task.await;
    }
    stop_watchdog.cancel();
    let _ = watchdog.await;
    let f = fleet.lock().await;
    println!(
        "{} live_board_events={live_events} runtime={:.0}s",
        summary("replicas", &accepted, &stats, &verdict, &f),
        started.elapsed().as_secs_f64()
    );
    assert_exactly_once(&accepted, &stats, &verdict);
}

/// Redis with a replica and three Sentinels; the primary is SIGKILLed mid-load (and started again
/// a little later, as a process manager would: it comes back as a replica). The services follow
/// the Sentinels to the new primary, and every accepted whistle is dispatched, on its board and
/// on its timeline exactly once: the consumers commit an offset only after a replica holds the
/// writes behind it, so what the dead primary had not replicated is projected again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "Redis Sentinel failover with its own Kafka and Redis; run by `cargo xtask test` (see docs/faults.md)"]
async fn a_redis_primary_killed_mid_load_fails_over_and_nothing_accepted_is_lost() {
    let knobs = knobs();
    let started = *START.get_or_init(Instant::now);
    let seconds = knobs.seconds.min(30);
    check_binaries();
    let infra = Arc::new(Infra::start(knobs.keep, RedisMode::Sentinel).await);
    // The Sentinels take a password of their own: a client without it learns nothing.
    let anonymous = Command::new("redis-cli")
        .args(["-p", &infra.sentinel_ports[0].to_string(), "sentinel", "get-master-addr-by-name", "whistle"])
        .output()
        .await
        .expect("redis-cli");
    let answer = String::from_utf8_lossy(&anonymous.stdout);
    assert!(answer.contains("NOAUTH"), "a Sentinel answered a client without its password: {answer:?}");
    let Run { suffix, cases_topic, http, fleet, apis, boards } = Run::start(&infra, 1).await;
    let (api, ws) = (apis[0].clone(), boards[0].clone());
    let stop_watchdog = CancellationToken::new();
    let watchdog = tokio::spawn(watchdog(fleet.clone(), stop_watchdog.clone()));
    let load = Load::start(vec![api.clone()], suffix.clone(), http.clone(), knobs.rate);
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;

    log(format_args!("fault: Redis primary (node a, :{}) SIGKILL", infra.redis_port));
    let killed_at = Instant::now();
    infra.script_args("sentinel.sh", &["kill", "a"]).await.expect("kill node a");
    let failover = loop {
        let out = Command::new("redis-cli")
            .env("REDISCLI_AUTH", infra.redis_password("sentinels"))
            .args(["--no-auth-warning", "-p", &infra.sentinel_ports[0].to_string()])
            .args(["sentinel", "get-master-addr-by-name", "whistle"])
            .output()
            .await
            .expect("redis-cli");
        if String::from_utf8_lossy(&out.stdout).contains(&infra.replica_port.to_string()) {
            break killed_at.elapsed();
        }
        assert!(killed_at.elapsed() < Duration::from_secs(60), "no failover within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    log(format_args!("the Sentinels promoted node b after {:.1} s", failover.as_secs_f64()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    infra.script_args("sentinel.sh", &["start-node", "a"]).await.expect("node a starts again");
    log("node a is back (the Sentinels make it a replica)");
    tokio::time::sleep(Duration::from_secs(seconds * 2 / 3)).await;
    fleet.lock().await.wait_running_ready(&http).await;
    let stats = load.finish().await;

    let (accepted, verdict) = check_everything(&infra, &cases_topic, &api, &[ws], &http, &stats).await;
    stop_watchdog.cancel();
    let _ = watchdog.await;
    let f = fleet.lock().await;
    println!(
        "{} failover_seconds={:.1} runtime={:.0}s",
        summary("failover", &accepted, &stats, &verdict, &f),
        failover.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_exactly_once(&accepted, &stats, &verdict);
}

/// A broker that takes SASL/SCRAM-SHA-512 logins only (`WHISTLE_KAFKA_SASL=1`): each service logs
/// in as its own user (`WHISTLE_KAFKA__SECURITY_PROTOCOL`, `_SASL_USERNAME`, `_SASL_PASSWORD`,
/// as the Kubernetes overlays set them) under the ACLs of the overlay's KafkaUsers (`kafka.sh
/// acls`; the services run under the production names those grant, see KafkaNames), and every
/// accepted whistle is dispatched, shown and on its timeline exactly once; a client without
/// credentials, or with a wrong password, gets nothing, on the client listener or the controller's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a SASL/SCRAM broker of its own; run by `cargo xtask test` (see docs/faults.md)"]
async fn services_log_in_to_a_scram_broker_and_clients_without_credentials_are_refused() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let knobs = knobs();
    let started = *START.get_or_init(Instant::now);
    check_binaries();
    let infra = Arc::new(Infra::start_with(knobs.keep, RedisMode::Single, true).await);
    // Refused: no login, and a wrong password (librdkafka reports it on the metadata request).
    let metadata = |kafka: whistle_common::settings::KafkaSettings| {
        let consumer: BaseConsumer = whistle_common::kafka::client_config(&kafka).create().expect("client");
        consumer.fetch_metadata(None, Duration::from_secs(5)).map(|m| m.topics().len())
    };
    let open = whistle_common::settings::KafkaSettings { brokers: infra.brokers(), ..Default::default() };
    let wrong = whistle_common::settings::KafkaSettings {
        sasl_password: Some("not-the-password".to_owned().into()),
        ..infra.kafka()
    };
    let controller = whistle_common::settings::KafkaSettings {
        brokers: format!("127.0.0.1:{}", infra.controller_port),
        ..Default::default()
    };
    let (anonymous, anonymous_controller, wrong_password, logged_in) = tokio::task::spawn_blocking({
        let (good, open, wrong) = (infra.kafka(), open, wrong);
        move || (metadata(open), metadata(controller), metadata(wrong), metadata(good))
    })
    .await
    .expect("metadata task");
    log(format_args!(
        "anonymous: {anonymous:?}; anonymous on the controller listener: {anonymous_controller:?}; wrong password: {wrong_password:?}; whistle-test: {logged_in:?}"
    ));
    assert!(anonymous.is_err(), "a client without credentials read metadata: {anonymous:?}");
    assert!(
        anonymous_controller.is_err(),
        "a client without credentials read the controller's metadata: {anonymous_controller:?}"
    );
    assert!(wrong_password.is_err(), "a wrong password read metadata: {wrong_password:?}");
    assert!(logged_in.is_ok(), "whistle-test could not log in: {logged_in:?}");

    let Run { suffix, cases_topic, http, fleet, apis, boards } = Run::start(&infra, 1).await;
    let (api, ws) = (apis[0].clone(), boards[0].clone());
    let load = Load::start(vec![api.clone()], suffix.clone(), http.clone(), knobs.rate);
    tokio::time::sleep(Duration::from_secs(knobs.seconds.min(10))).await;
    let stats = load.finish().await;
    let (accepted, verdict) = check_everything(&infra, &cases_topic, &api, &[ws], &http, &stats).await;
    let f = fleet.lock().await;
    println!("{} runtime={:.0}s", summary("sasl", &accepted, &stats, &verdict, &f), started.elapsed().as_secs_f64());
    assert_exactly_once(&accepted, &stats, &verdict);
}
