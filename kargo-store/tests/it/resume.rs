//! A promotion whose process died right after a step boundary's save is
//! resumed from the SQLite file by a new process, without running a
//! finished step again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kargo_core::engine::{Checkpoint, Engine, PromotionContext, PromotionState};
use kargo_core::model::{Freight, FreightOrigin, PromotionPhase, PromotionStep};
use kargo_core::state::{NewPromotion, StateStore, StateStoreExt, StoreCheckpoint};
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
use kargo_core::time::Timestamp;
use kargo_store::sqlite::SqliteStore;

#[derive(Debug, Default)]
struct Count(Mutex<BTreeMap<String, u32>>);

#[async_trait]
impl Step for Count {
    async fn run(&self, ctx: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        *self
            .0
            .lock()
            .expect("not poisoned")
            .entry(ctx.alias.clone())
            .or_default() += 1;
        Ok(StepOutcome::succeeded())
    }
}

/// Saves, then fails right after save number `die_after`: the process
/// "dies" at that step boundary.
struct KilledAfter<'a> {
    inner: StoreCheckpoint<'a, SqliteStore>,
    saves: AtomicUsize,
    die_after: usize,
}

#[async_trait]
impl Checkpoint for KilledAfter<'_> {
    async fn save(&self, state: &PromotionState) -> kargo_core::Result<()> {
        self.inner.save(state).await?;
        if self.saves.fetch_add(1, Ordering::SeqCst) + 1 == self.die_after {
            return Err(kargo_core::Error::Precondition("killed".into()));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_killed_promotion_resumes_from_the_database_file() {
    let steps: Vec<PromotionStep> = (1..=3)
        .map(|i| PromotionStep {
            uses: "count".into(),
            alias: format!("s{i}"),
            ..Default::default()
        })
        .collect();
    for die_after in 1..=2 {
        let count = Arc::new(Count::default());
        let mut registry = StepRegistry::new();
        registry
            .register_arc("count", count.clone())
            .expect("register");
        let engine = Engine::new(Arc::new(registry));
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("work dir");
        let ctx = PromotionContext::new(kargo_core::Workspace::new(&work).expect("workspace"));
        let db = dir.path().join("state.db");

        // The first process.
        let freight_name = {
            let store = SqliteStore::open(&db).await.expect("open");
            let f = store
                .put_freight(Freight {
                    origin: FreightOrigin::warehouse("app"),
                    ..Default::default()
                })
                .await
                .expect("put")
                .freight;
            store
                .create_promotion(
                    NewPromotion::new("dev", &f.metadata.name).with_steps(steps.clone(), vec![]),
                )
                .await
                .expect("create");
            let started = store
                .start_promotion("dev", Timestamp::from_unix_millis(0))
                .await
                .expect("start")
                .expect("started");
            let killed = KilledAfter {
                inner: store.checkpoint(started.name.clone()),
                saves: AtomicUsize::new(0),
                die_after,
            };
            let mut state = started.state.clone();
            engine
                .resume(&ctx, &started.steps, &mut state, &killed)
                .await
                .expect_err("killed");
            f.metadata.name
        };

        // The restarted process sees only the file.
        let store = SqliteStore::open(&db).await.expect("reopen");
        let running = store
            .running_promotion("dev")
            .await
            .expect("running")
            .expect("still running after the restart");
        assert_eq!(running.state.current_step, die_after, "the last saved step");
        let mut state = running.state.clone();
        engine
            .resume(
                &ctx,
                &running.steps,
                &mut state,
                &store.checkpoint(running.name.clone()),
            )
            .await
            .expect("resumed");
        assert_eq!(state.phase, PromotionPhase::Succeeded);
        let calls = count.0.lock().expect("not poisoned").clone();
        for i in 1..=3 {
            assert_eq!(
                calls.get(&format!("s{i}")),
                Some(&1),
                "s{i} after kill at save {die_after}"
            );
        }
        store
            .finish_promotion(&running.name, Timestamp::from_unix_millis(1000))
            .await
            .expect("finish");
        let stage = store.get_stage("dev").await.expect("stage");
        assert_eq!(
            stage.current_freight(&FreightOrigin::warehouse("app")),
            Some(freight_name.as_str())
        );
    }
}
