//! Block-compressed metadata files: a gzip or zstd file assembled from independently compressed
//! blocks of consecutive packages.
//!
//! A gzip file is one member whose deflate stream is the concatenation of raw deflate blocks,
//! each ended with a sync flush (byte-aligned, no back-references across blocks), the last one
//! final; a zstd file is a sequence of frames. Both are standard streams that zlib, libsolv,
//! librepo and createrepo_c read. Blocks can be compressed in parallel and reused from the
//! package cache when their packages did not change, which is what makes `--update` cost only
//! what changed. Must not: decide block boundaries (the caller does, from package identities).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::checksum::{ChecksumType, Hasher};
use crate::compress::{Compression, FileStats};
use crate::error::{Error, Result};

/// Codecs whose files can be assembled from blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCodec {
    /// gzip, deflate level 6 like createrepo_c.
    Gzip,
    /// zstd, level 10 like createrepo_c.
    Zstd,
}

impl BlockCodec {
    /// The block codec for `compression`, if it has one.
    pub fn for_compression(compression: Compression) -> Option<BlockCodec> {
        match compression {
            Compression::Gz => Some(BlockCodec::Gzip),
            Compression::Zstd => Some(BlockCodec::Zstd),
            _ => None,
        }
    }

    /// Name used in cache keys.
    pub fn name(self) -> &'static str {
        match self {
            BlockCodec::Gzip => "gz6",
            BlockCodec::Zstd => "zstd10",
        }
    }
}

/// Compresses one block. `last` ends the gzip deflate stream (only the document footer is last).
pub fn compress_block(codec: BlockCodec, text: &[u8], last: bool) -> Result<Vec<u8>> {
    let io = |e| Error::io("<metadata block>", e);
    match codec {
        BlockCodec::Gzip => {
            let mut compress = flate2::Compress::new(flate2::Compression::new(6), false);
            let mut out = Vec::with_capacity(text.len() / 3 + 64);
            let flush = if last {
                flate2::FlushCompress::Finish
            } else {
                flate2::FlushCompress::Sync
            };
            loop {
                let consumed = compress.total_in() as usize;
                if out.capacity() - out.len() < 1024 {
                    out.reserve(out.capacity().max(4096));
                }
                let status = compress
                    .compress_vec(&text[consumed..], &mut out, flush)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                let done_input = compress.total_in() as usize == text.len();
                let has_room = out.capacity() > out.len();
                match status {
                    flate2::Status::StreamEnd => break,
                    _ if done_input && has_room && !last => break,
                    _ => {}
                }
            }
            Ok(out)
        }
        BlockCodec::Zstd => zstd::bulk::compress(text, 10).map_err(io),
    }
}

const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// A metadata file being assembled from blocks.
pub struct BlockFile {
    path: PathBuf,
    codec: BlockCodec,
    out: BufWriter<File>,
    hasher: Hasher,
    size: u64,
    open_hasher: Hasher,
    open_size: u64,
    crc: crc32fast::Hasher,
}

/// A compressed block with the CRC-32 and length of its text, so a file can be assembled
/// from it without hashing the text for the gzip trailer again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedBlock {
    /// Compressed bytes.
    pub data: Vec<u8>,
    /// CRC-32 of the text.
    pub crc: u32,
    /// Length of the text.
    pub len: u64,
}

impl CompressedBlock {
    /// Compresses `text` (see [`compress_block`]).
    pub fn new(codec: BlockCodec, text: &[u8], last: bool) -> Result<CompressedBlock> {
        let mut crc = crc32fast::Hasher::new();
        crc.update(text);
        Ok(CompressedBlock {
            data: compress_block(codec, text, last)?,
            crc: crc.finalize(),
            len: text.len() as u64,
        })
    }
}

impl BlockFile {
    /// Creates `path` (which must not exist).
    pub fn create(path: &Path, codec: BlockCodec, checksum: ChecksumType) -> Result<BlockFile> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut block_file = BlockFile {
            path: path.to_owned(),
            codec,
            out: BufWriter::with_capacity(256 * 1024, file),
            hasher: checksum.hasher(),
            size: 0,
            open_hasher: checksum.hasher(),
            open_size: 0,
            crc: crc32fast::Hasher::new(),
        };
        if codec == BlockCodec::Gzip {
            block_file.write_raw(&GZIP_HEADER)?;
        }
        Ok(block_file)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Appends a block: `block` must be [`CompressedBlock::new`] of `text`.
    pub fn append(&mut self, text: &[u8], block: &CompressedBlock) -> Result<()> {
        debug_assert_eq!(text.len() as u64, block.len);
        self.open_hasher.update(text);
        self.open_size += text.len() as u64;
        self.crc.combine(&crc32fast::Hasher::new_with_initial_len(
            block.crc, block.len,
        ));
        self.write_raw(&block.data)
    }

    /// Appends a reused block whose text is `parts` concatenated (hashed part by part, never
    /// copied together).
    pub fn append_parts<'a>(
        &mut self,
        parts: impl IntoIterator<Item = &'a [u8]>,
        block: &CompressedBlock,
    ) -> Result<()> {
        let mut len = 0u64;
        for part in parts {
            self.open_hasher.update(part);
            len += part.len() as u64;
        }
        if len != block.len {
            return Err(Error::BadOption(format!(
                "{}: a cached block does not match its text ({len} bytes, expected {})",
                self.path.display(),
                block.len
            )));
        }
        self.open_size += len;
        self.crc.combine(&crc32fast::Hasher::new_with_initial_len(
            block.crc, block.len,
        ));
        self.write_raw(&block.data)
    }

    /// Writes the trailer, syncs and returns the statistics repomd.xml needs. The last block
    /// appended must have been compressed with `last = true`.
    pub fn finish(mut self) -> Result<FileStats> {
        if self.codec == BlockCodec::Gzip {
            let mut trailer = [0u8; 8];
            trailer[..4].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
            trailer[4..].copy_from_slice(&(self.open_size as u32).to_le_bytes());
            self.write_raw(&trailer)?;
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(FileStats {
            checksum: self.hasher.finish_hex(),
            size: self.size,
            open_checksum: Some(self.open_hasher.finish_hex()),
            open_size: Some(self.open_size),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn assemble(codec: BlockCodec, blocks: &[&str]) -> (Vec<u8>, FileStats) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut file = BlockFile::create(&path, codec, ChecksumType::Sha256).unwrap();
        for (i, text) in blocks.iter().enumerate() {
            let last = i + 1 == blocks.len();
            let block = CompressedBlock::new(codec, text.as_bytes(), last).unwrap();
            file.append(text.as_bytes(), &block).unwrap();
        }
        let stats = file.finish().unwrap();
        (std::fs::read(&path).unwrap(), stats)
    }

    #[test]
    fn gzip_blocks_form_one_standard_member() {
        let blocks = ["<a>", &"<package>x</package>\n".repeat(5000), "", "</a>"];
        let (bytes, stats) = assemble(BlockCodec::Gzip, &blocks);
        let mut decoded = String::new();
        // A single-member decoder must read everything: no concatenated members.
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, blocks.concat());
        assert_eq!(stats.open_size, Some(decoded.len() as u64));
        assert_eq!(stats.size, bytes.len() as u64);
        // And the system's gzip agrees, trailer CRC and length included.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(status) = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .status()
        {
            assert!(status.success(), "gzip -t rejects the file");
        }
    }

    #[test]
    fn zstd_blocks_form_a_standard_stream() {
        let blocks = ["<a>", &"<package>y</package>\n".repeat(3000), "</a>"];
        let (bytes, _) = assemble(BlockCodec::Zstd, &blocks);
        let decoded = zstd::decode_all(&bytes[..]).unwrap();
        assert_eq!(decoded, blocks.concat().into_bytes());
    }
}
