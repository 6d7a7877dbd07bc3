//! What-if preview: which open whistles, and what share of last month's, would route differently
//! under a proposed change. Reads the stored case views (the projection of the case topic); never
//! writes anything.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use redis::aio::ConnectionManager;
use whistle_schemas::api::WhistleView;
use whistle_schemas::registry::{WhatIfCase, WhatIfReport};

use crate::codes::{ItemCode, TownCode};
use crate::model::Registry;
use crate::routing::{Route, route};

/// How far back "last month" reaches.
pub const WINDOW_DAYS: i64 = 30;

/// Where a whistle for `town` and `item` goes at `at`, in one comparable word.
pub fn destination(registry: &Registry, town: &str, item: &str, at: DateTime<Utc>) -> String {
    let (Ok(town), Ok(item)) = (TownCode::parse(town), ItemCode::parse(item)) else {
        return "unroutable".into();
    };
    match route(registry, &town, &item, at) {
        Ok(Route::Department { department, .. }) => format!("department:{}", department.code),
        Ok(Route::Town { .. }) => "town".into(),
        Ok(Route::Triage { department, .. }) => format!("triage:{}", department.code),
        Err(_) => "unroutable".into(),
    }
}

/// Compares every case's route under `current` and `proposed`, both as of `at` (the change's
/// effective date): "if this whistle came in once the change is in force, where would it go?".
pub fn compare(
    current: &Registry,
    proposed: &Registry,
    item: &str,
    district: &str,
    cases: &[WhistleView],
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> WhatIfReport {
    let since = now - Duration::days(WINDOW_DAYS);
    let (mut open_total, mut last_month_total, mut last_month_affected) = (0u32, 0u32, 0u32);
    let mut open_affected = Vec::new();
    for case in cases {
        let open = !case.status.is_terminal();
        let recent = case.raised_at >= since;
        open_total += u32::from(open);
        last_month_total += u32::from(recent);
        if case.item != item || !(open || recent) {
            continue;
        }
        let before = destination(current, &case.town, &case.item, at);
        let after = destination(proposed, &case.town, &case.item, at);
        if before == after {
            continue;
        }
        last_month_affected += u32::from(recent);
        if open {
            open_affected.push(WhatIfCase {
                id: case.id.to_string(),
                town: case.town.clone(),
                item: case.item.clone(),
                now: before,
                proposed: after,
            });
        }
    }
    let last_month_share =
        if last_month_total == 0 { 0.0 } else { f64::from(last_month_affected) / f64::from(last_month_total) };
    WhatIfReport {
        item: item.to_owned(),
        district: district.to_owned(),
        effective_from: at,
        open_total,
        open_affected,
        last_month_total,
        last_month_affected,
        last_month_share,
    }
}

/// Every stored case view under `prefix`.
pub async fn stored_cases(conn: &mut ConnectionManager, prefix: &str) -> anyhow::Result<Vec<WhistleView>> {
    let pattern = format!("{prefix}case:*");
    let mut cursor: u64 = 0;
    let mut cases = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .context("scanning case views")?;
        for key in keys {
            let json: Option<String> =
                redis::cmd("HGET").arg(&key).arg("json").query_async(conn).await.context("reading a case view")?;
            if let Some(view) = json.and_then(|j| serde_json::from_str::<WhistleView>(&j).ok()) {
                cases.push(view);
            }
        }
        if next == 0 {
            return Ok(cases);
        }
        cursor = next;
    }
}
