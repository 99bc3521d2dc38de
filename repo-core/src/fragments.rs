//! Rendered package metadata on disk: append-only fragment files, one per worker thread and
//! run, addressed by (file, offset, lengths).
//!
//! A run writes the fragments of the packages it reads once; the package cache keeps their
//! addresses, so later runs read unchanged packages' metadata back with one `pread` each and
//! nothing is copied twice. Must not: decide which packages are current (the cache does).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::record::PackageRecord;
use crate::xml::MetadataKind;

/// A package's rendered metadata: primary, filelists, other, filelists-ext (optional) and the
/// record as JSON (empty unless sqlite databases are written), in one buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragments {
    bytes: Vec<u8>,
    lengths: [u32; 5],
}

fn length_of(bytes: usize) -> Result<u32> {
    u32::try_from(bytes)
        .ok()
        .filter(|&l| l != ABSENT)
        .ok_or_else(|| Error::BadOption("package metadata over 4 GiB".into()))
}

impl Fragments {
    /// Renders a package's documents straight into one buffer; `record_json` is appended as
    /// the last part (empty when no sqlite databases are written).
    pub fn render(record: &PackageRecord, filelists_ext: bool, record_json: &str) -> Result<Self> {
        let kinds = [
            Some(MetadataKind::Primary),
            Some(MetadataKind::Filelists),
            Some(MetadataKind::Other),
            filelists_ext.then_some(MetadataKind::FilelistsExt),
        ];
        let mut text = String::with_capacity(8 * 1024 + record_json.len());
        let mut lengths = [ABSENT; 5];
        for (length, kind) in lengths.iter_mut().zip(kinds) {
            if let Some(kind) = kind {
                let start = text.len();
                kind.render(record, &mut text);
                *length = length_of(text.len() - start)?;
            }
        }
        text.push_str(record_json);
        lengths[4] = length_of(record_json.len())?;
        Ok(Fragments {
            bytes: text.into_bytes(),
            lengths,
        })
    }

    /// Puts literal parts together.
    #[cfg(test)]
    pub(crate) fn new(
        primary: &str,
        filelists: &str,
        other: &str,
        filelists_ext: Option<&str>,
        record_json: &str,
    ) -> Result<Fragments> {
        let parts = [
            Some(primary),
            Some(filelists),
            Some(other),
            filelists_ext,
            Some(record_json),
        ];
        let mut bytes = Vec::new();
        let mut lengths = [ABSENT; 5];
        for (length, part) in lengths.iter_mut().zip(parts) {
            if let Some(text) = part {
                *length = length_of(text.len())?;
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        Ok(Fragments { bytes, lengths })
    }

    fn part(&self, index: usize) -> Option<&[u8]> {
        if self.lengths[index] == ABSENT {
            return None;
        }
        let start: usize = self.lengths[..index]
            .iter()
            .filter(|&&l| l != ABSENT)
            .map(|&l| l as usize)
            .sum();
        Some(&self.bytes[start..start + self.lengths[index] as usize])
    }

    /// primary.xml chunk.
    pub fn primary(&self) -> &[u8] {
        self.part(0).unwrap_or_default()
    }

    /// filelists.xml chunk.
    pub fn filelists(&self) -> &[u8] {
        self.part(1).unwrap_or_default()
    }

    /// other.xml chunk.
    pub fn other(&self) -> &[u8] {
        self.part(2).unwrap_or_default()
    }

    /// filelists-ext.xml chunk, when the run writes it.
    pub fn filelists_ext(&self) -> Option<&[u8]> {
        self.part(3)
    }

    /// The text of `kind`'s document (empty when the run did not render it).
    pub fn text_of(&self, kind: MetadataKind) -> &[u8] {
        self.part(part_index(kind)).unwrap_or_default()
    }

    /// The full record, parsed back from JSON.
    pub fn record(&self) -> Result<PackageRecord> {
        serde_json::from_slice(self.part(4).unwrap_or_default())
            .map_err(|e| Error::BadOption(format!("damaged cached package record: {e}")))
    }
}

/// Marks an absent part (no filelists-ext) in [`FragmentLocation::lengths`].
const ABSENT: u32 = u32::MAX;

/// Where `kind`'s text sits among a package's parts.
fn part_index(kind: MetadataKind) -> usize {
    match kind {
        MetadataKind::Primary => 0,
        MetadataKind::Filelists => 1,
        MetadataKind::Other => 2,
        MetadataKind::FilelistsExt => 3,
    }
}

/// Where one package's fragments are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentLocation {
    /// The fragment file.
    pub file: Arc<PathBuf>,
    /// Offset of the first part.
    pub offset: u64,
    /// Lengths of primary, filelists, other, filelists-ext ([`u32::MAX`]: absent), record.
    pub lengths: [u32; 5],
}

impl FragmentLocation {
    /// Bytes of primary, filelists and other text: what a block's size is counted in.
    pub fn documents_len(&self) -> usize {
        self.lengths[..3]
            .iter()
            .filter(|&&l| l != ABSENT)
            .map(|&l| l as usize)
            .sum()
    }

    /// Bytes of `kind`'s text (0 when absent).
    pub fn text_len(&self, kind: MetadataKind) -> usize {
        self.part_range(part_index(kind)).map_or(0, |(_, len)| len)
    }

    /// File offset and length of part `index`, if present.
    fn part_range(&self, index: usize) -> Option<(u64, usize)> {
        if self.lengths[index] == ABSENT {
            return None;
        }
        let before: u64 = self.lengths[..index]
            .iter()
            .filter(|&&l| l != ABSENT)
            .map(|&l| u64::from(l))
            .sum();
        Some((self.offset + before, self.lengths[index] as usize))
    }

    /// File offset and length of `kind`'s text, if the package has that document.
    pub fn text_range(&self, kind: MetadataKind) -> Option<(u64, usize)> {
        self.part_range(part_index(kind))
    }

    /// Bytes the fragments occupy.
    pub fn total_len(&self) -> u64 {
        self.lengths
            .iter()
            .filter(|&&l| l != ABSENT)
            .map(|&l| u64::from(l))
            .sum()
    }

    /// The lengths as text, for storing in the cache.
    pub fn lengths_text(&self) -> String {
        self.lengths
            .iter()
            .map(|&l| {
                if l == ABSENT {
                    "-".to_owned()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses [`FragmentLocation::lengths_text`].
    pub fn parse_lengths(text: &str) -> Option<[u32; 5]> {
        let mut lengths = [0u32; 5];
        let mut parts = text.split(',');
        for length in &mut lengths {
            *length = match parts.next()? {
                "-" => ABSENT,
                n => n.parse().ok().filter(|&n| n != ABSENT)?,
            };
        }
        parts.next().is_none().then_some(lengths)
    }
}

/// An open fragment file and the number of bytes written to it.
type OpenFragmentFile = (BufWriter<File>, u64, Arc<PathBuf>);

/// Appends fragments to one file per worker thread (no contention between workers).
pub struct FragmentWriter {
    dir: PathBuf,
    prefix: String,
    files: Vec<Mutex<Option<OpenFragmentFile>>>,
}

impl FragmentWriter {
    /// Fragment files will be `<dir>/<prefix>-<slot>.dat`, created when first written.
    pub fn new(dir: &Path, prefix: &str, slots: usize) -> FragmentWriter {
        FragmentWriter {
            dir: dir.to_owned(),
            prefix: prefix.to_owned(),
            files: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Appends `fragments` to the calling worker's file.
    pub fn write(&self, fragments: &Fragments) -> Result<FragmentLocation> {
        let slot = rayon::current_thread_index().unwrap_or(0) % self.files.len();
        let mut guard = self.files[slot]
            .lock()
            .expect("fragment file lock poisoned");
        if guard.is_none() {
            let path = self.dir.join(format!("{}-{slot}.dat", self.prefix));
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            *guard = Some((
                BufWriter::with_capacity(256 * 1024, file),
                0,
                Arc::new(path),
            ));
        }
        let (writer, position, path) = guard.as_mut().expect("fragment file is open");
        let offset = *position;
        writer
            .write_all(&fragments.bytes)
            .map_err(|e| Error::io(path.as_path(), e))?;
        *position += fragments.bytes.len() as u64;
        Ok(FragmentLocation {
            file: Arc::clone(path),
            offset,
            lengths: fragments.lengths,
        })
    }

    /// Flushes every file; returns the files written.
    pub fn finish(self) -> Result<Vec<Arc<PathBuf>>> {
        let mut written = Vec::new();
        for slot in self.files {
            if let Some((mut writer, _, path)) = slot.into_inner().expect("fragment lock poisoned")
            {
                writer.flush().map_err(|e| Error::io(path.as_path(), e))?;
                written.push(path);
            }
        }
        Ok(written)
    }
}

/// Reads fragments back, keeping the files it opened (a run has a few: one per worker and
/// run, so a list beats hashing the path on every read).
#[derive(Default)]
pub struct FragmentReader {
    open: Vec<(Arc<PathBuf>, File)>,
}

impl FragmentReader {
    /// The fragments at `location`. The text is not re-validated: fragment files are written
    /// only by this crate, as UTF-8.
    pub fn read(&mut self, location: &FragmentLocation) -> Result<Fragments> {
        Ok(Fragments {
            bytes: self.read_span(location, location.offset, location.total_len() as usize)?,
            lengths: location.lengths,
        })
    }

    /// Appends the text of `kind` at `location` to `buf` with one read of just that part, so
    /// a document writer never holds the other documents' text.
    pub fn read_text_into(
        &mut self,
        location: &FragmentLocation,
        kind: MetadataKind,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let Some((offset, len)) = location.part_range(part_index(kind)) else {
            return Ok(());
        };
        let path = location.file.as_path();
        let file = self.file(location)?;
        let start = buf.len();
        buf.resize(start + len, 0);
        file.read_exact_at(&mut buf[start..], offset)
            .map_err(|e| Error::io(path, e))
    }

    /// `len` bytes of `location`'s file from `offset`: the fragments of several packages
    /// stored one after another, read with one call.
    pub fn read_span(
        &mut self,
        location: &FragmentLocation,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let path = location.file.as_path();
        let file = self.file(location)?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, offset)
            .map_err(|e| Error::io(path, e))?;
        Ok(bytes)
    }

    /// The open file `location` points into, opened on first use.
    fn file(&mut self, location: &FragmentLocation) -> Result<&File> {
        let wanted = &location.file;
        // Locations loaded from the cache share one path per file: compare pointers first.
        let found = (self.open.iter())
            .position(|(path, _)| Arc::ptr_eq(path, wanted))
            .or_else(|| self.open.iter().position(|(path, _)| path == wanted));
        let index = match found {
            Some(index) => index,
            None => {
                let file =
                    File::open(wanted.as_path()).map_err(|e| Error::io(wanted.as_path(), e))?;
                self.open.push((Arc::clone(wanted), file));
                self.open.len() - 1
            }
        };
        Ok(&self.open[index].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = FragmentWriter::new(dir.path(), "run", 2);
        let a = Fragments::new("<p/>", "ü", "", None, "{}").unwrap();
        let b = Fragments::new("<p/>", "ü", "", Some("ext"), "{}").unwrap();
        assert_eq!(b.filelists_ext(), Some(&b"ext"[..]));
        assert_eq!(a.filelists_ext(), None);
        assert_eq!(b.filelists(), "ü".as_bytes());
        let (la, lb) = (writer.write(&a).unwrap(), writer.write(&b).unwrap());
        assert_eq!(writer.finish().unwrap().len(), 1);
        let mut reader = FragmentReader::default();
        assert_eq!(reader.read(&lb).unwrap(), b);
        assert_eq!(reader.read(&la).unwrap(), a);
        let text = la.lengths_text();
        assert_eq!(text, "4,2,0,-,2");
        assert_eq!(FragmentLocation::parse_lengths(&text), Some(la.lengths));
        assert_eq!(FragmentLocation::parse_lengths("1,2"), None);
    }

    #[test]
    fn one_document_text_is_read_without_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let writer = FragmentWriter::new(dir.path(), "run", 1);
        let a = Fragments::new("<p1/>", "<f1/>", "<o1/>", None, "{}").unwrap();
        let b = Fragments::new("<p2/>", "<f2/>", "<o2/>", Some("<e2/>"), "{}").unwrap();
        let (la, lb) = (writer.write(&a).unwrap(), writer.write(&b).unwrap());
        writer.finish().unwrap();
        assert_eq!(la.documents_len(), 15);
        assert_eq!(lb.text_len(MetadataKind::FilelistsExt), 5);
        assert_eq!(la.text_len(MetadataKind::FilelistsExt), 0);
        let mut reader = FragmentReader::default();
        for kind in [
            MetadataKind::Primary,
            MetadataKind::Filelists,
            MetadataKind::Other,
            MetadataKind::FilelistsExt,
        ] {
            let mut buf = b"prefix".to_vec();
            reader.read_text_into(&la, kind, &mut buf).unwrap();
            reader.read_text_into(&lb, kind, &mut buf).unwrap();
            let expected = [&b"prefix"[..], a.text_of(kind), b.text_of(kind)].concat();
            assert_eq!(buf, expected, "{kind:?}");
        }
        assert_eq!(b.text_of(MetadataKind::FilelistsExt), b"<e2/>");
    }
}
