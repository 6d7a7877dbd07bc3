//! The laws of the case, and the rules that are easy to get wrong.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, DepartmentRef, Dispatched, EnforcementSubject, Inspected, Paused, Raised, SlaStage,
    SlaStageKind, Transferred,
};
use whistle_schemas::{Location, Names, Status};

use crate::limits::Limits;
use crate::{Case, Command, Ctx, Refusal, decide, evolve};

fn dept(code: &str) -> DepartmentRef {
    DepartmentRef { code: code.into(), names: Names { zh: code.into(), en: code.into() } }
}

fn officer() -> Actor {
    Actor::new(ActorKind::Department, "500103-EE")
}

fn raise() -> Command {
    Command::Raise(Raised {
        town: "500103001".into(),
        district: "500103".into(),
        item: "CQ-ENV-001".into(),
        description: "drums leaking".into(),
        location: Location { lat: 29.56, lon: 106.57, address: "x".into() },
        photos: vec![],
        raised_by: Actor::new(ActorKind::Town, "500103001"),
        support: false,
        assist: vec![],
    })
}

fn dispatch() -> Command {
    Command::Dispatch(Dispatched {
        department: dept("500103-EE"),
        district: "500103".into(),
        item: "CQ-ENV-001".into(),
        authority: None,
        triage: false,
        basis: "recovered".into(),
        registry_version: None,
        assisting: vec![],
    })
}

fn inspect() -> Command {
    Command::Inspect(Inspected {
        actor: officer(),
        subject: EnforcementSubject { id: "addr:x".into(), credit_code: None, address: Some("x".into()) },
        persuaded: false,
        note: None,
    })
}

fn stage(kind: SlaStageKind) -> SlaStage {
    SlaStage { stage: kind, deadline: Utc::now(), department: "500103-EE".into(), district: "500103".into() }
}

/// Every kind of command, with fixed contents: the sequences below explore their order.
fn command(n: u8) -> Command {
    let actor = officer();
    match n % 16 {
        0 => raise(),
        1 => dispatch(),
        2 => Command::Acknowledge { actor },
        3 => Command::Arrive { actor },
        4 => Command::Resolve { actor, note: Some("done".into()) },
        5 => Command::Reject { actor, reason: "not ours".into(), code: None },
        6 => Command::Transfer(Transferred {
            actor,
            to: dept("500103-UM"),
            reason: "street vending".into(),
            triage: false,
        }),
        7 => Command::Transfer(Transferred {
            actor: Actor::new(ActorKind::System, "router"),
            to: dept("500103-CC"),
            reason: "returned".into(),
            triage: true,
        }),
        8 => Command::Pause(Paused { actor, reason: "owner away".into() }),
        9 => Command::Resume { actor },
        10 => Command::WarnSla(stage(SlaStageKind::Acknowledge)),
        11 => Command::BreachSla(stage(SlaStageKind::Arrive)),
        12 => inspect(),
        13 => Command::Reject {
            actor: Actor::new(ActorKind::System, "router"),
            reason: "the town holds it".into(),
            code: Some("town_holds_item".into()),
        },
        14 => Command::Fence(whistle_schemas::events::Fenced {
            rule: "multi_department_inspection".into(),
            severity: whistle_schemas::events::FenceSeverity::Warning,
            message: "inspected twice this week".into(),
            action: "inspect".into(),
            actor,
            flagged: false,
            subject: None,
            override_reason: None,
        }),
        _ => Command::Arrive { actor },
    }
}

fn ctx(n: usize, subject: Uuid, limits: Limits) -> Ctx {
    Ctx {
        event_id: Uuid::from_u128(n as u128 + 1),
        subject,
        now: Utc.timestamp_opt(1_700_000_000 + n as i64, 0).single().expect("time"),
        source: "/test",
        limits,
    }
}

/// Refusals that are about the command, not the case's history: the log could hold the event.
fn command_only(r: &Refusal) -> bool {
    matches!(r, Refusal::LimitReached { .. } | Refusal::SameDepartment(_))
}

proptest! {
    #[test]
    fn accepted_commands_replay_to_the_same_case_and_refused_ones_change_nothing(
        seq in proptest::collection::vec(0u8..16, 1..60),
        tight in any::<bool>(),
    ) {
        let subject = Uuid::from_u128(7);
        // Small limits in half the runs, so limits are reached too.
        let limits = if tight { Limits { enforcement_records: 2, pauses: 1, transfers: 1 } } else { Limits::default() };
        let mut case: Option<Case> = None;
        let mut log: Vec<CaseEvent> = Vec::new();
        for (i, n) in std::iter::once(0).chain(seq).enumerate() {
            let before = case.clone();
            let cmd = command(n);
            match decide(case.as_ref(), cmd.clone(), &ctx(i, subject, limits)) {
                Ok(events) => {
                    for e in events {
                        case = Some(evolve(case.take(), &e).expect("an accepted event evolves the case it was decided on"));
                        log.push(e);
                    }
                }
                Err(refusal) => {
                    prop_assert_eq!(&case, &before);
                    if !command_only(&refusal) {
                        // The projection refuses what intake refuses.
                        let e = CaseEvent::new(Uuid::from_u128(9_999), "/test", subject, Utc::now(), cmd.into_body());
                        prop_assert!(evolve(case.clone(), &e).is_err(), "decide refused but evolve accepts: {refusal}");
                    }
                }
            }
        }
        let replayed = log.iter().try_fold(None, |c: Option<Case>, e| evolve(c, e).map(Some));
        prop_assert_eq!(replayed.expect("the log replays"), case.clone());
        if let Some(case) = &case {
            prop_assert_eq!(case.timeline.len(), log.len());
            // Stored as the HTTP view's shape.
            prop_assert_eq!(serde_json::to_value(case).expect("json"), serde_json::to_value(case.view()).expect("json"));
            let back: Case = serde_json::from_value(serde_json::to_value(case.view()).expect("json")).expect("decodes");
            prop_assert_eq!(&back, case);
        }
    }
}

fn walk(cmds: Vec<Command>) -> Case {
    let subject = Uuid::from_u128(7);
    let mut case = None;
    for (i, cmd) in cmds.into_iter().enumerate() {
        for e in decide(case.as_ref(), cmd, &ctx(i, subject, Limits::default())).expect("accepted") {
            case = Some(evolve(case, &e).expect("evolves"));
        }
    }
    case.expect("raised")
}

#[test]
fn enforcement_records_stop_at_the_limit_with_case_limit_reached_and_closing_still_works() {
    let mut case = walk(vec![raise(), dispatch(), Command::Acknowledge { actor: officer() }]);
    let limits = Limits::default();
    for i in 0..limits.enforcement_records {
        let events = decide(Some(&case), inspect(), &ctx(100 + i, case.id, limits)).expect("under the limit");
        case = evolve(Some(case), &events[0]).expect("evolves");
    }
    let refused = decide(Some(&case), inspect(), &ctx(9_000, case.id, limits)).expect_err("at the limit");
    assert_eq!(refused.code(), "case_limit_reached");
    assert!(refused.to_string().contains("200"), "{refused}");
    // The case can still be closed.
    let events = decide(Some(&case), Command::Resolve { actor: officer(), note: None }, &ctx(9_001, case.id, limits))
        .expect("resolving is never refused for a limit");
    assert_eq!(evolve(Some(case), &events[0]).expect("evolves").status, Status::Resolved);
}

#[test]
fn a_transfer_to_the_owner_itself_is_refused_and_a_returned_case_is_rerouted_once() {
    let case = walk(vec![raise(), dispatch()]);
    let same =
        Command::Transfer(Transferred { actor: officer(), to: dept("500103-EE"), reason: "x".into(), triage: false });
    assert_eq!(
        decide(Some(&case), same, &ctx(50, case.id, Limits::default())),
        Err(Refusal::SameDepartment("500103-EE".into()))
    );
    let returned = walk(vec![raise(), dispatch(), command(5), command(7)]);
    assert_eq!(returned.status, Status::Dispatched);
    assert_eq!(returned.department.as_ref().map(|d| d.code.as_str()), Some("500103-CC"));
}

#[test]
fn refusals_say_what_and_why_as_the_api_did() {
    let case = walk(vec![raise(), dispatch()]);
    let err = decide(Some(&case), Command::Arrive { actor: officer() }, &ctx(60, case.id, Limits::default()))
        .expect_err("not acknowledged yet");
    assert_eq!(err.to_string(), "cannot arrive at a whistle that is dispatched");
    assert_eq!(err.code(), "invalid_transition");
    let err = decide(None, Command::Acknowledge { actor: officer() }, &ctx(61, case.id, Limits::default()))
        .expect_err("never raised");
    assert_eq!(err.to_string(), "whistle.acknowledged for a whistle that was never raised");
}

#[test]
fn a_towns_view_and_summary_leave_out_fences_and_subjects_the_departments_keep() {
    use crate::Visibility;
    // inspect() names the subject `addr:x`; command(14) is a fence warning.
    let case = walk(vec![raise(), dispatch(), Command::Acknowledge { actor: officer() }, inspect(), command(14)]);
    let full = case.view_for(Visibility::Full);
    assert_eq!(full, case.view());
    let town = case.view_for(Visibility::Town);
    let kinds: Vec<&str> = town.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["whistle.raised", "whistle.dispatched", "whistle.acknowledged", "whistle.inspected"]);
    assert!(!serde_json::to_string(&town).expect("json").contains("addr:x"));
    assert!(serde_json::to_string(&full).expect("json").contains("addr:x"));
    assert!(full.timeline.iter().any(|e| e.kind == "whistle.fenced"));

    // The summary: the latest step is the fence, which the town does not see.
    let summary = case.summary();
    assert_eq!(crate::visibility::summary(summary.clone(), Visibility::Full), summary);
    let town_summary = crate::visibility::summary(summary.clone(), Visibility::Town);
    assert_eq!((town_summary.last_step, town_summary.steps), (None, summary.steps));
    let after_inspection = walk(vec![raise(), dispatch(), Command::Acknowledge { actor: officer() }, inspect()]);
    let shown = crate::visibility::summary(after_inspection.summary(), Visibility::Town);
    let last = shown.last_step.expect("an inspection is shown");
    assert_eq!((last.kind.as_str(), last.detail), ("whistle.inspected", None));
}
