//! The pipeline: scheduling passes, whole passes, and the loop that runs
//! them until shutdown.

use std::collections::HashMap;
use std::time::Duration;

use kargo_core::pipeline::{StageView, plan};
use kargo_core::state::{FreightQuery, PromotionQuery, PromotionRecord, StageState, StateStoreExt};
use kargo_core::time::Timestamp;

use super::Controller;
use super::discover::{Discovery, Refresh};
use super::drive::short;
use crate::Result;
use crate::event::Event;

/// The actor of auto-promotions (Kargo's controller names itself so).
pub const AUTO_ACTOR: &str = "controller:auto-promotion";

/// How [`Controller::run`] and [`Controller::pass`] behave.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// The longest wait between passes (default 30 s); a change in the
    /// store, a Warehouse falling due or a waiting promotion's retry wake
    /// the loop sooner.
    pub interval: Duration,
    /// How often a Warehouse without `spec.interval` is discovered
    /// (default: Kargo's 5 minutes).
    pub discovery_interval: Duration,
    /// Which Warehouses a pass discovers (default: those due).
    pub refresh: Refresh,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            interval: Duration::from_secs(30),
            discovery_interval: kargo_core::model::DEFAULT_INTERVAL,
            refresh: Refresh::Due,
        }
    }
}

impl RunOptions {
    /// Sets the longest wait between passes.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the discovery interval of Warehouses without `spec.interval`.
    pub fn with_discovery_interval(mut self, interval: Duration) -> Self {
        self.discovery_interval = interval;
        self
    }

    /// Sets which Warehouses a pass discovers.
    pub fn with_refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }
}

/// What one pass did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Pass {
    /// The discovery at its start.
    pub discovery: Discovery,
    /// The promotions that finished during it.
    pub finished: Vec<PromotionRecord>,
    /// The promotions left waiting.
    pub waiting: Vec<PromotionRecord>,
}

impl Controller {
    /// One scheduling pass over the stored state: control-flow Stages pass
    /// available Freight on, auto-promotions are queued. Returns whether
    /// anything was decided.
    pub async fn schedule(&self) -> Result<bool> {
        let project = self.current().await?;
        let store = &self.inner.store;
        let freight = store.list_freight(&FreightQuery::all()).await?;
        let mut states: HashMap<String, (StageState, Vec<PromotionRecord>)> = HashMap::new();
        for stage in project.graph().stages() {
            let name = &stage.metadata.name;
            let state = store.get_stage(name).await?;
            let promotions = store.list_promotions(&PromotionQuery::stage(name)).await?;
            states.insert(name.clone(), (state, promotions));
        }
        let views: HashMap<String, StageView<'_>> = states
            .iter()
            .map(|(name, (state, promotions))| {
                (
                    name.clone(),
                    StageView {
                        state,
                        promotions,
                        auto_promotion_enabled: project.auto_promotion_enabled(name),
                    },
                )
            })
            .collect();
        let decided = plan(project.graph(), &freight, &views, self.now());
        for v in &decided.verifications {
            store
                .mark_verified(&v.freight, &v.stage, self.now())
                .await?;
            tracing::info!(stage = %v.stage, "passes Freight {} on", short(&v.freight));
            self.emit(Event::FreightPassedOn {
                stage: v.stage.clone(),
                freight: v.freight.clone(),
            });
        }
        for p in &decided.promotions {
            self.queue(&p.stage, &p.freight, AUTO_ACTOR, None).await?;
        }
        Ok(!decided.verifications.is_empty() || !decided.promotions.is_empty())
    }

    /// One pass: discover, then run the pipeline to a standstill (resume
    /// what an earlier process left, verify unverified Stages, pass
    /// Freight through control-flow Stages, queue and run
    /// auto-promotions), Freight moving as far as it may right now.
    pub async fn pass(&self, options: &RunOptions) -> Result<Pass> {
        let mut out = Pass {
            discovery: self
                .discover(options.refresh, options.discovery_interval)
                .await?,
            ..Pass::default()
        };
        let project = self.current().await?;
        // Every round moves Freight at least one Stage on, so the graph's
        // length bounds the rounds.
        for _ in 0..=project.graph().len() {
            let mut moved = false;
            out.waiting.clear();
            for stage in project.graph().stages() {
                let name = &stage.metadata.name;
                if stage.is_control_flow() {
                    continue;
                }
                let drive = self.run_stage(name).await?;
                moved |= !drive.finished.is_empty();
                out.finished.extend(drive.finished);
                out.waiting.extend(drive.waiting);
                if self.is_shutting_down() {
                    return Ok(out);
                }
                moved |= self
                    .exclusive(&format!("verify/{name}"), self.verify_opts(name, false))
                    .await?
                    .flatten()
                    .is_some();
            }
            moved |= self
                .exclusive("schedule", self.schedule())
                .await?
                .unwrap_or(false);
            if !moved {
                break;
            }
        }
        Ok(out)
    }

    /// Runs passes until [`shutdown`](Controller::shutdown) or until
    /// `shutdown` completes, whichever comes first: the manifests (files
    /// and stored resources) are loaded again when they change,
    /// Warehouses are discovered as their intervals fall due, and changes
    /// other replicas make (new Freight, promotions, aborts, resources)
    /// wake the loop.
    /// A pass that fails is logged and the loop goes on (the store may be
    /// back by the next one). Returns once stopped, with any promotion
    /// stopped at a step boundary and saved.
    pub async fn run(&self, options: RunOptions, shutdown: impl Future<Output = ()>) -> Result<()> {
        let stop = self.inner.stop.clone();
        // The shutdown only raises the flag: the passes stop at their next
        // step boundary by themselves, so nothing is dropped mid-step.
        let raise = async move {
            shutdown.await;
            stop.cancel();
            std::future::pending::<()>().await
        };
        tokio::select! {
            () = self.run_until_stopped(&options) => {}
            () = raise => {}
        }
        Ok(())
    }

    async fn run_until_stopped(&self, options: &RunOptions) {
        // Other processes' new Freight, approvals and promotions wake the
        // loop before its interval is up (a store that cannot watch leaves
        // the interval alone).
        let mut changes = self.inner.store.watch().await.ok();
        loop {
            if self.is_shutting_down() {
                return;
            }
            let _ = self.reload_manifests();
            // Resources other replicas stored (or that changed while a
            // notification was missed) are listed on every pass.
            if let Err(e) = self.reload_resources().await
                && !e.is_input()
            {
                tracing::warn!("cannot load the stored resources: {e}");
            }
            let waiting = match self.pass(options).await {
                Ok(pass) => pass.waiting,
                Err(e) => {
                    tracing::error!("pass failed: {e}");
                    Vec::new()
                }
            };
            if self.is_shutting_down() {
                return;
            }
            // A change that came while the pass ran may be the pass's own
            // or news from elsewhere (a webhook's Freight, a person's
            // promotion, another replica's work) that the pass had already
            // gone by: either way, pass again. A pass that moves nothing
            // changes nothing, so this ends.
            let mut news = None;
            if let Some(watch) = changes.as_mut() {
                while let Ok(Some(change)) =
                    tokio::time::timeout(Duration::ZERO, watch.next()).await
                {
                    news = Some(change);
                }
            }
            if let Some(change) = news {
                tracing::debug!("changed while the pass ran: {change:?}");
                continue;
            }
            let wait = self.wait_after_pass(options, &waiting).await;
            let stopped = self.inner.stop.cancelled();
            match changes.as_mut() {
                Some(watch) => tokio::select! {
                    () = stopped => return,
                    () = tokio::time::sleep(wait) => {}
                    change = watch.next() => match change {
                        Some(change) => tracing::info!("woken by {change:?}"),
                        // The store stopped watching: back to the interval.
                        None => changes = None,
                    },
                },
                None => tokio::select! {
                    () = stopped => return,
                    () = tokio::time::sleep(wait) => {}
                },
            }
        }
    }

    /// How long to wait before the next pass: the interval, or less when a
    /// Warehouse falls due sooner (on the controller's clock) or a waiting
    /// promotion is to run its step again sooner (its
    /// [`retry_at`](kargo_core::model::PromotionState::retry_at), on the
    /// system clock the engine wrote it with).
    async fn wait_after_pass(&self, options: &RunOptions, waiting: &[PromotionRecord]) -> Duration {
        let due = match self.next_discovery(options.discovery_interval).await {
            Ok(Some(at)) => at.since(self.now()),
            _ => options.interval,
        };
        let now = Timestamp::now();
        let retry = waiting
            .iter()
            .filter_map(|p| p.state.retry_at)
            .min()
            .map(|at| at.since(now));
        let due = retry.map_or(due, |retry| due.min(retry));
        due.clamp(Duration::from_millis(100), options.interval)
    }
}
