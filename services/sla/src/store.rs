//! SLA state in Redis, shared by every SLA instance.
//!
//! - `sla:case:{id}`: the case's [`CaseSla`] as JSON.
//! - `sla:fired:{id}`: keys of the timers that fired for the case (a set; a timer fires once).
//! - `sla:due:{partition}`: armed timers of the cases on one Kafka partition (sorted set,
//!   member `{id}|{key}`, score = due time in ms). The instance that owns the partition in the
//!   consumer group fires them, so instances share the work as they share the partitions.
//! - `sla:index`: every case by dispatch time (sorted set), for the managers' summary.

use std::collections::BTreeSet;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use redis::AsyncCommands;
use uuid::Uuid;
use whistle_common::redis_conn::Redis;

use crate::case::{CaseSla, Timer};

#[derive(Clone)]
pub struct SlaStore {
    conn: Redis,
    prefix: String,
}

impl SlaStore {
    pub fn new(conn: Redis, prefix: impl Into<String>) -> SlaStore {
        SlaStore { conn, prefix: prefix.into() }
    }

    /// The connection its writes go through (the consumer confirms them before committing).
    pub fn connection(&self) -> Redis {
        self.conn.clone()
    }

    fn case_key(&self, id: Uuid) -> String {
        format!("{}sla:case:{id}", self.prefix)
    }

    fn fired_key(&self, id: Uuid) -> String {
        format!("{}sla:fired:{id}", self.prefix)
    }

    pub fn due_key(&self, partition: i32) -> String {
        format!("{}sla:due:{partition}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}sla:index", self.prefix)
    }

    pub async fn load(&self, id: Uuid) -> anyhow::Result<Option<CaseSla>> {
        let mut conn = self.conn.clone();
        let json: Option<String> = conn.get(self.case_key(id)).await.context("reading SLA case")?;
        json.map(|j| serde_json::from_str(&j).context("decoding SLA case")).transpose()
    }

    pub async fn fired(&self, id: Uuid) -> anyhow::Result<BTreeSet<String>> {
        let mut conn = self.conn.clone();
        conn.smembers(self.fired_key(id)).await.context("reading fired timers")
    }

    /// Records that a timer fired; true when it had not been recorded yet.
    pub async fn mark_fired(&self, id: Uuid, key: &str, partition: i32) -> anyhow::Result<bool> {
        let mut conn = self.conn.clone();
        let (added, _): (i64, i64) = redis::pipe()
            .atomic()
            .sadd(self.fired_key(id), key)
            .zrem(self.due_key(partition), format!("{id}|{key}"))
            .query_async(&mut conn)
            .await
            .context("recording fired timer")?;
        Ok(added == 1)
    }

    /// Writes the case and replaces its armed timers, atomically.
    pub async fn save(&self, case: &CaseSla, all_keys: &[String], timers: &[Timer]) -> anyhow::Result<()> {
        let json = serde_json::to_string(case).context("encoding SLA case")?;
        let due = self.due_key(case.partition);
        let mut pipe = redis::pipe();
        pipe.atomic().set(self.case_key(case.whistle), json);
        // One ZREM of the keys no longer armed and one ZADD of those armed (it moves a timer
        // already there): two commands, not one per timer.
        let stale: Vec<String> = all_keys
            .iter()
            .filter(|k| !timers.iter().any(|t| &t.key == *k))
            .map(|k| format!("{}|{k}", case.whistle))
            .collect();
        if !stale.is_empty() {
            pipe.zrem(&due, stale);
        }
        let armed: Vec<(i64, String)> =
            timers.iter().map(|t| (t.due.timestamp_millis(), format!("{}|{}", case.whistle, t.key))).collect();
        if !armed.is_empty() {
            pipe.zadd_multiple(&due, &armed);
        }
        pipe.zadd(self.index_key(), case.whistle.to_string(), case.dispatched_at.timestamp_millis());
        let mut conn = self.conn.clone();
        let () = pipe.query_async(&mut conn).await.context("writing SLA case")?;
        Ok(())
    }

    /// Armed timers due by `now` on `partition`, oldest first (at most `limit`).
    pub async fn due(&self, partition: i32, now: DateTime<Utc>, limit: isize) -> anyhow::Result<Vec<(Uuid, String)>> {
        let mut conn = self.conn.clone();
        let members: Vec<String> = conn
            .zrangebyscore_limit(self.due_key(partition), "-inf", now.timestamp_millis(), 0, limit)
            .await
            .context("reading due timers")?;
        Ok(members
            .into_iter()
            .filter_map(|m| {
                let (id, key) = m.split_once('|')?;
                Some((Uuid::parse_str(id).ok()?, key.to_owned()))
            })
            .collect())
    }

    /// Drops one armed timer (it no longer applies).
    pub async fn disarm(&self, partition: i32, id: Uuid, key: &str) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.zrem(self.due_key(partition), format!("{id}|{key}")).await.context("dropping timer")?;
        Ok(())
    }

    /// The earliest armed deadline on `partition`.
    pub async fn next_due(&self, partition: i32) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut conn = self.conn.clone();
        let first: Vec<(String, i64)> =
            conn.zrange_withscores(self.due_key(partition), 0, 0).await.context("reading next timer")?;
        Ok(first.first().and_then(|(_, ms)| Utc.timestamp_millis_opt(*ms).single()))
    }

    /// Armed timers on `partition`.
    pub async fn armed(&self, partition: i32) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        conn.zcard(self.due_key(partition)).await.context("counting timers")
    }

    /// Cases dispatched in `[from, to]`.
    pub async fn cases_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<Vec<CaseSla>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .zrangebyscore(self.index_key(), from.timestamp_millis(), to.timestamp_millis())
            .await
            .context("reading SLA index")?;
        let mut cases = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|id| format!("{}sla:case:{id}", self.prefix)).collect();
            let jsons: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.context("reading SLA cases")?;
            for json in jsons.into_iter().flatten() {
                cases.push(serde_json::from_str(&json).context("decoding SLA case")?);
            }
        }
        Ok(cases)
    }
}
