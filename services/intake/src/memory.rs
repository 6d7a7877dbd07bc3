//! In-memory stand-ins for the event log and the case store, for handler tests without Kafka
//! or Redis. [`MemoryLog`] keeps what was published and, like the projector, applies each event
//! to its [`MemoryCases`] with the case's own rules, so a test can act twice in a row.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;
use whistle_case::{Case, evolve, is_duplicate};
use whistle_casestore::store::{ActionSlot, Claim};
use whistle_casestore::{Nearby, StoreError};
use whistle_schemas::events::CaseEvent;

use crate::error::ApiError;
use crate::ports::{Cases, EventLog, Fut, Place, RequestRecord};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A recorded place: item, id, lat, lon, raise time (ms).
type PlaceRecord = (String, Uuid, f64, f64, i64);

/// Cases, idempotency keys and action slots in maps.
#[derive(Default)]
pub struct MemoryCases {
    cases: Mutex<HashMap<Uuid, Case>>,
    keys: Mutex<HashMap<String, String>>,
    slots: Mutex<HashMap<Uuid, Uuid>>,
    open311: Mutex<Vec<RequestRecord>>,
    /// The duplicate finder's places.
    places: Mutex<Vec<PlaceRecord>>,
}

impl MemoryCases {
    /// Applies an event as the projector would (a duplicate or a refused event changes nothing).
    pub fn apply(&self, event: &CaseEvent) {
        let mut cases = lock(&self.cases);
        let current = cases.get(&event.subject).cloned();
        if is_duplicate(current.as_ref(), event) {
            return;
        }
        if let Ok(case) = evolve(current, event) {
            cases.insert(event.subject, case);
        }
    }

    pub fn case(&self, id: Uuid) -> Option<Case> {
        lock(&self.cases).get(&id).cloned()
    }

    /// Holds a whistle's action slot for `event_id`, as another intake would.
    pub fn hold_slot(&self, id: Uuid, event_id: Uuid) {
        lock(&self.slots).insert(id, event_id);
    }
}

impl Cases for MemoryCases {
    fn get(&self, id: Uuid) -> Fut<'_, Result<Option<Case>, StoreError>> {
        let case = self.case(id);
        Box::pin(async move { Ok(case) })
    }
    fn put_provisional<'a>(&'a self, case: &'a Case) -> Fut<'a, anyhow::Result<()>> {
        lock(&self.cases).entry(case.id).or_insert_with(|| case.clone());
        Box::pin(async { Ok(()) })
    }
    fn claim_idempotency<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Fut<'a, anyhow::Result<Claim>> {
        let claim = match lock(&self.keys).entry(key.to_owned()) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(fingerprint.to_owned());
                Claim::New
            }
            std::collections::hash_map::Entry::Occupied(o) if o.get() == fingerprint => Claim::Same,
            std::collections::hash_map::Entry::Occupied(_) => Claim::Different,
        };
        Box::pin(async move { Ok(claim) })
    }
    fn claim_action<'a>(
        &'a self,
        id: Uuid,
        event_id: Uuid,
        on_timeline: &'a (dyn Fn(Uuid) -> bool + Send + Sync),
    ) -> Fut<'a, anyhow::Result<ActionSlot>> {
        let mut slots = lock(&self.slots);
        let slot = match slots.get(&id).copied() {
            Some(holder) if holder != event_id && !on_timeline(holder) => ActionSlot::Busy(holder),
            _ => {
                slots.insert(id, event_id);
                ActionSlot::Claimed
            }
        };
        Box::pin(async move { Ok(slot) })
    }
    fn supervised<'a>(&'a self, scope: &'a str, limit: usize) -> Fut<'a, anyhow::Result<Vec<Uuid>>> {
        let ids = lock(&self.cases)
            .values()
            .filter(|c| scope == "city" || c.district == scope)
            .filter(|c| {
                !c.review.is_empty()
                    || c.procedure.as_ref().is_some_and(|p| p.decision.is_none() && !c.status.is_terminal())
            })
            .map(|c| c.id)
            .take(limit)
            .collect();
        Box::pin(async move { Ok(ids) })
    }
    fn index_open311<'a>(&'a self, record: &'a RequestRecord) -> Fut<'a, anyhow::Result<()>> {
        lock(&self.open311).push(record.clone());
        Box::pin(async { Ok(()) })
    }
    fn open311_records<'a>(&'a self, ids: &'a [Uuid]) -> Fut<'a, anyhow::Result<Vec<RequestRecord>>> {
        let all = lock(&self.open311);
        let found = ids.iter().filter_map(|id| all.iter().find(|r| r.id == *id).cloned()).collect();
        Box::pin(async move { Ok(found) })
    }
    fn open311_between(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Fut<'_, anyhow::Result<Vec<RequestRecord>>> {
        let mut found: Vec<RequestRecord> =
            lock(&self.open311).iter().filter(|r| (start..=end).contains(&r.requested_at)).cloned().collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.requested_at));
        found.truncate(limit);
        Box::pin(async move { Ok(found) })
    }
    fn record_place<'a>(&'a self, place: &'a Place<'a>, id: Uuid, raised_ms: i64) -> Fut<'a, anyhow::Result<()>> {
        lock(&self.places).push((place.item.to_owned(), id, place.lat, place.lon, raised_ms));
        Box::pin(async { Ok(()) })
    }
    fn near<'a>(&'a self, place: &'a Place<'a>, since_ms: i64) -> Fut<'a, anyhow::Result<Vec<Nearby>>> {
        let mut found: Vec<Nearby> = lock(&self.places)
            .iter()
            .filter(|(item, _, _, _, at)| item == place.item && *at >= since_ms)
            .map(|(_, id, lat, lon, at)| Nearby {
                id: *id,
                distance_m: crate::duplicates::distance_m(place.lat, place.lon, *lat, *lon),
                raised_ms: *at,
            })
            .filter(|n| n.distance_m <= place.radius_m)
            .collect();
        found.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        found.truncate(place.limit);
        Box::pin(async move { Ok(found) })
    }
    fn release_action(&self, id: Uuid, event_id: Uuid) -> Fut<'_, anyhow::Result<()>> {
        let mut slots = lock(&self.slots);
        if slots.get(&id) == Some(&event_id) {
            slots.remove(&id);
        }
        Box::pin(async { Ok(()) })
    }
}

/// The events published, in order; applied to `cases` as they are published.
pub struct MemoryLog {
    pub cases: Arc<MemoryCases>,
    events: Mutex<Vec<CaseEvent>>,
    down: AtomicBool,
}

impl MemoryLog {
    pub fn new(cases: Arc<MemoryCases>) -> MemoryLog {
        MemoryLog { cases, events: Mutex::new(Vec::new()), down: AtomicBool::new(false) }
    }

    pub fn events(&self) -> Vec<CaseEvent> {
        lock(&self.events).clone()
    }

    /// While down, every publish fails as Kafka's would (`503`, nothing recorded).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }
}

impl EventLog for MemoryLog {
    fn publish<'a>(&'a self, event: &'a CaseEvent) -> Fut<'a, Result<(), ApiError>> {
        let result = if self.down.load(Ordering::Relaxed) {
            Err(ApiError::Unavailable("the event log is unavailable; nothing was recorded, retry later".into()))
        } else {
            lock(&self.events).push(event.clone());
            self.cases.apply(event);
            Ok(())
        };
        Box::pin(async move { result })
    }
}
