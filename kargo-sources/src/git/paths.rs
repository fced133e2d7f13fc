//! `includePaths` / `excludePaths` selectors, read as Kargo reads them:
//! `glob:PATTERN` (doublestar syntax: `*` within one directory, `**`
//! across directories, `?`, `[...]`, `{a,b}`), `regex:PATTERN` or
//! `regexp:PATTERN` (an unanchored search), and anything else a base
//! directory: the path itself and everything under it.

use globset::{GlobBuilder, GlobMatcher};
use regex_lite::Regex;

/// One path selector.
#[derive(Debug, Clone)]
enum Selector {
    Glob(GlobMatcher),
    Regex(Regex),
    BaseDir(String),
}

impl Selector {
    fn parse(field: &'static str, text: &str) -> Result<Selector, super::Error> {
        let invalid = |reason: String| super::Error::invalid(field, format!("`{text}`: {reason}"));
        if let Some(glob) = text.strip_prefix("glob:") {
            let glob = GlobBuilder::new(glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(e.kind().to_string()))?;
            return Ok(Selector::Glob(glob.compile_matcher()));
        }
        if let Some(re) = text
            .strip_prefix("regex:")
            .or_else(|| text.strip_prefix("regexp:"))
        {
            return Regex::new(re)
                .map(Selector::Regex)
                .map_err(|e| invalid(e.to_string()));
        }
        Ok(Selector::BaseDir(text.to_owned()))
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Selector::Glob(g) => g.is_match(path),
            Selector::Regex(r) => r.is_match(path),
            Selector::BaseDir(base) => in_base_dir(base, path),
        }
    }
}

/// Whether `path` is `base` or lies under it: Go's
/// `!strings.Contains(filepath.Rel(base, path), "..")`, which Kargo uses.
fn in_base_dir(base: &str, path: &str) -> bool {
    let (base, path) = (clean(base), clean(path));
    if base.starts_with('/') != path.starts_with('/') {
        return false; // filepath.Rel fails
    }
    let rel = if base == path {
        "."
    } else if base == "." {
        path.as_str()
    } else if let Some(rest) = path.strip_prefix(base.as_str()).and_then(|r| {
        r.strip_prefix('/')
            .or(if base == "/" { Some(r) } else { None })
    }) {
        rest
    } else {
        // Rel climbs out of base with `..`.
        return false;
    };
    !rel.contains("..")
}

/// Go's `path.Clean`: no empty, `.` or resolvable `..` elements.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The compiled `includePaths` and `excludePaths` of a subscription.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathFilter {
    include: Option<Vec<Selector>>,
    exclude: Option<Vec<Selector>>,
}

impl PathFilter {
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<PathFilter, super::Error> {
        let compile = |field, list: &[String]| -> Result<Option<Vec<Selector>>, super::Error> {
            if list.is_empty() {
                return Ok(None);
            }
            list.iter()
                .map(|s| Selector::parse(field, s))
                .collect::<Result<_, _>>()
                .map(Some)
        };
        Ok(PathFilter {
            include: compile("includePaths", include)?,
            exclude: compile("excludePaths", exclude)?,
        })
    }

    /// With only base-directory `includePaths` (no glob, regex or `.`),
    /// those directories, cleaned: a commit whose tree has the same
    /// objects at them as its parent's cannot match, whatever the
    /// exclusions, so the diff can be skipped.
    pub(crate) fn include_dirs(&self) -> Option<Vec<String>> {
        self.include
            .as_ref()?
            .iter()
            .map(|s| match s {
                Selector::BaseDir(base) => {
                    let base = clean(base);
                    (base != "." && !base.starts_with('/') && !base.starts_with(".."))
                        .then_some(base)
                }
                _ => None,
            })
            .collect()
    }

    /// Whether there is any selector at all.
    pub(crate) fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// Whether a commit changing `paths` counts: some path is included
    /// (every path is, without `includePaths`) and not excluded.
    pub(crate) fn matches<S: AsRef<str>>(&self, paths: &[S]) -> bool {
        let any = |list: &[Selector], p: &str| list.iter().any(|s| s.matches(p));
        paths.iter().map(AsRef::as_ref).any(|p| {
            self.include.as_deref().is_none_or(|inc| any(inc, p))
                && !self.exclude.as_deref().is_some_and(|exc| any(exc, p))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> PathFilter {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PathFilter::new(&own(include), &own(exclude)).expect("valid selectors")
    }

    #[test]
    fn base_dirs_match_themselves_and_what_is_under_them() {
        let f = filter(&["apps/guestbook"], &[]);
        assert!(f.matches(&["apps/guestbook/values.yaml"]));
        assert!(f.matches(&["apps/guestbook"]));
        assert!(!f.matches(&["apps/guestbook-v2/values.yaml"]));
        assert!(!f.matches(&["apps/other.yaml", "README.md"]));
        // Trailing slashes and `./` are cleaned away, as filepath.Rel does.
        assert!(filter(&["./apps/"], &[]).matches(&["apps/x"]));
        // Go's check is a substring test, so `..` anywhere in the rest fails.
        assert!(!f.matches(&["apps/guestbook/a..b"]));
        assert!(filter(&["."], &[]).matches(&["anything/at/all"]));
    }

    #[test]
    fn globs_keep_stars_within_a_directory() {
        let f = filter(&["glob:apps/*/values.yaml"], &[]);
        assert!(f.matches(&["apps/a/values.yaml"]));
        assert!(!f.matches(&["apps/a/b/values.yaml"]));
        let f = filter(&["glob:apps/**/*.yaml"], &[]);
        assert!(f.matches(&["apps/a/b/values.yaml"]));
        assert!(f.matches(&["apps/x.yaml"]));
        assert!(filter(&["glob:{a,b}/*.md"], &[]).matches(&["b/x.md"]));
    }

    #[test]
    fn regexes_search_anywhere_in_the_path() {
        let f = filter(&["regex:guestbook/.*\\.ya?ml$"], &[]);
        assert!(f.matches(&["apps/guestbook/values.yml"]));
        assert!(!f.matches(&["apps/guestbook/README.md"]));
        assert!(filter(&["regexp:^docs/"], &[]).matches(&["docs/x"]));
    }

    #[test]
    fn exclusions_apply_to_included_paths() {
        let f = filter(&["apps/guestbook"], &["glob:**/README.md"]);
        assert!(!f.matches(&["apps/guestbook/README.md"]));
        assert!(f.matches(&["apps/guestbook/README.md", "apps/guestbook/values.yaml"]));
        let only_exclude = filter(&[], &["docs"]);
        assert!(!only_exclude.matches(&["docs/a.md"]));
        assert!(only_exclude.matches(&["docs/a.md", "src/main.rs"]));
        assert!(!only_exclude.matches::<&str>(&[]));
    }

    #[test]
    fn bad_selectors_name_the_field() {
        let err = PathFilter::new(&["regex:(".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("includePaths"), "{err}");
        let err = PathFilter::new(&[], &["glob:a/[".into()]).unwrap_err();
        assert!(err.to_string().contains("excludePaths"), "{err}");
    }

    /// Kargo's TestBaseSelector_MatchesPaths
    /// (`pkg/controller/git/commit/base_selector_test.go`), case by case.
    #[test]
    fn kargo_matches_paths() {
        let diffs = ["path1/values.yaml", "path2/_helpers.tpl"];
        let abs = [
            "abc", "abb", "aba", "abz", "aby", "abx", "abw", "abv", "abu",
        ];
        let mix1: Vec<&str> = diffs
            .iter()
            .chain(&abs)
            .chain(&["path3/abc/abd/abe/deployment.yaml", "path4.txt"])
            .copied()
            .collect();
        let mix3: Vec<&str> = diffs.iter().chain(&abs).copied().collect();
        // (name, includePaths, excludePaths, changed paths, matches)
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str], bool);
        let cases: [Case<'_>; 13] = [
            (
                "no includePaths configured",
                &[],
                &["regexp:nonexistent"],
                &diffs,
                true,
            ),
            (
                "matching regexp filters",
                &["regexp:values\\.ya?ml$"],
                &["regex:nonexistent"],
                &diffs,
                true,
            ),
            (
                "unmatching regexp filters",
                &["regexp:values\\.ya?ml$"],
                &["regex:nonexistent", "regexp:.*val.*"],
                &diffs,
                false,
            ),
            (
                "matching glob filters",
                &["glob:path2/*.tpl"],
                &["nonexistent"],
                &diffs,
                true,
            ),
            (
                "unmatching glob filters",
                &["path2/*.tpl"],
                &["regex:nonexistent", "*/?helpers.tpl"],
                &diffs,
                false,
            ),
            (
                "matching prefix filters",
                &["path1/"],
                &["nonexistent"],
                &diffs,
                true,
            ),
            (
                "unmatching prefix filters",
                &["path3/"],
                &["regex:nonexistent", "*/?helpers.tpl"],
                &diffs,
                false,
            ),
            (
                "unmatching mix1",
                &["path3", "regex:nonexistent", "glob:nonexistent"],
                &["regex:nonexistent", "*/?helpers.tpl", "glob:nonexistent"],
                &diffs,
                false,
            ),
            (
                "unmatching mix2",
                &["path1", "regex:[_-]", "glob:nonexistent"],
                &[
                    "regex:nonexistent",
                    "path1",
                    "path1",
                    "glob:*.tpl",
                    "glob:*/*.tpl",
                    "glob:*.tpl",
                    "path1",
                ],
                &[
                    "path1/values.yaml",
                    "path2/_helpers.tpl",
                    "path2/ingress.yaml",
                ],
                false,
            ),
            (
                "unmatching mix3",
                &["path1/f", "regexp:path[1-3]", "glob:file*"],
                &[
                    "regex:\\d",
                    "yaml",
                    "glob:*.tpl",
                    "glob:*.tpl",
                    "nonexistent",
                ],
                &["path1/file1", "path2/file2", "path3/file3"],
                false,
            ),
            ("unmatching, no config", &[], &[], &[], false),
            (
                "matching mix1",
                &[
                    "path1",
                    "regex:[_-]",
                    "glob:nonexistent",
                    "regex:no",
                    "glob:*/*/*/abe/*",
                ],
                &[
                    "regex:nonexistent",
                    "path1",
                    "path1",
                    "glob:*.tpl",
                    "glob:*/*.tpl",
                    "glob:*.tpl",
                    "regexp:.*q",
                ],
                &mix1,
                true,
            ),
            (
                "matching mix3, no includePaths",
                &[],
                &["regexp:ab[cbazxwvu]", "helpers.tpl", "glob:path*/*"],
                &mix3,
                true,
            ),
        ];
        for (name, include, exclude, paths, want) in cases {
            assert_eq!(filter(include, exclude).matches(paths), want, "{name}");
        }
    }
}
