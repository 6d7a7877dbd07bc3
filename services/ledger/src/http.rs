//! The ledger's HTTP API: `GET /api/v1/whistles`, `/api/v1/cases`, the exports, the monthly
//! report, the outcome figures and the charts' overview. Every answer is limited to the caller's
//! scope ([`Scope::of`]) and every case is shown as the caller may see it
//! (`Principal::case_visibility`).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use whistle_auth::Principal;
use whistle_case::visibility;
use whistle_schemas::api::{ErrorBody, FiguresReport, LedgerPage, Overview, WhistleView};

use crate::export;
use crate::figures::{self, FiguresError};
use crate::metrics::Metrics;
use crate::overview::{self, OverviewParams};
use crate::query::{InvalidParam, ListParams, ListQuery, Scope, encode_cursor};
use crate::record::WHISTLE_KIND;
use crate::report;
use crate::store::LedgerStore;

#[derive(Clone)]
pub struct HttpState {
    pub store: LedgerStore,
    pub metrics: Metrics,
    /// District names for report titles.
    pub districts: Arc<report::DistrictNames>,
    /// The outcome figures' repeat window (the inspection fence's), in days.
    pub repeat_window_days: u32,
}

/// Every error answer of the ledger's endpoints.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedQuery(String),
    #[error(transparent)]
    InvalidQuery(#[from] InvalidParam),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but not answerable as asked (a period the wrong way round, too long, too big).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::MalformedQuery(m) => (StatusCode::BAD_REQUEST, "malformed_query", m.clone()),
            ApiError::InvalidQuery(e) => (StatusCode::BAD_REQUEST, "invalid_query", e.to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::Unprocessable { code, message } => (StatusCode::UNPROCESSABLE_ENTITY, *code, message.clone()),
            ApiError::Unexpected(err) => {
                tracing::error!(error = %format_args!("{err:#}"), "ledger query failed");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the ledger is unavailable; retry shortly".to_owned())
            }
        };
        let mut response = (status, Json(ErrorBody::new(code, message))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        response
    }
}

pub(crate) fn params<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| ApiError::MalformedQuery(e.body_text()))
}

pub(crate) fn scope(principal: &Principal) -> Result<Scope, ApiError> {
    Scope::of(principal)
        .ok_or_else(|| ApiError::Forbidden(format!("the ledger is for accounts that read cases; you are {principal}")))
}

/// A stored view as `principal` may see it.
pub(crate) fn shown(principal: &Principal, view: WhistleView) -> WhistleView {
    visibility::view(view, principal.case_visibility())
}

async fn list(state: HttpState, principal: Principal, query: ListQuery) -> Result<Json<LedgerPage>, ApiError> {
    let scope = scope(&principal)?;
    let started = std::time::Instant::now();
    let (rows, more) = state.store.page(&scope, &query.filter, query.sort, query.after, query.limit).await?;
    state.metrics.query_seconds.with_label_values(&["list"]).observe(started.elapsed().as_secs_f64());
    let next_cursor = more.then(|| rows.last()).flatten().map(|last| {
        let at = match query.sort {
            crate::query::Sort::RaisedDesc | crate::query::Sort::RaisedAsc => last.raised_at,
            crate::query::Sort::UpdatedDesc | crate::query::Sort::UpdatedAsc => last.updated_at,
        };
        encode_cursor(query.sort, at, last.id)
    });
    let items = rows.into_iter().map(|row| shown(&principal, row.view)).collect();
    Ok(Json(LedgerPage { items, next_cursor }))
}

/// `GET /api/v1/whistles`
pub async fn whistles(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<LedgerPage>, ApiError> {
    let query = params(q)?.parse(Some(WHISTLE_KIND))?;
    list(state, principal, query).await
}

/// `GET /api/v1/cases`
pub async fn cases(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<LedgerPage>, ApiError> {
    let query = params(q)?.parse(None)?;
    list(state, principal, query).await
}

fn export_query(q: Result<Query<ListParams>, QueryRejection>) -> Result<ListQuery, ApiError> {
    let params = params(q)?;
    if params.cursor.is_some() || params.limit.is_some() {
        return Err(ApiError::InvalidQuery(InvalidParam {
            param: if params.cursor.is_some() { "cursor" } else { "limit" },
            message: "an export has every matching case: no paging".into(),
        }));
    }
    Ok(params.parse(Some(WHISTLE_KIND))?)
}

/// `GET /api/v1/whistles/export.csv`
pub async fn export_csv(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = export_query(q)?;
    let scope = scope(&principal)?;
    state.metrics.exports.with_label_values(&["csv"]).inc();
    let body = Body::from_stream(export::csv_stream(state.store.clone(), principal, scope, query));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"whistles.csv\""),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/whistles/export.xlsx`
pub async fn export_xlsx(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = export_query(q)?;
    let scope = scope(&principal)?;
    state.metrics.exports.with_label_values(&["xlsx"]).inc();
    // A workbook is complete only once its last row is written (its zip directory comes last),
    // and a year of a city's cases takes longer than the request timeout, which runs until the
    // status line: so the status line goes at once, and the body follows when the workbook is
    // done (the proxy allows exports 600 s between reads). A failure after that is a cut
    // answer, logged, as for the CSV.
    let store = state.store.clone();
    let workbook = async move {
        match export::xlsx_file(store, principal, scope, query).await {
            Ok(file) => Ok(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file))),
            Err(err) => {
                tracing::error!(error = %format_args!("{err:#}"), "XLSX export failed");
                Err(std::io::Error::other("the export failed"))
            }
        }
    };
    let body = Body::from_stream(futures::TryStreamExt::try_flatten(futures::stream::once(workbook)));
    Ok((
        [
            (header::CONTENT_TYPE, export::XLSX_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"whistles.xlsx\"".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// Streams a finished workbook file (already unlinked: it disappears when the answer ends).
pub(crate) async fn xlsx_response(file: std::fs::File, name: &str) -> anyhow::Result<Response> {
    let len = file.metadata()?.len();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok((
        [
            (header::CONTENT_TYPE, export::XLSX_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    pub district: Option<String>,
    pub month: Option<String>,
    pub format: Option<String>,
}

/// `GET /api/v1/reports/monthly?district=CODE&month=YYYY-MM[&format=xlsx]`
pub async fn monthly(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = params(q)?;
    let invalid = |param, message: &str| ApiError::InvalidQuery(InvalidParam { param, message: message.into() });
    let district = q.district.as_deref().ok_or_else(|| invalid("district", "is required (a 6-digit code)"))?;
    if district.len() != 6 || !district.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("district", "must be a 6-digit district code"));
    }
    let month = q.month.as_deref().ok_or_else(|| invalid("month", "is required (YYYY-MM)"))?;
    let month = report::Month::parse(month).ok_or_else(|| invalid("month", "must be YYYY-MM"))?;
    let xlsx = match q.format.as_deref() {
        None | Some("json") => false,
        Some("xlsx") => true,
        Some(_) => return Err(invalid("format", "must be json or xlsx")),
    };
    let names = state.districts.get(district);
    if names.is_none() && !state.districts.is_empty() {
        return Err(ApiError::NotFound(format!("unknown district {district}")));
    }
    if principal.sla_scope(Some(district)).is_err() {
        return Err(ApiError::Forbidden(format!(
            "reports are for managers and command centres of their scope; you are {principal}"
        )));
    }
    let started = std::time::Instant::now();
    let report = report::monthly(&state.store, district, names, month).await?;
    state.metrics.query_seconds.with_label_values(&["report"]).observe(started.elapsed().as_secs_f64());
    if xlsx {
        let file = tokio::task::spawn_blocking(move || report::xlsx(&report))
            .await
            .map_err(|e| anyhow::anyhow!("report workbook task: {e}"))??;
        let name = format!("report-{district}-{month}.xlsx");
        return Ok(xlsx_response(file, &name).await?);
    }
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiguresParams {
    pub district: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Where the figures are defined, as every answer says.
pub const FIGURES_DEFINITIONS: &str = "docs/figures.md#definitions";

/// `GET /api/v1/figures?district=CODE&from=&to=`
pub async fn outcome_figures(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<FiguresParams>, QueryRejection>,
) -> Result<Json<FiguresReport>, ApiError> {
    let q = params(q)?;
    let invalid = |param, message: &str| ApiError::InvalidQuery(InvalidParam { param, message: message.into() });
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let district = nonempty(&q.district);
    if let Some(d) = &district
        && (d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("district", "must be a 6-digit district code"));
    }
    let from = nonempty(&q.from).map(|v| crate::query::time("from", &v)).transpose()?;
    let to = nonempty(&q.to).map(|v| crate::query::time("to", &v)).transpose()?;
    let default = chrono::Duration::days(figures::DEFAULT_PERIOD_DAYS);
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, chrono::Utc::now()),
        (None, Some(to)) => (to - default, to),
        (None, None) => {
            let now = chrono::Utc::now();
            (now - default, now)
        }
    };
    let period = |message: String| ApiError::Unprocessable { code: "invalid_period", message };
    if to <= from {
        return Err(period(format!("to ({}) must be after from ({})", to.to_rfc3339(), from.to_rfc3339())));
    }
    if to - from > chrono::Duration::days(figures::MAX_PERIOD_DAYS) {
        return Err(period(format!("a period is at most {} days; ask for a shorter one", figures::MAX_PERIOD_DAYS)));
    }
    let district = principal
        .figures_scope(district.as_deref())
        .map_err(|reason| ApiError::Forbidden(format!("{reason}; you are {principal}")))?;
    if let Some(d) = district
        && !state.districts.is_empty()
        && state.districts.get(d).is_none()
    {
        return Err(ApiError::NotFound(format!("unknown district {d}")));
    }
    let started = std::time::Instant::now();
    let window = chrono::Duration::days(state.repeat_window_days.into());
    let counted = figures::compute(&state.store, district, from, to, window).await.map_err(|e| match e {
        FiguresError::TooManyCases { .. } => {
            ApiError::Unprocessable { code: "period_too_large", message: e.to_string() }
        }
        FiguresError::Unexpected(e) => ApiError::Unexpected(e),
    })?;
    state.metrics.query_seconds.with_label_values(&["figures"]).observe(started.elapsed().as_secs_f64());
    Ok(Json(FiguresReport {
        from,
        to,
        district: district.map(str::to_owned),
        repeat_window_days: state.repeat_window_days,
        figures: (&counted).into(),
        definitions: FIGURES_DEFINITIONS.to_owned(),
    }))
}

/// `GET /api/v1/reports/overview?district=&from=&to=`: every account that reads the ledger, over
/// its own scope (a district it does not see answers zeros, as the list answers no rows).
pub async fn overview(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<OverviewParams>, QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    let period = params(q)?.parse(chrono::Utc::now())?;
    let scope = scope(&principal)?;
    let started = std::time::Instant::now();
    let answer = overview::overview(&state.store, &scope, period).await?;
    state.metrics.query_seconds.with_label_values(&["overview"]).observe(started.elapsed().as_secs_f64());
    Ok(Json(answer))
}
