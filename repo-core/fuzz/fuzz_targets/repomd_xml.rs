//! Fuzzes the repomd.xml reader (what `createrepo --update` and `import` read first) on
//! arbitrary bytes; every record it accepts must be written and read back unchanged:
//! `cargo fuzz run repomd_xml` from `repo-core/`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use repo_core::repomd::{Repomd, parse_repomd};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("repomd.xml");
    let Ok(listed) = parse_repomd(path, data.to_vec()) else {
        return;
    };
    let records: Vec<_> = listed.iter().filter_map(|r| r.to_record().ok()).collect();
    let repomd = Repomd {
        revision: "1".into(),
        records,
        ..Repomd::default()
    };
    let again = parse_repomd(path, repomd.render().into_bytes()).expect("our own repomd.xml");
    let again: Vec<_> = again
        .iter()
        .map(|r| r.to_record().expect("our record"))
        .collect();
    assert_eq!(again, repomd.records);
});
