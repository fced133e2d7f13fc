use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, TomlUpdate};
use crate::edit::{self, go_format, go_quote};

/// Commit-message rendering of a value: strings quoted, the rest as Go's `%v`.
fn commit_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        other => go_format(other),
    }
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
