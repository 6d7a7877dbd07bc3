//! The Redis projection of case events.

use anyhow::Context as _;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply};
use uuid::Uuid;
use whistle_schemas::api::WhistleView;
use whistle_schemas::events::CaseEvent;

use crate::channel::{Channel, Cursor};
use crate::state::{Applied, apply};

/// Entries kept per channel stream. A client resuming from further back gets a fresh snapshot.
pub const STREAM_MAXLEN: usize = 10_000;

/// How often a projection retries when another writer changed the case between read and write.
const CAS_ATTEMPTS: usize = 8;

/// Writes a new version of a case and appends the event to its channels' streams, atomically,
/// only if the stored version is still the one the caller read (compare-and-set).
///
/// KEYS: case, then (stream, open-set) per channel. ARGV: expected version, new version, case
/// JSON, event JSON, stream maxlen, whistle id, then `1`/`0` (open after this event) per channel.
const WRITE: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'json', ARGV[3])
local channels = (#KEYS - 1) / 2
for i = 1, channels do
  redis.call('XADD', KEYS[2 * i], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[4], 'case', ARGV[3])
  if ARGV[6 + i] == '1' then
    redis.call('SADD', KEYS[2 * i + 1], ARGV[6])
  else
    redis.call('SREM', KEYS[2 * i + 1], ARGV[6])
  end
end
return 1
"#;

/// Reads a channel's open cases and the stream position they correspond to, atomically.
/// KEYS: open-set, stream. ARGV: case key prefix. Returns cursor, then case JSONs.
const SNAPSHOT: &str = r#"
local ids = redis.call('SMEMBERS', KEYS[1])
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local out = { '0-0' }
if #last > 0 then out[1] = last[1][1] end
for _, id in ipairs(ids) do
  local json = redis.call('HGET', ARGV[1] .. id, 'json')
  if json then table.insert(out, json) end
end
return out
"#;

/// Creates a case only if nobody has projected it yet (version 0 = provisional).
const PROVISIONAL: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', '0', 'json', ARGV[1])
return 1
"#;

/// What projecting one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    Applied(Box<WhistleView>),
    Duplicate,
    Refused(String),
}

/// One entry of a channel stream, with the JSON kept as stored so frames are built without a
/// decode/encode round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    pub cursor: Cursor,
    pub event: String,
    pub case: String,
}

impl StreamEntry {
    pub fn from_stream_id(id: &StreamId) -> anyhow::Result<StreamEntry> {
        let cursor = id.id.parse().with_context(|| format!("stream id {}", id.id))?;
        let event = id.get::<String>("event").context("stream entry without event")?;
        let case = id.get::<String>("case").context("stream entry without case")?;
        Ok(StreamEntry { cursor, event, case })
    }
}

#[derive(Clone)]
pub struct CaseStore {
    conn: ConnectionManager,
    prefix: String,
    write: redis::Script,
    snapshot: redis::Script,
    provisional: redis::Script,
    claim_action: redis::Script,
    release_action: redis::Script,
}

/// Claims a whistle's action slot: free, or held by `ARGV[3]` (an action already on the
/// timeline), it becomes `ARGV[1]`'s; held by the same event, "same"; else the holder's event id.
const CLAIM_ACTION: &str = r#"
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'claimed'
end
if cur == ARGV[1] then return 'same' end
return cur
"#;

const RELEASE_ACTION: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// How long an accepted action holds its whistle's slot at most; normally the next action finds
/// it on the timeline and takes the slot over long before.
const ACTION_SLOT_MS: u64 = 30_000;

/// The outcome of [`CaseStore::claim_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSlot {
    /// This action may go ahead.
    Claimed,
    /// Another action on the whistle was accepted and is not on the timeline yet.
    Busy(Uuid),
}

impl CaseStore {
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        CaseStore {
            conn,
            prefix: prefix.into(),
            write: redis::Script::new(WRITE),
            snapshot: redis::Script::new(SNAPSHOT),
            provisional: redis::Script::new(PROVISIONAL),
            claim_action: redis::Script::new(CLAIM_ACTION),
            release_action: redis::Script::new(RELEASE_ACTION),
        }
    }

    fn case_key(&self, id: Uuid) -> String {
        format!("{}case:{id}", self.prefix)
    }

    fn open_key(&self, channel: &Channel) -> String {
        format!("{}open:{channel}", self.prefix)
    }

    /// The Redis stream holding `channel`'s changes.
    pub fn stream_key(&self, channel: &Channel) -> String {
        format!("{}stream:{channel}", self.prefix)
    }

    /// A connection for ordinary commands, shared with this store.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The current view of a case, if known.
    pub async fn get(&self, id: Uuid) -> anyhow::Result<Option<WhistleView>> {
        Ok(self.load(id).await?.map(|(_, view)| view))
    }

    async fn load(&self, id: Uuid) -> anyhow::Result<Option<(u64, WhistleView)>> {
        let mut conn = self.conn.clone();
        let (v, json): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.case_key(id))
            .arg("v")
            .arg("json")
            .query_async(&mut conn)
            .await
            .context("reading case")?;
        match json {
            None => Ok(None),
            Some(json) => {
                let view = serde_json::from_str(&json).context("decoding stored case")?;
                Ok(Some((v.unwrap_or(0), view)))
            }
        }
    }

    /// Records a just-accepted whistle so an immediate read finds it, without touching channels;
    /// the projector's own write of the same event replaces it.
    pub async fn put_provisional(&self, view: &WhistleView) -> anyhow::Result<()> {
        let json = serde_json::to_string(view).context("encoding case")?;
        let mut conn = self.conn.clone();
        let _: i64 = self
            .provisional
            .key(self.case_key(view.id))
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .context("writing provisional case")?;
        Ok(())
    }

    /// Applies one event: idempotent on the event id, atomic with its channel stream entries.
    pub async fn project(&self, event: &CaseEvent) -> anyhow::Result<Projected> {
        let event_json = serde_json::to_string(event).context("encoding event")?;
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self.load(event.subject).await?;
            // Version 0 is a provisional record: the projection has not seen the case yet.
            let (version, current) = match &loaded {
                Some((v, view)) if *v > 0 => (*v, Some(view)),
                _ => (0, None),
            };
            let (view, channels) = match apply(current, event) {
                Applied::Changed { view, channels } => (view, channels),
                Applied::Duplicate => return Ok(Projected::Duplicate),
                Applied::Refused(reason) => return Ok(Projected::Refused(reason)),
            };
            let case_json = serde_json::to_string(&view).context("encoding case")?;
            let mut invocation = self.write.key(self.case_key(event.subject));
            for (channel, _) in &channels {
                invocation.key(self.stream_key(channel)).key(self.open_key(channel));
            }
            invocation
                .arg(version)
                .arg(view.timeline.len())
                .arg(&case_json)
                .arg(&event_json)
                .arg(STREAM_MAXLEN)
                .arg(event.subject.to_string());
            for (_, open) in &channels {
                invocation.arg(if *open { "1" } else { "0" });
            }
            let mut conn = self.conn.clone();
            let written: i64 = invocation.invoke_async(&mut conn).await.context("writing case")?;
            if written == 1 {
                return Ok(Projected::Applied(view));
            }
            tracing::debug!(whistle = %event.subject, "case changed under us; retrying");
        }
        anyhow::bail!("case {} kept changing during {CAS_ATTEMPTS} attempts", event.subject)
    }

    /// The open cases of a channel and the cursor they are current as of: at most `limit` of
    /// them, the most urgent first (overdue, then newest), and how many are open in all.
    ///
    /// A stored case that does not decode is skipped and logged, so one bad record cannot make a
    /// whole channel unsubscribable.
    pub async fn snapshot(&self, channel: &Channel, limit: usize) -> anyhow::Result<Snapshot> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = self
            .snapshot
            .key(self.open_key(channel))
            .key(self.stream_key(channel))
            .arg(format!("{}case:", self.prefix))
            .invoke_async(&mut conn)
            .await
            .context("reading snapshot")?;
        let mut raw = raw.into_iter();
        let cursor = raw.next().context("snapshot without cursor")?.parse()?;
        Ok(select_urgent(cursor, raw.collect(), limit, channel))
    }
    /// Up to `count` entries strictly after `after`, oldest first.
    pub async fn entries_after(
        &self,
        channel: &Channel,
        after: Cursor,
        count: usize,
    ) -> anyhow::Result<Vec<StreamEntry>> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn
            .xrange_count(self.stream_key(channel), format!("({after}"), "+", count)
            .await
            .context("reading channel stream")?;
        reply.ids.iter().map(StreamEntry::from_stream_id).collect()
    }

    /// True when every entry after `cursor` is still in the stream (none was trimmed away), and
    /// the cursor is not from the future of this stream.
    pub async fn can_resume(&self, channel: &Channel, cursor: Cursor) -> anyhow::Result<bool> {
        let mut conn = self.conn.clone();
        let key = self.stream_key(channel);
        let exists: bool = conn.exists(&key).await.context("checking channel stream")?;
        if !exists {
            return Ok(cursor == Cursor::START);
        }
        let info: std::collections::HashMap<String, redis::Value> =
            redis::cmd("XINFO").arg("STREAM").arg(&key).query_async(&mut conn).await.context("reading stream info")?;
        let id = |field: &str| -> Option<Cursor> {
            match info.get(field)? {
                redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                redis::Value::SimpleString(s) => s.parse().ok(),
                _ => None,
            }
        };
        let int = |field: &str| -> Option<u64> {
            match info.get(field)? {
                redis::Value::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            }
        };
        let last = id("last-generated-id").unwrap_or(Cursor::START);
        let deleted = id("max-deleted-entry-id").unwrap_or(Cursor::START);
        // `MAXLEN ~` trimming does not move max-deleted-entry-id; it shows as fewer entries than
        // were ever added. Then only a cursor at or past the oldest kept entry can resume.
        let trimmed = int("entries-added").zip(int("length")).is_some_and(|(added, len)| added > len);
        let first = match info.get("first-entry") {
            Some(redis::Value::Array(entry)) => match entry.first() {
                Some(redis::Value::BulkString(b)) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()),
                _ => None,
            },
            _ => None,
        };
        let kept = !trimmed || first.is_some_and(|first: Cursor| cursor >= first);
        Ok(cursor <= last && cursor >= deleted && kept)
    }
}

/// A channel's open cases as of `cursor`, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cursor: Cursor,
    /// The most urgent first.
    pub cases: Vec<WhistleView>,
    /// Open cases in all (decodable ones), at least `cases.len()`.
    pub total: usize,
}

impl Snapshot {
    pub fn truncated(&self) -> bool {
        self.total > self.cases.len()
    }
}

/// Only what ranks a case: decoding this for every open case is cheap; only the chosen ones
/// are decoded in full.
#[derive(serde::Deserialize)]
struct Rank {
    raised_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    overdue: Vec<serde::de::IgnoredAny>,
}

fn select_urgent(cursor: Cursor, raw: Vec<String>, limit: usize, channel: &Channel) -> Snapshot {
    let mut ranked: Vec<(bool, chrono::DateTime<chrono::Utc>, String)> = raw
        .into_iter()
        .filter_map(|json| match serde_json::from_str::<Rank>(&json) {
            Ok(rank) => Some((!rank.overdue.is_empty(), rank.raised_at, json)),
            Err(err) => {
                tracing::error!(channel = %channel, error = %err, "stored case does not decode; left out of the snapshot");
                None
            }
        })
        .collect();
    // Overdue first, then newest first.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut total = ranked.len();
    let mut cases = Vec::with_capacity(limit.min(ranked.len()));
    for (_, _, json) in ranked {
        if cases.len() >= limit {
            break;
        }
        match serde_json::from_str::<WhistleView>(&json) {
            Ok(view) => cases.push(view),
            Err(err) => {
                total -= 1;
                tracing::error!(channel = %channel, error = %err, "stored case does not decode; left out of the snapshot");
            }
        }
    }
    Snapshot { cursor, cases, total }
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First use of the key.
    New,
    /// The key was used before for the same request.
    Same,
    /// The key was used before for a different request.
    Different,
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;

impl CaseStore {
    /// Records `fingerprint` under an idempotency key, or compares it with the one recorded.
    pub async fn claim_idempotency(&self, key: &str, fingerprint: &str) -> anyhow::Result<Claim> {
        let mut conn = self.conn.clone();
        let redis_key = format!("{}idem:{key}", self.prefix);
        let opts = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .get(true)
            .with_expiration(redis::SetExpiry::EX(IDEMPOTENCY_TTL_SECONDS));
        let previous: Option<String> =
            conn.set_options(&redis_key, fingerprint, opts).await.context("claiming idempotency key")?;
        Ok(match previous {
            None => Claim::New,
            Some(p) if p == fingerprint => Claim::Same,
            Some(_) => Claim::Different,
        })
    }

    /// Serialises the actions on one whistle, across every intake instance: an action may go
    /// ahead only when the last accepted one is on the case's timeline (`on_timeline` says which
    /// events are). Two conflicting actions sent at once (acknowledge and reject) can then not
    /// both be accepted; the second learns that it must look again.
    pub async fn claim_action(
        &self,
        id: Uuid,
        event_id: Uuid,
        on_timeline: impl Fn(Uuid) -> bool,
    ) -> anyhow::Result<ActionSlot> {
        let key = format!("{}action:{id}", self.prefix);
        let mut stale = String::new();
        for _ in 0..2 {
            let mut conn = self.conn.clone();
            let answer: String = self
                .claim_action
                .key(&key)
                .arg(event_id.to_string())
                .arg(ACTION_SLOT_MS)
                .arg(&stale)
                .invoke_async(&mut conn)
                .await
                .context("claiming the action slot")?;
            match answer.as_str() {
                "claimed" | "same" => return Ok(ActionSlot::Claimed),
                holder => {
                    let holder = Uuid::parse_str(holder).context("action slot holds a non-uuid")?;
                    if !on_timeline(holder) {
                        return Ok(ActionSlot::Busy(holder));
                    }
                    stale = holder.to_string();
                }
            }
        }
        // The slot changed hands between the two attempts: another action just got in.
        Ok(ActionSlot::Busy(Uuid::nil()))
    }

    /// Gives the slot back after an action that was not accepted (Kafka refused it).
    pub async fn release_action(&self, id: Uuid, event_id: Uuid) -> anyhow::Result<()> {
        let key = format!("{}action:{id}", self.prefix);
        let mut conn = self.conn.clone();
        let _: i64 = self
            .release_action
            .key(&key)
            .arg(event_id.to_string())
            .invoke_async(&mut conn)
            .await
            .context("releasing the action slot")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn case(n: u32, overdue: bool) -> String {
        let mut v = json!({
            "id": uuid::Uuid::from_u128(u128::from(n)),
            "status": "dispatched",
            "town": "500103001",
            "district": "500103",
            "item": "CQ-ENV-001",
            "description": "x",
            "location": {"lat": 1.0, "lon": 1.0, "address": "a"},
            "department": null,
            "raised_at": format!("2025-01-01T00:00:{:02}Z", n % 60),
            "updated_at": "2025-01-01T00:00:00Z",
            "timeline": []
        });
        if overdue {
            v["overdue"] = json!(["acknowledge"]);
        }
        v.to_string()
    }

    fn ids(s: &Snapshot) -> Vec<u128> {
        s.cases.iter().map(|c| c.id.as_u128()).collect()
    }

    #[test]
    fn a_bounded_snapshot_keeps_the_overdue_then_the_newest() {
        let channel = Channel::parse("department:500103-EE").expect("valid");
        let raw = vec![case(1, false), case(2, true), case(3, false), case(4, false), case(5, true)];
        let s = select_urgent(Cursor::START, raw.clone(), 3, &channel);
        assert_eq!(ids(&s), [5, 2, 4]);
        assert_eq!(s.total, 5);
        assert!(s.truncated());
        let all = select_urgent(Cursor::START, raw, 500, &channel);
        assert_eq!(ids(&all), [5, 2, 4, 3, 1]);
        assert!(!all.truncated());
    }

    #[test]
    fn a_stored_case_that_does_not_decode_is_left_out_not_fatal() {
        let channel = Channel::parse("town:500103001").expect("valid");
        let raw =
            vec![case(1, false), "{not json".to_owned(), json!({"raised_at": "2025-01-01T00:00:09Z"}).to_string()];
        let s = select_urgent(Cursor::START, raw, 10, &channel);
        assert_eq!(ids(&s), [1]);
        assert_eq!(s.total, 1);
    }
}
