//! Writing RPM files: the lead, header structures with their immutable regions, the signature
//! header with digests, and an uncompressed cpio ("newc") payload.
//!
//! The layout follows what rpmbuild 4.18 writes for `%_binary_payload w.ufdio` (no payload
//! compressor), so rpm and createrepo_c read these files like any other package.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Header tags the generator writes (`RPMTAG_*`, and `RPMSIGTAG_*` in [`sig`]).
///
/// Deliberately not taken from `repo_core::header::tag`: the generator writes the packages
/// that repo-core's reader is measured and checked on, so a wrong tag number there must not
/// be copied into the corpus.
#[allow(missing_docs)]
pub mod tag {
    pub const HEADERSIGNATURES: u32 = 62;
    pub const HEADERIMMUTABLE: u32 = 63;
    pub const HEADERI18NTABLE: u32 = 100;
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
    pub const OS: u32 = 1021;
    pub const ARCH: u32 = 1022;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const FILEVERIFYFLAGS: u32 = 1045;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const REQUIREVERSION: u32 = 1050;
    pub const CONFLICTFLAGS: u32 = 1053;
    pub const CONFLICTNAME: u32 = 1054;
    pub const CONFLICTVERSION: u32 = 1055;
    pub const RPMVERSION: u32 = 1064;
    pub const CHANGELOGTIME: u32 = 1080;
    pub const CHANGELOGNAME: u32 = 1081;
    pub const CHANGELOGTEXT: u32 = 1082;
    pub const OBSOLETENAME: u32 = 1090;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const FILELANGS: u32 = 1097;
    pub const SOURCEPACKAGE: u32 = 1106;
    pub const PROVIDEFLAGS: u32 = 1112;
    pub const PROVIDEVERSION: u32 = 1113;
    pub const OBSOLETEFLAGS: u32 = 1114;
    pub const OBSOLETEVERSION: u32 = 1115;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const PAYLOADFORMAT: u32 = 1124;
    pub const PAYLOADFLAGS: u32 = 1126;
    pub const PLATFORM: u32 = 1132;
    pub const LONGSIZE: u32 = 5009;
    pub const FILEDIGESTALGO: u32 = 5011;
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
    pub const ENCODING: u32 = 5062;
    pub const PAYLOADDIGEST: u32 = 5092;
    pub const PAYLOADDIGESTALGO: u32 = 5093;
    pub const PAYLOADDIGESTALT: u32 = 5097;

    /// Signature header tags.
    pub mod sig {
        pub const LONGSIZE: u32 = 270;
        pub const LONGARCHIVESIZE: u32 = 271;
        pub const SHA256: u32 = 273;
        pub const SIZE: u32 = 1000;
        pub const PAYLOADSIZE: u32 = 1007;
        pub const RESERVEDSPACE: u32 = 1008;
    }
}

/// `PGPHASHALGO_SHA256`, for file and payload digests.
pub const HASH_SHA256: u32 = 8;
/// Bytes rpmbuild reserves in the signature header for signing in place.
const RESERVED_SPACE: usize = 4128;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

/// The value of one header entry, with its rpm data type.
#[derive(Debug, Clone)]
pub enum Value {
    /// `RPM_INT16_TYPE` array.
    Int16(Vec<u16>),
    /// `RPM_INT32_TYPE` array.
    Int32(Vec<u32>),
    /// `RPM_INT64_TYPE` array.
    Int64(Vec<u64>),
    /// `RPM_STRING_TYPE`.
    Str(String),
    /// `RPM_STRING_ARRAY_TYPE`.
    StrArray(Vec<String>),
    /// `RPM_I18NSTRING_TYPE` with only the untranslated ("C") string.
    I18n(String),
    /// `RPM_BIN_TYPE`.
    Bin(Vec<u8>),
}

impl Value {
    fn type_code(&self) -> u32 {
        match self {
            Value::Int16(_) => 3,
            Value::Int32(_) => 4,
            Value::Int64(_) => 5,
            Value::Str(_) => 6,
            Value::Bin(_) => 7,
            Value::StrArray(_) => 8,
            Value::I18n(_) => 9,
        }
    }

    fn alignment(&self) -> usize {
        match self {
            Value::Int16(_) => 2,
            Value::Int32(_) => 4,
            Value::Int64(_) => 8,
            _ => 1,
        }
    }

    fn count(&self) -> usize {
        match self {
            Value::Int16(v) => v.len(),
            Value::Int32(v) => v.len(),
            Value::Int64(v) => v.len(),
            Value::StrArray(v) => v.len(),
            Value::Bin(v) => v.len(),
            Value::Str(_) | Value::I18n(_) => 1,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        fn string(out: &mut Vec<u8>, s: &str) {
            assert!(!s.contains('\0'), "header strings cannot hold NUL: {s:?}");
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        match self {
            Value::Int16(v) => v
                .iter()
                .for_each(|n| out.extend_from_slice(&n.to_be_bytes())),
            Value::Int32(v) => v
                .iter()
                .for_each(|n| out.extend_from_slice(&n.to_be_bytes())),
            Value::Int64(v) => v
                .iter()
                .for_each(|n| out.extend_from_slice(&n.to_be_bytes())),
            Value::Str(s) | Value::I18n(s) => string(out, s),
            Value::StrArray(v) => v.iter().for_each(|s| string(out, s)),
            Value::Bin(v) => out.extend_from_slice(v),
        }
    }
}

/// A header under construction; entries are written in tag order, after the region tag.
#[derive(Debug, Clone, Default)]
pub struct HeaderBuilder {
    entries: BTreeMap<u32, Value>,
}

impl HeaderBuilder {
    /// Sets (or replaces) the entry for `tag`. Empty arrays are not stored: rpm rejects
    /// entries with a zero count.
    pub fn set(&mut self, tag: u32, value: Value) -> &mut Self {
        if value.count() > 0 {
            self.entries.insert(tag, value);
        }
        self
    }

    /// The header structure (magic, index, data), with `region_tag` as its immutable region:
    /// the first index entry points at a 16-byte trailer at the end of the data whose
    /// negative offset spans the whole index, as rpm expects in package files.
    pub fn to_bytes(&self, region_tag: u32) -> Vec<u8> {
        let entry_count = self.entries.len() + 1;
        let mut index = Vec::with_capacity(entry_count * 16);
        let mut data = Vec::new();
        index.extend_from_slice(&[0; 16]);
        for (&tag, value) in &self.entries {
            while !data.len().is_multiple_of(value.alignment()) {
                data.push(0);
            }
            let offset = data.len();
            value.write(&mut data);
            push_entry(
                &mut index,
                tag,
                value.type_code(),
                offset as i32,
                value.count(),
            );
        }
        let trailer_offset = data.len();
        let region_span = -((entry_count * 16) as i32);
        push_entry(&mut data, region_tag, 7, region_span, 16);
        let mut region = Vec::with_capacity(16);
        push_entry(&mut region, region_tag, 7, trailer_offset as i32, 16);
        index[..16].copy_from_slice(&region);

        let mut out = Vec::with_capacity(16 + index.len() + data.len());
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&(entry_count as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&data);
        out
    }
}

fn push_entry(out: &mut Vec<u8>, tag: u32, kind: u32, offset: i32, count: usize) {
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(count as u32).to_be_bytes());
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).expect("nibble"));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).expect("nibble"));
    }
    out
}

/// Appends one cpio "newc" member (header, NUL-terminated name, padding) and returns the
/// offset where its `size` bytes of content are to go; the caller fills them in and then calls
/// [`cpio_pad`].
pub fn cpio_member(out: &mut Vec<u8>, name: &str, ino: u32, mode: u32, mtime: u32, size: usize) {
    let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        mtime,
        u32::try_from(size).expect("cpio newc members are below 4 GiB"),
        0,
        0,
        0,
        0,
        (name.len() + 1) as u32,
        0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    cpio_pad(out);
}

/// Pads the archive to the 4-byte boundary cpio "newc" keeps between parts.
pub fn cpio_pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Ends a cpio archive with its `TRAILER!!!` member.
pub fn cpio_trailer(out: &mut Vec<u8>) {
    cpio_member(out, "TRAILER!!!", 0, 0, 0, 0);
}

/// Puts a package together: lead, signature header (header SHA-256, sizes, reserved space),
/// padding, the main header (to which the payload digests are added) and the payload.
pub fn assemble(
    lead_name: &str,
    is_source: bool,
    mut main: HeaderBuilder,
    payload: &[u8],
) -> Vec<u8> {
    let payload_digest = sha256_hex(payload);
    main.set(
        tag::PAYLOADDIGEST,
        Value::StrArray(vec![payload_digest.clone()]),
    )
    .set(tag::PAYLOADDIGESTALGO, Value::Int32(vec![HASH_SHA256]))
    // Uncompressed payload: the digest of the uncompressed archive is the same.
    .set(tag::PAYLOADDIGESTALT, Value::StrArray(vec![payload_digest]));
    let header = main.to_bytes(tag::HEADERIMMUTABLE);

    let mut sig = HeaderBuilder::default();
    sig.set(tag::sig::SHA256, Value::Str(sha256_hex(&header)));
    let signed_size = (header.len() + payload.len()) as u64;
    match u32::try_from(signed_size) {
        Ok(size) => sig.set(tag::sig::SIZE, Value::Int32(vec![size])),
        Err(_) => sig.set(tag::sig::LONGSIZE, Value::Int64(vec![signed_size])),
    };
    match u32::try_from(payload.len()) {
        Ok(size) => sig.set(tag::sig::PAYLOADSIZE, Value::Int32(vec![size])),
        Err(_) => sig.set(
            tag::sig::LONGARCHIVESIZE,
            Value::Int64(vec![payload.len() as u64]),
        ),
    };
    sig.set(tag::sig::RESERVEDSPACE, Value::Bin(vec![0; RESERVED_SPACE]));
    let sig = sig.to_bytes(tag::HEADERSIGNATURES);

    let mut out = Vec::with_capacity(96 + sig.len() + 8 + header.len() + payload.len());
    out.extend_from_slice(&LEAD_MAGIC);
    out.extend_from_slice(&[3, 0]);
    out.extend_from_slice(&u16::from(is_source).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // archnum
    let mut name = [0u8; 66];
    let len = lead_name.len().min(65);
    name[..len].copy_from_slice(&lead_name.as_bytes()[..len]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&1u16.to_be_bytes()); // osnum: Linux
    out.extend_from_slice(&5u16.to_be_bytes()); // signature type: header-style
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&sig);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_trailer_spans_the_index() {
        let mut h = HeaderBuilder::default();
        h.set(tag::NAME, Value::Str("x".into()))
            .set(tag::FILEMODES, Value::Int16(vec![0o100644]))
            .set(tag::SIZE, Value::Int32(vec![3]))
            .set(tag::DIRNAMES, Value::StrArray(Vec::new()));
        let bytes = h.to_bytes(tag::HEADERIMMUTABLE);
        let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(
            word(8),
            4,
            "region + three entries; the empty array is dropped"
        );
        let data_len = word(12) as usize;
        let data = 16 + 4 * 16;
        assert_eq!(bytes.len(), data + data_len);
        assert_eq!(
            (word(16), word(20), word(24), word(28)),
            (63, 7, data_len as u32 - 16, 16)
        );
        let trailer = data + data_len - 16;
        assert_eq!(word(trailer + 8) as i32, -64);
        // Entries are in tag order (NAME, SIZE, FILEMODES); SIZE's int32 is aligned after "x\0".
        assert_eq!((word(48), word(56)), (tag::SIZE, 4));
    }

    #[test]
    fn cpio_members_are_aligned() {
        let mut out = Vec::new();
        cpio_member(&mut out, "./a", 1, 0o100644, 0, 3);
        assert_eq!(out.len() % 4, 0);
        out.extend_from_slice(b"abc");
        cpio_pad(&mut out);
        cpio_trailer(&mut out);
        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
    }
}
