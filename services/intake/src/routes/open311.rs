//! Open311 GeoReport v2 at `/open311/v2/` (docs/open311.md): the registry's items as services,
//! citizens' requests as whistles raised on behalf of the district's command centre.
//!
//! The spec's conventions, not the API's: a format suffix on every path (`.json`, `.xml`),
//! form-encoded `POST`s, an `api_key` per client instead of a bearer token, and errors as
//! `[{"code": 400, "description": "…"}]` (`<errors><error>…` in XML). Reading is public, as
//! the spec has it; what a reader sees of a request is what its reporter sent, never their
//! contact details, plus the status.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path as FsPath;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use whistle_registry::{DistrictCode, ItemCode, Registry};
use whistle_schemas::events::{Actor, ActorKind};
use whistle_schemas::{Location, Status};

use super::AppState;
use crate::domain;
use crate::error::ApiError;
use crate::ports::RequestRecord;

/// The dev stack's demo key (only with the demo accounts: `WHISTLE_DEMO=1` in development).
pub const DEMO_KEY: &str = "whistle-demo-open311";
/// The demo key's client name.
pub const DEMO_CLIENT: &str = "demo";

/// Registry categories whose items a citizen can see and report (a hazard, a nuisance, a
/// stall on the pavement); `education`, `civil_affairs` and `labour` are matters of licences
/// and records, reported through their own channels, not from the street.
pub const CITIZEN_CATEGORIES: &[&str] = &[
    "fire_safety",
    "city_appearance",
    "market",
    "environment",
    "agriculture_fishery",
    "construction",
    "natural_resources",
    "transport",
    "water",
    "culture_tourism",
    "safety_production",
    "health",
    "public_order",
];

/// Most requests one list answers (the newest first); the spec lets a server bound it.
pub const MAX_LIST: usize = 200;
/// Most ids one `service_request_id` list may name.
pub const MAX_IDS: usize = 100;
/// The longest date range one list may span, and its default (the spec's 90 days).
pub const MAX_RANGE_DAYS: i64 = 90;
/// Longest name, e-mail or phone number kept from a reporter.
const MAX_CONTACT_CHARS: usize = 100;

/// The API keys of Open311 clients: key → client name.
#[derive(Debug, Clone, Default)]
pub struct Open311Keys {
    keys: HashMap<String, String>,
}

impl Open311Keys {
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> Open311Keys {
        Open311Keys { keys: entries.into_iter().map(|(client, key)| (key, client)).collect() }
    }

    /// Reads a keys file: one `client key` pair a line; blank lines and `#` comments skipped.
    /// A key must be 16-128 visible ASCII characters, so a guessable one is refused at start-up.
    pub fn read_file(path: &FsPath) -> anyhow::Result<Vec<(String, String)>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(client), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
                anyhow::bail!("{} line {}: expected `client key`", path.display(), n + 1);
            };
            if !(16..=128).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
                anyhow::bail!("{} line {}: a key is 16-128 visible ASCII characters", path.display(), n + 1);
            }
            out.push((client.to_owned(), key.to_owned()));
        }
        Ok(out)
    }

    /// The client a key belongs to.
    pub fn client(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What the spec's path suffix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// A GeoReport error: its HTTP status, in the format the request asked for.
#[derive(Debug)]
pub struct Open311Error {
    status: StatusCode,
    description: String,
    format: Format,
}

impl Open311Error {
    fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error { status, description: description.into(), format }
    }
    fn bad(format: Format, description: impl Into<String>) -> Open311Error {
        Open311Error::new(StatusCode::BAD_REQUEST, format, description)
    }
    fn from_api(format: Format, err: ApiError) -> Open311Error {
        let response = match &err {
            ApiError::InvalidField { .. } | ApiError::MalformedBody(_) | ApiError::MalformedQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(e) => {
                tracing::error!(error = %format_args!("{e:#}"), "open311 request failed");
                return Open311Error::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format,
                    "internal error; it has been logged",
                );
            }
            _ => StatusCode::BAD_REQUEST,
        };
        Open311Error::new(response, format, err.to_string())
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let code = self.status.as_u16();
        let mut response = match self.format {
            Format::Json => {
                (self.status, axum::Json(json!([{"code": code, "description": self.description}]))).into_response()
            }
            Format::Xml => {
                let body = format!(
                    "{XML_HEAD}<errors><error><code>{code}</code><description>{}</description></error></errors>",
                    escape(&self.description)
                );
                (self.status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
            }
        };
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, 2.into());
        }
        response
    }
}

type Answer = Result<Response, Open311Error>;

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

/// `name.json` → (`name`, JSON); `.xml` likewise; anything else is a `404`.
fn split_format(file: &str) -> Result<(&str, Format), Open311Error> {
    if let Some(stem) = file.strip_suffix(".json") {
        Ok((stem, Format::Json))
    } else if let Some(stem) = file.strip_suffix(".xml") {
        Ok((stem, Format::Xml))
    } else {
        Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            Format::Json,
            format!("{file}: add the format, .json or .xml (GeoReport v2)"),
        ))
    }
}

fn format_of(uri: &Uri) -> Format {
    if uri.path().ends_with(".xml") { Format::Xml } else { Format::Json }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A list of records as the spec's JSON array or XML `<outer><inner>…</inner>…</outer>`.
fn records(format: Format, outer: &str, inner: &str, items: Vec<Map<String, Value>>, status: StatusCode) -> Response {
    match format {
        Format::Json => {
            (status, axum::Json(Value::Array(items.into_iter().map(Value::Object).collect()))).into_response()
        }
        Format::Xml => {
            let mut body = format!("{XML_HEAD}<{outer}>");
            for item in &items {
                xml_element(&mut body, inner, &Value::Object(item.clone()));
            }
            let _ = write!(body, "</{outer}>");
            (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
        }
    }
}

fn xml_element(out: &mut String, tag: &str, value: &Value) {
    let _ = write!(out, "<{tag}>");
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(&escape(s)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            // The spec's XML repeats a singular element inside the plural one.
            let child = tag.strip_suffix('s').unwrap_or(tag);
            for item in items {
                xml_element(out, child, item);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                xml_element(out, k, v);
            }
        }
    }
    let _ = write!(out, "</{tag}>");
}

/// The query string as pairs; a malformed one is a `400`.
fn query_pairs(query: Option<&str>, format: Format) -> Result<Vec<(String, String)>, Open311Error> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
        .map_err(|e| Open311Error::bad(format, format!("malformed query string: {e}")))
}

fn one<'a>(pairs: &'a [(String, String)], name: &str, format: Format) -> Result<Option<&'a str>, Open311Error> {
    let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim());
    let first = values.next();
    if values.next().is_some() {
        return Err(Open311Error::bad(format, format!("{name} is given twice; send it once (comma-separated lists)")));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// English names when `locale` (or, without it, `Accept-Language`) asks for English; zh-CN
/// otherwise.
fn english(pairs: &[(String, String)], headers: &HeaderMap) -> bool {
    let wanted = pairs
        .iter()
        .find(|(k, _)| k == "locale")
        .map(|(_, v)| v.clone())
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_default();
    wanted.trim().to_ascii_lowercase().starts_with("en")
}

/// A `jurisdiction_id`: a district (or functional zone) code of the registry.
fn jurisdiction(
    registry: &Registry,
    value: Option<&str>,
    format: Format,
) -> Result<Option<DistrictCode>, Open311Error> {
    let Some(value) = value else { return Ok(None) };
    let unknown = || {
        Open311Error::bad(
            format,
            format!(
                "jurisdiction_id {}: not a Chongqing district code (e.g. 500103 for 渝中区; GET /api/v1/districts lists them)",
                value.chars().take(20).collect::<String>()
            ),
        )
    };
    let code = DistrictCode::parse(value).map_err(|_| unknown())?;
    registry.district(&code).ok_or_else(unknown)?;
    Ok(Some(code))
}

fn service_record(item: &whistle_registry::Item, english: bool) -> Map<String, Value> {
    let (name, keywords) =
        if english { (&item.names.en, &item.keywords_en) } else { (&item.names.zh, &item.keywords_zh) };
    let mut m = Map::new();
    m.insert("service_code".into(), item.code.to_string().into());
    m.insert("service_name".into(), name.clone().into());
    m.insert("description".into(), format!("{} ({})", name, item.legal_basis).into());
    m.insert("metadata".into(), false.into());
    m.insert("type".into(), "realtime".into());
    m.insert("keywords".into(), keywords.join(",").into());
    m.insert("group".into(), item.category.clone().into());
    m
}

fn citizen_item(item: &whistle_registry::Item) -> bool {
    CITIZEN_CATEGORIES.contains(&item.category.as_str())
}

/// `GET /open311/v2/services.{json,xml}`
pub async fn services(
    State(state): State<AppState>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let format = format_of(&uri);
    let pairs = query_pairs(query.as_deref(), format)?;
    let registry = state.registry.current();
    jurisdiction(&registry, one(&pairs, "jurisdiction_id", format)?, format)?;
    let english = english(&pairs, &headers);
    let items = registry.items().filter(|i| citizen_item(i)).map(|i| service_record(i, english)).collect();
    Ok(records(format, "services", "service", items, StatusCode::OK))
}

/// `GET /open311/v2/services/{code}.{json,xml}`: no attributes (the description says it all).
pub async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (code, format) = split_format(&file)?;
    let pairs = query_pairs(query.as_deref(), format)?;
    let registry = state.registry.current();
    jurisdiction(&registry, one(&pairs, "jurisdiction_id", format)?, format)?;
    let item = citizen_service(&registry, code, format, StatusCode::NOT_FOUND)?;
    let mut m = Map::new();
    m.insert("service_code".into(), item.code.to_string().into());
    m.insert("attributes".into(), Value::Array(vec![]));
    let response = match format {
        Format::Json => (StatusCode::OK, axum::Json(Value::Object(m))).into_response(),
        Format::Xml => {
            let mut body = XML_HEAD.to_owned();
            xml_element(&mut body, "service_definition", &Value::Object(m));
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
        }
    };
    Ok(response)
}

fn citizen_service<'r>(
    registry: &'r Registry,
    code: &str,
    format: Format,
    status: StatusCode,
) -> Result<&'r whistle_registry::Item, Open311Error> {
    let unknown = || {
        Open311Error::new(
            status,
            format,
            format!(
                "service_code {}: no such service; GET /open311/v2/services.json lists them",
                code.chars().take(40).collect::<String>()
            ),
        )
    };
    let item = ItemCode::parse(code).ok().and_then(|c| registry.item(&c)).ok_or_else(unknown)?;
    if !citizen_item(item) {
        return Err(unknown());
    }
    Ok(item)
}

/// `POST /open311/v2/requests.{json,xml}` (form fields per GeoReport v2).
pub async fn create_request(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let format = format_of(&uri);
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Open311Error::new(StatusCode::PAYLOAD_TOO_LARGE, format, "request body is too large")
        } else {
            Open311Error::bad(format, e.body_text())
        }
    })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(Open311Error::bad(
            format,
            "send the request as a form (Content-Type: application/x-www-form-urlencoded), as GeoReport v2 has it",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| Open311Error::bad(format, "the form is not UTF-8"))?;
    let pairs = query_pairs(Some(text), format)?;
    let field = |name: &str| one(&pairs, name, format);

    let client = match field("api_key")? {
        None => return Err(Open311Error::new(StatusCode::FORBIDDEN, format, "api_key is required to post a request")),
        Some(key) => state
            .open311
            .client(key)
            .ok_or_else(|| {
                Open311Error::new(StatusCode::FORBIDDEN, format, "api_key is not valid (unknown or revoked)")
            })?
            .to_owned(),
    };
    let registry = state.registry.current();
    let service_code =
        field("service_code")?.ok_or_else(|| Open311Error::bad(format, "service_code is required"))?.to_owned();
    let item = citizen_service(&registry, &service_code, format, StatusCode::BAD_REQUEST)?;
    let jurisdiction_id = jurisdiction(&registry, field("jurisdiction_id")?, format)?;

    // Where: coordinates are required; an address alone cannot be placed (no geocoder).
    let (lat, lon) = match (field("lat")?, field("long")?) {
        (Some(lat), Some(lon)) => {
            let parse = |name: &str, v: &str| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| Open311Error::bad(format, format!("{name} {v:?} is not a number of degrees")))
            };
            (parse("lat", lat)?, parse("long", lon)?)
        }
        (None, None) if field("address_string")?.is_some() || field("address_id")?.is_some() => {
            return Err(Open311Error::bad(
                format,
                "lat and long are required: this server does not geocode address_string or address_id",
            ));
        }
        _ => return Err(Open311Error::bad(format, "lat and long are required (WGS-84 degrees)")),
    };
    let datum = match field("datum")? {
        None => whistle_geo::Datum::Wgs84,
        Some(v) => whistle_geo::Datum::parse(v)
            .ok_or_else(|| Open311Error::bad(format, format!("datum {v:?}: use wgs84 (GPS, the default) or gcj02")))?,
    };
    let point = domain::located(lat, lon, datum).map_err(|e| Open311Error::from_api(format, e))?;
    let placed = super::behalf::place(&registry, point).map_err(|e| match e {
        ApiError::InvalidField { message, .. } => Open311Error::bad(format, message),
        e => Open311Error::from_api(format, e),
    })?;
    if let Some(j) = &jurisdiction_id
        && *j != placed.body
        && *j != placed.located
    {
        return Err(Open311Error::bad(
            format,
            format!("the point ({lat}, {lon}) lies in district {}, not in jurisdiction_id {j}", placed.located),
        ));
    }
    let centre = placed.centre(&registry).map_err(|e| Open311Error::from_api(format, e))?;
    let (town, body_code) = (placed.town, placed.body);

    // What: the citizen's description, bounded and clean like a town's.
    let description = field("description")?
        .ok_or_else(|| Open311Error::bad(format, "description is required: say what the problem is"))?;
    let description = domain::text("description", description, domain::MAX_DESCRIPTION_CHARS, true)
        .map_err(|e| Open311Error::from_api(format, e))?;
    let address = field("address_string")?
        .map(|a| domain::text("address_string", a, domain::MAX_ADDRESS_CHARS, false))
        .transpose()
        .map_err(|e| Open311Error::from_api(format, e))?;
    let media_url = field("media_url")?.map(str::to_owned);
    if let Some(url) = &media_url
        && !domain::photo_url(url)
    {
        return Err(Open311Error::bad(format, "media_url must be an http(s) URL without spaces or control characters"));
    }
    let mut contact = Vec::new();
    let name = [field("first_name")?, field("last_name")?].into_iter().flatten().collect::<Vec<_>>().join(" ");
    for (label, value) in [("name", Some(name.as_str())), ("phone", field("phone")?), ("email", field("email")?)] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let field_name = match label {
                "name" => "first_name / last_name",
                "phone" => "phone",
                _ => "email",
            };
            let v =
                domain::text(field_name, v, MAX_CONTACT_CHARS, false).map_err(|e| Open311Error::from_api(format, e))?;
            contact.push(format!("{label}: {v}"));
        }
    }

    let now = Utc::now();
    let id = Uuid::now_v7();
    // The whistle's text: the citizen's words, then (for the department, who may call back) who
    // reported it through which client. Open311 readers get the citizen's words only.
    let mut whistle_text = format!("{description}\n\n[市民报告 Open311 · {client}]");
    if !contact.is_empty() {
        let _ = write!(whistle_text, " {}", contact.join("; "));
    }
    let whistle_text: String = whistle_text.chars().take(domain::MAX_DESCRIPTION_CHARS + 300).collect();
    let event = super::behalf::decide_raise(super::behalf::Behalf {
        id,
        now,
        town: town.as_ref().map(|t| t.code.clone()),
        body: body_code.clone(),
        item: item.code.clone(),
        description: whistle_text,
        location: Location {
            lat: point.lat,
            lon: point.lon,
            address: address.clone().unwrap_or_else(|| format!("{:.6}, {:.6}", point.lat, point.lon)),
        },
        photos: media_url.clone().into_iter().collect(),
        raised_by: Actor::person(ActorKind::Department, centre.to_string(), format!("open311:{client}"), "open311"),
        hotline: None,
    })
    .map_err(|e| Open311Error::from_api(format, e))?;
    let record = RequestRecord {
        id,
        client: client.clone(),
        service_code: item.code.to_string(),
        description,
        address,
        media_url,
        requested_at: now,
        datum: match datum {
            whistle_geo::Datum::Wgs84 => "wgs84".into(),
            whistle_geo::Datum::Gcj02 => "gcj02".into(),
        },
    };
    // The index first: a request Kafka then refuses is listed as nothing (its case never
    // appears), while a whistle without its index entry could not be found through Open311.
    state.store.index_open311(&record).await.map_err(|e| Open311Error::from_api(format, ApiError::store(e)))?;
    super::behalf::publish(&state, &event).await.map_err(|e| Open311Error::from_api(format, e))?;
    tracing::info!(whistle = %id, client = %client, item = %item.code, district = %body_code,
        town = town.as_ref().map_or("-", |t| t.code.as_str()), "open311 request raised");
    let notice = match &town {
        Some(t) => format!("已转{}（{}）处理 / routed to {}", t.names.zh, body_code, t.names.en),
        None => format!("已转{body_code}区指挥中心分派 / sent to district {body_code}'s command centre for triage"),
    };
    let mut m = Map::new();
    m.insert("service_request_id".into(), id.to_string().into());
    m.insert("service_notice".into(), notice.into());
    m.insert("account_id".into(), Value::Null);
    Ok(records(format, "service_requests", "request", vec![m], StatusCode::CREATED))
}

/// The spec's two statuses.
pub fn open311_status(status: Status) -> &'static str {
    match status {
        // A merged request is closed as a request; `whistle_status` says `merged` (its problem is
        // followed on the surviving whistle).
        Status::Resolved | Status::Rejected | Status::Closed | Status::Merged => "closed",
        Status::Raised
        | Status::Dispatched
        | Status::Acknowledged
        | Status::OnSite
        | Status::Registered
        | Status::Persuaded
        | Status::Investigated
        | Status::Notified
        | Status::Decided
        | Status::Served => "open",
    }
}

fn status_name(status: Status) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn request_record(
    record: &RequestRecord,
    case: Option<&whistle_case::Case>,
    registry: &Registry,
) -> Map<String, Value> {
    let item = ItemCode::parse(&record.service_code).ok().and_then(|c| registry.item(&c).cloned());
    let mut m = Map::new();
    m.insert("service_request_id".into(), record.id.to_string().into());
    let (status, whistle_status) = match case {
        Some(c) => (open311_status(c.status), status_name(c.status)),
        // Accepted, not yet projected: a raised whistle.
        None => ("open", "raised".to_owned()),
    };
    m.insert("status".into(), status.into());
    let notes = case.and_then(|c| match c.status {
        Status::Rejected | Status::Resolved => c.timeline.iter().rev().find_map(|t| t.detail.clone()),
        _ => None,
    });
    m.insert("status_notes".into(), notes.map_or(Value::Null, Value::from));
    m.insert("service_name".into(), item.as_ref().map_or(Value::Null, |i| i.names.zh.clone().into()));
    m.insert("service_code".into(), record.service_code.clone().into());
    m.insert("description".into(), record.description.clone().into());
    m.insert(
        "agency_responsible".into(),
        case.and_then(|c| c.department.as_ref()).map_or(Value::Null, |d| d.names.zh.clone().into()),
    );
    m.insert("service_notice".into(), Value::Null);
    m.insert("requested_datetime".into(), record.requested_at.to_rfc3339().into());
    m.insert("updated_datetime".into(), case.map_or(record.requested_at, |c| c.updated_at).to_rfc3339().into());
    m.insert(
        "expected_datetime".into(),
        case.and_then(|c| c.deadlines.as_ref()).and_then(|d| d.resolve).map_or(Value::Null, |d| d.to_rfc3339().into()),
    );
    m.insert("address".into(), record.address.clone().map_or(Value::Null, Value::from));
    m.insert("address_id".into(), Value::Null);
    m.insert("zipcode".into(), Value::Null);
    if let Some(c) = case {
        m.insert("lat".into(), c.location.lat.into());
        m.insert("long".into(), c.location.lon.into());
    }
    m.insert("media_url".into(), record.media_url.clone().map_or(Value::Null, Value::from));
    // Whistle's own, beyond the spec.
    m.insert("whistle_status".into(), whistle_status.into());
    if let Some(c) = case {
        m.insert("district".into(), c.district.clone().into());
        m.insert("town".into(), if c.town.is_empty() { Value::Null } else { c.town.clone().into() });
    }
    m
}

/// `GET /open311/v2/requests/{id}.{json,xml}`
pub async fn get_request(State(state): State<AppState>, Path(file): Path<String>, RawQuery(query): RawQuery) -> Answer {
    let (id, format) = split_format(&file)?;
    let pairs = query_pairs(query.as_deref(), format)?;
    let registry = state.registry.current();
    let jurisdiction_id = jurisdiction(&registry, one(&pairs, "jurisdiction_id", format)?, format)?;
    let not_found = || {
        Open311Error::new(
            StatusCode::NOT_FOUND,
            format,
            format!("no service request {}", id.chars().take(40).collect::<String>()),
        )
    };
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let found =
        state.store.open311_records(&[id]).await.map_err(|e| Open311Error::from_api(format, ApiError::store(e)))?;
    let record = found.into_iter().next().ok_or_else(not_found)?;
    let case = state.store.get(id).await.map_err(|e| Open311Error::from_api(format, ApiError::store(e)))?;
    if let (Some(j), Some(c)) = (&jurisdiction_id, &case)
        && c.district != j.as_str()
    {
        return Err(not_found());
    }
    Ok(records(
        format,
        "service_requests",
        "request",
        vec![request_record(&record, case.as_ref(), &registry)],
        StatusCode::OK,
    ))
}

fn date(pairs: &[(String, String)], name: &str, format: Format) -> Result<Option<DateTime<Utc>>, Open311Error> {
    one(pairs, name, format)?
        .map(|v| {
            DateTime::parse_from_rfc3339(v).map(|d| d.with_timezone(&Utc)).map_err(|_| {
                Open311Error::bad(format, format!("{name} {v:?}: use W3C date-time, e.g. 2026-01-01T00:00:00Z"))
            })
        })
        .transpose()
}

/// `GET /open311/v2/requests.{json,xml}`: by `service_request_id` (comma-separated, overrides
/// the rest), else by `service_code`, `status`, `start_date` / `end_date` (at most 90 days,
/// the last 90 by default) and `jurisdiction_id`; the newest [`MAX_LIST`].
pub async fn list_requests(State(state): State<AppState>, uri: Uri, RawQuery(query): RawQuery) -> Answer {
    let format = format_of(&uri);
    let pairs = query_pairs(query.as_deref(), format)?;
    let registry = state.registry.current();
    let jurisdiction_id = jurisdiction(&registry, one(&pairs, "jurisdiction_id", format)?, format)?;
    let store_err = |e: anyhow::Error| Open311Error::from_api(format, ApiError::store(e));
    let found = if let Some(ids) = one(&pairs, "service_request_id", format)? {
        let ids: Vec<&str> = ids.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if ids.len() > MAX_IDS {
            return Err(Open311Error::bad(format, format!("at most {MAX_IDS} service_request_id values at once")));
        }
        let ids: Vec<Uuid> = ids
            .iter()
            .map(|s| {
                Uuid::parse_str(s).map_err(|_| {
                    Open311Error::bad(format, format!("service_request_id {:?} is not an id this server gave", s))
                })
            })
            .collect::<Result<_, _>>()?;
        state.store.open311_records(&ids).await.map_err(store_err)?
    } else {
        let now = Utc::now();
        let start = date(&pairs, "start_date", format)?;
        let end = date(&pairs, "end_date", format)?;
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, (s + Duration::days(MAX_RANGE_DAYS)).min(now)),
            (None, Some(e)) => (e - Duration::days(MAX_RANGE_DAYS), e),
            (None, None) => (now - Duration::days(MAX_RANGE_DAYS), now),
        };
        if end < start {
            return Err(Open311Error::bad(format, "end_date is before start_date"));
        }
        if end - start > Duration::days(MAX_RANGE_DAYS) {
            return Err(Open311Error::bad(
                format,
                format!("start_date to end_date may span at most {MAX_RANGE_DAYS} days"),
            ));
        }
        let mut found = state.store.open311_between(start, end, MAX_LIST * 5).await.map_err(store_err)?;
        if let Some(codes) = one(&pairs, "service_code", format)? {
            let codes: Vec<&str> = codes.split(',').map(str::trim).collect();
            found.retain(|r| codes.contains(&r.service_code.as_str()));
        }
        found
    };
    let wanted_status = match one(&pairs, "status", format)? {
        None => None,
        Some(s) => {
            let statuses: Vec<&str> = s.split(',').map(str::trim).collect();
            if let Some(bad) = statuses.iter().find(|s| !["open", "closed"].contains(s)) {
                return Err(Open311Error::bad(format, format!("status {bad:?}: use open or closed")));
            }
            Some(statuses)
        }
    };
    let mut out = Vec::new();
    for record in found {
        if out.len() >= MAX_LIST {
            break;
        }
        let case = state.store.get(record.id).await.map_err(|e| store_err(e.into()))?;
        if let Some(j) = &jurisdiction_id
            && case.as_ref().is_none_or(|c| c.district != j.as_str())
        {
            continue;
        }
        let entry = request_record(&record, case.as_ref(), &registry);
        if let Some(statuses) = &wanted_status
            && !statuses.iter().any(|s| entry.get("status").and_then(Value::as_str) == Some(s))
        {
            continue;
        }
        out.push(entry);
    }
    Ok(records(format, "service_requests", "request", out, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_open_and_closed() {
        assert_eq!(open311_status(Status::Raised), "open");
        assert_eq!(open311_status(Status::OnSite), "open");
        assert_eq!(open311_status(Status::Resolved), "closed");
        assert_eq!(open311_status(Status::Rejected), "closed");
    }

    #[test]
    fn xml_repeats_the_singular_and_escapes() {
        let mut m = Map::new();
        m.insert("service_code".into(), "A&B".into());
        m.insert("attributes".into(), Value::Array(vec![]));
        let mut out = String::new();
        xml_element(&mut out, "service", &Value::Object(m));
        assert_eq!(out, "<service><attributes></attributes><service_code>A&amp;B</service_code></service>");
    }

    #[test]
    fn keys_files_are_pairs_and_refuse_short_keys() {
        let dir = std::env::temp_dir().join(format!("open311-keys-{}", Uuid::new_v4()));
        std::fs::write(&dir, "# clients\nrongcheng-app 0123456789abcdef0123\n\n").expect("write");
        let keys = Open311Keys::new(Open311Keys::read_file(&dir).expect("valid"));
        assert_eq!(keys.client("0123456789abcdef0123"), Some("rongcheng-app"));
        std::fs::write(&dir, "app short\n").expect("write");
        assert!(Open311Keys::read_file(&dir).is_err());
        let _ = std::fs::remove_file(&dir);
    }
}
