//! `rpmdepot stats`: ingest summary, exactly-once re-ingest, CSV/JSON reports, Copr's
//! payload and the HTML page, on the Copr synthetic logs of the shared corpus.

mod common;

use std::process::Command;

use common::{RPMDEPOT, run_expecting, run_success, shared_fixtures};

fn stats() -> Command {
    let mut command = Command::new(RPMDEPOT);
    command.arg("stats");
    command
}

#[test]
fn ingest_report_payload_and_html() {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    let logs = corpus.join("copr/logs/synthetic");
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("stats.db");
    let inputs = [
        logs.join("E2PUZIRCXCOXTG.2026-08-06-15.0a1b2c3d"),
        logs.join("lighttpd-access.log"),
    ];

    let first = run_success(stats().arg("ingest").arg("--db").arg(&db).args(&inputs));
    let text = String::from_utf8(first.stdout).unwrap();
    for expected in [
        "files: 2 ingested (0 replaced), 0 skipped as already ingested, 0 failed",
        "lines read: 26",
        "downloads counted: 15",
        "  double_encoded_path: 1",
        "  status_4xx: 2",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{text}"
        );
    }

    let again = run_success(
        stats()
            .arg("ingest")
            .arg("--json")
            .arg("--db")
            .arg(&db)
            .args(&inputs),
    );
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["files_ingested"], 0);
    assert_eq!(
        summary["files_skipped_already_ingested"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(summary["downloads"], 0);

    let csv = run_success(
        stats()
            .args([
                "report",
                "--by",
                "day",
                "--format",
                "csv",
                "--repo",
                "frostyx/*",
                "--db",
            ])
            .arg(&db),
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(
        csv,
        "period,repository,package,kind,client,downloads\n\
         2026-08-06,frostyx/foo/fedora-42-x86_64,ed-1.22.2-1.fc42.x86_64,rpm,dnf,1\n\
         2026-08-06,frostyx/hello/epel-10-x86_64,hello-2.12.2-1.el10.x86_64,rpm,mock,2\n\
         2026-08-06,frostyx/hello/fedora-42-x86_64,ea630c5d639a49fa9d8be9cc4fe4f4eaf19026bb2e76974914e9ed5542a260ab-primary.xml.gz,metadata,dnf,1\n\
         2026-08-06,frostyx/hello/fedora-42-x86_64,hello-2.12.2-1.fc42.x86_64,rpm,bot,2\n\
         2026-08-06,frostyx/hello/fedora-42-x86_64,hello-2.12.2-1.fc42.x86_64,rpm,dnf,2\n\
         2026-08-06,frostyx/hello/fedora-42-x86_64,repomd.xml,repomd,dnf,2\n\
         2026-08-06,frostyx/hello/srpm-builds,hello-2.12.2-1.src,srpm,curl-wget,2\n"
    );
    let month = run_success(
        stats()
            .args([
                "report",
                "--by",
                "month",
                "--format",
                "json",
                "--package",
                "hello",
                "--db",
            ])
            .arg(&db),
    );
    let month: serde_json::Value = serde_json::from_slice(&month.stdout).unwrap();
    let total: u64 = month
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["period"], "2026-08");
            r["downloads"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(total, 8, "{month:#}");

    let payload = run_success(
        stats()
            .args([
                "copr-payload",
                "--from",
                "2026-08-06",
                "--to",
                "2026-08-06",
                "--db",
            ])
            .arg(&db),
    );
    let payload: serde_json::Value = serde_json::from_slice(&payload.stdout).unwrap();
    assert_eq!(payload["ts_from"], 1_785_974_400);
    assert_eq!(
        payload["hits"]["chroot_rpms_dl_stat|@copr|copr-dev|fedora-rawhide-x86_64"],
        3
    );
    assert_eq!(payload["hits"]["project_rpms_dl_stat|frostyx|hello"], 2);
    assert!(
        payload["hits"]
            .get("chroot_rpms_dl_stat|frostyx|hello|epel-10-x86_64")
            .is_none(),
        "mock builds are not sent to Copr"
    );

    let page = work.path().join("page.html");
    run_success(
        stats()
            .args(["html", "--repo", "frostyx/*", "--out"])
            .arg(&page)
            .arg("--db")
            .arg(&db),
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<svg") && !html.contains("<script") && !html.contains("src="),
        "self-contained page"
    );
    assert!(html.contains("<b>9</b> package downloads"), "{html}");

    let missing = run_expecting(
        stats()
            .args(["report", "--by", "day", "--db"])
            .arg(work.path().join("nope.db")),
        1,
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.db: no statistics database"));
    let unreadable = run_expecting(
        stats()
            .arg("ingest")
            .arg("--db")
            .arg(&db)
            .arg(work.path().join("missing.log")),
        1,
    );
    assert!(String::from_utf8_lossy(&unreadable.stderr).contains("missing.log"));
}
