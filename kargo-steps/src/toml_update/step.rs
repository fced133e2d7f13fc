use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, TomlUpdate};
use crate::edit;

#[async_trait]
impl Step for TomlUpdate {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        edit::run_update(
            ctx,
            KIND,
            config.path,
            config.updates,
            edit::toml::update,
            edit::quoted_commit_value,
        )
        .await
    }
}
