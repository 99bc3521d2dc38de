//! repomd.xml: the index of a repository's metadata files, in createrepo_c's record order and
//! layout.
//!
//! Must not: write files (the caller does, atomically, and last).

use crate::checksum::ChecksumType;
use crate::compress::FileStats;
use crate::text::escape_text;

/// One `<data>` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepomdRecord {
    /// Record type (`primary`, `filelists_db`, `group`, …).
    pub kind: String,
    /// Location relative to the repository root (`repodata/…`).
    pub location_href: String,
    /// Algorithm of the checksums.
    pub checksum_type: ChecksumType,
    /// Checksums and sizes.
    pub stats: FileStats,
    /// `<timestamp>`: the file's mtime, or the revision with `--set-timestamp-to-revision`.
    pub timestamp: i64,
}

/// The whole repomd.xml document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repomd {
    /// `<revision>`.
    pub revision: String,
    /// `<content>` tags.
    pub content_tags: Vec<String>,
    /// `<repo>` tags.
    pub repo_tags: Vec<String>,
    /// `<distro>` tags as (cpeid, name).
    pub distro_tags: Vec<(Option<String>, String)>,
    /// Records; [`Repomd::render`] writes them in createrepo_c's order.
    pub records: Vec<RepomdRecord>,
}

/// createrepo_c's record order: the three main files, their databases, their zchunk
/// variants, then everything else by type and location.
fn record_rank(kind: &str) -> usize {
    const FIRST: [&str; 9] = [
        "primary",
        "filelists",
        "other",
        "primary_db",
        "filelists_db",
        "other_db",
        "primary_zck",
        "filelists_zck",
        "other_zck",
    ];
    FIRST.iter().position(|k| *k == kind).unwrap_or(FIRST.len())
}

/// Attribute escaping for documents that declare their encoding: markup and whitespace
/// controls are escaped, non-ASCII stays literal.
fn escape_doc_attr(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

impl Repomd {
    /// Sorts records into createrepo_c's order.
    pub fn sort_records(&mut self) {
        self.records.sort_by(|a, b| {
            (record_rank(&a.kind), &a.kind, &a.location_href).cmp(&(
                record_rank(&b.kind),
                &b.kind,
                &b.location_href,
            ))
        });
    }

    /// Serialises the document (records in their current order).
    pub fn render(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n",
        );
        let text = |out: &mut String, indent: &str, name: &str, value: &str| {
            out.push_str(indent);
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_text(out, value);
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        };
        text(&mut out, "  ", "revision", &self.revision);
        if !(self.content_tags.is_empty()
            && self.repo_tags.is_empty()
            && self.distro_tags.is_empty())
        {
            out.push_str("  <tags>\n");
            for tag in &self.content_tags {
                text(&mut out, "    ", "content", tag);
            }
            for tag in &self.repo_tags {
                text(&mut out, "    ", "repo", tag);
            }
            for (cpeid, name) in &self.distro_tags {
                out.push_str("    <distro");
                if let Some(cpeid) = cpeid {
                    out.push_str(" cpeid=\"");
                    escape_doc_attr(&mut out, cpeid);
                    out.push('"');
                }
                out.push('>');
                escape_text(&mut out, name);
                out.push_str("</distro>\n");
            }
            out.push_str("  </tags>\n");
        }
        for record in &self.records {
            let algo = record.checksum_type.name();
            out.push_str("  <data type=\"");
            escape_doc_attr(&mut out, &record.kind);
            out.push_str("\">\n");
            out.push_str(&format!(
                "    <checksum type=\"{algo}\">{}</checksum>\n",
                record.stats.checksum
            ));
            if let Some(open) = &record.stats.open_checksum {
                out.push_str(&format!(
                    "    <open-checksum type=\"{algo}\">{open}</open-checksum>\n"
                ));
            }
            out.push_str("    <location href=\"");
            escape_doc_attr(&mut out, &record.location_href);
            out.push_str("\"/>\n");
            out.push_str(&format!(
                "    <timestamp>{}</timestamp>\n",
                record.timestamp
            ));
            out.push_str(&format!("    <size>{}</size>\n", record.stats.size));
            if let Some(open_size) = record.stats.open_size {
                out.push_str(&format!("    <open-size>{open_size}</open-size>\n"));
            }
            if record.kind.ends_with("_db") {
                out.push_str("    <database_version>10</database_version>\n");
            }
            out.push_str("  </data>\n");
        }
        out.push_str("</repomd>\n");
        out
    }
}

/// The text of the first `<name …>…</name>` element in `xml`, and its start tag.
fn element<'a>(xml: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{name}");
    let mut from = 0;
    let start = loop {
        let at = xml[from..].find(&open)? + from;
        let after = xml.as_bytes().get(at + open.len()).copied();
        if matches!(after, Some(b' ' | b'>' | b'/')) {
            break at;
        }
        from = at + open.len();
    };
    let tag_end = xml[start..].find('>')? + start;
    let tag = &xml[start..=tag_end];
    if tag.ends_with("/>") {
        return Some((tag, ""));
    }
    let close = format!("</{name}>");
    let end = xml[tag_end..].find(&close)? + tag_end;
    Some((tag, &xml[tag_end + 1..end]))
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Reads the `<data>` records of an existing repomd.xml (ours or createrepo_c's). Records this
/// reader does not understand (an unknown checksum type, no location) are left out.
pub fn parse_records(xml: &str) -> Vec<RepomdRecord> {
    let mut records = Vec::new();
    for block in xml.split("<data ").skip(1) {
        let Some(end) = block.find("</data>") else {
            continue;
        };
        let block = &block[..end];
        let Some(kind) = attribute(&format!(" {block}"), "type").map(unescape) else {
            continue;
        };
        let parsed = (|| {
            let (checksum_tag, checksum) = element(block, "checksum")?;
            let checksum_type: ChecksumType = attribute(checksum_tag, "type")?.parse().ok()?;
            let (location_tag, _) = element(block, "location")?;
            let number =
                |name: &str| element(block, name).and_then(|(_, v)| v.trim().parse::<i64>().ok());
            Some(RepomdRecord {
                kind: kind.clone(),
                location_href: unescape(attribute(location_tag, "href")?),
                checksum_type,
                stats: FileStats {
                    checksum: checksum.trim().to_owned(),
                    size: number("size")?.max(0) as u64,
                    open_checksum: element(block, "open-checksum")
                        .map(|(_, v)| v.trim().to_owned()),
                    open_size: number("open-size").map(|v| v.max(0) as u64),
                },
                timestamp: number("timestamp").unwrap_or(0),
            })
        })();
        match parsed {
            Some(record) => records.push(record),
            None => tracing::warn!("repomd.xml: cannot read the {kind} record, leaving it out"),
        }
    }
    records
}

/// Record types createrepo writes itself (as opposed to additional metadata such as comps,
/// updateinfo or modules that other tools add).
pub fn is_generated_type(kind: &str) -> bool {
    let base = kind
        .strip_suffix("_db")
        .or_else(|| kind.strip_suffix("_zck"))
        .unwrap_or(kind);
    matches!(base, "primary" | "filelists" | "other" | "filelists-ext")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str) -> RepomdRecord {
        RepomdRecord {
            kind: kind.into(),
            location_href: format!("repodata/{kind}.xml.gz"),
            checksum_type: ChecksumType::Sha256,
            stats: FileStats {
                checksum: "aa".into(),
                size: 1,
                open_checksum: Some("bb".into()),
                open_size: Some(2),
            },
            timestamp: 7,
        }
    }

    #[test]
    fn records_follow_createrepo_c_order() {
        let mut repomd = Repomd {
            revision: "1".into(),
            records: [
                "group",
                "other_db",
                "filelists-ext",
                "other",
                "primary",
                "filelists",
            ]
            .into_iter()
            .map(record)
            .collect(),
            ..Default::default()
        };
        repomd.sort_records();
        let kinds: Vec<_> = repomd.records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "primary",
                "filelists",
                "other",
                "other_db",
                "filelists-ext",
                "group"
            ]
        );
        let xml = repomd.render();
        assert!(xml.contains("    <database_version>10</database_version>\n  </data>"));
        assert!(xml.ends_with("</repomd>\n"));
    }

    #[test]
    fn records_round_trip_through_the_reader() {
        let mut repomd = Repomd {
            revision: "1".into(),
            records: ["primary", "updateinfo", "group"]
                .into_iter()
                .map(record)
                .collect(),
            ..Default::default()
        };
        repomd.records[2].stats.open_checksum = None;
        repomd.records[2].stats.open_size = None;
        assert_eq!(parse_records(&repomd.render()), repomd.records);
        assert!(is_generated_type("filelists-ext_db"));
        assert!(!is_generated_type("updateinfo"));
    }

    #[test]
    fn tags_are_written_in_createrepo_c_order() {
        let repomd = Repomd {
            revision: "42".into(),
            content_tags: vec!["binary-x86_64".into()],
            repo_tags: vec!["fedora & co".into()],
            distro_tags: vec![(
                Some("cpe:/o:fedoraproject:fedora:40".into()),
                "Fedora 40".into(),
            )],
            records: Vec::new(),
        };
        let xml = repomd.render();
        assert!(xml.contains(
            "  <revision>42</revision>\n  <tags>\n    <content>binary-x86_64</content>\n    \
             <repo>fedora &amp; co</repo>\n    \
             <distro cpeid=\"cpe:/o:fedoraproject:fedora:40\">Fedora 40</distro>\n  </tags>\n"
        ));
    }
}
