//! A town's own enforcement cases (`/api/v1/cases`) and their administrative penalty procedure;
//! closing the loop on whistles (confirm, reopen, comments); the supervisors' review queue.
//!
//! The rules (which step from which status, the statutory range, the benchmark tier, the two
//! officers) are the case crate's (`whistle_case::procedure`); this module parses requests,
//! looks up what the rules need (the item's statutory range, the benchmark tier for the facts),
//! and publishes.

use anyhow::Context as _;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use uuid::Uuid;
use whistle_assist::benchmark::{Facts, MatchError};
use whistle_assist::fence;
use whistle_auth::{CaseAction, Principal, Role};
use whistle_case::procedure::{TimeLimit, time_limit};
use whistle_case::{Case, Command, Ctx, decide};
use whistle_registry::{ItemCode, Route, TownCode, route};
use whistle_schemas::Status;
use whistle_schemas::api::{
    CaseAccepted, CaseKind, CaseView, CommentRequest, ConfirmRequest, DecideRequest, InvestigateRequest, NotifyRequest,
    OpenCaseRequest, PersuadeRequest, RaiseWhistleRequest, ReopenRequest, ReviewRequest, StepNote, SupervisionItem,
    SupervisionQueue,
};
use whistle_schemas::assist::SubjectInput;
use whistle_schemas::events::{
    Actor, ActorKind, BenchmarkApplied, CaseParty, Commented, Confirmed, Decided, DecisionOutcome, EnforcementSubject,
    FenceSeverity, Investigated, Notified, Persuaded, Registered, Reopened, Reviewed,
};
use whistle_schemas::registry::{StatutoryRange, SubjectKind};

use super::AppState;
use super::whistles::{
    Begun, SOURCE, act, act_with, action_accepted, authorize, begin, decided, idempotency_key, load, optional_json,
    publish, record,
};
use crate::domain::{self, MAX_DESCRIPTION_CHARS, MAX_REASON_CHARS, NewWhistle};
use crate::error::ApiError;
use crate::extract::ApiJson;

/// Namespace for case ids derived from idempotency keys.
const CASE_NAMESPACE: Uuid = Uuid::from_u128(0x7d2c_41aa_9b0e_4f3c_8e11_5a6b_c0de_2b17);
pub const MAX_NAME_CHARS: usize = 100;
/// Most officers named in one investigation.
pub const MAX_OFFICERS: usize = 6;
/// Most items the supervision queue lists in one answer.
pub const QUEUE_LIMIT: usize = 200;

/// Who an enforcement case is opened for: a town's team for its town, or a department for the
/// town of a whistle it owns.
enum Opener {
    Town,
    Department(String),
}

/// `POST /api/v1/cases`: a town opens its own enforcement case for an item it holds; a department
/// opens one from a whistle it owns (`from_whistle`), for an item it holds in that town.
pub async fn open(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OpenCaseRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let fingerprint = serde_json::to_string(&req).map_err(anyhow::Error::from)?;
    let (opener, town) = match &principal.role {
        Role::Town { town: own_town, .. } => (Opener::Town, req.town.clone().unwrap_or_else(|| own_town.clone())),
        Role::Department { department, .. } => {
            let Some(from) = req.from_whistle else {
                return Err(ApiError::forbidden(format!(
                    "a department opens an enforcement case from a whistle it owns (give from_whistle); a town's \
                     own cases are its team's; you are {principal}"
                )));
            };
            let whistle = load(&state, &from.to_string()).await?;
            let owns =
                whistle.kind == CaseKind::Whistle && whistle.department.as_ref().is_some_and(|d| &d.code == department);
            if !owns {
                return Err(ApiError::InvalidField {
                    field: "from_whistle",
                    message: format!("{from} is not a whistle your department {department} owns"),
                });
            }
            if !matches!(whistle.status, Status::Acknowledged | Status::OnSite | Status::Resolved) {
                return Err(whistle_case::Refusal::InvalidTransition {
                    action: "open an enforcement case from",
                    status: whistle.status,
                }
                .into());
            }
            if req.town.as_deref().is_some_and(|t| t != whistle.town) {
                return Err(ApiError::InvalidField {
                    field: "town",
                    message: format!("the case is in the whistle's town {}", whistle.town),
                });
            }
            (Opener::Department(department.clone()), whistle.town.clone())
        }
        _ => {
            return Err(ApiError::forbidden(format!(
                "enforcement cases are opened by a town's own team, or by a department from a whistle it owns; \
                 you are {principal}"
            )));
        }
    };
    // The same checks as a raise for the fields they share.
    let parsed = NewWhistle::parse(RaiseWhistleRequest {
        town,
        item: req.item.clone(),
        description: req.description.clone(),
        location: req.location.clone(),
        photos: Vec::new(),
        attachments: Vec::new(),
        support: false,
        assist: Vec::new(),
        datum: req.datum.clone(),
    })?;
    if matches!(opener, Opener::Town) && !principal.can_open_case_for(parsed.town.as_str()) {
        return Err(ApiError::forbidden(format!(
            "only town {}'s own team may open its cases; you are {principal}",
            parsed.town
        )));
    }
    let party = party(&req.subject)?;
    // A unit's history is kept under its credit code; an individual's under the place.
    let subject = domain::subject(&SubjectInput {
        kind: Some(party.kind),
        credit_code: party.credit_code.clone(),
        address: (party.kind == SubjectKind::Individual).then(|| parsed.location.address.clone()),
    })
    .map_err(|e| match e {
        ApiError::InvalidField { message, .. } if party.kind == SubjectKind::Individual => ApiError::InvalidField {
            field: "location.address",
            message: format!("an individual's history is kept by the place: {message} (give the street and number)"),
        },
        other => other,
    })?;
    let attachments = super::attachments::referenced(&state, &principal, &req.attachments).await?;
    let now = Utc::now();
    let registry = state.registry.current();
    if let Some(def) = registry.item(&parsed.item)
        && !def.subject_kinds.is_empty()
        && !def.subject_kinds.contains(&party.kind)
    {
        let kinds: Vec<&str> = def.subject_kinds.iter().map(|k| k.as_str()).collect();
        return Err(ApiError::InvalidField {
            field: "subject.kind",
            message: format!(
                "{} is committed by {} only, not by a party of kind {}",
                parsed.item,
                kinds.join(" or "),
                party.kind.as_str()
            ),
        });
    }
    let town = registry.town(&parsed.town).ok_or_else(|| ApiError::UnknownTown(parsed.town.to_string()))?;
    let route = route(&registry, &parsed.town, &parsed.item, now).map_err(super::registry::route_error)?;
    let department = match (&opener, route) {
        (Opener::Town, Route::Town { .. }) => None,
        (Opener::Town, Route::Department { department, .. }) => {
            return Err(ApiError::TownLacksAuthority(format!(
                "town {} does not hold {}: {} ({}) does; raise a whistle to it instead / 该事项由{}行使，请吹哨",
                parsed.town, parsed.item, department.names.en, department.code, department.names.zh
            )));
        }
        (Opener::Town, Route::Triage { .. }) => {
            return Err(ApiError::TownLacksAuthority(format!(
                "nobody holds {} in this district now; raise a whistle and the command centre will triage it",
                parsed.item
            )));
        }
        (Opener::Department(own), Route::Department { department, .. }) if department.code.as_str() == own => {
            Some(whistle_schemas::events::DepartmentRef {
                code: department.code.to_string(),
                names: department.names.clone(),
            })
        }
        (Opener::Department(own), other) => {
            return Err(not_holder(own, parsed.item.as_str(), parsed.town.as_str(), &other));
        }
    };
    if let (Opener::Town, Some(from)) = (&opener, req.from_whistle) {
        let whistle = load(&state, &from.to_string()).await?;
        if whistle.town != parsed.town.as_str() || whistle.kind != CaseKind::Whistle {
            return Err(ApiError::InvalidField {
                field: "from_whistle",
                message: format!("{from} is not a whistle of town {}", parsed.town),
            });
        }
    }

    let id = match &key {
        Some(key) => {
            let seed = format!("case\n{}\n{}\n{key}", parsed.town, principal.user);
            let id = Uuid::new_v5(&CASE_NAMESPACE, seed.as_bytes());
            match state.store.claim_idempotency(&format!("case:{id}"), &fingerprint).await.map_err(ApiError::store)? {
                whistle_casestore::store::Claim::Different => return Err(ApiError::IdempotencyKeyReused),
                whistle_casestore::store::Claim::Same => {
                    if state.store.get(id).await.map_err(ApiError::store)?.is_some() {
                        return Ok(case_accepted(id));
                    }
                }
                whistle_casestore::store::Claim::New => {}
            }
            id
        }
        None => Uuid::now_v7(),
    };
    super::attachments::reference(&state, id, &attachments).await?;
    let register = Command::Register(Registered {
        town: parsed.town.to_string(),
        district: town.body().to_string(),
        item: parsed.item.to_string(),
        description: parsed.description,
        location: parsed.location,
        party,
        subject,
        attachments: super::attachments::as_strings(&attachments),
        registered_by: match &department {
            Some(d) => Actor::person(ActorKind::Department, d.code.clone(), &principal.user, principal.role.name()),
            None => Actor::person(ActorKind::Town, parsed.town.to_string(), &principal.user, principal.role.name()),
        },
        from_whistle: req.from_whistle,
        department,
    });
    let ctx = Ctx {
        event_id: Uuid::new_v5(&id, b"case.registered"),
        subject: id,
        now,
        source: SOURCE,
        limits: Default::default(),
    };
    let event = decide(None, register, &ctx)?.into_iter().next().context("a registration decides one event")?;
    publish(&state, &event).await?;
    state.metrics.actions.with_label_values(&[event.type_name()]).inc();
    tracing::info!(case = %id, town = %parsed.town, item = %parsed.item, "enforcement case registered");
    if let Ok(case) = whistle_case::evolve(None, &event)
        && let Err(err) = state.store.put_provisional(&case).await
    {
        tracing::warn!(case = %id, error = %format_args!("{err:#}"), "could not record provisional case");
    }
    Ok(case_accepted(id))
}

/// `422 not_item_holder`: `body` does not hold `item` for `town` now; names who does.
fn not_holder(body: &str, item: &str, town: &str, route: &Route<'_>) -> ApiError {
    let holder = match route {
        Route::Town { .. } => format!("town {town}'s own team does / 由乡镇（街道）行使"),
        Route::Department { department, .. } => {
            format!("{} ({}) does / 由{}行使", department.names.en, department.code, department.names.zh)
        }
        Route::Triage { .. } => "nobody in this district does now / 当前无行使主体".to_owned(),
    };
    ApiError::Refused(
        "not_item_holder",
        format!("{body} does not hold {item} in town {town}: {holder}; only the holder may penalise it"),
    )
}

/// Whether `body` (a town's team, or a department) holds the case's item in its town at this
/// moment: a penalty by any other body is refused (the registry is effective-dated, so an item
/// recovered or delegated since the case began moves its penalties with it).
pub(super) fn holds_now(state: &AppState, town: &str, item: &ItemCode, body: &str) -> Result<(), ApiError> {
    let registry = state.registry.current();
    let town = TownCode::parse(town).map_err(|e| ApiError::UnknownTown(e.to_string()))?;
    let route = route(&registry, &town, item, Utc::now()).map_err(super::registry::route_error)?;
    let holds = match &route {
        Route::Town { .. } => body == town.as_str(),
        Route::Department { department, .. } => department.code.as_str() == body,
        Route::Triage { .. } => false,
    };
    if holds { Ok(()) } else { Err(not_holder(body, item.as_str(), town.as_str(), &route)) }
}

fn procedure_subject(case: &Case) -> Result<EnforcementSubject, ApiError> {
    Ok(case.procedure.as_ref().ok_or(whistle_case::Refusal::NotEnforcementCase { action: "decide" })?.subject.clone())
}

/// The body whose case this is: its department for a department's case, else its town.
fn owner_body(case: &Case) -> &str {
    match (&case.kind, &case.department) {
        (CaseKind::Enforcement, Some(d)) => &d.code,
        _ => &case.town,
    }
}

fn case_accepted(id: Uuid) -> Response {
    let location = format!("/api/v1/cases/{id}");
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(CaseAccepted { id, status: Status::Registered }))
        .into_response()
}

/// The party, checked: a unit is known by its unified social credit code.
fn party(input: &whistle_schemas::api::CaseSubjectInput) -> Result<CaseParty, ApiError> {
    let name = domain::text("subject.name", &input.name, MAX_NAME_CHARS, false)?;
    let credit_code = match (input.kind, input.credit_code.as_deref().map(str::trim)) {
        (SubjectKind::Unit, Some(code)) if credit_code_ok(code) => Some(code.to_owned()),
        (SubjectKind::Unit, _) => {
            return Err(ApiError::InvalidField {
                field: "subject.credit_code",
                message: "a unit needs its unified social credit code: 18 characters, digits and capital letters \
                          (no I, O, S, V, Z)"
                    .into(),
            });
        }
        (SubjectKind::Individual, Some(code)) if !code.is_empty() => {
            return Err(ApiError::InvalidField {
                field: "subject.credit_code",
                message: "an individual has no unified social credit code; use kind \"unit\" for an organisation"
                    .into(),
            });
        }
        (SubjectKind::Individual, _) => None,
    };
    Ok(CaseParty { kind: input.kind, name, credit_code })
}

/// GB 32100-2015's alphabet and length (the check digit is not verified here).
fn credit_code_ok(code: &str) -> bool {
    code.len() == 18 && code.bytes().all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOSVZ".contains(&b)))
}

/// `GET /api/v1/cases/{id}`: a case (a town case or a whistle) with its party, the benchmark its
/// decision was measured against, and its fence warnings.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let case = load(&state, &id).await?;
    authorize(&principal, &case, None)?;
    let view = case.view_for(principal.case_visibility());
    let procedure = view.procedure.as_ref();
    let subject = procedure.map(|p| p.party.clone());
    let benchmark = procedure.and_then(|p| p.decision.as_ref()).and_then(|d| d.benchmark.clone());
    let fences = view.timeline.iter().filter(|t| t.kind == "whistle.fenced").cloned().collect();
    Ok(Json(CaseView { case: view, subject, benchmark, fences }))
}

/// `POST /api/v1/cases/{id}/persuade`
pub async fn persuade(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PersuadeRequest>,
) -> Result<Response, ApiError> {
    let note = req.note.map(|n| domain::text("note", &n, MAX_REASON_CHARS, true)).transpose()?;
    act(&state, &principal, &id, &headers, CaseAction::Persuade, |actor| {
        Command::Persuade(Persuaded { actor, outcome: req.outcome, note })
    })
    .await
}

/// Whether `cert` is a certified officer of `body` (a town, or a department for its own case).
/// The dev stack's demo roster gives every town and department the certificate numbers
/// `<code>-01` to `<code>-04`.
fn certified(body: &str, cert: &str) -> bool {
    cert.strip_prefix(body).and_then(|rest| rest.strip_prefix('-')).is_some_and(|n| {
        n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()) && (1..=4).contains(&n.parse::<u8>().unwrap_or(0))
    })
}

/// `POST /api/v1/cases/{id}/investigate`
pub async fn investigate(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<InvestigateRequest>,
) -> Result<Response, ApiError> {
    let evidence = domain::text("evidence", &req.evidence, MAX_DESCRIPTION_CHARS, true)?;
    if req.officers.len() > MAX_OFFICERS {
        return Err(ApiError::InvalidField { field: "officers", message: format!("at most {MAX_OFFICERS} officers") });
    }
    let officers: Vec<String> = req.officers.iter().map(|o| o.trim().to_owned()).collect();
    let check = |case: &Case| {
        let body = owner_body(case);
        if let Some(bad) = officers.iter().find(|o| !certified(body, o)) {
            return Err(ApiError::Refused(
                "officer_not_certified",
                format!(
                    "{:?} is not a certified law-enforcement officer of {body}",
                    bad.chars().take(32).collect::<String>(),
                ),
            ));
        }
        Ok(())
    };
    let (case, event_id, actor) = match begin(&state, &principal, &id, &headers, CaseAction::Investigate).await? {
        Begun::Fresh { case, event_id, actor } => (case, event_id, actor),
        Begun::Replayed { id, event_id, status } => return Ok(action_accepted(id, event_id, status)),
    };
    let attachments = super::attachments::referenced(&state, &principal, &req.attachments).await?;
    let command = Command::Investigate(Investigated {
        actor: actor.clone(),
        officers: officers.clone(),
        evidence,
        attachments: super::attachments::as_strings(&attachments),
    });
    let (event, target) = decided(&case, command, event_id)?;
    check(&case)?;
    super::attachments::reference(&state, case.id, &attachments).await?;
    let answer = record(&state, &principal, &case, event, target).await?;
    // An investigation is an inspection of the party: the fences count it with every town's and
    // department's inspections of the same subject, in whistles and town cases alike.
    if let Some(procedure) = &case.procedure {
        inspection_fences(&state, &case, event_id, &actor, &procedure.subject).await?;
    }
    Ok(answer)
}

/// The repeated-inspection fences for a town's investigation, published as warnings on the case,
/// and the inspection added to the subject's history.
async fn inspection_fences(
    state: &AppState,
    case: &Case,
    event_id: Uuid,
    actor: &Actor,
    subject: &EnforcementSubject,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let rules = &state.assist.data.fences;
    // The investigation is recorded already: without the history, only its fences are skipped.
    let past = match state.history.inspections_since(&subject.id, now - rules.inspection_window()).await {
        Ok(past) => past,
        Err(e) => {
            tracing::error!(case = %case.id, error = ?e, "subject history unavailable; fences not checked");
            return Ok(());
        }
    };
    let body = owner_body(case);
    let warnings = fence::check_inspection(rules, body, case.id, false, now, &past);
    super::assist::publish_fences(
        state,
        case,
        event_id,
        "investigate",
        actor,
        subject,
        warnings,
        FenceSeverity::Warning,
        None,
    )
    .await?;
    if let Err(err) = state.history.record_inspection(&subject.id, body, case.id, event_id, false, false, now).await {
        tracing::error!(case = %case.id, subject = %subject.id, error = ?err, "investigation not added to subject history");
    }
    Ok(())
}

/// `POST /api/v1/cases/{id}/notify`
pub async fn notify(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NotifyRequest>,
) -> Result<Response, ApiError> {
    let intended = domain::text("intended", &req.intended, MAX_DESCRIPTION_CHARS, true)?;
    act(&state, &principal, &id, &headers, CaseAction::Notify, |actor| Command::Notify(Notified { actor, intended }))
        .await
}

/// `POST /api/v1/cases/{id}/decide`: the decision, measured against the item's statutory range
/// for the party's kind and the benchmark tier its facts pick.
pub async fn decide_case(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<DecideRequest>,
) -> Result<Response, ApiError> {
    match (req.outcome, req.fine_yuan) {
        (DecisionOutcome::Fine, None | Some(0)) => {
            return Err(ApiError::InvalidField {
                field: "fine_yuan",
                message: "a fine needs its amount in yuan".into(),
            });
        }
        (DecisionOutcome::NoPenalty | DecisionOutcome::Warning | DecisionOutcome::Other, Some(_)) => {
            return Err(ApiError::InvalidField {
                field: "fine_yuan",
                message: "only a fine has an amount; use outcome \"fine\"".into(),
            });
        }
        _ => {}
    }
    let reason = req.override_reason.as_deref().map(|r| domain::text("override_reason", r, MAX_REASON_CHARS, true));
    let reason = reason.transpose()?;
    // What the rules measure the decision against, from the case as it stands.
    let case = load(&state, &id).await?;
    authorize(&principal, &case, Some(CaseAction::Decide))?;
    let item = ItemCode::parse(&case.item).map_err(|e| ApiError::UnknownItem(e.to_string()))?;
    let procedure = case.procedure.as_ref().ok_or(whistle_case::Refusal::NotEnforcementCase { action: "decide" })?;
    let kind = procedure.party.kind;
    let repeat_months = state.assist.data.benchmarks.of(&item).map_or(24, |b| b.repeat_within_months);
    let since = Utc::now() - chrono::Duration::days(31 * i64::from(repeat_months));
    let prior =
        state.history.penalties_since(&procedure.subject.id, item.as_str(), since, case.id).await.map_err(|e| {
            tracing::error!(error = ?e, "subject history unavailable");
            ApiError::Unavailable("the subject's history is unavailable; retry shortly".into())
        })?;
    let facts = Facts {
        corrected_in_time: req.corrected_in_time,
        serious_consequences: req.serious_consequences,
        prior_offences: prior,
    };
    // Where the law names no penalty for the item, or none for this kind of party, nothing but
    // "no penalty" (or another measure) is lawful.
    let none = StatutoryRange { warning: false, min_yuan: 0, max_yuan: 0 };
    let (statutory, benchmark, persuade_first) = match state.assist.data.benchmarks.matching(&item, kind, &facts) {
        Ok(m) => (
            m.statutory,
            Some(BenchmarkApplied {
                tier: m.tier.tier.clone(),
                action: m.range.action.as_str().to_owned(),
                min_yuan: m.range.fine_yuan.min,
                max_yuan: m.range.fine_yuan.max,
            }),
            m.persuade_first,
        ),
        Err(MatchError::NoBenchmark(_) | MatchError::KindNotPunishable { .. }) => (none, None, false),
    };
    let statutory = Some(statutory);
    let decision = Decided {
        actor: Actor::new(ActorKind::Town, case.town.clone()),
        outcome: req.outcome,
        fine_yuan: req.fine_yuan,
        statutory,
        benchmark,
        override_reason: reason,
    };
    // A reason for a decision inside the tier changes nothing: it is not an override. (Whether
    // the decision is lawful at all is the case's to say, after the order of the steps.)
    let within = matches!(whistle_case::procedure::lawful(&decision), Ok(true));
    let (case, event_id, actor) = match begin(&state, &principal, &id, &headers, CaseAction::Decide).await? {
        Begun::Fresh { case, event_id, actor } => (case, event_id, actor),
        Begun::Replayed { id, event_id, status } => return Ok(action_accepted(id, event_id, status)),
    };
    // Only the body that holds the item now may penalise (any outcome but no penalty); the
    // attempt is recorded as a blocked fence, for the supervisors.
    if decision.outcome != DecisionOutcome::NoPenalty
        && let Err(refused) = holds_now(&state, &case.town, &item, owner_body(&case))
    {
        let (subject, message) = (procedure_subject(&case)?, refused.to_string());
        let rule = fence::NOT_ITEM_HOLDER;
        return Err(super::assist::blocked(&state, &case, "decide", &actor, &subject, rule, message, refused).await);
    }
    // A persuade-first item (the seed's three) penalised without persuasion on record: a fence
    // that a reason passes, flagged for the supervisors like every override.
    let skipped = (persuade_first
        && state.assist.data.fences.persuade_first.enabled
        && decision.outcome != DecisionOutcome::NoPenalty
        && case.procedure.as_ref().is_some_and(|p| p.persuasion.is_none()))
    .then(|| fence::Warning {
        rule: fence::PERSUASION_SKIPPED,
        message: format!(
            "{item} is a persuade-first item and no persuasion is recorded on this case; give override_reason to \
             proceed / 该事项应先劝导，本案未记录劝导"
        ),
    });
    if let Some(warning) = &skipped
        && decision.override_reason.is_none()
    {
        let refusal = ApiError::FenceBlocked(format!("{}. Send override_reason to proceed.", warning.message));
        let subject = procedure_subject(&case)?;
        let (rule, message) = (warning.rule, warning.message.clone());
        return Err(super::assist::blocked(&state, &case, "decide", &actor, &subject, rule, message, refusal).await);
    }
    let override_reason = if within { None } else { decision.override_reason.clone() };
    let passed_with = decision.override_reason.clone();
    let outcome = decision.outcome;
    let fine = decision.fine_yuan.unwrap_or(0);
    let (event, target) =
        decided(&case, Command::Decide(Decided { actor: actor.clone(), override_reason, ..decision }), event_id)?;
    let answer = record(&state, &principal, &case, event, target).await?;
    if let Some(warning) = skipped {
        super::assist::publish_fences(
            &state,
            &case,
            event_id,
            "decide",
            &actor,
            &procedure_subject(&case)?,
            vec![warning],
            FenceSeverity::Overridden,
            passed_with.as_deref(),
        )
        .await?;
    }
    // A penalty goes into the subject's history: a later case of the same item, by any town or
    // department, is a repeat offence.
    if matches!(outcome, DecisionOutcome::Fine | DecisionOutcome::Warning)
        && let Some(p) = &case.procedure
        && let Err(err) =
            state.history.record_penalty(&p.subject.id, item.as_str(), fine, case.id, event_id, Utc::now()).await
    {
        tracing::error!(case = %case.id, error = ?err, "decision not added to subject history");
    }
    Ok(answer)
}

/// `POST /api/v1/cases/{id}/serve`
pub async fn serve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let StepNote { note } = optional_json(body)?;
    if let Some(note) = note {
        domain::text("note", &note, MAX_REASON_CHARS, true)?;
    }
    act(&state, &principal, &id, &headers, CaseAction::Serve, |actor| Command::Serve { actor }).await
}

/// `POST /api/v1/cases/{id}/close`
pub async fn close(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let StepNote { note } = optional_json(body)?;
    let note = note.map(|n| domain::text("note", &n, MAX_REASON_CHARS, true)).transpose()?;
    act(&state, &principal, &id, &headers, CaseAction::Close, |actor| Command::Close { actor, note }).await
}

/// `POST /api/v1/whistles/{id}/confirm`: the raising town confirms a resolved whistle.
pub async fn confirm(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> Result<Response, ApiError> {
    if !(1..=5).contains(&req.rating) {
        return Err(ApiError::InvalidField { field: "rating", message: "must be 1 to 5".into() });
    }
    let comment = req.comment.map(|c| domain::text("comment", &c, MAX_REASON_CHARS, true)).transpose()?;
    act(&state, &principal, &id, &headers, CaseAction::Confirm, |actor| {
        Command::Confirm(Confirmed { actor, rating: req.rating, comment, deemed: false })
    })
    .await
}

/// `POST /api/v1/whistles/{id}/reopen`: back to the department that resolved it, clocks afresh.
pub async fn reopen(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReopenRequest>,
) -> Result<Response, ApiError> {
    let reason = domain::reason(&req.reason)?;
    act_with(
        &state,
        &principal,
        &id,
        &headers,
        CaseAction::Reopen,
        |_| Ok(()),
        |case, actor| {
            let department = case.department.clone().ok_or(whistle_case::Refusal::NoDepartment)?;
            Ok(Command::Reopen(Reopened {
                actor,
                reason,
                department,
                district: case.district.clone(),
                item: case.item.clone(),
            }))
        },
    )
    .await
}

/// `POST /api/v1/whistles/{id}/comments` and `/api/v1/cases/{id}/comments`.
pub async fn comment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<Response, ApiError> {
    let text = domain::text("text", &req.text, MAX_REASON_CHARS, true)?;
    act(&state, &principal, &id, &headers, CaseAction::Comment, |actor| Command::Comment(Commented { actor, text }))
        .await
}

/// The supervisor's scope: `Ok("city")` or the district.
fn supervision_scope(principal: &Principal) -> Result<String, ApiError> {
    match &principal.role {
        Role::Supervisor { district } => Ok(district.clone().unwrap_or_else(|| "city".to_owned())),
        _ => Err(ApiError::forbidden(format!("the review queue is for supervisors; you are {principal}"))),
    }
}

/// `GET /api/v1/supervision/queue`: overridden decisions and penalties, fence warnings passed
/// over, and town cases near or past their time limit, in the supervisor's scope.
pub async fn queue(State(state): State<AppState>, principal: Principal) -> Result<Json<SupervisionQueue>, ApiError> {
    let scope = supervision_scope(&principal)?;
    let ids = state.store.supervised(&scope, QUEUE_LIMIT).await.map_err(ApiError::store)?;
    let now = Utc::now();
    let mut items = Vec::new();
    for id in ids {
        let Some(case) = state.store.get(id).await.map_err(ApiError::store)? else { continue };
        let item = |id: String, reason: &str, time, detail: Option<String>| SupervisionItem {
            id,
            reason: reason.to_owned(),
            case: case.id,
            kind: case.kind,
            town: case.town.clone(),
            district: case.district.clone(),
            item: case.item.clone(),
            status: case.status,
            time,
            detail,
            decide_by: case.procedure.as_ref().map(|p| p.decide_by),
        };
        for step in &case.review {
            let Some(entry) = case.timeline.iter().find(|t| t.event_id == *step) else { continue };
            let reason = if entry.kind == "whistle.fenced" { "fence" } else { "override" };
            items.push(item(format!("{}~{step}", case.id), reason, entry.time, entry.detail.clone()));
        }
        if let Some(p) = case.procedure.as_ref().filter(|p| p.decision.is_none() && !case.status.is_terminal()) {
            let reason = match time_limit(p.decide_by, now) {
                TimeLimit::Running => continue,
                TimeLimit::Near => "time_limit_near",
                TimeLimit::Passed => "time_limit_passed",
            };
            items.push(item(format!("{}~time_limit", case.id), reason, p.decide_by, None));
        }
    }
    items.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(SupervisionQueue { items }))
}

/// `POST /api/v1/supervision/{item_id}/review`: a verdict on a flagged step, on the case's
/// timeline. The item id is the queue's (`<case>~<step>`).
pub async fn review(
    State(state): State<AppState>,
    principal: Principal,
    Path(item_id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> Result<Response, ApiError> {
    supervision_scope(&principal)?;
    let not_found = || ApiError::NotFound(format!("no review item {}", item_id.chars().take(80).collect::<String>()));
    let (case_id, step) = item_id.split_once('~').ok_or_else(not_found)?;
    let step = Uuid::parse_str(step).map_err(|_| {
        ApiError::Refused("nothing_to_review", "time-limit items leave the queue once the case is decided".into())
    })?;
    let note = req.note.map(|n| domain::text("note", &n, MAX_REASON_CHARS, true)).transpose()?;
    let case = load(&state, case_id).await?;
    if !principal.can_review(&case.district) {
        return Err(ApiError::forbidden(format!("case {} is outside your account's scope ({principal})", case.id)));
    }
    let key = idempotency_key(&headers)?;
    let event_id = match &key {
        Some(key) => Uuid::new_v5(&case.id, format!("review\n{}\n{key}", principal.user).as_bytes()),
        None => Uuid::now_v7(),
    };
    if let Some(done) = case.timeline.iter().find(|t| t.event_id == event_id) {
        return Ok(super::whistles::action_accepted(case.id, event_id, done.status));
    }
    let scope = principal.district().unwrap_or("city").to_owned();
    let actor = Actor::person(ActorKind::Supervisor, scope, &principal.user, principal.role.name());
    let (event, target) =
        decided(&case, Command::Review(Reviewed { actor, step, verdict: req.verdict, note }), event_id)?;
    record(&state, &principal, &case, event, target).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certified_officers_are_the_towns_own_numbers() {
        assert!(certified("500103001", "500103001-01"));
        assert!(certified("500103001", "500103001-04"));
        assert!(!certified("500103001", "500103001-05"));
        assert!(!certified("500103001", "500103002-01"), "another town's officer");
        assert!(!certified("500103001", "500103001-1"));
        assert!(!certified("500103001", "500103001-00"));
    }

    #[test]
    fn a_credit_code_has_the_standards_shape() {
        assert!(credit_code_ok("91500103MA60XY312F"));
        assert!(!credit_code_ok("91500103MA60XY312"), "17 characters");
        assert!(!credit_code_ok("91500103MA60XY312O"), "no O");
        assert!(!credit_code_ok("91500103ma60xy312f"), "capitals only");
    }
}
