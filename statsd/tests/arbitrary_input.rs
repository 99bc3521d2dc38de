//! Arbitrary bytes and mangled log lines never panic, and every request ends in exactly one
//! place (a counter, a rejection or a not-counted reason). The same check runs under
//! libFuzzer in `statsd/fuzz` (`cargo fuzz run log_lines`).

use proptest::prelude::*;
use statsd::CountOptions;
use statsd::tally::requests_accounted_for;

const SEEDS: &[&str] = &[
    "#Version: 1.0",
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end",
    "2026-08-06\t15:01:02\tFRA56-P4\t85034\t192.0.2.50\tGET\td1.net\t/results/%2540o/p/c/1-x/x-1-1.x86_64.rpm\t206\t-\tlibdnf%20(F)\t-\t-\tHit\tid\th\thttps\t210\t0.012\t-\tTLSv1.3\tT\tHit\tHTTP/2.0\t-\t-\t1\t0.01\tHit\tapplication/x-rpm\t84512\t0\t84511",
    "192.0.2.1 - - [06/Aug/2026:03:14:07 +0200] \"GET /results/o/p/c/repodata/repomd.xml?x=1 HTTP/1.1\" 304 0 \"-\" \"dnf5/5\"",
    "2001:db8::1 - - [06/Aug/2026:03:14:07 -0500] \"HEAD /metalink?repo=f42&arch=x86_64&countme=2 HTTP/2.0\" 200 1 \"-\" \"libdnf (F)\"",
    "<134>2024-01-16T23:53:20Z cache s3[1]: {\"date_time\":\"2024-01-16T23:53:20Z\",\"method\":\"GET\",\"status\":200,\"url\":\"https://h/pub/f/Packages/a/a-1-1.noarch.rpm\",\"http\":{\"useragent\":\"zypper\"}}",
    "{\"timestamp\":\"1786028462\",\"cs-method\":\"GET\",\"cs-uri-stem\":\"/x/y/z.src.rpm\",\"sc-status\":\"000\"}",
    "=== start: logger ===",
];

fn check(data: &[u8]) {
    let (_, reader) =
        statsd::input::decompressed(Box::new(std::io::Cursor::new(data.to_vec()))).unwrap();
    let counts = statsd::count_stream(reader, &CountOptions::default());
    assert_eq!(
        counts.requests,
        requests_accounted_for(&counts),
        "{counts:#?}"
    );
    assert!(counts.lines >= counts.requests);
}

proptest! {
    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        check(&data);
    }

    #[test]
    fn mangled_log_lines(
        picks in proptest::collection::vec((0..SEEDS.len(), any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..40),
    ) {
        let mut data = Vec::new();
        for (seed, position, byte, how) in picks {
            let mut line = SEEDS[seed].as_bytes().to_vec();
            let at = position.index(line.len() + 1);
            match how {
                0 => {}
                1 => line.insert(at, byte),
                2 => line.truncate(at),
                _ => { if at < line.len() { line[at] = byte; } }
            }
            data.extend(line);
            data.push(b'\n');
        }
        check(&data);
    }
}
