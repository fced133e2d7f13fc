//! `ctx.meta.promotion.rollback`: a promotion that moves a Stage back to
//! older Freight is a rollback, and its steps see it.

use kargo_core::model::PromotionPhase;
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{FreightChoice, PromoteRequest, Refresh, RunOptions};
use kargo_test_support::PipelineWorld;

use crate::{at, builder, freight_tagged, sqlite};

/// dev, whose only step outputs what the promotion's context says.
const DEV: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        as: meta
        config:
          rollback: ${{ ctx.meta.promotion.rollback }}
          actor: ${{ ctx.meta.promotion.actor }}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_back_to_older_freight_is_a_rollback_and_its_steps_see_it() {
    let world = PipelineWorld::new(
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
        DEV,
    );
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    // Auto-promotion takes the newest, v2, into an empty Stage.
    c.pass(&RunOptions::default().with_refresh(Refresh::All))
        .await
        .unwrap();
    let v1 = freight_tagged(&c, "v1.0.0").await;
    let v2 = freight_tagged(&c, "v2.0.0").await;
    let promote = |freight: &str| {
        PromoteRequest::new("dev", FreightChoice::Named(freight.to_owned()), "alice")
    };
    let first = c
        .store()
        .list_promotions(&Default::default())
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(!first[0].rollback, "nothing was in dev before");
    assert_eq!(first[0].state.outputs["meta"]["rollback"], false);

    // v1 is older than v2, which dev holds: a rollback.
    let back = c
        .promote_and_run(&promote(&v1.metadata.name))
        .await
        .unwrap();
    assert_eq!(back.promotion.phase, PromotionPhase::Succeeded);
    assert!(back.promotion.rollback);
    assert_eq!(back.promotion.state.outputs["meta"]["rollback"], true);
    assert_eq!(back.promotion.state.outputs["meta"]["actor"], "alice");

    // Forward again to v2: not a rollback; nor is promoting what dev holds.
    let forward = c
        .promote_and_run(&promote(&v2.metadata.name))
        .await
        .unwrap();
    assert!(!forward.promotion.rollback);
    assert_eq!(forward.promotion.state.outputs["meta"]["rollback"], false);
    let again = c
        .promote_and_run(&promote(&v2.metadata.name))
        .await
        .unwrap();
    assert_ne!(again.promotion.name, forward.promotion.name);
    assert!(!again.promotion.rollback);
}
