//! What a promotion's steps see of it through the controller:
//! `ctx.meta.promotion.rollback` (a promotion that moves a Stage back to
//! older Freight is a rollback) and `secret(name)` (the controller's
//! Secrets).

use std::sync::Arc;

use kargo_core::credentials::StaticCredentials;
use kargo_core::model::PromotionPhase;
use kargo_runtime::clock::ManualClock;
use kargo_runtime::{FreightChoice, PromoteRequest, Refresh, RunOptions};
use kargo_test_support::{PipelineWorld, layout_with_tags};

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
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], DEV);
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .build()
        .unwrap();
    let refresh = RunOptions::default().with_refresh(Refresh::All);
    // Auto-promotion takes v1 into the empty Stage, then v2 once it comes.
    c.pass(&refresh).await.unwrap();
    layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    clock.set(at("10:10"));
    c.pass(&refresh).await.unwrap();
    let v1 = freight_tagged(&c, "v1.0.0").await;
    let v2 = freight_tagged(&c, "v2.0.0").await;
    let promote = |freight: &str| {
        PromoteRequest::new("dev", FreightChoice::Named(freight.to_owned()), "alice")
    };
    let auto = c
        .store()
        .list_promotions(&Default::default())
        .await
        .unwrap();
    assert_eq!(auto.len(), 2);
    for p in &auto {
        assert_eq!(p.phase, PromotionPhase::Succeeded, "{p:?}");
        assert!(!p.rollback, "forward: {}", p.name);
        assert_eq!(p.state.outputs["meta"]["rollback"], false);
    }

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_read_the_controllers_secrets_of_their_project() {
    let stage = DEV.replace(
        "actor: ${{ ctx.meta.promotion.actor }}",
        "token: ${{ secret('slack').token }}",
    );
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stage);
    let secrets = StaticCredentials::new()
        .with_secrets(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: slack\n  namespace: demo\n  labels: {kargo.akuity.io/cred-type: generic}\nstringData: {token: xoxb-1}\n",
            "secrets.yaml",
        )
        .unwrap();
    let clock = ManualClock::new(at("10:00"));
    let c = builder(&world, sqlite(&world).await, &clock)
        .credentials(Arc::new(secrets))
        .build()
        .unwrap();
    c.pass(&RunOptions::default().with_refresh(Refresh::All))
        .await
        .unwrap();
    let promotions = c
        .store()
        .list_promotions(&Default::default())
        .await
        .unwrap();
    assert_eq!(
        promotions[0].phase,
        PromotionPhase::Succeeded,
        "{promotions:?}"
    );
    assert_eq!(promotions[0].state.outputs["meta"]["token"], "xoxb-1");
}
