//! The whole pipeline in-process: verification, soak, approval, rollback
//! with a hold, reverification; the same scenario on SQLite and on
//! PostgreSQL.

use std::sync::Arc;

use kargo_core::model::PromotionPhase;
use kargo_core::state::{DynStateStore, PromotionQuery, VerificationPhase};
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{AUTO_ACTOR, Error, FreightChoice, PromoteRequest, Refresh, RunOptions};
use kargo_test_support::{Database, PipelineWorld, STAGES, layout_with_tags, write};

use crate::{at, builder, freight_tagged, sqlite};

fn refresh() -> RunOptions {
    RunOptions::default().with_refresh(Refresh::All)
}

async fn freight_flows(world: &PipelineWorld, store: Arc<DynStateStore>) {
    let clock = ManualClock::new(at("10:00"));
    let c = builder(world, store, &clock).build().unwrap();

    // Auto-promotion into dev; dev's verification passes, so staging
    // follows in the same pass; prod waits for an hour of soak in staging.
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("dev"), "v1.0.0");
    assert_eq!(world.deployed("staging"), "v1.0.0");
    assert_eq!(world.deployed("prod"), "v0", "soak time gates prod");
    let v1 = freight_tagged(&c, "v1.0.0").await;
    assert!(v1.is_verified_in("dev") && v1.is_verified_in("staging"));

    clock.set(at("10:30"));
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("prod"), "v0", "half-way through the soak");
    clock.set(at("11:01"));
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("prod"), "v1.0.0", "soaked: prod takes v1");

    // v2 fails its verification in dev: it goes no further.
    layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    write(world.dir.path(), "broken", "");
    clock.set(at("11:10"));
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("dev"), "v2.0.0");
    assert_eq!(
        world.deployed("staging"),
        "v1.0.0",
        "failed verification blocks"
    );
    let dev = c.stage_summaries().await.unwrap().remove(0);
    let verification = dev.verification.unwrap();
    assert_eq!(verification.phase, VerificationPhase::Failed);
    assert!(verification.message.unwrap().contains("smoke test failed"));
    let v2 = freight_tagged(&c, "v2.0.0").await;

    // Not available to staging: a person cannot promote it there either.
    let person = |stage: &str, freight: &str| {
        PromoteRequest::new(stage, FreightChoice::Named(freight.to_owned()), "alice")
    };
    let refused = c
        .promote(&person("staging", &v2.metadata.name))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Refused(_)), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("not available to Stage `staging`"),
        "{refused}"
    );

    // A manual approval lets v2 skip staging: the next pass takes it to prod.
    clock.set(at("11:12"));
    c.approve(&v2.alias, "prod", "alice").await.unwrap();
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("prod"), "v2.0.0");
    assert_eq!(world.deployed("staging"), "v1.0.0");

    // Rollback: v1 into prod again, by hand. Auto-promotion of the origin
    // is held, so the next pass leaves prod alone.
    clock.set(at("11:20"));
    let rollback = c
        .promote_and_run(&person("prod", &v1.metadata.name))
        .await
        .unwrap();
    assert_eq!(rollback.promotion.phase, PromotionPhase::Succeeded);
    assert_eq!(rollback.promotion.actor, "alice");
    assert!(rollback.promotion.rollback, "v1 is older than v2 in prod");
    assert_eq!(world.deployed("prod"), "v1.0.0");
    clock.set(at("11:30"));
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("prod"), "v1.0.0", "held");
    let prod = c.stage_summaries().await.unwrap().remove(2);
    assert_eq!(prod.auto_promotion_holds.len(), 1);
    assert_eq!(
        prod.auto_promotion_holds[0].alias, v1.alias,
        "holds show aliases"
    );
    assert_eq!(prod.upstream, ["staging"]);

    let promotions: Vec<(String, String)> = c
        .store()
        .list_promotions(&PromotionQuery::stage("prod"))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.freight, p.actor))
        .collect();
    assert_eq!(
        promotions,
        [
            (v1.metadata.name.clone(), AUTO_ACTOR.to_owned()),
            (v2.metadata.name.clone(), AUTO_ACTOR.to_owned()),
            (v1.metadata.name.clone(), "alice".to_owned()),
        ]
    );

    // The smoke test is fixed: verifying dev again lets v2 on to staging.
    std::fs::remove_file(world.path("broken")).unwrap();
    clock.set(at("11:40"));
    let again = c.reverify("dev").await.unwrap();
    assert_eq!(again.phase, VerificationPhase::Successful);
    c.pass(&refresh()).await.unwrap();
    assert_eq!(world.deployed("staging"), "v2.0.0");
    assert_eq!(world.deployed("prod"), "v1.0.0", "still held");
    assert_eq!(
        world.commits(),
        [
            "staging: v2.0.0",
            "prod: v1.0.0",
            "prod: v2.0.0",
            "dev: v2.0.0",
            "prod: v1.0.0",
            "staging: v1.0.0",
            "dev: v1.0.0",
            "seed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freight_flows_through_verification_soak_approval_and_rollback_on_sqlite() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);
    let store = sqlite(&world).await;
    freight_flows(&world, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freight_flows_through_verification_soak_approval_and_rollback_on_postgres() {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);
    let db = Database::create("kargo_runtime_flow");
    let store = kargo_store::open(&db.url()).await.unwrap();
    freight_flows(&world, store).await;
}
