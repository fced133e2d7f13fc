//! Helpers for tests that drive the `kargo` runner as a user would.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `kargo` runner built by `cargo test` (examples are built with the tests).
pub fn kargo_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join("examples").join("kargo");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test` (which builds examples) or `cargo build --example kargo`",
        bin.display()
    );
    bin
}

/// What one `kargo` invocation did.
#[derive(Debug)]
pub struct Output {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Standard output parsed as the one JSON object the runner prints.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The status of the step with `alias`.
    pub fn step_status(&self, alias: &str) -> String {
        let json = self.json();
        let step = json["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["alias"] == alias))
            .unwrap_or_else(|| panic!("no step `{alias}` in {json}"));
        step["status"].as_str().unwrap_or_default().to_owned()
    }

    /// The message of the step with `alias`.
    pub fn step_message(&self, alias: &str) -> String {
        let json = self.json();
        let step = json["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["alias"] == alias))
            .unwrap_or_else(|| panic!("no step `{alias}` in {json}"));
        step["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// Runs `kargo` with `args` in `cwd`.
pub fn kargo(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(kargo_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("KARGO_LOG")
        .output()
        .expect("the kargo runner starts");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `contents` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(&path, contents).expect("write file");
    path
}
