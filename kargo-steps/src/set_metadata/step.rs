use std::collections::BTreeMap;

use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use serde_json::Value;

use super::{Config, KIND, MetadataKind, RULES, TOUCHES};
use crate::schema;

/// The `set-metadata` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetMetadata;

impl Config {
    fn validate(&self) -> Result<(), StepError> {
        let invalid = |m: String| StepError::failed(format!("invalid {KIND} config: {m}"));
        if self.updates.is_empty() {
            return Err(invalid("`updates` needs at least one entry".into()));
        }
        for (i, u) in self.updates.iter().enumerate() {
            if u.name.is_empty() {
                return Err(invalid(format!("`updates[{i}].name` is empty")));
            }
            if u.values.is_empty() {
                return Err(invalid(format!(
                    "`updates[{i}].values` needs at least one key"
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Step for SetMetadata {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        config.validate()?;
        let store = ctx.store(KIND)?;
        for update in config.updates {
            let values: BTreeMap<String, Value> = update.values.into_iter().collect();
            let result = match update.kind {
                MetadataKind::Stage => store.set_stage_metadata(&update.name, &values).await,
                MetadataKind::Freight => store.set_freight_metadata(&update.name, &values).await,
            };
            result.with_step_context(|| {
                format!(
                    "{KIND}: cannot set metadata of {:?} `{}`",
                    update.kind, update.name
                )
            })?;
        }
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
