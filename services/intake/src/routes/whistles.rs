//! Raising whistles, reading them, and department actions.

use anyhow::Context as _;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;
use whistle_auth::{CaseAction, CaseScope, Principal};
use whistle_case::{Case, Command, Ctx, decide};
use whistle_casestore::store::ActionSlot;
use whistle_registry::{Route, route};
use whistle_schemas::Status;
use whistle_schemas::api::{
    ActionAccepted, Duplicate, DuplicateList, MergeRequest, PauseRequest, RaiseWhistleRequest, RejectRequest,
    ResolveRequest, TransferRequest, WhistleAccepted, WhistleView,
};
use whistle_schemas::events::{
    Absorbed, Actor, ActorKind, CaseEvent, DepartmentRef, Merged, Paused, Raised, Transferred,
};

use super::AppState;
use super::registry::{route_error, town_holds_message};
use crate::domain::{self, NewWhistle};
use crate::error::ApiError;
use crate::extract::ApiJson;

pub const SOURCE: &str = "/whistle/intake";

/// Namespace for ids derived from idempotency keys, so a retry derives the same id.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a9d_43b1_4d0e_9f5a_77c2_0a3e_61d4);

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut keys = headers.get_all("idempotency-key").iter();
    let first = keys.next();
    if keys.next().is_some() {
        return Err(ApiError::InvalidField {
            field: "Idempotency-Key",
            message: "send the header once; two keys make the request ambiguous".into(),
        });
    }
    first.map(|v| domain::idempotency_key(v.as_bytes())).transpose()
}

/// `POST /api/v1/whistles`
pub async fn raise(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RaiseWhistleRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let fingerprint = serde_json::to_string(&req).map_err(anyhow::Error::from)?;
    let whistle = NewWhistle::parse(req)?;
    if !principal.can_raise_for(whistle.town.as_str()) {
        return Err(ApiError::forbidden(format!(
            "only town {}'s own team may raise its whistles; you are {principal}",
            whistle.town
        )));
    }
    let now = Utc::now();
    // One snapshot of the live registry for the whole decision.
    let registry = state.registry.current();
    let town = registry.town(&whistle.town).ok_or_else(|| ApiError::UnknownTown(whistle.town.to_string()))?;
    match route(&registry, &whistle.town, &whistle.item, now).map_err(route_error)? {
        Route::Town { .. } if whistle.support => {}
        Route::Town { authority, since } => {
            let names = registry.item(&whistle.item).map(|i| i.names.clone()).unwrap_or_else(|| {
                whistle_schemas::Names { zh: whistle.item.to_string(), en: whistle.item.to_string() }
            });
            let msg = town_holds_message(&names, authority, since);
            return Err(ApiError::TownHoldsItem(format!("{} / {}", msg.en, msg.zh)));
        }
        Route::Department { .. } | Route::Triage { .. } => {}
    }
    for t in &whistle.assist {
        let code = whistle_registry::DepartmentCode::new(town.body(), t);
        if t == whistle_registry::file::COMMAND_CENTRE || registry.department(&code).is_none() {
            return Err(ApiError::InvalidField { field: "assist", message: format!("no department {code}") });
        }
    }
    let attachments = super::attachments::referenced(&state, &principal, &whistle.attachments).await?;

    let id = match &key {
        Some(key) => {
            // Keys are the account's own: two accounts reusing a key raise two whistles.
            let seed = format!("raise\n{}\n{}\n{key}", whistle.town, principal.user);
            let id = Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, seed.as_bytes());
            match state.store.claim_idempotency(&format!("raise:{id}"), &fingerprint).await.map_err(ApiError::store)? {
                whistle_casestore::store::Claim::Different => return Err(ApiError::IdempotencyKeyReused),
                whistle_casestore::store::Claim::Same => {
                    if state.store.get(id).await.map_err(ApiError::store)?.is_some() {
                        let duplicates = crate::duplicates::possible(
                            &state,
                            town.body().as_str(),
                            whistle.item.as_str(),
                            &whistle.location,
                            now,
                            id,
                        )
                        .await;
                        return Ok(accepted(id, Status::Raised, duplicates));
                    }
                    // Accepted before but not visible yet, or the first attempt failed: produce
                    // again; the event id is the same, so consumers see it once.
                }
                whistle_casestore::store::Claim::New => {}
            }
            id
        }
        None => Uuid::now_v7(),
    };
    super::attachments::reference(&state, id, &attachments).await?;
    let event_id = Uuid::new_v5(&id, b"whistle.raised");
    let (district, item, location) = (town.body().to_string(), whistle.item.to_string(), whistle.location.clone());
    let raise = Command::Raise(Raised {
        town: whistle.town.to_string(),
        // The district or functional zone that answers the town: its departments respond,
        // its command centre and managers see the case.
        district: town.body().to_string(),
        item: whistle.item.to_string(),
        description: whistle.description,
        location: whistle.location,
        photos: whistle.photos,
        attachments: super::attachments::as_strings(&attachments),
        raised_by: Actor::person(ActorKind::Town, whistle.town.to_string(), &principal.user, principal.role.name()),
        support: whistle.support,
        assist: whistle.assist,
        hotline: None,
    });
    let ctx = Ctx { event_id, subject: id, now, source: SOURCE, limits: Default::default() };
    let event = decide(None, raise, &ctx)?.into_iter().next().context("a raise decides one event")?;
    publish(&state, &event).await?;
    state.metrics.whistles_raised.inc();
    tracing::info!(whistle = %id, town = %whistle.town, item = %whistle.item, "whistle raised");
    if let Ok(case) = whistle_case::evolve(None, &event)
        && let Err(err) = state.store.put_provisional(&case).await
    {
        // Kafka has the whistle; the projection will record it. Only read-after-write suffers.
        tracing::warn!(whistle = %id, error = %format_args!("{err:#}"), "could not record provisional case");
    }
    // Kafka has the raise: what follows never refuses it. First the open whistles nearby, then
    // this raise's own place for the raises after it.
    let duplicates = crate::duplicates::possible(&state, &district, &item, &location, now, id).await;
    if let Err(err) = crate::duplicates::record(&state, &item, id, &location, now).await {
        state.metrics.duplicate_lookup_failures.inc();
        tracing::warn!(whistle = %id, error = %format_args!("{err:#}"), "could not record the raise's place");
    }
    if !duplicates.is_empty() {
        state.metrics.raises_with_duplicates.inc();
        tracing::info!(whistle = %id, duplicates = duplicates.len(), "raise has likely duplicates");
    }
    Ok(accepted(id, Status::Raised, duplicates))
}

fn accepted(id: Uuid, status: Status, possible_duplicates: Vec<Uuid>) -> Response {
    let location = format!("/api/v1/whistles/{id}");
    let body = WhistleAccepted { id, status, possible_duplicates };
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(body)).into_response()
}

/// Sends an event and returns once the log has it (Kafka: `acks=all`).
pub(super) async fn publish(state: &AppState, event: &CaseEvent) -> Result<(), ApiError> {
    state.log.publish(event).await
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id)
        .map_err(|_| ApiError::NotFound(format!("no whistle {}", id.chars().take(40).collect::<String>())))
}

pub(super) async fn load(state: &AppState, id: &str) -> Result<Case, ApiError> {
    let id = parse_id(id)?;
    state.store.get(id).await.map_err(ApiError::store)?.ok_or_else(|| ApiError::NotFound(format!("no whistle {id}")))
}

/// `GET /api/v1/whistles/{id}`
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<WhistleView>, ApiError> {
    let case = load(&state, &id).await?;
    authorize(&principal, &case, None)?;
    Ok(Json(case.view_for(principal.case_visibility())))
}

/// Checks that `principal` may read the case (`action: None`) or take `action` on it.
pub(super) fn authorize(principal: &Principal, view: &Case, action: Option<CaseAction>) -> Result<(), ApiError> {
    let assisting: Vec<&str> = view.assisting.iter().map(|d| d.code.as_str()).collect();
    let followers: Vec<&str> = view.merged.iter().map(|m| m.town.as_str()).collect();
    let scope = CaseScope {
        town: &view.town,
        district: &view.district,
        owner: view.department.as_ref().map(|d| d.code.as_str()),
        assisting: &assisting,
        enforcement: view.kind == whistle_schemas::api::CaseKind::Enforcement,
        followers: &followers,
    };
    let readable = principal.can_read(&scope);
    let allowed = match action {
        None => readable,
        Some(action) => principal.can_act(action, &scope),
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(match action {
        // Who owns a case is itself case data: only a caller who may read the case is told.
        Some(action) if readable => format!(
            "{} on whistle {} is for its department ({}); you are {principal}",
            format!("{action:?}").to_lowercase(),
            view.id,
            view.department.as_ref().map_or("nobody yet", |d| d.code.as_str())
        ),
        _ => format!("whistle {} is outside your account's scope ({principal})", view.id),
    }))
}

/// The audit record of a person acting for a department.
pub(super) fn acting(principal: &Principal, department: &str) -> Actor {
    let code = principal.acting_department().unwrap_or_else(|| department.to_owned());
    Actor::person(ActorKind::Department, code, &principal.user, principal.role.name())
}

/// An optional JSON body: empty means `T::default()`.
pub(super) fn optional_json<T: DeserializeOwned + Default>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::MalformedBody(e.body_text())
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::MalformedBody(e.to_string()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// `POST /api/v1/whistles/{id}/acknowledge`
pub async fn acknowledge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let NoBody {} = optional_json(body)?;
    act(&state, &principal, &id, &headers, CaseAction::Acknowledge, |actor| Command::Acknowledge { actor }).await
}

/// `POST /api/v1/whistles/{id}/arrive`
pub async fn arrive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let NoBody {} = optional_json(body)?;
    act(&state, &principal, &id, &headers, CaseAction::Arrive, |actor| Command::Arrive { actor }).await
}

/// `POST /api/v1/whistles/{id}/resolve`
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: ResolveRequest = optional_json(body)?;
    let note = req.note.map(|n| domain::text("note", &n, domain::MAX_REASON_CHARS, true)).transpose()?;
    act(&state, &principal, &id, &headers, CaseAction::Resolve, |actor| Command::Resolve { actor, note }).await
}

/// `POST /api/v1/whistles/{id}/reject`
pub async fn reject(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RejectRequest>,
) -> Result<Response, ApiError> {
    let reason = domain::reason(&req.reason)?;
    act(&state, &principal, &id, &headers, CaseAction::Reject, |actor| Command::Reject { actor, reason, code: None })
        .await
}

/// `POST /api/v1/whistles/{id}/transfer`: the owning department hands the case to another
/// department of the same district; ownership moves and the new owner's clocks start.
pub async fn transfer(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TransferRequest>,
) -> Result<Response, ApiError> {
    let reason = domain::reason(&req.reason)?;
    let code = whistle_registry::DepartmentCode::parse(&req.to)
        .map_err(|e| ApiError::InvalidField { field: "to", message: e.to_string() })?;
    let registry = state.registry.current();
    let to = registry
        .department(&code)
        .map(|d| DepartmentRef { code: d.code.to_string(), names: d.names.clone() })
        .ok_or_else(|| ApiError::InvalidField { field: "to", message: format!("unknown department {code}") })?;
    // The rules of the case decide first (409); then whether the target is in the district.
    let check = |case: &Case| {
        if case.district != code.district().as_str() {
            return Err(ApiError::InvalidField {
                field: "to",
                message: format!("{code} is not in district {}", case.district),
            });
        }
        Ok(())
    };
    act_with(&state, &principal, &id, &headers, CaseAction::Transfer, check, |_, actor| {
        Ok(Command::Transfer(Transferred { actor, to, reason, triage: false }))
    })
    .await
}

/// `POST /api/v1/whistles/{id}/pause`: stops the SLA clocks, with a reason.
pub async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PauseRequest>,
) -> Result<Response, ApiError> {
    let reason = domain::reason(&req.reason)?;
    act(&state, &principal, &id, &headers, CaseAction::Pause, |actor| Command::Pause(Paused { actor, reason })).await
}

/// `POST /api/v1/whistles/{id}/resume`
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let NoBody {} = optional_json(body)?;
    act(&state, &principal, &id, &headers, CaseAction::Resume, |actor| Command::Resume { actor }).await
}

pub(super) async fn act(
    state: &AppState,
    principal: &Principal,
    id: &str,
    headers: &HeaderMap,
    action: CaseAction,
    command: impl FnOnce(Actor) -> Command,
) -> Result<Response, ApiError> {
    act_with(state, principal, id, headers, action, |_| Ok(()), |_, actor| Ok(command(actor))).await
}

/// The name an action's idempotency keys are scoped by.
pub(super) fn action_name(action: CaseAction) -> &'static str {
    match action {
        CaseAction::Acknowledge => "acknowledge",
        // As named before accounts existed, so earlier idempotency keys keep their ids.
        CaseAction::Arrive => "arrive at",
        CaseAction::Resolve => "resolve",
        CaseAction::Reject => "reject",
        CaseAction::Transfer => "transfer",
        CaseAction::Pause => "pause",
        CaseAction::Resume => "resume",
        CaseAction::Inspect => "inspect",
        CaseAction::Penalise => "penalty",
        CaseAction::Persuade => "persuade",
        CaseAction::Investigate => "investigate",
        CaseAction::Notify => "notify",
        CaseAction::Decide => "decide",
        CaseAction::Serve => "serve",
        CaseAction::Close => "close",
        CaseAction::Confirm => "confirm",
        CaseAction::Reopen => "reopen",
        CaseAction::Comment => "comment",
        CaseAction::Merge => "merge",
    }
}

/// How an action began: a new one, or a retry of one already on the timeline.
pub(super) enum Begun {
    Fresh {
        case: Box<Case>,
        event_id: Uuid,
        actor: Actor,
    },
    /// The retry's event is on the timeline: its case, event and the status it led to.
    Replayed {
        id: Uuid,
        event_id: Uuid,
        status: Status,
    },
}

/// The first steps every action takes, in this order: (the token was checked by the router's
/// layer) authorize the account for this action on this case, then recognise a retry of an
/// action already taken (same `Idempotency-Key`, same account) and answer as the first attempt
/// did. What follows is the action's own: decide, claim, publish.
pub(super) async fn begin(
    state: &AppState,
    principal: &Principal,
    id: &str,
    headers: &HeaderMap,
    action: CaseAction,
) -> Result<Begun, ApiError> {
    let key = idempotency_key(headers)?;
    let case = load(state, id).await?;
    authorize(principal, &case, Some(action))?;
    // Keys are the account's own: another account reusing one gets an action of its own.
    let event_id = match &key {
        Some(key) => Uuid::new_v5(&case.id, format!("{}\n{}\n{key}", action_name(action), principal.user).as_bytes()),
        None => Uuid::now_v7(),
    };
    if let Some(step) = case.timeline.iter().find(|t| t.event_id == event_id) {
        return Ok(Begun::Replayed { id: case.id, event_id, status: step.status });
    }
    let actor = match &principal.role {
        // A town acts in its own name (its own case's procedure, or its whistle's confirmation).
        whistle_auth::Role::Town { town, .. } => {
            Actor::person(ActorKind::Town, town.clone(), &principal.user, principal.role.name())
        }
        _ => {
            let department = case.department.as_ref().ok_or(whistle_case::Refusal::NoDepartment)?;
            acting(principal, &department.code)
        }
    };
    Ok(Begun::Fresh { case: Box::new(case), event_id, actor })
}

/// The event a command on `case` becomes, with the status after it, or the case's refusal.
pub(super) fn decided(case: &Case, command: Command, event_id: Uuid) -> Result<(CaseEvent, Status), ApiError> {
    let ctx = Ctx { event_id, subject: case.id, now: Utc::now(), source: SOURCE, limits: Default::default() };
    let event = decide(Some(case), command, &ctx)?.into_iter().next().context("a command decides one event")?;
    let status = whistle_case::evolve(Some(case.clone()), &event)?.status;
    Ok((event, status))
}

/// Checks an action against the caller's scope and the case's rules (then `check`, for what
/// only intake knows), publishes its event, and answers `202`.
pub(super) async fn act_with(
    state: &AppState,
    principal: &Principal,
    id: &str,
    headers: &HeaderMap,
    action: CaseAction,
    check: impl FnOnce(&Case) -> Result<(), ApiError>,
    command: impl FnOnce(&Case, Actor) -> Result<Command, ApiError>,
) -> Result<Response, ApiError> {
    let (case, event_id, actor) = match begin(state, principal, id, headers, action).await? {
        Begun::Fresh { case, event_id, actor } => (case, event_id, actor),
        Begun::Replayed { id, event_id, status } => return Ok(action_accepted(id, event_id, status)),
    };
    let (event, target) = decided(&case, command(&case, actor)?, event_id)?;
    check(&case)?;
    record(state, principal, &case, event, target).await
}

/// Claims the case's action slot, publishes the decided event, and answers `202`.
pub(super) async fn record(
    state: &AppState,
    principal: &Principal,
    case: &Case,
    event: CaseEvent,
    target: Status,
) -> Result<Response, ApiError> {
    let event_id = event.id;
    let department = principal.acting_department().unwrap_or_else(|| principal.role.name().to_owned());
    let on_timeline = |e: Uuid| case.has_event(e);
    match state.store.claim_action(case.id, event_id, &on_timeline).await.map_err(ApiError::store)? {
        ActionSlot::Claimed => {}
        ActionSlot::Busy(_) => {
            return Err(ApiError::ActionInProgress(format!(
                "another action on whistle {} was just accepted and is being recorded; reload it and decide again",
                case.id
            )));
        }
    }
    if let Err(err) = publish(state, &event).await {
        if let Err(e) = state.store.release_action(case.id, event_id).await {
            tracing::warn!(whistle = %case.id, error = %format_args!("{e:#}"), "action slot kept until it expires");
        }
        return Err(err);
    }
    state.metrics.actions.with_label_values(&[event.type_name()]).inc();
    tracing::info!(
        whistle = %case.id, action = event.type_name(), department = %department, user = %principal.user,
        "action accepted"
    );
    Ok(action_accepted(case.id, event_id, target))
}

pub(super) fn action_accepted(id: Uuid, event_id: Uuid, status: Status) -> Response {
    (StatusCode::ACCEPTED, Json(ActionAccepted { id, event_id, status })).into_response()
}

/// `POST /api/v1/whistles/{id}/merge` `{"into": ID}`: the whistle `{id}` is a duplicate of
/// `into`. Its department (or the district's command centre) asks, and must be allowed the merge
/// on both cases; both must be open whistles of one district, and `into` not merged itself
/// (chains are refused: merge into the case it went to). `whistle.absorbed` is published on the
/// surviving case first (its town list lets the merged whistle's town read it), then
/// `whistle.merged` on the duplicate. Both event ids derive from the two case ids, so a retry —
/// after a failure between the two, or of a merge already done — publishes nothing twice.
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<Response, ApiError> {
    // The header is accepted (and checked) as on every action; the merge is idempotent anyway.
    let _key = idempotency_key(&headers)?;
    let case = load(&state, &id).await?;
    authorize(&principal, &case, Some(CaseAction::Merge))?;
    let merged_event = Uuid::new_v5(&case.id, format!("whistle.merged\n{}", req.into).as_bytes());
    match &case.merged_into {
        Some(m) if m.id == req.into => return Ok(action_accepted(case.id, merged_event, Status::Merged)),
        Some(m) => {
            return Err(ApiError::Conflict(format!("whistle {} was merged into {} already", case.id, m.id)));
        }
        None => {}
    }
    if req.into == case.id {
        return Err(ApiError::InvalidField { field: "into", message: "a whistle cannot be merged into itself".into() });
    }
    let survivor = state
        .store
        .get(req.into)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::InvalidField { field: "into", message: format!("no whistle {}", req.into) })?;
    authorize(&principal, &survivor, Some(CaseAction::Merge))?;
    if survivor.district != case.district {
        return Err(ApiError::InvalidField {
            field: "into",
            message: format!(
                "whistle {} is in district {}, this one in {}: merge only within a district",
                survivor.id, survivor.district, case.district
            ),
        });
    }
    if survivor.kind != whistle_schemas::api::CaseKind::Whistle {
        return Err(ApiError::InvalidField {
            field: "into",
            message: format!("{} is a town's enforcement case, not a whistle", survivor.id),
        });
    }
    if let Some(m) = &survivor.merged_into {
        return Err(ApiError::Conflict(format!(
            "whistle {} was itself merged into {}: merge into that one",
            survivor.id, m.id
        )));
    }
    let department = case.department.as_ref().or(survivor.department.as_ref()).map_or("", |d| d.code.as_str());
    let actor = acting(&principal, department);
    let absorbed_event = Uuid::new_v5(&survivor.id, format!("whistle.absorbed\n{}", case.id).as_bytes());
    // Both decided before anything is published: a refusal of either records nothing.
    let (merged, status) = decided(
        &case,
        Command::Merge(Merged { actor: actor.clone(), into: survivor.id, into_town: survivor.town.clone() }),
        merged_event,
    )?;
    let absorbed = if survivor.has_event(absorbed_event) {
        None
    } else {
        let command = Command::Absorb(Absorbed { actor, merged: case.id, town: case.town.clone() });
        Some(decided(&survivor, command, absorbed_event)?.0)
    };
    // The survivor's slot too: a merge into a case being resolved at this moment waits.
    if let Some(absorbed) = absorbed {
        let on_timeline = |e: Uuid| survivor.has_event(e);
        match state.store.claim_action(survivor.id, absorbed.id, &on_timeline).await.map_err(ApiError::store)? {
            ActionSlot::Claimed => {}
            ActionSlot::Busy(_) => {
                return Err(ApiError::ActionInProgress(format!(
                    "another action on whistle {} was just accepted and is being recorded; reload it and merge again",
                    survivor.id
                )));
            }
        }
        if let Err(err) = publish(&state, &absorbed).await {
            if let Err(e) = state.store.release_action(survivor.id, absorbed.id).await {
                tracing::warn!(whistle = %survivor.id, error = %format_args!("{e:#}"), "action slot kept until it expires");
            }
            return Err(err);
        }
    }
    tracing::info!(whistle = %case.id, into = %survivor.id, user = %principal.user, "whistle merged");
    record(&state, &principal, &case, merged, status).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateQuery {
    item: String,
    lat: f64,
    lon: f64,
    /// Needed by accounts of the whole city (managers, supervisors); others search their own.
    district: Option<String>,
}

/// `GET /api/v1/whistles/duplicates?item=&lat=&lon=[&district=]`: the open whistles a raise of
/// `item` at this point would be a likely duplicate of, for the town dashboard before it sends.
/// Searched in the caller's district. A case the caller may not read is shown by its id, status,
/// time and distance only.
pub async fn duplicates(
    State(state): State<AppState>,
    principal: Principal,
    q: Result<Query<DuplicateQuery>, QueryRejection>,
) -> Result<Json<DuplicateList>, ApiError> {
    let q = super::registry::query(q)?;
    let item = whistle_registry::ItemCode::parse(&q.item).map_err(|e| ApiError::UnknownItem(e.to_string()))?;
    if state.registry.current().item(&item).is_none() {
        return Err(ApiError::UnknownItem(item.to_string()));
    }
    if !q.lat.is_finite() || !(-85.0..=85.0).contains(&q.lat) {
        return Err(ApiError::InvalidField { field: "lat", message: "must be a latitude between -85 and 85".into() });
    }
    if !q.lon.is_finite() || !(-180.0..=180.0).contains(&q.lon) {
        return Err(ApiError::InvalidField {
            field: "lon",
            message: "must be a longitude between -180 and 180".into(),
        });
    }
    if principal.is_admin() {
        return Err(ApiError::forbidden("the administrator reads no cases"));
    }
    let district = match (principal.district(), q.district.as_deref()) {
        (Some(own), None) => own.to_owned(),
        (Some(own), Some(asked)) if own == asked => own.to_owned(),
        (Some(_), Some(_)) => return Err(ApiError::forbidden("your account searches only its own district")),
        (None, Some(asked)) => asked.to_owned(),
        (None, None) => {
            return Err(ApiError::InvalidField {
                field: "district",
                message: "name the district to search (your account is the city's)".into(),
            });
        }
    };
    let location = whistle_schemas::Location { lat: q.lat, lon: q.lon, address: String::new() };
    let found = crate::duplicates::find(&state, &district, item.as_str(), &location, Utc::now(), None)
        .await
        .map_err(ApiError::store)?;
    let items = found
        .into_iter()
        .map(|c| {
            let readable = authorize(&principal, &c.case, None).is_ok();
            Duplicate {
                id: c.case.id,
                status: c.case.status,
                raised_at: c.case.raised_at,
                distance_m: (c.distance_m * 10.0).round() / 10.0,
                readable,
                description: readable.then(|| c.case.description.clone()),
                address: readable.then(|| c.case.location.address.clone()),
            }
        })
        .collect();
    Ok(Json(DuplicateList {
        radius_m: state.duplicates.radius_for(item.as_str()),
        window_hours: state.duplicates.window_hours,
        items,
    }))
}
