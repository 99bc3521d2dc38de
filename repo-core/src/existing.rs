//! Reading a repository's existing repodata (ours or createrepo_c's) back into package
//! records: repomd.xml gives the locations and checksums of primary, filelists and other (and
//! filelists-ext when listed); those are checked against repomd.xml, decompressed by their
//! magic bytes and streamed in lockstep, so memory stays at one package whatever the size of
//! the repository.
//!
//! Owns: the checks on the records repomd.xml lists ([`crate::repomd`] reads them), on
//! metadata locations and checksums, compression detection and the readers of primary,
//! filelists and other (on [`crate::xml_reader`]). Must not: read packages
//! or decide whether a record may be trusted for a package file (the caller compares its
//! pkgid with the file), and never follows a location out of the repository.

use std::fmt::Display;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::checksum::ChecksumType;
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::record::{ChangelogEntry, Dependency, FileKind, PackageFile, PackageRecord};
use crate::repomd::read_repomd;
use crate::xml_reader::{Document, StartTag};

/// One metadata file listed in repomd.xml, after its location was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Record type (`primary`, …).
    pub kind: String,
    /// `<location href>` relative to the repository root.
    pub location_href: String,
    /// The file on disk.
    pub path: PathBuf,
    /// Algorithm of `checksum`.
    pub checksum_type: ChecksumType,
    /// Checksum of the file as stored.
    pub checksum: String,
    /// Size of the file as stored, when repomd.xml gives it.
    pub size: Option<u64>,
}

/// The metadata files of an existing repository, checked against repomd.xml.
#[derive(Debug, Clone)]
pub struct ExistingRepodata {
    /// `repodata/repomd.xml`.
    pub repomd: PathBuf,
    pub primary: ListedFile,
    pub filelists: ListedFile,
    pub other: ListedFile,
    /// filelists-ext (file digests), when the repository has it.
    pub filelists_ext: Option<ListedFile>,
}

fn repodata_error(path: &Path, reason: impl Display) -> Error {
    Error::Repodata {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Whether a location stays inside the repository: relative, no empty, `.` or `..` segment,
/// no backslash or control character.
pub fn is_safe_location(href: &str) -> bool {
    !href.is_empty()
        && !href.starts_with('/')
        && !href.chars().any(|c| c.is_control() || c == '\\')
        && href
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The compression of a metadata file, from its first bytes.
pub fn detect_compression(start: &[u8]) -> Compression {
    if start.starts_with(&[0x1f, 0x8b]) {
        Compression::Gz
    } else if start.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if start.starts_with(b"BZh") {
        Compression::Bz2
    } else if start.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Opens a metadata file and returns its decompressed content.
pub fn open_decompressed(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let start = input.fill_buf().map_err(|e| Error::io(path, e))?;
    let buffered = |reader: Box<dyn Read + Send>| -> Box<dyn BufRead + Send> {
        Box::new(BufReader::with_capacity(256 * 1024, reader))
    };
    Ok(match detect_compression(start) {
        Compression::None => Box::new(input),
        Compression::Gz => buffered(Box::new(flate2::bufread::MultiGzDecoder::new(input))),
        Compression::Xz => buffered(Box::new(xz2::bufread::XzDecoder::new_multi_decoder(input))),
        Compression::Bz2 => buffered(Box::new(bzip2::bufread::MultiBzDecoder::new(input))),
        Compression::Zstd => buffered(Box::new(
            zstd::stream::read::Decoder::with_buffer(input).map_err(|e| Error::io(path, e))?,
        )),
    })
}

/// Reads the `<package>` records of primary.xml.
pub struct PrimaryReader {
    document: Document,
}

fn dependency(tag: &StartTag) -> Dependency {
    let get = |name: &str| tag.attribute(name).map(str::to_owned);
    Dependency {
        name: get("name").unwrap_or_default(),
        flags: get("flags"),
        epoch: get("epoch"),
        version: get("ver"),
        release: get("rel"),
        pre: tag
            .attribute("pre")
            .is_some_and(|p| p == "1" || p == "true"),
    }
}

fn split_path(path: String, kind: FileKind, digest: String) -> PackageFile {
    match path.rfind('/') {
        Some(slash) => PackageFile {
            basename: path[slash + 1..].to_owned(),
            dirname: {
                let mut dir = path;
                dir.truncate(slash + 1);
                dir
            },
            kind,
            digest,
        },
        None => PackageFile {
            dirname: String::new(),
            basename: path,
            kind,
            digest,
        },
    }
}

fn file_kind(tag: &StartTag) -> FileKind {
    match tag.attribute("type") {
        Some("dir") => FileKind::Dir,
        Some("ghost") => FileKind::Ghost,
        _ => FileKind::File,
    }
}

impl PrimaryReader {
    /// Reads primary.xml from `input`; `path` names it in errors.
    pub fn new(input: Box<dyn BufRead + Send>, path: impl Into<PathBuf>) -> PrimaryReader {
        PrimaryReader {
            document: Document::new(input, path.into(), "metadata"),
        }
    }

    /// The next package; `None` after the last. Files hold only what primary.xml lists (the
    /// primary files); [`RecordStream`] takes the full list from filelists.xml.
    pub fn next_record(&mut self) -> Result<Option<PackageRecord>> {
        let Some(_) = self.document.next_package()? else {
            return Ok(None);
        };
        let doc = &mut self.document;
        let mut record = PackageRecord {
            epoch: "0".into(),
            ..PackageRecord::default()
        };
        let (mut has_name, mut has_version, mut has_checksum, mut has_location, mut has_size) =
            (false, false, false, false, false);
        while let Some(tag) = doc.child("package")? {
            match tag.name.as_slice() {
                b"name" => {
                    record.name = doc.text(&tag)?;
                    has_name = true;
                }
                b"arch" => record.arch = doc.text(&tag)?,
                b"version" => {
                    record.epoch = tag.attribute("epoch").unwrap_or("0").to_owned();
                    record.version = doc.required(&tag, "ver")?.to_owned();
                    record.release = doc.required(&tag, "rel")?.to_owned();
                    has_version = true;
                    doc.skip(&tag)?;
                }
                b"checksum" => {
                    record.checksum_type = doc.required(&tag, "type")?.to_owned();
                    record.pkgid = doc.text(&tag)?.trim().to_owned();
                    has_checksum = true;
                }
                b"summary" => record.summary = doc.text(&tag)?,
                b"description" => record.description = doc.text(&tag)?,
                b"packager" => record.packager = doc.text(&tag)?,
                b"url" => record.url = doc.text(&tag)?,
                b"time" => {
                    record.time_file = doc.number(&tag, "file")?;
                    record.time_build = doc.number(&tag, "build")?;
                    doc.skip(&tag)?;
                }
                b"size" => {
                    record.size_package = doc.number(&tag, "package")?;
                    record.size_installed = doc.number(&tag, "installed")?;
                    record.size_archive = doc.number(&tag, "archive")?;
                    has_size = tag.attribute("package").is_some();
                    doc.skip(&tag)?;
                }
                b"location" => {
                    let href = doc.required(&tag, "href")?;
                    if !is_safe_location(href) {
                        return Err(doc.error(format!(
                            "package location {href:?} is not a path inside the repository"
                        )));
                    }
                    record.location_href = href.to_owned();
                    record.location_base = tag.attribute("xml:base").map(|base| {
                        base.strip_prefix("file://")
                            .filter(|path| path.starts_with('/'))
                            .unwrap_or(base)
                            .to_owned()
                    });
                    has_location = true;
                    doc.skip(&tag)?;
                }
                b"format" => Self::read_format(doc, &mut record)?,
                _ => doc.skip(&tag)?,
            }
        }
        for (present, what) in [
            (has_name, "<name>"),
            (has_version, "<version>"),
            (has_checksum, "<checksum>"),
            (has_location, "<location>"),
            (has_size, "<size package=…>"),
        ] {
            if !present {
                return Err(doc.error(format!(
                    "package {} has no {what}",
                    if record.name.is_empty() {
                        "#".to_owned() + &doc.packages.to_string()
                    } else {
                        record.name.clone()
                    }
                )));
            }
        }
        Ok(Some(record))
    }

    fn read_format(doc: &mut Document, record: &mut PackageRecord) -> Result<()> {
        while let Some(tag) = doc.child("format")? {
            let list = match tag.name.as_slice() {
                b"rpm:license" => {
                    record.license = doc.text(&tag)?;
                    continue;
                }
                b"rpm:vendor" => {
                    record.vendor = doc.text(&tag)?;
                    continue;
                }
                b"rpm:group" => {
                    record.group = doc.text(&tag)?;
                    continue;
                }
                b"rpm:buildhost" => {
                    record.buildhost = doc.text(&tag)?;
                    continue;
                }
                b"rpm:sourcerpm" => {
                    record.sourcerpm = doc.text(&tag)?;
                    continue;
                }
                b"rpm:header-range" => {
                    record.header_start = doc.number(&tag, "start")?;
                    record.header_end = doc.number(&tag, "end")?;
                    doc.skip(&tag)?;
                    continue;
                }
                b"file" => {
                    let kind = file_kind(&tag);
                    let path = doc.text(&tag)?;
                    record.files.push(split_path(path, kind, String::new()));
                    continue;
                }
                b"rpm:provides" => &mut record.provides,
                b"rpm:requires" => &mut record.requires,
                b"rpm:conflicts" => &mut record.conflicts,
                b"rpm:obsoletes" => &mut record.obsoletes,
                b"rpm:suggests" => &mut record.suggests,
                b"rpm:enhances" => &mut record.enhances,
                b"rpm:recommends" => &mut record.recommends,
                b"rpm:supplements" => &mut record.supplements,
                _ => {
                    doc.skip(&tag)?;
                    continue;
                }
            };
            let element = tag.display_name().into_owned();
            while let Some(entry) = doc.child(&element)? {
                if entry.name == b"rpm:entry" {
                    list.push(dependency(&entry));
                }
                doc.skip(&entry)?;
            }
            if list.is_empty() {
                // An empty list element stands for entries that all had empty names.
                list.push(Dependency {
                    name: String::new(),
                    flags: None,
                    epoch: None,
                    version: None,
                    release: None,
                    pre: false,
                });
            }
        }
        Ok(())
    }
}

/// A package of filelists.xml or filelists-ext.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilelistsEntry {
    pub pkgid: String,
    /// Every file; digests only from filelists-ext.xml.
    pub files: Vec<PackageFile>,
    /// `<checksum type>` of filelists-ext.xml: the algorithm of the digests.
    pub files_checksum_type: Option<String>,
}

/// Reads the `<package>` records of filelists.xml or filelists-ext.xml.
pub struct FilelistsReader {
    document: Document,
}

impl FilelistsReader {
    /// Reads filelists.xml (or, with `ext`, filelists-ext.xml) from `input`.
    pub fn new(
        input: Box<dyn BufRead + Send>,
        path: impl Into<PathBuf>,
        ext: bool,
    ) -> FilelistsReader {
        let root = if ext { "filelists-ext" } else { "filelists" };
        FilelistsReader {
            document: Document::new(input, path.into(), root),
        }
    }

    /// The next package; `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<FilelistsEntry>> {
        let doc = &mut self.document;
        let Some(package) = doc.next_package()? else {
            return Ok(None);
        };
        let mut entry = FilelistsEntry {
            pkgid: doc.required(&package, "pkgid")?.to_owned(),
            files: Vec::new(),
            files_checksum_type: None,
        };
        while let Some(tag) = doc.child("package")? {
            match tag.name.as_slice() {
                b"file" => {
                    let kind = file_kind(&tag);
                    let digest = tag.attribute("hash").unwrap_or_default().to_owned();
                    let path = doc.text(&tag)?;
                    entry.files.push(split_path(path, kind, digest));
                }
                b"checksum" => {
                    entry.files_checksum_type = tag.attribute("type").map(str::to_owned);
                    doc.skip(&tag)?;
                }
                _ => doc.skip(&tag)?,
            }
        }
        Ok(Some(entry))
    }
}

/// A package of other.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherEntry {
    pub pkgid: String,
    /// Changelog entries, in document order (oldest first).
    pub changelogs: Vec<ChangelogEntry>,
}

/// Reads the `<package>` records of other.xml.
pub struct OtherReader {
    document: Document,
}

impl OtherReader {
    /// Reads other.xml from `input`.
    pub fn new(input: Box<dyn BufRead + Send>, path: impl Into<PathBuf>) -> OtherReader {
        OtherReader {
            document: Document::new(input, path.into(), "otherdata"),
        }
    }

    /// The next package; `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<OtherEntry>> {
        let doc = &mut self.document;
        let Some(package) = doc.next_package()? else {
            return Ok(None);
        };
        let mut entry = OtherEntry {
            pkgid: doc.required(&package, "pkgid")?.to_owned(),
            changelogs: Vec::new(),
        };
        while let Some(tag) = doc.child("package")? {
            if tag.name == b"changelog" {
                let author = tag.attribute("author").unwrap_or_default().to_owned();
                let date = doc.number(&tag, "date")?;
                let text = doc.text(&tag)?;
                entry.changelogs.push(ChangelogEntry { author, date, text });
            } else {
                doc.skip(&tag)?;
            }
        }
        Ok(Some(entry))
    }
}

/// Full package records from primary, filelists and other (and filelists-ext), read in
/// lockstep: the documents must list the same packages in the same order, as createrepo_c
/// and rpmdepot write them.
pub struct RecordStream {
    primary: PrimaryReader,
    filelists: FilelistsReader,
    other: OtherReader,
    filelists_ext: Option<FilelistsReader>,
    done: bool,
}

impl RecordStream {
    /// Combines the readers of one repository's documents.
    pub fn new(
        primary: PrimaryReader,
        filelists: FilelistsReader,
        other: OtherReader,
        filelists_ext: Option<FilelistsReader>,
    ) -> RecordStream {
        RecordStream {
            primary,
            filelists,
            other,
            filelists_ext,
            done: false,
        }
    }

    fn mismatch(document: &Document, found: Option<&str>, expected: Option<&str>) -> Error {
        let describe = |pkgid: Option<&str>| match pkgid {
            Some(pkgid) => format!("package {pkgid}"),
            None => "no package".to_owned(),
        };
        document.error(format!(
            "package #{} is {}, but primary.xml has {} there",
            document.packages.max(1),
            describe(found),
            describe(expected)
        ))
    }

    fn next_record(&mut self) -> Result<Option<PackageRecord>> {
        let record = self.primary.next_record()?;
        let expected = record.as_ref().map(|r| r.pkgid.as_str());
        let files = self.filelists.next_entry()?;
        if files.as_ref().map(|f| f.pkgid.as_str()) != expected {
            return Err(Self::mismatch(
                &self.filelists.document,
                files.as_ref().map(|f| f.pkgid.as_str()),
                expected,
            ));
        }
        let other = self.other.next_entry()?;
        if other.as_ref().map(|o| o.pkgid.as_str()) != expected {
            return Err(Self::mismatch(
                &self.other.document,
                other.as_ref().map(|o| o.pkgid.as_str()),
                expected,
            ));
        }
        let ext = match &mut self.filelists_ext {
            Some(reader) => {
                let ext = reader.next_entry()?;
                if ext.as_ref().map(|e| e.pkgid.as_str()) != expected {
                    return Err(Self::mismatch(
                        &reader.document,
                        ext.as_ref().map(|e| e.pkgid.as_str()),
                        expected,
                    ));
                }
                ext
            }
            None => None,
        };
        let (Some(mut record), Some(files), Some(other)) = (record, files, other) else {
            return Ok(None);
        };
        match ext {
            Some(ext) => {
                record.files = ext.files;
                record.files_checksum_type = ext.files_checksum_type.unwrap_or_default();
            }
            None => record.files = files.files,
        }
        record.changelogs = other.changelogs;
        Ok(Some(record))
    }
}

impl Iterator for RecordStream {
    type Item = Result<PackageRecord>;

    /// The next record; after an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

impl ExistingRepodata {
    /// Reads `root/repodata/repomd.xml` and checks the metadata files it lists for primary,
    /// filelists, other and filelists-ext: locations inside `root`, files present, sizes and
    /// checksums as listed. `Ok(None)` when there is no repomd.xml.
    pub fn open(root: &Path) -> Result<Option<ExistingRepodata>> {
        let repomd = root.join("repodata").join("repomd.xml");
        let Some(records) = read_repomd(&repomd)? else {
            return Ok(None);
        };
        let listed = |kind: &str| -> Result<Option<ListedFile>> {
            let mut matching = records.iter().filter(|r| r.kind == kind);
            let Some(record) = matching.next() else {
                return Ok(None);
            };
            if matching.next().is_some() {
                return Err(repodata_error(
                    &repomd,
                    format!("lists {kind} more than once"),
                ));
            }
            let href = record.location_href.as_deref().ok_or_else(|| {
                repodata_error(&repomd, format!("the {kind} record has no location"))
            })?;
            if record.location_base.is_some() {
                return Err(repodata_error(
                    &repomd,
                    format!("the {kind} record points to another server (xml:base)"),
                ));
            }
            if !is_safe_location(href) {
                return Err(repodata_error(
                    &repomd,
                    format!("the {kind} location {href:?} is not a path inside the repository"),
                ));
            }
            let checksum_type: ChecksumType = record.checksum_type.parse().map_err(|e| {
                repodata_error(&repomd, format!("the {kind} record's checksum: {e}"))
            })?;
            let size = match &record.size {
                Some(size) => Some(size.parse::<u64>().map_err(|_| {
                    repodata_error(
                        &repomd,
                        format!("the {kind} record's size {size:?} is not a number"),
                    )
                })?),
                None => None,
            };
            let file = ListedFile {
                kind: kind.to_owned(),
                location_href: href.to_owned(),
                path: root.join(href),
                checksum_type,
                checksum: record.checksum.to_ascii_lowercase(),
                size,
            };
            file.verify()?;
            Ok(Some(file))
        };
        let required = |kind: &str| -> Result<ListedFile> {
            listed(kind)?
                .ok_or_else(|| repodata_error(&repomd, format!("lists no {kind} metadata")))
        };
        Ok(Some(ExistingRepodata {
            primary: required("primary")?,
            filelists: required("filelists")?,
            other: required("other")?,
            filelists_ext: listed("filelists-ext")?,
            repomd,
        }))
    }

    /// The package records, streamed.
    pub fn records(&self) -> Result<RecordStream> {
        let open = |file: &ListedFile| open_decompressed(&file.path);
        let filelists_ext = match &self.filelists_ext {
            Some(file) => Some(FilelistsReader::new(open(file)?, &file.path, true)),
            None => None,
        };
        Ok(RecordStream::new(
            PrimaryReader::new(open(&self.primary)?, &self.primary.path),
            FilelistsReader::new(open(&self.filelists)?, &self.filelists.path, false),
            OtherReader::new(open(&self.other)?, &self.other.path),
            filelists_ext,
        ))
    }
}

impl ListedFile {
    /// Checks that the file exists with the size and checksum repomd.xml gives.
    pub fn verify(&self) -> Result<()> {
        let path = &self.path;
        let mut file = File::open(path).map_err(|e| {
            repodata_error(
                path,
                format!("listed in repomd.xml but cannot be read: {e}"),
            )
        })?;
        let (actual, size) = self
            .checksum_type
            .of_reader(&mut file)
            .map_err(|e| Error::io(path, e))?;
        if let Some(expected) = self.size.filter(|&s| s != size) {
            return Err(repodata_error(
                path,
                format!("{size} bytes, but repomd.xml says {expected}"),
            ));
        }
        if actual != self.checksum {
            return Err(repodata_error(
                path,
                format!(
                    "{} checksum is {actual}, but repomd.xml says {}",
                    self.checksum_type.name(),
                    self.checksum
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{PackageSource, read_package};
    use crate::record::ChangelogLimit;
    use crate::xml::MetadataKind;
    use proptest::prelude::*;

    fn fixture_records() -> Vec<PackageRecord> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms");
        let mut paths = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rpm") {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        assert!(paths.len() >= 5, "fixtures missing");
        paths
            .iter()
            .map(|path| {
                let href = path.strip_prefix(&root).unwrap().to_string_lossy();
                let source = PackageSource {
                    path,
                    location_href: &href,
                    location_base: None,
                };
                read_package(&source, ChecksumType::Sha256, ChangelogLimit::All).unwrap()
            })
            .collect()
    }

    fn input(text: &str) -> Box<dyn BufRead + Send> {
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))
    }

    const KINDS: [MetadataKind; 4] = [
        MetadataKind::Primary,
        MetadataKind::Filelists,
        MetadataKind::Other,
        MetadataKind::FilelistsExt,
    ];

    /// Renders, parses back and renders again; returns both renderings of every document.
    fn round_trip(records: &[PackageRecord], ext: bool) -> (Vec<String>, Vec<String>) {
        let first: Vec<String> = KINDS.iter().map(|&k| k.render_document(records)).collect();
        let stream = RecordStream::new(
            PrimaryReader::new(input(&first[0]), "primary.xml"),
            FilelistsReader::new(input(&first[1]), "filelists.xml", false),
            OtherReader::new(input(&first[2]), "other.xml"),
            ext.then(|| FilelistsReader::new(input(&first[3]), "filelists-ext.xml", true)),
        );
        let parsed: Vec<PackageRecord> = stream.collect::<Result<_>>().unwrap();
        let second: Vec<String> = KINDS.iter().map(|&k| k.render_document(&parsed)).collect();
        (first, second)
    }

    #[test]
    fn fixture_records_render_parse_and_render_to_the_same_bytes() {
        let records = fixture_records();
        let (first, second) = round_trip(&records, true);
        assert_eq!(first, second);
        // Without filelists-ext only the file digests are lost.
        let (first, second) = round_trip(&records, false);
        assert_eq!(first[..3], second[..3]);
    }

    #[test]
    fn fixture_records_parse_back_equal_with_filelists_ext() {
        let records = fixture_records();
        let docs: Vec<String> = KINDS.iter().map(|&k| k.render_document(&records)).collect();
        let parsed: Vec<PackageRecord> = RecordStream::new(
            PrimaryReader::new(input(&docs[0]), "primary.xml"),
            FilelistsReader::new(input(&docs[1]), "filelists.xml", false),
            OtherReader::new(input(&docs[2]), "other.xml"),
            Some(FilelistsReader::new(
                input(&docs[3]),
                "filelists-ext.xml",
                true,
            )),
        )
        .collect::<Result<_>>()
        .unwrap();
        assert_eq!(parsed.len(), records.len());
        for (parsed, original) in parsed.iter().zip(&records) {
            // Dependencies and dirname/basename splits may differ in form, not in rendering.
            assert_eq!(parsed.pkgid, original.pkgid);
            assert_eq!(parsed.nevra(), original.nevra());
            assert_eq!(parsed.description, original.description);
            assert_eq!(parsed.changelogs, original.changelogs);
            assert_eq!(parsed.header_end, original.header_end);
            assert_eq!(parsed.files_checksum_type, original.files_checksum_type);
            let paths = |r: &PackageRecord| -> Vec<(String, FileKind, String)> {
                r.files
                    .iter()
                    .map(|f| (f.path(), f.kind, f.digest.clone()))
                    .collect()
            };
            assert_eq!(paths(parsed), paths(original));
        }
    }

    fn primary_error(text: &str) -> String {
        let mut reader = PrimaryReader::new(input(text), "repodata/primary.xml");
        loop {
            match reader.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error for {text:?}"),
                Err(err) => return err.to_string(),
            }
        }
    }

    #[test]
    fn every_truncation_of_primary_is_an_error_naming_the_file() {
        let records = fixture_records();
        let text = MetadataKind::Primary.render_document(&records);
        // Every cut inside the document (the full text minus the last byte and less).
        let step = (text.len() / 400).max(1);
        for len in (0..text.len())
            .step_by(step)
            .chain(text.len() - 3..text.len())
        {
            let Some(cut) = text.get(..len) else { continue };
            let err = primary_error(cut);
            assert!(
                err.starts_with("repodata/primary.xml: "),
                "cut at {len}: {err}"
            );
        }
    }

    #[test]
    fn hostile_primary_documents_are_refused_with_reasons() {
        let records = fixture_records();
        let good = MetadataKind::Primary.render_document(&records[..1]);
        let href = &records[0].location_href;
        let cases = [
            (
                good.replace(&format!("href=\"{href}\""), "href=\"../../etc/passwd\""),
                "not a path inside the repository",
            ),
            (
                good.replace(&format!("href=\"{href}\""), "href=\"/etc/passwd\""),
                "not a path inside the repository",
            ),
            (
                good.replace("packages=\"1\"", "packages=\"2\""),
                "declares 2 packages but holds 1",
            ),
            (
                good.replace("<metadata ", "<otherdata "),
                "expected <metadata>",
            ),
            (
                good.replace("<size package=", "<size pkg="),
                "has no <size package=…>",
            ),
            (
                good.replace("<time file=\"", "<time file=\"x"),
                "not a number",
            ),
            (
                good.replace("</name>", "&bogus;</name>"),
                "unknown entity &bogus;",
            ),
            (
                good.replace("</summary>", "</summery>"),
                "not well-formed XML",
            ),
            (String::new(), "no <metadata> element"),
        ];
        for (text, reason) in cases {
            let err = primary_error(&text);
            assert!(err.contains(reason), "{reason}: {err}");
            assert!(err.starts_with("repodata/primary.xml: "), "{err}");
        }
    }

    #[test]
    fn documents_out_of_step_are_refused() {
        let records = fixture_records();
        let mut reversed = records.clone();
        reversed.reverse();
        let primary = MetadataKind::Primary.render_document(&records);
        let filelists = MetadataKind::Filelists.render_document(&reversed);
        let other = MetadataKind::Other.render_document(&records);
        let mut stream = RecordStream::new(
            PrimaryReader::new(input(&primary), "primary.xml"),
            FilelistsReader::new(input(&filelists), "filelists.xml", false),
            OtherReader::new(input(&other), "other.xml"),
            None,
        );
        let err = stream.next().unwrap().unwrap_err().to_string();
        assert!(
            err.starts_with("filelists.xml: package #1 is package "),
            "{err}"
        );
        assert!(stream.next().is_none(), "nothing after an error");
        let short = MetadataKind::Other.render_document(&records[1..]);
        let stream = RecordStream::new(
            PrimaryReader::new(input(&primary), "primary.xml"),
            FilelistsReader::new(
                input(&MetadataKind::Filelists.render_document(&records)),
                "f",
                false,
            ),
            OtherReader::new(input(&short), "other.xml"),
            None,
        );
        let err = stream.collect::<Result<Vec<_>>>().unwrap_err().to_string();
        assert!(err.starts_with("other.xml: "), "{err}");
    }

    #[test]
    fn compression_is_detected_by_magic_bytes() {
        assert_eq!(detect_compression(&[0x1f, 0x8b, 8]), Compression::Gz);
        assert_eq!(detect_compression(b"\xfd7zXZ\x00\x00"), Compression::Xz);
        assert_eq!(detect_compression(b"BZh91AY"), Compression::Bz2);
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(detect_compression(b"<?xml"), Compression::None);
        assert_eq!(detect_compression(b""), Compression::None);
    }

    #[test]
    fn locations_must_stay_inside_the_repository() {
        for bad in [
            "", "/x", "../x", "a/../x", "a//x", "./x", "a\\x", "a/\u{1}x", "a/..",
        ] {
            assert!(!is_safe_location(bad), "{bad:?}");
        }
        assert!(is_safe_location("Packages/a/a-1-1.noarch.rpm"));
        assert!(is_safe_location("sub/..x/a.rpm"));
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 <>&\"'\t\n\r/é€.:()=-]{0,10}"
    }

    fn dependency_strategy() -> impl Strategy<Value = Dependency> {
        (
            text(),
            proptest::option::of(proptest::sample::select(vec!["EQ", "LT", "GE", ""])),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            any::<bool>(),
        )
            .prop_map(|(name, flags, epoch, version, release, pre)| Dependency {
                name,
                flags: flags.map(str::to_owned),
                epoch,
                version,
                release,
                pre,
            })
    }

    fn deps() -> impl Strategy<Value = Vec<Dependency>> {
        proptest::collection::vec(dependency_strategy(), 0..3)
    }

    fn record_strategy() -> impl Strategy<Value = PackageRecord> {
        let identity = (
            "[0-9a-f]{8}",
            text(),
            text(),
            text(),
            text(),
            text(),
            "[a-z]{1,4}(/[a-z0-9_-][a-z0-9._-]{0,3}){0,2}",
            proptest::option::of("(/|file:///|http://h/)?[a-z/]{0,6}"),
        );
        let numbers = (
            any::<i64>(),
            any::<i64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        );
        let descriptive = (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
        );
        let lists = (
            (deps(), deps(), deps(), deps()),
            (deps(), deps(), deps(), deps()),
            proptest::collection::vec(
                (
                    "(/[a-z]{0,3}(bin|etc)?/)?",
                    text(),
                    proptest::sample::select(vec![FileKind::File, FileKind::Dir, FileKind::Ghost]),
                    "([0-9a-f]{4})?",
                ),
                0..4,
            ),
            text(),
            proptest::collection::vec((text(), any::<i64>(), text()), 0..3),
        );
        (identity, numbers, descriptive, lists).prop_map(
            |(
                (pkgid, name, arch, version, release, epoch, href, base),
                (time_file, time_build, size_package, installed, archive, start, end),
                (summary, description, packager, url, license, vendor, group, buildhost, sourcerpm),
                (
                    (provides, requires, conflicts, obsoletes),
                    (suggests, enhances, recommends, supplements),
                    files,
                    files_checksum_type,
                    changelogs,
                ),
            )| PackageRecord {
                pkgid,
                checksum_type: "sha256".into(),
                name,
                arch,
                epoch,
                version,
                release,
                summary,
                description,
                packager,
                url,
                time_file,
                time_build,
                size_package,
                size_installed: installed,
                size_archive: archive,
                location_href: href,
                location_base: base,
                license,
                vendor,
                group,
                buildhost,
                sourcerpm,
                header_start: start,
                header_end: end,
                provides,
                requires,
                conflicts,
                obsoletes,
                suggests,
                enhances,
                recommends,
                supplements,
                files: files
                    .into_iter()
                    .map(|(dirname, basename, kind, digest)| PackageFile {
                        dirname,
                        basename,
                        kind,
                        digest,
                    })
                    .collect(),
                files_checksum_type,
                changelogs: changelogs
                    .into_iter()
                    .map(|(author, date, text)| ChangelogEntry { author, date, text })
                    .collect(),
            },
        )
    }

    proptest! {
        /// Whatever a record holds, rendering what was parsed gives the same documents.
        #[test]
        fn rendered_records_parse_back_to_the_same_documents(
            records in proptest::collection::vec(record_strategy(), 0..4)
        ) {
            let (first, second) = round_trip(&records, true);
            prop_assert_eq!(first, second);
        }

        /// Arbitrary bytes never make the primary reader panic.
        #[test]
        fn arbitrary_primary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut reader = PrimaryReader::new(Box::new(std::io::Cursor::new(bytes)), "p.xml");
            for _ in 0..64 {
                match reader.next_record() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
