//! Kafka clients with Whistle's delivery guarantees.
//!
//! Producers are idempotent with `acks=all`: a send that resolves Ok is durable on the broker.
//! Consumers never store an offset by themselves: a service stores it (see `store_offset`) only
//! after the message's side effects are durable, and librdkafka commits stored offsets in the
//! background. A crash therefore replays, never skips; consumers are idempotent on event ids.
//!
//! A consume → produce step that must not repeat its output in the log (the router) uses
//! [`transactional_producer`] and [`transactional_consumer`] instead: the outputs and the input
//! offsets commit in one Kafka transaction. Every consumer reads with
//! `isolation.level=read_committed`, so an aborted transaction's messages are never seen.
//!
//! Every record of the case topic carries its event's CloudEvents `type` in the
//! [`TYPE_HEADER`] header ([`case_record`]), so a consumer that acts on a few types only passes
//! the others over without decoding them ([`passes_over`]). Records written before the header
//! (or by a producer that does not set it) have none and are decoded, as always.

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use whistle_schemas::events::DeadLetter;

use crate::redis_conn::{NotDurable, Redis};
use crate::settings::KafkaSettings;

/// How long a produce may wait for the broker before the caller is told it failed.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// A client configuration for `settings.brokers` with the deployment's security settings
/// (`kafka.security_protocol`, SASL user and password, CA): every Kafka client of every service
/// and test starts from this one.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    use secrecy::ExposeSecret as _;
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.brokers);
    let protocol = settings.security_protocol.to_ascii_lowercase();
    if protocol != "plaintext" {
        config.set("security.protocol", &protocol);
    }
    if protocol.starts_with("sasl") {
        config.set("sasl.mechanism", &settings.sasl_mechanism);
        if let Some(user) = &settings.sasl_username {
            config.set("sasl.username", user);
        }
        if let Some(password) = &settings.sasl_password {
            config.set("sasl.password", password.expose_secret());
        }
    }
    if let Some(ca) = &settings.ssl_ca_location {
        config.set("ssl.ca.location", ca.to_string_lossy());
    }
    config
}

/// The record header holding a case event's CloudEvents `type` (the name the CloudEvents Kafka
/// protocol binding gives that attribute). The payload stays the whole structured event.
pub const TYPE_HEADER: &str = "ce_type";

/// A record of the case topic: the event's JSON, keyed by its whistle, its `type` in
/// [`TYPE_HEADER`]. Every producer of the case topic writes its records with this.
pub fn case_record<'a>(
    topic: &'a str,
    key: &'a str,
    payload: &'a [u8],
    type_name: &'a str,
) -> FutureRecord<'a, str, [u8]> {
    let headers = OwnedHeaders::new_with_capacity(1).insert(Header { key: TYPE_HEADER, value: Some(type_name) });
    FutureRecord::to(topic).key(key).payload(payload).headers(headers)
}

/// The event type `msg`'s [`TYPE_HEADER`] names; `None` when the record has no such header (or
/// it is not UTF-8): decode the payload to know.
pub fn record_type<M: Message>(msg: &M) -> Option<&str> {
    let headers = msg.headers()?;
    let header = headers.iter().find(|h| h.key == TYPE_HEADER)?;
    std::str::from_utf8(header.value?).ok()
}

/// True when a consumer that acts only on the event types `acts_on` may pass `msg` over without
/// decoding it: its header names another type. A record without the header is never passed
/// over (it is decoded and judged by its payload, as before the header existed).
pub fn passes_over<M: Message>(msg: &M, acts_on: &[&str]) -> bool {
    record_type(msg).is_some_and(|kind| !acts_on.contains(&kind))
}

/// An idempotent, `acks=all` producer.
pub fn producer(settings: &KafkaSettings, client_id: &str) -> anyhow::Result<FutureProducer> {
    client_config(settings)
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
        .create()
        .context("creating Kafka producer")
}

/// How long a transaction may stay open before the broker aborts it. It also bounds how long the
/// open transaction of a producer that vanished (and was not restarted with the same
/// `transactional.id`, which would fence it at once) holds back `read_committed` consumers.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// A transactional producer (`acks=all`, idempotent): every send belongs to the open
/// transaction. `transactional_id` must be stable per instance: a restarted instance with the same
/// id fences its predecessor and aborts whatever transaction that one left open. The caller must
/// run `init_transactions` before the first transaction.
pub fn transactional_producer(
    settings: &KafkaSettings,
    client_id: &str,
    transactional_id: &str,
) -> anyhow::Result<FutureProducer> {
    client_config(settings)
        .set("client.id", client_id)
        .set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
        .set("transaction.timeout.ms", TRANSACTION_TIMEOUT.as_millis().to_string())
        .create()
        .context("creating transactional Kafka producer")
}

fn consumer_config(settings: &KafkaSettings, group: &str, client_id: &str) -> ClientConfig {
    let mut config = client_config(settings);
    config
        .set("group.id", group)
        .set("client.id", client_id)
        .set("auto.offset.reset", "earliest")
        // Never see a message of an open or aborted transaction (librdkafka's default; explicit
        // because exactly-once routing depends on it).
        .set("isolation.level", "read_committed")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("fetch.min.bytes", settings.fetch.min_bytes.to_string())
        .set("fetch.wait.max.ms", settings.fetch.wait_ms.to_string());
    config
}

/// The configuration of a group consumer that commits, in the background, only the offsets the
/// service stored explicitly.
fn storing_consumer_config(settings: &KafkaSettings, group: &str, client_id: &str) -> ClientConfig {
    let mut config = consumer_config(settings, group, client_id);
    config
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false");
    config
}

/// A group consumer that only commits offsets the service stored explicitly, fetching as
/// `settings.fetch` says.
pub fn consumer(settings: &KafkaSettings, group: &str, client_id: &str) -> anyhow::Result<StreamConsumer> {
    storing_consumer_config(settings, group, client_id).create().context("creating Kafka consumer")
}

/// A group consumer that never commits by itself: its offsets are committed by a producer's
/// transaction (`send_offsets_to_transaction` with this consumer's group metadata). Its context
/// counts the rebalances it took part in.
pub fn transactional_consumer(
    settings: &KafkaSettings,
    group: &str,
    client_id: &str,
) -> anyhow::Result<StreamConsumer<Rebalances>> {
    consumer_config(settings, group, client_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create_with_context(Rebalances::default())
        .context("creating Kafka consumer")
}

/// A consumer context counting rebalances: a partition is revoked or assigned only between two
/// reads of the counter that differ. librdkafka runs the callback while the consumer is polled
/// (`recv`), never in the middle of the caller's own work between two polls.
#[derive(Debug, Default)]
pub struct Rebalances(std::sync::atomic::AtomicU64);

impl Rebalances {
    /// How many rebalances have begun so far.
    pub fn count(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl rdkafka::ClientContext for Rebalances {}

impl rdkafka::consumer::ConsumerContext for Rebalances {
    fn pre_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        _rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A topic this deployment needs.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub retention_ms: i64,
    pub compacted: bool,
}

/// The topics every deployment has; `docs/architecture.md` documents them.
pub fn standard_topics(settings: &KafkaSettings) -> Vec<TopicSpec> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    vec![
        TopicSpec {
            name: settings.topics.cases.clone(),
            partitions: settings.partitions,
            retention_ms: 30 * DAY_MS,
            compacted: false,
        },
        TopicSpec {
            name: settings.topics.deadletter.clone(),
            partitions: 1,
            retention_ms: 90 * DAY_MS,
            compacted: false,
        },
        // One partition keeps every registry change in one order; compaction keeps the newest
        // record of each item, which carries the item's whole history, forever.
        TopicSpec { name: settings.topics.registry.clone(), partitions: 1, retention_ms: -1, compacted: true },
    ]
}

/// Creates the topics that are missing; existing ones are left as they are.
pub async fn ensure_topics(settings: &KafkaSettings, topics: &[TopicSpec]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(settings).create().context("creating Kafka admin client")?;
    let retention: Vec<String> = topics.iter().map(|t| t.retention_ms.to_string()).collect();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .zip(&retention)
        .map(|(t, retention)| {
            NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(settings.replication_factor))
                .set("retention.ms", retention)
                .set("cleanup.policy", if t.compacted { "compact" } else { "delete" })
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_secs(30))));
    let results = admin.create_topics(&new, &opts).await.context("creating Kafka topics")?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}

/// True when the broker answers a metadata request within `timeout`.
pub async fn broker_reachable<X: rdkafka::consumer::ConsumerContext, C: Consumer<X> + Send + Sync + 'static>(
    client: std::sync::Arc<C>,
    timeout: Duration,
) -> bool {
    tokio::task::spawn_blocking(move || client.fetch_metadata(None, timeout).is_ok()).await.unwrap_or(false)
}

/// Producer variant of [`broker_reachable`].
pub async fn producer_reachable(producer: FutureProducer, timeout: Duration) -> bool {
    tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, timeout).is_ok()).await.unwrap_or(false)
}

/// Writes messages a consumer cannot process to the dead-letter topic, with the reason.
#[derive(Clone)]
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    consumer: String,
}

impl DeadLetters {
    pub fn new(producer: FutureProducer, topic: String, consumer: String) -> Self {
        DeadLetters { producer, topic, consumer }
    }

    /// Returns once the dead letter is durable, so the caller may then store the offset.
    pub async fn send(&self, msg: &impl Message, reason: &str) -> anyhow::Result<()> {
        let letter = DeadLetter {
            topic: msg.topic().to_owned(),
            partition: msg.partition(),
            offset: msg.offset(),
            consumer: self.consumer.clone(),
            reason: reason.to_owned(),
            time: Utc::now(),
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: msg.payload().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
        };
        let payload = serde_json::to_vec(&letter).context("encoding dead letter")?;
        let key = msg.key().unwrap_or_default();
        let record = FutureRecord::to(&self.topic).key(key).payload(&payload);
        self.producer
            .send(record, Timeout::After(DELIVERY_TIMEOUT))
            .await
            .map_err(|(err, _)| anyhow::anyhow!("writing dead letter: {err}"))?;
        tracing::warn!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            reason,
            "message dead-lettered"
        );
        Ok(())
    }
}

/// The completion of the last message started for a key, so the next message with that key waits
/// for it.
type Tail = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// Per key, the last message of [`consume_in_order`] still in flight. An entry leaves when that
/// message finishes, so the map holds at most as many keys as there are messages in flight,
/// however many keys (whistles) the topic has seen. (It once kept every key whose completion no
/// later message had awaited, and swept them all on every insert past a bound: memory and a
/// scan per message that grew with every whistle ever consumed.)
#[derive(Default)]
struct KeyChains {
    tails: std::collections::HashMap<Vec<u8>, (u64, Tail)>,
    next: u64,
}

impl KeyChains {
    /// A message with `key` starts; `done` completes when it finishes. Returns what it must wait
    /// for (the key's previous message, if still in flight) and its number in the chain.
    fn started(&mut self, key: &[u8], done: Tail) -> (Option<Tail>, u64) {
        self.next += 1;
        let seq = self.next;
        let previous = self.tails.insert(key.to_vec(), (seq, done)).map(|(_, tail)| tail);
        (previous, seq)
    }

    /// The message numbered `seq` with `key` finished: the key leaves unless a later message of
    /// it started meanwhile.
    fn finished(&mut self, key: &[u8], seq: u64) {
        if self.tails.get(key).is_some_and(|(last, _)| *last == seq) {
            self.tails.remove(key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tails.len()
    }
}

/// Consumes `consumer` with at most `max_in_flight` messages being handled at once, and stores
/// each message's offset only after its handler succeeded *and* every earlier message did, so the
/// committed position never passes a message whose effects are not durable. Messages with the
/// same key are handled one after the other, in order (a whistle's events apply in sequence);
/// different keys run concurrently.
///
/// Handlers must be idempotent (a crash replays from the last commit) and must deal with poison
/// messages themselves (dead-letter them and return Ok). A handler error is fatal: the loop stops
/// without storing that offset, so the message is replayed on restart. On cancellation the loop
/// stops taking messages, lets the in-flight ones finish, and commits synchronously.
///
/// With `redis` that [needs confirmation](Redis::needs_confirmation) (Sentinels, or replicas
/// that must hold the writes), finished offsets are stored in batches, every
/// [`CONFIRM_EVERY`], once [`Redis::durable`] confirmed the handlers' writes; until then they
/// wait (a crash replays them). A confirmation runs beside the handling, not in its place:
/// while replicas are slow or missing (`WAIT` waits its full timeout and comes back short) the
/// messages go on being handled, and only their offsets wait. A change of Redis primary since the
/// last confirmation ends the loop with an error: writes the old primary had not replicated may
/// be gone, and only a replay from the committed offsets writes them again.
pub async fn consume_in_order<H, Fut>(
    consumer: std::sync::Arc<StreamConsumer>,
    token: tokio_util::sync::CancellationToken,
    max_in_flight: usize,
    redis: Option<Redis>,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(OwnedMessage) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    use futures::StreamExt as _;
    let max_in_flight = max_in_flight.max(1);
    type Position = (String, i32, i64);
    type Finished = (Position, Option<(Vec<u8>, u64)>);
    let mut in_flight: futures::stream::FuturesOrdered<
        std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Finished>> + Send>>,
    > = futures::stream::FuturesOrdered::new();
    let mut chains = KeyChains::default();
    let store_now = |topic: &str, partition: i32, offset: i64| {
        if let Err(err) = consumer.store_offset(topic, partition, offset) {
            // After a rebalance the partition may belong to another member now; it replays.
            tracing::warn!(topic, partition, offset, error = %err, "offset not stored");
        }
    };
    let redis = redis.filter(Redis::needs_confirmation);
    // Finished positions waiting for Redis to confirm the writes behind them.
    let mut unconfirmed: std::collections::BTreeMap<(String, i32), i64> = std::collections::BTreeMap::new();
    let store = |unconfirmed: &mut std::collections::BTreeMap<(String, i32), i64>,
                 topic: String,
                 partition: i32,
                 offset: i64| {
        if redis.is_some() {
            unconfirmed.insert((topic, partition), offset);
        } else {
            store_now(topic.as_str(), partition, offset);
        }
    };
    let mut confirm_tick = tokio::time::interval(CONFIRM_EVERY);
    confirm_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The confirmation under way, and the positions it is for. (It ran in the loop's place
    // before: with a replica missing, each `WAIT` took its 2 s timeout, the next tick was due at
    // once, and the consumer stopped taking messages until a replica came back.)
    type Confirming = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), NotDurable>> + Send>>;
    let mut confirming: Option<Confirming> = None;
    let mut confirming_positions: std::collections::BTreeMap<(String, i32), i64> = std::collections::BTreeMap::new();
    // Since when confirmations fail, and when that was last logged.
    let mut held_since: Option<std::time::Instant> = None;
    let mut last_warned: Option<std::time::Instant> = None;
    let result = loop {
        tokio::select! {
            biased;
            () = token.cancelled() => break Ok(()),
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                match done {
                    Ok(((topic, partition, offset), link)) => {
                        if let Some((key, seq)) = link {
                            chains.finished(&key, seq);
                        }
                        store(&mut unconfirmed, topic, partition, offset);
                    }
                    Err(err) => break Err(err),
                }
            }
            outcome = async { confirming.as_mut().expect("enabled only while confirming").await }, if confirming.is_some() => {
                confirming = None;
                let positions = std::mem::take(&mut confirming_positions);
                match outcome {
                    Ok(()) => {
                        if held_since.take().is_some_and(|since| since.elapsed() >= HELD_BACK_WARNING) {
                            tracing::info!(held = positions.len(), "Redis confirms the writes again; offsets stored");
                        }
                        last_warned = None;
                        for ((topic, partition), offset) in positions {
                            store_now(topic.as_str(), partition, offset);
                        }
                    }
                    Err(err @ NotDurable::PrimaryChanged { .. }) => {
                        break Err(anyhow::Error::new(err).context("offsets held back; replaying from the last committed ones"));
                    }
                    Err(err) => {
                        // Short waits come and go (a replica a little behind); say so once it lasts.
                        let since = *held_since.get_or_insert_with(std::time::Instant::now);
                        if since.elapsed() >= HELD_BACK_WARNING && last_warned.is_none_or(|at| at.elapsed() >= HELD_BACK_WARNING) {
                            tracing::warn!(error = %err, held = positions.len(), held_for_s = since.elapsed().as_secs(), "offsets held back until Redis confirms the writes");
                            last_warned = Some(std::time::Instant::now());
                        }
                        hold_back(&mut unconfirmed, positions);
                    }
                }
            }
            _ = confirm_tick.tick(), if confirming.is_none() && !unconfirmed.is_empty() => {
                if let Some(redis) = redis.clone() {
                    // Every position taken here finished (its writes answered) before the `WAIT`.
                    confirming_positions = std::mem::take(&mut unconfirmed);
                    confirming = Some(Box::pin(async move { redis.durable().await }));
                }
            }
            received = consumer.recv(), if in_flight.len() < max_in_flight => {
                match received {
                    Ok(msg) => {
                        use futures::FutureExt as _;
                        let msg = msg.detach();
                        let position = (msg.topic().to_owned(), msg.partition(), msg.offset());
                        let key = msg.key().map(<[u8]>::to_vec);
                        let handled = handler(msg);
                        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
                        let (previous, link) = match key {
                            Some(key) => {
                                let (previous, seq) = chains.started(&key, done_rx.map(|_| ()).boxed().shared());
                                (previous, Some((key, seq)))
                            }
                            None => (None, None),
                        };
                        in_flight.push_back(Box::pin(async move {
                            if let Some(previous) = previous {
                                previous.await;
                            }
                            let result = handled.await;
                            let _ = done_tx.send(());
                            result.map(|()| (position, link))
                        }));
                    }
                    // Transient client errors (broker down, rebalance); librdkafka retries.
                    Err(err) => {
                        tracing::warn!(error = %err, "Kafka consumer error");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
            }
        }
    };
    // Let what was started finish, so its offsets can be stored; a failure stops the draining.
    // After a handler failed nothing more is stored: the committed position must not pass it.
    while result.is_ok()
        && let Some(done) = in_flight.next().await
    {
        match done {
            Ok(((topic, partition, offset), _)) => store(&mut unconfirmed, topic, partition, offset),
            Err(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "in-flight message not finished; it will be replayed");
                break;
            }
        }
    }
    // A confirmation cut short says nothing: its positions wait for the last one.
    drop(confirming);
    hold_back(&mut unconfirmed, confirming_positions);
    let result = match result {
        Ok(()) => confirm(redis.as_ref(), &mut unconfirmed, &store_now).await,
        Err(err) => Err(err),
    };
    commit_stored(&consumer);
    result
}

/// Consumes `consumer` a batch at a time: waits for one message, takes every further message
/// already fetched (up to `max_batch` in all), hands them to `handler` in the order read, and
/// stores each partition's last offset of the batch only after the handler succeeded. A batch's
/// messages therefore keep their order per partition (a whistle's events apply in sequence),
/// and under load a batch grows to what arrived while the last one was handled: one round trip
/// to a store per batch instead of one per message.
///
/// As with [`consume_in_order`], handlers must be idempotent (a crash replays the batch, or the
/// batches since the last commit) and deal with poison messages themselves; a handler error is
/// fatal and nothing of that batch is stored. On cancellation the loop stops between batches
/// and commits synchronously.
pub async fn consume_batches<H, Fut>(
    consumer: std::sync::Arc<StreamConsumer>,
    token: tokio_util::sync::CancellationToken,
    max_batch: usize,
    mut handler: H,
) -> anyhow::Result<()>
where
    H: FnMut(Vec<OwnedMessage>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use futures::FutureExt as _;
    let max_batch = max_batch.max(1);
    let result = loop {
        let first = tokio::select! {
            biased;
            () = token.cancelled() => break Ok(()),
            received = consumer.recv() => received,
        };
        let first = match first {
            Ok(msg) => msg.detach(),
            // Transient client errors (broker down, rebalance); librdkafka retries.
            Err(err) => {
                tracing::warn!(error = %err, "Kafka consumer error");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut batch = vec![first];
        // What librdkafka has already fetched is ready at once; stop at the first wait.
        while batch.len() < max_batch {
            match consumer.recv().now_or_never() {
                Some(Ok(msg)) => batch.push(msg.detach()),
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "Kafka consumer error");
                    break;
                }
                None => break,
            }
        }
        let mut last: std::collections::BTreeMap<(String, i32), i64> = std::collections::BTreeMap::new();
        for msg in &batch {
            let at = last.entry((msg.topic().to_owned(), msg.partition())).or_insert(msg.offset());
            *at = (*at).max(msg.offset());
        }
        if let Err(err) = handler(batch).await {
            break Err(err);
        }
        for ((topic, partition), offset) in last {
            if let Err(err) = consumer.store_offset(&topic, partition, offset) {
                // After a rebalance the partition may belong to another member now; it replays.
                tracing::warn!(topic, partition, offset, error = %err, "offset not stored");
            }
        }
    };
    commit_stored(&consumer);
    result
}

/// Commits the stored offsets synchronously, as a consumer loop ends (nothing stored is fine).
fn commit_stored(consumer: &StreamConsumer) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(rdkafka::error::KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(err) => tracing::warn!(error = %err, "final offset commit failed; uncommitted messages will be replayed"),
    }
}

/// Puts positions that could not be confirmed back among those waiting, unless a later one of the
/// same partition finished meanwhile (it stands for both).
fn hold_back(
    unconfirmed: &mut std::collections::BTreeMap<(String, i32), i64>,
    positions: std::collections::BTreeMap<(String, i32), i64>,
) {
    for (partition, offset) in positions {
        let waiting = unconfirmed.entry(partition).or_insert(offset);
        *waiting = (*waiting).max(offset);
    }
}

/// How long [`consume_in_order`]'s offsets may wait for Redis's confirmation before it warns (and
/// how often it warns again while they wait).
const HELD_BACK_WARNING: std::time::Duration = std::time::Duration::from_secs(5);

/// How often [`consume_in_order`] confirms its handlers' Redis writes and stores the offsets
/// behind them, when Redis needs confirmation.
pub const CONFIRM_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Stores the `unconfirmed` positions once `redis` confirmed the writes behind them. Replicas
/// that are slow or missing only delay the offsets (logged); a change of primary is an error.
async fn confirm(
    redis: Option<&Redis>,
    unconfirmed: &mut std::collections::BTreeMap<(String, i32), i64>,
    store_now: &impl Fn(&str, i32, i64),
) -> anyhow::Result<()> {
    let Some(redis) = redis else { return Ok(()) };
    if unconfirmed.is_empty() {
        return Ok(());
    }
    match redis.durable().await {
        Ok(()) => {
            for ((topic, partition), offset) in std::mem::take(unconfirmed) {
                store_now(topic.as_str(), partition, offset);
            }
            Ok(())
        }
        Err(err @ NotDurable::PrimaryChanged { .. }) => {
            Err(anyhow::Error::new(err).context("offsets held back; replaying from the last committed ones"))
        }
        Err(err) => {
            tracing::warn!(error = %err, held = unconfirmed.len(), "offsets held back until Redis confirms the writes");
            Ok(())
        }
    }
}

/// Retries `op` with capped exponential backoff until it succeeds or `token` is cancelled.
/// For operations whose failure is transient (a broker or Redis restarting).
/// Why [`retry_while_retryable`] stopped without a value.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The error says a retry cannot help (e.g. a corrupt record): deal with it (dead-letter).
    Permanent(E),
    /// Shutdown came while the operation kept failing: stop without storing the offset.
    Cancelled(E),
}

/// Retries `op` with backoff while its error is `retryable`, until it succeeds, fails for good,
/// or `token` is cancelled.
pub async fn retry_while_retryable<T, E, F, Fut>(
    what: &str,
    token: &tokio_util::sync::CancellationToken,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if !retryable(&err) => return Err(GaveUp::Permanent(err)),
            Err(err) => {
                tracing::warn!(what, error = %err, retry_in_ms = delay.as_millis() as u64, "transient failure; retrying");
                tokio::select! {
                    () = token.cancelled() => return Err(GaveUp::Cancelled(err)),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

pub async fn retry_until_cancelled<T, F, Fut>(
    what: &str,
    token: &tokio_util::sync::CancellationToken,
    mut op: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                tracing::warn!(what, error = %format_args!("{err:#}"), retry_in_ms = delay.as_millis() as u64, "transient failure; retrying");
                tokio::select! {
                    () = token.cancelled() => return Err(err.context(format!("{what}: gave up at shutdown"))),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
    use rdkafka::producer::FutureRecord;

    use super::{KeyChains, TYPE_HEADER, Tail, case_record, passes_over, record_type};

    fn tail() -> (tokio::sync::oneshot::Sender<()>, Tail) {
        use futures::FutureExt as _;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        (tx, rx.map(|_| ()).boxed().shared())
    }

    #[tokio::test]
    async fn key_chains_keep_only_keys_in_flight_and_chain_a_key_behind_its_last_message() {
        let mut chains = KeyChains::default();
        // A hundred thousand whistles, one event each, finished in order: nothing is kept.
        for n in 0u32..100_000 {
            let key = n.to_be_bytes();
            let (tx, done) = tail();
            let (previous, seq) = chains.started(&key, done);
            assert!(previous.is_none(), "a new key waits for nothing");
            let _ = tx.send(());
            chains.finished(&key, seq);
        }
        assert_eq!(chains.len(), 0, "finished keys leave");

        // Two events of one key: the second waits for the first; the key stays until the later
        // one finishes, whichever order the finishes are seen in.
        let (tx1, done1) = tail();
        let (none, seq1) = chains.started(b"w", done1);
        assert!(none.is_none());
        let (_tx2, done2) = tail();
        let (previous, seq2) = chains.started(b"w", done2);
        let previous = previous.expect("the second waits for the first");
        assert!(previous.peek().is_none(), "not finished yet");
        let _ = tx1.send(());
        previous.await;
        chains.finished(b"w", seq1);
        assert_eq!(chains.len(), 1, "the later message is still in flight");
        chains.finished(b"w", seq2);
        assert_eq!(chains.len(), 0);
    }

    fn message(headers: Option<OwnedHeaders>) -> OwnedMessage {
        OwnedMessage::new(
            Some(b"not json".to_vec()),
            Some(b"k".to_vec()),
            "t".into(),
            Timestamp::NotAvailable,
            0,
            0,
            headers,
        )
    }

    fn typed(kind: &str) -> OwnedMessage {
        message(Some(OwnedHeaders::new().insert(Header { key: TYPE_HEADER, value: Some(kind) })))
    }

    #[test]
    fn a_record_whose_header_names_another_type_is_passed_over_and_one_without_it_never() {
        let router = ["whistle.raised", "whistle.rejected"];
        assert!(passes_over(&typed("whistle.acknowledged"), &router));
        assert!(passes_over(&typed("sla.scheduled"), &router));
        assert!(!passes_over(&typed("whistle.raised"), &router));
        assert!(!passes_over(&typed("whistle.rejected"), &router));
        // Written before the header (or by another producer): decoded, whatever it holds.
        assert!(!passes_over(&message(None), &router));
        assert!(!passes_over(&message(Some(OwnedHeaders::new())), &router));
        let other = OwnedHeaders::new().insert(Header { key: "traceparent", value: Some("00-ab") });
        assert!(!passes_over(&message(Some(other)), &router));
        let not_utf8 = OwnedHeaders::new().insert(Header { key: TYPE_HEADER, value: Some(&[0xff_u8, 0xfe][..]) });
        assert_eq!(record_type(&message(Some(not_utf8))), None);
    }

    #[test]
    fn case_records_carry_their_type_in_the_header() {
        let record: FutureRecord<'_, str, [u8]> = case_record("cases", "w1", b"{}", "whistle.raised");
        let headers = record.headers.expect("headers");
        let msg = message(Some(headers));
        assert_eq!(record_type(&msg), Some("whistle.raised"));
        assert_eq!((record.topic, record.key, record.payload), ("cases", Some("w1"), Some(&b"{}"[..])));
    }
}
