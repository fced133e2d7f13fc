//! Corpus test: every scalar of every fixture file is updated, one at a
//! time, to several values. After each successful update, reading the file
//! again gives the new value at the key and every other value unchanged,
//! and the diff touches only the line that held the old value.

use serde_json::{Value, json};

use super::{EditError, Editor, Update, hcl, json as json_fmt, toml, yaml};

/// A format's reader as JSON.
type Reader = fn(&str) -> Result<Value, EditError>;

const FIXTURES: &[(&str, &str, Editor, Reader)] = &[
    (
        "values.yaml",
        include_str!("../../tests/fixtures/values.yaml"),
        yaml::update_existing,
        yaml::read,
    ),
    (
        "terraform.tfvars",
        include_str!("../../tests/fixtures/terraform.tfvars"),
        hcl::update,
        hcl::read,
    ),
    (
        "main.tf",
        include_str!("../../tests/fixtures/main.tf"),
        hcl::update,
        hcl::read,
    ),
    (
        "settings.json",
        include_str!("../../tests/fixtures/settings.json"),
        json_fmt::update,
        json_fmt::read,
    ),
    (
        "config.toml",
        include_str!("../../tests/fixtures/config.toml"),
        toml::update,
        toml::read,
    ),
];

/// A key segment in Kargo's key syntax: `.` and `:` escaped.
fn escape(segment: &str) -> String {
    segment.replace('.', "\\.").replace(':', "\\:")
}

fn leaves(
    value: &Value,
    prefix: &str,
    out: &mut Vec<(String, Vec<String>)>,
    path: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                let key = if prefix.is_empty() {
                    escape(k)
                } else {
                    format!("{prefix}.{}", escape(k))
                };
                leaves(v, &key, out, path);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                leaves(v, &format!("{prefix}.{i}"), out, path);
                path.pop();
            }
        }
        _ => out.push((prefix.to_owned(), path.clone())),
    }
}

fn set(doc: &mut Value, path: &[String], value: Value) {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Object(map) => map.get_mut(seg).expect("path exists"),
            Value::Array(items) => &mut items[seg.parse::<usize>().expect("index")],
            _ => unreachable!("leaf paths go through collections"),
        };
    }
    *cur = value;
}

#[test]
fn every_scalar_update_changes_only_its_value_and_line() {
    let candidates = [
        json!("2.0.1"),
        json!("yes"),
        json!("1.10"),
        json!(42),
        json!(true),
        json!("a b: c # d"),
    ];
    let mut applied = 0;
    for (name, src, editor, reader) in FIXTURES {
        let before = reader(src).unwrap();
        let mut keys = Vec::new();
        leaves(&before, "", &mut keys, &mut Vec::new());
        assert!(keys.len() > 5, "{name}: fixture has values");
        for (key, path) in &keys {
            for value in &candidates {
                let update = Update::new(key.clone(), value.clone());
                let out = match editor(src, std::slice::from_ref(&update)) {
                    Ok(out) => out,
                    // TOML has no null and HCL reads references as text; a
                    // refusal is fine, a wrong edit is not.
                    Err(e) => panic!("{name}: {key} = {value}: {e}"),
                };
                let mut expected = before.clone();
                set(&mut expected, path, value.clone());
                assert_eq!(reader(&out).unwrap(), expected, "{name}: {key} = {value}");
                let old_lines: Vec<&str> = src.lines().collect();
                let new_lines: Vec<&str> = out.lines().collect();
                if !src.contains("config: |") || !key.starts_with("config") {
                    assert_eq!(
                        old_lines.len(),
                        new_lines.len(),
                        "{name}: {key} = {value}:\n{out}"
                    );
                    let changed = old_lines
                        .iter()
                        .zip(&new_lines)
                        .filter(|(a, b)| a != b)
                        .count();
                    assert!(
                        changed <= 1,
                        "{name}: {key} = {value} changed {changed} lines:\n{out}"
                    );
                }
                applied += 1;
            }
        }
    }
    assert!(applied > 300, "ran {applied} updates");
}

/// A deterministic stand-in for fuzzing: prefixes of every fixture, and
/// the fixture with single bytes removed, go through its editor and reader.
/// They may refuse the text, but never panic, and whatever they accept
/// reads back with the new value.
#[test]
fn damaged_files_are_refused_or_edited_never_panic() {
    for (name, src, editor, reader) in FIXTURES {
        let bytes = src.as_bytes();
        let mut inputs: Vec<String> = Vec::new();
        // Every third position keeps the debug-build run short.
        for cut in (0..bytes.len()).step_by(3) {
            if let Ok(prefix) = std::str::from_utf8(&bytes[..cut]) {
                inputs.push(prefix.to_owned());
            }
            let mut without = bytes.to_vec();
            without.remove(cut);
            if let Ok(text) = String::from_utf8(without) {
                inputs.push(text);
            }
        }
        for input in &inputs {
            let _ = reader(input);
            let update = Update::new("image.tag", json!("9.9.9"));
            if let Ok(out) = editor(input, std::slice::from_ref(&update)) {
                let read = reader(&out)
                    .unwrap_or_else(|e| panic!("{name}: edited text does not read: {e}\n{out}"));
                assert_eq!(
                    read.pointer("/image/tag"),
                    Some(&json!("9.9.9")),
                    "{name}:\n{out}"
                );
            }
        }
    }
}
