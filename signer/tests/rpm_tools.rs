//! The signer library checked with the real tools, without the CLI: a key generated into a
//! keystore signs the project's own packages and a repomd.xml, and rpmkeys (rpm 4.18) and gpg
//! accept exactly what the library accepts.
//! The root crate's tests cover the same ground through `rpmdepot`; these pin the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use signer::sign::{self, DigestAlgo, VerifyStatus};
use signer::{KeyAlgo, Keystore};

/// Whether `tool` is on PATH. In CI (`CI` set) a missing tool fails the test instead of
/// skipping it, so a skip cannot pass unnoticed.
fn have(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed (CI must run this test)"
        );
        eprintln!("NOT RUN: {tool} is not installed");
    }
    found
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Copies the project's own fixture packages into `dir`.
fn fixture_copies(dir: &Path) -> Vec<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms");
    let mut copies = Vec::new();
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rpm") {
            let copy = dir.join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            copies.push(copy);
        }
    }
    copies.sort();
    assert!(
        copies.len() >= 4,
        "fixture packages missing in {fixtures:?}"
    );
    copies
}

#[test]
fn library_signatures_pass_rpmkeys_and_gpg() {
    if !have("rpmkeys") || !have("gpg") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let keystore = Keystore::open(scratch.path().join("keys")).unwrap();
    let uid = "team_app (None) <team#app@example.org>";
    keystore
        .generate("team/app", uid, KeyAlgo::Rsa3072, None, None)
        .unwrap();
    keystore
        .generate("team/other", uid, KeyAlgo::Ed25519, None, None)
        .unwrap();
    let key = keystore.unlock("team/app", None).unwrap();
    let cert = keystore.public_cert("team/app").unwrap();
    let other = keystore.public_cert("team/other").unwrap();

    let packages_dir = scratch.path().join("packages");
    std::fs::create_dir(&packages_dir).unwrap();
    let packages = fixture_copies(&packages_dir);
    let results = sign::sign_packages(&packages, None, &key, DigestAlgo::Sha256, &|| {});
    for (path, result) in packages.iter().zip(&results) {
        let signed = result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&signed.dest, &std::fs::canonicalize(path).unwrap());
        match sign::verify_package(path, std::slice::from_ref(&cert)).unwrap() {
            VerifyStatus::Ok { algorithm, .. } => assert_eq!(algorithm, "RSA/SHA256"),
            status => panic!("{}: {status:?}", path.display()),
        }
        assert!(
            matches!(
                sign::verify_package(path, std::slice::from_ref(&other)).unwrap(),
                VerifyStatus::UnknownKey { .. }
            ),
            "{}: another key must not verify it",
            path.display()
        );
    }

    // rpm agrees: the exported key imports into rpm 4.18 and every package checks out.
    let armored = scratch.path().join("team_app.asc");
    std::fs::write(&armored, signer::key::armored_public(&cert).unwrap()).unwrap();
    let db = scratch.path().join("rpmdb");
    std::fs::create_dir(&db).unwrap();
    run(Command::new("rpmkeys")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&armored));
    let checked = run(Command::new("rpmkeys")
        .arg("--dbpath")
        .arg(&db)
        .args(["--checksig", "-v"])
        .args(&packages));
    let text = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(
        text.matches("Header V4 RSA/SHA256 Signature, key ID")
            .count(),
        packages.len(),
        "{text}"
    );
    assert!(!text.contains("BAD") && !text.contains("NOKEY"), "{text}");

    // One changed byte in a signed header: the library and rpmkeys both refuse it.
    let victim = &packages[0];
    let head =
        signer::package::read_head(&mut std::fs::File::open(victim).unwrap(), victim).unwrap();
    let header_start = head.payload_offset() as usize - head.header.len();
    let mut bytes = std::fs::read(victim).unwrap();
    let name_at = head
        .header
        .windows(b"rpmdepot-".len())
        .position(|w| w == b"rpmdepot-")
        .expect("package name in the header");
    bytes[header_start + name_at] ^= 0x20;
    std::fs::write(victim, &bytes).unwrap();
    assert!(
        !matches!(
            sign::verify_package(victim, std::slice::from_ref(&cert)).unwrap(),
            VerifyStatus::Ok { .. }
        ),
        "a tampered header verified"
    );
    let tampered = Command::new("rpmkeys")
        .arg("--dbpath")
        .arg(&db)
        .arg("--checksig")
        .arg(victim)
        .output()
        .unwrap();
    assert!(
        !tampered.status.success(),
        "rpmkeys accepted a tampered header"
    );

    // repomd.xml signature and key, checked by gpg in a throwaway home.
    let repodata = scratch.path().join("repodata");
    std::fs::create_dir(&repodata).unwrap();
    std::fs::write(repodata.join("repomd.xml"), b"<repomd/>\n").unwrap();
    let asc = sign::sign_repomd(&repodata, &key, DigestAlgo::Sha256).unwrap();
    let home = scratch.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&Path]| {
        let mut command = Command::new("gpg");
        command.arg("--homedir").arg(&home).arg("--batch");
        command.args(args);
        command.output().unwrap()
    };
    let imported = gpg(&[Path::new("--import"), &repodata.join("repomd.xml.key")]);
    assert!(imported.status.success(), "{imported:?}");
    let good = gpg(&[Path::new("--verify"), &asc, &repodata.join("repomd.xml")]);
    assert!(good.status.success(), "{good:?}");
    std::fs::write(repodata.join("repomd.xml"), b"<repomd/>\n\n").unwrap();
    let bad = gpg(&[Path::new("--verify"), &asc, &repodata.join("repomd.xml")]);
    assert!(!bad.status.success(), "gpg accepted a changed repomd.xml");
}
