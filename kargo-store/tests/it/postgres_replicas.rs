//! Several replicas, each with its own `PostgresStore` (its own pool) and
//! owner id, share one database: every promotion is claimed and run
//! once; a replica that dies loses its promotion to another once the
//! lease expired, which resumes it without running a succeeded step
//! again; a replica that lost its lease stops before its next step.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::engine::{Checkpoint, Engine, PromotionContext, PromotionState};
use kargo_core::model::{Freight, FreightOrigin, Image, PromotionPhase, PromotionStep};
use kargo_core::state::{
    Claim, LeasedCheckpoint, NewPromotion, PromotionQuery, StateStore, StateStoreExt,
    keep_promotion_lease,
};
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
use kargo_core::time::Timestamp;
use kargo_store::postgres::PostgresStore;
use kargo_test_support::Database;
use tokio::sync::Semaphore;

/// Counts the runs of each step, by promotion and alias; sleeps a little
/// so that replicas overlap. With a gate, every run first waits for a
/// permit.
#[derive(Debug, Default)]
struct Count {
    runs: Mutex<BTreeMap<(String, String), u32>>,
    gate: Option<Arc<Semaphore>>,
}

impl Count {
    fn runs(&self, promotion: &str, alias: &str) -> u32 {
        self.runs
            .lock()
            .expect("not poisoned")
            .get(&(promotion.to_owned(), alias.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl Step for Count {
    async fn run(&self, ctx: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        *self
            .runs
            .lock()
            .expect("not poisoned")
            .entry((ctx.promotion.clone(), ctx.alias.clone()))
            .or_default() += 1;
        Ok(StepOutcome::succeeded())
    }
}

fn steps(n: usize) -> Vec<PromotionStep> {
    (1..=n)
        .map(|i| PromotionStep {
            uses: "count".into(),
            alias: format!("s{i}"),
            ..Default::default()
        })
        .collect()
}

fn freight(tag: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("app"),
        images: vec![Image {
            repo_url: "ghcr.io/acme/app".into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn engine(count: Arc<Count>) -> Engine {
    let mut registry = StepRegistry::new();
    registry.register_arc("count", count).expect("register");
    Engine::new(Arc::new(registry))
}

const LEASE: Duration = Duration::from_secs(30);

/// One replica's loop: claims, runs and finishes promotions until none is
/// left; returns the names it claimed.
async fn replica(
    store: PostgresStore,
    owner: String,
    engine: Engine,
    work: std::path::PathBuf,
) -> Vec<String> {
    let mut claimed = Vec::new();
    loop {
        let claim = Claim::new(&owner, Timestamp::now(), LEASE);
        let Some(promo) = store.claim_promotion(&claim).await.expect("claim") else {
            let left = store
                .list_promotions(&PromotionQuery::all())
                .await
                .expect("list")
                .iter()
                .any(|p| !p.phase.is_terminal());
            if !left {
                return claimed;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        claimed.push(promo.name.clone());
        let ws = kargo_core::Workspace::new(&work).expect("workspace");
        let ctx = PromotionContext::new(ws).with_names("p", &promo.stage, &promo.name);
        let mut state = promo.state.clone();
        engine
            .resume(
                &ctx,
                &promo.steps,
                &mut state,
                &store.leased_checkpoint(&promo.name, &owner, LEASE),
            )
            .await
            .expect("runs under its lease");
        store
            .finish_promotion(&promo.name, Timestamp::now())
            .await
            .expect("finish");
    }
}

/// `replicas` replicas run 20 Stages × 2 promotions of 2 steps each.
async fn every_promotion_runs_once(replicas: usize) {
    let db = Database::create("kargo_store_test");
    let seed = PostgresStore::open(&db.url()).await.expect("open");
    let (v1, v2) = (
        seed.put_freight(freight("v1")).await.expect("put").freight,
        seed.put_freight(freight("v2")).await.expect("put").freight,
    );
    let mut all = Vec::new();
    for s in 0..20 {
        for f in [&v1, &v2] {
            let p = seed
                .create_promotion(
                    NewPromotion::new(format!("stage-{s:02}"), &f.metadata.name)
                        .with_steps(steps(2), vec![]),
                )
                .await
                .expect("create");
            all.push(p.name);
        }
    }

    let count = Arc::new(Count::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tasks = Vec::new();
    for r in 0..replicas {
        let store = PostgresStore::open(&db.url()).await.expect("replica store");
        let work = dir.path().join(format!("r{r}"));
        std::fs::create_dir(&work).expect("work dir");
        tasks.push(tokio::spawn(replica(
            store,
            format!("replica-{r}"),
            engine(count.clone()),
            work,
        )));
    }
    let mut claims: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        for name in t.await.expect("replica") {
            *claims.entry(name).or_default() += 1;
        }
    }

    for name in &all {
        assert_eq!(claims.get(name), Some(&1), "{name} claimed once");
        for alias in ["s1", "s2"] {
            assert_eq!(count.runs(name, alias), 1, "{name} {alias} ran once");
        }
        let p = seed
            .get_promotion(name)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(p.phase, PromotionPhase::Succeeded, "{name}");
        assert_eq!(p.lease, None, "{name} released");
    }
    for s in 0..20 {
        let stage = seed
            .get_stage(&format!("stage-{s:02}"))
            .await
            .expect("stage");
        assert_eq!(
            stage.current_freight(&v2.origin),
            Some(v2.metadata.name.as_str()),
            "the newer promotion ran last in stage-{s:02}"
        );
        assert_eq!(stage.freight_history.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_run_every_promotion_once() {
    every_promotion_runs_once(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_replicas_run_every_promotion_once() {
    every_promotion_runs_once(4).await;
}

/// Saves under the lease, then "dies" right after save number `die_after`.
struct DiesAfter<'a> {
    inner: LeasedCheckpoint<'a, PostgresStore>,
    saves: AtomicUsize,
    die_after: usize,
}

#[async_trait]
impl Checkpoint for DiesAfter<'_> {
    async fn save(&self, state: &PromotionState) -> kargo_core::Result<()> {
        self.inner.save(state).await?;
        if self.saves.fetch_add(1, Ordering::SeqCst) + 1 == self.die_after {
            return Err(kargo_core::Error::Precondition("killed".into()));
        }
        Ok(())
    }
}

/// One promotion of `n` steps queued in Stage `dev`.
async fn queue_one(store: &PostgresStore, n: usize) -> String {
    let f = store.put_freight(freight("v1")).await.expect("put").freight;
    store
        .create_promotion(NewPromotion::new("dev", &f.metadata.name).with_steps(steps(n), vec![]))
        .await
        .expect("create")
        .name
}

#[tokio::test]
async fn a_dead_replicas_promotion_is_resumed_by_another_after_its_lease_expired() {
    let db = Database::create("kargo_store_test");
    let lease = Duration::from_secs(1);
    let count = Arc::new(Count::default());
    let engine = engine(count.clone());
    let dir = tempfile::tempdir().expect("tempdir");

    // Replica a claims the promotion and dies after its second step.
    let a = PostgresStore::open(&db.url()).await.expect("replica a");
    let name = queue_one(&a, 4).await;
    let claimed = a
        .claim_promotion(&Claim::new("a", Timestamp::now(), lease))
        .await
        .expect("claim")
        .expect("queued");
    let ctx = PromotionContext::new(kargo_core::Workspace::new(dir.path()).expect("ws"))
        .with_names("p", "dev", &name);
    let mut state = claimed.state.clone();
    let dying = DiesAfter {
        inner: a.leased_checkpoint(&name, "a", lease),
        saves: AtomicUsize::new(0),
        die_after: 2,
    };
    engine
        .resume(&ctx, &claimed.steps, &mut state, &dying)
        .await
        .expect_err("a dies");
    drop(a);

    // Replica b waits for the lease, then takes the promotion over.
    let b = PostgresStore::open(&db.url()).await.expect("replica b");
    assert_eq!(
        b.claim_promotion(&Claim::new("b", Timestamp::now(), lease))
            .await
            .expect("claim"),
        None,
        "a's lease still holds"
    );
    let mut taken = None;
    for _ in 0..40 {
        taken = b
            .claim_promotion(&Claim::new("b", Timestamp::now(), lease))
            .await
            .expect("claim");
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken = taken.expect("claimed once a's lease expired");
    assert_eq!(taken.name, name);
    assert_eq!(taken.state.current_step, 2, "from a's last saved state");
    let mut state = taken.state.clone();
    engine
        .resume(
            &ctx,
            &taken.steps,
            &mut state,
            &b.leased_checkpoint(&name, "b", lease),
        )
        .await
        .expect("b finishes it");
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    for alias in ["s1", "s2", "s3", "s4"] {
        assert_eq!(count.runs(&name, alias), 1, "{alias} ran once");
    }
    let done = b
        .finish_promotion(&name, Timestamp::now())
        .await
        .expect("finish");
    assert_eq!(done.phase, PromotionPhase::Succeeded);
}

#[tokio::test]
async fn a_replica_that_lost_its_lease_stops_before_its_next_step() {
    let db = Database::create("kargo_store_test");
    let lease = Duration::from_secs(1);
    let gate = Arc::new(Semaphore::new(1));
    let count = Arc::new(Count {
        gate: Some(gate.clone()),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let a = PostgresStore::open(&db.url()).await.expect("replica a");
    let b = PostgresStore::open(&db.url()).await.expect("replica b");
    let name = queue_one(&a, 3).await;
    let claimed = a
        .claim_promotion(&Claim::new("a", Timestamp::now(), lease))
        .await
        .expect("claim")
        .expect("queued");

    // a runs s1, then hangs in s2 (the gate is shut) past its lease.
    let run_a = {
        let (a, name, engine) = (a.clone(), name.clone(), engine(count.clone()));
        let work = dir.path().to_path_buf();
        tokio::spawn(async move {
            let ctx = PromotionContext::new(kargo_core::Workspace::new(&work).expect("ws"))
                .with_names("p", "dev", &name);
            let mut state = claimed.state.clone();
            let result = engine
                .resume(
                    &ctx,
                    &claimed.steps,
                    &mut state,
                    &a.leased_checkpoint(&name, "a", lease),
                )
                .await;
            (result, state)
        })
    };
    // Once a saved s1 (and hangs in s2), b claims at a time past a's
    // lease, as it would after a's lease expired.
    for _ in 0..200 {
        let saved = b.get_promotion(&name).await.expect("get").expect("stored");
        if saved.state.current_step == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let later = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 1500);
    let taken = b
        .claim_promotion(&Claim::new("b", later, lease))
        .await
        .expect("claim");
    let taken = taken.expect("b claims the expired lease");
    assert_eq!(taken.state.current_step, 1, "a saved s1");
    gate.add_permits(100);
    let (result, _) = run_a.await.expect("a's task");
    let err = result.expect_err("a's save after s2 is refused");
    assert!(
        matches!(err, kargo_core::Error::Precondition(_)),
        "lost lease: {err}"
    );
    assert_eq!(count.runs(&name, "s3"), 0, "a stopped before s3");

    let ctx = PromotionContext::new(kargo_core::Workspace::new(dir.path()).expect("ws"))
        .with_names("p", "dev", &name);
    let mut state = taken.state.clone();
    engine(count.clone())
        .resume(
            &ctx,
            &taken.steps,
            &mut state,
            &b.leased_checkpoint(&name, "b", Duration::from_secs(30)),
        )
        .await
        .expect("b finishes it");
    assert_eq!(state.phase, PromotionPhase::Succeeded);
    assert_eq!(count.runs(&name, "s1"), 1);
    assert_eq!(
        count.runs(&name, "s2"),
        2,
        "the step in flight when a lost its lease ran again: its result was never saved"
    );
    assert_eq!(count.runs(&name, "s3"), 1);
}

#[tokio::test]
async fn a_lease_kept_alive_outlasts_its_duration() {
    let db = Database::create("kargo_store_test");
    let store = PostgresStore::open(&db.url()).await.expect("open");
    let name = queue_one(&store, 1).await;
    let lease = Duration::from_millis(600);
    let claimed = store
        .claim_promotion(&Claim::new("a", Timestamp::now(), lease))
        .await
        .expect("claim")
        .expect("queued");
    let first_until = claimed.lease.expect("leased").until;
    let keeper = keep_promotion_lease(&store, &name, "a", lease);
    tokio::select! {
        err = keeper => panic!("the lease was lost: {err}"),
        () = tokio::time::sleep(Duration::from_millis(1500)) => {}
    }
    let until = store
        .get_promotion(&name)
        .await
        .expect("get")
        .expect("stored")
        .lease
        .expect("leased")
        .until;
    assert!(until > first_until, "renewed: {until} > {first_until}");

    // Once another replica took it over, the keeper says so.
    let later = Timestamp::from_unix_millis(until.unix_millis() + 1);
    store
        .claim_promotion(&Claim::new("b", later, lease))
        .await
        .expect("claim")
        .expect("expired for b");
    let err = keep_promotion_lease(&store, &name, "a", lease).await;
    assert!(
        matches!(err, kargo_core::Error::Precondition(_)),
        "lost: {err}"
    );
}

#[tokio::test]
async fn one_replica_at_a_time_discovers_a_warehouse() {
    let db = Database::create("kargo_store_test");
    let key = kargo_core::state::discovery_lease_key("app");
    let minute = Duration::from_secs(60);
    let stores: Vec<PostgresStore> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(PostgresStore::open(&db.url()).await.expect("open"));
        }
        v
    };
    let now = Timestamp::now();
    let attempts = stores.into_iter().enumerate().map(|(i, s)| {
        let key = key.clone();
        async move {
            s.acquire_lease(
                &key,
                &kargo_core::state::Lease::new(format!("r{i}"), now, minute),
                now,
            )
            .await
            .expect("acquire")
        }
    });
    let won: Vec<bool> = futures_join_all(attempts).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
}

/// Runs `futures` concurrently (a small join_all without another crate).
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
