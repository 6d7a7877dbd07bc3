//! What each reader of a case may see: the same rules for the HTTP view
//! (`GET /api/v1/whistles/{id}`) and for every board frame (snapshot, page, event), so the two
//! cannot disagree.
//!
//! Departments, command centres and managers see a case whole ([`Visibility::Full`]). The town
//! that raised it ([`Visibility::Town`]) follows its progress — status, who holds it, every step
//! with its actor, reasons and notes, and that an inspection or a penalty (with its amount and
//! tier) took place — but not the enforcement record's particulars, which are for the officers
//! and their supervisors:
//!
//! - who was inspected or penalised: the subject's id, unified social credit code and address
//!   (the subject is sent as `{"id": "withheld"}`, [`WITHHELD`]), and the officers' notes of an
//!   inspection;
//! - override reasons of penalties that went past a fence;
//! - electronic-fence warnings altogether (`whistle.fenced`, blocked attempts included): such
//!   steps are left out of the timeline, and their `event` frames are not sent.
//!
//! A summary's `steps` counts every step of the case, also those left out; its `last_step` is
//! absent when the latest step is one the reader may not see.

use whistle_schemas::api::{CaseKind, CaseSummary, TimelineEntry, WhistleView};
use whistle_schemas::events::{ActorKind, CaseEvent, CaseEventBody, CaseParty, EnforcementSubject};
use whistle_schemas::registry::SubjectKind;

/// How much of a case a reader sees. Which role sees what is `whistle_auth`'s to say
/// (`Principal::case_visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Every field and step.
    Full,
    /// The raising town's view: no subjects, override reasons or fence warnings.
    Town,
}

/// The subject id readers with [`Visibility::Town`] get instead of the real one.
pub const WITHHELD: &str = "withheld";

impl Visibility {
    pub const ALL: [Visibility; 2] = [Visibility::Full, Visibility::Town];

    /// A short name, for logs and cache keys.
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Full => "full",
            Visibility::Town => "town",
        }
    }
}

/// Timeline steps the town's view leaves out.
const FENCED: &str = "whistle.fenced";
/// Steps whose detail names the subject (`inspected ucc:…`, `500 yuan, tier t, ucc:…`).
const INSPECTED: &str = "whistle.inspected";
const PENALISED: &str = "whistle.penalised";

/// A timeline step as `visibility` shows it; `None` when it is left out.
pub fn entry(mut entry: TimelineEntry, visibility: Visibility) -> Option<TimelineEntry> {
    match visibility {
        Visibility::Full => Some(entry),
        Visibility::Town => match entry.kind.as_str() {
            FENCED => None,
            INSPECTED => {
                entry.detail = None;
                Some(entry)
            }
            PENALISED => {
                entry.detail = entry.detail.as_deref().and_then(without_subject);
                Some(entry)
            }
            _ => Some(entry),
        },
    }
}

/// The detail of an enforcement step up to the subject id (`ucc:…` or `addr:…`, always last);
/// `None` when no subject id is found, so an unexpected format shows nothing rather than too much.
fn without_subject(detail: &str) -> Option<String> {
    let cut = ["ucc:", "addr:"].iter().filter_map(|marker| detail.find(marker)).min()?;
    let kept = detail[..cut].trim_end_matches([',', ' ']);
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// The HTTP view as `visibility` shows it. A town's own enforcement case is the town's record:
/// the town sees it whole (its party, its decision, its override reasons). A department's own
/// case (opened from the town's whistle) is the department's record: the town follows it as it
/// follows a whistle, without the party, the override reason or the fences.
pub fn view(mut view: WhistleView, visibility: Visibility) -> WhistleView {
    let departments_case = view.kind == CaseKind::Enforcement && view.department.is_some();
    if visibility != Visibility::Full && (view.kind == CaseKind::Whistle || departments_case) {
        view.timeline = std::mem::take(&mut view.timeline).into_iter().filter_map(|e| entry(e, visibility)).collect();
        view.review.clear();
    }
    if visibility != Visibility::Full && departments_case {
        for e in view.timeline.iter_mut().filter(|e| e.kind == DECIDED) {
            e.detail = e.detail.as_deref().map(|d| d.split(OVERRIDDEN).next().unwrap_or(d).to_owned());
        }
        if let Some(p) = view.procedure.as_mut() {
            p.party = withheld_party(p.party.kind);
            p.subject = withheld();
        }
    }
    view
}

/// A decision's timeline detail: `fine 500 yuan, tier t, overridden: <reason>`.
const DECIDED: &str = "case.decided";
const OVERRIDDEN: &str = ", overridden: ";

fn withheld_party(kind: SubjectKind) -> CaseParty {
    CaseParty { kind, name: WITHHELD.to_owned(), credit_code: None }
}

/// A board summary as `visibility` shows it.
pub fn summary(mut summary: CaseSummary, visibility: Visibility) -> CaseSummary {
    summary.last_step = summary.last_step.and_then(|e| entry(e, visibility));
    summary
}

/// An event as `visibility` shows it in an `event` frame; `None` when its frame is not sent.
pub fn event(mut event: CaseEvent, visibility: Visibility) -> Option<CaseEvent> {
    if visibility == Visibility::Full {
        return Some(event);
    }
    match &mut event.body {
        CaseEventBody::Inspected(i) => {
            i.subject = withheld();
            i.note = None;
        }
        CaseEventBody::Penalised(p) => {
            p.subject = withheld();
            p.override_reason = None;
        }
        CaseEventBody::Fenced(_) => return None,
        // A department's own case: its party and override reasons are the department's record.
        CaseEventBody::Registered(r) if r.department.is_some() => {
            r.party = withheld_party(r.party.kind);
            r.subject = withheld();
        }
        CaseEventBody::Decided(d) if d.actor.kind == ActorKind::Department => d.override_reason = None,
        CaseEventBody::Raised(_)
        | CaseEventBody::Dispatched(_)
        | CaseEventBody::Acknowledged(_)
        | CaseEventBody::Arrived(_)
        | CaseEventBody::Resolved(_)
        | CaseEventBody::Rejected(_)
        | CaseEventBody::Paused(_)
        | CaseEventBody::Resumed(_)
        | CaseEventBody::Transferred(_)
        | CaseEventBody::SlaScheduled(_)
        | CaseEventBody::SlaWarning(_)
        | CaseEventBody::SlaBreached(_)
        | CaseEventBody::Escalated(_)
        // Comments, confirmations and reopenings are between the town and the department.
        | CaseEventBody::Confirmed(_)
        | CaseEventBody::Reopened(_)
        | CaseEventBody::Commented(_)
        // A merge: the towns of both cases follow the surviving one.
        | CaseEventBody::Merged(_)
        | CaseEventBody::Absorbed(_)
        // The procedure's events are of a town's own enforcement case: the town's record.
        | CaseEventBody::Registered(_)
        | CaseEventBody::Persuaded(_)
        | CaseEventBody::Investigated(_)
        | CaseEventBody::Notified(_)
        | CaseEventBody::Decided(_)
        | CaseEventBody::Served(_)
        | CaseEventBody::Closed(_) => {}
        // Reviews concern what the town does not see of a whistle (overrides, fences).
        CaseEventBody::Reviewed(_) => return None,
    }
    Some(event)
}

fn withheld() -> EnforcementSubject {
    EnforcementSubject { id: WITHHELD.to_owned(), credit_code: None, address: None }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;
    use whistle_schemas::Status;
    use whistle_schemas::events::{Actor, ActorKind, CaseEventBody, FenceSeverity, Fenced, Inspected, Penalised};

    use super::*;

    fn step(kind: &str, detail: &str) -> TimelineEntry {
        TimelineEntry {
            event_id: Uuid::now_v7(),
            kind: kind.into(),
            status: Status::Acknowledged,
            time: Utc::now(),
            actor: Some(Actor::new(ActorKind::Department, "500103-EE")),
            detail: Some(detail.into()),
        }
    }

    fn subject() -> EnforcementSubject {
        EnforcementSubject {
            id: "ucc:91500103MA60XY312F".into(),
            credit_code: Some("91500103MA60XY312F".into()),
            address: Some("渝中区解放碑".into()),
        }
    }

    fn event_of(body: CaseEventBody) -> CaseEvent {
        CaseEvent::new(Uuid::now_v7(), "/test", Uuid::now_v7(), Utc::now(), body)
    }

    #[test]
    fn the_names_are_event_types() {
        for kind in [FENCED, INSPECTED, PENALISED] {
            assert!(CaseEventBody::TYPES.contains(&kind), "{kind}");
        }
    }

    #[test]
    fn a_town_sees_that_enforcement_happened_but_not_whom_it_concerned() {
        let town = Visibility::Town;
        let inspected = entry(step(INSPECTED, "inspected ucc:91500103MA60XY312F"), town).expect("shown");
        assert_eq!(inspected.detail, None);
        let penalised = entry(step(PENALISED, "5000 yuan, tier first_offence, ucc:91500103MA60XY312F"), town);
        assert_eq!(penalised.expect("shown").detail.as_deref(), Some("5000 yuan, tier first_offence"));
        let by_address = entry(step(PENALISED, "0 yuan, tier warning, addr:渝中区, 解放碑"), town);
        assert_eq!(by_address.expect("shown").detail.as_deref(), Some("0 yuan, tier warning"));
        let unknown = entry(step(PENALISED, "an unexpected format naming someone"), town);
        assert_eq!(unknown.expect("shown").detail, None, "nothing rather than too much");
        assert_eq!(entry(step(FENCED, "[fine_out_of_range] above the range"), town), None);
        let rejected = step("whistle.rejected", "not ours");
        assert_eq!(entry(rejected.clone(), town), Some(rejected.clone()), "reasons stay");
        for kind in [FENCED, INSPECTED, PENALISED] {
            let full = step(kind, "x ucc:1");
            assert_eq!(entry(full.clone(), Visibility::Full), Some(full));
        }
    }

    #[test]
    fn a_towns_events_carry_no_subject_override_reason_or_fence() {
        let actor = Actor::new(ActorKind::Department, "500103-EE");
        let inspected = event_of(CaseEventBody::Inspected(Inspected {
            actor: actor.clone(),
            subject: subject(),
            persuaded: true,
            recheck: false,
            note: Some("the manager, Mr Li, was present".into()),
        }));
        let penalised = event_of(CaseEventBody::Penalised(Penalised {
            actor: actor.clone(),
            subject: subject(),
            item: "CQ-ENV-001".into(),
            amount_yuan: 5000,
            tier: "first_offence".into(),
            range_min_yuan: 0,
            range_max_yuan: 10_000,
            override_reason: Some("the director agreed".into()),
        }));
        let fenced = event_of(CaseEventBody::Fenced(Fenced {
            rule: "fine_out_of_range".into(),
            severity: FenceSeverity::Blocked,
            message: "above the range".into(),
            action: "penalty".into(),
            actor,
            flagged: false,
            subject: Some("ucc:91500103MA60XY312F".into()),
            override_reason: None,
        }));
        for e in [&inspected, &penalised, &fenced] {
            assert_eq!(event(e.clone(), Visibility::Full).as_ref(), Some(e), "departments see it whole");
        }
        assert_eq!(event(fenced, Visibility::Town), None);
        for e in [inspected, penalised] {
            let shown = event(e, Visibility::Town).expect("sent");
            let json = serde_json::to_string(&shown).expect("json");
            for secret in ["91500103MA60XY312F", "解放碑", "Mr Li", "director"] {
                assert!(!json.contains(secret), "{secret} in {json}");
            }
            assert!(json.contains(r#""subject":{"id":"withheld"}"#), "{json}");
        }
    }
}
