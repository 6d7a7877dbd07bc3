//! Subjects' enforcement history in Redis, the durable state behind repeat-offence tiers and the
//! inspection fences (never process memory: any intake instance sees every other's actions).
//!
//! Keys, under the deployment prefix: `assist:subject:{id}:inspections` and
//! `assist:subject:{id}:penalties`, sorted sets scored by time (ms) whose members are small JSON
//! records carrying the event id, so recording the same event twice changes nothing. Entries
//! older than the history period are trimmed on write and the keys expire after it.
//!
//! An action is recorded after Kafka acknowledged its event. Two officers acting on one subject
//! in the same instant may both miss each other's warning; the fences are advice at the moment of
//! action, and the outcome figures count from the event log, not from here.

use anyhow::Context as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use whistle_common::redis_conn::Redis;

use crate::fence::PastInspection;

#[derive(Clone)]
pub struct SubjectHistory {
    conn: Redis,
    prefix: String,
    retention: Duration,
}

impl std::fmt::Debug for SubjectHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectHistory").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InspectionRecord {
    department: String,
    whistle: Uuid,
    event: Uuid,
    /// The inspection included persuasion and education (劝导).
    #[serde(default)]
    persuaded: bool,
    /// A re-check (复查), not a new inspection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    recheck: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PenaltyRecord {
    item: String,
    whistle: Uuid,
    event: Uuid,
    amount_yuan: u64,
}

impl SubjectHistory {
    pub fn new(conn: Redis, prefix: impl Into<String>, retention: Duration) -> SubjectHistory {
        SubjectHistory { conn, prefix: prefix.into(), retention }
    }

    fn key(&self, subject: &str, kind: &str) -> String {
        format!("{}assist:subject:{subject}:{kind}", self.prefix)
    }

    /// Inspections of `subject` since `since`.
    pub async fn inspections_since(&self, subject: &str, since: DateTime<Utc>) -> anyhow::Result<Vec<PastInspection>> {
        let rows = self.range(&self.key(subject, "inspections"), since).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(json, at)| {
                let r: InspectionRecord = serde_json::from_str(&json).ok()?;
                Some(PastInspection { department: r.department, case: r.whistle, recheck: r.recheck, at })
            })
            .collect())
    }

    /// Whether an inspection of `subject` in case `whistle` recorded persuasion.
    pub async fn persuaded_in_case(&self, subject: &str, whistle: Uuid) -> anyhow::Result<bool> {
        let rows = self.range(&self.key(subject, "inspections"), DateTime::<Utc>::UNIX_EPOCH).await?;
        Ok(rows
            .iter()
            .filter_map(|(json, _)| serde_json::from_str::<InspectionRecord>(json).ok())
            .any(|r| r.whistle == whistle && r.persuaded))
    }

    /// Penalties for `item` against `subject` since `since`, other than in case `except`.
    pub async fn penalties_since(
        &self,
        subject: &str,
        item: &str,
        since: DateTime<Utc>,
        except: Uuid,
    ) -> anyhow::Result<u32> {
        let rows = self.range(&self.key(subject, "penalties"), since).await?;
        Ok(rows
            .iter()
            .filter_map(|(json, _)| serde_json::from_str::<PenaltyRecord>(json).ok())
            .filter(|r| r.item == item && r.whistle != except)
            .count() as u32)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_inspection(
        &self,
        subject: &str,
        department: &str,
        whistle: Uuid,
        event: Uuid,
        persuaded: bool,
        recheck: bool,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let record = InspectionRecord { department: department.to_owned(), whistle, event, persuaded, recheck };
        let member = serde_json::to_string(&record)?;
        self.add(&self.key(subject, "inspections"), &member, at).await
    }

    pub async fn record_penalty(
        &self,
        subject: &str,
        item: &str,
        amount_yuan: u64,
        whistle: Uuid,
        event: Uuid,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let member = serde_json::to_string(&PenaltyRecord { item: item.to_owned(), whistle, event, amount_yuan })?;
        self.add(&self.key(subject, "penalties"), &member, at).await
    }

    async fn range(&self, key: &str, since: DateTime<Utc>) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
        let mut conn = self.conn.clone();
        let rows: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(key)
            .arg(since.timestamp_millis())
            .arg("+inf")
            .arg("BYSCORE")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .with_context(|| format!("reading subject history {key}"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, score)| Utc.timestamp_millis_opt(score as i64).single().map(|t| (m, t)))
            .collect())
    }

    async fn add(&self, key: &str, member: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let oldest = (Utc::now() - self.retention).timestamp_millis();
        redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(key)
            .arg(at.timestamp_millis())
            .arg(member)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(key)
            .arg("-inf")
            .arg(format!("({oldest}"))
            .ignore()
            .cmd("PEXPIRE")
            .arg(key)
            .arg(self.retention.num_milliseconds())
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .with_context(|| format!("recording subject history {key}"))
    }
}
