//! Replicas sharing a PostgreSQL store: each promotion runs once, and a
//! dead replica's promotion is resumed by another once its lease expired.

use std::sync::Arc;
use std::time::Duration;

use kargo_core::model::PromotionPhase;
use kargo_core::state::{DynStateStore, PromotionQuery};
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{Controller, Hooks, RunOptions};
use kargo_test_support::{Database, PipelineWorld, STAGES};

use crate::{at, builder};

fn replica(
    world: &PipelineWorld,
    store: Arc<DynStateStore>,
    clock: &ManualClock,
    name: &str,
    lease: Duration,
) -> Controller {
    builder(world, store, clock)
        .replica(name, lease)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_promote_each_stage_once() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);
    let db = Database::create("kargo_runtime_replicas");
    let clock = ManualClock::new(at("10:00"));
    let a = replica(
        &world,
        kargo_store::open(&db.url()).await.unwrap(),
        &clock,
        "a",
        Duration::from_secs(30),
    );
    let b = replica(
        &world,
        kargo_store::open(&db.url()).await.unwrap(),
        &clock,
        "b",
        Duration::from_secs(30),
    );
    let options = RunOptions::default();
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.pass(&options), b.pass(&options));
        x.unwrap();
        y.unwrap();
    }
    assert_eq!(world.deployed("dev"), "v1.0.0");
    assert_eq!(world.deployed("staging"), "v1.0.0");
    for stage in ["dev", "staging"] {
        let promotions = a
            .store()
            .list_promotions(&PromotionQuery::stage(stage))
            .await
            .unwrap();
        assert_eq!(promotions.len(), 1, "{stage}: {promotions:?}");
        assert_eq!(promotions[0].phase, PromotionPhase::Succeeded);
    }
    assert_eq!(world.commits(), ["staging: v1.0.0", "dev: v1.0.0", "seed"]);
}

/// Freezes the thread that saved the first checkpoint, as if its process
/// died there: its lease is never renewed again.
#[derive(Debug)]
struct DieAfterFirstCheckpoint(std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>);

impl Hooks for DieAfterFirstCheckpoint {
    fn checkpoint_saved(&self, _promotion: &str, _saves: usize) {
        let told = self.0.lock().unwrap().take();
        if let Some(tell) = told {
            let _ = tell.send(());
            loop {
                std::thread::park();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_replicas_promotion_is_resumed_by_another_after_its_lease_expired() {
    let world = PipelineWorld::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        STAGES.split("---").next().unwrap(),
    );
    let db = Database::create("kargo_runtime_takeover");
    let clock = ManualClock::new(at("10:00"));
    let lease = Duration::from_secs(2);
    let (died, dead) = std::sync::mpsc::channel();
    let doomed = builder(&world, kargo_store::open(&db.url()).await.unwrap(), &clock)
        .replica("doomed", lease)
        .hooks(Arc::new(DieAfterFirstCheckpoint(std::sync::Mutex::new(
            Some(died),
        ))))
        .build()
        .unwrap();
    // The doomed replica runs on a thread of its own, which its hook freezes.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = rt.block_on(doomed.pass(&RunOptions::default()));
    });
    tokio::task::spawn_blocking(move || dead.recv_timeout(Duration::from_secs(120)))
        .await
        .unwrap()
        .expect("the doomed replica saved its first checkpoint");

    let survivor = replica(
        &world,
        kargo_store::open(&db.url()).await.unwrap(),
        &clock,
        "survivor",
        lease,
    );
    let before = survivor.pass(&RunOptions::default()).await.unwrap();
    assert!(before.finished.is_empty(), "the lease still holds");
    tokio::time::sleep(lease + Duration::from_millis(500)).await;
    let after = survivor.pass(&RunOptions::default()).await.unwrap();
    assert_eq!(after.finished.len(), 1, "{after:?}");
    assert_eq!(after.finished[0].phase, PromotionPhase::Succeeded);
    assert!(after.finished[0].state.steps.len() == 4);
    assert_eq!(world.commits(), ["dev: v1.0.0", "seed"], "pushed once");
}
