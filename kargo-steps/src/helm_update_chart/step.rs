use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, HelmUpdateChart, KIND, commit_message, edit};
use crate::edit::{blocking, read_text};

#[async_trait]
impl Step for HelmUpdateChart {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let charts = match config.charts {
            Some(charts) if !charts.is_empty() => charts,
            Some(_) => {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: `charts` needs at least one entry"
                )));
            }
            None => {
                return Err(StepError::terminal(format!(
                    "{KIND}: `charts` is required: updating dependencies to the newest \
                     versions their ranges in Chart.yaml allow needs Helm and the chart \
                     repositories, which kargo-rs does not use; name each chart and version"
                )));
            }
        };
        let dir = ctx.workspace.resolve(&config.path)?;
        let shown = format!("{}/Chart.yaml", config.path.trim_end_matches('/'));
        let file = dir.join("Chart.yaml");
        let lock = dir.join("Chart.lock");
        let path = config.path.clone();
        let workspace = ctx.workspace.clone();
        let changes = blocking(move || {
            let src = read_text(&workspace, &file, &shown)?;
            let edited = edit(&src, &charts).map_err(|e| {
                StepError::terminal(format!("{KIND}: cannot update `{shown}`: {e}"))
            })?;
            if edited.text != src {
                crate::fs::write_atomic(&file, edited.text.as_bytes(), None).map_err(|e| {
                    StepError::terminal(format!("{KIND}: cannot write `{shown}`: {e}"))
                })?;
                if lock.exists() {
                    tracing::warn!(
                        chart = %path,
                        "helm-update-chart: Chart.lock was left as it was; it no longer \
                         matches Chart.yaml until `helm dependency update` runs"
                    );
                }
            }
            Ok(edited.changes)
        })
        .await?;
        let outcome = StepOutcome::succeeded();
        Ok(match commit_message(&config.path, &changes) {
            Some(message) => outcome.with_output("commitMessage", message),
            None => outcome,
        })
    }
}
