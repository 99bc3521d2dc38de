//! Reading one package file: headers and whole-file checksum in a single pass.
//!
//! Must not: walk directories or decide locations (the caller passes them in).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::checksum::{ChecksumType, Hasher};
use crate::error::{Error, Result};
use crate::header::read_headers;
use crate::record::{ChangelogLimit, FileFacts, PackageRecord};

/// Bytes read from a package file per system call.
const READ_CHUNK: usize = 256 * 1024;

thread_local! {
    /// Each thread's read buffer, reused for every package it reads: a fresh 256 KiB buffer
    /// per package is an allocation, and page faults, twenty thousand times per repository.
    static READ_BUFFER: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Reads a file through a borrowed buffer and hashes and counts every byte it hands out.
///
/// The header parser reads through [`Read`]; the payload after the headers is hashed where it
/// lies in the buffer ([`HashingReader::hash_rest`]) instead of being copied out first.
struct HashingReader<'b, R> {
    inner: R,
    buffer: &'b mut [u8],
    /// Start of the bytes in `buffer` not handed out yet.
    pos: usize,
    /// End of the bytes read into `buffer`.
    filled: usize,
    hasher: Hasher,
    bytes: u64,
}

impl<'b, R: Read> HashingReader<'b, R> {
    fn new(inner: R, buffer: &'b mut [u8], hasher: Hasher) -> Self {
        HashingReader {
            inner,
            buffer,
            pos: 0,
            filled: 0,
            hasher,
            bytes: 0,
        }
    }

    /// Hashes the rest of the input: what is buffered, then large reads hashed in place.
    fn hash_rest(&mut self) -> io::Result<()> {
        let buffered = &self.buffer[self.pos..self.filled];
        self.hasher.update(buffered);
        self.bytes += buffered.len() as u64;
        self.pos = 0;
        self.filled = 0;
        loop {
            match self.inner.read(self.buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.hasher.update(&self.buffer[..n]);
                    self.bytes += n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled {
            if buf.len() >= self.buffer.len() {
                // A large read (a big header) goes straight to the caller.
                let n = self.inner.read(buf)?;
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                return Ok(n);
            }
            self.filled = self.inner.read(self.buffer)?;
            self.pos = 0;
        }
        let available = &self.buffer[self.pos..self.filled];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.hasher.update(&available[..n]);
        self.bytes += n as u64;
        self.pos += n;
        Ok(n)
    }
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
    let (headers, pkgid, bytes) = READ_BUFFER.with_borrow_mut(|buffer| {
        let mut reader = HashingReader::new(file, buffer, checksum.hasher());
        let headers = read_headers(&mut reader)?;
        reader.hash_rest().map_err(|e| Error::io(path, e))?;
        Ok::<_, Error>((headers, reader.hasher.finish_hex(), reader.bytes))
    })?;
    if bytes != meta.len() {
        return Err(Error::BadRpm(format!(
            "file changed while it was read ({} bytes at open, {bytes} read)",
            meta.len(),
        )));
    }
    let facts = FileFacts {
        pkgid,
        checksum_type: checksum.name().to_owned(),
        size: meta.len(),
        mtime,
        location_href: source.location_href.to_owned(),
        location_base: source.location_base.map(str::to_owned),
    };
    PackageRecord::from_headers(&headers, facts, changelog_limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, like a pipe or a slow disk.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn every_byte_is_hashed_once_whatever_the_reads() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = ChecksumType::Sha256.of_reader(&mut &data[..]).unwrap().0;
        for buffer_len in [1, 7, 64, 4096, 20_000] {
            for step in [1, 13, 1000, 100_000] {
                for head in [0, 1, 95, 96, 5000, 10_000] {
                    let mut buffer = vec![0; buffer_len];
                    let source = Trickle { data: &data, step };
                    let mut reader =
                        HashingReader::new(source, &mut buffer, ChecksumType::Sha256.hasher());
                    let mut first = vec![0; head];
                    reader.read_exact(&mut first).unwrap();
                    assert_eq!(first, data[..head]);
                    reader.hash_rest().unwrap();
                    assert_eq!(reader.bytes, data.len() as u64);
                    assert_eq!(
                        reader.hasher.finish_hex(),
                        whole,
                        "buffer {buffer_len}, step {step}, head {head}"
                    );
                }
            }
        }
    }
}
