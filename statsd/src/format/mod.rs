//! Log formats: recognising a file's format from its lines and cutting lines into
//! [`Request`]s.
//!
//! Owns format detection and per-file parser state (the W3C column map, scratch buffers).
//! Must not decide what counts. Detection looks at content only: `#Version`/`#Fields` →
//! CloudFront W3C; `{` → JSON lines (CloudFront v2 or Fastly); `<PRI>…: ` → syslog prefix
//! (Fastly), then a JSON or combined body; otherwise an access-log line (`… [time] "request"
//! …`) → combined. A line that matches nothing is rejected as `unknown_format` and detection
//! goes on with the next line.

mod combined;
mod fastly;
mod json;
mod w3c;

use crate::record::{Rejection, Request};

/// A log format statsd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CloudFront standard (legacy) logs: W3C, tab separated.
    CloudFrontW3c,
    /// One JSON object per line (CloudFront v2 JSON output, Fastly JSON without prefix).
    JsonLines,
    /// Syslog-prefixed lines (Fastly), JSON or combined body.
    Syslog,
    /// Apache/nginx/lighttpd common or combined.
    Combined,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::CloudFrontW3c => "cloudfront",
            Format::JsonLines => "json",
            Format::Syslog => "fastly",
            Format::Combined => "combined",
        }
    }
}

/// What one line turned out to be.
#[derive(Debug)]
pub enum Parsed<'a> {
    Request(Request<'a>),
    /// A header, comment, marker or blank line: not a request, not an error.
    Meta,
    Rejected(Rejection),
}

/// Parses the lines of one file, in order.
#[derive(Debug, Default)]
pub struct LineParser {
    format: Option<Format>,
    columns: Option<w3c::Columns>,
    dates: w3c::DateCache,
    scratch: fastly::Scratch,
}

impl LineParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The format detected so far.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    #[inline]
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        if self.format == Some(Format::CloudFrontW3c)
            && let Some(columns) = &self.columns
            && line.first() != Some(&b'#')
            && !line.is_empty()
        {
            return match w3c::parse(line, columns, &mut self.dates) {
                Ok(request) => Parsed::Request(request),
                Err(rejection) => Parsed::Rejected(rejection),
            };
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return Parsed::Meta;
        }
        if line[0] == b'#' {
            return self.directive(line);
        }
        if line.starts_with(b"=== start:") {
            // The marker Fedora's lighttpd log pipe writes on start and SIGHUP.
            return Parsed::Meta;
        }
        let format = match self.format {
            Some(format) => format,
            None => match line[0] {
                b'{' => Format::JsonLines,
                b'<' if fastly::strip_syslog_prefix(line).is_some() => Format::Syslog,
                _ => Format::Combined,
            },
        };
        let result = match format {
            Format::CloudFrontW3c => Err(Rejection::DataBeforeFields),
            Format::JsonLines => fastly::parse(line, &mut self.scratch),
            Format::Syslog => match fastly::strip_syslog_prefix(line) {
                Some(body) if body.first() == Some(&b'{') => fastly::parse(body, &mut self.scratch),
                Some(body) => combined::parse(body),
                None => Err(Rejection::UnknownFormat),
            },
            Format::Combined => combined::parse(line),
        };
        if self.format.is_none()
            && !matches!(result, Err(Rejection::UnknownFormat | Rejection::BadJson))
        {
            self.format = Some(format);
        }
        match result {
            Ok(request) => Parsed::Request(request),
            Err(rejection) => Parsed::Rejected(rejection),
        }
    }

    fn directive(&mut self, line: &[u8]) -> Parsed<'static> {
        if let Some(names) = line.strip_prefix(b"#Fields:") {
            self.format = Some(Format::CloudFrontW3c);
            self.columns = w3c::Columns::from_header(names);
            if self.columns.is_none() {
                return Parsed::Rejected(Rejection::MissingField);
            }
        } else if line.starts_with(b"#Version:") {
            self.format = Some(Format::CloudFrontW3c);
        } else if self.format != Some(Format::CloudFrontW3c) {
            return Parsed::Rejected(Rejection::UnknownFormat);
        }
        Parsed::Meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Encoding;

    const FIELDS: &[u8] = b"#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";
    const LINE: &[u8] = b"2026-08-06\t15:01:02\tFRA56-P4\t85034\t192.0.2.50\tGET\td1.cloudfront.net\t/results/a/b/c/1-x/x-1-1.x86_64.rpm\t206\t-\tlibdnf%20(Fedora)\tq=1\t-\tHit\tid\tdownload.example\thttps\t210\t0.012\t-\tTLSv1.3\tTLS\tHit\tHTTP/2.0\t-\t-\t51234\t0.012\tHit\tapplication/x-rpm\t84512\t100\t84611";

    #[test]
    fn cloudfront_w3c() {
        let mut parser = LineParser::new();
        assert!(matches!(parser.parse(b"#Version: 1.0"), Parsed::Meta));
        assert!(matches!(parser.parse(FIELDS), Parsed::Meta));
        let Parsed::Request(r) = parser.parse(LINE) else {
            panic!()
        };
        assert_eq!(r.timestamp, 1_786_028_462);
        assert_eq!(r.status, 206);
        assert_eq!(r.method, b"GET");
        assert_eq!(r.user_agent, b"libdnf%20(Fedora)");
        assert_eq!(r.query, b"q=1");
        assert_eq!(r.host, b"download.example");
        assert_eq!(
            (r.bytes_sent, r.content_length, r.range_end),
            (Some(85034), Some(84512), Some(84611))
        );
        assert_eq!(r.encoding, Encoding::CloudFront);
        // trailing tab
        let mut trailing = LINE.to_vec();
        trailing.push(b'\t');
        assert!(matches!(parser.parse(&trailing), Parsed::Request(_)));
        // cut short
        assert!(matches!(
            parser.parse(&LINE[..100]),
            Parsed::Rejected(Rejection::TooFewFields)
        ));
        // re-header with fewer, reordered fields
        assert!(matches!(
            parser.parse(b"#Fields: cs-uri-stem sc-status cs-method date time"),
            Parsed::Meta
        ));
        let Parsed::Request(r) = parser.parse(b"/x.rpm\t200\tHEAD\t2026-08-07\t00:00:01") else {
            panic!()
        };
        assert_eq!(
            (r.path, r.status, r.method, r.timestamp),
            (&b"/x.rpm"[..], 200, &b"HEAD"[..], 1_786_060_801)
        );
    }

    #[test]
    fn data_before_fields() {
        let mut parser = LineParser::new();
        assert!(matches!(parser.parse(b"#Version: 1.0"), Parsed::Meta));
        assert!(matches!(
            parser.parse(LINE),
            Parsed::Rejected(Rejection::DataBeforeFields)
        ));
    }

    #[test]
    fn fastly_prefix_json() {
        let mut parser = LineParser::new();
        let line = br#"<134>2025-10-26T23:57:34Z cache-chi s3-request-logs[257678]: {"bytes":36308,"date_time":"2025-10-26T23:57:34.867635728Z","host":"static.crates.io","http":{"protocol":"HTTP/2","referer":null,"useragent":"cargo/1.92.0 \"x\""},"method":"GET","status":200,"url":"https://static.crates.io/crates/a/a-1%2B2.crate?x=1","version":"1"}"#;
        let Parsed::Request(r) = parser.parse(line) else {
            panic!()
        };
        assert_eq!(r.path, b"/crates/a/a-1%2B2.crate");
        assert_eq!(r.query, b"x=1");
        assert_eq!(r.user_agent, b"cargo/1.92.0 \"x\"");
        assert_eq!(r.host, b"static.crates.io");
        assert_eq!(r.status, 200);
        assert_eq!(r.bytes_sent, Some(36308));
        assert_eq!(parser.format(), Some(Format::Syslog));
        assert!(matches!(
            parser.parse(
                b"<134>2016-07-04T22:37:26Z cache-sjc3128 LogTest[62959]: <your log message>"
            ),
            Parsed::Rejected(Rejection::UnknownFormat)
        ));
    }

    #[test]
    fn cloudfront_v2_json() {
        let mut parser = LineParser::new();
        let line = br#"{"timestamp":"1786028462.123","cs-method":"GET","cs-uri-stem":"/results/%2540g/p/c/1-x/x-1-1.noarch.rpm","sc-status":"200","cs(User-Agent)":"dnf5/5.2","x-host-header":"h","sc-bytes":"10","sc-content-len":"9"}"#;
        let Parsed::Request(r) = parser.parse(line) else {
            panic!()
        };
        assert_eq!(r.timestamp, 1_786_028_462);
        assert_eq!(r.encoding, Encoding::CloudFront);
        assert_eq!(r.path, b"/results/%2540g/p/c/1-x/x-1-1.noarch.rpm");
        assert!(matches!(
            parser.parse(b"{\"broken\":"),
            Parsed::Rejected(Rejection::BadJson)
        ));
        assert!(matches!(
            parser.parse(b"{\"date_time\":\"2024-01-01T00:00:00Z\"}"),
            Parsed::Rejected(Rejection::MissingField)
        ));
    }

    #[test]
    fn combined_detection_skips_garbage_first() {
        let mut parser = LineParser::new();
        assert!(matches!(
            parser.parse(b"\x00\x01garbage"),
            Parsed::Rejected(Rejection::UnknownFormat)
        ));
        assert!(matches!(
            parser.parse(b"=== start: logger ==="),
            Parsed::Meta
        ));
        let line = br#"192.0.2.10 host - [06/Aug/2026:03:14:07 +0000] "GET /a.rpm HTTP/1.1" 200 5 "-" "curl/8""#;
        assert!(matches!(parser.parse(line), Parsed::Request(_)));
        assert_eq!(parser.format(), Some(Format::Combined));
    }
}
