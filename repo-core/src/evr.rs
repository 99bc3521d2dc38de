//! Version strings: rpm's `rpmvercmp` and createrepo_c's split of `E:V-R` dependency versions.
//!
//! Must not: apply package policy (which version wins is decided by the caller).

use std::cmp::Ordering;

/// A dependency version split into epoch, version and release as createrepo_c splits it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitEvr {
    /// Epoch, `"0"` when the string had none.
    pub epoch: String,
    /// Version (everything up to the first `-` after the epoch).
    pub version: String,
    /// Release, `None` when there is no `-` or nothing after it.
    pub release: Option<String>,
}

/// Splits `E:V-R` like createrepo_c's `cr_str_to_evr`. Returns `None` when the epoch part is
/// not a number (createrepo_c then drops the dependency with a warning).
pub fn split_evr(text: &str) -> Option<SplitEvr> {
    let (epoch, rest) = match text.find(':') {
        Some(colon) => {
            let epoch = &text[..colon];
            if !epoch.is_empty() && !is_strtol_number(epoch) {
                return None;
            }
            let epoch = if epoch.is_empty() { "0" } else { epoch };
            (epoch.to_owned(), &text[colon + 1..])
        }
        None => ("0".to_owned(), text),
    };
    let (version, release) = match rest.find('-') {
        Some(dash) => {
            let release = &rest[dash + 1..];
            (
                rest[..dash].to_owned(),
                (!release.is_empty()).then(|| release.to_owned()),
            )
        }
        None => (rest.to_owned(), None),
    };
    Some(SplitEvr {
        epoch,
        version,
        release,
    })
}

/// Whether the whole of `text` is what C's `strtol` consumes: optional spaces, sign, digits.
fn is_strtol_number(text: &str) -> bool {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two version strings with rpm's `rpmvercmp` algorithm (segments of digits or
/// letters, `~` sorts before anything, `^` after the base version).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let is_separator = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while at(a, i) != 0 || at(b, j) != 0 {
        while is_separator(at(a, i)) {
            i += 1;
        }
        while is_separator(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == b'^' || cb == b'^' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == 0 || cb == 0 {
            break;
        }
        let numeric = ca.is_ascii_digit();
        let class = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (start_a, start_b) = (i, j);
        while class(at(a, i)) {
            i += 1;
        }
        while class(at(b, j)) {
            j += 1;
        }
        if j == start_b {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut seg_a, mut seg_b) = (&a[start_a..i], &b[start_b..j]);
        if numeric {
            while seg_a.first() == Some(&b'0') {
                seg_a = &seg_a[1..];
            }
            while seg_b.first() == Some(&b'0') {
                seg_b = &seg_b[1..];
            }
            match seg_a.len().cmp(&seg_b.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match seg_a.cmp(seg_b) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (at(a, i) == 0, at(b, j) == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_createrepo_c() {
        let evr = split_evr("2:1.0-3.fc40").unwrap();
        assert_eq!(
            (
                evr.epoch.as_str(),
                evr.version.as_str(),
                evr.release.as_deref()
            ),
            ("2", "1.0", Some("3.fc40"))
        );
        let evr = split_evr("1.2").unwrap();
        assert_eq!((evr.epoch.as_str(), evr.release), ("0", None));
        let evr = split_evr("1.2-").unwrap();
        assert_eq!(evr.release, None);
        let evr = split_evr(":5-a-b").unwrap();
        assert_eq!(
            (
                evr.epoch.as_str(),
                evr.version.as_str(),
                evr.release.as_deref()
            ),
            ("0", "5", Some("a-b"))
        );
        assert!(split_evr("x:1.0").is_none());
    }

    #[test]
    fn vercmp_matches_rpm() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("10", "9", Greater),
            ("010", "10", Equal),
            ("a", "1", Less),
            ("2.34", "2.4", Greater),
            ("1.0_1", "1.0.1", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
