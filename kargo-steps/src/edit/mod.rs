//! Shared machinery of the file steps: key paths, value rendering as Kargo
//! writes values, and the format editors and readers the file-edit steps
//! ([`crate::file_edit`]) run.
//!
//! Every editor works the same way: parse the file far enough to know the
//! byte span of the value to change, splice the rendered new value over the
//! old one (or insert a new entry), then parse the result again and check
//! that the key holds the new value and every other value is unchanged.
//! Bytes outside the edited spans are never rewritten, which keeps
//! comments, quoting, indentation and line endings as they were.
//!
//! # Memory
//! A file may be as large as the work dir's file size limit (64 MiB by
//! default), and no step may take more than a few times its size. So the
//! JSON and YAML editors keep only the nodes on the updated key's path
//! (YAML's structural edits too: new keys, replaced collections, removed
//! entries, inserted items), the YAML check walks the old and new texts'
//! events side by side, the JSON, TOML and HCL checks and YAML's
//! structural edits compare two compact [`Document`]s ([`expected`]), TOML
//! is read by a compact reader ([`toml_tree`]), a large HCL file is read
//! and planned on in layers, never as one hcl-edit tree (`hcl_layered`),
//! and the parse steps, yaml-merge, kustomize-set-image and
//! helm-update-chart read straight into a [`Document`].
//! `scripts/bench-memory.sh` measures it.
//!
//! [`Document`]: kargo_core::expr::Document

mod expected;
pub(crate) mod hcl;
pub(crate) mod json;
pub(crate) mod toml;
mod toml_tree;
pub(crate) mod yaml;

#[cfg(test)]
mod corpus_tests;

use std::fmt;
use std::path::Path;

use kargo_core::Workspace;
use kargo_core::step::StepError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `{key, value}` entry of an update step's `updates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Update {
    /// The key to set, in sjson path syntax (`image.tag`,
    /// `example\.com/version`, `containers.0.image`).
    pub key: String,
    /// The new value.
    pub value: Value,
}

impl Update {
    /// An update setting `key` to `value`.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Update {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// One `{name, fromExpression}` entry of a parse step's `outputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ParseOutput {
    /// The output's name.
    pub name: String,
    /// A bare expression evaluated against the parsed document.
    pub from_expression: String,
}

/// Why an editor could not apply an update. The file is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// The file does not parse.
    Parse(String),
    /// The update's key cannot be set.
    Key {
        /// The key as given.
        key: String,
        /// Why.
        reason: String,
    },
}

impl EditError {
    pub(crate) fn key(key: &str, reason: impl Into<String>) -> Self {
        EditError::Key {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

impl std::error::Error for EditError {}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Parse(reason) => write!(f, "cannot parse: {reason}"),
            EditError::Key { key, reason } => write!(f, "key `{key}`: {reason}"),
        }
    }
}

/// One segment of a key: its text, and whether a leading unescaped `:`
/// marked it as a map key even where it reads as an index (sjson's
/// `users.:2313.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPart {
    pub(crate) name: String,
    pub(crate) map_key: bool,
}

/// Splits a key as Kargo does (`pkg/sjson.SplitKey`): surrounding spaces
/// are ignored, `.` separates segments, `\.` and `\:` are a literal dot and
/// colon, and a `:` may only open a segment, where it marks a map key. Any
/// other escape, a `:` inside a segment, and empty segments are refused.
pub(crate) fn split_key_parts(key: &str) -> Result<Vec<KeyPart>, EditError> {
    let trimmed = key.trim();
    if trimmed.is_empty() {
        return Err(EditError::key(key, "is empty"));
    }
    let mut parts = Vec::new();
    let mut current = KeyPart {
        name: String::new(),
        map_key: false,
    };
    let mut chars = trimmed.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next @ ('.' | ':')) => current.name.push(next),
                Some(next) => {
                    return Err(EditError::key(
                        key,
                        format!(
                            "has an invalid escape sequence `\\{next}` (only `\\.` and `\\:` exist)"
                        ),
                    ));
                }
                None => return Err(EditError::key(key, "ends with a lone `\\`")),
            },
            '.' => {
                if current.name.is_empty() {
                    return Err(EditError::key(key, "has an empty segment"));
                }
                parts.push(std::mem::replace(
                    &mut current,
                    KeyPart {
                        name: String::new(),
                        map_key: false,
                    },
                ));
            }
            ':' if current.name.is_empty() => current.map_key = true,
            ':' => {
                return Err(EditError::key(
                    key,
                    "has a `:` inside a segment (write `\\:` for a literal colon)",
                ));
            }
            c => current.name.push(c),
        }
    }
    if current.name.is_empty() {
        return Err(EditError::key(key, "has an empty segment"));
    }
    parts.push(current);
    Ok(parts)
}

/// The segments of a key (see [`split_key_parts`]), without the map-key
/// marks.
pub(crate) fn split_key(key: &str) -> Result<Vec<String>, EditError> {
    Ok(split_key_parts(key)?
        .into_iter()
        .map(|part| part.name)
        .collect())
}

/// A segment used as a sequence index.
pub(crate) fn index_of(segment: &str) -> Option<usize> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

/// One splice: replace `range` of the source with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Splice {
    pub(crate) range: std::ops::Range<usize>,
    pub(crate) text: String,
}

impl Splice {
    pub(crate) fn apply(&self, src: &str) -> String {
        let mut out = String::with_capacity(src.len() + self.text.len());
        out.push_str(&src[..self.range.start]);
        out.push_str(&self.text);
        out.push_str(&src[self.range.end..]);
        out
    }
}

/// The line ending a file uses: `\r\n` when its first line ends so.
pub(crate) fn line_ending(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The offset just past the end of the line holding `pos` (after its
/// `\n`), or `None` when that line is the last one and has no newline.
pub(crate) fn next_line_start(src: &str, pos: usize) -> Option<usize> {
    src[pos..].find('\n').map(|i| pos + i + 1)
}

/// The offset of the line break (`\r\n` or `\n`) ending the line holding
/// `pos`, or the end of the source.
pub(crate) fn line_end(src: &str, pos: usize) -> usize {
    match src[pos..].find('\n') {
        Some(i) => {
            let nl = pos + i;
            if nl > 0 && src.as_bytes()[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            }
        }
        None => src.len(),
    }
}

/// The offset where the line holding `pos` starts.
pub(crate) fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// A number as Kargo writes it into YAML and JSON files and commit
/// messages, with one deliberate difference.
///
/// Kargo receives every config number as a Go `float64` and prints it with
/// `%v`: `123.0` becomes `123`, `1.5` stays `1.5`, `0.00001` becomes
/// `1e-05`. That `%v` also turns integral values from a million on into
/// `1e+06`, which YAML 1.1 readers such as Helm read as a string, so
/// integral values are written with all their digits instead.
pub(crate) fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        // Exact below 2^53.
        return format!("{f:.0}");
    }
    go_float(f)
}

/// Go's `%v` of a finite `float64`: the shortest digits that read back
/// exactly, in exponent form (`1.5e+06`, `1e-05`) when the exponent is
/// below -4 or at least 6.
pub(crate) fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `%v` rendering of a JSON value, as Kargo's commit messages use it
/// (numbers as [`number_text`] writes them).
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Number(n) => number_text(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_format(v)))
                .collect();
            parts.sort();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// Commit-message rendering of a value for formats whose strings are
/// always quoted (JSON, TOML, HCL): strings quoted, the rest as Go's `%v`.
pub(crate) fn quoted_commit_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        other => go_format(other),
    }
}

/// Go's `%q` rendering of a string.
pub(crate) fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Reads a UTF-8 text file (a regular file within the workspace's size
/// limit), with errors naming the path as configured.
pub(crate) fn read_text(
    workspace: &Workspace,
    abs: &Path,
    shown: &str,
) -> Result<String, StepError> {
    let bytes = workspace.read_file(abs, shown)?;
    String::from_utf8(bytes)
        .map_err(|_| StepError::terminal(format!("cannot read `{shown}`: not valid UTF-8")))
}

/// Runs blocking file work on tokio's blocking pool when inside a runtime,
/// inline otherwise.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StepError>
where
    F: FnOnce() -> Result<T, StepError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| StepError::terminal("file step panicked").with_source(e))?,
        Err(_) => f(),
    }
}

/// A format editor: applies all updates to a source text.
#[cfg(test)]
pub(crate) type Editor = fn(&str, &[Update]) -> Result<String, EditError>;

/// The lines that differ between two texts, as `-old` / `+new` pairs, for
/// snapshot tests of whole files.
#[cfg(test)]
pub(crate) fn changed_lines(before: &str, after: &str) -> String {
    let old: Vec<&str> = before.split('\n').collect();
    let new: Vec<&str> = after.split('\n').collect();
    // Longest common subsequence of lines, then walk it.
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("{:>3} -{}\n", i + 1, old[i]));
            i += 1;
        } else {
            out.push_str(&format!("{:>3} +{}\n", j + 1, new[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kargo's `pkg/sjson/split_key_test.go` table, case by case.
    #[test]
    fn keys_split_as_kargo_splits_them() {
        let refused = [
            ("", "is empty"),
            (".foo", "empty segment"),
            ("foo.", "empty segment"),
            ("foo..bar", "empty segment"),
            (r"foo\nbar", "invalid escape sequence `\\n`"),
            ("foo:bar", "`:` inside a segment"),
            ("a\\", "lone"),
        ];
        for (key, why) in refused {
            let err = split_key(key).expect_err(key).to_string();
            assert!(err.contains(why), "{key:?}: {err}");
            assert!(err.contains(&format!("`{key}`")), "names the key: {err}");
        }
        assert_eq!(
            split_key("foo.bar.bat.baz").unwrap(),
            ["foo", "bar", "bat", "baz"]
        );
        assert_eq!(
            split_key(r"foo\.bar.bat\.baz").unwrap(),
            ["foo.bar", "bat.baz"]
        );
        assert_eq!(
            split_key(r"foo.bar\:bat.baz").unwrap(),
            ["foo", "bar:bat", "baz"]
        );
        assert_eq!(
            split_key("foo.bar.:2.baz").unwrap(),
            ["foo", "bar", "2", "baz"]
        );
        assert_eq!(split_key("  image.tag ").unwrap(), ["image", "tag"]);
        let parts = split_key_parts("users.:2313.name").unwrap();
        assert_eq!(
            parts.iter().map(|p| p.map_key).collect::<Vec<_>>(),
            [false, true, false]
        );
    }

    #[test]
    fn numbers_read_as_kargo_writes_them() {
        let text = |v: Value| match v {
            Value::Number(n) => number_text(&n),
            _ => unreachable!("numbers only"),
        };
        // Go's `%v` of the float64 Kargo holds.
        assert_eq!(text(serde_json::json!(123.0)), "123");
        assert_eq!(text(serde_json::json!(1.5)), "1.5");
        assert_eq!(text(serde_json::json!(-0.25)), "-0.25");
        assert_eq!(text(serde_json::json!(0.00001)), "1e-05");
        assert_eq!(text(serde_json::json!(1234567.5)), "1.2345675e+06");
        assert_eq!(text(serde_json::json!(0.0001)), "0.0001");
        // The deliberate difference: Go writes `1e+06`.
        assert_eq!(text(serde_json::json!(1000000.0)), "1000000");
        assert_eq!(text(serde_json::json!(1000000)), "1000000");
    }
}
