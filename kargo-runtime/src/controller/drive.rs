//! Running a Stage's queue: claim (or start) the next promotion, run it
//! with a checkpoint after every step, finish it, verify the Stage.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kargo_core::Workspace;
use kargo_core::engine::{Checkpoint, PromotionContext, PromotionState};
use kargo_core::model::{Freight, FreightCollection, PromotionPhase, StepStatus};
use kargo_core::state::{
    AbortRequest, Claim, DynStateStore, Lease, LeasedCheckpoint, PromotionQuery, PromotionRecord,
    StageState, StateStoreExt, StoreCheckpoint, keep_promotion_lease, rules,
};
use kargo_core::step::StepStore;
use kargo_core::time::Timestamp;

use super::Controller;
use crate::event::{Event, EventBus};
use crate::{Error, Result};

/// Which Stages a call of [`Controller::run_stage`] drives in this
/// process, and whether another call asked for a turn meanwhile.
#[derive(Debug, Default)]
pub(super) struct Drivers(Mutex<HashMap<String, Turn>>);

/// What other calls asked of a Stage's driver while it drove.
#[derive(Debug, Default)]
struct Turn {
    /// Another call asked for a turn.
    again: bool,
    /// The promotions those calls asked to try again now (see
    /// [`Controller::drive_stage`]).
    now: BTreeSet<String>,
}

impl Drivers {
    /// Takes the turn of driving `stage`; `false` (and a turn asked for,
    /// trying `now` again at once) when another call has it.
    fn enter(&self, stage: &str, now: Option<&str>) -> bool {
        let mut driving = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match driving.get_mut(stage) {
            Some(turn) => {
                turn.again = true;
                turn.now.extend(now.map(str::to_owned));
                false
            }
            None => {
                driving.insert(stage.to_owned(), Turn::default());
                true
            }
        }
    }

    /// Gives the turn back; when another call asked for one meanwhile,
    /// the promotions it asked to try again now.
    fn leave(&self, stage: &str) -> Option<BTreeSet<String>> {
        let mut driving = self.0.lock().unwrap_or_else(|e| e.into_inner());
        driving
            .remove(stage)
            .filter(|turn| turn.again)
            .map(|turn| turn.now)
    }
}

/// How a Stage's queue ended.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Drive {
    /// The promotions that finished, in order.
    pub finished: Vec<PromotionRecord>,
    /// The promotion that waits (a step is `Running`), if any.
    pub waiting: Option<PromotionRecord>,
    /// Whether a shutdown stopped it.
    pub interrupted: bool,
    /// Whether another process drives the Stage right now (it holds the
    /// Stage's [process lock](crate::ControllerBuilder::process_locks)):
    /// the promotions queued for it are left to that process, which runs
    /// them in turn.
    pub elsewhere: bool,
    /// Whether the queue was found empty (nothing running, nothing
    /// queued) before the Stage's lock was let go.
    emptied: bool,
}

impl Controller {
    /// Runs the promotions queued for `stage`, oldest first, resuming one
    /// left `Running` by an earlier process (or, with replicas, by a
    /// replica whose lease expired); verifies the Stage after each that
    /// succeeded. Stops when the queue is empty, a promotion waits, or
    /// the controller shuts down.
    ///
    /// A promotion whose step failed with a retryable error below its
    /// `retry.errorThreshold` is run again once its retry time
    /// ([`PromotionState::retry_at`], after the engine's backoff) has
    /// come; a call before then leaves it, and the queue behind it, as it
    /// is: `Running`, returned as [`Drive::waiting`].
    ///
    /// A promotion whose abort was asked for
    /// ([`abort`](Controller::abort), here or on another replica) ends
    /// `Aborted` at its next step boundary, or before its waiting step
    /// runs again, and the queue goes on with the next one.
    ///
    /// One call at a time drives a Stage in a process: a call made while
    /// another drives it returns at once, and the other takes another
    /// turn (polling a waiting promotion again too), so what was queued or
    /// asked for meanwhile is not lost. No call waits behind another's
    /// long promotion (a pass goes on to the next Stage). With
    /// [process locks](crate::ControllerBuilder::process_locks), a call
    /// made while another process drives the Stage returns at once too,
    /// leaving the promotion it runs (and what is queued) to that one.
    pub async fn run_stage(&self, stage: &str) -> Result<Drive> {
        self.drive_stage(stage, None).await
    }

    /// [`run_stage`](Controller::run_stage), trying the promotion `now`
    /// (a person's promotion, a refreshed one) again at once when it waits
    /// for its retry after an error, instead of leaving it until its
    /// retry time ([`PromotionState::retry_at`]) as a pass does.
    pub(super) async fn drive_stage(&self, stage: &str, now: Option<&str>) -> Result<Drive> {
        self.current().await?;
        if !self.inner.drivers.enter(stage, now) {
            return Ok(Drive::default());
        }
        let mut now: BTreeSet<String> = now.into_iter().map(str::to_owned).collect();
        let mut out = Drive::default();
        loop {
            let turn = self.drive_queue(stage, &now).await;
            let again = self.inner.drivers.leave(stage);
            let drive = turn?;
            out.finished.extend(drive.finished);
            out.waiting = drive.waiting;
            out.interrupted = drive.interrupted;
            out.elsewhere = drive.elsewhere;
            let asked = match again {
                Some(asked) => asked,
                // A promotion queued by another process after this one
                // found the queue empty, whose own try of the lock came
                // before this one let it go, would wait for a later pass:
                // look again now that the lock is free.
                None if drive.emptied && self.queued_meanwhile(stage).await? => BTreeSet::new(),
                None => return Ok(out),
            };
            if out.interrupted || !self.inner.drivers.enter(stage, None) {
                return Ok(out);
            }
            now = asked;
        }
    }

    /// [`run_stage`](Controller::run_stage)'s work, under its turn; with
    /// process locks, under the Stage's lock too, and nothing when another
    /// process drives the Stage (it runs what is queued).
    async fn drive_queue(&self, stage: &str, now: &BTreeSet<String>) -> Result<Drive> {
        let mut out = Drive::default();
        let Some(_lock) = self.process_lock(&format!("stage/{stage}"))? else {
            tracing::debug!(
                stage,
                "another process runs the promotions of Stage {stage}"
            );
            out.elsewhere = true;
            return Ok(out);
        };
        loop {
            if self.is_shutting_down() {
                out.interrupted = true;
                return Ok(out);
            }
            let Some((promo, resumed)) = self.next_promotion(stage).await? else {
                out.emptied = true;
                return Ok(out);
            };
            if backs_off(&promo, now) {
                // Its step failed and is retried at `retry_at`: until then it
                // stays `Running` (and the Stage's queue behind it), visible
                // and abortable, as Kargo's requeue with backoff leaves it.
                tracing::debug!(stage, promotion = %promo.name, "promotion {} retries its step at {}", promo.name, promo.state.retry_at.map(|t| t.to_string()).unwrap_or_default());
                self.release_waiting(&promo.name).await;
                out.waiting = Some(promo);
                return Ok(out);
            }
            self.inner.hooks.promotion_started(&promo.name);
            if resumed {
                tracing::info!(stage, promotion = %promo.name, "resuming promotion {}", promo.name);
            } else {
                tracing::info!(stage, promotion = %promo.name, "promotion {} started", promo.name);
            }
            self.emit(Event::PromotionStarted {
                stage: stage.to_owned(),
                promotion: promo.name.clone(),
                resumed,
            });
            let state = match self.run_promotion(&promo).await {
                Ok(state) => state,
                Err(_) if self.is_shutting_down() => {
                    tracing::info!(stage, promotion = %promo.name, "stopped at a step boundary; the next start resumes it");
                    out.interrupted = true;
                    return Ok(out);
                }
                Err(e) => return Err(e),
            };
            if state.phase == PromotionPhase::Running {
                let message = state.message.clone();
                tracing::info!(stage, promotion = %promo.name, "promotion {} waits: {}", promo.name, message.as_deref().unwrap_or("a step is running"));
                self.emit(Event::PromotionWaiting {
                    stage: stage.to_owned(),
                    promotion: promo.name.clone(),
                    message,
                });
                self.release_waiting(&promo.name).await;
                let mut waiting = promo;
                waiting.state = state;
                out.waiting = Some(waiting);
                return Ok(out);
            }
            let finished = self
                .inner
                .store
                .finish_promotion(&promo.name, self.now())
                .await?;
            if !self.inner.work.keep {
                let _ = std::fs::remove_dir_all(self.work_dir(&promo.name));
            }
            let message = finished.state.message.clone();
            tracing::info!(
                stage,
                promotion = %finished.name,
                "promotion {} of Freight {} {}{}",
                finished.name,
                short(&finished.freight),
                finished.phase,
                message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            );
            self.emit(Event::PromotionFinished {
                stage: stage.to_owned(),
                promotion: finished.name.clone(),
                freight: finished.freight.clone(),
                phase: finished.phase,
                message,
            });
            if finished.phase == PromotionPhase::Succeeded {
                self.exclusive(&format!("verify/{stage}"), self.verify_opts(stage, false))
                    .await?;
            }
            out.finished.push(finished);
        }
    }

    /// With process locks, whether a promotion of `stage` is queued now,
    /// after a turn that found its queue empty let the Stage's lock go.
    async fn queued_meanwhile(&self, stage: &str) -> Result<bool> {
        if self.inner.locks.is_none() {
            return Ok(false);
        }
        Ok(self
            .inner
            .store
            .list_promotions(&PromotionQuery::stage(stage))
            .await?
            .iter()
            .any(|p| p.phase == PromotionPhase::Pending))
    }

    /// The promotion to run next in `stage` and whether it is resumed:
    /// claimed under a lease with replicas, else the one left `Running`
    /// or the oldest queued.
    async fn next_promotion(&self, stage: &str) -> Result<Option<(PromotionRecord, bool)>> {
        let store = &self.inner.store;
        if let Some(replica) = &self.inner.replica {
            let claim = Claim::new(&replica.owner, Timestamp::now(), replica.lease).in_stage(stage);
            return Ok(store.claim_promotion(&claim).await?.map(|p| {
                let resumed = !p.state.steps.is_empty();
                (p, resumed)
            }));
        }
        if let Some(p) = store.running_promotion(stage).await? {
            return Ok(Some((p, true)));
        }
        Ok(store
            .start_promotion(stage, self.now())
            .await?
            .map(|p| (p, false)))
    }

    /// With replicas, lets the lease on the waiting promotion `name` end
    /// now: nobody runs a step of it until it is polled again, and any
    /// replica may poll it (a refresh, a webhook) without waiting for the
    /// lease to run out.
    async fn release_waiting(&self, name: &str) {
        let Some(replica) = &self.inner.replica else {
            return;
        };
        let ended = Lease::new(&replica.owner, Timestamp::now(), Duration::ZERO);
        if let Err(e) = self.inner.store.renew_promotion_lease(name, &ended).await {
            // It runs out by itself anyway.
            tracing::debug!(
                promotion = name,
                "cannot end the lease of a waiting promotion: {e}"
            );
        }
    }

    /// Runs (or resumes) `promo` in its work directory, saving its state
    /// after every step. A promotion whose abort was asked for ends
    /// `Aborted` (saved, not yet finished) at its next step boundary, or
    /// at once when it was not running a step.
    async fn run_promotion(&self, promo: &PromotionRecord) -> Result<PromotionState> {
        let dir = self.work_dir(&promo.name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let workspace = Workspace::new(&dir).map_err(|e| Error::io(&dir, e))?;
        let store = &self.inner.store;
        let stage_state = store.get_stage(&promo.stage).await?;
        let target = store
            .get_freight(&promo.freight)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "Freight",
                name: promo.freight.clone(),
                known: Vec::new(),
            })?;
        let freight = self.collection(&stage_state, Some(target)).await?;
        let ctx = PromotionContext::new(workspace)
            .with_names(
                self.project().namespace_of(&promo.stage),
                &promo.stage,
                &promo.name,
            )
            .with_vars(promo.vars.clone())
            .with_freight(freight)
            .with_store(Announcing {
                store: store.clone(),
                events: self.inner.events.clone(),
            })
            .with_credentials(self.inner.credentials.clone())
            .with_actor(&promo.actor, promo.rollback);
        let inner: Box<dyn Checkpoint + '_> = match &self.inner.replica {
            Some(r) => Box::new(LeasedCheckpoint::new(
                &**store,
                promo.name.clone(),
                r.owner.clone(),
                r.lease,
            )),
            None => Box::new(StoreCheckpoint::new(&**store, promo.name.clone())),
        };
        let checkpoint = Boundary {
            inner,
            controller: self,
            promo,
            reported: Mutex::new(step_marks(&promo.state)),
            aborted: Mutex::new(None),
        };
        let mut state = promo.state.clone();
        if let Some(request) = promo.abort.as_ref().filter(|_| !state.phase.is_terminal()) {
            // Asked while it waited, or while no replica ran it.
            return self.end_aborted(&checkpoint, state, request).await;
        }
        let done = {
            let run = self
                .inner
                .engine
                .resume(&ctx, &promo.steps, &mut state, &checkpoint);
            match &self.inner.replica {
                // The lease is renewed while a step runs; once it is lost,
                // another replica runs the promotion and this one stops.
                Some(r) => tokio::select! {
                    done = run => done,
                    lost = keep_promotion_lease(&**store, &promo.name, &r.owner, r.lease) => Err(lost),
                },
                None => run.await,
            }
        };
        let aborted = checkpoint
            .aborted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(request) = aborted {
            return self.end_aborted(&checkpoint, state, &request).await;
        }
        done?;
        Ok(state)
    }

    /// Ends `state` `Aborted` for `request` and saves it.
    async fn end_aborted(
        &self,
        checkpoint: &Boundary<'_>,
        mut state: PromotionState,
        request: &AbortRequest,
    ) -> Result<PromotionState> {
        rules::abort_state(&mut state, request);
        checkpoint.inner.save(&state).await?;
        checkpoint.report_steps(&state);
        tracing::info!(
            stage = %checkpoint.promo.stage,
            promotion = %checkpoint.promo.name,
            actor = %request.actor,
            "promotion {} aborted by {} after {} step(s)",
            checkpoint.promo.name,
            request.actor,
            state.current_step
        );
        Ok(state)
    }

    /// The Freight a promotion or verification sees: `target` first, then
    /// the Stage's current Freight of the other origins.
    pub(super) async fn collection(
        &self,
        state: &StageState,
        target: Option<Freight>,
    ) -> Result<FreightCollection> {
        let mut items: Vec<Freight> = target.into_iter().collect();
        if let Some(current) = state.current() {
            for reference in current.items.values() {
                if items.iter().any(|f| f.origin == reference.origin) {
                    continue;
                }
                if let Some(f) = self.inner.store.get_freight(&reference.name).await? {
                    items.push(f);
                }
            }
        }
        Ok(FreightCollection::new(items))
    }
}

/// Whether `promo` waits for its retry time after a retryable step error
/// (see [`PromotionState::is_retrying`]) and is not due yet: a pass leaves
/// it alone, unless it is one of `now` or its abort was asked for.
fn backs_off(promo: &PromotionRecord, now: &BTreeSet<String>) -> bool {
    promo.abort.is_none()
        && !now.contains(&promo.name)
        && promo.state.is_retrying()
        && promo.state.retry_at.is_some_and(|at| at > Timestamp::now())
}

/// What was last reported of each step: its status and attempts.
type StepMarks = Vec<(Option<StepStatus>, u32)>;

fn step_marks(state: &PromotionState) -> StepMarks {
    state.steps.iter().map(|r| (r.status, r.attempts)).collect()
}

/// The first seven characters of a Freight name or ID.
pub(crate) fn short(name: &str) -> &str {
    name.get(..7).unwrap_or(name)
}

/// Saves through the store; after each save, reports the steps that
/// settled, calls the hooks, and stops the engine at this boundary when
/// someone asked to abort the promotion (noted in `aborted`, for the
/// controller to end it `Aborted`) or the controller shuts down (the
/// promotion stays `Running`, resumable).
struct Boundary<'a> {
    inner: Box<dyn Checkpoint + 'a>,
    controller: &'a Controller,
    promo: &'a PromotionRecord,
    reported: Mutex<StepMarks>,
    aborted: Mutex<Option<AbortRequest>>,
}

#[async_trait]
impl Checkpoint for Boundary<'_> {
    async fn save(&self, state: &PromotionState) -> kargo_core::Result<()> {
        self.inner.save(state).await?;
        self.report_steps(state);
        let c = &self.controller.inner;
        let saves = c.saves.fetch_add(1, Ordering::SeqCst) + 1;
        c.hooks.checkpoint_saved(&self.promo.name, saves);
        if state.phase.is_terminal() {
            // Done: an abort asked for now comes too late.
            return Ok(());
        }
        // The request may have been made on another replica: the store
        // is where it is.
        let asked = c
            .store
            .get_promotion(&self.promo.name)
            .await?
            .and_then(|p| p.abort);
        if let Some(request) = asked {
            let message = format!("aborted by {}", request.actor);
            *self.aborted.lock().unwrap_or_else(|e| e.into_inner()) = Some(request);
            return Err(kargo_core::Error::Precondition(message));
        }
        if self.controller.is_shutting_down() {
            return Err(kargo_core::Error::Precondition(
                "interrupted at a step boundary".into(),
            ));
        }
        Ok(())
    }
}

/// What steps see of the store: the store itself, with an [`Event`] for
/// each change a step makes (metadata, aliases).
#[derive(Debug)]
struct Announcing {
    store: Arc<DynStateStore>,
    events: EventBus,
}

#[async_trait]
impl StepStore for Announcing {
    async fn freight(&self, name: &str) -> kargo_core::Result<Option<Freight>> {
        self.store.get_freight(name).await
    }

    async fn stage_metadata(
        &self,
        stage: &str,
    ) -> kargo_core::Result<BTreeMap<String, serde_json::Value>> {
        StepStore::stage_metadata(&*self.store, stage).await
    }

    async fn set_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, serde_json::Value>,
    ) -> kargo_core::Result<()> {
        StepStore::set_stage_metadata(&*self.store, stage, values).await?;
        self.events.emit(Event::StageMetadataChanged {
            stage: stage.to_owned(),
            keys: values.keys().cloned().collect(),
        });
        Ok(())
    }

    async fn set_freight_metadata(
        &self,
        freight: &str,
        values: &BTreeMap<String, serde_json::Value>,
    ) -> kargo_core::Result<()> {
        StepStore::set_freight_metadata(&*self.store, freight, values).await?;
        self.events.emit(Event::FreightMetadataChanged {
            freight: freight.to_owned(),
            keys: values.keys().cloned().collect(),
        });
        Ok(())
    }

    async fn alias_freight(&self, name: &str, alias: &str) -> kargo_core::Result<Freight> {
        let freight = StepStore::alias_freight(&*self.store, name, alias).await?;
        self.events.emit(Event::FreightAliasChanged {
            freight: freight.metadata.name.clone(),
            alias: freight.alias.clone(),
        });
        Ok(freight)
    }
}

impl Boundary<'_> {
    fn report_steps(&self, state: &PromotionState) {
        let marks = step_marks(state);
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        for (i, record) in state.steps.iter().enumerate() {
            let Some(status) = record.status else {
                continue;
            };
            if reported.get(i) == marks.get(i) {
                continue;
            }
            let duration = match (record.started_at, record.finished_at) {
                (Some(start), Some(end)) => Some(end.since(start)),
                _ => None,
            };
            tracing::info!(
                stage = %self.promo.stage,
                promotion = %self.promo.name,
                step = %record.alias,
                "step {} ({}) {status}{}{}",
                record.alias,
                record.uses,
                duration.map(|d| format!(" in {} ms", d.as_millis())).unwrap_or_default(),
                record.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            );
            self.controller.emit(Event::StepFinished {
                stage: self.promo.stage.clone(),
                promotion: self.promo.name.clone(),
                alias: record.alias.clone(),
                uses: record.uses.clone(),
                status,
                message: record.message.clone(),
                duration,
            });
        }
        *reported = marks;
    }
}
