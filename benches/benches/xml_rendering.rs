//! Rendering package records as primary.xml, filelists.xml and other.xml chunks
//! (`repo_core::xml::render_primary` / `render_filelists` / `render_other`).

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use repo_core::record::PackageRecord;
use repo_core::xml::{render_filelists, render_other, render_primary};

type Render = fn(&PackageRecord, &mut String);

fn xml_rendering(c: &mut Criterion) {
    let fixtures = common::fixtures();
    let generated = common::generated();
    let fixture_records = common::records(&fixtures);
    let generated_records = common::records(&generated);
    let documents: [(&str, Render); 3] = [
        ("primary", render_primary),
        ("filelists", |r, out| render_filelists(r, false, out)),
        ("other", render_other),
    ];

    let mut group = c.benchmark_group("xml_rendering");
    let mut out = String::with_capacity(1 << 20);
    for (document, render) in documents {
        let mut inputs: Vec<(String, &[PackageRecord])> = vec![(
            format!("{document}/all {} fixtures", fixture_records.len()),
            &fixture_records[..],
        )];
        for (sample, record) in generated.iter().zip(&generated_records) {
            inputs.push((
                format!("{document}/{}", sample.label),
                std::slice::from_ref(record),
            ));
        }
        for (label, records) in inputs {
            out.clear();
            records.iter().for_each(|r| render(r, &mut out));
            group.throughput(Throughput::Bytes(out.len() as u64));
            group.bench_function(label, |b| {
                b.iter(|| {
                    out.clear();
                    for record in records {
                        render(black_box(record), &mut out);
                    }
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = xml_rendering
}
criterion_main!(benches);
