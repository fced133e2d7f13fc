//! A step that fails with a retryable error below its
//! `retry.errorThreshold`: the promotion stays `Running` between attempts
//! (saved, visible, abortable), and a later pass runs the step again once
//! its backoff is over, as Kargo's requeue does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::engine::EngineOptions;
use kargo_core::model::{PromotionPhase, StepStatus};
use kargo_core::state::{PromotionQuery, PromotionRecord};
use kargo_core::step::{Step, StepContext, StepError, StepOutcome};
use kargo_core::time::Timestamp;
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{Controller, Event, RunOptions};
use kargo_test_support::PipelineWorld;
use serde_json::Value;

use crate::{at, sqlite};

/// Fails with a retryable error on its first `fails` attempts (config),
/// then succeeds; counts its runs.
#[derive(Debug, Default)]
struct Flaky {
    runs: AtomicU32,
}

#[async_trait]
impl Step for Flaky {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let fails = config["fails"].as_u64().unwrap_or(0);
        if u64::from(ctx.attempt) < fails {
            return Err(StepError::retryable("the registry is busy"));
        }
        Ok(StepOutcome::succeeded())
    }
}

/// The dev Stage running only `flaky` with `retry`.
fn stage(fails: u32, threshold: u32) -> String {
    format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: dev, namespace: demo}}
spec:
  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{direct: true}}}}]
  promotionTemplate:
    spec:
      steps:
      - uses: flaky
        as: flaky
        retry: {{errorThreshold: {threshold}}}
        config: {{fails: {fails}}}
"#
    )
}

/// A controller over `world` whose `flaky` step is `flaky`, with a backoff
/// of an hour: a pass never finds a retry due unless the test says so.
async fn controller(world: &PipelineWorld, flaky: &Arc<Flaky>) -> Controller {
    let mut registry = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
    registry.register_arc("flaky", flaky.clone()).unwrap();
    Controller::builder()
        .manifests_path(world.manifests())
        .registry(Arc::new(registry))
        .engine_options(EngineOptions::default().with_retry_backoff(Duration::from_secs(3600)))
        .store(sqlite(world).await)
        .work_root(world.path("work"), false)
        .clock(Arc::new(ManualClock::new(at("10:00"))))
        .build()
        .unwrap()
}

/// The dev Stage's only promotion.
async fn promotion(c: &Controller) -> PromotionRecord {
    let mut all = c
        .store()
        .list_promotions(&PromotionQuery::stage("dev"))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// As if the backoff were over: the retry time is moved to the past.
async fn backoff_elapses(c: &Controller) {
    let promo = promotion(c).await;
    let mut state = promo.state.clone();
    let now = Timestamp::now().unix_millis();
    state.retry_at = Some(Timestamp::from_unix_millis(now - 1_000));
    c.store()
        .save_promotion_state(&promo.name, &state)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrying_promotion_stays_running_between_passes_and_a_pass_after_its_backoff_retries_it()
{
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stage(2, 3));
    let flaky = Arc::new(Flaky::default());
    let c = controller(&world, &flaky).await;
    let mut events = c.subscribe();

    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 1);
    let promo = promotion(&c).await;
    assert_eq!(promo.phase, PromotionPhase::Running);
    assert!(promo.state.is_retrying());
    let record = &promo.state.steps[0];
    assert_eq!(record.status, Some(StepStatus::Running));
    assert_eq!(record.error_count, 1);
    assert_eq!(
        record.message.as_deref(),
        Some("the registry is busy; step will be retried")
    );
    assert!(promo.state.retry_at.is_some_and(|t| t > Timestamp::now()));
    assert_eq!(pass.waiting.len(), 1, "the pass reports it waiting");
    let mut waiting = Vec::new();
    while let Some(e) = events.try_next() {
        if let Event::PromotionWaiting { message, .. } = e {
            waiting.push(message);
        }
    }
    assert_eq!(
        waiting,
        [Some(
            "the registry is busy; step will be retried".to_owned()
        )]
    );

    // Before the backoff is over, passes leave it alone.
    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 1);
    assert_eq!(pass.waiting.len(), 1);
    assert_eq!(promotion(&c).await.phase, PromotionPhase::Running);

    backoff_elapses(&c).await;
    c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 2);
    let promo = promotion(&c).await;
    assert_eq!(promo.phase, PromotionPhase::Running);
    assert_eq!(promo.state.steps[0].error_count, 2, "the count is kept");

    backoff_elapses(&c).await;
    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);
    assert_eq!(pass.finished.len(), 1);
    let promo = promotion(&c).await;
    assert_eq!(promo.phase, PromotionPhase::Succeeded);
    assert_eq!(promo.state.steps[0].attempts, 3);
    assert_eq!(
        c.store()
            .get_stage("dev")
            .await
            .unwrap()
            .current_freight(&kargo_core::model::FreightOrigin::warehouse("app")),
        Some(promo.freight.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_fails_once_its_step_meets_the_error_threshold_across_passes() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stage(99, 2));
    let flaky = Arc::new(Flaky::default());
    let c = controller(&world, &flaky).await;
    c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(promotion(&c).await.phase, PromotionPhase::Running);
    backoff_elapses(&c).await;
    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 2);
    assert_eq!(pass.finished.len(), 1);
    let promo = promotion(&c).await;
    assert_eq!(promo.phase, PromotionPhase::Errored);
    assert_eq!(
        promo.state.message.as_deref(),
        Some("step `flaky` met error threshold of 2: the registry is busy")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_between_attempts_ends_the_promotion_without_another_attempt() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stage(2, 3));
    let flaky = Arc::new(Flaky::default());
    let c = controller(&world, &flaky).await;
    c.pass(&RunOptions::default()).await.unwrap();
    let name = promotion(&c).await.name;
    let asked = c.abort(&name, "alice").await.unwrap();
    assert_eq!(asked.phase, PromotionPhase::Running, "asked, not yet ended");

    // Its retry is an hour away; the abort does not wait for it.
    c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 1);
    let promo = promotion(&c).await;
    assert_eq!(promo.phase, PromotionPhase::Aborted);
    assert_eq!(promo.state.steps[0].status, Some(StepStatus::Aborted));
    assert_eq!(promo.state.message.as_deref(), Some("aborted by alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_retries_the_step_at_once() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stage(1, 3));
    let flaky = Arc::new(Flaky::default());
    let c = controller(&world, &flaky).await;
    c.pass(&RunOptions::default()).await.unwrap();
    let name = promotion(&c).await.name;
    let refreshed = c.refresh_promotion(&name).await.unwrap();
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 2);
    assert_eq!(refreshed.phase, PromotionPhase::Succeeded);
}
