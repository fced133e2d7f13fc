//! Freight moving dev → staging → prod through the public API: the
//! scheduling pass, the in-memory store, verification gating staging, soak
//! time gating prod, a failed verification blocking, an approval letting
//! Freight skip Stages, and a rollback holding auto-promotion. Every time
//! is explicit.

use std::collections::HashMap;

use kargo_core::manifest::Manifests;
use kargo_core::model::{Freight, FreightOrigin, Image, PromotionPhase};
use kargo_core::pipeline::{
    AutoPromotionBlock, HoldIntent, PlannedPromotion, StageGraph, StageView,
    auto_promotion_candidates, hold_intent, plan,
};
use kargo_core::state::{
    FreightQuery, InMemoryStore, NewPromotion, PromotionQuery, PromotionRecord, StageState,
    StateStore, StateStoreExt, VerificationPhase, VerificationRecord,
};
use kargo_core::time::Timestamp;

const MANIFESTS: &str = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app, namespace: demo}
spec:
  subscriptions: [{image: {repoURL: ghcr.io/acme/app}}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: demo, namespace: demo}
spec:
  promotionPolicies:
  - stageSelector: {name: "glob:*"}
    autoPromotionEnabled: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {direct: true}
  promotionTemplate:
    spec:
      steps: [{uses: noop}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [dev]}
  promotionTemplate:
    spec:
      steps: [{uses: noop}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: prod, namespace: demo}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [staging], requiredSoakTime: 1h}
  promotionTemplate:
    spec:
      steps: [{uses: noop}]
"#;

fn t(s: &str) -> Timestamp {
    format!("2026-01-01T{s}:00Z").parse().expect("valid time")
}

fn freight(tag: &str, discovered: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("app"),
        discovered_at: Some(t(discovered).to_string()),
        images: vec![Image {
            repo_url: "ghcr.io/acme/app".into(),
            tag: tag.into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

struct Pipeline {
    manifests: Manifests,
    graph: StageGraph,
    store: InMemoryStore,
}

impl Pipeline {
    fn new() -> Self {
        let manifests = Manifests::from_yaml_str(MANIFESTS, "pipeline.yaml").expect("manifests");
        let graph = StageGraph::from_manifests(&manifests).expect("graph");
        Pipeline {
            manifests,
            graph,
            store: InMemoryStore::new(),
        }
    }

    async fn add(&self, f: Freight) -> String {
        self.store
            .put_freight(f)
            .await
            .expect("put")
            .freight
            .metadata
            .name
    }

    /// One scheduling pass at `now`; returns the promotions it asks for.
    async fn pass(
        &self,
        now: Timestamp,
    ) -> (Vec<PlannedPromotion>, Vec<(String, AutoPromotionBlock)>) {
        let freight = self
            .store
            .list_freight(&FreightQuery::all())
            .await
            .expect("list");
        let mut states: HashMap<String, (StageState, Vec<PromotionRecord>, bool)> = HashMap::new();
        for stage in self.graph.stages() {
            let name = &stage.metadata.name;
            let state = self.store.get_stage(name).await.expect("stage");
            let promotions = self
                .store
                .list_promotions(&PromotionQuery::stage(name))
                .await
                .expect("promotions");
            let enabled = self
                .manifests
                .auto_promotion_enabled(stage)
                .expect("policy");
            states.insert(name.clone(), (state, promotions, enabled));
        }
        let views = states
            .iter()
            .map(|(k, (s, p, e))| {
                (
                    k.clone(),
                    StageView {
                        state: s,
                        promotions: p,
                        auto_promotion_enabled: *e,
                    },
                )
            })
            .collect();
        let plan = plan(&self.graph, &freight, &views, now);
        let blocked = plan
            .blocked
            .iter()
            .map(|b| (b.stage.clone(), b.reason))
            .collect();
        (plan.promotions, blocked)
    }

    /// Runs every planned promotion to success at `now`.
    async fn auto_promote(&self, now: Timestamp) -> Vec<(String, String)> {
        let (planned, _) = self.pass(now).await;
        let mut done = Vec::new();
        for p in planned {
            self.promote(&p.stage, &p.freight, None, now).await;
            done.push((p.stage, p.freight));
        }
        done
    }

    async fn promote(&self, stage: &str, freight: &str, hold: Option<HoldIntent>, now: Timestamp) {
        self.store
            .create_promotion(
                NewPromotion::new(stage, freight)
                    .with_hold(hold)
                    .with_created_at(now),
            )
            .await
            .expect("create");
        let started = self
            .store
            .start_promotion(stage, now)
            .await
            .expect("start")
            .expect("started");
        let mut state = started.state.clone();
        state.phase = PromotionPhase::Succeeded;
        self.store
            .save_promotion_state(&started.name, &state)
            .await
            .expect("save");
        self.store
            .finish_promotion(&started.name, now)
            .await
            .expect("finish");
    }

    async fn verify(&self, stage: &str, phase: VerificationPhase, id: &str, now: Timestamp) {
        self.store
            .record_verification(
                stage,
                VerificationRecord::new(id, phase).with_times(Some(now), Some(now)),
            )
            .await
            .expect("verification");
    }

    async fn current(&self, stage: &str) -> Option<String> {
        self.store
            .get_stage(stage)
            .await
            .expect("stage")
            .current_freight(&FreightOrigin::warehouse("app"))
            .map(str::to_owned)
    }
}

#[tokio::test]
async fn freight_flows_only_when_verified_and_soaked_upstream() {
    let p = Pipeline::new();
    let v1 = p.add(freight("v1", "09:00")).await;

    // Auto-promotion into dev.
    assert_eq!(
        p.auto_promote(t("10:00")).await,
        [("dev".to_string(), v1.clone())]
    );
    // Not verified in dev yet: staging waits.
    assert_eq!(p.auto_promote(t("10:01")).await, []);
    p.verify("dev", VerificationPhase::Successful, "dev-1", t("10:05"))
        .await;
    assert_eq!(
        p.auto_promote(t("10:06")).await,
        [("staging".to_string(), v1.clone())]
    );
    p.verify(
        "staging",
        VerificationPhase::Successful,
        "staging-1",
        t("10:10"),
    )
    .await;

    // Soak time gates prod: in staging since 10:06, 1h required.
    assert_eq!(p.auto_promote(t("10:30")).await, []);
    assert_eq!(p.auto_promote(t("11:05")).await, []);
    assert_eq!(
        p.auto_promote(t("11:06")).await,
        [("prod".to_string(), v1.clone())]
    );

    // A failed verification keeps v2 in dev.
    let v2 = p.add(freight("v2", "11:10")).await;
    assert_eq!(
        p.auto_promote(t("11:15")).await,
        [("dev".to_string(), v2.clone())]
    );
    p.verify("dev", VerificationPhase::Failed, "dev-2", t("11:20"))
        .await;
    let (planned, blocked) = p.pass(t("12:00")).await;
    assert_eq!(planned, []);
    assert!(blocked.contains(&("staging".to_string(), AutoPromotionBlock::AlreadyCurrent)));
    assert_eq!(p.current("staging").await, Some(v1.clone()));

    // v1 left dev: its soak there (10:00 → 11:15) is on record.
    let got = p.store.get_freight(&v1).await.expect("get").expect("v1");
    assert_eq!(
        got.status.verified_in["dev"].longest_soak.as_deref(),
        Some("1h15m0s")
    );
}

#[tokio::test]
async fn approval_skips_stages_and_rollback_holds_auto_promotion() {
    let p = Pipeline::new();
    let v1 = p.add(freight("v1", "09:00")).await;
    p.auto_promote(t("10:00")).await;
    p.verify("dev", VerificationPhase::Successful, "dev-1", t("10:00"))
        .await;
    p.auto_promote(t("10:00")).await;
    p.verify(
        "staging",
        VerificationPhase::Successful,
        "staging-1",
        t("10:00"),
    )
    .await;
    assert_eq!(
        p.auto_promote(t("11:00")).await,
        [("prod".to_string(), v1.clone())]
    );

    // A hotfix approved for prod goes there directly, ahead of dev's pace.
    let hotfix = p.add(freight("hotfix", "11:30")).await;
    p.store
        .approve_freight(&hotfix, "prod", t("11:31"))
        .await
        .expect("approve");
    let promoted = p.auto_promote(t("11:32")).await;
    assert!(
        promoted.contains(&("prod".to_string(), hotfix.clone())),
        "{promoted:?}"
    );
    assert_eq!(p.current("prod").await, Some(hotfix.clone()));

    // Rollback: a person promotes v1 again. It is not the candidate, so
    // auto-promotion of the origin is held.
    let prod = p.graph.stage("prod").expect("prod");
    let all = p
        .store
        .list_freight(&FreightQuery::all())
        .await
        .expect("list");
    let candidates = auto_promotion_candidates(prod, &all, t("12:00"));
    let candidate = candidates[&FreightOrigin::warehouse("app")]
        .metadata
        .name
        .clone();
    assert_eq!(candidate, hotfix);
    let intent = hold_intent(true, Some(&candidate), &v1);
    assert_eq!(intent, Some(HoldIntent::Hold));
    p.promote("prod", &v1, intent, t("12:00")).await;
    assert_eq!(p.current("prod").await, Some(v1.clone()));
    let (planned, blocked) = p.pass(t("12:01")).await;
    assert!(!planned.iter().any(|x| x.stage == "prod"), "{planned:?}");
    assert!(
        blocked.contains(&("prod".to_string(), AutoPromotionBlock::Held)),
        "{blocked:?}"
    );

    // Promoting the candidate by hand releases the hold.
    p.promote(
        "prod",
        &hotfix,
        hold_intent(true, Some(&candidate), &hotfix),
        t("12:30"),
    )
    .await;
    let state = p.store.get_stage("prod").await.expect("stage");
    assert!(state.auto_promotion_holds.is_empty());
    assert_eq!(state.freight_history.len(), 4, "v1, hotfix, v1, hotfix");
}
