//! Structural edits the key/value [`update`](super::update) cannot make:
//! removing a mapping entry and appending an item to a sequence, with the
//! same guarantees. Bytes outside the removed or inserted lines are kept,
//! new lines follow the indentation of their neighbours, and the result is
//! read back and must equal the old document with exactly that change.
//!
//! Each edit is planned on a parse that keeps only the nodes on the key's
//! path, and checked on the compact documents read before and after it,
//! so a large file costs a few times its size.

use std::borrow::Cow;

use serde_json::Value;

use super::{
    Kind, Located, locate, node_at, parent_key_start, parse_on_path, read_document, render,
    render_key,
};
use crate::edit::expected::Expected;
use crate::edit::{
    EditError, Splice, index_of, line_end, line_ending, line_start, next_line_start, split_key,
};
use granit_parser::ScalarStyle;

/// Removes the mapping entry at `key` (sjson path syntax). A key that
/// does not exist leaves the text as it is.
pub(crate) fn remove_key(src: &str, key: &str) -> Result<String, EditError> {
    let segments = split_key(key)?;
    let docs = parse_on_path(src, &segments)?;
    let root = docs
        .first()
        .ok_or_else(|| EditError::key(key, "the file holds no YAML document"))?;
    let path = match locate(root, key, &segments)? {
        Located::Found(path, _) => path,
        Located::Missing(..) => return Ok(src.to_owned()),
    };
    let fail = |reason: &str| EditError::key(key, reason);
    let (&idx, parent_path) = path.split_last().ok_or_else(|| fail("is the document"))?;
    let Kind::Map { entries, flow } = &node_at(root, parent_path).kind else {
        return Err(fail("is a sequence item, not a mapping entry"));
    };
    let (k, v) = &entries[idx];
    let entry_end = k.span.end.max(v.span.end);
    let next_key = entries.get(idx + 1).map(|(k, _)| k.span.start);
    let range = if *flow {
        match (next_key, idx.checked_sub(1)) {
            (Some(next), _) => k.span.start..next,
            (None, Some(prev)) => {
                let (pk, pv) = &entries[prev];
                pk.span.end.max(pv.span.end)..entry_end
            }
            (None, None) => k.span.start..entry_end,
        }
    } else if src[line_start(src, k.span.start)..k.span.start]
        .trim()
        .is_empty()
    {
        // The entry's lines, whole.
        line_start(src, k.span.start)..next_line_start(src, entry_end).unwrap_or(src.len())
    } else {
        // The first entry of a sequence item (`- key: value`): the next
        // entry moves up behind the dash.
        let next = next_key.ok_or_else(|| fail("is the only entry of its sequence item"))?;
        k.span.start..next
    };
    let out = Splice {
        range,
        text: String::new(),
    }
    .apply(src);
    drop(docs);
    let before = read_document(src)?;
    let mut expected = Expected::new(before.root());
    if let Some((last, parents)) = segments.split_last()
        && let Some(Expected::Map(entries)) = expected.at_mut(parents)
    {
        entries.retain(|(k, _)| k.as_ref() != last.as_str());
    }
    check(&out, &expected, key)?;
    Ok(out)
}

/// Appends `item` to the sequence at `key`. A missing top-level key, or a
/// key with no value, becomes a block sequence holding `item`.
#[cfg(test)]
pub(crate) fn append_item(src: &str, key: &str, item: &Value) -> Result<String, EditError> {
    insert_item(src, key, usize::MAX, item)
}

/// Inserts `item` into the sequence at `key` before the item at index
/// `before` (appends when `before` is past the end), with the comment lines
/// just above that item staying with it. A missing top-level key, or a key
/// with no value, becomes a block sequence holding `item`.
pub(crate) fn insert_item(
    src: &str,
    key: &str,
    before: usize,
    item: &Value,
) -> Result<String, EditError> {
    let segments = split_key(key)?;
    // The sequence's items are placed by their spans: the path is parsed
    // one level past the key (a segment no item is at).
    let mut through = segments.clone();
    through.push(String::new());
    let docs = parse_on_path(src, &through)?;
    let root = docs
        .first()
        .ok_or_else(|| EditError::key(key, "the file holds no YAML document"))?;
    let nl = line_ending(src);
    let fail = |reason: &str| EditError::key(key, reason);
    let splice = match locate(root, key, &segments)? {
        Located::Found(path, _) => {
            let node = node_at(root, &path);
            match &node.kind {
                Kind::Seq { items, flow: true } => {
                    let text = render(item, ScalarStyle::Plain, true);
                    match items.get(before) {
                        Some(next) => Splice {
                            range: next.span.start..next.span.start,
                            text: format!("{text}, "),
                        },
                        None => {
                            let at = node.span.end - 1;
                            let sep = if items.is_empty() { "" } else { ", " };
                            Splice {
                                range: at..at,
                                text: format!("{sep}{text}"),
                            }
                        }
                    }
                }
                Kind::Seq { items, flow: false } => {
                    let first = items.first().ok_or_else(|| fail("is an empty sequence"))?;
                    let dash = src[..first.span.start]
                        .rfind('-')
                        .ok_or_else(|| fail("cannot find the sequence's `-`"))?;
                    let dash_col = dash - line_start(src, dash);
                    let content_col = first.span.start - line_start(src, first.span.start);
                    let lines = block_item(item, dash_col, content_col.max(dash_col + 2), nl);
                    match items.get(before) {
                        Some(next) => {
                            // Comments above the first item belong to it;
                            // the climb stops at the key's line anyway.
                            let prev_end = before.checked_sub(1).map_or(0, |p| items[p].span.end);
                            let at = item_lines_start(src, next.span.start, prev_end)
                                .ok_or_else(|| fail("cannot find the sequence's `-`"))?;
                            Splice {
                                range: at..at,
                                text: lines,
                            }
                        }
                        None => insert_after(src, node.span.end, &lines, nl),
                    }
                }
                Kind::Scalar { style, .. }
                    if *style == ScalarStyle::Plain && node.span.is_empty() =>
                {
                    // `key:` with nothing after it.
                    let key_start =
                        parent_key_start(root, &path).ok_or_else(|| fail("has no key"))?;
                    let col = key_start - line_start(src, key_start);
                    let lines = block_item(item, col, col + 2, nl);
                    let at = line_end(src, key_start);
                    Splice {
                        range: at..at,
                        text: format!("{nl}{}", lines.strip_suffix(nl).unwrap_or(&lines)),
                    }
                }
                _ => return Err(fail("is not a sequence")),
            }
        }
        Located::Missing(path, consumed) if path.is_empty() && consumed + 1 == segments.len() => {
            let Kind::Map {
                entries,
                flow: false,
            } = &root.kind
            else {
                return Err(fail("the document is not a block mapping"));
            };
            let first = &entries
                .first()
                .ok_or_else(|| fail("the document is empty"))?
                .0;
            let col = first.span.start - line_start(src, first.span.start);
            let lines = format!(
                "{}{}:{nl}{}",
                " ".repeat(col),
                render_key(&segments[consumed], false),
                block_item(item, col, col + 2, nl)
            );
            insert_after(src, root.span.end, &lines, nl)
        }
        Located::Missing(..) => return Err(fail("its parent does not exist")),
    };
    let out = splice.apply(src);
    drop(docs);
    let old = read_document(src)?;
    let mut expected = Expected::new(old.root());
    let (last, parents) = segments.split_last().ok_or_else(|| fail("is empty"))?;
    let new_list = || Expected::Value(Value::Array(vec![item.clone()]));
    match expected.at_mut(parents) {
        Some(Expected::Map(entries)) => match entries
            .iter_mut()
            .find(|(k, _)| k.as_ref() == last.as_str())
        {
            Some((_, child)) => match child.opened() {
                Expected::Seq(items) => {
                    items.insert(before.min(items.len()), Expected::Value(item.clone()));
                }
                other => *other = new_list(),
            },
            None => entries.push((Cow::Owned(last.clone()), new_list())),
        },
        Some(Expected::Seq(items)) => match index_of(last).and_then(|i| items.get_mut(i)) {
            Some(inner) => match inner.opened() {
                Expected::Seq(inner) => inner.push(Expected::Value(item.clone())),
                _ => return Err(fail("is not a sequence")),
            },
            None => return Err(fail("is not a sequence")),
        },
        _ => return Err(fail("its parent does not exist")),
    }
    check(&out, &expected, key)?;
    Ok(out)
}

/// Where the lines of the block sequence item whose content starts at
/// `content` begin: the start of its dash's line, moved up over the comment
/// lines right above it (they belong to it), never above `floor`.
fn item_lines_start(src: &str, content: usize, floor: usize) -> Option<usize> {
    let dash = src[..content].rfind('-')?;
    let mut at = line_start(src, dash);
    while at > floor && at > 0 {
        let above = line_start(src, at - 1);
        if above < floor || !src[above..at].trim_start().starts_with('#') {
            break;
        }
        at = above;
    }
    Some(at)
}

/// The lines of a block sequence item: its dash at column `dash`, its
/// content at column `content`.
fn block_item(item: &Value, dash: usize, content: usize, nl: &str) -> String {
    let head = format!("{}-{}", " ".repeat(dash), " ".repeat(content - dash - 1));
    let mut out = String::new();
    match item {
        Value::Object(map) if !map.is_empty() => {
            for (j, (k, v)) in map.iter().enumerate() {
                let lead = if j == 0 {
                    head.clone()
                } else {
                    " ".repeat(content)
                };
                out.push_str(&format!(
                    "{lead}{}: {}{nl}",
                    render_key(k, false),
                    render(v, ScalarStyle::Plain, false)
                ));
            }
        }
        other => out.push_str(&format!(
            "{head}{}{nl}",
            render(other, ScalarStyle::Plain, false)
        )),
    }
    out
}

/// Inserts `lines` at the start of the line after the one holding `end`
/// (or at the end of the text, on a new line).
fn insert_after(src: &str, end: usize, lines: &str, nl: &str) -> Splice {
    match next_line_start(src, end) {
        Some(at) => Splice {
            range: at..at,
            text: lines.to_owned(),
        },
        None => Splice {
            range: src.len()..src.len(),
            text: format!("{nl}{}", lines.strip_suffix(nl).unwrap_or(lines)),
        },
    }
}

/// Checks the edited text against what it must read as.
fn check(out: &str, expected: &Expected<'_>, key: &str) -> Result<(), EditError> {
    let got = read_document(out).map_err(|e| {
        EditError::key(
            key,
            format!("the edited file does not parse ({e}); nothing was written"),
        )
    })?;
    if !expected.matches(got.root()) {
        return Err(EditError::key(
            key,
            "the edited file does not read back as expected; nothing was written",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn remove(src: &str, key: &str) -> String {
        remove_key(src, key).unwrap_or_else(|e| format!("ERROR: {e}"))
    }

    fn append(src: &str, key: &str, item: Value) -> String {
        append_item(src, key, &item).unwrap_or_else(|e| format!("ERROR: {e}"))
    }

    #[test]
    fn removing_an_entry_drops_its_lines_and_keeps_comments_around() {
        let src = "images:\n  # app\n  - name: app # the app\n    newTag: v1 # old\n    digest: sha256:1\n  - name: db\n";
        insta::assert_snapshot!(remove(src, "images.0.newTag"), "a middle entry", @r"
        images:
          # app
          - name: app # the app
            digest: sha256:1
          - name: db
        ");
        insta::assert_snapshot!(remove(src, "images.0.digest"), "the last entry of an item", @r"
        images:
          # app
          - name: app # the app
            newTag: v1 # old
          - name: db
        ");
        insta::assert_snapshot!(remove(src, "images.0.name"), "the entry behind the dash", @r"
        images:
          # app
          - newTag: v1 # old
            digest: sha256:1
          - name: db
        ");
        insta::assert_snapshot!(remove(src, "images.1.name"), "the only entry", @"ERROR: key `images.1.name`: is the only entry of its sequence item");
        assert_eq!(
            remove(src, "images.0.newName"),
            src,
            "a missing key is no change"
        );
    }

    #[test]
    fn removing_from_flow_mappings() {
        insta::assert_snapshot!(remove("a: {x: 1, y: 2, z: 3}\n", "a.y"), @"a: {x: 1, z: 3}");
        insta::assert_snapshot!(remove("a: {x: 1, y: 2}\n", "a.y"), @"a: {x: 1}");
        insta::assert_snapshot!(remove("a: {x: 1}\n", "a.x"), @"a: {}");
    }

    #[test]
    fn appending_follows_the_sequence_indentation() {
        let item = json!({"name": "db", "newTag": "1.10"});
        insta::assert_snapshot!(
            append("images:\n- name: app # pinned\n  newTag: v1\nresources: [a.yaml]\n", "images", item.clone()),
            "dash at the key's column",
            @r#"
        images:
        - name: app # pinned
          newTag: v1
        - name: db
          newTag: "1.10"
        resources: [a.yaml]
        "#
        );
        insta::assert_snapshot!(
            append("images:\n    -   name: app\n        newTag: v1", "images", item.clone()),
            "odd indentation, no final newline",
            @r#"
        images:
            -   name: app
                newTag: v1
            -   name: db
                newTag: "1.10"
        "#
        );
        insta::assert_snapshot!(
            append("images: [{name: app}]\n", "images", item.clone()),
            "flow",
            @r#"images: [{name: app}, {name: db, newTag: "1.10"}]"#
        );
        insta::assert_snapshot!(
            append("images: []\n", "images", item.clone()),
            @r#"images: [{name: db, newTag: "1.10"}]"#
        );
    }

    #[test]
    fn appending_creates_a_missing_or_empty_sequence() {
        let item = json!({"name": "db", "digest": "sha256:2"});
        insta::assert_snapshot!(
            append("# kustomization\nresources:\n  - a.yaml # base\n", "images", item.clone()),
            @r"
        # kustomization
        resources:
          - a.yaml # base
        images:
        - name: db
          digest: sha256:2
        "
        );
        insta::assert_snapshot!(
            append("images:\nresources: []\n", "images", item.clone()),
            @r"
        images:
        - name: db
          digest: sha256:2
        resources: []
        "
        );
        insta::assert_snapshot!(
            append("a: 1\n", "images.nested", item.clone()),
            @"ERROR: key `images.nested`: its parent does not exist"
        );
        insta::assert_snapshot!(
            append("images: 3\n", "images", item),
            @"ERROR: key `images`: is not a sequence"
        );
    }

    /// What the checks expect after removing a key or inserting an item
    /// ([`Expected`] opened along the path) is what `serde_json` gives for
    /// the same change of the document read as JSON, for every path of
    /// the fixture, and differs from the document before.
    #[test]
    fn the_expected_documents_are_the_json_ones() {
        use kargo_core::expr::Document;
        fn paths(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            let children: Vec<(String, &Value)> = match v {
                Value::Object(map) => map.iter().map(|(k, c)| (k.clone(), c)).collect(),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i.to_string(), c))
                    .collect(),
                _ => Vec::new(),
            };
            for (key, child) in children {
                path.push(key);
                out.push(path.clone());
                paths(child, path, out);
                path.pop();
            }
        }
        fn json_at_mut<'v>(mut value: &'v mut Value, segments: &[String]) -> Option<&'v mut Value> {
            for seg in segments {
                value = match value {
                    Value::Object(map) => map.get_mut(seg.as_str())?,
                    Value::Array(items) => items.get_mut(index_of(seg)?)?,
                    _ => return None,
                };
            }
            Some(value)
        }
        let src = include_str!("../../tests/fixtures/values.yaml");
        let doc = read_document(src).unwrap();
        let json = doc.to_json();
        let mut all = Vec::new();
        paths(&json, &mut Vec::new(), &mut all);
        assert!(all.len() > 20);
        let item = json!({"name": "new"});
        for path in &all {
            let (last, parents) = path.split_last().unwrap();
            // Removing the key.
            let mut want = json.clone();
            if let Some(Value::Object(map)) = json_at_mut(&mut want, parents) {
                map.shift_remove(last);
            }
            let mut expected = Expected::new(doc.root());
            if let Some(Expected::Map(entries)) = expected.at_mut(parents) {
                entries.retain(|(k, _)| k.as_ref() != last.as_str());
            }
            assert!(
                expected.matches(Document::from_json(&want).root()),
                "remove {path:?}"
            );
            assert_eq!(
                expected.matches(doc.root()),
                want == json,
                "remove {path:?}"
            );
            // Inserting an item into the sequence at the path (or making
            // it one).
            let mut want = json.clone();
            let mut expected = Expected::new(doc.root());
            match json_at_mut(&mut want, parents) {
                Some(Value::Object(map)) => match map.get_mut(last.as_str()) {
                    Some(Value::Array(items)) => items.insert(0, item.clone()),
                    _ => {
                        map.insert(last.clone(), Value::Array(vec![item.clone()]));
                    }
                },
                _ => continue,
            }
            let Some(Expected::Map(entries)) = expected.at_mut(parents) else {
                panic!("{path:?} is a map in JSON");
            };
            match entries
                .iter_mut()
                .find(|(k, _)| k.as_ref() == last.as_str())
            {
                Some((_, child)) => match child.opened() {
                    Expected::Seq(items) => items.insert(0, Expected::Value(item.clone())),
                    other => *other = Expected::Value(Value::Array(vec![item.clone()])),
                },
                None => unreachable!("{path:?} exists"),
            }
            assert!(
                expected.matches(Document::from_json(&want).root()),
                "insert {path:?}"
            );
            assert!(!expected.matches(doc.root()), "insert {path:?}");
        }
    }
}
