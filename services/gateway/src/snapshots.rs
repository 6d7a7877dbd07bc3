//! Snapshots under a reconnect storm: every board of a department reconnecting at once (a
//! gateway restart in the morning) must cost Redis one bounded read, not one per board.
//!
//! - [`Snapshots`]: concurrent subscribes to one channel share one snapshot read (single
//!   flight), and a snapshot stays shared while the channel's stream has not moved (keyed by the
//!   stream's last id). The frame is rendered once and its bytes are shared by every session
//!   that may see the same: snapshots are kept per channel *and* [`Visibility`], so a town
//!   never gets the frame rendered for a department, nor the other way round.
//! - [`Admission`]: subscribes are admitted at a bounded rate, in the order they arrive; one that
//!   would wait longer than `max_wait` is refused with a retry hint instead of queueing without
//!   bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;
use whistle_case::Visibility;
use whistle_casestore::store::PageToken;
use whistle_casestore::{CaseStore, Channel, Cursor};

use crate::redact;

/// A snapshot as sent to a fresh subscription; [`Rendered::reset`] makes the rarer frame for a
/// client whose cursor could not be resumed.
#[derive(Debug)]
pub struct Rendered {
    pub cursor: Cursor,
    pub fresh: Utf8Bytes,
    /// Cases in the frame, and open on the channel in all.
    pub cases: usize,
    pub total: usize,
}

type Loading = Shared<BoxFuture<'static, Result<Arc<Rendered>, String>>>;

enum Slot {
    Loading(Loading),
    Ready { rendered: Arc<Rendered>, at: Instant },
}

/// How long an unused snapshot is kept at most; it is dropped earlier once the stream moves.
const KEEP: Duration = Duration::from_secs(30);
/// The bytes of snapshots kept at once, all channels together; beyond it the oldest are
/// dropped (a busy department's snapshot is about 0.5 MiB).
const MAX_CACHED_BYTES: usize = 128 * 1024 * 1024;

impl Rendered {
    /// The same snapshot for a client whose cursor could not be resumed (`reset: true`).
    pub fn reset(&self) -> Utf8Bytes {
        // `reset` is the first field after the fixed head, before any case: the one place the
        // text `"reset":false` stands unescaped.
        self.fresh.as_str().replacen(r#""reset":false"#, r#""reset":true"#, 1).into()
    }
}

/// Shared, bounded snapshots of channels.
#[derive(Clone)]
pub struct Snapshots {
    store: CaseStore,
    limit: usize,
    slots: Arc<Mutex<HashMap<Key, Slot>>>,
}

/// One snapshot per channel and per visibility: readers of one channel who may see different
/// things never share a frame.
type Key = (Channel, Visibility);

impl Snapshots {
    pub fn new(store: CaseStore, limit: usize) -> Snapshots {
        Snapshots { store, limit, slots: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The channel's snapshot as readers with `visibility` see it: the one already read if the
    /// stream has not moved since, the one being read if a read is under way, else a new read
    /// that later callers share.
    pub async fn get(&self, channel: &Channel, visibility: Visibility) -> Result<Arc<Rendered>, String> {
        let last = self.store.last_cursor(channel).await.map_err(|e| format!("{e:#}"))?;
        let key = (channel.clone(), visibility);
        let loading = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(&key) {
                Some(Slot::Ready { rendered, .. }) if rendered.cursor == last => return Ok(rendered.clone()),
                Some(Slot::Loading(loading)) => loading.clone(),
                _ => {
                    let loading = self.load(key.clone());
                    slots.insert(key, Slot::Loading(loading.clone()));
                    loading
                }
            }
        };
        loading.await
    }

    /// Reads and renders in a task of its own, so the read completes (and is cached) even if
    /// the subscriber that started it goes away.
    fn load(&self, key: Key) -> Loading {
        let this = self.clone();
        let task = tokio::spawn(async move {
            let (channel, visibility) = &key;
            let result = match this.store.snapshot(channel, this.limit).await {
                Ok(snapshot) => Ok(Arc::new(render(channel, &snapshot, *visibility))),
                Err(err) => Err(format!("{err:#}")),
            };
            let mut slots = this.slots.lock().unwrap_or_else(|p| p.into_inner());
            match &result {
                Ok(rendered) => {
                    slots.insert(key, Slot::Ready { rendered: rendered.clone(), at: Instant::now() });
                    prune(&mut slots);
                }
                Err(_) => {
                    slots.remove(&key);
                }
            }
            result
        });
        async move { task.await.unwrap_or_else(|e| Err(format!("snapshot task failed: {e}"))) }.boxed().shared()
    }
}

/// Drops snapshots nobody used for a while, and the oldest beyond the byte cap.
fn prune(slots: &mut HashMap<Key, Slot>) {
    let now = Instant::now();
    slots.retain(|_, slot| match slot {
        Slot::Loading(_) => true,
        Slot::Ready { at, .. } => now.duration_since(*at) < KEEP,
    });
    let size = |slots: &HashMap<Key, Slot>| -> usize {
        slots
            .values()
            .map(|s| match s {
                Slot::Ready { rendered, .. } => rendered.fresh.len(),
                Slot::Loading(_) => 0,
            })
            .sum()
    };
    while size(slots) > MAX_CACHED_BYTES {
        let oldest = slots
            .iter()
            .filter_map(|(c, s)| match s {
                Slot::Ready { at, .. } => Some((c.clone(), *at)),
                Slot::Loading(_) => None,
            })
            .min_by_key(|(_, at)| *at);
        match oldest {
            Some((channel, _)) => {
                slots.remove(&channel);
            }
            None => break,
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn json_cases(cases: &[String]) -> String {
    let mut out = String::with_capacity(cases.iter().map(|c| c.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, case) in cases.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(case);
    }
    out.push(']');
    out
}

fn json_next(next: Option<&PageToken>) -> String {
    next.map_or_else(String::new, |t| format!(r#","next":"{t}""#))
}

/// Stored summaries as `visibility` shows them (as stored, without decoding, for full readers).
fn cases_for(cases: &[String], visibility: Visibility) -> Vec<String> {
    match visibility {
        Visibility::Full => cases.to_vec(),
        Visibility::Town => cases.iter().filter_map(|c| redact::summary(c, visibility)).collect(),
    }
}

/// The `snapshot` frame from stored summaries, as readers with `visibility` see it.
fn render(channel: &Channel, snapshot: &whistle_casestore::Snapshot, visibility: Visibility) -> Rendered {
    let channel = json_string(&channel.to_string());
    let shown = cases_for(&snapshot.cases, visibility);
    let cases = json_cases(&shown);
    let next = json_next(snapshot.next.as_ref());
    // `reset` stays ahead of `cases`: `Rendered::reset` relies on it.
    let fresh = format!(
        r#"{{"type":"snapshot","channel":{channel},"cursor":"{}","reset":false,"truncated":{},"total":{}{next},"cases":{cases}}}"#,
        snapshot.cursor,
        snapshot.truncated(),
        snapshot.total,
    );
    Rendered { cursor: snapshot.cursor, fresh: fresh.into(), cases: shown.len(), total: snapshot.total }
}

/// The `page` frame for a page of open cases, as readers with `visibility` see it.
pub fn render_page(channel: &Channel, page: &whistle_casestore::store::Page, visibility: Visibility) -> String {
    format!(
        r#"{{"type":"page","channel":{},"cases":{}{}}}"#,
        json_string(&channel.to_string()),
        json_cases(&cases_for(&page.cases, visibility)),
        json_next(page.next.as_ref())
    )
}

/// Admits subscribes at a bounded rate, first come first served (a GCRA schedule): each caller
/// is given the moment it may go ahead; one that would wait longer than `max_wait` is refused
/// and told when to come back.
pub struct Admission {
    /// Time between two admissions at the sustained rate.
    interval: Duration,
    /// How far ahead of the sustained rate a burst may run.
    burst: Duration,
    max_wait: Duration,
    /// When the schedule is next free (the "theoretical arrival time").
    next: Mutex<Instant>,
}

impl Admission {
    pub fn new(per_second: f64, burst: u32, max_wait: Duration) -> Admission {
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Admission { interval, burst: interval * burst.saturating_sub(1), max_wait, next: Mutex::new(Instant::now()) }
    }

    /// How long to wait before going ahead, or, when that is longer than allowed, how long to
    /// wait before asking again.
    pub fn reserve(&self) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let tat = (*next).max(now);
        let at = tat.checked_sub(self.burst).unwrap_or(now).max(now);
        let wait = at - now;
        if wait > self.max_wait {
            return Err(wait - self.max_wait);
        }
        *next = tat + self.interval;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admission_runs_a_burst_then_the_sustained_rate_then_refuses_with_a_hint() {
        // 10 per second, a burst of 5, at most 1 s of waiting.
        let admission = Admission::new(10.0, 5, Duration::from_secs(1));
        let waits: Vec<Result<Duration, Duration>> = (0..20).map(|_| admission.reserve()).collect();
        // The burst goes at once; then one every 100 ms, in order, up to 1 s of waiting.
        for (i, wait) in waits.iter().enumerate().take(5) {
            assert_eq!(*wait, Ok(Duration::ZERO), "caller {i}");
        }
        for (i, wait) in waits.iter().enumerate().take(15).skip(5) {
            assert_eq!(*wait, Ok(Duration::from_millis(100) * (i as u32 - 4)), "caller {i}");
        }
        // The rest would wait longer than 1 s: refused, told to come back after the excess.
        for (i, wait) in waits.iter().enumerate().skip(15) {
            assert_eq!(*wait, Err(Duration::from_millis(100)), "caller {i}");
        }
        // A refusal does not take a place: once time passes, callers are admitted again.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(admission.reserve(), Ok(Duration::ZERO));
    }

    #[test]
    fn a_snapshot_frame_is_json_with_cases_as_stored_and_the_next_token() {
        let channel = Channel::parse("department:500103-EE").expect("valid");
        let snapshot = whistle_casestore::Snapshot {
            cursor: "5-0".parse().expect("cursor"),
            cases: vec![r#"{"id":"a"}"#.into(), r#"{"id":"b"}"#.into()],
            total: 3,
            next: Some(PageToken { score: 42, id: uuid::Uuid::from_u128(1) }),
        };
        let rendered = render(&channel, &snapshot, Visibility::Full);
        let fresh: serde_json::Value = serde_json::from_str(rendered.fresh.as_str()).expect("json");
        assert_eq!(fresh["type"], "snapshot");
        assert_eq!(fresh["channel"], "department:500103-EE");
        assert_eq!(fresh["cursor"], "5-0");
        assert_eq!(fresh["cases"], serde_json::json!([{"id": "a"}, {"id": "b"}]));
        assert_eq!(fresh["reset"], false);
        assert_eq!(fresh["truncated"], true);
        assert_eq!(fresh["total"], 3);
        assert_eq!(fresh["next"], "42:00000000-0000-0000-0000-000000000001");
        let reset: serde_json::Value = serde_json::from_str(rendered.reset().as_str()).expect("json");
        assert_eq!(reset["reset"], true);
        assert_eq!(reset["cases"], fresh["cases"]);
        // A case whose text holds the same words does not move the flag.
        let tricky = whistle_casestore::Snapshot {
            cases: vec![r#"{"id":"a","description":"\"reset\":false"}"#.into()],
            total: 1,
            next: None,
            ..snapshot.clone()
        };
        let reset: serde_json::Value =
            serde_json::from_str(render(&channel, &tricky, Visibility::Full).reset().as_str()).expect("json");
        assert_eq!(
            (reset["reset"].as_bool(), reset["cases"][0]["description"].as_str()),
            (Some(true), Some("\"reset\":false"))
        );
        // The frame decodes as the documented server message.
        let empty = whistle_casestore::Snapshot { cases: Vec::new(), total: 0, next: None, ..snapshot };
        let text = render(&channel, &empty, Visibility::Full).fresh;
        let msg: whistle_schemas::ws::ServerMessage = serde_json::from_str(text.as_str()).expect("a ServerMessage");
        assert!(matches!(msg, whistle_schemas::ws::ServerMessage::Snapshot { truncated: false, next: None, .. }));
    }
}
