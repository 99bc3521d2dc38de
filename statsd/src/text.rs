//! Byte-level helpers for log fields: percent-decoding, number parsing and finding separators.
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

/// Calls `found` with the offset of every `needle` byte in `haystack`, in order, testing
/// eight bytes at a time.
///
/// Cheaper than one `memchr` call per hit when hits are a few bytes apart, as the tabs of a
/// CloudFront line are (a field is 12 bytes on average).
#[inline]
pub fn for_each_position(haystack: &[u8], needle: u8, mut found: impl FnMut(usize)) {
    let needles = u64::from_ne_bytes([needle; 8]);
    let mut words = haystack.chunks_exact(8);
    let mut word_start = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let mut hits = zero_bytes(word ^ needles);
        while hits != 0 {
            found(word_start + hits.trailing_zeros() as usize / 8);
            hits &= hits - 1;
        }
        word_start += 8;
    }
    for (offset, byte) in words.remainder().iter().enumerate() {
        if *byte == needle {
            found(word_start + offset);
        }
    }
}

/// The high bit of every zero byte of `word`, nothing else: adding 0x7f to the low seven
/// bits of a byte sets its high bit unless the byte is zero, and cannot carry into the next
/// byte.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW_SEVEN) + LOW_SEVEN) | word | LOW_SEVEN)
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
    fn positions_match_a_plain_scan() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\t".to_vec(),
            b"a\tb".to_vec(),
            b"\t\t\t\t\t\t\t\t\t".to_vec(),
            b"no tabs at all in this line".to_vec(),
            b"1234567\t".to_vec(),
            b"12345678\t".to_vec(),
            b"trailing tab\t".to_vec(),
            // bytes that differ from a tab only in the high bit or by one
            vec![0x89, 0x08, 0x0a, 0x09, 0xff, 0x00, 0x09, 0x89, 0x09],
        ];
        for len in 0..40 {
            inputs.push(
                (0..len)
                    .map(|i| if i % 3 == 0 { b'\t' } else { b'x' })
                    .collect(),
            );
        }
        for input in inputs {
            let expected: Vec<usize> = (0..input.len()).filter(|&i| input[i] == b'\t').collect();
            let mut found = Vec::new();
            for_each_position(&input, b'\t', |offset| found.push(offset));
            assert_eq!(found, expected, "{input:?}");
        }
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
