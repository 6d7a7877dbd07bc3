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
        attachments: vec![],
        raised_by: Actor::new(ActorKind::Town, "500103001"),
        support: false,
        assist: vec![],
        hotline: None,
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
        recheck: false,
        note: None,
    })
}

fn town_officer() -> Actor {
    Actor::new(ActorKind::Town, "500103001")
}

fn register() -> Command {
    use whistle_schemas::events::{CaseParty, Registered};
    use whistle_schemas::registry::SubjectKind;
    Command::Register(Registered {
        town: "500103001".into(),
        district: "500103".into(),
        item: "CQ-FIRE-002".into(),
        description: "fire exit blocked by boxes".into(),
        location: Location { lat: 29.56, lon: 106.57, address: "x".into() },
        party: CaseParty {
            kind: SubjectKind::Unit,
            name: "某商贸有限公司".into(),
            credit_code: Some("91500103MA60XY312F".into()),
        },
        subject: EnforcementSubject {
            id: "ucc:91500103MA60XY312F".into(),
            credit_code: Some("91500103MA60XY312F".into()),
            address: None,
        },
        attachments: vec![],
        registered_by: town_officer(),
        from_whistle: None,
        department: None,
    })
}

fn decision(fine: u64, reason: Option<&str>) -> Command {
    use whistle_schemas::events::{BenchmarkApplied, Decided, DecisionOutcome};
    use whistle_schemas::registry::StatutoryRange;
    Command::Decide(Decided {
        actor: town_officer(),
        outcome: DecisionOutcome::Fine,
        fine_yuan: Some(fine),
        statutory: Some(StatutoryRange { warning: false, min_yuan: 5000, max_yuan: 50_000 }),
        benchmark: Some(BenchmarkApplied {
            tier: "first_offence".into(),
            action: "fine".into(),
            min_yuan: 5000,
            max_yuan: 10_000,
        }),
        override_reason: reason.map(str::to_owned),
    })
}

fn investigate(officers: &[&str]) -> Command {
    Command::Investigate(whistle_schemas::events::Investigated {
        actor: town_officer(),
        officers: officers.iter().map(|o| (*o).to_owned()).collect(),
        evidence: "photos and a statement".into(),
        attachments: vec![],
    })
}

fn stage(kind: SlaStageKind) -> SlaStage {
    SlaStage { stage: kind, deadline: Utc::now(), department: "500103-EE".into(), district: "500103".into() }
}

/// Every kind of command, with fixed contents: the sequences below explore their order.
fn command(n: u8) -> Command {
    let actor = officer();
    use whistle_schemas::events::{Commented, Confirmed, Notified, Persuaded, PersuasionOutcome, Reopened, Reviewed};
    match n % KINDS {
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
        15 => register(),
        16 => Command::Persuade(Persuaded { actor: town_officer(), outcome: PersuasionOutcome::Complied, note: None }),
        17 => Command::Persuade(Persuaded { actor: town_officer(), outcome: PersuasionOutcome::Refused, note: None }),
        18 => investigate(&["500103001-01", "500103001-02"]),
        19 => investigate(&["500103001-01", "500103001-01"]),
        20 => Command::Notify(Notified { actor: town_officer(), intended: "a fine of 8,000 yuan".into() }),
        21 => decision(8000, None),
        22 => decision(20_000, None),
        23 => decision(20_000, Some("a large site, many exits blocked")),
        24 => Command::Serve { actor: town_officer() },
        25 => Command::Close { actor: town_officer(), note: None },
        26 => Command::Confirm(Confirmed { actor: town_officer(), rating: 4, comment: None, deemed: false }),
        27 => Command::Reopen(Reopened {
            actor: town_officer(),
            reason: "still leaking".into(),
            department: dept("500103-EE"),
            district: "500103".into(),
            item: "CQ-ENV-001".into(),
        }),
        28 => Command::Comment(Commented { actor: town_officer(), text: "the owner is back at 3 pm".into() }),
        29 => Command::Review(Reviewed {
            actor: Actor::person(ActorKind::Supervisor, "500103", "supervisor-500103", "supervisor"),
            // The event id ctx() gives the 24th command, often an overridden decision.
            step: Uuid::from_u128(24),
            verdict: whistle_schemas::events::Verdict::Upheld,
            note: None,
        }),
        30 => Command::Merge(whistle_schemas::events::Merged {
            actor,
            into: Uuid::from_u128(777),
            into_town: "500103002".into(),
        }),
        31 => Command::Absorb(whistle_schemas::events::Absorbed {
            actor,
            merged: Uuid::from_u128(778),
            town: "500103002".into(),
        }),
        _ => Command::Arrive { actor },
    }
}

/// How many kinds of command [`command`] makes.
const KINDS: u8 = 32;

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

#[test]
fn a_town_case_walks_the_procedure_and_refuses_steps_out_of_order() {
    use whistle_schemas::api::CaseKind;
    use whistle_schemas::events::{Notified, Persuaded, PersuasionOutcome};
    let notify = || Command::Notify(Notified { actor: town_officer(), intended: "a fine".into() });
    let refused = |case: &Case, cmd: Command| decide(Some(case), cmd, &ctx(500, case.id, Limits::default()));

    let case = walk(vec![register()]);
    assert_eq!((case.status, case.kind), (Status::Registered, CaseKind::Enforcement));
    let err = refused(&case, notify()).expect_err("no investigation yet");
    assert_eq!(err.code(), "invalid_transition");
    assert!(err.to_string().contains("after the investigation"), "{err}");
    assert_eq!(
        refused(&case, investigate(&["a-01", "a-01"])).expect_err("one officer").code(),
        "two_officers_required"
    );

    let persuaded =
        Command::Persuade(Persuaded { actor: town_officer(), outcome: PersuasionOutcome::Refused, note: None });
    let case = walk(vec![register(), persuaded, investigate(&["500103001-01", "500103001-02"]), notify()]);
    assert_eq!(case.status, Status::Notified);
    assert_eq!(
        refused(&case, decision(4000, Some("any reason"))).expect_err("unlawful").code(),
        "outside_statutory_range"
    );
    assert_eq!(refused(&case, decision(20_000, None)).expect_err("off the tier").code(), "override_reason_required");
    assert!(refused(&case, Command::Serve { actor: town_officer() }).is_err(), "nothing decided to serve");

    let case = walk(vec![
        register(),
        investigate(&["500103001-01", "500103001-02"]),
        notify(),
        decision(20_000, Some("many exits blocked")),
        Command::Serve { actor: town_officer() },
        Command::Close { actor: town_officer(), note: None },
    ]);
    assert_eq!(case.status, Status::Closed);
    assert!(case.status.is_terminal());
    let procedure = case.procedure.as_ref().expect("a procedure");
    assert!(procedure.decision.as_ref().is_some_and(|d| d.overridden));
    assert_eq!(case.review.len(), 1, "the override awaits a supervisor");
    let decided = case.timeline.iter().find(|t| t.kind == "case.decided").expect("on the timeline");
    assert_eq!(case.review[0], decided.event_id);
    assert!(decided.detail.as_deref().is_some_and(|d| d.contains("overridden: many exits blocked")), "{decided:?}");

    // A whistle has no procedure steps; an enforcement case is not confirmed or reopened.
    let whistle = walk(vec![raise()]);
    assert_eq!(refused(&whistle, notify()).expect_err("a whistle").code(), "invalid_transition");
    assert!(refused(&case, command(26)).is_err());
}

#[test]
fn a_resolved_whistle_is_confirmed_or_reopened_to_its_department_and_a_review_clears_the_flag() {
    let ack = || Command::Acknowledge { actor: officer() };
    let resolved = walk(vec![raise(), dispatch(), ack(), Command::Resolve { actor: officer(), note: None }]);
    let reopened =
        walk(vec![raise(), dispatch(), ack(), Command::Resolve { actor: officer(), note: None }, command(27)]);
    assert_eq!(reopened.status, Status::Dispatched);
    assert_eq!(reopened.reopens, 1);
    assert_eq!(reopened.department.as_ref().map(|d| d.code.as_str()), Some("500103-EE"));
    let confirmed =
        walk(vec![raise(), dispatch(), ack(), Command::Resolve { actor: officer(), note: None }, command(26)]);
    assert_eq!(confirmed.confirmation.as_ref().map(|c| c.rating), Some(4));
    let err = decide(Some(&confirmed), command(27), &ctx(600, confirmed.id, Limits::default())).expect_err("confirmed");
    assert_eq!(err.code(), "invalid_transition");
    assert!(
        decide(Some(&resolved), command(29), &ctx(601, resolved.id, Limits::default())).is_err(),
        "nothing flagged"
    );
    let open = walk(vec![raise(), dispatch()]);
    assert!(decide(Some(&open), command(26), &ctx(602, open.id, Limits::default())).is_err(), "not resolved yet");
}

proptest! {
    #[test]
    fn accepted_commands_replay_to_the_same_case_and_refused_ones_change_nothing(
        seq in proptest::collection::vec(0u8..KINDS, 1..60),
        tight in any::<bool>(),
        enforcement in any::<bool>(),
    ) {
        let subject = Uuid::from_u128(7);
        // Small limits in half the runs, so limits are reached too.
        let limits = if tight { Limits { enforcement_records: 2, pauses: 1, transfers: 1, comments: 1, reopens: 1, reviews: 1, merged: 1 } } else { Limits::default() };
        let mut case: Option<Case> = None;
        let mut log: Vec<CaseEvent> = Vec::new();
        // Half the runs are whistles, half town enforcement cases (command 15 registers one).
        for (i, n) in std::iter::once(if enforcement { 15 } else { 0 }).chain(seq).enumerate() {
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

#[test]
fn a_town_cases_attachments_are_the_registrations_then_the_investigations() {
    let mut registered = register();
    if let Command::Register(r) = &mut registered {
        r.attachments = vec!["a1".into(), "a2".into()];
    }
    let mut investigated = investigate(&["500103001-01", "500103001-02"]);
    if let Command::Investigate(i) = &mut investigated {
        i.attachments = vec!["a2".into(), "a3".into()];
    }
    let case = walk(vec![registered, investigated]);
    assert_eq!(case.attachments, ["a1", "a2", "a3"]);
    assert_eq!(case.procedure.as_ref().expect("procedure").attachments, ["a1", "a2"], "as registered");
}

#[test]
fn a_merged_whistle_is_terminal_and_its_survivor_lists_it_once() {
    let refused = |case: &Case, cmd: Command| decide(Some(case), cmd, &ctx(500, case.id, Limits::default()));
    let ack = || Command::Acknowledge { actor: officer() };
    let merge = |into: u128| {
        Command::Merge(whistle_schemas::events::Merged {
            actor: officer(),
            into: Uuid::from_u128(into),
            into_town: "500103002".into(),
        })
    };
    let merged = walk(vec![raise(), dispatch(), ack(), merge(9)]);
    assert_eq!(merged.status, Status::Merged);
    assert!(merged.status.is_terminal());
    assert_eq!(merged.merged_into.as_ref().map(|m| (m.id, m.town.as_str())), Some((Uuid::from_u128(9), "500103002")));
    assert!(merged.deadlines.is_none() && merged.overdue.is_empty());
    for command in [ack(), Command::Resolve { actor: officer(), note: None }, merge(10)] {
        assert!(refused(&merged, command).is_err(), "a merged whistle takes no more actions");
    }
    // Into itself: refused before anything is recorded.
    let open = walk(vec![raise(), dispatch()]);
    assert!(matches!(refused(&open, merge(open.id.as_u128())), Err(Refusal::CannotMergeInto { .. })));

    let absorb = |merged: u128| {
        Command::Absorb(whistle_schemas::events::Absorbed {
            actor: officer(),
            merged: Uuid::from_u128(merged),
            town: "500103002".into(),
        })
    };
    let survivor = walk(vec![raise(), dispatch(), absorb(5)]);
    assert_eq!(survivor.status, Status::Dispatched, "the survivor carries on");
    assert_eq!(survivor.merged.len(), 1);
    assert!(refused(&survivor, absorb(5)).is_err(), "the same whistle is not merged in twice");
    let resolved = walk(vec![raise(), dispatch(), ack(), Command::Resolve { actor: officer(), note: None }]);
    assert!(refused(&resolved, absorb(5)).is_err(), "nothing is merged into a closed case");
}
