//! What-if preview: which open whistles, and what share of last month's, would route differently
//! under a proposed change. Reads the case store's indexes (`whistle_casestore::CaseStore::
//! what_if_inputs`: the item's open and recent cases, and the totals), never every case; never
//! writes anything.

use chrono::{DateTime, Duration, Utc};
use whistle_casestore::WhatIfInputs;
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

/// The start of "last month" as of `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(WINDOW_DAYS)
}

/// Compares the item's cases' routes under `current` and `proposed`, both as of `at` (the
/// change's effective date): "if this whistle came in once the change is in force, where would
/// it go?".
pub fn compare(
    current: &Registry,
    proposed: &Registry,
    item: &str,
    district: &str,
    inputs: &WhatIfInputs,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> WhatIfReport {
    let since = window_start(now);
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let (open_total, last_month_total) = (count(inputs.open_total), count(inputs.raised_total));
    let mut last_month_affected = 0u32;
    let mut open_affected = Vec::new();
    for case in &inputs.cases {
        let open = !case.status.is_terminal();
        let recent = case.raised_at >= since;
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
