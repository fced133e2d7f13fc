//! `yaml-merge`: merges YAML files, in order, into one file.
//!
//! The first file is the base and each later one is laid over it, as
//! Kargo documents: mappings merge key by key, recursively; a scalar or a
//! sequence of a later file replaces the earlier value (sequences are not
//! merged item by item); a key set to `null` removes the key; keys found in
//! one file only are kept. A later file whose document is not a mapping
//! (or that is laid over one that is not) replaces what came before.
//!
//! Beyond Kargo, the result is the base file's text edited in place, with
//! the same editor as `yaml-update`: the base's comments, key order, quoting
//! and layout are kept, and only merged values change. New keys and
//! replaced block collections are written in block style, values that sat
//! on their key's line (scalars, flow collections) stay there in flow
//! style; comments of later files are not carried over. Empty files add nothing; missing files fail the step unless
//! `ignoreMissingFiles` is set, and when no file is left, the output is an
//! empty file. The output is written atomically, its directories created.
//!
//! Output: `commitMessage` (`Wrote IN to OUT`, or `Merged N YAML files to
//! OUT` and the list), as Kargo writes it; none when no file was merged.

mod step;

use kargo_core::expr::Document;
use kargo_core::expr::document::{NodeKind, NodeRef};
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::edit::{Update, yaml};
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use crate::edit::EditError as Error;

/// The step kind.
pub const KIND: &str = "yaml-merge";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("inFiles", NonEmpty), ("outFile", NonEmpty)];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["inFiles", "outFile"]);

/// The `yaml-merge` config (Kargo's `YAMLMergeConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The files to merge, in order, relative to the work dir.
    pub in_files: Vec<String>,
    /// The merged file, relative to the work dir.
    pub out_file: String,
    /// Skip input files that do not exist instead of failing.
    #[serde(default)]
    pub ignore_missing_files: bool,
}

/// The `yaml-merge` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct YamlMerge;

/// Merges YAML texts in order, as the step merges its files: the first
/// non-empty text, edited in place, with every later one laid over it.
///
/// ```
/// use kargo_steps::yaml_merge::merge;
///
/// let base = "# defaults\nimage:\n  tag: v1 # pinned\nreplicas: 1\n";
/// let qa = "image:\n  tag: v2\nreplicas: null\nextra: [a, b]\n";
/// let out = merge(&[base, qa]).unwrap();
/// assert_eq!(out, "# defaults\nimage:\n  tag: v2 # pinned\nextra:\n  - a\n  - b\n");
/// ```
pub fn merge(texts: &[&str]) -> Result<String, Error> {
    merge_each(texts).map_err(|(_, e)| e)
}

/// [`merge`], its error paired with the index of the text that caused it.
/// Every text is parsed (the first as well, which is never laid over
/// anything), so a broken one is found even when it is alone. The texts
/// are read into compact documents, never whole trees of values, and the
/// merged text is edited along the changed keys' paths only, so merging
/// large files takes a few times their size.
fn merge_each(texts: &[&str]) -> Result<String, (usize, Error)> {
    // The merged text so far, with its document while it is the first
    // text as read (later ones are read again when laid over).
    let mut merged: Option<(String, Option<Document>)> = None;
    for (i, text) in texts.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        yaml::check_go_yaml(text).map_err(|e| (i, e))?;
        merged = Some(
            match merged {
                None => yaml::read_document(text).map(|doc| ((*text).to_owned(), Some(doc))),
                Some((base, doc)) => lay_over(&base, doc, text).map(|out| (out, None)),
            }
            .map_err(|e| (i, e))?,
        );
    }
    Ok(merged.map(|(text, _)| text).unwrap_or_default())
}

/// `patch` laid over `base`, whose document is `under` when it was read
/// already.
fn lay_over(base: &str, under: Option<Document>, patch: &str) -> Result<String, Error> {
    let mut removals = Vec::new();
    let mut updates = Vec::new();
    {
        let over = yaml::read_document(patch)?;
        let under = match under {
            Some(doc) => doc,
            None => yaml::read_document(base)?,
        };
        let (over, under) = (over.root(), under.root());
        if !(is_map(over) && is_map(under)) {
            return Ok(patch.to_owned());
        }
        changes(&mut Vec::new(), over, under, &mut removals, &mut updates);
    }
    let mut out = base.to_owned();
    for key in &removals {
        out = yaml::ops::remove_key(&out, key)?;
    }
    if !updates.is_empty() {
        out = yaml::update(&out, &updates)?;
    }
    Ok(out)
}

fn is_map(node: NodeRef<'_>) -> bool {
    matches!(node.kind(), NodeKind::Map(_))
}

/// The keys (below `path`) that the map `over` removes from the map
/// `under`, and the values it sets.
fn changes(
    path: &mut Vec<String>,
    over: NodeRef<'_>,
    under: NodeRef<'_>,
    removals: &mut Vec<String>,
    updates: &mut Vec<Update>,
) {
    for (key, value) in over.entries() {
        path.push(key.to_owned());
        match (value.kind(), under.get(key)) {
            (NodeKind::Null, Some(_)) => removals.push(key_of(path)),
            (NodeKind::Null, None) => {}
            (NodeKind::Map(_), Some(old)) if is_map(old) => {
                changes(path, value, old, removals, updates);
            }
            (_, Some(old)) if value.eq_node(&old) => {}
            _ => updates.push(Update::new(key_of(path), value.to_json())),
        }
        path.pop();
    }
}

/// The editor's key for `path`: segments joined by `.`, with `.` and `\`
/// inside a segment escaped.
fn key_of(path: &[String]) -> String {
    let escaped: Vec<String> = path
        .iter()
        .map(|s| s.replace('\\', "\\\\").replace('.', "\\."))
        .collect();
    escaped.join(".")
}

/// Kargo's commit message for merging `inputs` into `out`.
fn commit_message(inputs: &[String], out: &str) -> Option<String> {
    match inputs {
        [] => None,
        [one] => Some(format!("Wrote {one} to {out}")),
        many => {
            let mut msg = format!("Merged {} YAML files to {out}", many.len());
            for path in many {
                msg.push_str(&format!("\n- {path}"));
            }
            Some(msg)
        }
    }
}

#[cfg(test)]
mod tests;
