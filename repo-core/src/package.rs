//! Reading one package file: headers and whole-file checksum in a single pass.
//!
//! Must not: walk directories or decide locations (the caller passes them in).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::checksum::{ChecksumType, Hasher};
use crate::error::{Error, Result};
use crate::header::read_headers;
use crate::record::{ChangelogLimit, FileFacts, PackageRecord};

/// A reader that hashes and counts every byte it hands out.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reads the rest of the file through `reader` (which hashes it) in large chunks: the payload
/// is most of the bytes, and small reads add a system call per few kilobytes.
fn hash_rest<R: Read>(reader: &mut HashingReader<R>) -> io::Result<()> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 512 * 1024]);
    }
    BUFFER.with_borrow_mut(|buffer| {
        loop {
            match reader.read(buffer) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    })
}

/// Where a package is and how it is to be described.
#[derive(Debug, Clone)]
pub struct PackageSource<'a> {
    /// Path to open.
    pub path: &'a Path,
    /// Location href to record.
    pub location_href: &'a str,
    /// Location base (`--baseurl`).
    pub location_base: Option<&'a str>,
}

/// Reads a package and builds its record, reading the file exactly once.
pub fn read_package(
    source: &PackageSource<'_>,
    checksum: ChecksumType,
    changelog_limit: ChangelogLimit,
) -> Result<PackageRecord> {
    let path = source.path;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::BadRpm("not a regular file".into()));
    }
    let mtime = {
        use std::os::unix::fs::MetadataExt;
        meta.mtime()
    };
    let mut reader = HashingReader {
        inner: BufReader::with_capacity(256 * 1024, file),
        hasher: checksum.hasher(),
        bytes: 0,
    };
    let headers = read_headers(&mut reader)?;
    hash_rest(&mut reader).map_err(|e| Error::io(path, e))?;
    if reader.bytes != meta.len() {
        return Err(Error::BadRpm(format!(
            "file changed while it was read ({} bytes at open, {} read)",
            meta.len(),
            reader.bytes
        )));
    }
    let facts = FileFacts {
        pkgid: reader.hasher.finish_hex(),
        checksum_type: checksum.name().to_owned(),
        size: meta.len(),
        mtime,
        location_href: source.location_href.to_owned(),
        location_base: source.location_base.map(str::to_owned),
    };
    PackageRecord::from_headers(&headers, facts, changelog_limit)
}
