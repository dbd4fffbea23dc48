//! Criterion benchmark of one full keystone (the work of `lockstep evidence bench`).

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lockstep_evidence::bench::{BenchState, full_keystone};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evidence");
    g.throughput(Throughput::Elements(1));
    let mut st = BenchState::default();
    let mut i = 0u64;
    g.bench_function("full_keystone", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(full_keystone(black_box(i), &mut st))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
