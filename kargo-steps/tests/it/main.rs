//! The integration tests, in one binary: one link instead of one per file.

mod archive_steps;
#[cfg(feature = "argocd")]
mod argocd_steps;
mod copy_step;
mod delete_step;
mod edit_step_cases;
mod fail_step;
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

/// Whether the built-in step `kind` refuses `config`, as Kargo's
/// `convert` does with its JSON schema: the step's early check first,
/// then a run in an empty work dir whose error counts only when it is
/// about the config (`invalid <kind> config: ...`). The problem's text,
/// or `None` when the config is accepted.
async fn config_problem(kind: &str, config: Value) -> Option<String> {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let step = registry.get(kind).expect("step is registered");
    if let Err(e) = step.check_config(&config) {
        return Some(e.to_string());
    }
    let (_dir, ctx) = setup(&[]);
    let prefix = format!("invalid {kind} config");
    match step.run(&ctx, config).await {
        Err(e) if e.to_string().starts_with(&prefix) => Some(e.to_string()),
        _ => None,
    }
}

/// One case of a Kargo `Test_*_convert` table: its name, the config, and
/// `None` when the config is valid or a text the problem must contain.
type ConvertCase = (&'static str, Value, Option<&'static str>);

/// Checks every case of a Kargo `Test_*_convert` table against step
/// `kind` (see [`config_problem`]).
async fn check_convert_cases(kind: &str, cases: Vec<ConvertCase>) {
    for (name, config, want) in cases {
        let got = config_problem(kind, config).await;
        match (&got, want) {
            (None, None) => {}
            (Some(problem), Some(want)) => {
                assert!(problem.contains(want), "{kind}, {name}: {problem}");
            }
            _ => panic!("{kind}, {name}: got {got:?}, want a problem containing {want:?}"),
        }
    }
}
