//! Helpers for tests that drive the `kargo` runner as a user would.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

/// Writes `contents` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(&path, contents).expect("write file");
    path
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

/// A real HTTP server on 127.0.0.1 answering each request with the next
/// scripted `(status, body)`; once the script is used up, the last answer
/// repeats. Returns the server's base URL. The server thread lives as long
/// as the test process.
pub fn http_server(script: Vec<(u16, &'static str)>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        let mut served = 0usize;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut content_length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; content_length];
            let _ = reader.read_exact(&mut body);
            let (status, body) = script[served.min(script.len() - 1)];
            served += 1;
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// Writes `bytes` as a blob of the layout and returns its descriptor.
pub fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = hex::encode(Sha256::digest(bytes));
    let path = layout.join("blobs/sha256").join(&digest);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": bytes.len()})
}

/// An OCI image layout holding one small image per tag.
pub fn layout_with_tags(layout: &Path, tags: &[(&str, &str)]) {
    let mut manifests = Vec::new();
    for (tag, created) in tags {
        let config = json!({"created": created, "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        let config = blob(
            layout,
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": []});
        let mut descriptor = blob(
            layout,
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        );
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        manifests.push(descriptor);
    }
    write(layout, "oci-layout", r#"{"imageLayoutVersion": "1.0.0"}"#);
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests});
    write(layout, "index.json", &index.to_string());
}

/// Runs `git` with `args` in `dir` with a fixed identity and no user or
/// system configuration; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
