//! Cases from Kargo's `pkg/promotion/runner/builtin/file_deleter_test.go`
//! (`Test_fileDeleter_run`), case by case, on real files: each case builds
//! a work dir `wd` inside a directory `outside` (which holds what must
//! never be deleted), runs the `delete` step, and checks what is left.
//! The config cases (`Test_fileDeleter_convert`) are the schema rules
//! `schema.rs` derives from Kargo's `delete-config.json`.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use kargo_core::Workspace;
use kargo_core::step::{ErrorKind, Step, StepContext};
use kargo_steps::Delete;
use serde_json::{Value, json};

use crate::check_convert_cases;

/// A case: files to make (a path ending in `/` is a directory), symlinks
/// (link, target as written), the config, and what must be true after.
struct Case {
    name: &'static str,
    files: &'static [&'static str],
    links: &'static [(&'static str, &'static str)],
    config: Value,
    /// `None`: the step succeeds; `Some(text)`: it fails, Errored without
    /// retries, with `text` in its message.
    fails: Option<&'static str>,
    /// Paths (relative to `outside`, the work dir being `wd`) that must be
    /// gone, and those that must remain (symbolic links count as there).
    gone: &'static [&'static str],
    kept: &'static [&'static str],
}

fn make(root: &Path, files: &[&str]) {
    for file in files {
        let path = root.join(file);
        if file.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, file.as_bytes()).unwrap();
        }
    }
}

fn there(path: &PathBuf) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

async fn check(case: Case) {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    make(&outside, case.files);
    let wd = outside.join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    for (link, target) in case.links {
        symlink(target, wd.join(link)).unwrap();
    }
    let ctx = StepContext::new(Workspace::new(&wd).unwrap());
    let name = case.name;
    let result = Delete.run(&ctx, case.config).await;
    match (case.fails, result) {
        (None, Ok(_)) => {}
        (None, Err(e)) => panic!("{name}: {e}"),
        (Some(text), Ok(_)) => panic!("{name}: succeeded, expected an error with {text:?}"),
        (Some(text), Err(e)) => {
            assert!(e.to_string().contains(text), "{name}: {e}");
            assert_ne!(e.kind(), ErrorKind::Retryable, "{name}: {e}");
        }
    }
    for path in case.gone {
        assert!(!there(&outside.join(path)), "{name}: {path} is still there");
    }
    for path in case.kept {
        assert!(there(&outside.join(path)), "{name}: {path} was deleted");
    }
}

#[tokio::test]
async fn kargo_file_deleter_run_cases() {
    let cases = [
        Case {
            name: "succeeds deleting file",
            files: &["wd/input.txt"],
            links: &[],
            config: json!({"path": "input.txt"}),
            fails: None,
            gone: &["wd/input.txt"],
            kept: &[],
        },
        Case {
            name: "succeeds deleting directory",
            files: &["wd/dirToDelete/"],
            links: &[],
            config: json!({"path": "dirToDelete"}),
            fails: None,
            gone: &["wd/dirToDelete"],
            kept: &[],
        },
        Case {
            name: "fails for non-existent path when strict is true",
            files: &[],
            links: &[],
            config: json!({"path": "nonExistentFile.txt", "strict": true}),
            fails: Some("nonExistentFile.txt"),
            gone: &[],
            kept: &[],
        },
        Case {
            name: "succeeds for non-existent path when strict is false",
            files: &[],
            links: &[],
            config: json!({"path": "nonExistentFile.txt", "strict": false}),
            fails: None,
            gone: &[],
            kept: &[],
        },
        Case {
            name: "removes symlink only",
            files: &["wd/input/input.txt"],
            links: &[("input/symlink.txt", "input.txt")],
            config: json!({"path": "input/symlink.txt"}),
            fails: None,
            gone: &["wd/input/symlink.txt"],
            kept: &["wd/input/input.txt"],
        },
        Case {
            name: "removes a file within a symlink",
            files: &["wd/bar/file.txt"],
            links: &[("foo", "bar")],
            config: json!({"path": "foo/"}),
            fails: None,
            gone: &["wd/foo"],
            kept: &["wd/bar/file.txt"],
        },
        Case {
            name: "literal paths deletes multiple entries",
            files: &["wd/a.txt", "wd/b.txt", "wd/c.md"],
            links: &[],
            config: json!({"paths": ["a.txt", "b.txt"]}),
            fails: None,
            gone: &["wd/a.txt", "wd/b.txt"],
            kept: &["wd/c.md"],
        },
        Case {
            name: "literal paths with a parent directory and a child both listed",
            files: &["wd/dir/file.txt"],
            links: &[],
            config: json!({"paths": ["dir", "dir/file.txt"], "strict": true}),
            fails: None,
            gone: &["wd/dir"],
            kept: &[],
        },
        Case {
            name: "literal paths with one missing entry succeeds when strict is false",
            files: &["wd/a.txt"],
            links: &[],
            config: json!({"paths": ["a.txt", "missing.txt"], "strict": false}),
            fails: None,
            gone: &["wd/a.txt"],
            kept: &[],
        },
        Case {
            name: "literal paths with one missing entry errors when strict is true",
            files: &["wd/a.txt"],
            links: &[],
            config: json!({"paths": ["a.txt", "missing.txt"], "strict": true}),
            fails: Some("missing.txt"),
            gone: &[],
            kept: &["wd/a.txt"],
        },
        Case {
            name: "literal path with glob metacharacters is treated literally",
            files: &["wd/a[1].txt", "wd/a2.txt"],
            links: &[],
            config: json!({"path": "a[1].txt"}),
            fails: None,
            gone: &["wd/a[1].txt"],
            kept: &["wd/a2.txt"],
        },
        Case {
            name: "glob matches multiple files and retains non-matching",
            files: &["wd/a.txt", "wd/b.txt", "wd/c.md"],
            links: &[],
            config: json!({"path": "*.txt", "pathsAreGlobs": true}),
            fails: None,
            gone: &["wd/a.txt", "wd/b.txt"],
            kept: &["wd/c.md"],
        },
        Case {
            name: "glob with recursive ** matches nested files",
            files: &[
                "wd/a.tmp",
                "wd/sub/b.tmp",
                "wd/sub/deep/c.tmp",
                "wd/sub/deep/keep.md",
            ],
            links: &[],
            config: json!({"path": "**/*.tmp", "pathsAreGlobs": true}),
            fails: None,
            gone: &["wd/a.tmp", "wd/sub/b.tmp", "wd/sub/deep/c.tmp"],
            kept: &["wd/sub/deep/keep.md"],
        },
        Case {
            name: "glob patterns with a leading ./ are matched relative to workDir",
            files: &["wd/out/a.tmp", "wd/out/build/b.tmp", "wd/out/keep.md"],
            links: &[],
            config: json!({
                "paths": ["./out/**/*.tmp", "./out/build/"],
                "pathsAreGlobs": true,
                "strict": true,
            }),
            fails: None,
            gone: &["wd/out/a.tmp", "wd/out/build"],
            kept: &["wd/out/keep.md"],
        },
        Case {
            name: "glob matching a directory deletes the whole directory",
            files: &["wd/build/out/artifact"],
            links: &[],
            config: json!({"path": "buil*", "pathsAreGlobs": true}),
            fails: None,
            gone: &["wd/build"],
            kept: &[],
        },
        Case {
            name: "glob deletes a matched symlink as a link",
            files: &["wd/target.txt"],
            links: &[("link.txt", "target.txt")],
            config: json!({"path": "link.*", "pathsAreGlobs": true}),
            fails: None,
            gone: &["wd/link.txt"],
            kept: &["wd/target.txt"],
        },
        Case {
            name: "glob paths with multiple patterns deletes the union",
            files: &["wd/a.log", "wd/b.tmp", "wd/c.md"],
            links: &[],
            config: json!({"paths": ["*.log", "*.tmp"], "pathsAreGlobs": true}),
            fails: None,
            gone: &["wd/a.log", "wd/b.tmp"],
            kept: &["wd/c.md"],
        },
        Case {
            name: "glob matches nothing and succeeds when strict is false",
            files: &["wd/a.md"],
            links: &[],
            config: json!({"path": "*.txt", "pathsAreGlobs": true, "strict": false}),
            fails: None,
            gone: &[],
            kept: &["wd/a.md"],
        },
        Case {
            name: "glob matches nothing and errors when strict is true",
            files: &[],
            links: &[],
            config: json!({"path": "*.txt", "pathsAreGlobs": true, "strict": true}),
            fails: Some("`*.txt` matches nothing"),
            gone: &[],
            kept: &[],
        },
        Case {
            name: "glob paths mixed match and no-match errors on the empty one when strict is true",
            files: &["wd/a.log"],
            links: &[],
            config: json!({"paths": ["*.log", "*.txt"], "pathsAreGlobs": true, "strict": true}),
            fails: Some("`*.txt` matches nothing"),
            gone: &[],
            kept: &["wd/a.log"],
        },
        Case {
            name: "invalid glob pattern is a terminal error",
            files: &[],
            links: &[],
            config: json!({"path": "[", "pathsAreGlobs": true}),
            fails: Some("invalid glob `[`"),
            gone: &[],
            kept: &[],
        },
        Case {
            name: "literal path with a missing parent directory succeeds when strict is false",
            files: &[],
            links: &[],
            config: json!({"path": "no_such_dir/child.txt", "strict": false}),
            fails: None,
            gone: &[],
            kept: &[],
        },
        Case {
            name: "literal path with a missing parent directory errors when strict is true",
            files: &[],
            links: &[],
            config: json!({"path": "no_such_dir/child.txt", "strict": true}),
            fails: Some("no_such_dir/child.txt"),
            gone: &[],
            kept: &[],
        },
        Case {
            name: "literal path attempting to traverse outside workDir errors",
            files: &["escape-target"],
            links: &[],
            config: json!({"path": "../escape-target"}),
            fails: Some("../escape-target"),
            gone: &[],
            kept: &["escape-target"],
        },
        Case {
            name: "literal path does not delete external files through a symlink",
            files: &["ext/secret.txt"],
            links: &[("link", "../ext")],
            config: json!({"path": "link/secret.txt"}),
            fails: Some("link/secret.txt"),
            gone: &[],
            kept: &["ext/secret.txt", "wd/link"],
        },
        Case {
            name: "glob pattern with .. matches nothing",
            files: &["escape-target"],
            links: &[],
            config: json!({"path": "../*", "pathsAreGlobs": true, "strict": true}),
            fails: Some(".."),
            gone: &[],
            kept: &["escape-target"],
        },
        Case {
            name: "glob does not delete external files through a symlink",
            files: &["ext/secret.txt"],
            links: &[("link", "../ext")],
            config: json!({"path": "link/*", "pathsAreGlobs": true}),
            fails: Some("link"),
            gone: &[],
            kept: &["ext/secret.txt", "wd/link"],
        },
    ];
    for case in cases {
        check(case).await;
    }
}

/// Kargo: file_deleter_test.go, `Test_fileDeleter_convert` (plus `path`
/// and `paths` both set, which Kargo's `oneOf` refuses too). Kargo's
/// configs name absolute paths; these are relative, as kargo-rs refuses a
/// path outside the work dir.
#[tokio::test]
async fn kargo_file_deleter_convert_cases() {
    let one_of = Some("exactly one of `path` and `paths` must be set");
    check_convert_cases(
        "delete",
        vec![
            ("path and paths not specified", json!({}), one_of),
            (
                "path and paths both specified",
                json!({"path": "a", "paths": ["b"]}),
                one_of,
            ),
            (
                "path is empty string",
                json!({"path": ""}),
                Some("`path` must not be empty"),
            ),
            (
                "strict is not specified",
                json!({"path": "path/to/delete"}),
                None,
            ),
            (
                "valid minimal config",
                json!({"path": "path/to/delete"}),
                None,
            ),
            (
                "valid config with strict=false",
                json!({"path": "path/to/delete", "strict": false}),
                None,
            ),
            (
                "valid config with strict=true",
                json!({"path": "path/to/delete", "strict": true}),
                None,
            ),
            (
                "valid kitchen sink",
                json!({"path": "path/to/file/or/directory/to/delete", "strict": true}),
                None,
            ),
            (
                "paths with multiple entries",
                json!({"paths": ["path/to/a", "path/to/b", "path/to/c"]}),
                None,
            ),
            (
                "paths present but empty array",
                json!({"paths": []}),
                Some("`paths` must have at least one item"),
            ),
            (
                "paths containing an empty string",
                json!({"paths": [""]}),
                Some("`paths[0]` must not be empty"),
            ),
            (
                "pathsAreGlobs true with path",
                json!({"path": "*.txt", "pathsAreGlobs": true}),
                None,
            ),
            (
                "pathsAreGlobs true with paths",
                json!({"paths": ["*.txt", "**/*.tmp"], "pathsAreGlobs": true}),
                None,
            ),
            (
                "pathsAreGlobs with wrong type",
                json!({"path": "path/to/delete", "pathsAreGlobs": "true"}),
                Some("at `pathsAreGlobs`: invalid type: string"),
            ),
            (
                "unknown additional property",
                json!({"path": "path/to/delete", "bogus": "value"}),
                Some("unknown field `bogus`"),
            ),
            (
                "valid glob kitchen sink",
                json!({"paths": ["**/*.log", "build/"], "pathsAreGlobs": true, "strict": true}),
                None,
            ),
        ],
    )
    .await;
}
