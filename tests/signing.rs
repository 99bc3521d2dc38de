//! Keys, RPM signatures and signed repositories, checked with the real tools: rpmkeys (rpm
//! 4.18, internal OpenPGP parser), gpg, sq and dnf.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `rpmdepot` with a private keystore and no passphrase from the environment.
fn rpmdepot(keystore: &Path) -> Command {
    let mut command = Command::new(RPMDEPOT);
    command
        .env("RPMDEPOT_KEYSTORE", keystore)
        .env_remove("RPMDEPOT_PASSPHRASE")
        .env_remove("RPMDEPOT_SIGNER_TOKEN");
    command
}

fn generate(keystore: &Path, name: &str, extra: &[&str]) {
    run_success(
        rpmdepot(keystore)
            .args(["key", "generate", "--name", name, "--no-passphrase"])
            .args(["--host", "example.org"])
            .args(extra),
    );
}

fn export(keystore: &Path, name: &str, dir: &Path) -> PathBuf {
    let path = dir.join(format!("{}.asc", name.replace('/', "_")));
    run_success(
        rpmdepot(keystore)
            .args(["key", "export", name, "-o"])
            .arg(&path),
    );
    path
}

/// A fresh rpm database with `key` imported (fails the test if rpm refuses the key).
fn rpmdb_with(key: &Path, dir: &Path) -> PathBuf {
    let db = fresh_dir(dir);
    run_success(
        Command::new("rpmkeys")
            .arg("--dbpath")
            .arg(&db)
            .arg("--import")
            .arg(key),
    );
    db
}

/// `rpmkeys --checksig -v` over `files`, split into one block per file.
fn checksig(db: &Path, files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut results = Vec::new();
    for chunk in files.chunks(200) {
        let output = run(Command::new("rpmkeys")
            .arg("--dbpath")
            .arg(db)
            .args(["--checksig", "-v"])
            .args(chunk));
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        for file in chunk {
            let header = format!("{}:\n", file.display());
            let block = text
                .find(&header)
                .map(|start| {
                    let rest = &text[start + header.len()..];
                    let end = rest
                        .find(|c: char| c != ' ' && c != '\t')
                        .map(|_| {
                            rest.lines()
                                .take_while(|l| l.starts_with(' ') || l.starts_with('\t'))
                                .map(|l| l.len() + 1)
                                .sum::<usize>()
                        })
                        .unwrap_or(0);
                    rest[..end.min(rest.len())].to_string()
                })
                .unwrap_or_else(|| format!("(no output for this file)\n{text}"));
            results.push((file.clone(), block));
        }
    }
    results
}

fn checksig_ok(block: &str) -> bool {
    block.contains("Header V4 RSA/SHA256 Signature, key ID")
        && block.contains(": OK")
        && !block.contains("BAD")
        && !block.contains("NOKEY")
        && !block.contains("NOTTRUSTED")
}

fn lead_major(path: &Path) -> u8 {
    let bytes = std::fs::read(path).unwrap();
    bytes.get(4).copied().unwrap_or(0)
}

#[test]
fn key_lifecycle_and_import_into_rpm() {
    if !tools_available(&["rpmkeys", "rpm", "gpg"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let ks = scratch.path().join("keystore");
    generate(&ks, "alice/hello", &[]);
    generate(&ks, "alice/ed", &["--algo", "ed25519", "--expire", "90d"]);

    let list = run_success(rpmdepot(&ks).args(["key", "list", "--json"]));
    let keys: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let rsa = keys.iter().find(|k| k["name"] == "alice/hello").unwrap();
    assert_eq!(rsa["algo"], "rsa4096");
    assert_eq!(rsa["uid"], "alice_hello (None) <alice#hello@example.org>");
    let created = rsa["created"].as_u64().unwrap();
    // 5 years of days, not the 5*365.2425 seconds sequoia's Duration::years would give.
    assert_eq!(rsa["expires"].as_u64().unwrap(), created + 5 * 365 * 86_400);
    let ed = keys.iter().find(|k| k["name"] == "alice/ed").unwrap();
    assert_eq!(ed["algo"], "ed25519");
    assert_eq!(
        ed["expires"].as_u64().unwrap(),
        ed["created"].as_u64().unwrap() + 90 * 86_400
    );

    // Debian 12's rpm 4.18 (internal parser, rejects unknown critical subpackets) imports both.
    for name in ["alice/hello", "alice/ed"] {
        let key = export(&ks, name, scratch.path());
        let db = rpmdb_with(
            &key,
            &scratch
                .path()
                .join(format!("db-{}", name.replace('/', "_"))),
        );
        let q = run_success(Command::new("rpm").arg("--dbpath").arg(&db).args([
            "-q",
            "gpg-pubkey",
            "--qf",
            "%{SUMMARY}\n",
        ]));
        assert!(
            String::from_utf8_lossy(&q.stdout).contains(&format!(
                "{} (None) <{}@example.org>",
                name.replace('/', "_"),
                name.replace('/', "#")
            )),
            "{}",
            String::from_utf8_lossy(&q.stdout)
        );
        // gpg sees the same expiry.
        let gnupg = fresh_dir(&scratch.path().join("gnupg"));
        let out = run_success(
            Command::new("gpg")
                .arg("--homedir")
                .arg(&gnupg)
                .args(["--batch", "--with-colons", "--show-keys"])
                .arg(&key),
        );
        let pub_line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("pub:"))
            .unwrap()
            .to_string();
        let fields: Vec<&str> = pub_line.split(':').collect();
        let entry = keys.iter().find(|k| k["name"] == name).unwrap();
        assert_eq!(fields[5], entry["created"].as_u64().unwrap().to_string());
        assert_eq!(fields[6], entry["expires"].as_u64().unwrap().to_string());
    }

    // extend: same fingerprint, later expiry; the extended key still imports.
    let before = rsa["expires"].as_u64().unwrap();
    run_success(rpmdepot(&ks).args(["key", "extend", "alice/hello", "--by", "1y"]));
    let list = run_success(rpmdepot(&ks).args(["key", "list", "--json"]));
    let keys: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let after = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "alice/hello")
        .unwrap()
        .clone();
    assert_eq!(after["fingerprint"], rsa["fingerprint"]);
    assert_eq!(after["expires"].as_u64().unwrap(), before + 365 * 86_400);
    let key = export(&ks, "alice/hello", scratch.path());
    rpmdb_with(&key, &scratch.path().join("db-extended"));

    // revoke: listed as revoked, signing refused with a clear error, nothing written.
    run_success(rpmdepot(&ks).args(["key", "revoke", "alice/ed"]));
    let pkg = scratch.path().join("hello.rpm");
    std::fs::copy("fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm", &pkg).unwrap();
    let original = std::fs::read(&pkg).unwrap();
    let out = run_expecting(
        rpmdepot(&ks).args(["sign", "--key", "alice/ed"]).arg(&pkg),
        1,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&pkg).unwrap(), original);
}

#[test]
fn passphrase_protects_the_secret_key() {
    let scratch = tempfile::tempdir().unwrap();
    let ks = scratch.path().join("keystore");
    let out = run_expecting(
        rpmdepot(&ks).args(["key", "generate", "--name", "p/q", "--algo", "ed25519"]),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no passphrase"));
    run_success(
        rpmdepot(&ks)
            .env("RPMDEPOT_PASSPHRASE", "s3cret passphrase")
            .args(["key", "generate", "--name", "p/q", "--algo", "ed25519"]),
    );
    let pkg = scratch.path().join("hello.rpm");
    std::fs::copy("fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm", &pkg).unwrap();
    let out = run_expecting(rpmdepot(&ks).args(["sign", "--key", "p/q"]).arg(&pkg), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
    let wrong = scratch.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let out = run_expecting(
        rpmdepot(&ks)
            .args(["sign", "--key", "p/q", "--passphrase-file"])
            .arg(&wrong)
            .arg(&pkg),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    run_success(
        rpmdepot(&ks)
            .env("RPMDEPOT_PASSPHRASE", "s3cret passphrase")
            .args(["sign", "--key", "p/q"])
            .arg(&pkg),
    );
    let pubkey = export(&ks, "p/q", scratch.path());
    let out = run_success(
        rpmdepot(&ks)
            .args(["verify", "--key"])
            .arg(&pubkey)
            .arg(&pkg),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": OK (EdDSA/SHA256"));
}

/// Every v4-format package of the shared corpus, signed by us, passes rpmkeys --checksig;
/// v6-format packages get a clear "not supported" error and stay untouched.
#[test]
fn every_corpus_package_signs_and_verifies_with_rpmkeys() {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let ks = scratch.path().join("keystore");
    generate(&ks, "corpus/test", &["--algo", "rsa3072"]);
    let key = export(&ks, "corpus/test", scratch.path());
    let db = rpmdb_with(&key, &scratch.path().join("db"));

    let work = fresh_dir(&scratch.path().join("work"));
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let all = rpm_files_below(&corpus.join("rpms"));
    for (i, relative) in all.iter().enumerate() {
        let source = corpus.join("rpms").join(relative);
        let copy = work.join(format!(
            "{i:04}-{}",
            relative.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(&source, &copy).unwrap();
        match lead_major(&source) {
            4 => v6.push(copy),
            _ => v4.push(copy),
        }
    }
    assert!(
        v4.len() > 100 && !v6.is_empty(),
        "{} v4, {} v6",
        v4.len(),
        v6.len()
    );

    let out = run(rpmdepot(&ks)
        .args(["sign", "--json", "--key", "corpus/test"])
        .args(&v4)
        .args(&v6));
    let mut failed = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = PathBuf::from(v["file"].as_str().unwrap());
        if v6.contains(&file) {
            let error = v["error"].as_str().unwrap_or("");
            assert!(
                error.contains("not supported") && error.contains("v6"),
                "{}: {v}",
                file.display()
            );
        } else if v["ok"] != true {
            failed.push(format!("{}: {}", file.display(), v["error"]));
        }
    }
    assert!(failed.is_empty(), "signing failed:\n{}", failed.join("\n"));
    for file in &v6 {
        let name = file.file_name().unwrap().to_string_lossy();
        let index: usize = name[..4].parse().unwrap();
        let original = corpus.join("rpms").join(&all[index]);
        assert_eq!(
            std::fs::read(file).unwrap(),
            std::fs::read(original).unwrap()
        );
    }

    // Signing must not break any digest: compare with the digests of the untouched originals
    // (the corpus has a deliberately corrupted payload or two; those stay BAD, no more).
    let originals: Vec<PathBuf> = v4
        .iter()
        .map(|copy| {
            let name = copy.file_name().unwrap().to_string_lossy();
            let index: usize = name[..4].parse().unwrap();
            corpus.join("rpms").join(&all[index])
        })
        .collect();
    let digest_lines = |block: &str| -> Vec<String> {
        block
            .lines()
            .filter(|l| l.contains("digest"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let before = checksig(&db, &originals);
    let bad: Vec<String> = checksig(&db, &v4)
        .into_iter()
        .zip(before)
        .filter(|((_, block), (_, original))| {
            let header_sig_ok = block.contains("Header V4 RSA/SHA256 Signature, key ID")
                && block
                    .lines()
                    .any(|l| l.contains("Header V4 RSA/SHA256 Signature") && l.ends_with(": OK"));
            let (now, then) = (digest_lines(block), digest_lines(original));
            let lost_ok = then.iter().any(|l| l.ends_with(": OK") && !now.contains(l));
            let new_bad = now.iter().any(|l| {
                l.contains("BAD")
                    && !then
                        .iter()
                        .any(|t| t.contains("BAD") && t.split(':').next() == l.split(':').next())
            });
            !header_sig_ok || lost_ok || new_bad
        })
        .map(|((file, block), (_, original))| (file, format!("{block}--- before:\n{original}")))
        .take(MAX_REPORTED_PACKAGES)
        .map(|(file, block)| format!("{}:\n{block}", file.display()))
        .collect();
    assert!(bad.is_empty(), "rpmkeys rejects:\n{}", bad.join("\n"));

    // Our own verify agrees, and an unrelated key is reported as unknown.
    let out = run_success(
        rpmdepot(&ks)
            .args(["verify", "--key"])
            .arg(&key)
            .args(&v4[..20]),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches(": OK (RSA/SHA256")
            .count(),
        20
    );
    generate(&ks, "other/key", &["--algo", "ed25519"]);
    let out = run_expecting(
        rpmdepot(&ks)
            .args(["verify", "--key", "other/key"])
            .arg(&v4[0]),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNKNOWN KEY"));
}

#[test]
fn signing_replaces_old_signatures_keeps_digests_and_fails_cleanly() {
    if !tools_available(&["rpmkeys"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let ks = scratch.path().join("keystore");
    generate(&ks, "a/b", &[]);
    let key = export(&ks, "a/b", scratch.path());
    let db = rpmdb_with(&key, &scratch.path().join("db"));
    let pkg = scratch.path().join("hello.rpm");
    std::fs::copy("fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm", &pkg).unwrap();
    let size = std::fs::metadata(&pkg).unwrap().len();

    // unsigned -> verify says so
    let out = run_expecting(rpmdepot(&ks).args(["verify", "--key", "a/b"]).arg(&pkg), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNSIGNED"));

    // --out-dir leaves the original alone
    let out_dir = fresh_dir(&scratch.path().join("out"));
    run_success(
        rpmdepot(&ks)
            .args(["sign", "--key", "a/b", "--out-dir"])
            .arg(&out_dir)
            .arg(&pkg),
    );
    assert!(!checksig_ok(
        &checksig(&db, std::slice::from_ref(&pkg))[0].1
    ));
    let signed = out_dir.join("hello.rpm");
    let block = &checksig(&db, std::slice::from_ref(&signed))[0].1;
    assert!(checksig_ok(block), "{block}");
    assert!(block.contains("Header SHA256 digest: OK"), "{block}");
    assert!(block.contains("Payload SHA256 digest: OK"), "{block}");
    // reserved space absorbed the signature
    assert_eq!(std::fs::metadata(&signed).unwrap().len(), size);

    // in place, twice (the second replaces the first), still one valid signature
    run_success(rpmdepot(&ks).args(["sign", "--key", "a/b"]).arg(&pkg));
    run_success(rpmdepot(&ks).args(["sign", "--key", "a/b"]).arg(&pkg));
    let block = &checksig(&db, std::slice::from_ref(&pkg))[0].1;
    assert!(checksig_ok(block), "{block}");
    assert_eq!(block.matches("Signature").count(), 1, "{block}");

    // two inputs with one name cannot both go to --out-dir
    let twin = fresh_dir(&scratch.path().join("twin")).join("hello.rpm");
    std::fs::copy(&pkg, &twin).unwrap();
    let out = run_expecting(
        rpmdepot(&ks)
            .args(["sign", "--key", "a/b", "--out-dir"])
            .arg(&out_dir)
            .arg(&pkg)
            .arg(&twin),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("appears twice"));

    // SHA-1 is refused up front
    let out = run_expecting(
        rpmdepot(&ks)
            .args(["sign", "--key", "a/b", "--digest", "sha1"])
            .arg(&pkg),
        1,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));

    // corrupt input: clear error naming the file, nothing changed, no temp files left
    let dir = fresh_dir(&scratch.path().join("corrupt"));
    for name in ["truncated.rpm", "not-an-rpm.rpm", "empty.rpm"] {
        std::fs::copy(Path::new("fixtures/corrupt").join(name), dir.join(name)).unwrap();
    }
    // a header whose stored digest does not match: flip a byte inside the main header
    let mut bytes = std::fs::read(&pkg).unwrap();
    let broken = dir.join("broken-header.rpm");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    let _ = at;
    std::fs::write(&broken, &bytes).unwrap();
    let before: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let out = run_expecting(
        rpmdepot(&ks)
            .args(["sign", "--key", "a/b"])
            .arg(dir.join("truncated.rpm"))
            .arg(dir.join("not-an-rpm.rpm"))
            .arg(dir.join("empty.rpm")),
        1,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["truncated.rpm", "not-an-rpm.rpm", "empty.rpm"] {
        assert!(stderr.contains(name), "{stderr}");
    }
    let after: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(before, after, "inputs changed or temp files left");
}

fn gpg_verify(gnupg: &Path, asc: &Path, data: &Path) -> bool {
    Command::new("gpg")
        .arg("--homedir")
        .arg(gnupg)
        .args(["--batch", "--verify"])
        .arg(asc)
        .arg(data)
        .output()
        .unwrap()
        .status
        .success()
}

fn sq_verify(key: &Path, asc: &Path, data: &Path) -> bool {
    Command::new("sq")
        .args(["verify", "--detached"])
        .arg(asc)
        .arg("--signer-cert")
        .arg(key)
        .arg(data)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn signed_repomd_verifies_with_gpg_and_sq() {
    if !tools_available(&["gpg", "sq"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let ks = scratch.path().join("keystore");
    generate(&ks, "repo/key", &[]);
    let repo = fresh_dir(&scratch.path().join("repo"));
    std::fs::copy(
        "fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm",
        repo.join("rpmdepot-hello-1.0-1.noarch.rpm"),
    )
    .unwrap();
    run_success(rpmdepot_createrepo().arg(&repo));
    run_success(
        rpmdepot(&ks)
            .args(["sign-repo", "--key", "repo/key"])
            .arg(&repo),
    );
    let repodata = repo.join("repodata");
    let (asc, xml, key) = (
        repodata.join("repomd.xml.asc"),
        repodata.join("repomd.xml"),
        repodata.join("repomd.xml.key"),
    );
    assert!(
        std::fs::read_to_string(&asc)
            .unwrap()
            .starts_with("-----BEGIN PGP SIGNATURE-----")
    );
    let gnupg = fresh_dir(&scratch.path().join("gnupg"));
    run_success(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args(["--batch", "--import"])
            .arg(&key),
    );
    assert!(gpg_verify(&gnupg, &asc, &xml));
    assert!(sq_verify(&key, &asc, &xml));
    let mut bytes = std::fs::read(&xml).unwrap();
    bytes[10] ^= 1;
    let tampered = scratch.path().join("repomd-tampered.xml");
    std::fs::write(&tampered, &bytes).unwrap();
    assert!(!gpg_verify(&gnupg, &asc, &tampered));
    assert!(!sq_verify(&key, &asc, &tampered));
}

fn dnf_install(scratch: &Path, repo: &Path, key: &Path, package: &str) -> std::process::Output {
    let root = fresh_dir(&scratch.join("root"));
    let config = scratch.join("dnf.conf");
    std::fs::write(
        &config,
        format!(
            "[main]\nreposdir=/dev/null\ncachedir={}\n\n[signed]\nname=signed\nbaseurl=file://{}\n\
             gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            scratch.join("cache").display(),
            repo.display(),
            key.display()
        ),
    )
    .unwrap();
    Command::new("dnf")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--installroot={}", root.display()))
        .args(["--releasever=1", "--repo=signed", "-y", "--nodocs"])
        .args(["--setopt=install_weak_deps=0", "install", package])
        .output()
        .unwrap()
}

/// createrepo --sign-key over packages we signed; dnf with gpgcheck and repo_gpgcheck installs
/// from it, and refuses a tampered package or a tampered repomd.xml.
#[test]
fn dnf_installs_from_a_signed_repository_and_refuses_tampering() {
    if !tools_available(&["dnf", "rpm"]) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let scratch = scratch.path().canonicalize().unwrap();
    let ks = scratch.join("keystore");
    generate(&ks, "owner/project", &[]);
    let make_repo = |name: &str| {
        let repo = fresh_dir(&scratch.join(name));
        std::fs::copy(
            "fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm",
            repo.join("rpmdepot-hello-1.0-1.noarch.rpm"),
        )
        .unwrap();
        run_success(
            rpmdepot(&ks)
                .args(["sign", "--key", "owner/project"])
                .arg(repo.join("rpmdepot-hello-1.0-1.noarch.rpm")),
        );
        repo
    };
    let repo = make_repo("good");
    run_success(
        rpmdepot_createrepo()
            .env("RPMDEPOT_KEYSTORE", &ks)
            .args(["--sign-key", "owner/project"])
            .arg(&repo),
    );
    let key = repo.join("repodata/repomd.xml.key");
    assert!(repo.join("repodata/repomd.xml.asc").is_file());
    let out = dnf_install(&scratch.join("dnf-good"), &repo, &key, "rpmdepot-hello");
    assert!(
        out.status.success(),
        "dnf failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = run_success(
        Command::new("rpm")
            .arg("--root")
            .arg(scratch.join("dnf-good/root"))
            .args(["-q", "rpmdepot-hello"]),
    );
    assert!(String::from_utf8_lossy(&installed.stdout).starts_with("rpmdepot-hello-1.0-1"));

    // A package changed after signing (same size, one payload byte flipped, metadata
    // regenerated so only the signature can catch it).
    let bad_pkg = make_repo("bad-package");
    let file = bad_pkg.join("rpmdepot-hello-1.0-1.noarch.rpm");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    run_success(
        rpmdepot_createrepo()
            .env("RPMDEPOT_KEYSTORE", &ks)
            .args(["--sign-key", "owner/project"])
            .arg(&bad_pkg),
    );
    let out = dnf_install(
        &scratch.join("dnf-bad-pkg"),
        &bad_pkg,
        &key,
        "rpmdepot-hello",
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "dnf installed a tampered package");
    assert!(text.contains("GPG check FAILED"), "{text}");

    // repomd.xml changed after signing.
    let bad_md = make_repo("bad-repomd");
    run_success(
        rpmdepot_createrepo()
            .env("RPMDEPOT_KEYSTORE", &ks)
            .args(["--sign-key", "owner/project"])
            .arg(&bad_md),
    );
    let repomd = bad_md.join("repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd).unwrap();
    std::fs::write(&repomd, text.replacen("<revision>", "<revision>1", 1)).unwrap();
    let out = dnf_install(&scratch.join("dnf-bad-md"), &bad_md, &key, "rpmdepot-hello");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "dnf accepted a tampered repomd.xml");
    assert!(
        text.contains("repomd.xml GPG signature verification error"),
        "{text}"
    );
}
