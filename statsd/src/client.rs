//! User-agent classes, stored as a dimension of every count instead of dropping clients.
//!
//! Owns the classification rules; must not filter anything. Rules are tried in this order
//! (ASCII case-insensitive; the agent is matched after its log encoding is undone):
//!
//! | class | rule |
//! |---|---|
//! | `mock` | starts with `Mock` (Copr's buildroot downloads) |
//! | `rpm-ostree` | contains `rpm-ostree` |
//! | `dnf5` | contains `dnf5` |
//! | `dnf` | contains `libdnf` or `dnf/` |
//! | `packagekit` | contains `packagekit` |
//! | `yum` | contains `urlgrabber` or `yum/` |
//! | `zypper` | contains `zypp` |
//! | `bot` | contains `bot/`, `bot;`, `bot)`, `bot ` (or ends in `bot`), `spider`, `crawl`, `slurp`, `google`, `yandex`, `baidu`, `ahrefs`, `semrush`, `archiver` |
//! | `curl-wget` | starts with `curl` or `wget` |
//! | `browser` | starts with `Mozilla/` or `Opera` |
//! | `other` | anything else, also no agent |

/// A class of client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ClientClass {
    Dnf,
    Dnf5,
    RpmOstree,
    PackageKit,
    Yum,
    Zypper,
    Mock,
    CurlWget,
    Browser,
    Bot,
    Other,
}

impl ClientClass {
    pub const ALL: &[ClientClass] = &[
        ClientClass::Dnf,
        ClientClass::Dnf5,
        ClientClass::RpmOstree,
        ClientClass::PackageKit,
        ClientClass::Yum,
        ClientClass::Zypper,
        ClientClass::Mock,
        ClientClass::CurlWget,
        ClientClass::Browser,
        ClientClass::Bot,
        ClientClass::Other,
    ];

    /// Stable name (database, reports).
    pub fn name(self) -> &'static str {
        match self {
            ClientClass::Dnf => "dnf",
            ClientClass::Dnf5 => "dnf5",
            ClientClass::RpmOstree => "rpm-ostree",
            ClientClass::PackageKit => "packagekit",
            ClientClass::Yum => "yum",
            ClientClass::Zypper => "zypper",
            ClientClass::Mock => "mock",
            ClientClass::CurlWget => "curl-wget",
            ClientClass::Browser => "browser",
            ClientClass::Bot => "bot",
            ClientClass::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<ClientClass> {
        ClientClass::ALL
            .iter()
            .copied()
            .find(|class| class.name() == name)
    }

    /// The class of a decoded user agent.
    pub fn of(agent: &[u8]) -> ClientClass {
        let lower: Vec<u8> = agent.iter().take(512).map(u8::to_ascii_lowercase).collect();
        let has = |needle: &str| memchr::memmem::find(&lower, needle.as_bytes()).is_some();
        if lower.starts_with(b"mock") {
            ClientClass::Mock
        } else if has("rpm-ostree") {
            ClientClass::RpmOstree
        } else if has("dnf5") {
            ClientClass::Dnf5
        } else if has("libdnf") || has("dnf/") {
            ClientClass::Dnf
        } else if has("packagekit") {
            ClientClass::PackageKit
        } else if has("urlgrabber") || has("yum/") {
            ClientClass::Yum
        } else if has("zypp") {
            ClientClass::Zypper
        } else if [
            "bot/", "bot;", "bot)", "bot ", "spider", "crawl", "slurp", "google", "yandex",
            "baidu", "ahrefs", "semrush", "archiver",
        ]
        .iter()
        .any(|token| has(token))
            || lower.ends_with(b"bot")
        {
            ClientClass::Bot
        } else if lower.starts_with(b"curl") || lower.starts_with(b"wget") {
            ClientClass::CurlWget
        } else if lower.starts_with(b"mozilla/") || lower.starts_with(b"opera") {
            ClientClass::Browser
        } else {
            ClientClass::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClientClass::{self, *};

    #[test]
    fn classes() {
        for (agent, class) in [
            ("libdnf (Fedora Linux 42; workstation; Linux.x86_64)", Dnf),
            ("libdnf/0.35.5 (Fedora 31)", Dnf),
            ("dnf/4.18.0", Dnf),
            ("dnf5/5.2.16.0", Dnf5),
            ("libdnf5", Dnf5),
            ("rpm-ostree (Fedora 33; coreos; Linux.x86_64)", RpmOstree),
            ("PackageKit-hawkey", PackageKit),
            ("urlgrabber/3.10 yum/3.4.3", Yum),
            ("ZYpp 17.31.0 (curl 8.0)", Zypper),
            ("Mock (Fedora Linux 42; x86_64)", Mock),
            ("curl/8.11.1", CurlWget),
            ("Wget/1.21", CurlWget),
            ("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", Browser),
            (
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                Bot,
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                Bot,
            ),
            ("AhrefsBot", Bot),
            ("", Other),
            ("python-requests/2.31", Other),
        ] {
            assert_eq!(ClientClass::of(agent.as_bytes()), class, "{agent}");
        }
        for class in ClientClass::ALL {
            assert_eq!(ClientClass::from_name(class.name()), Some(*class));
        }
    }
}
