//! What the pipeline commands share: `--manifests DIR --state DB`, the
//! checked project (Stage graph, promotion steps, verifications,
//! auto-promotion policy), the store, and running a Stage's queue of
//! promotions with checkpoints, then verifying.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use clap::Args;
use kargo_core::Workspace;
use kargo_core::engine::{Checkpoint, Engine, PromotionContext, PromotionState, inflate_tasks};
use kargo_core::manifest::Manifests;
use kargo_core::model::{
    ExpressionVariable, Freight, FreightCollection, FreightOrigin, PromotionPhase, PromotionStep,
    Stage,
};
use kargo_core::pipeline::{
    HoldIntent, StageGraph, StageVerification, run_verification, stage_verification,
};
use kargo_core::state::{
    Claim, DynStateStore, Lease, LeasedCheckpoint, NewPromotion, PromotionRecord, StageState,
    StateStoreExt, StoreCheckpoint, VerificationRecord, keep_promotion_lease,
};
use kargo_core::time::Timestamp;

use crate::InputError;

/// Environment variable: the current time (RFC 3339) the pipeline commands
/// use instead of the clock, so soak times can be replayed and tested.
const NOW_ENV: &str = "KARGO_NOW";
/// Environment variable (crash tests): the process kills itself with
/// SIGKILL right after this many promotion checkpoints were saved; `0`
/// kills it right after a promotion was started.
const CRASH_ENV: &str = "KARGO_CRASH_AFTER_CHECKPOINT";
/// Environment variable: how long a replica's claim on a promotion (or on
/// a pipeline task such as a Warehouse's discovery) lasts unless renewed,
/// as a Go duration (`30s`, the default). Shorter leases let a replica
/// take over a dead one's promotion sooner, at the cost of more renewals.
const LEASE_ENV: &str = "KARGO_LEASE";
/// The lease when `KARGO_LEASE` is not set (or not a duration).
const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The lease duration: `KARGO_LEASE` when set, else 30 s; read once.
fn lease() -> std::time::Duration {
    static LEASE: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *LEASE.get_or_init(|| {
        std::env::var(LEASE_ENV)
            .ok()
            .and_then(|s| s.parse::<kargo_core::duration::GoDuration>().ok())
            .map(|d| d.as_duration())
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LEASE)
    })
}

/// The options every pipeline command takes.
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// A manifest file or a directory of them (Warehouses, Stages,
    /// ProjectConfig, PromotionTasks, AnalysisTemplates).
    #[arg(long)]
    pub(crate) manifests: PathBuf,
    /// The state store: a SQLite file, created on first use, or a
    /// `postgres://` URL, which several `kargo` processes may share.
    #[arg(long)]
    pub(crate) state: String,
    /// Where promotions get their work directories, `DIR/<promotion>`,
    /// kept afterwards (default: `DB.work/<promotion>` next to the state
    /// file, removed when the promotion finished).
    #[arg(long)]
    pub(crate) workdir: Option<PathBuf>,
    /// Kargo credential Secrets (Kubernetes `Secret` documents labelled
    /// `kargo.akuity.io/cred-type`) for promotions and discovery; repeatable.
    #[arg(long = "credentials", value_name = "FILE")]
    pub(crate) credentials: Vec<PathBuf>,
}

/// The current time: `KARGO_NOW` when set, else the clock.
pub(crate) fn now() -> Timestamp {
    std::env::var(NOW_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(Timestamp::now)
}

/// A multi-threaded runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| InputError(format!("cannot start the async runtime: {e}")))
}

/// The promotion template of a Stage: its steps with tasks inflated, and
/// its variables (Stage `spec.vars` first, then the template's).
#[derive(Debug, Clone)]
pub(crate) struct StageSteps {
    pub(crate) steps: Vec<PromotionStep>,
    pub(crate) vars: Vec<ExpressionVariable>,
}

/// A checked project with its store.
#[derive(Debug)]
pub(crate) struct Project {
    pub(crate) manifests: Manifests,
    pub(crate) graph: StageGraph,
    pub(crate) store: Arc<DynStateStore>,
    engine: Engine,
    steps: HashMap<String, StageSteps>,
    verifications: HashMap<String, StageVerification>,
    auto: HashMap<String, bool>,
    work_root: PathBuf,
    /// Whether work directories stay after their promotion finished
    /// (when `--workdir` names the place).
    keep_work: bool,
    /// Set by Ctrl-C: a promotion stops at its next step boundary (left
    /// `Running`, resumed by the next command) and loops end.
    pub(crate) stop: Arc<AtomicBool>,
    /// From `--credentials`: for promotions, verifications and discovery.
    pub(crate) credentials: Arc<dyn kargo_core::credentials::CredentialsProvider>,
    /// Checkpoints saved by this process (for the crash-test hook).
    saves: AtomicUsize,
    /// With a store shared by several processes (PostgreSQL): this
    /// process's owner id for claims and leases. Promotions are then
    /// claimed under a lease, and discovery, scheduling and verification
    /// run on one process at a time.
    replica: Option<String>,
}

/// How a Stage's queue ended.
#[derive(Debug, Default)]
pub(crate) struct Drive {
    /// The promotions that finished, in order.
    pub(crate) finished: Vec<PromotionRecord>,
    /// The promotion that waits (a step is `Running`), if any.
    pub(crate) waiting: Option<PromotionRecord>,
    /// Whether Ctrl-C stopped it.
    pub(crate) interrupted: bool,
}

impl Project {
    /// Loads and checks the manifests and opens the store. Everything that
    /// makes the input unusable is found here, before anything changes.
    pub(crate) async fn load(args: &StateArgs) -> Result<Project, InputError> {
        let manifests = Manifests::load(&args.manifests).map_err(|e| InputError(e.to_string()))?;
        let graph = StageGraph::from_manifests(&manifests)
            .map_err(|e| InputError(format!("{}: {e}", args.manifests.display())))?;
        let engine = Engine::new(Arc::new(crate::run::registry()));
        let mut steps = HashMap::new();
        let mut verifications = HashMap::new();
        let mut auto = HashMap::new();
        for stage in graph.stages() {
            let name = stage.metadata.name.clone();
            let at = |e: &dyn std::fmt::Display| {
                InputError(format!("{}: Stage `{name}`: {e}", args.manifests.display()))
            };
            auto.insert(
                name.clone(),
                manifests
                    .auto_promotion_enabled(stage)
                    .map_err(|e| at(&e))?,
            );
            if let Some(template) = stage_steps(stage, &manifests, &engine).map_err(|e| at(&e))? {
                steps.insert(name.clone(), template);
            }
            if let Some(v) = stage_verification(stage, &manifests, &engine)
                .map_err(|e| InputError(format!("{}: {e}", args.manifests.display())))?
            {
                verifications.insert(name.clone(), v);
            }
        }
        let store = kargo_store::open(&args.state).await.map_err(|e| {
            InputError(format!(
                "--state {}: {e}",
                kargo_store::display_location(&args.state)
            ))
        })?;
        let work_root = match &args.workdir {
            Some(dir) => dir.clone(),
            None if args.state.contains("://") => std::env::temp_dir().join("kargo-work"),
            None => {
                let path = args.state.strip_prefix("sqlite:").unwrap_or(&args.state);
                PathBuf::from(format!("{path}.work"))
            }
        };
        Ok(Project {
            manifests,
            graph,
            store,
            engine,
            steps,
            verifications,
            auto,
            work_root,
            keep_work: args.workdir.is_some(),
            stop: Arc::new(AtomicBool::new(false)),
            credentials: crate::load_credentials(&args.credentials)?,
            saves: AtomicUsize::new(0),
            replica: kargo_store::postgres::is_postgres_url(&args.state).then(|| {
                format!(
                    "kargo-{}-{}",
                    std::process::id(),
                    Timestamp::now().unix_millis()
                )
            }),
        })
    }

    /// The Stage named `name`, or an input error naming it.
    pub(crate) fn stage(&self, name: &str) -> Result<&Stage, InputError> {
        self.graph.stage(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .graph
                .stages()
                .map(|s| s.metadata.name.as_str())
                .collect();
            InputError(format!(
                "unknown Stage `{name}` (known: {})",
                known.join(", ")
            ))
        })
    }

    /// Whether auto-promotion is on for `stage`.
    pub(crate) fn auto_promotion_enabled(&self, stage: &str) -> bool {
        self.auto.get(stage).copied().unwrap_or(false)
    }

    /// Stops Ctrl-C: promotions stop at their next step boundary.
    pub(crate) fn stop_on_ctrl_c(&self) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("kargo: interrupted; stopping at the next step boundary");
                stop.store(true, Ordering::SeqCst);
            }
        });
    }

    /// Queues a promotion of `freight` into `stage` with the Stage's steps.
    pub(crate) async fn queue(
        &self,
        stage: &str,
        freight: &str,
        actor: &str,
        hold: Option<HoldIntent>,
    ) -> kargo_core::Result<PromotionRecord> {
        let template = self.steps.get(stage).cloned().ok_or_else(|| {
            kargo_core::Error::Precondition(format!(
                "Stage `{stage}` has no promotion steps (it only passes Freight on)"
            ))
        })?;
        self.store
            .create_promotion(
                NewPromotion::new(stage, freight)
                    .with_actor(actor)
                    .with_hold(hold)
                    .with_steps(template.steps, template.vars)
                    .with_created_at(now()),
            )
            .await
    }

    /// Runs the promotions queued for `stage`, oldest first, resuming one
    /// left `Running` by an earlier process; verifies the Stage after each
    /// that succeeded. Stops when the queue is empty, a promotion waits, or
    /// Ctrl-C was pressed.
    pub(crate) async fn drive(&self, stage: &str) -> kargo_core::Result<Drive> {
        let mut out = Drive::default();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                out.interrupted = true;
                return Ok(out);
            }
            let promo = if let Some(owner) = &self.replica {
                let claim = Claim::new(owner, Timestamp::now(), lease()).in_stage(stage);
                match self.store.claim_promotion(&claim).await? {
                    Some(p) => {
                        if !p.state.steps.is_empty() {
                            eprintln!("kargo: {stage}: resuming promotion {}", p.name);
                        }
                        self.crash_point(0);
                        p
                    }
                    None => return Ok(out),
                }
            } else {
                match self.store.running_promotion(stage).await? {
                    Some(p) => {
                        eprintln!("kargo: {stage}: resuming promotion {}", p.name);
                        p
                    }
                    None => match self.store.start_promotion(stage, now()).await? {
                        Some(p) => {
                            self.crash_point(0);
                            p
                        }
                        None => return Ok(out),
                    },
                }
            };
            let state = match self.run(&promo).await {
                Ok(state) => state,
                Err(_) if self.stop.load(Ordering::SeqCst) => {
                    out.interrupted = true;
                    return Ok(out);
                }
                Err(e) => return Err(e),
            };
            if state.phase == PromotionPhase::Running {
                eprintln!(
                    "kargo: {stage}: promotion {} waits: {}",
                    promo.name,
                    state.message.as_deref().unwrap_or("a step is running")
                );
                let mut waiting = promo;
                waiting.state = state;
                out.waiting = Some(waiting);
                return Ok(out);
            }
            let finished = self.store.finish_promotion(&promo.name, now()).await?;
            if !self.keep_work {
                let _ = std::fs::remove_dir_all(self.work_root.join(&promo.name));
            }
            eprintln!(
                "kargo: {stage}: promotion {} of Freight {} {}{}",
                finished.name,
                short(&finished.freight),
                finished.phase.as_str(),
                finished
                    .state
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            if finished.phase == PromotionPhase::Succeeded {
                self.exclusive(&format!("verify/{stage}"), self.verify(stage))
                    .await?;
            }
            out.finished.push(finished);
        }
    }

    /// Runs (or resumes) `promo` in its work directory, saving its state
    /// after every step.
    async fn run(&self, promo: &PromotionRecord) -> kargo_core::Result<PromotionState> {
        let dir = self.work_root.join(&promo.name);
        let generic = |e: std::io::Error| kargo_core::Error::Generic {
            component: "work directory",
            source: format!("{}: {e}", dir.display()).into(),
        };
        std::fs::create_dir_all(&dir).map_err(generic)?;
        let workspace = Workspace::new(&dir).map_err(generic)?;
        let stage_state = self.store.get_stage(&promo.stage).await?;
        let target = self
            .store
            .get_freight(&promo.freight)
            .await?
            .ok_or_else(|| kargo_core::Error::NotFound {
                what: "Freight",
                name: promo.freight.clone(),
            })?;
        let freight = self.collection(&stage_state, Some(target)).await?;
        let mut ctx = PromotionContext::new(workspace)
            .with_names(self.project_of(&promo.stage), &promo.stage, &promo.name)
            .with_vars(promo.vars.clone())
            .with_freight(freight)
            .with_store(self.store.clone())
            .with_credentials(self.credentials.clone());
        ctx.actor = promo.actor.clone();
        let inner: Box<dyn Checkpoint + '_> = match &self.replica {
            Some(owner) => Box::new(LeasedCheckpoint::new(
                &*self.store,
                promo.name.clone(),
                owner.clone(),
                lease(),
            )),
            None => Box::new(StoreCheckpoint::new(&*self.store, promo.name.clone())),
        };
        let checkpoint = StopAtBoundary {
            inner,
            project: self,
        };
        let mut state = promo.state.clone();
        let run = self
            .engine
            .resume(&ctx, &promo.steps, &mut state, &checkpoint);
        match &self.replica {
            // The lease is renewed while a step runs; once it is lost,
            // another process runs the promotion and this one stops.
            Some(owner) => tokio::select! {
                done = run => done?,
                lost = keep_promotion_lease(&*self.store, &promo.name, owner, lease()) => {
                    return Err(lost);
                }
            },
            None => run.await?,
        }
        Ok(state)
    }

    /// Verifies the current Freight of `stage` unless it was verified
    /// already: with the Stage's AnalysisTemplates, or (without
    /// `spec.verification`) at once, as Kargo does. Returns the record.
    pub(crate) async fn verify(
        &self,
        stage: &str,
    ) -> kargo_core::Result<Option<VerificationRecord>> {
        self.verify_opts(stage, false).await
    }

    /// Verifies the current Freight of `stage`; with `again`, also when it
    /// was verified before (Kargo's reverify).
    pub(crate) async fn verify_opts(
        &self,
        stage: &str,
        again: bool,
    ) -> kargo_core::Result<Option<VerificationRecord>> {
        let state = self.store.get_stage(stage).await?;
        let Some(current) = state.current() else {
            return Ok(None);
        };
        if current.current_verification().is_some() && !again {
            return Ok(None);
        }
        let id = format!("{stage}.{:x}", now().unix_millis());
        let Some(verification) = self.verifications.get(stage) else {
            let state = self
                .store
                .record_verification(stage, VerificationRecord::succeeded(id, now()))
                .await?;
            return Ok(current_verification(&state));
        };
        let dir = tempfile::Builder::new()
            .prefix("kargo-verify-")
            .tempdir()
            .map_err(|e| kargo_core::Error::Generic {
                component: "verification work directory",
                source: Box::new(e),
            })?;
        let workspace = Workspace::new(dir.path()).map_err(|e| kargo_core::Error::Generic {
            component: "verification work directory",
            source: Box::new(e),
        })?;
        let freight = self.collection(&state, None).await?;
        let ctx = PromotionContext::new(workspace)
            .with_names(self.project_of(stage), stage, &id)
            .with_vars(verification.args.clone())
            .with_freight(freight)
            .with_credentials(self.credentials.clone());
        eprintln!("kargo: {stage}: verifying");
        let state = run_verification(&*self.store, &verification.verifier, &ctx, &id, now).await?;
        let record = current_verification(&state);
        if let Some(v) = &record {
            eprintln!(
                "kargo: {stage}: verification {:?}{}",
                v.phase,
                v.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
        }
        Ok(record)
    }

    /// The Freight a promotion or verification sees: `target` first, then
    /// the Stage's current Freight of the other origins.
    async fn collection(
        &self,
        state: &StageState,
        target: Option<Freight>,
    ) -> kargo_core::Result<FreightCollection> {
        let mut items: Vec<Freight> = target.into_iter().collect();
        if let Some(current) = state.current() {
            for reference in current.items.values() {
                if items.iter().any(|f| f.origin == reference.origin) {
                    continue;
                }
                if let Some(f) = self.store.get_freight(&reference.name).await? {
                    items.push(f);
                }
            }
        }
        Ok(FreightCollection::new(items))
    }

    /// The project (namespace) of `stage`.
    fn project_of(&self, stage: &str) -> String {
        self.graph
            .stage(stage)
            .map(|s| s.metadata.namespace.clone())
            .unwrap_or_default()
    }

    /// Runs `work` unless another process sharing the store does the task
    /// `key` right now (then returns `None`); without a shared store it
    /// always runs.
    pub(crate) async fn exclusive<T>(
        &self,
        key: &str,
        work: impl Future<Output = kargo_core::Result<T>>,
    ) -> kargo_core::Result<Option<T>> {
        let Some(owner) = &self.replica else {
            return work.await.map(Some);
        };
        let at = Timestamp::now();
        if !self
            .store
            .acquire_lease(key, &Lease::new(owner, at, lease()), at)
            .await?
        {
            return Ok(None);
        }
        let out = work.await;
        self.store.release_lease(key, owner).await?;
        out.map(Some)
    }

    /// The crash-test hook: SIGKILL this process at checkpoint `count`.
    fn crash_point(&self, count: usize) {
        let Some(at) = std::env::var(CRASH_ENV)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        else {
            return;
        };
        if at == count {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }

    /// The Freight origins a Stage requests.
    pub(crate) fn origins(&self, stage: &str) -> Vec<FreightOrigin> {
        self.graph
            .stage(stage)
            .map(|s| {
                s.spec
                    .requested_freight
                    .iter()
                    .map(|r| r.origin.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The newest verification of the Stage's current Freight.
fn current_verification(state: &StageState) -> Option<VerificationRecord> {
    state
        .current()
        .and_then(|c| c.current_verification())
        .cloned()
}

/// The steps and variables of `stage`'s promotion template, tasks
/// inflated and step kinds checked; `None` for a control-flow Stage.
fn stage_steps(
    stage: &Stage,
    manifests: &Manifests,
    engine: &Engine,
) -> kargo_core::Result<Option<StageSteps>> {
    let Some(template) = crate::input::stage_template(stage).filter(|t| !t.steps.is_empty()) else {
        return Ok(None);
    };
    let steps = inflate_tasks(&template.steps, &template.vars, manifests)?;
    if let Some(step) = steps
        .iter()
        .find(|s| engine.registry().get(&s.uses).is_none())
    {
        return Err(kargo_core::Error::Invalid(format!(
            "step `{}` uses unknown step kind `{}`",
            step.alias, step.uses
        )));
    }
    Ok(Some(StageSteps {
        steps,
        vars: template.vars,
    }))
}

/// The first seven characters of a Freight name or ID.
pub(crate) fn short(name: &str) -> &str {
    name.get(..7).unwrap_or(name)
}

/// Saves through the store; after each save, honours Ctrl-C (the engine
/// stops with the promotion left `Running` at this boundary) and the
/// crash-test hook.
struct StopAtBoundary<'a> {
    inner: Box<dyn Checkpoint + 'a>,
    project: &'a Project,
}

#[async_trait]
impl Checkpoint for StopAtBoundary<'_> {
    async fn save(&self, state: &PromotionState) -> kargo_core::Result<()> {
        self.inner.save(state).await?;
        let saved = self.project.saves.fetch_add(1, Ordering::SeqCst) + 1;
        self.project.crash_point(saved);
        if self.project.stop.load(Ordering::SeqCst) && !state.phase.is_terminal() {
            return Err(kargo_core::Error::Precondition(
                "interrupted at a step boundary".into(),
            ));
        }
        Ok(())
    }
}

/// The actor of a person's command: `$USER`, else `kargo-cli`.
pub(crate) fn person() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "kargo-cli".into())
}
