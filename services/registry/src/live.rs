//! The live registry: a local copy every router and intake instance keeps, built from the shipped
//! data file and then from the compacted registry topic, and swapped atomically when a newer item
//! record arrives.
//!
//! Look-ups take the time they ask about, so a change published ahead of its effective date
//! starts routing on that date by itself; the topic only has to deliver it before then.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use whistle_common::kafka::DELIVERY_TIMEOUT;
use whistle_common::settings::KafkaSettings;
use whistle_schemas::registry::ItemRecord;

use crate::file::RegistryError;
use crate::model::{Item, Registry};

/// A shared, swappable registry. Readers take a snapshot (`current`) and keep it for one decision,
/// so a decision never sees half of a change.
#[derive(Clone)]
pub struct LiveRegistry {
    inner: Arc<RwLock<Arc<Registry>>>,
}

impl LiveRegistry {
    pub fn new(registry: Registry) -> LiveRegistry {
        LiveRegistry { inner: Arc::new(RwLock::new(Arc::new(registry))) }
    }

    pub fn current(&self) -> Arc<Registry> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies a record if it is newer than the copy's; returns whether it was.
    pub fn apply(&self, record: ItemRecord) -> Result<bool, RegistryError> {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        match guard.with_record(record)? {
            Some(next) => {
                *guard = Arc::new(next);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Puts a validated item in place (the registry service, after Kafka acknowledged it).
    pub fn put(&self, item: Item) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if guard.item(&item.code).is_none_or(|i| i.version < item.version) {
            *guard = Arc::new(guard.with_item(item));
        }
    }
}

/// Publishes an item's record; resolves once Kafka has it (`acks=all`).
pub async fn publish(producer: &FutureProducer, topic: &str, item: &Item) -> anyhow::Result<()> {
    let payload = serde_json::to_vec(&item.to_record()).context("encoding item record")?;
    let key = item.code.to_string();
    producer
        .send(FutureRecord::to(topic).key(&key).payload(&payload), Timeout::After(DELIVERY_TIMEOUT))
        .await
        .map(|_| ())
        .map_err(|(err, _)| anyhow::anyhow!("Kafka did not acknowledge the registry record: {err}"))
}

/// Reads the registry topic from the beginning into `live` and returns once the copy is current as
/// of start-up (the topic's end then), with the consumer to keep following it.
pub async fn catch_up(settings: &KafkaSettings, live: &LiveRegistry) -> anyhow::Result<Follower> {
    let topic = settings.topics.registry.clone();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    // Each copy reads the whole topic itself; the group id is never used for commits.
    let consumer: StreamConsumer = whistle_common::kafka::client_config(settings)
        .set("group.id", format!("whistle-registry-copy-{}-{nanos}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("creating the registry consumer")?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning).context("registry partition")?;
    consumer.assign(&tpl).context("assigning the registry topic")?;
    let consumer = Arc::new(consumer);
    // A topic created a moment ago (by this service's own start-up) may not be known to every
    // part of the broker yet: retry briefly before giving up.
    let mut attempt = 0;
    let high = loop {
        let consumer = consumer.clone();
        let t = topic.clone();
        let read = tokio::task::spawn_blocking(move || consumer.fetch_watermarks(&t, 0, Duration::from_secs(10)))
            .await
            .context("watermark task")?;
        match read {
            Ok((_, high)) => break high,
            Err(err) if attempt < 20 => {
                attempt += 1;
                tracing::debug!(topic, error = %err, attempt, "registry topic not readable yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(err) => return Err(anyhow::Error::new(err).context("reading the registry topic's watermarks")),
        }
    };
    let follower = Follower { consumer, live: live.clone() };
    let mut applied = 0usize;
    let mut next = 0i64;
    while next < high {
        let msg = tokio::time::timeout(Duration::from_secs(30), follower.consumer.recv())
            .await
            .context("timed out catching up with the registry topic")?
            .context("reading the registry topic")?;
        next = msg.offset() + 1;
        applied += usize::from(follower.handle(msg.payload().unwrap_or_default()));
    }
    tracing::info!(topic, records = high, applied, "registry copy caught up");
    Ok(follower)
}

/// Keeps a live copy current after [`catch_up`].
pub struct Follower {
    consumer: Arc<StreamConsumer>,
    live: LiveRegistry,
}

impl Follower {
    /// Applies new records until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                () = token.cancelled() => return Ok(()),
                received = self.consumer.recv() => match received {
                    Ok(msg) => {
                        if self.handle(msg.payload().unwrap_or_default()) {
                            tracing::info!(key = ?msg.key().map(String::from_utf8_lossy), offset = msg.offset(), "registry change applied");
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "registry topic consumer error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
    }

    /// A bad record is logged and passed over: the copy keeps the last good version of the item,
    /// and the topic keeps the record for an operator to see.
    fn handle(&self, payload: &[u8]) -> bool {
        let record: ItemRecord = match serde_json::from_slice(payload) {
            Ok(r) => r,
            Err(err) => {
                tracing::error!(error = %err, "registry record is not valid JSON; the item keeps its last good version");
                return false;
            }
        };
        let code = record.item.code.clone();
        match self.live.apply(record) {
            Ok(applied) => applied,
            Err(err) => {
                tracing::error!(item = %code, error = %err, "registry record refused; the item keeps its last good version");
                false
            }
        }
    }
}
