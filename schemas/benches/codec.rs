//! Hot path: encoding and decoding a case event (every hop does one or the other).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uuid::Uuid;
use whistle_schemas::Location;
use whistle_schemas::events::{Actor, ActorKind, CaseEvent, CaseEventBody, Raised, decode};

fn event() -> CaseEvent {
    CaseEvent::new(
        Uuid::now_v7(),
        "/whistle/intake",
        Uuid::now_v7(),
        chrono::Utc::now(),
        CaseEventBody::Raised(Raised {
            town: "500103001".into(),
            district: "500103".into(),
            item: "CQ-ENV-001".into(),
            description: "河边有废油桶泄漏，气味刺鼻，附近有居民，需要生态环境部门尽快处置。".into(),
            location: Location {
                lat: 29.557, lon: 106.577, address: "重庆市渝中区解放碑步行街 88 号".into()
            },
            photos: vec!["https://files.example/whistle/1.jpg".into()],
            attachments: vec![],
            raised_by: Actor::new(ActorKind::Town, "500103001"),
            support: false,
            assist: Vec::new(),
            hotline: None,
        }),
    )
}

fn bench(c: &mut Criterion) {
    let e = event();
    let bytes = serde_json::to_vec(&e).expect("encodes");
    let mut group = c.benchmark_group("case_event");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(serde_json::to_vec(black_box(&e)).expect("encodes"))));
    group.bench_function("decode", |b| b.iter(|| black_box(decode(black_box(&bytes)).expect("decodes"))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
