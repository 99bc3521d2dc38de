//! Fuzzes what `serve` does with a request before it touches the catalog: the request head,
//! the target path and the Range header, on arbitrary bytes:
//! `cargo fuzz run http_request` from `publisher/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use publisher::serve::{clean_path, parse_range, parse_request_head};

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the file size the range is checked against.
    let (size, head) = match data {
        [a, b, rest @ ..] => (u64::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let Ok(request) = parse_request_head(head) else {
        return;
    };
    if let Some(path) = clean_path(&request.target) {
        assert!(!path.is_empty());
        assert!(
            path.split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
        );
        assert!(!path.contains('\\') && !path.contains('\0'));
    }
    if let Ok(Some((start, end))) = parse_range(request.header("Range"), size) {
        assert!(start <= end && end < size);
    }
});
