//! Loading the Freight and Stage metadata a step's expressions read
//! (`freightMetadata(name)`, `stageMetadata(name)`).
//!
//! Expressions are evaluated synchronously and the store is async, so the
//! engine evaluates the step's `if`, variables and config once against
//! what it has loaded, loads every name the functions asked for and did
//! not find, and repeats until nothing is missing (names may come from
//! other metadata), at most [`MAX_ROUNDS`] times. Steps that mention
//! neither function skip all of this.

use std::sync::Arc;

use serde_json::Value;

use super::{Engine, PromotionContext, PromotionState};
use crate::expr::{MetadataKey, MetadataView};
use crate::model::PromotionStep;

/// How many rounds of loading a step gets.
const MAX_ROUNDS: usize = 4;

impl Engine {
    /// The metadata a step's expressions read; `None` without a store.
    pub(super) async fn load_metadata(
        &self,
        ctx: &PromotionContext,
        step: &PromotionStep,
        alias: &str,
        state: &PromotionState,
    ) -> Result<Option<Arc<MetadataView>>, String> {
        let Some(store) = &ctx.store else {
            return Ok(None);
        };
        let mut view = MetadataView::new();
        let text = serde_json::to_string(step).unwrap_or_default();
        if !text.contains("freightMetadata") && !text.contains("stageMetadata") {
            return Ok(Some(Arc::new(view)));
        }
        for _ in 0..MAX_ROUNDS {
            let probe = Arc::new(view.clone());
            // Errors here are the real evaluation's to report.
            if let Ok(scope) = self.step_scope(ctx, step, alias, state, Some(probe.clone())) {
                if !step.if_.trim().is_empty() {
                    let _ = self.evaluator.eval_template(&step.if_, &scope);
                }
                if let Some(config) = &step.config {
                    let _ = self.evaluator.eval_config(config, &scope);
                }
            }
            let misses = probe.misses();
            if misses.is_empty() {
                break;
            }
            for key in misses {
                let metadata = match &key {
                    MetadataKey::Freight(name) => store
                        .freight(name)
                        .await
                        .map_err(|e| format!("cannot read the metadata of Freight `{name}`: {e}"))?
                        .map(|f| f.status.metadata),
                    MetadataKey::Stage(name) => {
                        store.stage_metadata(name).await.map(Some).map_err(|e| {
                            format!("cannot read the metadata of Stage `{name}`: {e}")
                        })?
                    }
                };
                let value = match metadata {
                    Some(m) if !m.is_empty() => Value::Object(m.into_iter().collect()),
                    _ => Value::Null,
                };
                view.insert(key, value);
            }
        }
        Ok(Some(Arc::new(view)))
    }
}
