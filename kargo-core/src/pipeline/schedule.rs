//! One scheduling pass over a pipeline: what to auto-promote and what
//! control-flow Stages pass on, decided from the stored state alone.

use std::collections::HashMap;

use super::auto::{AutoPromotionBlock, auto_promotion_candidates, auto_promotion_decision};
use super::availability::is_freight_available;
use super::graph::StageGraph;
use crate::model::{Freight, FreightOrigin};
use crate::state::{PromotionRecord, StageState};
use crate::time::Timestamp;

/// What a scheduling pass knows about one Stage.
#[derive(Debug, Clone, Copy)]
pub struct StageView<'a> {
    /// Its stored state.
    pub state: &'a StageState,
    /// Its promotions, oldest first.
    pub promotions: &'a [PromotionRecord],
    /// Whether the project's promotion policy enables auto-promotion for it.
    pub auto_promotion_enabled: bool,
}

/// A promotion a scheduling pass asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPromotion {
    /// The Stage.
    pub stage: String,
    /// The Freight's name.
    pub freight: String,
    /// Its origin.
    pub origin: FreightOrigin,
}

/// What a control-flow Stage (one without promotion steps) does: it marks
/// the Freight available to it verified in itself, so it flows on
/// (Kargo's control-flow Stage reconciler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVerification {
    /// The Stage.
    pub stage: String,
    /// The Freight's name.
    pub freight: String,
}

/// A candidate a scheduling pass leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedCandidate {
    /// The Stage.
    pub stage: String,
    /// The origin.
    pub origin: FreightOrigin,
    /// The candidate Freight's name.
    pub freight: String,
    /// Why it is left alone.
    pub reason: AutoPromotionBlock,
}

/// The decisions of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// Auto-promotions to queue, in flow order.
    pub promotions: Vec<PlannedPromotion>,
    /// Freight control-flow Stages pass on.
    pub verifications: Vec<PlannedVerification>,
    /// Candidates left alone, and why.
    pub blocked: Vec<BlockedCandidate>,
}

/// Decides, for every Stage of `graph` in flow order, what to do with
/// `freight` at `now`: for a control-flow Stage, which available Freight
/// it passes on; for a Stage with auto-promotion enabled, which
/// candidate to promote per origin ([`auto_promotion_candidates`] and
/// [`auto_promotion_decision`]). Stages missing from `stages` are taken as
/// empty, with auto-promotion off.
///
/// The pass only reads; the caller queues the promotions
/// (`StateStore::create_promotion` with no hold intent) and records the
/// verifications (`StateStoreExt::mark_verified`). Its decisions rest on
/// the state before the pass, so Freight moves one Stage per pass.
pub fn plan(
    graph: &StageGraph,
    freight: &[Freight],
    stages: &HashMap<String, StageView<'_>>,
    now: Timestamp,
) -> Plan {
    let mut by_origin: HashMap<&FreightOrigin, Vec<&Freight>> = HashMap::new();
    for f in freight {
        by_origin.entry(&f.origin).or_default().push(f);
    }
    let mut out = Plan::default();
    for stage in graph.stages() {
        let name = &stage.metadata.name;
        let view = stages.get(name);
        let relevant = stage
            .spec
            .requested_freight
            .iter()
            .flat_map(|r| by_origin.get(&r.origin).into_iter().flatten().copied());
        if stage.is_control_flow() {
            for f in relevant {
                if !f.is_verified_in(name) && is_freight_available(stage, f, now) {
                    out.verifications.push(PlannedVerification {
                        stage: name.clone(),
                        freight: f.metadata.name.clone(),
                    });
                }
            }
            continue;
        }
        let Some(view) = view.filter(|v| v.auto_promotion_enabled) else {
            continue;
        };
        let state = view.state;
        for (origin, candidate) in auto_promotion_candidates(stage, relevant, now) {
            let cname = candidate.metadata.name.as_str();
            let phases = view
                .promotions
                .iter()
                .filter(|p| p.freight == cname)
                .map(|p| p.phase);
            let decision = auto_promotion_decision(
                cname,
                state.current_freight(&origin),
                state.is_held(&origin),
                phases,
            );
            match decision {
                Ok(()) => out.promotions.push(PlannedPromotion {
                    stage: name.clone(),
                    freight: cname.to_owned(),
                    origin,
                }),
                Err(reason) => out.blocked.push(BlockedCandidate {
                    stage: name.clone(),
                    origin,
                    freight: cname.to_owned(),
                    reason,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FreightRequest, FreightSources, Image, PromotionStep, Stage};
    use crate::model::{PromotionTemplate, PromotionTemplateSpec};
    use crate::state::{FreightCollectionRecord, FreightReference};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn stage(name: &str, upstream: &[&str], steps: bool) -> Stage {
        let mut s = Stage::default();
        s.metadata.name = name.into();
        s.spec.requested_freight.push(FreightRequest {
            origin: FreightOrigin::warehouse("app"),
            sources: FreightSources {
                direct: upstream.is_empty(),
                stages: upstream.iter().map(|u| u.to_string()).collect(),
                ..Default::default()
            },
        });
        if steps {
            s.spec.promotion_template = Some(PromotionTemplate {
                spec: PromotionTemplateSpec {
                    steps: vec![PromotionStep {
                        uses: "noop".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            });
        }
        s
    }

    fn freight(tag: &str, at: &str) -> Freight {
        Freight {
            origin: FreightOrigin::warehouse("app"),
            discovered_at: Some(at.into()),
            images: vec![Image {
                repo_url: "nginx".into(),
                tag: tag.into(),
                ..Default::default()
            }],
            ..Default::default()
        }
        .with_generated_name()
    }

    fn holding(stage: &str, f: &Freight) -> StageState {
        let mut s = StageState::new(stage);
        let mut c = FreightCollectionRecord::default();
        c.update_or_push(FreightReference {
            name: f.metadata.name.clone(),
            origin: f.origin.clone(),
        });
        s.freight_history.push(c);
        s
    }

    #[test]
    fn one_pass_promotes_new_freight_and_passes_it_through_control_flow_stages() {
        let graph = StageGraph::new(vec![
            stage("dev", &[], true),
            stage("gate", &["dev"], false),
            stage("prod", &["gate"], true),
        ])
        .expect("valid");
        let now = t("2026-01-01T12:00:00Z");
        let mut v1 = freight("v1", "2026-01-01T09:00:00Z");
        v1.status
            .add_current_stage("dev", t("2026-01-01T10:00:00Z"));
        v1.status
            .add_verified_stage("dev", t("2026-01-01T10:00:00Z"));
        let v2 = freight("v2", "2026-01-01T11:00:00Z");
        let dev = holding("dev", &v1);
        let prod = StageState::new("prod");
        let views: HashMap<String, StageView<'_>> = [
            (
                "dev".to_string(),
                StageView {
                    state: &dev,
                    promotions: &[],
                    auto_promotion_enabled: true,
                },
            ),
            (
                "prod".to_string(),
                StageView {
                    state: &prod,
                    promotions: &[],
                    auto_promotion_enabled: true,
                },
            ),
        ]
        .into_iter()
        .collect();
        let all = [v1.clone(), v2.clone()];
        let plan = plan(&graph, &all, &views, now);
        assert_eq!(
            plan.promotions,
            [PlannedPromotion {
                stage: "dev".into(),
                freight: v2.metadata.name.clone(),
                origin: v2.origin.clone(),
            }],
            "v2 into dev; prod has nothing available yet (v1 is not verified in gate)"
        );
        assert_eq!(
            plan.verifications,
            [PlannedVerification {
                stage: "gate".into(),
                freight: v1.metadata.name.clone(),
            }]
        );
    }

    #[test]
    fn stages_without_auto_promotion_or_view_are_left_alone() {
        let graph = StageGraph::new(vec![stage("dev", &[], true)]).expect("valid");
        let all = [freight("v1", "2026-01-01T09:00:00Z")];
        let now = t("2026-01-01T12:00:00Z");
        assert_eq!(plan(&graph, &all, &HashMap::new(), now), Plan::default());
        let dev = StageState::new("dev");
        let views = [(
            "dev".to_string(),
            StageView {
                state: &dev,
                promotions: &[],
                auto_promotion_enabled: false,
            },
        )]
        .into_iter()
        .collect();
        assert_eq!(plan(&graph, &all, &views, now), Plan::default());
    }

    #[test]
    fn a_held_origin_is_reported_blocked() {
        let graph = StageGraph::new(vec![stage("dev", &[], true)]).expect("valid");
        let v1 = freight("v1", "2026-01-01T09:00:00Z");
        let mut dev = StageState::new("dev");
        dev.auto_promotion_holds.insert(
            v1.origin.to_string(),
            crate::state::AutoPromotionHold {
                freight_name: "older".into(),
                origin: v1.origin.clone(),
                promotion_name: String::new(),
                actor: String::new(),
                created_at: None,
            },
        );
        let views = [(
            "dev".to_string(),
            StageView {
                state: &dev,
                promotions: &[],
                auto_promotion_enabled: true,
            },
        )]
        .into_iter()
        .collect();
        let all = [v1.clone()];
        let plan = plan(&graph, &all, &views, t("2026-01-01T12:00:00Z"));
        assert!(plan.promotions.is_empty());
        assert_eq!(
            plan.blocked,
            [BlockedCandidate {
                stage: "dev".into(),
                origin: v1.origin.clone(),
                freight: v1.metadata.name.clone(),
                reason: AutoPromotionBlock::Held
            }]
        );
    }

    /// Not a benchmark (timing never decides a test): checks that a pass
    /// over 1,000 Stages with 20 Freight each completes and decides for
    /// every Stage. `benches/` is the place to time it.
    #[test]
    fn a_pass_over_a_thousand_stages() {
        let mut stages = Vec::new();
        let mut freight_all = Vec::new();
        for chain in 0..100 {
            let w = format!("w{chain}");
            for i in 0..10 {
                let mut s = Stage::default();
                s.metadata.name = format!("c{chain}-s{i}");
                s.spec.requested_freight.push(FreightRequest {
                    origin: FreightOrigin::warehouse(&w),
                    sources: FreightSources {
                        direct: i == 0,
                        stages: if i == 0 {
                            vec![]
                        } else {
                            vec![format!("c{chain}-s{}", i - 1)]
                        },
                        ..Default::default()
                    },
                });
                s.spec.promotion_template = stage("x", &[], true).spec.promotion_template;
                stages.push(s);
            }
            for n in 0..20 {
                let mut f = freight(&format!("{chain}-{n}"), "2026-01-01T09:00:00Z");
                f.origin = FreightOrigin::warehouse(&w);
                f.set_generated_name();
                for i in 0..10 {
                    f.status
                        .add_verified_stage(&format!("c{chain}-s{i}"), t("2026-01-01T09:00:00Z"));
                }
                freight_all.push(f);
            }
        }
        let graph = StageGraph::new(stages).expect("valid");
        let states: Vec<StageState> = graph
            .stages()
            .map(|s| StageState::new(&s.metadata.name))
            .collect();
        let views = states
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    StageView {
                        state: s,
                        promotions: &[],
                        auto_promotion_enabled: true,
                    },
                )
            })
            .collect();
        let plan = plan(&graph, &freight_all, &views, t("2026-01-01T12:00:00Z"));
        assert_eq!(plan.promotions.len(), 1000, "one candidate per Stage");
    }
}
