//! The Redis projection of case events.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use hashlink::LruCache;
use redis::AsyncCommands;
use redis::streams::{StreamId, StreamRangeReply};
use uuid::Uuid;
use whistle_case::Case;
use whistle_common::redis_conn::Redis;
use whistle_schemas::events::CaseEvent;

use crate::channel::{Channel, Cursor};
use crate::state::{Applied, apply};

/// Entries kept per channel stream. A client resuming from further back gets a fresh snapshot.
pub const STREAM_MAXLEN: usize = 10_000;

/// How often a projection retries when another writer changed the case between read and write.
const CAS_ATTEMPTS: usize = 8;

/// Writes a new version of a case and appends the event to its channels' streams, atomically,
/// only if the stored version is still the one the caller read (compare-and-set), and keeps the
/// indexes the registry's what-if reads.
///
/// KEYS: case, open-cases set, the item's open-cases set, raised-at index, the item's raised-at
/// index, the bell stream, then (stream, open-index) per channel. ARGV: expected version, new version, case JSON,
/// event JSON, stream maxlen, whistle id, summary JSON, rank score, `1`/`0` (the case is open),
/// raise time (ms), index horizon (ms: older raises leave the raised-at indexes), then `1`/`0`
/// (open after this event) per channel. A stream entry carries the event and the case's summary,
/// not the case with its timeline: entries stay small however long the case's history grows.
/// The bell ([`CaseStore::bell_key`]) gets one small entry naming the streams written, so a
/// gateway's reader blocks on the bell alone and reads only the streams that changed.
const WRITE: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'json', ARGV[3], 'sum', ARGV[7])
if ARGV[9] == '1' then
  redis.call('SADD', KEYS[2], ARGV[6])
  redis.call('SADD', KEYS[3], ARGV[6])
else
  redis.call('SREM', KEYS[2], ARGV[6])
  redis.call('SREM', KEYS[3], ARGV[6])
end
for k = 4, 5 do
  redis.call('ZADD', KEYS[k], ARGV[10], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', '(' .. ARGV[11])
end
local channels = (#KEYS - 6) / 2
local rung = {}
for i = 1, channels do
  redis.call('XADD', KEYS[5 + 2 * i], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[4], 'case', ARGV[7])
  rung[#rung + 1] = KEYS[5 + 2 * i]
  if ARGV[11 + i] == '1' then
    redis.call('ZADD', KEYS[6 + 2 * i], ARGV[8], ARGV[6])
  else
    redis.call('ZREM', KEYS[6 + 2 * i], ARGV[6])
  end
end
if #rung > 0 then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[5], '*', 's', table.concat(rung, ' '))
end
return 1
"#;

/// How long a raise stays in the raised-at indexes: the what-if's "last month", and a day more.
pub const RAISED_INDEX_DAYS: i64 = 31;

/// Marks a script as read-only, so Redis runs it even when it refuses writes at `maxmemory`:
/// boards keep their snapshots while intake answers 503.
const READ_ONLY: &str = "#!lua flags=no-writes";

/// Shared by [`SNAPSHOT_BODY`] and [`PAGE_BODY`]: up to `limit` summaries of an open-index, most urgent
/// first, strictly after the page token (`after_score`, `after_id`; empty for the start), and
/// the token of the last one when more follow (else `''`). Bounded inside Redis: the reply holds
/// at most `limit` summaries whatever the channel's size.
const PAGE_FN: &str = r#"
local function page(key, prefix, limit, after_score, after_id)
  local picked = {}
  local max = '+inf'
  local bound = nil
  if after_score ~= '' then
    max = after_score
    bound = tonumber(after_score)
  end
  local offset = 0
  local batch = limit + 1
  while #picked <= limit do
    local res = redis.call('ZRANGE', key, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, batch, 'WITHSCORES')
    for i = 1, #res, 2 do
      local member, score = res[i], res[i + 1]
      -- Within one score the order is by member, descending: skip those up to the token.
      if bound == nil or tonumber(score) < bound or member < after_id then
        table.insert(picked, { member, score })
        if #picked > limit then break end
      end
    end
    if #res < 2 * batch then break end
    offset = offset + batch
  end
  local out = {}
  local next_token = ''
  local n = math.min(#picked, limit)
  for i = 1, n do
    local sum = redis.call('HGET', prefix .. picked[i][1], 'sum')
    if sum then table.insert(out, sum) end
  end
  if #picked > limit then next_token = picked[n][2] .. ':' .. picked[n][1] end
  return out, next_token
end
"#;

/// The channel's open cases (at most `ARGV[2]`, most urgent first), how many are open in all,
/// and the stream position they correspond to, atomically.
/// KEYS: open-index, stream. ARGV: case key prefix, limit. Returns cursor, total, next page
/// token (`''` for none), then summary JSONs.
const SNAPSHOT_BODY: &str = r#"
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local cursor = '0-0'
if #last > 0 then cursor = last[1][1] end
local total = redis.call('ZCARD', KEYS[1])
local sums, next_token = page(KEYS[1], ARGV[1], tonumber(ARGV[2]), '', '')
local out = { cursor, tostring(total), next_token }
for _, s in ipairs(sums) do table.insert(out, s) end
return out
"#;

/// A page after a token. KEYS: open-index. ARGV: case key prefix, limit, after score, after id.
/// Returns the next token (`''` for none), then summary JSONs.
const PAGE_BODY: &str = r#"
local sums, next_token = page(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4])
local out = { next_token }
for _, s in ipairs(sums) do table.insert(out, s) end
return out
"#;

/// Puts an open case into the ranked open-index of a channel, with its summary; used once to
/// move channels from the set layout of earlier versions. KEYS: case, open-index. ARGV: summary,
/// score, id.
const INDEX: &str = r#"
redis.call('HSET', KEYS[1], 'sum', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"#;

/// Creates a case only if nobody has projected it yet (version 0 = provisional).
const PROVISIONAL: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', '0', 'json', ARGV[1])
return 1
"#;

/// Why the store could not do what was asked. Retries take [`StoreError::retryable`]: Redis
/// being down or full passes, a record that does not decode does not.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis did not answer, timed out, or refused the write (`maxmemory`).
    #[error("case store unavailable: {0:#}")]
    Unavailable(#[source] anyhow::Error),
    /// The stored case is not a case: reading it again gives the same answer.
    #[error("stored case {id} does not decode: {reason}")]
    Corrupt { id: Uuid, reason: String },
    /// Another writer kept changing the case between our read and our write.
    #[error("case {0} kept changing during {CAS_ATTEMPTS} attempts")]
    Conflict(Uuid),
}

impl StoreError {
    /// Whether trying again can help.
    pub fn retryable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Conflict(_) => true,
            StoreError::Corrupt { .. } => false,
        }
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> StoreError {
        StoreError::Unavailable(err.into())
    }
}

/// What projecting one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    Applied(Box<Case>),
    Duplicate,
    Refused(whistle_case::Refusal),
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

/// A case as the projector last wrote it, with the version it wrote.
type Remembered = (u64, Arc<Case>);

#[derive(Clone)]
pub struct CaseStore {
    conn: Redis,
    prefix: String,
    write: redis::Script,
    snapshot: redis::Script,
    page: redis::Script,
    index: redis::Script,
    provisional: redis::Script,
    claim_action: redis::Script,
    release_action: redis::Script,
    /// The projector's own last writes, when enabled ([`CaseStore::with_projection_cache`]).
    cache: Option<Arc<Mutex<LruCache<Uuid, Remembered>>>>,
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
    pub fn new(conn: Redis, prefix: impl Into<String>) -> Self {
        CaseStore {
            conn,
            prefix: prefix.into(),
            write: redis::Script::new(WRITE),
            snapshot: redis::Script::new(&format!("{READ_ONLY}{PAGE_FN}{SNAPSHOT_BODY}")),
            page: redis::Script::new(&format!("{READ_ONLY}{PAGE_FN}{PAGE_BODY}")),
            index: redis::Script::new(INDEX),
            provisional: redis::Script::new(PROVISIONAL),
            claim_action: redis::Script::new(CLAIM_ACTION),
            release_action: redis::Script::new(RELEASE_ACTION),
            cache: None,
        }
    }

    /// Keeps the last `capacity` cases this store's [`CaseStore::project`] wrote, with their
    /// versions, so the next event of a case starts from memory instead of reading and decoding
    /// it from Redis. The compare-and-set still guards every write: a case another writer
    /// changed meanwhile fails it, and the case is read again; a refusal computed from memory is
    /// checked against Redis before it counts. Only for the projector: a cache in a process
    /// that does not project would never be filled.
    pub fn with_projection_cache(mut self, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        self.cache = Some(Arc::new(Mutex::new(LruCache::new(capacity))));
        self
    }

    fn cached(&self, id: Uuid) -> Option<Remembered> {
        let cache = self.cache.as_ref()?;
        cache.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }

    fn remember(&self, id: Uuid, entry: Option<Remembered>) {
        let Some(cache) = self.cache.as_ref() else { return };
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        match entry {
            Some(entry) => {
                cache.insert(id, entry);
            }
            None => {
                cache.remove(&id);
            }
        }
    }

    fn case_key(&self, id: Uuid) -> String {
        format!("{}case:{id}", self.prefix)
    }

    /// The channel's open cases, ranked by [`rank_score`].
    fn open_key(&self, channel: &Channel) -> String {
        format!("{}openz:{channel}", self.prefix)
    }

    /// An index of cases (`index:open`, `index:raised:item:CODE`, …).
    fn index_key(&self, name: &str) -> String {
        format!("{}index:{name}", self.prefix)
    }

    /// The Redis stream holding `channel`'s changes.
    pub fn stream_key(&self, channel: &Channel) -> String {
        format!("{}stream:{channel}", self.prefix)
    }

    /// The bell: a stream with one small entry per projected event, naming (field `s`, the keys
    /// separated by spaces) the channel streams it wrote, kept to about [`STREAM_MAXLEN`] entries. A reader of
    /// many channels blocks on the bell alone and then reads only the streams it names, instead
    /// of re-issuing one `XREAD BLOCK` over every stream after each wake-up (Redis registers and
    /// unregisters the reader on each key, so that cost grows with the channels watched).
    pub fn bell_key(&self) -> String {
        format!("{}stream-bell", self.prefix)
    }

    /// A key of this store's prefix, for a caller's own small index beside the cases (e.g.
    /// intake's Open311 requests).
    pub fn prefixed(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A connection for ordinary commands, shared with this store.
    pub fn connection(&self) -> Redis {
        self.conn.clone()
    }

    /// The current state of a case, if known.
    pub async fn get(&self, id: Uuid) -> Result<Option<Case>, StoreError> {
        Ok(self.load(id).await?.map(|(_, case)| case))
    }

    async fn load(&self, id: Uuid) -> Result<Option<(u64, Case)>, StoreError> {
        let mut conn = self.conn.clone();
        let (v, json): (Option<String>, Option<String>) =
            redis::cmd("HMGET").arg(self.case_key(id)).arg("v").arg("json").query_async(&mut conn).await?;
        let Some(json) = json else { return Ok(None) };
        let corrupt = |reason: String| StoreError::Corrupt { id, reason };
        let version = v.map_or(Ok(0), |v| v.parse::<u64>().map_err(|e| corrupt(format!("version {v:?}: {e}"))))?;
        let case = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some((version, case)))
    }

    /// Records a just-accepted whistle so an immediate read finds it, without touching channels;
    /// the projector's own write of the same event replaces it.
    pub async fn put_provisional(&self, case: &Case) -> anyhow::Result<()> {
        let json = serde_json::to_string(case).context("encoding case")?;
        let mut conn = self.conn.clone();
        let _: i64 = self
            .provisional
            .key(self.case_key(case.id))
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .context("writing provisional case")?;
        Ok(())
    }

    /// Applies one event: idempotent on the event id, atomic with its channel stream entries.
    pub async fn project(&self, event: &CaseEvent) -> Result<Projected, StoreError> {
        let encode = |e: serde_json::Error| StoreError::Unavailable(anyhow::Error::new(e).context("encoding"));
        let event_json = serde_json::to_string(event).map_err(encode)?;
        let mut from_memory = self.cached(event.subject);
        for _ in 0..CAS_ATTEMPTS {
            let remembered = from_memory.take();
            let cached = remembered.is_some();
            let (version, current) = match remembered {
                Some((v, case)) => (v, Some(case)),
                None => match self.load(event.subject).await? {
                    // Version 0 is a provisional record: the projection has not seen the case yet.
                    Some((v, case)) if v > 0 => (v, Some(Arc::new(case))),
                    _ => (0, None),
                },
            };
            let (case, channels) = match apply(current.as_deref(), event) {
                Applied::Changed { case, channels } => (case, channels),
                Applied::Duplicate => return Ok(Projected::Duplicate),
                // The remembered case may be behind another writer's: ask Redis before refusing.
                Applied::Refused(_) if cached => {
                    self.remember(event.subject, None);
                    continue;
                }
                Applied::Refused(reason) => return Ok(Projected::Refused(reason)),
            };
            let case_json = serde_json::to_string(&case).map_err(encode)?;
            let summary_json = serde_json::to_string(&case.summary()).map_err(encode)?;
            let mut invocation = self.write.key(self.case_key(event.subject));
            invocation
                .key(self.index_key("open"))
                .key(self.index_key(&format!("open:item:{}", case.item)))
                .key(self.index_key("raised"))
                .key(self.index_key(&format!("raised:item:{}", case.item)))
                .key(self.bell_key());
            for (channel, _) in &channels {
                invocation.key(self.stream_key(channel)).key(self.open_key(channel));
            }
            invocation
                .arg(version)
                .arg(case.timeline.len())
                .arg(&case_json)
                .arg(&event_json)
                .arg(STREAM_MAXLEN)
                .arg(event.subject.to_string())
                .arg(&summary_json)
                .arg(rank_score(&case))
                .arg(if case.status.is_terminal() { "0" } else { "1" })
                .arg(case.raised_at.timestamp_millis())
                .arg((chrono::Utc::now() - chrono::Duration::days(RAISED_INDEX_DAYS)).timestamp_millis());
            for (_, open) in &channels {
                invocation.arg(if *open { "1" } else { "0" });
            }
            let mut conn = self.conn.clone();
            let written: i64 = match invocation.invoke_async(&mut conn).await {
                Ok(written) => written,
                Err(err) => {
                    // Whether it was written is unknown: the next attempt reads it.
                    self.remember(event.subject, None);
                    return Err(err.into());
                }
            };
            if written == 1 {
                if self.cache.is_some() {
                    let version = case.timeline.len() as u64;
                    self.remember(event.subject, Some((version, Arc::new((*case).clone()))));
                }
                return Ok(Projected::Applied(case));
            }
            self.remember(event.subject, None);
            tracing::debug!(whistle = %event.subject, "case changed under us; retrying");
        }
        Err(StoreError::Conflict(event.subject))
    }

    /// The open cases of a channel and the cursor they are current as of: at most `limit`
    /// summaries, the most urgent first (overdue, then newest), how many are open in all, and
    /// the token of the next page. The bound holds inside Redis, so a channel of any size costs
    /// one bounded reply.
    pub async fn snapshot(&self, channel: &Channel, limit: usize) -> anyhow::Result<Snapshot> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = self
            .snapshot
            .key(self.open_key(channel))
            .key(self.stream_key(channel))
            .arg(format!("{}case:", self.prefix))
            .arg(limit.max(1))
            .invoke_async(&mut conn)
            .await
            .context("reading snapshot")?;
        let mut raw = raw.into_iter();
        let cursor = raw.next().context("snapshot without cursor")?.parse()?;
        let total = raw.next().context("snapshot without total")?.parse().context("snapshot total")?;
        let next = PageToken::from_reply(&raw.next().context("snapshot without page token")?)?;
        Ok(Snapshot { cursor, cases: raw.collect(), total, next })
    }

    /// The open cases of a channel after `after`, in snapshot order, as they are now.
    pub async fn page(&self, channel: &Channel, after: &PageToken, limit: usize) -> anyhow::Result<Page> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = self
            .page
            .key(self.open_key(channel))
            .arg(format!("{}case:", self.prefix))
            .arg(limit.max(1))
            .arg(after.score)
            .arg(after.id.to_string())
            .invoke_async(&mut conn)
            .await
            .context("reading a page of open cases")?;
        let mut raw = raw.into_iter();
        let next = PageToken::from_reply(&raw.next().context("page without token")?)?;
        Ok(Page { cases: raw.collect(), next })
    }

    /// What the registry's what-if weighs for `item`: the item's cases that are open or were
    /// raised since `since`, how many cases are open in all, and how many were raised since
    /// `since` in all (any item). Read from the indexes, not by scanning every case.
    pub async fn what_if_inputs(
        &self,
        item: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<WhatIfInputs, StoreError> {
        let mut conn = self.conn.clone();
        let since_ms = since.timestamp_millis();
        let (open_ids, recent_ids, open_total, raised_total): (Vec<String>, Vec<String>, u64, u64) = redis::pipe()
            .smembers(self.index_key(&format!("open:item:{item}")))
            .zrangebyscore(self.index_key(&format!("raised:item:{item}")), since_ms, "+inf")
            .scard(self.index_key("open"))
            .zcount(self.index_key("raised"), since_ms, "+inf")
            .query_async(&mut conn)
            .await?;
        let mut ids: Vec<Uuid> = open_ids.iter().chain(&recent_ids).filter_map(|id| Uuid::parse_str(id).ok()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut cases = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hget(self.case_key(*id), "json");
            }
            let jsons: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for (id, json) in chunk.iter().zip(jsons) {
                let Some(json) = json else { continue };
                match serde_json::from_str::<Case>(&json) {
                    Ok(case) => cases.push(case),
                    Err(err) => {
                        tracing::error!(whistle = %id, error = %err, "stored case does not decode; left out of the what-if")
                    }
                }
            }
        }
        Ok(WhatIfInputs { cases, open_total, raised_total })
    }

    /// Builds the what-if indexes from the stored cases once, for a store written before they
    /// existed (marked done by `index:built`). Returns the cases indexed.
    pub async fn ensure_indexes(&self) -> anyhow::Result<usize> {
        let mut conn = self.conn.clone();
        let built = self.index_key("built");
        if conn.exists::<_, bool>(&built).await.context("checking the indexes")? {
            return Ok(0);
        }
        let pattern = format!("{}case:*", self.prefix);
        let horizon = (chrono::Utc::now() - chrono::Duration::days(RAISED_INDEX_DAYS)).timestamp_millis();
        let (mut cursor, mut indexed): (u64, usize) = (0, 0);
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .context("scanning cases")?;
            for key in keys {
                let Some(id) = key.rsplit(':').next().and_then(|id| Uuid::parse_str(id).ok()) else { continue };
                let Ok(Some((_, case))) = self.load(id).await else { continue };
                let mut pipe = redis::pipe();
                if !case.status.is_terminal() {
                    pipe.sadd(self.index_key("open"), id.to_string())
                        .sadd(self.index_key(&format!("open:item:{}", case.item)), id.to_string());
                }
                let raised = case.raised_at.timestamp_millis();
                if raised >= horizon {
                    pipe.zadd(self.index_key("raised"), id.to_string(), raised).zadd(
                        self.index_key(&format!("raised:item:{}", case.item)),
                        id.to_string(),
                        raised,
                    );
                }
                let () = pipe.query_async(&mut conn).await.context("indexing a case")?;
                indexed += 1;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let () = conn.set(&built, 1).await.context("marking the indexes built")?;
        Ok(indexed)
    }

    /// Moves channels kept by earlier versions as plain sets (`open:{channel}`) into the ranked
    /// open-index with summaries, then drops the sets. Idempotent; returns the cases moved.
    pub async fn migrate_open_sets(&self) -> anyhow::Result<usize> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}open:*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg("set")
                .query_async(&mut conn)
                .await
                .context("scanning for old open sets")?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut moved = 0;
        for key in keys {
            let Some(channel) = key.strip_prefix(&format!("{}open:", self.prefix)).and_then(|c| Channel::parse(c).ok())
            else {
                continue;
            };
            let ids: Vec<String> = conn.smembers(&key).await.context("reading an old open set")?;
            for id in ids {
                let Ok(id) = Uuid::parse_str(&id) else { continue };
                let Some((_, case)) = self.load(id).await? else { continue };
                let summary = serde_json::to_string(&case.summary()).context("encoding summary")?;
                let _: i64 = self
                    .index
                    .key(self.case_key(id))
                    .key(self.open_key(&channel))
                    .arg(summary)
                    .arg(rank_score(&case))
                    .arg(id.to_string())
                    .invoke_async(&mut conn)
                    .await
                    .context("indexing an open case")?;
                moved += 1;
            }
            let _: i64 = conn.del(&key).await.context("dropping an old open set")?;
        }
        Ok(moved)
    }

    /// The cursor of the channel's latest entry (`0-0` when it has none): a snapshot read at
    /// this cursor is still current.
    pub async fn last_cursor(&self, channel: &Channel) -> anyhow::Result<Cursor> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply =
            conn.xrevrange_count(self.stream_key(channel), "+", "-", 1).await.context("reading the stream's end")?;
        match reply.ids.first() {
            Some(id) => id.id.parse().with_context(|| format!("stream id {}", id.id)),
            None => Ok(Cursor::START),
        }
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

/// A channel's open cases as of `cursor`, bounded, as stored summary JSON (frames are built
/// without a decode/encode round trip).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cursor: Cursor,
    /// Summaries (`CaseSummary` JSON), the most urgent first.
    pub cases: Vec<String>,
    /// Open cases in all, at least `cases.len()`.
    pub total: usize,
    /// Where the next page starts, when more are open than were sent.
    pub next: Option<PageToken>,
}

impl Snapshot {
    pub fn truncated(&self) -> bool {
        self.total > self.cases.len()
    }
}

/// What the registry's what-if weighs (see [`CaseStore::what_if_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfInputs {
    /// The item's cases that are open or were raised in the window.
    pub cases: Vec<Case>,
    /// Open cases, any item.
    pub open_total: u64,
    /// Cases raised in the window, any item.
    pub raised_total: u64,
}

/// A page of open cases after a [`PageToken`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub cases: Vec<String>,
    pub next: Option<PageToken>,
}

/// Where a page of a channel's open cases ends: the rank score and id of its last case.
/// Written `SCORE:ID` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    pub score: i64,
    pub id: Uuid,
}

impl PageToken {
    fn from_reply(raw: &str) -> anyhow::Result<Option<PageToken>> {
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).with_context(|| format!("page token {raw}"))
    }
}

impl std::fmt::Display for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.score, self.id)
    }
}

/// A page token that is not `SCORE:ID`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a page token is SCORE:ID, as sent in `next`")]
pub struct PageTokenError;

impl std::str::FromStr for PageToken {
    type Err = PageTokenError;
    fn from_str(s: &str) -> Result<PageToken, PageTokenError> {
        let (score, id) = s.split_once(':').ok_or(PageTokenError)?;
        // Redis prints integral scores without a fraction; accept a float spelling too.
        let score = match score.parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                score.parse::<f64>().ok().filter(|f| f.is_finite() && f.fract() == 0.0).ok_or(PageTokenError)? as i64
            }
        };
        if score < 0 {
            return Err(PageTokenError);
        }
        Ok(PageToken { score, id: Uuid::parse_str(id).map_err(|_| PageTokenError)? })
    }
}

/// Added to the score of an overdue case so overdue cases rank before every other: a score is
/// the raise time in milliseconds (about 1.8e12 today), far below this, and both stay exact in
/// a double (below 2^53).
const OVERDUE_RANK: i64 = 100_000_000_000_000;

/// A case's place on its boards: overdue first, then newest first (higher scores first).
pub fn rank_score(case: &Case) -> i64 {
    let raised = case.raised_at.timestamp_millis().max(0);
    if case.overdue.is_empty() { raised } else { raised + OVERDUE_RANK }
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

/// Records a raise in its item's place index, drops the entries older than the window (at most
/// [`PLACE_PRUNE_BATCH`] a call) and, past `max`, the oldest, and lets both keys expire a window
/// after the last raise. KEYS: the GEO set, the time set. ARGV: lon, lat, id, now ms, cutoff ms,
/// ttl s, max.
const RECORD_PLACE: &str = r#"
redis.call('GEOADD', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5], 'LIMIT', 0, 500)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
local n = redis.call('ZCARD', KEYS[2])
local max = tonumber(ARGV[7])
if n > max then
  local extra = redis.call('ZRANGE', KEYS[2], 0, math.min(n - max, 500) - 1)
  redis.call('ZREM', KEYS[1], unpack(extra))
  redis.call('ZREM', KEYS[2], unpack(extra))
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return n
"#;

/// Expired entries one [`CaseStore::record_place`] removes at most (Lua's `unpack` is bounded).
pub const PLACE_PRUNE_BATCH: usize = 500;

/// A whistle near a point, from [`CaseStore::near`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearby {
    pub id: Uuid,
    pub distance_m: f64,
    pub raised_ms: i64,
}

/// The duplicate finder's index: per item, the places (a Redis GEO set, `dup:geo:{item}`) and
/// raise times (`dup:at:{item}`) of the whistles raised within the window. Intake writes it as it
/// accepts a raise, so the next raise finds its neighbours at once, without waiting for the
/// projector; the case store says which of them are still open.
impl CaseStore {
    fn place_keys(&self, item: &str) -> (String, String) {
        (format!("{}dup:geo:{item}", self.prefix), format!("{}dup:at:{item}", self.prefix))
    }

    /// Records a raise's place. At most `max` places per item are kept (the newest).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_place(
        &self,
        item: &str,
        id: Uuid,
        lat: f64,
        lon: f64,
        raised_ms: i64,
        window: std::time::Duration,
        max: usize,
    ) -> anyhow::Result<()> {
        let (geo, at) = self.place_keys(item);
        let cutoff = raised_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
        let mut conn = self.conn.clone();
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(RECORD_PLACE));
        let _: i64 = SCRIPT
            .key(geo)
            .key(at)
            .arg(lon)
            .arg(lat)
            .arg(id.to_string())
            .arg(raised_ms)
            .arg(cutoff)
            .arg(window.as_secs().max(1))
            .arg(max.max(1))
            .invoke_async(&mut conn)
            .await
            .context("recording a raise's place")?;
        Ok(())
    }

    /// The whistles of `item` raised at or after `since_ms` within `radius_m` of the point,
    /// nearest first, at most `limit`.
    ///
    /// Redis stops at the first `4 × limit` places it finds in the radius (`ANY`) and sorts
    /// those: a search costs the same at a busy place (a market where the same item was raised a
    /// thousand times today) as at a quiet one. Without `ANY`, it gathered and sorted every place
    /// of the item in the radius, up to the 10,000 kept per item: 1.7 ms of Redis per raise in the
    /// load test, which raises at one point. So where more than `4 × limit` places lie in the
    /// radius, the ones answered are near ones, not strictly the nearest.
    pub async fn near(
        &self,
        item: &str,
        lat: f64,
        lon: f64,
        radius_m: f64,
        since_ms: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<Nearby>> {
        let (geo, at) = self.place_keys(item);
        let mut conn = self.conn.clone();
        // Ask for more than `limit`: some of the nearest may be past the window.
        let found: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
            .arg(&geo)
            .arg("FROMLONLAT")
            .arg(lon)
            .arg(lat)
            .arg("BYRADIUS")
            .arg(radius_m)
            .arg("m")
            .arg("ASC")
            .arg("COUNT")
            .arg(limit.saturating_mul(4).max(1))
            .arg("ANY")
            .arg("WITHDIST")
            .query_async(&mut conn)
            .await
            .context("searching places")?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let members: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
        let scores: Vec<Option<f64>> =
            redis::cmd("ZMSCORE").arg(&at).arg(&members).query_async(&mut conn).await.context("reading raise times")?;
        Ok(found
            .iter()
            .zip(scores)
            .filter_map(|((member, distance_m), score)| {
                let raised_ms = score? as i64;
                let id = Uuid::parse_str(member).ok()?;
                (raised_ms >= since_ms).then_some(Nearby { id, distance_m: *distance_m, raised_ms })
            })
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_refuse_what_is_not_score_and_id() {
        let token = PageToken { score: 101_764_612_345_678, id: Uuid::from_u128(7) };
        assert_eq!(token.to_string().parse::<PageToken>(), Ok(token));
        assert_eq!("1.5e3:00000000-0000-0000-0000-000000000007".parse::<PageToken>().map(|t| t.score), Ok(1500));
        for bad in
            ["", "12", "x:00000000-0000-0000-0000-000000000007", "12:nope", "-1:00000000-0000-0000-0000-000000000007"]
        {
            assert_eq!(bad.parse::<PageToken>(), Err(PageTokenError), "{bad}");
        }
    }
}
