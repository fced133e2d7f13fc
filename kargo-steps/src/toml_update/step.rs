use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, TomlUpdate};
use crate::edit;

/// Kargo's commit-message rendering: the value as written into the file,
/// or Go's `%v` for one that cannot be (the step then fails anyway).
fn commit_value(value: &Value) -> String {
    edit::toml::value_text("", value).unwrap_or_else(|_| edit::go_format(value))
}

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
            commit_value,
        )
        .await
    }
}
