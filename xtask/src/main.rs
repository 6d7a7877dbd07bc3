//! Developer commands. `cargo xtask <command>`:
//!
//! - `up`: start Kafka, Redis, every service, build the web console and start the local ingress;
//!   print the URLs.
//! - `down`: stop them all (data is kept).
//! - `test`: run every test against the real Kafka and Redis, starting them if needed, the
//!   fault-injection suite (against its own Kafka and Redis, see `docs/faults.md`), and the
//!   console's browser tests (Debian's Chromium) against the assembled stack.
//! - `schemas`: rewrite `schemas/json/` from the Rust types.
//!
//! The heavy lifting is in `deploy/dev/*.sh`; this crate sequences it and runs cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

const KAFKA: &str = "127.0.0.1:19092";
const REDIS: &str = "redis://127.0.0.1:16379";
const SERVICES: [&str; 5] = ["whistle-registry", "whistle-intake", "whistle-router", "whistle-gateway", "whistle-sla"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(),
        Some("down") => down(),
        Some("test") => test(&args[1..]),
        Some("schemas") => schemas(),
        _ => {
            eprintln!(
                "usage: cargo xtask <up|down|test|schemas>\n  up       start Kafka, Redis and every service with the sample registry, and serve the web console\n  down     stop everything (data is kept)\n  test     run every test against real Kafka and Redis (extra args go to cargo test)\n  schemas  regenerate schemas/json from the Rust types"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn script(name: &str, args: &[&str]) -> anyhow::Result<()> {
    let path = root().join("deploy/dev").join(name);
    run(Command::new("bash").arg(&path).args(args), &format!("{name} {}", args.join(" ")))
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd.current_dir(root()).status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn build_services() -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.arg("build").arg("--bins");
    for s in SERVICES {
        cmd.args(["-p", s]);
    }
    run(&mut cmd, "cargo build (services)")
}

fn up() -> anyhow::Result<()> {
    script("infra.sh", &["up"])?;
    build_services()?;
    script("services.sh", &["start"])?;
    // The web console: `npm ci` when needed, then `npm run build` into services/console/dist,
    // which nginx serves at `/`.
    script("console.sh", &["build"])?;
    script("nginx.sh", &["start"])?;
    println!();
    println!("Whistle is up:");
    println!("  console         http://127.0.0.1:8080/        (zh-CN by default; English at the top right)");
    println!("                  #/town  town dashboard   #/board  department live board   #/manager  manager view");
    println!("  API             http://127.0.0.1:8080/api/v1/  (e.g. http://127.0.0.1:8080/api/v1/towns)");
    println!("  WebSocket       ws://127.0.0.1:8080/ws");
    println!(
        "  metrics         http://127.0.0.1:8081/metrics (intake)  :8082 (gateway)  :8083 (router)  :8084 (sla)  :8085 (registry)"
    );
    println!("  Kafka {KAFKA}   Redis {REDIS}");
    println!("  logs            ~/.cache/whistle/run/logs/    stop with: cargo xtask down");
    Ok(())
}

fn down() -> anyhow::Result<()> {
    script("services.sh", &["stop"])?;
    script("infra.sh", &["down"])
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    script("infra.sh", &["up"])?;
    // tests/prometheus.rs runs its own short-lived Prometheus server.
    script("prometheus.sh", &["install"])?;
    // Unit and integration tests: services run in-process on random ports, with random topic
    // names and Redis key prefixes, against the real broker and Redis.
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("WHISTLE_TEST_KAFKA", KAFKA)
        .env("WHISTLE_TEST_REDIS", REDIS);
    let workspace = run(&mut cmd, "cargo test --workspace");
    // Fault injection: the service binaries as processes, killed and restarted under load, with
    // the suite's own broker and Redis on other ports (the shared ones are never touched).
    // WHISTLE_FAULT_SECONDS / WHISTLE_FAULT_RATE lengthen it (docs/faults.md).
    let faults = build_services().and_then(|()| {
        let mut cmd = cargo();
        cmd.args(["test", "-p", "whistle-tests", "--test", "fault", "--", "--ignored", "--nocapture"]);
        run(&mut cmd, "fault-injection suite")
    });
    // The assembled stack, as a user runs it: binaries, ingress on :8080, default topics.
    let stack = up().and_then(|()| {
        let mut cmd = cargo();
        cmd.args(["test", "-p", "whistle-tests", "--test", "stack", "--", "--ignored", "--test-threads=1"])
            .env("WHISTLE_STACK_URL", "http://127.0.0.1:8080");
        run(&mut cmd, "stack tests")?;
        // A short load-generator run: proves the tool works end to end (not a timed assertion).
        let mut cmd = cargo();
        cmd.args(["run", "--quiet", "-p", "loadtest", "--bin", "loadtest", "--", "--rate", "50", "--count", "100"]);
        run(&mut cmd, "loadtest smoke run")?;
        // The web console in a real browser: Debian's Chromium (installed if missing) driven by
        // playwright-core through the ingress; `npm test` exits non-zero when a test fails.
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("deploy/dev/console.sh")).arg("test").env("WHISTLE_BASE_URL", "http://127.0.0.1:8080");
        run(&mut cmd, "console browser tests")
    });
    let stopped = script("services.sh", &["stop"]);
    workspace?;
    faults?;
    stack?;
    stopped
}

fn schemas() -> anyhow::Result<()> {
    let dir = root().join("schemas/json");
    std::fs::create_dir_all(&dir).context("creating schemas/json")?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, schema) in whistle_schemas::all_schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&schema)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.strip_prefix(root()).unwrap_or(&path).display());
    }
    let ts = root().join(whistle_schemas::TYPESCRIPT_PATH);
    if let Some(dir) = ts.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&ts, whistle_schemas::typescript()).with_context(|| format!("writing {}", ts.display()))?;
    println!("wrote {}", whistle_schemas::TYPESCRIPT_PATH);
    Ok(())
}
