//! [`RepoUrl`]: one parsed Git repository location, for everything kargo-rs
//! does with one besides Kargo's Freight-ID normalisation.

use std::fmt;

use sha1::{Digest as _, Sha1};

use super::redact_url;

/// A Git repository's location, parsed once: an `http(s)://`, `ssh://`,
/// `git://` or `file://` URL, an SCP-like address (`git@host:owner/repo`)
/// or a local path, as git itself reads them (through `gix-url`).
///
/// It answers what kargo-rs asks of a repository URL: its parts, the
/// forge's web pages ([`web_url`](Self::web_url)), the name of its
/// directory in the repository cache ([`cache_dir_name`](Self::cache_dir_name)).
/// Comparisons and Freight IDs use Kargo's normalisation instead
/// ([`normalize_git`](super::normalize_git)), which must stay byte-exact.
///
/// The URL keeps any user information it was written with; `Display` and
/// `Debug` show it [redacted](super::redact_url).
///
/// ```
/// use kargo_core::urls::RepoUrl;
///
/// let url = RepoUrl::parse("git@GitHub.com:acme/demo.git").unwrap();
/// assert_eq!((url.scheme(), url.host(), url.path()), ("ssh", Some("github.com"), "acme/demo"));
/// assert_eq!(url.web_url().as_deref(), Some("https://github.com/acme/demo"));
///
/// let url = RepoUrl::parse("http://bot:s3cret@gitea.local:3000/acme/demo.git/").unwrap();
/// assert_eq!(url.web_url().as_deref(), Some("http://gitea.local:3000/acme/demo"));
/// assert_eq!(url.to_string(), "http://bot:***@gitea.local:3000/acme/demo.git/");
///
/// let local = RepoUrl::parse("/srv/git/demo.git").unwrap();
/// assert_eq!((local.scheme(), local.host(), local.web_url()), ("file", None, None));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl {
    original: String,
    url: gix_url::Url,
    /// The repository path: see [`RepoUrl::path`].
    path: String,
}

/// A repository URL that cannot be parsed. The URL it shows is redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository URL {url}: {reason}")]
pub struct InvalidRepoUrl {
    /// The URL, redacted.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RepoUrl {
    /// Parses `url` as git does; the scheme may be written in any case.
    pub fn parse(url: &str) -> Result<RepoUrl, InvalidRepoUrl> {
        let invalid = |reason: String| InvalidRepoUrl {
            url: redact_url(url),
            reason,
        };
        if url.trim().is_empty() {
            return Err(invalid("it is empty".into()));
        }
        let input = match url.split_once("://") {
            Some((scheme, rest)) if scheme.bytes().any(|b| b.is_ascii_uppercase()) => {
                format!("{}://{rest}", scheme.to_ascii_lowercase())
            }
            _ => url.to_owned(),
        };
        let parsed = gix_url::parse(input.as_str()).map_err(|e| {
            let message = e.to_string();
            // gix-url's messages may quote the input, password included.
            match password_of(url) {
                Some(password) if message.contains(password) => invalid("not a git URL".into()),
                _ => invalid(message),
            }
        })?;
        let is_http = matches!(
            parsed.scheme,
            gix_url::Scheme::Http | gix_url::Scheme::Https
        );
        // HTTP paths as written (percent escapes kept), without the query
        // and fragment gix-url leaves in them; other schemes as parsed.
        let raw = if is_http {
            parsed.original_path()
        } else {
            parsed.path.as_ref()
        };
        let raw = String::from_utf8_lossy(raw);
        let raw = if is_http {
            raw.split(['?', '#']).next().unwrap_or_default()
        } else {
            &raw
        };
        let trimmed = raw.trim_matches('/');
        let path = trimmed.strip_suffix(".git").unwrap_or(trimmed).to_owned();
        Ok(RepoUrl {
            original: url.to_owned(),
            url: parsed,
            path,
        })
    }

    /// The URL exactly as given, credentials included: for git itself,
    /// never for logs (use `Display`).
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// `https`, `http`, `ssh` (SCP-like addresses too), `git`, `file`
    /// (local paths too), or a remote helper's name.
    pub fn scheme(&self) -> &str {
        self.url.scheme.as_str()
    }

    /// Whether this is a repository on this machine (`file://` or a path).
    pub fn is_local(&self) -> bool {
        self.url.scheme == gix_url::Scheme::File
    }

    /// The host, lowercased; `None` for local repositories.
    pub fn host(&self) -> Option<&str> {
        self.url.host()
    }

    /// The port, when one is written.
    pub fn port(&self) -> Option<u16> {
        self.url.port
    }

    /// The user name, when one is written.
    pub fn user(&self) -> Option<&str> {
        self.url.user()
    }

    /// The repository's path on its host, as forges name repositories:
    /// without leading and trailing `/`, one `.git` suffix, and (for
    /// HTTP) the query and fragment; percent escapes of HTTP URLs as
    /// written (`acme/demo`, `org/My%20Project/_git/demo`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The origin of the forge's web pages and API: `scheme://host[:port]`
    /// for HTTP(S) URLs, and `https://host` for SSH, SCP-like and `git://`
    /// URLs (their ports are git's, not the web's). `None` for local
    /// repositories and remote helpers.
    pub fn web_origin(&self) -> Option<String> {
        use gix_url::Scheme;
        let host = self.host()?;
        match (&self.url.scheme, self.port()) {
            (Scheme::Http | Scheme::Https, Some(port)) => {
                Some(format!("{}://{host}:{port}", self.scheme()))
            }
            (Scheme::Http | Scheme::Https, None) => Some(format!("{}://{host}", self.scheme())),
            (Scheme::Ssh | Scheme::Git, _) => Some(format!("https://{host}")),
            _ => None,
        }
    }

    /// The host and port the forge's web pages and API answer on (see
    /// [`web_origin`](Self::web_origin)): `host[:port]` for HTTP(S) URLs,
    /// the bare host otherwise; empty for local repositories.
    pub fn web_host(&self) -> String {
        self.web_origin()
            .and_then(|o| o.split_once("://").map(|(_, h)| h.to_owned()))
            .unwrap_or_default()
    }

    /// The repository's web page: [`web_origin`](Self::web_origin) and
    /// [`path`](Self::path), without credentials, escaped as a URL.
    pub fn web_url(&self) -> Option<String> {
        let origin = self.web_origin()?;
        let joined = format!("{origin}/{}", self.path);
        Some(match url::Url::parse(&joined) {
            Ok(u) => u.as_str().trim_end_matches('/').to_owned(),
            Err(_) => joined,
        })
    }

    /// The name of the repository's directory in a repository cache: the
    /// URL made readable (scheme, user information, trailing `/` and `.git`
    /// left out; other characters but letters, digits, `.` and `_` turned
    /// into `-`; at most 60 of them) and the first 12 hex digits of the
    /// SHA-1 of the whole URL as written, so distinct spellings never
    /// share a directory.
    ///
    /// ```
    /// use kargo_core::urls::RepoUrl;
    /// let url = RepoUrl::parse("https://bot:s3cret@example.com/org/repo.git").unwrap();
    /// assert_eq!(url.cache_dir_name(), "example.com-org-repo-c3408a4acd5c");
    /// ```
    pub fn cache_dir_name(&self) -> String {
        let rest = match self.original.split_once("://") {
            Some((_, rest)) => {
                let authority_end = rest.find('/').unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => &rest[at + 1..],
                    None => rest,
                }
            }
            None if self.url.scheme == gix_url::Scheme::Ssh => {
                // SCP-like: the user, if any, comes before the host's colon.
                let colon = self.original.find(':').unwrap_or(self.original.len());
                match self.original[..colon].rfind('@') {
                    Some(at) => &self.original[at + 1..],
                    None => &self.original,
                }
            }
            None => &self.original,
        };
        dir_name(&self.original, rest)
    }

    /// [`cache_dir_name`](Self::cache_dir_name) for any text: a URL that
    /// does not parse is made readable from its last `@` on, so no user
    /// information reaches the file system.
    pub fn cache_dir_name_for(url: &str) -> String {
        match RepoUrl::parse(url) {
            Ok(parsed) => parsed.cache_dir_name(),
            Err(_) => {
                let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
                dir_name(url, rest.rsplit_once('@').map_or(rest, |(_, r)| r))
            }
        }
    }
}

/// `readable` made into a file name, then a hash of `url`.
fn dir_name(url: &str, readable: &str) -> String {
    let hash = hex::encode(Sha1::digest(url.as_bytes()));
    let mut readable: String = readable
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    readable.truncate(60);
    format!("{}-{}", readable.trim_matches('-'), &hash[..12])
}

/// The password of a `scheme://user:password@host/...` URL, if any.
fn password_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

impl fmt::Display for RepoUrl {
    /// The URL as written, its password [redacted](super::redact_url).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.original))
    }
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RepoUrl")
            .field(&redact_url(&self.original))
            .finish()
    }
}

impl std::str::FromStr for RepoUrl {
    type Err = InvalidRepoUrl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoUrl::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, Option<String>, Option<u16>, String) {
        let u = RepoUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
        (
            u.scheme().to_owned(),
            u.host().map(str::to_owned),
            u.port(),
            u.path().to_owned(),
        )
    }

    #[test]
    fn every_form_git_reads_is_taken_apart() {
        let cases = [
            (
                "https://u:s3cret@git.example.com:8443/g/sub/r.git/",
                ("https", Some("git.example.com"), Some(8443), "g/sub/r"),
            ),
            (
                "HTTPS://GitHub.com/Acme/Demo",
                ("https", Some("github.com"), None, "Acme/Demo"),
            ),
            (
                "ssh://git@github.com:22/o/r.git",
                ("ssh", Some("github.com"), Some(22), "o/r"),
            ),
            (
                "git@github.com:o/r.git",
                ("ssh", Some("github.com"), None, "o/r"),
            ),
            ("github.com:o/r", ("ssh", Some("github.com"), None, "o/r")),
            (
                "git://git.example.com/o/r.git",
                ("git", Some("git.example.com"), None, "o/r"),
            ),
            ("file:///srv/git/r.git", ("file", None, None, "srv/git/r")),
            ("/srv/git/r.git", ("file", None, None, "srv/git/r")),
            (
                "https://h/o/r.git?ref=main#x",
                ("https", Some("h"), None, "o/r"),
            ),
            (
                "https://dev.azure.com/org/My%20Project/_git/r",
                (
                    "https",
                    Some("dev.azure.com"),
                    None,
                    "org/My%20Project/_git/r",
                ),
            ),
            // One `.git` goes: a repository may be named `r.git`.
            (
                "https://h/o/r.git.git",
                ("https", Some("h"), None, "o/r.git"),
            ),
        ];
        for (url, (scheme, host, port, path)) in cases {
            assert_eq!(
                parts(url),
                (
                    scheme.to_owned(),
                    host.map(str::to_owned),
                    port,
                    path.to_owned()
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn web_links_keep_http_ports_and_drop_ssh_ones() {
        let cases = [
            ("https://github.com/o/r.git", Some("https://github.com/o/r")),
            ("git@gitlab.com:g/r.git", Some("https://gitlab.com/g/r")),
            (
                "ssh://git@git.example.com:2222/o/r.git",
                Some("https://git.example.com/o/r"),
            ),
            (
                "http://bot:pw@gitea.local:3000/o/r",
                Some("http://gitea.local:3000/o/r"),
            ),
            (
                "https://dev.azure.com/org/My%20Project/_git/r",
                Some("https://dev.azure.com/org/My%20Project/_git/r"),
            ),
            ("file:///srv/git/r.git", None),
            ("/srv/git/r.git", None),
        ];
        for (url, want) in cases {
            let u = RepoUrl::parse(url).unwrap();
            assert_eq!(u.web_url().as_deref(), want, "{url}");
        }
        let u = RepoUrl::parse("http://gitea.local:3000/o/r").unwrap();
        assert_eq!(u.web_host(), "gitea.local:3000");
        let u = RepoUrl::parse("ssh://git@github.com:22/o/r").unwrap();
        assert_eq!(u.web_host(), "github.com");
    }

    #[test]
    fn cache_directory_names_are_those_of_earlier_versions() {
        // Computed by the former kargo-git `dir_name`, whose names users'
        // caches carry.
        let cases = [
            (
                "https://user:s3cret@example.com/org/repo.git",
                "example.com-org-repo-fdf8f7e15e5f",
            ),
            (
                "git@github.com:acme/demo.git",
                "github.com-acme-demo-af8b51eda0c8",
            ),
            ("file:///srv/git/r.git", "srv-git-r-cde409eb30e7"),
            ("/srv/git/r.git", "srv-git-r-b44f0b732c53"),
            (
                "http://127.0.0.1:8080/acme/app.git",
                "127.0.0.1-8080-acme-app-b1be24d6488f",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(RepoUrl::parse(url).unwrap().cache_dir_name(), want, "{url}");
            assert_eq!(RepoUrl::cache_dir_name_for(url), want, "{url}");
        }
        assert_ne!(
            RepoUrl::cache_dir_name_for("https://example.com/a"),
            RepoUrl::cache_dir_name_for("https://example.com/a/")
        );
    }

    #[test]
    fn an_at_sign_in_the_path_keeps_the_host_in_the_cache_name() {
        // The former `dir_name` cut at the last `@` anywhere, so the host
        // and most of the path fell out of the readable part.
        let url = "https://example.com/org/repo@2.git";
        let name = RepoUrl::cache_dir_name_for(url);
        assert!(name.starts_with("example.com-org-repo-2-"), "{name}");
        let name = RepoUrl::cache_dir_name_for("/srv/a@b/repo.git");
        assert!(name.starts_with("srv-a-b-repo-"), "{name}");
    }

    #[test]
    fn secrets_stay_out_of_names_errors_and_debug() {
        let u = RepoUrl::parse("https://bot:s3cret@example.com/o/r.git").unwrap();
        assert!(!u.cache_dir_name().contains("s3cret"));
        assert!(!format!("{u} {u:?}").contains("s3cret"));
        assert_eq!(u.as_str(), "https://bot:s3cret@example.com/o/r.git");
        // gix-url refuses a textual port and quotes the input.
        let err = RepoUrl::parse("ssh://bot:s3cret@example.com:port/o/r").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let name = RepoUrl::cache_dir_name_for("ssh://bot:s3cret@example.com:port/o/r");
        assert!(!name.contains("s3cret"), "{name}");
        assert!(RepoUrl::parse("").is_err());
    }
}
