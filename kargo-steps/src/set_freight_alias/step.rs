use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::schema;

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
        let context = format!("{KIND}: cannot set the alias of Freight `{}`", config.name);
        let before = store
            .freight(&config.name)
            .await
            .step_context(&context)?
            .ok_or_else(|| {
                StepError::terminal(format!("{context}: Freight `{}` not found", config.name))
            })?;
        let after = store
            .alias_freight(&before.metadata.name, &config.alias)
            .await
            .step_context(context)?;
        Ok(StepOutcome::succeeded().with_message(format!(
            "updated alias of Freight {:?} from {:?} to {:?}",
            after.metadata.name, before.alias, after.alias
        )))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
