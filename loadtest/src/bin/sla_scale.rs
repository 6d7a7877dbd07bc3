//! SLA timers at scale: how many open timers one SLA instance holds, and how late breaches fire.
//!
//! Seeds N open cases straight into the SLA state in Redis (as the SLA consumer would have
//! written them), with acknowledgement deadlines spread over a window that starts after the
//! seeding, then starts one real SLA service on an isolated topic and reads back every
//! `sla.breached` it publishes: lateness = event time − deadline.
//!
//! Usage: `cargo run --release -p loadtest --bin sla-scale -- [--cases 100000] [--spread-secs 300]`
//! against the Kafka and Redis of `cargo xtask up` (or `WHISTLE_TEST_KAFKA` / `WHISTLE_TEST_REDIS`;
//! without it, Redis as `whistle-test`, from `deploy/dev/redis.sh url whistle-test`).
//! Stops by itself; removes its Redis keys at the end.

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use secrecy::SecretString;
use uuid::Uuid;
use whistle_common::settings::{AuthSettings, HttpSettings, KafkaSettings, RedisSettings, Topics};
use whistle_schemas::Names;
use whistle_schemas::events::{Authority, CaseEvent, CaseEventBody, Decoded, DepartmentRef, Dispatched, decode};
use whistle_sla::case::CaseSla;
use whistle_sla::policy::Policies;
use whistle_sla::store::SlaStore;

const ACK_SECONDS: i64 = 600;
const PARTITIONS: i32 = 6;

fn policy_json() -> String {
    format!(
        r#"{{"note":"sla-scale","default_calendar":"c","calendars":{{"c":{{"utc_offset":"+08:00","weekdays":["mon","tue","wed","thu","fri","sat","sun"],"hours":[["00:00","23:59"]]}}}},
        "policies":[{{"name":"scale","warn_ratio":0.99,
          "acknowledge":{{"seconds":{ACK_SECONDS},"clock":"wall"}},"arrive":{{"seconds":86400,"clock":"wall"}},"resolve":{{"seconds":604800,"clock":"wall"}},
          "escalation":[{{"to":"duty_officer","after_seconds":0}},{{"to":"department_head","after_seconds":3600}}]}}]}}"#
    )
}

/// SLA timers at scale: seeds open cases into the SLA state, runs one SLA service on an isolated
/// topic and reports how late their breaches fire. Uses the Kafka and Redis of `cargo xtask up`,
/// or `WHISTLE_TEST_KAFKA` / `WHISTLE_TEST_REDIS`.
#[derive(Debug, Parser)]
#[command(name = "sla-scale", version)]
struct Cli {
    /// Open cases seeded, each with an acknowledgement deadline.
    #[arg(long, default_value_t = 100_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    cases: usize,
    /// Seconds over which the deadlines are spread.
    #[arg(long, default_value_t = 300)]
    spread_secs: i64,
}

/// The dev Redis takes logins only: the test suite's user, as `deploy/dev/redis.sh url` prints it.
fn dev_redis_url() -> anyhow::Result<String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/redis.sh");
    let out = std::process::Command::new("bash").arg(&script).args(["url", "whistle-test"]).output()?;
    anyhow::ensure!(out.status.success(), "redis.sh url whistle-test: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { cases, spread_secs: spread } = Cli::parse();
    let brokers = std::env::var("WHISTLE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into());
    let redis_url = match std::env::var("WHISTLE_TEST_REDIS") {
        Ok(url) => url,
        Err(_) => dev_redis_url()?,
    };
    let suffix = Uuid::new_v4().simple().to_string()[..10].to_owned();
    let kafka = KafkaSettings {
        brokers: brokers.clone(),
        topics: Topics {
            cases: format!("scale-{suffix}.cases"),
            deadletter: format!("scale-{suffix}.deadletter"),
            registry: format!("scale-{suffix}.registry"),
        },
        partitions: PARTITIONS,
        replication_factor: 1,
        ..KafkaSettings::default()
    };
    // The dev broker takes logins only: the test suite's, as `cargo xtask test` passes it.
    let mut kafka = kafka;
    if let Ok(protocol) = std::env::var("WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL") {
        kafka.security_protocol = protocol;
        kafka.sasl_username = std::env::var("WHISTLE_TEST_KAFKA_SASL_USERNAME").ok();
        kafka.sasl_password = std::env::var("WHISTLE_TEST_KAFKA_SASL_PASSWORD").ok().map(SecretString::from);
    }
    let redis = RedisSettings {
        url: SecretString::from(redis_url),
        key_prefix: format!("scale:{suffix}:"),
        ..Default::default()
    };
    let policy_path = std::env::temp_dir().join(format!("sla-scale-{suffix}.json"));
    std::fs::write(&policy_path, policy_json())?;
    let policies = Policies::load(&policy_path)?;
    let policy = policies.by_name("scale");
    whistle_common::kafka::ensure_topics(&kafka, &whistle_common::kafka::standard_topics(&kafka)).await?;
    let store = SlaStore::new(whistle_common::redis_conn::managed(&redis).await?, redis.key_prefix.clone());
    // From here on the run has keys in Redis: they are removed however it ends.
    let outcome: anyhow::Result<usize> = async {
        // Deadlines start after the seeding is expected to finish, spread evenly over the window.
        let seed_allowance = chrono::Duration::seconds(30 + (cases as i64) / 2000);
        let first_due = Utc::now() + seed_allowance;
        let started = Instant::now();
        let calendar = policies.calendar("500103");
        let seeded = futures::stream::iter(0..cases)
            .map(|i| {
                let store = store.clone();
                let due = first_due + chrono::Duration::milliseconds(spread * 1000 * i as i64 / cases as i64);
                let dispatched_at = due - chrono::Duration::seconds(ACK_SECONDS);
                let event = CaseEvent::new(
                    Uuid::new_v4(),
                    "/loadtest/sla-scale",
                    Uuid::new_v4(),
                    dispatched_at,
                    CaseEventBody::Dispatched(Dispatched {
                        department: DepartmentRef {
                            code: "500103-EE".into(),
                            names: Names { zh: "x".into(), en: "x".into() },
                        },
                        district: "500103".into(),
                        item: "CQ-ENV-001".into(),
                        authority: Some(Authority::Recovered),
                        triage: false,
                        basis: "sla-scale".into(),
                        registry_version: None,
                        assisting: vec![],
                    }),
                );
                let case = CaseSla::dispatched(
                    &event,
                    (i % PARTITIONS as usize) as i32,
                    "500103-EE",
                    "500103",
                    "CQ-ENV-001",
                    policy,
                );
                let timers = case.timers(policy, calendar, &Default::default());
                let keys = case.all_keys(policy);
                async move { store.save(&case, &keys, &timers).await }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        for r in seeded {
            r?;
        }
        let seed_secs = started.elapsed().as_secs_f64();
        let mut armed = 0;
        for p in 0..PARTITIONS {
            armed += store.armed(p).await?;
        }
        println!("seeded {cases} open cases in {seed_secs:.1}s; {armed} timers armed on {PARTITIONS} partitions");
        if Utc::now() > first_due {
            println!(
                "warning: seeding overran the allowance; the first deadlines were already due when the service started"
            );
        }

        // One real SLA instance owns every partition. Its HTTP API verifies tokens: a key of its own
        // (nothing here signs one).
        let settings = whistle_sla::Settings {
            http: HttpSettings::new(0),
            kafka: kafka.clone(),
            redis: redis.clone(),
            registry_path: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/data/registry.json"),
            policy_path: policy_path.clone(),
            group_id: format!("scale-{suffix}-sla"),
            gauge_seconds: 3600,
            auth: AuthSettings {
                jwt_secret: SecretString::from(format!("sla-scale-{}", Uuid::new_v4().simple())),
                ..Default::default()
            },
            ..Default::default()
        };
        let app = whistle_sla::Application::build(settings).await?;
        let sla = tokio::spawn(app.run_until_stopped(std::future::pending()));

        let consumer: StreamConsumer = whistle_common::kafka::client_config(&kafka)
            .set("group.id", format!("scale-{suffix}-reader"))
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .create()?;
        consumer.subscribe(&[&kafka.topics.cases])?;
        let mut lateness = Histogram::<u64>::new(3)?;
        let deadline = Instant::now() + Duration::from_secs((seed_allowance.num_seconds() + spread + 180) as u64);
        let mut seen = std::collections::HashSet::new();
        while seen.len() < cases && Instant::now() < deadline {
            let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await else { continue };
            if let Ok(Decoded::Event(event)) = decode(msg.payload().unwrap_or_default())
                && let CaseEventBody::SlaBreached(b) = &event.body
                && seen.insert(event.subject)
            {
                lateness.record((event.time - b.deadline).num_milliseconds().max(0) as u64)?;
            }
        }
        sla.abort();
        println!(
            "breaches seen: {} of {cases}; lateness p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
            seen.len(),
            lateness.value_at_quantile(0.5),
            lateness.value_at_quantile(0.9),
            lateness.value_at_quantile(0.99),
            lateness.max()
        );
        Ok(seen.len())
    }
    .await;

    // Clean up the Redis keys of this run.
    let mut conn = whistle_common::redis_conn::managed(&redis).await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", redis.key_prefix))
            .arg("COUNT")
            .arg(5000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK").arg(&keys).query_async(&mut conn).await?;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let _ = std::fs::remove_file(&policy_path);
    let seen = outcome?;
    if seen < cases {
        bail!("only {seen} of {cases} breaches fired in time");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_is_shown() {
        assert_eq!(parse("sla-scale --help").expect_err("help").kind(), ErrorKind::DisplayHelp);
    }

    #[test]
    fn the_documented_runs_parse() {
        let cli = parse("sla-scale").expect("parses");
        assert_eq!((cli.cases, cli.spread_secs), (100_000, 300));
        let cli = parse("sla-scale --cases 100000 --spread-secs 300").expect("parses");
        assert_eq!((cli.cases, cli.spread_secs), (100_000, 300));
        let cli = parse("sla-scale --cases 500 --spread-secs 10").expect("parses");
        assert_eq!((cli.cases, cli.spread_secs), (500, 10));
    }

    #[test]
    fn no_cases_and_unknown_flags_are_refused() {
        for line in ["sla-scale --cases 0", "sla-scale --cases x", "sla-scale --spread 3"] {
            assert!(parse(line).is_err(), "{line}");
        }
    }
}
