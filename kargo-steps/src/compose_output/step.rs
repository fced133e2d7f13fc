use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome};
use serde_json::Value;

use super::{KIND, TOUCHES};

/// The `compose-output` step. Its config is any non-empty object; each key
/// becomes an output.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComposeOutput;

#[async_trait]
impl Step for ComposeOutput {
    async fn run(&self, _ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        match config {
            Value::Object(map) if !map.is_empty() => Ok(StepOutcome::succeeded().with_outputs(map)),
            Value::Object(_) => Err(StepError::failed(format!(
                "invalid {KIND} config: at least one output must be given"
            ))),
            other => Err(StepError::failed(format!(
                "invalid {KIND} config: expected an object of outputs, got {other}"
            ))),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_task_output_propagation()
            .with_touches(TOUCHES)
    }
}
