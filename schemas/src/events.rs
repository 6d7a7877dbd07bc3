//! Kafka events: CloudEvents 1.0 in structured JSON mode.
//!
//! The envelope's `type` selects the shape of `data` ([`CaseEventBody`]); the whistle id is the
//! `subject` and the Kafka key, so all events of one whistle land on one partition, in order.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Location, Names};

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/json";

/// One event in a whistle's life, as it travels on the case topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseEvent {
    /// Always `"1.0"`.
    pub specversion: String,
    /// Unique per event; consumers deduplicate on it. Derived deterministically where a retry
    /// could produce the same event twice (an idempotent raise, a re-routed whistle).
    pub id: Uuid,
    /// The producing service, e.g. `/whistle/intake`.
    pub source: String,
    /// The whistle id.
    pub subject: Uuid,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    #[serde(flatten)]
    pub body: CaseEventBody,
}

/// Declares the event types once: the enum with its serde names, [`CaseEventBody::type_name`]
/// and [`CaseEventBody::TYPES`], from which the JSON Schema, the decoder's list of known types and
/// the console's TypeScript types (`cargo xtask schemas`) are made. A new event is one line here.
macro_rules! case_events {
    ($( $(#[$doc:meta])* $variant:ident($data:ty) = $name:literal, )*) => {
        /// The `type` and `data` of a [`CaseEvent`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type", content = "data")]
        pub enum CaseEventBody {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($data), )*
        }

        impl CaseEventBody {
            /// Every CloudEvents `type`, in declaration order.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The CloudEvents `type` attribute.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( CaseEventBody::$variant(_) => $name, )*
                }
            }
        }
    };
}

case_events! {
    Raised(Raised) = "whistle.raised",
    Dispatched(Dispatched) = "whistle.dispatched",
    Acknowledged(Acted) = "whistle.acknowledged",
    Arrived(Acted) = "whistle.arrived",
    Resolved(Resolved) = "whistle.resolved",
    Rejected(Rejected) = "whistle.rejected",
    /// The SLA clocks of the case stop (e.g. waiting for the owner of the premises).
    Paused(Paused) = "whistle.paused",
    Resumed(Acted) = "whistle.resumed",
    /// The case changes owner: a department hands it to another, or the router re-routes a case
    /// a department returned (to the command centre's triage). The new owner's clocks start.
    Transferred(Transferred) = "whistle.transferred",
    /// The SLA service (re)computed the case's deadlines.
    SlaScheduled(SlaScheduled) = "sla.scheduled",
    SlaWarning(SlaStage) = "sla.warning",
    SlaBreached(SlaStage) = "sla.breached",
    /// A breach moved one step up the escalation chain.
    Escalated(Escalated) = "whistle.escalated",
    Inspected(Inspected) = "whistle.inspected",
    Penalised(Penalised) = "whistle.penalised",
    Fenced(Fenced) = "whistle.fenced",
    /// 立案: a town registers its own enforcement case for an item it holds.
    Registered(Registered) = "case.registered",
    /// 劝导: persuasion and education before any penalty, with its outcome.
    Persuaded(Persuaded) = "case.persuaded",
    /// 调查取证: evidence taken by (at least) two certified officers.
    Investigated(Investigated) = "case.investigated",
    /// 告知: the intended decision, and the party's right to state a defence or ask for a hearing.
    Notified(Notified) = "case.notified",
    /// 决定: the decision, checked against the statutory range and the discretion benchmark.
    Decided(Decided) = "case.decided",
    /// 送达: the decision was served on the party.
    Served(Acted) = "case.served",
    /// 结案: the case is closed.
    Closed(Resolved) = "case.closed",
    /// The raising town confirms a resolved whistle, with a rating.
    Confirmed(Confirmed) = "whistle.confirmed",
    /// The raising town reopens a resolved whistle: back to the same department, clocks restart.
    Reopened(Reopened) = "whistle.reopened",
    /// A comment between the town and the department, on the timeline and both boards.
    Commented(Commented) = "case.commented",
    /// A supervisor's review of a flagged step (an override, a fence passed over).
    Reviewed(Reviewed) = "case.reviewed",
    /// The whistle was a duplicate of another open whistle (`into`): it is `merged`, its clocks
    /// stop and it leaves the boards; the surviving case carries on.
    Merged(Merged) = "whistle.merged",
    /// The surviving case of a merge: it records the whistle merged into it and that whistle's
    /// town, which follows this case from now on.
    Absorbed(Absorbed) = "whistle.absorbed",
}

impl CaseEvent {
    pub fn new(id: Uuid, source: &str, whistle: Uuid, time: DateTime<Utc>, body: CaseEventBody) -> Self {
        CaseEvent {
            specversion: SPEC_VERSION.to_owned(),
            id,
            source: source.to_owned(),
            subject: whistle,
            time,
            datacontenttype: CONTENT_TYPE.to_owned(),
            body,
        }
    }

    pub fn type_name(&self) -> &'static str {
        self.body.type_name()
    }
}

/// What a consumer made of a payload from the case topic.
#[derive(Debug)]
pub enum Decoded {
    Event(Box<CaseEvent>),
    /// A well-formed CloudEvent of a type this build does not know (a newer producer); skip it.
    UnknownType(String),
}

/// Why a payload could not be decoded. Never retryable: the bytes will not change.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a case-topic payload, telling an unknown event type apart from garbage.
pub fn decode(payload: &[u8]) -> Result<Decoded, DecodeError> {
    match serde_json::from_slice::<CaseEvent>(payload) {
        Ok(event) if event.specversion == SPEC_VERSION => Ok(Decoded::Event(Box::new(event))),
        Ok(event) => Err(DecodeError(format!("unsupported specversion {:?}", event.specversion))),
        Err(err) => {
            #[derive(Deserialize)]
            struct Envelope {
                specversion: String,
                #[serde(rename = "type")]
                kind: String,
            }
            match serde_json::from_slice::<Envelope>(payload) {
                Ok(env) if env.specversion == SPEC_VERSION && !CaseEventBody::TYPES.contains(&env.kind.as_str()) => {
                    Ok(Decoded::UnknownType(env.kind))
                }
                _ => Err(DecodeError(format!("not a valid case event: {err}"))),
            }
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub kind: ActorKind,
    /// Town code, department code, or the system component's name.
    pub code: String,
    /// The account that acted (audit); absent for system components and for events recorded
    /// before accounts existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The account's role when it acted (`town`, `department`, `command_centre`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Actor {
    /// An actor with no account: a system component, or a place named by its code.
    pub fn new(kind: ActorKind, code: impl Into<String>) -> Actor {
        Actor { kind, code: code.into(), user: None, role: None }
    }

    /// A person acting through their account.
    pub fn person(kind: ActorKind, code: impl Into<String>, user: impl Into<String>, role: impl Into<String>) -> Actor {
        Actor { kind, code: code.into(), user: Some(user.into()), role: Some(role.into()) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Town,
    Department,
    System,
    /// A supervisor (law enforcement + supervision): reviews, never acts on a case.
    Supervisor,
}

/// A reference to a district department with its display names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRef {
    pub code: String,
    pub names: Names,
}

/// The authority under which a holder holds an enforcement item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// A town's own statutory power (法定执法): the law names the town government itself.
    Statutory,
    /// Empowered to towns (赋权执法), which act in their own name.
    Empowered,
    /// Delegated to towns (委托执法), which act in the department's name.
    Delegated,
    /// Held by a district department by law and never handed to the towns (部门执法).
    Department,
    /// Recovered (收回) from the towns, which held it before, to a district department.
    Recovered,
}

impl Authority {
    /// Whether the towns hold an item under this authority (else a department does).
    pub fn is_towns(self) -> bool {
        match self {
            Authority::Statutory | Authority::Empowered | Authority::Delegated => true,
            Authority::Department | Authority::Recovered => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Authority::Statutory => "statutory",
            Authority::Empowered => "empowered",
            Authority::Delegated => "delegated",
            Authority::Department => "department",
            Authority::Recovered => "recovered",
        }
    }
}

/// `whistle.raised`: a town team needs a district department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raised {
    pub town: String,
    pub district: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// Attachment ids (`/api/v1/attachments/{id}`), uploaded by the raising town.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    pub raised_by: Actor,
    /// The town holds the item but asks for a supporting department.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub support: bool,
    /// Department types asked to assist (a joint case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assist: Vec<String>,
    /// The 12345 hotline work order the whistle was imported from (`POST /api/v1/hotline/orders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotline: Option<HotlineOrder>,
}

/// A 12345 hotline work order (工单) behind a whistle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineOrder {
    /// The hotline's order number (工单编号), unique city-wide: the import's idempotency key.
    pub order_no: String,
    /// When the hotline took the call (受理时间), if the order says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// `whistle.dispatched`: the router found the responsible department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispatched {
    pub department: DepartmentRef,
    pub district: String,
    pub item: String,
    /// The holder's authority; absent when the whistle goes to triage.
    pub authority: Option<Authority>,
    /// True when no holder was found and the district command centre must triage it.
    #[serde(default)]
    pub triage: bool,
    /// Why this department, in words a duty officer understands.
    pub basis: String,
    /// The version of the item's registry record the decision used (0 = as shipped), so a
    /// decision can be explained after the registry changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_version: Option<u64>,
    /// Assisting departments of a joint case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assisting: Vec<DepartmentRef>,
}

/// `whistle.acknowledged` and `whistle.arrived`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acted {
    pub actor: Actor,
}

/// `whistle.resolved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolved {
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `whistle.rejected`, by a department (with its reason) or by the system (with a code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejected {
    pub actor: Actor,
    pub reason: String,
    /// Machine-readable reason for system rejections, e.g. `town_holds_item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `whistle.merged`, on the duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Merged {
    /// The department or command centre that merged it.
    pub actor: Actor,
    /// The surviving case.
    pub into: Uuid,
    /// The surviving case's town (the merged whistle's town follows it there).
    pub into_town: String,
}

/// `whistle.absorbed`, on the surviving case of a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Absorbed {
    pub actor: Actor,
    /// The whistle merged into this one.
    pub merged: Uuid,
    /// That whistle's town: it may read this case from now on.
    pub town: String,
}

/// `whistle.transferred`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transferred {
    /// The department handing the case over, or the router re-routing a returned case.
    pub actor: Actor,
    /// The new owner.
    pub to: DepartmentRef,
    /// Why, in words the town sees on its timeline.
    pub reason: String,
    /// True when the new owner is the command centre triaging the case.
    #[serde(default)]
    pub triage: bool,
}

/// `whistle.paused`: the SLA clocks stop until `whistle.resumed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paused {
    pub actor: Actor,
    pub reason: String,
}

/// The clocks of a case: a whistle's three, and a town case's statutory time limit to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaStageKind {
    Acknowledge,
    Arrive,
    Resolve,
    /// A town enforcement case's decision, due 90 days after registration (Administrative
    /// Penalty Law, art. 60).
    Decide,
}

impl SlaStageKind {
    pub const ALL: [SlaStageKind; 4] =
        [SlaStageKind::Acknowledge, SlaStageKind::Arrive, SlaStageKind::Resolve, SlaStageKind::Decide];
    /// A whistle's clocks.
    pub const WHISTLE: [SlaStageKind; 3] = [SlaStageKind::Acknowledge, SlaStageKind::Arrive, SlaStageKind::Resolve];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaStageKind::Acknowledge => "acknowledge",
            SlaStageKind::Arrive => "arrive",
            SlaStageKind::Resolve => "resolve",
            SlaStageKind::Decide => "decide",
        }
    }
}

/// A case's deadlines as they stand; absent stages are done (or not armed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrive: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<DateTime<Utc>>,
    /// A town case's decision (the statutory time limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide: Option<DateTime<Utc>>,
    /// True while the case is paused: the deadlines above are then absent and move on resume.
    #[serde(default)]
    pub paused: bool,
}

/// `sla.scheduled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaScheduled {
    pub deadlines: Deadlines,
    /// The policy that set them, e.g. `default` or `fire_safety`.
    pub policy: String,
}

/// `sla.warning` and `sla.breached`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaStage {
    pub stage: SlaStageKind,
    pub deadline: DateTime<Utc>,
    pub department: String,
    pub district: String,
}

/// `whistle.escalated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalated {
    pub stage: SlaStageKind,
    /// 1 for the first step of the chain.
    pub level: u32,
    /// Who is told now, e.g. `department_head`, `command_centre`.
    pub to: String,
    pub department: String,
    pub district: String,
}

/// Who or what was inspected or penalised: an enterprise by its unified social credit code, or
/// anyone else by normalised address. `id` is the key its history is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforcementSubject {
    /// `ucc:<credit code>` or `addr:<normalised address>`; `withheld` (and nothing else) in what
    /// a town is sent about its own case.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `whistle.inspected`: the department inspected a subject for this case. Does not change status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inspected {
    pub actor: Actor,
    pub subject: EnforcementSubject,
    /// The officers persuaded and educated the subject (劝导) during this inspection.
    #[serde(default)]
    pub persuaded: bool,
    /// A re-check (复查) of an earlier order to correct, not a new inspection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recheck: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `whistle.penalised`: an administrative penalty decided in this case. Does not change status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Penalised {
    pub actor: Actor,
    pub subject: EnforcementSubject,
    pub item: String,
    /// The fine in whole yuan (0 for a warning without fine).
    pub amount_yuan: u64,
    /// The discretion-benchmark tier that applied, e.g. `first_offence`.
    pub tier: String,
    pub range_min_yuan: u64,
    pub range_max_yuan: u64,
    /// Present when the officer proceeded past a fence; such penalties are flagged for managers.
    /// Never in what a town is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

/// How a fence warning was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FenceSeverity {
    /// Advice; the action went ahead.
    Warning,
    /// The action was refused until the officer gives a reason.
    Blocked,
    /// The officer gave a reason and went ahead; flagged for managers.
    Overridden,
}

/// `whistle.fenced`: an electronic fence warned at the moment of an action. Does not change status.
/// For the officers and their supervisors: towns are not sent these, nor see them on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fenced {
    /// The fence rule, e.g. `multi_department_inspection`, `fine_out_of_range`, `persuasion_skipped`.
    pub rule: String,
    pub severity: FenceSeverity,
    /// What the officer was told, in words.
    pub message: String,
    /// The action that tripped it: `inspect` or `penalty`.
    pub action: String,
    /// The department acting.
    pub actor: Actor,
    /// Managers should review this one (an override).
    #[serde(default)]
    pub flagged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

/// The party of an enforcement case (当事人).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseParty {
    pub kind: crate::registry::SubjectKind,
    pub name: String,
    /// The unified social credit code (统一社会信用代码), for a unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<String>,
}

/// `case.registered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registered {
    pub town: String,
    /// The district or functional zone that answers the town.
    pub district: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    pub party: CaseParty,
    /// The key the party's enforcement history is kept under (as for inspections).
    pub subject: EnforcementSubject,
    /// Attachment ids (`/api/v1/attachments/{id}`), uploaded by the town.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    pub registered_by: Actor,
    /// The whistle this case was opened from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_whistle: Option<Uuid>,
    /// A department's own case (opened from a whistle it owns, for an item it holds): the
    /// department takes the procedure's steps. None for a town's case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentRef>,
}

/// The outcome of persuasion (劝导).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersuasionOutcome {
    /// The party corrected the conduct: the case may close without a penalty.
    Complied,
    /// The party refused: the procedure goes on to investigation.
    Refused,
}

/// `case.persuaded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Persuaded {
    pub actor: Actor,
    pub outcome: PersuasionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `case.investigated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Investigated {
    pub actor: Actor,
    /// Law-enforcement certificate numbers of the officers who took part (at least two).
    pub officers: Vec<String>,
    pub evidence: String,
    /// Attachment ids (`/api/v1/attachments/{id}`) of the evidence, uploaded by the town.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// `case.notified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notified {
    pub actor: Actor,
    /// The intended decision as told to the party.
    pub intended: String,
}

/// What a decision decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    /// 不予处罚.
    NoPenalty,
    /// 警告.
    Warning,
    /// 罚款, with `fine_yuan`.
    Fine,
    /// Another measure (an order to correct, confiscation), described in the notice.
    Other,
}

impl DecisionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionOutcome::NoPenalty => "no_penalty",
            DecisionOutcome::Warning => "warning",
            DecisionOutcome::Fine => "fine",
            DecisionOutcome::Other => "other",
        }
    }
}

/// The benchmark tier a decision was measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkApplied {
    /// The tier, e.g. `first_offence`.
    pub tier: String,
    /// What the tier allows: `no_penalty`, `warning`, `fine`, `fine_and_suspend`.
    pub action: String,
    pub min_yuan: u64,
    pub max_yuan: u64,
}

/// `case.decided`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decided {
    pub actor: Actor,
    pub outcome: DecisionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_yuan: Option<u64>,
    /// The statutory range for the party's kind that the decision lies inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statutory: Option<crate::registry::StatutoryRange>,
    /// The benchmark tier that applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkApplied>,
    /// Given when the decision leaves the benchmark tier (inside the law); the decision is then
    /// recorded as overridden and goes to the supervisors' review queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

impl Decided {
    /// The decision left the benchmark tier, with a reason.
    pub fn overridden(&self) -> bool {
        self.override_reason.is_some()
    }
}

/// `whistle.confirmed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmed {
    pub actor: Actor,
    /// 1 (poor) to 5 (excellent); 0 when deemed (no rating was given).
    pub rating: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The town did not answer within 3 working days of the resolution: the SLA service deems
    /// the whistle confirmed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deemed: bool,
}

/// `whistle.reopened`: carries what the SLA service needs to restart the clocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reopened {
    pub actor: Actor,
    pub reason: String,
    /// The department the case goes back to (the one that resolved it).
    pub department: DepartmentRef,
    pub district: String,
    pub item: String,
}

/// `case.commented`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Commented {
    pub actor: Actor,
    pub text: String,
}

/// A supervisor's verdict on a flagged step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Upheld,
    Corrected,
}

/// `case.reviewed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reviewed {
    /// The supervisor (actor kind `system` is never used here; the role says `supervisor`).
    pub actor: Actor,
    /// The reviewed step: the event id of the flagged decision or fence warning.
    pub step: Uuid,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A message that could not be processed, as written to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The consumer that gave up on it.
    pub consumer: String,
    pub reason: String,
    pub time: DateTime<Utc>,
    /// The original key and payload, lossily decoded as UTF-8.
    pub key: Option<String>,
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CaseEvent {
        CaseEvent::new(
            Uuid::nil(),
            "/whistle/test",
            Uuid::nil(),
            "2026-01-02T03:04:05Z".parse().expect("valid time"),
            CaseEventBody::Rejected(Rejected {
                actor: Actor::new(ActorKind::Department, "500103-EE"),
                reason: "not ours".into(),
                code: None,
            }),
        )
    }

    #[test]
    fn case_event_serializes_as_structured_cloudevent() {
        let json = serde_json::to_value(sample()).expect("serializes");
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "whistle.rejected");
        assert_eq!(json["subject"], Uuid::nil().to_string());
        assert_eq!(json["data"]["reason"], "not ours");
        assert_eq!(json["time"], "2026-01-02T03:04:05Z");
    }

    #[test]
    fn case_event_round_trips() {
        let bytes = serde_json::to_vec(&sample()).expect("serializes");
        match decode(&bytes).expect("decodes") {
            Decoded::Event(event) => assert_eq!(*event, sample()),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn unknown_event_type_is_told_apart_from_garbage() {
        let mut json = serde_json::to_value(sample()).expect("serializes");
        json["type"] = "whistle.invented_later".into();
        json["data"] = serde_json::json!({"anything": 1});
        let bytes = serde_json::to_vec(&json).expect("serializes");
        assert!(matches!(decode(&bytes), Ok(Decoded::UnknownType(t)) if t == "whistle.invented_later"));
        assert!(decode(b"{not json").is_err());
        assert!(decode(br#"{"specversion":"1.0","type":"whistle.raised","data":{}}"#).is_err());
    }
}
