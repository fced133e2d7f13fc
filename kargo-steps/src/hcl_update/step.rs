use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, HclUpdate, KIND};
use crate::edit;

#[async_trait]
impl Step for HclUpdate {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        edit::run_update(
            ctx,
            KIND,
            config.path,
            config.updates,
            edit::hcl::update,
            edit::quoted_commit_value,
        )
        .await
    }
}
