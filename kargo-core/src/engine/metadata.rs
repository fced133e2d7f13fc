//! Loading the Freight and Stage metadata a step's expressions read
//! (`freightMetadata(name)`, `stageMetadata(name)`), and the Secrets
//! (`secret(name)`, from the promotion's credentials provider).
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
use crate::expr::{MetadataKey, MetadataView, SECRET_FN};
use crate::model::PromotionStep;

/// How many rounds of loading a step gets.
const MAX_ROUNDS: usize = 4;

impl Engine {
    /// The metadata and Secrets a step's expressions read; `None` without
    /// a store (unless the step reads Secrets only).
    pub(super) async fn load_metadata(
        &self,
        ctx: &PromotionContext,
        step: &PromotionStep,
        alias: &str,
        state: &PromotionState,
    ) -> Result<Option<Arc<MetadataView>>, String> {
        let text = serde_json::to_string(step).unwrap_or_default();
        let reads_metadata = text.contains("freightMetadata") || text.contains("stageMetadata");
        let reads_secrets = text.contains(SECRET_FN);
        let store = match &ctx.store {
            Some(store) => Some(store),
            // The metadata functions say there is no store.
            None if reads_metadata || !reads_secrets => return Ok(None),
            None => None,
        };
        let mut view = MetadataView::new();
        if !reads_metadata && !reads_secrets {
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
                let value = match (&key, store) {
                    (MetadataKey::Secret(name), _) => ctx
                        .credentials
                        .project_secret(&ctx.project, name)
                        .await
                        .map_err(|e| format!("cannot read Secret `{name}`: {e}"))?
                        .map_or(Value::Null, |secret| {
                            Value::Object(
                                secret
                                    .fields()
                                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                                    .collect(),
                            )
                        }),
                    (MetadataKey::Freight(name), Some(store)) => store
                        .freight(name)
                        .await
                        .map_err(|e| format!("cannot read the metadata of Freight `{name}`: {e}"))?
                        .map(|f| f.status.metadata)
                        .map_or(Value::Null, metadata_value),
                    (MetadataKey::Stage(name), Some(store)) => store
                        .stage_metadata(name)
                        .await
                        .map(metadata_value)
                        .map_err(|e| format!("cannot read the metadata of Stage `{name}`: {e}"))?,
                    // Without a store (reads_metadata is false here).
                    (_, None) => Value::Null,
                };
                view.insert(key, value);
            }
        }
        Ok(Some(Arc::new(view)))
    }
}

/// Metadata as the functions return it: an object, or `null` when empty.
fn metadata_value(metadata: std::collections::BTreeMap<String, Value>) -> Value {
    if metadata.is_empty() {
        Value::Null
    } else {
        Value::Object(metadata.into_iter().collect())
    }
}
