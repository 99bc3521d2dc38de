//! The content commands end to end: repositories, versions, publish (atomic, killed and
//! re-run), serve (HTTP semantics, path traversal, dnf over HTTP, republishing under a
//! `dnf makecache` loop), prune/gc and migration (killed and resumed, corrupt copies).
//!
//! S3 cases need a real S3 server (`eval "$(.ci/start-garage)"`); without one they say they
//! did not run, and fail in CI.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REPO: &str = "owner/project/fedora-43-x86_64";

/// A data directory with its own rpmdepot.toml.
struct Depot {
    dir: tempfile::TempDir,
}

impl Depot {
    fn new(store: Option<String>) -> Depot {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store.unwrap_or_else(|| format!("file://{}/store", dir.path().display()));
        std::fs::write(
            dir.path().join("rpmdepot.toml"),
            format!(
                "store = \"{store}\"\ncatalog = \"catalog.sqlite\"\n[defaults]\nretain_old_md_by_age = \"1h\"\n"
            ),
        )
        .unwrap();
        Depot { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::new(RPMDEPOT);
        command
            .args(args)
            .arg("--config")
            .arg(self.path().join("rpmdepot.toml"))
            .current_dir(self.path());
        command
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut command = self.cmd(args);
        command.arg("--json");
        let output = run_success(&mut command);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: not JSON\n{}", describe_output(&command, &output)))
    }
}

fn fixture_rpms() -> Vec<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/rpms"));
    rpm_files_below(dir)
        .into_iter()
        .map(|p| dir.join(p))
        .collect()
}

fn args_of(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `rpmdepot serve`, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(depot: &Depot, extra: &[&str]) -> Server {
    let port = free_port();
    let log = depot.path().join("access.log");
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen, "--access-log"];
    let log_arg = log.display().to_string();
    args.push(&log_arg);
    args.extend_from_slice(extra);
    let child = depot
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port, log }
}

/// One raw HTTP/1.1 request; returns status, headers (lowercase names) and body.
fn http(port: u16, request: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let body = bytes[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

fn get(port: u16, path: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A fresh S3 prefix URL, or `None` after saying the test did not run.
fn s3_store_url(test: &str) -> Option<String> {
    let bucket = std::env::var("RPMDEPOT_TEST_S3_BUCKET")
        .ok()
        .filter(|b| !b.is_empty());
    match (bucket, std::env::var_os("AWS_ENDPOINT_URL")) {
        (Some(bucket), Some(_)) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            Some(format!(
                "s3://{bucket}/{test}-{}-{nanos}",
                std::process::id()
            ))
        }
        _ => {
            skip_or_fail_in_ci(
                "no S3 server: AWS_ENDPOINT_URL and RPMDEPOT_TEST_S3_BUCKET are not set \
                 (eval \"$(.ci/start-garage)\")",
            );
            None
        }
    }
}

fn setup_repo(depot: &Depot, files: &[PathBuf]) {
    depot.json(&["repo", "create", REPO]);
    let mut args = vec!["add".to_owned(), REPO.to_owned()];
    args.extend(args_of(files));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    depot.json(&args);
}

#[test]
fn versions_are_immutable_and_numbered_from_zero() {
    let depot = Depot::new(None);
    let files = fixture_rpms();
    setup_repo(&depot, &files);
    let shown = depot.json(&["repo", "show", REPO]);
    assert_eq!(shown["repository"]["latest_version"], 1);
    let count = shown["content"].as_array().unwrap().len();
    assert!(count >= 5, "{shown}");
    // Adding the same files again changes nothing: no new version.
    let mut args = vec!["add".to_owned(), REPO.to_owned()];
    args.extend(args_of(&files));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let again = depot.json(&args);
    assert!(again["version"].is_null(), "{again}");
    let removed = depot.json(&["remove", REPO, "rpmdepot-hello-1.0-1.noarch"]);
    assert_eq!(removed["number"], 2);
    // Version 1 still has it; version 2 does not.
    let v1 = depot.json(&["repo", "show", REPO, "--version", "1"]);
    let v2 = depot.json(&["repo", "show", REPO, "--version", "2"]);
    assert_eq!(v1["content"].as_array().unwrap().len(), count);
    assert_eq!(v2["content"].as_array().unwrap().len(), count - 1);
    let v0 = depot.json(&["repo", "show", REPO, "--version", "0"]);
    assert!(v0["content"].as_array().unwrap().is_empty());
    // Removing something absent is an error naming it.
    let output = run_expecting(&mut depot.cmd(&["remove", REPO, "nope-1-1.noarch"]), 1);
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope-1-1.noarch"));
    // A corrupt package is refused by name; the rest is added.
    let bad = depot.path().join("broken-1.0-1.noarch.rpm");
    std::fs::write(&bad, b"not an rpm at all").unwrap();
    let output = run_expecting(
        depot.cmd(&["add", REPO]).arg(&bad).arg(
            files
                .iter()
                .find(|f| f.ends_with("rpmdepot-hello-1.0-1.noarch.rpm"))
                .unwrap(),
        ),
        2,
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("broken-1.0-1.noarch.rpm"),
        "{}",
        describe_output(&Command::new("add"), &output)
    );
    // Pulp's artifact layout.
    let hello = files
        .iter()
        .find(|f| f.ends_with("rpmdepot-hello-1.0-1.noarch.rpm"))
        .unwrap();
    let digest = sha256_hex(&std::fs::read(hello).unwrap());
    assert!(
        depot
            .path()
            .join("store/artifact")
            .join(&digest[..2])
            .join(&digest[2..])
            .is_file()
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = {
        let mut child = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        child.wait_with_output().unwrap()
    };
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Every file repomd.xml references exists with its checksum.
fn check_tree(tree: &Path) -> Result<usize, String> {
    let repomd = std::fs::read_to_string(tree.join("repodata/repomd.xml"))
        .map_err(|e| format!("repomd.xml: {e}"))?;
    let mut checked = 0;
    for data in repomd.split("<data ").skip(1) {
        let checksum = data
            .split("<checksum type=\"sha256\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .ok_or("no checksum")?;
        let href = data
            .split("<location href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .ok_or("no location")?;
        let bytes = std::fs::read(tree.join(href)).map_err(|e| format!("{href}: {e}"))?;
        if sha256_hex(&bytes) != checksum {
            return Err(format!("{href}: checksum differs from repomd.xml"));
        }
        checked += 1;
    }
    Ok(checked)
}

#[test]
fn publish_writes_a_static_tree_and_a_killed_publish_leaves_the_previous_one_intact() {
    let depot = Depot::new(None);
    let files = fixture_rpms();
    setup_repo(&depot, &files);
    let tree = depot.path().join("www");
    let to = format!("file://{}", tree.display());
    let first = depot.json(&["publish", REPO, "--to", &to]);
    assert_eq!(
        first["tree"]["uploaded"].as_u64().unwrap() as usize,
        files.len() + 4
    );
    assert_eq!(check_tree(&tree).unwrap(), 3);
    assert!(
        tree.join("Packages/r/rpmdepot-hello-1.0-1.noarch.rpm")
            .is_file()
    );
    if tools_available(&["dnf"]) {
        let scratch = depot.path().join("dnf");
        std::fs::create_dir_all(&scratch).unwrap();
        let output = run_success(
            Command::new("dnf")
                .args(["-q", "--setopt=reposdir=/dev/null", "--releasever=1"])
                .arg(format!("--setopt=cachedir={}", scratch.display()))
                .arg(format!("--repofrompath=t,{to}"))
                .args(["--repo=t", "repoquery", "--qf", "%{name}"]),
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("rpmdepot-hello"));
    }
    // Republishing an unchanged version uploads only the index.
    let again = depot.json(&["publish", REPO, "--to", &to]);
    assert_eq!(again["tree"]["uploaded"], 1, "{again}");

    // Kill publishes of alternating versions at varied points: every time, the tree is a
    // complete repository (old or new), and a re-run completes.
    for round in 0..12u64 {
        if round % 2 == 0 {
            run_success(&mut depot.cmd(&["remove", REPO, "rpmdepot-hello-1.0-1.noarch"]));
        } else {
            let mut cmd = depot.cmd(&["add", REPO]);
            cmd.args(&files);
            run_success(&mut cmd);
        }
        let mut child = depot
            .cmd(&["publish", REPO, "--to", &to, "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(round * 7));
        kill9(&mut child);
        check_tree(&tree).unwrap_or_else(|e| panic!("round {round}: tree broken after kill: {e}"));
        depot.json(&["publish", REPO, "--to", &to]);
        check_tree(&tree)
            .unwrap_or_else(|e| panic!("round {round}: tree broken after re-run: {e}"));
    }
    // The last round added the package back: a zero grace period deletes what is retired,
    // and nothing the current metadata names.
    let hello = tree.join("Packages/r/rpmdepot-hello-1.0-1.noarch.rpm");
    assert!(hello.is_file());
    let last = depot.json(&["publish", REPO, "--to", &to, "--retain-old-md-by-age", "0s"]);
    assert!(last["tree"]["deleted"].as_u64().unwrap() > 0, "{last}");
    assert!(hello.is_file(), "a live package was deleted as retired");
    check_tree(&tree).unwrap();
    let listed = walk(&tree).len();
    assert_eq!(listed, files.len() + 4, "only the live tree remains");
}

#[test]
fn serve_answers_http_semantics_and_refuses_path_traversal() {
    let depot = Depot::new(None);
    setup_repo(&depot, &fixture_rpms());
    depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    let server = serve(&depot, &[]);
    let port = server.port;
    let package = "/copr/f43/Packages/r/rpmdepot-hello-1.0-1.noarch.rpm";
    let (status, headers, body) = get(port, package, "");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/x-rpm"));
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let etag = header(&headers, "etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&body)));
    let last_modified = header(&headers, "last-modified").unwrap().to_owned();
    // Range and resume.
    let (status, headers, part) = get(port, package, "Range: bytes=10-19\r\n");
    assert_eq!(status, 206);
    assert_eq!(part, &body[10..20]);
    assert_eq!(
        header(&headers, "content-range"),
        Some(format!("bytes 10-19/{}", body.len()).as_str())
    );
    let (status, _, tail) = get(port, package, "Range: bytes=-5\r\n");
    assert_eq!((status, tail.as_slice()), (206, &body[body.len() - 5..]));
    let (status, _, _) = get(port, package, &format!("Range: bytes={}-\r\n", body.len()));
    assert_eq!(status, 416);
    // Conditional requests.
    let (status, _, empty) = get(port, package, &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, empty.len()), (304, 0));
    let (status, _, _) = get(
        port,
        package,
        &format!("If-Modified-Since: {last_modified}\r\n"),
    );
    assert_eq!(status, 304);
    // HEAD.
    let (status, headers, empty) = http(
        port,
        &format!("HEAD {package} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!((status, empty.len()), (200, 0));
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    let (status, headers, _) = get(port, "/copr/f43/repodata/repomd.xml", "");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert_eq!(header(&headers, "content-type"), Some("application/xml"));
    // Traversal and friends.
    for (path, expected) in [
        ("/copr/f43/../../etc/passwd", 400),
        ("/copr/f43/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/copr%2ff43/repodata/repomd.xml", 400),
        ("/copr/f43/repodata%2frepomd.xml", 400),
        ("/copr/f43/..%5c..%5cetc/passwd", 400),
        ("//etc/passwd", 400),
        ("http://evil/copr/f43/repodata/repomd.xml", 400),
        ("/copr/f43/Packages/r/nothing.rpm", 404),
        ("/etc/passwd", 404),
        ("/copr/f43/", 400),
    ] {
        let (status, _, body) = get(port, path, "");
        assert_eq!(
            status,
            expected,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (status, _, _) = http(
        port,
        "DELETE /copr/f43/repodata/repomd.xml HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    // Access log: combined format.
    std::thread::sleep(Duration::from_millis(100));
    let log = std::fs::read_to_string(&server.log).unwrap();
    let line = log
        .lines()
        .find(|l| {
            l.contains("\"GET /copr/f43/Packages/r/rpmdepot-hello-1.0-1.noarch.rpm HTTP/1.1\" 200")
        })
        .unwrap_or_else(|| panic!("no access log line for the package:\n{log}"));
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.ends_with(&format!("{} \"-\" \"-\"", body.len())),
        "{line}"
    );
}

fn running_as_root() -> bool {
    let output = run_success(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn dnf_http(scratch: &Path, url: &str) -> Command {
    std::fs::create_dir_all(scratch.join("installroot")).unwrap();
    std::fs::write(scratch.join("dnf.conf"), "[main]\n").unwrap();
    let mut dnf = Command::new("dnf");
    dnf.arg("-q")
        .arg(format!("--config={}", scratch.join("dnf.conf").display()))
        .arg(format!(
            "--installroot={}",
            scratch.join("installroot").display()
        ))
        .arg("--releasever=1")
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!(
            "--setopt=cachedir={}",
            scratch.join("cache").display()
        ))
        .arg(format!("--repofrompath=served,{url}"))
        .arg("--repo=served");
    dnf
}

#[test]
fn dnf_installs_over_http_from_serve_backed_by_garage() {
    let Some(store) = s3_store_url("dnf") else {
        return;
    };
    if !tools_available(&["dnf", "rpm"]) {
        return;
    }
    if !running_as_root() {
        skip_or_fail_in_ci("dnf install into an installroot needs root");
        return;
    }
    let depot = Depot::new(Some(store));
    setup_repo(&depot, &fixture_rpms());
    depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    for extra in [&[][..], &["--redirect"][..]] {
        let server = serve(&depot, extra);
        let scratch = depot.path().join(format!("dnf{}", extra.len()));
        let url = format!("http://127.0.0.1:{}/copr/f43/", server.port);
        run_success(dnf_http(&scratch, &url).args([
            "--nogpgcheck",
            "-y",
            "install",
            "rpmdepot-hello",
        ]));
        let query = run_success(
            Command::new("rpm")
                .arg("--root")
                .arg(scratch.join("installroot"))
                .args(["-q", "rpmdepot-hello"]),
        );
        assert_eq!(
            String::from_utf8_lossy(&query.stdout).trim(),
            "rpmdepot-hello-1.0-1.noarch"
        );
    }
}

#[test]
fn fifty_republishes_under_a_dnf_makecache_loop_never_fail_it() {
    if !tools_available(&["dnf"]) {
        return;
    }
    let depot = Depot::new(None);
    let files = fixture_rpms();
    setup_repo(&depot, &files);
    depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    let server = serve(&depot, &[]);
    let url = format!("http://127.0.0.1:{}/copr/f43/", server.port);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scratch = depot.path().join("makecache");
    let runs_done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let looper = {
        let stop = std::sync::Arc::clone(&stop);
        let runs_done = std::sync::Arc::clone(&runs_done);
        let (scratch, url) = (scratch.clone(), url.clone());
        std::thread::spawn(move || {
            let (mut runs, mut failures) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || runs == 0 {
                let mut dnf = dnf_http(&scratch, &url);
                dnf.args(["makecache", "--refresh"]);
                let output = run(&mut dnf);
                runs += 1;
                runs_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if !output.status.success() {
                    failures.push(describe_output(&dnf, &output));
                }
            }
            (runs, failures)
        })
    };
    // At least 50 republishes, and on until dnf has run 20 times against a moving repo.
    let runs_so_far = std::sync::Arc::clone(&runs_done);
    let started = Instant::now();
    let mut round = 0;
    while round < 50 || runs_so_far.load(std::sync::atomic::Ordering::Relaxed) < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "dnf makecache is too slow"
        );
        round += 1;
        if round % 2 == 0 {
            run_success(&mut depot.cmd(&["remove", REPO, "rpmdepot-hello-1.0-1.noarch"]));
        } else {
            let mut cmd = depot.cmd(&["add", REPO]);
            cmd.args(&files);
            run_success(&mut cmd);
        }
        depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (runs, failures) = looper.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {runs} makecache runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{runs} dnf makecache runs during {round} republishes, no failure");
}

#[test]
fn prune_keeps_the_newest_build_and_gc_frees_only_unreferenced_artifacts() {
    let depot = Depot::new(None);
    setup_repo(&depot, &fixture_rpms());
    // The fixtures hold one build per name: nothing to prune.
    let report = depot.json(&["prune", REPO, "--keep", "1", "--min-age", "0"]);
    assert!(report["version"].is_null(), "{report}");
    run_success(&mut depot.cmd(&["remove", REPO, "rpmdepot-hello-1.0-1.noarch"]));
    depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    // Referenced by version 1: nothing goes.
    // (Builds that lost to a same-NEVRA build were never in a version: gc frees them too.)
    depot.json(&["gc", "--grace", "0s"]);
    // Retention 1 drops old versions; then the removed package is garbage, but only once
    // older than the grace period.
    let catalog = depot.path().join("catalog.sqlite");
    let conn = rusqlite::Connection::open(&catalog).unwrap();
    conn.execute("UPDATE repositories SET retain_versions = 1", [])
        .unwrap();
    drop(conn);
    run_success(&mut depot.cmd(&["remove", REPO, "rpmdepot-files-1.0-1.x86_64"]));
    let gc = depot.json(&["gc", "--grace", "1h"]);
    assert_eq!(gc["deleted"], 0, "young artifacts stay: {gc}");
    assert!(gc["young"].as_u64().unwrap() >= 1, "{gc}");
    let gc = depot.json(&["gc", "--grace", "0s"]);
    assert!(gc["deleted"].as_u64().unwrap() >= 1, "{gc}");
    // What the distribution serves is still complete.
    let server = serve(&depot, &[]);
    let (status, _, _) = get(
        server.port,
        "/copr/f43/Packages/r/rpmdepot-files-1.0-1.x86_64.rpm",
        "",
    );
    assert_eq!(status, 200, "a served package was collected");
}

/// Packages of the shared corpus, copied flat into `dir` (many artifacts for migration).
fn shared_rpms() -> Option<Vec<PathBuf>> {
    let corpus = shared_fixtures()?;
    let rpms = corpus.join("rpms");
    Some(
        rpm_files_below(&rpms)
            .into_iter()
            .map(|p| rpms.join(p))
            .collect(),
    )
}

#[test]
fn migration_killed_then_resumed_verifies_everything_and_detects_corrupt_copies() {
    let Some(mut files) = shared_rpms() else {
        return;
    };
    files.extend(fixture_rpms());
    let depot = Depot::new(None);
    depot.json(&["repo", "create", REPO]);
    let mut cmd = depot.cmd(&["add", REPO, "--json"]);
    cmd.args(&files);
    let output = run(&mut cmd);
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "{}",
        describe_output(&cmd, &output)
    );
    depot.json(&["publish", REPO, "--distribute", "copr/f43"]);
    let destination = depot.path().join("new-store");
    let to = format!("file://{}", destination.display());
    // A corrupt copy waits at the destination.
    let hello = fixture_rpms()
        .into_iter()
        .find(|f| f.ends_with("rpmdepot-hello-1.0-1.noarch.rpm"))
        .unwrap();
    let bytes = std::fs::read(&hello).unwrap();
    let digest = sha256_hex(&bytes);
    let corrupt = destination
        .join("artifact")
        .join(&digest[..2])
        .join(&digest[2..]);
    std::fs::create_dir_all(corrupt.parent().unwrap()).unwrap();
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0xff;
    std::fs::write(&corrupt, &damaged).unwrap();

    let server = serve(&depot, &[]);
    let mut child = depot
        .cmd(&["migrate", "--to", &to, "--jobs", "2", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it halfway: once a good part of the artifacts has arrived (or it has finished).
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none()
        && (!destination.join("artifact").is_dir()
            || walk(&destination.join("artifact")).len() < 200)
    {
        assert!(Instant::now() < deadline, "migration made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill9(&mut child);
    // Serving goes on from the old store.
    let (status, _, _) = get(server.port, "/copr/f43/repodata/repomd.xml", "");
    assert_eq!(status, 200);
    let report = depot.json(&["migrate", "--to", &to, "--switch"]);
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["switched"], true);
    let total = report["artifacts"].as_u64().unwrap();
    let done = ["skipped", "copied", "already_there", "repaired"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(done, total, "{report}");
    assert!(
        report["skipped"].as_u64().unwrap() + report["already_there"].as_u64().unwrap() >= 150,
        "the killed run made progress: {report}"
    );
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        bytes,
        "corrupt copy replaced"
    );
    // The killed run may leave a temporary file (never under an artifact's name); gc, now
    // on the new store, sweeps it. Then every file there is an artifact matching its digest.
    // (Builds that lost to a same-NEVRA build were never in a version: gc frees them too.)
    depot.json(&["gc", "--grace", "0s"]);
    for entry in walk(&destination.join("artifact")) {
        let name = entry
            .strip_prefix(destination.join("artifact"))
            .unwrap()
            .display()
            .to_string();
        assert_eq!(
            sha256_hex(&std::fs::read(&entry).unwrap()),
            name.replace('/', "")
        );
    }
    drop(server);
    // The catalog now serves from the new store.
    let server = serve(&depot, &[]);
    let (status, _, body) = get(
        server.port,
        "/copr/f43/Packages/r/rpmdepot-hello-1.0-1.noarch.rpm",
        "",
    );
    assert_eq!((status, body), (200, bytes));

    // A corrupt source artifact is reported by digest and blocks --switch.
    let third = depot.path().join("third");
    let source_copy = destination
        .join("artifact")
        .join(&digest[..2])
        .join(&digest[2..]);
    std::fs::write(&source_copy, &damaged).unwrap();
    let mut cmd = depot.cmd(&[
        "migrate",
        "--to",
        &format!("file://{}", third.display()),
        "--switch",
    ]);
    let output = run_expecting(&mut cmd, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not switching"), "{stderr}");
    let mut cmd = depot.cmd(&[
        "migrate",
        "--to",
        &format!("file://{}", third.display()),
        "--json",
    ]);
    let output = run_expecting(&mut cmd, 2);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["sha256"], digest.as_str());
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("sha256 mismatch"),
        "{report}"
    );
}

/// SIGKILL (no cleanup of any kind), then reap.
fn kill9(child: &mut Child) {
    // SAFETY: kill(2) on the pid of a child we have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A repository with a signing key is published with `repomd.xml.asc` and `repomd.xml.key`
/// made with the key from the keystore rpmdepot.toml names: gpg accepts the signature, and dnf
/// with `gpgcheck=1 repo_gpgcheck=1` installs from the published tree.
#[test]
fn a_signed_repository_publishes_repomd_that_gpg_and_dnf_accept() {
    if !tools_available(&["gpg", "dnf", "rpm"]) {
        return;
    }
    let depot = Depot::new(None);
    let config = depot.path().join("rpmdepot.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("keystore = \"keys\"\n{text}")).unwrap();
    let keystore = depot.path().join("keys");
    run_success(
        Command::new(RPMDEPOT)
            .args([
                "key",
                "generate",
                "--name",
                "owner/project",
                "--no-passphrase",
            ])
            .args(["--host", "example.org"])
            .env("RPMDEPOT_KEYSTORE", &keystore)
            .env_remove("RPMDEPOT_PASSPHRASE"),
    );
    depot.json(&["repo", "create", REPO, "--signing-key", "owner/project"]);
    let files = fixture_rpms();
    let mut args = vec!["add".to_owned(), REPO.to_owned()];
    args.extend(args_of(&files));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    depot.json(&args);
    let tree = depot.path().join("www");
    let to = format!("file://{}", tree.display());
    let mut publish = depot.cmd(&["publish", REPO, "--to", &to]);
    publish
        .env_remove("RPMDEPOT_KEYSTORE")
        .env_remove("RPMDEPOT_PASSPHRASE");
    run_success(&mut publish);

    let repodata = tree.join("repodata");
    let (xml, asc, key) = (
        repodata.join("repomd.xml"),
        repodata.join("repomd.xml.asc"),
        repodata.join("repomd.xml.key"),
    );
    let gnupg = fresh_dir(&depot.path().join("gnupg"));
    run_success(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args(["--batch", "--import"])
            .arg(&key),
    );
    let verify = |data: &Path| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args(["--batch", "--verify"])
            .arg(&asc)
            .arg(data)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(verify(&xml), "gpg rejects the published repomd.xml.asc");
    let mut bytes = std::fs::read(&xml).unwrap();
    bytes[20] ^= 1;
    let tampered = depot.path().join("repomd-tampered.xml");
    std::fs::write(&tampered, &bytes).unwrap();
    assert!(!verify(&tampered), "gpg accepts a changed repomd.xml");

    let scratch = depot.path().join("dnf");
    let dnf_conf = scratch.join("dnf.conf");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(
        &dnf_conf,
        format!(
            "[main]\nreposdir=/dev/null\ncachedir={}\n\n[published]\nname=published\n\
             baseurl=file://{}\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            scratch.join("cache").display(),
            tree.display(),
            key.display()
        ),
    )
    .unwrap();
    let root = fresh_dir(&scratch.join("root"));
    let mut dnf = Command::new("dnf");
    dnf.arg(format!("--config={}", dnf_conf.display()))
        .arg(format!("--installroot={}", root.display()))
        .args(["--releasever=1", "--repo=published", "-y", "--nodocs"])
        .args(["--setopt=install_weak_deps=0", "install", "rpmdepot-hello"]);
    run_success(&mut dnf);
}

/// The same mtime for every copied package: `<time file>` is the file's mtime.
const IMPORT_MTIME: u64 = 1_700_000_000;

/// Copies the fixture packages below `dir` (same relative paths, one mtime).
fn copy_fixtures(dir: &Path) {
    let source = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/rpms"));
    for relative in rpm_files_below(source) {
        copy_with_mtime(&source.join(&relative), &dir.join(&relative), IMPORT_MTIME);
    }
}

/// The metadata files of a publish report (repomd.xml aside) by path, with their sha256.
fn published_documents(report: &serde_json::Value) -> Vec<(String, String)> {
    let files: Vec<(String, String)> = report["metadata"]
        .as_array()
        .expect("metadata list")
        .iter()
        .map(|f| {
            (
                f["relative_path"].as_str().unwrap().to_owned(),
                f["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(path, _)| !path.starts_with("repodata/repomd.xml"))
        .collect();
    assert_eq!(files.len(), 3, "primary, filelists, other: {files:?}");
    files
}

fn reused_flags(report: &serde_json::Value) -> usize {
    report["added"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["reused_record"] == true)
        .count()
}

#[test]
fn import_reuses_valid_repodata_and_publishes_what_reading_headers_publishes() {
    let scratch = tempfile::tempdir().unwrap();
    let listed = scratch.path().join("listed");
    copy_fixtures(&listed);
    run_success(rpmdepot_createrepo().arg(&listed));
    // After createrepo: one listed package changes (same size, other bytes) and one package
    // the repodata does not list arrives.
    let changed = listed.join("rpmdepot-hello-1.0-1.noarch.rpm");
    let mut bytes = std::fs::read(&changed).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    std::fs::write(&changed, &bytes).unwrap();
    let file = std::fs::File::options().write(true).open(&changed).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(IMPORT_MTIME))
        .unwrap();
    let dup = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/rpms-dup/a/rpmdepot-dup-1.0-1.noarch.rpm"
    ));
    copy_with_mtime(
        dup,
        &listed.join("extra/rpmdepot-dup-1.0-1.noarch.rpm"),
        IMPORT_MTIME,
    );
    // The same files without repodata.
    let plain = scratch.path().join("plain");
    for relative in rpm_files_below(&listed) {
        copy_with_mtime(
            &listed.join(&relative),
            &plain.join(&relative),
            IMPORT_MTIME,
        );
    }
    let listed_arg = listed.display().to_string();
    let plain_arg = plain.display().to_string();

    let reusing = Depot::new(None);
    let report = reusing.json(&["import", &listed_arg, "--repo", REPO]);
    assert_eq!(report["records_reused"], 7, "{report:#}");
    assert_eq!(report["headers_read"], 2, "{report:#}");
    assert_eq!(report["listed_but_missing"], 0, "{report:#}");
    assert_eq!(report["repodata_problem"], serde_json::Value::Null);
    assert_eq!(reused_flags(&report), 7);
    assert_eq!(report["version"]["added"], 9);

    let reading = Depot::new(None);
    let report = reading.json(&["import", &plain_arg, "--repo", REPO]);
    assert_eq!(report["records_reused"], 0, "{report:#}");
    assert_eq!(report["headers_read"], 9, "{report:#}");
    assert_eq!(reused_flags(&report), 0);

    // Same packages, same bytes of primary, filelists and other.
    let reused = published_documents(&reusing.json(&["publish", REPO]));
    let read = published_documents(&reading.json(&["publish", REPO]));
    assert_eq!(reused, read);

    // Damaged repodata is reported and not used; the import still succeeds.
    let repomd = listed.join("repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd).unwrap();
    let start = text.find("<checksum type=\"sha256\">").unwrap() + 24;
    let mut damaged = text.clone();
    damaged.replace_range(start..start + 8, "00000000");
    std::fs::write(&repomd, damaged).unwrap();
    let third = Depot::new(None);
    let report = third.json(&["import", &listed_arg, "--repo", REPO]);
    let problem = report["repodata_problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("primary.xml") && problem.contains("but repomd.xml says 00000000"),
        "{report:#}"
    );
    assert_eq!(report["records_reused"], 0);
    assert_eq!(report["headers_read"], 9);
}

#[test]
fn import_takes_over_a_createrepo_c_repository() {
    if !tools_available(&["createrepo_c"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("chroot");
    copy_fixtures(&dir);
    run_success(Command::new("createrepo_c").arg("--quiet").arg(&dir));
    let depot = Depot::new(None);
    let dir_arg = dir.display().to_string();
    let report = depot.json(&["import", &dir_arg, "--repo", REPO]);
    assert_eq!(report["records_reused"], 8, "{report:#}");
    assert_eq!(report["headers_read"], 0, "{report:#}");
    let tree = scratch.path().join("tree");
    let to = format!("file://{}", tree.display());
    depot.json(&["publish", REPO, "--to", &to]);

    let reference = Depot::new(None);
    setup_repo(&reference, &fixture_rpms());
    let reference_tree = scratch.path().join("reference");
    let to = format!("file://{}", reference_tree.display());
    reference.json(&["publish", REPO, "--to", &to]);

    let records = |tree: &Path| -> Vec<repo_core::PackageRecord> {
        let existing = repo_core::existing::ExistingRepodata::open(tree)
            .unwrap()
            .expect("published repodata");
        let mut records: Vec<_> = existing
            .records()
            .unwrap()
            .collect::<repo_core::Result<_>>()
            .unwrap();
        records.sort_by(|a, b| a.location_href.cmp(&b.location_href));
        records
    };
    let imported = records(&tree);
    let expected = records(&reference_tree);
    assert_eq!(imported.len(), expected.len());
    for (imported, expected) in imported.iter().zip(&expected) {
        // Requires compared as sets without `pre`: createrepo_c 0.17 marks and merges
        // scriptlet requirements differently (see createrepo_compat's rules), and the import
        // keeps what the repository said.
        let normalized = |record: &repo_core::PackageRecord| {
            let mut record = record.clone();
            record.time_file = 0;
            for dep in &mut record.requires {
                dep.pre = false;
            }
            record.requires.sort_by(|a, b| {
                (&a.name, &a.flags, &a.version).cmp(&(&b.name, &b.flags, &b.version))
            });
            record.requires.dedup();
            record
        };
        assert_eq!(normalized(imported), normalized(expected));
    }
}

#[test]
fn config_is_accepted_before_and_after_the_subcommand() {
    let depot = Depot::new(None);
    let config = depot.path().join("rpmdepot.toml");
    let scratch = tempfile::tempdir().unwrap();
    // Run elsewhere, so the default ./rpmdepot.toml is not what makes these work.
    let rpmdepot = |args: &[&str]| {
        let mut command = Command::new(RPMDEPOT);
        command.args(args).current_dir(scratch.path());
        command
    };
    let config = config.to_str().unwrap();
    run_success(&mut rpmdepot(&["--config", config, "repo", "create", REPO]));
    for args in [
        &["--config", config, "repo", "list", "--json"][..],
        &["repo", "--config", config, "list", "--json"],
        &["repo", "list", "--config", config, "--json"],
    ] {
        let mut command = rpmdepot(args);
        let output = run_success(&mut command);
        let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            list[0]["name"],
            REPO,
            "{}",
            describe_output(&command, &output)
        );
    }
    // Commands without a catalog refuse it rather than ignore it.
    for args in [
        &["--config", config, "createrepo", "."][..],
        &["createrepo", "--config", config, "."],
    ] {
        let mut command = rpmdepot(args);
        let output = run_expecting(&mut command, 2);
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("--config is an option of the content commands"),
            "{}",
            describe_output(&command, &output)
        );
    }
}
