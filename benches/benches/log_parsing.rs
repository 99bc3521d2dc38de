//! statsd's line loop on logs held in memory: `statsd::count_stream` over 20,000 generated
//! CloudFront and combined lines (parse, decode, classify, aggregate; no I/O, no SQLite).
//! Throughput is in lines; the target is ≥ 1,000,000 CloudFront lines/s on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rpmdepot_benches::logs::{LogFormat, write_log};

const LINES: u64 = 20_000;

fn log_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_parsing");
    group.throughput(Throughput::Elements(LINES));
    for (name, format) in [
        ("cloudfront", LogFormat::CloudFront),
        ("combined", LogFormat::Combined),
    ] {
        let mut log = Vec::new();
        write_log(format, 1, LINES, &mut log).expect("in-memory write");
        let options = statsd::CountOptions::default();
        group.bench_function(name, |b| {
            b.iter(|| black_box(statsd::count_stream(black_box(&log[..]), &options)));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = log_parsing
}
criterion_main!(benches);
