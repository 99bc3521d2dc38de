//! Rendered package metadata on disk: append-only fragment files, one per worker thread and
//! run, addressed by (file, offset, lengths).
//!
//! A run writes the fragments of the packages it reads once; the package cache keeps their
//! addresses, so later runs read unchanged packages' metadata back with one `pread` each and
//! nothing is copied twice. Must not: decide which packages are current (the cache does).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::record::PackageRecord;

/// A package's rendered metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragments {
    /// primary.xml chunk.
    pub primary: String,
    /// filelists.xml chunk.
    pub filelists: String,
    /// other.xml chunk.
    pub other: String,
    /// filelists-ext.xml chunk, when the run writes it.
    pub filelists_ext: Option<String>,
    /// The record as JSON, for the sqlite databases (empty when they are not written).
    pub record_json: String,
}

impl Fragments {
    /// The full record, parsed back from JSON.
    pub fn record(&self) -> Result<PackageRecord> {
        serde_json::from_str(&self.record_json)
            .map_err(|e| Error::BadOption(format!("damaged cached package record: {e}")))
    }

    fn parts(&self) -> [Option<&str>; 5] {
        [
            Some(&self.primary),
            Some(&self.filelists),
            Some(&self.other),
            self.filelists_ext.as_deref(),
            Some(&self.record_json),
        ]
    }
}

/// Marks an absent part (no filelists-ext) in [`FragmentLocation::lengths`].
const ABSENT: u32 = u32::MAX;

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
        let mut lengths = [ABSENT; 5];
        for (length, part) in lengths.iter_mut().zip(fragments.parts()) {
            if let Some(text) = part {
                *length = u32::try_from(text.len())
                    .ok()
                    .filter(|&l| l != ABSENT)
                    .ok_or_else(|| Error::BadOption("package metadata over 4 GiB".into()))?;
                writer
                    .write_all(text.as_bytes())
                    .map_err(|e| Error::io(path.as_path(), e))?;
                *position += text.len() as u64;
            }
        }
        Ok(FragmentLocation {
            file: Arc::clone(path),
            offset,
            lengths,
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

/// Reads fragments back, keeping the files it opened.
#[derive(Default)]
pub struct FragmentReader {
    open: HashMap<Arc<PathBuf>, File>,
    buffer: Vec<u8>,
}

impl FragmentReader {
    /// The fragments at `location`.
    pub fn read(&mut self, location: &FragmentLocation) -> Result<Fragments> {
        use std::os::unix::fs::FileExt;
        let path = location.file.as_path();
        if !self.open.contains_key(&location.file) {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            self.open.insert(Arc::clone(&location.file), file);
        }
        let file = &self.open[&location.file];
        self.buffer.resize(location.total_len() as usize, 0);
        file.read_exact_at(&mut self.buffer, location.offset)
            .map_err(|e| Error::io(path, e))?;
        let mut parts = Vec::with_capacity(5);
        let mut start = 0usize;
        for &length in &location.lengths {
            if length == ABSENT {
                parts.push(None);
                continue;
            }
            let end = start + length as usize;
            let text = std::str::from_utf8(&self.buffer[start..end]).map_err(|_| {
                Error::BadOption(format!("{}: damaged fragment file", path.display()))
            })?;
            parts.push(Some(text.to_owned()));
            start = end;
        }
        let mut parts = parts.into_iter();
        let mut next = || parts.next().flatten();
        Ok(Fragments {
            primary: next().unwrap_or_default(),
            filelists: next().unwrap_or_default(),
            other: next().unwrap_or_default(),
            filelists_ext: next(),
            record_json: next().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let writer = FragmentWriter::new(dir.path(), "run", 2);
        let a = Fragments {
            primary: "<p/>".into(),
            filelists: "ü".into(),
            other: String::new(),
            filelists_ext: None,
            record_json: "{}".into(),
        };
        let b = Fragments {
            filelists_ext: Some("ext".into()),
            ..a.clone()
        };
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
}
