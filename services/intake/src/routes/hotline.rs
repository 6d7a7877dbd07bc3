//! The 12345 hotline bridge (docs/hotline.md): `POST /api/v1/hotline/orders` imports a batch of
//! the hotline's work orders, as CSV or JSON, for the district's command centre. Each order
//! becomes a whistle raised on the command centre's behalf, routed by its town (given, or told
//! by its point), or triaged by the command centre where no town can be told. Each row stands
//! alone: a bad row is refused with its column and the reason, the rest are imported. The order
//! number is the idempotency key, city-wide: a re-import raises nothing twice.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use whistle_auth::{Principal, Role};
use whistle_registry::{ItemCode, Registry, TownCode};
use whistle_schemas::Location;
use whistle_schemas::api::{HotlineImportReport, HotlineOrderRow, HotlineOutcome, HotlineRowError, HotlineRowResult};
use whistle_schemas::events::{Actor, ActorKind, HotlineOrder};

use super::AppState;
use super::behalf::{self, Behalf};
use crate::domain;
use crate::error::ApiError;

/// Most orders one import takes.
pub const MAX_ORDERS: usize = 1000;
/// Largest import body: 1,000 orders of a full description each.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Longest order number.
pub const MAX_ORDER_NO_CHARS: usize = 64;
/// Longest caller name or phone number kept.
const MAX_CALLER_CHARS: usize = 100;
/// Orders raised at once (each waits for Kafka's acknowledgement).
const CONCURRENCY: usize = 16;
/// Whistle ids derive from order numbers in this namespace, so every import of an order names
/// the same whistle.
const HOTLINE_NAMESPACE: Uuid = Uuid::from_u128(0x1234_5c0d_7e11_4b0a_a2c3_9d5e_0f61_7a88);

/// The columns, each with the hotline's Chinese headers that name it too.
const COLUMNS: &[(&str, &[&str])] = &[
    ("order_no", &["工单编号", "工单号"]),
    ("received_at", &["受理时间", "来电时间"]),
    ("item", &["事项编码", "事项代码"]),
    ("town", &["街镇编码", "镇街编码"]),
    ("lat", &["纬度"]),
    ("lon", &["经度"]),
    ("datum", &["坐标系"]),
    ("address", &["地址", "事发地址"]),
    ("description", &["诉求内容", "工单内容"]),
    ("caller_name", &["来电人", "来电人姓名"]),
    ("caller_phone", &["来电号码", "联系电话"]),
];
const REQUIRED: &[&str] = &["order_no", "item", "lat", "lon", "description"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check every row and say what an import would do; raise nothing.
    #[serde(default)]
    dry_run: bool,
}

/// One order as read from the file, before any check: every cell as text.
#[derive(Debug, Default, Clone)]
struct RawOrder {
    cells: HashMap<&'static str, String>,
}

impl RawOrder {
    fn get(&self, column: &str) -> Option<&str> {
        self.cells.get(column).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// A row's refusal.
#[derive(Debug)]
struct RowError {
    code: &'static str,
    field: Option<&'static str>,
    message: String,
}

impl RowError {
    fn field(field: &'static str, message: impl Into<String>) -> RowError {
        RowError { code: "invalid_field", field: Some(field), message: message.into() }
    }

    /// An API error met checking or raising the row, under the row's column.
    fn api(field: Option<&'static str>, err: ApiError) -> RowError {
        let (code, message) = (err.code(), err.to_string());
        let field = match &err {
            ApiError::InvalidField { field: f, .. } => Some(column_of(f)),
            _ => field,
        };
        let message = match err {
            ApiError::InvalidField { message, .. } => message,
            _ => message,
        };
        RowError { code, field, message }
    }
}

/// The import's column for a field name the shared checks use.
fn column_of(field: &'static str) -> &'static str {
    match field {
        "location.lat" | "location" => "lat",
        "location.lon" => "lon",
        "location.address" => "address",
        other => other,
    }
}

/// An order that passed every check: what its whistle will be.
#[derive(Debug)]
struct Checked {
    order_no: String,
    received_at: Option<DateTime<Utc>>,
    item: ItemCode,
    town: Option<TownCode>,
    body: whistle_registry::DistrictCode,
    location: Location,
    text: String,
}

impl Checked {
    fn id(&self) -> Uuid {
        Uuid::new_v5(&HOTLINE_NAMESPACE, self.order_no.as_bytes())
    }

    /// What an import of this order means; the same order imported again matches it.
    fn fingerprint(&self) -> String {
        serde_json::json!({
            "order_no": self.order_no,
            "received_at": self.received_at,
            "item": self.item.as_str(),
            "town": self.town.as_ref().map(TownCode::as_str),
            "district": self.body.as_str(),
            "location": self.location,
            "text": self.text,
        })
        .to_string()
    }
}

/// `POST /api/v1/hotline/orders[?dry_run=true]` (`text/csv` or `application/json`).
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<HotlineImportReport>, ApiError> {
    // Who may, before a byte of the body is read.
    let Role::CommandCentre { district } = &principal.role else {
        return Err(ApiError::forbidden(format!(
            "12345 hotline orders are imported by a district's command centre; you are {principal}"
        )));
    };
    let district = district.clone();
    let Query(query) = query.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let csv = if kind.starts_with("text/csv") {
        true
    } else if kind.starts_with("application/json") {
        false
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the orders as text/csv (a header row, then one order a line) or as application/json \
             ({\"orders\": [...]})"
                .into(),
        ));
    };
    let too_large = || ApiError::FileTooLarge(format!("an import is at most {} MiB", MAX_BODY_BYTES / (1024 * 1024)));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| too_large())?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::MalformedBody(format!(
            "the import is not UTF-8 (byte {}); save the file as UTF-8 (Excel: CSV UTF-8)",
            e.valid_up_to()
        ))
    })?;
    let (rows, ignored_columns) = if csv { read_csv(text)? } else { (read_json(text)?, Vec::new()) };

    let registry = state.registry.current();
    let now = Utc::now();
    // A refused row still names its order, as the file gave it, so it can be found and fixed.
    let checked: Vec<(usize, String, Result<Checked, RowError>)> = rows
        .into_iter()
        .map(|(n, raw)| {
            let order_no = raw.as_ref().ok().and_then(|r| r.get("order_no")).unwrap_or("");
            let order_no: String = order_no.chars().take(MAX_ORDER_NO_CHARS).collect();
            (n, order_no, raw.and_then(|raw| check(&registry, &district, &raw, now)))
        })
        .collect();
    let results: Vec<HotlineRowResult> = futures::stream::iter(checked)
        .map(|(n, order_no, row)| {
            let state = &state;
            let principal = &principal;
            async move { outcome(state, principal, n, order_no, row, query.dry_run, now).await }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let count = |o: HotlineOutcome| u32::try_from(results.iter().filter(|r| r.outcome == o).count()).unwrap_or(0);
    let report = HotlineImportReport {
        dry_run: query.dry_run,
        created: count(HotlineOutcome::Created),
        existing: count(HotlineOutcome::Existing),
        failed: count(HotlineOutcome::Failed),
        ignored_columns,
        rows: results,
    };
    tracing::info!(district = %district, user = %principal.user, dry_run = query.dry_run, created = report.created,
        existing = report.existing, failed = report.failed, "12345 hotline orders imported");
    Ok(Json(report))
}

/// One row's result: raised (or, in a dry run, would be), already imported, or refused.
async fn outcome(
    state: &AppState,
    principal: &Principal,
    row: usize,
    order_no: String,
    checked: Result<Checked, RowError>,
    dry_run: bool,
    now: DateTime<Utc>,
) -> HotlineRowResult {
    let mut result = HotlineRowResult {
        row: u32::try_from(row).unwrap_or(u32::MAX),
        order_no,
        outcome: HotlineOutcome::Failed,
        id: None,
        town: None,
        possible_duplicates: vec![],
        error: None,
    };
    let failed = |mut result: HotlineRowResult, e: RowError| {
        result.error =
            Some(HotlineRowError { code: e.code.into(), field: e.field.map(Into::into), message: e.message });
        result
    };
    let order = match checked {
        Ok(order) => order,
        Err(e) => return failed(result, e),
    };
    let id = order.id();
    result.id = Some(id);
    result.town = order.town.as_ref().map(|t| t.to_string());
    match raise(state, principal, order, dry_run, now).await {
        Ok((outcome, duplicates)) => {
            result.outcome = outcome;
            result.possible_duplicates = duplicates;
            result
        }
        Err(e) => {
            result.id = None;
            failed(result, e)
        }
    }
}

/// Raises the order's whistle unless an import raised it before.
async fn raise(
    state: &AppState,
    principal: &Principal,
    order: Checked,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<(HotlineOutcome, Vec<Uuid>), RowError> {
    let id = order.id();
    let unavailable = |e: anyhow::Error| RowError::api(None, ApiError::store(e));
    if dry_run {
        let known = state.store.get(id).await.map_err(|e| unavailable(e.into()))?.is_some();
        return Ok((if known { HotlineOutcome::Existing } else { HotlineOutcome::Created }, vec![]));
    }
    let claim = state
        .store
        .claim_idempotency(&format!("hotline:{}", order.order_no), &order.fingerprint())
        .await
        .map_err(unavailable)?;
    if claim == whistle_casestore::store::Claim::Different {
        return Err(RowError {
            code: "order_conflict",
            field: Some("order_no"),
            message: format!(
                "order {} was imported before with other content; it is not imported twice (correct the \
                 existing whistle {id} instead)",
                order.order_no
            ),
        });
    }
    // Raised before (the claim remembers a week; the case is kept for good).
    if state.store.get(id).await.map_err(|e| unavailable(e.into()))?.is_some() {
        return Ok((HotlineOutcome::Existing, vec![]));
    }
    let centre = whistle_registry::DepartmentCode::new(&order.body, whistle_registry::file::COMMAND_CENTRE);
    let hotline_no = order.order_no.clone();
    let hotline = HotlineOrder { order_no: order.order_no.clone(), received_at: order.received_at };
    let event = behalf::decide_raise(Behalf {
        id,
        now,
        town: order.town,
        body: order.body,
        item: order.item,
        description: order.text,
        location: order.location,
        photos: vec![],
        raised_by: Actor::person(ActorKind::Department, centre.to_string(), &principal.user, principal.role.name()),
        hotline: Some(hotline),
    })
    .map_err(|e| RowError::api(None, e))?;
    // A claim of an earlier attempt that Kafka refused is `Same`: this attempt raises it, with
    // the same event id, so consumers see one raise.
    let duplicates = behalf::publish(state, &event).await.map_err(|e| RowError::api(None, e))?;
    tracing::info!(whistle = %id, order = %hotline_no, "12345 hotline order raised");
    Ok((HotlineOutcome::Created, duplicates))
}

/// Checks one order against the registry and the importing command centre's district.
fn check(registry: &Registry, district: &str, raw: &RawOrder, now: DateTime<Utc>) -> Result<Checked, RowError> {
    let order_no = raw.get("order_no").ok_or_else(|| RowError::field("order_no", "the order number is required"))?;
    if order_no.chars().count() > MAX_ORDER_NO_CHARS
        || !order_no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(RowError::field(
            "order_no",
            format!("{order_no:?}: an order number is 1-{MAX_ORDER_NO_CHARS} letters, digits, - or _"),
        ));
    }
    let received_at = raw.get("received_at").map(|v| received(v, now)).transpose()?;
    let item_text = raw.get("item").ok_or_else(|| RowError::field("item", "the item code is required"))?;
    let item = ItemCode::parse(item_text).ok().filter(|c| registry.item(c).is_some()).ok_or_else(|| RowError {
        code: "unknown_item",
        field: Some("item"),
        message: format!("{item_text:?} is not an item of the registry (GET /api/v1/registry/items lists them)"),
    })?;
    let degrees = |column: &'static str| -> Result<f64, RowError> {
        let v = raw.get(column).ok_or_else(|| {
            RowError::field(column, "lat and lon are required: this import does not geocode addresses")
        })?;
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| RowError::field(column, format!("{v:?} is not a number of degrees")))
    };
    let (lat, lon) = (degrees("lat")?, degrees("lon")?);
    let datum = match raw.get("datum") {
        None => whistle_geo::Datum::Wgs84,
        Some(v) => whistle_geo::Datum::parse(v)
            .ok_or_else(|| RowError::field("datum", format!("{v:?}: use wgs84 (GPS, the default) or gcj02")))?,
    };
    let point = domain::located(lat, lon, datum).map_err(|e| RowError::api(Some("lat"), e))?;
    let placed = behalf::place(registry, point).map_err(|e| RowError::api(Some("lat"), e))?;
    let (town, body) = match raw.get("town") {
        Some(code) => {
            let unknown = || RowError {
                code: "unknown_town",
                field: Some("town"),
                message: format!("{code:?} is not a town of the registry (GET /api/v1/towns lists them)"),
            };
            let town = TownCode::parse(code).ok().and_then(|t| registry.town(&t)).ok_or_else(unknown)?;
            if *town.body() != placed.body && town.district != placed.located {
                return Err(RowError {
                    code: "outside_district",
                    field: Some("town"),
                    message: format!(
                        "the point ({lat}, {lon}) lies in district {}, but town {code} ({}) is in district {}: \
                         check the coordinates or the town",
                        placed.located, town.names.zh, town.district
                    ),
                });
            }
            (Some(town.code.clone()), town.body().clone())
        }
        None => (placed.town.as_ref().map(|t| t.code.clone()), placed.body.clone()),
    };
    if body.as_str() != district {
        return Err(RowError {
            code: "outside_district",
            field: Some(if raw.get("town").is_some() { "town" } else { "lat" }),
            message: format!(
                "the order belongs to district {body}, not to your command centre's district {district}: \
                 the hotline sends it to {body}"
            ),
        });
    }
    let description =
        raw.get("description").ok_or_else(|| RowError::field("description", "say what the caller reported"))?;
    let description = domain::text("description", description, domain::MAX_DESCRIPTION_CHARS, true)
        .map_err(|e| RowError::api(None, e))?;
    let address = raw
        .get("address")
        .map(|a| domain::text("address", a, domain::MAX_ADDRESS_CHARS, false))
        .transpose()
        .map_err(|e| RowError::api(None, e))?;
    let caller_name = raw
        .get("caller_name")
        .map(|v| domain::text("caller_name", v, MAX_CALLER_CHARS, false))
        .transpose()
        .map_err(|e| RowError::api(None, e))?;
    let caller_phone = raw.get("caller_phone").map(phone).transpose()?;
    // The whistle's text: the caller's words, then the order (for the department, who may call
    // back).
    let mut text = format!("{description}\n\n[12345 热线工单 {order_no}]");
    for (label, value) in [("来电人", caller_name), ("来电号码", caller_phone)] {
        if let Some(v) = value {
            text.push_str(&format!(" {label}: {v}"));
        }
    }
    Ok(Checked {
        order_no: order_no.to_owned(),
        received_at,
        item,
        town,
        body,
        location: Location {
            lat: point.lat,
            lon: point.lon,
            address: address.unwrap_or_else(|| format!("{:.6}, {:.6}", point.lat, point.lon)),
        },
        text,
    })
}

/// A phone number: digits with `+`, `-`, spaces and an extension's `#`/`*`.
fn phone(value: &str) -> Result<String, RowError> {
    let ok = value.chars().count() <= 32
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '#' | '*'));
    if !ok {
        return Err(RowError::field("caller_phone", format!("{value:?} is not a phone number (digits, + - # *)")));
    }
    Ok(value.to_owned())
}

/// The hotline's time of the call: RFC 3339, or China time as its exports write it.
fn received(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, RowError> {
    let parsed = DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
            .and_then(|t| t.and_local_timezone(china()).single())
            .map(|t| t.with_timezone(&Utc))
    });
    let t = parsed.ok_or_else(|| {
        RowError::field(
            "received_at",
            format!("{value:?}: use 2026-12-01 08:30:00 (China time) or RFC 3339 (2026-12-01T00:30:00Z)"),
        )
    })?;
    if t > now + chrono::Duration::minutes(5) {
        return Err(RowError::field("received_at", format!("{value:?} is in the future")));
    }
    Ok(t)
}

fn china() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

type Rows = Vec<(usize, Result<RawOrder, RowError>)>;

/// A CSV import: the header names the columns (in any order, English or the hotline's Chinese);
/// columns this import does not take are ignored and named in the report.
fn read_csv(text: &str) -> Result<(Rows, Vec<String>), ApiError> {
    let records = whistle_registry::csv::parse_rows(text).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    let mut records = records.into_iter();
    let header = records.next().ok_or_else(|| ApiError::MalformedBody("the CSV is empty: send a header row".into()))?;
    let mut columns: Vec<Option<&'static str>> = Vec::with_capacity(header.len());
    let mut ignored = Vec::new();
    for name in &header {
        let name = name.trim();
        let column = COLUMNS.iter().find(|(en, zh)| *en == name || zh.contains(&name)).map(|(en, _)| *en);
        if let Some(c) = column
            && columns.contains(&Some(c))
        {
            return Err(ApiError::MalformedBody(format!("the header names column {c} twice ({name})")));
        }
        if column.is_none() && !name.is_empty() {
            ignored.push(name.to_owned());
        }
        columns.push(column);
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !columns.contains(&Some(**r))) {
        let aliases = COLUMNS.iter().find(|(en, _)| en == missing).map(|(_, zh)| zh.join(" / ")).unwrap_or_default();
        return Err(ApiError::MalformedBody(format!(
            "the header has no column {missing} ({aliases}); the columns are: {}",
            COLUMNS.iter().map(|(en, _)| *en).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut rows = Vec::new();
    for (n, record) in records.enumerate() {
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ORDERS {
            return Err(ApiError::MalformedBody(format!(
                "an import takes at most {MAX_ORDERS} orders; split the file"
            )));
        }
        let row = n + 1;
        if record.len() > columns.len() {
            rows.push((
                row,
                Err(RowError::field(
                    "order_no",
                    format!(
                        "the row has {} cells, the header {}: a comma inside a cell needs quotes",
                        record.len(),
                        columns.len()
                    ),
                )),
            ));
            continue;
        }
        let cells = columns.iter().zip(record).filter_map(|(c, v)| c.map(|c| (c, v))).collect();
        rows.push((row, Ok(RawOrder { cells })));
    }
    Ok((rows, ignored))
}

/// A JSON import: `{"orders": [...]}`, each order checked on its own.
fn read_json(text: &str) -> Result<Rows, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Import {
        orders: Vec<Value>,
    }
    let import: Import = serde_json::from_str(text).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    if import.orders.len() > MAX_ORDERS {
        return Err(ApiError::MalformedBody(format!("an import takes at most {MAX_ORDERS} orders; split it")));
    }
    Ok(import
        .orders
        .into_iter()
        .enumerate()
        .map(|(n, value)| {
            let order = serde_json::from_value::<HotlineOrderRow>(value)
                .map_err(|e| RowError { code: "malformed_row", field: None, message: e.to_string() })
                .map(|o| {
                    let mut cells = HashMap::new();
                    let mut put = |k: &'static str, v: Option<String>| {
                        if let Some(v) = v {
                            cells.insert(k, v);
                        }
                    };
                    put("order_no", Some(o.order_no));
                    put("received_at", o.received_at);
                    put("item", Some(o.item));
                    put("town", o.town);
                    put("lat", Some(o.lat.to_string()));
                    put("lon", Some(o.lon.to_string()));
                    put("datum", o.datum);
                    put("address", o.address);
                    put("description", Some(o.description));
                    put("caller_name", o.caller_name);
                    put("caller_phone", o.caller_phone);
                    RawOrder { cells }
                });
            (n + 1, order)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/data/registry.json");
        Registry::load(std::path::Path::new(path)).expect("the sample registry loads")
    }

    fn raw(pairs: &[(&'static str, &str)]) -> RawOrder {
        RawOrder { cells: pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect() }
    }

    #[test]
    fn chinese_headers_name_the_columns_and_unknown_ones_are_reported() {
        let csv = "工单编号,事项编码,纬度,经度,诉求内容,处理状态\r\nCQ-1,X,29.55,106.57,占道,待办\r\n\r\n";
        let (rows, ignored) = read_csv(csv).expect("a valid file");
        assert_eq!(ignored, vec!["处理状态".to_owned()]);
        assert_eq!(rows.len(), 1, "the blank line is no order");
        let order = rows[0].1.as_ref().expect("a row");
        assert_eq!(order.get("order_no"), Some("CQ-1"));
        assert_eq!(order.get("description"), Some("占道"));
    }

    #[test]
    fn a_header_without_a_required_column_is_refused_naming_it() {
        let err = read_csv("order_no,item,lat,description\r\nA,B,1,x\r\n").expect_err("no lon");
        assert!(err.to_string().contains("no column lon (经度)"), "{err}");
    }

    #[test]
    fn china_time_and_rfc3339_both_read() {
        let now = Utc::now();
        let a = received("2026-01-02 08:30:00", now).expect("china time");
        let b = received("2026-01-02T00:30:00Z", now).expect("rfc3339");
        assert_eq!(a, b);
        assert!(received("2026-13-02 08:30", now).is_err());
        assert!(received(&(now + chrono::Duration::days(1)).to_rfc3339(), now).is_err(), "the future");
    }

    #[test]
    fn rows_are_checked_against_the_command_centres_district() {
        let r = registry();
        let now = Utc::now();
        let item = r.items().next().expect("an item").code.to_string();
        let ok = raw(&[
            ("order_no", "CQ12345-1"),
            ("item", &item),
            ("lat", "29.5580"),
            ("lon", "106.5770"),
            ("description", "油烟扰民"),
            ("caller_phone", "023-6388 1234"),
        ]);
        let checked = check(&r, "500103", &ok, now).expect("a 渝中区 order");
        assert_eq!(checked.body.as_str(), "500103");
        assert!(checked.text.contains("[12345 热线工单 CQ12345-1]") && checked.text.contains("023-6388 1234"));
        let elsewhere = check(&r, "500112", &ok, now).expect_err("another district's centre");
        assert_eq!((elsewhere.code, elsewhere.field), ("outside_district", Some("lat")));
        let mut bad = ok.clone();
        bad.cells.insert("order_no", "CQ 1/2".into());
        assert_eq!(check(&r, "500103", &bad, now).expect_err("bad number").field, Some("order_no"));
        let mut outside = ok.clone();
        outside.cells.insert("lat", "39.9".into());
        outside.cells.insert("lon", "116.4".into());
        let e = check(&r, "500103", &outside, now).expect_err("Beijing");
        assert_eq!((e.code, e.field), ("invalid_field", Some("lat")));
        let mut phone = ok;
        phone.cells.insert("caller_phone", "call me".into());
        assert_eq!(check(&r, "500103", &phone, now).expect_err("not a phone").field, Some("caller_phone"));
    }

    #[test]
    fn an_order_names_the_same_whistle_on_every_import() {
        let r = registry();
        let item = r.items().next().expect("an item").code.to_string();
        let order =
            raw(&[("order_no", "CQ-7"), ("item", &item), ("lat", "29.558"), ("lon", "106.577"), ("description", "x")]);
        let a = check(&r, "500103", &order, Utc::now()).expect("valid");
        let b = check(&r, "500103", &order, Utc::now()).expect("valid");
        assert_eq!(a.id(), b.id());
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
