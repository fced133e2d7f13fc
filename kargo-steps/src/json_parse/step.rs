use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, JsonParse, KIND};
use crate::edit;

#[async_trait]
impl Step for JsonParse {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        edit::run_parse(
            ctx,
            KIND,
            config.path,
            config.outputs,
            edit::json::read_document,
        )
        .await
    }
}
