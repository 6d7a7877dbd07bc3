//! Whistles a district's command centre raises on someone else's behalf: a citizen's Open311
//! request, a 12345 hotline work order. Both are placed the same way (the point's town where one
//! can be told, else the district's command centre triages) and raised the same way.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_case::{Command, Ctx, decide};
use whistle_registry::{DepartmentCode, DistrictCode, ItemCode, Registry, Town, TownCode};
use whistle_schemas::Location;
use whistle_schemas::events::{Actor, CaseEvent, HotlineOrder, Raised};

use super::AppState;
use crate::error::ApiError;

/// Where a point lies, and who answers it.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The nearest town with a known centre (only some districts have them); `None`: the
    /// command centre triages.
    pub town: Option<Town>,
    /// The district the point lies in.
    pub located: DistrictCode,
    /// The body that answers: the town's (a functional zone may run it), else the district.
    pub body: DistrictCode,
}

impl Placed {
    /// The answering body's command centre, which raises the whistle.
    pub fn centre(&self, registry: &Registry) -> Result<DepartmentCode, ApiError> {
        let centre = DepartmentCode::new(&self.body, whistle_registry::file::COMMAND_CENTRE);
        if registry.department(&centre).is_none() {
            return Err(ApiError::Unexpected(anyhow::anyhow!("district {} has no command centre", self.body)));
        }
        Ok(centre)
    }
}

/// Places a WGS-84 point inside Chongqing (`400 invalid_field` outside it).
pub fn place(registry: &Registry, point: whistle_geo::Point) -> Result<Placed, ApiError> {
    let place =
        whistle_geo::locate(point).map_err(|e| ApiError::InvalidField { field: "location", message: e.to_string() })?;
    let located = DistrictCode::parse(place.district).context("a polygon's district code")?;
    let town = place.town.and_then(|t| TownCode::parse(t).ok()).and_then(|t| registry.town(&t).cloned());
    let body = town.as_ref().map_or_else(|| located.clone(), |t| t.body().clone());
    Ok(Placed { town, located, body })
}

/// A raise on someone's behalf, checked and ready to decide.
pub struct Behalf {
    pub id: Uuid,
    pub now: DateTime<Utc>,
    /// Empty: the command centre triages.
    pub town: Option<TownCode>,
    pub body: DistrictCode,
    pub item: ItemCode,
    pub description: String,
    pub location: Location,
    pub photos: Vec<String>,
    pub raised_by: Actor,
    pub hotline: Option<HotlineOrder>,
}

/// The raise's event, as the case decides it (a refusal is the request's error).
pub fn decide_raise(b: Behalf) -> Result<CaseEvent, ApiError> {
    let raise = Command::Raise(Raised {
        // Empty where no town is known: the router sends a command centre's whistle without a
        // town to the command centre itself.
        town: b.town.map(|t| t.to_string()).unwrap_or_default(),
        district: b.body.to_string(),
        item: b.item.to_string(),
        description: b.description,
        location: b.location,
        photos: b.photos,
        attachments: vec![],
        raised_by: b.raised_by,
        support: false,
        assist: vec![],
        hotline: b.hotline,
    });
    let event_id = Uuid::new_v5(&b.id, b"whistle.raised");
    let ctx = Ctx { event_id, subject: b.id, now: b.now, source: super::whistles::SOURCE, limits: Default::default() };
    decide(None, raise, &ctx)?.into_iter().next().context("a raise decides one event").map_err(ApiError::from)
}

/// Sends the raise to the log and, once Kafka has it, records what a raise records: the
/// provisional case (read-after-write) and the raise's place (for the raises after it). Answers
/// the open whistles of the item nearby, as a town's raise does.
pub async fn publish(state: &AppState, event: &CaseEvent) -> Result<Vec<Uuid>, ApiError> {
    super::whistles::publish(state, event).await?;
    state.metrics.whistles_raised.inc();
    let Ok(case) = whistle_case::evolve(None, event) else { return Ok(vec![]) };
    if let Err(err) = state.store.put_provisional(&case).await {
        tracing::warn!(whistle = %case.id, error = %format_args!("{err:#}"), "could not record provisional case");
    }
    // Kafka has the raise: what follows never refuses it.
    let duplicates =
        crate::duplicates::possible(state, &case.district, &case.item, &case.location, event.time, case.id).await;
    if let Err(err) = crate::duplicates::record(state, &case.item, case.id, &case.location, event.time).await {
        state.metrics.duplicate_lookup_failures.inc();
        tracing::warn!(whistle = %case.id, error = %format_args!("{err:#}"), "could not record the raise's place");
    }
    if !duplicates.is_empty() {
        state.metrics.raises_with_duplicates.inc();
    }
    Ok(duplicates)
}
