//! Every sample log of the shared corpus is read without panics, its format recognised (or
//! every line rejected as `unknown_format` for formats statsd does not read), and counted as
//! the golden file says.

mod common;

use std::fmt::Write as _;

use statsd::{CountOptions, count_file};

#[test]
fn every_shared_sample_parses_as_the_golden_file_says() {
    let Some(corpus) = common::shared_fixtures() else {
        return;
    };
    let mut names: Vec<_> = std::fs::read_dir(corpus.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "SOURCES.txt")
        .collect();
    names.sort();
    assert!(
        names.len() >= 15,
        "expected the 15+ samples, found {names:?}"
    );
    let mut report = String::new();
    for name in names {
        let (compression, counts) =
            count_file(&corpus.join("logs").join(&name), &CountOptions::default()).unwrap();
        let _ = writeln!(
            report,
            "{name}: {} {} lines={} requests={} downloads={}",
            compression.name(),
            counts.format.map_or("unrecognised", |f| f.name()),
            counts.lines,
            counts.requests,
            counts.downloads()
        );
        for (rejection, n) in &counts.rejections {
            let _ = writeln!(report, "  rejected {}: {n}", rejection.name());
        }
        for (why, n) in &counts.not_counted {
            let _ = writeln!(report, "  not counted {}: {n}", why.name());
        }
        for row in &counts.rows {
            let c = row.counts;
            let _ = writeln!(
                report,
                "  {} {} {} {} {} range_end={} downloads={} heads={} not_modified={} partials={} aborted={}",
                statsd::time::format_day(row.day),
                row.repository,
                row.package,
                row.kind.name(),
                row.client.name(),
                row.range_end,
                c.downloads,
                c.heads,
                c.not_modified,
                c.partials,
                c.aborted
            );
        }
    }
    common::assert_golden("samples.txt", &report);
}
