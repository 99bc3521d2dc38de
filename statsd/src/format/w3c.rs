//! CloudFront standard logs (W3C extended, tab separated), columns mapped from `#Fields:`.
//!
//! Owns the column map and cutting a data line into a [`Request`] by byte slicing: no
//! allocation, no regex. A `#Fields:` line may come again mid-file and replaces the map;
//! columns may be added over time; a trailing tab (extra empty field) is accepted; fewer
//! fields than the header names is a rejection (a line cut short).

use crate::record::{Encoding, Rejection, Request};
use crate::text::{for_each_position, parse_status, parse_u64};
use crate::time::{DAY, parse_clock, parse_day};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Slot {
    Date,
    Time,
    Timestamp,
    Method,
    Stem,
    Status,
    UserAgent,
    Query,
    HostHeader,
    Host,
    Bytes,
    ContentLen,
    RangeEnd,
    ResultType,
}
const SLOTS: usize = 14;
const UNUSED: u8 = u8::MAX;

impl Slot {
    fn of(name: &[u8]) -> Option<Slot> {
        Some(match name {
            b"date" => Slot::Date,
            b"time" => Slot::Time,
            b"timestamp" => Slot::Timestamp,
            b"cs-method" => Slot::Method,
            b"cs-uri-stem" => Slot::Stem,
            b"sc-status" => Slot::Status,
            b"cs(User-Agent)" => Slot::UserAgent,
            b"cs-uri-query" => Slot::Query,
            b"x-host-header" => Slot::HostHeader,
            b"cs(Host)" => Slot::Host,
            b"sc-bytes" => Slot::Bytes,
            b"sc-content-len" => Slot::ContentLen,
            b"sc-range-end" => Slot::RangeEnd,
            b"x-edge-result-type" => Slot::ResultType,
            _ => return None,
        })
    }
}

/// The column map of the last `#Fields:` line.
#[derive(Debug, Clone)]
pub struct Columns {
    slot_of: Vec<u8>,
    fields: usize,
    has_time: bool,
}

impl Columns {
    /// Columns from the text after `#Fields:`; `None` when fields needed for counting are
    /// missing (method, stem, status and a time).
    pub fn from_header(names: &[u8]) -> Option<Columns> {
        let mut slot_of = Vec::new();
        let mut seen = [false; SLOTS];
        for name in names
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|n| !n.is_empty())
        {
            match Slot::of(name) {
                Some(slot) if !seen[slot as usize] => {
                    seen[slot as usize] = true;
                    slot_of.push(slot as u8);
                }
                _ => slot_of.push(UNUSED),
            }
        }
        let has_time = (seen[Slot::Date as usize] && seen[Slot::Time as usize])
            || seen[Slot::Timestamp as usize];
        if !(seen[Slot::Method as usize]
            && seen[Slot::Stem as usize]
            && seen[Slot::Status as usize]
            && has_time)
        {
            return None;
        }
        Some(Columns {
            fields: slot_of.len(),
            slot_of,
            has_time,
        })
    }
}

/// Caches the last parsed date (all lines of an hourly file share it).
#[derive(Debug, Default)]
pub struct DateCache {
    text: [u8; 10],
    day: i64,
}

/// `"-"` and empty mean absent.
#[inline]
fn present(field: &[u8]) -> &[u8] {
    if field == b"-" { &[] } else { field }
}

/// Unix seconds of CloudFront's `timestamp` (`1731453436.122`).
fn parse_epoch(field: &[u8]) -> Option<i64> {
    let whole = match memchr::memchr(b'.', field) {
        Some(dot) => &field[..dot],
        None => field,
    };
    parse_u64(whole).and_then(|v| i64::try_from(v).ok())
}

/// Cuts one data line.
#[inline]
pub fn parse<'a>(
    line: &'a [u8],
    columns: &Columns,
    dates: &mut DateCache,
) -> Result<Request<'a>, Rejection> {
    debug_assert!(columns.has_time);
    let mut spans = [(0u32, 0u32, false); SLOTS];
    let mut start = 0usize;
    let mut index = 0usize;
    let slot_of = &columns.slot_of[..];
    for_each_position(line, b'\t', |tab| {
        if let Some(&slot) = slot_of.get(index)
            && slot != UNUSED
        {
            spans[slot as usize] = (start as u32, tab as u32, true);
        }
        index += 1;
        start = tab + 1;
    });
    if let Some(&slot) = slot_of.get(index)
        && slot != UNUSED
    {
        spans[slot as usize] = (start as u32, line.len() as u32, true);
    }
    if index + 1 < columns.fields {
        return Err(Rejection::TooFewFields);
    }
    let field = |slot: Slot| -> &'a [u8] {
        let (s, e, _) = spans[slot as usize];
        &line[s as usize..e as usize]
    };
    let has = |slot: Slot| spans[slot as usize].2;

    let timestamp = if has(Slot::Date) && has(Slot::Time) {
        let date = field(Slot::Date);
        if date != dates.text {
            dates.day = parse_day(date).ok_or(Rejection::BadTimestamp)?;
            if date.len() == 10 {
                dates.text.copy_from_slice(date);
            }
        }
        dates.day * DAY + parse_clock(field(Slot::Time)).ok_or(Rejection::BadTimestamp)?
    } else {
        parse_epoch(field(Slot::Timestamp)).ok_or(Rejection::BadTimestamp)?
    };
    let status = parse_status(field(Slot::Status)).ok_or(Rejection::BadStatus)?;
    let host = if has(Slot::HostHeader) {
        present(field(Slot::HostHeader))
    } else {
        present(field(Slot::Host))
    };
    Ok(Request {
        timestamp,
        method: field(Slot::Method),
        status,
        path: field(Slot::Stem),
        query: present(field(Slot::Query)),
        user_agent: present(field(Slot::UserAgent)),
        host,
        bytes_sent: parse_u64(field(Slot::Bytes)),
        content_length: parse_u64(field(Slot::ContentLen)),
        range_end: parse_u64(field(Slot::RangeEnd)),
        transfer_failed: field(Slot::ResultType) == b"Error",
        encoding: Encoding::CloudFront,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"date time x-edge-location sc-bytes cs-method cs(Host) cs-uri-stem sc-status cs(User-Agent) cs-uri-query x-edge-result-type x-host-header sc-content-len sc-range-end";

    /// The fields a plain split on tabs gives, for comparison with the word-at-a-time cut.
    fn split_fields(line: &[u8]) -> Vec<&[u8]> {
        line.split(|b| *b == b'\t').collect()
    }

    #[test]
    fn fields_land_where_a_plain_split_puts_them() {
        let columns = Columns::from_header(HEADER).unwrap();
        let mut dates = DateCache::default();
        // Field lengths that put tabs at every offset within a word, and empty fields.
        for pad in 0..17 {
            let stem = format!("/r/{}x.rpm", "a".repeat(pad));
            let agent = "b".repeat((pad * 5) % 13);
            let line = format!(
                "2026-08-06\t15:01:02\t{}\t{pad}\tGET\th\t{stem}\t200\t{agent}\t{}\tHit\tdl.example\t{}\t-",
                "E".repeat(pad % 9),
                if pad % 2 == 0 { "-" } else { "countme=1" },
                pad * 3,
            );
            // As logged, and with a trailing tab.
            for line in [line.clone(), format!("{line}\t")] {
                let fields = split_fields(line.as_bytes());
                let request = parse(line.as_bytes(), &columns, &mut dates).unwrap();
                assert_eq!(request.bytes_sent, Some(pad as u64));
                assert_eq!(request.method, fields[4]);
                assert_eq!(request.path, fields[6]);
                assert_eq!(request.path, stem.as_bytes());
                assert_eq!(request.user_agent, fields[8]);
                assert_eq!(
                    request.query,
                    if pad % 2 == 0 { &b""[..] } else { fields[9] }
                );
                assert_eq!(request.host, b"dl.example");
                assert_eq!(request.content_length, Some(pad as u64 * 3));
                assert_eq!(request.range_end, None);
                assert_eq!(request.timestamp, 1_786_028_462);
            }
        }
    }

    #[test]
    fn short_lines_and_empty_fields() {
        let columns = Columns::from_header(b"cs-uri-stem sc-status cs-method date time").unwrap();
        let mut dates = DateCache::default();
        let request = parse(
            b"/x.rpm\t200\tGET\t2026-08-06\t15:01:02",
            &columns,
            &mut dates,
        )
        .unwrap();
        assert_eq!(
            (request.path, request.method),
            (&b"/x.rpm"[..], &b"GET"[..])
        );
        // A trailing tab is one more (empty) field, accepted.
        assert!(
            parse(
                b"/x.rpm\t200\tGET\t2026-08-06\t15:01:02\t",
                &columns,
                &mut dates
            )
            .is_ok()
        );
        // One field short.
        assert_eq!(
            parse(b"/x.rpm\t200\tGET\t2026-08-06", &columns, &mut dates).unwrap_err(),
            Rejection::TooFewFields
        );
        // Empty stem and method are cut as empty, not as their neighbours.
        let request = parse(b"\t200\t\t2026-08-06\t15:01:02", &columns, &mut dates).unwrap();
        assert_eq!((request.path, request.method), (&b""[..], &b""[..]));
        assert_eq!(
            parse(b"", &columns, &mut dates).unwrap_err(),
            Rejection::TooFewFields
        );
    }
}
