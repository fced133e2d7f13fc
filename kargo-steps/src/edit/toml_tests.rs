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
    version = '1.1.0' # bump
    "#);
}

#[test]
fn values_are_written_as_kargo_writes_them() {
    let src = "tag = \"v1\"\nq = 'x'\nreplicas = 1\nenabled = false\nratio = 0.5\nwhole = 1.0\n";
    let out = edit(
        src,
        &[
            ("tag", json!("v2")),
            ("q", json!("it's \"quoted\"\n")),
            ("replicas", json!(3)),
            ("enabled", json!(true)),
            ("ratio", json!(0.25)),
            ("whole", json!(123.0)),
        ],
    );
    insta::assert_snapshot!(out, "strings literal unless they hold a quote or a line break; floats keep a decimal", @r#"
    tag = 'v2'
    q = "it's \"quoted\"\n"
    replicas = 3
    enabled = true
    ratio = 0.25
    whole = 123.0
    "#);
}

/// Kargo's `pkg/toml/toml_test.go` error cases: the key must exist and
/// hold a scalar, and the value must be one.
#[test]
fn only_existing_scalars_are_replaced() {
    let src = "title = \"old\"\n[service]\nname = \"api\"\nports = [1, 2]\nmeta = { a = 1 }\n";
    insta::assert_snapshot!(edit(src, &[("missing", json!("new"))]), @"ERROR: key `missing`: not found: the document has no key `missing`; toml-update only changes existing keys");
    insta::assert_snapshot!(edit(src, &[("service.nmae", json!("x"))]), @"ERROR: key `service.nmae`: not found: `service` has no key `nmae`; toml-update only changes existing keys");
    insta::assert_snapshot!(edit(src, &[("service", json!("other"))]), @"ERROR: key `service`: holds a table, not a scalar; toml-update only changes scalar values");
    insta::assert_snapshot!(edit(src, &[("service.ports", json!(3))]), @"ERROR: key `service.ports`: holds an array, not a scalar; toml-update only changes scalar values");
    insta::assert_snapshot!(edit(src, &[("service.meta", json!(3))]), @"ERROR: key `service.meta`: holds an inline table, not a scalar; toml-update only changes scalar values");
    insta::assert_snapshot!(edit(src, &[("title", json!(["a", "b"]))]), @"ERROR: key `title`: the value is not a TOML scalar (string, number or boolean)");
    insta::assert_snapshot!(edit(src, &[(r"title\n", json!("x"))]), @r"ERROR: key `title\n`: has an invalid escape sequence `\n` (only `\.` and `\:` exist)");
}

/// The rest of Kargo's `pkg/toml/toml_test.go` table.
#[test]
fn kargo_toml_cases() {
    type Case<'a> = (&'a str, &'a [(&'a str, Value)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            "title = \"old\"\nactive = true\n",
            &[("title", json!("new"))],
            "title = 'new'\nactive = true\n",
        ),
        (
            "\"example.com/version\" = \"1.0.0\"\n",
            &[(r"example\.com/version", json!("2.0.0"))],
            "\"example.com/version\" = '2.0.0'\n",
        ),
        (
            "[package]\nversion = \"1.0.0\"\n",
            &[("package.version", json!("2.0.0"))],
            "[package]\nversion = '2.0.0'\n",
        ),
        ("[a.b]\nc = 1\n", &[("a.b.c", json!(99))], "[a.b]\nc = 99\n"),
        (
            "threshold = 1\n\n[features]\nenabled = false\n",
            &[("features.enabled", json!(true))],
            "threshold = 1\n\n[features]\nenabled = true\n",
        ),
        (
            "values = [1, 2, 3]\n",
            &[("values.1", json!(42))],
            "values = [1, 42, 3]\n",
        ),
        (
            "service = { name = \"api\", port = 8080 }\n",
            &[("service.port", json!(9090))],
            "service = { name = \"api\", port = 9090 }\n",
        ),
        (
            "[[services]]\nname = \"api\"\nport = 8080\n\n[[services]]\nname = \"web\"\nport = 8081\n",
            &[("services.1.port", json!(9090))],
            "[[services]]\nname = \"api\"\nport = 8080\n\n[[services]]\nname = \"web\"\nport = 9090\n",
        ),
        (
            "title = \"old\" # keep me\nactive = true\n",
            &[("title", json!("new"))],
            "title = 'new' # keep me\nactive = true\n",
        ),
        (
            "# header comment\nv = 1\n# footer comment\n",
            &[("v", json!(2))],
            "# header comment\nv = 2\n# footer comment\n",
        ),
        (
            "[a]\nx = 1\n\n\n[b]\ny = 2\n",
            &[("b.y", json!(99))],
            "[a]\nx = 1\n\n\n[b]\ny = 99\n",
        ),
        (
            "v = 1\nother = true\n",
            &[("v", json!(99999))],
            "v = 99999\nother = true\n",
        ),
        (
            "v = 99999\nother = true\n",
            &[("v", json!(1))],
            "v = 1\nother = true\n",
        ),
        (
            "a = 1\nb = 2\nc = 3\n",
            &[("a", json!(10)), ("c", json!(30))],
            "a = 10\nb = 2\nc = 30\n",
        ),
        (
            "threshold = 1\n\n[package]\nversion = \"1.0.0\"\n\n[features]\nenabled = false\n",
            &[
                ("threshold", json!(100)),
                ("package.version", json!("2.0.0")),
                ("features.enabled", json!(true)),
            ],
            "threshold = 100\n\n[package]\nversion = '2.0.0'\n\n[features]\nenabled = true\n",
        ),
        (
            "[server]\nhost = \"localhost\"\nport = 8080\n",
            &[
                ("server.host", json!("0.0.0.0")),
                ("server.port", json!(9090)),
            ],
            "[server]\nhost = '0.0.0.0'\nport = 9090\n",
        ),
        ("v = 1\n", &[("v", json!(2)), ("v", json!(3))], "v = 3\n"),
    ];
    for (src, updates, want) in cases {
        assert_eq!(edit(src, updates), *want, "{src:?} with {updates:?}");
    }
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
    image = { repo = "nginx", tag = 'v2' }
    [labels]
    "example.com/version" = '1.1.0'
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
    insta::assert_snapshot!(edit(src, &[("a", json!(null))]), @"ERROR: key `a`: the value is not a TOML scalar (string, number or boolean)");
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
            ("server.tls.enabled", json!(false)),
            ("backends.1.weight", json!(30)),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(src, &out), @r#"
     6 -tag        = "1.4.2" # kargo
     7 -pull       = 'IfNotPresent'
     6 +tag        = '1.5.0' # kargo
     7 +pull       = 'Always'
    16 -enabled = true
    16 +enabled = false
    24 -weight = 20
    24 +weight = 30
    "#);
}
