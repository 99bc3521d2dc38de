//! Arbitrary bytes as a log file: decompression sniffing, line splitting, every parser
//! (CloudFront W3C and JSON, Fastly, combined) and the counting rules must never panic, and
//! every line must end up in exactly one place.
//!
//! Run with `cargo fuzz run log_lines` from `statsd/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statsd::format::{LineParser, Parsed};

fuzz_target!(|data: &[u8]| {
    // The whole pipeline, as a file would go through it.
    if let Ok((_, reader)) =
        statsd::input::decompressed(Box::new(std::io::Cursor::new(data.to_vec())))
    {
        let counts = statsd::count_stream(reader, &statsd::CountOptions::default());
        assert_eq!(
            counts.requests,
            statsd::tally::requests_accounted_for(&counts)
        );
        assert!(counts.lines >= counts.requests);
    }
    // Each parser on each line, with a CloudFront header first so the W3C path is reached.
    let mut parser = LineParser::new();
    let _ = parser.parse(b"#Fields: date time cs-method cs-uri-stem sc-status cs(User-Agent) cs-uri-query sc-bytes sc-content-len sc-range-end x-host-header");
    for line in data.split(|b| *b == b'\n') {
        let _ = parser.parse(line);
        let mut fresh = LineParser::new();
        if let Parsed::Request(request) = fresh.parse(line) {
            assert!(request.status <= 999);
        }
    }
});
