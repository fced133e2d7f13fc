//! Cases from Kargo's `pkg/promotion/runner/builtin/file_writer_test.go`
//! (`Test_fileWriter_run`), case by case, on real files. The config cases
//! (`Test_fileWriter_convert`) are the schema rules `schema.rs` derives
//! from Kargo's `file-write-config.json`, and the permission parsing is
//! unit-tested beside the step.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::{check_convert_cases, read, run, setup};

/// A case: files and directories there before, the config, and the
/// expected result: `Ok(mode)` (the file's mode, `None` unchecked) or the
/// text of the error.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    dirs: &'static [&'static str],
    config: Value,
    want: Result<Option<u32>, &'static str>,
}

#[tokio::test]
async fn kargo_file_writer_run_cases() {
    let write = |path: &str, contents: &str| json!({"path": path, "contents": contents});
    let cases = [
        Case {
            name: "writes new file",
            files: &[],
            dirs: &[],
            config: write("out/config.yaml", "key: value\n"),
            want: Ok(None),
        },
        Case {
            name: "writes contents exactly as provided",
            files: &[],
            dirs: &[],
            config: write("out/config.yaml", "key: value"),
            want: Ok(None),
        },
        Case {
            name: "writes empty file",
            files: &[],
            dirs: &[],
            config: write("empty.txt", ""),
            want: Ok(None),
        },
        Case {
            name: "writes file with custom permissions",
            files: &[],
            dirs: &[],
            config: json!({"path": "public.txt", "contents": "test content", "permissions": "0644"}),
            want: Ok(Some(0o644)),
        },
        Case {
            name: "changes permissions when overwriting existing file",
            files: &[("public.txt", "existing content")],
            dirs: &[],
            config: json!({"path": "public.txt", "contents": "new content", "overwrite": true, "permissions": "0644"}),
            want: Ok(Some(0o644)),
        },
        Case {
            name: "rejects executable permissions",
            files: &[],
            dirs: &[],
            config: json!({"path": "script.sh", "contents": "echo test", "permissions": "0755"}),
            want: Err("executable"),
        },
        Case {
            name: "rejects special mode bits",
            files: &[],
            dirs: &[],
            config: json!({"path": "public.txt", "contents": "test content", "permissions": "1777"}),
            want: Err("1777"),
        },
        Case {
            name: "rejects world-writable permissions",
            files: &[],
            dirs: &[],
            config: json!({"path": "public.txt", "contents": "test content", "permissions": "0666"}),
            want: Err("must not be world-writable"),
        },
        Case {
            name: "fails when file exists without overwrite",
            files: &[("config.yaml", "existing: true\n")],
            dirs: &[],
            config: write("config.yaml", "existing: false\n"),
            want: Err("already exists"),
        },
        Case {
            name: "overwrites existing file",
            files: &[("config.yaml", "existing: true\n")],
            dirs: &[],
            config: json!({"path": "config.yaml", "contents": "existing: false\n", "overwrite": true}),
            want: Ok(None),
        },
        Case {
            name: "fails when path escapes work dir",
            files: &[],
            dirs: &[],
            config: write("../escape.txt", "test content"),
            want: Err("../escape.txt"),
        },
        Case {
            name: "fails when path targets .git directory",
            files: &[],
            dirs: &[],
            config: write(".git/config", "malicious content"),
            want: Err("writing into the .git directory is forbidden"),
        },
        Case {
            name: "fails when destination is directory",
            files: &[],
            dirs: &["config.yaml"],
            config: json!({"path": "config.yaml", "contents": "test content", "overwrite": true}),
            want: Err("config.yaml"),
        },
    ];
    for case in cases {
        let name = case.name;
        let (dir, ctx) = setup(case.files);
        for d in case.dirs {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let before: Vec<(String, String)> = case
            .files
            .iter()
            .map(|(p, _)| ((*p).to_owned(), read(dir.path(), p)))
            .collect();
        let path = case.config["path"].as_str().unwrap().to_owned();
        let contents = case.config["contents"].as_str().unwrap().to_owned();
        match (run(&ctx, "file-write", case.config).await, case.want) {
            (Ok(_), Ok(mode)) => {
                assert_eq!(read(dir.path(), &path), contents, "{name}");
                if let Some(mode) = mode {
                    let meta = std::fs::metadata(dir.path().join(&path)).unwrap();
                    assert_eq!(meta.permissions().mode() & 0o7777, mode, "{name}");
                }
            }
            (Err(e), Err(text)) => {
                assert!(e.contains(text), "{name}: {e}");
                for (p, text) in &before {
                    assert_eq!(&read(dir.path(), p), text, "{name}: {p} changed");
                }
                assert!(
                    !dir.path().parent().unwrap().join("escape.txt").exists(),
                    "{name}"
                );
            }
            (Ok(_), Err(text)) => panic!("{name}: succeeded, expected {text:?}"),
            (Err(e), Ok(_)) => panic!("{name}: {e}"),
        }
    }
}

/// Kargo: file_writer_test.go, `Test_fileWriter_convert`.
#[tokio::test]
async fn kargo_file_writer_convert_cases() {
    check_convert_cases(
        "file-write",
        vec![
            ("path not specified", json!({"contents": "test content"}), Some("missing field `path`")),
            ("path is empty string", json!({"path": "", "contents": "test content"}), Some("`path` must not be empty")),
            ("contents not specified", json!({"path": "test.txt"}), Some("missing field `contents`")),
            ("contents may be empty", json!({"path": "test.txt", "contents": ""}), None),
            ("contents must be a string", json!({"path": "test.txt", "contents": {"key": "value"}}), Some("at `contents`: invalid type: map")),
            ("unknown field", json!({"path": "test.txt", "contents": "test content", "unknown": true}), Some("unknown field `unknown`")),
            (
                "valid configuration",
                json!({"path": "test.txt", "contents": "test content", "overwrite": true, "permissions": "0644"}),
                None,
            ),
            (
                "permissions must be a string",
                json!({"path": "test.txt", "contents": "test content", "permissions": 0o644}),
                Some("at `permissions`: invalid type: integer"),
            ),
            (
                "permissions must be octal",
                json!({"path": "test.txt", "contents": "test content", "permissions": "invalid"}),
                Some("permissions `invalid` must be an octal mode"),
            ),
        ],
    )
    .await;
}
