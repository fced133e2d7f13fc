//! A stand-in for a renderer binary (`kustomize`, `helm`) that cannot be
//! installed where the tests run: a small shell script that records its
//! argv and the `HELM_*` environment, prints a chosen standard output and
//! error, writes a file into `--output-dir` as `helm template` does, and
//! exits with a chosen code. What a step builds (argv) and does with the
//! output (files) stays real.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"#!/bin/sh
here=$(dirname "$0")
{ printf '%s\n' "$@"; echo '--'; } >> "$here/argv"
env | grep '^HELM_' | sort >> "$here/env"
prev=""
for a in "$@"; do
  if [ "$prev" = "--output-dir" ]; then
    mkdir -p "$a/app/templates"
    printf -- '---\n# Source: app/templates/svc.yaml\nkind: Service\n' > "$a/app/templates/svc.yaml"
  fi
  prev="$a"
done
[ -f "$here/stdout" ] && cat "$here/stdout"
[ -f "$here/stderr" ] && cat "$here/stderr" >&2
exit "$(cat "$here/code" 2>/dev/null || echo 0)"
"#;

/// The stand-in, in a directory of its own (its records sit next to it).
#[derive(Debug, Clone)]
pub struct StandIn {
    bin: PathBuf,
}

impl StandIn {
    /// Writes the stand-in into `dir` (created; give each stand-in its
    /// own), printing `stdout` and exiting 0.
    pub fn create(dir: &Path, stdout: &str) -> StandIn {
        std::fs::create_dir_all(dir).unwrap();
        let bin = dir.join("stand-in");
        std::fs::write(&bin, SCRIPT).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("stdout"), stdout).unwrap();
        StandIn { bin }
    }

    /// The executable.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A file next to the stand-in (`argv`, `env`, ...).
    pub fn file(&self, name: &str) -> PathBuf {
        self.bin.parent().unwrap().join(name)
    }

    /// Makes the stand-in exit with `code` after printing `stderr`.
    pub fn fail_with(&self, code: i32, stderr: &str) {
        std::fs::write(self.file("code"), code.to_string()).unwrap();
        std::fs::write(self.file("stderr"), stderr).unwrap();
    }

    /// Every recorded call's arguments, one a line, each call ended by
    /// `--`; `root` shown as `WORK`. Empty when it never ran.
    pub fn argv(&self, root: &Path) -> String {
        std::fs::read_to_string(self.file("argv"))
            .unwrap_or_default()
            .replace(&root.display().to_string(), "WORK")
    }
}
