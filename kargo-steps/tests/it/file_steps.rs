//! The file steps run through the registry against a temporary work dir.

use std::os::unix::fs::PermissionsExt;

use kargo_core::Workspace;
use kargo_core::step::{StepContext, StepRegistry};
use serde_json::{Value, json};

use crate::{read, run, setup};

// Kargo's documented examples (expressions already evaluated) deserialize,
// and an unknown key is rejected.

#[test]
fn documented_examples_deserialize_and_unknown_keys_are_rejected() {
    use kargo_steps::*;
    let update = json!({"path": "./src/charts/my-chart/values.yaml", "updates": [{"key": "image.tag", "value": "1.2.3"}]});
    let parse = json!({"path": "./src/config.json", "outputs": [{"name": "imageTag", "fromExpression": "image.tag"}]});
    serde_json::from_value::<yaml_update::Config>(update.clone()).unwrap();
    serde_json::from_value::<json_update::Config>(update.clone()).unwrap();
    serde_json::from_value::<toml_update::Config>(update.clone()).unwrap();
    serde_json::from_value::<hcl_update::Config>(update.clone()).unwrap();
    serde_json::from_value::<yaml_parse::Config>(parse.clone()).unwrap();
    serde_json::from_value::<json_parse::Config>(parse.clone()).unwrap();
    serde_json::from_value::<toml_parse::Config>(parse.clone()).unwrap();
    serde_json::from_value::<hcl_parse::Config>(parse.clone()).unwrap();
    let copy = json!({"inPath": "./overlay/stages/dev/kustomization.yaml", "outPath": "./src/stages/dev/kustomization.yaml"});
    serde_json::from_value::<copy::Config>(copy.clone()).unwrap();
    let delete =
        json!({"paths": ["./out/**/*.tmp", "./out/build/"], "pathsAreGlobs": true, "strict": true});
    serde_json::from_value::<delete::Config>(delete.clone()).unwrap();

    let with_extra = |mut v: Value| {
        v.as_object_mut().unwrap().insert("bogus".into(), json!(1));
        v
    };
    assert!(serde_json::from_value::<yaml_update::Config>(with_extra(update.clone())).is_err());
    assert!(serde_json::from_value::<json_update::Config>(with_extra(update.clone())).is_err());
    assert!(serde_json::from_value::<toml_update::Config>(with_extra(update.clone())).is_err());
    assert!(serde_json::from_value::<hcl_update::Config>(with_extra(update.clone())).is_err());
    assert!(serde_json::from_value::<yaml_parse::Config>(with_extra(parse.clone())).is_err());
    assert!(serde_json::from_value::<json_parse::Config>(with_extra(parse.clone())).is_err());
    assert!(serde_json::from_value::<toml_parse::Config>(with_extra(parse.clone())).is_err());
    assert!(serde_json::from_value::<hcl_parse::Config>(with_extra(parse.clone())).is_err());
    assert!(serde_json::from_value::<copy::Config>(with_extra(copy)).is_err());
    assert!(serde_json::from_value::<delete::Config>(with_extra(delete)).is_err());
    let bad_update = json!({"path": "a", "updates": [{"key": "a", "value": 1, "extra": 2}]});
    assert!(serde_json::from_value::<yaml_update::Config>(bad_update).is_err());
}

#[tokio::test]
async fn unknown_config_key_fails_the_step() {
    let (_dir, ctx) = setup(&[("v.yaml", "a: 1\n")]);
    let err = run(
        &ctx,
        "yaml-update",
        json!({"path": "v.yaml", "updates": [{"key": "a", "value": 2}], "pth": 1}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("unknown field `pth`"), "{err}");
}

/// A field of the wrong type is named by its path in the config, with the
/// step, and the work dir is left as it was.
#[tokio::test]
async fn a_config_field_of_the_wrong_type_names_the_field_and_the_step() {
    let (dir, ctx) = setup(&[("v.yaml", "a: 1\n"), ("src/f.txt", "x")]);
    let update = |u: Value| json!({"path": "v.yaml", "updates": [u]});
    let cases = [
        (
            "yaml-update",
            json!({"path": 3, "updates": [{"key": "a", "value": 2}]}),
            "invalid yaml-update config at `path`: invalid type: integer `3`, expected a string",
        ),
        (
            "yaml-update",
            update(json!({"key": ["a"], "value": 2})),
            "invalid yaml-update config at `updates[0].key`: invalid type: sequence, expected a string",
        ),
        (
            "json-update",
            update(json!({"key": "a", "value": 2, "extra": 1})),
            "invalid json-update config at `updates[0].extra`: unknown field `extra`",
        ),
        (
            "file-write",
            json!({"path": "out.txt", "contents": "x", "overwrite": "yes"}),
            "invalid file-write config at `overwrite`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "copy",
            json!({"inPath": "src", "outPath": {"dir": "dst"}}),
            "invalid copy config at `outPath`: invalid type: map, expected a string",
        ),
        (
            "delete",
            json!({"path": false}),
            "invalid delete config at `path`: invalid type: boolean `false`, expected a string",
        ),
        (
            "git-clone",
            json!({"repoURL": "file:///nowhere", "checkout": [{"branch": "main", "path": 3}]}),
            "invalid git-clone config at `checkout[0].path`: invalid type: integer `3`, expected a string",
        ),
        (
            "http",
            json!({"url": "http://127.0.0.1:9/", "headers": [{"name": "a", "value": 1}]}),
            "invalid http config at `headers[0].value`: invalid type: integer `1`, expected a string",
        ),
        (
            "yaml-parse",
            json!({"outputs": [{"name": "a", "fromExpression": "a"}]}),
            "invalid yaml-parse config: missing field `path`",
        ),
    ];
    for (kind, config, expected) in cases {
        let err = run(&ctx, kind, config).await.unwrap_err();
        assert!(err.starts_with(expected), "{kind}: {err}");
    }
    assert_eq!(read(dir.path(), "v.yaml"), "a: 1\n");
    assert!(!dir.path().join("out.txt").exists());
    assert!(!dir.path().join("dst").exists());
    assert_eq!(read(dir.path(), "src/f.txt"), "x");
}

#[tokio::test]
async fn yaml_update_writes_the_file_and_a_commit_message() {
    let (dir, ctx) = setup(&[(
        "charts/values.yaml",
        "image:\n  tag: v1 # kargo\nreplicas: 1\n",
    )]);
    std::fs::set_permissions(
        dir.path().join("charts/values.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let out = run(
        &ctx,
        "yaml-update",
        json!({"path": "./charts/values.yaml", "updates": [{"key": "image.tag", "value": "1.10"}, {"key": "replicas", "value": 2.0}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(dir.path(), "charts/values.yaml"),
        "image:\n  tag: \"1.10\" # kargo\nreplicas: 2\n"
    );
    assert_eq!(
        out.output["commitMessage"],
        "Updated ./charts/values.yaml\n\n- image.tag: \"1.10\"\n- replicas: 2"
    );
    let mode = std::fs::metadata(dir.path().join("charts/values.yaml"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
}

#[tokio::test]
async fn a_failed_update_leaves_the_file_byte_identical() {
    let src = "image:\n  tag: v1\r\nlist: [a]\nnew: 1\n";
    for (kind, file, contents, key) in [
        ("yaml-update", "v.yaml", src, "list.5"),
        ("yaml-update", "v.yaml", src, "image.tga"),
        ("yaml-update", "v.yaml", src, "image"),
        ("json-update", "v.json", "{\"a\": 1, \"new\": 0}", "a.b"),
        ("toml-update", "v.toml", "a = 1\nnew = 0\n", "a.b"),
        ("toml-update", "v.toml", "a = 1\nnew = 0\n", "b"),
        ("hcl-update", "v.tfvars", "a = 1\n", "a.b"),
    ] {
        let (dir, ctx) = setup(&[(file, contents)]);
        // The first update would apply; the second cannot: nothing is written.
        let err = run(
            &ctx,
            kind,
            json!({"path": file, "updates": [{"key": "new", "value": "x"}, {"key": key, "value": 1}]}),
        )
        .await
        .unwrap_err();
        assert!(err.contains(file) && err.contains(key), "{kind}: {err}");
        assert_eq!(read(dir.path(), file), contents, "{kind}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "{kind}: no temp file left"
        );
    }
}

#[tokio::test]
async fn paths_outside_the_work_dir_are_refused() {
    let (_dir, ctx) = setup(&[]);
    let err = run(
        &ctx,
        "yaml-update",
        json!({"path": "../x.yaml", "updates": [{"key": "a", "value": 1}]}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("leaves the work directory"), "{err}");
    let err = run(
        &ctx,
        "copy",
        json!({"inPath": "/etc/passwd", "outPath": "p"}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("absolute"), "{err}");
}

#[tokio::test]
async fn json_toml_and_hcl_updates_report_commit_messages() {
    let (dir, ctx) = setup(&[
        ("c.json", "{\n  \"image\": {\"tag\": \"v1\"}\n}\n"),
        ("c.toml", "[image]\ntag = \"v1\" # t\n"),
        ("c.tfvars", "image_uri = \"repo:v1\" # lambda\n"),
    ]);
    let json_out = run(
        &ctx,
        "json-update",
        json!({"path": "c.json", "updates": [{"key": "image.tag", "value": "v2"}]}),
    )
    .await
    .unwrap();
    let toml_out = run(
        &ctx,
        "toml-update",
        json!({"path": "c.toml", "updates": [{"key": "image.tag", "value": "v2"}]}),
    )
    .await
    .unwrap();
    let hcl_out = run(
        &ctx,
        "hcl-update",
        json!({"path": "c.tfvars", "updates": [{"key": "image_uri", "value": "repo:v2"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(dir.path(), "c.json"),
        "{\n  \"image\": {\"tag\": \"v2\"}\n}\n"
    );
    assert_eq!(read(dir.path(), "c.toml"), "[image]\ntag = 'v2' # t\n");
    assert_eq!(
        read(dir.path(), "c.tfvars"),
        "image_uri = \"repo:v2\" # lambda\n"
    );
    assert_eq!(
        json_out.output["commitMessage"],
        "Updated c.json\n\n- image.tag: \"v2\""
    );
    assert_eq!(
        toml_out.output["commitMessage"],
        "Updated c.toml\n\n- image.tag: 'v2'"
    );
    assert_eq!(
        hcl_out.output["commitMessage"],
        "Updated c.tfvars\n\n- image_uri: \"repo:v2\""
    );
}

#[tokio::test]
async fn parse_steps_evaluate_expressions_against_the_document() {
    let (_dir, ctx) = setup(&[
        ("v.yaml", "image:\n  tag: \"v1.2.3\"\nreplicas: 3\n"),
        ("v.json", "{\"image\": {\"tag\": \"v1.2.3\"}}"),
        ("v.toml", "[image]\ntag = \"v1.2.3\"\n"),
        ("v.tfvars", "image = { tag = \"v1.2.3\" }\n"),
    ]);
    for (kind, file) in [
        ("yaml-parse", "v.yaml"),
        ("json-parse", "v.json"),
        ("toml-parse", "v.toml"),
        ("hcl-parse", "v.tfvars"),
    ] {
        let out = run(
            &ctx,
            kind,
            json!({"path": file, "outputs": [{"name": "imageTag", "fromExpression": "image.tag"}]}),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(out.output["imageTag"], "v1.2.3", "{kind}");
    }
    let out = run(
        &ctx,
        "yaml-parse",
        json!({"path": "v.yaml", "outputs": [{"name": "r", "fromExpression": "replicas"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out.output["r"], 3);
}

#[tokio::test]
async fn copy_copies_trees_keeping_modes_and_skipping_ignored_paths() {
    let (dir, ctx) = setup(&[
        ("src/app/run.sh", "#!/bin/sh\n"),
        ("src/app/conf/a.yaml", "a: 1\n"),
        ("src/app/conf/tmp.log", "log\n"),
        ("src/app/.git/HEAD", "ref\n"),
        ("policies/iam-policy.json", "{}\n"),
    ]);
    std::fs::set_permissions(
        dir.path().join("src/app/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    run(
        &ctx,
        "copy",
        json!({"inPath": "./src/app", "outPath": "./out/app", "ignore": "*.log\n# comment\n"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "out/app/conf/a.yaml"), "a: 1\n");
    assert!(!dir.path().join("out/app/conf/tmp.log").exists());
    assert!(!dir.path().join("out/app/.git").exists());
    let mode = std::fs::metadata(dir.path().join("out/app/run.sh"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o755);
    run(
        &ctx,
        "copy",
        json!({"inPath": "policies/iam-policy.json", "outPath": "envs/dev/iam-policy.json"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "envs/dev/iam-policy.json"), "{}\n");
    let err = run(&ctx, "copy", json!({"inPath": "missing", "outPath": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("missing"), "{err}");
}

#[tokio::test]
async fn delete_removes_paths_and_globs_and_is_strict_on_request() {
    let (dir, ctx) = setup(&[
        ("out/a.tmp", ""),
        ("out/sub/b.tmp", ""),
        ("out/keep.yaml", ""),
        ("out/build/x", ""),
        ("single.txt", ""),
    ]);
    run(&ctx, "delete", json!({"path": "single.txt"}))
        .await
        .unwrap();
    assert!(!dir.path().join("single.txt").exists());
    run(&ctx, "delete", json!({"path": "single.txt"}))
        .await
        .unwrap();
    let err = run(
        &ctx,
        "delete",
        json!({"path": "single.txt", "strict": true}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("single.txt"), "{err}");
    run(
        &ctx,
        "delete",
        json!({"paths": ["./out/**/*.tmp", "./out/build/"], "pathsAreGlobs": true, "strict": true}),
    )
    .await
    .unwrap();
    assert!(!dir.path().join("out/a.tmp").exists());
    assert!(!dir.path().join("out/sub/b.tmp").exists());
    assert!(!dir.path().join("out/build").exists());
    assert!(dir.path().join("out/keep.yaml").exists());
    let err = run(
        &ctx,
        "delete",
        json!({"paths": ["out/*.nope"], "pathsAreGlobs": true, "strict": true}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("matches nothing"), "{err}");
    let err = run(&ctx, "delete", json!({"path": "a", "paths": ["b"]}))
        .await
        .unwrap_err();
    assert!(err.contains("exactly one"), "{err}");
}

#[tokio::test]
async fn yaml_merge_layers_files_into_a_new_one_and_reports_what_it_merged() {
    let (dir, ctx) = setup(&[
        (
            "src/values.yaml",
            "# base\nimage:\n  tag: v1 # pinned\nreplicas: 1\n",
        ),
        ("src/qa/values.yaml", "image:\n  tag: v2\n"),
        ("src/qa/cluster-a/values.yaml", "replicas: 3\n"),
    ]);
    let inputs = json!([
        "./src/values.yaml",
        "./src/qa/values.yaml",
        "./src/qa/cluster-a/values.yaml"
    ]);
    let outcome = run(
        &ctx,
        "yaml-merge",
        json!({"inFiles": inputs, "outFile": "./out/charts/values.yaml"}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(dir.path(), "out/charts/values.yaml"),
        "# base\nimage:\n  tag: v2 # pinned\nreplicas: 3\n"
    );
    assert_eq!(
        outcome.output["commitMessage"],
        "Merged 3 YAML files to ./out/charts/values.yaml\n- ./src/values.yaml\n- ./src/qa/values.yaml\n- ./src/qa/cluster-a/values.yaml"
    );
    // The inputs are untouched.
    assert_eq!(
        read(dir.path(), "src/qa/values.yaml"),
        "image:\n  tag: v2\n"
    );

    // A missing input fails, naming it, and writes nothing.
    let missing = json!({"inFiles": ["./src/values.yaml", "./src/prod/values.yaml"], "outFile": "./out/prod.yaml"});
    let err = run(&ctx, "yaml-merge", missing.clone()).await.unwrap_err();
    assert!(err.contains("src/prod/values.yaml"), "{err}");
    assert!(!dir.path().join("out/prod.yaml").exists());
    // ... unless missing files are ignored.
    let mut ignoring = missing;
    ignoring["ignoreMissingFiles"] = json!(true);
    let outcome = run(&ctx, "yaml-merge", ignoring).await.unwrap();
    assert_eq!(
        read(dir.path(), "out/prod.yaml"),
        read(dir.path(), "src/values.yaml")
    );
    assert_eq!(
        outcome.output["commitMessage"],
        "Wrote ./src/values.yaml to ./out/prod.yaml"
    );
    // No input left: an empty file and no commit message.
    let outcome = run(
        &ctx,
        "yaml-merge",
        json!({"inFiles": ["nope.yaml"], "outFile": "empty.yaml", "ignoreMissingFiles": true}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "empty.yaml"), "");
    assert!(outcome.output.get("commitMessage").is_none());
}

#[tokio::test]
async fn yaml_merge_names_a_broken_input_and_refuses_paths_outside_the_work_dir() {
    let (dir, ctx) = setup(&[
        ("a.yaml", "a: 1\n"),
        ("b.yaml", "a: [1\n"),
        ("out.yaml", "kept\n"),
    ]);
    let err = run(
        &ctx,
        "yaml-merge",
        json!({"inFiles": ["a.yaml", "b.yaml"], "outFile": "out.yaml"}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("`b.yaml`"), "{err}");
    assert_eq!(read(dir.path(), "out.yaml"), "kept\n");
    for config in [
        json!({"inFiles": ["../a.yaml"], "outFile": "out.yaml"}),
        json!({"inFiles": ["a.yaml"], "outFile": "../out.yaml"}),
        json!({"inFiles": [], "outFile": "out.yaml"}),
    ] {
        assert!(run(&ctx, "yaml-merge", config).await.is_err());
    }
    assert_eq!(read(dir.path(), "out.yaml"), "kept\n");
}

// Bounded resources: size limit, regular files only, alias bombs.

#[tokio::test]
async fn files_over_the_size_limit_are_refused_naming_file_and_limit() {
    let (dir, _) = setup(&[("big.yaml", "a: 1\nb: 2\nc: 3\n"), ("ok.yaml", "a: 1\n")]);
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap().with_max_file_bytes(8));
    let parse = json!({"path": "big.yaml", "outputs": [{"name": "a", "fromExpression": "a"}]});
    let update = json!({"path": "big.yaml", "updates": [{"key": "a", "value": 2}]});
    for (kind, config) in [("yaml-parse", parse), ("yaml-update", update)] {
        let err = run(&ctx, kind, config).await.unwrap_err();
        assert!(
            err.contains("`big.yaml`") && err.contains("limit of 8 bytes"),
            "{kind}: {err}"
        );
    }
    assert_eq!(read(dir.path(), "big.yaml"), "a: 1\nb: 2\nc: 3\n");
    let merge = json!({"inFiles": ["ok.yaml", "big.yaml"], "outFile": "out.yaml"});
    let err = run(&ctx, "yaml-merge", merge).await.unwrap_err();
    assert!(
        err.contains("`big.yaml`") && err.contains("limit of 8 bytes"),
        "{err}"
    );
    assert!(!dir.path().join("out.yaml").exists());
}

#[tokio::test]
async fn a_fifo_is_refused_instead_of_blocking_the_step() {
    let (dir, ctx) = setup(&[]);
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("pipe.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    let parse = json!({"path": "pipe.yaml", "outputs": [{"name": "a", "fromExpression": "a"}]});
    let copy = json!({"inPath": "pipe.yaml", "outPath": "copy.yaml"});
    for (kind, config) in [("yaml-parse", parse), ("copy", copy)] {
        let err = tokio::time::timeout(std::time::Duration::from_secs(20), run(&ctx, kind, config))
            .await
            .unwrap_or_else(|_| panic!("{kind} blocked on a FIFO"))
            .unwrap_err();
        assert!(
            err.contains("`pipe.yaml`: not a regular file (a FIFO)"),
            "{kind}: {err}"
        );
    }
    assert!(!dir.path().join("copy.yaml").exists());
}

/// A "billion laughs" document: each anchor repeats the previous one ten
/// times, nine levels deep (10^9 values once expanded).
fn alias_bomb() -> String {
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let prev = format!("*a{}", level - 1);
        let items = [prev.as_str(); 10].join(", ");
        doc.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    doc.push_str("images: []\nkind: Kustomization\n");
    doc
}

#[tokio::test]
async fn alias_bombs_are_refused_by_every_yaml_reader() {
    let bomb = alias_bomb();
    let (dir, ctx) = setup(&[
        ("bomb.yaml", bomb.as_str()),
        ("base.yaml", "a: 1\n"),
        ("k/kustomization.yaml", bomb.as_str()),
    ]);
    let cases = [
        (
            "yaml-parse",
            json!({"path": "bomb.yaml", "outputs": [{"name": "x", "fromExpression": "a0[0]"}]}),
        ),
        (
            "yaml-merge",
            json!({"inFiles": ["base.yaml", "bomb.yaml"], "outFile": "out.yaml"}),
        ),
        (
            "kustomize-set-image",
            json!({"path": "k", "images": [{"image": "nginx", "tag": "1.2"}]}),
        ),
    ];
    for (kind, config) in cases {
        let err = run(&ctx, kind, config).await.unwrap_err();
        assert!(
            err.contains("aliases expand to more than 1000000 values"),
            "{kind}: {err}"
        );
    }
    assert!(!dir.path().join("out.yaml").exists());
    assert_eq!(read(dir.path(), "k/kustomization.yaml"), bomb);
}

#[tokio::test]
async fn copying_a_directory_into_itself_fails_before_writing() {
    let (dir, ctx) = setup(&[("app/a.txt", "a")]);
    let err = run(
        &ctx,
        "copy",
        json!({"inPath": "app", "outPath": "app/nested/copy"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("cannot copy directory `app` into itself"),
        "{err}"
    );
    assert!(!dir.path().join("app/nested").exists());
}

#[tokio::test]
async fn file_write_to_a_path_ending_in_a_slash_is_refused() {
    let (dir, ctx) = setup(&[]);
    let err = run(&ctx, "file-write", json!({"path": "out/", "contents": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("`path` `out/` ends with `/`"), "{err}");
    assert!(!dir.path().join("out").exists());
}

#[tokio::test]
async fn a_list_where_the_config_mapping_is_expected_is_refused() {
    let (_dir, ctx) = setup(&[("v.yaml", "a: 1\n")]);
    let err = run(&ctx, "yaml-update", json!([{"path": "v.yaml"}]))
        .await
        .unwrap_err();
    assert!(err.contains("invalid yaml-update config"), "{err}");
    assert!(err.contains("sequence") && err.contains("struct"), "{err}");
}

/// Kargo's parse steps run expr-lang on the document itself: `$env` is its
/// root (a list or a scalar too), and a key it lacks is nil.
#[tokio::test]
async fn parse_steps_read_the_document_root_as_env() {
    let (_dir, ctx) = setup(&[
        ("list.json", "[\"first\", {\"name\": \"item2\"}, 3]"),
        ("scalar.yaml", "42\n"),
        ("map.json", "{\"key\": \"value\"}"),
    ]);
    let out = run(
        &ctx,
        "json-parse",
        json!({"path": "list.json", "outputs": [
            {"name": "first", "fromExpression": "$env[0]"},
            {"name": "name", "fromExpression": "$env[1].name"},
            {"name": "len", "fromExpression": "len($env)"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(out.output),
        json!({"first": "first", "name": "item2", "len": 3})
    );
    let out = run(
        &ctx,
        "yaml-parse",
        json!({"path": "scalar.yaml", "outputs": [{"name": "n", "fromExpression": "$env + 1"}]}),
    )
    .await
    .unwrap();
    assert_eq!(out.output["n"], 43);
    let out = run(
        &ctx,
        "json-parse",
        json!({"path": "map.json", "outputs": [
            {"name": "missing", "fromExpression": "missingKey"},
            {"name": "nested", "fromExpression": "key == 'value' && other == nil"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(out.output),
        json!({"missing": null, "nested": true})
    );
    let err = run(
        &ctx,
        "json-parse",
        json!({"path": "map.json", "outputs": [{"name": "x", "fromExpression": "nonexistent.path"}]}),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("cannot fetch `path` from `nonexistent`: it is nil"),
        "{err}"
    );
}

/// A config Kargo's schema refuses is refused before the promotion starts,
/// naming the step and the field: no step runs, no file changes.
#[tokio::test]
async fn a_config_the_schema_refuses_stops_the_promotion_before_it_starts() {
    use kargo_core::engine::{Engine, PromotionContext};
    use kargo_core::model::PromotionStep;
    let (dir, _ctx) = setup(&[("v.yaml", "a: 1\n")]);
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let engine = Engine::new(std::sync::Arc::new(registry));
    let ctx = PromotionContext::new(Workspace::new(dir.path()).unwrap());
    let steps: Vec<PromotionStep> = serde_json::from_value(json!([
        {"uses": "yaml-update", "as": "first", "config": {"path": "v.yaml", "updates": [{"key": "a", "value": 2}]}},
        {"uses": "json-parse", "as": "second", "config": {"path": "v.json", "outputs": [{"name": "", "fromExpression": "a"}]}},
    ]))
    .unwrap();
    let err = engine.run(&ctx, &steps).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "step `second` (json-parse): invalid json-parse config: `outputs[0].name` must not be empty"
    );
    assert_eq!(
        read(dir.path(), "v.yaml"),
        "a: 1\n",
        "the first step did not run"
    );
}
