//! Canonical forms of repository URLs, exactly as Kargo computes them.
//!
//! Kargo compares repository URLs, and hashes them into Freight IDs, after
//! normalizing them. To produce the same Freight IDs as Kargo, kargo-rs must
//! normalize byte for byte the same way, including Kargo's quirks. The rules
//! below are those of Kargo's `pkg/urls` package, which builds on Go's
//! `net/url` (Go 1.26, with its strict handling of colons in hosts) and on
//! go-containerregistry's reference parser (v0.21). The private `go_url`
//! module reproduces the parts of Go's URL parser and printer they rely on.
//!
//! Every function is total: input that cannot be normalized comes back
//! unchanged, as in Kargo.
//!
//! [`redact_url`], kargo-rs's own, hides the secrets a URL may carry before
//! it is shown. [`RepoUrl`] is a repository location parsed as git reads
//! it, for everything else kargo-rs does with one: forge links, cache
//! directory names. [`Forge`] says which hosting service a host is, and
//! gives its repository and commit links.
//!
//! ```
//! use kargo_core::urls::{normalize_chart, normalize_git, normalize_image};
//!
//! assert_eq!(
//!     normalize_git("git@GitHub.com:acme/Demo.git/"),
//!     "ssh://git@github.com/acme/demo"
//! );
//! assert_eq!(
//!     normalize_git("https://user:secret@github.com/acme/demo.git"),
//!     "https://github.com/acme/demo"
//! );
//! assert_eq!(normalize_chart("oci://GHCR.io/acme/charts/demo"), "ghcr.io/acme/charts/demo");
//! assert_eq!(normalize_image("docker.io/library/nginx"), "nginx");
//! ```

mod forge;
mod repo_url;
pub use forge::Forge;
pub use repo_url::{InvalidRepoUrl, RepoUrl};

/// `url` as errors and logs may show it: a password in the user
/// information becomes `***` (the user name stays), and so does the value
/// of every query parameter (tokens and signatures travel there; the names
/// stay). Anything that is not `scheme://...` comes back unchanged.
///
/// This is the one redaction of kargo-rs: git remotes, state database URLs
/// and the http step's URLs all go through it.
///
/// ```
/// use kargo_core::urls::redact_url;
/// assert_eq!(
///     redact_url("https://bot:s3cret@git.example.com/r.git"),
///     "https://bot:***@git.example.com/r.git"
/// );
/// assert_eq!(
///     redact_url("postgres://db.internal/kargo?sslmode=require&password=x"),
///     "postgres://db.internal/kargo?sslmode=***&password=***"
/// );
/// assert_eq!(redact_url("state/kargo.db"), "state/kargo.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) => format!("{name}=***"),
                    None => pair.to_owned(),
                })
                .collect();
            out.push_str(&masked.join("&"));
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Removes the characters Go does not consider printable (control and
/// format characters such as byte order marks and zero-width spaces, and
/// every kind of space except U+0020) from anywhere in `url`, then trims
/// leading and trailing whitespace.
///
/// This is Kargo's `SanitizeURL`: such characters sneak in through
/// copy-and-paste and break URL parsing.
///
/// One approximation: Go also drops code points that are unassigned in its
/// Unicode tables; those are kept here.
pub fn sanitize_url(url: &str) -> String {
    url.chars()
        .filter(|&c| is_go_printable(c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Normalizes a Git repository URL the way Kargo does, for comparisons and
/// for Freight IDs.
///
/// The URL is lowercased and sanitized (see [`sanitize_url`]); then:
/// - `http://` and `https://` URLs lose their user info, one trailing `/`
///   and then one trailing `.git`;
/// - `ssh://` URLs lose one trailing `/` and then one trailing `.git`, but
///   keep their user;
/// - SCP-style addresses (`[user@]host[:path]`) become `ssh://[user@]host[/path]`,
///   with the same trimming of the path.
///
/// The URL is returned unchanged (not even lowercased) when Go's URL parser
/// rejects it, when an HTTP(S) or SSH URL has query parameters, or when it
/// is in none of those forms.
///
/// ```
/// use kargo_core::urls::normalize_git;
/// assert_eq!(normalize_git("https://GitHub.com/Acme/Demo/"), "https://github.com/acme/demo");
/// assert_eq!(normalize_git("ssh://git@localhost:2222/acme/demo.git"), "ssh://git@localhost:2222/acme/demo");
/// assert_eq!(normalize_git("github.com:acme/demo.git"), "ssh://github.com/acme/demo");
/// assert_eq!(normalize_git("https://github.com/acme/demo?ref=main"), "https://github.com/acme/demo?ref=main");
/// ```
pub fn normalize_git(repo: &str) -> String {
    let url = sanitize_url(&go_to_lower(repo));

    let is_http = url.starts_with("http://") || url.starts_with("https://");
    if is_http || url.starts_with("ssh://") {
        let Ok(mut parsed) = go_url::Url::parse(url.as_bytes()) else {
            return repo.to_owned();
        };
        if parsed.query_param_count() > 0 {
            return repo.to_owned();
        }
        if is_http {
            parsed.user = None;
        }
        trim_suffix(&mut parsed.path, b"/");
        trim_suffix(&mut parsed.path, b".git");
        return parsed.to_string();
    }

    let Some((user_host, path)) = match_scp(&url) else {
        return repo.to_owned();
    };
    let Ok(mut path_url) = go_url::Url::parse(path.as_bytes()) else {
        return repo.to_owned();
    };
    trim_suffix(&mut path_url.path, b"/");
    trim_suffix(&mut path_url.path, b".git");
    if path_url.path.is_empty() {
        format!("ssh://{user_host}")
    } else {
        format!("ssh://{user_host}/{path_url}")
    }
}

/// Normalizes a Helm chart repository URL the way Kargo does: sanitized,
/// lowercased, without an `oci://` prefix, and then normalized as an image
/// repository (see [`normalize_image`]), which folds the many spellings of
/// Docker Hub repositories into one.
///
/// Classic HTTP(S) chart repository URLs mostly come back lowercased and
/// otherwise unchanged. The URL is returned unchanged when Go's URL parser
/// rejects it.
///
/// ```
/// use kargo_core::urls::normalize_chart;
/// assert_eq!(normalize_chart("oci://registry-1.docker.io/bitnamicharts/nginx"), "bitnamicharts/nginx");
/// assert_eq!(normalize_chart("https://Charts.Example.com/stable"), "https://charts.example.com/stable");
/// ```
pub fn normalize_chart(repo: &str) -> String {
    let url = sanitize_url(repo);
    if go_url::Url::parse(url.as_bytes()).is_err() {
        return repo.to_owned();
    }
    let lower = go_to_lower(&url);
    normalize_image(lower.strip_prefix("oci://").unwrap_or(&lower))
}

/// Normalizes a container image repository the way Kargo does: sanitized
/// and lowercased, any tag or digest dropped, and Docker Hub repositories
/// written without their registry (`docker.io`, `index.docker.io` or
/// `registry-1.docker.io`) and without the implicit `library/` namespace.
/// Repositories of other registries come back as `registry/repository`.
///
/// The input is returned unchanged when it is not an image reference
/// (as go-containerregistry's weak validation judges it).
///
/// ```
/// use kargo_core::urls::normalize_image;
/// assert_eq!(normalize_image("index.docker.io/library/busybox"), "busybox");
/// assert_eq!(normalize_image("GHCR.io/acme/demo:v1.2.3"), "ghcr.io/acme/demo");
/// assert_eq!(normalize_image("not an image"), "not an image");
/// ```
pub fn normalize_image(repo: &str) -> String {
    let reference = sanitize_url(&go_to_lower(repo));
    match image_ref::parse(&reference) {
        Some((registry, repository)) => {
            if registry == image_ref::DEFAULT_REGISTRY || registry == "registry-1.docker.io" {
                repository
                    .strip_prefix("library/")
                    .unwrap_or(&repository)
                    .to_owned()
            } else {
                format!("{registry}/{repository}")
            }
        }
        None => repo.to_owned(),
    }
}

/// `s` percent-encoded except for RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`): safe as one URL path segment, query value or
/// form field, and the encoding AWS signatures use.
///
/// ```
/// assert_eq!(kargo_core::urls::percent_encode("group/sub group~1"), "group%2Fsub%20group~1");
/// ```
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `s` with every `%XX` escape decoded, the inverse of [`percent_encode`]
/// for any input: a `%` not followed by two hex digits stays as it is, and
/// bytes that are not UTF-8 become U+FFFD. For the user and password of a
/// URL's user info, and request paths.
///
/// ```
/// assert_eq!(kargo_core::urls::percent_decode("p%40ss%2Fw%zz"), "p@ss/w%zz");
/// ```
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a `host[:port]` (an image registry, a URL's authority without
/// credentials) names the local machine: `localhost` or a loopback IP.
/// Registries there are spoken to over plain HTTP.
///
/// ```
/// use kargo_core::urls::is_loopback_host;
/// assert!(is_loopback_host("127.0.0.1:5000"));
/// assert!(is_loopback_host("[::1]:5000"));
/// assert!(is_loopback_host("localhost"));
/// assert!(!is_loopback_host("registry.example.com:5000"));
/// ```
pub fn is_loopback_host(host_port: &str) -> bool {
    let host = host_port
        .rsplit_once(':')
        .filter(|(h, port)| !h.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host_port, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Joins two slash-separated paths and cleans the result lexically, as Go's
/// `path.Join` does: empty elements are ignored, repeated slashes collapse,
/// `.` and `..` elements are resolved. Kargo uses it to append a chart's
/// name to its repository URL (`https://x/` + `nginx` gives `https:/x/nginx`).
pub(crate) fn go_path_join(first: &str, second: &str) -> String {
    let joined = match (first.is_empty(), second.is_empty()) {
        (true, true) => return String::new(),
        (false, true) => first.to_owned(),
        (true, false) => second.to_owned(),
        (false, false) => format!("{first}/{second}"),
    };
    go_path_clean(&joined)
}

/// Go's `path.Clean`.
fn go_path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                if kept.last().is_some_and(|last| *last != "..") {
                    kept.pop();
                } else if !rooted {
                    kept.push("..");
                }
            }
            other => kept.push(other),
        }
    }
    let body = kept.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

fn trim_suffix(bytes: &mut Vec<u8>, suffix: &[u8]) {
    if bytes.ends_with(suffix) {
        bytes.truncate(bytes.len() - suffix.len());
    }
}

/// Go's `strings.ToLower`: per code point, with Go's one-to-one mappings
/// (U+0130 becomes `i`, where Rust would produce two code points).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_ascii_lowercase()
            } else if c == '\u{130}' {
                'i'
            } else {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            }
        })
        .collect()
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space. Unassigned code points cannot be told apart without
/// Unicode tables and count as printable here.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let cp = u32::from(c);
    let format_or_private = matches!(
        cp,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xE000..=0xF8FF
            | 0xF0000..=0x10FFFF
            | 0xFDD0..=0xFDEF
    );
    let noncharacter = cp & 0xFFFE == 0xFFFE;
    !(format_or_private || noncharacter)
}

/// Matches Kargo's SCP-style pattern, `^((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?$`
/// with ASCII word characters, and returns the user-and-host part and the
/// path (empty when there is no `:`).
fn match_scp(url: &str) -> Option<(&str, &str)> {
    fn word_run(s: &[u8], from: usize) -> usize {
        s[from..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
            .count()
    }
    let bytes = url.as_bytes();
    let mut pos = 0;
    // An optional `user@`.
    let first = word_run(bytes, 0);
    if first > 0 && bytes.get(first) == Some(&b'@') {
        pos = first + 1;
    }
    // The host: words separated by single dots.
    let host = word_run(bytes, pos);
    if host == 0 {
        return None;
    }
    pos += host;
    while bytes.get(pos) == Some(&b'.') {
        let next = word_run(bytes, pos + 1);
        if next == 0 {
            return None;
        }
        pos += 1 + next;
    }
    match bytes.get(pos) {
        None => Some((url, "")),
        // `.` in the pattern stops at line feeds; sanitized input has none,
        // but stay faithful.
        Some(b':') if !url[pos + 1..].contains('\n') => Some((&url[..pos], &url[pos + 1..])),
        Some(_) => None,
    }
}

/// go-containerregistry's `name.ParseReference` with weak validation,
/// reduced to what Kargo reads from it: the registry and the repository.
mod image_ref {
    use super::go_url;

    /// Docker Hub's registry, the default.
    pub(super) const DEFAULT_REGISTRY: &str = "index.docker.io";
    const TAG_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";

    /// The registry and the repository (with Docker Hub's implicit
    /// `library/` made explicit) of a tag or digest reference.
    pub(super) fn parse(reference: &str) -> Option<(String, String)> {
        tag_reference(reference).or_else(|| digest_reference(reference))
    }

    fn has_only(element: &str, allowed: &str, min: usize, max: usize) -> bool {
        let count = element.chars().count();
        (min..=max).contains(&count) && element.chars().all(|c| allowed.contains(c))
    }

    fn tag_reference(name: &str) -> Option<(String, String)> {
        let mut base = name;
        if let Some((head, tag)) = name.rsplit_once(':')
            && !tag.contains('/')
        {
            if tag.is_empty() || !has_only(tag, TAG_CHARS, 1, 128) {
                return None;
            }
            base = head;
        }
        repository(base)
    }

    fn digest_reference(name: &str) -> Option<(String, String)> {
        let mut parts = name.split('@');
        let (Some(mut base), Some(digest), None) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let full;
        if let Some((registry, repo)) = tag_reference(base) {
            full = format!("{registry}/{repo}");
            base = &full;
        }
        repository(base)
    }

    fn repository(name: &str) -> Option<(String, String)> {
        if name.is_empty() {
            return None;
        }
        let (mut registry, mut repo) = ("", name);
        if let Some((first, rest)) = name.split_once('/')
            && (first == "localhost" || first.contains(['.', ':']))
        {
            registry = first;
            repo = rest;
        }
        if !has_only(repo, REPOSITORY_CHARS, 2, 255) {
            return None;
        }
        // A registry must be a URI authority that Go's parser keeps as is.
        let authority = go_url::Url::parse(format!("//{registry}").as_bytes()).ok()?;
        if authority.host != registry.as_bytes() {
            return None;
        }
        let registry = match registry {
            "" | "docker.io" => DEFAULT_REGISTRY,
            other => other,
        };
        let repo = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo.to_owned()
        };
        Some((registry.to_owned(), repo))
    }
}

/// The parts of Go's `net/url` (Go 1.26) that Kargo's normalization relies
/// on: `Parse`, `String`, `Query` (only how many keys it finds) and the
/// escaping rules behind them. Strings are bytes, as in Go.
mod go_url {
    use std::fmt;
    use std::net::Ipv6Addr;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Path,
        Host,
        Zone,
        UserPassword,
        QueryComponent,
        Fragment,
    }

    /// The error of a failed parse. Kargo never looks at the reason.
    #[derive(Debug)]
    pub(super) struct Invalid;

    type Parsed<T> = Result<T, Invalid>;

    /// A parsed URL, field for field Go's `url.URL`.
    #[derive(Debug, Default)]
    pub(super) struct Url {
        scheme: Vec<u8>,
        opaque: Vec<u8>,
        /// User name and optional password, unescaped.
        pub(super) user: Option<(Vec<u8>, Option<Vec<u8>>)>,
        pub(super) host: Vec<u8>,
        pub(super) path: Vec<u8>,
        raw_path: Vec<u8>,
        omit_host: bool,
        force_query: bool,
        raw_query: Vec<u8>,
        fragment: Vec<u8>,
        raw_fragment: Vec<u8>,
    }

    fn is_hex(b: u8) -> bool {
        b.is_ascii_hexdigit()
    }

    fn hex_value(b: u8) -> u8 {
        match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0,
        }
    }

    /// RFC 3986's sub-delimiters, which every check below lets through
    /// somewhere.
    const SUB_DELIMS: &[u8] = b"!$&'()*+,;=";

    /// Whether Go escapes byte `c` when writing a URL component in `mode`.
    fn should_escape(c: u8, mode: Mode) -> bool {
        if c.is_ascii_alphanumeric() {
            return false;
        }
        if matches!(mode, Mode::Host | Mode::Zone)
            && (SUB_DELIMS.contains(&c) || b":[]<>\"".contains(&c))
        {
            return false;
        }
        match c {
            b'-' | b'_' | b'.' | b'~' => return false,
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
                return match mode {
                    Mode::Path => c == b'?',
                    Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                    Mode::QueryComponent => true,
                    Mode::Fragment => false,
                    Mode::Host | Mode::Zone => true,
                };
            }
            _ => {}
        }
        if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
            return false;
        }
        true
    }

    fn unescape(s: &[u8], mode: Mode) -> Parsed<Vec<u8>> {
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'%' => {
                    if i + 2 >= s.len() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]) {
                        return Err(Invalid);
                    }
                    let escape = &s[i..i + 3];
                    if mode == Mode::Host && hex_value(s[i + 1]) < 8 && escape != b"%25" {
                        return Err(Invalid);
                    }
                    if mode == Mode::Zone {
                        let v = hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]);
                        if escape != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                            return Err(Invalid);
                        }
                    }
                    i += 3;
                }
                c => {
                    if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode)
                    {
                        return Err(Invalid);
                    }
                    i += 1;
                }
            }
        }
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'%' => {
                    out.push(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
                    i += 3;
                }
                b'+' if mode == Mode::QueryComponent => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Ok(out)
    }

    fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = Vec::with_capacity(s.len());
        for &c in s {
            if c == b' ' && mode == Mode::QueryComponent {
                out.push(b'+');
            } else if should_escape(c, mode) {
                out.extend([b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            } else {
                out.push(c);
            }
        }
        out
    }

    fn valid_encoded(s: &[u8], mode: Mode) -> bool {
        s.iter()
            .all(|&c| SUB_DELIMS.contains(&c) || b":@[]%".contains(&c) || !should_escape(c, mode))
    }

    fn cut(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
        match s.iter().position(|&b| b == sep) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    }

    /// Splits off a scheme (`letter *(letter / digit / "+" / "-" / ".") ":"`).
    fn split_scheme(raw: &[u8]) -> Parsed<(&[u8], &[u8])> {
        for (i, &c) in raw.iter().enumerate() {
            match c {
                b'a'..=b'z' | b'A'..=b'Z' => {}
                b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
                b':' if i == 0 => return Err(Invalid),
                b':' => return Ok((&raw[..i], &raw[i + 1..])),
                _ => return Ok((b"", raw)),
            }
        }
        Ok((b"", raw))
    }

    fn valid_optional_port(port: &[u8]) -> bool {
        match port.split_first() {
            None => true,
            Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
            Some(_) => false,
        }
    }

    fn parse_host(host: &[u8]) -> Parsed<Vec<u8>> {
        match host.iter().rposition(|&b| b == b'[') {
            // A bracket anywhere but at the start.
            Some(i) if i > 0 => Err(Invalid),
            Some(_) => {
                let close = host.iter().rposition(|&b| b == b']').ok_or(Invalid)?;
                let port = &host[close + 1..];
                if !valid_optional_port(port) {
                    return Err(Invalid);
                }
                let literal = &host[1..close];
                let (address, zone) = match literal.windows(3).position(|w| w == b"%25") {
                    Some(z) => (
                        unescape(&literal[..z], Mode::Host)?,
                        unescape(&literal[z..], Mode::Zone)?,
                    ),
                    None => (unescape(literal, Mode::Host)?, Vec::new()),
                };
                // Go 1.26 accepts only IPv6 addresses between brackets.
                let text = std::str::from_utf8(&address).map_err(|_| Invalid)?;
                if text.parse::<Ipv6Addr>().is_err() {
                    return Err(Invalid);
                }
                let mut out = Vec::with_capacity(host.len());
                out.push(b'[');
                out.extend(address);
                out.extend(zone);
                out.push(b']');
                out.extend(unescape(port, Mode::Host)?);
                Ok(out)
            }
            None => {
                // Go 1.26 is strict: the first colon starts the port.
                if let Some(i) = host.iter().position(|&b| b == b':')
                    && !valid_optional_port(&host[i..])
                {
                    return Err(Invalid);
                }
                unescape(host, Mode::Host)
            }
        }
    }

    fn valid_userinfo(s: &[u8]) -> bool {
        s.iter().all(|&c| {
            c.is_ascii_alphanumeric() || SUB_DELIMS.contains(&c) || b"-._:~%@".contains(&c)
        })
    }

    type Authority = (Option<(Vec<u8>, Option<Vec<u8>>)>, Vec<u8>);

    fn parse_authority(authority: &[u8]) -> Parsed<Authority> {
        let at = authority.iter().rposition(|&b| b == b'@');
        let host = parse_host(match at {
            Some(i) => &authority[i + 1..],
            None => authority,
        })?;
        let Some(i) = at else {
            return Ok((None, host));
        };
        let userinfo = &authority[..i];
        if !valid_userinfo(userinfo) {
            return Err(Invalid);
        }
        let user = match cut(userinfo, b':') {
            (name, None) => (unescape(name, Mode::UserPassword)?, None),
            (name, Some(password)) => (
                unescape(name, Mode::UserPassword)?,
                Some(unescape(password, Mode::UserPassword)?),
            ),
        };
        Ok((Some(user), host))
    }

    impl Url {
        /// Go's `url.Parse`.
        pub(super) fn parse(raw: &[u8]) -> Parsed<Url> {
            let (without_fragment, fragment) = cut(raw, b'#');
            let mut url = Self::parse_reference(without_fragment)?;
            if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                let decoded = unescape(fragment, Mode::Fragment)?;
                url.raw_fragment = if escape(&decoded, Mode::Fragment) == fragment {
                    Vec::new()
                } else {
                    fragment.to_vec()
                };
                url.fragment = decoded;
            }
            Ok(url)
        }

        fn parse_reference(raw: &[u8]) -> Parsed<Url> {
            if raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
                return Err(Invalid);
            }
            let mut url = Url::default();
            if raw == b"*" {
                url.path = b"*".to_vec();
                return Ok(url);
            }
            let (scheme, mut rest) = split_scheme(raw)?;
            url.scheme = scheme.to_ascii_lowercase();

            if rest.ends_with(b"?") && rest.iter().filter(|&&b| b == b'?').count() == 1 {
                url.force_query = true;
                rest = &rest[..rest.len() - 1];
            } else {
                let (before, query) = cut(rest, b'?');
                rest = before;
                url.raw_query = query.unwrap_or_default().to_vec();
            }

            if !rest.starts_with(b"/") {
                if !url.scheme.is_empty() {
                    url.opaque = rest.to_vec();
                    return Ok(url);
                }
                if cut(rest, b'/').0.contains(&b':') {
                    return Err(Invalid);
                }
            }

            if (!url.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
                let after = &rest[2..];
                let (authority, path) = match after.iter().position(|&b| b == b'/') {
                    Some(i) => (&after[..i], &after[i..]),
                    None => (after, &b""[..]),
                };
                let (user, host) = parse_authority(authority)?;
                url.user = user;
                url.host = host;
                rest = path;
            } else if !url.scheme.is_empty() && rest.starts_with(b"/") {
                url.omit_host = true;
            }

            let path = unescape(rest, Mode::Path)?;
            url.raw_path = if escape(&path, Mode::Path) == rest {
                Vec::new()
            } else {
                rest.to_vec()
            };
            url.path = path;
            Ok(url)
        }

        /// How many distinct keys Go's `URL.Query()` finds.
        pub(super) fn query_param_count(&self) -> usize {
            let mut keys: Vec<Vec<u8>> = Vec::new();
            for pair in self.raw_query.split(|&b| b == b'&') {
                if pair.is_empty() || pair.contains(&b';') {
                    continue;
                }
                let (key, value) = cut(pair, b'=');
                let (Ok(key), Ok(_)) = (
                    unescape(key, Mode::QueryComponent),
                    unescape(value.unwrap_or_default(), Mode::QueryComponent),
                ) else {
                    continue;
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            keys.len()
        }

        fn escaped_path(&self) -> Vec<u8> {
            if !self.raw_path.is_empty()
                && valid_encoded(&self.raw_path, Mode::Path)
                && unescape(&self.raw_path, Mode::Path).is_ok_and(|p| p == self.path)
            {
                return self.raw_path.clone();
            }
            if self.path == b"*" {
                return b"*".to_vec();
            }
            escape(&self.path, Mode::Path)
        }

        fn escaped_fragment(&self) -> Vec<u8> {
            if !self.raw_fragment.is_empty()
                && valid_encoded(&self.raw_fragment, Mode::Fragment)
                && unescape(&self.raw_fragment, Mode::Fragment).is_ok_and(|f| f == self.fragment)
            {
                return self.raw_fragment.clone();
            }
            escape(&self.fragment, Mode::Fragment)
        }

        /// Go's `URL.String()`, as bytes.
        fn to_bytes(&self) -> Vec<u8> {
            let mut buf = Vec::new();
            if !self.scheme.is_empty() {
                buf.extend(&self.scheme);
                buf.push(b':');
            }
            if !self.opaque.is_empty() {
                buf.extend(&self.opaque);
            } else {
                let has_authority =
                    !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
                let host_omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
                if has_authority && !host_omitted {
                    if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                        buf.extend(b"//");
                    }
                    if let Some((name, password)) = &self.user {
                        buf.extend(escape(name, Mode::UserPassword));
                        if let Some(password) = password {
                            buf.push(b':');
                            buf.extend(escape(password, Mode::UserPassword));
                        }
                        buf.push(b'@');
                    }
                    buf.extend(escape(&self.host, Mode::Host));
                }
                let path = self.escaped_path();
                if !path.is_empty() && path[0] != b'/' && !self.host.is_empty() {
                    buf.push(b'/');
                }
                if buf.is_empty() && cut(&path, b'/').0.contains(&b':') {
                    buf.extend(b"./");
                }
                buf.extend(path);
            }
            if self.force_query || !self.raw_query.is_empty() {
                buf.push(b'?');
                buf.extend(&self.raw_query);
            }
            if !self.fragment.is_empty() {
                buf.push(b'#');
                buf.extend(self.escaped_fragment());
            }
            buf
        }
    }

    impl fmt::Display for Url {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every case of Kargo's `TestSanitizeURL` (pkg/urls/common_test.go),
    // plus a no-break space.
    #[test]
    fn sanitize_removes_unprintable_and_trims() {
        let cases = [
            ("https://example.com/ myrepo", "https://example.com/ myrepo"),
            (
                "https://example.com/\u{200B}myrepo",
                "https://example.com/myrepo",
            ),
            ("  https://example.com/repo  ", "https://example.com/repo"),
            (
                "\n\thttps://example.com/repo\t\n",
                "https://example.com/repo",
            ),
            (
                "\u{FEFF}https://example.com/repo",
                "https://example.com/repo",
            ),
            (
                "https://example.com/\u{200B}repo",
                "https://example.com/repo",
            ),
            (
                "https://example.com/repo\u{FEFF}",
                "https://example.com/repo",
            ),
            (
                "\u{FEFF} https://example.com/\u{200B}repo \u{FEFF}",
                "https://example.com/repo",
            ),
            (
                "\u{FEFF} \n https://example.com/\trepo \u{200B} \n ",
                "https://example.com/repo",
            ),
            ("https://example.com/repo", "https://example.com/repo"),
            ("ftp://example.com/resource", "ftp://example.com/resource"),
            ("   ", ""),
            ("", ""),
            // Spaces inside stay; other unprintable characters go.
            (
                "https://example.com/ my-repo",
                "https://example.com/ my-repo",
            ),
            ("https://example.com/\u{00A0}x", "https://example.com/x"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_url(input), want, "input {input:?}");
        }
    }

    // The tests below hold every case of Kargo's `TestNormalizeGit`
    // (pkg/urls/git_test.go), with `acme` for `example` in the paths, split
    // by form, plus Go URL quirks Kargo's table does not reach.
    #[test]
    fn normalize_git_leaves_what_it_cannot_parse() {
        let cases = [
            "https://not a url",
            "http://github.com/acme/repo?foo=bar",
            "ssh://not a url",
            "ssh://github.com/acme/repo?foo=bar",
            "not even remotely a url",
            // Kept as written, upper case included, when unparseable.
            "HTTPS://GitHub.com/Acme/Repo?Ref=Main",
            // Go 1.26 rejects a second colon in a host.
            "https://localhost:80:80/acme/repo",
            "https://github.com:abc/acme/repo",
            "https://[not-ipv6]/acme/repo",
        ];
        for input in cases {
            assert_eq!(normalize_git(input), input, "input {input:?}");
        }
    }

    #[test]
    fn normalize_git_http_forms() {
        // The 16 combinations of: credentials, port, `.git`, trailing slash.
        let cases = [
            ("https://github.com", "https://github.com"),
            ("https://github.com/", "https://github.com"),
            ("https://foo:bar@github.com", "https://github.com"),
            ("https://foo:bar@github.com/", "https://github.com"),
            (
                "https://github.com/acme/repo",
                "https://github.com/acme/repo",
            ),
            (
                "https://github.com/acme/repo/",
                "https://github.com/acme/repo",
            ),
            (
                "https://github.com/acme/repo.git",
                "https://github.com/acme/repo",
            ),
            (
                "https://github.com/acme/repo.git/",
                "https://github.com/acme/repo",
            ),
            (
                "https://localhost:8443/acme/repo",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://localhost:8443/acme/repo/",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://localhost:8443/acme/repo.git",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://localhost:8443/acme/repo.git/",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://foo:bar@github.com/acme/repo",
                "https://github.com/acme/repo",
            ),
            (
                "https://foo:bar@github.com/acme/repo/",
                "https://github.com/acme/repo",
            ),
            (
                "https://foo:bar@github.com/acme/repo.git",
                "https://github.com/acme/repo",
            ),
            (
                "https://foo:bar@github.com/acme/repo.git/",
                "https://github.com/acme/repo",
            ),
            (
                "https://foo:bar@localhost:8443/acme/repo",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://foo:bar@localhost:8443/acme/repo/",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://foo:bar@localhost:8443/acme/repo.git",
                "https://localhost:8443/acme/repo",
            ),
            (
                "https://foo:bar@localhost:8443/acme/repo.git/",
                "https://localhost:8443/acme/repo",
            ),
            // Lowercased, http kept as http.
            (
                "HTTP://GitHub.com/Acme/Repo.GIT",
                "http://github.com/acme/repo",
            ),
            // Only one `/` and one `.git` go.
            (
                "https://github.com/acme/repo.git.git",
                "https://github.com/acme/repo.git",
            ),
            (
                "https://github.com/acme/repo//",
                "https://github.com/acme/repo/",
            ),
            // An empty query and a fragment survive.
            (
                "https://github.com/acme/repo?",
                "https://github.com/acme/repo?",
            ),
            (
                "https://github.com/acme/repo#main",
                "https://github.com/acme/repo#main",
            ),
            // Escapes: kept as written unless the path was trimmed.
            (
                "https://github.com/acme/my%20repo",
                "https://github.com/acme/my%20repo",
            ),
            ("https://github.com/acme/a!b", "https://github.com/acme/a!b"),
            (
                "https://github.com/acme/a!b.git",
                "https://github.com/acme/a%21b",
            ),
            (
                "https://[::1]:8443/acme/repo.git",
                "https://[::1]:8443/acme/repo",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_git(input), want, "input {input:?}");
        }
    }

    #[test]
    fn normalize_git_ssh_forms() {
        // The 16 combinations of: user, port, `.git`, trailing slash.
        let cases = [
            ("ssh://git.example.com", "ssh://git.example.com"),
            ("ssh://git.example.com/", "ssh://git.example.com"),
            ("ssh://git@git.example.com", "ssh://git@git.example.com"),
            ("ssh://git@git.example.com/", "ssh://git@git.example.com"),
            ("ssh://github.com/acme/repo", "ssh://github.com/acme/repo"),
            ("ssh://github.com/acme/repo/", "ssh://github.com/acme/repo"),
            (
                "ssh://github.com/acme/repo.git",
                "ssh://github.com/acme/repo",
            ),
            (
                "ssh://github.com/acme/repo.git/",
                "ssh://github.com/acme/repo",
            ),
            (
                "ssh://localhost:2222/acme/repo",
                "ssh://localhost:2222/acme/repo",
            ),
            (
                "ssh://localhost:2222/acme/repo/",
                "ssh://localhost:2222/acme/repo",
            ),
            (
                "ssh://localhost:2222/acme/repo.git",
                "ssh://localhost:2222/acme/repo",
            ),
            (
                "ssh://localhost:2222/acme/repo.git/",
                "ssh://localhost:2222/acme/repo",
            ),
            (
                "ssh://git@github.com/acme/repo",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "ssh://git@github.com/acme/repo/",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "ssh://git@github.com/acme/repo.git",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "ssh://git@github.com/acme/repo.git/",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "ssh://git@localhost:2222/acme/repo",
                "ssh://git@localhost:2222/acme/repo",
            ),
            (
                "ssh://git@localhost:2222/acme/repo/",
                "ssh://git@localhost:2222/acme/repo",
            ),
            (
                "ssh://git@localhost:2222/acme/repo.git",
                "ssh://git@localhost:2222/acme/repo",
            ),
            (
                "ssh://git@localhost:2222/acme/repo.git/",
                "ssh://git@localhost:2222/acme/repo",
            ),
            // SSH keeps a password, re-escaped the Go way.
            ("ssh://git:p!w@host/repo", "ssh://git:p%21w@host/repo"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_git(input), want, "input {input:?}");
        }
    }

    #[test]
    fn normalize_git_scp_forms() {
        let cases = [
            ("git.example.com", "ssh://git.example.com"),
            ("git@git.example.com", "ssh://git@git.example.com"),
            ("github.com:acme/repo", "ssh://github.com/acme/repo"),
            ("github.com:acme/repo/", "ssh://github.com/acme/repo"),
            ("github.com:acme/repo.git", "ssh://github.com/acme/repo"),
            ("github.com:acme/repo.git/", "ssh://github.com/acme/repo"),
            ("git@github.com:acme/repo", "ssh://git@github.com/acme/repo"),
            (
                "git@github.com:acme/repo/",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "git@github.com:acme/repo.git",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "git@github.com:acme/repo.git/",
                "ssh://git@github.com/acme/repo",
            ),
            (
                "Git@GitHub.com:Acme/Repo.git",
                "ssh://git@github.com/acme/repo",
            ),
            // An empty path gives the bare host.
            ("git@github.com:", "ssh://git@github.com"),
            // A path Go reads as `scheme:opaque` has an empty path.
            ("git@github.com:a:b/c", "ssh://git@github.com"),
            // A path that Go cannot parse leaves the address as it was.
            ("git@github.com:1a:b/c", "git@github.com:1a:b/c"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_git(input), want, "input {input:?}");
        }
    }

    // Every case of Kargo's `TestNormalizeChart` (pkg/urls/helm_test.go),
    // with `acme` for `example`, then kargo-rs's own.
    #[test]
    fn normalize_chart_forms() {
        let cases = [
            ("", ""),
            ("repo", "repo"),
            ("  repo  ", "repo"),
            ("REpo", "repo"),
            ("oci://repo", "repo"),
            ("  oci://repo  ", "repo"),
            ("OCI://Repo", "repo"),
            ("oci://docker.io/acme/repo", "acme/repo"),
            ("docker.io/acme/repo", "acme/repo"),
            ("oci://index.docker.io/acme/repo", "acme/repo"),
            ("index.docker.io/acme/repo", "acme/repo"),
            ("oci://registry-1.docker.io/acme/repo", "acme/repo"),
            ("registry-1.docker.io/acme/repo", "acme/repo"),
            ("oci://ghcr.io/acme/charts/demo", "ghcr.io/acme/charts/demo"),
            (
                "oci://localhost:5000/charts/demo",
                "localhost:5000/charts/demo",
            ),
            // Classic repositories: lowercased, otherwise as written.
            ("https://Charts.Example.com", "https://charts.example.com"),
            ("https://charts.example.com/", "https://charts.example.com/"),
            (
                "https://charts.example.com:8443/x",
                "https://charts.example.com:8443/x",
            ),
            // Unparseable: returned exactly as given.
            ("https://Not A Url", "https://Not A Url"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_chart(input), want, "input {input:?}");
        }
    }

    // Every case of Kargo's `TestNormalizeImage` (pkg/urls/image_test.go),
    // with `acme` for `example`, then kargo-rs's own.
    #[test]
    fn normalize_image_forms() {
        let cases = [
            ("index.docker.io/library/busybox", "busybox"),
            ("index.docker.io/busybox", "busybox"),
            ("registry-1.docker.io/library/busybox", "busybox"),
            ("registry-1.docker.io/busybox", "busybox"),
            ("docker.io/library/busybox", "busybox"),
            ("docker.io/busybox", "busybox"),
            ("library/busybox", "busybox"),
            ("busybox", "busybox"),
            ("index.docker.io/acme/repo", "acme/repo"),
            ("docker.io/acme/repo", "acme/repo"),
            ("acme/repo", "acme/repo"),
            ("ghcr.io/acme/repo", "ghcr.io/acme/repo"),
            ("quay.io/acme/repo", "quay.io/acme/repo"),
            ("invalid url", "invalid url"),
            // Tags and digests are dropped.
            ("ghcr.io/acme/repo:v1.0.0", "ghcr.io/acme/repo"),
            (
                "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "nginx",
            ),
            ("localhost/acme", "localhost/acme"),
            ("localhost:5000/acme", "localhost:5000/acme"),
            // Too short a repository, an empty tag.
            ("x", "x"),
            ("nginx:", "nginx:"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_image(input), want, "input {input:?}");
        }
    }

    #[test]
    fn redaction_hides_passwords_and_query_values_only() {
        let cases = [
            (
                "postgres://app:s3cr%40t@db.internal:5432/kargo?sslmode=disable",
                "postgres://app:***@db.internal:5432/kargo?sslmode=***",
            ),
            (
                "postgres://postgres@127.0.0.1/test",
                "postgres://postgres@127.0.0.1/test",
            ),
            // An `@` after the authority is not user information.
            ("postgres://db/k@x", "postgres://db/k@x"),
            ("https://u:p@h?x=1", "https://u:***@h?x=***"),
            (
                "https://user:pw@example.com/a/b?token=secret&flag#frag",
                "https://user:***@example.com/a/b?token=***&flag#frag",
            ),
            ("http://example.com/", "http://example.com/"),
            ("file:///srv/git/r.git", "file:///srv/git/r.git"),
            (
                "git@github.com:acme/demo.git",
                "git@github.com:acme/demo.git",
            ),
            ("not a url", "not a url"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn path_join_cleans_like_go() {
        let cases = [
            ("", "", ""),
            ("a", "", "a"),
            ("", "b", "b"),
            ("a", "b", "a/b"),
            (
                "https://charts.example.com",
                "nginx",
                "https:/charts.example.com/nginx",
            ),
            (
                "https://charts.example.com/",
                "",
                "https:/charts.example.com",
            ),
            ("a/../..", "b", "../b"),
            ("/a/../..", "b", "/b"),
            ("a/./b/", "./c", "a/b/c"),
            ("a", "..", "."),
        ];
        for (first, second, want) in cases {
            assert_eq!(go_path_join(first, second), want, "{first:?} + {second:?}");
        }
    }
}
