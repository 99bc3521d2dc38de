//! The digest-only signing service (`rpmdepot signer serve`) and `sign --signer`, checked
//! with real processes, real sockets and rpmkeys.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use signer::service::{AuditSink, Endpoint, RemoteKey, SignerService, TokenGrant};
use signer::sign::{DigestAlgo, sign_packages};

const TOKEN: &str = "ci-token-0123456789abcdef";
const OTHER_TOKEN: &str = "other-token-0123456789abcdef";

fn rpmdepot(keystore: &Path) -> Command {
    let mut command = Command::new(RPMDEPOT);
    command
        .env("RPMDEPOT_KEYSTORE", keystore)
        .env_remove("RPMDEPOT_PASSPHRASE")
        .env_remove("RPMDEPOT_SIGNER_TOKEN");
    command
}

/// A running service, killed when dropped.
struct Service {
    child: Child,
    address: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    _scratch: tempfile::TempDir,
    dir: PathBuf,
    keystore: PathBuf,
    audit: PathBuf,
    key_file: PathBuf,
}

fn setup() -> Setup {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_path_buf();
    let keystore = dir.join("keystore");
    for (name, algo) in [("team/app", "rsa3072"), ("other/x", "ed25519")] {
        run_success(rpmdepot(&keystore).args([
            "key",
            "generate",
            "--no-passphrase",
            "--name",
            name,
            "--algo",
            algo,
        ]));
    }
    let key_file = dir.join("team_app.asc");
    run_success(
        rpmdepot(&keystore)
            .args(["key", "export", "team/app", "-o"])
            .arg(&key_file),
    );
    std::fs::write(
        dir.join("tokens"),
        format!("# label token keys\nci {TOKEN} team/*\nother {OTHER_TOKEN} other/x\n"),
    )
    .unwrap();
    Setup {
        audit: dir.join("audit.log"),
        _scratch: scratch,
        dir,
        keystore,
        key_file,
    }
}

fn serve(setup: &Setup, listen: &str) -> Service {
    let mut child = rpmdepot(&setup.keystore)
        .args(["signer", "serve", "--listen", listen, "--tokens"])
        .arg(setup.dir.join("tokens"))
        .arg("--audit-log")
        .arg(&setup.audit)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .rsplit(" on ")
        .next()
        .filter(|_| line.contains("serving"))
        .unwrap_or_else(|| panic!("service did not start: {line}"))
        .to_string();
    // Keep draining stderr so the service never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    Service { child, address }
}

fn packages(dir: &Path, count: usize) -> Vec<PathBuf> {
    let dir = fresh_dir(dir);
    (0..count)
        .map(|i| {
            let path = dir.join(format!("hello-{i}.rpm"));
            std::fs::copy("fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm", &path).unwrap();
            path
        })
        .collect()
}

fn remote_sign(
    setup: &Setup,
    service: &Service,
    token: &str,
    key: &str,
    files: &[PathBuf],
) -> std::process::Output {
    run(rpmdepot(&setup.keystore)
        .env("RPMDEPOT_SIGNER_TOKEN", token)
        .args(["sign", "--signer", &service.address, "--key", key])
        .args(files))
}

fn rpmkeys_ok(setup: &Setup, files: &[PathBuf]) {
    let db = fresh_dir(&setup.dir.join("rpmdb"));
    run_success(
        Command::new("rpmkeys")
            .arg("--dbpath")
            .arg(&db)
            .arg("--import")
            .arg(&setup.key_file),
    );
    let out = run(Command::new("rpmkeys")
        .arg("--dbpath")
        .arg(&db)
        .args(["--checksig", "-v"])
        .args(files));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("Header V4 RSA/SHA256 Signature") && l.ends_with(": OK"))
            .count(),
        files.len(),
        "{text}"
    );
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn read_response(stream: &mut TcpStream) -> Option<serde_json::Value> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

#[test]
fn service_authenticates_authorizes_and_survives_bad_clients() {
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let setup = setup();
    let service = serve(&setup, "127.0.0.1:0");
    let files = packages(&setup.dir.join("pkgs"), 1);
    let original = std::fs::read(&files[0]).unwrap();

    let out = remote_sign(
        &setup,
        &service,
        "wrong-token-0123456789",
        "team/app",
        &files,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid token"),
        "{}",
        describe_output(&Command::new("sign"), &out)
    );
    let out = remote_sign(&setup, &service, OTHER_TOKEN, "team/app", &files);
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not use key"));
    let out = remote_sign(&setup, &service, TOKEN, "team/nope", &files);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown key \"team/nope\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), original);

    // Oversized request: refused with an error frame, connection closed.
    let mut stream = TcpStream::connect(&service.address).unwrap();
    stream.write_all(&(10_000_000u32).to_be_bytes()).unwrap();
    stream.write_all(&[b'x'; 1024]).unwrap();
    let response = read_response(&mut stream).expect("an error response");
    assert!(
        response["error"].as_str().unwrap().contains("too large"),
        "{response}"
    );
    assert!(read_response(&mut stream).is_none());

    // Malformed JSON and a digest of the wrong length get errors, the connection stays usable.
    let mut stream = TcpStream::connect(&service.address).unwrap();
    stream.write_all(&frame(b"{not json")).unwrap();
    assert!(
        read_response(&mut stream).unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );
    let request = serde_json::json!({"token": TOKEN, "op": "sign", "key": "team/app", "hash": 8, "digest": "abcd"});
    stream
        .write_all(&frame(request.to_string().as_bytes()))
        .unwrap();
    assert!(
        read_response(&mut stream).unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("32 bytes")
    );
    let request = serde_json::json!({"token": TOKEN, "op": "sign", "key": "team/app", "hash": 2, "digest": "00".repeat(20)});
    stream
        .write_all(&frame(request.to_string().as_bytes()))
        .unwrap();
    assert!(
        read_response(&mut stream).unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("refused")
    );

    // Clients dying mid-request (half a frame, then gone) do not disturb the service.
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&service.address).unwrap();
        stream.write_all(&200u32.to_be_bytes()).unwrap();
        stream.write_all(b"{\"token\": \"ci-to").unwrap();
        drop(stream);
    }

    let out = remote_sign(&setup, &service, TOKEN, "team/app", &files);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rpmkeys_ok(&setup, &files);
    let audit = std::fs::read_to_string(&setup.audit).unwrap();
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.starts_with("audit: signed"))
            .count(),
        1,
        "{audit}"
    );
    assert!(
        audit.contains("key=team/app") && audit.contains("token=ci"),
        "{audit}"
    );
    assert!(!audit.contains(TOKEN), "the audit log must not hold tokens");
}

#[test]
fn concurrent_clients_and_local_signatures_verify_the_same() {
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let setup = setup();
    let socket = setup.dir.join("signer.sock");
    let service = serve(&setup, &format!("unix:{}", socket.display()));
    assert!(service.address.starts_with("unix:"));
    let a = packages(&setup.dir.join("a"), 6);
    let b = packages(&setup.dir.join("b"), 6);
    let (out_a, out_b) = std::thread::scope(|scope| {
        let ha = scope.spawn(|| remote_sign(&setup, &service, TOKEN, "team/app", &a));
        let hb = scope.spawn(|| remote_sign(&setup, &service, TOKEN, "team/app", &b));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert!(
        out_a.status.success(),
        "{}",
        String::from_utf8_lossy(&out_a.stderr)
    );
    assert!(
        out_b.status.success(),
        "{}",
        String::from_utf8_lossy(&out_b.stderr)
    );
    let audit = std::fs::read_to_string(&setup.audit).unwrap();
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.starts_with("audit: signed"))
            .count(),
        12
    );

    let local = packages(&setup.dir.join("local"), 1);
    run_success(
        rpmdepot(&setup.keystore)
            .args(["sign", "--key", "team/app"])
            .args(&local),
    );
    let mut all: Vec<PathBuf> = a.iter().chain(&b).cloned().collect();
    all.extend(local.iter().cloned());
    rpmkeys_ok(&setup, &all);
    // Our verifier reports local and remote signatures identically.
    let out = run_success(
        rpmdepot(&setup.keystore)
            .args(["verify", "--key"])
            .arg(&setup.key_file)
            .arg(&a[0])
            .arg(&local[0]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let verdicts: Vec<&str> = text
        .lines()
        .map(|l| l.split_once(": ").unwrap().1)
        .collect();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0], verdicts[1]);
    assert!(verdicts[0].starts_with("OK (RSA/SHA256"), "{text}");

    // Same file layout too: remote and local signed copies differ only in the signature bytes.
    let remote_len = std::fs::metadata(&a[0]).unwrap().len();
    assert_eq!(remote_len, std::fs::metadata(&local[0]).unwrap().len());

    // sign-repo through the service writes a signature gpg-style tools accept (checked in
    // signing.rs for the local path); here: it is produced and names the same key.
    let repo = fresh_dir(&setup.dir.join("repo"));
    std::fs::copy(&a[0], repo.join("hello.rpm")).unwrap();
    run_success(rpmdepot_createrepo().arg(&repo));
    run_success(
        rpmdepot(&setup.keystore)
            .env("RPMDEPOT_SIGNER_TOKEN", TOKEN)
            .args([
                "sign-repo",
                "--signer",
                &service.address,
                "--key",
                "team/app",
            ])
            .arg(&repo),
    );
    assert_eq!(
        std::fs::read(repo.join("repodata/repomd.xml.key")).unwrap(),
        std::fs::read(&setup.key_file).unwrap()
    );
}

/// The same keystore's `team/app` served in this process, so the test can read the
/// service's connection counter; the serving thread lives as long as the test process.
fn serve_in_process(setup: &Setup) -> (Arc<SignerService>, String) {
    let key = signer::Keystore::open(&setup.keystore)
        .unwrap()
        .unlock("team/app", None)
        .unwrap();
    let audit: AuditSink = Arc::new(Mutex::new(Box::new(std::io::sink())));
    let grants = vec![TokenGrant::new("ci", TOKEN, vec!["team/*".into()])];
    let service = Arc::new(SignerService::new(vec![key], grants, audit));
    let (ready, address) = std::sync::mpsc::channel();
    let serving = Arc::clone(&service);
    std::thread::spawn(move || {
        serving.serve(&Endpoint::Tcp("127.0.0.1:0".into()), |addr| {
            ready.send(addr.to_string()).unwrap();
        })
    });
    (service, address.recv().unwrap())
}

#[test]
fn sign_keeps_to_its_signer_connection_limit() {
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let setup = setup();
    let (service, address) = serve_in_process(&setup);
    let files = packages(&setup.dir.join("many"), 24);
    let out = run(rpmdepot(&setup.keystore)
        .env("RPMDEPOT_SIGNER_TOKEN", TOKEN)
        .args(["sign", "--signer", &address, "--signer-connections", "2"])
        .args(["--key", "team/app"])
        .args(&files));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak = service.peak_connections();
    assert!(
        (1..=2).contains(&peak),
        "{peak} connections open at once, limit 2"
    );
    rpmkeys_ok(&setup, &files);

    let out = run(rpmdepot(&setup.keystore)
        .env("RPMDEPOT_SIGNER_TOKEN", TOKEN)
        .args(["sign", "--signer", &address, "--signer-connections", "0"])
        .args(["--key", "team/app"])
        .args(&files));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--signer-connections"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kept_connections_survive_a_service_restart_between_batches() {
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let setup = setup();
    let socket = setup.dir.join("restart.sock");
    for (round, listen) in [format!("unix:{}", socket.display()), "127.0.0.1:0".into()]
        .into_iter()
        .enumerate()
    {
        let service = serve(&setup, &listen);
        let address = service.address.clone();
        let endpoint: Endpoint = address.parse().unwrap();
        let key = RemoteKey::connect_with_limit(endpoint, TOKEN, "team/app", 2).unwrap();
        let sign = |files: &[PathBuf]| {
            for result in sign_packages(files, None, &key, DigestAlgo::Sha256, &|| {}) {
                if let Err(err) = result {
                    panic!("{address}: {err}");
                }
            }
        };
        let first = packages(&setup.dir.join(format!("first-{round}")), 6);
        sign(&first);
        // The key's idle connections now lead to a dead service; a new one listens at the
        // same address.
        drop(service);
        let restarted = serve(&setup, &address);
        assert_eq!(restarted.address, address);
        let second = packages(&setup.dir.join(format!("second-{round}")), 6);
        sign(&second);
        let all: Vec<PathBuf> = first.into_iter().chain(second).collect();
        rpmkeys_ok(&setup, &all);
    }
}
