//! `set-freight-alias`: gives a piece of Freight a new alias, through the
//! promotion's [state store](kargo_core::step::StepContext::store).
//!
//! `name` is the Freight's name (or its current alias). The alias must be
//! valid (see [`alias::validate`](kargo_core::pipeline::alias::validate))
//! and unused by other Freight; setting the alias the Freight already has
//! succeeds. The step's message says what changed, as Kargo's does.
//!
//! Output: none.

use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The step kind.
pub const KIND: &str = "set-freight-alias";

/// The `set-freight-alias` config (Kargo's `SetFreightAliasConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Freight's name.
    pub name: String,
    /// Its new alias.
    pub alias: String,
}

/// The `set-freight-alias` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetFreightAlias;

#[async_trait]
impl Step for SetFreightAlias {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        for (field, value) in [("name", &config.name), ("alias", &config.alias)] {
            if value.is_empty() {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: `{field}` is empty"
                )));
            }
        }
        let store = ctx.store(KIND)?;
        let context = format!("cannot set the alias of Freight `{}`", config.name);
        let before = store
            .freight(&config.name)
            .await
            .map_err(|e| crate::store_error(KIND, &context, e))?
            .ok_or_else(|| {
                StepError::terminal(format!(
                    "{KIND}: {context}: Freight `{}` not found",
                    config.name
                ))
            })?;
        let after = store
            .alias_freight(&before.metadata.name, &config.alias)
            .await
            .map_err(|e| crate::store_error(KIND, &context, e))?;
        Ok(StepOutcome::succeeded().with_message(format!(
            "updated alias of Freight {:?} from {:?} to {:?}",
            after.metadata.name, before.alias, after.alias
        )))
    }
}
