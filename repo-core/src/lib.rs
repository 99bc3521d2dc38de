//! repo-core: reads RPM packages and writes yum/dnf repodata exactly as createrepo_c does.
//!
//! It owns the RPM header reader, the package record with createrepo_c's rules, the XML,
//! sqlite and repomd.xml writers, compression (including block-assembled gzip/zstd files),
//! duplicate-NEVRA resolution, the package cache behind `--update`, the `createrepo` run
//! itself, and reading existing repodata back into records. It must not print, parse
//! command lines or know about storage backends, signing or publishing: those live in the
//! CLI, `signer` and `publisher`.

pub mod blocks;
pub mod cache;
pub mod checksum;
pub mod compress;
pub mod createrepo;
pub mod duplicates;
pub mod error;
pub mod evr;
pub mod existing;
pub mod fragments;
pub mod header;
pub mod memory;
pub mod package;
pub mod record;
pub mod repomd;
pub mod scan;
pub mod sqlite;
pub mod text;
pub mod xml;
mod xml_reader;

pub use checksum::ChecksumType;
pub use compress::Compression;
pub use createrepo::{
    CreaterepoOptions, CreaterepoSummary, RenderedPackage, RepodataOptions, Retention,
    write_repodata,
};
pub use duplicates::DuplicatePolicy;
pub use error::{Error, Result};
pub use record::{ChangelogLimit, PackageRecord};
