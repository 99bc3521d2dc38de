//! Exactly-once ingest: re-ingest is a no-op, `--reingest` replaces, a crash mid-file commits
//! nothing, resumed downloads count once whatever the file order, hostile input never aborts
//! a file, and splitting a log into many files changes no count.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use statsd::report::{Filter, Period, downloads};
use statsd::{CountOptions, FileOutcome, IngestOptions, Rejection, Store, ingest};

const FIELDS: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n";

/// One CloudFront line.
#[allow(clippy::too_many_arguments)]
fn cf(
    date: &str,
    method: &str,
    path: &str,
    status: u16,
    agent: &str,
    sent: u64,
    length: u64,
    range: Option<(u64, u64)>,
) -> String {
    let (start, end) = range.map_or(("-".to_owned(), "-".to_owned()), |(s, e)| {
        (s.to_string(), e.to_string())
    });
    format!(
        "{date}\t12:00:00\tFRA56-P4\t{sent}\t192.0.2.1\t{method}\td1.cloudfront.net\t{path}\t{status}\t-\t{agent}\t-\t-\tHit\tid\tdownload.example\thttps\t210\t0.012\t-\tTLSv1.3\tTLS\tHit\tHTTP/2.0\t-\t-\t51234\t0.012\tHit\tapplication/x-rpm\t{length}\t{start}\t{end}\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(store: &mut Store, paths: &[PathBuf], reingest: bool) -> Vec<FileOutcome> {
    run_batched(store, paths, reingest, None)
}

fn run_batched(
    store: &mut Store,
    paths: &[PathBuf],
    reingest: bool,
    batch_cells: Option<usize>,
) -> Vec<FileOutcome> {
    let options = IngestOptions {
        count: CountOptions::default(),
        reingest,
        jobs: None,
        batch_cells,
    };
    ingest(store, paths, &options, |_| {}).unwrap()
}

/// Every counter of every cell, sorted, for comparing databases.
fn dump(store: &Store) -> Vec<String> {
    let mut statement = store
        .connection()
        .prepare(
            "SELECT day, repository, package, kind, client, range_end, downloads, bytes, heads, not_modified, partials, aborted
             FROM daily_counts ORDER BY 1, 2, 3, 4, 5, 6",
        )
        .unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((0..12)
                .map(|i| {
                    row.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<rusqlite::Result<Vec<_>>>()?
                .join(" "))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn total_downloads(store: &Store) -> u64 {
    downloads(store, Period::Day, &Filter::default())
        .unwrap()
        .iter()
        .map(|r| r.downloads)
        .sum()
}

const RPM: &str = "/results/o/p/fedora-42-x86_64/01-hello/hello-1-1.fc42.x86_64.rpm";

fn sample_log() -> String {
    let mut text = String::from(FIELDS);
    text += &cf("2026-08-06", "GET", RPM, 200, "libdnf", 1100, 1000, None);
    text += &cf("2026-08-06", "GET", RPM, 200, "libdnf", 600, 1000, None); // aborted
    text += &cf("2026-08-07", "HEAD", RPM, 200, "libdnf", 300, 1000, None);
    text += &cf("2026-08-07", "GET", RPM, 304, "libdnf", 300, 0, None);
    text
}

#[test]
fn ingesting_again_is_a_noop_and_reingest_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(dir.path(), "a.log", &sample_log());
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert!(matches!(
        run(&mut store, std::slice::from_ref(&log), false)[0],
        FileOutcome::Ingested {
            replaced: false,
            ..
        }
    ));
    let once = dump(&store);
    assert_eq!(total_downloads(&store), 1);
    assert!(matches!(
        run(&mut store, std::slice::from_ref(&log), false)[0],
        FileOutcome::AlreadyIngested { .. }
    ));
    // The same file twice in one run is ingested once.
    let outcomes = run(&mut store, &[log.clone(), log.clone()], false);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, FileOutcome::AlreadyIngested { .. }))
    );
    assert_eq!(dump(&store), once);
    assert!(matches!(
        run(&mut store, std::slice::from_ref(&log), true)[0],
        FileOutcome::Ingested { replaced: true, .. }
    ));
    assert_eq!(dump(&store), once);
    let files: i64 = store
        .connection()
        .query_row("SELECT COUNT(*) FROM ingested_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 1);
}

#[test]
fn resumed_download_counts_once_in_any_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let full = write(
        dir.path(),
        "full.log",
        &format!(
            "{FIELDS}{}",
            cf("2026-08-06", "GET", RPM, 200, "libdnf", 1100, 1000, None)
        ),
    );
    let mut partial_text = String::from(FIELDS);
    partial_text += &cf(
        "2026-08-07",
        "GET",
        RPM,
        206,
        "libdnf",
        600,
        500,
        Some((500, 999)),
    ); // resumed to the end
    partial_text += &cf(
        "2026-08-07",
        "GET",
        RPM,
        206,
        "libdnf",
        300,
        250,
        Some((0, 249)),
    ); // a segment
    partial_text += &cf(
        "2026-08-07",
        "GET",
        RPM,
        206,
        "libdnf",
        100,
        500,
        Some((500, 999)),
    ); // cut short
    let partial = write(dir.path(), "partial.log", &partial_text);
    for order in [[&full, &partial], [&partial, &full]] {
        let mut store = Store::open(&dir.path().join(format!(
            "{}.db",
            order[0].file_name().unwrap().to_string_lossy()
        )))
        .unwrap();
        run(&mut store, &[order[0].clone()], false);
        run(&mut store, &[order[1].clone()], false);
        let rows = downloads(&store, Period::Day, &Filter::default()).unwrap();
        let per_day: Vec<(String, u64)> = rows
            .iter()
            .map(|r| (r.period.clone(), r.downloads))
            .collect();
        assert_eq!(
            per_day,
            [("2026-08-06".to_owned(), 1), ("2026-08-07".to_owned(), 1)],
            "order {order:?}"
        );
    }
}

/// Helper for the crash test: run only as a child process with the crash hook set.
#[test]
#[ignore = "run by crash_mid_file_commits_nothing as a child process"]
fn crash_child() {
    let Some(dir) = std::env::var_os("STATSD_CRASH_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut store = Store::open(&dir.join("s.db")).unwrap();
    run_batched(&mut store, &[dir.join("b.log")], false, Some(7));
    unreachable!("the crash hook should have aborted the process");
}

#[test]
fn crash_mid_file_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.log", &sample_log());
    let mut b_text = String::from(FIELDS);
    for i in 0..50 {
        b_text += &cf(
            "2026-08-08",
            "GET",
            &format!("/results/o/p/c/01-x/x{i}-1-1.fc42.x86_64.rpm"),
            200,
            "libdnf",
            10,
            10,
            None,
        );
    }
    let b = write(dir.path(), "b.log", &b_text);
    {
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        run(&mut store, std::slice::from_ref(&a), false);
    }
    let before = dump(&Store::open(&dir.path().join("s.db")).unwrap());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env("STATSD_CRASH_DIR", dir.path())
        .env("RPMDEPOT_STATS_CRASH_AFTER_ROWS", "20")
        .output()
        .unwrap();
    assert!(
        !status.status.success(),
        "the child must have crashed: {status:?}"
    );
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    assert_eq!(
        dump(&store),
        before,
        "nothing of the crashed file may be committed"
    );
    let outcomes = run(&mut store, std::slice::from_ref(&b), false);
    assert!(
        matches!(outcomes[0], FileOutcome::Ingested { .. }),
        "the crashed file was not recorded as ingested"
    );
    assert_eq!(total_downloads(&store), 51);
}

#[test]
fn hostile_input_is_rejected_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = cf("2026-08-06", "GET", RPM, 200, "libdnf", 1100, 1000, None);
    let mut text = FIELDS.as_bytes().to_vec();
    text.extend(good.as_bytes());
    text.extend(b"\x00\xff\xfe binary \x1b[31m garbage\t\t\n");
    text.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    text.push(b'\n');
    text.extend(good.as_bytes());
    text.extend(
        cf(
            "2026-08-06",
            "GET",
            "/results/o/p/c/01-x/%ff%fe-1-1.x86_64.rpm",
            200,
            "x",
            1,
            1,
            None,
        )
        .as_bytes(),
    );
    text.extend(
        cf(
            "2026-08-06",
            "GET",
            "/results/%252540o/p/c/01-x/a-1-1.x86_64.rpm",
            200,
            "x",
            1,
            1,
            None,
        )
        .as_bytes(),
    );
    text.extend(&good.as_bytes()[..good.len() / 2]); // cut mid-line
    let plain = dir.path().join("hostile.log");
    std::fs::write(&plain, &text).unwrap();

    let (_, counts) = statsd::count_file(&plain, &CountOptions::default()).unwrap();
    let rejected = |r: Rejection| counts.rejections.get(&r).copied().unwrap_or(0);
    assert_eq!(counts.downloads(), 2);
    assert_eq!(rejected(Rejection::TooFewFields), 1, "binary garbage");
    assert_eq!(rejected(Rejection::LineTooLong), 1);
    assert_eq!(rejected(Rejection::BadPath), 1);
    assert_eq!(rejected(Rejection::DoubleEncodedPath), 1);
    assert_eq!(rejected(Rejection::UnterminatedLine), 1);
    assert_eq!(counts.rejected(), 5, "{:?}", counts.rejections);

    // Truncated gzip: lines before the cut are kept, the file says why.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(FIELDS.as_bytes()).unwrap();
    for _ in 0..2000 {
        gz.write_all(good.as_bytes()).unwrap();
    }
    let gz = gz.finish().unwrap();
    let truncated = dir.path().join("cut.gz");
    std::fs::write(&truncated, &gz[..gz.len() * 2 / 3]).unwrap();
    let (compression, counts) = statsd::count_file(&truncated, &CountOptions::default()).unwrap();
    assert_eq!(compression.name(), "gzip");
    assert!(counts.stream_error.is_some());
    assert_eq!(counts.rejections.get(&Rejection::TruncatedStream), Some(&1));
    assert!(
        counts.downloads() > 100 && counts.downloads() < 2000,
        "{}",
        counts.downloads()
    );
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    run(&mut store, &[truncated], false);
    let status: String = store
        .connection()
        .query_row("SELECT status FROM ingested_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "partial");
}

fn combined_line(day: u8, method: &str, file: u8, status: u16, agent: &str) -> String {
    format!(
        "192.0.2.{file} - - [{day:02}/Aug/2026:{:02}:00:00 +0200] \"{method} /results/o/p/c/01-x/p{file}-1-1.fc42.x86_64.rpm HTTP/1.1\" {status} 10 \"-\" \"{agent}\"\n",
        (u16::from(day) * 7) % 24
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn one_file_or_many_gives_the_same_counts(
        lines in proptest::collection::vec((1u8..28, prop_oneof!["GET", "HEAD", "POST"], 0u8..6, prop_oneof![Just(200u16), Just(206), Just(304), Just(404), Just(500)], prop_oneof!["libdnf (Fedora)", "curl/8", "Googlebot/2.1"], any::<bool>()), 1..60),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        batch_cells in 1usize..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rendered: Vec<String> = lines
            .iter()
            .map(|(day, method, file, status, agent, cloudfront)| {
                if *cloudfront {
                    cf(&format!("2026-08-{day:02}"), method, &format!("/results/o/p/c/01-x/p{file}-1-1.fc42.x86_64.rpm"), *status, agent, 20, 10, (*status == 206).then_some((0, 9)))
                } else {
                    combined_line(*day, method, *file, *status, agent)
                }
            })
            .collect();
        // CloudFront lines need their header in every file; keep the two formats in separate files.
        let (cf_lines, combined): (Vec<&String>, Vec<&String>) = rendered.iter().partition(|l| !l.starts_with("192."));
        let whole = vec![
            write(dir.path(), "whole.cf", &format!("{FIELDS}{}", cf_lines.iter().map(|s| s.as_str()).collect::<String>())),
            write(dir.path(), "whole.log", &combined.iter().map(|s| s.as_str()).collect::<String>()),
        ];
        let mut parts = Vec::new();
        for (name, group, header) in [("cf", &cf_lines, FIELDS), ("log", &combined, "")] {
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(group.len() + 1)).collect();
            points.push(0);
            points.push(group.len());
            points.sort_unstable();
            points.dedup();
            for (n, pair) in points.windows(2).enumerate() {
                let body: String = group[pair[0]..pair[1]].iter().map(|s| s.as_str()).collect();
                parts.push(write(dir.path(), &format!("part{n}.{name}"), &format!("{header}{body}")));
            }
        }
        let mut one = Store::open(&dir.path().join("one.db")).unwrap();
        run(&mut one, &whole, false);
        let mut many = Store::open(&dir.path().join("many.db")).unwrap();
        run(&mut many, &parts, false);
        prop_assert_eq!(dump(&one), dump(&many));
        // Handing cells to the writer in small batches changes nothing either.
        let mut batched = Store::open(&dir.path().join("batched.db")).unwrap();
        let outcomes = run_batched(&mut batched, &whole, false, Some(batch_cells));
        prop_assert_eq!(dump(&one), dump(&batched));
        let summed: u64 = outcomes.iter().map(|o| match o { FileOutcome::Ingested { counts, .. } => counts.downloads(), _ => 0 }).sum();
        let reported: i64 = batched.connection().query_row("SELECT SUM(downloads) FROM ingested_files", [], |r| r.get(0)).unwrap();
        let stored: i64 = batched
            .connection()
            .query_row("SELECT COALESCE(SUM(downloads), 0) FROM daily_counts WHERE kind != 'countme'", [], |r| r.get(0))
            .unwrap();
        prop_assert_eq!(summed as i64, reported);
        prop_assert_eq!(reported, stored);
        // Re-ingesting a file written in batches (several rows per cell) replaces it exactly.
        run_batched(&mut batched, &whole, true, Some(batch_cells + 1));
        prop_assert_eq!(dump(&one), dump(&batched));
    }
}
