use serde_json::{Value, json};

use super::*;

fn edit(src: &str, updates: &[(&str, Value)]) -> String {
    let updates: Vec<Update> = updates
        .iter()
        .map(|(k, v)| Update::new(*k, v.clone()))
        .collect();
    match update(src, &updates) {
        Ok(out) => out,
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn nested_value_keeps_indentation_and_order() {
    let src = "{\n    \"image\": {\n        \"tag\": \"v1\",\n        \"repo\": \"nginx\"\n    },\n    \"replicas\": 1\n}\n";
    insta::assert_snapshot!(edit(src, &[("image.tag", json!("v2")), ("replicas", json!(3))]), @r#"
    {
        "image": {
            "tag": "v2",
            "repo": "nginx"
        },
        "replicas": 3
    }
    "#);
}

#[test]
fn missing_keys_are_appended_with_the_object_indentation() {
    let src = "{\n  \"a\": 1,\n  \"b\": {\"c\": true}\n}\n";
    insta::assert_snapshot!(edit(src, &[("d", json!("x")), ("b.e", json!(false)), ("f.g.h", json!(1.5))]), @r#"
    {
      "a": 1,
      "b": {"c": true, "e": false},
      "d": "x",
      "f": {"g": {"h": 1.5}}
    }
    "#);
}

/// sjson's path rules, as Kargo's json-update passes keys to sjson.
#[test]
fn indexes_append_and_colons_force_map_keys() {
    let src = "{\"l\": [\"a\", \"b\"], \"users\": {}}";
    insta::assert_snapshot!(
        edit(src, &[("l.-1", json!("c")), ("l.5", json!("f")), ("new.0.x", json!(1)), ("users.:2313.name", json!("Sara")), ("m.:0", json!(2))]),
        "-1 and a past-the-end index append (padding with nulls); an index creates an array; `:` a map key",
        @r#"{"l": ["a", "b", "c", null, null, "f"], "users": {"2313": {"name": "Sara"}}, "new": [{"x": 1}], "m": {"0": 2}}"#
    );
    insta::assert_snapshot!(edit(src, &[("l.:0", json!("x"))]), @"ERROR: key `l.:0`: `:0` names a map key, but `l` is an array");
}

/// Kargo's json-update refuses values that are not scalars, and reads an
/// empty file as `{}`; floats are written as Go's sjson writes them.
#[test]
fn scalars_only_empty_files_and_numbers() {
    for value in [json!(null), json!([1]), json!({"a": 1})] {
        let out = edit("{\"a\": 1}", &[("a", value.clone())]);
        assert_eq!(
            out, "ERROR: key `a`: the value is not a scalar (string, number or boolean)",
            "{value}"
        );
    }
    assert_eq!(
        edit("", &[("image.tag", json!("v2"))]),
        r#"{"image": {"tag": "v2"}}"#
    );
    assert_eq!(edit(" \n", &[("a", json!(1))]), r#"{"a": 1}"#);
    assert_eq!(
        edit(
            "{\"a\": 1, \"b\": 1}",
            &[("a", json!(123.0)), ("b", json!(0.00001))]
        ),
        r#"{"a": 123, "b": 0.00001}"#
    );
}

#[test]
fn arrays_by_index_and_literal_dots() {
    let src =
        "{\"containers\": [{\"image\": \"a:1\"}, {\"image\": \"b:1\"}], \"example.com/v\": \"1\"}";
    insta::assert_snapshot!(edit(src, &[("containers.1.image", json!("b:2")), (r"example\.com/v", json!("2"))]), @r#"{"containers": [{"image": "a:1"}, {"image": "b:2"}], "example.com/v": "2"}"#);
}

#[test]
fn empty_object_and_crlf() {
    let src = "{\r\n  \"empty\": {},\r\n  \"s\": \"\\u00e9\"\r\n}\r\n";
    let out = edit(src, &[("empty.k", json!("v")), ("s", json!("quote\"d"))]);
    insta::assert_snapshot!(out.replace('\r', "<CR>"), @r#"
    {<CR>
      "empty": {"k": "v"},<CR>
      "s": "quote\"d"<CR>
    }<CR>
    "#);
}

#[test]
fn errors_name_the_key_and_reason() {
    let src = "{\"a\": {\"b\": 1}, \"l\": [1]}";
    insta::assert_snapshot!(edit(src, &[("a.b.c", json!(1))]), @"ERROR: key `a.b.c`: `a.b` is a scalar, not an object");
    insta::assert_snapshot!(edit(src, &[("l.x", json!(1))]), @"ERROR: key `l.x`: `l` is an array; `x` is not an index");
    insta::assert_snapshot!(edit("{\"a\": ", &[("a", json!(1))]), @"ERROR: cannot parse: EOF while parsing a value at line 1 column 6");
}

#[test]
fn fixture_settings_keep_four_space_indentation() {
    let src = include_str!("../../tests/fixtures/settings.json");
    let out = edit(
        src,
        &[
            ("image.tag", json!("1.5.0")),
            ("limits.cpu", json!("1")),
            ("features.0", json!("z")),
            ("nothing", json!(1)),
            ("image.digest", json!("sha256:ab")),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(src, &out), @r#"
     4 -        "tag": "1.4.2"
     4 +        "tag": "1.5.0",
     5 +        "digest": "sha256:ab"
     7 -    "features": ["a", "b"],
     8 -    "limits": {"cpu": "500m", "memory": "512Mi"},
     8 +    "features": ["z", "b"],
     9 +    "limits": {"cpu": "1", "memory": "512Mi"},
    12 -    "nothing": null
    13 +    "nothing": 1
    "#);
}
