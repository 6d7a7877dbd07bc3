//! Assisted enforcement: item suggestion, the discretion benchmark for a case's facts, and the
//! enforcement actions (inspect, penalty) with their electronic fences.
//!
//! A fence that trips is published as its own `whistle.fenced` event after the action's event,
//! so it lands on the case timeline and on both boards. Inspection fences only warn; penalty
//! fences refuse (`422 override_reason_required`, the refusal itself recorded as `blocked`) until
//! the officer gives an `override_reason`, and then the override is recorded and flagged.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;
use whistle_assist::QueryError;
use whistle_assist::benchmark::{Facts, MatchError, Matched};
use whistle_assist::fence::{self, Warning};
use whistle_assist::index::MAX_LIMIT;
use whistle_auth::{CaseAction, Principal};
use whistle_case::{Case, Command, enforcing};
use whistle_registry::ItemCode;
use whistle_schemas::assist::{
    BenchmarkRequest, BenchmarkView, EnforcementAccepted, FenceWarning, InspectRequest, ItemSuggestion, PenaltyRequest,
    SubjectInput, SuggestResponse,
};
use whistle_schemas::events::{Actor, EnforcementSubject, FenceSeverity, Fenced, Inspected, Penalised};

use super::AppState;
use super::whistles::{Begun, begin, decided, publish};
use crate::domain::{self, MAX_REASON_CHARS};
use crate::error::ApiError;
use crate::extract::ApiJson;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    text: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/assist/suggest?text=TEXT[&limit=N]`
pub async fn suggest(
    State(state): State<AppState>,
    q: Result<Query<SuggestQuery>, QueryRejection>,
) -> Result<Json<SuggestResponse>, ApiError> {
    answer(&state, super::registry::query(q)?)
}

/// `POST /api/v1/assist/suggest` with `{"text": ..., "limit": N}`: the same, for text pasted from
/// notes that would not fit in a URL.
pub async fn suggest_body(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<SuggestQuery>,
) -> Result<Json<SuggestResponse>, ApiError> {
    answer(&state, q)
}

fn answer(state: &AppState, q: SuggestQuery) -> Result<Json<SuggestResponse>, ApiError> {
    let text = q.text.unwrap_or_default();
    let text = whistle_assist::validate_query(&text).map_err(|e| ApiError::InvalidField {
        field: "text",
        message: match e {
            QueryError::Empty => "describe the problem in a few words (Chinese or English)".to_owned(),
            other => other.to_string(),
        },
    })?;
    let limit = match q.limit {
        None => 5,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(_) => {
            return Err(ApiError::InvalidField { field: "limit", message: format!("must be 1 to {MAX_LIMIT}") });
        }
    };
    // Microseconds of CPU on a small index: no need to leave the async worker.
    let suggestions = state
        .assist
        .index
        .suggest(text, limit)
        .into_iter()
        .map(|s| ItemSuggestion { item: s.item.to_string(), score: s.score, names: s.names, matched: s.matched })
        .collect();
    Ok(Json(SuggestResponse { suggestions }))
}

fn parse_subject(input: &SubjectInput) -> Result<EnforcementSubject, ApiError> {
    domain::subject(input)
}

/// The look-back of a benchmark's repeat window; months are counted as 31 days, erring towards
/// treating an offence as a repeat.
fn months(n: u32) -> Duration {
    Duration::days(31 * i64::from(n))
}

fn benchmark_view(m: &Matched<'_>, prior_offences: u32) -> BenchmarkView {
    BenchmarkView {
        item: m.item.to_string(),
        kind: m.kind,
        tier: m.tier.tier.clone(),
        label: m.tier.label.clone(),
        action: m.range.action.as_str().to_owned(),
        fine_min_yuan: m.range.fine_yuan.min,
        fine_max_yuan: m.range.fine_yuan.max,
        statutory: m.statutory,
        statutory_illustrative: m.statutory_illustrative,
        repeat_within_months: m.repeat_within_months,
        prior_offences,
        persuade_first: m.persuade_first,
    }
}

/// Prior penalties for `item` against `subject` within the item's repeat window.
async fn prior_offences(
    state: &AppState,
    item: &ItemCode,
    subject: &EnforcementSubject,
    now: DateTime<Utc>,
    except: Uuid,
) -> Result<u32, ApiError> {
    let bench =
        state.assist.data.benchmarks.of(item).ok_or_else(|| no_benchmark(MatchError::NoBenchmark(item.to_string())))?;
    let since = now - months(bench.repeat_within_months);
    state.history.penalties_since(&subject.id, item.as_str(), since, except).await.map_err(unavailable)
}

/// The benchmark for `item`, matched for the subject's kind (see [`SubjectInput`]).
fn matching<'a>(
    state: &'a AppState,
    item: &ItemCode,
    subject: Option<&SubjectInput>,
    stated: Option<whistle_schemas::registry::SubjectKind>,
    facts: &Facts,
) -> Result<Matched<'a>, ApiError> {
    let benchmarks = &state.assist.data.benchmarks;
    let stated = subject.and_then(|s| s.kind).or(stated);
    let credit_code = subject.is_some_and(|s| s.credit_code.as_deref().is_some_and(|c| !c.trim().is_empty()));
    let kind = benchmarks.kind_of(item, stated, credit_code);
    benchmarks.matching(item, kind, facts).map_err(no_benchmark)
}

fn no_benchmark(err: MatchError) -> ApiError {
    match err {
        MatchError::NoBenchmark(_) => ApiError::UnknownItem(err.to_string()),
        MatchError::KindNotPunishable { .. } => {
            ApiError::InvalidField { field: "subject.kind", message: err.to_string() }
        }
    }
}

fn unavailable(err: anyhow::Error) -> ApiError {
    tracing::error!(error = ?err, "subject history unavailable");
    ApiError::Unavailable("subject history is unavailable; nothing was recorded, retry later".into())
}

/// `POST /api/v1/assist/benchmark`. Every role may look up an item's ranges; counting a
/// subject's prior offences reads its penalty history, which only enforcement officers
/// (departments and command centres) may.
pub async fn benchmark(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<BenchmarkRequest>,
) -> Result<Json<BenchmarkView>, ApiError> {
    if req.subject.is_some() && principal.acting_department().is_none() {
        return Err(ApiError::forbidden(format!(
            "a subject's penalty history is for enforcement officers; you are {principal}; ask without `subject`"
        )));
    }
    let item = ItemCode::parse(&req.item).map_err(|e| ApiError::UnknownItem(e.to_string()))?;
    let now = Utc::now();
    let prior = match &req.subject {
        Some(input) => prior_offences(&state, &item, &parse_subject(input)?, now, Uuid::nil()).await?,
        None => 0,
    };
    let facts = Facts {
        corrected_in_time: req.corrected_in_time,
        serious_consequences: req.serious_consequences,
        prior_offences: prior,
    };
    let m = matching(&state, &item, req.subject.as_ref(), req.kind, &facts)?;
    Ok(Json(benchmark_view(&m, prior)))
}

/// An enforcement action's start, as every action's ([`begin`]): authorized, then a retry
/// recognised (answered `202` again without a second event); else the case, checked to be in a
/// status where its department enforces, the event id and the acting officer.
async fn enforcing_case(
    state: &AppState,
    principal: &Principal,
    id: &str,
    headers: &HeaderMap,
    action: CaseAction,
    what: &str,
) -> Result<Result<(Case, Uuid, Actor), Response>, ApiError> {
    let (case, event_id, actor) = match begin(state, principal, id, headers, action).await? {
        Begun::Fresh { case, event_id, actor } => (case, event_id, actor),
        Begun::Replayed { id, event_id, status } => {
            return Ok(Err(accepted(EnforcementAccepted { id, event_id, status, warnings: vec![], benchmark: None })));
        }
    };
    if !enforcing(case.status) {
        return Err(ApiError::Conflict(format!(
            "cannot {what} on a whistle that is {}; acknowledge it first",
            case.status
        )));
    }
    Ok(Ok((*case, event_id, actor)))
}

/// Publishes one `whistle.fenced` event per warning; returns them as shown to the officer.
#[allow(clippy::too_many_arguments)]
pub(super) async fn publish_fences(
    state: &AppState,
    view: &Case,
    cause: Uuid,
    action: &str,
    actor: &Actor,
    subject: &EnforcementSubject,
    warnings: Vec<Warning>,
    severity: FenceSeverity,
    override_reason: Option<&str>,
) -> Result<Vec<FenceWarning>, ApiError> {
    let mut shown = Vec::new();
    for w in warnings {
        let id = Uuid::new_v5(&cause, format!("fenced\n{}", w.rule).as_bytes());
        let command = Command::Fence(Fenced {
            rule: w.rule.to_owned(),
            severity,
            message: w.message.clone(),
            action: action.to_owned(),
            actor: actor.clone(),
            flagged: severity == FenceSeverity::Overridden,
            subject: Some(subject.id.clone()),
            override_reason: override_reason.map(str::to_owned),
        });
        let (event, _) = decided(view, command, id)?;
        publish(state, &event).await?;
        tracing::warn!(whistle = %view.id, rule = w.rule, ?severity, subject = %subject.id, "fence tripped");
        shown.push(FenceWarning { rule: w.rule.to_owned(), severity, message: w.message });
    }
    Ok(shown)
}

fn accepted(body: EnforcementAccepted) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `POST /api/v1/whistles/{id}/inspect`
pub async fn inspect(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<InspectRequest>,
) -> Result<Response, ApiError> {
    let subject = parse_subject(&req.subject)?;
    let note = req.note.map(|n| domain::text("note", &n, MAX_REASON_CHARS, true)).transpose()?;
    let (view, event_id, actor) =
        match enforcing_case(&state, &principal, &id, &headers, CaseAction::Inspect, "record an inspection").await? {
            Ok(fresh) => fresh,
            Err(replayed) => return Ok(replayed),
        };
    let now = Utc::now();
    let rules = &state.assist.data.fences;
    let past =
        state.history.inspections_since(&subject.id, now - rules.inspection_window()).await.map_err(unavailable)?;
    let warnings = fence::check_inspection(rules, &actor.code, view.id, req.recheck, now, &past);

    let inspected = Command::Inspect(Inspected {
        actor: actor.clone(),
        subject: subject.clone(),
        persuaded: req.persuaded,
        recheck: req.recheck,
        note,
    });
    let (event, _) = decided(&view, inspected, event_id)?;
    publish(&state, &event).await?;
    let shown =
        publish_fences(&state, &view, event_id, "inspect", &actor, &subject, warnings, FenceSeverity::Warning, None)
            .await?;
    if let Err(err) = state
        .history
        .record_inspection(&subject.id, &actor.code, view.id, event_id, req.persuaded, req.recheck, now)
        .await
    {
        // Kafka has the inspection; only later fences for this subject miss it.
        tracing::error!(whistle = %view.id, subject = %subject.id, error = ?err, "inspection not added to subject history");
    }
    state.metrics.actions.with_label_values(&[event.type_name()]).inc();
    tracing::info!(whistle = %view.id, subject = %subject.id, department = %actor.code, "inspection recorded");
    Ok(accepted(EnforcementAccepted { id: view.id, event_id, status: view.status, warnings: shown, benchmark: None }))
}

/// `POST /api/v1/whistles/{id}/penalty`
pub async fn penalty(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PenaltyRequest>,
) -> Result<Response, ApiError> {
    let subject = parse_subject(&req.subject)?;
    domain::fine(req.amount_yuan)?;
    let override_reason =
        req.override_reason.map(|r| domain::text("override_reason", &r, MAX_REASON_CHARS, true)).transpose()?;
    let (view, event_id, actor) =
        match enforcing_case(&state, &principal, &id, &headers, CaseAction::Penalise, "record a penalty").await? {
            Ok(fresh) => fresh,
            Err(replayed) => return Ok(replayed),
        };
    let named = req.item.as_deref().unwrap_or(&view.item);
    let item = ItemCode::parse(named).map_err(|_| ApiError::UnknownItem(named.chars().take(32).collect()))?;
    // Only the department that holds the item in the case's town may penalise it: an assisting
    // department of a joint case names its own item. Never overridable; the attempt is recorded.
    if let Err(refused) = super::cases::holds_now(&state, &view.town, &item, &actor.code) {
        let warning = Warning { rule: fence::NOT_ITEM_HOLDER, message: refused.to_string() };
        publish_fences(
            &state,
            &view,
            Uuid::now_v7(),
            "penalty",
            &actor,
            &subject,
            vec![warning],
            FenceSeverity::Blocked,
            None,
        )
        .await?;
        return Err(refused);
    }
    let now = Utc::now();
    let prior = prior_offences(&state, &item, &subject, now, view.id).await?;
    let facts = Facts {
        corrected_in_time: req.corrected_in_time,
        serious_consequences: req.serious_consequences,
        prior_offences: prior,
    };
    let matched = matching(&state, &item, Some(&req.subject), None, &facts)?;
    let rules = &state.assist.data.fences;
    // Persuasion counts as recorded when the officer says so or when an inspection of this
    // subject in this case recorded it.
    let persuaded =
        req.persuasion_recorded || state.history.persuaded_in_case(&subject.id, view.id).await.map_err(unavailable)?;
    // Outside the law's range for the subject's kind: never overridable, as for a town's decision.
    if req.amount_yuan > 0 && !matched.statutory.allows_fine(req.amount_yuan) {
        let law = &matched.statutory;
        let message = format!(
            "a fine of {} yuan is outside the law's range for this party ({}–{} yuan); the statutory range is \
             never overridable / 罚款超出法定幅度",
            req.amount_yuan, law.min_yuan, law.max_yuan
        );
        let warning = Warning { rule: fence::OUTSIDE_STATUTORY_RANGE, message: message.clone() };
        publish_fences(
            &state,
            &view,
            Uuid::now_v7(),
            "penalty",
            &actor,
            &subject,
            vec![warning],
            FenceSeverity::Blocked,
            None,
        )
        .await?;
        return Err(ApiError::Refused(fence::OUTSIDE_STATUTORY_RANGE, message));
    }
    let warnings = fence::check_penalty(rules, &matched, req.amount_yuan, persuaded);
    let benchmark = benchmark_view(&matched, prior);

    if !warnings.is_empty() && override_reason.is_none() {
        // The refusal is recorded too: managers see attempts, not only overrides.
        let attempt = Uuid::now_v7();
        let message = warnings.iter().map(|w| w.message.as_str()).collect::<Vec<_>>().join("; ");
        publish_fences(&state, &view, attempt, "penalty", &actor, &subject, warnings, FenceSeverity::Blocked, None)
            .await?;
        return Err(ApiError::FenceBlocked(format!("{message}. Send override_reason to proceed.")));
    }

    let (event, _) = decided(
        &view,
        Command::Penalise(Penalised {
            actor: actor.clone(),
            subject: subject.clone(),
            item: item.to_string(),
            amount_yuan: req.amount_yuan,
            tier: matched.tier.tier.clone(),
            range_min_yuan: matched.range.fine_yuan.min,
            range_max_yuan: matched.range.fine_yuan.max,
            override_reason: override_reason.clone().filter(|_| !warnings.is_empty()),
        }),
        event_id,
    )?;
    publish(&state, &event).await?;
    let shown = publish_fences(
        &state,
        &view,
        event_id,
        "penalty",
        &actor,
        &subject,
        warnings,
        FenceSeverity::Overridden,
        override_reason.as_deref(),
    )
    .await?;
    if let Err(err) =
        state.history.record_penalty(&subject.id, item.as_str(), req.amount_yuan, view.id, event_id, now).await
    {
        tracing::error!(whistle = %view.id, subject = %subject.id, error = ?err, "penalty not added to subject history");
    }
    state.metrics.actions.with_label_values(&[event.type_name()]).inc();
    tracing::info!(whistle = %view.id, subject = %subject.id, tier = %matched.tier.tier, amount = req.amount_yuan, "penalty recorded");
    Ok(accepted(EnforcementAccepted {
        id: view.id,
        event_id,
        status: view.status,
        warnings: shown,
        benchmark: Some(benchmark),
    }))
}
