//! Hostile bytes never make the RPM reader panic: every truncation of a real package and
//! random mutations of it give either a record or a clear error.

use std::path::Path;

use proptest::prelude::*;
use repo_core::header::read_headers;
use repo_core::record::{ChangelogLimit, FileFacts, PackageRecord};

fn sample() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/rpms/rpmdepot-deps-1.2.3-4.x86_64.rpm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn facts() -> FileFacts {
    FileFacts {
        pkgid: "0".repeat(64),
        checksum_type: "sha256".into(),
        size: 0,
        mtime: 0,
        location_href: "x.rpm".into(),
        location_base: None,
    }
}

/// Parses bytes the way `createrepo` does; must return, never panic.
fn parse(bytes: &[u8]) -> Result<PackageRecord, String> {
    let headers = read_headers(&mut &bytes[..]).map_err(|e| e.to_string())?;
    PackageRecord::from_headers(&headers, facts(), ChangelogLimit::All).map_err(|e| e.to_string())
}

#[test]
fn every_truncation_is_an_error_until_the_payload() {
    let bytes = sample();
    let full = parse(&bytes).expect("the sample parses");
    let payload_start = full.header_end as usize;
    for len in 0..payload_start {
        let err = parse(&bytes[..len]).expect_err("a truncated header must not parse");
        assert!(
            err.contains("truncated") || err.contains("shorter than an RPM lead"),
            "cut at {len}: {err}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_packages_never_panic(
        flips in proptest::collection::vec((0usize..8192, any::<u8>()), 1..16)
    ) {
        let mut bytes = sample();
        for (offset, value) in flips {
            let index = offset % bytes.len();
            bytes[index] = value;
        }
        let _ = parse(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }
}
