//! What a request path downloaded: the repository, the package (file name) and its kind.
//!
//! Owns path layouts and file-name parsing; must not look at statuses or clients. Paths
//! arrive decoded, without query string.
//!
//! Layouts are tried in order; the first that matches decides:
//! - `copr` = `/results/{owner}/{project}/{chroot}`: the repository is `owner/project/chroot`
//!   (an `@group` owner appears decoded); files are `<build-dir>/<file>`,
//!   `Packages/<letter>/<file>` or `repodata/<file>`; chroot `srpm-builds` holds SRPMs.
//! - `rpmdepot` (rpmdepot's published layout, and any createrepo tree): the repository is the
//!   path up to `/Packages/<letter>/`, `/repodata/` or, for other `*.rpm`, the file's directory,
//!   without the leading `/`.
//! - a pattern such as `/pub/{distro}/{release}/{arch}`: literal segments must match,
//!   each `{name}` takes one segment; the repository is the captured segments joined by `/`.
//!
//! Within a repository, the kind is taken from the file name: `repodata/repomd.xml` →
//! `repomd`, other `repodata/*` → `metadata`, `*.src.rpm`/`*.nosrc.rpm` → `srpm`,
//! `*-debuginfo-*`/`*-debugsource-*` RPMs → `debuginfo`, other `*.rpm` → `rpm`. Anything else
//! (logs, directories, keys) is not an artifact and is not counted. The package is the file
//! name without `.rpm`, e.g. `hello-2.12.2-1.fc41.x86_64`.

use crate::Error;

/// What kind of file was downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Rpm,
    Srpm,
    Debuginfo,
    Repomd,
    Metadata,
    /// A DNF countme hit on a metalink or mirrorlist (not a download).
    Countme,
}

impl Kind {
    pub const ALL: &[Kind] = &[
        Kind::Rpm,
        Kind::Srpm,
        Kind::Debuginfo,
        Kind::Repomd,
        Kind::Metadata,
        Kind::Countme,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Rpm => "rpm",
            Kind::Srpm => "srpm",
            Kind::Debuginfo => "debuginfo",
            Kind::Repomd => "repomd",
            Kind::Metadata => "metadata",
            Kind::Countme => "countme",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    /// A package file (resumable, has a fixed size).
    pub fn is_package(self) -> bool {
        matches!(self, Kind::Rpm | Kind::Srpm | Kind::Debuginfo)
    }
}

/// Name, version, release and arch of an RPM file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nevra<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub release: &'a str,
    pub arch: &'a str,
}

/// Splits `name-version-release.arch.rpm` (or without `.rpm`).
pub fn parse_rpm_file_name(file: &str) -> Option<Nevra<'_>> {
    let stem = file.strip_suffix(".rpm").unwrap_or(file);
    let (rest, arch) = stem.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() || arch.is_empty() {
        return None;
    }
    Some(Nevra {
        name,
        version,
        release,
        arch,
    })
}

/// One download target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact<'a> {
    pub repository: &'a str,
    pub package: &'a str,
    pub kind: Kind,
    /// The layout that matched (`copr-payload` uses only `copr` repositories).
    pub layout: LayoutName,
}

/// Which layout mapped a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutName {
    Copr,
    Rpmdepot,
    Pattern,
}

impl LayoutName {
    pub fn name(self) -> &'static str {
        match self {
            LayoutName::Copr => "copr",
            LayoutName::Rpmdepot => "rpmdepot",
            LayoutName::Pattern => "pattern",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// One segment of a layout pattern.
pub enum Segment {
    Literal(String),
    Capture,
}

/// A path layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Copr,
    Rpmdepot,
    Pattern(Vec<Segment>),
}

impl Layout {
    /// `copr`, `rpmdepot`, or a pattern starting with `/`.
    pub fn parse(text: &str) -> crate::Result<Layout> {
        match text {
            "copr" => Ok(Layout::Copr),
            "rpmdepot" => Ok(Layout::Rpmdepot),
            pattern if pattern.starts_with('/') => {
                let segments: Vec<Segment> = pattern
                    .trim_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') && s.len() > 2 {
                            Segment::Capture
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                if !segments.contains(&Segment::Capture) {
                    return Err(Error::BadOption(format!(
                        "layout pattern {pattern:?} captures no {{segment}}"
                    )));
                }
                Ok(Layout::Pattern(segments))
            }
            other => Err(Error::BadOption(format!(
                "unknown layout {other:?} (use copr, rpmdepot or a pattern like /pub/{{distro}}/{{arch}})"
            ))),
        }
    }

    /// The default layouts: Copr's, then rpmdepot's.
    pub fn defaults() -> Vec<Layout> {
        vec![Layout::Copr, Layout::Rpmdepot]
    }
}

/// Kind and package of the part of a path inside a repository (`rest` has no leading `/`).
fn inside_repository(rest: &str, srpm_dir: bool) -> Option<(&str, Kind)> {
    if let Some(file) = rest.strip_prefix("repodata/") {
        if file.is_empty() || file.contains('/') {
            return None;
        }
        return Some((
            file,
            if file == "repomd.xml" {
                Kind::Repomd
            } else {
                Kind::Metadata
            },
        ));
    }
    let (dirs, file) = rest.rsplit_once('/').unwrap_or(("", rest));
    let depth_ok = match dirs.split_once('/') {
        None => true,
        Some(("Packages", letter)) => !letter.contains('/'),
        Some(_) => false,
    };
    let package = file.strip_suffix(".rpm")?;
    if !depth_ok || package.is_empty() {
        return None;
    }
    let kind = if srpm_dir || package.ends_with(".src") || package.ends_with(".nosrc") {
        Kind::Srpm
    } else if parse_rpm_file_name(package)
        .is_some_and(|n| n.name.ends_with("-debuginfo") || n.name.ends_with("-debugsource"))
    {
        Kind::Debuginfo
    } else {
        Kind::Rpm
    };
    Some((package, kind))
}

/// Maps decoded paths to artifacts. `repository_buffer` holds pattern repositories.
#[derive(Debug, Clone)]
pub struct PathMapper {
    layouts: Vec<Layout>,
    repository_buffer: String,
}

impl PathMapper {
    pub fn new(layouts: Vec<Layout>) -> Self {
        PathMapper {
            layouts,
            repository_buffer: String::new(),
        }
    }

    /// The artifact `path` names, if any.
    pub fn map<'a>(&'a mut self, path: &'a str) -> Option<Artifact<'a>> {
        let trimmed = path.strip_prefix('/')?;
        let mut found: Option<(usize, usize, Kind, &'a str, LayoutName)> = None;
        let mut pattern_hit = false;
        for layout in &self.layouts {
            match layout {
                Layout::Copr => {
                    let Some(rest) = trimmed.strip_prefix("results/") else {
                        continue;
                    };
                    let mut parts = rest.splitn(4, '/');
                    let (Some(owner), Some(project), Some(chroot), Some(inside)) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    if owner.is_empty() || project.is_empty() || chroot.is_empty() {
                        continue;
                    }
                    // A Copr results path is Copr's: other layouts do not get to guess.
                    let (package, kind) = inside_repository(inside, chroot == "srpm-builds")?;
                    let start = "results/".len();
                    let end = start + owner.len() + project.len() + chroot.len() + 2;
                    found = Some((start, end, kind, package, LayoutName::Copr));
                    break;
                }
                Layout::Rpmdepot => {
                    let (repository, inside) = if let Some(at) = trimmed
                        .find("/Packages/")
                        .or_else(|| trimmed.find("/repodata/"))
                    {
                        (&trimmed[..at], &trimmed[at + 1..])
                    } else {
                        match trimmed.rsplit_once('/') {
                            Some((dir, file)) if file.ends_with(".rpm") => (dir, file),
                            _ => continue,
                        }
                    };
                    if repository.is_empty() {
                        continue;
                    }
                    let Some((package, kind)) = inside_repository(inside, false) else {
                        continue;
                    };
                    found = Some((0, repository.len(), kind, package, LayoutName::Rpmdepot));
                    break;
                }
                Layout::Pattern(segments) => {
                    let mut parts = trimmed.split('/');
                    let mut consumed = 0usize;
                    let mut captured: Vec<&str> = Vec::new();
                    let mut ok = true;
                    for segment in segments {
                        let Some(part) = parts.next() else {
                            ok = false;
                            break;
                        };
                        consumed += part.len() + 1;
                        match segment {
                            Segment::Literal(text) if text != part => {
                                ok = false;
                                break;
                            }
                            Segment::Literal(_) => {}
                            Segment::Capture if part.is_empty() => {
                                ok = false;
                                break;
                            }
                            Segment::Capture => captured.push(part),
                        }
                    }
                    if !ok || consumed >= trimmed.len() {
                        continue;
                    }
                    let Some((package, kind)) = inside_repository(&trimmed[consumed..], false)
                    else {
                        continue;
                    };
                    self.repository_buffer.clear();
                    self.repository_buffer.push_str(&captured.join("/"));
                    found = Some((0, 0, kind, package, LayoutName::Pattern));
                    pattern_hit = true;
                    break;
                }
            }
        }
        let (start, end, kind, package, layout) = found?;
        let repository = if pattern_hit {
            self.repository_buffer.as_str()
        } else {
            &trimmed[start..end]
        };
        Some(Artifact {
            repository,
            package,
            kind,
            layout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(layouts: Vec<Layout>, path: &str) -> Option<(String, String, Kind)> {
        let mut mapper = PathMapper::new(layouts);
        mapper
            .map(path)
            .map(|a| (a.repository.to_owned(), a.package.to_owned(), a.kind))
    }

    #[test]
    fn copr_layout_matches_copr_test_cases() {
        let d = Layout::defaults;
        assert_eq!(
            map(
                d(),
                "/results/frostyx/hello/fedora-41-x86_64/09144301-hello/hello-2.12.2-1.fc41.x86_64.rpm"
            ),
            Some((
                "frostyx/hello/fedora-41-x86_64".into(),
                "hello-2.12.2-1.fc41.x86_64".into(),
                Kind::Rpm
            ))
        );
        assert_eq!(
            map(d(), "/results/frostyx/foo/fedora-42-x86_64/02923998-ed/"),
            None
        );
        assert_eq!(
            map(
                d(),
                "/results/frostyx/foo/fedora-42-x86_64/repodata/8eff-primary.xml.gz"
            )
            .map(|a| a.2),
            Some(Kind::Metadata)
        );
        assert_eq!(
            map(
                d(),
                "/results/frostyx/foo/fedora-42-x86_64/repodata/repomd.xml"
            )
            .map(|a| a.2),
            Some(Kind::Repomd)
        );
        assert_eq!(
            map(
                d(),
                "/results/frostyx/foo/fedora-42-x86_64/Packages/e/ed-1.22.2-1.fc42.x86_64.rpm"
            ),
            Some((
                "frostyx/foo/fedora-42-x86_64".into(),
                "ed-1.22.2-1.fc42.x86_64".into(),
                Kind::Rpm
            ))
        );
        assert_eq!(
            map(
                d(),
                "/results/frostyx/hello/srpm-builds/09144301/hello-2.12.2-1.src.rpm"
            )
            .map(|a| a.2),
            Some(Kind::Srpm)
        );
        assert_eq!(
            map(
                d(),
                "/results/@copr/copr-dev/fedora-rawhide-x86_64/1-b/b-debuginfo-1-1.fc45.x86_64.rpm"
            )
            .map(|a| (a.0, a.2)),
            Some((
                "@copr/copr-dev/fedora-rawhide-x86_64".into(),
                Kind::Debuginfo
            ))
        );
        assert_eq!(map(d(), "/results/o/p/c/1-b/builder-live.log.gz"), None);
        assert_eq!(map(d(), "/results/o/p/c/a/b/c.rpm"), None);
    }

    #[test]
    fn rpmdepot_layout_and_patterns() {
        assert_eq!(
            map(
                Layout::defaults(),
                "/content/o/p/fedora-42-x86_64/Packages/h/hello-1-1.fc42.x86_64.rpm"
            ),
            Some((
                "content/o/p/fedora-42-x86_64".into(),
                "hello-1-1.fc42.x86_64".into(),
                Kind::Rpm
            ))
        );
        assert_eq!(
            map(Layout::defaults(), "/pub/f42/repodata/repomd.xml").map(|a| (a.0, a.2)),
            Some(("pub/f42".into(), Kind::Repomd))
        );
        assert_eq!(map(Layout::defaults(), "/crates/a/a-1.crate"), None);
        let pattern = vec![Layout::parse("/pub/fedora/{release}/Everything/{arch}/os").unwrap()];
        assert_eq!(
            map(
                pattern.clone(),
                "/pub/fedora/42/Everything/x86_64/os/Packages/l/libstdc++-15-1.fc42.x86_64.rpm"
            ),
            Some((
                "42/x86_64".into(),
                "libstdc++-15-1.fc42.x86_64".into(),
                Kind::Rpm
            ))
        );
        assert_eq!(
            map(
                pattern,
                "/pub/epel/42/Everything/x86_64/os/Packages/l/a-1-1.x86_64.rpm"
            ),
            None
        );
        assert!(Layout::parse("relative").is_err());
        assert!(Layout::parse("/no/captures").is_err());
    }

    #[test]
    fn nevra() {
        assert_eq!(
            parse_rpm_file_name("hello-2.12.2-1.fc41.x86_64.rpm"),
            Some(Nevra {
                name: "hello",
                version: "2.12.2",
                release: "1.fc41",
                arch: "x86_64"
            })
        );
        assert_eq!(
            parse_rpm_file_name("libstdc++-devel-15-1.fc42.x86_64")
                .unwrap()
                .name,
            "libstdc++-devel"
        );
        assert_eq!(parse_rpm_file_name("nodash.rpm"), None);
    }
}
