use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::schema;

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

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
