//! JSON-per-line logs: CloudFront standard logging v2 (JSON output) and Fastly JSON bodies
//! (optionally behind a syslog prefix such as `<134>2024-01-16T23:53:20Z cache-x name[1]: `).
//!
//! CloudFront v2 JSON uses the W3C field names as keys (`date`, `time` or `timestamp`,
//! `cs-method`, `cs-uri-stem`, `sc-status`, `cs(User-Agent)`, …) with CloudFront's URL
//! encoding. Fastly bodies use `date_time` (RFC 3339), `method`, `status`, `url` (full URL or
//! path, with query), `bytes`, `host`, and the user agent as `http.useragent`, `useragent` or
//! `user_agent`. Values may be strings or numbers. Owns mapping those keys to a [`Request`];
//! must not decode paths.

use super::combined::{split_target, strip_authority};
use super::json::{Scalar, scan_object, unescape_into};
use crate::record::{Encoding, Rejection, Request};
use crate::text::{parse_status, parse_u64};
use crate::time::{DAY, parse_clock, parse_day, parse_rfc3339};

/// The body after a classic syslog prefix `<PRI>…: `, or `None` if `line` has no such prefix.
pub fn strip_syslog_prefix(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"<")?;
    let close = memchr::memchr(b'>', rest)?;
    if close == 0 || close > 3 || !rest[..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &rest[close + 1..];
    let colon = memchr::memmem::find(rest, b": ")?;
    Some(&rest[colon + 2..])
}

/// Buffers for values that need unescaping; reused across lines.
#[derive(Debug, Default)]
pub struct Scratch {
    url: Vec<u8>,
    agent: Vec<u8>,
    host: Vec<u8>,
    query: Vec<u8>,
}

#[derive(Default)]
struct Found<'a> {
    date: Option<Scalar<'a>>,
    time: Option<Scalar<'a>>,
    epoch: Option<Scalar<'a>>,
    date_time: Option<Scalar<'a>>,
    method: Option<Scalar<'a>>,
    status: Option<Scalar<'a>>,
    url: Option<Scalar<'a>>,
    query: Option<Scalar<'a>>,
    agent: Option<Scalar<'a>>,
    host: Option<Scalar<'a>>,
    bytes: Option<Scalar<'a>>,
    content_len: Option<Scalar<'a>>,
    range_end: Option<Scalar<'a>>,
    result_type: Option<Scalar<'a>>,
    cloudfront: bool,
}

fn raw<'a>(value: Option<Scalar<'a>>) -> Option<&'a [u8]> {
    match value? {
        Scalar::Str { raw, .. } | Scalar::Num(raw) => Some(raw),
        Scalar::Bool(_) | Scalar::Null => None,
    }
}

fn text_into<'s>(value: Option<Scalar<'_>>, out: &'s mut Vec<u8>) -> &'s [u8] {
    out.clear();
    match value {
        Some(Scalar::Str { raw, escaped: true }) => unescape_into(raw, out),
        Some(
            Scalar::Str {
                raw,
                escaped: false,
            }
            | Scalar::Num(raw),
        ) => out.extend_from_slice(raw),
        _ => {}
    }
    if out.as_slice() == b"-" {
        out.clear();
    }
    out
}

fn number(value: Option<Scalar<'_>>) -> Option<u64> {
    let raw = raw(value)?;
    let whole = match memchr::memchr(b'.', raw) {
        Some(dot) => &raw[..dot],
        None => raw,
    };
    parse_u64(whole)
}

/// Parses one JSON object line.
pub fn parse<'a>(line: &'a [u8], scratch: &'a mut Scratch) -> Result<Request<'a>, Rejection> {
    let mut found = Found::default();
    scan_object(line, |parent, key, value| {
        let slot = match (parent, key) {
            (None, b"date") => &mut found.date,
            (None, b"time") => &mut found.time,
            (None, b"timestamp") => &mut found.epoch,
            (None, b"date_time") => &mut found.date_time,
            (None, b"cs-method" | b"method") => &mut found.method,
            (None, b"sc-status" | b"status") => &mut found.status,
            (None, b"cs-uri-stem") => {
                found.cloudfront = true;
                &mut found.url
            }
            (None, b"url") => &mut found.url,
            (None, b"cs-uri-query") => &mut found.query,
            (None, b"cs(User-Agent)" | b"useragent" | b"user_agent")
            | (Some(b"http"), b"useragent") => &mut found.agent,
            (None, b"x-host-header" | b"host") => &mut found.host,
            (None, b"cs(Host)") => {
                if found.host.is_none() {
                    found.host = Some(value);
                }
                return;
            }
            (None, b"sc-bytes" | b"bytes") => &mut found.bytes,
            (None, b"sc-content-len") => &mut found.content_len,
            (None, b"sc-range-end") => &mut found.range_end,
            (None, b"x-edge-result-type") => &mut found.result_type,
            _ => return,
        };
        *slot = Some(value);
    })
    .ok_or(Rejection::BadJson)?;

    let timestamp = if let (Some(date), Some(time)) = (raw(found.date), raw(found.time)) {
        parse_day(date).ok_or(Rejection::BadTimestamp)? * DAY
            + parse_clock(time).ok_or(Rejection::BadTimestamp)?
    } else if let Some(epoch) = number(found.epoch) {
        i64::try_from(epoch).map_err(|_| Rejection::BadTimestamp)?
    } else if let Some(date_time) = raw(found.date_time) {
        parse_rfc3339(date_time).ok_or(Rejection::BadTimestamp)?
    } else {
        return Err(Rejection::MissingField);
    };
    let method = raw(found.method).ok_or(Rejection::MissingField)?;
    let status = parse_status(raw(found.status).ok_or(Rejection::MissingField)?)
        .ok_or(Rejection::BadStatus)?;
    if found.url.is_none() {
        return Err(Rejection::MissingField);
    }
    let Scratch {
        url,
        agent,
        host,
        query,
    } = scratch;
    let target = text_into(found.url, url);
    let user_agent = text_into(found.agent, agent);
    let mut host: &[u8] = text_into(found.host, host);
    let (path, query) = if found.cloudfront {
        (target, text_into(found.query, query))
    } else {
        let (authority, target) = strip_authority(target);
        if host.is_empty() {
            host = authority;
        }
        split_target(target)
    };
    Ok(Request {
        timestamp,
        method,
        status,
        path,
        query,
        user_agent,
        host,
        bytes_sent: number(found.bytes),
        content_length: number(found.content_len),
        range_end: number(found.range_end),
        transfer_failed: raw(found.result_type) == Some(b"Error"),
        encoding: if found.cloudfront {
            Encoding::CloudFront
        } else {
            Encoding::AsSent
        },
    })
}
