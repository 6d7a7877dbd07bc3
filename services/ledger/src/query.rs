//! The list's query string, parsed at the edge into a [`Filter`], a [`Sort`] and a page
//! position, and the caller's [`Scope`] from its principal. Every refusal names the parameter.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone as _, Utc};
use serde::Deserialize;
use uuid::Uuid;
use whistle_auth::{Principal, Role};
use whistle_schemas::Status;

/// Rows one page answers by default, and at most.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// Longest free-text query, in characters.
pub const MAX_Q_CHARS: usize = 100;

/// The query string of `GET /api/v1/whistles`, `/api/v1/cases` and their exports, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub district: Option<String>,
    pub town: Option<String>,
    pub department: Option<String>,
    pub item: Option<String>,
    pub authority: Option<String>,
    pub overdue: Option<String>,
    pub breached: Option<String>,
    pub reopened: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub resolved_from: Option<String>,
    pub resolved_to: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Which cases match.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filter {
    /// Any of these (none: every status).
    pub statuses: Vec<Status>,
    pub kind: Option<String>,
    pub district: Option<String>,
    pub town: Option<String>,
    pub department: Option<String>,
    pub item: Option<String>,
    pub authority: Option<String>,
    pub overdue: Option<bool>,
    pub breached: Option<bool>,
    pub reopened: Option<bool>,
    /// Raised at or after.
    pub from: Option<DateTime<Utc>>,
    /// Raised before.
    pub to: Option<DateTime<Utc>>,
    pub resolved_from: Option<DateTime<Utc>>,
    pub resolved_to: Option<DateTime<Utc>>,
    /// Substring of the description or the address.
    pub q: Option<String>,
}

/// The order of a list; each is a keyset over (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest raised first (the default).
    #[default]
    RaisedDesc,
    RaisedAsc,
    /// Most recently changed first. A case that changes while a client pages moves: use the
    /// raise order to page without gaps or repeats.
    UpdatedDesc,
    UpdatedAsc,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "-raised_at" => Sort::RaisedDesc,
            "raised_at" => Sort::RaisedAsc,
            "-updated_at" => Sort::UpdatedDesc,
            "updated_at" => Sort::UpdatedAsc,
            _ => return None,
        })
    }

    /// The time column of the order.
    pub fn column(self) -> &'static str {
        match self {
            Sort::RaisedDesc | Sort::RaisedAsc => "raised_at",
            Sort::UpdatedDesc | Sort::UpdatedAsc => "updated_at",
        }
    }

    /// `ORDER BY` of the keyset.
    pub fn order(self) -> &'static str {
        match self {
            Sort::RaisedDesc => "raised_at DESC, id DESC",
            Sort::RaisedAsc => "raised_at ASC, id ASC",
            Sort::UpdatedDesc => "updated_at DESC, id DESC",
            Sort::UpdatedAsc => "updated_at ASC, id ASC",
        }
    }

    /// The comparison that puts a row after the cursor.
    pub fn after(self) -> &'static str {
        match self {
            Sort::RaisedDesc | Sort::UpdatedDesc => "<",
            Sort::RaisedAsc | Sort::UpdatedAsc => ">",
        }
    }

    fn tag(self) -> char {
        match self {
            Sort::RaisedDesc => 'r',
            Sort::RaisedAsc => 'R',
            Sort::UpdatedDesc => 'u',
            Sort::UpdatedAsc => 'U',
        }
    }
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Filter,
    pub sort: Sort,
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// A parameter that is not valid: `400 invalid_query` naming it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct InvalidParam {
    pub param: &'static str,
    pub message: String,
}

fn invalid(param: &'static str, message: impl Into<String>) -> InvalidParam {
    InvalidParam { param, message: message.into() }
}

/// China Standard Time: a bare date in `from`/`to` is a day in Chongqing.
pub fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// A time parameter: RFC 3339, or a date (its midnight, China time).
pub(crate) fn time(param: &'static str, value: &str) -> Result<DateTime<Utc>, InvalidParam> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(t) = cst().from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).single()
    {
        return Ok(t.with_timezone(&Utc));
    }
    Err(invalid(param, "must be an RFC 3339 time (2026-03-01T08:00:00+08:00) or a date (2026-03-01, China time)"))
}

fn flag(param: &'static str, value: &str) -> Result<bool, InvalidParam> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(param, "must be true or false")),
    }
}

/// A code-like value (district, town, department, item, kind, authority): short, no spaces.
fn code(param: &'static str, value: &str) -> Result<String, InvalidParam> {
    let ok = (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(value.to_owned()) } else { Err(invalid(param, "must be a code of letters, digits, '-', '_' or '.'")) }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListParams {
    /// Parses the query; `kind` is the list's own kind (`whistle` for `/api/v1/whistles`), or
    /// `None` for `/api/v1/cases`, where `kind` is a filter.
    pub fn parse(&self, kind: Option<&str>) -> Result<ListQuery, InvalidParam> {
        let mut filter = Filter::default();
        if let Some(statuses) = nonempty(&self.status) {
            for s in statuses.split(',') {
                let status = Status::ALL.into_iter().find(|st| st.as_str() == s.trim()).ok_or_else(|| {
                    let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                    invalid("status", format!("{s:?} is not one of {}", names.join(", ")))
                })?;
                filter.statuses.push(status);
            }
        }
        filter.kind = match (kind, nonempty(&self.kind)) {
            (Some(own), None) => Some(own.to_owned()),
            (Some(_), Some(_)) => return Err(invalid("kind", "this list has one kind; use /api/v1/cases")),
            (None, asked) => asked.map(|k| code("kind", k)).transpose()?,
        };
        if let Some(d) = nonempty(&self.district) {
            if d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("district", "must be a 6-digit district code"));
            }
            filter.district = Some(d.to_owned());
        }
        filter.town = nonempty(&self.town).map(|v| code("town", v)).transpose()?;
        filter.department = nonempty(&self.department).map(|v| code("department", v)).transpose()?;
        filter.item = nonempty(&self.item).map(|v| code("item", v)).transpose()?;
        filter.authority = nonempty(&self.authority).map(|v| code("authority", v)).transpose()?;
        filter.overdue = nonempty(&self.overdue).map(|v| flag("overdue", v)).transpose()?;
        filter.breached = nonempty(&self.breached).map(|v| flag("breached", v)).transpose()?;
        filter.reopened = nonempty(&self.reopened).map(|v| flag("reopened", v)).transpose()?;
        filter.from = nonempty(&self.from).map(|v| time("from", v)).transpose()?;
        filter.to = nonempty(&self.to).map(|v| time("to", v)).transpose()?;
        filter.resolved_from = nonempty(&self.resolved_from).map(|v| time("resolved_from", v)).transpose()?;
        filter.resolved_to = nonempty(&self.resolved_to).map(|v| time("resolved_to", v)).transpose()?;
        if let Some(q) = nonempty(&self.q) {
            if q.chars().count() > MAX_Q_CHARS {
                return Err(invalid("q", format!("at most {MAX_Q_CHARS} characters")));
            }
            filter.q = Some(q.to_owned());
        }
        let sort = match nonempty(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(s)
                .ok_or_else(|| invalid("sort", "must be one of -raised_at, raised_at, -updated_at, updated_at"))?,
        };
        let limit = match nonempty(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| invalid("limit", format!("must be between 1 and {MAX_LIMIT}")))?,
        };
        let after = nonempty(&self.cursor).map(|c| decode_cursor(c, sort)).transpose()?;
        Ok(ListQuery { filter, sort, limit, after })
    }
}

/// The position after a row, for the next page: opaque to clients.
pub fn encode_cursor(sort: Sort, at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}{}.{}", sort.tag(), at.timestamp_micros(), id.simple())
}

fn decode_cursor(cursor: &str, sort: Sort) -> Result<(DateTime<Utc>, Uuid), InvalidParam> {
    let bad = || invalid("cursor", "is not a cursor this list gave (with the same sort)");
    let rest = cursor.strip_prefix(sort.tag()).ok_or_else(bad)?;
    let (micros, id) = rest.split_once('.').ok_or_else(bad)?;
    let at = micros.parse::<i64>().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(bad)?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    Ok((at, id))
}

/// Which cases a caller may list: the same as it may read one by one
/// (`Principal::can_read`), as a condition on the ledger's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    City,
    District(String),
    Town(String),
    /// Owned by the department, or assisted by it.
    Department(String),
}

impl Scope {
    /// `None` for accounts that read no cases (the registry administrator).
    pub fn of(principal: &Principal) -> Option<Scope> {
        match &principal.role {
            Role::Town { town, .. } => Some(Scope::Town(town.clone())),
            Role::Department { department, .. } => Some(Scope::Department(department.clone())),
            Role::CommandCentre { district } => Some(Scope::District(district.clone())),
            Role::Manager { district: Some(district) } | Role::Supervisor { district: Some(district) } => {
                Some(Scope::District(district.clone()))
            }
            Role::Manager { district: None } | Role::Supervisor { district: None } => Some(Scope::City),
            Role::Admin => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let query: String = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        serde_urlencoded_like(&query)
    }

    // The handlers parse with axum's `Query`; here a tiny equivalent for plain values.
    fn serde_urlencoded_like(query: &str) -> ListParams {
        let map: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), serde_json::Value::String(v.to_owned()))
            })
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).unwrap()
    }

    #[test]
    fn filters_parse_and_bad_ones_name_their_parameter() {
        let q = params(&[("status", "dispatched,on_site"), ("district", "500103"), ("overdue", "true")])
            .parse(Some("whistle"))
            .unwrap();
        assert_eq!(q.filter.statuses, vec![Status::Dispatched, Status::OnSite]);
        assert_eq!(q.filter.kind.as_deref(), Some("whistle"));
        assert_eq!((q.filter.overdue, q.limit, q.sort), (Some(true), DEFAULT_LIMIT, Sort::RaisedDesc));
        for (param, value) in [
            ("status", "open"),
            ("district", "5001"),
            ("overdue", "yes"),
            ("limit", "0"),
            ("from", "yesterday"),
            ("sort", "town"),
            ("cursor", "x"),
            ("town", "a b"),
        ] {
            let err = params(&[(param, value)]).parse(None).unwrap_err();
            assert_eq!(err.param, param, "{value}");
        }
        assert_eq!(params(&[("kind", "whistle")]).parse(Some("whistle")).unwrap_err().param, "kind");
    }

    #[test]
    fn a_date_is_a_day_in_china_and_a_cursor_round_trips_only_with_its_sort() {
        let q = params(&[("from", "2026-03-01")]).parse(None).unwrap();
        assert_eq!(q.filter.from.unwrap().to_rfc3339(), "2026-02-28T16:00:00+00:00");
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = Uuid::from_u128(42);
        let cursor = encode_cursor(Sort::RaisedDesc, at, id);
        assert_eq!(decode_cursor(&cursor, Sort::RaisedDesc).unwrap(), (at, id));
        assert!(decode_cursor(&cursor, Sort::RaisedAsc).is_err());
    }
}
