//! The duplicate finder: which open whistles are likely the same problem as a raise — the same
//! item, in the same district, within the item's radius (`duplicates.radius_m`, 200 m unless
//! `duplicates.item_radius_m` names the item) and raised within the window
//! (`duplicates.window_hours`, 24 h).
//!
//! Intake answers a raise at once, without waiting for the projector: as it accepts a raise it
//! records the place in a per-item Redis GEO index (`whistle_casestore`'s `dup:geo:{item}`, with
//! the raise times beside it, pruned to the window and bounded per item), and the next raise
//! searches that index by radius. The places found are then checked against the case store, so
//! a whistle that was resolved, rejected or merged in the meantime is not offered.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_case::{Case, can_merge};
use whistle_schemas::Location;

use crate::ports::Place;
use crate::routes::AppState;

/// The mean Earth radius Redis's GEO commands use, in metres, so the in-memory finder measures
/// as Redis does.
const EARTH_RADIUS_M: f64 = 6_372_797.560_856;

/// The great-circle distance between two WGS-84 points, in metres (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// An open whistle near the point.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub case: Case,
    pub distance_m: f64,
}

fn place<'a>(state: &AppState, item: &'a str, location: &Location) -> Place<'a> {
    let settings = &state.duplicates;
    Place {
        item,
        lat: location.lat,
        lon: location.lon,
        radius_m: settings.radius_for(item),
        window: settings.window(),
        max_places: settings.max_places_per_item,
        limit: settings.max_answered,
    }
}

/// The open whistles of `district` for `item` near `location`, raised within the window before
/// `now`, nearest first; `except` (the raise itself) is left out.
pub async fn find(
    state: &AppState,
    district: &str,
    item: &str,
    location: &Location,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> anyhow::Result<Vec<Candidate>> {
    let place = place(state, item, location);
    let window = chrono::Duration::from_std(place.window).unwrap_or(chrono::Duration::MAX);
    let since = (now - window).timestamp_millis();
    let near: Vec<_> = state.store.near(&place, since).await?.into_iter().filter(|n| Some(n.id) != except).collect();
    // The candidates' cases are read at once (one round trip, not one per candidate), in order.
    let cases = futures::future::try_join_all(near.iter().map(|n| state.store.get(n.id))).await?;
    Ok(near
        .iter()
        .zip(cases)
        .filter_map(|(near, case)| {
            let case = case?;
            (case.district == district && case.item == item && can_merge(&case))
                .then_some(Candidate { case, distance_m: near.distance_m })
        })
        .collect())
}

/// Records an accepted raise's place, so the next raise nearby finds it.
pub async fn record(
    state: &AppState,
    item: &str,
    id: Uuid,
    location: &Location,
    raised_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let place = place(state, item, location);
    state.store.record_place(&place, id, raised_at.timestamp_millis()).await
}

/// What a raise answers as `possible_duplicates`: the ids of [`find`], or none when the index
/// cannot be read (the raise is accepted all the same; a warning is logged).
pub async fn possible(
    state: &AppState,
    district: &str,
    item: &str,
    location: &Location,
    now: DateTime<Utc>,
    id: Uuid,
) -> Vec<Uuid> {
    match find(state, district, item, location, now, Some(id)).await {
        Ok(found) => found.into_iter().map(|c| c.case.id).collect(),
        Err(err) => {
            state.metrics.duplicate_lookup_failures.inc();
            tracing::warn!(whistle = %id, error = %format_args!("{err:#}"), "could not look for duplicates");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_metres_on_the_ground() {
        // 0.00045° of latitude is about 50 m anywhere.
        let d = distance_m(29.5570, 106.5770, 29.55745, 106.5770);
        assert!((d - 50.0).abs() < 0.5, "{d}");
        assert_eq!(distance_m(29.5, 106.5, 29.5, 106.5), 0.0);
        // 解放碑 to 朝天门, about 1.6 km.
        let d = distance_m(29.5570, 106.5770, 29.5650, 106.5900);
        assert!((1400.0..1700.0).contains(&d), "{d}");
    }
}
