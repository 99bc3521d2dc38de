//! Duplicate NEVRAs in the shared corpus resolve to createrepo_c 2.x's `keep-last` winners.
//!
//! Debian only ships createrepo_c 0.17.3, which has no `--duplicated-nevra`, so the oracle is
//! createrepo_c 2.x's documented rule applied to what the real `rpm` tool reports: within a
//! NEVRA the highest BUILDTIME wins, ties go to the lexicographically greatest location.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{rpmdepot_createrepo, run_success, shared_fixtures, tools_available};

#[test]
fn keep_last_matches_createrepo_c_2_winners_on_the_corpus() {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    if !tools_available(&["rpm"]) {
        return;
    }
    let rpms = corpus.join("rpms");
    let out = tempfile::tempdir().expect("tempdir");
    let output = run_success(
        rpmdepot_createrepo()
            .args([
                "--duplicated-nevra",
                "keep-last",
                "--json",
                "-q",
                "--no-database",
            ])
            .arg("-o")
            .arg(out.path())
            .arg(&rpms),
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let groups = summary["duplicates"].as_array().expect("duplicates array");
    assert!(
        groups.len() > 50,
        "the corpus has many duplicate groups, got {}",
        groups.len()
    );

    // NEVRA and build time of every corpus package, straight from rpm.
    let query = Command::new("rpm")
        .args([
            "-qp",
            "--nosignature",
            "--nodigest",
            "--qf",
            "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH} %{SOURCERPM} %{BUILDTIME}\\n",
        ])
        .args(
            groups
                .iter()
                .flat_map(|g| g["members"].as_array().expect("members"))
                .map(|m| rpms.join(m["location"].as_str().expect("location"))),
        )
        .output()
        .expect("run rpm -qp");
    let lines = String::from_utf8_lossy(&query.stdout);
    let facts: Vec<(String, i64)> = lines
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            let arch_is_src = parts[1] == "(none)";
            let nevra = if arch_is_src {
                // Source packages are listed with arch "src" in repodata.
                let (base, _) = parts[0].rsplit_once('.').expect("nevra has an arch");
                format!("{base}.src")
            } else {
                parts[0].to_owned()
            };
            (nevra, parts[2].parse().expect("build time"))
        })
        .collect();
    let members: Vec<&serde_json::Value> = groups
        .iter()
        .flat_map(|g| g["members"].as_array().expect("members"))
        .collect();
    assert_eq!(facts.len(), members.len(), "rpm answered for every member");

    let mut expected: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for ((nevra, build_time), member) in facts.iter().zip(&members) {
        let location = member["location"].as_str().expect("location").to_owned();
        assert_eq!(
            member["build_time"].as_i64(),
            Some(*build_time),
            "{location}"
        );
        let candidate = (*build_time, location);
        let best = expected
            .entry(nevra.clone())
            .or_insert_with(|| candidate.clone());
        if candidate > *best {
            *best = candidate;
        }
    }
    let mut checked = 0;
    for group in groups {
        let nevra = group["nevra"].as_str().expect("nevra");
        let kept: Vec<&str> = group["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter(|m| m["kept"].as_bool() == Some(true))
            .map(|m| m["location"].as_str().expect("location"))
            .collect();
        let (_, winner) = expected
            .get(nevra)
            .unwrap_or_else(|| panic!("rpm reports no package for group {nevra}"));
        assert_eq!(kept, [winner.as_str()], "winner of {nevra}");
        checked += 1;
    }
    let written = summary["packages_written"]
        .as_u64()
        .expect("packages_written");
    let found = summary["packages_found"].as_u64().expect("packages_found");
    let losers: usize = groups
        .iter()
        .map(|g| g["members"].as_array().expect("members").len() - 1)
        .sum();
    assert_eq!(written as usize, found as usize - losers);
    println!("checked {checked} duplicate NEVRA groups against createrepo_c 2.x's rule");
}
