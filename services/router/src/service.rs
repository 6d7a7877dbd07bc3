//! The consume → decide → produce loop, one Kafka transaction per batch.
//!
//! A batch is what arrives within `linger` of its first message (at most `max_messages`). For each
//! batch the router begins a transaction, produces every output (routed events and dead letters),
//! adds the batch's next offsets with the consumer's group metadata (KIP-447: a member that lost
//! its partitions in a rebalance cannot commit them), and commits. Outputs and offsets become
//! visible together or not at all, so a crash replays the batch without leaving a second copy of
//! its outputs in the committed log.
//!
//! A batch that routes nothing (the raises' and returns' are one event type in five) opens no
//! transaction: its offsets wait in [`Carried`] and commit with the next transaction, or on their
//! own once they are [`CARRY_FOR`] old. A rebalance drops them (a partition this instance no
//! longer owns, or owned again since, must not be committed from an older read); their messages
//! are then consumed again after a restart and passed over again, which changes nothing.
//!
//! On an abortable error the transaction is aborted and the batch's partitions still assigned
//! are rewound to the batch's first offsets (earlier batches committed, or carried and still
//! waiting for a commit), so the messages are consumed and decided again. A fatal error (a newer
//! instance with the same `transactional.id` fenced this one) ends the loop, and with it the
//! service.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_case::{Effect, effect};
use whistle_common::kafka::{DELIVERY_TIMEOUT, DeadLetters, Rebalances, case_record, passes_over};
use whistle_registry::LiveRegistry;
use whistle_schemas::events::{Decoded, decode};

use crate::decide::{Outcome, decide, reroute};
use crate::metrics::Metrics;

/// How long one call to the transaction coordinator (init, send offsets, commit, abort) may block.
const TXN_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a retriable coordinator error (a timeout, a coordinator moving) is retried in place.
const TXN_CALL_ATTEMPTS: u32 = 3;
/// How long the offsets of batches that routed nothing wait for a transaction before one is
/// opened for them alone: how far the group's committed offsets may trail what it has read.
pub const CARRY_FOR: Duration = Duration::from_secs(2);

/// The router's consumer: its context counts rebalances (see [`Carried`]).
pub type RouterConsumer = StreamConsumer<Rebalances>;

/// The next offsets of batches that routed nothing, not committed yet.
#[derive(Debug, Default)]
struct Carried {
    next: HashMap<(String, i32), i64>,
    /// When the first of them was read.
    since: Option<tokio::time::Instant>,
    /// The consumer's rebalance count then: the offsets are good only while it stands.
    rebalances: u64,
}

impl Carried {
    /// Keeps `batch`'s offsets, read while the consumer's rebalance count was `rebalances`.
    fn add(&mut self, batch: &[OwnedMessage], rebalances: u64) {
        if self.since.is_none() || self.rebalances != rebalances {
            *self = Carried { since: Some(tokio::time::Instant::now()), rebalances, ..Carried::default() };
        }
        for msg in batch {
            let entry = self.next.entry((msg.topic().to_owned(), msg.partition())).or_insert(0);
            *entry = (*entry).max(msg.offset() + 1);
        }
    }

    /// When the carried offsets must be committed, if there are any.
    fn due(&self) -> Option<tokio::time::Instant> {
        self.since.map(|since| since + CARRY_FOR)
    }

    /// The offsets still good after `rebalances` rebalances (none if one began since).
    fn valid(&self, rebalances: u64) -> impl Iterator<Item = (&(String, i32), &i64)> {
        self.next.iter().filter(move |_| self.rebalances == rebalances)
    }
}

/// A test seam, awaited after a batch's outputs were produced and before its offsets and commit.
/// An error aborts the transaction as an abortable Kafka error would; a future that never resolves
/// stands for a crash in the middle of a transaction.
pub type BeforeCommit = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;

/// How much one transaction takes.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_messages: usize,
    pub linger: Duration,
}

#[derive(Clone)]
pub struct Router {
    /// The local copy of the registry, kept current from the registry topic.
    pub registry: LiveRegistry,
    /// Transactional (`kafka::transactional_producer`), transactions initialised.
    pub producer: FutureProducer,
    pub cases_topic: Arc<str>,
    /// Writes with `producer`, so dead letters commit with the batch too.
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
    pub batch: BatchLimits,
    /// None in production.
    pub before_commit: Option<BeforeCommit>,
    /// Input events whose outputs this instance committed lately (see [`Recent`]).
    pub recent: Arc<std::sync::Mutex<Recent>>,
}

/// The ids of input events this instance routed in committed transactions, the newest
/// `capacity`. A client retrying a raise after an ambiguous Kafka timeout can leave the same
/// `whistle.raised` (same event id) twice in the log; routing the second copy again would only
/// write a second, identical dispatch, which consumers drop by its id. Skipping it keeps the log
/// to one dispatch record per raise in the usual case. Only ids whose dispatch is committed are
/// remembered, so an aborted transaction's input is routed again; after a restart or a rebalance
/// the memory is empty and a late copy is routed again, which is harmless.
#[derive(Debug, Default)]
pub struct Recent {
    ids: std::collections::HashSet<Uuid>,
    order: std::collections::VecDeque<Uuid>,
    capacity: usize,
}

impl Recent {
    pub fn new(capacity: usize) -> Recent {
        Recent { capacity: capacity.max(1), ..Recent::default() }
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }

    pub fn insert(&mut self, id: Uuid) {
        if self.ids.insert(id) {
            self.order.push_back(id);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }
}

/// Whether retrying can help.
#[derive(Debug, thiserror::Error)]
enum TxnError {
    /// Abort the transaction and consume the batch again.
    #[error("{0:#}")]
    Abortable(anyhow::Error),
    /// The producer can do nothing more: this instance was fenced, or the client broke.
    #[error("{0:#}")]
    Fatal(anyhow::Error),
}

impl TxnError {
    fn kafka(what: &'static str, err: KafkaError) -> TxnError {
        let fatal = matches!(&err, KafkaError::Transaction(e) if e.is_fatal());
        let err = anyhow::Error::new(err).context(what);
        if fatal { TxnError::Fatal(err) } else { TxnError::Abortable(err) }
    }
}

fn retriable(err: &KafkaError) -> bool {
    matches!(err, KafkaError::Transaction(e) if e.is_retriable() && !e.is_fatal())
}

/// Runs a blocking producer/consumer call off the async threads.
async fn blocking<T: Send + 'static>(call: impl FnOnce() -> KafkaResult<T> + Send + 'static) -> KafkaResult<T> {
    tokio::task::spawn_blocking(call).await.unwrap_or(Err(KafkaError::Canceled))
}

/// The event types the router acts on: it routes raises and re-routes returned cases
/// ([`Router::step`]'s `Effect::Raised` and `Effect::Rejected`). Records of every other type are
/// passed over by their [`whistle_common::kafka::TYPE_HEADER`] without being decoded.
pub const ROUTES: &[&str] = &["whistle.raised", "whistle.rejected"];

/// What one consumed message turns into.
enum Step {
    /// Nothing to publish (another event type, a reroute that is not needed).
    Skip,
    Publish(Routed),
    /// Not a case event: to the dead-letter topic with the reason.
    DeadLetter(String),
}

struct Routed {
    /// The input event's id.
    input: Uuid,
    whistle: Uuid,
    outcome: Outcome,
    output: &'static str,
    key: String,
    payload: Vec<u8>,
}

impl Router {
    /// Makes `producer` transactional: fences any earlier producer with the same
    /// `transactional.id` and aborts the transaction it left open. Call once, before [`run`].
    ///
    /// [`run`]: Router::run
    pub async fn init_transactions(producer: &FutureProducer) -> anyhow::Result<()> {
        let mut attempt = 0;
        loop {
            let p = producer.clone();
            match blocking(move || p.init_transactions(Duration::from_secs(30))).await {
                Ok(()) => return Ok(()),
                Err(err) if retriable(&err) && attempt < TXN_CALL_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(error = %err, attempt, "initialising transactions; retrying");
                }
                Err(err) => return Err(anyhow::Error::new(err).context("initialising Kafka transactions")),
            }
        }
    }

    /// Runs until `token` is cancelled or a transaction fails fatally.
    pub async fn run(self, consumer: Arc<RouterConsumer>, token: CancellationToken) -> anyhow::Result<()> {
        let mut failures: u32 = 0;
        let mut carried = Carried::default();
        loop {
            let batch = tokio::select! {
                biased;
                () = token.cancelled() => return Ok(()),
                batch = next_batch(&consumer, self.batch, carried.due()) => batch,
            };
            let steps = self.plan(&batch).map_err(|err| err.context("routing transaction"))?;
            let routes_nothing = steps.iter().all(|step| matches!(step, Step::Skip));
            let due = carried.due().is_some_and(|due| tokio::time::Instant::now() >= due);
            if routes_nothing && !batch.is_empty() && !due {
                carried.add(&batch, consumer.context().count());
                self.metrics.skipped.inc_by(batch.len() as u64);
                self.metrics.carried_batches.inc();
                continue;
            }
            // A started transaction is finished even at shutdown: each call is bounded.
            match self.transact(&consumer, &batch, steps, &carried).await {
                Ok(()) => {
                    failures = 0;
                    carried = Carried::default();
                }
                Err(TxnError::Fatal(err)) => {
                    tracing::error!(error = %format_args!("{err:#}"), "routing transaction failed fatally; stopping");
                    return Err(err.context("routing transaction"));
                }
                Err(TxnError::Abortable(err)) => {
                    failures += 1;
                    tracing::warn!(
                        error = %format_args!("{err:#}"),
                        messages = batch.len(),
                        failures,
                        "routing transaction failed; aborting it and consuming its batch again"
                    );
                    self.abort(&token).await?;
                    self.metrics.transactions.with_label_values(&["aborted"]).inc();
                    rewind(&consumer, &batch).await?;
                    let delay = Duration::from_millis(100 * 2u64.pow(failures.min(6))).min(Duration::from_secs(5));
                    tokio::select! {
                        () = token.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// What each message of `batch` turns into; a copy of an input already routed, earlier in
    /// this batch or in a committed one, is passed over (see `Recent`). An error is fatal.
    fn plan(&self, batch: &[OwnedMessage]) -> anyhow::Result<Vec<Step>> {
        let mut steps = batch.iter().map(|msg| self.step(msg)).collect::<anyhow::Result<Vec<Step>>>()?;
        let recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut in_batch = std::collections::HashSet::new();
        for step in &mut steps {
            if let Step::Publish(routed) = step
                && (recent.contains(&routed.input) || !in_batch.insert(routed.input))
            {
                tracing::info!(whistle = %routed.whistle, event = %routed.input, "a repeated input event passed over");
                self.metrics.repeats.inc();
                *step = Step::Skip;
            }
        }
        Ok(steps)
    }

    /// Publishes `steps` (the plan of `batch`) and commits them with the batch's offsets and the
    /// carried ones in one transaction.
    async fn transact(
        &self,
        consumer: &Arc<RouterConsumer>,
        batch: &[OwnedMessage],
        steps: Vec<Step>,
        carried: &Carried,
    ) -> Result<(), TxnError> {
        // Rebalances run only inside `recv`: the count read here holds until the commit.
        let offsets = next_offsets(batch, carried.valid(consumer.context().count())).map_err(TxnError::Fatal)?;
        if offsets.count() == 0 {
            // Only carried offsets, dropped by a rebalance: nothing to commit.
            return Ok(());
        }
        self.producer.begin_transaction().map_err(|err| TxnError::kafka("beginning a transaction", err))?;
        let sends = steps.iter().zip(batch).map(|(step, msg)| async move {
            match step {
                Step::Skip => Ok(()),
                Step::Publish(routed) => {
                    let record = case_record(&self.cases_topic, &routed.key, &routed.payload, routed.output);
                    self.producer
                        .send(record, Timeout::After(DELIVERY_TIMEOUT))
                        .await
                        .map(|_| ())
                        .map_err(|(err, _)| TxnError::kafka("publishing a routed event", err))
                }
                Step::DeadLetter(reason) => self.dead_letters.send(msg, reason).await.map_err(TxnError::Abortable),
            }
        });
        futures::future::try_join_all(sends).await?;
        if let Some(hook) = &self.before_commit {
            hook().await.map_err(TxnError::Abortable)?;
        }
        let metadata = consumer.group_metadata().ok_or_else(|| {
            TxnError::Abortable(anyhow::anyhow!("the consumer has no group metadata (not in the group yet)"))
        })?;
        let producer = self.producer.clone();
        self.coordinator("adding the batch's offsets to the transaction", move || {
            producer.send_offsets_to_transaction(&offsets, &metadata, TXN_CALL_TIMEOUT)
        })
        .await?;
        let producer = self.producer.clone();
        self.coordinator("committing the transaction", move || producer.commit_transaction(TXN_CALL_TIMEOUT)).await?;

        self.metrics.transactions.with_label_values(&["committed"]).inc();
        {
            let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for step in &steps {
                if let Step::Publish(routed) = step {
                    recent.insert(routed.input);
                }
            }
        }
        if !batch.is_empty() {
            self.metrics.batch_messages.observe(batch.len() as f64);
        }
        for step in steps {
            match step {
                Step::Skip => self.metrics.skipped.inc(),
                Step::DeadLetter(_) => self.metrics.dead_letters.inc(),
                Step::Publish(routed) => {
                    self.metrics.routed.with_label_values(&[routed.outcome.label()]).inc();
                    tracing::info!(
                        whistle = %routed.whistle,
                        outcome = routed.outcome.label(),
                        output = routed.output,
                        "whistle routed"
                    );
                }
            }
        }
        Ok(())
    }

    /// A coordinator call, retried in place while the error says a retry can help.
    async fn coordinator(
        &self,
        what: &'static str,
        call: impl Fn() -> KafkaResult<()> + Send + Sync + 'static,
    ) -> Result<(), TxnError> {
        let call = Arc::new(call);
        let mut attempt = 0;
        loop {
            let c = call.clone();
            match blocking(move || c()).await {
                Ok(()) => return Ok(()),
                Err(err) if retriable(&err) && attempt < TXN_CALL_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(what, error = %err, attempt, "transaction call failed; retrying it");
                }
                Err(err) => return Err(TxnError::kafka(what, err)),
            }
        }
    }

    /// Aborts the open transaction, retrying while the broker is away; an error means the
    /// producer is unusable (fenced) or the service is stopping.
    async fn abort(&self, token: &CancellationToken) -> anyhow::Result<()> {
        let mut delay = Duration::from_millis(200);
        loop {
            let producer = self.producer.clone();
            match blocking(move || producer.abort_transaction(TXN_CALL_TIMEOUT)).await {
                Ok(()) => return Ok(()),
                Err(err) if retriable(&err) => {
                    tracing::warn!(error = %err, "aborting the transaction failed; retrying");
                    tokio::select! {
                        () = token.cancelled() => return Err(anyhow::Error::new(err).context("aborting the transaction: gave up at shutdown")),
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot abort the transaction; stopping");
                    return Err(anyhow::Error::new(err).context("aborting the transaction"));
                }
            }
        }
    }

    /// What `msg` turns into. Pure apart from reading the registry copy and the clock.
    fn step(&self, msg: &OwnedMessage) -> anyhow::Result<Step> {
        // Seven events in eight are for others: those whose header says so are not decoded.
        if passes_over(msg, ROUTES) {
            return Ok(Step::Skip);
        }
        let event = match decode(msg.payload().unwrap_or_default()) {
            Ok(Decoded::Event(event)) => event,
            Ok(Decoded::UnknownType(kind)) => {
                tracing::debug!(kind, "unknown event type passed over");
                return Ok(Step::Skip);
            }
            Err(err) => return Ok(Step::DeadLetter(err.to_string())),
        };
        let registry = self.registry.current();
        let (outcome, output) = match effect(&event.body) {
            Effect::Raised(raised) => decide(&registry, &event, raised, Utc::now()),
            Effect::Rejected(rejected) => match reroute(&registry, &event, rejected, Utc::now()) {
                Some(output) => (Outcome::Rerouted, output),
                None => return Ok(Step::Skip),
            },
            // The router routes raises and re-routes returns; the rest is for others.
            Effect::Routed(_)
            | Effect::Registered(_)
            | Effect::Reopened(_)
            | Effect::Confirmed(_)
            | Effect::Transferred(_)
            | Effect::Progressed(_)
            | Effect::Resolved(_)
            | Effect::Paused(_)
            | Effect::Resumed
            | Effect::Sla(_)
            | Effect::Enforcement(_)
            | Effect::Merged(_)
            | Effect::Absorbed(_)
            | Effect::Step => return Ok(Step::Skip),
        };
        let payload = serde_json::to_vec(&output).context("encoding routed event")?;
        Ok(Step::Publish(Routed {
            input: event.id,
            whistle: event.subject,
            outcome,
            output: output.type_name(),
            key: output.subject.to_string(),
            payload,
        }))
    }
}

/// Waits for a message, then takes what else arrives within `limits.linger`, up to
/// `limits.max_messages`; empty if `until` passes first. Cancel-safe: a dropped batch was not
/// committed and is consumed again.
async fn next_batch(
    consumer: &RouterConsumer,
    limits: BatchLimits,
    until: Option<tokio::time::Instant>,
) -> Vec<OwnedMessage> {
    let mut batch = Vec::new();
    while batch.is_empty() {
        let received = match until {
            Some(until) => match tokio::time::timeout_at(until, consumer.recv()).await {
                Ok(received) => received,
                Err(_) => return batch,
            },
            None => consumer.recv().await,
        };
        match received {
            Ok(msg) => batch.push(msg.detach()),
            // Transient client errors (broker down, rebalance); librdkafka retries.
            Err(err) => {
                tracing::warn!(error = %err, "Kafka consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let deadline = tokio::time::Instant::now() + limits.linger;
    while batch.len() < limits.max_messages {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(msg)) => batch.push(msg.detach()),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "Kafka consumer error");
                break;
            }
            Err(_) => break,
        }
    }
    batch
}

/// Per partition of `batch` and of `carried`, the offset after its last message: what the
/// transaction commits.
fn next_offsets<'a>(
    batch: &'a [OwnedMessage],
    carried: impl Iterator<Item = (&'a (String, i32), &'a i64)>,
) -> anyhow::Result<TopicPartitionList> {
    let mut next: HashMap<(&str, i32), i64> =
        carried.map(|((topic, partition), next)| ((topic.as_str(), *partition), *next)).collect();
    for msg in batch {
        let entry = next.entry((msg.topic(), msg.partition())).or_insert(0);
        *entry = (*entry).max(msg.offset() + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset)).context("building the offset list")?;
    }
    Ok(tpl)
}

/// Seeks each partition of `batch` this consumer still owns back to the batch's first message on
/// it, so an aborted batch is consumed again. A partition revoked meanwhile needs nothing: its
/// new owner starts from the committed offset. An error here is fatal: without the seek the
/// batch's messages would be skipped, so the service stops and a restart replays them.
async fn rewind(consumer: &Arc<RouterConsumer>, batch: &[OwnedMessage]) -> anyhow::Result<()> {
    let mut first: HashMap<(String, i32), i64> = HashMap::new();
    for msg in batch {
        let entry = first.entry((msg.topic().to_owned(), msg.partition())).or_insert(i64::MAX);
        *entry = (*entry).min(msg.offset());
    }
    let consumer = consumer.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let assigned = consumer.assignment().context("reading the assignment to rewind")?;
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &first {
            if assigned.find_partition(topic, *partition).is_some() {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .context("building the seek list")?;
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let sought = consumer.seek_partitions(tpl, TXN_CALL_TIMEOUT).context("rewinding the aborted batch")?;
        for elem in sought.elements() {
            elem.error()
                .with_context(|| format!("rewinding {} [{}] to {:?}", elem.topic(), elem.partition(), elem.offset()))?;
        }
        Ok(())
    })
    .await
    .context("rewind task")?
}

#[cfg(test)]
mod tests {
    use super::{ROUTES, Recent};
    use uuid::Uuid;
    use whistle_schemas::events::CaseEventBody;

    #[test]
    fn the_routed_types_are_case_event_types() {
        for kind in ROUTES {
            assert!(CaseEventBody::TYPES.contains(kind), "{kind}");
        }
    }

    #[test]
    fn recent_ids_keep_the_newest_up_to_capacity() {
        let mut recent = Recent::new(2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        recent.insert(a);
        recent.insert(b);
        recent.insert(a);
        assert!(recent.contains(&a) && recent.contains(&b));
        recent.insert(c);
        assert!(!recent.contains(&a), "the oldest is forgotten");
        assert!(recent.contains(&b) && recent.contains(&c));
    }
}
