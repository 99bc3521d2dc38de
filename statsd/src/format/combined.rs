//! Apache/nginx/lighttpd access logs: common, combined and lighttpd's `%h %V %u` variant.
//!
//! `HOST IDENT USER [10/Oct/2000:13:55:36 -0700] "GET /path?q HTTP/1.1" 200 2326 "referer" "agent"`.
//! Owns cutting such a line into a [`Request`]. Local times with offsets become UTC; quotes
//! escaped as `\"` inside the request, referer or agent are honoured; IPv6 hosts need no
//! brackets (only the `[` of the time is searched). Must not decode paths.

use crate::record::{Encoding, Rejection, Request};
use crate::text::{parse_status, parse_u64};
use crate::time::parse_clf;

/// The quoted string starting after the opening quote at `start`: returns its contents and
/// the index after the closing quote.
fn quoted(line: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let mut at = start;
    loop {
        let offset = memchr::memchr2(b'"', b'\\', &line[at..])?;
        at += offset;
        if line[at] == b'\\' {
            at += 2;
            if at > line.len() {
                return None;
            }
        } else {
            return Some((&line[start..at], at + 1));
        }
    }
}

/// Splits a request target into path and query (query without `?`; fragments dropped).
pub fn split_target(target: &[u8]) -> (&[u8], &[u8]) {
    let target = match memchr::memchr(b'#', target) {
        Some(hash) => &target[..hash],
        None => target,
    };
    match memchr::memchr(b'?', target) {
        Some(question) => (&target[..question], &target[question + 1..]),
        None => (target, &[]),
    }
}

/// Path of an absolute-form target (`http://host/path` → `/path`), or the target itself.
pub fn strip_authority(target: &[u8]) -> (&[u8], &[u8]) {
    for scheme in [&b"https://"[..], b"http://"] {
        if target.len() >= scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &target[scheme.len()..];
            return match memchr::memchr(b'/', rest) {
                Some(slash) => (&rest[..slash], &rest[slash..]),
                None => (rest, b"/"),
            };
        }
    }
    (&[], target)
}

/// Parses one line. `Err(UnknownFormat)` when the line does not have the shape of an access
/// log line at all (no `[time]` followed by a quoted request).
pub fn parse(line: &[u8]) -> Result<Request<'_>, Rejection> {
    let first_space = memchr::memchr(b' ', line).ok_or(Rejection::UnknownFormat)?;
    let open =
        first_space + memchr::memchr(b'[', &line[first_space..]).ok_or(Rejection::UnknownFormat)?;
    let close = open + memchr::memchr(b']', &line[open..]).ok_or(Rejection::UnknownFormat)?;
    if !line[close + 1..].starts_with(b" \"") {
        return Err(Rejection::UnknownFormat);
    }
    let timestamp = parse_clf(&line[open + 1..close]).ok_or(Rejection::BadTimestamp)?;
    let (request, after) = quoted(line, close + 3).ok_or(Rejection::BadRequestLine)?;

    let rest = &line[after..];
    let rest = rest.strip_prefix(b" ").ok_or(Rejection::BadStatus)?;
    let status_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let status = parse_status(&rest[..status_end]).ok_or(Rejection::BadStatus)?;
    let rest = rest.get(status_end + 1..).unwrap_or(&[]);
    let bytes_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let bytes_sent = parse_u64(&rest[..bytes_end]);
    let rest = rest.get(bytes_end + 1..).unwrap_or(&[]);
    let mut user_agent: &[u8] = &[];
    if rest.first() == Some(&b'"') {
        let (_referer, after_referer) = quoted(rest, 1).ok_or(Rejection::BadRequestLine)?;
        if rest[after_referer..].starts_with(b" \"") {
            let (agent, _) = quoted(rest, after_referer + 2).ok_or(Rejection::BadRequestLine)?;
            user_agent = agent;
        }
    }

    // METHOD SP target [SP protocol]
    let method_end = memchr::memchr(b' ', request).ok_or(Rejection::BadRequestLine)?;
    let method = &request[..method_end];
    if method.is_empty() || method.len() > 16 || !method.iter().all(u8::is_ascii_uppercase) {
        return Err(Rejection::BadRequestLine);
    }
    let target_and_protocol = &request[method_end + 1..];
    let target = match memchr::memrchr(b' ', target_and_protocol) {
        Some(space) if target_and_protocol[space + 1..].starts_with(b"HTTP/") => {
            &target_and_protocol[..space]
        }
        Some(_) => return Err(Rejection::BadRequestLine),
        None => target_and_protocol,
    };
    let (host, target) = strip_authority(target);
    if target.first() != Some(&b'/') || memchr::memchr(b' ', target).is_some() {
        return Err(Rejection::BadRequestLine);
    }
    let (path, query) = split_target(target);
    Ok(Request {
        timestamp,
        method,
        status,
        path,
        query,
        user_agent,
        host,
        bytes_sent,
        content_length: None,
        range_end: None,
        transfer_failed: false,
        encoding: Encoding::AsSent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_doc_lines() {
        let r = parse(br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#).unwrap();
        assert_eq!(r.timestamp, 971_211_336);
        assert_eq!(r.method, b"GET");
        assert_eq!(r.path, b"/apache_pb.gif");
        assert_eq!(r.status, 200);
        assert_eq!(r.bytes_sent, Some(2326));
        assert_eq!(r.user_agent, b"Mozilla/4.08 [en] (Win98; I ;Nav)");
        let common = parse(br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#).unwrap();
        assert_eq!(common.user_agent, b"");
    }

    #[test]
    fn ipv6_escaped_quotes_and_query() {
        let r = parse(br#"2001:db8::42 copr-be.example - [06/Aug/2026:03:22:40 +0200] "GET /metalink?repo=f41&countme=2 HTTP/2.0" 200 - "-" "weird \"agent\" 1.0""#).unwrap();
        assert_eq!(r.timestamp, 1_785_986_560 - 7200);
        assert_eq!(r.path, b"/metalink");
        assert_eq!(r.query, b"repo=f41&countme=2");
        assert_eq!(r.bytes_sent, None);
        assert_eq!(r.user_agent, br#"weird \"agent\" 1.0"#);
    }

    #[test]
    fn garbage() {
        let bad = |line: &[u8]| parse(line).err().unwrap();
        assert_eq!(
            bad(br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "-" 400 0 "-" "-""#),
            Rejection::BadRequestLine
        );
        assert_eq!(
            bad(b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"\x16\x03\x01\x02\" 400 0 \"-\" \"-\""),
            Rejection::BadRequestLine
        );
        assert_eq!(
            bad(br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a b c" 400 0"#),
            Rejection::BadRequestLine
        );
        assert_eq!(
            bad(br#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1"#),
            Rejection::BadTimestamp
        );
        assert_eq!(
            bad(br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 2x0 1"#),
            Rejection::BadStatus
        );
        assert_eq!(bad(b"hello world"), Rejection::UnknownFormat);
        assert_eq!(bad(b""), Rejection::UnknownFormat);
        let absolute = parse(br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET http://mirror.example/pub/a.rpm HTTP/1.1" 200 1"#).unwrap();
        assert_eq!(absolute.path, b"/pub/a.rpm");
        assert_eq!(absolute.host, b"mirror.example");
    }
}
