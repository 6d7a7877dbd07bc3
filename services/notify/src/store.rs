//! The notifier's state in PostgreSQL: rosters, the town of each case, and the deliveries
//! (the outbox the senders work from, and the dead-letter list).

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use std::str::FromStr as _;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;
use whistle_common::settings::DatabaseSettings;
use whistle_schemas::notify as wire;

use crate::plan::{Channel, Delivery};
use crate::roster::Unit;

/// The PostgreSQL schema of the notifier's tables.
pub const SCHEMA: &str = "notify";

/// Rosters listed at most by one call (a city has a few hundred units).
pub const MAX_LISTED: i64 = 5_000;

/// The store. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct NotifyStore {
    pub(crate) pool: PgPool,
}

/// A delivery a sender holds the lease of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Leased {
    pub id: String,
    pub whistle: Uuid,
    pub kind: String,
    pub channel: String,
    pub address: String,
    pub mention_phone: Option<String>,
    pub mention_wecom: Option<String>,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
}

#[derive(sqlx::FromRow)]
struct RosterRow {
    unit: String,
    body: sqlx::types::Json<wire::Roster>,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

impl From<RosterRow> for wire::Roster {
    fn from(row: RosterRow) -> wire::Roster {
        let mut r = row.body.0;
        r.unit = Some(row.unit);
        r.updated_at = Some(row.updated_at);
        r.updated_by = Some(row.updated_by);
        r
    }
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: String,
    event_id: Uuid,
    whistle: Uuid,
    kind: String,
    channel: String,
    unit: String,
    person: Option<String>,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<RecordRow> for wire::NotificationRecord {
    fn from(r: RecordRow) -> wire::NotificationRecord {
        wire::NotificationRecord {
            id: r.id,
            event_id: r.event_id.to_string(),
            whistle: r.whistle.to_string(),
            kind: r.kind,
            channel: r.channel,
            unit: r.unit,
            person: r.person,
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
        }
    }
}

const RECORD_COLUMNS: &str =
    "id, event_id, whistle, kind, channel, unit, person, state, attempts, last_error, created_at";

impl NotifyStore {
    /// Connects and runs the migrations.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<NotifyStore> {
        let url = settings.url.as_ref().context("database.url is not set")?;
        // The notifier's tables, and its own migration history, live in schema `notify`: the
        // account store may share the database, and sqlx refuses a history with another's
        // migrations in it.
        let options = PgConnectOptions::from_str(url.expose_secret())
            .context("database.url is not a PostgreSQL URL")?
            .options([("search_path", SCHEMA)]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds.max(1)))
            .connect_with(options)
            .await
            .context("connecting to the notifier's database (database.url)")?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            .execute(&pool)
            .await
            .context("creating the notifier's schema")?;
        sqlx::migrate!("./migrations").run(&pool).await.context("migrating the notifier's database")?;
        Ok(NotifyStore { pool })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the notifier's database")?;
        Ok(())
    }

    /// Replaces `unit`'s roster (already checked) and answers it as stored.
    pub async fn put_roster(&self, unit: &Unit, roster: &wire::Roster, by: &str) -> anyhow::Result<wire::Roster> {
        let mut body = roster.clone();
        body.unit = None;
        body.updated_at = None;
        body.updated_by = None;
        let row: RosterRow = sqlx::query_as(
            "INSERT INTO rosters (unit, district, body, updated_at, updated_by) VALUES ($1, $2, $3, now(), $4)
             ON CONFLICT (unit) DO UPDATE SET body = EXCLUDED.body, updated_at = now(), updated_by = EXCLUDED.updated_by
             RETURNING unit, body, updated_at, updated_by",
        )
        .bind(unit.as_str())
        .bind(unit.district())
        .bind(sqlx::types::Json(&body))
        .bind(by)
        .fetch_one(&self.pool)
        .await
        .context("storing a roster")?;
        Ok(row.into())
    }

    pub async fn roster(&self, unit: &str) -> anyhow::Result<Option<wire::Roster>> {
        let row: Option<RosterRow> =
            sqlx::query_as("SELECT unit, body, updated_at, updated_by FROM rosters WHERE unit = $1")
                .bind(unit)
                .fetch_optional(&self.pool)
                .await
                .context("reading a roster")?;
        Ok(row.map(Into::into))
    }

    /// The rosters of `units` (those that have one).
    pub async fn rosters_of(&self, units: &[String]) -> anyhow::Result<Vec<wire::Roster>> {
        let rows: Vec<RosterRow> =
            sqlx::query_as("SELECT unit, body, updated_at, updated_by FROM rosters WHERE unit = ANY($1)")
                .bind(units)
                .fetch_all(&self.pool)
                .await
                .context("reading rosters")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every roster, or one district's, by unit.
    pub async fn rosters(&self, district: Option<&str>) -> anyhow::Result<Vec<wire::Roster>> {
        let rows: Vec<RosterRow> = sqlx::query_as(
            "SELECT unit, body, updated_at, updated_by FROM rosters WHERE $1::text IS NULL OR district = $1
             ORDER BY unit LIMIT $2",
        )
        .bind(district)
        .bind(MAX_LISTED)
        .fetch_all(&self.pool)
        .await
        .context("listing rosters")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Loads `rosters` when the store has none yet (the sample rosters at first start); answers
    /// how many it stored.
    pub async fn seed(&self, rosters: &[(Unit, wire::Roster)]) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await.context("seeding rosters")?;
        // One seeder at a time, so two instances starting together do not both seed.
        sqlx::query("LOCK TABLE rosters IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .context("locking rosters")?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM rosters").fetch_one(&mut *tx).await.context("counting rosters")?;
        if count > 0 {
            return Ok(0);
        }
        for (unit, roster) in rosters {
            sqlx::query("INSERT INTO rosters (unit, district, body, updated_by) VALUES ($1, $2, $3, 'seed')")
                .bind(unit.as_str())
                .bind(unit.district())
                .bind(sqlx::types::Json(roster))
                .execute(&mut *tx)
                .await
                .context("seeding a roster")?;
        }
        tx.commit().await.context("seeding rosters")?;
        Ok(rosters.len())
    }

    pub async fn town_of(&self, whistle: Uuid) -> anyhow::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT town FROM case_towns WHERE whistle = $1")
            .bind(whistle)
            .fetch_optional(&self.pool)
            .await
            .context("reading a case's town")?;
        Ok(row.map(|(t,)| t))
    }

    /// Records planned deliveries, each once by id (a replay inserts nothing); answers how many
    /// were new. Unaddressable ones go straight to the dead-letter list. Each row's `created_at`
    /// is the time of its own insert, not of the transaction: a consumer batch records many
    /// events' deliveries in one transaction, and the lists show them in the order planned.
    pub async fn insert(&self, deliveries: &[Delivery]) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await.context("recording deliveries")?;
        let mut new = 0;
        for d in deliveries {
            let dead = d.channel == Channel::None;
            let done = sqlx::query(
                "INSERT INTO deliveries (id, event_id, whistle, kind, channel, unit, person, address, mention_phone,
                     mention_wecom, subject, body, state, next_attempt_at, last_error, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, clock_timestamp())
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&d.id)
            .bind(d.event_id)
            .bind(d.whistle)
            .bind(d.kind.as_str())
            .bind(d.channel.as_str())
            .bind(&d.unit)
            .bind(&d.person)
            .bind(&d.address)
            .bind(&d.mention_phone)
            .bind(&d.mention_wecom)
            .bind(&d.subject)
            .bind(&d.body)
            .bind(if dead { "dead" } else { "pending" })
            .bind(d.not_before)
            .bind(&d.unaddressed)
            .execute(&mut *tx)
            .await
            .context("recording a delivery")?;
            new += done.rows_affected();
        }
        tx.commit().await.context("recording deliveries")?;
        Ok(new)
    }

    /// Leases up to `limit` due deliveries for `lease` (another sender takes them over if this
    /// one dies before marking them).
    pub async fn lease_due(&self, limit: i64, lease: Duration) -> anyhow::Result<Vec<Leased>> {
        let rows: Vec<Leased> = sqlx::query_as(
            "UPDATE deliveries SET leased_until = now() + make_interval(secs => $2)
             WHERE id IN (
                 SELECT id FROM deliveries
                 WHERE state = 'pending' AND next_attempt_at <= now()
                   AND (leased_until IS NULL OR leased_until < now())
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id, whistle, kind, channel, address, mention_phone, mention_wecom, subject, body, attempts",
        )
        .bind(limit)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .context("leasing due deliveries")?;
        Ok(rows)
    }

    /// When the next pending delivery falls due, if any.
    pub async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let (at,): (Option<DateTime<Utc>>,) = sqlx::query_as(
            "SELECT min(greatest(next_attempt_at, coalesce(leased_until, next_attempt_at))) FROM deliveries
             WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
        .context("reading the next due delivery")?;
        Ok(at)
    }

    pub async fn mark_sent(&self, id: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE deliveries SET state = 'sent', sent_at = now(), attempts = attempts + 1, leased_until = NULL
             WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .context("marking a delivery sent")?;
        Ok(())
    }

    /// Records a failed attempt: retried after `retry_in`, or dead when `retry_in` is none.
    pub async fn mark_failed(&self, id: &str, error: &str, retry_in: Option<Duration>) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $2, leased_until = NULL,
                 state = CASE WHEN $3::float8 IS NULL THEN 'dead' ELSE 'pending' END,
                 next_attempt_at = CASE WHEN $3::float8 IS NULL THEN next_attempt_at
                                        ELSE now() + make_interval(secs => $3::float8) END
             WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_in.map(|d| d.as_secs_f64()))
        .execute(&self.pool)
        .await
        .context("recording a failed delivery")?;
        Ok(())
    }

    /// The dead-letter list, newest first: every unit's, or one district's.
    pub async fn dead_letters(
        &self,
        district: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<wire::NotificationRecord>> {
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "SELECT {RECORD_COLUMNS} FROM deliveries WHERE state = 'dead' AND ($1::text IS NULL OR left(unit, 6) = $1)
             ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(district)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("listing dead letters")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every delivery of one case, oldest first.
    pub async fn deliveries_of(&self, whistle: Uuid) -> anyhow::Result<Vec<wire::NotificationRecord>> {
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "SELECT {RECORD_COLUMNS} FROM deliveries WHERE whistle = $1 ORDER BY created_at, id"
        ))
        .bind(whistle)
        .fetch_all(&self.pool)
        .await
        .context("listing a case's deliveries")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
