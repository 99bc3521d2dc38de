//! Streaming log input: compression detected from magic bytes, lines cut from one reused
//! buffer.
//!
//! Owns decompression (gzip with any number of members, zstd with any number of frames, xz,
//! bzip2, plain) and line splitting with bounded memory. Must not interpret line contents.
//!
//! Memory is fixed per reader: one buffer of [`BUFFER_SIZE`] bytes plus the decoder's state,
//! whatever the file size. A line longer than [`MAX_LINE`] is skipped up to its newline and
//! reported as [`Line::TooLong`]; it is never buffered whole. A stream that ends early
//! (truncated gzip, corrupt zstd frame) stops the file: the lines before it are kept and
//! [`LineReader::stream_error`] says why.

use std::io::{self, Read};

/// Longest line accepted (CloudFront does not log URLs over 8 KiB or headers over 20 KiB).
pub const MAX_LINE: usize = 256 * 1024;
/// Size of the one buffer a reader holds.
pub const BUFFER_SIZE: usize = 2 * MAX_LINE;

/// How a log file is compressed, detected from its first bytes, never from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    /// The compression whose magic bytes `head` starts with (plain when none matches).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::Plain
        }
    }

    /// Lower-case name for messages and the database.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }
}

/// Reads up to 6 bytes, detects the compression and returns a reader of the decompressed
/// bytes (the sniffed bytes are put back in front).
pub fn decompressed(
    mut raw: Box<dyn Read + Send>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    let mut head = [0u8; 6];
    let mut filled = 0;
    while filled < head.len() {
        match raw.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    let compression = Compression::detect(&head[..filled]);
    let whole = io::Cursor::new(head[..filled].to_vec()).chain(raw);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::Plain => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(128 * 1024, whole),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(whole)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(whole)),
    };
    Ok((compression, reader))
}

/// One line handed out by [`LineReader::next_line`], without its `\n` (and without a `\r`
/// before it).
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line.
    Complete(&'a [u8]),
    /// A line longer than [`MAX_LINE`]; its bytes were skipped. `bytes` is its length.
    TooLong { bytes: u64 },
    /// The last bytes of the input had no newline: the file was cut mid-line (or the stream
    /// ended early, see [`LineReader::stream_error`]). Never counted.
    Unterminated(&'a [u8]),
}

/// Splits a byte stream into lines with one buffer of fixed size.
pub struct LineReader<R> {
    inner: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    stream_error: Option<String>,
    bytes_read: u64,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buffer: vec![0u8; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            stream_error: None,
            bytes_read: 0,
        }
    }

    /// Why the stream ended early, if it did (the lines before were delivered).
    pub fn stream_error(&self) -> Option<&str> {
        self.stream_error.as_deref()
    }

    /// Decompressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads more bytes into the free tail of the buffer; false at end of input.
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        if self.start > 0 && self.end == self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        } else if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        loop {
            match self.inner.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes_read += n as u64;
                    return true;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.stream_error = Some(error.to_string());
                    self.eof = true;
                    return false;
                }
            }
        }
    }

    /// The next line, or `None` at the end of the input.
    #[inline]
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        let mut searched = self.start;
        loop {
            if let Some(offset) = memchr::memchr(b'\n', &self.buffer[searched..self.end]) {
                let newline = searched + offset;
                let line_start = self.start;
                self.start = newline + 1;
                let mut line_end = newline;
                if line_end > line_start && self.buffer[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                return Some(Line::Complete(&self.buffer[line_start..line_end]));
            }
            if self.end - self.start >= MAX_LINE {
                return Some(self.skip_long_line());
            }
            let pending = self.end - self.start;
            if !self.fill() {
                if self.end > self.start {
                    let line_start = self.start;
                    self.start = self.end;
                    return Some(Line::Unterminated(&self.buffer[line_start..self.end]));
                }
                return None;
            }
            searched = self.start + pending;
        }
    }

    /// Drops bytes up to and including the next newline (or the end of input).
    fn skip_long_line(&mut self) -> Line<'_> {
        let mut skipped = (self.end - self.start) as u64;
        self.start = 0;
        self.end = 0;
        loop {
            if !self.fill() {
                return Line::TooLong { bytes: skipped };
            }
            if let Some(offset) = memchr::memchr(b'\n', &self.buffer[..self.end]) {
                skipped += offset as u64;
                self.start = offset + 1;
                return Line::TooLong { bytes: skipped };
            }
            skipped += self.end as u64;
            self.start = 0;
            self.end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(reader: &mut LineReader<impl Read>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = reader.next_line() {
            out.push(match line {
                Line::Complete(l) => format!("C:{}", String::from_utf8_lossy(l)),
                Line::TooLong { bytes } => format!("L:{bytes}"),
                Line::Unterminated(l) => format!("U:{}", String::from_utf8_lossy(l)),
            });
        }
        out
    }

    fn open(bytes: Vec<u8>) -> (Compression, LineReader<Box<dyn Read + Send>>) {
        let (compression, reader) = decompressed(Box::new(io::Cursor::new(bytes))).unwrap();
        (compression, LineReader::new(reader))
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let (c, mut r) = open(b"a\r\nb\n\nc".to_vec());
        assert_eq!(c, Compression::Plain);
        assert_eq!(lines_of(&mut r), ["C:a", "C:b", "C:", "U:c"]);
    }

    #[test]
    fn long_line_is_skipped_not_buffered() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
        data.extend(b"\nlast\n");
        let (_, mut r) = open(data);
        assert_eq!(
            lines_of(&mut r),
            ["C:first", &format!("L:{}", 10 * 1024 * 1024), "C:last"]
        );
    }

    #[test]
    fn lines_across_buffer_boundaries() {
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for i in 0..20_000 {
            let line = format!("line {i} {}", "y".repeat(i % 300));
            data.extend(line.as_bytes());
            data.push(b'\n');
            expected.push(format!("C:{line}"));
        }
        let (_, mut r) = open(data);
        assert_eq!(lines_of(&mut r), expected);
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn multi_member_gzip() {
        let mut data = gzip(b"one\ntwo\n");
        data.extend(gzip(b"three\n"));
        let (c, mut r) = open(data);
        assert_eq!(c, Compression::Gzip);
        assert_eq!(lines_of(&mut r), ["C:one", "C:two", "C:three"]);
        assert_eq!(r.stream_error(), None);
    }

    #[test]
    fn truncated_gzip_keeps_complete_lines_and_says_why() {
        let text: String = (0..5000).map(|i| format!("line number {i}\n")).collect();
        let full = gzip(text.as_bytes());
        let (_, mut r) = open(full[..full.len() / 2].to_vec());
        let lines = lines_of(&mut r);
        assert!(r.stream_error().is_some());
        assert!(lines.len() > 10);
        let complete = lines.iter().filter(|l| l.starts_with("C:")).count();
        assert!(complete >= lines.len() - 1);
        for (i, line) in lines.iter().enumerate().take(complete) {
            assert_eq!(line, &format!("C:line number {i}"));
        }
    }

    #[test]
    fn zstd_xz_bzip2_detected_by_magic() {
        let text = b"a\nb\n";
        let z = zstd::encode_all(&text[..], 1).unwrap();
        let mut x = xz2::write::XzEncoder::new(Vec::new(), 1);
        x.write_all(text).unwrap();
        let x = x.finish().unwrap();
        let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        b.write_all(text).unwrap();
        let b = b.finish().unwrap();
        for (data, expected) in [
            (z, Compression::Zstd),
            (x, Compression::Xz),
            (b, Compression::Bzip2),
        ] {
            let (c, mut r) = open(data);
            assert_eq!(c, expected);
            assert_eq!(lines_of(&mut r), ["C:a", "C:b"]);
        }
    }

    #[test]
    fn truncated_zstd_is_reported() {
        let text: String = (0..5000).map(|i| format!("line number {i}\n")).collect();
        let z = zstd::encode_all(text.as_bytes(), 1).unwrap();
        let (_, mut r) = open(z[..z.len() - 10].to_vec());
        let _ = lines_of(&mut r);
        assert!(r.stream_error().is_some());
    }
}
