//! `fail`: ends the step (and, unless `continueOnError`, the promotion) as
//! `Failed`, typically under an `if`.

use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The step kind.
pub const KIND: &str = "fail";

/// The `fail` step's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Why the promotion fails.
    #[serde(default)]
    pub message: Option<String>,
}

/// The `fail` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fail;

#[async_trait]
impl Step for Fail {
    async fn run(&self, _ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        Ok(match config.message.filter(|m| !m.is_empty()) {
            Some(message) => StepOutcome::failed(format!("failed: {message}")),
            None => StepOutcome::failed("failed"),
        })
    }
}
