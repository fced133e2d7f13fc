//! Semantic versions and constraints as Kargo reads them (the Go library
//! Masterminds/semver v3): a `v` prefix, missing minor or patch numbers,
//! wildcards (`1.2.x`), `||`, `,`- or space-separated comparators, hyphen
//! ranges, `~`, `^`, and prereleases that only satisfy a constraint whose
//! comparator has a prerelease itself.
//!
//! One implementation serves the Warehouse sources (selecting tags and
//! chart versions) and the expressions' `semverParse()` and `semverDiff()`.
//!
//! ```
//! use kargo_core::semver::{Constraint, Version};
//!
//! let v = Version::parse("v1.4", false).unwrap();
//! assert_eq!((v.major(), v.minor(), v.patch()), (1, 4, 0));
//! assert!(Constraint::parse("^1.2").unwrap().matches(&v));
//! assert!(Version::parse("v1.4", true).is_err(), "strict needs all three numbers");
//! ```

use std::cmp::Ordering;
use std::fmt;

use semver::Prerelease;

/// A version parsed from a tag or a string, keeping the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Prerelease,
    metadata: String,
    original: String,
}

/// A version that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semantic version {text:?}: {reason}")]
pub struct InvalidVersion {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Version {
    /// Parses `text` loosely (`v1`, `1.2`, `1.2.3-rc.1+build`), or, when
    /// `strict`, only with all of major, minor and patch and no leading
    /// zeros (a `v` prefix is still allowed), as Kargo's `strictSemvers`
    /// does.
    pub fn parse(text: &str, strict: bool) -> Result<Version, InvalidVersion> {
        let invalid = |reason: String| InvalidVersion {
            text: text.to_owned(),
            reason,
        };
        let body = text.strip_prefix('v').unwrap_or(text);
        let (core, metadata) = match body.split_once('+') {
            Some((core, metadata)) => (core, Some(metadata)),
            None => (body, None),
        };
        if let Some(metadata) = metadata
            && !valid_identifiers(metadata)
        {
            return Err(invalid(format!("invalid metadata {metadata:?}")));
        }
        let (numbers, pre) = match core.split_once('-') {
            Some((numbers, pre)) => (numbers, Some(pre)),
            None => (core, None),
        };
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.len() > 3 || (strict && parts.len() != 3) {
            let wanted = if strict {
                "MAJOR.MINOR.PATCH"
            } else {
                "MAJOR[.MINOR[.PATCH]]"
            };
            return Err(invalid(format!("not {wanted}")));
        }
        let mut nums = [0u64; 3];
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("{part:?} is not a number")));
            }
            if strict && part.len() > 1 && part.starts_with('0') {
                return Err(invalid(format!("{part:?} starts with 0")));
            }
            nums[i] = part
                .parse()
                .map_err(|e| invalid(format!("number {part:?}: {e}")))?;
        }
        if let Some(zero) = pre.and_then(|pre| {
            pre.split('.').find(|id| {
                id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
            })
        }) {
            return Err(invalid(format!(
                "prerelease segment {zero:?} starts with 0"
            )));
        }
        let pre = match pre {
            Some(pre) if valid_identifiers(pre) => {
                Prerelease::new(pre).map_err(|e| invalid(format!("prerelease {pre:?}: {e}")))?
            }
            Some(pre) => return Err(invalid(format!("invalid prerelease {pre:?}"))),
            None => Prerelease::EMPTY,
        };
        Ok(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            metadata: metadata.unwrap_or_default().to_owned(),
            original: text.to_owned(),
        })
    }

    /// The release `major.minor.patch`, written with this version's `v`
    /// prefix if it had one (what `IncMajor()` and friends return).
    #[must_use]
    pub fn release(&self, major: u64, minor: u64, patch: u64) -> Version {
        let mut next = version(major, minor, patch);
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        next.original = format!("{prefix}{next}");
        next
    }

    /// The text the version was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number (0 when the text had none).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number (0 when the text had none).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The prerelease (`rc.1` of `1.2.3-rc.1`), empty when none.
    pub fn prerelease(&self) -> &str {
        self.pre.as_str()
    }

    /// The build metadata (`b.5` of `1.2.3+b.5`), empty when none.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }

    fn has_pre(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl fmt::Display for Version {
    /// The canonical form: `MAJOR.MINOR.PATCH[-PRE][+METADATA]`, without a
    /// `v` (see [`Version::original`] for the text as given).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn valid_identifiers(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl Ord for Version {
    /// Precedence as in SemVer 2.0 (build metadata ignored); equal
    /// precedence falls back to the original text so sorting is total.
    fn cmp(&self, other: &Self) -> Ordering {
        precedence(self, other).then_with(|| self.original.cmp(&other.original))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares precedence only (not the original text).
fn precedence(a: &Version, b: &Version) -> Ordering {
    a.triple().cmp(&b.triple()).then_with(|| a.pre.cmp(&b.pre))
}

/// A constraint such as `^1.2`, `>=1.0.0 <2.0.0 || 3.x` or `1.2 - 1.4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    text: String,
    /// Alternatives (`||`), each a conjunction of comparators.
    any_of: Vec<Vec<Comparator>>,
}

/// A constraint that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint `{constraint}`: {reason}")]
pub struct ConstraintError {
    constraint: String,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// A version in a constraint: missing or wildcard parts are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

impl Partial {
    fn dirty(&self) -> bool {
        self.major.is_none() || self.minor.is_none() || self.patch.is_none()
    }

    fn floor(&self) -> Version {
        Version {
            major: self.major.unwrap_or(0),
            minor: self.minor.unwrap_or(0),
            patch: self.patch.unwrap_or(0),
            pre: self.pre.clone(),
            metadata: String::new(),
            original: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    v: Partial,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn version(major: u64, minor: u64, patch: u64) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: Prerelease::EMPTY,
        metadata: String::new(),
        original: String::new(),
    }
}

impl Constraint {
    /// Parses a constraint; the error names it and says what is wrong.
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        let err = |reason: String| ConstraintError {
            constraint: text.to_owned(),
            reason,
        };
        let mut any_of = Vec::new();
        for alternative in text.split("||") {
            let tokens = tokenize(alternative).map_err(err)?;
            if tokens.is_empty() {
                return Err(err("an alternative is empty".into()));
            }
            let mut all_of = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                // A hyphen range: `A - B`.
                if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                    let lo = parse_partial(&tokens[i]).map_err(err)?;
                    let hi = parse_partial(&tokens[i + 2]).map_err(err)?;
                    all_of.push(Comparator { op: Op::Ge, v: lo });
                    all_of.push(Comparator { op: Op::Le, v: hi });
                    i += 3;
                    continue;
                }
                all_of.push(parse_comparator(&tokens[i]).map_err(err)?);
                i += 1;
            }
            any_of.push(all_of);
        }
        Ok(Constraint {
            text: text.to_owned(),
            any_of,
        })
    }

    /// Whether `v` satisfies the constraint.
    pub fn matches(&self, v: &Version) -> bool {
        self.any_of
            .iter()
            .any(|all_of| all_of.iter().all(|c| c.matches(v)))
    }
}

/// Splits an alternative into comparator tokens: an operator is glued to
/// the version after it (`>= 1.2` becomes `>=1.2`), `,` and spaces separate.
fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending_op = String::new();
    for raw in s.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        if raw
            .chars()
            .all(|c| matches!(c, '<' | '>' | '=' | '!' | '~' | '^'))
        {
            pending_op.push_str(raw);
            continue;
        }
        if raw == "-" && pending_op.is_empty() {
            out.push(raw.to_owned());
            continue;
        }
        out.push(format!("{pending_op}{raw}"));
        pending_op.clear();
    }
    if !pending_op.is_empty() {
        return Err(format!("operator `{pending_op}` has no version"));
    }
    Ok(out)
}

fn parse_comparator(token: &str) -> Result<Comparator, String> {
    const OPS: [(&str, Op); 11] = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("~>", Op::Tilde),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let (op, rest) = OPS
        .iter()
        .find_map(|(p, op)| token.strip_prefix(p).map(|rest| (*op, rest)))
        .unwrap_or((Op::Eq, token));
    Ok(Comparator {
        op,
        v: parse_partial(rest.trim())?,
    })
}

fn parse_partial(s: &str) -> Result<Partial, String> {
    let body = s.strip_prefix('v').unwrap_or(s);
    let core = body.split_once('+').map_or(body, |(c, _)| c);
    let (numbers, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.len() > 3 || numbers.is_empty() {
        return Err(format!("`{s}` is not a version"));
    }
    let mut nums: [Option<u64>; 3] = [None; 3];
    let mut wild = false;
    for (i, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            wild = true;
            continue;
        }
        if wild {
            return Err(format!("`{s}`: a number follows a wildcard"));
        }
        nums[i] = Some(
            part.parse()
                .map_err(|_| format!("`{s}` is not a version"))?,
        );
    }
    let pre = match pre {
        Some(p) if valid_identifiers(p) => Prerelease::new(p).map_err(|e| format!("`{s}`: {e}"))?,
        Some(_) => return Err(format!("`{s}` has an invalid prerelease")),
        None => Prerelease::EMPTY,
    };
    Ok(Partial {
        major: nums[0],
        minor: nums[1],
        patch: nums[2],
        pre,
    })
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        // Prereleases only satisfy comparators that name a prerelease.
        if v.has_pre() && self.v.pre.is_empty() {
            return false;
        }
        let c = &self.v;
        let floor = c.floor();
        let ge = |x: &Version| precedence(v, x) != Ordering::Less;
        let lt = |x: &Version| precedence(v, x) == Ordering::Less;
        match self.op {
            Op::Eq => self.in_wildcard_range(v),
            Op::Ne => !self.in_wildcard_range(v),
            Op::Gt => match (c.major, c.minor, c.patch) {
                (None, _, _) => false,
                (Some(maj), None, _) => v.major > maj,
                (Some(maj), Some(min), None) => v.major > maj || (v.major == maj && v.minor > min),
                _ => precedence(v, &floor) == Ordering::Greater,
            },
            Op::Lt => lt(&floor),
            Op::Ge => ge(&floor),
            Op::Le => match (c.major, c.minor, c.patch) {
                (None, _, _) => true,
                (Some(maj), None, _) => lt(&version(maj + 1, 0, 0)),
                (Some(maj), Some(min), None) => lt(&version(maj, min + 1, 0)),
                _ => precedence(v, &floor) != Ordering::Greater,
            },
            Op::Tilde => {
                let upper = match (c.major, c.minor) {
                    (None, _) => return true,
                    (Some(maj), None) => version(maj + 1, 0, 0),
                    (Some(maj), Some(min)) => version(maj, min + 1, 0),
                };
                ge(&floor) && lt(&upper)
            }
            Op::Caret => {
                let upper = match (c.major, c.minor, c.patch) {
                    (None, _, _) => return true,
                    (Some(0), None, _) => version(1, 0, 0),
                    (Some(0), Some(0), None) => version(0, 1, 0),
                    (Some(0), Some(0), Some(p)) => version(0, 0, p + 1),
                    (Some(0), Some(min), _) => version(0, min + 1, 0),
                    (Some(maj), _, _) => version(maj + 1, 0, 0),
                };
                ge(&floor) && lt(&upper)
            }
        }
    }

    /// `=` with wildcards or missing parts is a range (`1.2` = `1.2.x`).
    fn in_wildcard_range(&self, v: &Version) -> bool {
        let c = &self.v;
        if !c.dirty() {
            return precedence(v, &c.floor()) == Ordering::Equal;
        }
        match (c.major, c.minor) {
            (None, _) => true,
            (Some(maj), None) => v.major == maj,
            (Some(maj), Some(min)) => v.major == maj && v.minor == min,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s, false).unwrap_or_else(|e| panic!("{e}"))
    }

    fn matches(c: &str, ver: &str) -> bool {
        Constraint::parse(c).expect("constraint").matches(&v(ver))
    }

    #[test]
    fn loose_and_strict_parsing() {
        for ok in ["1", "v1", "1.2", "1.2.3", "v1.2.3-rc.1+b.5", "01.2.3"] {
            assert!(Version::parse(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "", "latest", "1.2.3.4", "1..2", "1.2.3-", "abc123", "1.2.3-01",
        ] {
            assert!(Version::parse(bad, false).is_err(), "{bad}");
        }
        assert!(Version::parse("v1.2.3", true).is_ok());
        for not_strict in ["1", "1.2", "01.2.3"] {
            assert!(Version::parse(not_strict, true).is_err(), "{not_strict}");
        }
    }

    // Every case of Kargo's `TestParse` (pkg/controller/semver/parser_test.go),
    // the parse behind `strictSemvers` in image and git tag selection.
    #[test]
    fn kargo_parse_cases() {
        let cases = [
            ("invalid", true, None),
            ("invalid", false, None),
            ("1", true, None),
            ("1", false, Some("1.0.0")),
            ("1.0.0", true, Some("1.0.0")),
            ("1.0.0", false, Some("1.0.0")),
            ("v1.0.0", true, Some("1.0.0")),
            ("v1.0.0", false, Some("1.0.0")),
        ];
        for (tag, strict, want) in cases {
            let got = Version::parse(tag, strict).ok();
            assert_eq!(
                got.as_ref().map(ToString::to_string).as_deref(),
                want,
                "{tag} strict={strict}"
            );
            if let Some(v) = got {
                assert_eq!(v.original(), tag);
            }
        }
    }

    // Every case of Kargo's `Test_baseSelector_filterSemvers`
    // (pkg/helm/chart/base_selector_test.go): the chart versions a
    // `semverConstraint` keeps.
    #[test]
    fn kargo_chart_constraint_filter_cases() {
        let cases: [(&str, &[&str], &[&str]); 5] = [
            ("^1.2.3", &[], &[]),
            ("=4.5.6", &["1.2.3", "4.5.6", "7.8.9"], &["4.5.6"]),
            (">=4.5.6 <7.8.9", &["1.2.3", "4.5.6", "7.8.9"], &["4.5.6"]),
            (
                "1.2.x-0",
                &["1.2.3-alpha.1", "1.2.3-beta.2", "1.3.0"],
                &["1.2.3-alpha.1", "1.2.3-beta.2"],
            ),
            ("1.2.x", &["1.2.3", "1.2.4", "1.3.0"], &["1.2.3", "1.2.4"]),
        ];
        for (constraint, versions, want) in cases {
            let c = Constraint::parse(constraint).expect("constraint");
            let kept: Vec<&str> = versions
                .iter()
                .copied()
                .filter(|ver| c.matches(&v(ver)))
                .collect();
            assert_eq!(kept, want, "{constraint}");
        }
        // Test_baseSelector_semversToVersionStrings: versions print as
        // written, prerelease and metadata included.
        for text in ["1.2.3", "4.5.6-beta.2", "7.8.9+build.3"] {
            assert_eq!(v(text).to_string(), text);
        }
    }

    #[test]
    fn errors_say_what_is_wrong_and_display_is_canonical() {
        let e = Version::parse("1.2.3-01", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid semantic version \"1.2.3-01\": prerelease segment \"01\" starts with 0"
        );
        assert!(
            Version::parse("1.2", true)
                .unwrap_err()
                .reason
                .contains("MAJOR.MINOR.PATCH")
        );
        let v = v("v1.2-rc.1+b.5");
        assert_eq!(v.to_string(), "1.2.0-rc.1+b.5");
        assert_eq!(
            (v.prerelease(), v.metadata(), v.original()),
            ("rc.1", "b.5", "v1.2-rc.1+b.5")
        );
        assert_eq!(v.release(1, 3, 0).original(), "v1.3.0");
    }

    #[test]
    fn ordering_follows_semver_precedence() {
        let mut vs = [
            v("1.10.0"),
            v("1.2.0"),
            v("1.2.0-rc.1"),
            v("2.0.0-alpha"),
            v("1.2.0-beta"),
        ];
        vs.sort();
        let order: Vec<_> = vs.iter().map(Version::original).collect();
        assert_eq!(
            order,
            ["1.2.0-beta", "1.2.0-rc.1", "1.2.0", "1.10.0", "2.0.0-alpha"]
        );
    }

    #[test]
    fn constraints_like_masterminds() {
        assert!(matches("^1.2", "1.9.0"));
        assert!(!matches("^1.2", "2.0.0"));
        assert!(!matches("^1.2", "1.1.9"));
        assert!(matches("^0.2.3", "0.2.9"));
        assert!(!matches("^0.2.3", "0.3.0"));
        assert!(matches("~1.2.3", "1.2.9"));
        assert!(!matches("~1.2.3", "1.3.0"));
        assert!(matches("1.2", "1.2.7"));
        assert!(!matches("1.2", "1.3.0"));
        assert!(matches("1.2.x", "1.2.0"));
        assert!(matches(">= 1.0, < 2.0", "1.5.0"));
        assert!(matches(">=1.0 <2.0", "1.5.0"));
        assert!(!matches(">=1.0 <2.0", "2.0.0"));
        assert!(matches("<1.0 || >=3", "3.1.0"));
        assert!(matches("1.2 - 1.4", "1.4.9"));
        assert!(!matches("1.2 - 1.4", "1.5.0"));
        assert!(matches("> 1.2", "1.3.0"));
        assert!(!matches("> 1.2", "1.2.9"));
        assert!(matches("!=1.2.3", "1.2.4"));
        assert!(matches("*", "9.9.9"));
    }

    #[test]
    fn prereleases_need_a_prerelease_comparator() {
        assert!(!matches("^1.0.0", "1.1.0-rc.1"));
        assert!(!matches("*", "1.0.0-rc.1"));
        assert!(matches(">=1.1.0-0", "1.1.0-rc.1"));
    }

    #[test]
    fn bad_constraints_are_errors() {
        for bad in ["", "not-a-version", ">=", "1.x.2", "1.2 ||"] {
            assert!(Constraint::parse(bad).is_err(), "{bad}");
        }
    }
}
