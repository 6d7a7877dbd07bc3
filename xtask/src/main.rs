//! Developer commands. `cargo xtask <command>`:
//!
//! - `up`: start Kafka, Redis, PostgreSQL, every service (release builds; `--debug` for the edit
//!   loop), build the web console and start the local ingress; print the URLs.
//! - `down`: stop them all (data is kept).
//! - `test`: run every test against the real Kafka, Redis and PostgreSQL, starting them if needed, the
//!   fault-injection suite (against its own Kafka and Redis or Sentinels, see `docs/faults.md`),
//!   the console's browser tests (Debian's Chromium) against the assembled stack, and the offline
//!   validation of `deploy/kubernetes` and `deploy/compose`.
//! - `rebuild-ledger`: replay the case topic into an empty ledger database (`--reset` empties
//!   the dev ledger first; stop the ledger service before).
//! - `schemas`: rewrite `schemas/json/`, `schemas/openapi.json` and the console's generated
//!   names (`services/console/src/generated/`) from the Rust types.
//!
//! `cargo xtask --help` and `cargo xtask <command> --help` describe them. The heavy lifting is in
//! `deploy/dev/*.sh`; this crate sequences it and runs cargo.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

const KAFKA: &str = "127.0.0.1:19092";
/// The dev Redis; clients log in as ACL users (`deploy/dev/redis.sh url USER`).
const REDIS: &str = "127.0.0.1:16379";
const SERVICES: [&str; 7] = [
    "whistle-registry",
    "whistle-intake",
    "whistle-router",
    "whistle-gateway",
    "whistle-sla",
    "whistle-ledger",
    "whistle-notify",
];

/// Developer commands of the Whistle workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Start Kafka, Redis, PostgreSQL and every service with the sample registry, and serve the web console.
    Up {
        /// Instances of each stateless service (intake, router, gateway, sla); nginx balances
        /// them. Instance r listens on the first one's port + 10 r.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=9))]
        replicas: u8,
        /// Build and run debug binaries (quicker to rebuild after an edit) instead of release ones.
        #[arg(long)]
        debug: bool,
    },
    /// Stop everything (data is kept).
    Down,
    /// Run every test against real Kafka, Redis and PostgreSQL.
    Test {
        /// Passed on to `cargo test --workspace` (e.g. `-p whistle-intake`, `-- --nocapture`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CARGO_TEST_ARGS")]
        extra: Vec<String>,
    },
    /// Replay the case topic into an empty ledger database (the dev stack's `whistle_ledger`).
    RebuildLedger {
        /// Empty the ledger first (stop the ledger service before: `deploy/dev/services.sh stop`).
        #[arg(long)]
        reset: bool,
    },
    /// Regenerate schemas/json, schemas/openapi.json and the console's generated names from the Rust types.
    Schemas,
}

/// Parses `argv` (program name first). `test`'s extra arguments are handed on exactly as given:
/// clap would drop a leading `--`, which `cargo test -- --nocapture` needs.
fn task(argv: Vec<String>) -> Result<Task, clap::Error> {
    Ok(match Cli::try_parse_from(&argv)?.command {
        Task::Test { .. } => Task::Test { extra: argv[2..].to_vec() },
        other => other,
    })
}

fn main() -> ExitCode {
    // Usage errors and a missing command exit 2, `--help` exits 0 (clap's codes).
    let task = task(std::env::args().collect()).unwrap_or_else(|err| err.exit());
    let result = match task {
        Task::Up { replicas, debug } => up(replicas, if debug { Profile::Debug } else { Profile::Release }),
        Task::Down => down(),
        Task::Test { extra } => test(&extra),
        Task::RebuildLedger { reset } => rebuild_ledger(reset),
        Task::Schemas => schemas(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root. `cargo run` (what `cargo xtask` is) names the package's directory in the
/// environment at run time; that comes first, because the compiled-in path is the one of the
/// clone that built the binary: cargo reuses a build across clones that share a target directory
/// (`.ci/run` caches builds outside the clone), and the first clone may since have gone.
fn root() -> PathBuf {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest_dir.parent().expect("xtask lives in the workspace").to_path_buf()
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

/// The dev PostgreSQL's connection URL (it carries the generated password), from postgres.sh.
fn postgres_url() -> anyhow::Result<String> {
    script_output("postgres.sh", &["url"])
}

/// What `deploy/dev/SCRIPT ARGS...` prints (e.g. `smtp.sh url`, `redis.sh url whistle-test`).
fn script_output(script: &str, args: &[&str]) -> anyhow::Result<String> {
    let arg = args.join(" ");
    let output = Command::new("bash")
        .arg(root().join("deploy/dev").join(script))
        .args(args)
        .current_dir(root())
        .output()
        .with_context(|| format!("running {script} {arg}"))?;
    if !output.status.success() {
        bail!("{script} {arg} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8(output.stdout).with_context(|| format!("{script} {arg} printed no text"))?.trim().to_owned())
}

/// The test suite's Kafka login (`whistle-test`) when the dev broker takes logins only, as it
/// does unless started with `WHISTLE_KAFKA_SASL=0`.
fn test_kafka_login() -> anyhow::Result<Vec<(&'static str, String)>> {
    if script_output("kafka.sh", &["sasl"])? != "on" {
        return Ok(Vec::new());
    }
    Ok(vec![
        ("WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext".to_owned()),
        ("WHISTLE_TEST_KAFKA_SASL_USERNAME", "whistle-test".to_owned()),
        ("WHISTLE_TEST_KAFKA_SASL_PASSWORD", script_output("kafka.sh", &["password", "whistle-test"])?),
    ])
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Which cargo profile the service binaries are built with. Cargo keeps each profile's output in
/// its own directory (`target/debug`, `target/release`), so neither build clobbers the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The directory under the target directory that holds this profile's binaries.
    fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// Where cargo puts this profile's binaries (`CARGO_TARGET_DIR`, else `<workspace>/target`).
fn bin_dir(profile: Profile) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let target = if target.is_absolute() { target } else { root().join(target) };
    target.join(profile.dir())
}

fn build_services(profile: Profile) -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.arg("build").arg("--bins");
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    for s in SERVICES {
        cmd.args(["-p", s]);
    }
    run(&mut cmd, &format!("cargo build (services, {})", profile.dir()))
}

/// Rebuilds the workspace's own crates when the target directory was last used from another
/// clone. Cargo reuses a build across clones that share a target directory (`.ci/run` keeps it
/// outside the clone), and what it reuses names the clone that built it: every
/// `env!("CARGO_MANIFEST_DIR")` in a test, a tool or a default points into that clone, which may
/// hold another commit or be gone ("services/console/src/generated/names.ts is stale or missing"
/// from a test that read another clone's file). Dependencies stay cached; a stamp in the target
/// directory names the clone its workspace crates were last built from.
fn own_crates_built_here() -> anyhow::Result<()> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    let target =
        PathBuf::from(metadata["target_directory"].as_str().context("cargo metadata names no target directory")?);
    let root = root().canonicalize().context("the workspace root")?;
    let here = root.display().to_string();
    let stamp = target.join("whistle-workspace-root");
    let rebuild = match std::fs::read_to_string(&stamp) {
        Ok(last) if last.trim() == here => return Ok(()),
        Ok(last) => {
            eprintln!(
                "xtask: {} was last built from {}; rebuilding the workspace's own crates",
                target.display(),
                last.trim()
            );
            true
        }
        // No stamp yet: a target directory inside this clone (`target/`) was built from it; one
        // outside may hold another clone's build.
        Err(_) => !target.starts_with(&root),
    };
    if rebuild {
        let members: Vec<&str> = metadata["packages"]
            .as_array()
            .context("cargo metadata lists no packages")?
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for profile in [None, Some("--release")] {
            let mut cmd = cargo();
            cmd.arg("clean").args(profile);
            for member in &members {
                cmd.args(["-p", member]);
            }
            run(&mut cmd, "cargo clean of the workspace's own crates")?;
        }
    }
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    std::fs::write(&stamp, &here).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// `cargo xtask up` runs release binaries (production speed, what docs/performance.md measures);
/// `--debug` and `cargo xtask test` run debug ones.
fn up(replicas: u8, profile: Profile) -> anyhow::Result<()> {
    own_crates_built_here()?;
    script("infra.sh", &["up"])?;
    build_services(profile)?;
    let services = root().join("deploy/dev/services.sh");
    run(
        Command::new("bash")
            .arg(&services)
            .arg("start")
            .env("WHISTLE_REPLICAS", replicas.to_string())
            .env("WHISTLE_BIN_DIR", bin_dir(profile)),
        "services.sh start",
    )?;
    // The web console: `npm ci` when needed, then `npm run build` into services/console/dist,
    // which nginx serves at `/`.
    script("console.sh", &["build"])?;
    // Started, or given the current upstreams (one server per replica) if it already runs.
    script("nginx.sh", &["reload"])?;
    println!();
    println!("Whistle is up:");
    println!("  console         http://127.0.0.1:8080/        (zh-CN by default; English at the top right)");
    println!("                  #/town  town dashboard   #/board  department live board   #/manager  manager view");
    println!("  API             http://127.0.0.1:8080/api/v1/  (e.g. http://127.0.0.1:8080/api/v1/towns)");
    println!("  WebSocket       ws://127.0.0.1:8080/ws");
    println!(
        "  metrics         http://127.0.0.1:8081/metrics (intake)  :8082 (gateway)  :8083 (router)  :8084 (sla)  :8085 (registry)  :8086 (ledger)  :8087 (notify)"
    );
    if replicas > 1 {
        println!("                  replica r of intake, gateway, router and sla: the port above + 10 r (e.g. :8091)");
    }
    println!(
        "  Kafka {KAFKA} (SASL/SCRAM: deploy/dev/kafka.sh password whistle-test)   Redis {REDIS} (deploy/dev/redis.sh url admin)   PostgreSQL 127.0.0.1:15432 (deploy/dev/postgres.sh url)"
    );
    println!(
        "  single sign-on  the dev OpenID Connect provider at http://127.0.0.1:19400 (deploy/dev/oidc.sh user SUB ACCOUNT: its subject SUB signs in as ACCOUNT)"
    );
    println!("  logs            ~/.cache/whistle/run/logs/    stop with: cargo xtask down");
    println!("  binaries        {} ({} build)", bin_dir(profile).display(), profile.dir());
    Ok(())
}

fn rebuild_ledger(reset: bool) -> anyhow::Result<()> {
    script("infra.sh", &["up"])?;
    script("postgres.sh", &["create", "whistle_ledger"])?;
    let url = match std::env::var("WHISTLE_LEDGER_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            postgres_url()?.rsplit_once('/').map(|(base, _)| format!("{base}/whistle_ledger")).context("a URL")?
        }
    };
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "-p", "whistle-ledger", "--bin", "whistle-ledger", "--", "rebuild"]);
    if reset {
        cmd.arg("--reset");
    }
    cmd.env("WHISTLE_DATABASE__URL", url)
        .env("WHISTLE_KAFKA__BROKERS", KAFKA)
        // The service's settings demand a signing key; the rebuild verifies no token.
        .env("WHISTLE_AUTH__JWT_SECRET", "rebuild-ledger-verifies-no-token-0123456789");
    // It reads the case topic as the ledger's own Kafka user when the broker takes logins only.
    if script_output("kafka.sh", &["sasl"])? == "on" {
        cmd.env("WHISTLE_KAFKA__SECURITY_PROTOCOL", "sasl_plaintext")
            .env("WHISTLE_KAFKA__SASL_USERNAME", "whistle-ledger")
            .env("WHISTLE_KAFKA__SASL_PASSWORD", script_output("kafka.sh", &["password", "whistle-ledger"])?);
    }
    run(&mut cmd, "whistle-ledger rebuild")
}

fn down() -> anyhow::Result<()> {
    script("services.sh", &["stop"])?;
    script("infra.sh", &["down"])
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    own_crates_built_here()?;
    script("infra.sh", &["up"])?;
    // tests/prometheus.rs runs its own short-lived Prometheus server.
    script("prometheus.sh", &["install"])?;
    // The stack test validates the served OpenAPI document with an independent validator.
    script("openapi.sh", &["install"])?;
    // The stack test speaks Open311 with an independent client (PyPI's georeport).
    script("georeport.sh", &["install"])?;
    // Unit and integration tests: services run in-process on random ports, with random topic
    // names, Redis key prefixes and PostgreSQL databases, against the real broker, Redis and
    // PostgreSQL.
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .env("WHISTLE_TEST_KAFKA", KAFKA)
        // The test suite's own Redis user (random key prefixes: any key, no dangerous command).
        .env("WHISTLE_TEST_REDIS", script_output("redis.sh", &["url", "whistle-test"])?)
        .env("WHISTLE_TEST_POSTGRES", postgres_url()?)
        .envs(test_kafka_login()?)
        .env("WHISTLE_TEST_SMTP", script_output("smtp.sh", &["url"])?)
        .env("WHISTLE_TEST_MAILBOX", script_output("smtp.sh", &["mailbox"])?)
        // tests/oidc.rs signs in through the dev OpenID Connect provider (infra.sh up starts it).
        .env("WHISTLE_TEST_OIDC", script_output("oidc.sh", &["url"])?);
    let workspace = run(&mut cmd, "cargo test --workspace");
    // Fault injection: the service binaries as processes, killed and restarted under load, with
    // the suite's own broker and Redis on other ports (the shared ones are never touched).
    // WHISTLE_FAULT_SECONDS / WHISTLE_FAULT_RATE lengthen it (docs/faults.md).
    // Debug binaries, like the workspace tests' build (CI builds no release profile).
    let faults = build_services(Profile::Debug).and_then(|()| {
        let mut cmd = cargo();
        // One scenario at a time: each runs its own broker, Redis (or Sentinels) and fleet.
        cmd.args([
            "test",
            "-p",
            "whistle-tests",
            "--test",
            "fault",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ]);
        run(&mut cmd, "fault-injection suite")
    });
    // The assembled stack, as a user runs it: binaries, ingress on :8080, default topics.
    let stack = up(1, Profile::Debug).and_then(|()| {
        let mut cmd = cargo();
        cmd.args(["test", "-p", "whistle-tests", "--test", "stack", "--", "--ignored", "--test-threads=1"])
            .env("WHISTLE_STACK_URL", "http://127.0.0.1:8080");
        run(&mut cmd, "stack tests")?;
        // A short load-generator run: proves the tool works end to end (not a timed assertion).
        let mut cmd = cargo();
        cmd.args(["run", "--quiet", "-p", "loadtest", "--bin", "loadtest", "--", "--rate", "50", "--count", "100"])
            .envs(test_kafka_login()?);
        run(&mut cmd, "loadtest smoke run")?;
        // The web console in a real browser: Debian's Chromium (installed if missing) driven by
        // playwright-core through the ingress; `npm test` exits non-zero when a test fails.
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("deploy/dev/console.sh")).arg("test").env("WHISTLE_BASE_URL", "http://127.0.0.1:8080");
        run(&mut cmd, "console browser tests")
    });
    let stopped = script("services.sh", &["stop"]);
    // The production deployment, validated offline (no cluster or container engine here):
    // kustomize builds of both overlays against the Kubernetes schemas, the Strimzi resources,
    // every WHISTLE_* variable against the settings, docker-compose config.
    let deployment = script("validate-deploy.sh", &[]);
    workspace?;
    faults?;
    stack?;
    deployment?;
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
    std::fs::write(&ts, whistle_case::console::console_names()).with_context(|| format!("writing {}", ts.display()))?;
    println!("wrote {}", whistle_schemas::TYPESCRIPT_PATH);
    let openapi = root().join("schemas/openapi.json");
    std::fs::write(&openapi, serde_json::to_string_pretty(&whistle_schemas::openapi::document())? + "\n")
        .with_context(|| format!("writing {}", openapi.display()))?;
    println!("wrote schemas/openapi.json");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Task, clap::Error> {
        task(std::iter::once("xtask").chain(args.iter().copied()).map(str::to_owned).collect())
    }

    fn extra(args: &[&str]) -> Vec<String> {
        match parse(args).expect("parses") {
            Task::Test { extra } => extra,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_is_shown_for_the_tool_and_each_command() {
        for args in
            [&["--help"][..], &["-h"], &["up", "--help"], &["down", "--help"], &["test", "--help"], &["schemas", "-h"]]
        {
            assert_eq!(parse(args).expect_err("help").kind(), ErrorKind::DisplayHelp, "{args:?}");
        }
    }

    #[test]
    fn no_command_shows_the_usage_and_an_unknown_one_is_refused_with_exit_code_2() {
        let missing = parse(&[]).expect_err("usage");
        assert_eq!(missing.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(missing.exit_code(), 2);
        let unknown = parse(&["upp"]).expect_err("unknown");
        assert_eq!(unknown.kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(unknown.exit_code(), 2);
    }

    #[test]
    fn the_documented_commands_parse() {
        assert!(matches!(parse(&["up"]), Ok(Task::Up { replicas: 1, debug: false })));
        assert!(matches!(parse(&["up", "--replicas", "2"]), Ok(Task::Up { replicas: 2, debug: false })));
        assert!(matches!(parse(&["up", "--debug"]), Ok(Task::Up { replicas: 1, debug: true })));
        assert!(matches!(parse(&["up", "--debug", "--replicas", "3"]), Ok(Task::Up { replicas: 3, debug: true })));
        assert_eq!(parse(&["up", "--debug=no"]).expect_err("a flag takes no value").exit_code(), 2);
        assert_eq!(parse(&["up", "--release"]).expect_err("unknown flag").exit_code(), 2);
        for bad in ["0", "10", "two"] {
            assert_eq!(parse(&["up", "--replicas", bad]).expect_err(bad).exit_code(), 2, "--replicas {bad}");
        }
        assert!(matches!(parse(&["down"]), Ok(Task::Down)));
        assert!(matches!(parse(&["schemas"]), Ok(Task::Schemas)));
        assert!(extra(&["test"]).is_empty());
    }

    #[test]
    fn up_runs_release_binaries_and_debug_ones_on_request_each_from_its_own_directory() {
        assert_eq!(bin_dir(Profile::Release).file_name().and_then(|n| n.to_str()), Some("release"));
        assert_eq!(bin_dir(Profile::Debug).file_name().and_then(|n| n.to_str()), Some("debug"));
        assert_eq!(bin_dir(Profile::Release).parent(), bin_dir(Profile::Debug).parent());
    }

    #[test]
    fn test_passes_every_extra_argument_to_cargo_test_as_given() {
        for args in [
            &["-p", "whistle-intake"][..],
            &["--", "--nocapture"],
            &["-p", "whistle-tests", "--test", "walking_skeleton", "--", "--test-threads=1"],
            &["walking_skeleton", "--no-fail-fast"],
            &["-p", "x", "--help"],
        ] {
            let given: Vec<&str> = std::iter::once("test").chain(args.iter().copied()).collect();
            assert_eq!(extra(&given), args, "{given:?}");
        }
    }
}
