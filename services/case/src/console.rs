//! What the console needs to know of the rules, generated from them (`cargo xtask schemas`
//! writes `services/console/src/generated/names.ts`): the names of [`whistle_schemas::typescript`]
//! and, per department action, the statuses it is allowed from — found by asking [`crate::decide`]
//! on a case in each status, so the buttons a board shows are the ones the API accepts.

use chrono::{TimeZone, Utc};
use uuid::Uuid;
use whistle_schemas::events::{
    Actor, ActorKind, DepartmentRef, Dispatched, EnforcementSubject, Inspected, Merged, Paused, Penalised, Raised,
    Transferred,
};
use whistle_schemas::{Location, Names, Status};

use crate::limits::Limits;
use crate::{Case, Command, Ctx, decide, evolve};

fn department(code: &str) -> DepartmentRef {
    DepartmentRef { code: code.into(), names: Names { zh: code.into(), en: code.into() } }
}

fn officer() -> Actor {
    Actor::new(ActorKind::Department, "500103-EE")
}

/// The commands a department's officer sends, by the API's action name.
fn department_commands() -> Vec<(&'static str, Command)> {
    let subject = EnforcementSubject { id: "addr:x".into(), credit_code: None, address: Some("x".into()) };
    vec![
        ("acknowledge", Command::Acknowledge { actor: officer() }),
        ("arrive", Command::Arrive { actor: officer() }),
        ("resolve", Command::Resolve { actor: officer(), note: None }),
        ("reject", Command::Reject { actor: officer(), reason: "x".into(), code: None }),
        (
            "transfer",
            Command::Transfer(Transferred {
                actor: officer(),
                to: department("500103-UM"),
                reason: "x".into(),
                triage: false,
            }),
        ),
        ("pause", Command::Pause(Paused { actor: officer(), reason: "x".into() })),
        ("merge", Command::Merge(Merged { actor: officer(), into: Uuid::from_u128(2), into_town: "500103002".into() })),
        (
            "inspect",
            Command::Inspect(Inspected {
                actor: officer(),
                subject: subject.clone(),
                persuaded: false,
                recheck: false,
                note: None,
            }),
        ),
        (
            "penalty",
            Command::Penalise(Penalised {
                actor: officer(),
                subject,
                item: "CQ-ENV-001".into(),
                amount_yuan: 1000,
                tier: "ordinary".into(),
                range_min_yuan: 0,
                range_max_yuan: 10_000,
                override_reason: None,
            }),
        ),
    ]
}

/// A case walked to each status a department sees (dispatched and after).
fn cases_by_status() -> Vec<Case> {
    let ctx = |n: u128| Ctx {
        event_id: Uuid::from_u128(n),
        subject: Uuid::from_u128(1),
        now: Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default(),
        source: "/console",
        limits: Limits::default(),
    };
    let step = |case: Option<&Case>, cmd: Command, n: u128| -> Option<Case> {
        let events = decide(case, cmd, &ctx(n)).ok()?;
        events.iter().try_fold(case.cloned(), |c, e| evolve(c, e).ok().map(Some)).flatten()
    };
    let raise = Command::Raise(Raised {
        town: "500103001".into(),
        district: "500103".into(),
        item: "CQ-ENV-001".into(),
        description: "x".into(),
        location: Location { lat: 29.5, lon: 106.5, address: "x".into() },
        photos: vec![],
        attachments: vec![],
        raised_by: Actor::new(ActorKind::Town, "500103001"),
        support: false,
        assist: vec![],
        hotline: None,
    });
    let dispatch = Command::Dispatch(Dispatched {
        department: department("500103-EE"),
        district: "500103".into(),
        item: "CQ-ENV-001".into(),
        authority: None,
        triage: false,
        basis: "x".into(),
        registry_version: None,
        assisting: vec![],
    });
    let raised = step(None, raise, 1);
    let dispatched = step(raised.as_ref(), dispatch, 2);
    let acknowledged = step(dispatched.as_ref(), Command::Acknowledge { actor: officer() }, 3);
    let on_site = step(acknowledged.as_ref(), Command::Arrive { actor: officer() }, 4);
    let resolved = step(on_site.as_ref(), Command::Resolve { actor: officer(), note: None }, 5);
    let rejected = step(dispatched.as_ref(), Command::Reject { actor: officer(), reason: "x".into(), code: None }, 6);
    [dispatched, acknowledged, on_site, resolved, rejected].into_iter().flatten().collect()
}

/// Per department action, the statuses `decide` accepts it from (on a case that is not paused).
pub fn department_actions() -> Vec<(&'static str, Vec<Status>)> {
    let cases = cases_by_status();
    department_commands()
        .into_iter()
        .map(|(name, cmd)| {
            let ctx = Ctx {
                event_id: Uuid::from_u128(99),
                subject: Uuid::from_u128(1),
                now: Utc.timestamp_opt(1_700_000_100, 0).single().unwrap_or_default(),
                source: "/console",
                limits: Limits::default(),
            };
            let from = cases.iter().filter(|c| decide(Some(c), cmd.clone(), &ctx).is_ok()).map(|c| c.status).collect();
            (name, from)
        })
        .collect()
}

/// `services/console/src/generated/names.ts`.
pub fn console_names() -> String {
    let mut out = whistle_schemas::typescript();
    out.push_str(
        "\n/** Per department action, the statuses the API accepts it from (found by asking the case's rules). */\n\
         export const DEPARTMENT_ACTIONS = {\n",
    );
    for (name, from) in department_actions() {
        let list: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        out.push_str(&format!("  {name}: [{}],\n", list.join(", ")));
    }
    out.push_str("} as const satisfies Record<string, readonly Status[]>;\nexport type DepartmentAction = keyof typeof DEPARTMENT_ACTIONS;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_actions_follow_the_status_model() {
        let actions: std::collections::HashMap<_, _> = department_actions().into_iter().collect();
        use Status::*;
        assert_eq!(actions["acknowledge"], [Dispatched]);
        assert_eq!(actions["arrive"], [Acknowledged]);
        assert_eq!(actions["resolve"], [Acknowledged, OnSite]);
        assert_eq!(actions["reject"], [Dispatched, Acknowledged]);
        assert_eq!(actions["transfer"], [Dispatched, Acknowledged, OnSite]);
        assert_eq!(actions["pause"], [Dispatched, Acknowledged, OnSite]);
        assert_eq!(actions["inspect"], [Acknowledged, OnSite]);
        assert_eq!(actions["merge"], [Dispatched, Acknowledged, OnSite]);
    }

    #[test]
    fn the_consoles_generated_names_match_the_rules() {
        let path =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(whistle_schemas::TYPESCRIPT_PATH);
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(actual == console_names(), "{} is stale or missing: run `cargo xtask schemas`", path.display());
    }
}
