//! The S3 backend against a real S3 server (Garage, started by `.ci/start-garage`), and the
//! same publication materialised on disk and in S3 giving identical trees.
//!
//! Needs `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` and
//! `RPMDEPOT_TEST_S3_BUCKET`; without them the tests say they did not run, and fail in CI.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use publisher::catalog::{Catalog, Layout, RepositorySettings};
use publisher::store::{
    BlobStore, LocalStore, PutOutcome, S3Settings, S3Store, artifact_key, open_store,
    sha256_of_file,
};

fn skip_or_fail_in_ci(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("prerequisite missing in CI (tests must not skip in CI): {reason}");
    }
    println!("SKIPPED (did not run): {reason}");
}

/// A fresh key prefix in the test bucket, or `None` (after saying so) without S3.
fn s3_prefix(test: &str) -> Option<(String, String)> {
    let bucket = std::env::var("RPMDEPOT_TEST_S3_BUCKET")
        .ok()
        .filter(|b| !b.is_empty());
    match (bucket, std::env::var_os("AWS_ENDPOINT_URL")) {
        (Some(bucket), Some(_)) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            Some((bucket, format!("{test}-{}-{nanos}", std::process::id())))
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

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms")
}

fn read_all(store: &dyn BlobStore, key: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    store
        .get(key, range)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

#[test]
fn s3_put_get_head_list_delete_and_multipart() {
    let Some((bucket, prefix)) = s3_prefix("store") else {
        return;
    };
    let mut settings = S3Settings::from_env(&bucket, &prefix).unwrap();
    settings.multipart_threshold = 6 << 20; // a 20 MiB object goes in 3 parts
    let store = S3Store::open(settings).unwrap();

    store
        .put("a/small", &mut &b"hello world"[..], 11, None)
        .unwrap();
    let info = store.head("a/small").unwrap().expect("just stored");
    assert_eq!(info.size, 11);
    assert_eq!(read_all(&store, "a/small", None), b"hello world");
    assert_eq!(read_all(&store, "a/small", Some((6, 10))), b"world");
    assert!(store.head("a/absent").unwrap().is_none());
    assert!(matches!(
        store.get("a/absent", None),
        Err(publisher::Error::NotFound(_))
    ));

    // Refresh: a new Last-Modified (second resolution), the same content.
    let before = store.head("a/small").unwrap().unwrap().modified;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    store.refresh("a/small").unwrap();
    let after = store.head("a/small").unwrap().unwrap();
    assert!(
        after.modified > before,
        "{:?} -> {:?}",
        before,
        after.modified
    );
    assert_eq!(after.size, 11);
    assert_eq!(read_all(&store, "a/small", None), b"hello world");

    // Multipart: 20 MiB of non-repeating bytes, checked on the way up and read back.
    let big: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = {
        use sha2::Digest;
        publisher::store::hex(&sha2::Sha256::digest(&big))
    };
    store
        .put("a/big", &mut &big[..], big.len() as u64, Some(&digest))
        .unwrap();
    assert_eq!(store.head("a/big").unwrap().unwrap().size, big.len() as u64);
    store.verify("a/big", big.len() as u64, &digest).unwrap();
    assert_eq!(
        read_all(&store, "a/big", Some((7 << 20, (7 << 20) + 99))),
        &big[7 << 20..(7 << 20) + 100]
    );

    // A wrong digest stores nothing, single or multipart.
    let wrong = "0".repeat(64);
    assert!(
        store
            .put("a/bad", &mut &b"abc"[..], 3, Some(&wrong))
            .is_err()
    );
    assert!(
        store
            .put("a/bad-big", &mut &big[..], big.len() as u64, Some(&wrong))
            .is_err()
    );
    assert!(store.head("a/bad").unwrap().is_none());
    assert!(store.head("a/bad-big").unwrap().is_none());

    let keys: Vec<String> = store
        .list("a/")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["a/big", "a/small"]);

    // Artifacts: Pulp's key, stored once.
    let package = fixtures().join("rpmdepot-hello-1.0-1.noarch.rpm");
    let (sha, size) = sha256_of_file(&package).unwrap();
    assert_eq!(
        store.put_artifact(&package, &sha).unwrap(),
        PutOutcome::Stored
    );
    assert_eq!(
        store.put_artifact(&package, &sha).unwrap(),
        PutOutcome::AlreadyPresent
    );
    let key = artifact_key(&sha).unwrap();
    store.verify(&key, size, &sha).unwrap();
    let url = store
        .presigned_get(&key, Duration::from_secs(60))
        .unwrap()
        .expect("S3 presigns");
    assert!(url.contains(&sha[2..]), "{url}");

    for key in ["a/small", "a/big", &key] {
        store.delete(key).unwrap();
    }
    store.delete("a/small").unwrap(); // absent: not an error
    assert!(store.list("").unwrap().is_empty());
}

/// Every object under a store, with its bytes.
fn tree(store: &dyn BlobStore) -> Vec<(String, Vec<u8>)> {
    store
        .list("")
        .unwrap()
        .into_iter()
        .map(|o| {
            let bytes = read_all(store, &o.key, None);
            (o.key, bytes)
        })
        .collect()
}

#[test]
fn the_same_publication_gives_identical_trees_on_disk_and_in_s3() {
    let Some((bucket, prefix)) = s3_prefix("tree") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let content = LocalStore::open(&dir.path().join("store")).unwrap();
    let mut catalog = Catalog::open(&dir.path().join("catalog.sqlite")).unwrap();
    catalog
        .create_repository(
            "owner/project/fedora-43-x86_64",
            &RepositorySettings {
                layout: Layout::Nested,
                compression: "zstd".into(),
                retain_versions: 10,
                signing_key: None,
            },
        )
        .unwrap();
    let files = publisher::publish::find_packages(&fixtures()).unwrap();
    let report = publisher::publish::add_files(
        &mut catalog,
        &content,
        "owner/project/fedora-43-x86_64",
        &files,
        &|_, _| {},
    )
    .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let published = publisher::publish::publish(
        &mut catalog,
        &content,
        "owner/project/fedora-43-x86_64",
        None,
        None,
        &dir.path().join("tmp"),
    )
    .unwrap();
    let disk = LocalStore::open(&dir.path().join("tree")).unwrap();
    let s3 = open_store(&format!("s3://{bucket}/{prefix}")).unwrap();
    for target in [&disk as &dyn BlobStore, s3.as_ref()] {
        publisher::publish::materialize(
            &mut catalog,
            &content,
            published.publication.id,
            target,
            "",
            Duration::from_secs(3600),
            &|_, _| {},
        )
        .unwrap();
    }
    let on_disk = tree(&disk);
    let in_s3 = tree(s3.as_ref());
    assert!(on_disk.iter().any(|(k, _)| k == "repodata/repomd.xml"));
    assert!(
        on_disk
            .iter()
            .any(|(k, _)| k == "Packages/r/rpmdepot-hello-1.0-1.noarch.rpm")
    );
    let keys = |t: &[(String, Vec<u8>)]| t.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&on_disk), keys(&in_s3));
    assert!(on_disk == in_s3, "same keys, different bytes");
    for (key, _) in &in_s3 {
        s3.delete(key).unwrap();
    }
}
