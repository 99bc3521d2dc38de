//! Reading RPM headers and building package records: `repo_core::header::read_headers` plus
//! `repo_core::record::PackageRecord::from_headers`, on bytes held in memory.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use repo_core::header::read_headers;
use repo_core::record::PackageRecord;

use common::{CHANGELOG_LIMIT, Sample};

fn parse(sample: &Sample) -> PackageRecord {
    let headers = read_headers(&mut &sample.headers[..]).expect("valid headers");
    PackageRecord::from_headers(&headers, sample.facts.clone(), CHANGELOG_LIMIT)
        .expect("accepted package")
}

fn header_parsing(c: &mut Criterion) {
    let fixtures = common::fixtures();
    let generated = common::generated();
    let mut group = c.benchmark_group("header_parsing");

    let fixture_bytes: usize = fixtures.iter().map(|s| s.headers.len()).sum();
    group.throughput(Throughput::Bytes(fixture_bytes as u64));
    group.bench_function(format!("all {} fixtures", fixtures.len()), |b| {
        b.iter(|| {
            for sample in &fixtures {
                black_box(parse(black_box(sample)));
            }
        })
    });

    for sample in &generated {
        group.throughput(Throughput::Bytes(sample.headers.len() as u64));
        group.bench_function(&sample.label, |b| {
            b.iter(|| black_box(parse(black_box(sample))))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = header_parsing
}
criterion_main!(benches);
