//! Hot path: arming a case's timers (dispatch) and re-arming them after an acknowledgement.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;
use whistle_schemas::Names;
use whistle_schemas::events::{
    Acted, Actor, ActorKind, Authority, CaseEvent, CaseEventBody, DepartmentRef, Dispatched,
};
use whistle_sla::case::CaseSla;
use whistle_sla::policy::Policies;

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/sla.json");
    let policies = Policies::load(&path).expect("policy loads");
    let policy = policies.by_name("default");
    let calendar = policies.calendar("500103");
    let at = "2026-11-26T02:00:00Z".parse().expect("time");
    let dispatched = CaseEvent::new(
        Uuid::now_v7(),
        "/bench",
        Uuid::now_v7(),
        at,
        CaseEventBody::Dispatched(Dispatched {
            department: DepartmentRef { code: "500103-EE".into(), names: Names { zh: "x".into(), en: "x".into() } },
            district: "500103".into(),
            item: "CQ-ENV-001".into(),
            authority: Some(Authority::Recovered),
            triage: false,
            basis: "x".into(),
            registry_version: None,
            assisting: Vec::new(),
        }),
    );
    let fired = BTreeSet::new();
    c.bench_function("sla/arm (dispatch: clocks + 12 timers, business calendar)", |b| {
        b.iter(|| {
            let case = CaseSla::dispatched(black_box(&dispatched), 0, "500103-EE", "500103", "CQ-ENV-001", policy);
            black_box(case.timers(policy, calendar, &fired))
        })
    });
    let ack = CaseEvent::new(
        Uuid::now_v7(),
        "/bench",
        dispatched.subject,
        at + chrono::Duration::minutes(4),
        CaseEventBody::Acknowledged(Acted { actor: Actor::new(ActorKind::Department, "500103-EE") }),
    );
    c.bench_function("sla/cancel (acknowledge: stop a clock, re-arm the rest)", |b| {
        let case = CaseSla::dispatched(&dispatched, 0, "500103-EE", "500103", "CQ-ENV-001", policy);
        b.iter(|| {
            let mut case = case.clone();
            case.apply(black_box(&ack), calendar);
            black_box(case.timers(policy, calendar, &fired))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
