//! Inputs shared by the criterion benches: the project's fixture RPMs and a few generated
//! packages, cut to their headers (the payload is never read by the code under test).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::Criterion;
use repo_core::header::read_headers;
use repo_core::record::{ChangelogLimit, FileFacts, PackageRecord};
use rpmdepot_benches::Corpus;
use rpmdepot_benches::rpmfile::sha256_hex;

/// One benchmark input: an RPM cut after its main header, and what the file system would say.
pub struct Sample {
    pub label: String,
    pub headers: Vec<u8>,
    pub facts: FileFacts,
}

/// createrepo_c's default `--changelog-limit`.
pub const CHANGELOG_LIMIT: ChangelogLimit = ChangelogLimit::Newest(10);

/// Short runs: these benches are for comparing changes, not for publication.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn sample(label: String, location: String, bytes: &[u8]) -> Sample {
    let headers = read_headers(&mut &bytes[..]).expect("benchmark inputs are valid RPMs");
    let end = usize::try_from(headers.header_end).expect("header fits in memory");
    Sample {
        label,
        headers: bytes[..end].to_vec(),
        facts: FileFacts {
            pkgid: sha256_hex(bytes),
            checksum_type: "sha256".to_owned(),
            size: bytes.len() as u64,
            mtime: 1_700_000_000,
            location_href: location,
            location_base: None,
        },
    }
}

fn rpm_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixtures/rpms is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rpm_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rpm") {
            out.push(path);
        }
    }
}

/// The project's fixture RPMs (`fixtures/rpms/`), sorted by path.
pub fn fixtures() -> Vec<Sample> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms");
    let mut paths = Vec::new();
    rpm_files(&root, &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).expect("fixture is readable");
            let location = path
                .strip_prefix(&root)
                .expect("under fixtures/rpms")
                .to_string_lossy()
                .into_owned();
            sample(location.clone(), location, &bytes)
        })
        .collect()
}

/// Generated packages of distinct shapes from a 2000-package corpus: a typical one (file count
/// nearest the median of 20), the longest file list, the most dependencies, and a source RPM.
pub fn generated() -> Vec<Sample> {
    let corpus = Corpus::new(2000, 1);
    let specs: Vec<_> = (0..2000).map(|i| corpus.spec(i)).collect();
    let binaries = || specs.iter().filter(|s| !s.is_source);
    let chosen = [
        (
            "typical",
            binaries().min_by_key(|s| (s.files.len().abs_diff(20), s.index)),
        ),
        ("many-files", binaries().max_by_key(|s| s.files.len())),
        (
            "many-deps",
            binaries().max_by_key(|s| s.requires.len() + s.provides.len()),
        ),
        ("source", specs.iter().find(|s| s.is_source)),
    ];
    chosen
        .into_iter()
        .filter_map(|(shape, spec)| {
            let spec = spec?;
            let label = format!("generated-{shape} ({} files)", spec.files.len());
            Some(sample(label, spec.relative_path.clone(), &spec.build()))
        })
        .collect()
}

/// Records of `samples`, as createrepo would build them.
#[allow(dead_code)] // each bench compiles this module; only xml_rendering needs records
pub fn records(samples: &[Sample]) -> Vec<PackageRecord> {
    samples
        .iter()
        .map(|s| {
            let headers = read_headers(&mut &s.headers[..]).expect("valid headers");
            PackageRecord::from_headers(&headers, s.facts.clone(), CHANGELOG_LIMIT)
                .expect("createrepo_c accepts every benchmark input")
        })
        .collect()
}
