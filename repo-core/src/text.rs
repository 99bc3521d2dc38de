//! Text rules createrepo_c applies to header strings before they reach XML.
//!
//! Owns: the UTF-8 check with ISO-8859-1 fallback, the forbidden-control-character rule, and the
//! two escapers that reproduce libxml2's serialisation (text nodes and attributes differ).
//! Must not: know about packages or XML structure.

/// Whether `bytes` holds a C0 control character other than TAB, LF and CR — createrepo_c
/// refuses such packages ("Forbidden control chars found").
pub fn has_forbidden_control_chars(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| b < 32 && b != b'\t' && b != b'\n' && b != b'\r')
}

/// Converts a header string to UTF-8 the way createrepo_c does: valid UTF-8 is kept as it is;
/// anything else is read as ISO-8859-1, dropping C0 controls (except TAB, LF, CR) and the
/// C1 range 0x80-0xBF that misencoded cp1252 text produces.
pub fn to_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() * 2);
            for &b in bytes {
                match b {
                    0..=31 if b != b'\t' && b != b'\n' && b != b'\r' => {}
                    0..=127 => out.push(char::from(b)),
                    128..=191 => {}
                    _ => out.push(char::from(b)),
                }
            }
            out
        }
    }
}

/// Appends `text` escaped as libxml2 escapes text nodes: `&`, `<`, `>` and CR become
/// references, everything else (quotes, non-ASCII) stays literal.
pub fn escape_text(out: &mut String, text: &str) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let replacement = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Appends `value` escaped as libxml2 escapes attribute values of nodes without a document
/// encoding: markup characters, quotes and whitespace controls become references, and every
/// non-ASCII character is written as a hexadecimal character reference (`&#xED;`).
pub fn escape_attr(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c.is_ascii() => out.push(c),
            // libxml2 refuses U+FFFE/U+FFFF as characters and writes their bytes one by one.
            '\u{FFFE}' | '\u{FFFF}' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    push_hex_ref(out, u32::from(b));
                }
            }
            c => push_hex_ref(out, u32::from(c)),
        }
    }
}

fn push_hex_ref(out: &mut String, value: u32) {
    use std::fmt::Write;
    write!(out, "&#x{value:X};").expect("writing to a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_converted_and_c1_dropped() {
        assert_eq!(to_utf8(b"Bal\xed\xe8ek"), "Balíèek");
        assert_eq!(to_utf8(b"a\x85b\x01c\td"), "abc\td");
        assert_eq!(to_utf8("Balíček".as_bytes()), "Balíček");
    }

    #[test]
    fn control_chars_are_detected() {
        assert!(has_forbidden_control_chars(b"a\x1bb"));
        assert!(!has_forbidden_control_chars(b"a\tb\r\n"));
    }

    #[test]
    fn text_and_attributes_escape_like_libxml2() {
        let mut text = String::new();
        escape_text(&mut text, "a<b>&\"c\"\r]]>í");
        assert_eq!(text, "a&lt;b&gt;&amp;\"c\"&#13;]]&gt;í");
        let mut attr = String::new();
        escape_attr(&mut attr, "Balíček \"x\"\n<&>\t");
        assert_eq!(
            attr,
            "Bal&#xED;&#x10D;ek &quot;x&quot;&#10;&lt;&amp;&gt;&#9;"
        );
    }

    proptest::proptest! {
        /// Whatever a header holds, the converted text is UTF-8 and free of forbidden controls
        /// unless the input had them.
        #[test]
        fn conversion_never_adds_control_chars(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let text = to_utf8(&bytes);
            if !has_forbidden_control_chars(&bytes) {
                proptest::prop_assert!(!has_forbidden_control_chars(text.as_bytes()));
            }
        }

        /// Escaped attributes never contain raw markup or non-ASCII characters.
        #[test]
        fn escaped_attributes_are_ascii(value in ".*") {
            let mut out = String::new();
            escape_attr(&mut out, &value);
            proptest::prop_assert!(out.is_ascii());
            proptest::prop_assert!(!out.contains('<') && !out.contains('"'));
        }
    }
}
