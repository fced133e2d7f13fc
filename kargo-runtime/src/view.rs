//! Read-only views of a pipeline for people and API clients: each Stage's
//! Freight, promotions, verification and holds, and each Warehouse's
//! discovery. The command line's `status` prints them; a service serves
//! them.

use kargo_core::engine::PromotionState;
use kargo_core::model::{FreightOrigin, PromotionPhase};
use kargo_core::state::{PromotionQuery, VerificationRecord, WarehouseState};
use serde::Serialize;
use serde_json::Value;

use crate::{Controller, Result};

/// A Stage as `kargo status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StageSummary {
    /// The Stage's name.
    pub name: String,
    /// Whether it has no promotion steps (it only passes Freight on).
    pub control_flow: bool,
    /// Where its Freight comes from: upstream Stages, or `warehouse:NAME`
    /// for Freight taken directly.
    pub upstream: Vec<String>,
    /// Whether auto-promotion is on.
    pub auto_promotion_enabled: bool,
    /// The Freight it holds, one per origin.
    pub current_freight: Vec<FreightSummary>,
    /// The last promotion that finished.
    pub last_promotion: Option<PromotionSummary>,
    /// The promotion running (or waiting) now.
    pub running_promotion: Option<String>,
    /// The pull request the running promotion waits for, when a step
    /// opened one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_pull_request: Option<String>,
    /// How many promotions are queued.
    pub queued_promotions: usize,
    /// The current Freight's newest verification.
    pub verification: Option<VerificationRecord>,
    /// Auto-promotion holds, by origin.
    pub auto_promotion_holds: Vec<HoldSummary>,
}

/// A piece of Freight in a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FreightSummary {
    /// Its name (ID).
    pub name: String,
    /// Its alias ("" when the Freight is gone from the store).
    pub alias: String,
    /// Its origin.
    pub origin: FreightOrigin,
}

/// A promotion in a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PromotionSummary {
    /// Its name.
    pub name: String,
    /// Its phase.
    pub phase: PromotionPhase,
    /// The Freight's name.
    pub freight: String,
    /// Why it did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An auto-promotion hold in a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HoldSummary {
    /// The origin held.
    pub origin: FreightOrigin,
    /// The Freight the person promoted.
    pub freight_name: String,
    /// Its alias.
    pub alias: String,
    /// Who placed the hold.
    pub actor: String,
}

/// The URL of the pull request a promotion's steps opened
/// (`git-open-pr`'s output `pr.url`), the newest one first.
pub fn pull_request_url(state: &PromotionState) -> Option<String> {
    state
        .outputs
        .values()
        .rev()
        .find_map(|out| out.pointer("/pr/url").and_then(Value::as_str))
        .map(str::to_owned)
}

impl Controller {
    /// Every Stage in flow order, summarised.
    pub async fn stage_summaries(&self) -> Result<Vec<StageSummary>> {
        let project = self.current().await?;
        let store = self.store();
        let mut out = Vec::new();
        for stage in project.graph().stages() {
            let name = &stage.metadata.name;
            let state = store.get_stage(name).await?;
            let promotions = store.list_promotions(&PromotionQuery::stage(name)).await?;
            let running = promotions
                .iter()
                .find(|p| p.phase == PromotionPhase::Running);
            let last = promotions.iter().rev().find(|p| p.phase.is_terminal());
            let mut current_freight = Vec::new();
            for r in state
                .current()
                .map(|c| c.items.values())
                .into_iter()
                .flatten()
            {
                current_freight.push(FreightSummary {
                    name: r.name.clone(),
                    alias: self.alias_of(&r.name).await?,
                    origin: r.origin.clone(),
                });
            }
            let mut auto_promotion_holds = Vec::new();
            for hold in state.auto_promotion_holds.values() {
                auto_promotion_holds.push(HoldSummary {
                    origin: hold.origin.clone(),
                    freight_name: hold.freight_name.clone(),
                    alias: self.alias_of(&hold.freight_name).await?,
                    actor: hold.actor.clone(),
                });
            }
            let upstream = stage
                .spec
                .requested_freight
                .iter()
                .flat_map(|r| {
                    let mut from: Vec<String> = r.sources.stages.clone();
                    if r.sources.direct {
                        from.push(format!("warehouse:{}", r.origin.name));
                    }
                    from
                })
                .collect();
            out.push(StageSummary {
                name: name.clone(),
                control_flow: stage.is_control_flow(),
                upstream,
                auto_promotion_enabled: project.auto_promotion_enabled(name),
                current_freight,
                last_promotion: last.map(|p| PromotionSummary {
                    name: p.name.clone(),
                    phase: p.phase,
                    freight: p.freight.clone(),
                    message: p.state.message.clone(),
                }),
                running_promotion: running.map(|p| p.name.clone()),
                waiting_pull_request: running.and_then(|p| pull_request_url(&p.state)),
                queued_promotions: promotions
                    .iter()
                    .filter(|p| p.phase == PromotionPhase::Pending)
                    .count(),
                verification: state
                    .current()
                    .and_then(|c| c.current_verification())
                    .cloned(),
                auto_promotion_holds,
            });
        }
        Ok(out)
    }

    /// Every Warehouse's discovery state, in manifest order.
    pub async fn warehouse_states(&self) -> Result<Vec<WarehouseState>> {
        let mut out = Vec::new();
        for warehouse in self.current().await?.manifests().warehouses() {
            out.push(self.store().get_warehouse(&warehouse.metadata.name).await?);
        }
        Ok(out)
    }

    async fn alias_of(&self, freight: &str) -> Result<String> {
        Ok(self
            .store()
            .get_freight(freight)
            .await?
            .map(|f| f.alias)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_pull_request_is_the_newest_step_output_naming_one() {
        let mut state = PromotionState::default();
        assert_eq!(pull_request_url(&state), None);
        let outputs = serde_json::json!({
            "clone": {"commit": "abc"},
            "open-pr": {"pr": {"id": 7, "url": "https://git.example.com/acme/gitops/pull/7"}},
            "wait": {"message": "waiting"},
        });
        state.outputs = outputs.as_object().unwrap().clone();
        assert_eq!(
            pull_request_url(&state).as_deref(),
            Some("https://git.example.com/acme/gitops/pull/7")
        );
    }
}
