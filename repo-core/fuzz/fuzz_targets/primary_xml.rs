//! Fuzzes the streaming primary.xml reader (the part of `import` that reads a repository's
//! existing metadata) on arbitrary bytes, and renders whatever it accepts:
//! `cargo fuzz run primary_xml` from `repo-core/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repo_core::existing::{PrimaryReader, is_safe_location};

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    let mut reader = PrimaryReader::new(input, "primary.xml");
    while let Ok(Some(record)) = reader.next_record() {
        assert!(is_safe_location(&record.location_href));
        let mut out = String::new();
        repo_core::xml::render_primary(&record, &mut out);
    }
});
