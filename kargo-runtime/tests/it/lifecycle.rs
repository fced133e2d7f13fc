//! The controller's lifecycle in-process: events, stopping at a step
//! boundary and resuming, manifest reloads, discovery intervals and
//! failures, the run loop.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kargo_core::model::{PromotionPhase, StepStatus};
use kargo_core::state::{PromotionQuery, VerificationPhase};
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{Controller, Event, Hooks, Refresh, RunOptions};
use kargo_test_support::{PipelineWorld, STAGES, layout_with_tags};

use crate::{at, builder, sqlite};

/// Only the dev Stage of [`STAGES`].
fn dev_only() -> String {
    STAGES.split("---").next().unwrap().to_owned()
}

fn tags(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| (format!("v{i}.0.0"), format!("2026-01-0{i}T00:00:00Z")))
        .collect()
}

fn tag_layout(world: &PipelineWorld, n: usize) {
    let tags = tags(n);
    let tags: Vec<(&str, &str)> = tags.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect();
    layout_with_tags(&world.layout, &tags);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_tells_subscribers_what_happened_step_by_step() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    let mut events = c.subscribe();
    c.pass(&RunOptions::default()).await.unwrap();
    let mut seen = Vec::new();
    while let Some(e) = events.try_next() {
        seen.push(e);
    }
    let kinds: Vec<String> = seen
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "freightCreated",
            "discoverySucceeded",
            "promotionQueued",
            "promotionStarted",
            "stepFinished",
            "stepFinished",
            "stepFinished",
            "stepFinished",
            "promotionFinished",
            "verificationFinished",
        ]
    );
    let steps: Vec<(&str, StepStatus, bool)> = seen
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                alias,
                status,
                duration,
                ..
            } => Some((alias.as_str(), *status, duration.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("task-1::clone", StepStatus::Succeeded, true),
            ("task-1::edit", StepStatus::Succeeded, true),
            ("task-1::commit", StepStatus::Succeeded, true),
            ("task-1::push", StepStatus::Succeeded, true),
        ]
    );
    assert!(matches!(
        seen.last(),
        Some(Event::VerificationFinished { stage, .. }) if stage == "dev"
    ));
}

/// Shuts the controller down once `at` checkpoints were saved.
#[derive(Debug, Default)]
struct StopAfter {
    at: usize,
    controller: OnceLock<Controller>,
}

impl Hooks for StopAfter {
    fn checkpoint_saved(&self, _promotion: &str, saves: usize) {
        if saves == self.at {
            self.controller.get().unwrap().shutdown();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_stops_at_a_step_boundary_and_the_next_controller_resumes() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let clock = ManualClock::new(at("10:00"));
    let store = sqlite(&world).await;
    let hook = Arc::new(StopAfter {
        at: 2,
        ..StopAfter::default()
    });
    let first = builder(&world, store.clone(), &clock)
        .hooks(hook.clone())
        .build()
        .unwrap();
    hook.controller.set(first.clone()).unwrap();
    let pass = first.pass(&RunOptions::default()).await.unwrap();
    assert!(pass.finished.is_empty());
    let promotions = store
        .list_promotions(&PromotionQuery::stage("dev"))
        .await
        .unwrap();
    let [stopped] = promotions.as_slice() else {
        panic!("one promotion: {promotions:?}")
    };
    assert_eq!(stopped.phase, PromotionPhase::Running);
    assert_eq!(stopped.state.current_step, 2, "clone and edit saved");
    assert_eq!(world.commits(), ["seed"], "nothing pushed yet");

    let second = builder(&world, store.clone(), &clock).build().unwrap();
    let mut events = second.subscribe();
    let pass = second.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(pass.finished.len(), 1);
    assert_eq!(
        pass.finished[0].name, stopped.name,
        "the same promotion, resumed"
    );
    assert_eq!(pass.finished[0].phase, PromotionPhase::Succeeded);
    assert!(matches!(
        events.try_next(),
        Some(Event::PromotionStarted { resumed: true, .. })
    ));
    assert_eq!(world.commits(), ["dev: v1.0.0", "seed"], "pushed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_manifests_are_reloaded_and_broken_ones_are_kept_out() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    let mut events = c.subscribe();
    assert!(c.reload_manifests().unwrap().is_empty(), "nothing changed");

    world.write_manifests(STAGES);
    let changes = c.reload_manifests().unwrap();
    assert_eq!(changes, ["Stage staging added", "Stage prod added"]);
    assert_eq!(c.project().graph().len(), 3);
    assert!(matches!(
        events.try_next(),
        Some(Event::ManifestsReloaded { .. })
    ));

    world.write_manifests(&STAGES.replace("stages: [dev]", "stages: [nowhere]"));
    let refused = c.reload_manifests().unwrap_err();
    assert!(refused.to_string().contains("nowhere"), "{refused}");
    assert_eq!(c.project().graph().len(), 3, "the old manifests stay");
    assert!(matches!(
        events.try_next(),
        Some(Event::ManifestsRejected { .. })
    ));
    assert!(c.reload_manifests().unwrap().is_empty(), "reported once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_warehouse_is_discovered_on_its_own_interval() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let manifest = std::fs::read_to_string(world.path("manifests/project.yaml")).unwrap();
    std::fs::write(
        world.path("manifests/project.yaml"),
        manifest.replacen(
            "spec:\n  subscriptions",
            "spec:\n  interval: 10m\n  subscriptions",
            1,
        ),
    )
    .unwrap();
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    // The host's default (1 minute) does not apply: the Warehouse says 10m.
    let options = RunOptions::default().with_discovery_interval(Duration::from_secs(60));
    let first = c.pass(&options).await.unwrap();
    assert_eq!(first.discovery.discovered, ["app"]);

    tag_layout(&world, 2);
    clock.set(at("10:05"));
    let early = c.pass(&options).await.unwrap();
    assert!(early.discovery.discovered.is_empty(), "not due yet");
    assert_eq!(world.deployed("dev"), "v1.0.0");
    let refreshed = c.pass(&options.clone().with_refresh(Refresh::All)).await;
    assert_eq!(
        refreshed.unwrap().discovery.created.len(),
        1,
        "a refresh ignores the interval"
    );

    tag_layout(&world, 3);
    clock.set(at("10:15"));
    let due = c.pass(&options).await.unwrap();
    assert_eq!(due.discovery.discovered, ["app"]);
    assert_eq!(world.deployed("dev"), "v3.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_discovery_is_recorded_on_the_warehouse_until_one_succeeds() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let layout = world.layout.clone();
    let moved = world.path("moved-layout");
    std::fs::rename(&layout, &moved).unwrap();
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    let mut events = c.subscribe();
    let options = RunOptions::default().with_refresh(Refresh::All);
    for _ in 0..2 {
        let pass = c.pass(&options).await.unwrap();
        assert_eq!(pass.discovery.failed.len(), 1);
        assert_eq!(pass.discovery.failed[0].0, "app");
    }
    let state = c.store().get_warehouse("app").await.unwrap();
    assert!(state.is_failing(), "{state:?}");
    assert_eq!(state.consecutive_failures, 2);
    assert!(
        state.error.unwrap().contains("app-layout"),
        "names the repository"
    );
    assert!(
        matches!(events.try_next(), Some(Event::DiscoveryFailed { warehouse, .. }) if warehouse == "app")
    );

    std::fs::rename(&moved, &layout).unwrap();
    clock.set(at("10:01"));
    let pass = c.pass(&options).await.unwrap();
    assert!(pass.discovery.failed.is_empty());
    let state = c.store().get_warehouse("app").await.unwrap();
    assert!(!state.is_failing());
    assert!(state.last_freight_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_loop_promotes_reloads_and_stops_when_asked() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    let mut events = c.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = RunOptions::default().with_interval(Duration::from_millis(200));
    let looping = tokio::spawn({
        let c = c.clone();
        async move {
            c.run(options, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let wait_for = async |events: &mut kargo_runtime::Events, want: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let e = tokio::time::timeout_at(deadline, events.next())
                .await
                .unwrap_or_else(|_| panic!("no {want} event within a minute"))
                .unwrap();
            if serde_json::to_value(&e).unwrap()["type"] == want {
                return e;
            }
        }
    };
    wait_for(&mut events, "verificationFinished").await;
    assert_eq!(world.deployed("dev"), "v1.0.0");

    world.write_manifests(STAGES);
    let reloaded = wait_for(&mut events, "manifestsReloaded").await;
    assert!(matches!(reloaded, Event::ManifestsReloaded { changes } if changes.len() == 2));
    // The new Stage staging takes v1 from dev on the next pass.
    wait_for(&mut events, "promotionFinished").await;
    assert_eq!(world.deployed("staging"), "v1.0.0");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), looping)
        .await
        .expect("the loop stops")
        .unwrap()
        .unwrap();
}

/// Kargo's AbortVerification: a verification running in this process is
/// cancelled and recorded `Aborted`, long before its checks would end.
#[tokio::test]
async fn a_running_verification_is_aborted() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only());
    let project = world.path("manifests/project.yaml");
    let slow = std::fs::read_to_string(&project)
        .unwrap()
        .replace("command: [sh, -c, '", "command: [sh, -c, 'sleep 60; ");
    std::fs::write(&project, slow).unwrap();
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    assert!(!c.abort_verification("dev"), "nothing runs yet");

    let pass = tokio::spawn({
        let c = c.clone();
        async move {
            c.pass(&RunOptions::default().with_refresh(Refresh::All))
                .await
        }
    });
    let started = std::time::Instant::now();
    while !c.stage_summaries().await.unwrap()[0]
        .verification
        .as_ref()
        .is_some_and(|v| v.phase == VerificationPhase::Running)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the verification never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(c.abort_verification("dev"));
    pass.await.unwrap().unwrap();
    let verification = c.stage_summaries().await.unwrap()[0]
        .verification
        .clone()
        .unwrap();
    assert_eq!(verification.phase, VerificationPhase::Aborted);
    assert!(!c.abort_verification("dev"), "nothing runs any more");
}
