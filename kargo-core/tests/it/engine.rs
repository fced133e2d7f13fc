//! The engine's rules, one test each, with scripted steps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::Workspace;
use kargo_core::engine::{
    Checkpoint, Engine, EngineOptions, PromotionContext, PromotionState, TaskCatalog, inflate_tasks,
};
use kargo_core::model::{
    ExpressionVariable, PromotionPhase, PromotionStep, PromotionTemplateSpec, StepStatus,
};
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, StepRegistry};
use serde_json::{Value, json};

/// A step driven by its config:
/// `{"outcome": "succeed" | "fail" | "error" | "retryable" | "running" | "failed-error",
///   "until": N, "output": {...}}`. With `until`, the outcome applies to the
/// first N attempts and later attempts succeed.
#[derive(Debug, Default)]
struct Scripted {
    calls: Mutex<BTreeMap<String, u32>>,
}

impl Scripted {
    fn calls(&self, alias: &str) -> u32 {
        self.calls.lock().unwrap().get(alias).copied().unwrap_or(0)
    }
}

#[async_trait]
impl Step for Scripted {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(ctx.alias.clone())
            .or_default() += 1;
        let outcome = config["outcome"].as_str().unwrap_or("succeed");
        let until = config["until"].as_u64().map(|n| n as u32);
        let output = config["output"].as_object().cloned().unwrap_or_default();
        if until.is_some_and(|n| ctx.attempt >= n) {
            return Ok(StepOutcome::succeeded().with_outputs(output));
        }
        match outcome {
            "succeed" => Ok(StepOutcome::succeeded().with_outputs(output)),
            "skip" => Ok(StepOutcome::skipped()),
            "fail" => Ok(StepOutcome::failed("scripted failure")),
            "failed-error" => Err(StepError::failed("bad input")),
            "error" => Err(StepError::terminal("scripted terminal error")),
            "retryable" => Err(StepError::retryable("scripted flaky error")),
            "running" => Ok(StepOutcome::running(Duration::from_millis(5)).with_outputs(output)),
            "hang" => {
                ctx.cancel.cancelled().await;
                Err(StepError::terminal("cancelled"))
            }
            other => panic!("unknown scripted outcome {other}"),
        }
    }
}

/// Like Kargo's compose-output: output = config, propagated to the task.
#[derive(Debug)]
struct Compose;

#[async_trait]
impl Step for Compose {
    async fn run(&self, _: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        Ok(StepOutcome::succeeded().with_outputs(config.as_object().cloned().unwrap_or_default()))
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_task_output_propagation()
    }
}

struct Harness {
    scripted: Arc<Scripted>,
    engine: Engine,
    _dir: tempfile::TempDir,
    ctx: PromotionContext,
}

fn harness() -> Harness {
    let scripted = Arc::new(Scripted::default());
    let mut registry = StepRegistry::new();
    registry.register_arc("script", scripted.clone()).unwrap();
    registry.register("compose", Compose).unwrap();
    let engine = Engine::new(Arc::new(registry))
        .with_options(EngineOptions::default().with_retry_backoff(Duration::from_millis(1)));
    let dir = tempfile::tempdir().unwrap();
    let ctx = PromotionContext::new(Workspace::new(dir.path()).unwrap())
        .with_names("proj", "dev", "dev.1");
    Harness {
        scripted,
        engine,
        _dir: dir,
        ctx,
    }
}

fn steps(yaml: &str) -> Vec<PromotionStep> {
    let spec: PromotionTemplateSpec = serde_saphyr::from_str(yaml).unwrap();
    inflate_tasks(&spec.steps, &spec.vars, &TaskCatalog::new()).unwrap()
}

fn statuses(state: &PromotionState) -> Vec<(String, StepStatus)> {
    state
        .steps
        .iter()
        .map(|r| (r.alias.clone(), r.status.unwrap()))
        .collect()
}

#[tokio::test]
async fn aliases_default_to_step_n_and_outputs_are_recorded_under_them() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  config: {output: {a: 1}}
- uses: script
  as: named
  config: {output: {b: two}}
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    assert_eq!(state.outputs["step-1"], json!({"a": 1}));
    assert_eq!(state.outputs["named"], json!({"b": "two"}));
}

#[tokio::test]
async fn later_steps_are_skipped_after_a_failure() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  config: {outcome: fail}
- uses: script
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(
        statuses(&state),
        vec![
            ("step-1".into(), StepStatus::Failed),
            ("step-2".into(), StepStatus::Skipped)
        ]
    );
    assert_eq!(h.scripted.calls("step-2"), 0);
    assert_eq!(state.phase, PromotionPhase::Failed);
    assert_eq!(state.message.as_deref(), Some("scripted failure"));
}

#[tokio::test]
async fn continue_on_error_neither_skips_later_steps_nor_fails_the_promotion() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  continueOnError: true
  config: {outcome: error}
- uses: script
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(
        statuses(&state),
        vec![
            ("step-1".into(), StepStatus::Errored),
            ("step-2".into(), StepStatus::Succeeded)
        ]
    );
    assert_eq!(state.phase, PromotionPhase::Succeeded);
}

#[tokio::test]
async fn final_phase_is_the_worst_status() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  config: {outcome: fail}
- uses: script
  if: ${{ always() }}
  config: {outcome: error}
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Errored);
    assert_eq!(state.message.as_deref(), Some("scripted terminal error"));
}

#[tokio::test]
async fn input_errors_fail_the_step_and_terminal_errors_error_it_without_retry() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  retry: {errorThreshold: 5}
  config: {outcome: failed-error}
- uses: script
  if: ${{ always() }}
  retry: {errorThreshold: 5}
  config: {outcome: error}
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.steps[0].status, Some(StepStatus::Failed));
    assert_eq!(state.steps[1].status, Some(StepStatus::Errored));
    assert_eq!(h.scripted.calls("step-1"), 1);
    assert_eq!(h.scripted.calls("step-2"), 1);
}

/// Runs the engine once more on `state`, as a host would on its next pass.
async fn resume(h: &Harness, steps: &[PromotionStep], state: &mut PromotionState) {
    h.engine
        .resume(&h.ctx, steps, state, &kargo_core::engine::NoCheckpoint)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retryable_error_below_the_threshold_leaves_the_promotion_running_for_a_later_run() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: flaky
  retry: {errorThreshold: 3}
  config: {outcome: retryable, until: 2}
- uses: script
  as: after
"#,
    );
    let mut state = PromotionState::default();
    let before = kargo_core::time::Timestamp::now();
    resume(&h, &steps, &mut state).await;
    // One attempt per run: no retry loop inside the engine's call.
    assert_eq!(h.scripted.calls("flaky"), 1);
    assert_eq!(state.phase, PromotionPhase::Running);
    assert!(state.is_retrying());
    assert_eq!(state.current_step, 0);
    let record = &state.steps[0];
    assert_eq!(record.status, Some(StepStatus::Running));
    assert_eq!(record.error_count, 1);
    assert_eq!(record.finished_at, None);
    assert_eq!(
        record.message.as_deref(),
        Some("scripted flaky error; step will be retried")
    );
    assert_eq!(state.message, record.message);
    // The backoff (1 ms here, doubling) is recorded, not slept.
    assert_eq!(state.retry_after_ms, Some(1));
    assert!(state.retry_at.is_some_and(|at| at >= before));

    // The state survives a round trip, as in a state file or a store.
    let mut state: PromotionState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    resume(&h, &steps, &mut state).await;
    assert_eq!(h.scripted.calls("flaky"), 2);
    assert_eq!(state.phase, PromotionPhase::Running);
    assert_eq!(state.steps[0].error_count, 2);
    assert_eq!(state.retry_after_ms, Some(2));

    resume(&h, &steps, &mut state).await;
    assert_eq!(h.scripted.calls("flaky"), 3);
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    assert!(!state.is_retrying());
    assert_eq!(state.retry_at, None);
    assert_eq!(state.steps[0].error_count, 0, "a success resets the count");
    assert_eq!(state.steps[0].attempts, 3);
    assert_eq!(h.scripted.calls("after"), 1);
}

#[tokio::test]
async fn the_error_threshold_ends_the_step_errored_after_that_many_runs() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: broken
  retry: {errorThreshold: 3}
  config: {outcome: retryable}
- uses: script
  as: once
  if: ${{ always() }}
  config: {outcome: retryable}
"#,
    );
    let mut state = PromotionState::default();
    for run in 1..=2 {
        resume(&h, &steps, &mut state).await;
        assert_eq!(state.phase, PromotionPhase::Running, "run {run}");
        assert_eq!(state.steps[0].error_count, run);
    }
    resume(&h, &steps, &mut state).await;
    assert_eq!(h.scripted.calls("broken"), 3);
    assert_eq!(state.steps[0].status, Some(StepStatus::Errored));
    assert!(state.steps[0].finished_at.is_some());
    let message = state.steps[0].message.as_deref().unwrap();
    assert_eq!(
        message,
        "step `broken` met error threshold of 3: scripted flaky error"
    );
    // The default threshold is 1: the first error ends the step, in the
    // same run.
    assert_eq!(h.scripted.calls("once"), 1);
    assert_eq!(state.steps[1].status, Some(StepStatus::Errored));
    assert_eq!(state.phase, PromotionPhase::Errored);
}

#[tokio::test]
async fn a_retried_step_errors_once_its_retry_timeout_has_passed() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: flaky
  retry: {errorThreshold: 10, timeout: 1ms}
  config: {outcome: retryable}
"#,
    );
    let mut state = PromotionState::default();
    resume(&h, &steps, &mut state).await;
    // The first attempt may finish within the timeout; a later one may not.
    tokio::time::sleep(Duration::from_millis(20)).await;
    resume(&h, &steps, &mut state).await;
    assert_eq!(state.phase, PromotionPhase::Errored);
    assert_eq!(
        state.steps[0].message.as_deref(),
        Some("step `flaky` timed out after 1ms: scripted flaky error")
    );
}

#[tokio::test]
async fn the_pause_before_a_retry_ends_at_the_steps_timeout() {
    let mut h = harness();
    h.engine = h
        .engine
        .clone()
        .with_options(EngineOptions::default().with_retry_backoff(Duration::from_secs(3600)));
    let steps = steps(
        r#"
steps:
- uses: script
  retry: {errorThreshold: 10, timeout: 1m}
  config: {outcome: retryable}
- uses: script
  as: wait
  retry: {timeout: 50ms}
  config: {outcome: running}
"#,
    );
    let mut state = PromotionState::default();
    resume(&h, &steps, &mut state).await;
    // Kargo requeues at the deadline when it comes before the backoff.
    let pause = state.retry_after_ms.unwrap();
    assert!(pause <= 60_001 && pause > 0, "{pause}");

    let mut state = PromotionState::default();
    let steps = steps[1..].to_vec();
    resume(&h, &steps, &mut state).await;
    let pause = state.retry_after_ms.unwrap();
    assert!(pause <= 5, "the step asked for 5 ms: {pause}");
}

#[tokio::test]
async fn an_aborted_promotion_between_attempts_ends_aborted_without_another_attempt() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: flaky
  retry: {errorThreshold: 3}
  config: {outcome: retryable}
"#,
    );
    let mut state = PromotionState::default();
    resume(&h, &steps, &mut state).await;
    assert_eq!(state.phase, PromotionPhase::Running);
    h.ctx.cancel.cancel();
    resume(&h, &steps, &mut state).await;
    assert_eq!(h.scripted.calls("flaky"), 1);
    assert_eq!(state.steps[0].status, Some(StepStatus::Aborted));
    assert_eq!(state.phase, PromotionPhase::Aborted);
}

#[tokio::test]
async fn a_running_step_stops_the_promotion_and_resumes_without_rerunning_finished_steps() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: first
- uses: script
  as: wait
  config: {outcome: running, until: 2}
- uses: script
  as: last
"#,
    );
    let mut state = PromotionState::default();
    let saves = CountingCheckpoint::default();
    h.engine
        .resume(&h.ctx, &steps, &mut state, &saves)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Running);
    assert_eq!(state.retry_after_ms, Some(5));
    assert_eq!(state.current_step, 1);
    assert_eq!(state.steps[1].status, Some(StepStatus::Running));

    // Round-trip through JSON, as a state file would.
    let mut state: PromotionState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    h.engine
        .resume(&h.ctx, &steps, &mut state, &saves)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Running);
    h.engine
        .resume(&h.ctx, &steps, &mut state, &saves)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    assert_eq!(
        h.scripted.calls("first"),
        1,
        "a finished step never runs again"
    );
    assert_eq!(h.scripted.calls("wait"), 3);
    assert_eq!(h.scripted.calls("last"), 1);
    assert!(saves.count() >= 4, "state is saved after every step");
}

#[tokio::test]
async fn a_running_step_errors_once_its_retry_timeout_has_passed() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: wait
  retry: {timeout: 1ms}
  config: {outcome: running}
"#,
    );
    let mut state = PromotionState::default();
    h.engine
        .resume(
            &h.ctx,
            &steps,
            &mut state,
            &kargo_core::engine::NoCheckpoint,
        )
        .await
        .unwrap();
    // The first attempt may finish within the timeout; a later one may not.
    tokio::time::sleep(Duration::from_millis(20)).await;
    h.engine
        .resume(
            &h.ctx,
            &steps,
            &mut state,
            &kargo_core::engine::NoCheckpoint,
        )
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Errored);
    let message = state.steps[0].message.as_deref().unwrap();
    assert!(message.contains("timed out after 1ms"), "{message}");
}

#[tokio::test]
async fn a_step_still_running_at_its_retry_timeout_is_stopped() {
    let h = harness();
    let steps = steps(
        r#"
steps:
- uses: script
  as: slow
  retry: {timeout: 30ms}
  config: {outcome: hang}
- uses: script
  as: after
"#,
    );
    // The hanging step never returns by itself; without the timeout the
    // promotion would hang (the outer limit only turns that into a failure).
    let state = tokio::time::timeout(Duration::from_secs(120), h.engine.run(&h.ctx, &steps))
        .await
        .expect("the engine stops a step at its retry timeout")
        .unwrap();
    assert_eq!(state.steps[0].status, Some(StepStatus::Errored));
    let message = state.steps[0].message.as_deref().unwrap();
    assert!(
        message.contains("timed out after 30ms and was stopped"),
        "{message}"
    );
    assert_eq!(state.steps[1].status, Some(StepStatus::Skipped));
}

#[tokio::test]
async fn a_saved_state_of_other_steps_is_refused() {
    let h = harness();
    let first = steps("steps:\n- uses: script\n  as: a\n  config: {outcome: running}\n");
    let mut state = PromotionState::default();
    h.engine
        .resume(
            &h.ctx,
            &first,
            &mut state,
            &kargo_core::engine::NoCheckpoint,
        )
        .await
        .unwrap();
    let other = steps("steps:\n- uses: script\n  as: b\n");
    let err = h
        .engine
        .resume(
            &h.ctx,
            &other,
            &mut state,
            &kargo_core::engine::NoCheckpoint,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[tokio::test]
async fn an_unregistered_step_kind_errors_naming_the_kind() {
    let h = harness();
    let steps = steps("steps:\n- uses: no-such-step\n");
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Errored);
    let message = state.steps[0].message.as_deref().unwrap();
    assert!(
        message.contains("`no-such-step` is not registered"),
        "{message}"
    );
}

#[tokio::test]
async fn cancellation_aborts_the_running_step_and_the_promotion() {
    let h = harness();
    let steps = steps("steps:\n- uses: script\n  config: {outcome: hang}\n- uses: script\n");
    let cancel = h.ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
    });
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Aborted);
    assert_eq!(state.steps.len(), 1, "no step runs after the abort");
    assert_eq!(h.scripted.calls("step-2"), 0);
}

#[tokio::test]
async fn a_failing_checkpoint_stops_the_promotion() {
    let h = harness();
    let steps = steps("steps:\n- uses: script\n- uses: script\n");
    let mut state = PromotionState::default();
    let err = h
        .engine
        .resume(&h.ctx, &steps, &mut state, &FailingCheckpoint)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        h.scripted.calls("step-2"),
        0,
        "no step runs whose progress could not be saved"
    );
}

fn task_catalog() -> TaskCatalog {
    let mut catalog = TaskCatalog::new();
    let spec: PromotionTemplateSpec = serde_saphyr::from_str(
        r#"
vars:
- name: required
- name: optional
  value: default
steps:
- uses: script
  config: {output: {x: 1}}
- uses: compose
  as: out
  config: {result: done}
"#,
    )
    .unwrap();
    catalog.insert_task("deploy", spec);
    catalog
}

#[test]
fn tasks_inflate_into_namespaced_steps_with_their_variables() {
    let spec: PromotionTemplateSpec = serde_saphyr::from_str(
        r#"
steps:
- uses: script
- task: {name: deploy}
  vars:
  - name: required
    value: given
- task: {name: deploy}
  as: again
  vars:
  - {name: required, value: v2}
"#,
    )
    .unwrap();
    let steps = inflate_tasks(&spec.steps, &[], &task_catalog()).unwrap();
    let aliases: Vec<&str> = steps.iter().map(|s| s.alias.as_str()).collect();
    assert_eq!(
        aliases,
        [
            "step-1",
            "task-2::step-1",
            "task-2::out",
            "again::step-1",
            "again::out"
        ]
    );
    let vars = |i: usize| -> Vec<(String, Option<String>)> {
        steps[i]
            .vars
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    };
    assert_eq!(
        vars(1),
        [
            ("optional".to_owned(), Some("default".to_owned())),
            ("required".to_owned(), Some("given".to_owned()))
        ]
    );
}

#[test]
fn a_task_without_its_required_variable_is_refused() {
    let spec: PromotionTemplateSpec =
        serde_saphyr::from_str("steps:\n- task: {name: deploy}\n").unwrap();
    let err = inflate_tasks(&spec.steps, &[], &task_catalog()).unwrap_err();
    assert!(
        err.to_string().contains("requires variable `required`"),
        "{err}"
    );
    let promo_vars = [ExpressionVariable {
        name: "required".into(),
        value: Some("x".into()),
    }];
    assert!(inflate_tasks(&spec.steps, &promo_vars, &task_catalog()).is_ok());
}

#[test]
fn unknown_tasks_and_duplicate_aliases_are_refused() {
    let spec: PromotionTemplateSpec =
        serde_saphyr::from_str("steps:\n- task: {name: nope}\n").unwrap();
    let err = inflate_tasks(&spec.steps, &[], &task_catalog()).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let spec: PromotionTemplateSpec =
        serde_saphyr::from_str("steps:\n- {uses: a, as: x}\n- {uses: b, as: x}\n").unwrap();
    let err = inflate_tasks(&spec.steps, &[], &task_catalog()).unwrap_err();
    assert!(
        err.to_string().contains("step alias already exists: x"),
        "{err}"
    );
}

#[tokio::test]
async fn compose_output_inside_a_task_is_visible_under_the_task_alias() {
    let h = harness();
    let spec: PromotionTemplateSpec = serde_saphyr::from_str(
        "steps:\n- task: {name: deploy}\n  as: d\n  vars: [{name: required, value: r}]\n",
    )
    .unwrap();
    let steps = inflate_tasks(&spec.steps, &[], &task_catalog()).unwrap();
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    assert_eq!(state.outputs["d::out"], json!({"result": "done"}));
    assert_eq!(state.outputs["d"], json!({"result": "done"}));
    assert_eq!(state.outputs["d::step-1"], json!({"x": 1}));
}

#[derive(Debug, Default)]
struct CountingCheckpoint(Mutex<u32>);

impl CountingCheckpoint {
    fn count(&self) -> u32 {
        *self.0.lock().unwrap()
    }
}

#[async_trait]
impl Checkpoint for CountingCheckpoint {
    async fn save(&self, _: &PromotionState) -> kargo_core::Result<()> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

#[derive(Debug)]
struct FailingCheckpoint;

#[async_trait]
impl Checkpoint for FailingCheckpoint {
    async fn save(&self, _: &PromotionState) -> kargo_core::Result<()> {
        Err(kargo_core::Error::Precondition("disk full".into()))
    }
}

/// `ctx` as Kargo's expression reference lays it out, `uiBaseUrl` and
/// `meta.promotion.{actor, rollback}` included.
#[tokio::test]
async fn ctx_holds_the_actor_rollback_and_ui_base_url() {
    let mut h = harness();
    h.ctx = h
        .ctx
        .with_actor("alice", true)
        .with_ui_base_url("https://kargo.example.com");
    let steps = steps(
        r#"
steps:
- uses: compose
  as: c
  config:
    actor: ${{ ctx.meta.promotion.actor }}
    rollback: ${{ ctx.meta.promotion.rollback }}
    ui: ${{ ctx.uiBaseUrl }}
    step: ${{ ctx.meta.step.alias }}
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(
        state.outputs["c"],
        json!({"actor": "alice", "rollback": true, "ui": "https://kargo.example.com", "step": "c"})
    );
}

/// A template calling a function kargo-rs lacks is refused when it is
/// loaded, naming the step, where, and the function.
#[test]
fn templates_calling_unsupported_functions_are_refused_when_loaded() {
    for (yaml, want) in [
        (
            "steps:\n- uses: http\n  as: notify\n  config: {headers: [{name: a, value: 'Bearer ${{ sharedSecret(\"slack\").token }}'}]}\n",
            "step `notify`: config: expression `Bearer ${{ sharedSecret(\"slack\").token }}`: function `sharedSecret()` is not supported by kargo-rs",
        ),
        (
            "steps:\n- uses: script\n  if: ${{ freightStatus(ctx.targetFreight.name).currentlyIn != nil }}\n",
            "step `step-1`: `if`: expression `${{ freightStatus(ctx.targetFreight.name).currentlyIn != nil }}`: function `freightStatus()` is not supported",
        ),
        (
            "steps:\n- uses: script\n  vars: [{name: v, value: '${{ sharedConfigMap(\"c\").x }}'}]\n",
            "step `step-1`: variable `v`: expression `${{ sharedConfigMap(\"c\").x }}`: function `sharedConfigMap()` is not supported",
        ),
        (
            "steps:\n- uses: json-parse\n  config: {outputs: [{name: a, fromExpression: 'typo(x)'}]}\n",
            "step `step-1`: config: expression `typo(x)`: unknown function `typo()`",
        ),
    ] {
        let spec: PromotionTemplateSpec = serde_saphyr::from_str(yaml).unwrap();
        let err = inflate_tasks(&spec.steps, &[], &TaskCatalog::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(want), "{err}\nwanted: {want}");
    }
}

/// `secret(name)`: the data of a Secret the host was given (a generic one,
/// no credentials for any URL); one it was not given errors the step,
/// naming it. Templates using it pass the load-time check.
#[tokio::test]
async fn secret_reads_a_given_secret_and_names_a_missing_one() {
    let mut h = harness();
    let secrets = kargo_core::credentials::StaticCredentials::new()
        .with_secrets(
            r#"apiVersion: v1
kind: Secret
metadata:
  name: slack
  namespace: proj
  labels: {kargo.akuity.io/cred-type: generic}
stringData: {token: xoxb-1}
"#,
            "secrets.yaml",
        )
        .unwrap();
    h.ctx = h.ctx.clone().with_credentials(Arc::new(secrets));
    let steps = steps(
        r#"
steps:
- uses: compose
  as: given
  config:
    header: Bearer ${{ secret('slack').token }}
    missingKey: ${{ secret('slack').nope == nil }}
- uses: compose
  as: missing
  config: {token: "${{ secret('github').token }}"}
"#,
    );
    let state = h.engine.run(&h.ctx, &steps).await.unwrap();
    assert_eq!(state.outputs["given"]["header"], "Bearer xoxb-1");
    assert_eq!(state.outputs["given"]["missingKey"], true);
    assert_eq!(state.steps[1].status, Some(StepStatus::Errored));
    let message = state.steps[1].message.as_deref().unwrap();
    assert!(
        message.contains("secret(): no Secret `github` was given to kargo-rs"),
        "{message}"
    );
}
