//! primary.xml, filelists.xml, filelists-ext.xml and other.xml, byte for byte as createrepo_c
//! writes them (per-package chunks serialised like libxml2's `xmlNodeDump`, pretty-printed).
//!
//! Owns: element order, attribute order, indentation, document headers and footers.
//! Must not: decide what a record contains (that is [`crate::record`]) or compress.

use std::fmt::Write;

use crate::record::{Dependency, FileKind, PackageRecord};
use crate::text::{escape_attr, escape_text};

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The metadata documents rpmdepot writes per package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetadataKind {
    /// primary.xml
    Primary,
    /// filelists.xml
    Filelists,
    /// other.xml
    Other,
    /// filelists-ext.xml
    FilelistsExt,
}

impl MetadataKind {
    /// The record type in repomd.xml and the base of the file name.
    pub fn name(self) -> &'static str {
        match self {
            MetadataKind::Primary => "primary",
            MetadataKind::Filelists => "filelists",
            MetadataKind::Other => "other",
            MetadataKind::FilelistsExt => "filelists-ext",
        }
    }

    /// Document header, including the package count.
    pub fn header(self, packages: usize) -> String {
        let root = match self {
            MetadataKind::Primary => format!(
                "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
                 xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{packages}\">"
            ),
            MetadataKind::Filelists => format!(
                "<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" \
                 packages=\"{packages}\">"
            ),
            MetadataKind::FilelistsExt => format!(
                "<filelists-ext xmlns=\"http://linux.duke.edu/metadata/filelists-ext\" \
                 packages=\"{packages}\">"
            ),
            MetadataKind::Other => format!(
                "<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" \
                 packages=\"{packages}\">"
            ),
        };
        format!("{XML_DECL}{root}\n")
    }

    /// Document footer (createrepo_c writes no newline after it).
    pub fn footer(self) -> &'static str {
        match self {
            MetadataKind::Primary => "</metadata>",
            MetadataKind::Filelists => "</filelists>",
            MetadataKind::FilelistsExt => "</filelists-ext>",
            MetadataKind::Other => "</otherdata>",
        }
    }

    /// Appends this document's chunk for one package.
    pub fn render(self, record: &PackageRecord, out: &mut String) {
        match self {
            MetadataKind::Primary => render_primary(record, out),
            MetadataKind::Filelists => render_filelists(record, false, out),
            MetadataKind::FilelistsExt => render_filelists(record, true, out),
            MetadataKind::Other => render_other(record, out),
        }
    }

    /// The whole uncompressed document for `records`, in the order given, in memory (for
    /// small repositories and for comparing with what a run wrote).
    pub fn render_document(self, records: &[PackageRecord]) -> String {
        let mut out = self.header(records.len());
        for record in records {
            self.render(record, &mut out);
        }
        out.push_str(self.footer());
        out
    }
}

/// Writes `<name attr="v"…>`-style start tags; `close` chooses `/>` for empty elements.
struct Tag<'a> {
    out: &'a mut String,
}

impl<'a> Tag<'a> {
    fn open(out: &'a mut String, indent: usize, name: &str) -> Self {
        for _ in 0..indent {
            out.push_str("  ");
        }
        out.push('<');
        out.push_str(name);
        Tag { out }
    }

    fn attr(self, name: &str, value: &str) -> Self {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_attr(self.out, value);
        self.out.push('"');
        self
    }

    /// Attribute whose value is known to need no escaping (numbers).
    fn attr_num(self, name: &str, value: impl std::fmt::Display) -> Self {
        write!(self.out, " {name}=\"{value}\"").expect("writing to a String cannot fail");
        self
    }

    fn empty(self) {
        self.out.push_str("/>\n");
    }

    fn text(self, name: &str, text: &str) {
        self.out.push('>');
        escape_text(self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn children(self) {
        self.out.push_str(">\n");
    }
}

fn text_element(out: &mut String, indent: usize, name: &str, text: &str) {
    Tag::open(out, indent, name).text(name, text);
}

fn close(out: &mut String, indent: usize, name: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn render_deps(out: &mut String, element: &str, deps: &[Dependency], requires: bool) {
    if deps.is_empty() {
        return;
    }
    let entries: Vec<&Dependency> = deps.iter().filter(|d| !d.name.is_empty()).collect();
    if entries.is_empty() {
        Tag::open(out, 2, element).empty();
        return;
    }
    Tag::open(out, 2, element).children();
    for dep in entries {
        let mut tag = Tag::open(out, 3, "rpm:entry").attr("name", &dep.name);
        if let Some(flags) = dep.flags.as_deref().filter(|f| !f.is_empty()) {
            tag = tag.attr("flags", flags);
            for (name, value) in [
                ("epoch", &dep.epoch),
                ("ver", &dep.version),
                ("rel", &dep.release),
            ] {
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    tag = tag.attr(name, value);
                }
            }
        }
        if requires && dep.pre {
            tag = tag.attr_num("pre", 1);
        }
        tag.empty();
    }
    close(out, 2, element);
}

fn render_file(out: &mut String, indent: usize, path: &str, kind: FileKind, hash: Option<&str>) {
    let mut tag = Tag::open(out, indent, "file");
    match kind {
        FileKind::File => {}
        FileKind::Dir => tag = tag.attr("type", "dir"),
        FileKind::Ghost => tag = tag.attr("type", "ghost"),
    }
    if let Some(hash) = hash.filter(|h| !h.is_empty()) {
        tag = tag.attr("hash", hash);
    }
    tag.text("file", path);
}

/// Appends the primary.xml chunk of one package (ending with a newline).
pub fn render_primary(r: &PackageRecord, out: &mut String) {
    Tag::open(out, 0, "package").attr("type", "rpm").children();
    text_element(out, 1, "name", &r.name);
    text_element(out, 1, "arch", &r.arch);
    Tag::open(out, 1, "version")
        .attr("epoch", &r.epoch)
        .attr("ver", &r.version)
        .attr("rel", &r.release)
        .empty();
    Tag::open(out, 1, "checksum")
        .attr("type", &r.checksum_type)
        .attr("pkgid", "YES")
        .text("checksum", &r.pkgid);
    text_element(out, 1, "summary", &r.summary);
    text_element(out, 1, "description", &r.description);
    text_element(out, 1, "packager", &r.packager);
    text_element(out, 1, "url", &r.url);
    Tag::open(out, 1, "time")
        .attr_num("file", r.time_file)
        .attr_num("build", r.time_build)
        .empty();
    Tag::open(out, 1, "size")
        .attr_num("package", r.size_package)
        .attr_num("installed", r.size_installed)
        .attr_num("archive", r.size_archive)
        .empty();
    let mut location = Tag::open(out, 1, "location");
    if let Some(base) = r.location_base.as_deref().filter(|b| !b.is_empty()) {
        location = if base.starts_with('/') {
            location.attr("xml:base", &format!("file://{base}"))
        } else {
            location.attr("xml:base", base)
        };
    }
    location.attr("href", &r.location_href).empty();
    Tag::open(out, 1, "format").children();
    text_element(out, 2, "rpm:license", &r.license);
    text_element(out, 2, "rpm:vendor", &r.vendor);
    text_element(out, 2, "rpm:group", &r.group);
    text_element(out, 2, "rpm:buildhost", &r.buildhost);
    text_element(out, 2, "rpm:sourcerpm", &r.sourcerpm);
    Tag::open(out, 2, "rpm:header-range")
        .attr_num("start", r.header_start)
        .attr_num("end", r.header_end)
        .empty();
    render_deps(out, "rpm:provides", &r.provides, false);
    render_deps(out, "rpm:requires", &r.requires, true);
    render_deps(out, "rpm:conflicts", &r.conflicts, false);
    render_deps(out, "rpm:obsoletes", &r.obsoletes, false);
    render_deps(out, "rpm:suggests", &r.suggests, false);
    render_deps(out, "rpm:enhances", &r.enhances, false);
    render_deps(out, "rpm:recommends", &r.recommends, false);
    render_deps(out, "rpm:supplements", &r.supplements, false);
    for file in r.files.iter().filter(|f| f.is_primary()) {
        render_file(out, 2, &file.path(), file.kind, None);
    }
    close(out, 1, "format");
    close(out, 0, "package");
}

fn render_package_start(r: &PackageRecord, out: &mut String) {
    Tag::open(out, 0, "package")
        .attr("pkgid", &r.pkgid)
        .attr("name", &r.name)
        .attr("arch", &r.arch)
        .children();
    Tag::open(out, 1, "version")
        .attr("epoch", &r.epoch)
        .attr("ver", &r.version)
        .attr("rel", &r.release)
        .empty();
}

/// Appends the filelists.xml (or, with `ext`, filelists-ext.xml) chunk of one package.
pub fn render_filelists(r: &PackageRecord, ext: bool, out: &mut String) {
    render_package_start(r, out);
    if ext {
        Tag::open(out, 1, "checksum")
            .attr("type", &r.files_checksum_type)
            .empty();
    }
    for file in &r.files {
        let hash = ext.then_some(file.digest.as_str());
        render_file(out, 1, &file.path(), file.kind, hash);
    }
    close(out, 0, "package");
}

/// Appends the other.xml chunk of one package.
pub fn render_other(r: &PackageRecord, out: &mut String) {
    render_package_start(r, out);
    for entry in &r.changelogs {
        Tag::open(out, 1, "changelog")
            .attr("author", &entry.author)
            .attr_num("date", entry.date)
            .text("changelog", &entry.text);
    }
    close(out, 0, "package");
}
