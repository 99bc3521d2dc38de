//! Fuzzes the RPM lead/signature-header reader and the signature-header rewrite on arbitrary
//! bytes: `cargo fuzz run signature_header` from `signer/`. Whatever parses must survive a
//! re-sign: the rebuilt signature header parses back to the same entries.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use signer::package::{SignatureHeader, read_head, resigned_header, sigtag};

fuzz_target!(|data: &[u8]| {
    let Ok(head) = read_head(&mut &data[..], Path::new("fuzz.rpm")) else {
        return;
    };
    let _ = signer::package::check_header_digests(&head, Path::new("fuzz.rpm"));
    let rebuilt = resigned_header(&head, sigtag::RSA, vec![0x88; 40]);
    let bytes = rebuilt.to_bytes();
    let n = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let parsed = SignatureHeader::parse(&bytes[16..16 + n * 16], &bytes[16 + n * 16..])
        .expect("a header we wrote parses");
    assert_eq!(parsed, rebuilt);
});
