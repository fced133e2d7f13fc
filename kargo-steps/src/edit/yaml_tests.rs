use serde_json::{Value, json};

use super::*;

/// Runs the updates through `editor`; an error comes back as `ERROR: ...`
/// so snapshots show it.
fn run_editor(
    editor: fn(&str, &[Update]) -> Result<String, EditError>,
    src: &str,
    updates: &[(&str, Value)],
) -> String {
    let updates: Vec<Update> = updates
        .iter()
        .map(|(k, v)| Update::new(*k, v.clone()))
        .collect();
    editor(src, &updates).unwrap_or_else(|e| format!("ERROR: {e}"))
}

/// The structure-writing editor the internal steps use.
fn edit(src: &str, updates: &[(&str, Value)]) -> String {
    run_editor(update, src, updates)
}

#[test]
fn scalar_keeps_end_of_line_comment() {
    let src = "image:\n  repository: nginx # upstream\n  tag: 1.25.0 # bump me\n";
    insta::assert_snapshot!(edit(src, &[("image.tag", json!("1.26.1"))]), @"
    image:
      repository: nginx # upstream
      tag: 1.26.1 # bump me
    ");
}

#[test]
fn quote_style_is_kept() {
    let src = "a: \"v1\"\nb: 'v1'\nc: v1\n";
    let out = edit(
        src,
        &[("a", json!("v2")), ("b", json!("it's")), ("c", json!("v2"))],
    );
    insta::assert_snapshot!(out, @r#"
    a: "v2"
    b: 'it''s'
    c: v2
    "#);
}

#[test]
fn helm_ambiguous_strings_are_quoted() {
    let src = "a: x\nb: x\nc: x\nd: x\ne: x\nf: x\ng: x\nh: x\ni: x\nj: x\nk: x\n";
    let out = edit(
        src,
        &[
            ("a", json!("yes")),
            ("b", json!("on")),
            ("c", json!("no")),
            ("d", json!("1.10")),
            ("e", json!("0755")),
            ("f", json!("null")),
            ("g", json!("~")),
            ("h", json!("*star")),
            ("i", json!("&amp")),
            ("j", json!("!bang")),
            ("k", json!(":colon")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    a: "yes"
    b: "on"
    c: "no"
    d: "1.10"
    e: "0755"
    f: "null"
    g: "~"
    h: "*star"
    i: "&amp"
    j: "!bang"
    k: ":colon"
    "#);
}

#[test]
fn numbers_and_booleans_are_plain() {
    let src = "replicas: \"1\"\nenabled: 'false'\nratio: 0.5\n";
    let out = edit(
        src,
        &[
            ("replicas", json!(3)),
            ("enabled", json!(true)),
            ("ratio", json!(0.75)),
        ],
    );
    insta::assert_snapshot!(out, @"
    replicas: 3
    enabled: true
    ratio: 0.75
    ");
}

#[test]
fn missing_key_is_created_in_block_style() {
    let src = "image:\n  repository: nginx # c\nservice:\n  port: 80\n";
    let out = edit(
        src,
        &[
            ("image.tag", json!("v2")),
            ("ingress.host.name", json!("a.example.com")),
        ],
    );
    insta::assert_snapshot!(out, @"
    image:
      repository: nginx # c
      tag: v2
    service:
      port: 80
    ingress:
      host:
        name: a.example.com
    ");
}

#[test]
fn crlf_line_endings_are_kept() {
    let src = "image:\r\n  tag: v1 # c\r\n  pullPolicy: Always\r\n";
    let out = edit(
        src,
        &[
            ("image.tag", json!("v2")),
            ("image.digest", json!("sha256:abc")),
        ],
    );
    insta::assert_snapshot!(out.replace('\r', "<CR>"), @"
    image:<CR>
      tag: v2 # c<CR>
      pullPolicy: Always<CR>
      digest: sha256:abc<CR>
    ");
}

#[test]
fn flow_collections_are_edited_in_place() {
    let src = "image: {repository: nginx, tag: v1}\nports: [80, 443]\nempty: {}\n";
    let out = edit(
        src,
        &[
            ("image.tag", json!("v2")),
            ("ports.1", json!(8443)),
            ("image.pullPolicy", json!("IfNotPresent")),
            ("empty.a", json!("b:c")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    image: {repository: nginx, tag: v2, pullPolicy: IfNotPresent}
    ports: [80, 8443]
    empty: {a: "b:c"}
    "#);
}

#[test]
fn sequence_items_by_index() {
    let src =
        "containers:\n- name: app\n  image: app:v1 # main\n- name: sidecar\n  image: proxy:v1\n";
    let out = edit(src, &[("containers.1.image", json!("proxy:v2"))]);
    insta::assert_snapshot!(out, @"
    containers:
    - name: app
      image: app:v1 # main
    - name: sidecar
      image: proxy:v2
    ");
}

#[test]
fn escaped_dot_in_key() {
    let src = "annotations:\n  example.com/version: v1.0.0\n";
    let out = edit(
        src,
        &[(r"annotations.example\.com/version", json!("v1.1.0"))],
    );
    insta::assert_snapshot!(out, @"
    annotations:
      example.com/version: v1.1.0
    ");
}

#[test]
fn document_markers_and_anchors_are_kept() {
    let src = "%YAML 1.2\n---\nbase: &base\n  tag: v1\nprod:\n  <<: *base\n  replicas: 3\n...\n";
    let out = edit(src, &[("prod.replicas", json!(5))]);
    insta::assert_snapshot!(out, @"
    %YAML 1.2
    ---
    base: &base
      tag: v1
    prod:
      <<: *base
      replicas: 5
    ...
    ");
}

#[test]
fn block_scalar_is_replaced_as_a_block() {
    let src = "config: | # keep\n  line one\n  line two\n\nnext: x\n";
    let out = edit(src, &[("config", json!("new one\nnew two\n"))]);
    insta::assert_snapshot!(out, @"
    config: | # keep
      new one
      new two

    next: x
    ");
}

#[test]
fn empty_value_gets_a_value_or_children() {
    let src = "a:\nb: # nothing yet\nc: 1\n";
    let out = edit(src, &[("a", json!("x")), ("b.c", json!("y"))]);
    insta::assert_snapshot!(out, @r#"
    a: x
    b: # nothing yet
      c: "y"
    c: 1
    "#);
}

#[test]
fn last_line_without_newline() {
    let src = "image:\n  tag: v1";
    let out = edit(
        src,
        &[("image.tag", json!("v2")), ("image.repo", json!("r"))],
    );
    insta::assert_snapshot!(out, @"
    image:
      tag: v2
      repo: r
    ");
}

#[test]
fn errors_leave_the_text_alone() {
    let src = "image:\n  tag: v1\nlist: [a]\n";
    insta::assert_snapshot!(edit(src, &[("image.tag.x", json!(1))]), @"ERROR: key `image.tag.x`: `image.tag` is a scalar, not a mapping");
    insta::assert_snapshot!(edit(src, &[("list.3", json!(1))]), @"ERROR: key `list.3`: index 3 is out of range: `list` has 1 items");
    insta::assert_snapshot!(edit(src, &[("list.x", json!(1))]), @"ERROR: key `list.x`: `list` is a sequence; `x` is not an index");
    insta::assert_snapshot!(edit("- a:\n    b: 1\n", &[("0", json!(1))]), @"ERROR: key `0`: holds a block collection inside a sequence");
    insta::assert_snapshot!(edit("a: [b\n", &[("a", json!(1))]), @"ERROR: cannot parse: unclosed bracket '[' at char 3 line 1 column 4");
}

#[test]
fn a_block_collection_is_replaced_in_place_keeping_the_lines_around_it() {
    let src = "\
image: # the app
  repository: r
  tag: v1
hosts:
  - a.example.com # first
  - b.example.com
replicas: 1
";
    let out = edit(
        src,
        &[
            ("image", json!("r:v2")),
            ("hosts", json!(["c.example.com"])),
        ],
    );
    insta::assert_snapshot!(out, @r"
    image: r:v2 # the app
    hosts:
      - c.example.com
    replicas: 1
    ");
}

#[test]
fn created_collections_are_written_in_block_style() {
    let src = "app:\r\n  name: web\r\n";
    let value = json!({
        "env": [{"name": "MODE", "value": "on"}, {"name": "N"}],
        "empty": [],
        "none": {},
        "nested": [[1, 2]]
    });
    let out = edit(src, &[("app.extra", value)]);
    let mut lines = out.split('\n').filter(|l| !l.is_empty());
    assert!(lines.all(|l| l.ends_with('\r')), "CRLF kept: {out:?}");
    insta::assert_snapshot!(out.replace('\r', ""), @r#"
    app:
      name: web
      extra:
        env:
          - name: MODE
            value: "on"
          - name: "N"
        empty: []
        none: {}
        nested:
          -
            - 1
            - 2
    "#);
}

#[test]
fn read_resolves_types_and_expands_aliases() {
    let src = "a: &x {tag: \"1.10\", n: 1.5, b: true, z: ~}\nb: *x\nc: [1, '2', 0x10]\n";
    insta::assert_snapshot!(read(src).unwrap().to_string(), @r#"{"a":{"tag":"1.10","n":1.5,"b":true,"z":null},"b":{"tag":"1.10","n":1.5,"b":true,"z":null},"c":[1,"2",16]}"#);
}

const HELM_VALUES: &str = include_str!("../../tests/fixtures/values.yaml");

#[test]
fn helm_values_image_tag_touches_one_line() {
    let out = edit(HELM_VALUES, &[("image.tag", json!("1.5.0"))]);
    insta::assert_snapshot!(crate::edit::changed_lines(HELM_VALUES, &out), @r#"
    10 -  tag: "1.4.2" # kargo: image tag
    10 +  tag: "1.5.0" # kargo: image tag
    "#);
}

#[test]
fn helm_values_many_updates_keep_every_comment() {
    let out = edit(
        HELM_VALUES,
        &[
            ("replicaCount", json!(3)),
            ("image.digest", json!("sha256:0123abcd")),
            ("securityContext.readOnlyRootFilesystem", json!(false)),
            ("securityContext.capabilities.drop.0", json!("NET_RAW")),
            ("ingress.hosts.0.paths.0.path", json!("/api")),
            (r"podAnnotations.prometheus\.io/port", json!("9091")),
            ("env.2.value", json!("60")),
            ("resources.limits.cpu", json!("1")),
            ("serviceAccount.annotations.owner", json!("payments")),
            (
                "ingress.annotations.kubernetes\\.io/ingress\\.class",
                json!("nginx"),
            ),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(HELM_VALUES, &out), @r#"
     4 -replicaCount: 2 # scaled by HPA in prod
     4 +replicaCount: 3 # scaled by HPA in prod
    11 -  digest: '' # pinned by digest when set
    11 +  digest: 'sha256:0123abcd' # pinned by digest when set
    19 -  annotations: {} # e.g. eks.amazonaws.com/role-arn
    19 +  annotations: {owner: payments} # e.g. eks.amazonaws.com/role-arn
    24 -  prometheus.io/port: "9090"
    24 +  prometheus.io/port: "9091"
    29 -  readOnlyRootFilesystem: yes # YAML 1.1 boolean
    29 +  readOnlyRootFilesystem: false # YAML 1.1 boolean
    31 -    drop: [ALL] # flow sequence
    31 +    drop: [NET_RAW] # flow sequence
    43 -        - path: / # everything
    43 +        - path: /api # everything
    46 +  annotations:
    47 +    kubernetes.io/ingress.class: nginx
    49 -    cpu: 500m # half a core
    51 +    cpu: "1" # half a core
    61 -    value: "30" # seconds, as a string
    63 +    value: "60" # seconds, as a string
    "#);
}

#[test]
fn helm_values_block_scalar_and_new_nested_keys() {
    let out = edit(
        HELM_VALUES,
        &[
            ("config", json!("listen: 0.0.0.0:9090\nmode: staging\n")),
            ("autoscaling.minReplicas", json!(2)),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(HELM_VALUES, &out), @"
    64 -  listen: 0.0.0.0:8080
    65 -  mode: production
    64 +  listen: 0.0.0.0:9090
    65 +  mode: staging
    70 +autoscaling:
    71 +  minReplicas: 2
    ");
}

#[test]
fn multi_document_file_edits_the_first_document() {
    let src = "---\nkind: A # first\nspec: {x: 1}\n---\nkind: B\n";
    insta::assert_snapshot!(edit(src, &[("spec.x", json!(2)), ("kind", json!("C"))]), @"
    ---
    kind: C # first
    spec: {x: 2}
    ---
    kind: B
    ");
}

#[test]
fn strings_needing_escapes_are_double_quoted() {
    let src = "a: x\nb: 'x'\nc: x\n";
    let out = edit(
        src,
        &[
            ("a", json!("line1\nline2")),
            ("b", json!("tab\there")),
            ("c", json!("key: value #1")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    a: "line1\nline2"
    b: "tab\there"
    c: "key: value #1"
    "#);
}

/// A values file past [`SECTION_EDIT_MIN_LEN`]: `count` services, each a
/// top-level key with comments, quoted and plain scalars, flow and block
/// collections, a block scalar, and CRLF endings when `nl` says so.
fn large_values(nl: &str) -> String {
    let mut out = format!("# Large values file{nl}---{nl}global:{nl}  domain: example.com{nl}");
    let mut i = 0;
    while out.len() < SECTION_EDIT_MIN_LEN + 4096 {
        out.push_str(&format!(
            "svc{i}:{nl}  image:{nl}    repository: ghcr.io/example/svc{i} # image{nl}    tag: 'v1.{i}.0'{nl}  ports: [80, 443]{nl}  limits: {{cpu: 500m}}{nl}  notes: |{nl}    line one{nl}    line two{nl}  env:{nl}    - name: MODE # mode{nl}      value: \"on\"{nl}{nl}# after svc{i}{nl}"
        ));
        i += 1;
    }
    out
}

fn updates(list: &[(&str, Value)]) -> Vec<Update> {
    list.iter()
        .map(|(k, v)| Update::new(*k, v.clone()))
        .collect()
}

#[test]
fn large_files_edited_by_section_equal_whole_document_edits() {
    for nl in ["\n", "\r\n"] {
        let src = large_values(nl);
        let cases: &[&[(&str, Value)]] = &[
            &[("svc3.image.tag", json!("v9.9.9"))],
            &[("svc3.image.pullPolicy", json!("Always"))],
            &[("svc3.limits.memory", json!("1Gi"))],
            &[("svc7.ports.1", json!(8443))],
            &[("svc7.notes", json!("one\ntwo\nthree\n"))],
            &[("svc8.env.0.value", json!("off"))],
            &[
                ("svc9.replicas", json!(3)),
                ("svc1.image.tag", json!("yes")),
            ],
            &[("global.domain", json!("example.org"))],
        ];
        for list in cases {
            let ups = updates(list);
            let sectioned = update_sections(&src, &ups, Mode::CreateOrReplace)
                .expect("the section path applies");
            let whole = update_document(&src, &ups, Mode::CreateOrReplace)
                .expect("the whole-document path applies");
            assert_eq!(sectioned, whole, "{list:?} with {nl:?}");
            assert_eq!(update(&src, &ups).unwrap(), whole);
        }
    }
}

#[test]
fn large_files_use_the_whole_document_when_a_section_cannot_stand_alone() {
    let base = large_values("\n");
    let with_alias = base.replace(
        "global:\n  domain: example.com\n",
        "global:\n  domain: &domain example.com\n",
    ) + "late:\n  host: *domain\n";
    let cases = [
        // A new top-level key.
        (base.clone(), "fresh.key"),
        // The key's section refers to an anchor defined elsewhere.
        (with_alias, "late.port"),
        // A second document follows.
        (format!("{base}---\nother: doc\n"), "svc2.image.tag"),
        // The root key is quoted.
        (format!("{base}\"quoted\":\n  a: b\n"), "quoted.a"),
    ];
    for (src, key) in cases {
        let ups = [Update::new(key, "v2")];
        assert_eq!(
            update_sections(&src, &ups, Mode::CreateOrReplace),
            None,
            "{key}"
        );
        assert_eq!(
            update(&src, &ups).unwrap(),
            update_document(&src, &ups, Mode::CreateOrReplace).unwrap()
        );
    }
}

#[test]
fn large_files_refuse_a_defect_in_the_edited_section_and_keep_one_elsewhere() {
    let base = large_values("\n");
    let defect = "svc5:\n  image: [unclosed\n";
    let broken = base.replacen("svc5:\n", defect, 1);
    // In the edited section: refused, as for any file.
    let err = update(&broken, &[Update::new("svc5.tag", "v2")]).unwrap_err();
    assert!(matches!(err, EditError::Parse(_)), "{err}");
    // Elsewhere: the edit lands and the defect's bytes stay as they were.
    let out = update(&broken, &[Update::new("svc9.image.tag", "v2")]).unwrap();
    assert!(out.contains(defect));
    assert!(out.contains(
        "svc9:\n  image:\n    repository: ghcr.io/example/svc9 # image\n    tag: 'v2'\n"
    ));
    assert_eq!(out.len(), broken.len() - "v1.9.0".len() + "v2".len());
}

#[test]
fn duplicate_keys_on_the_path_are_refused() {
    let src = "image:\n  tag: v1\nimage:\n  tag: v2\n";
    insta::assert_snapshot!(edit(src, &[("image.tag", json!("v3"))]), @"ERROR: key `image.tag`: `image` appears more than once in the document");
    let src = "image:\n  tag: v1\n  tag: v2\n";
    insta::assert_snapshot!(edit(src, &[("image.tag", json!("v3"))]), @"ERROR: key `image.tag`: `tag` appears more than once in `image`");
}

#[test]
fn flow_collections_are_replaced_whole() {
    let src = "ports: [80, 443] # open\nlimits: {cpu: 1}\n";
    let out = edit(src, &[("ports", json!([8080])), ("limits", json!("none"))]);
    insta::assert_snapshot!(out, @"
    ports: [8080] # open
    limits: none
    ");
}

#[test]
fn an_empty_key_is_not_the_key_tilde() {
    // The parser reports an empty scalar as `~`; a key written as nothing
    // is not a key named `~`.
    insta::assert_snapshot!(edit(":\n", &[("~", json!("v"))]), @r#"
    :
    "~": v
    "#);
}

/// yaml-update's editor: existing scalars only.
fn edit_existing(src: &str, updates: &[(&str, Value)]) -> String {
    run_editor(update_existing, src, updates)
}

/// Kargo's `pkg/yaml/yaml_test.go` (`TestSetValuesInBytes`,
/// `TestFindScalarNode`): yaml-update changes existing scalars only.
#[test]
fn yaml_update_changes_existing_scalars_only() {
    let chars = "\ncharacters:\n- name: Arthur Dent\n  answer: idk\n";
    assert_eq!(
        edit_existing(chars, &[("characters.0.answer", json!(42))]),
        "\ncharacters:\n- name: Arthur Dent\n  answer: 42\n",
        "no extra quotes around a true number"
    );
    assert_eq!(
        edit_existing(chars, &[("characters.0.answer", json!("42"))]),
        "\ncharacters:\n- name: Arthur Dent\n  answer: \"42\"\n",
        "extra quotes around a string holding a number"
    );
    assert_eq!(
        edit_existing(chars, &[("characters.0.answer", json!(42.0))]),
        "\ncharacters:\n- name: Arthur Dent\n  answer: 42\n",
        "123.0 is written as Kargo's %v writes it"
    );
    let long = format!(
        "\ncharacters:\n- name: Anakin\n  affiliation: Light side\n  temptation: \"{}\"\n",
        "Did you ever hear the tragedy? ".repeat(1000)
    );
    assert_eq!(
        edit_existing(&long, &[("characters.0.affiliation", json!("Dark side"))]),
        long.replace("Light side", "Dark side"),
        "really long lines still work"
    );
    assert!(
        edit_existing(
            "\ncharacters:\n- name: Anakin\n\taffiliation: Light side\n",
            &[("characters.0.name", json!("x"))]
        )
        .starts_with("ERROR: cannot parse"),
        "a tab-indented line is invalid YAML"
    );

    let rebels =
        "\ncharacters:\n  rebels:\n  - name: Skywalker\n  empty:\n  alias: &a x\n  ref: *a\n";
    insta::assert_snapshot!(edit_existing(rebels, &[("characters.imperials", json!("x"))]), @"ERROR: key `characters.imperials`: not found: `characters` has no key `imperials`; yaml-update only changes existing keys");
    insta::assert_snapshot!(edit_existing(rebels, &[("characters.rebels.first.name", json!("x"))]), @"ERROR: key `characters.rebels.first.name`: `characters.rebels` is a sequence; `first` is not an index");
    insta::assert_snapshot!(edit_existing(rebels, &[("characters.rebels", json!("x"))]), @"ERROR: key `characters.rebels`: holds a sequence, not a scalar; yaml-update only changes scalar values");
    insta::assert_snapshot!(edit_existing(rebels, &[("characters", json!("x"))]), @"ERROR: key `characters`: holds a mapping, not a scalar; yaml-update only changes scalar values");
    insta::assert_snapshot!(edit_existing(rebels, &[("characters.ref", json!("x"))]), @"ERROR: key `characters.ref`: holds an alias, not a scalar; yaml-update only changes scalar values");
    insta::assert_snapshot!(edit_existing(rebels, &[("characters.empty.sub", json!("x"))]), @"ERROR: key `characters.empty.sub`: not found: `characters.empty` holds no mapping; yaml-update only changes existing keys");
    insta::assert_snapshot!(edit_existing(rebels, &[("nope", json!("x"))]), @"ERROR: key `nope`: not found: the document has no key `nope`; yaml-update only changes existing keys");
    insta::assert_snapshot!(edit_existing(rebels, &[(r"characters\nrebels", json!("x"))]), @r"ERROR: key `characters\nrebels`: has an invalid escape sequence `\n` (only `\.` and `\:` exist)");
    insta::assert_snapshot!(
        edit_existing(rebels, &[("characters.rebels.0.name", json!("Leia")), ("characters.empty", json!("now"))]),
        "a key with no value is a null scalar and can be set",
        @r"
    characters:
      rebels:
      - name: Leia
      empty: now
      alias: &a x
      ref: *a
    "
    );
}

/// Large files go through the section path: a missing key is refused
/// there too.
#[test]
fn yaml_update_refuses_missing_keys_in_large_files() {
    let src = large_values("\n");
    let err = update_existing(&src, &[Update::new("svc1.image.tga", "v2")]).unwrap_err();
    assert!(err.to_string().contains("has no key `tga`"), "{err}");
    let out = update_existing(&src, &[Update::new("svc1.image.tag", "v2")]).unwrap();
    assert_ne!(out, src);
}

/// The side-by-side check of yaml-update says "the same" exactly when the
/// whole-tree check would: the changed value must read as expected, and
/// every other value, alias and later document as before.
#[test]
fn the_side_by_side_check_agrees_with_the_whole_tree_check() {
    let old = "a: 1\nb: [x, y]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n";
    let changes = vec![(vec![1, 1], Sem::Str("z".into()))];
    let whole = |new: &str| {
        let mut expected: Vec<Sem> = parse(old).unwrap().iter().map(sem).collect();
        *sem_at_mut(&mut expected[0], &[1, 1]).unwrap() = Sem::Str("z".into());
        let got: Vec<Sem> = parse(new).unwrap().iter().map(sem).collect();
        got == expected
    };
    let same = "a: 1\nb: [x, 'z']\nc: &k {d: 2}\ne: *k\n---\nf: 3\n";
    assert!(same_in_step(old, same, &changes).unwrap());
    assert!(whole(same));
    let different = [
        (
            "a: 2\nb: [x, z]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n",
            "a sibling",
        ),
        (
            "a: 1\nb: [x, y]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n",
            "the value",
        ),
        (
            "a: 1\nb: [x, 1]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n",
            "the type",
        ),
        (
            "a: 1\nb: [x, z, w]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n",
            "the length",
        ),
        (
            "a: 1\nb: [x, z]\nc: &k {d: 2}\ne: {d: 2}\n---\nf: 3\n",
            "an alias",
        ),
        (
            "a: 1\nb: [x, z]\nc: &k {d: 2}\ne: *k\n---\nf: 4\n",
            "a later document",
        ),
        ("a: 1\nb: [x, z]\nc: &k {d: 2}\ne: *k\n", "a document gone"),
        ("a: 1\nb: [x, z]\nc: &k {D: 2}\ne: *k\n---\nf: 3\n", "a key"),
    ];
    for (new, what) in different {
        assert!(!same_in_step(old, new, &changes).unwrap(), "{what}");
        assert!(!whole(new), "{what}");
    }
    // A changed value may be a collection (a scalar replaced by `[1, 2]`).
    let changes = vec![(vec![0], Sem::Seq(vec![Sem::Int(1), Sem::Int(2)]))];
    let new = "a: [1, 2]\nb: [x, y]\nc: &k {d: 2}\ne: *k\n---\nf: 3\n";
    assert!(same_in_step(old, new, &changes).unwrap());
}

/// yaml-update's lean path gives byte for byte what the whole-tree path
/// gives, and the same errors.
#[test]
fn updating_existing_scalars_matches_the_whole_tree_path() {
    let src = "# top\nimage: {tag: v1}\nlist:\n  - a\n  - b # keep\nnested:\n  deep:\n    key: |\n      text\n";
    let cases: [&[(&str, Value)]; 5] = [
        &[("image.tag", json!("v2"))],
        &[
            ("list.1", json!("c")),
            ("nested.deep.key", json!("two\nlines\n")),
        ],
        &[("image.tag", json!([1, 2])), ("image.tag.0", json!(3))],
        &[("missing", json!(1))],
        &[("nested.deep", json!(1))],
    ];
    for updates in cases {
        let updates: Vec<Update> = updates
            .iter()
            .map(|(k, v)| Update::new(*k, v.clone()))
            .collect();
        let lean = update_scalars(src, &updates);
        let mut text = src.to_owned();
        let whole = (|| {
            let mut expected: Vec<Sem> = Vec::new();
            for (n, update) in updates.iter().enumerate() {
                let docs = parse(&text)?;
                if n == 0 {
                    expected = docs.iter().map(sem).collect();
                }
                let (splice, change) = plan(&text, &docs[0], update, Mode::ExistingScalars)?;
                change.apply(&mut expected[0], &update.key)?;
                text = splice.apply(&text);
            }
            verify(&text, &expected, &updates)?;
            Ok::<_, EditError>(text.clone())
        })();
        assert_eq!(lean, whole, "{updates:?}");
    }
}

/// The structure-writing editor's lean path (each edit planned on its
/// key's path and checked event by event) gives byte for byte what the
/// whole-tree path gives, and the same errors; and where the whole-tree
/// path succeeds, the lean path's checks pass (it does not fall back).
#[test]
fn creating_updates_match_the_whole_tree_path() {
    let values = include_str!("../../tests/fixtures/values.yaml");
    let src = "# top\nimage: {tag: v1}\nlist:\n  - a\n  - b # keep\nnested:\n  deep:\n    key: |\n      text\n  empty:\nflow: {a: 1, b: [x]}\nanchor: &a {x: 1}\nalias: *a\nblock:\n  - name: one\n    value: 1\n---\nsecond: doc\n";
    let cases: &[&[(&str, Value)]] = &[
        &[("image.tag", json!("v2"))],
        &[("image.digest", json!("sha256:1"))],
        &[("nested.deep.other", json!({"a": [1, {"b": null}]}))],
        &[("nested.empty.child", json!("c"))],
        &[("nested.empty", json!(["x", "y"]))],
        &[("nested.deep", json!("flat"))],
        &[("nested.deep.key", json!("two\nlines\n"))],
        &[
            ("fresh.key.deeper", json!(3)),
            ("fresh.key.sibling", json!(true)),
        ],
        &[("flow.c", json!({"d": 1})), ("flow.b", json!([]))],
        &[("list", json!({"now": "a map"}))],
        &[("list.1", json!("c")), ("list.0", json!([1, 2]))],
        &[("block.0.value", json!(2)), ("block.0.extra", json!("e"))],
        &[("anchor.y", json!(2))],
        &[("alias.x", json!(2))],
        &[("alias", json!("plain"))],
        &[("list.5", json!("x"))],
        &[("list.x", json!("x"))],
        &[("image.tag.deeper", json!("x"))],
        &[("image.tag", json!("v2")), ("bad..key", json!(1))],
        &[("new", json!(1)), ("new.child", json!(2))],
    ];
    let mut texts = vec![src.to_owned(), src.replace('\n', "\r\n"), values.to_owned()];
    texts.push(large_values("\n"));
    for text in &texts {
        for list in cases {
            let ups = updates(list);
            let whole = update_document_whole(text, &ups, Mode::CreateOrReplace);
            let lean = created_in_steps(text, &ups);
            match (&lean, &whole) {
                (Ok(Some(out)), Ok(expected)) => assert_eq!(out, expected, "{list:?}"),
                (Err(e), Err(expected)) => assert_eq!(e, expected, "{list:?}"),
                _ => panic!("{list:?}: lean {lean:?}, whole {whole:?}"),
            }
            assert_eq!(update_created(text, &ups), whole, "{list:?}");
        }
    }
    // A text that does not parse, or a key that does not split, as on
    // whole trees.
    for (text, key) in [
        ("a: [1\n", "b"),
        ("a: [1\n", "bad..key"),
        ("a: 1\n", "bad..key"),
    ] {
        let ups = [Update::new(key, 1)];
        assert_eq!(
            created_in_steps(text, &ups).unwrap_err(),
            update_document_whole(text, &ups, Mode::CreateOrReplace).unwrap_err()
        );
    }
}

/// The side-by-side check also sees an entry added at the end of a
/// mapping: its key and value must read as expected, and nothing else may
/// change.
#[test]
fn the_side_by_side_check_sees_appended_entries() {
    let old = "a: 1\nb: {c: 2}\nd:\n  e: 3\n";
    let appended = Edit::Append(vec![1], Sem::Str("x".into()), Sem::Int(4));
    let check = |new: &str| same_after(old, new, std::slice::from_ref(&appended)).unwrap();
    assert!(check("a: 1\nb: {c: 2, x: 4}\nd:\n  e: 3\n"));
    assert!(
        !check("a: 1\nb: {c: 2, x: 5}\nd:\n  e: 3\n"),
        "another value"
    );
    assert!(!check("a: 1\nb: {c: 2, y: 4}\nd:\n  e: 3\n"), "another key");
    assert!(!check("a: 1\nb: {c: 2}\nd:\n  e: 3\n"), "no entry");
    assert!(
        !check("a: 1\nb: {c: 2, x: 4, z: 1}\nd:\n  e: 3\n"),
        "two entries"
    );
    assert!(
        !check("a: 1\nb: {c: 2}\nd:\n  e: 3\n  x: 4\n"),
        "in another mapping"
    );
    assert!(!check("a: 2\nb: {c: 2, x: 4}\nd:\n  e: 3\n"), "a sibling");
    let root = Edit::Append(vec![], Sem::Str("x".into()), Sem::Int(4));
    assert!(same_after(old, &format!("{old}x: 4\n"), &[root]).unwrap());
}

/// Kargo's Go YAML refuses an empty block mapping key; the event walk
/// finds the first one as the tree walk did, and a syntax error anywhere
/// still comes first.
#[test]
fn empty_block_keys_are_found_by_walking_events() {
    let err = |src: &str| check_go_yaml(src).map_err(|e| e.to_string());
    assert_eq!(err("a: 1\nb: {: flow is fine}\n"), Ok(()));
    assert_eq!(
        err("a: 1\nb:\n  c: 2\n  : 3\n: 4\n"),
        Err("cannot parse: a mapping key is missing at line 4 (`:` with no key before it)".into())
    );
    assert_eq!(
        err("- a\n- : 1\n"),
        Err("cannot parse: a mapping key is missing at line 2 (`:` with no key before it)".into())
    );
    assert_eq!(err("? |\n  text\n: v\n"), Ok(()));
    let broken = err("a: 1\n: 2\nb: [unclosed\n").unwrap_err();
    assert!(!broken.contains("mapping key is missing"), "{broken}");
}
