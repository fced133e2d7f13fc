//! The integration tests, in one binary: one link instead of one per file.

mod archive_steps;
#[cfg(feature = "argocd")]
mod argocd_steps;
mod copy_step;
mod delete_step;
mod file_steps;
mod file_write_step;
mod git_steps;
mod github_push;
#[cfg(feature = "helm")]
mod helm_steps;
mod manifest_steps;
#[cfg(feature = "oci")]
mod oci_steps;
mod parse_steps;
mod pr_steps;
#[cfg(all(feature = "kustomize", feature = "helm"))]
mod render_steps;
mod state_steps;

use kargo_core::Workspace;
use kargo_core::step::{StepContext, StepOutcome, StepRegistry};
use serde_json::Value;

/// The text of `path` under `dir`; a missing file fails the test, naming it.
fn read(dir: &std::path::Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A temporary work dir holding `files` (path, contents), and a step
/// context over it.
fn setup(files: &[(&str, &str)]) -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        kargo_test_support::write(dir.path(), path, contents);
    }
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    (dir, ctx)
}

/// Runs the built-in step `kind` with `config`, as the engine finds it
/// in the registry; an error as its message.
async fn run(ctx: &StepContext, kind: &str, config: Value) -> Result<StepOutcome, String> {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let step = registry.get(kind).expect("step is registered");
    step.run(ctx, config).await.map_err(|e| e.to_string())
}
