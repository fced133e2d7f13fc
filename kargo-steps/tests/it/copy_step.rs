//! Cases from Kargo's `pkg/promotion/runner/builtin/file_copier_test.go`
//! (`Test_fileCopier_run`), case by case, on real files. The config cases
//! (`Test_filerCopier_convert`) are the schema rules `schema.rs` derives
//! from Kargo's `copy-config.json`.

use std::os::unix::fs::symlink;

use kargo_core::step::{ErrorKind, Step};
use serde_json::json;

use crate::{check_convert_cases, read, run, setup};

#[tokio::test]
async fn succeeds_copying_file() {
    let (dir, ctx) = setup(&[("input.txt", "test content")]);
    run(
        &ctx,
        "copy",
        json!({"inPath": "input.txt", "outPath": "output.txt"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "output.txt"), "test content");
}

#[tokio::test]
async fn succeeds_copying_directory() {
    let (dir, ctx) = setup(&[
        ("input/input.txt", "test content"),
        ("input/nested/nested.txt", "nested content"),
    ]);
    run(
        &ctx,
        "copy",
        json!({"inPath": "input/", "outPath": "output/"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "output/input.txt"), "test content");
    assert_eq!(
        read(dir.path(), "output/nested/nested.txt"),
        "nested content"
    );
}

/// A symbolic link inside the copied tree is left out, as in Kargo.
#[tokio::test]
async fn ignores_symlink() {
    let (dir, ctx) = setup(&[("input/input.txt", "test content")]);
    symlink("input.txt", dir.path().join("input/symlink.txt")).unwrap();
    run(
        &ctx,
        "copy",
        json!({"inPath": "input/", "outPath": "output/"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "output/input.txt"), "test content");
    assert!(
        std::fs::symlink_metadata(dir.path().join("output/symlink.txt")).is_err(),
        "the link is not copied"
    );
}

#[tokio::test]
async fn default_ignore_rule_ignores_git_directory_and_file() {
    for git in ["input/.git/file.txt", "input/.git"] {
        let (dir, ctx) = setup(&[
            (git, "ignored content"),
            ("input/input.txt", "test content"),
        ]);
        run(
            &ctx,
            "copy",
            json!({"inPath": "input/", "outPath": "output/"}),
        )
        .await
        .unwrap();
        assert_eq!(read(dir.path(), "output/input.txt"), "test content");
        assert!(!dir.path().join("output/.git").exists(), "{git}");
    }
}

#[tokio::test]
async fn overwrite_default_ignore_rules() {
    let (dir, ctx) = setup(&[
        ("input/.git/file.txt", "included content"),
        ("input/input.txt", "test content"),
    ]);
    run(
        &ctx,
        "copy",
        json!({"inPath": "input/", "outPath": "output/", "ignore": "!.git/"}),
    )
    .await
    .unwrap();
    assert_eq!(read(dir.path(), "output/input.txt"), "test content");
    assert_eq!(read(dir.path(), "output/.git/file.txt"), "included content");
}

#[tokio::test]
async fn fails_with_invalid_input_path() {
    let (_dir, ctx) = setup(&[]);
    let err = kargo_steps::Copy
        .run(&ctx, json!({"inPath": "input.txt", "outPath": "out"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("input.txt"), "{err}");
    assert_ne!(err.kind(), ErrorKind::Retryable, "{err}");
}

/// Kargo: file_copier_test.go, `Test_filerCopier_convert`. Kargo's valid
/// configs name absolute paths, which kargo-rs refuses as outside the work
/// dir when the step runs; these are relative.
#[tokio::test]
async fn kargo_file_copier_convert_cases() {
    check_convert_cases(
        "copy",
        vec![
            ("inPath not specified", json!({}), Some("missing field `inPath`")),
            ("inPath is empty string", json!({"inPath": ""}), Some("`inPath` must not be empty")),
            ("outPath not specified", json!({"inPath": "source/path"}), Some("missing field `outPath`")),
            ("outPath is empty string", json!({"inPath": "source/path", "outPath": ""}), Some("`outPath` must not be empty")),
            (
                "ignore is empty string",
                json!({"inPath": "source/path", "outPath": "destination/path", "ignore": ""}),
                Some("`ignore` must not be empty"),
            ),
            ("both required fields missing", json!({"ignore": "*.log\n*.tmp"}), Some("missing field `inPath`")),
            ("valid minimal config", json!({"inPath": "source/path", "outPath": "destination/path"}), None),
            (
                "valid config with ignore patterns",
                json!({"inPath": "source/path", "outPath": "destination/path", "ignore": "*.log\n*.tmp\nnode_modules/\n.git/"}),
                None,
            ),
            (
                "valid kitchen sink",
                json!({
                    "inPath": "path/to/source/directory",
                    "outPath": "path/to/destination/directory",
                    "ignore": "# Ignore log files\n*.log\n*.tmp\n\n# Ignore build artifacts\nbuild/\ndist/\n\n# Ignore version control\n.git/\n.svn/",
                }),
                None,
            ),
        ],
    )
    .await;
}
