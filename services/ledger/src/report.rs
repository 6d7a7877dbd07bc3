//! The monthly report: a district's month (China time) by department and by town over the cases
//! raised in it, its totals, and the same totals for the months before (the trend); as JSON or
//! as an XLSX workbook titled with the district's name and the month.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use sqlx::Row as _;
use whistle_schemas::Names;
use whistle_schemas::api::{MonthFigures, MonthlyReport, ReportFigures, ReportRow};

use crate::query::cst;
use crate::store::LedgerStore;

/// Months of the trend, this one included.
pub const TREND_MONTHS: u32 = 6;

/// District names by code, for titles (from the registry file; empty when it is not set).
#[derive(Debug, Default)]
pub struct DistrictNames(HashMap<String, Names>);

impl DistrictNames {
    pub fn load(path: &Path) -> anyhow::Result<DistrictNames> {
        let registry =
            whistle_registry::Registry::load(path).with_context(|| format!("loading registry {}", path.display()))?;
        Ok(DistrictNames(registry.districts().map(|d| (d.code.to_string(), d.names.clone())).collect()))
    }

    pub fn get(&self, code: &str) -> Option<Names> {
        self.0.get(code).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    year: i32,
    month: u32,
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Month {
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        NaiveDate::from_ymd_opt(year, month, 1).filter(|_| (2000..=2100).contains(&year))?;
        Some(Month { year, month })
    }

    fn previous(self) -> Month {
        if self.month == 1 { Month { year: self.year - 1, month: 12 } } else { Month { month: self.month - 1, ..self } }
    }

    fn next(self) -> Month {
        if self.month == 12 { Month { year: self.year + 1, month: 1 } } else { Month { month: self.month + 1, ..self } }
    }

    /// Its first instant, China time.
    pub fn start(self) -> DateTime<Utc> {
        let day = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a parsed month");
        cst().from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")).unwrap().with_timezone(&Utc)
    }
}

/// A problem counts once: a whistle merged into another (a duplicate) is left out of every figure
/// of the report; the surviving case stands for it.
const COUNTED: &str = "status <> 'merged'";

/// The aggregates, over a `WHERE` the caller appends to.
const FIGURES: &str = "count(*) AS raised, \
    count(dispatched_at) AS dispatched, \
    avg(CASE WHEN ack_on_time THEN 1.0 WHEN NOT ack_on_time THEN 0.0 END)::float8 AS ack_rate, \
    avg(CASE WHEN arrive_on_time THEN 1.0 WHEN NOT arrive_on_time THEN 0.0 END)::float8 AS arrive_rate, \
    avg(extract(epoch FROM acknowledged_at - dispatched_at))::float8 AS mtta, \
    avg(extract(epoch FROM resolved_at - dispatched_at))::float8 AS mttr, \
    coalesce(sum(breaches), 0)::int8 AS breaches, \
    count(*) FILTER (WHERE reopened) AS reopened, \
    count(*) FILTER (WHERE rejected) AS rejected, \
    count(*) FILTER (WHERE reroutes > 0) AS rerouted";

fn figures(row: &sqlx::postgres::PgRow) -> Result<ReportFigures, sqlx::Error> {
    let n = |name: &str| row.try_get::<i64, _>(name).map(|v| v.max(0) as u64);
    Ok(ReportFigures {
        raised: n("raised")?,
        dispatched: n("dispatched")?,
        ack_on_time_rate: row.try_get("ack_rate")?,
        arrive_on_time_rate: row.try_get("arrive_rate")?,
        mtta_seconds: row.try_get("mtta")?,
        mttr_seconds: row.try_get("mttr")?,
        breaches: n("breaches")?,
        reopened: n("reopened")?,
        rejected: n("rejected")?,
        rerouted: n("rerouted")?,
    })
}

async fn grouped(
    store: &LedgerStore,
    by: &str,
    district: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<ReportRow>> {
    let sql = format!(
        "SELECT {by} AS code, {FIGURES} FROM ledger_cases WHERE district = $1 AND raised_at >= $2 AND raised_at < $3 \
         AND {COUNTED} GROUP BY {by} ORDER BY {by} NULLS LAST"
    );
    let rows = sqlx::query(&sql).bind(district).bind(from).bind(to).fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| Ok(ReportRow { code: row.try_get("code")?, figures: figures(row)? }))
        .collect::<Result<_, sqlx::Error>>()
        .context("reading report rows")
}

async fn total(
    store: &LedgerStore,
    district: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<ReportFigures> {
    let sql = format!(
        "SELECT {FIGURES} FROM ledger_cases WHERE district = $1 AND raised_at >= $2 AND raised_at < $3 AND {COUNTED}"
    );
    let row = sqlx::query(&sql).bind(district).bind(from).bind(to).fetch_one(store.pool()).await?;
    figures(&row).context("reading report totals")
}

/// The report of `district`'s `month`.
pub async fn monthly(
    store: &LedgerStore,
    district: &str,
    names: Option<Names>,
    month: Month,
) -> anyhow::Result<MonthlyReport> {
    let (from, to) = (month.start(), month.next().start());
    let departments = grouped(store, "department", district, from, to).await?;
    let towns = grouped(store, "town", district, from, to).await?;
    let total_now = total(store, district, from, to).await?;
    let mut trend = Vec::new();
    let mut m = month;
    for _ in 1..TREND_MONTHS {
        m = m.previous();
    }
    for _ in 0..TREND_MONTHS {
        let figures =
            if m == month { total_now.clone() } else { total(store, district, m.start(), m.next().start()).await? };
        trend.push(MonthFigures { month: m.to_string(), figures });
        m = m.next();
    }
    Ok(MonthlyReport {
        district: district.to_owned(),
        names,
        month: month.to_string(),
        from,
        to,
        total: total_now,
        departments,
        towns,
        trend,
    })
}

const COLUMNS: [&str; 11] = [
    "code",
    "raised",
    "dispatched",
    "ack_on_time_rate",
    "arrive_on_time_rate",
    "mtta_seconds",
    "mttr_seconds",
    "breaches",
    "reopened",
    "rejected",
    "rerouted",
];

fn write_rows(
    sheet: &mut rust_xlsxwriter::Worksheet,
    title: &str,
    rows: &[(String, &ReportFigures)],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    sheet.write_string(0, 0, title)?;
    for (col, h) in COLUMNS.iter().enumerate() {
        sheet.write_string(2, col as u16, *h)?;
    }
    for (i, (code, f)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        sheet.write_string(r, 0, crate::export::neutralise(code))?;
        let numbers = [
            Some(f.raised as f64),
            Some(f.dispatched as f64),
            f.ack_on_time_rate,
            f.arrive_on_time_rate,
            f.mtta_seconds,
            f.mttr_seconds,
            Some(f.breaches as f64),
            Some(f.reopened as f64),
            Some(f.rejected as f64),
            Some(f.rerouted as f64),
        ];
        for (c, v) in numbers.into_iter().enumerate() {
            if let Some(v) = v {
                sheet.write_number(r, 1 + c as u16, v)?;
            }
        }
    }
    Ok(())
}

/// The report as a workbook (sheets: departments, towns, trend), each titled with the district's
/// name and the month.
pub fn xlsx(report: &MonthlyReport) -> anyhow::Result<std::fs::File> {
    let name = report.names.as_ref().map_or_else(|| report.district.clone(), |n| format!("{} {}", n.zh, n.en));
    let title = |what: &str| format!("{name} — {} — {what}", report.month);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let label = |code: &Option<String>| code.clone().unwrap_or_else(|| "(unrouted)".to_owned());
    let mut departments: Vec<(String, &ReportFigures)> =
        report.departments.iter().map(|r| (label(&r.code), &r.figures)).collect();
    departments.push(("total".to_owned(), &report.total));
    let towns: Vec<(String, &ReportFigures)> = report.towns.iter().map(|r| (label(&r.code), &r.figures)).collect();
    let trend: Vec<(String, &ReportFigures)> = report.trend.iter().map(|m| (m.month.clone(), &m.figures)).collect();
    for (sheet_name, what, rows) in
        [("departments", "by department", &departments), ("towns", "by town", &towns), ("trend", "trend", &trend)]
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name)?;
        write_rows(sheet, &title(what), rows)?;
    }
    crate::export::save(&mut workbook)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_step_and_start_at_midnight_in_china() {
        let m = Month::parse("2026-01").unwrap();
        assert_eq!(m.previous().to_string(), "2025-12");
        assert_eq!(m.next().to_string(), "2026-02");
        assert_eq!(m.start().to_rfc3339(), "2025-12-31T16:00:00+00:00");
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }
}
