//! Verifying a Stage's current Freight.

use kargo_core::Workspace;
use kargo_core::engine::PromotionContext;
use kargo_core::pipeline::run_verification;
use kargo_core::state::{StageState, VerificationRecord};

use super::Controller;
use crate::event::Event;
use crate::{Error, Result};

impl Controller {
    /// Verifies the current Freight of `stage` unless it was verified
    /// already: with the Stage's AnalysisTemplates, or (without
    /// `spec.verification`) at once, as Kargo does. Returns the new
    /// verification, `None` when nothing was verified.
    pub async fn verify(&self, stage: &str) -> Result<Option<VerificationRecord>> {
        self.verify_opts(stage, false).await
    }

    /// Verifies the current Freight of `stage` again, also when it was
    /// verified before (Kargo's reverify). [`Error::Refused`] when the
    /// Stage holds no Freight.
    pub async fn reverify(&self, stage: &str) -> Result<VerificationRecord> {
        self.current().await?.stage(stage)?;
        self.verify_opts(stage, true)
            .await?
            .ok_or_else(|| Error::Refused(format!("Stage `{stage}` holds no Freight")))
    }

    pub(super) async fn verify_opts(
        &self,
        stage: &str,
        again: bool,
    ) -> Result<Option<VerificationRecord>> {
        let store = &self.inner.store;
        let state = store.get_stage(stage).await?;
        let Some(current) = state.current() else {
            return Ok(None);
        };
        if current.current_verification().is_some() && !again {
            return Ok(None);
        }
        let id = format!("{stage}.{:x}", self.now().unix_millis());
        let project = self.current().await?;
        let record = match project.verification(stage) {
            None => {
                let state = store
                    .record_verification(stage, VerificationRecord::succeeded(id, self.now()))
                    .await?;
                current_verification(&state)
            }
            Some(verification) => {
                let dir = tempfile::Builder::new()
                    .prefix("kargo-verify-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                let workspace = Workspace::new(dir.path()).map_err(|e| Error::io(dir.path(), e))?;
                let freight = self.collection(&state, None).await?;
                let ctx = PromotionContext::new(workspace)
                    .with_names(project.namespace_of(stage), stage, &id)
                    .with_vars(verification.args.clone())
                    .with_freight(freight)
                    .with_credentials(self.inner.credentials.clone());
                tracing::info!(stage, "verifying");
                let clock = self.inner.clock.clone();
                let state =
                    run_verification(&**store, &verification.verifier, &ctx, &id, move || {
                        clock.now()
                    })
                    .await?;
                current_verification(&state)
            }
        };
        if let Some(v) = &record {
            tracing::info!(
                stage,
                "verification {:?}{}",
                v.phase,
                v.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            self.emit(Event::VerificationFinished {
                stage: stage.to_owned(),
                id: v.id.clone(),
                phase: v.phase,
                message: v.message.clone(),
            });
        }
        Ok(record)
    }
}

/// The newest verification of the Stage's current Freight.
fn current_verification(state: &StageState) -> Option<VerificationRecord> {
    state
        .current()
        .and_then(|c| c.current_verification())
        .cloned()
}
