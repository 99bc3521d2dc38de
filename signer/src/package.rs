//! RPM header signatures: reading a package's lead and headers, rewriting its signature
//! header, and checking the signature against a certificate.
//!
//! A v4 header-only signature covers exactly the main header's bytes as stored in the file, so
//! signing reads the lead, the signature header and the main header and nothing else; the new
//! file is the old lead, a rebuilt signature header, the untouched main header and the payload
//! copied by the kernel (`copy_file_range`) without passing through our memory. Old signatures
//! of every kind are dropped (RPM v3 header+payload ones too); header digests, sizes and the
//! MD5 stay, since header and payload do not change. RESERVEDSPACE is resized so the file keeps
//! its size whenever it fits.
//! Must not: read the payload into memory, or sign a header whose stored digest does not match.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
/// rpm's own limits on header sizes (hdrchkTags / hdrchkData).
const MAX_INDEX_ENTRIES: u32 = 0x10000;
const MAX_DATA_BYTES: u32 = 256 * 1024 * 1024;
/// The signature header is small; rpm refuses ones above 64 KiB.
const MAX_SIGNATURE_DATA: u32 = 64 * 1024 * 1024;

/// Signature-header tags (`RPMSIGTAG_*`).
pub mod sigtag {
    /// The region tag of the signature header.
    pub const HEADERSIGNATURES: u32 = 62;
    /// Header-only DSA/ECDSA/EdDSA OpenPGP signature.
    pub const DSA: u32 = 267;
    /// Header-only RSA OpenPGP signature.
    pub const RSA: u32 = 268;
    /// SHA-1 of the main header (hex string).
    pub const SHA1: u32 = 269;
    /// SHA-256 of the main header (hex string).
    pub const SHA256: u32 = 273;
    /// rpm 6 OpenPGP signature array (base64 strings).
    pub const OPENPGP: u32 = 278;
    /// Header+payload PGP (RSA) signature, RPM v3 style.
    pub const PGP: u32 = 1002;
    /// Header+payload GPG (DSA) signature, RPM v3 style.
    pub const GPG: u32 = 1005;
    /// PGP 5 header+payload signature (obsolete).
    pub const PGP5: u32 = 1006;
    /// Zero padding kept so signatures can be added in place.
    pub const RESERVEDSPACE: u32 = 1008;
}

/// Entry data types (`RPM_*_TYPE`).
mod kind {
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// Tags whose content is a signature; all of them are dropped when we sign.
const SIGNATURE_TAGS: [u32; 6] = [
    sigtag::DSA,
    sigtag::RSA,
    sigtag::OPENPGP,
    sigtag::PGP,
    sigtag::GPG,
    sigtag::PGP5,
];

/// One entry of a signature header, with its data bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigEntry {
    /// Tag number.
    pub tag: u32,
    /// Data type.
    pub kind: u32,
    /// Element count.
    pub count: u32,
    /// The entry's bytes in the data store.
    pub data: Vec<u8>,
}

/// A parsed signature header (region entry left out; it is regenerated on write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureHeader {
    /// Entries in tag order.
    pub entries: Vec<SigEntry>,
}

fn align_of(kind: u32) -> usize {
    match kind {
        kind::INT16 => 2,
        kind::INT32 => 4,
        kind::INT64 => 8,
        _ => 1,
    }
}

/// Byte length of an entry's data starting at `data[offset..]`.
fn data_len(kind: u32, count: u32, data: &[u8]) -> Option<usize> {
    let count = count as usize;
    match kind {
        0 => Some(0),
        1 | 2 | kind::BIN => Some(count),
        kind::INT16 => count.checked_mul(2),
        kind::INT32 => count.checked_mul(4),
        kind::INT64 => count.checked_mul(8),
        kind::STRING if count == 1 => data.iter().position(|&b| b == 0).map(|p| p + 1),
        kind::STRING | kind::STRING_ARRAY | kind::I18NSTRING => {
            let mut pos = 0usize;
            for _ in 0..count {
                let rest = data.get(pos..)?;
                pos += rest.iter().position(|&b| b == 0)? + 1;
            }
            Some(pos)
        }
        _ => None,
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

impl SignatureHeader {
    /// Parses the index and data store of a signature header (`index` = 16 bytes per entry,
    /// `store` = the data). Every offset and length is checked; nothing here can panic.
    pub fn parse(index: &[u8], store: &[u8]) -> std::result::Result<SignatureHeader, String> {
        if !index.len().is_multiple_of(16) {
            return Err("index length is not a multiple of 16".into());
        }
        let mut entries = Vec::with_capacity(index.len() / 16);
        for raw in index.chunks_exact(16) {
            let tag = be32(raw, 0);
            let kind = be32(raw, 4);
            let offset = be32(raw, 8) as usize;
            let count = be32(raw, 12);
            if tag == sigtag::HEADERSIGNATURES {
                continue;
            }
            if !(0..=kind::I18NSTRING).contains(&kind) {
                return Err(format!("signature tag {tag} has unknown type {kind}"));
            }
            let rest = store
                .get(offset..)
                .ok_or_else(|| format!("signature tag {tag} points outside the header"))?;
            let len = data_len(kind, count, rest)
                .filter(|len| *len <= rest.len())
                .ok_or_else(|| format!("signature tag {tag} overruns the header"))?;
            entries.push(SigEntry {
                tag,
                kind,
                count,
                data: rest[..len].to_vec(),
            });
        }
        entries.sort_by_key(|e| e.tag);
        entries.dedup_by_key(|e| e.tag);
        Ok(SignatureHeader { entries })
    }

    /// The entry for `tag`.
    pub fn get(&self, tag: u32) -> Option<&SigEntry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    /// A string entry's value (without the NUL).
    pub fn string(&self, tag: u32) -> Option<&[u8]> {
        let entry = self.get(tag).filter(|e| e.kind == kind::STRING)?;
        entry.data.strip_suffix(&[0])
    }

    /// Replaces or adds an entry, keeping tag order.
    pub fn set(&mut self, entry: SigEntry) {
        self.entries.retain(|e| e.tag != entry.tag);
        let at = self.entries.partition_point(|e| e.tag < entry.tag);
        self.entries.insert(at, entry);
    }

    /// Removes an entry.
    pub fn remove(&mut self, tag: u32) {
        self.entries.retain(|e| e.tag != tag);
    }

    /// Serializes magic, index and data store, region entry first and its trailer last (the
    /// layout rpm writes), each entry aligned for its type. Not padded to 8.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.entries.len() + 1;
        let mut index = Vec::with_capacity(n * 16);
        let mut store: Vec<u8> = Vec::new();
        for entry in &self.entries {
            let align = align_of(entry.kind);
            while !store.len().is_multiple_of(align) {
                store.push(0);
            }
            index.extend_from_slice(&entry.tag.to_be_bytes());
            index.extend_from_slice(&entry.kind.to_be_bytes());
            index.extend_from_slice(&(store.len() as u32).to_be_bytes());
            index.extend_from_slice(&entry.count.to_be_bytes());
            store.extend_from_slice(&entry.data);
        }
        let trailer_offset = store.len() as u32;
        store.extend_from_slice(&sigtag::HEADERSIGNATURES.to_be_bytes());
        store.extend_from_slice(&kind::BIN.to_be_bytes());
        store.extend_from_slice(&(-(n as i32 * 16)).to_be_bytes());
        store.extend_from_slice(&16u32.to_be_bytes());
        let mut out = Vec::with_capacity(16 + n * 16 + store.len());
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&(n as u32).to_be_bytes());
        out.extend_from_slice(&(store.len() as u32).to_be_bytes());
        out.extend_from_slice(&sigtag::HEADERSIGNATURES.to_be_bytes());
        out.extend_from_slice(&kind::BIN.to_be_bytes());
        out.extend_from_slice(&trailer_offset.to_be_bytes());
        out.extend_from_slice(&16u32.to_be_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&store);
        out
    }

    /// The serialized size padded to 8, as it occupies the file.
    fn padded_size(&self) -> usize {
        self.to_bytes().len().next_multiple_of(8)
    }

    /// Adds RESERVEDSPACE so the padded header is exactly `target` bytes, when possible.
    fn fill_reserved_space(&mut self, target: usize) {
        self.remove(sigtag::RESERVEDSPACE);
        let base = self.padded_size();
        // The entry costs 16 index bytes; its data any length. Try the lengths that land on
        // the target (padding and alignment of later tags can shift by a few bytes).
        let Some(mut len) = target.checked_sub(base + 16) else {
            return;
        };
        for _ in 0..16 {
            if len == 0 {
                break;
            }
            self.set(SigEntry {
                tag: sigtag::RESERVEDSPACE,
                kind: kind::BIN,
                count: len as u32,
                data: vec![0; len],
            });
            let size = self.padded_size();
            if size == target {
                return;
            }
            if size > target {
                len = len.saturating_sub(size - target);
            } else {
                len += 1;
            }
        }
        self.remove(sigtag::RESERVEDSPACE);
    }
}

/// The parts of a package a signature concerns.
#[derive(Debug, Clone)]
pub struct PackageHead {
    /// The 96-byte lead.
    pub lead: [u8; LEAD_SIZE],
    /// The signature header.
    pub signature: SignatureHeader,
    /// Bytes the signature header occupies in the file, padding included.
    pub signature_size: usize,
    /// The main header exactly as stored (magic, index, data): what a header signature covers.
    pub header: Vec<u8>,
}

impl PackageHead {
    /// File offset where the payload starts.
    pub fn payload_offset(&self) -> u64 {
        (LEAD_SIZE + self.signature_size + self.header.len()) as u64
    }
}

fn read_exact(reader: &mut impl Read, buf: &mut [u8], path: &Path, what: &str) -> Result<()> {
    reader.read_exact(buf).map_err(|err| {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            Error::bad_rpm(path, format!("truncated in the {what}"))
        } else {
            Error::io(path, err)
        }
    })
}

fn read_structure(
    reader: &mut impl Read,
    path: &Path,
    what: &str,
    max_data: u32,
) -> Result<(Vec<u8>, usize)> {
    let mut preamble = [0u8; 16];
    read_exact(reader, &mut preamble, path, what)?;
    if preamble[..4] != HEADER_MAGIC[..4] {
        return Err(Error::bad_rpm(path, format!("bad {what} magic")));
    }
    let n = be32(&preamble, 8);
    let data = be32(&preamble, 12);
    if n == 0 || n > MAX_INDEX_ENTRIES || data > max_data {
        return Err(Error::bad_rpm(
            path,
            format!("{what} has implausible sizes ({n} entries, {data} bytes)"),
        ));
    }
    let len = 16 + n as usize * 16 + data as usize;
    let mut bytes = preamble.to_vec();
    // Read through `take` so a lying size cannot make us allocate before the bytes exist.
    reader
        .take((len - 16) as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() != len {
        return Err(Error::bad_rpm(path, format!("truncated in the {what}")));
    }
    Ok((bytes, n as usize))
}

/// Reads lead, signature header and main header from the start of `reader`.
pub fn read_head(reader: &mut impl Read, path: &Path) -> Result<PackageHead> {
    let mut lead = [0u8; LEAD_SIZE];
    read_exact(reader, &mut lead, path, "lead")?;
    if lead[..4] != LEAD_MAGIC {
        return Err(Error::bad_rpm(path, "not an RPM package (bad lead magic)"));
    }
    match lead[4] {
        3 => {}
        4 => {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                reason: "RPM v6 package format (rpm >= 6 signs these with OpenPGP v6 \
                         signatures, which this signer does not write)"
                    .into(),
            });
        }
        major => {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                reason: format!("RPM lead version {major} (only the v4 format, lead 3, is signed)"),
            });
        }
    }
    let (sig_bytes, n) = read_structure(reader, path, "signature header", MAX_SIGNATURE_DATA)?;
    let signature = SignatureHeader::parse(&sig_bytes[16..16 + n * 16], &sig_bytes[16 + n * 16..])
        .map_err(|reason| Error::bad_rpm(path, reason))?;
    let padding = sig_bytes.len().next_multiple_of(8) - sig_bytes.len();
    let mut pad = [0u8; 8];
    read_exact(reader, &mut pad[..padding], path, "signature header")?;
    let (header, _) = read_structure(reader, path, "main header", MAX_DATA_BYTES)?;
    Ok(PackageHead {
        lead,
        signature_size: sig_bytes.len() + padding,
        signature,
        header,
    })
}

/// Lower-case hex of SHA-256 over `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Checks the stored header digests against the header bytes.
pub fn check_header_digests(head: &PackageHead, path: &Path) -> Result<()> {
    if let Some(stored) = head.signature.string(sigtag::SHA256)
        && !stored.eq_ignore_ascii_case(sha256_hex(&head.header).as_bytes())
    {
        return Err(Error::bad_rpm(
            path,
            "header SHA-256 digest does not match the header: the package is corrupt",
        ));
    }
    Ok(())
}

/// Which signature-header tag a signature by this key goes into.
pub fn signature_tag(is_rsa: bool) -> u32 {
    if is_rsa { sigtag::RSA } else { sigtag::DSA }
}

/// The new signature header: old signatures dropped, `signature` (a binary OpenPGP packet)
/// stored under `tag`, SHA-256 header digest added if the package had none, RESERVEDSPACE
/// resized to keep the old size when possible.
pub fn resigned_header(head: &PackageHead, tag: u32, signature: Vec<u8>) -> SignatureHeader {
    let mut sig = head.signature.clone();
    for t in SIGNATURE_TAGS {
        sig.remove(t);
    }
    if sig.get(sigtag::SHA256).is_none() {
        let mut hex = sha256_hex(&head.header).into_bytes();
        hex.push(0);
        sig.set(SigEntry {
            tag: sigtag::SHA256,
            kind: kind::STRING,
            count: 1,
            data: hex,
        });
    }
    sig.set(SigEntry {
        tag,
        kind: kind::BIN,
        count: signature.len() as u32,
        data: signature,
    });
    sig.fill_reserved_space(head.signature_size);
    sig
}

/// The directory a file lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes the renames done in `dir` durable (fsync of the directory itself).
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Writes `head` with the new signature header and the payload of `source` to `dest`
/// atomically: temp file in `dest`'s directory, fsync, rename. On any error `dest` (and the
/// source) are untouched and the temp file is removed. The rename itself becomes durable
/// with [`sync_dir`] on `dest`'s directory, which callers do once per directory.
pub fn write_package(
    source: &mut fs::File,
    head: &PackageHead,
    signature: &SignatureHeader,
    dest: &Path,
    mode: u32,
) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent_dir(dest);
    let name = dest
        .file_name()
        .map_or_else(|| "package".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{name}.{}.{}.sign-tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        let mut sig_bytes = signature.to_bytes();
        sig_bytes.resize(sig_bytes.len().next_multiple_of(8), 0);
        let mut prefix = Vec::with_capacity(LEAD_SIZE + sig_bytes.len() + head.header.len());
        prefix.extend_from_slice(&head.lead);
        prefix.extend_from_slice(&sig_bytes);
        prefix.extend_from_slice(&head.header);
        out.write_all(&prefix)?;
        use std::io::Seek;
        source.seek(io::SeekFrom::Start(head.payload_offset()))?;
        // File-to-file io::copy uses copy_file_range: the payload never enters our memory.
        io::copy(source, &mut out)?;
        out.sync_all()?;
        fs::rename(&temp, dest)?;
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::io(dest, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(tag: u32, kind: u32, count: u32, data: &[u8]) -> SigEntry {
        SigEntry {
            tag,
            kind,
            count,
            data: data.to_vec(),
        }
    }

    fn parse_bytes(bytes: &[u8]) -> SignatureHeader {
        let n = be32(bytes, 8) as usize;
        SignatureHeader::parse(&bytes[16..16 + n * 16], &bytes[16 + n * 16..]).unwrap()
    }

    #[test]
    fn layout_matches_rpmbuild() {
        // rpmbuild 4.18's unsigned signature header: region first, trailer last.
        let mut h = SignatureHeader::default();
        h.set(entry(
            sigtag::SHA1,
            kind::STRING,
            1,
            &[b'a'; 41][..40]
                .iter()
                .chain(&[0])
                .copied()
                .collect::<Vec<_>>(),
        ));
        h.set(entry(1000, kind::INT32, 1, &[0, 0, 1, 0]));
        let bytes = h.to_bytes();
        assert_eq!(&bytes[..8], &HEADER_MAGIC);
        assert_eq!(be32(&bytes, 8), 3);
        let store_len = be32(&bytes, 12) as usize;
        // region entry points at the trailer, trailer offset is -(entries * 16)
        assert_eq!(be32(&bytes, 16), 62);
        assert_eq!(be32(&bytes, 24) as usize, store_len - 16);
        let store = &bytes[16 + 48..];
        assert_eq!(
            i32::from_be_bytes(store[store_len - 8..store_len - 4].try_into().unwrap()),
            -48
        );
        // INT32 after a 41-byte string is aligned to 4
        assert_eq!(be32(&bytes, 16 + 32 + 8), 44);
        assert_eq!(parse_bytes(&bytes), h);
    }

    #[test]
    fn reserved_space_keeps_the_size() {
        let mut h = SignatureHeader::default();
        h.set(entry(sigtag::SHA256, kind::STRING, 1, &[b'b'; 65]));
        h.set(entry(1000, kind::INT32, 1, &[0, 0, 1, 0]));
        h.set(entry(sigtag::RSA, kind::BIN, 3, &[1, 2, 3]));
        for target in [4384usize, 4392, 1000] {
            h.fill_reserved_space(target);
            assert_eq!(h.padded_size(), target);
        }
        h.fill_reserved_space(16);
        assert!(h.get(sigtag::RESERVEDSPACE).is_none());
    }

    proptest! {
        #[test]
        fn signature_headers_round_trip(
            raw in proptest::collection::btree_map(
                63u32..5000,
                (prop_oneof![Just(kind::BIN), Just(kind::INT32), Just(kind::STRING), Just(kind::INT16)],
                 proptest::collection::vec(1u8..255, 1..40)),
                0..12)
        ) {
            let mut h = SignatureHeader::default();
            for (tag, (k, mut data)) in raw {
                let count = match k {
                    kind::INT32 => { data.truncate(data.len() / 4 * 4); if data.is_empty() { data = vec![1;4]; } data.len() as u32 / 4 }
                    kind::INT16 => { data.truncate(data.len() / 2 * 2); if data.is_empty() { data = vec![1;2]; } data.len() as u32 / 2 }
                    kind::STRING => { data.push(0); 1 }
                    _ => data.len() as u32,
                };
                h.set(SigEntry { tag, kind: k, count, data });
            }
            let bytes = h.to_bytes();
            prop_assert_eq!(parse_bytes(&bytes), h);
        }

        #[test]
        fn parse_never_panics(index in proptest::collection::vec(any::<u8>(), 0..64),
                              store in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = SignatureHeader::parse(&index, &store);
        }
    }
}
