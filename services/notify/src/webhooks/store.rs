//! Webhook subscriptions, their deliveries and attempts in PostgreSQL (schema `notify`, beside
//! the notifications' tables).

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_schemas::notify as wire;

use super::Subscription;
use crate::store::NotifyStore;

/// A delivery the consumer records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: String,
    pub webhook: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub whistle: Uuid,
    /// The event as it was on the case topic.
    pub body: String,
}

/// A delivery a worker holds the lease of, with what it needs to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeasedDelivery {
    pub id: String,
    pub webhook: Uuid,
    pub event_type: String,
    pub whistle: Uuid,
    pub body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub url: String,
    pub secret: String,
}

/// One attempt's outcome, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: i32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
}

/// What became of a failed attempt's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again later.
    Retry,
    /// Given up on.
    Dead,
    /// Given up on, and its subscription paused (it had failed for too long).
    Paused,
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: Uuid,
    url: String,
    events: Vec<String>,
    district: Option<String>,
    state: String,
    failing_since: Option<DateTime<Utc>>,
    paused_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    created_by: String,
}

impl From<WebhookRow> for wire::Webhook {
    fn from(r: WebhookRow) -> wire::Webhook {
        wire::Webhook {
            id: r.id.to_string(),
            url: r.url,
            events: r.events,
            district: r.district,
            state: r.state,
            failing_since: r.failing_since,
            paused_at: r.paused_at,
            created_at: r.created_at,
            created_by: r.created_by,
        }
    }
}

const WEBHOOK_COLUMNS: &str = "id, url, events, district, state, failing_since, paused_at, created_at, created_by";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    event_id: Uuid,
    event_type: String,
    whistle: Uuid,
    state: String,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    delivery: String,
    attempt: i32,
    at: DateTime<Utc>,
    status: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

/// Why a subscription was not created.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(wire::Webhook),
    /// The scope already has `webhooks.max_per_scope` subscriptions.
    LimitReached,
}

impl NotifyStore {
    pub async fn district_of(&self, whistle: Uuid) -> anyhow::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT district FROM case_districts WHERE whistle = $1")
            .bind(whistle)
            .fetch_optional(&self.pool)
            .await
            .context("reading a case's district")?;
        Ok(row.map(|(d,)| d))
    }

    /// The event types some active subscription hears (most have none: the consumer then skips
    /// the district lookup); read once per consumer batch.
    pub async fn heard_types(&self) -> anyhow::Result<std::collections::HashSet<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT e FROM webhooks, unnest(events) AS e WHERE state = 'active'")
                .fetch_all(&self.pool)
                .await
                .context("looking for webhook subscribers")?;
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    /// Records the districts and towns of new cases (`(case, district, town)`), once per case
    /// (a replay records nothing), in one transaction.
    pub async fn record_origins(&self, origins: &[(Uuid, String, Option<String>)]) -> anyhow::Result<()> {
        if origins.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.context("recording cases' districts")?;
        let districts: Vec<(Uuid, String)> = origins.iter().map(|o| (o.0, o.1.clone())).collect();
        insert_pairs(&mut tx, "case_districts (whistle, district)", &districts)
            .await
            .context("recording cases' districts")?;
        let towns: Vec<(Uuid, String)> = origins.iter().filter_map(|o| Some((o.0, o.2.clone()?))).collect();
        insert_pairs(&mut tx, "case_towns (whistle, town)", &towns).await.context("recording cases' towns")?;
        tx.commit().await.context("recording cases' districts")?;
        Ok(())
    }

    /// The active subscriptions that hear `event_type` for a case of `district` (every-district
    /// ones only when the case's district is unknown).
    pub async fn subscribers(&self, event_type: &str, district: Option<&str>) -> anyhow::Result<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM webhooks WHERE state = 'active' AND $1 = ANY(events)
               AND (district IS NULL OR district = $2) ORDER BY id",
        )
        .bind(event_type)
        .bind(district)
        .fetch_all(&self.pool)
        .await
        .context("reading webhook subscribers")?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Records deliveries, each once by id; answers how many were new. A subscription deleted
    /// meanwhile gets none.
    pub async fn insert_webhook_deliveries(&self, deliveries: &[NewDelivery]) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await.context("recording webhook deliveries")?;
        let mut new = 0;
        for d in deliveries {
            let done = sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook, event_id, event_type, whistle, body, state)
                 SELECT $1, $2, $3, $4, $5, $6, 'pending' WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&d.id)
            .bind(d.webhook)
            .bind(d.event_id)
            .bind(&d.event_type)
            .bind(d.whistle)
            .bind(&d.body)
            .execute(&mut *tx)
            .await
            .context("recording a webhook delivery")?;
            new += done.rows_affected();
        }
        tx.commit().await.context("recording webhook deliveries")?;
        Ok(new)
    }

    /// Stores a new subscription unless its scope (a district, or every district) already has
    /// `cap` of them.
    pub async fn create_webhook(
        &self,
        sub: &Subscription,
        secret: &str,
        by: &str,
        cap: u32,
    ) -> anyhow::Result<CreateOutcome> {
        let district = sub.district.as_ref().map(|d| d.as_str());
        let mut tx = self.pool.begin().await.context("creating a webhook")?;
        // One creator per scope at a time, so two requests cannot both take the last place.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('whistle-webhooks:' || coalesce($1, '*')))")
            .bind(district)
            .execute(&mut *tx)
            .await
            .context("locking the webhook scope")?;
        let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhooks WHERE district IS NOT DISTINCT FROM $1")
            .bind(district)
            .fetch_one(&mut *tx)
            .await
            .context("counting webhooks")?;
        if count >= i64::from(cap) {
            return Ok(CreateOutcome::LimitReached);
        }
        let row: WebhookRow = sqlx::query_as(&format!(
            "INSERT INTO webhooks (id, url, events, district, secret, state, created_by)
             VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(sub.url.as_str())
        .bind(&sub.events)
        .bind(district)
        .bind(secret)
        .bind(by)
        .fetch_one(&mut *tx)
        .await
        .context("storing a webhook")?;
        tx.commit().await.context("creating a webhook")?;
        Ok(CreateOutcome::Created(row.into()))
    }

    /// Every subscription, or one district's, oldest first.
    pub async fn webhooks(&self, district: Option<&str>) -> anyhow::Result<Vec<wire::Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE $1::text IS NULL OR district = $1 ORDER BY created_at, id"
        ))
        .bind(district)
        .fetch_all(&self.pool)
        .await
        .context("listing webhooks")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn webhook(&self, id: Uuid) -> anyhow::Result<Option<wire::Webhook>> {
        let row: Option<WebhookRow> = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a webhook")?;
        Ok(row.map(Into::into))
    }

    /// Deletes a subscription with its deliveries and attempts; answers whether it existed.
    pub async fn delete_webhook(&self, id: Uuid) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .context("deleting a webhook")?;
        Ok(done.rows_affected() > 0)
    }

    /// Makes a subscription active, its run of failures forgotten.
    pub async fn resume_webhook(&self, id: Uuid) -> anyhow::Result<Option<wire::Webhook>> {
        let row: Option<WebhookRow> = sqlx::query_as(&format!(
            "UPDATE webhooks SET state = 'active', failing_since = NULL, paused_at = NULL WHERE id = $1
             RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("resuming a webhook")?;
        Ok(row.map(Into::into))
    }

    /// A subscription's newest `limit` deliveries, each with its attempts.
    pub async fn webhook_deliveries(&self, id: Uuid, limit: i64) -> anyhow::Result<Vec<wire::WebhookDelivery>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT id, event_id, event_type, whistle, state, next_attempt_at, created_at, delivered_at, last_error
             FROM webhook_deliveries WHERE webhook = $1 ORDER BY created_at DESC, id LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("listing webhook deliveries")?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT delivery, attempt, at, status, error, duration_ms FROM webhook_attempts
             WHERE delivery = ANY($1) ORDER BY delivery, attempt",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .context("listing webhook attempts")?;
        let mut by_delivery: std::collections::HashMap<String, Vec<wire::WebhookAttempt>> = Default::default();
        for a in attempts {
            by_delivery.entry(a.delivery).or_default().push(wire::WebhookAttempt {
                attempt: a.attempt,
                at: a.at,
                status: a.status.and_then(|s| u16::try_from(s).ok()),
                error: a.error,
                duration_ms: a.duration_ms,
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| wire::WebhookDelivery {
                attempts: by_delivery.remove(&r.id).unwrap_or_default(),
                next_attempt_at: (r.state == "pending").then_some(r.next_attempt_at),
                id: r.id,
                event_id: r.event_id.to_string(),
                event_type: r.event_type,
                whistle: r.whistle.to_string(),
                state: r.state,
                created_at: r.created_at,
                delivered_at: r.delivered_at,
                last_error: r.last_error,
            })
            .collect())
    }

    /// Leases up to `limit` due deliveries of active subscriptions for `lease`.
    pub async fn lease_webhook_deliveries(&self, limit: i64, lease: Duration) -> anyhow::Result<Vec<LeasedDelivery>> {
        let rows: Vec<LeasedDelivery> = sqlx::query_as(
            "UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2)
             FROM webhooks w
             WHERE w.id = d.webhook AND d.id IN (
                 SELECT d2.id FROM webhook_deliveries d2 JOIN webhooks w2 ON w2.id = d2.webhook
                 WHERE d2.state = 'pending' AND w2.state = 'active' AND d2.next_attempt_at <= now()
                   AND (d2.leased_until IS NULL OR d2.leased_until < now())
                 ORDER BY d2.next_attempt_at LIMIT $1 FOR UPDATE OF d2 SKIP LOCKED)
             RETURNING d.id, d.webhook, d.event_type, d.whistle, d.body, d.attempts, d.created_at, w.url, w.secret",
        )
        .bind(limit)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .context("leasing due webhook deliveries")?;
        Ok(rows)
    }

    /// When the next pending delivery of an active subscription falls due, if any.
    pub async fn next_webhook_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let (at,): (Option<DateTime<Utc>>,) = sqlx::query_as(
            "SELECT min(greatest(d.next_attempt_at, coalesce(d.leased_until, d.next_attempt_at)))
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook
             WHERE d.state = 'pending' AND w.state = 'active'",
        )
        .fetch_one(&self.pool)
        .await
        .context("reading the next due webhook delivery")?;
        Ok(at)
    }

    /// Records a successful attempt: the delivery is done, the subscription's failures forgotten.
    pub async fn webhook_delivered(&self, d: &LeasedDelivery, a: &AttemptRecord) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await.context("recording a webhook delivery")?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(), attempts = $2,
                 leased_until = NULL, last_error = NULL
             WHERE id = $1",
        )
        .bind(&d.id)
        .bind(a.attempt)
        .execute(&mut *tx)
        .await
        .context("marking a webhook delivery delivered")?;
        if done.rows_affected() == 0 {
            // The subscription was deleted meanwhile.
            return Ok(());
        }
        insert_attempt(&mut tx, &d.id, a).await?;
        sqlx::query("UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL")
            .bind(d.webhook)
            .execute(&mut *tx)
            .await
            .context("clearing a webhook's failures")?;
        tx.commit().await.context("recording a webhook delivery")?;
        Ok(())
    }

    /// Records a failed attempt: retried after `retry_in`, or dead when it is none. When the
    /// subscription has been failing for `pause_after`, it is paused and its other pending
    /// deliveries die with it.
    pub async fn webhook_failed(
        &self,
        d: &LeasedDelivery,
        a: &AttemptRecord,
        retry_in: Option<Duration>,
        pause_after: Duration,
    ) -> anyhow::Result<AfterFailure> {
        let error = a.error.as_deref().unwrap_or("failed");
        let mut tx = self.pool.begin().await.context("recording a failed webhook delivery")?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $2, last_error = $3, leased_until = NULL,
                 state = CASE WHEN $4::float8 IS NULL THEN 'dead' ELSE 'pending' END,
                 next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                        ELSE now() + make_interval(secs => $4::float8) END
             WHERE id = $1",
        )
        .bind(&d.id)
        .bind(a.attempt)
        .bind(error)
        .bind(retry_in.map(|d| d.as_secs_f64()))
        .execute(&mut *tx)
        .await
        .context("recording a failed webhook delivery")?;
        if done.rows_affected() == 0 {
            return Ok(if retry_in.is_some() { AfterFailure::Retry } else { AfterFailure::Dead });
        }
        insert_attempt(&mut tx, &d.id, a).await?;
        sqlx::query("UPDATE webhooks SET failing_since = now() WHERE id = $1 AND failing_since IS NULL")
            .bind(d.webhook)
            .execute(&mut *tx)
            .await
            .context("recording a webhook's failures")?;
        let paused = sqlx::query(
            "UPDATE webhooks SET state = 'paused', paused_at = now()
             WHERE id = $1 AND state = 'active' AND failing_since <= now() - make_interval(secs => $2)",
        )
        .bind(d.webhook)
        .bind(pause_after.as_secs_f64())
        .execute(&mut *tx)
        .await
        .context("pausing a failing webhook")?
        .rows_affected()
            > 0;
        if paused {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'dead', leased_until = NULL,
                     last_error = coalesce(last_error || '; ', '') || 'the subscription was paused'
                 WHERE webhook = $1 AND state = 'pending'",
            )
            .bind(d.webhook)
            .execute(&mut *tx)
            .await
            .context("giving up a paused webhook's deliveries")?;
        }
        tx.commit().await.context("recording a failed webhook delivery")?;
        Ok(match (paused, retry_in) {
            (true, _) => AfterFailure::Paused,
            (false, Some(_)) => AfterFailure::Retry,
            (false, None) => AfterFailure::Dead,
        })
    }

    /// Deletes each subscription's finished deliveries (with their attempts) beyond its newest
    /// `keep`; answers how many went.
    pub async fn prune_webhook_deliveries(&self, keep: u32) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries d USING (
                 SELECT id, row_number() OVER (PARTITION BY webhook ORDER BY created_at DESC, id) AS n
                 FROM webhook_deliveries WHERE state <> 'pending') old
             WHERE d.id = old.id AND old.n > $1",
        )
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await
        .context("pruning webhook deliveries")?;
        Ok(done.rows_affected())
    }
}

async fn insert_attempt(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    delivery: &str,
    a: &AttemptRecord,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery, attempt, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (delivery, attempt) DO NOTHING",
    )
    .bind(delivery)
    .bind(a.attempt)
    .bind(a.status.map(i32::from))
    .bind(&a.error)
    .bind(i64::try_from(a.duration.as_millis()).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await
    .context("recording a webhook attempt")?;
    Ok(())
}

/// Inserts `(case, value)` pairs into `table (whistle, column)` once per case, in one statement
/// (nothing for no pairs).
async fn insert_pairs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    pairs: &[(Uuid, String)],
) -> Result<(), sqlx::Error> {
    if pairs.is_empty() {
        return Ok(());
    }
    let sql =
        format!("INSERT INTO {table} SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT (whistle) DO NOTHING");
    sqlx::query(&sql)
        .bind(pairs.iter().map(|p| p.0).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.1.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
