//! Packages built more than once with the same NEVRA: detection and createrepo_c's
//! deterministic `keep-last` choice (newest build time, then the greatest location href).
//!
//! Works on already-read records, so it never serialises the parsing work.

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
    resolve_with_hash(packages, policy, nevra_hash)
}

/// [`resolve`] with the NEVRA hash passed in (tests use a colliding one).
fn resolve_with_hash(
    packages: &[DuplicateKey<'_>],
    policy: DuplicatePolicy,
    hash: fn(&str) -> u64,
) -> (Vec<DuplicateGroup>, Vec<bool>) {
    // Packages sorted by a hash of their NEVRA, so equal NEVRAs end up next to each other:
    // 16 bytes a package. A map from NEVRA to a list of packages cost about 90 (an entry and
    // a list per package), at the moment a cold run holds every package.
    let mut by_hash: Vec<(u64, u32)> = packages
        .iter()
        .enumerate()
        .map(|(index, package)| {
            let index = u32::try_from(index).expect("fewer than 2^32 packages");
            (hash(package.nevra), index)
        })
        .collect();
    by_hash.sort_unstable();
    let mut keep = vec![true; packages.len()];
    let mut groups = Vec::new();
    for run in by_hash.chunk_by(|a, b| a.0 == b.0) {
        if run.len() < 2 {
            continue;
        }
        // A run may hold different NEVRAs with the same hash: split it by NEVRA, and order
        // each group's members by (build time, location, position).
        let mut members: Vec<usize> = run.iter().map(|&(_, index)| index as usize).collect();
        members.sort_by(|&a, &b| {
            let (a_key, b_key) = (&packages[a], &packages[b]);
            (a_key.nevra, a_key.time_build, a_key.location, a).cmp(&(
                b_key.nevra,
                b_key.time_build,
                b_key.location,
                b,
            ))
        });
        for indexes in members.chunk_by(|&a, &b| packages[a].nevra == packages[b].nevra) {
            if indexes.len() < 2 {
                continue;
            }
            let winner = *indexes.last().expect("group has members");
            if policy == DuplicatePolicy::KeepLast {
                for &index in indexes {
                    keep[index] = index == winner;
                }
            }
            groups.push(DuplicateGroup {
                nevra: packages[winner].nevra.to_owned(),
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
    }
    groups.sort_by(|a, b| a.nevra.cmp(&b.nevra));
    (groups, keep)
}

/// A fixed hash of a NEVRA (SipHash with zero keys: the same in every run).
fn nevra_hash(nevra: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    nevra.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn key<'a>(nevra: &'a str, time_build: i64, location: &'a str) -> DuplicateKey<'a> {
        DuplicateKey {
            nevra,
            time_build,
            location,
        }
    }

    #[test]
    fn keep_last_keeps_the_newest_build_then_the_greatest_location() {
        let packages = [
            key("a-0:1-1.x86_64", 10, "b/a.rpm"),
            key("b-0:1-1.noarch", 5, "b.rpm"),
            key("a-0:1-1.x86_64", 20, "a/a.rpm"),
            key("a-0:1-1.x86_64", 20, "c/a.rpm"),
            key("c-0:2-1.noarch", 1, "c.rpm"),
        ];
        let (groups, keep) = resolve(&packages, DuplicatePolicy::KeepLast);
        assert_eq!(keep, [false, true, false, true, true]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].nevra, "a-0:1-1.x86_64");
        let order: Vec<_> = groups[0]
            .members
            .iter()
            .map(|m| m.location.as_str())
            .collect();
        assert_eq!(order, ["b/a.rpm", "a/a.rpm", "c/a.rpm"]);
        let (groups_kept, keep_all) = resolve(&packages, DuplicatePolicy::KeepAll);
        assert!(keep_all.iter().all(|&k| k));
        assert_eq!(groups_kept[0].members.len(), 3);
    }

    /// The obvious resolution: group by NEVRA in a map, sort each group.
    fn reference(
        packages: &[DuplicateKey<'_>],
        policy: DuplicatePolicy,
    ) -> (Vec<DuplicateGroup>, Vec<bool>) {
        let mut by_nevra: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, package) in packages.iter().enumerate() {
            by_nevra.entry(package.nevra).or_default().push(index);
        }
        let mut keep = vec![true; packages.len()];
        let mut groups = Vec::new();
        for (nevra, mut indexes) in by_nevra {
            if indexes.len() < 2 {
                continue;
            }
            indexes.sort_by_key(|&i| (packages[i].time_build, packages[i].location));
            let winner = *indexes.last().unwrap();
            if policy == DuplicatePolicy::KeepLast {
                for &i in &indexes {
                    keep[i] = i == winner;
                }
            }
            let members = indexes
                .iter()
                .map(|&i| DuplicateMember {
                    location: packages[i].location.to_owned(),
                    build_time: packages[i].time_build,
                    kept: keep[i],
                })
                .collect();
            groups.push(DuplicateGroup {
                nevra: nevra.to_owned(),
                members,
            });
        }
        (groups, keep)
    }

    proptest! {
        #[test]
        fn resolution_matches_the_obvious_one(
            packages in proptest::collection::vec((0u8..6, 0i64..4, 0u8..4), 0..40),
            keep_last in any::<bool>(),
        ) {
            let names: Vec<(String, String)> = packages
                .iter()
                .enumerate()
                .map(|(i, (n, _, dir))| (format!("p{n}-0:1-1.noarch"), format!("d{dir}/{i}.rpm")))
                .collect();
            let keys: Vec<DuplicateKey<'_>> = packages
                .iter()
                .zip(&names)
                .map(|((_, time, _), (nevra, location))| key(nevra, *time, location))
                .collect();
            let policy = if keep_last { DuplicatePolicy::KeepLast } else { DuplicatePolicy::KeepAll };
            let expected = reference(&keys, policy);
            prop_assert_eq!(&resolve(&keys, policy), &expected);
            // Every NEVRA with the same hash: runs must still be split by NEVRA.
            prop_assert_eq!(&resolve_with_hash(&keys, policy, |_| 7), &expected);
        }
    }
}
