//! The Copr synthetic logs: statsd gives the counts Copr's hitcounter gives where Copr is
//! right, and corrected counts, each with the rule that corrects it, where Copr is wrong.
//! Copr's numbers are read from `expected-hits.json`, produced by Copr's own logic.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use statsd::report::copr_payload;
use statsd::time::parse_day;
use statsd::{CountOptions, IngestOptions, Layout, Store, ingest};

/// Copr's CDN host filter, as a per-line rule.
fn copr_hosts() -> Vec<String> {
    vec![
        "download.copr.fedorainfracloud.org".into(),
        "d1nld9ovj32u75.cloudfront.net".into(),
    ]
}

fn our_hits(dir: &Path, file: &str) -> (BTreeMap<String, i64>, statsd::FileCounts) {
    let work = tempfile::tempdir().unwrap();
    let mut store = Store::open(&work.path().join("stats.db")).unwrap();
    let options = IngestOptions {
        count: CountOptions {
            layouts: Layout::defaults(),
            hosts: copr_hosts(),
        },
        reingest: false,
        jobs: None,
        batch_cells: None,
    };
    let outcomes = ingest(&mut store, &[dir.join(file)], &options, |_| {}).unwrap();
    let counts = match outcomes.into_iter().next().unwrap() {
        statsd::FileOutcome::Ingested { counts, .. } => *counts,
        other => panic!("{file}: {other:?}"),
    };
    let day = parse_day(b"2026-08-06").unwrap();
    let payload = copr_payload(&store, day, day).unwrap();
    let hits = payload["hits"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect();
    (hits, counts)
}

fn copr_hits(expected: &serde_json::Value, file: &str) -> BTreeMap<String, i64> {
    expected[file]["hits"]
        .as_object()
        .map(|hits| {
            hits.iter()
                .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts ours == Copr's except for `corrections` (key, our count, rule).
fn assert_same_except(
    file: &str,
    copr: &BTreeMap<String, i64>,
    ours: &BTreeMap<String, i64>,
    corrections: &[(&str, i64, &str)],
) {
    let mut expected = copr.clone();
    for (key, count, _rule) in corrections {
        if *count == 0 {
            expected.remove(*key);
        } else {
            expected.insert((*key).to_owned(), *count);
        }
    }
    assert_eq!(
        ours, &expected,
        "{file}: ours vs Copr's with corrections {corrections:#?}"
    );
    for (key, count, rule) in corrections {
        assert_ne!(
            copr.get(*key).copied().unwrap_or(0),
            *count,
            "{file}: correction `{rule}` for {key} must differ from Copr"
        );
    }
}

fn synthetic() -> Option<(std::path::PathBuf, serde_json::Value)> {
    let corpus = common::shared_fixtures()?;
    let dir = corpus.join("copr/logs/synthetic");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-hits.json")).unwrap())
            .unwrap();
    Some((dir, expected))
}

#[test]
fn cloudfront_file_matches_copr_except_head_and_double_encoding() {
    let Some((dir, expected)) = synthetic() else {
        return;
    };
    let file = "E2PUZIRCXCOXTG.2026-08-06-15.0a1b2c3d";
    let (ours, counts) = our_hits(&dir, file);
    assert_same_except(
        file,
        &copr_hits(&expected, file),
        &ours,
        &[
            (
                "chroot_repo_metadata_dl_stat|frostyx|foo|fedora-42-x86_64",
                0,
                "HEAD is not a download",
            ),
            (
                "chroot_rpms_dl_stat|@copr|copr-dev|fedora-rawhide-x86_64",
                2,
                "CloudFront logs `%` as `%25`: `%2540copr` is the client's `%40copr`, i.e. `@copr`",
            ),
            (
                "project_rpms_dl_stat|@copr|copr-dev",
                2,
                "same `%2540` rule",
            ),
        ],
    );
    // What Copr leaves out is still visible: the HEAD, the bot, the mock build, the SRPM and the 404.
    let by = |kind: &str, client: &str| -> u64 {
        counts
            .rows
            .iter()
            .filter(|r| r.kind.name() == kind && r.client.name() == client)
            .map(|r| r.counts.downloads + r.counts.heads)
            .sum()
    };
    assert_eq!(by("repomd", "dnf"), 2, "one GET (hello) + one HEAD (foo)");
    assert_eq!(by("rpm", "bot"), 1);
    assert_eq!(by("rpm", "mock"), 1);
    assert_eq!(by("srpm", "curl-wget"), 1);
    assert_eq!(
        counts.rejections.get(&statsd::Rejection::ClientError),
        Some(&1)
    );
    assert_eq!(counts.rejected(), 1);
}

#[test]
fn other_cdn_host_rejects_lines_not_the_whole_file() {
    let Some((dir, expected)) = synthetic() else {
        return;
    };
    let file = "E2PUZIRCXCOXTG.2026-08-06-16.0e0f1a2b";
    assert!(expected[file]["skipped_whole_file_other_cdn_hostname"].is_string());
    let (ours, counts) = our_hits(&dir, file);
    assert!(ours.is_empty(), "{ours:?}");
    assert_eq!(
        counts.rejections.get(&statsd::Rejection::OtherHost),
        Some(&1)
    );
}

#[test]
fn lighttpd_log_matches_copr_except_206_and_304() {
    let Some((dir, expected)) = synthetic() else {
        return;
    };
    let file = "lighttpd-access.log";
    let (ours, counts) = our_hits(&dir, file);
    assert_same_except(
        file,
        &copr_hits(&expected, file),
        &ours,
        &[
            (
                "chroot_repo_metadata_dl_stat|frostyx|foo|fedora-42-x86_64",
                0,
                "304 Not Modified is not a download",
            ),
            (
                "chroot_rpms_dl_stat|frostyx|foo|fedora-42-x86_64",
                0,
                "a 206 without a range reaching the last byte is not a download",
            ),
            ("project_rpms_dl_stat|frostyx|foo", 0, "same 206 rule"),
        ],
    );
    let sum =
        |f: fn(&statsd::Counts) -> u64| -> u64 { counts.rows.iter().map(|r| f(&r.counts)).sum() };
    assert_eq!(sum(|c| c.heads), 1);
    assert_eq!(sum(|c| c.not_modified), 1);
    assert_eq!(sum(|c| c.partials), 1);
    // `%2540oamg` sent to lighttpd is the client's double encoding: both Copr and statsd drop it.
    assert_eq!(
        counts.rejections.get(&statsd::Rejection::DoubleEncodedPath),
        Some(&1)
    );
    assert_eq!(
        counts.rejections.get(&statsd::Rejection::ClientError),
        Some(&1)
    );
}
