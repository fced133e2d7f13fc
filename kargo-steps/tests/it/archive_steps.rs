//! `tar` and `untar` against temporary work dirs, with archives made by
//! the steps themselves, by the system's `tar`, and by hand (hostile ones).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::{ConvertCase, check_convert_cases, read, run, setup};

/// Every path below `root` (sorted, `/`-joined, directories with a
/// trailing `/`), with file contents and link targets.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.push(format!(
                    "{rel} = {}",
                    std::fs::read_to_string(&path).unwrap()
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// An archive entry: name, type, and contents or link target.
type RawEntry<'a> = (&'a str, ::tar::EntryType, &'a str);

/// An uncompressed archive with entries exactly as given, written without
/// the `tar` crate's checks.
fn hostile_archive(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut builder = ::tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut header = ::tar::Header::new_gnu();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        if *kind == ::tar::EntryType::Symlink {
            let link = &mut header.as_old_mut().linkname;
            link[..data.len()].copy_from_slice(data.as_bytes());
            header.set_size(0);
            header.set_cksum();
            builder.append(&header, std::io::empty()).unwrap();
        } else {
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder.append(&header, data.as_bytes()).unwrap();
        }
    }
    builder.into_inner().unwrap()
}

#[test]
fn documented_examples_deserialize_and_unknown_keys_are_rejected() {
    use kargo_steps::{tar, untar};
    for config in [
        json!({"inPath": "./source-code", "outPath": "./artifacts/bundle.tar.gz", "gzip": true}),
        json!({"inPath": "./source-code", "outPath": "./artifacts/bundle.tar", "gzip": false}),
        json!({"inPath": "./source-code", "outPath": "./artifacts/bundle.tar.gz", "gzip": true, "ignore": "temp/\n.DS_Store\n"}),
    ] {
        serde_json::from_value::<tar::Config>(config).unwrap();
    }
    for config in [
        json!({"inPath": "./artifacts/bundle.tar.gz", "outPath": "./extracted"}),
        json!({"inPath": "./artifacts/bundle.tar.gz", "outPath": "./extracted", "stripComponents": 1}),
        json!({"inPath": "./artifacts/bundle.tar.gz", "outPath": "./extracted", "ignore": "*.log\ntemp/\n.DS_Store\n"}),
    ] {
        serde_json::from_value::<untar::Config>(config).unwrap();
    }
    let extra = json!({"inPath": "a", "outPath": "b", "compression": "xz"});
    assert!(serde_json::from_value::<tar::Config>(extra.clone()).is_err());
    assert!(serde_json::from_value::<untar::Config>(extra).is_err());
    let negative = json!({"inPath": "a", "outPath": "b", "stripComponents": -1});
    assert!(serde_json::from_value::<untar::Config>(negative).is_err());
}

#[tokio::test]
async fn tar_then_untar_round_trips_with_and_without_gzip() {
    let (dir, ctx) = setup(&[
        ("source-code/app/values.yaml", "image: v1\n"),
        ("source-code/README.md", "hello\n"),
        ("source-code/.git/HEAD", "ref: main\n"),
        ("source-code/run.sh", "#!/bin/sh\n"),
    ]);
    let src = dir.path().join("source-code");
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("app/values.yaml", src.join("values.yaml")).unwrap();

    for (gzip, out) in [
        (true, "artifacts/bundle.tar.gz"),
        (false, "artifacts/bundle.tar"),
    ] {
        run(
            &ctx,
            "tar",
            json!({"inPath": "./source-code", "outPath": out, "gzip": gzip}),
        )
        .await
        .unwrap();
        let bytes = std::fs::read(dir.path().join(out)).unwrap();
        assert_eq!(bytes.starts_with(&[0x1f, 0x8b]), gzip, "{out}");
        run(
            &ctx,
            "untar",
            json!({"inPath": out, "outPath": "./extracted"}),
        )
        .await
        .unwrap();
        assert_eq!(
            tree(&dir.path().join("extracted")),
            [
                "README.md = hello\n",
                "app/",
                "app/values.yaml = image: v1\n",
                "run.sh = #!/bin/sh\n",
                "values.yaml -> app/values.yaml",
            ],
            "{out}: .git is left out without `ignore`"
        );
        let mode = std::fs::metadata(dir.path().join("extracted/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}

#[tokio::test]
async fn tar_of_a_single_file_and_ignore_patterns() {
    let (dir, ctx) = setup(&[
        ("src/keep.txt", "k"),
        ("src/temp/x.txt", "t"),
        ("src/.DS_Store", "d"),
        ("src/.git/HEAD", "h"),
    ]);
    run(
        &ctx,
        "tar",
        json!({"inPath": "src", "outPath": "a.tar", "ignore": "temp/\n.DS_Store\n"}),
    )
    .await
    .unwrap();
    run(&ctx, "untar", json!({"inPath": "a.tar", "outPath": "x"}))
        .await
        .unwrap();
    // With patterns given, `.git` is archived, as in Kargo.
    assert_eq!(
        tree(&dir.path().join("x")),
        [".git/", ".git/HEAD = h", "keep.txt = k"]
    );

    run(
        &ctx,
        "tar",
        json!({"inPath": "src/keep.txt", "outPath": "one.tar"}),
    )
    .await
    .unwrap();
    run(&ctx, "untar", json!({"inPath": "one.tar", "outPath": "y"}))
        .await
        .unwrap();
    assert_eq!(tree(&dir.path().join("y")), ["keep.txt = k"]);

    run(
        &ctx,
        "untar",
        json!({"inPath": "a.tar", "outPath": "z", "ignore": "*.txt\n# comment\n"}),
    )
    .await
    .unwrap();
    assert_eq!(tree(&dir.path().join("z")), [".git/", ".git/HEAD = h"]);
}

#[tokio::test]
async fn untar_reads_a_gnu_tar_chart_with_strip_components_and_replaces_out_path() {
    let (dir, ctx) = setup(&[
        ("build/mychart/Chart.yaml", "name: mychart\n"),
        ("build/mychart/templates/cm.yaml", "kind: ConfigMap\n"),
        ("charts/mychart/stale.yaml", "old\n"),
    ]);
    let status = Command::new("tar")
        .args(["-czf", "mychart-1.0.0.tgz", "-C", "build", "./mychart"])
        .current_dir(dir.path())
        .status()
        .expect("the system's tar runs");
    assert!(status.success());
    run(
        &ctx,
        "untar",
        json!({"inPath": "./mychart-1.0.0.tgz", "outPath": "./charts/mychart", "stripComponents": 2}),
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&dir.path().join("charts/mychart")),
        [
            "Chart.yaml = name: mychart\n",
            "templates/",
            "templates/cm.yaml = kind: ConfigMap\n"
        ],
        "`./` counts as a component; the old contents are gone"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["mychart"],
        "no staging directory is left behind"
    );
}

/// Kargo's `tar_extractor_test.go` "skips unsafe path traversal attempts"
/// and "skips unsafe symlinks": such entries are skipped, listed in the
/// output, and nothing lands outside `outPath`.
#[tokio::test]
async fn untar_skips_unsafe_entries_and_lists_them() {
    use ::tar::EntryType::{Directory, Regular, Symlink};
    let (dir, ctx) = setup(&[("out/existing.txt", "replaced")]);
    let archive = hostile_archive(&[
        ("ok.txt", Regular, "ok"),
        ("../x", Regular, "x"),
        ("a/../../y", Regular, "y"),
        ("/etc/evil", Regular, "e"),
        ("./dot", Regular, "d"),
        ("win\\path", Regular, "w"),
        ("abs-link", Symlink, "/etc"),
        ("d/up-link", Symlink, "../../outside"),
        ("dotdot", Symlink, ".."),
        ("sub", Directory, ""),
        ("in-link", Symlink, "sub"),
        ("in-link/f", Regular, "through the link"),
        ("sub/file", Regular, "z"),
    ]);
    std::fs::write(dir.path().join("evil.tar"), archive).unwrap();
    let out = run(
        &ctx,
        "untar",
        json!({"inPath": "evil.tar", "outPath": "out"}),
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&dir.path().join("out")),
        // As in Kargo, the parent of a skipped link is made first.
        [
            "d/",
            "in-link -> sub",
            "ok.txt = ok",
            "sub/",
            "sub/file = z"
        ]
    );
    insta::assert_snapshot!(
        serde_json::to_string_pretty(&out.output["skipped"]).unwrap(),
        "every unsafe entry, with why",
        @r#"
    [
      {
        "name": "../x",
        "reason": "its path leads out of `outPath` (`..`)"
      },
      {
        "name": "a/../../y",
        "reason": "its path leads out of `outPath` (`..`)"
      },
      {
        "name": "/etc/evil",
        "reason": "its path is absolute"
      },
      {
        "name": "./dot",
        "reason": "its path starts with `./`"
      },
      {
        "name": "win\\path",
        "reason": "its path has a `\\` in it"
      },
      {
        "name": "abs-link",
        "reason": "it is a symbolic link to `/etc`, which is absolute"
      },
      {
        "name": "d/up-link",
        "reason": "it is a symbolic link to `../../outside`, which leads out of `outPath` (`..`)"
      },
      {
        "name": "dotdot",
        "reason": "it is a symbolic link to `..`, which leads out of `outPath` (`..`)"
      },
      {
        "name": "in-link/f",
        "reason": "it lies below a symbolic link"
      }
    ]
    "#
    );
    for outside in ["x", "y", "outside"] {
        assert!(!dir.path().join(outside).exists(), "{outside}");
        assert!(
            !dir.path().parent().unwrap().join(outside).exists(),
            "{outside}"
        );
    }
}

/// Kargo's `./x` rule, and `stripComponents` taking the `.` away.
#[tokio::test]
async fn untar_handles_dot_slash_entries_as_kargo_does() {
    use ::tar::EntryType::{Directory, Regular};
    let (dir, ctx) = setup(&[]);
    let archive = hostile_archive(&[
        ("./", Directory, ""),
        ("./a.txt", Regular, "a"),
        ("./d/./f", Regular, "f"),
    ]);
    std::fs::write(dir.path().join("dot.tar"), archive).unwrap();
    let out = run(
        &ctx,
        "untar",
        json!({"inPath": "dot.tar", "outPath": "plain"}),
    )
    .await
    .unwrap();
    assert_eq!(tree(&dir.path().join("plain")), Vec::<String>::new());
    assert_eq!(out.output["skipped"].as_array().unwrap().len(), 3);
    let out = run(
        &ctx,
        "untar",
        json!({"inPath": "dot.tar", "outPath": "stripped", "stripComponents": 1}),
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&dir.path().join("stripped")),
        ["a.txt = a", "d/", "d/f = f"]
    );
    assert_eq!(out.output["skipped"], json!([]));
}

#[tokio::test]
async fn untar_keeps_links_inside_out_path() {
    use ::tar::EntryType::{Regular, Symlink};
    let (dir, ctx) = setup(&[]);
    let archive = hostile_archive(&[
        ("a/b/file", Regular, "x"),
        ("a/b/same", Symlink, "file"),
        ("a/top", Symlink, "b/file"),
    ]);
    std::fs::write(dir.path().join("ok.tar"), archive).unwrap();
    run(&ctx, "untar", json!({"inPath": "ok.tar", "outPath": "out"}))
        .await
        .unwrap();
    assert_eq!(
        tree(&dir.path().join("out")),
        [
            "a/",
            "a/b/",
            "a/b/file = x",
            "a/b/same -> file",
            "a/top -> b/file",
        ]
    );
}

#[tokio::test]
async fn an_archive_written_inside_its_own_tree_leaves_itself_out() {
    let (dir, ctx) = setup(&[("a.txt", "a"), ("bundle.tar", "old archive")]);
    run(&ctx, "tar", json!({"inPath": ".", "outPath": "bundle.tar"}))
        .await
        .unwrap();
    run(
        &ctx,
        "untar",
        json!({"inPath": "bundle.tar", "outPath": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(tree(&dir.path().join("x")), ["a.txt = a"]);
}

#[tokio::test]
async fn archive_errors_name_the_paths() {
    let (dir, ctx) = setup(&[(
        "junk.tar",
        "this is not a tar archive, just some text that is long enough",
    )]);
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "junk.tar", "outPath": "out"}),
    )
    .await
    .expect_err("junk");
    assert!(err.starts_with("untar: cannot extract `junk.tar`"), "{err}");
    assert!(!dir.path().join("out").exists());
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "missing.tar", "outPath": "out"}),
    )
    .await
    .expect_err("missing");
    assert!(err.contains("cannot extract `missing.tar`"), "{err}");
    let err = run(
        &ctx,
        "tar",
        json!({"inPath": "missing", "outPath": "a.tar"}),
    )
    .await
    .expect_err("missing");
    assert!(
        err.contains("tar: cannot create `a.tar`: cannot read `missing`"),
        "{err}"
    );
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "junk.tar", "outPath": "../out"}),
    )
    .await
    .expect_err("escapes the work dir");
    assert!(err.contains("../out"), "{err}");
    // Kargo: tar_creator_test.go, `Test_tarCreator_prepareInputPath`,
    // "path traversal attempt".
    let err = run(
        &ctx,
        "tar",
        json!({"inPath": "../outside.txt", "outPath": "a.tar"}),
    )
    .await
    .expect_err("escapes the work dir");
    assert!(err.contains("../outside.txt"), "{err}");
    assert!(!dir.path().join("a.tar").exists());
    let err = run(&ctx, "untar", json!({"inPath": "junk.tar", "outPath": "."}))
        .await
        .expect_err("the work dir itself");
    assert!(err.contains("work dir itself"), "{err}");
}

#[tokio::test]
async fn untar_of_a_gzip_with_a_bad_checksum_fails_and_extracts_nothing() {
    let (dir, ctx) = setup(&[("src/values.yaml", "image: v1\n")]);
    run(
        &ctx,
        "tar",
        json!({"inPath": "src", "outPath": "bundle.tar.gz", "gzip": true}),
    )
    .await
    .unwrap();
    // The gzip trailer is CRC-32 then length: spoil the CRC.
    let path = dir.path().join("bundle.tar.gz");
    let mut bytes = std::fs::read(&path).unwrap();
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "bundle.tar.gz", "outPath": "out"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("cannot extract `bundle.tar.gz`") && err.contains("corrupt"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists());
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["bundle.tar.gz", "src"]);
}

/// Kargo: tar_creator_test.go, `Test_tarConfig_convert`.
#[tokio::test]
async fn kargo_tar_creator_convert_cases() {
    check_convert_cases(
        "tar",
        vec![
            ("inPath not specified", json!({}), Some("missing field `inPath`")),
            ("inPath is empty string", json!({"inPath": ""}), Some("`inPath` must not be empty")),
            ("outPath not specified", json!({"inPath": "source_dir/"}), Some("missing field `outPath`")),
            ("outPath is empty string", json!({"inPath": "source_dir/", "outPath": ""}), Some("`outPath` must not be empty")),
            (
                "ignore is empty string",
                json!({"inPath": "source_dir/", "outPath": "archive.tar.gz", "ignore": ""}),
                Some("`ignore` must not be empty"),
            ),
            ("valid minimal config", json!({"inPath": "source_dir/", "outPath": "archive.tar.gz"}), None),
            (
                "valid config with gzip set to false",
                json!({"inPath": "source_dir/", "outPath": "archive.tar", "gzip": false}),
                None,
            ),
            (
                "valid config with ignore patterns",
                json!({"inPath": "source_dir/", "outPath": "archive.tar.gz", "ignore": "*.log\n*.tmp\n__pycache__/"}),
                None,
            ),
        ],
    )
    .await;
}

/// Kargo: tar_extractor_test.go, `Test_untarConfig_convert`. Kargo's
/// configs name absolute paths; these are relative, as kargo-rs refuses a
/// path outside the work dir.
#[tokio::test]
async fn kargo_tar_extractor_convert_cases() {
    let valid = |extra: serde_json::Value| {
        let mut config = json!({"inPath": "path/to/archive.tar.gz", "outPath": "destination/path"});
        for (k, v) in extra.as_object().expect("a mapping") {
            config[k] = v.clone();
        }
        config
    };
    let cases: Vec<ConvertCase> = vec![
        (
            "inPath not specified",
            json!({}),
            Some("missing field `inPath`"),
        ),
        (
            "inPath is empty string",
            json!({"inPath": ""}),
            Some("`inPath` must not be empty"),
        ),
        (
            "outPath not specified",
            json!({"inPath": "path/to/archive.tar.gz"}),
            Some("missing field `outPath`"),
        ),
        (
            "outPath is empty string",
            json!({"inPath": "path/to/archive.tar.gz", "outPath": ""}),
            Some("`outPath` must not be empty"),
        ),
        (
            "both required fields missing",
            json!({"stripComponents": 1}),
            Some("missing field `inPath`"),
        ),
        (
            "stripComponents is negative",
            valid(json!({"stripComponents": -1})),
            Some("at `stripComponents`: invalid value: integer `-1`"),
        ),
        (
            "ignore is empty string",
            valid(json!({"ignore": ""})),
            Some("`ignore` must not be empty"),
        ),
        ("valid minimal config", valid(json!({})), None),
        (
            "valid config with stripComponents=0",
            valid(json!({"stripComponents": 0})),
            None,
        ),
        (
            "valid config with stripComponents=1",
            valid(json!({"stripComponents": 1})),
            None,
        ),
        (
            "valid config with stripComponents=3",
            valid(json!({"stripComponents": 3})),
            None,
        ),
        (
            "valid config with ignore patterns",
            valid(json!({"ignore": "*.log\n*.tmp\n__pycache__/"})),
            None,
        ),
        (
            "valid config with stripComponents and ignore",
            valid(json!({"stripComponents": 2, "ignore": "node_modules/\n.git/\n*.log"})),
            None,
        ),
        (
            "valid kitchen sink",
            json!({
                "inPath": "path/to/source-code.tar.gz",
                "outPath": "workspace/extracted",
                "stripComponents": 1,
                "ignore": "# Ignore build artifacts\nbuild/\ndist/\ntarget/\n\n# Ignore logs\n*.log\n*.tmp\n\n# Ignore version control\n.git/\n.svn/\n\n# Ignore dependencies\nnode_modules/\nvendor/",
            }),
            None,
        ),
    ];
    check_convert_cases("untar", cases).await;
}

/// The names in `dir`, sorted (to see that no temporary file is left).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A file of `len` zero bytes at `rel` under `root` (sparse, so cheap).
fn sparse_file(root: &Path, rel: &str, len: u64) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Kargo: tar_creator_test.go, `Test_tarCreator_run` "creates parent
/// directories for nested output path", "atomically replaces existing
/// destination" and "fails to create output directory when blocked by a
/// file"; `Test_tarCreator_createTarball` "succeeds archiving an empty
/// directory"; `Test_tarCreator_buildIgnoreMatcher` "spaces default to
/// ignoring .git" and "empty string defaults to ignoring .git" (at any
/// depth).
#[tokio::test]
async fn kargo_tar_creator_output_and_default_ignore_cases() {
    let (dir, ctx) = setup(&[
        ("source/new_file.txt", "new content"),
        ("source/.git/HEAD", "h"),
        ("source/sub/.git/config", "c"),
        ("archive.tar", "old archive content"),
        ("nested-file", "blocking file"),
    ]);
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let tar_then_untar = |from: &'static str, to: &'static str, extra: serde_json::Value| {
        let ctx = &ctx;
        async move {
            let mut config = json!({"inPath": from, "outPath": to});
            for (k, v) in extra.as_object().unwrap() {
                config[k] = v.clone();
            }
            run(ctx, "tar", config).await.unwrap();
            run(ctx, "untar", json!({"inPath": to, "outPath": "x"}))
                .await
                .unwrap();
        }
    };

    tar_then_untar("source", "nested/archive.tar", json!({})).await;
    assert_eq!(
        tree(&dir.path().join("x")),
        ["new_file.txt = new content", "sub/"]
    );
    assert_eq!(names_in(&dir.path().join("nested")), ["archive.tar"]);

    tar_then_untar("source", "archive.tar", json!({})).await;
    assert_eq!(
        tree(&dir.path().join("x")),
        ["new_file.txt = new content", "sub/"]
    );

    tar_then_untar("source", "spaces.tar", json!({"ignore": "  \n "})).await;
    assert_eq!(
        tree(&dir.path().join("x")),
        ["new_file.txt = new content", "sub/"],
        "blank patterns leave `.git` out, as no patterns do"
    );

    tar_then_untar("empty", "empty.tar", json!({})).await;
    assert_eq!(tree(&dir.path().join("x")), Vec::<String>::new());

    let err = run(
        &ctx,
        "tar",
        json!({"inPath": "source", "outPath": "nested-file/archive.tar"}),
    )
    .await
    .expect_err("a file is in the way");
    assert!(err.contains("nested-file/archive.tar"), "{err}");
    assert_eq!(read(dir.path(), "nested-file"), "blocking file");
}

/// Kargo: tar_creator_test.go, `Test_tarCreator_createTarball` "fails with
/// file larger than max size" and "fails with total archive size larger
/// than limit": the step fails naming the limit and writes nothing.
#[tokio::test]
async fn kargo_tar_creator_size_limits() {
    use kargo_steps::tar::{MAX_FILE_SIZE, MAX_TOTAL_SIZE};
    let (dir, ctx) = setup(&[]);
    sparse_file(dir.path(), "big/huge.bin", MAX_FILE_SIZE + 1);
    let err = run(&ctx, "tar", json!({"inPath": "big", "outPath": "big.tar"}))
        .await
        .expect_err("too large a file");
    assert!(
        err.contains(&format!("larger than the limit of {MAX_FILE_SIZE} bytes")),
        "{err}"
    );
    let part = MAX_TOTAL_SIZE / 3 + 1;
    for i in 0..3 {
        sparse_file(dir.path(), &format!("many/part-{i}.bin"), part);
    }
    let err = run(
        &ctx,
        "tar",
        json!({"inPath": "many", "outPath": "many.tar"}),
    )
    .await
    .expect_err("too much in all");
    assert!(
        err.contains(&format!("add up to more than {MAX_TOTAL_SIZE} bytes")),
        "{err}"
    );
    assert_eq!(names_in(dir.path()), ["big", "many"], "nothing is written");
}

/// Kargo: tar_extractor_test.go, `Test_tarExtractor_run` "creates parent
/// directories for nested output path", "fails with invalid input file
/// path and maintains atomicity" and "fails during extraction and
/// maintains atomicity": a failed extraction leaves an existing `outPath`
/// as it was, and no staging directory behind.
#[tokio::test]
async fn kargo_tar_extractor_nested_out_path_and_atomic_failures() {
    let (dir, ctx) = setup(&[
        ("src/file.txt", "test content"),
        ("out/keep.txt", "kept"),
        ("junk.tar", &"not a tar archive ".repeat(64)),
    ]);
    run(
        &ctx,
        "tar",
        json!({"inPath": "src", "outPath": "a.tar.gz", "gzip": true}),
    )
    .await
    .unwrap();
    run(
        &ctx,
        "untar",
        json!({"inPath": "a.tar.gz", "outPath": "deeply/nested/out"}),
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&dir.path().join("deeply")),
        [
            "nested/",
            "nested/out/",
            "nested/out/file.txt = test content"
        ]
    );
    for input in ["missing.tar", "junk.tar"] {
        let err = run(&ctx, "untar", json!({"inPath": input, "outPath": "out"}))
            .await
            .expect_err(input);
        assert!(err.contains(&format!("cannot extract `{input}`")), "{err}");
        assert_eq!(
            tree(&dir.path().join("out")),
            ["keep.txt = kept"],
            "{input}"
        );
    }
    assert_eq!(
        names_in(dir.path()),
        ["a.tar.gz", "deeply", "junk.tar", "out", "src"]
    );
}

/// Kargo: tar_extractor_test.go, `Test_tarExtractor_extractToDir` "fails
/// with file larger than size limit" and "fails with total archive size
/// larger than limit" (and `Test_tarExtractor_run` "fails during
/// extraction and maintains atomicity"): the step fails naming the limit
/// and `outPath` keeps what it held. The first archive only claims its
/// size (the check comes before the data is read).
#[tokio::test]
async fn kargo_tar_extractor_size_limits() {
    use kargo_steps::untar::{MAX_FILE_SIZE, MAX_TOTAL_SIZE};
    let (dir, ctx) = setup(&[("out/keep.txt", "kept")]);
    let mut header = ::tar::Header::new_gnu();
    header.set_path("huge.bin").unwrap();
    header.set_size(MAX_FILE_SIZE + 1);
    header.set_mode(0o644);
    header.set_cksum();
    std::fs::write(dir.path().join("huge.tar"), header.as_bytes()).unwrap();
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "huge.tar", "outPath": "out"}),
    )
    .await
    .expect_err("too large a file");
    assert!(
        err.contains(&format!("larger than the limit of {MAX_FILE_SIZE} bytes")),
        "{err}"
    );

    let part = MAX_TOTAL_SIZE / 3 + 1;
    let file = std::fs::File::create(dir.path().join("many.tar")).unwrap();
    let mut builder = ::tar::Builder::new(file);
    for i in 0..3 {
        let mut header = ::tar::Header::new_gnu();
        header.set_size(part);
        header.set_mode(0o644);
        header.set_cksum();
        let zeros = std::io::Read::take(std::io::repeat(0), part);
        builder
            .append_data(&mut header, format!("part-{i}.bin"), zeros)
            .unwrap();
    }
    builder.finish().unwrap();
    let err = run(
        &ctx,
        "untar",
        json!({"inPath": "many.tar", "outPath": "out"}),
    )
    .await
    .expect_err("too much in all");
    assert!(
        err.contains(&format!("add up to more than {MAX_TOTAL_SIZE} bytes")),
        "{err}"
    );
    assert_eq!(names_in(dir.path()), ["huge.tar", "many.tar", "out"]);
    assert_eq!(tree(&dir.path().join("out")), ["keep.txt = kept"]);
}

/// Kargo: tar_extractor_test.go, `Test_tarExtractor_extractToDir` "handles
/// file permissions safely (masks setuid/setgid)": only the permission
/// bits are kept.
#[tokio::test]
async fn kargo_tar_extractor_masks_setuid_and_setgid() {
    let (dir, ctx) = setup(&[]);
    let mut builder = ::tar::Builder::new(Vec::new());
    for (name, mode) in [
        ("setuid.sh", 0o4755),
        ("setgid.sh", 0o2755),
        ("plain.txt", 0o644),
    ] {
        let mut header = ::tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(mode);
        header.set_cksum();
        builder.append_data(&mut header, name, &b"x"[..]).unwrap();
    }
    std::fs::write(dir.path().join("modes.tar"), builder.into_inner().unwrap()).unwrap();
    run(
        &ctx,
        "untar",
        json!({"inPath": "modes.tar", "outPath": "out"}),
    )
    .await
    .unwrap();
    for (name, want) in [
        ("setuid.sh", 0o755),
        ("setgid.sh", 0o755),
        ("plain.txt", 0o644),
    ] {
        let mode = std::fs::metadata(dir.path().join("out").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, want, "{name}");
    }
}
