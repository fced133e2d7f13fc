//! Verifying a Stage's current Freight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kargo_core::Workspace;
use kargo_core::engine::PromotionContext;
use kargo_core::pipeline::run_verification;
use kargo_core::state::{StageState, VerificationRecord};

use tokio_util::sync::CancellationToken;

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

    /// Stops the verification of `stage` running in this process, as
    /// Kargo's AbortVerification does: its checks are cancelled and it is
    /// recorded `Aborted`. Returns whether one was running here (a
    /// verification another replica runs goes on).
    pub fn abort_verification(&self, stage: &str) -> bool {
        let running = self.inner.verifying.lock();
        match running.get(stage) {
            Some(cancel) => {
                tracing::info!(stage, "aborting the verification");
                cancel.cancel();
                true
            }
            None => false,
        }
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
                let running = self
                    .inner
                    .verifying
                    .start(stage, self.inner.stop.child_token());
                let ctx = PromotionContext::new(workspace)
                    .with_names(project.namespace_of(stage), stage, &id)
                    .with_vars(verification.args.clone())
                    .with_freight(freight)
                    .with_credentials(self.inner.credentials.clone())
                    .with_cancel(CancellationToken::clone(&running.cancel));
                tracing::info!(stage, "verifying");
                let clock = self.inner.clock.clone();
                let state =
                    run_verification(&**store, &verification.verifier, &ctx, &id, move || {
                        clock.now()
                    })
                    .await;
                drop(running);
                current_verification(&state?)
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

/// The cancellation tokens of the verifications running in this process,
/// by Stage.
#[derive(Debug, Default)]
pub(super) struct Running(Arc<Mutex<HashMap<String, Arc<CancellationToken>>>>);

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CancellationToken>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the verification of `stage` until the returned guard is
    /// dropped.
    fn start(&self, stage: &str, cancel: CancellationToken) -> RunningGuard {
        let cancel = Arc::new(cancel);
        self.lock().insert(stage.to_owned(), cancel.clone());
        RunningGuard {
            running: self.0.clone(),
            stage: stage.to_owned(),
            cancel,
        }
    }
}

/// A running verification's registration; dropping it unregisters it.
struct RunningGuard {
    running: Arc<Mutex<HashMap<String, Arc<CancellationToken>>>>,
    stage: String,
    cancel: Arc<CancellationToken>,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // A later verification of the Stage may have registered itself.
        if running
            .get(&self.stage)
            .is_some_and(|c| Arc::ptr_eq(c, &self.cancel))
        {
            running.remove(&self.stage);
        }
    }
}
