//! Packages built more than once with the same NEVRA: detection and createrepo_c's
//! deterministic `keep-last` choice (newest build time, then the greatest location href).
//!
//! Works on already-read records, so it never serialises the parsing work.

use std::collections::HashMap;

use serde::Serialize;

/// What to do with packages that share a NEVRA (`--duplicated-nevra`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// Keep every package (createrepo_c's default, `keep`).
    #[default]
    KeepAll,
    /// Keep only the newest build (`keep-last`).
    KeepLast,
}

/// One location of a duplicated NEVRA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateMember {
    /// Location href.
    pub location: String,
    /// Build time.
    pub build_time: i64,
    /// Whether this one is written to the metadata.
    pub kept: bool,
}

/// All packages of one NEVRA that occurs more than once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// `name-epoch:version-release.arch`.
    pub nevra: String,
    /// Members, ordered by (build time, location).
    pub members: Vec<DuplicateMember>,
}

/// What duplicate resolution needs to know of a package.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateKey<'a> {
    /// `name-epoch:version-release.arch`.
    pub nevra: &'a str,
    /// RPMTAG_BUILDTIME.
    pub time_build: i64,
    /// Location href.
    pub location: &'a str,
}

/// Finds duplicated NEVRAs among `packages` and returns the groups plus, per package, whether
/// it is written. Groups are sorted by NEVRA so the report is deterministic.
pub fn resolve(
    packages: &[DuplicateKey<'_>],
    policy: DuplicatePolicy,
) -> (Vec<DuplicateGroup>, Vec<bool>) {
    let mut by_nevra: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, package) in packages.iter().enumerate() {
        by_nevra.entry(package.nevra).or_default().push(index);
    }
    let mut keep = vec![true; packages.len()];
    let mut groups = Vec::new();
    for (nevra, mut indexes) in by_nevra {
        if indexes.len() < 2 {
            continue;
        }
        indexes.sort_by(|&a, &b| {
            (packages[a].time_build, packages[a].location)
                .cmp(&(packages[b].time_build, packages[b].location))
        });
        let winner = *indexes.last().expect("group has members");
        if policy == DuplicatePolicy::KeepLast {
            for &index in &indexes {
                keep[index] = index == winner;
            }
        }
        groups.push(DuplicateGroup {
            nevra: nevra.to_owned(),
            members: indexes
                .iter()
                .map(|&index| DuplicateMember {
                    location: packages[index].location.to_owned(),
                    build_time: packages[index].time_build,
                    kept: keep[index],
                })
                .collect(),
        });
    }
    groups.sort_by(|a, b| a.nevra.cmp(&b.nevra));
    (groups, keep)
}
