//! Fan-out of channel streams to the sessions of this gateway.
//!
//! One reader task tails, with a single `XREAD BLOCK`, the Redis stream of every channel that has
//! a local subscriber, and publishes each entry once into that channel's bounded broadcast queue.
//! Each frame carries the cursor of the entry before it (`prev`), so a session can tell a gap
//! (it joined between two reads, or the hub started the channel at a later point) and fill it
//! from Redis: the stream, not the queue, is the source of truth. A frame is rendered once as
//! full readers see it, and at most once more, on first use, as towns see it ([`Frame::text_for`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            capacity: 1024,
            max_snapshot_cases: 500,
            subscribes_per_second: 500.0,
            subscribes_burst: 200,
            subscribe_max_wait: Duration::from_secs(10),
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
        let mut conn = redis_conn::dedicated(redis).await?;
        let id: u64 = redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await?;
        self.reader_id.store(id, Ordering::Relaxed);
        loop {
            let wanted: Vec<(Channel, String, Cursor)> = {
                let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
                slots
                    .iter()
                    .filter_map(|(ch, slot)| slot.last.map(|last| (ch.clone(), self.store.stream_key(ch), last)))
                    .collect()
            };
            if wanted.is_empty() {
                tokio::select! {
                    () = token.cancelled() => return Ok(()),
                    () = self.changed.notified() => continue,
                }
            }
            let keys: Vec<&str> = wanted.iter().map(|(_, k, _)| k.as_str()).collect();
            let ids: Vec<String> = wanted.iter().map(|(_, _, c)| c.to_string()).collect();
            let opts = StreamReadOptions::default().block(2000).count(512);
            let mut cmd = redis::cmd("XREAD");
            cmd.arg(&opts).arg("STREAMS").arg(&keys).arg(&ids);
            let read = cmd.query_async::<Option<StreamReadReply>>(&mut conn);
            let reply = tokio::select! {
                () = token.cancelled() => return Ok(()),
                reply = read => reply?,
            };
            let Some(reply) = reply else { continue };
            for stream in reply.keys {
                let Some((channel, _, _)) = wanted.iter().find(|(_, k, _)| *k == stream.key) else { continue };
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
        }
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
