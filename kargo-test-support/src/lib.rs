//! Fixtures for kargo-rs's tests, built from real parts: OCI image
//! layouts on disk, git repositories made with the git CLI, databases on
//! the machine's PostgreSQL server, and a whole GitOps pipeline world
//! ([`PipelineWorld`]). Not published; panics on failure, as test code.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[cfg(feature = "webdriver")]
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Writes `contents` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(&path, contents).expect("write file");
    path
}

/// Writes `bytes` as a blob of the layout and returns its descriptor.
pub fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = hex::encode(Sha256::digest(bytes));
    let path = layout.join("blobs/sha256").join(&digest);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": bytes.len()})
}

/// An OCI image layout holding one small image per `(tag, created)`.
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

/// A database of the test's own on the machine's PostgreSQL server
/// (`KARGO_TEST_POSTGRES_HOST`, default 127.0.0.1), dropped afterwards.
#[derive(Debug)]
pub struct Database {
    name: String,
    host: String,
}

impl Database {
    /// A new, empty database whose name starts with `prefix`.
    pub fn create(prefix: &str) -> Database {
        let host = std::env::var("KARGO_TEST_POSTGRES_HOST").unwrap_or_else(|_| "127.0.0.1".into());
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        );
        let db = Database { name, host };
        db.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Runs `sql` as the `postgres` user on the server's `postgres` database.
    pub fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args([
                "-h", &self.host, "-U", "postgres", "-d", "postgres", "-qAtc", sql,
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!("psql is missing ({e}): the machine's PostgreSQL provides it")
            });
        assert!(
            out.status.success(),
            "psql {sql}: {} (PostgreSQL must run on {}:5432; `.ci/run` starts it)",
            String::from_utf8_lossy(&out.stderr),
            self.host
        );
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}:5432/{}", self.host, self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// The manifests every test project starts with: the Warehouse `app`
/// (project `demo`) over the image `image`, and a ProjectConfig turning
/// auto-promotion on for every Stage.
pub fn project_header(image: &str) -> String {
    format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  subscriptions: [{{image: {{repoURL: "{image}"}}}}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {{name: demo, namespace: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: "glob:*"}}
    autoPromotionEnabled: true
"#
    )
}

/// The values file each Stage's directory starts with.
pub const VALUES: &str = "image:\n  tag: v0 # set by kargo\n";

/// Stages dev → staging → prod over the [`PipelineWorld`]'s task
/// `set-tag`: dev takes Freight directly and runs the `smoke`
/// verification (which fails while the file `broken` exists), staging
/// takes it from dev, prod from staging after a soak of one hour.
pub const STAGES: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: dev}]}]
  verification:
    analysisTemplates: [{name: smoke}]
    args: [{name: BROKEN, value: BROKEN_FLAG}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: staging}]}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: prod, namespace: demo}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [staging], requiredSoakTime: 1h}
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: prod}]}]
"#;

/// A GitOps pipeline's world: an OCI image layout the Warehouse `app`
/// watches, a bare repository with one values file per Stage
/// (`env/STAGE/values.yaml`), and the manifests: the Warehouse, a
/// ProjectConfig turning auto-promotion on everywhere, the PromotionTask
/// `set-tag` (git-clone, yaml-update, git-commit, git-push), the
/// AnalysisTemplate `smoke`, and the Stages given.
#[derive(Debug)]
pub struct PipelineWorld {
    pub dir: tempfile::TempDir,
    pub layout: PathBuf,
    pub bare: PathBuf,
}

impl PipelineWorld {
    /// Tags `tags` in the layout and the repository; `stages` is the
    /// Stage manifests' YAML (`BROKEN_FLAG` stands for the `broken` file's
    /// path).
    pub fn new(tags: &[(&str, &str)], stages: &str) -> PipelineWorld {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("app-layout");
        layout_with_tags(&layout, tags);
        let bare = dir.path().join("config.git");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "--initial-branch=main"]);
        let seed = dir.path().join("seed");
        for stage in ["dev", "staging", "prod"] {
            write(&seed, &format!("env/{stage}/values.yaml"), VALUES);
        }
        git(&seed, &["init", "-q", "--initial-branch=main"]);
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "seed"]);
        git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
        let world = PipelineWorld { dir, layout, bare };
        world.write_manifests(stages);
        world
    }

    /// `name` inside the world's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The manifests' directory.
    pub fn manifests(&self) -> PathBuf {
        self.path("manifests")
    }

    /// The image's repository URL.
    pub fn image(&self) -> String {
        format!("oci-layout://{}", self.layout.display())
    }

    /// (Re)writes the manifests with `stages`.
    pub fn write_manifests(&self, stages: &str) {
        let image = self.image();
        let repo = format!("file://{}", self.bare.display());
        let common = format!(
            r#"{}---
apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata: {{name: set-tag, namespace: demo}}
spec:
  vars: [{{name: env}}]
  steps:
  - uses: git-clone
    as: clone
    config:
      repoURL: "{repo}"
      checkout: [{{branch: main, path: ./out}}]
      author: {{name: Kargo, email: no-reply@kargo.io}}
  - uses: yaml-update
    as: edit
    config:
      path: ./out/env/${{{{ vars.env }}}}/values.yaml
      updates: [{{key: image.tag, value: "${{{{ imageFrom('{image}').tag }}}}"}}]
  - uses: git-commit
    as: commit
    config:
      path: ./out
      message: "${{{{ vars.env }}}}: ${{{{ imageFrom('{image}').tag }}}}"
  - uses: git-push
    as: push
    config: {{path: ./out}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: smoke, namespace: demo}}
spec:
  args: [{{name: BROKEN}}]
  command: [sh, -c, 'if test -e "$BROKEN"; then echo "smoke test failed" >&2; exit 1; fi']
"#,
            project_header(&image)
        );
        let stages = stages.replace("BROKEN_FLAG", self.path("broken").to_str().unwrap());
        write(self.dir.path(), "manifests/project.yaml", &common);
        write(self.dir.path(), "manifests/stages.yaml", &stages);
    }

    /// The image tag in `env/STAGE/values.yaml` on the remote's `main`.
    pub fn deployed(&self, stage: &str) -> String {
        let text = git(
            &self.bare,
            &["show", &format!("main:env/{stage}/values.yaml")],
        );
        text.lines()
            .find_map(|l| l.trim().strip_prefix("tag: "))
            .and_then(|t| t.split_whitespace().next())
            .unwrap()
            .to_owned()
    }

    /// The subjects of the remote's `main`, newest first.
    pub fn commits(&self) -> Vec<String> {
        git(&self.bare, &["log", "--format=%s", "main"])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
