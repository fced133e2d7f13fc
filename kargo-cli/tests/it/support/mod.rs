//! Helpers for tests that drive the `kargo` runner as a user would.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub use kargo_test_support::{git, layout_with_tags, write};

/// The `kargo` binary built with these tests, or the one `KARGO_BIN`
/// names (a build kept apart from a shared target directory).
pub fn kargo_bin() -> PathBuf {
    match std::env::var_os("KARGO_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => PathBuf::from(env!("CARGO_BIN_EXE_kargo")),
    }
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

/// Writes `dir/name`: a Kargo credential Secret of `cred_type` (`git`,
/// `image`, ...) for `repo_url`, user `kargo`, password `t0ps3cret`.
pub fn credential_secret(dir: &Path, name: &str, cred_type: &str, repo_url: &str) -> PathBuf {
    write(
        dir,
        name,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {cred_type}-creds\n  labels:\n    kargo.akuity.io/cred-type: {cred_type}\nstringData:\n  repoURL: {repo_url}\n  username: kargo\n  password: t0ps3cret\n"
        ),
    )
}

/// A real HTTP server on 127.0.0.1 (wiremock) answering each request with
/// the next scripted `(status, JSON body)`; once the script is used up, the
/// last answer repeats. It stops when the returned server is dropped.
pub fn http_server(script: Vec<(u16, &'static str)>) -> wiremock::MockServer {
    kargo_test_support::http::scripted_blocking(script.into_iter().map(|(status, body)| {
        wiremock::ResponseTemplate::new(status).set_body_raw(body, "application/json")
    }))
}
