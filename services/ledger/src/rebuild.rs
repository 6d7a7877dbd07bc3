//! Rebuilding the ledger: the case topic replayed from its beginning into an empty ledger, with
//! the same [`LedgerStore::apply`] as the live consumer, so the result equals the incremental one
//! (a test proves it). `cargo xtask rebuild-ledger` runs `whistle-ledger rebuild`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use whistle_common::settings::KafkaSettings;
use whistle_schemas::events::{Decoded, decode};

use crate::store::{Applied, LedgerStore};

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub messages: u64,
    pub written: u64,
    pub duplicates: u64,
    pub refused: u64,
    pub undecodable: u64,
}

/// How long the replay waits for a message before it checks whether it reached the end.
const IDLE: Duration = Duration::from_secs(2);
/// Idle checks without progress after which the replay ends (transaction markers at a
/// partition's end are never delivered as messages).
const IDLE_ROUNDS: u32 = 3;

/// Replays the whole case topic (as it is when the replay starts) into `store`, in each
/// partition's order. No consumer group offsets are committed.
pub async fn replay(kafka: &KafkaSettings, store: &LedgerStore) -> anyhow::Result<Replayed> {
    let group = format!("ledger-rebuild-{}", uuid::Uuid::new_v4().simple());
    let consumer: StreamConsumer = whistle_common::kafka::client_config(kafka)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .create()
        .context("creating the replay consumer")?;
    let topic = kafka.topics.cases.clone();
    let (consumer, ends) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let timeout = Duration::from_secs(10);
        let metadata = consumer.fetch_metadata(Some(&topic), timeout).context("reading the case topic's metadata")?;
        let partitions: Vec<i32> =
            metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        anyhow::ensure!(!partitions.is_empty(), "the case topic {topic} has no partitions");
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for p in partitions {
            let (low, high) = consumer.fetch_watermarks(&topic, p, timeout).context("reading watermarks")?;
            if high > low {
                ends.insert(p, high);
                assignment.add_partition_offset(&topic, p, Offset::Beginning)?;
            }
        }
        consumer.assign(&assignment).context("assigning the case topic")?;
        Ok((consumer, ends))
    })
    .await
    .context("replay set-up")??;
    let mut done = Replayed::default();
    let mut remaining = ends.clone();
    let mut idle_rounds = 0;
    while !remaining.is_empty() {
        match tokio::time::timeout(IDLE, consumer.recv()).await {
            Ok(Ok(msg)) => {
                idle_rounds = 0;
                done.messages += 1;
                let (partition, offset) = (msg.partition(), msg.offset());
                match decode(msg.payload().unwrap_or_default()) {
                    Ok(Decoded::Event(event)) => match store.apply(&event).await? {
                        Applied::Written => done.written += 1,
                        Applied::Duplicate => done.duplicates += 1,
                        Applied::Refused(_) => done.refused += 1,
                    },
                    Ok(Decoded::UnknownType(_)) => {}
                    Err(_) => done.undecodable += 1,
                }
                if remaining.get(&partition).is_some_and(|&end| offset + 1 >= end) {
                    remaining.remove(&partition);
                }
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "replay consumer error"),
            Err(_) => {
                // Past the last message, only transaction markers may remain.
                let position = consumer.position().context("reading the replay position")?;
                remaining.retain(|p, end| {
                    let at = position.find_partition(&kafka.topics.cases, *p).and_then(|e| e.offset().to_raw());
                    at.is_none_or(|at| at < *end)
                });
                idle_rounds += 1;
                if idle_rounds >= IDLE_ROUNDS {
                    tracing::info!(partitions = ?remaining.keys().collect::<Vec<_>>(), "replay idle: ending at the last delivered message");
                    break;
                }
            }
        }
    }
    Ok(done)
}
