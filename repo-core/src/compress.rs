//! Compressed metadata files: gz, bz2, xz, zstd or none, with createrepo_c's settings, and the
//! checksums and sizes repomd.xml needs, computed while writing.
//!
//! Must not: know what the bytes mean.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::checksum::{ChecksumType, Hasher};
use crate::error::{Error, Result};

/// Compression of a metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gz,
    Bz2,
    Xz,
    Zstd,
}

impl Compression {
    /// File name suffix (`.gz`), empty for uncompressed files.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gz => ".gz",
            Compression::Bz2 => ".bz2",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "gz" | "gzip" => Ok(Compression::Gz),
            "bz2" | "bzip2" => Ok(Compression::Bz2),
            "xz" => Ok(Compression::Xz),
            "zstd" | "zst" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            "zck" => Err(Error::BadOption(
                "zchunk compression is not supported yet".into(),
            )),
            _ => Err(Error::BadOption(format!(
                "unknown compression type {name:?} (gz, bz2, xz, zstd, none)"
            ))),
        }
    }
}

/// A writer that hashes and counts everything passing through it.
struct CountingWriter<W> {
    inner: W,
    hasher: Hasher,
    size: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type FileSink = CountingWriter<BufWriter<File>>;

enum Encoder {
    Plain(FileSink),
    Gz(flate2::write::GzEncoder<FileSink>),
    Bz2(bzip2::write::BzEncoder<FileSink>),
    Xz(xz2::write::XzEncoder<FileSink>),
    Zstd(zstd::stream::write::Encoder<'static, FileSink>),
}

/// What repomd.xml records about a finished file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStats {
    /// Checksum of the file as stored.
    pub checksum: String,
    /// Size of the file as stored.
    pub size: u64,
    /// Checksum of the uncompressed content (`None` for uncompressed files).
    pub open_checksum: Option<String>,
    /// Size of the uncompressed content (`None` for uncompressed files).
    pub open_size: Option<u64>,
}

/// A metadata file being written: compresses, and hashes both the content and the result.
pub struct MetadataFile {
    path: PathBuf,
    encoder: Encoder,
    open_hasher: Hasher,
    open_size: u64,
    compressed: bool,
}

impl MetadataFile {
    /// Creates `path` (which must not exist) for writing with `compression`.
    pub fn create(path: &Path, compression: Compression, checksum: ChecksumType) -> Result<Self> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let sink = CountingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file),
            hasher: checksum.hasher(),
            size: 0,
        };
        let encoder = match compression {
            Compression::None => Encoder::Plain(sink),
            Compression::Gz => Encoder::Gz(
                flate2::GzBuilder::new()
                    .operating_system(3)
                    .mtime(0)
                    .write(sink, flate2::Compression::new(6)),
            ),
            Compression::Bz2 => Encoder::Bz2(bzip2::write::BzEncoder::new(
                sink,
                bzip2::Compression::new(5),
            )),
            Compression::Xz => {
                let stream = xz2::stream::Stream::new_easy_encoder(5, xz2::stream::Check::Crc32)
                    .map_err(|e| Error::io(path, io::Error::other(e)))?;
                Encoder::Xz(xz2::write::XzEncoder::new_stream(sink, stream))
            }
            Compression::Zstd => Encoder::Zstd(
                zstd::stream::write::Encoder::new(sink, 10).map_err(|e| Error::io(path, e))?,
            ),
        };
        Ok(MetadataFile {
            path: path.to_owned(),
            encoder,
            open_hasher: checksum.hasher(),
            open_size: 0,
            compressed: compression != Compression::None,
        })
    }

    /// Appends uncompressed content.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.open_hasher.update(bytes);
        self.open_size += bytes.len() as u64;
        let result = match &mut self.encoder {
            Encoder::Plain(w) => w.write_all(bytes),
            Encoder::Gz(w) => w.write_all(bytes),
            Encoder::Bz2(w) => w.write_all(bytes),
            Encoder::Xz(w) => w.write_all(bytes),
            Encoder::Zstd(w) => w.write_all(bytes),
        };
        result.map_err(|e| Error::io(&self.path, e))
    }

    /// Finishes the compressed stream, syncs the file to disk and returns its statistics.
    pub fn finish(self) -> Result<FileStats> {
        let path = self.path;
        let sink = match self.encoder {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gz(w) => w.finish(),
            Encoder::Bz2(w) => w.finish(),
            Encoder::Xz(w) => w.finish(),
            Encoder::Zstd(w) => w.finish(),
        }
        .map_err(|e| Error::io(&path, e))?;
        let CountingWriter {
            inner,
            hasher,
            size,
        } = sink;
        let file = inner
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        Ok(FileStats {
            checksum: hasher.finish_hex(),
            size,
            open_checksum: self.compressed.then(|| self.open_hasher.finish_hex()),
            open_size: self.compressed.then_some(self.open_size),
        })
    }
}

/// Compresses an existing file (a finished sqlite database) into `dest`.
pub fn compress_file(
    source: &Path,
    dest: &Path,
    compression: Compression,
    checksum: ChecksumType,
) -> Result<FileStats> {
    let mut input = File::open(source).map_err(|e| Error::io(source, e))?;
    let mut out = MetadataFile::create(dest, compression, checksum)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = io::Read::read(&mut input, &mut buf).map_err(|e| Error::io(source, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn round_trip(compression: Compression) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("x.xml{}", compression.suffix()));
        let mut file = MetadataFile::create(&path, compression, ChecksumType::Sha256).unwrap();
        let content = b"<metadata packages=\"0\">\n</metadata>".repeat(100);
        file.write_all(&content).unwrap();
        let stats = file.finish().unwrap();
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(stats.size, stored.len() as u64);
        let mut h = ChecksumType::Sha256.hasher();
        h.update(&stored);
        assert_eq!(stats.checksum, h.finish_hex());
        let decoded = match compression {
            Compression::None => stored.clone(),
            Compression::Gz => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&stored[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Compression::Bz2 => {
                let mut out = Vec::new();
                bzip2::read::BzDecoder::new(&stored[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Compression::Xz => {
                let mut out = Vec::new();
                xz2::read::XzDecoder::new(&stored[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Compression::Zstd => zstd::decode_all(&stored[..]).unwrap(),
        };
        assert_eq!(decoded, content);
        if compression == Compression::None {
            assert_eq!(stats.open_checksum, None);
        } else {
            let mut h = ChecksumType::Sha256.hasher();
            h.update(&content);
            assert_eq!(stats.open_checksum, Some(h.finish_hex()));
            assert_eq!(stats.open_size, Some(content.len() as u64));
        }
    }

    #[test]
    fn every_compression_round_trips() {
        for c in [
            Compression::None,
            Compression::Gz,
            Compression::Bz2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            round_trip(c);
        }
    }

    #[test]
    fn gzip_header_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gz");
        let mut file = MetadataFile::create(&path, Compression::Gz, ChecksumType::Sha256).unwrap();
        file.write_all(b"x").unwrap();
        file.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "mtime must be zero");
        assert_eq!(bytes[9], 3, "OS byte is Unix like createrepo_c");
    }
}
