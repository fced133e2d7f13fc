//! What `kargo serve`'s API asks of the controller, in-process on SQLite
//! and on PostgreSQL: aborting a running or waiting promotion (possibly
//! from another replica), refreshing a promotion that waits on a pull
//! request, and Kargo resources kept in the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::model::{PromotionPhase, StepStatus};
use kargo_core::state::{DynStateStore, PromotionRecord, ResourceKey, StateStoreExt};
use kargo_core::step::{Step, StepContext, StepError, StepOutcome};
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{
    ApplyMode, Controller, ControllerBuilder, Error, Event, Events, FreightChoice, PromoteRequest,
    PullRequestRef, Refresh, ResourceOutcome, RunOptions, documents_from_yaml,
};
use kargo_test_support::{Database, PipelineWorld, STAGES};
use tokio::sync::Notify;

use crate::{at, sqlite};

/// How often each promotion ran a step.
#[derive(Debug, Default)]
struct Runs(Mutex<BTreeMap<String, u32>>);

impl Runs {
    fn add(&self, promotion: &str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(promotion.to_owned())
            .or_default() += 1;
    }

    fn of(&self, promotion: &str) -> u32 {
        self.0.lock().unwrap().get(promotion).copied().unwrap_or(0)
    }
}

/// Writes `first.txt` in the work directory; its first run then blocks
/// until the test releases it.
#[derive(Debug, Default)]
struct Block {
    started: Notify,
    release: Notify,
    blocked_once: AtomicBool,
    runs: Runs,
}

#[async_trait]
impl Step for Block {
    async fn run(&self, ctx: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        self.runs.add(&ctx.promotion);
        std::fs::write(ctx.workspace.root().join("first.txt"), "first")
            .map_err(|e| StepError::failed(e.to_string()))?;
        if !self.blocked_once.swap(true, Ordering::SeqCst) {
            self.started.notify_one();
            self.release.notified().await;
        }
        Ok(StepOutcome::succeeded())
    }
}

/// Writes `second.txt` in the work directory.
#[derive(Debug, Default)]
struct Mark {
    runs: Runs,
}

#[async_trait]
impl Step for Mark {
    async fn run(&self, ctx: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        self.runs.add(&ctx.promotion);
        std::fs::write(ctx.workspace.root().join("second.txt"), "second")
            .map_err(|e| StepError::failed(e.to_string()))?;
        Ok(StepOutcome::succeeded())
    }
}

/// Waits on pull request #7 of github.com/acme/app, as `git-wait-for-pr`
/// does (output `pr: {id, url}`), until the test merges it.
#[derive(Debug, Default)]
struct WaitForPr {
    merged: AtomicBool,
    runs: Runs,
}

#[async_trait]
impl Step for WaitForPr {
    async fn run(&self, ctx: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        self.runs.add(&ctx.promotion);
        let pr = serde_json::json!({"id": 7, "url": "https://github.com/acme/app/pull/7"});
        Ok(if self.merged.load(Ordering::SeqCst) {
            StepOutcome::succeeded().with_output("pr", pr)
        } else {
            StepOutcome::running(Duration::from_secs(10))
                .with_output("pr", pr)
                .with_message("pull request #7 is open")
        })
    }
}

/// The test steps, shared by every controller of a test.
#[derive(Debug, Default)]
struct Steps {
    block: Arc<Block>,
    mark: Arc<Mark>,
    wait: Arc<WaitForPr>,
}

/// The Stage `gated` (`test-block` then `test-mark`) and the Stage `gate`
/// (`test-wait` then `test-mark`), both taking Freight from `app`.
const GATED: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: gated, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: test-block, as: first}, {uses: test-mark, as: second}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: gate, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: test-wait, as: wait}, {uses: test-mark, as: after}]
"#;

/// A builder over `world` with the built-in steps and `steps`, keeping
/// work directories.
fn builder(
    world: &PipelineWorld,
    store: Arc<DynStateStore>,
    clock: &ManualClock,
    steps: &Steps,
) -> ControllerBuilder {
    let mut registry = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
    registry
        .register_arc("test-block", steps.block.clone())
        .unwrap();
    registry
        .register_arc("test-mark", steps.mark.clone())
        .unwrap();
    registry
        .register_arc("test-wait", steps.wait.clone())
        .unwrap();
    Controller::builder()
        .manifests_path(world.manifests())
        .registry(Arc::new(registry))
        .store(store)
        .work_root(world.path("work"), true)
        .clock(Arc::new(clock.clone()))
}

/// Where the controllers of a test keep their state: one SQLite store
/// (its changes are seen in-process), or PostgreSQL, where each
/// controller is a replica with a store (connections) of its own.
enum Backend {
    Sqlite(tokio::sync::OnceCell<Arc<DynStateStore>>),
    Postgres(Database),
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tokio::sync::OnceCell::new())
    }

    fn postgres(name: &str) -> Backend {
        Backend::Postgres(Database::create(name))
    }

    async fn store(&self, world: &PipelineWorld) -> Arc<DynStateStore> {
        match self {
            Backend::Sqlite(store) => store.get_or_init(|| sqlite(world)).await.clone(),
            Backend::Postgres(db) => kargo_store::open(&db.url()).await.unwrap(),
        }
    }

    /// Controller `name` (a replica on PostgreSQL).
    async fn controller(
        &self,
        world: &PipelineWorld,
        clock: &ManualClock,
        steps: &Steps,
        name: &str,
    ) -> Controller {
        let b = builder(world, self.store(world).await, clock, steps);
        match self {
            Backend::Sqlite(_) => b.build().unwrap(),
            Backend::Postgres(_) => b.replica(name, Duration::from_secs(30)).build().unwrap(),
        }
    }
}

/// The next event `pick` keeps, within a minute (a hang guard, not a
/// timing assertion).
async fn next_event<T: Send>(
    events: &mut Events,
    pick: impl Fn(Event) -> Option<T> + Send + Sync,
) -> T {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(found) = pick(events.next().await.expect("the controller is alive")) {
                return found;
            }
        }
    })
    .await
    .expect("the event comes within a minute")
}

async fn aborting_a_running_promotion(backend: Backend) {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], GATED);
    let clock = ManualClock::new(at("10:00"));
    let steps = Steps::default();
    let runner = backend.controller(&world, &clock, &steps, "runner").await;
    let other = backend.controller(&world, &clock, &steps, "other").await;
    let mut events = runner.subscribe();

    // The runner's pass auto-promotes v1 into `gated`; its first step
    // blocks.
    let pass = tokio::spawn({
        let runner = runner.clone();
        async move { runner.pass(&RunOptions::default()).await }
    });
    tokio::time::timeout(Duration::from_secs(60), steps.block.started.notified())
        .await
        .expect("the first step starts");
    let running = other
        .store()
        .running_promotion("gated")
        .await
        .unwrap()
        .expect("running");
    // Another promotion queues behind it.
    let next = other
        .queue("gated", &running.freight, "bob", None)
        .await
        .unwrap();

    // Another controller (replica) asks to abort it: recorded, not done.
    let mut told = other.subscribe();
    let asked = other.abort(&running.name, "alice").await.unwrap();
    assert_eq!(asked.phase, PromotionPhase::Running);
    assert_eq!(asked.abort.as_ref().unwrap().actor, "alice");
    assert!(matches!(
        told.try_next(),
        Some(Event::PromotionAbortRequested { promotion, actor, .. })
            if promotion == running.name && actor == "alice"
    ));
    let again = other.abort(&running.name, "bob").await.unwrap();
    assert_eq!(
        again.abort.unwrap().actor,
        "alice",
        "the first request stays"
    );
    assert!(told.try_next().is_none(), "nothing new to tell");

    steps.block.release.notify_one();
    let pass = pass.await.unwrap().unwrap();
    let finished: Vec<(&str, PromotionPhase)> = pass
        .finished
        .iter()
        .map(|p| (p.name.as_str(), p.phase))
        .collect();
    assert_eq!(
        finished,
        [
            (running.name.as_str(), PromotionPhase::Aborted),
            (next.name.as_str(), PromotionPhase::Succeeded)
        ],
        "aborted at the step boundary, then the Stage took the next one"
    );
    let aborted = runner
        .store()
        .get_promotion(&running.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aborted.phase, PromotionPhase::Aborted);
    assert_eq!(aborted.state.message.as_deref(), Some("aborted by alice"));
    assert_eq!(aborted.abort.unwrap().actor, "alice");
    let recorded: Vec<(&str, Option<StepStatus>)> = aborted
        .state
        .steps
        .iter()
        .map(|s| (s.alias.as_str(), s.status))
        .collect();
    assert_eq!(recorded, [("first", Some(StepStatus::Succeeded))]);
    assert_eq!(
        steps.mark.runs.of(&running.name),
        0,
        "the second step never ran"
    );
    assert_eq!(steps.mark.runs.of(&next.name), 1);
    let work = world.path("work").join(&running.name);
    assert!(
        work.join("first.txt").is_file(),
        "files stay as the last step left them"
    );
    assert!(!work.join("second.txt").exists());
    let told = next_event(&mut events, |e| match e {
        Event::PromotionFinished {
            promotion,
            phase,
            message,
            ..
        } if promotion == running.name => Some((phase, message)),
        _ => None,
    })
    .await;
    assert_eq!(
        told,
        (PromotionPhase::Aborted, Some("aborted by alice".to_owned()))
    );

    // Finished: it cannot be aborted any more.
    let refused = other.abort(&next.name, "alice").await.unwrap_err();
    assert!(matches!(refused, Error::Refused(_)), "{refused}");
    assert!(refused.to_string().contains("Succeeded"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_promotion_is_aborted_at_its_next_step_boundary_on_sqlite() {
    aborting_a_running_promotion(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_aborts_a_running_promotion_on_postgres() {
    aborting_a_running_promotion(Backend::postgres("kargo_runtime_abort")).await;
}

/// Pass `gate` only (`gated` would block) and wait.
fn gate_only() -> String {
    GATED.split("---").nth(1).unwrap().to_owned()
}

async fn waiting_promotion(world: &PipelineWorld, c: &Controller) -> PromotionRecord {
    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert!(pass.finished.is_empty(), "{pass:?}");
    let [waiting] = pass.waiting.as_slice() else {
        panic!("one waiting promotion: {pass:?}");
    };
    assert!(waiting.is_waiting());
    assert!(world.path("work").join(&waiting.name).is_dir());
    waiting.clone()
}

async fn aborting_a_waiting_promotion(backend: Backend) {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &gate_only());
    let clock = ManualClock::new(at("10:00"));
    let steps = Steps::default();
    let runner = backend.controller(&world, &clock, &steps, "runner").await;
    let other = backend.controller(&world, &clock, &steps, "other").await;
    let waiting = waiting_promotion(&world, &runner).await;
    assert_eq!(steps.wait.runs.of(&waiting.name), 1);

    let mut events = runner.subscribe();
    let polled = match backend {
        // One process: its next pass polls the promotion.
        Backend::Sqlite(_) => {
            let asked = other.abort(&waiting.name, "carol").await.unwrap();
            assert_eq!(asked.phase, PromotionPhase::Running);
            let pass = runner.pass(&RunOptions::default()).await.unwrap();
            assert_eq!(pass.finished.len(), 1, "{pass:?}");
            1
        }
        // The runner's loop polls it once, then sleeps for minutes; the
        // store's notification of the request made on the other replica
        // wakes it.
        Backend::Postgres(_) => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let looping = tokio::spawn({
                let runner = runner.clone();
                async move {
                    let options = RunOptions::default().with_interval(Duration::from_secs(600));
                    runner
                        .run(options, async {
                            let _ = stopped.await;
                        })
                        .await
                }
            });
            next_event(&mut events, |e| match e {
                Event::PromotionWaiting { promotion, .. } if promotion == waiting.name => Some(()),
                _ => None,
            })
            .await;
            let asked = other.abort(&waiting.name, "carol").await.unwrap();
            assert_eq!(asked.phase, PromotionPhase::Running);
            next_event(&mut events, |e| match e {
                Event::PromotionFinished { promotion, .. } if promotion == waiting.name => Some(()),
                _ => None,
            })
            .await;
            stop.send(()).unwrap();
            looping.await.unwrap().unwrap();
            2
        }
    };
    let aborted = runner
        .store()
        .get_promotion(&waiting.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aborted.phase, PromotionPhase::Aborted);
    assert_eq!(aborted.state.message.as_deref(), Some("aborted by carol"));
    assert_eq!(aborted.state.steps[0].status, Some(StepStatus::Aborted));
    assert_eq!(aborted.state.steps.len(), 1);
    assert_eq!(
        steps.wait.runs.of(&waiting.name),
        polled,
        "not polled again once aborted"
    );
    assert_eq!(steps.mark.runs.of(&waiting.name), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_promotion_is_aborted_at_its_next_poll_on_sqlite() {
    aborting_a_waiting_promotion(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_promotion_aborted_on_one_replica_ends_on_the_other_on_postgres() {
    aborting_a_waiting_promotion(Backend::postgres("kargo_runtime_abort_wait")).await;
}

async fn refreshing_by_pull_request(backend: Backend) {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &gate_only());
    let clock = ManualClock::new(at("10:00"));
    let steps = Steps::default();
    let runner = backend.controller(&world, &clock, &steps, "runner").await;
    // The webhook arrives at another replica.
    let receiver = backend.controller(&world, &clock, &steps, "receiver").await;
    let waiting = waiting_promotion(&world, &runner).await;

    let pr = |repo: &str, n| PullRequestRef::new(repo, n);
    let found = receiver
        .waiting_on_pull_request(&pr("https://github.com/ACME/app.git", 7))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|p| &p.name).collect::<Vec<_>>(),
        [&waiting.name]
    );
    assert!(
        receiver
            .refresh_pull_request(&pr("https://github.com/acme/app", 8))
            .await
            .unwrap()
            .is_empty(),
        "another pull request"
    );
    assert_eq!(steps.wait.runs.of(&waiting.name), 1, "not polled for it");

    steps.wait.merged.store(true, Ordering::SeqCst);
    let refreshed = receiver
        .refresh_pull_request(&pr("https://github.com/acme/app", 7))
        .await
        .unwrap();
    assert_eq!(refreshed.len(), 1);
    assert_eq!(refreshed[0].name, waiting.name);
    assert_eq!(refreshed[0].phase, PromotionPhase::Succeeded);
    assert_eq!(steps.wait.runs.of(&waiting.name), 2);
    assert_eq!(steps.mark.runs.of(&waiting.name), 1);

    // Kargo's RefreshPromotion of a finished one changes nothing; an
    // unknown one is an error.
    let again = receiver.refresh_promotion(&waiting.name).await.unwrap();
    assert_eq!(again.phase, PromotionPhase::Succeeded);
    let unknown = receiver
        .refresh_promotion("gate.nothing")
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_pull_request_refreshes_the_promotion_waiting_on_it_on_sqlite() {
    refreshing_by_pull_request(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_on_another_replica_refreshes_the_waiting_promotion_on_postgres() {
    refreshing_by_pull_request(Backend::postgres("kargo_runtime_refresh")).await;
}

/// A Stage `qa` taking Freight from `app` with the `set-tag` task into
/// `env/staging` (unused by the dev-only world).
const QA: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: qa, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: staging}]}]
"#;

fn failure(outcome: &ResourceOutcome) -> &str {
    outcome
        .error()
        .unwrap_or_else(|| panic!("expected an error: {outcome:?}"))
}

async fn resources_in_the_store(backend: Backend) {
    let world = PipelineWorld::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        STAGES.split("---").next().unwrap(),
    );
    let clock = ManualClock::new(at("10:00"));
    let steps = Steps::default();
    let a = backend.controller(&world, &clock, &steps, "a").await;

    // Apply qa through a: stored, loaded, promotable.
    a.discover(Refresh::All, Duration::from_secs(60))
        .await
        .unwrap();
    let mut events = a.subscribe();
    let outcomes = a
        .apply_resources(documents_from_yaml(QA).unwrap(), ApplyMode::Create)
        .await
        .unwrap();
    let qa = ResourceKey::new("Stage", "demo", "qa");
    assert!(
        matches!(&outcomes[..], [ResourceOutcome::Created { key, .. }] if *key == qa),
        "{outcomes:?}"
    );
    assert!(a.project().stage("qa").is_ok());
    assert!(matches!(
        events.try_next(),
        Some(Event::ResourcesChanged { resources }) if resources == [qa.clone()]
    ));
    assert!(matches!(
        events.try_next(),
        Some(Event::ManifestsReloaded { changes }) if changes == ["Stage qa added"]
    ));
    let promoted = a
        .promote_and_run(&PromoteRequest::new("qa", FreightChoice::Newest, "alice"))
        .await
        .unwrap();
    assert_eq!(promoted.promotion.phase, PromotionPhase::Succeeded);
    assert_eq!(world.deployed("staging"), "v1.0.0");

    // b runs its loop (passes at most every 10 minutes): it loads qa
    // from the store, and hears of the next change through the store.
    let b = backend.controller(&world, &clock, &steps, "b").await;
    let mut b_events = b.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let b_loop = tokio::spawn({
        let b = b.clone();
        async move {
            let options = RunOptions::default().with_interval(Duration::from_secs(600));
            b.run(options, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    next_event(&mut b_events, |e| match e {
        Event::PromotionFinished { stage, .. } if stage == "dev" => Some(()),
        _ => None,
    })
    .await;
    assert!(b.project().stage("qa").is_ok(), "loaded on b's first pass");
    let gate = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: gate, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [qa]}}]
"#;
    let outcomes = a
        .apply_resources(documents_from_yaml(gate).unwrap(), ApplyMode::Upsert)
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[..], [ResourceOutcome::Created { .. }]),
        "{outcomes:?}"
    );
    let changes = next_event(&mut b_events, |e| match e {
        Event::ManifestsReloaded { changes } => Some(changes),
        _ => None,
    })
    .await;
    assert_eq!(changes, ["Stage gate added"]);
    assert!(b.project().stage("gate").is_ok());

    // Invalid documents change nothing, each with its reason.
    let before = a.store().list_resources().await.unwrap();
    let mut docs = documents_from_yaml(QA).unwrap();
    docs.push(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "demo"}}));
    docs.push(serde_json::json!({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {"namespace": "demo"}}));
    docs.extend(
        documents_from_yaml(
            &QA.replace("name: qa", "name: qa2")
                .replace("name: app}", "name: nowhere}"),
        )
        .unwrap(),
    );
    docs.extend(documents_from_yaml(STAGES.split("---").next().unwrap()).unwrap());
    docs.extend(
        documents_from_yaml(&QA.replace("name: qa", "name: qa3").replace(
            "spec:\n  requestedFreight",
            "spec:\n  bogusField: 1\n  requestedFreight",
        ))
        .unwrap(),
    );
    let outcomes = a.apply_resources(docs, ApplyMode::Create).await.unwrap();
    assert_eq!(outcomes.len(), 6);
    assert!(
        failure(&outcomes[0]).contains("Stage demo/qa already exists"),
        "{outcomes:?}"
    );
    assert!(
        failure(&outcomes[1]).contains("not a Kargo kind"),
        "{outcomes:?}"
    );
    assert!(
        failure(&outcomes[2]).contains("metadata.name is missing"),
        "{outcomes:?}"
    );
    assert!(
        failure(&outcomes[3]).contains("Warehouse `nowhere`, which does not exist"),
        "{outcomes:?}"
    );
    assert!(
        failure(&outcomes[4]).contains("conflicts with the manifest files"),
        "{outcomes:?}"
    );
    assert!(failure(&outcomes[5]).contains("bogusField"), "{outcomes:?}");
    assert_eq!(a.store().list_resources().await.unwrap(), before);
    assert_eq!(a.project().graph().len(), 3, "dev, qa and gate");

    // Documents that need each other may come in any order; an update
    // needs the resource stored.
    let stage_first = format!(
        "{}---\n{}",
        QA.replace("name: qa", "name: qa4")
            .replace("name: app}", "name: app2}"),
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app2, namespace: demo}
spec:
  subscriptions: []
"#
    );
    let outcomes = a
        .apply_resources(
            documents_from_yaml(&stage_first).unwrap(),
            ApplyMode::Upsert,
        )
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ResourceOutcome::Created { .. })),
        "{outcomes:?}"
    );
    let outcomes = a
        .apply_resources(
            documents_from_yaml(&QA.replace("name: qa", "name: qa5")).unwrap(),
            ApplyMode::Update,
        )
        .await
        .unwrap();
    assert!(
        failure(&outcomes[0]).contains("does not exist"),
        "{outcomes:?}"
    );
    let outcomes = a
        .apply_resources(
            documents_from_yaml(&QA.replace("value: staging", "value: prod")).unwrap(),
            ApplyMode::Update,
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[..], [ResourceOutcome::Updated { .. }]),
        "{outcomes:?}"
    );

    // Deleting: the Warehouse qa4 needs cannot go while qa4 stays; a
    // file's resource cannot go at all; qa4 and its Warehouse together
    // can, in any order.
    let named = |kind: &str, name: &str| serde_json::json!({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": "demo"}});
    let outcomes = a
        .delete_resources(vec![named("Warehouse", "app2"), named("Stage", "dev")])
        .await
        .unwrap();
    assert!(failure(&outcomes[0]).contains("qa4"), "{outcomes:?}");
    assert!(
        failure(&outcomes[1]).contains("conflicts with the manifest files"),
        "{outcomes:?}"
    );
    let outcomes = a
        .delete_resources(vec![named("Warehouse", "app2"), named("Stage", "qa4")])
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ResourceOutcome::Deleted { .. })),
        "{outcomes:?}"
    );
    assert!(a.project().stage("qa4").is_err());
    let kept: Vec<ResourceKey> = a
        .store()
        .list_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(kept, [ResourceKey::new("Stage", "demo", "gate"), qa]);

    // A controller started later loads the stored resources before its
    // first operation, and still reloads its files beside them.
    let late = backend.controller(&world, &clock, &steps, "late").await;
    let summaries = late.stage_summaries().await.unwrap();
    let mut names: Vec<&str> = summaries.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["dev", "gate", "qa"]);
    world.write_manifests(&STAGES.split("---").take(2).collect::<Vec<_>>().join("---"));
    assert_eq!(late.reload_manifests().unwrap(), ["Stage staging added"]);
    assert!(late.project().stage("qa").is_ok());

    stop.send(()).unwrap();
    b_loop.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_applied_through_the_controller_are_stored_and_loaded_on_sqlite() {
    resources_in_the_store(Backend::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_applied_on_one_replica_are_loaded_by_the_other_on_postgres() {
    resources_in_the_store(Backend::postgres("kargo_runtime_resources")).await;
}

/// A Stage whose steps set metadata and the Freight's alias.
const META: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: meta, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps:
      - uses: set-metadata
        config:
          updates:
          - {kind: Stage, name: meta, values: {ticket: T-1}}
          - {kind: Freight, name: "${{ ctx.targetFreight.name }}", values: {ticket: T-1}}
      - uses: set-freight-alias
        config: {name: "${{ ctx.targetFreight.name }}", alias: release-one}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_steps_and_people_change_on_stages_and_freight_is_told() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], META);
    let clock = ManualClock::new(at("10:00"));
    let steps = Steps::default();
    let c = Backend::sqlite()
        .controller(&world, &clock, &steps, "c")
        .await;
    let mut events = c.subscribe();
    let pass = c.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(
        pass.finished[0].phase,
        PromotionPhase::Succeeded,
        "{pass:?}"
    );
    let freight = pass.finished[0].freight.clone();
    let mut told = Vec::new();
    while let Some(e) = events.try_next() {
        match e {
            Event::StageMetadataChanged { stage, keys } => {
                told.push(format!("stage {stage} {keys:?}"))
            }
            Event::FreightMetadataChanged { freight: f, keys } => {
                assert_eq!(f, freight);
                told.push(format!("freight {keys:?}"));
            }
            Event::FreightAliasChanged { freight: f, alias } => {
                assert_eq!(f, freight);
                told.push(format!("alias {alias}"));
            }
            _ => {}
        }
    }
    assert_eq!(
        told,
        [
            r#"stage meta ["ticket"]"#,
            r#"freight ["ticket"]"#,
            "alias release-one"
        ]
    );

    let renamed = c
        .set_freight_alias("release-one", "release-two", "alice")
        .await
        .unwrap();
    assert_eq!(renamed.alias, "release-two");
    assert!(matches!(
        events.try_next(),
        Some(Event::FreightAliasChanged { alias, .. }) if alias == "release-two"
    ));
    let taken = c
        .set_freight_alias("release-two", "Not An Alias!", "alice")
        .await
        .unwrap_err();
    assert!(taken.is_input(), "{taken}");
}
