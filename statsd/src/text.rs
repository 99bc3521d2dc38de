//! Byte-level helpers for log fields: percent-decoding and number parsing.
//!
//! Owns how escaped bytes become plain bytes. Must not allocate: every function writes into a
//! caller's reused buffer or returns a value.

/// Value of one hex digit.
#[inline]
fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Appends `input` to `out` with every `%XX` replaced by its byte. A `%` not followed by two
/// hex digits is kept as is. `+` stays `+` (paths, not form data: `libstdc++`).
pub fn percent_decode_into(input: &[u8], out: &mut Vec<u8>) {
    let Some(first) = memchr::memchr(b'%', input) else {
        out.extend_from_slice(input);
        return;
    };
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    while i < input.len() {
        let byte = input[i];
        if byte == b'%'
            && i + 2 < input.len()
            && let (Some(high), Some(low)) = (hex(input[i + 1]), hex(input[i + 2]))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(byte);
        i += 1;
    }
}

/// True when `input` still holds a `%XX` escape.
pub fn has_escape(input: &[u8]) -> bool {
    memchr::memchr_iter(b'%', input)
        .any(|i| i + 2 < input.len() && hex(input[i + 1]).is_some() && hex(input[i + 2]).is_some())
}

/// A decimal number without sign; `None` for anything else (also `-`).
#[inline]
pub fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 19 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in field {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    Some(value)
}

/// An HTTP status: three digits (`000` is CloudFront's "client went away").
#[inline]
pub fn parse_status(field: &[u8]) -> Option<u16> {
    match field {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// ASCII case-insensitive substring search.
pub fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &str) -> String {
        let mut out = Vec::new();
        percent_decode_into(input.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("/a%20b"), "/a b");
        assert_eq!(decode("%2540copr"), "%40copr");
        assert_eq!(decode(&decode("%2540copr")), "@copr");
        assert_eq!(decode("libstdc++-1.rpm"), "libstdc++-1.rpm");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz%41"), "%zzA");
        assert_eq!(decode("%41"), "A");
    }

    #[test]
    fn escapes() {
        assert!(has_escape(b"%40"));
        assert!(has_escape(b"a%4Fb"));
        assert!(!has_escape(b"100%"));
        assert!(!has_escape(b"%4"));
        assert!(!has_escape(b"%zz"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"-"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_status(b"000"), Some(0));
        assert_eq!(parse_status(b"206"), Some(206));
        assert_eq!(parse_status(b"2a6"), None);
    }
}
