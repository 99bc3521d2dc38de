//! The RPM file format: lead, signature header and main header.
//!
//! Owns the byte-level reading of RPM headers and typed access to their tags, keeping strings as
//! raw bytes (createrepo_c converts non-UTF-8 strings itself, which a lossy reader would prevent).
//! Must not: interpret tags (that is [`crate::record`]) or read the payload.

use std::io::Read;

use crate::error::{Error, Result};

/// Size of the RPM lead that precedes the signature header.
pub const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// Upper bounds on header sizes, as rpm enforces them, so hostile files cannot make us allocate
/// without limit.
const MAX_INDEX_ENTRIES: u32 = 0x10000;
const MAX_DATA_BYTES: u32 = 256 * 1024 * 1024;

/// Tag numbers this crate reads (the main header's `RPMTAG_*`).
#[allow(missing_docs)]
pub mod tag {
    pub const HEADERIMMUTABLE: u32 = 63;
    pub const SIGSIZE: u32 = 257;
    pub const LONGARCHIVESIZE: u32 = 271;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SUMMARY: u32 = 1004;
    pub const DESCRIPTION: u32 = 1005;
    pub const BUILDTIME: u32 = 1006;
    pub const BUILDHOST: u32 = 1007;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const PACKAGER: u32 = 1015;
    pub const GROUP: u32 = 1016;
    pub const URL: u32 = 1020;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const FILEMODES: u32 = 1030;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILEFLAGS: u32 = 1037;
    pub const SOURCERPM: u32 = 1044;
    pub const ARCHIVESIZE: u32 = 1046;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const REQUIREVERSION: u32 = 1050;
    pub const CONFLICTFLAGS: u32 = 1053;
    pub const CONFLICTNAME: u32 = 1054;
    pub const CONFLICTVERSION: u32 = 1055;
    pub const CHANGELOGTIME: u32 = 1080;
    pub const CHANGELOGNAME: u32 = 1081;
    pub const CHANGELOGTEXT: u32 = 1082;
    pub const OBSOLETENAME: u32 = 1090;
    pub const SOURCEPACKAGE: u32 = 1106;
    pub const PROVIDEFLAGS: u32 = 1112;
    pub const PROVIDEVERSION: u32 = 1113;
    pub const OBSOLETEFLAGS: u32 = 1114;
    pub const OBSOLETEVERSION: u32 = 1115;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const OLDSUGGESTSNAME: u32 = 1156;
    pub const OLDSUGGESTSVERSION: u32 = 1157;
    pub const OLDSUGGESTSFLAGS: u32 = 1158;
    pub const OLDENHANCESNAME: u32 = 1159;
    pub const OLDENHANCESVERSION: u32 = 1160;
    pub const OLDENHANCESFLAGS: u32 = 1161;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const LONGSIZE: u32 = 5009;
    pub const RECOMMENDNAME: u32 = 5046;
    pub const RECOMMENDVERSION: u32 = 5047;
    pub const RECOMMENDFLAGS: u32 = 5048;
    pub const SUGGESTNAME: u32 = 5049;
    pub const SUGGESTVERSION: u32 = 5050;
    pub const SUGGESTFLAGS: u32 = 5051;
    pub const SUPPLEMENTNAME: u32 = 5052;
    pub const SUPPLEMENTVERSION: u32 = 5053;
    pub const SUPPLEMENTFLAGS: u32 = 5054;
    pub const ENHANCENAME: u32 = 5055;
    pub const ENHANCEVERSION: u32 = 5056;
    pub const ENHANCEFLAGS: u32 = 5057;
}

/// Signature-header tags that rpm merges into the main header when it reads a package.
pub mod sigtag {
    /// `RPMSIGTAG_PAYLOADSIZE`, merged as `RPMTAG_ARCHIVESIZE`.
    pub const PAYLOADSIZE: u32 = 1007;
    /// `RPMSIGTAG_LONGARCHIVESIZE`, merged under the same number.
    pub const LONGARCHIVESIZE: u32 = 271;
}

/// Data types of header entries (`RPM_*_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Char,
    Int8,
    Int16,
    Int32,
    Int64,
    String,
    Bin,
    StringArray,
    I18nString,
}

impl Kind {
    fn from_u32(value: u32) -> Option<Kind> {
        Some(match value {
            0 => Kind::Null,
            1 => Kind::Char,
            2 => Kind::Int8,
            3 => Kind::Int16,
            4 => Kind::Int32,
            5 => Kind::Int64,
            6 => Kind::String,
            7 => Kind::Bin,
            8 => Kind::StringArray,
            9 => Kind::I18nString,
            _ => return None,
        })
    }

    fn fixed_size(self) -> Option<usize> {
        match self {
            Kind::Null => Some(0),
            Kind::Char | Kind::Int8 | Kind::Bin => Some(1),
            Kind::Int16 => Some(2),
            Kind::Int32 => Some(4),
            Kind::Int64 => Some(8),
            Kind::String | Kind::StringArray | Kind::I18nString => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: Kind,
    offset: usize,
    count: usize,
    /// Byte length of the entry's data, checked against the data store.
    len: usize,
}

/// One parsed header structure (signature or main header): its index and its data store.
#[derive(Debug, Clone)]
pub struct Header {
    /// Entries sorted by tag for lookup.
    entries: Vec<Entry>,
    data: Vec<u8>,
}

/// Reads exactly `buf.len()` bytes, reporting a short file as a truncated RPM.
fn read_exact_or_truncated<R: Read>(reader: &mut R, buf: &mut [u8], what: &str) -> Result<()> {
    reader.read_exact(buf).map_err(|err| {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::BadRpm(format!("file is truncated in the {what}"))
        } else {
            Error::BadRpm(format!("cannot read the {what}: {err}"))
        }
    })
}

impl Header {
    /// Reads a header structure (magic, index, data) and returns it with its size in bytes.
    pub fn read<R: Read>(reader: &mut R, what: &str) -> Result<(Header, usize)> {
        let mut preamble = [0u8; 16];
        read_exact_or_truncated(reader, &mut preamble, what)?;
        if preamble[..4] != HEADER_MAGIC {
            return Err(Error::BadRpm(format!("bad {what} magic")));
        }
        let index_count = u32::from_be_bytes(preamble[8..12].try_into().expect("4 bytes"));
        let data_len = u32::from_be_bytes(preamble[12..16].try_into().expect("4 bytes"));
        if index_count == 0 || index_count > MAX_INDEX_ENTRIES {
            return Err(Error::BadRpm(format!(
                "{what} has an implausible number of entries ({index_count})"
            )));
        }
        if data_len > MAX_DATA_BYTES {
            return Err(Error::BadRpm(format!(
                "{what} data is implausibly large ({data_len} bytes)"
            )));
        }
        let mut index = vec![0u8; index_count as usize * 16];
        read_exact_or_truncated(reader, &mut index, what)?;
        // Read through `take` so a lying size field cannot make us allocate before the bytes
        // actually exist.
        let mut data = Vec::new();
        reader
            .take(u64::from(data_len))
            .read_to_end(&mut data)
            .map_err(|err| Error::BadRpm(format!("cannot read the {what}: {err}")))?;
        if data.len() != data_len as usize {
            return Err(Error::BadRpm(format!("file is truncated in the {what}")));
        }
        let header = Header::from_parts(&index, data, what)?;
        Ok((header, 16 + index.len() + data_len as usize))
    }

    /// Builds a header from its raw index bytes and data store, validating every entry.
    fn from_parts(index: &[u8], data: Vec<u8>, what: &str) -> Result<Header> {
        let mut entries = Vec::with_capacity(index.len() / 16);
        for raw in index.chunks_exact(16) {
            let word = |i: usize| u32::from_be_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
            let (tag, kind_raw, offset, count) = (word(0), word(4), word(8) as usize, word(12));
            let kind = Kind::from_u32(kind_raw).ok_or_else(|| {
                Error::BadRpm(format!("{what} tag {tag} has unknown type {kind_raw}"))
            })?;
            let count = count as usize;
            if offset > data.len() {
                return Err(Error::BadRpm(format!(
                    "{what} tag {tag} points outside the header data"
                )));
            }
            let len = match kind.fixed_size() {
                Some(size) => count
                    .checked_mul(size)
                    .filter(|len| offset + len <= data.len())
                    .ok_or_else(|| {
                        Error::BadRpm(format!("{what} tag {tag} runs past the header data"))
                    })?,
                None => {
                    let mut end = offset;
                    for _ in 0..count {
                        let nul = data[end..].iter().position(|&b| b == 0).ok_or_else(|| {
                            Error::BadRpm(format!("{what} tag {tag} has an unterminated string"))
                        })?;
                        end += nul + 1;
                    }
                    end - offset
                }
            };
            entries.push(Entry {
                tag,
                kind,
                offset,
                count,
                len,
            });
        }
        entries.sort_by_key(|entry| entry.tag);
        Ok(Header { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&tag, |entry| entry.tag)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Whether the header has an entry for `tag`.
    pub fn has(&self, tag: u32) -> bool {
        self.entry(tag).is_some()
    }

    /// All strings of a string-typed entry (STRING, STRING_ARRAY, I18NSTRING), as raw bytes.
    pub fn strings(&self, tag: u32) -> Option<Vec<&[u8]>> {
        let entry = self.entry(tag)?;
        if !matches!(
            entry.kind,
            Kind::String | Kind::StringArray | Kind::I18nString
        ) {
            return None;
        }
        let bytes = &self.data[entry.offset..entry.offset + entry.len];
        let mut out: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
        out.truncate(entry.count);
        Some(out)
    }

    /// The first string of a string-typed entry (for I18NSTRING, the untranslated one).
    pub fn string(&self, tag: u32) -> Option<&[u8]> {
        let entry = self.entry(tag)?;
        if !matches!(
            entry.kind,
            Kind::String | Kind::StringArray | Kind::I18nString
        ) || entry.count == 0
        {
            return None;
        }
        let bytes = &self.data[entry.offset..entry.offset + entry.len];
        bytes.split(|&b| b == 0).next()
    }

    /// All values of an integer-typed entry, widened to u64.
    pub fn numbers(&self, tag: u32) -> Option<Vec<u64>> {
        let entry = self.entry(tag)?;
        let bytes = &self.data[entry.offset..entry.offset + entry.len];
        let values = match entry.kind {
            Kind::Char | Kind::Int8 => bytes.iter().map(|&b| u64::from(b)).collect(),
            Kind::Int16 => bytes
                .chunks_exact(2)
                .map(|c| u64::from(u16::from_be_bytes([c[0], c[1]])))
                .collect(),
            Kind::Int32 => bytes
                .chunks_exact(4)
                .map(|c| u64::from(u32::from_be_bytes(c.try_into().expect("4 bytes"))))
                .collect(),
            Kind::Int64 => bytes
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            _ => return None,
        };
        Some(values)
    }

    /// The first value of an integer-typed entry.
    pub fn number(&self, tag: u32) -> Option<u64> {
        self.numbers(tag)?.first().copied()
    }
}

/// The parts of an RPM file before its payload.
#[derive(Debug, Clone)]
pub struct RpmHeaders {
    /// The signature header.
    pub signature: Header,
    /// The main header.
    pub main: Header,
    /// Byte offset where the main header starts (createrepo_c's `header-range start`).
    pub header_start: u64,
    /// Byte offset where the payload starts (`header-range end`).
    pub header_end: u64,
    /// Whether the lead says this is a source package.
    pub lead_is_source: bool,
}

/// Reads the lead, signature header and main header from the start of an RPM stream, leaving
/// the reader positioned at the payload.
pub fn read_headers<R: Read>(reader: &mut R) -> Result<RpmHeaders> {
    let mut lead = [0u8; LEAD_SIZE];
    reader.read_exact(&mut lead).map_err(|err| {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::BadRpm("file is shorter than an RPM lead (96 bytes)".into())
        } else {
            Error::BadRpm(format!("cannot read the lead: {err}"))
        }
    })?;
    if lead[..4] != LEAD_MAGIC {
        return Err(Error::BadRpm(
            "no RPM lead magic at the start of the file".into(),
        ));
    }
    let lead_is_source = u16::from_be_bytes([lead[6], lead[7]]) == 1;
    let (signature, sig_len) = Header::read(reader, "signature header")?;
    let pad = (8 - sig_len % 8) % 8;
    let mut padding = [0u8; 8];
    read_exact_or_truncated(reader, &mut padding[..pad], "signature header padding")?;
    let header_start = (LEAD_SIZE + sig_len + pad) as u64;
    let (main, main_len) = Header::read(reader, "main header")?;
    Ok(RpmHeaders {
        signature,
        main,
        header_start,
        header_end: header_start + main_len as u64,
        lead_is_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header structure from (tag, type, payload, count) entries.
    pub(crate) fn build_header(entries: &[(u32, u32, Vec<u8>, u32)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, payload, count) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(payload);
        }
        let mut out = HEADER_MAGIC.to_vec();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn reads_strings_and_numbers() {
        let bytes = build_header(&[
            (tag::NAME, 6, b"hello\0".to_vec(), 1),
            (tag::DIRNAMES, 8, b"/a/\0/b/\0".to_vec(), 2),
            (tag::EPOCH, 4, 7u32.to_be_bytes().to_vec(), 1),
        ]);
        let (header, len) = Header::read(&mut bytes.as_slice(), "test").unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(header.string(tag::NAME), Some(&b"hello"[..]));
        assert_eq!(
            header.strings(tag::DIRNAMES).unwrap(),
            vec![&b"/a/"[..], &b"/b/"[..]]
        );
        assert_eq!(header.number(tag::EPOCH), Some(7));
        assert_eq!(header.number(tag::NAME), None);
        assert!(!header.has(tag::RELEASE));
    }

    #[test]
    fn rejects_entries_outside_the_data() {
        let mut bytes = build_header(&[(tag::EPOCH, 4, 7u32.to_be_bytes().to_vec(), 2)]);
        let err = Header::read(&mut bytes.as_slice(), "main header").unwrap_err();
        assert!(err.to_string().contains("runs past"), "{err}");
        bytes.truncate(bytes.len() - 1);
        let err = Header::read(&mut bytes.as_slice(), "main header").unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn rejects_unterminated_strings() {
        let bytes = build_header(&[(tag::NAME, 6, b"abc".to_vec(), 1)]);
        let err = Header::read(&mut bytes.as_slice(), "main header").unwrap_err();
        assert!(err.to_string().contains("unterminated"), "{err}");
    }

    #[test]
    fn rejects_non_rpm_files() {
        let err = read_headers(&mut &b"hello world"[..]).unwrap_err();
        assert!(
            err.to_string().contains("shorter than an RPM lead"),
            "{err}"
        );
        let err = read_headers(&mut &[0u8; 200][..]).unwrap_err();
        assert!(err.to_string().contains("lead magic"), "{err}");
    }
}
