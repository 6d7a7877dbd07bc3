//! Hot path: who holds an item, and the routing decision, over the shipped registry.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use whistle_registry::{DistrictCode, ItemCode, Registry, TownCode, route};

fn registry() -> Registry {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
    Registry::load(&path).expect("registry loads")
}

fn bench(c: &mut Criterion) {
    let r = registry();
    let at: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().expect("time");
    let items: Vec<ItemCode> = r.items().map(|i| i.code.clone()).collect();
    let towns: Vec<TownCode> = r.towns().map(|t| t.code.clone()).collect();
    let district = DistrictCode::parse("500103").expect("district");
    c.bench_function("registry/holder_at (one item)", |b| {
        let item = ItemCode::parse("CQ-ENV-001").expect("item");
        b.iter(|| black_box(r.holder_at(black_box(&item), black_box(&district), at)))
    });
    c.bench_function("routing/route (every item, one town)", |b| {
        let town = &towns[0];
        b.iter(|| {
            for item in &items {
                black_box(route(&r, town, item, at).ok());
            }
        })
    });
    c.bench_function("routing/route (one item, every town)", |b| {
        let item = ItemCode::parse("CQ-ENV-001").expect("item");
        b.iter(|| {
            for town in &towns {
                black_box(route(&r, town, &item, at).ok());
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
