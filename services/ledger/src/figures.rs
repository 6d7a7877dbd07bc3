//! The outcome figures of a period (`GET /api/v1/figures`), counted from the case events the
//! ledger applied (`ledger_case_events`) with the same rules as `loadtest figures` and
//! `assist-figures` (`whistle_case::figures`).
//!
//! Counted: the cases of the district (or the city) begun in `[from, to)`. History for the
//! repeat count: the events of the district's cases begun up to the repeat window before `from`.
//! The events are streamed from PostgreSQL in (time, id) order, in batches through a bounded
//! channel, into a [`Tally`] on a blocking thread, so memory is the tally's per-case and
//! per-inspection state plus [`IN_FLIGHT`] batches, never the period's events; and a period of
//! more than [`MAX_CASES`] cases (history included) is refused before anything is read.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt as _;
use serde::Deserialize;
use sqlx::Row as _;
use uuid::Uuid;
use whistle_case::figures::{Figures, Tally};
use whistle_schemas::events::CaseEvent;

use crate::store::LedgerStore;

/// Cases (counted and history) one request may count: the tally keeps about 400 bytes per case
/// with one inspection (40 MB for 100,000, measured), so this bounds a request's memory.
pub const MAX_CASES: i64 = 100_000;
/// The longest period one request may ask for, and the period when none is given.
pub const MAX_PERIOD_DAYS: i64 = 366;
pub const DEFAULT_PERIOD_DAYS: i64 = 30;
/// Events per batch sent to the tally, and batches in flight at most.
const BATCH: usize = 1_000;
pub const IN_FLIGHT: usize = 4;

/// Why the figures could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error(
        "the period holds {cases} cases with its history (at most {MAX_CASES} are counted at once): choose a \
         shorter period or one district"
    )]
    TooManyCases { cases: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// `fences.json` of the assist data, as far as the figures read it: the inspection fence's
/// window is the figures' repeat window (the rest of the file is intake's).
#[derive(Debug, Deserialize)]
struct FenceFile {
    inspection: InspectionWindow,
}

#[derive(Debug, Deserialize)]
struct InspectionWindow {
    window_days: u32,
}

/// The repeat window, in days, from the assist data's `fences.json` in `dir`.
pub fn repeat_window_days(dir: &std::path::Path) -> anyhow::Result<u32> {
    let path = dir.join("fences.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: FenceFile = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let days = file.inspection.window_days;
    anyhow::ensure!((1..=366).contains(&days), "{}: inspection.window_days must be 1 to 366", path.display());
    Ok(days)
}

/// Cases whose `raised_at` column lies in `[lo, hi)`, in `district` when given.
fn cases_where(district: Option<&str>) -> &'static str {
    match district {
        Some(_) => "c.raised_at >= $1 AND c.raised_at < $2 AND c.district = $3",
        None => "c.raised_at >= $1 AND c.raised_at < $2",
    }
}

/// The figures of the cases begun in `[from, to)` in `district` (the city when `None`), with a
/// repeat window of `window`.
pub async fn compute(
    store: &LedgerStore,
    district: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: Duration,
) -> Result<Figures, FiguresError> {
    // The column keeps microseconds, an event's time nanoseconds: select a microsecond wider and
    // decide on the exact times below.
    let slack = Duration::microseconds(1);
    let (lo, hi) = (from - window - slack, to + slack);
    let pool = store.pool();
    let sql = format!("SELECT count(*) FROM ledger_cases c WHERE {}", cases_where(district));
    let mut count = sqlx::query_scalar::<_, i64>(&sql).bind(lo).bind(hi);
    if let Some(d) = district {
        count = count.bind(d.to_owned());
    }
    let cases = count.fetch_one(pool).await.context("counting the period's cases")?;
    if cases > MAX_CASES {
        return Err(FiguresError::TooManyCases { cases });
    }

    // The cases counted, with the exact time of their raise or registration (the view's).
    let sql =
        format!("SELECT c.id, c.view->>'raised_at' AS raised_at FROM ledger_cases c WHERE {}", cases_where(district));
    let mut begun_query = sqlx::query(&sql).bind(from - slack).bind(hi);
    if let Some(d) = district {
        begun_query = begun_query.bind(d.to_owned());
    }
    let mut begun: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for row in begun_query.fetch_all(pool).await.context("reading the period's cases")? {
        let id: Uuid = row.try_get("id").context("a case id")?;
        let raised: String = row.try_get("raised_at").context("a case's raise time")?;
        let at = DateTime::parse_from_rfc3339(&raised)
            .with_context(|| format!("case {id}: raised_at {raised:?}"))?
            .with_timezone(&Utc);
        if from <= at && at < to {
            begun.insert(id, at);
        }
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<(DateTime<Utc>, String)>>(IN_FLIGHT);
    let tally = tokio::task::spawn_blocking(move || fold(Tally::new(window, begun), rx));
    let sql = format!(
        "SELECT e.time, e.event::text AS event FROM ledger_case_events e JOIN ledger_cases c ON c.id = e.case_id \
         WHERE {} ORDER BY e.time, e.id",
        cases_where(district)
    );
    let mut events = sqlx::query(&sql).bind(lo).bind(hi);
    if let Some(d) = district {
        events = events.bind(d.to_owned());
    }
    let mut rows = events.fetch(pool);
    let mut batch = Vec::with_capacity(BATCH);
    let mut sent = true;
    while let Some(row) = rows.try_next().await.context("reading the period's events")? {
        batch.push((row.try_get("time").context("an event's time")?, row.try_get("event").context("an event")?));
        if batch.len() == BATCH && tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).await.is_err() {
            // The tally stopped (its error is below).
            sent = false;
            break;
        }
    }
    drop(rows);
    if sent && !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    Ok(tally.await.context("the figures' tally")??)
}

/// Pushes the batches' events to `tally` in (time, id) order. The rows come ordered by the
/// stored time, which keeps microseconds: events within one microsecond are put in the exact
/// order before they are pushed.
fn fold(
    mut tally: Tally,
    mut rx: tokio::sync::mpsc::Receiver<Vec<(DateTime<Utc>, String)>>,
) -> anyhow::Result<Figures> {
    let mut same: Vec<CaseEvent> = Vec::new();
    let mut at: Option<DateTime<Utc>> = None;
    let flush = |tally: &mut Tally, same: &mut Vec<CaseEvent>| -> anyhow::Result<()> {
        same.sort_by_key(|e| (e.time, e.id));
        for e in same.drain(..) {
            tally.push(&e).context("counting an event")?;
        }
        Ok(())
    };
    while let Some(batch) = rx.blocking_recv() {
        for (time, json) in batch {
            let event: CaseEvent = serde_json::from_str(&json).context("decoding a stored case event")?;
            if at != Some(time) {
                flush(&mut tally, &mut same)?;
                at = Some(time);
            }
            same.push(event);
        }
    }
    flush(&mut tally, &mut same)?;
    Ok(tally.finish())
}
