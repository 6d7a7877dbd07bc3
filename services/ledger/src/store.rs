//! The ledger in PostgreSQL: applying case events (a batch in one transaction, idempotent on the
//! event id: the case's row and the event itself), and the queries of the list, the exports and
//! the reports.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row as _};
use uuid::Uuid;
use whistle_case::{Case, Effect, Refusal, effect, evolve, is_duplicate};
use whistle_common::settings::DatabaseSettings;
use whistle_schemas::api::WhistleView;
use whistle_schemas::events::CaseEvent;

use crate::query::{Filter, Scope, Sort};
use crate::record::Record;

/// What applying one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Written,
    /// Already on the case's timeline (a replay).
    Duplicate,
    /// The case's rules refused it (wrong order, unknown case): not applied.
    Refused(Refusal),
}

/// The ledger store. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct LedgerStore {
    pool: PgPool,
}

/// The columns a listed row is read with.
const LISTED: &str = "id, raised_at, updated_at, view";

impl LedgerStore {
    /// Connects and runs the migrations.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<LedgerStore> {
        let url = settings.url.as_ref().context("database.url is not set")?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds.max(1)))
            .connect(url.expose_secret())
            .await
            .context("connecting to the ledger database (database.url)")?;
        let store = LedgerStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Brings the schema up to date (sqlx takes a lock, so instances may start together).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await.context("migrating the ledger database")
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the ledger database")?;
        Ok(())
    }

    /// Whether the database's ctype lets trigrams see Chinese characters (else `q` is answered
    /// by a scan: correct, slower).
    pub async fn trigrams_see_chinese(&self) -> anyhow::Result<bool> {
        let trigrams: String = sqlx::query_scalar("SELECT show_trgm('占道经营')::text")
            .fetch_one(&self.pool)
            .await
            .context("checking trigrams")?;
        Ok(trigrams != "{}")
    }

    /// Number of cases in the ledger.
    pub async fn count(&self) -> anyhow::Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM ledger_cases").fetch_one(&self.pool).await.context("counting cases")
    }

    /// Empties the ledger (before a rebuild).
    pub async fn reset(&self) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE ledger_cases, ledger_case_events")
            .execute(&self.pool)
            .await
            .context("emptying the ledger")?;
        Ok(())
    }

    /// Applies one event to its case with the case's own rules, in one transaction.
    pub async fn apply(&self, event: &CaseEvent) -> anyhow::Result<Applied> {
        let mut applied = self.apply_batch(&[event]).await?;
        Ok(applied.pop().unwrap_or(Applied::Duplicate))
    }

    /// Applies `events`, in the order given (a case's events in topic order), to their cases
    /// with the case's own rules, all in one transaction: what each did, in the same order.
    ///
    /// The cases are read once and locked in id order (two writers of overlapping batches, as
    /// around a rebalance, wait for each other instead of deadlocking), evolved in memory, and
    /// written with one statement for the cases and one for the events. Either every event of
    /// the batch is in the ledger afterwards or none is: a failed batch is retried whole, and a
    /// replay of an applied one finds each event a duplicate.
    pub async fn apply_batch(&self, events: &[&CaseEvent]) -> anyhow::Result<Vec<Applied>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<Uuid> = events.iter().map(|e| e.subject).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.pool.begin().await.context("starting a transaction")?;
        let stored: Vec<(Uuid, sqlx::types::Json<Value>)> =
            sqlx::query_as("SELECT id, view FROM ledger_cases WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .context("reading cases")?;
        let mut cases: HashMap<Uuid, Case> = HashMap::with_capacity(ids.len());
        for (id, json) in stored {
            cases.insert(id, serde_json::from_value(json.0).context("decoding a stored case")?);
        }
        // The cases changed, each with the authority the router last found for it in the batch
        // (the one figure the view does not keep), in id order.
        let mut changed: BTreeMap<Uuid, Option<String>> = BTreeMap::new();
        let mut written: Vec<&CaseEvent> = Vec::new();
        let mut outcomes = Vec::with_capacity(events.len());
        for &event in events {
            let current = cases.get(&event.subject);
            if is_duplicate(current, event) {
                outcomes.push(Applied::Duplicate);
                continue;
            }
            match evolve(current.cloned(), event) {
                Ok(case) => {
                    cases.insert(event.subject, case);
                    let authority = changed.entry(event.subject).or_default();
                    if let Some(found) = routed_authority(event) {
                        *authority = Some(found);
                    }
                    written.push(event);
                    outcomes.push(Applied::Written);
                }
                Err(refusal) => outcomes.push(Applied::Refused(refusal)),
            }
        }
        if written.is_empty() {
            return Ok(outcomes);
        }
        let mut rows = Vec::with_capacity(changed.len());
        for (id, authority) in changed {
            let view: WhistleView = cases.get(&id).context("a changed case is missing")?.view();
            let json = serde_json::to_value(&view).context("encoding a case")?;
            rows.push((Record::of(&view, json), authority));
        }
        upsert(&mut tx, &rows).await?;
        // The events themselves, for the outcome figures (whistle_ledger::figures).
        sqlx::query(
            "INSERT INTO ledger_case_events (id, case_id, time, event) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::jsonb[]) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(written.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(written.iter().map(|e| e.subject).collect::<Vec<_>>())
        .bind(written.iter().map(|e| e.time).collect::<Vec<_>>())
        .bind(written.iter().map(|e| sqlx::types::Json(*e)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .context("writing case events")?;
        tx.commit().await.context("committing cases")?;
        Ok(outcomes)
    }

    /// Writes rows of cases in one statement, without an authority (the benchmark's generator;
    /// the consumer writes through [`LedgerStore::apply_batch`]).
    pub async fn insert_bulk(&self, records: &[Record]) -> anyhow::Result<()> {
        let rows: Vec<(Record, Option<String>)> = records.iter().map(|r| (r.clone(), None)).collect();
        let mut tx = self.pool.begin().await.context("starting a transaction")?;
        upsert(&mut tx, &rows).await?;
        tx.commit().await.context("committing cases")?;
        Ok(())
    }

    /// One page of cases in `scope` matching `filter`, in `sort` order after `after`; `limit`
    /// rows at most, plus whether more follow.
    pub async fn page(
        &self,
        scope: &Scope,
        filter: &Filter,
        sort: Sort,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> anyhow::Result<(Vec<Listed>, bool)> {
        let mut qb = QueryBuilder::<Postgres>::new("");
        match scope {
            // The cases a department leads or assists: two index-ordered branches merged, so
            // neither becomes a scan-and-sort of every case the department ever had.
            Scope::Department(d) => {
                qb.push(format!("SELECT {LISTED} FROM (("));
                push_page(&mut qb, &Rows::Led(d), filter, sort, after, limit);
                qb.push(") UNION ALL (");
                push_page(&mut qb, &Rows::Assisted(d), filter, sort, after, limit);
                qb.push(format!(")) AS both_branches ORDER BY {}", sort.order()));
                qb.push(" LIMIT ").push_bind(limit + 1);
            }
            Scope::City => push_page(&mut qb, &Rows::All, filter, sort, after, limit),
            Scope::District(d) => push_page(&mut qb, &Rows::District(d), filter, sort, after, limit),
            Scope::Town(t) => push_page(&mut qb, &Rows::Town(t), filter, sort, after, limit),
        }
        // Planned with this call's values, never a cached generic plan: for `q` a generic plan
        // guesses a substring as rare and intersects the trigram index with the scope's (a
        // common word in one district: 570 ms), where its values give a walk of the scope's raise
        // order that stops at the page's end (2–20 ms). Planning costs well under a millisecond.
        let rows = qb.build().persistent(false).fetch_all(&self.pool).await.context("listing cases")?;
        let more = rows.len() as i64 > limit;
        let listed = rows
            .into_iter()
            .take(limit as usize)
            .map(|row| {
                let view: sqlx::types::Json<WhistleView> = row.try_get("view")?;
                Ok(Listed {
                    id: row.try_get("id")?,
                    raised_at: row.try_get("raised_at")?,
                    updated_at: row.try_get("updated_at")?,
                    view: view.0,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .context("reading listed cases")?;
        Ok((listed, more))
    }

    /// Every case's view, by id (the rebuild test compares two ledgers with it).
    pub async fn all_views(&self) -> anyhow::Result<Vec<(Uuid, Value, Option<String>)>> {
        let rows = sqlx::query("SELECT id, view, authority FROM ledger_cases ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .context("reading every case")?;
        rows.into_iter()
            .map(|row| {
                let view: sqlx::types::Json<Value> = row.try_get("view")?;
                Ok((row.try_get("id")?, view.0, row.try_get("authority")?))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .context("reading every case")
    }
}

impl LedgerStore {
    /// Every stored case event (id, case, time, the event as JSON), by id (the rebuild test
    /// compares two ledgers with it).
    pub async fn all_events(&self) -> anyhow::Result<Vec<(Uuid, Uuid, DateTime<Utc>, Value)>> {
        let rows = sqlx::query("SELECT id, case_id, time, event FROM ledger_case_events ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .context("reading every case event")?;
        rows.into_iter()
            .map(|row| {
                let event: sqlx::types::Json<Value> = row.try_get("event")?;
                Ok((row.try_get("id")?, row.try_get("case_id")?, row.try_get("time")?, event.0))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .context("reading every case event")
    }
}

/// A case as the list reads it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub view: WhistleView,
}

/// The router's finding of the holder's authority, on a dispatch.
fn routed_authority(event: &CaseEvent) -> Option<String> {
    let Effect::Routed(d) = effect(&event.body) else { return None };
    d.authority.and_then(|a| serde_json::to_value(a).ok()).and_then(|v| v.as_str().map(str::to_owned))
}

/// Writes `rows` (distinct ids), each with the authority found for it (or none, keeping the
/// stored one), in one statement.
async fn upsert(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[(Record, Option<String>)],
) -> anyhow::Result<()> {
    fn col<T>(rows: &[(Record, Option<String>)], f: impl Fn(&Record) -> T) -> Vec<T> {
        rows.iter().map(|(r, _)| f(r)).collect()
    }
    sqlx::query(
        "INSERT INTO ledger_cases (id, kind, status, district, town, department, assisting, item, authority, \
         raised_at, updated_at, dispatched_at, acknowledged_at, arrived_at, resolved_at, closed_at, overdue, \
         breaches, breached, ack_on_time, arrive_on_time, reopens, reopened, reroutes, rejected, steps, \
         search_text, view, first_breached_at) \
         SELECT id, kind, status, district, town, department, ARRAY(SELECT jsonb_array_elements_text(assisting)), \
         item, authority, raised_at, updated_at, dispatched_at, acknowledged_at, arrived_at, resolved_at, \
         closed_at, overdue, breaches, breaches > 0, ack_on_time, arrive_on_time, reopens, reopens > 0, reroutes, \
         status = 'rejected', steps, search_text, view, first_breached_at \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], \
         $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], \
         $14::timestamptz[], $15::timestamptz[], $16::timestamptz[], $17::bool[], $18::int4[], $19::bool[], \
         $20::bool[], $21::int4[], $22::int4[], $23::int4[], $24::text[], $25::jsonb[], $26::timestamptz[]) \
         AS t(id, kind, status, district, town, department, assisting, item, authority, raised_at, updated_at, \
         dispatched_at, acknowledged_at, arrived_at, resolved_at, closed_at, overdue, breaches, ack_on_time, \
         arrive_on_time, reopens, reroutes, steps, search_text, view, first_breached_at) \
         ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status, \
         district = EXCLUDED.district, town = EXCLUDED.town, department = EXCLUDED.department, \
         assisting = EXCLUDED.assisting, item = EXCLUDED.item, \
         authority = COALESCE(EXCLUDED.authority, ledger_cases.authority), raised_at = EXCLUDED.raised_at, \
         updated_at = EXCLUDED.updated_at, dispatched_at = EXCLUDED.dispatched_at, \
         acknowledged_at = EXCLUDED.acknowledged_at, arrived_at = EXCLUDED.arrived_at, \
         resolved_at = EXCLUDED.resolved_at, closed_at = EXCLUDED.closed_at, overdue = EXCLUDED.overdue, \
         breaches = EXCLUDED.breaches, breached = EXCLUDED.breached, ack_on_time = EXCLUDED.ack_on_time, \
         arrive_on_time = EXCLUDED.arrive_on_time, reopens = EXCLUDED.reopens, reopened = EXCLUDED.reopened, \
         reroutes = EXCLUDED.reroutes, rejected = EXCLUDED.rejected, steps = EXCLUDED.steps, \
         search_text = EXCLUDED.search_text, view = EXCLUDED.view, \
         first_breached_at = EXCLUDED.first_breached_at",
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.kind.clone()))
    .bind(col(rows, |r| r.status.as_str().to_owned()))
    .bind(col(rows, |r| r.district.clone()))
    .bind(col(rows, |r| r.town.clone()))
    .bind(col(rows, |r| r.department.clone()))
    .bind(col(rows, |r| sqlx::types::Json(r.assisting.clone())))
    .bind(col(rows, |r| r.item.clone()))
    .bind(rows.iter().map(|(_, authority)| authority.clone()).collect::<Vec<_>>())
    .bind(col(rows, |r| r.raised_at))
    .bind(col(rows, |r| r.updated_at))
    .bind(col(rows, |r| r.dispatched_at))
    .bind(col(rows, |r| r.acknowledged_at))
    .bind(col(rows, |r| r.arrived_at))
    .bind(col(rows, |r| r.resolved_at))
    .bind(col(rows, |r| r.closed_at))
    .bind(col(rows, |r| r.overdue))
    .bind(col(rows, |r| r.breaches))
    .bind(col(rows, |r| r.ack_on_time))
    .bind(col(rows, |r| r.arrive_on_time))
    .bind(col(rows, |r| r.reopens))
    .bind(col(rows, |r| r.reroutes))
    .bind(col(rows, |r| r.steps))
    .bind(col(rows, |r| r.search_text.clone()))
    .bind(col(rows, |r| sqlx::types::Json(r.view.clone())))
    .bind(col(rows, |r| r.first_breached_at))
    .execute(&mut **tx)
    .await
    .context("writing cases")?;
    Ok(())
}

/// Which rows a scope reads, as one condition (a department's scope is two: [`LedgerStore::page`]).
pub(crate) enum Rows<'a> {
    All,
    District(&'a str),
    Town(&'a str),
    Led(&'a str),
    /// Assisted by the department and not led by it (the led ones are the other branch).
    Assisted(&'a str),
    /// Led or assisted by the department, as one condition (aggregates, where no order is kept).
    LedOrAssisted(&'a str),
}

impl<'a> Rows<'a> {
    /// A scope's rows as one condition.
    pub(crate) fn of(scope: &'a Scope) -> Rows<'a> {
        match scope {
            Scope::City => Rows::All,
            Scope::District(d) => Rows::District(d),
            Scope::Town(t) => Rows::Town(t),
            Scope::Department(d) => Rows::LedOrAssisted(d),
        }
    }
}

/// `SELECT … WHERE … ORDER BY … LIMIT limit + 1` of one page over `rows`.
fn push_page(
    qb: &mut QueryBuilder<'_, Postgres>,
    rows: &Rows<'_>,
    filter: &Filter,
    sort: Sort,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) {
    qb.push(format!("SELECT {LISTED} FROM ledger_cases"));
    push_where(qb, rows, filter);
    if let Some((at, id)) = after {
        qb.push(format!(" AND ({}, id) {} (", sort.column(), sort.after()))
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(format!(" ORDER BY {} LIMIT ", sort.order())).push_bind(limit + 1);
}

/// `WHERE` for the rows of a scope and a filter.
pub(crate) fn push_where(qb: &mut QueryBuilder<'_, Postgres>, rows: &Rows<'_>, filter: &Filter) {
    qb.push(" WHERE TRUE");
    match rows {
        Rows::All => {}
        Rows::District(d) => {
            qb.push(" AND district = ").push_bind(d.to_string());
        }
        Rows::Town(t) => {
            qb.push(" AND town = ").push_bind(t.to_string());
        }
        Rows::Led(d) => {
            qb.push(" AND department = ").push_bind(d.to_string());
        }
        Rows::Assisted(d) => {
            qb.push(" AND assisting <> '{}' AND assisting @> ARRAY[")
                .push_bind(d.to_string())
                .push("]::text[] AND department IS DISTINCT FROM ")
                .push_bind(d.to_string());
        }
        Rows::LedOrAssisted(d) => {
            qb.push(" AND (department = ")
                .push_bind(d.to_string())
                .push(" OR assisting @> ARRAY[")
                .push_bind(d.to_string())
                .push("]::text[])");
        }
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<String> = filter.statuses.iter().map(|s| s.as_str().to_owned()).collect();
        qb.push(" AND status = ANY(").push_bind(statuses).push(")");
    }
    for (column, value) in [
        ("kind", &filter.kind),
        ("district", &filter.district),
        ("town", &filter.town),
        ("department", &filter.department),
        ("item", &filter.item),
        ("authority", &filter.authority),
    ] {
        if let Some(value) = value {
            qb.push(format!(" AND {column} = ")).push_bind(value.clone());
        }
    }
    for (column, value) in [("overdue", filter.overdue), ("breached", filter.breached), ("reopened", filter.reopened)] {
        if let Some(value) = value {
            qb.push(format!(" AND {column} = ")).push_bind(value);
        }
    }
    for (column, op, value) in [
        ("raised_at", ">=", filter.from),
        ("raised_at", "<", filter.to),
        ("resolved_at", ">=", filter.resolved_from),
        ("resolved_at", "<", filter.resolved_to),
    ] {
        if let Some(value) = value {
            qb.push(format!(" AND {column} {op} ")).push_bind(value);
        }
    }
    if let Some(q) = &filter.q {
        qb.push(" AND search_text ILIKE ").push_bind(format!("%{}%", like_escape(q)));
    }
}

/// `q` as a literal inside a LIKE pattern (backslash is PostgreSQL's default escape).
fn like_escape(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for c in q.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_in_a_query_are_literal() {
        assert_eq!(super::like_escape(r"100%_占道\"), r"100\%\_占道\\");
    }
}
