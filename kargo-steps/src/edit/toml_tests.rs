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
fn value_keeps_comment_and_alignment() {
    let src =
        "# app settings\n[package]\nname    = \"app\"   # the name\nversion = \"1.0.0\" # bump\n";
    insta::assert_snapshot!(edit(src, &[("package.version", json!("1.1.0"))]), @r#"
    # app settings
    [package]
    name    = "app"   # the name
    version = "1.1.0" # bump
    "#);
}

#[test]
fn literal_strings_stay_literal_and_types_are_kept() {
    let src = "tag = 'v1'\nreplicas = 1\nenabled = false\nratio = 0.5\n";
    let out = edit(
        src,
        &[
            ("tag", json!("v2")),
            ("replicas", json!(3)),
            ("enabled", json!(true)),
            ("ratio", json!(0.25)),
        ],
    );
    insta::assert_snapshot!(out, @"
    tag = 'v2'
    replicas = 3
    enabled = true
    ratio = 0.25
    ");
}

#[test]
fn new_nested_key_gets_a_table_header() {
    let src = "[image]\nrepo = \"nginx\"\n";
    let out = edit(
        src,
        &[
            ("image.tag", json!("v2")),
            ("deploy.limits.cpu", json!("500m")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    [image]
    repo = "nginx"
    tag = "v2"

    [deploy.limits]
    cpu = "500m"
    "#);
}

#[test]
fn arrays_inline_tables_and_quoted_keys() {
    let src = "values = [1, 2, 3]\nimage = { repo = \"nginx\", tag = \"v1\" }\n[labels]\n\"example.com/version\" = \"1.0.0\"\n";
    let out = edit(
        src,
        &[
            ("values.1", json!(20)),
            ("image.tag", json!("v2")),
            (r"labels.example\.com/version", json!("1.1.0")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    values = [1, 20, 3]
    image = { repo = "nginx", tag = "v2" }
    [labels]
    "example.com/version" = "1.1.0"
    "#);
}

#[test]
fn array_of_tables_by_index() {
    let src =
        "[[service]]\nname = \"a\"\nport = 80\n\n[[service]]\nname = \"b\" # second\nport = 81\n";
    insta::assert_snapshot!(edit(src, &[("service.1.port", json!(8081))]), @r#"
    [[service]]
    name = "a"
    port = 80

    [[service]]
    name = "b" # second
    port = 8081
    "#);
}

#[test]
fn crlf_is_kept() {
    let src = "[a]\r\nb = 1 # c\r\n";
    insta::assert_snapshot!(edit(src, &[("a.b", json!(2))]).replace('\r', "<CR>"), @"
    [a]<CR>
    b = 2 # c<CR>
    ");
}

#[test]
fn errors_name_the_key_and_reason() {
    let src = "a = 1\nl = [1]\n[t]\nx = 1\n";
    insta::assert_snapshot!(edit(src, &[("a.b", json!(1))]), @"ERROR: key `a.b`: `a` is a scalar, not a table");
    insta::assert_snapshot!(edit(src, &[("l.4", json!(1))]), @"ERROR: key `l.4`: index 4 is out of range: `l` has 1 items");
    insta::assert_snapshot!(edit(src, &[("t", json!(1))]), @"ERROR: key `t`: holds a table; only values can be replaced");
    insta::assert_snapshot!(edit(src, &[("a", json!(null))]), @"ERROR: key `a`: TOML has no null value");
    insta::assert_snapshot!(edit(src, &[("a", json!(u64::MAX))]), @"ERROR: key `a`: 18446744073709551615 does not fit a TOML integer (64-bit signed)");
    insta::assert_snapshot!(edit("a = \n", &[("a", json!(1))]), @"
    ERROR: cannot parse: TOML parse error at line 1, column 5
      |
    1 | a = 
      |     ^
    string values must be quoted, expected literal string
    ");
}

#[test]
fn fixture_config_keeps_comments_and_alignment() {
    let src = include_str!("../../tests/fixtures/config.toml");
    let out = edit(
        src,
        &[
            ("image.tag", json!("1.5.0")),
            ("image.pull", json!("Always")),
            ("server.tls.cert", json!("/etc/tls.crt")),
            ("backends.1.weight", json!(30)),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(src, &out), @r#"
     6 -tag        = "1.4.2" # kargo
     7 -pull       = 'IfNotPresent'
     6 +tag        = "1.5.0" # kargo
     7 +pull       = 'Always'
    17 +cert = "/etc/tls.crt"
    24 -weight = 20
    25 +weight = 30
    "#);
}
