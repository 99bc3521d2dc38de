//! Fuzzes the RPM header reader and the record rules on arbitrary bytes:
//! `cargo fuzz run rpm_headers` from `repo-core/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repo_core::header::read_headers;
use repo_core::record::{ChangelogLimit, FileFacts, PackageRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(headers) = read_headers(&mut &data[..]) else {
        return;
    };
    let facts = FileFacts {
        pkgid: String::new(),
        checksum_type: "sha256".into(),
        size: data.len() as u64,
        mtime: 0,
        location_href: "fuzz.rpm".into(),
        location_base: None,
    };
    if let Ok(record) = PackageRecord::from_headers(&headers, facts, ChangelogLimit::All) {
        let mut out = String::new();
        repo_core::xml::render_primary(&record, &mut out);
        repo_core::xml::render_filelists(&record, true, &mut out);
        repo_core::xml::render_other(&record, &mut out);
    }
});
