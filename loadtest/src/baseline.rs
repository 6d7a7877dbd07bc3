//! Baselines measured in the same run, on the same machine: what the raw parts can do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::report::histogram;

fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// The brokers as a client of the dev stack reaches them: with the test suite's SASL login when
/// the broker takes logins only (`WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL`, `…_SASL_USERNAME`,
/// `…_SASL_PASSWORD`, as `cargo xtask test` passes them; `deploy/dev/kafka.sh password
/// whistle-test` prints the password).
pub fn kafka_settings(brokers: &str, partitions: i32) -> whistle_common::settings::KafkaSettings {
    let mut settings =
        whistle_common::settings::KafkaSettings { brokers: brokers.to_owned(), partitions, ..Default::default() };
    if let Ok(protocol) = std::env::var("WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL") {
        settings.security_protocol = protocol;
        settings.sasl_username = std::env::var("WHISTLE_TEST_KAFKA_SASL_USERNAME").ok();
        settings.sasl_password =
            std::env::var("WHISTLE_TEST_KAFKA_SASL_PASSWORD").ok().map(secrecy::SecretString::from);
    }
    settings
}

/// Creates a topic of the load generator's own; when that fails without a login configured, says
/// how to give one (the dev broker takes SASL logins only, and a client without one times out).
pub async fn create_topic(
    settings: &whistle_common::settings::KafkaSettings,
    spec: whistle_common::kafka::TopicSpec,
) -> anyhow::Result<()> {
    let result = whistle_common::kafka::ensure_topics(settings, &[spec]).await;
    if settings.sasl_username.is_none() {
        return result.context(NO_LOGIN);
    }
    result
}

/// What a failed topic creation without a login adds to the error.
pub const NO_LOGIN: &str = "could not create a topic on the broker, and no Kafka login is set; the dev broker takes \
     SASL logins only: set WHISTLE_TEST_KAFKA_SECURITY_PROTOCOL=sasl_plaintext, WHISTLE_TEST_KAFKA_SASL_USERNAME=whistle-test \
     and WHISTLE_TEST_KAFKA_SASL_PASSWORD=\"$(deploy/dev/kafka.sh password whistle-test)\" (pipeline: or skip its \
     baselines with --no-baselines)";

/// Produce (idempotent, acks=all, like intake) → consume on a fresh topic, open loop at `rate`:
/// latency from the intended send time to consumption.
pub async fn kafka_round_trip(brokers: &str, rate: u64, count: u64, size: usize) -> anyhow::Result<Histogram<u64>> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("loadtest-baseline-{}", &suffix[..10]);
    let settings = kafka_settings(brokers, 6);
    let spec = whistle_common::kafka::TopicSpec {
        name: topic.clone(),
        partitions: 6,
        retention_ms: 3_600_000,
        compacted: false,
    };
    create_topic(&settings, spec).await?;
    let producer: FutureProducer = whistle_common::kafka::producer(&settings, "loadtest-baseline")?;
    let consumer: StreamConsumer = whistle_common::kafka::client_config(&settings)
        .set("group.id", format!("loadtest-baseline-{suffix}"))
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    consumer.subscribe(&[&topic])?;
    // Let the group settle so the first messages are not measured waiting for an assignment.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while consumer.assignment().map(|a| a.count()).unwrap_or(0) == 0 {
            let _ = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await;
        }
    })
    .await;
    let padding = "x".repeat(size.saturating_sub(20));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let base = micros_now();
    let sender = {
        let topic = topic.clone();
        tokio::spawn(async move {
            for n in 0..count {
                let intended = start + interval.mul_f64(n as f64);
                tokio::time::sleep_until(intended.into()).await;
                let stamp = base + (intended - start).as_micros() as u64;
                let payload = format!("{stamp}:{padding}");
                let key = n.to_string();
                let producer = producer.clone();
                let topic = topic.clone();
                tokio::spawn(async move {
                    let _ = producer
                        .send(FutureRecord::to(&topic).key(&key).payload(&payload), Duration::from_secs(10))
                        .await;
                });
            }
        })
    };
    let mut h = histogram();
    let deadline = Instant::now() + Duration::from_secs_f64(count as f64 / rate as f64 + 20.0);
    while h.len() < count && Instant::now() < deadline {
        let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await else { continue };
        let Some(stamp) = msg
            .payload()
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        h.record(micros_now().saturating_sub(stamp).max(1))?;
    }
    sender.abort();
    Ok(h)
}

/// A bare WebSocket server broadcasting `frames` frames of `size` bytes to `clients` clients:
/// delivered frames per second.
pub async fn ws_broadcast(clients: usize, frames: u64, size: usize) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, _) = broadcast::channel::<Arc<String>>(4096);
    let server_tx = tx.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut rx = server_tx.subscribe();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Ok(frame) = rx.recv().await {
                    if ws.send(WsMessage::Text(frame.as_str().into())).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}")).await.context("bare client connects")?;
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while tx.receiver_count() < clients {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let frame = Arc::new("y".repeat(size));
    let start = Instant::now();
    for _ in 0..frames {
        let _ = tx.send(frame.clone());
        tokio::task::yield_now().await;
    }
    let want = frames * clients as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    for t in tasks {
        t.abort();
    }
    server.abort();
    Ok(received.load(Ordering::Relaxed) as f64 / secs)
}
