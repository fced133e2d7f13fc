//! A whole GitOps pipeline's world on disk: an OCI image layout, a bare
//! repository with one values file per Stage, and the manifests.

use std::path::PathBuf;

use crate::{git, layout_with_tags, write};

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
    /// The directory everything lives in, removed on drop.
    pub dir: tempfile::TempDir,
    /// The OCI image layout the Warehouse `app` watches.
    pub layout: PathBuf,
    /// The bare repository the Stages push to.
    pub bare: PathBuf,
}

impl PipelineWorld {
    /// Tags `tags` in the layout and the repository; `stages` is the
    /// Stage manifests' YAML (`BROKEN_FLAG` stands for the `broken` file's
    /// path).
    pub fn new(tags: &[(&str, &str)], stages: &str) -> PipelineWorld {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let layout = dir.path().join("app-layout");
        layout_with_tags(&layout, tags);
        let bare = crate::git::init_bare(&dir.path().join("config.git"));
        let seed = dir.path().join("seed");
        for stage in ["dev", "staging", "prod"] {
            write(&seed, &format!("env/{stage}/values.yaml"), VALUES);
        }
        git(&seed, &["init", "-q", "--initial-branch=main"]);
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "seed"]);
        git(
            &seed,
            &["push", "-q", bare.to_str().expect("a UTF-8 path"), "main"],
        );
        let world = PipelineWorld { dir, layout, bare };
        world.write_manifests(stages);
        world
    }

    /// Turns auto-promotion on for the Stages in `stages` only (instead of
    /// every Stage): the others are promoted by people, as Kargo's
    /// quickstart does with prod.
    pub fn auto_promote_only(&self, stages: &[&str]) {
        let path = self.manifests().join("project.yaml");
        let text = std::fs::read_to_string(&path).expect("read project.yaml");
        let every = "  - stageSelector: {name: \"glob:*\"}\n    autoPromotionEnabled: true\n";
        assert!(text.contains(every), "the ProjectConfig changed: {text}");
        let policies: String = stages
            .iter()
            .map(|stage| {
                format!("  - stageSelector: {{name: {stage}}}\n    autoPromotionEnabled: true\n")
            })
            .collect();
        std::fs::write(&path, text.replace(every, &policies)).expect("write project.yaml");
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
        let stages = stages.replace(
            "BROKEN_FLAG",
            self.path("broken").to_str().expect("a UTF-8 path"),
        );
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
            .expect("a `tag: ` line in the values file")
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
