//! Replicas sharing one PostgreSQL database (the real server, a fresh
//! database per run, as in the tests):
//! - `throughput/N`: N replicas (own pool, own owner id, one promotion at
//!   a time each) finish 200 promotions (50 Stages × 4) whose one step
//!   waits 10 ms, as a step waiting on I/O does; idle replicas wake on
//!   the store's change notifications. Setup is not timed.
//! - `latency/queued_to_claimed`: from `create_promotion` on one replica
//!   to another replica, woken by NOTIFY (it never polls), holding the
//!   claim.
//! - `latency/approved_to_notified`: from `approve_freight` on one replica
//!   to the approval reaching another replica's `watch`.
//!
//! Run with `cargo bench -p kargo-store --bench replicas`.
//!
//! Measured on the 2-core development machine, shared with other builds
//! (PostgreSQL 15 on 127.0.0.1): `throughput/1` 5.85 s, `throughput/4`
//! 1.72 s (3.4× faster); `latency/queued_to_claimed` 6.7 ms,
//! `latency/approved_to_notified` 9.2 ms (medians).
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kargo_core::engine::{Engine, PromotionContext};
use kargo_core::model::{Freight, FreightOrigin, Image, PromotionStep};
use kargo_core::state::{Change, Claim, NewPromotion, StateStore, StateStoreExt};
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
use kargo_core::time::Timestamp;
use kargo_store::postgres::PostgresStore;
use kargo_test_support::Database;

const STAGES: usize = 50;
const PER_STAGE: usize = 4;
const LEASE: Duration = Duration::from_secs(30);

/// A step that waits 10 ms, as one waiting on a slow endpoint does.
#[derive(Debug)]
struct Wait;

#[async_trait]
impl Step for Wait {
    async fn run(&self, _: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(StepOutcome::succeeded())
    }
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

/// Claims, runs and finishes promotions until `done` reaches `total`.
async fn replica(
    store: PostgresStore,
    owner: String,
    engine: Arc<Engine>,
    work: std::path::PathBuf,
    done: Arc<AtomicUsize>,
    total: usize,
) {
    let mut changes = store.watch().await.expect("watch");
    while done.load(Ordering::SeqCst) < total {
        let claim = Claim::new(&owner, Timestamp::now(), LEASE);
        let Some(promo) = store.claim_promotion(&claim).await.expect("claim") else {
            // Wait for news (a finished promotion frees its Stage).
            let _ = tokio::time::timeout(Duration::from_millis(100), changes.next()).await;
            continue;
        };
        let ctx = PromotionContext::new(kargo_core::Workspace::new(&work).expect("workspace"))
            .with_names("bench", &promo.stage, &promo.name);
        let mut state = promo.state.clone();
        engine
            .resume(
                &ctx,
                &promo.steps,
                &mut state,
                &store.leased_checkpoint(&promo.name, &owner, LEASE),
            )
            .await
            .expect("run");
        store
            .finish_promotion(&promo.name, Timestamp::now())
            .await
            .expect("finish");
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// One run of `replicas` replicas over a fresh database; the time from
/// their start to the last promotion finished.
async fn run_replicas(replicas: usize, engine: &Arc<Engine>) -> Duration {
    let db = Database::create("kargo_store_test");
    let seed = PostgresStore::open(&db.url()).await.expect("open");
    let f = seed.put_freight(freight("v1")).await.expect("put").freight;
    let steps = vec![PromotionStep {
        uses: "wait".into(),
        ..Default::default()
    }];
    for _ in 0..PER_STAGE {
        for s in 0..STAGES {
            seed.create_promotion(
                NewPromotion::new(format!("s{s}"), &f.metadata.name)
                    .with_steps(steps.clone(), vec![]),
            )
            .await
            .expect("create");
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let done = Arc::new(AtomicUsize::new(0));
    let mut stores = Vec::new();
    for _ in 0..replicas {
        stores.push(PostgresStore::open(&db.url()).await.expect("replica"));
    }
    let start = Instant::now();
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            tokio::spawn(replica(
                store,
                format!("replica-{i}"),
                engine.clone(),
                dir.path().to_path_buf(),
                done.clone(),
                STAGES * PER_STAGE,
            ))
        })
        .collect();
    for t in tasks {
        t.await.expect("replica");
    }
    start.elapsed()
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut registry = StepRegistry::new();
    registry.register("wait", Wait).expect("register");
    let engine = Arc::new(Engine::new(Arc::new(registry)));
    let mut group = c.benchmark_group("throughput");
    group.sample_size(10);
    for replicas in [1, 4] {
        group.bench_function(BenchmarkId::from_parameter(replicas), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += run_replicas(replicas, &engine).await;
                    }
                    total
                })
            });
        });
    }
    group.finish();
}

fn latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (db, a, b, f) = rt.block_on(async {
        let db = Database::create("kargo_store_test");
        let a = PostgresStore::open(&db.url()).await.expect("replica a");
        let b = PostgresStore::open(&db.url()).await.expect("replica b");
        let f = a.put_freight(freight("v1")).await.expect("put").freight;
        (db, a, b, f)
    });
    let mut group = c.benchmark_group("latency");
    let mut n = 0usize;
    group.bench_function("queued_to_claimed", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut changes = b.watch().await.expect("watch");
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let stage = format!("q{n}");
                    let start = Instant::now();
                    a.create_promotion(NewPromotion::new(&stage, &f.metadata.name))
                        .await
                        .expect("create");
                    loop {
                        match changes.next().await.expect("changes") {
                            Change::PromotionCreated { stage: s, .. } if s == stage => break,
                            _ => {}
                        }
                    }
                    let claim = Claim::new("b", Timestamp::now(), LEASE).in_stage(&stage);
                    b.claim_promotion(&claim)
                        .await
                        .expect("claim")
                        .expect("claimed");
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.bench_function("approved_to_notified", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut changes = b.watch().await.expect("watch");
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let stage = format!("a{n}");
                    let start = Instant::now();
                    a.approve_freight(&f.metadata.name, &stage, Timestamp::now())
                        .await
                        .expect("approve");
                    loop {
                        match changes.next().await.expect("changes") {
                            Change::FreightApproved { stage: s, .. } if s == stage => break,
                            _ => {}
                        }
                    }
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
    drop((a, b));
    drop(db);
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
