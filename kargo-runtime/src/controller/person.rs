//! A person's operations: promote, approve, abort; and queueing, which
//! auto-promotion shares.

use kargo_core::model::{Freight, FreightOrigin, PromotionPhase, Stage};
use kargo_core::pipeline::{
    HoldIntent, auto_promotion_candidates, availability, discovered_at, hold_intent,
};
use kargo_core::state::{
    AbortRequest, FreightQuery, NewPromotion, PromotionQuery, PromotionRecord, StateStoreExt,
    VerificationRecord,
};

use super::Controller;
use super::drive::short;
use crate::event::Event;
use crate::{Error, Result};

/// Which Freight to promote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FreightChoice {
    /// The Freight with this name, ID or alias.
    Named(String),
    /// The newest Freight from this Warehouse available to the Stage.
    Origin(String),
    /// The newest available Freight of the Stage's only origin.
    #[default]
    Newest,
}

/// A person's request to promote Freight into a Stage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromoteRequest {
    /// The Stage.
    pub stage: String,
    /// The Freight.
    pub freight: FreightChoice,
    /// Who asks (recorded as the promotion's actor).
    pub actor: String,
}

impl PromoteRequest {
    /// Promote `freight` into `stage` for `actor`.
    pub fn new(stage: impl Into<String>, freight: FreightChoice, actor: impl Into<String>) -> Self {
        PromoteRequest {
            stage: stage.into(),
            freight,
            actor: actor.into(),
        }
    }
}

/// A promotion as far as [`Controller::promote_and_run`] took it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Promoted {
    /// The promotion as stored afterwards (`Running` when it waits).
    pub promotion: PromotionRecord,
    /// The Stage's verification after it succeeded.
    pub verification: Option<VerificationRecord>,
    /// Whether a shutdown stopped it at a step boundary.
    pub interrupted: bool,
    /// Whether another process (a `kargo pipeline` loop on the same
    /// SQLite file) drives the Stage right now, so the promotion is left
    /// to it: queued there (`Pending`, run after those before it) or
    /// running there.
    pub elsewhere: bool,
}

impl Controller {
    /// Queues a person's promotion, after Kargo's checks: the Stage
    /// exists and has steps, the Freight exists and is available to it
    /// (approved for it, or verified and soaked upstream), and the
    /// promotion carries the hold intent of a manual promotion (held when
    /// the person chose other Freight than the auto-promotion candidate,
    /// released when they chose the candidate).
    ///
    /// Asking again while a promotion of the same Freight into the Stage
    /// is queued or running returns that one instead of a duplicate, so a
    /// person's retry resumes their promotion.
    pub async fn promote(&self, request: &PromoteRequest) -> Result<PromotionRecord> {
        let project = self.current().await?;
        let stage = project.stage(&request.stage)?;
        let freight = self.pick_freight(stage, &request.freight).await?;
        let name = &freight.metadata.name;
        let store = &self.inner.store;
        let active = store
            .list_promotions(&PromotionQuery::stage(&request.stage).with_freight(name.clone()))
            .await?
            .into_iter()
            .find(|p| !p.phase.is_terminal());
        if let Some(active) = active {
            tracing::info!(stage = %request.stage, "promotion {} of Freight {} is already {}", active.name, freight.alias, active.phase);
            return Ok(active);
        }
        if availability(stage, &freight, self.now()).is_none() {
            return Err(Error::Refused(format!(
                "Freight {} ({}) is not available to Stage `{}`: it is neither approved for it nor verified (and soaked) in {}",
                freight.alias,
                short(name),
                request.stage,
                upstream_of(stage, &freight.origin)
            )));
        }
        let all = store.list_freight(&FreightQuery::all()).await?;
        let candidates = auto_promotion_candidates(stage, &all, self.now());
        let candidate = candidates
            .get(&freight.origin)
            .map(|f| f.metadata.name.as_str());
        let hold = hold_intent(
            project.auto_promotion_enabled(&request.stage),
            candidate,
            name,
        );
        self.queue(&request.stage, name, &request.actor, hold).await
    }

    /// [`promote`](Controller::promote), then runs the Stage's queue up to
    /// and including that promotion (or until it waits) and verifies the
    /// Stage after it succeeded: what a person at a terminal wants.
    ///
    /// With [process locks](crate::ControllerBuilder::process_locks), when
    /// no other process drives the Stage this one runs the promotion at
    /// once, whatever loop shares the store. When another does (a `kargo
    /// pipeline` in the middle of the Stage's queue), the promotion is
    /// left to it and this returns at once, [`Promoted::elsewhere`] set:
    /// that process runs it in turn, without waiting for its next pass
    /// (one whose queue ran empty looks again once it let the Stage go).
    pub async fn promote_and_run(&self, request: &PromoteRequest) -> Result<Promoted> {
        let queued = self.promote(request).await?;
        // A person asking again for a promotion that retries a failed step
        // wants it tried now, as `kargo run` run again does.
        let drive = self.drive_stage(&request.stage, Some(&queued.name)).await?;
        let store = &self.inner.store;
        let promotion = match drive.waiting {
            Some(w) if w.name == queued.name => w,
            _ => store.get_promotion(&queued.name).await?.unwrap_or(queued),
        };
        let verification = if promotion.phase == PromotionPhase::Succeeded {
            store
                .get_stage(&request.stage)
                .await?
                .freight_history
                .iter()
                .find(|c| c.promotion == promotion.name)
                .and_then(|c| c.current_verification().cloned())
        } else {
            None
        };
        Ok(Promoted {
            promotion,
            verification,
            interrupted: drive.interrupted,
            elsewhere: drive.elsewhere,
        })
    }

    /// Queues a promotion of `freight` into `stage` with the Stage's
    /// steps, without the checks of [`promote`](Controller::promote).
    pub async fn queue(
        &self,
        stage: &str,
        freight: &str,
        actor: &str,
        hold: Option<HoldIntent>,
    ) -> Result<PromotionRecord> {
        let project = self.current().await?;
        let template = project.template(stage).cloned().ok_or_else(|| {
            Error::Refused(format!(
                "Stage `{stage}` has no promotion steps (it only passes Freight on)"
            ))
        })?;
        let rollback = self.is_rollback(stage, freight).await?;
        let queued = self
            .inner
            .store
            .create_promotion(
                NewPromotion::new(stage, freight)
                    .with_actor(actor)
                    .with_hold(hold)
                    .with_steps(template.steps, template.vars)
                    .with_created_at(self.now())
                    .with_rollback(rollback),
            )
            .await?;
        tracing::info!(stage, promotion = %queued.name, actor, "promotion {} of Freight {} queued", queued.name, short(freight));
        self.emit(Event::PromotionQueued {
            stage: stage.to_owned(),
            promotion: queued.name.clone(),
            freight: queued.freight.clone(),
            actor: actor.to_owned(),
        });
        if let Some(hold) = hold {
            self.emit(Event::HoldChanged {
                stage: stage.to_owned(),
                promotion: queued.name.clone(),
                held: hold == HoldIntent::Hold,
            });
        }
        Ok(queued)
    }

    /// Whether promoting `freight` (name or alias) into `stage` is a
    /// rollback: the Stage holds Freight of the same origin now, and
    /// `freight` is older than it in Kargo's order of Freight (discovery
    /// time, then name), so the promotion moves the Stage back. Steps read
    /// it as `ctx.meta.promotion.rollback`.
    async fn is_rollback(&self, stage: &str, freight: &str) -> Result<bool> {
        let store = &self.inner.store;
        let Some(target) = store.get_freight(freight).await? else {
            // Creating the promotion names the missing Freight.
            return Ok(false);
        };
        let state = store.get_stage(stage).await?;
        let Some(current) = state.current_freight(&target.origin) else {
            return Ok(false);
        };
        if current == target.metadata.name {
            return Ok(false);
        }
        let Some(current) = store.get_freight(current).await? else {
            return Ok(false);
        };
        let order = |f: &Freight| (discovered_at(f), f.metadata.name.clone());
        Ok(order(&target) < order(&current))
    }

    /// Approves Freight (name, ID or alias) for a Stage: it becomes
    /// available there whatever the upstream Stages say.
    pub async fn approve(&self, freight: &str, stage: &str, actor: &str) -> Result<Freight> {
        let project = self.current().await?;
        let target = project.stage(stage)?;
        let found = self.freight(freight).await?;
        if target.requested_freight_from(&found.origin).is_none() {
            return Err(Error::Refused(format!(
                "Stage `{stage}` requests no Freight from {}",
                found.origin
            )));
        }
        let approved = self
            .inner
            .store
            .approve_freight(&found.metadata.name, stage, self.now())
            .await?;
        tracing::info!(stage, actor, "Freight {} approved", approved.alias);
        self.emit(Event::FreightApproved {
            freight: approved.metadata.name.clone(),
            stage: stage.to_owned(),
            actor: actor.to_owned(),
        });
        Ok(approved)
    }

    /// Aborts the promotion `promotion` for `actor` (Kargo's
    /// AbortPromotion). A queued one ends `Aborted` at once and never
    /// runs. A running one is asked to stop, through the store, so that
    /// the replica running it (this process or another sharing the store)
    /// ends it `Aborted` at its next step boundary, after the step it runs
    /// now, or before its waiting step is tried again; its files stay as
    /// the last step left them and nothing runs after. Returns the
    /// promotion as stored: `Aborted`, or `Running` with
    /// [`abort`](PromotionRecord::abort) set. Asking again changes
    /// nothing; a promotion that finished otherwise is
    /// [`Error::Refused`].
    pub async fn abort(&self, promotion: &str, actor: &str) -> Result<PromotionRecord> {
        let request = AbortRequest::new(actor, self.now());
        let record = self
            .inner
            .store
            .abort_promotion(promotion, &request)
            .await?;
        if record.abort.as_ref() != Some(&request) {
            // Aborted or asked to abort before: nothing new happened.
            return Ok(record);
        }
        if record.phase == PromotionPhase::Aborted {
            tracing::info!(stage = %record.stage, actor, "promotion {} aborted", record.name);
            self.emit(Event::PromotionFinished {
                stage: record.stage.clone(),
                promotion: record.name.clone(),
                freight: record.freight.clone(),
                phase: record.phase,
                message: record.state.message.clone(),
            });
        } else {
            tracing::info!(stage = %record.stage, actor, "promotion {} is asked to abort at its next step boundary", record.name);
            self.emit(Event::PromotionAbortRequested {
                stage: record.stage.clone(),
                promotion: record.name.clone(),
                actor: actor.to_owned(),
            });
        }
        Ok(record)
    }

    /// Gives Freight (name, ID or alias) the alias `alias` (Kargo's
    /// UpdateFreightAlias); an alias other Freight has is
    /// [`Error::Conflict`], an invalid one [`Error::Invalid`].
    pub async fn set_freight_alias(
        &self,
        freight: &str,
        alias: &str,
        actor: &str,
    ) -> Result<Freight> {
        let found = self.freight(freight).await?;
        let renamed = self
            .inner
            .store
            .set_freight_alias(&found.metadata.name, alias)
            .await?;
        tracing::info!(
            actor,
            "Freight {} is now {}",
            short(&renamed.metadata.name),
            renamed.alias
        );
        self.emit(Event::FreightAliasChanged {
            freight: renamed.metadata.name.clone(),
            alias: renamed.alias.clone(),
        });
        Ok(renamed)
    }

    /// The Freight named, identified or aliased `name`.
    pub async fn freight(&self, name: &str) -> Result<Freight> {
        self.inner
            .store
            .get_freight(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "Freight",
                name: name.to_owned(),
                known: Vec::new(),
            })
    }

    /// The Freight a [`FreightChoice`] names for `stage`.
    async fn pick_freight(&self, stage: &Stage, choice: &FreightChoice) -> Result<Freight> {
        let name = &stage.metadata.name;
        let origins: Vec<FreightOrigin> = stage
            .spec
            .requested_freight
            .iter()
            .map(|r| r.origin.clone())
            .collect();
        let origin = match choice {
            FreightChoice::Named(freight) => return self.freight(freight).await,
            FreightChoice::Origin(w) => {
                let origin = FreightOrigin::warehouse(w);
                if !origins.contains(&origin) {
                    return Err(Error::Refused(format!(
                        "Stage `{name}` requests no Freight from Warehouse `{w}`"
                    )));
                }
                origin
            }
            FreightChoice::Newest => match origins.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(Error::Invalid(format!(
                        "Stage `{name}` requests Freight from several Warehouses: name one with --origin or --freight"
                    )));
                }
            },
        };
        let all = self
            .inner
            .store
            .list_freight(&FreightQuery::warehouse(&origin.name))
            .await?;
        auto_promotion_candidates(stage, &all, self.now())
            .remove(&origin)
            .cloned()
            .ok_or_else(|| {
                Error::Refused(format!(
                    "no Freight from Warehouse `{}` is available to Stage `{name}`",
                    origin.name
                ))
            })
    }
}

/// `upstream Stage(s) a, b` or `an upstream Stage`, for messages.
fn upstream_of(stage: &Stage, origin: &FreightOrigin) -> String {
    match stage.requested_freight_from(origin) {
        Some(r) if !r.sources.stages.is_empty() => {
            format!("upstream Stage(s) {}", r.sources.stages.join(", "))
        }
        _ => "an upstream Stage".into(),
    }
}
