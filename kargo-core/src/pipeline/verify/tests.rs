use super::*;
use crate::model::FreightOrigin;
use crate::state::{FreightReference, InMemoryStore, NewPromotion, StateStoreExt};
use crate::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};

/// Passes when its config says `pass: true`.
#[derive(Debug)]
struct Check;

#[async_trait]
impl Step for Check {
    async fn run(
        &self,
        _: &StepContext,
        config: serde_json::Value,
    ) -> std::result::Result<StepOutcome, StepError> {
        if config["pass"] == true {
            Ok(StepOutcome::succeeded())
        } else {
            Ok(StepOutcome::failed(format!("check saw {}", config["pass"])))
        }
    }
}

fn engine() -> Engine {
    let mut registry = StepRegistry::new();
    registry.register("check", Check).expect("register");
    Engine::new(Arc::new(registry))
}

fn ctx(dir: &std::path::Path, vars: &[(&str, &str)]) -> PromotionContext {
    PromotionContext::new(crate::Workspace::new(dir).expect("workspace"))
        .with_names("demo", "dev", "verify-1")
        .with_vars(
            vars.iter()
                .map(|(n, v)| ExpressionVariable {
                    name: (*n).into(),
                    value: Some((*v).into()),
                })
                .collect(),
        )
}

const MANIFESTS: &str = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: steps}
spec:
  args: [{name: expected}]
  steps:
  - uses: check
    config: {pass: "${{ vars.expected == 'yes' }}"}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: cmd}
spec:
  args: [{name: CODE, value: "0"}]
  command: [sh, -c, 'echo "exit code $CODE" >&2; exit $CODE']
---
apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: both}
spec:
  steps: [{uses: check}]
  command: ["true"]
"#;

fn stage(templates: &[&str], args: &[(&str, &str)]) -> Stage {
    let yaml = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: dev}}\nspec:\n  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{direct: true}}}}]\n  verification:\n    analysisTemplates: [{}]\n    args: [{}]\n",
        templates
            .iter()
            .map(|t| format!("{{name: {t}}}"))
            .collect::<Vec<_>>()
            .join(", "),
        args.iter()
            .map(|(n, v)| format!("{{name: {n}, value: '{v}'}}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    Manifests::from_yaml_str(&yaml, "stage.yaml")
        .expect("stage")
        .stages()[0]
        .clone()
}

async fn outcome(templates: &[&str], args: &[(&str, &str)]) -> VerificationOutcome {
    let manifests = Manifests::from_yaml_str(MANIFESTS, "templates.yaml").expect("manifests");
    let v = stage_verification(&stage(templates, args), &manifests, &engine())
        .expect("resolves")
        .expect("has verification");
    let dir = tempfile::tempdir().expect("tempdir");
    let args: Vec<(&str, &str)> = v
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_deref().unwrap_or_default()))
        .collect();
    v.verifier
        .verify(&ctx(dir.path(), &args))
        .await
        .expect("verifies")
}

#[tokio::test]
async fn steps_pass_or_fail_by_the_stage_arguments() {
    let ok = outcome(&["steps"], &[("expected", "yes")]).await;
    assert_eq!(ok.phase, VerificationPhase::Successful, "{ok:?}");
    let failed = outcome(&["steps"], &[("expected", "no")]).await;
    assert_eq!(failed.phase, VerificationPhase::Failed);
    let message = failed.message.expect("message");
    assert!(message.contains("AnalysisTemplate `steps`"), "{message}");
    assert!(message.contains("check saw false"), "{message}");
}

#[tokio::test]
async fn a_command_passes_on_exit_zero_and_fails_with_its_last_line() {
    let ok = outcome(&["cmd"], &[]).await;
    assert_eq!(ok.phase, VerificationPhase::Successful, "{ok:?}");
    let failed = outcome(&["cmd"], &[("CODE", "3")]).await;
    assert_eq!(failed.phase, VerificationPhase::Failed);
    let message = failed.message.expect("message");
    assert!(message.contains("exited 3: exit code 3"), "{message}");
}

#[tokio::test]
async fn the_first_template_that_fails_decides() {
    let failed = outcome(&["cmd", "steps"], &[("CODE", "1"), ("expected", "yes")]).await;
    assert_eq!(failed.phase, VerificationPhase::Failed);
    assert!(
        failed.message.expect("message").contains("`cmd`"),
        "cmd runs first"
    );
}

#[tokio::test]
async fn a_missing_program_is_an_error_not_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = CommandVerifier::new(vec!["kargo-no-such-program".into()]).expect("command");
    let out = v.verify(&ctx(dir.path(), &[])).await.expect("outcome");
    assert_eq!(out.phase, VerificationPhase::Error);
    assert!(CommandVerifier::new(vec![]).is_err());
}

#[test]
fn bad_verification_specs_are_named() {
    let manifests = Manifests::from_yaml_str(MANIFESTS, "templates.yaml").expect("manifests");
    let err = |templates: &[&str], args: &[(&str, &str)]| {
        stage_verification(&stage(templates, args), &manifests, &engine())
            .expect_err("invalid")
            .to_string()
    };
    let e = err(&["nope"], &[]);
    assert!(
        e.contains("Stage `dev`") && e.contains("unknown AnalysisTemplate `nope`"),
        "{e}"
    );
    let e = err(&["both"], &[]);
    assert!(
        e.contains("AnalysisTemplate `both`") && e.contains("exactly one of"),
        "{e}"
    );
    let e = err(&["steps"], &[]);
    assert!(e.contains("argument `expected` has no value"), "{e}");
    let unknown_step = Manifests::from_yaml_str(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: x}\nspec: {steps: [{uses: nope}]}\n",
        "x.yaml",
    )
    .expect("manifests");
    let e = template_verifier(&unknown_step.analysis_templates()[0], &engine())
        .expect_err("unknown step")
        .to_string();
    assert!(e.contains("unknown step kind `nope`"), "{e}");
}

#[tokio::test]
async fn a_failed_verification_is_recorded_and_does_not_verify_the_freight() {
    let store = InMemoryStore::new();
    let f = store
        .put_freight(crate::model::Freight {
            origin: FreightOrigin::warehouse("app"),
            ..Default::default()
        })
        .await
        .expect("put")
        .freight;
    store
        .create_promotion(NewPromotion::new("dev", &f.metadata.name))
        .await
        .expect("create");
    let t = |s: i64| Timestamp::from_unix_millis(s * 1000);
    let p = store
        .start_promotion("dev", t(1))
        .await
        .expect("start")
        .expect("started");
    let mut state = p.state.clone();
    state.phase = PromotionPhase::Succeeded;
    store
        .save_promotion_state(&p.name, &state)
        .await
        .expect("save");
    store.finish_promotion(&p.name, t(2)).await.expect("finish");

    let dir = tempfile::tempdir().expect("tempdir");
    let failing = CommandVerifier::new(vec!["false".into()]).expect("command");
    let stage = run_verification(&store, &failing, &ctx(dir.path(), &[]), "v1", || t(3))
        .await
        .expect("recorded");
    let current = stage.current().expect("current");
    let v = current.current_verification().expect("verification");
    assert_eq!(v.phase, VerificationPhase::Failed);
    assert_eq!(v.started_at, Some(t(3)));
    assert_eq!(
        current.items.values().next(),
        Some(&FreightReference {
            name: f.metadata.name.clone(),
            origin: f.origin.clone()
        })
    );
    let stored = store
        .get_freight(&f.metadata.name)
        .await
        .expect("get")
        .expect("freight");
    assert!(!stored.is_verified_in("dev"));

    let passing = CommandVerifier::new(vec!["true".into()]).expect("command");
    run_verification(&store, &passing, &ctx(dir.path(), &[]), "v2", || t(4))
        .await
        .expect("recorded");
    let stored = store
        .resolve_freight(&f.metadata.name)
        .await
        .expect("resolve");
    let stored = store.get_freight(&stored).await.expect("get").expect("f");
    assert!(stored.is_verified_in("dev"));
}

#[tokio::test]
async fn a_long_winded_command_fails_with_its_last_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 20 MB of output on each stream before the line that says why.
    let script = "yes | head -c 20000000; yes | head -c 20000000 >&2; \
                  echo 'latency too high' >&2; exit 1";
    let v = CommandVerifier::new(vec!["sh".into(), "-c".into(), script.into()]).expect("command");
    let out = v.verify(&ctx(dir.path(), &[])).await.expect("outcome");
    assert_eq!(out.phase, VerificationPhase::Failed);
    assert_eq!(
        out.message.as_deref(),
        Some("`sh` exited 1: latency too high")
    );
}

#[tokio::test]
async fn cancelling_a_command_kills_everything_it_started() {
    use crate::process::testing::{assert_gone, pid_in, reap};
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = ctx(dir.path(), &[]);
    // A grandchild that would outlive the check, and endless output.
    let script = "sleep 1000 & echo $! > sleep.pid; yes";
    let v = CommandVerifier::new(vec!["sh".into(), "-c".into(), script.into()]).expect("command");
    let pid_file = dir.path().join("sleep.pid");
    let cancel = async {
        let pid = pid_in(&pid_file).await;
        ctx.cancel.cancel();
        pid
    };
    let (out, grandchild) = tokio::join!(v.verify(&ctx), cancel);
    let out = out.expect("outcome");
    assert_eq!(out.phase, VerificationPhase::Aborted, "{out:?}");
    assert_gone(grandchild).await;
    reap(grandchild);
}
