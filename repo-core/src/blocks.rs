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
    compress_parts(codec, &[text], last)
}

/// Compresses the concatenation of `parts` as one block without copying them together for
/// gzip (a writer's blocks are made of many packages' fragments).
pub fn compress_parts(codec: BlockCodec, parts: &[&[u8]], last: bool) -> Result<Vec<u8>> {
    let io = |e| Error::io("<metadata block>", e);
    match codec {
        BlockCodec::Gzip => DEFLATE.with_borrow_mut(|compress| {
            // One deflate state per thread, reset per block: a fresh state per block is 300 KB
            // allocated, zeroed and freed a thousand times per document.
            let compress = compress
                .get_or_insert_with(|| flate2::Compress::new(flate2::Compression::new(6), false));
            compress.reset();
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let mut out = Vec::with_capacity(total / 3 + 64);
            for part in parts {
                deflate_into(compress, part, &mut out, flate2::FlushCompress::None).map_err(io)?;
            }
            let flush = if last {
                flate2::FlushCompress::Finish
            } else {
                flate2::FlushCompress::Sync
            };
            deflate_into(compress, &[], &mut out, flush).map_err(io)?;
            Ok(out)
        }),
        BlockCodec::Zstd => {
            let text: Vec<u8>;
            let whole = match parts {
                [one] => *one,
                _ => {
                    text = parts.concat();
                    &text
                }
            };
            zstd::bulk::compress(whole, 10).map_err(io)
        }
    }
}

thread_local! {
    static DEFLATE: std::cell::RefCell<Option<flate2::Compress>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs deflate over `input` with `flush`, growing `out` as needed, until the input is consumed
/// and the flush is complete (room left in `out`) or the stream has ended.
fn deflate_into(
    compress: &mut flate2::Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: flate2::FlushCompress,
) -> std::io::Result<()> {
    let finishing = matches!(flush, flate2::FlushCompress::Finish);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let before = compress.total_in();
        let status = compress
            .compress_vec(input, out, flush)
            .map_err(std::io::Error::other)?;
        input = &input[(compress.total_in() - before) as usize..];
        match status {
            flate2::Status::StreamEnd => return Ok(()),
            _ if input.is_empty() && out.capacity() > out.len() && !finishing => return Ok(()),
            _ => {}
        }
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
        CompressedBlock::from_parts(codec, &[text], last)
    }

    /// Compresses the concatenation of `parts` (see [`compress_parts`]).
    pub fn from_parts(codec: BlockCodec, parts: &[&[u8]], last: bool) -> Result<CompressedBlock> {
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0u64;
        for part in parts {
            crc.update(part);
            len += part.len() as u64;
        }
        Ok(CompressedBlock {
            data: compress_parts(codec, parts, last)?,
            crc: crc.finalize(),
            len,
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
    fn blocks_from_parts_hold_their_text_and_do_not_depend_on_earlier_blocks() {
        let text = "<package>z</package>\n".repeat(4000);
        let parts: Vec<&[u8]> = text.as_bytes().chunks(777).collect();
        let other = "<package>other</package>\n".repeat(300);
        for codec in [BlockCodec::Gzip, BlockCodec::Zstd] {
            let first = CompressedBlock::from_parts(codec, &parts, false).unwrap();
            assert_eq!(first.len, text.len() as u64);
            // The per-thread deflate state is reset between blocks: the same parts give the
            // same bytes whatever was compressed before (--update relies on it).
            CompressedBlock::new(codec, other.as_bytes(), true).unwrap();
            let again = CompressedBlock::from_parts(codec, &parts, false).unwrap();
            assert_eq!(first, again, "{codec:?}");
            let (bytes, _) = assemble_blocks(codec, &[(&parts, false), (&[b"</a>"], true)]);
            let decoded = match codec {
                BlockCodec::Gzip => {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&bytes[..])
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                BlockCodec::Zstd => zstd::decode_all(&bytes[..]).unwrap(),
            };
            assert_eq!(decoded, format!("{text}</a>").into_bytes(), "{codec:?}");
        }
    }

    fn assemble_blocks(codec: BlockCodec, blocks: &[(&[&[u8]], bool)]) -> (Vec<u8>, FileStats) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut file = BlockFile::create(&path, codec, ChecksumType::Sha256).unwrap();
        for (parts, last) in blocks {
            let block = CompressedBlock::from_parts(codec, parts, *last).unwrap();
            file.append_parts(parts.iter().copied(), &block).unwrap();
        }
        let stats = file.finish().unwrap();
        (std::fs::read(&path).unwrap(), stats)
    }

    #[test]
    fn zstd_blocks_form_a_standard_stream() {
        let blocks = ["<a>", &"<package>y</package>\n".repeat(3000), "</a>"];
        let (bytes, _) = assemble(BlockCodec::Zstd, &blocks);
        let decoded = zstd::decode_all(&bytes[..]).unwrap();
        assert_eq!(decoded, blocks.concat().into_bytes());
    }
}
