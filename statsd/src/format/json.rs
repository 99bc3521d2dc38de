//! A minimal JSON object scanner for one-object-per-line logs (CloudFront v2 JSON, Fastly).
//!
//! Owns walking one object's members without building a tree or allocating: scalars of the
//! top level and of objects one level down are handed to a callback with their (parent) key;
//! deeper values and arrays are skipped. Must not interpret keys.

/// A JSON scalar, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// String contents between the quotes, escapes not yet resolved.
    Str {
        raw: &'a [u8],
        escaped: bool,
    },
    /// A number, as written.
    Num(&'a [u8]),
    Bool(bool),
    Null,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn skip_ws(&mut self) {
        while self.at < self.bytes.len()
            && matches!(self.bytes[self.at], b' ' | b'\t' | b'\r' | b'\n')
        {
            self.at += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            let offset = memchr::memchr2(b'"', b'\\', &self.bytes[at..])?;
            at += offset;
            if self.bytes[at] == b'\\' {
                escaped = true;
                at += 2;
                if at > self.bytes.len() {
                    return None;
                }
            } else {
                self.at = at + 1;
                return Some((&self.bytes[start..at], escaped));
            }
        }
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        self.skip_ws();
        match self.peek()? {
            b'"' => {
                let (raw, escaped) = self.string()?;
                Some(Scalar::Str { raw, escaped })
            }
            b't' if self.bytes[self.at..].starts_with(b"true") => {
                self.at += 4;
                Some(Scalar::Bool(true))
            }
            b'f' if self.bytes[self.at..].starts_with(b"false") => {
                self.at += 5;
                Some(Scalar::Bool(false))
            }
            b'n' if self.bytes[self.at..].starts_with(b"null") => {
                self.at += 4;
                Some(Scalar::Null)
            }
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while self.at < self.bytes.len()
                    && matches!(
                        self.bytes[self.at],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.at += 1;
                }
                Some(Scalar::Num(&self.bytes[start..self.at]))
            }
            _ => None,
        }
    }

    /// Skips any value (used for arrays and objects nested too deep).
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > 64 {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' | b'[' => {
                let close = if self.peek() == Some(b'{') {
                    b'}'
                } else {
                    b']'
                };
                let is_object = close == b'}';
                self.at += 1;
                self.skip_ws();
                if self.peek() == Some(close) {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    if is_object {
                        self.skip_ws();
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    self.skip_ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        byte if byte == close => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => self.scalar().map(|_| ()),
        }
    }

    fn object(
        &mut self,
        parent: Option<&'a [u8]>,
        visit: &mut impl FnMut(Option<&'a [u8]>, &'a [u8], Scalar<'a>),
    ) -> Option<()> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let (key, _) = self.string()?;
            self.expect(b':')?;
            self.skip_ws();
            match self.peek()? {
                b'{' if parent.is_none() => self.object(Some(key), visit)?,
                b'{' | b'[' => self.skip_value(1)?,
                _ => {
                    let value = self.scalar()?;
                    visit(parent, key, value);
                }
            }
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Walks the object in `line` (nothing but whitespace may follow it). `visit` gets
/// `(parent key, key, value)` for scalars at depth 1 and 2. `None` if the JSON is malformed.
pub fn scan_object<'a>(
    line: &'a [u8],
    mut visit: impl FnMut(Option<&'a [u8]>, &'a [u8], Scalar<'a>),
) -> Option<()> {
    let mut cursor = Cursor { bytes: line, at: 0 };
    cursor.object(None, &mut visit)?;
    cursor.skip_ws();
    (cursor.at == line.len()).then_some(())
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 4 {
        return None;
    }
    let text = std::str::from_utf8(&bytes[..4]).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Appends the string `raw` (contents between quotes) with escapes resolved; invalid escapes
/// become U+FFFD.
pub fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        let Some(offset) = memchr::memchr(b'\\', &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            return;
        };
        out.extend_from_slice(&raw[i..i + offset]);
        i += offset + 1;
        let Some(&kind) = raw.get(i) else {
            return;
        };
        i += 1;
        let simple = match kind {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let mut ch = '\u{fffd}';
        if kind == b'u'
            && let Some(first) = hex4(&raw[i..])
        {
            i += 4;
            if (0xd800..0xdc00).contains(&first)
                && raw[i..].starts_with(b"\\u")
                && let Some(second) = hex4(&raw[i + 2..])
                && (0xdc00..0xe000).contains(&second)
            {
                i += 6;
                ch = char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00))
                    .unwrap_or(ch);
            } else {
                ch = char::from_u32(first).unwrap_or(ch);
            }
        }
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_nested_members() {
        let line = br#"{"a":1,"s":"x\"y","n":null,"http":{"useragent":"cargo/1","deep":{"z":1}},"arr":[1,{"b":2}],"t":true}"#;
        let mut seen = Vec::new();
        scan_object(line, |parent, key, value| {
            seen.push((
                parent.map(|p| p.to_vec()),
                key.to_vec(),
                format!("{value:?}"),
            ));
        })
        .unwrap();
        let keys: Vec<String> = seen
            .iter()
            .map(|(p, k, _)| {
                format!(
                    "{}{}",
                    p.as_ref().map_or(String::new(), |p| format!(
                        "{}.",
                        String::from_utf8_lossy(p)
                    )),
                    String::from_utf8_lossy(k)
                )
            })
            .collect();
        assert_eq!(keys, ["a", "s", "n", "http.useragent", "t"]);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"{"[..],
            b"{\"a\":}",
            b"{\"a\":1} x",
            b"[1]",
            b"{\"a\":\"unterminated}",
            b"{\"a\" 1}",
        ] {
            assert!(
                scan_object(bad, |_, _, _| {}).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn unescapes() {
        let mut out = Vec::new();
        unescape_into(br#"a\"b\\c\u00e9\ud83d\ude00\n"#, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a\"b\\cé😀\n");
    }
}
