//! The [`Controller`]: Kargo's promotion lifecycle over a state store.

mod discover;
mod drive;
mod locks;
mod person;
mod pipeline;
mod refresh;
mod resources;
mod verify;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kargo_core::credentials::{CredentialsProvider, StaticCredentials};
use kargo_core::engine::{Engine, EngineOptions};
use kargo_core::manifest::Manifests;
use kargo_core::state::{DynStateStore, Lease, StoredResource};
use kargo_core::step::StepRegistry;
use kargo_core::time::Timestamp;
use kargo_sources::warehouse::Sources;
use tokio_util::sync::CancellationToken;

pub use discover::{Discovery, Refresh};
pub use drive::Drive;
pub use person::{FreightChoice, PromoteRequest, Promoted};
pub use pipeline::{AUTO_ACTOR, Pass, RunOptions};
pub use refresh::{PullRequestRef, waits_on_pull_request};
pub use resources::{ApplyMode, ResourceOutcome, documents_from_yaml};

use crate::clock::{Clock, SystemClock};
use crate::event::{Event, EventBus, Events};
use crate::project::{self, Project};
use crate::{Error, Result};

/// How long a replica's claim on a promotion or a task lasts unless
/// renewed, when the builder is not told otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Callbacks at the controller's points of no return, for hosts that need
/// to act synchronously there (crash tests, audit). Every method has a
/// default that does nothing.
pub trait Hooks: Send + Sync + Debug + 'static {
    /// A promotion was started (claimed), before its first step ran.
    fn promotion_started(&self, promotion: &str) {
        let _ = promotion;
    }

    /// A promotion's state was saved; `saves` counts the saves this
    /// controller made so far.
    fn checkpoint_saved(&self, promotion: &str, saves: usize) {
        let _ = (promotion, saves);
    }
}

/// [`Hooks`] that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// Who this process is among replicas sharing a store, and how long its
/// claims last.
#[derive(Debug, Clone)]
struct Replica {
    owner: String,
    lease: Duration,
}

/// Where promotions get their work directories.
#[derive(Debug, Clone)]
struct WorkDirs {
    root: PathBuf,
    /// Whether a finished promotion's directory stays.
    keep: bool,
}

/// Where the manifests come from, for reloading.
#[derive(Debug)]
struct ManifestSource {
    path: PathBuf,
    fingerprint: Mutex<Fingerprint>,
}

/// The controller: Kargo's promotion lifecycle (queue, claim, run with a
/// checkpoint after every step, resume, finish, verify, discover,
/// schedule auto-promotions) over a [`StateStore`](kargo_core::state::StateStore),
/// for one project's manifests.
///
/// Cheap to clone; clones share everything, so a service can hand one to
/// each request handler while [`run`](Controller::run) drives the
/// pipeline.
///
/// # Replicas
/// With [`ControllerBuilder::replica`], promotions are claimed under a
/// lease renewed while they run, and discovery, verification and
/// scheduling run on one replica at a time (named leases): several
/// processes can share a PostgreSQL store. Leases are measured on the
/// system clock whatever the controller's [`Clock`], because they are
/// about processes being alive.
///
/// # Manifests
/// The project is the manifest files' resources plus the Kargo resources
/// kept in the store ([`apply_resources`](Controller::apply_resources),
/// e.g. from `kargo serve`'s `/v1beta1/resources`); a stored resource may
/// not stand for one of the files'. Files are loaded again when they
/// change ([`reload_manifests`](Controller::reload_manifests)), stored
/// resources when the store says they changed
/// ([`reload_resources`](Controller::reload_resources)); the first
/// operation loads the stored ones.
///
/// # Stopping
/// [`shutdown`](Controller::shutdown) (or the future given to
/// [`run`](Controller::run) completing) stops every promotion at its next
/// step boundary with its state saved; the next controller resumes it.
#[derive(Debug, Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    project: RwLock<Arc<Project>>,
    manifests: Option<ManifestSource>,
    /// The manifests from files (or given to the builder), as loaded last.
    base: RwLock<Manifests>,
    /// What the base manifests are called in messages.
    base_name: String,
    /// The resources kept in the store, as listed last; `None` until
    /// they were first loaded.
    stored: RwLock<Option<Vec<StoredResource>>>,
    /// Serializes this process's changes to (and loads of) the stored
    /// resources, so that each is checked against the others.
    resources_lock: tokio::sync::Mutex<()>,
    store: Arc<DynStateStore>,
    engine: Engine,
    sources: Sources,
    credentials: Arc<dyn CredentialsProvider>,
    work: WorkDirs,
    replica: Option<Replica>,
    /// Without replicas: the locks between this host's processes.
    locks: Option<locks::ProcessLocks>,
    clock: Arc<dyn Clock>,
    hooks: Arc<dyn Hooks>,
    events: EventBus,
    stop: CancellationToken,
    saves: AtomicUsize,
    /// The Stages being driven in this process.
    drivers: drive::Drivers,
    /// The verifications running in this process, by Stage, to abort.
    verifying: verify::Running,
}

/// Builds a [`Controller`]: `Controller::builder()`, then the manifests,
/// the store and whatever differs from the defaults.
#[derive(Debug)]
pub struct ControllerBuilder {
    store: Option<Arc<DynStateStore>>,
    checked: Option<Checked>,
    manifests: Option<(Manifests, String)>,
    manifests_path: Option<PathBuf>,
    registry: Option<Arc<StepRegistry>>,
    engine_options: EngineOptions,
    sources: Option<Sources>,
    credentials: Option<Arc<dyn CredentialsProvider>>,
    work: Option<WorkDirs>,
    replica: Option<Replica>,
    locks: Option<locks::ProcessLocks>,
    clock: Arc<dyn Clock>,
    hooks: Arc<dyn Hooks>,
}

/// Manifests checked against the steps of an engine.
#[derive(Debug)]
struct Checked {
    engine: Engine,
    project: Project,
    manifests: Manifests,
    name: String,
    source: Option<ManifestSource>,
}

impl ControllerBuilder {
    /// The state store (required).
    pub fn store(mut self, store: Arc<DynStateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Manifests read from `path` (a file or a directory); the
    /// controller's [`run`](Controller::run) loads them again when they
    /// change on disk.
    pub fn manifests_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifests_path = Some(path.into());
        self.manifests = None;
        self
    }

    /// Manifests already loaded, named `source` in messages; they are
    /// never reloaded.
    pub fn manifests(mut self, manifests: Manifests, source: impl Into<String>) -> Self {
        self.manifests = Some((manifests, source.into()));
        self.manifests_path = None;
        self
    }

    /// The steps promotions and verifications may use (default: an empty
    /// registry).
    pub fn registry(mut self, registry: Arc<StepRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The engine's options (default: [`EngineOptions::default`]), e.g.
    /// the backoff before a step that failed with a retryable error is
    /// run again on a later pass.
    pub fn engine_options(mut self, options: EngineOptions) -> Self {
        self.engine_options = options;
        self
    }

    /// The Warehouse sources (default: [`Sources::builtin_with_credentials`]
    /// with the controller's credentials).
    pub fn sources(mut self, sources: Sources) -> Self {
        self.sources = Some(sources);
        self
    }

    /// The credentials of promotions, verifications and discovery
    /// (default: none).
    pub fn credentials(mut self, credentials: Arc<dyn CredentialsProvider>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Promotions work in `root/<promotion>`; with `keep`, a finished
    /// promotion's directory stays (default: a directory under the
    /// system's temporary directory, removed when the promotion finished).
    pub fn work_root(mut self, root: impl Into<PathBuf>, keep: bool) -> Self {
        self.work = Some(WorkDirs {
            root: root.into(),
            keep,
        });
        self
    }

    /// Shares the store with other replicas: this process is `owner`,
    /// and its claims last `lease` unless renewed.
    pub fn replica(mut self, owner: impl Into<String>, lease: Duration) -> Self {
        self.replica = Some(Replica {
            owner: owner.into(),
            lease,
        });
        self
    }

    /// Shares the store with other processes on this host (a SQLite
    /// file) through OS file locks kept in `dir`: a Stage's promotions, a
    /// Warehouse's discovery, a Stage's verification and the scheduling of
    /// auto-promotions run in one process at a time, and the others leave
    /// them alone. A lock ends with its process, a `kill -9` included, so
    /// the next process resumes a promotion at once. Without it (and
    /// without [`replica`](Self::replica)), the controller assumes it is
    /// the store's only user. Ignored with `replica`, whose leases do
    /// the same across hosts.
    pub fn process_locks(mut self, dir: impl Into<PathBuf>) -> Self {
        self.locks = Some(locks::ProcessLocks::new(dir));
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The hooks (default: [`NoHooks`]).
    pub fn hooks(mut self, hooks: Arc<dyn Hooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Loads and checks the manifests now, so that unusable input is found
    /// before anything else happens (such as creating a store); otherwise
    /// [`build`](Self::build) does it.
    pub fn check(mut self) -> Result<Self> {
        if self.checked.is_none() {
            self.checked = Some(self.load()?);
        }
        Ok(self)
    }

    fn load(&mut self) -> Result<Checked> {
        let registry = self
            .registry
            .clone()
            .unwrap_or_else(|| Arc::new(StepRegistry::new()));
        let engine = Engine::new(registry).with_options(self.engine_options.clone());
        let (manifests, name, source) = match (self.manifests.take(), &self.manifests_path) {
            (Some((manifests, name)), _) => (manifests, name, None),
            (None, Some(path)) => {
                let fingerprint = Fingerprint::of(path);
                let manifests = project::load_manifests(path)?;
                let source = ManifestSource {
                    path: path.clone(),
                    fingerprint: Mutex::new(fingerprint),
                };
                (manifests, path.display().to_string(), Some(source))
            }
            (None, None) => {
                return Err(Error::Invalid(
                    "the controller needs manifests (ControllerBuilder::manifests_path)".into(),
                ));
            }
        };
        let project = Project::new(manifests.clone(), &name, &engine)?;
        Ok(Checked {
            engine,
            project,
            manifests,
            name,
            source,
        })
    }

    /// Loads and checks the manifests (unless [`check`](Self::check) did):
    /// everything that makes them unusable is an [`Error::Invalid`] here,
    /// before anything runs.
    pub fn build(mut self) -> Result<Controller> {
        let checked = match self.checked.take() {
            Some(checked) => checked,
            None => self.load()?,
        };
        let store = self.store.ok_or_else(|| {
            Error::Invalid("the controller needs a state store (ControllerBuilder::store)".into())
        })?;
        let credentials = self
            .credentials
            .unwrap_or_else(|| Arc::new(StaticCredentials::new()));
        let sources = self
            .sources
            .unwrap_or_else(|| Sources::builtin_with_credentials(credentials.clone()));
        let work = self.work.unwrap_or_else(|| WorkDirs {
            root: std::env::temp_dir().join("kargo-work"),
            keep: false,
        });
        Ok(Controller {
            inner: Arc::new(Inner {
                project: RwLock::new(Arc::new(checked.project)),
                manifests: checked.source,
                base: RwLock::new(checked.manifests),
                base_name: checked.name,
                stored: RwLock::new(None),
                resources_lock: tokio::sync::Mutex::new(()),
                store,
                engine: checked.engine,
                sources,
                credentials,
                work,
                locks: self.locks.filter(|_| self.replica.is_none()),
                replica: self.replica,
                clock: self.clock,
                hooks: self.hooks,
                events: EventBus::new(),
                stop: CancellationToken::new(),
                saves: AtomicUsize::new(0),
                drivers: drive::Drivers::default(),
                verifying: verify::Running::default(),
            }),
        })
    }
}

impl Controller {
    /// A builder; give it manifests and a store.
    pub fn builder() -> ControllerBuilder {
        ControllerBuilder {
            store: None,
            checked: None,
            manifests: None,
            manifests_path: None,
            registry: None,
            engine_options: EngineOptions::default(),
            sources: None,
            credentials: None,
            work: None,
            replica: None,
            locks: None,
            clock: Arc::new(SystemClock),
            hooks: Arc::new(NoHooks),
        }
    }

    /// The project as loaded last.
    pub fn project(&self) -> Arc<Project> {
        self.inner
            .project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The state store.
    pub fn store(&self) -> &Arc<DynStateStore> {
        &self.inner.store
    }

    /// The engine promotions run on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The current time on the controller's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The events from now on.
    pub fn subscribe(&self) -> Events {
        self.inner.events.subscribe()
    }

    /// Stops promotions at their next step boundary (state saved, left
    /// `Running` for the next controller) and ends [`run`](Controller::run).
    pub fn shutdown(&self) {
        self.inner.stop.cancel();
    }

    /// Whether [`shutdown`](Controller::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.stop.is_cancelled()
    }

    fn emit(&self, event: Event) {
        self.inner.events.emit(event);
    }

    /// Loads the manifests again when their files changed since they were
    /// loaded last, together with the resources kept in the store as
    /// listed last. Returns what changed (empty when nothing did).
    /// Unusable manifests are an error, and the controller keeps the ones
    /// it had.
    pub fn reload_manifests(&self) -> Result<Vec<String>> {
        let Some(source) = &self.inner.manifests else {
            return Ok(Vec::new());
        };
        let fingerprint = Fingerprint::of(&source.path);
        let mut seen = source.fingerprint.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == fingerprint {
            return Ok(Vec::new());
        }
        // Whatever comes of it, these files were looked at: a broken edit
        // is reported once, not on every pass.
        *seen = fingerprint;
        let built = project::load_manifests(&source.path).and_then(|manifests| {
            let stored = self.stored_resources();
            let project = self.compose(&manifests, &stored)?;
            Ok((manifests, project))
        });
        let (manifests, project) = match built {
            Ok(built) => built,
            Err(e) => {
                tracing::error!(manifests = %source.path.display(), "manifests changed but cannot be used, keeping the ones loaded before: {e}");
                self.emit(Event::ManifestsRejected {
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        *self.inner.base.write().unwrap_or_else(|e| e.into_inner()) = manifests;
        Ok(self.install(project, &source.path.display().to_string()))
    }

    /// Makes `project` the controller's, and reports what changed since
    /// the one before (loaded from `origin`).
    fn install(&self, project: Project, origin: &str) -> Vec<String> {
        let changes = project.changes_since(&self.project());
        *self
            .inner
            .project
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(project);
        if !changes.is_empty() {
            tracing::info!(manifests = %origin, "manifests reloaded: {}", changes.join(", "));
            self.emit(Event::ManifestsReloaded {
                changes: changes.clone(),
            });
        }
        changes
    }

    /// Runs `work` unless another replica (or, with process locks,
    /// another process) does the task `key` right now (then `None`);
    /// without either it always runs.
    async fn exclusive<T>(
        &self,
        key: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<Option<T>> {
        let Some(replica) = &self.inner.replica else {
            let Some(_lock) = self.process_lock(key)? else {
                return Ok(None);
            };
            return work.await.map(Some);
        };
        let at = Timestamp::now();
        let lease = Lease::new(&replica.owner, at, replica.lease);
        if !self.inner.store.acquire_lease(key, &lease, at).await? {
            return Ok(None);
        }
        let out = work.await;
        self.inner.store.release_lease(key, &replica.owner).await?;
        out.map(Some)
    }

    /// Without replicas, this process's lock on task `key`: `None` while
    /// another process holds it; a lock that holds nothing when there are
    /// no process locks.
    fn process_lock(&self, key: &str) -> Result<Option<Option<locks::ProcessLock>>> {
        match &self.inner.locks {
            None => Ok(Some(None)),
            Some(locks) => Ok(locks.try_lock(key)?.map(Some)),
        }
    }

    /// The work directory of promotion `name`.
    fn work_dir(&self, name: &str) -> PathBuf {
        self.inner.work.root.join(name)
    }
}

/// What the manifest files looked like: each file's path, length and
/// modification time. Cheap to take on every pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Fingerprint(Vec<(PathBuf, u64, Option<std::time::SystemTime>)>);

impl Fingerprint {
    fn of(path: &Path) -> Fingerprint {
        let mut files = Vec::new();
        collect(path, &mut files);
        files.sort();
        Fingerprint(files)
    }
}

fn collect(path: &Path, out: &mut Vec<(PathBuf, u64, Option<std::time::SystemTime>)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            collect(&entry.path(), out);
        }
    } else {
        out.push((path.to_path_buf(), meta.len(), meta.modified().ok()));
    }
}
