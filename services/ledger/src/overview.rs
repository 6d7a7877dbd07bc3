//! The overview behind the manager's charts (`GET /api/v1/reports/overview`): over the whistles
//! raised in a period of at most [`MAX_DAYS`] days, in the caller's scope, per district, day by
//! day, the distributions of MTTA and MTTR, the items raised most and the slowest departments.
//! Everything is counted in SQL over `ledger_cases`; the answer's size is bounded by the period
//! (one row per day) and by [`TOP`], never by the number of cases.

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};
use serde::Deserialize;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row as _};
use whistle_schemas::Status;
use whistle_schemas::api::{
    Overview, OverviewBucket, OverviewDay, OverviewDepartment, OverviewDistrict, OverviewFigures, OverviewItem,
};

use crate::query::{Filter, InvalidParam, Scope, cst, invalid, time};
use crate::record::WHISTLE_KIND;
use crate::store::{LedgerStore, Rows, push_where};

/// The longest period an overview covers.
pub const MAX_DAYS: i64 = 366;
/// The period when `from` is not given: this many days before `to`.
pub const DEFAULT_DAYS: i64 = 30;
/// Rows of the top items and of the slowest departments.
pub const TOP: i64 = 10;
/// Lower edges of the MTTA histogram's bars, in seconds: 5, 15, 30 minutes, 1, 2, 4, 8, 24 hours.
pub const MTTA_EDGES: [u64; 9] = [0, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400];
/// Lower edges of the MTTR histogram's bars, in seconds: 1, 4, 8 hours, 1, 2, 3, 7, 14 days.
pub const MTTR_EDGES: [u64; 9] = [0, 3_600, 14_400, 28_800, 86_400, 172_800, 259_200, 604_800, 1_209_600];

/// The query string of `GET /api/v1/reports/overview`, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewParams {
    pub district: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A parsed overview request.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub district: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The first instant of a day in China.
fn day_start(day: NaiveDate) -> DateTime<Utc> {
    cst().from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")).unwrap().with_timezone(&Utc)
}

/// The day in China of an instant.
fn day_of(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&cst()).date_naive()
}

impl OverviewParams {
    /// Parses the query; `now` decides the default period (the 30 days up to the end of today,
    /// China time).
    pub fn parse(&self, now: DateTime<Utc>) -> Result<Period, InvalidParam> {
        let value = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let district = value(&self.district);
        if let Some(d) = &district
            && (d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("district", "must be a 6-digit district code"));
        }
        let to = match value(&self.to) {
            Some(v) => time("to", &v)?,
            None => day_start(day_of(now) + Duration::days(1)),
        };
        let from = match value(&self.from) {
            Some(v) => time("from", &v)?,
            None => to - Duration::days(DEFAULT_DAYS),
        };
        if to <= from {
            return Err(invalid("to", "must be after from"));
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(invalid("to", format!("a period is at most {MAX_DAYS} days")));
        }
        Ok(Period { district, from, to })
    }
}

impl Period {
    /// The days of the period (China time), oldest first.
    pub fn days(&self) -> Vec<NaiveDate> {
        let (first, last) = (day_of(self.from), day_of(self.to - Duration::microseconds(1)));
        first.iter_days().take_while(|d| *d <= last).collect()
    }

    /// The whistles raised in the period, in the district asked for; a whistle merged into
    /// another (a duplicate) is left out, so a problem counts once.
    fn raised(&self) -> Filter {
        Filter {
            statuses: counted(),
            kind: Some(WHISTLE_KIND.to_owned()),
            district: self.district.clone(),
            from: Some(self.from),
            to: Some(self.to),
            ..Filter::default()
        }
    }
}

/// Every status but `merged`: the charts count a problem once.
fn counted() -> Vec<Status> {
    Status::ALL.into_iter().filter(|s| *s != Status::Merged).collect()
}

/// `… FROM ledger_cases WHERE <scope> AND <filter>`.
fn from_where<'a>(select: &str, rows: &Rows<'_>, filter: &Filter) -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::<Postgres>::new(select);
    qb.push(" FROM ledger_cases");
    push_where(&mut qb, rows, filter);
    qb
}

/// The day in China of a `timestamptz` column, as days since 1970-01-01 (the fixed offset of
/// [`cst`]); plain arithmetic, several times cheaper per row than formatting a date in SQL.
fn day_sql(column: &str) -> String {
    format!("floor((date_part('epoch', {column}) + 28800) / 86400)::int8")
}

/// Days from 0001-01-01 to 1970-01-01 (chrono counts from the former, `day_sql` from the latter).
const UNIX_EPOCH_DAY_FROM_CE: i64 = 719_163;

/// A day as [`day_sql`] numbers it.
fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.num_days_from_ce()) - UNIX_EPOCH_DAY_FROM_CE
}

const FIGURES: &str = "count(*) AS raised, \
    count(dispatched_at) AS dispatched, \
    count(*) FILTER (WHERE closed_at IS NULL) AS open, \
    count(*) FILTER (WHERE status = 'resolved') AS resolved, \
    count(*) FILTER (WHERE breached) AS breached, \
    count(*) FILTER (WHERE overdue) AS overdue, \
    avg(date_part('epoch', acknowledged_at - dispatched_at)) AS mtta, \
    avg(date_part('epoch', resolved_at - dispatched_at)) AS mttr";

fn n(row: &PgRow, name: &str) -> Result<u64, sqlx::Error> {
    row.try_get::<i64, _>(name).map(|v| v.max(0) as u64)
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn figures(row: &PgRow) -> Result<OverviewFigures, sqlx::Error> {
    let (dispatched, breached) = (n(row, "dispatched")?, n(row, "breached")?);
    Ok(OverviewFigures {
        raised: n(row, "raised")?,
        dispatched,
        open: n(row, "open")?,
        resolved: n(row, "resolved")?,
        breached,
        overdue: n(row, "overdue")?,
        breach_rate: rate(breached, dispatched),
        mtta_seconds: row.try_get("mtta")?,
        mttr_seconds: row.try_get("mttr")?,
    })
}

/// The total and one row per district (`GROUP BY ROLLUP`: the total is the row of no district).
async fn by_district(
    store: &LedgerStore,
    rows: &Rows<'_>,
    period: &Period,
) -> anyhow::Result<(OverviewFigures, Vec<OverviewDistrict>)> {
    let mut qb =
        from_where(&format!("SELECT district, GROUPING(district) AS is_total, {FIGURES}"), rows, &period.raised());
    qb.push(" GROUP BY ROLLUP (district) ORDER BY district NULLS LAST");
    let found = qb.build().fetch_all(store.pool()).await.context("counting cases by district")?;
    let mut total = OverviewFigures::default();
    let mut districts = Vec::new();
    for row in &found {
        if row.try_get::<i32, _>("is_total")? == 1 {
            total = figures(row)?;
        } else {
            districts.push(OverviewDistrict { code: row.try_get("district")?, figures: figures(row)? });
        }
    }
    Ok((total, districts))
}

/// Counts by day, from a query answering `(day, n)`.
async fn per_day(store: &LedgerStore, mut qb: QueryBuilder<'_, Postgres>) -> anyhow::Result<Vec<(i64, u64)>> {
    let found = qb.build().fetch_all(store.pool()).await?;
    found.iter().map(|r| Ok((r.try_get("day")?, n(r, "n")?))).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

async fn daily(store: &LedgerStore, rows: &Rows<'_>, period: &Period) -> anyhow::Result<Vec<OverviewDay>> {
    // Raised on the day: the period's cases.
    let mut raised =
        from_where(&format!("SELECT {} AS day, count(*) AS n", day_sql("raised_at")), rows, &period.raised());
    raised.push(" GROUP BY day");
    // Resolved on the day, whenever raised (before the period's end).
    let resolved_filter = Filter {
        kind: Some(WHISTLE_KIND.to_owned()),
        district: period.district.clone(),
        to: Some(period.to),
        resolved_from: Some(period.from),
        resolved_to: Some(period.to),
        ..Filter::default()
    };
    let mut resolved =
        from_where(&format!("SELECT {} AS day, count(*) AS n", day_sql("resolved_at")), rows, &resolved_filter);
    resolved.push(" GROUP BY day");
    // First breached on the day (the row's `first_breached_at`, whenever the case was raised
    // before the period's end).
    let breached_filter = Filter {
        statuses: counted(),
        kind: Some(WHISTLE_KIND.to_owned()),
        district: period.district.clone(),
        to: Some(period.to),
        ..Filter::default()
    };
    let mut breached =
        from_where(&format!("SELECT {} AS day, count(*) AS n", day_sql("first_breached_at")), rows, &breached_filter);
    breached.push(" AND first_breached_at >= ").push_bind(period.from);
    breached.push(" AND first_breached_at < ").push_bind(period.to).push(" GROUP BY day");

    let (raised, resolved, breached) =
        tokio::try_join!(per_day(store, raised), per_day(store, resolved), per_day(store, breached))
            .context("counting cases by day")?;
    let lookup = |list: &[(i64, u64)], day: i64| list.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
    Ok(period
        .days()
        .into_iter()
        .map(|d| {
            let n = day_number(d);
            OverviewDay {
                day: d.format("%Y-%m-%d").to_string(),
                raised: lookup(&raised, n),
                resolved: lookup(&resolved, n),
                breached: lookup(&breached, n),
            }
        })
        .collect())
}

/// The histogram of `ended - dispatched_at` over the period's cases that got to `ended`.
async fn histogram(
    store: &LedgerStore,
    rows: &Rows<'_>,
    period: &Period,
    ended: &str,
    edges: &[u64],
) -> anyhow::Result<Vec<OverviewBucket>> {
    let seconds = format!("date_part('epoch', {ended} - dispatched_at)");
    // width_bucket gives 1 for [edges[0], edges[1]), …, edges.len() for the last, open bar, and 0
    // below the first edge (a clock skew): that counts in the first bar.
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT greatest(width_bucket({seconds}, "));
    qb.push_bind(edges.iter().map(|&e| e as f64).collect::<Vec<f64>>());
    qb.push("::float8[]), 1) AS bar, count(*) AS n FROM ledger_cases");
    push_where(&mut qb, rows, &period.raised());
    qb.push(format!(" AND {ended} IS NOT NULL AND dispatched_at IS NOT NULL GROUP BY bar"));
    let found = qb.build().fetch_all(store.pool()).await.context("counting durations")?;
    let mut bars: Vec<OverviewBucket> = edges
        .iter()
        .enumerate()
        .map(|(i, &from)| OverviewBucket { from_seconds: from, to_seconds: edges.get(i + 1).copied(), count: 0 })
        .collect();
    for row in &found {
        let bar: i32 = row.try_get("bar")?;
        if let Some(b) = usize::try_from(bar).ok().and_then(|b| bars.get_mut(b.saturating_sub(1))) {
            b.count += n(row, "n")?;
        }
    }
    Ok(bars)
}

async fn top_items(store: &LedgerStore, rows: &Rows<'_>, period: &Period) -> anyhow::Result<Vec<OverviewItem>> {
    let mut qb = from_where(
        "SELECT item, count(*) AS raised, count(*) FILTER (WHERE breached) AS breached",
        rows,
        &period.raised(),
    );
    qb.push(" GROUP BY item ORDER BY raised DESC, item LIMIT ").push_bind(TOP);
    let found = qb.build().fetch_all(store.pool()).await.context("counting items")?;
    found
        .iter()
        .map(|r| Ok(OverviewItem { code: r.try_get("item")?, raised: n(r, "raised")?, breached: n(r, "breached")? }))
        .collect::<Result<_, sqlx::Error>>()
        .context("reading items")
}

async fn slowest_departments(
    store: &LedgerStore,
    rows: &Rows<'_>,
    period: &Period,
) -> anyhow::Result<Vec<OverviewDepartment>> {
    let mut qb = from_where(
        "SELECT department, count(*) AS raised, count(dispatched_at) AS dispatched, \
         count(*) FILTER (WHERE breached) AS breached, \
         count(*) FILTER (WHERE resolved_at IS NOT NULL AND dispatched_at IS NOT NULL) AS resolved, \
         avg(date_part('epoch', resolved_at - dispatched_at)) AS mttr",
        rows,
        &period.raised(),
    );
    qb.push(
        " AND department IS NOT NULL GROUP BY department \
         HAVING avg(date_part('epoch', resolved_at - dispatched_at)) IS NOT NULL \
         ORDER BY mttr DESC, department LIMIT ",
    )
    .push_bind(TOP);
    let found = qb.build().fetch_all(store.pool()).await.context("timing departments")?;
    found
        .iter()
        .map(|r| {
            let (dispatched, breached) = (n(r, "dispatched")?, n(r, "breached")?);
            Ok(OverviewDepartment {
                code: r.try_get("department")?,
                raised: n(r, "raised")?,
                resolved: n(r, "resolved")?,
                mttr_seconds: r.try_get("mttr")?,
                breach_rate: rate(breached, dispatched),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .context("reading departments")
}

/// The overview of `period` over the cases of `scope`.
pub async fn overview(store: &LedgerStore, scope: &Scope, period: Period) -> anyhow::Result<Overview> {
    let rows = Rows::of(scope);
    let ((total, districts), daily, mtta_histogram, mttr_histogram, top_items, slowest_departments) = tokio::try_join!(
        by_district(store, &rows, &period),
        daily(store, &rows, &period),
        histogram(store, &rows, &period, "acknowledged_at", &MTTA_EDGES),
        histogram(store, &rows, &period, "resolved_at", &MTTR_EDGES),
        top_items(store, &rows, &period),
        slowest_departments(store, &rows, &period),
    )?;
    Ok(Overview {
        district: period.district,
        from: period.from,
        to: period.to,
        total,
        districts,
        daily,
        mtta_histogram,
        mttr_histogram,
        top_items,
        slowest_departments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(district: Option<&str>, from: Option<&str>, to: Option<&str>) -> OverviewParams {
        OverviewParams { district: district.map(Into::into), from: from.map(Into::into), to: to.map(Into::into) }
    }

    #[test]
    fn the_default_period_is_the_thirty_days_up_to_the_end_of_today_in_china() {
        // 2026-03-10 23:30 in Chongqing.
        let now = DateTime::parse_from_rfc3339("2026-03-10T15:30:00Z").unwrap().with_timezone(&Utc);
        let p = params(None, None, None).parse(now).unwrap();
        assert_eq!(p.to.to_rfc3339(), "2026-03-10T16:00:00+00:00");
        assert_eq!(p.from.to_rfc3339(), "2026-02-08T16:00:00+00:00");
        let days = p.days();
        assert_eq!(days.len(), 30);
        assert_eq!((days[0].to_string(), days[29].to_string()), ("2026-02-09".into(), "2026-03-10".into()));
    }

    #[test]
    fn periods_are_bounded_and_refusals_name_their_parameter() {
        let now = Utc::now();
        let year = params(None, Some("2025-03-01"), Some("2026-03-01")).parse(now).unwrap();
        assert_eq!(year.days().len(), 365);
        for (p, param) in [
            (params(None, Some("2025-01-01"), Some("2026-03-01")), "to"),
            (params(None, Some("2026-03-02"), Some("2026-03-01")), "to"),
            (params(None, Some("2026-03-01"), Some("2026-03-01")), "to"),
            (params(Some("5001"), None, None), "district"),
            (params(None, Some("soon"), None), "from"),
        ] {
            assert_eq!(p.parse(now).unwrap_err().param, param, "{p:?}");
        }
        let one = params(Some("500103"), Some("2026-03-01T09:00:00+08:00"), Some("2026-03-01T10:00:00+08:00"));
        assert_eq!(one.parse(now).unwrap().days().len(), 1);
    }

    #[test]
    fn days_are_numbered_from_1970_as_the_sql_numbers_them() {
        assert_eq!(day_number(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        // 2026-03-09 00:30 in Chongqing is 2026-03-08 16:30 UTC: (epoch + 8 h) / 1 day.
        let t = DateTime::parse_from_rfc3339("2026-03-09T00:30:00+08:00").unwrap().timestamp();
        assert_eq!((t + 28_800).div_euclid(86_400), day_number(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()));
    }
}
