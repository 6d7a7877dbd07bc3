//! The Kafka side of the outcome figures: [`read_log`] reads a case topic from its beginning to
//! its current end, for `assist-figures` and `loadtest figures`. The figures themselves are
//! computed by the pure `whistle_case::figures` (definitions there and in docs/figures.md), which
//! the ledger's `GET /api/v1/figures` uses too.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use uuid::Uuid;
use whistle_schemas::events::{CaseEvent, Decoded, decode};

/// Reads every case event on `topic` from the beginning up to the end as of the call. Payloads
/// that are not case events, or of types this build does not know, are skipped (and counted).
/// Blocking: call from a blocking thread.
pub fn read_log(
    kafka: &whistle_common::settings::KafkaSettings,
    topic: &str,
    timeout: StdDuration,
) -> anyhow::Result<(Vec<CaseEvent>, usize)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};

    let consumer: BaseConsumer = whistle_common::kafka::client_config(kafka)
        .set("group.id", format!("whistle-figures-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // The router writes in transactions: never count an aborted dispatch.
        .set("isolation.level", "read_committed")
        .create()
        .context("creating the Kafka consumer")?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout).context("fetching topic metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions (does it exist?)");

    let mut assignment = TopicPartitionList::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, *p, timeout).context("fetching watermarks")?;
        if high > low {
            ends.insert(*p, high);
            assignment.add_partition_offset(topic, *p, Offset::Beginning).context("assigning")?;
        }
    }
    let mut events = Vec::new();
    let mut skipped = 0usize;
    if ends.is_empty() {
        return Ok((events, skipped));
    }
    consumer.assign(&assignment).context("assigning partitions")?;
    let deadline = std::time::Instant::now() + timeout * 10;
    while !ends.is_empty() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "timed out reading {topic}");
        let Some(msg) = consumer.poll(StdDuration::from_millis(200)) else { continue };
        let msg = msg.context("reading the topic")?;
        match msg.payload().map(decode) {
            Some(Ok(Decoded::Event(event))) => events.push(*event),
            _ => skipped += 1,
        }
        if ends.get(&msg.partition()).is_some_and(|end| msg.offset() + 1 >= *end) {
            ends.remove(&msg.partition());
        }
    }
    Ok((events, skipped))
}
