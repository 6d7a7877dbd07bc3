//! Registry look-ups intake answers itself: towns, and where a whistle would go. Items, their
//! history and districts are the registry service's (`whistle_registry::service`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use whistle_registry::{DistrictCode, ItemCode, Registry, Route, RouteError, TownCode, route as decide};
use whistle_schemas::Names;
use whistle_schemas::api::{DistrictRef, RouteOutcome, RouteView, TownList, TownView};
use whistle_schemas::events::DepartmentRef;

use super::AppState;
use crate::error::ApiError;

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::MalformedQuery(format!("bad query string: {}", e.body_text())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictQuery {
    district: Option<String>,
}

fn district_param(registry: &Registry, value: Option<&str>) -> Result<Option<DistrictCode>, ApiError> {
    match value {
        None | Some("*") => Ok(None),
        Some(d) => {
            let code = DistrictCode::parse(d)
                .map_err(|e| ApiError::InvalidField { field: "district", message: e.to_string() })?;
            if registry.district(&code).is_none() {
                return Err(ApiError::NotFound(format!("unknown district {code}")));
            }
            Ok(Some(code))
        }
    }
}

/// `GET /api/v1/towns[?district=CODE]`
pub async fn towns(
    State(state): State<AppState>,
    q: Result<Query<DistrictQuery>, QueryRejection>,
) -> Result<Json<TownList>, ApiError> {
    let q = query(q)?;
    let registry = &*state.registry.current();
    let district = district_param(registry, q.district.as_deref())?;
    let towns = registry
        .towns()
        // A district's towns include those a functional zone manages there; a zone's are the
        // towns it manages.
        .filter(|t| district.as_ref().is_none_or(|d| &t.district == d || t.body() == d))
        .filter_map(|t| {
            let reference = |code: &DistrictCode| {
                registry.district(code).map(|d| DistrictRef { code: d.code.to_string(), names: d.names.clone() })
            };
            Some(TownView {
                code: t.code.to_string(),
                names: t.names.clone(),
                kind: t.kind.as_str().to_owned(),
                district: reference(&t.district)?,
                managed_by: t.managed_by.as_ref().and_then(reference),
                illustrative: t.illustrative,
            })
        })
        .collect();
    Ok(Json(TownList { towns }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    town: String,
    item: String,
    /// RFC 3339; defaults to now.
    at: Option<String>,
}

/// `GET /api/v1/route?town=CODE&item=CODE[&at=RFC3339]`
pub async fn route(
    State(state): State<AppState>,
    q: Result<Query<RouteQuery>, QueryRejection>,
) -> Result<Json<RouteView>, ApiError> {
    let q = query(q)?;
    let town = TownCode::parse(&q.town).map_err(|e| ApiError::UnknownTown(e.to_string()))?;
    let item = ItemCode::parse(&q.item).map_err(|e| ApiError::UnknownItem(e.to_string()))?;
    let at = match q.at.as_deref() {
        None => Utc::now(),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| ApiError::InvalidField { field: "at", message: format!("not an RFC 3339 time: {e}") })?
            .with_timezone(&Utc),
    };
    let registry = state.registry.current();
    let decision = decide(&registry, &town, &item, at).map_err(route_error)?;
    Ok(Json(route_view(&registry, &town, &item, at, &decision)))
}

pub(crate) fn route_error(err: RouteError) -> ApiError {
    match err {
        RouteError::UnknownTown(t) => ApiError::UnknownTown(t.to_string()),
        RouteError::UnknownItem(i) => ApiError::UnknownItem(i.to_string()),
        other @ RouteError::NoCommandCentre(_) => ApiError::Unexpected(anyhow::anyhow!(other)),
    }
}

pub(crate) fn route_view(
    registry: &Registry,
    town: &TownCode,
    item: &ItemCode,
    at: DateTime<Utc>,
    decision: &Route<'_>,
) -> RouteView {
    let item_names = registry
        .item(item)
        .map(|i| i.names.clone())
        .unwrap_or_else(|| Names { zh: item.to_string(), en: item.to_string() });
    let base = |outcome, authority, department: Option<DepartmentRef>, effective_from, message| RouteView {
        town: town.to_string(),
        district: registry.town(town).map_or_else(|| town.district(), |t| t.body().clone()).to_string(),
        item: item.to_string(),
        at,
        outcome,
        authority,
        department,
        effective_from,
        message,
    };
    match decision {
        Route::Department { department, authority, since } => base(
            RouteOutcome::Department,
            Some(*authority),
            Some(DepartmentRef { code: department.code.to_string(), names: department.names.clone() }),
            Some(*since),
            Names {
                zh: format!("「{}」由{}负责，吹哨后将派发至该部门。", item_names.zh, department.names.zh),
                en: format!("\"{}\" is held by {}; a whistle is dispatched there.", item_names.en, department.names.en),
            },
        ),
        Route::Town { authority, since } => base(
            RouteOutcome::Town,
            Some(*authority),
            None,
            Some(*since),
            town_holds_message(&item_names, *authority, *since),
        ),
        Route::Triage { department, reason } => base(
            RouteOutcome::Triage,
            None,
            Some(DepartmentRef { code: department.code.to_string(), names: department.names.clone() }),
            None,
            Names {
                zh: format!("「{}」在本区暂无明确责任部门，吹哨后由{}分办。", item_names.zh, department.names.zh),
                en: format!(
                    "No department holds \"{}\" here ({reason}); {} will triage the whistle.",
                    item_names.en, department.names.en
                ),
            },
        ),
    }
}

/// Tells a town, in both languages, that it holds the item itself.
pub(crate) fn town_holds_message(
    item: &Names,
    authority: whistle_schemas::events::Authority,
    since: DateTime<Utc>,
) -> Names {
    use whistle_schemas::events::Authority::*;
    let (zh_auth, en_auth) = match authority {
        Statutory => ("法定", "statutory"),
        Empowered => ("赋权", "empowered"),
        Delegated => ("委托", "delegated"),
        Department => ("部门", "department"),
        Recovered => ("收回", "recovered"),
    };
    let day = since.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is valid")).format("%Y-%m-%d");
    Names {
        zh: format!("「{}」自{day}起已{zh_auth}由乡镇（街道）综合行政执法队伍直接办理，无需吹哨。", item.zh),
        en: format!(
            "Your town holds \"{}\" itself ({en_auth} authority since {day}): handle it directly; no whistle is needed.",
            item.en
        ),
    }
}
