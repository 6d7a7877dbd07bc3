//! Fan-out of channel streams to the sessions of this gateway.
//!
//! One reader task tails the Redis stream of every channel that has a local subscriber, and
//! publishes each entry once into that channel's bounded broadcast queue. It blocks on the bell
//! alone (`CaseStore::bell_key`: one small entry per projected event, naming the streams written)
//! and then reads only the watched streams the bell named; every second, and whenever a channel
//! is added, it reads all of them (a sweep), so a trimmed bell entry delays a frame by at most a
//! second and never loses it. (Before, it re-issued one `XREAD BLOCK` over every watched stream
//! after each wake-up: 201 µs of Redis per call with about 130 streams, a third of Redis's
//! command time at 200 whistles/s.)
//! Each frame carries the cursor of the entry before it (`prev`), so a session can tell a gap
//! (it joined between two reads, or the hub started the channel at a later point) and fill it
//! from Redis: the stream, not the queue, is the source of truth. A frame is rendered once as
//! full readers see it, and at most once more, on first use, as towns see it ([`Frame::text_for`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use redis::streams::{StreamReadOptions, StreamReadReply};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use whistle_case::Visibility;
use whistle_casestore::{CaseStore, Channel, Cursor, StreamEntry};
use whistle_common::redis_conn;
use whistle_common::settings::RedisSettings;

use crate::redact;
use crate::snapshots::{Admission, Snapshots};

/// The longest the reader goes without reading every watched stream, unless configured
/// ([`HubConfig::sweep_every`]).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Entries one read takes per stream; a stream that had more is read again at once.
const READ_COUNT: usize = 512;

/// The id of the last entry of `stream`, or `0-0` when it has none (or does not exist).
async fn last_entry_id(conn: &mut redis::aio::MultiplexedConnection, stream: &str) -> anyhow::Result<String> {
    let last: redis::streams::StreamRangeReply =
        redis::cmd("XREVRANGE").arg(stream).arg("+").arg("-").arg("COUNT").arg(1).query_async(conn).await?;
    Ok(last.ids.first().map_or_else(|| "0-0".to_owned(), |e| e.id.clone()))
}

/// One entry of a channel, rendered once as the `event` frame every subscriber receives.
#[derive(Debug)]
pub struct Frame {
    pub prev: Cursor,
    pub cursor: Cursor,
    /// The frame as full readers get it. Shared by every subscriber: cloning it is a
    /// reference-count increment, not a copy.
    pub text: Utf8Bytes,
    /// The frame as towns get it, narrowed on first use and then shared in turn; `None` inside
    /// when towns are not sent this entry.
    town: OnceLock<Option<Utf8Bytes>>,
}

impl Frame {
    pub fn new(prev: Cursor, cursor: Cursor, text: Utf8Bytes) -> Frame {
        Frame { prev, cursor, text, town: OnceLock::new() }
    }

    /// The frame as a reader with `visibility` gets it; `None` when it is not sent to them.
    pub fn text_for(&self, visibility: Visibility) -> Option<Utf8Bytes> {
        match visibility {
            Visibility::Full => Some(self.text.clone()),
            Visibility::Town => self
                .town
                .get_or_init(|| redact::rendered_event_frame(&self.text, visibility).map(Utf8Bytes::from))
                .clone(),
        }
    }
}

/// Renders a stream entry as an `event` frame without decoding the stored JSON.
pub fn render(channel: &Channel, entry: &StreamEntry) -> String {
    let channel = serde_json::to_string(&channel.to_string()).unwrap_or_else(|_| "\"\"".into());
    format!(
        r#"{{"type":"event","channel":{channel},"cursor":"{}","event":{},"case":{}}}"#,
        entry.cursor, entry.event, entry.case
    )
}

/// A stream entry's `event` frame as a reader with `visibility` gets it; `None` when it is not
/// sent to them.
pub fn render_for(channel: &Channel, entry: &StreamEntry, visibility: Visibility) -> Option<String> {
    match visibility {
        Visibility::Full => Some(render(channel, entry)),
        Visibility::Town => redact::event_frame(channel, entry.cursor, &entry.event, &entry.case, visibility),
    }
}

struct Slot {
    tx: broadcast::Sender<Arc<Frame>>,
    /// Where the reader continues; `None` until the first subscriber has read its starting point.
    last: Option<Cursor>,
    subscribers: usize,
}

/// Says whether a channel names a department, town or district that exists.
pub type KnownChannels = Arc<dyn Fn(&Channel) -> bool + Send + Sync>;

pub struct Hub {
    /// `None`: every well-formed channel is accepted (tests without a registry).
    known: Option<KnownChannels>,
    slots: Mutex<HashMap<Channel, Slot>>,
    changed: Notify,
    store: CaseStore,
    capacity: usize,
    /// Redis client id of the reader's connection, for `CLIENT UNBLOCK` when channels change.
    reader_id: AtomicU64,
    /// Set when the reader must read every watched stream before it waits on the bell again
    /// (a channel was added, or a read returned a full count).
    resweep: AtomicBool,
    sweep_every: Duration,
    snapshots: Snapshots,
    admission: Admission,
}

/// How a hub serves subscribes.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Frames a channel queues per session.
    pub capacity: usize,
    /// Cases in one snapshot or page.
    pub max_snapshot_cases: usize,
    pub subscribes_per_second: f64,
    pub subscribes_burst: u32,
    pub subscribe_max_wait: Duration,
    /// The longest the reader goes without reading every watched stream; between sweeps it reads
    /// the streams the bell names.
    pub sweep_every: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            capacity: 1024,
            max_snapshot_cases: 500,
            subscribes_per_second: 500.0,
            subscribes_burst: 200,
            subscribe_max_wait: Duration::from_secs(10),
            sweep_every: SWEEP_EVERY,
        }
    }
}

/// A session's membership of a channel; leaving is dropping it.
pub struct Membership {
    hub: Arc<Hub>,
    channel: Channel,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut slots = self.hub.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(&self.channel) {
            slot.subscribers -= 1;
            if slot.subscribers == 0 {
                slots.remove(&self.channel);
            }
        }
    }
}

impl Hub {
    pub fn new(store: CaseStore, capacity: usize) -> Arc<Hub> {
        Hub::with_known(store, HubConfig { capacity, ..HubConfig::default() }, None)
    }

    /// A hub that refuses channels `known` does not recognise.
    pub fn with_known(store: CaseStore, config: HubConfig, known: Option<KnownChannels>) -> Arc<Hub> {
        Arc::new(Hub {
            known,
            slots: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            snapshots: Snapshots::new(store.clone(), config.max_snapshot_cases),
            admission: Admission::new(config.subscribes_per_second, config.subscribes_burst, config.subscribe_max_wait),
            store,
            capacity: config.capacity,
            reader_id: AtomicU64::new(0),
            resweep: AtomicBool::new(true),
            sweep_every: config.sweep_every.max(Duration::from_millis(10)),
        })
    }

    /// Snapshots shared by the sessions of this gateway.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// The turn of a subscribe (or page), gateway-wide.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Whether the channel names something that exists.
    pub fn knows(&self, channel: &Channel) -> bool {
        self.known.as_ref().is_none_or(|known| known(channel))
    }

    pub fn store(&self) -> &CaseStore {
        &self.store
    }

    /// Joins a channel. Frames published from now on are queued in the returned receiver.
    pub fn join(self: &Arc<Self>, channel: &Channel) -> (Membership, broadcast::Receiver<Arc<Frame>>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(channel.clone()).or_insert_with(|| Slot {
            tx: broadcast::channel(self.capacity).0,
            last: None,
            subscribers: 0,
        });
        slot.subscribers += 1;
        (Membership { hub: self.clone(), channel: channel.clone() }, slot.tx.subscribe())
    }

    /// Tells the reader where a channel's stream may be read from, if it does not know yet.
    pub async fn start_at(&self, channel: &Channel, cursor: Cursor) {
        let started = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get_mut(channel) {
                Some(slot) if slot.last.is_none() => {
                    slot.last = Some(cursor);
                    true
                }
                _ => false,
            }
        };
        if started {
            self.resweep.store(true, Ordering::Release);
            self.changed.notify_one();
            // The reader may be blocked on the old set of streams; wake it so the new channel is
            // live now rather than after the block times out. Missing this only adds latency.
            let id = self.reader_id.load(Ordering::Relaxed);
            if id != 0 {
                let mut conn = self.store.connection();
                let _: Result<i64, _> = redis::cmd("CLIENT").arg("UNBLOCK").arg(id).query_async(&mut conn).await;
            }
        }
    }

    /// Tails the channel streams until `token` is cancelled, reconnecting on errors.
    pub async fn run_reader(self: Arc<Self>, redis: RedisSettings, token: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(100);
        while !token.is_cancelled() {
            match self.read_loop(&redis, &token).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %format_args!("{err:#}"), "channel reader failed; reconnecting");
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        Ok(())
    }

    async fn read_loop(&self, redis: &RedisSettings, token: &CancellationToken) -> anyhow::Result<()> {
        // Its longest block is one sweep interval; a read unanswered well past that is a server
        // that went silent, and the reader reconnects (to the Sentinels' primary, if any).
        let mut conn = redis_conn::dedicated(redis, self.sweep_every).await?;
        let id: u64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await?;
        self.reader_id.store(id, Ordering::Relaxed);
        let bell = self.store.bell_key();
        // Where the bell is read from; `None`: sweep every stream first.
        let mut bell_at: Option<String> = None;
        let mut swept = tokio::time::Instant::now();
        loop {
            // A sweep reads every watched stream: at the start, when a channel was added (its
            // entries from before it was watched are named by no bell entry still to come), and
            // at least every `sweep_every`, so nothing waits on a bell entry that was trimmed away.
            // The bell's position is taken before the sweep, so nothing after it is missed. The
            // flag is taken before the channels are listed, so a channel added in between is in
            // the list or sets the flag again.
            let sweep =
                bell_at.is_none() || self.resweep.swap(false, Ordering::AcqRel) || swept.elapsed() >= self.sweep_every;
            let wanted = self.wanted();
            if wanted.is_empty() {
                bell_at = None;
                tokio::select! {
                    () = token.cancelled() => return Ok(()),
                    () = self.changed.notified() => continue,
                }
            }
            if sweep {
                bell_at = Some(last_entry_id(&mut conn, &bell).await?);
                if self.read_streams(&mut conn, &wanted, token).await? {
                    self.resweep.store(true, Ordering::Release);
                }
                swept = tokio::time::Instant::now();
            }
            let block = self.sweep_every.saturating_sub(swept.elapsed()).max(Duration::from_millis(1));
            let opts = StreamReadOptions::default().block(block.as_millis() as usize).count(READ_COUNT);
            let at = bell_at.clone().unwrap_or_else(|| "0-0".into());
            let mut cmd = redis::cmd("XREAD");
            cmd.arg(&opts).arg("STREAMS").arg(&bell).arg(&at);
            let read = cmd.query_async::<Option<StreamReadReply>>(&mut conn);
            let reply = tokio::select! {
                () = token.cancelled() => return Ok(()),
                reply = read => reply?,
            };
            // Nothing rang within the block, or a new channel woke the reader (CLIENT UNBLOCK).
            let Some(reply) = reply else {
                self.resweep.store(true, Ordering::Release);
                continue;
            };
            let mut rung: Vec<String> = Vec::new();
            for entry in reply.keys.iter().flat_map(|k| &k.ids) {
                bell_at = Some(entry.id.clone());
                let Some(keys) = entry.get::<String>("s") else { continue };
                for key in keys.split(' ') {
                    if !rung.iter().any(|k| k == key) {
                        rung.push(key.to_owned());
                    }
                }
            }
            // The cursors as they are now (the sweep may have moved them), for the streams named.
            let touched: Vec<_> = self.wanted().into_iter().filter(|(_, key, _)| rung.contains(key)).collect();
            if !touched.is_empty() && self.read_streams(&mut conn, &touched, token).await? {
                self.resweep.store(true, Ordering::Release);
            }
        }
    }

    /// The channels with a local subscriber and a starting point: (channel, stream key, cursor).
    fn wanted(&self) -> Vec<(Channel, String, Cursor)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter_map(|(ch, slot)| slot.last.map(|last| (ch.clone(), self.store.stream_key(ch), last)))
            .collect()
    }

    /// Reads `streams` after their cursors (without blocking) and publishes what it finds. True
    /// when a stream had more than one read returns, so the caller reads again.
    async fn read_streams(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        streams: &[(Channel, String, Cursor)],
        token: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let keys: Vec<&str> = streams.iter().map(|(_, k, _)| k.as_str()).collect();
        let ids: Vec<String> = streams.iter().map(|(_, _, c)| c.to_string()).collect();
        let opts = StreamReadOptions::default().count(READ_COUNT);
        let mut cmd = redis::cmd("XREAD");
        cmd.arg(&opts).arg("STREAMS").arg(&keys).arg(&ids);
        let read = cmd.query_async::<Option<StreamReadReply>>(conn);
        let reply = tokio::select! {
            () = token.cancelled() => return Ok(false),
            reply = read => reply?,
        };
        let Some(reply) = reply else { return Ok(false) };
        let mut more = false;
        for stream in reply.keys {
            let Some((channel, _, _)) = streams.iter().find(|(_, k, _)| *k == stream.key) else { continue };
            more |= stream.ids.len() >= READ_COUNT;
            for id in &stream.ids {
                let entry = match StreamEntry::from_stream_id(id) {
                    Ok(entry) => entry,
                    Err(err) => {
                        tracing::error!(channel = %channel, error = %format_args!("{err:#}"), "unreadable stream entry skipped");
                        continue;
                    }
                };
                self.publish(channel, &entry);
            }
        }
        Ok(more)
    }

    fn publish(&self, channel: &Channel, entry: &StreamEntry) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = slots.get_mut(channel) else { return };
        let Some(prev) = slot.last else { return };
        if entry.cursor <= prev {
            return;
        }
        slot.last = Some(entry.cursor);
        let frame = Arc::new(Frame::new(prev, entry.cursor, render(channel, entry).into()));
        // No receiver is fine: the last session left between the read and now.
        let _ = slot.tx.send(frame);
    }
}
