//! What the pipeline commands share: `--manifests DIR --state DB` and the
//! rest, and wiring them into a [`Controller`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kargo_core::credentials::{SecretsOptions, StaticCredentials};
use kargo_core::time::Timestamp;
use kargo_runtime::clock::{Clock, ManualClock, SystemClock};
use kargo_runtime::{Controller, DEFAULT_LEASE, Hooks};

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
/// as a Go duration (`30s`, the default).
const LEASE_ENV: &str = "KARGO_LEASE";

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
    #[arg(long, alias = "work")]
    pub(crate) workdir: Option<PathBuf>,
    /// Kargo credential Secrets (Kubernetes `Secret` documents labelled
    /// `kargo.akuity.io/cred-type`) for promotions and discovery; repeatable.
    #[arg(long = "credentials", value_name = "FILE")]
    pub(crate) credentials: Vec<PathBuf>,
    /// A file declaring out-of-process custom steps (`{steps: [{name,
    /// command, env, timeout}]}`); repeatable.
    #[arg(long = "custom-steps", value_name = "FILE")]
    pub(crate) custom_steps: Vec<PathBuf>,
}

/// Whether a command may create the state store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// It changes state: a missing SQLite file is created.
    ReadWrite,
    /// It only reads: a missing SQLite file is an error.
    ReadOnly,
}

/// The controller for `args`: manifests checked, store opened, steps,
/// credentials, clock, replica identity and hooks wired in.
pub(crate) async fn controller(args: &StateArgs, access: Access) -> Result<Controller, InputError> {
    Ok(
        controller_and_secrets(args, access, SecretsOptions::default())
            .await?
            .0,
    )
}

/// [`controller`], with the credential Secrets read with `options`.
pub(crate) async fn controller_and_secrets(
    args: &StateArgs,
    access: Access,
    options: SecretsOptions,
) -> Result<(Controller, StaticCredentials), InputError> {
    let registry = kargo_runtime::input::registry_with_custom_steps(&args.custom_steps)?;
    let secrets = kargo_runtime::input::load_secrets(&args.credentials, options)?;
    let credentials = kargo_runtime::input::credentials_provider(secrets.clone());
    let work_root = match (&args.workdir, sqlite_path(&args.state)) {
        (Some(dir), _) => dir.clone(),
        (None, Some(path)) => PathBuf::from(format!("{path}.work")),
        (None, None) => std::env::temp_dir().join("kargo-work"),
    };
    // The manifests are checked before the store is opened (and, for
    // SQLite, created): unusable input changes nothing.
    let builder = Controller::builder()
        .manifests_path(&args.manifests)
        .registry(Arc::new(registry))
        .check()?;
    let opened = match access {
        Access::ReadWrite => kargo_store::open(&args.state).await,
        Access::ReadOnly => kargo_store::open_existing(&args.state).await,
    };
    let store = opened.map_err(|e| {
        InputError(format!(
            "--state {}: {e}",
            kargo_store::display_location(&args.state)
        ))
    })?;
    let mut builder = builder
        .store(store)
        .credentials(credentials)
        .work_root(work_root, args.workdir.is_some())
        .clock(clock())
        .hooks(Arc::new(CrashHook::from_env()));
    if let Some(path) = sqlite_path(&args.state) {
        // Several `kargo` processes may share the file (a `pipeline` loop
        // and a person's `promote`): each promotion runs in one of them.
        builder = builder.process_locks(format!("{path}.locks"));
    }
    if kargo_store::postgres::is_postgres_url(&args.state) {
        let owner = format!(
            "kargo-{}-{}",
            std::process::id(),
            Timestamp::now().unix_millis()
        );
        builder = builder.replica(owner, lease());
    }
    Ok((builder.build()?, secrets))
}

/// The SQLite file a `--state` value names, `None` for a URL.
fn sqlite_path(state: &str) -> Option<&str> {
    let path = state
        .strip_prefix("sqlite://")
        .or_else(|| state.strip_prefix("sqlite:"))
        .unwrap_or(state);
    (!path.contains("://")).then_some(path)
}

/// `KARGO_NOW` as a clock standing at that time, else the system clock.
fn clock() -> Arc<dyn Clock> {
    match std::env::var(NOW_ENV).ok().and_then(|s| s.parse().ok()) {
        Some(at) => Arc::new(ManualClock::new(at)),
        None => Arc::new(SystemClock),
    }
}

/// The lease duration: `KARGO_LEASE` when set, else 30 s.
fn lease() -> Duration {
    std::env::var(LEASE_ENV)
        .ok()
        .and_then(|s| s.parse::<kargo_core::duration::GoDuration>().ok())
        .map(|d| d.as_duration())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_LEASE)
}

/// The crash-test hook: SIGKILL this process at checkpoint `KARGO_CRASH_AFTER_CHECKPOINT`.
#[derive(Debug)]
struct CrashHook(Option<usize>);

impl CrashHook {
    fn from_env() -> Self {
        CrashHook(std::env::var(CRASH_ENV).ok().and_then(|v| v.parse().ok()))
    }

    fn crash_at(&self, count: usize) {
        if self.0 == Some(count) {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }
}

impl Hooks for CrashHook {
    fn promotion_started(&self, _promotion: &str) {
        self.crash_at(0);
    }

    fn checkpoint_saved(&self, _promotion: &str, saves: usize) {
        self.crash_at(saves);
    }
}

/// The first seven characters of a Freight name or ID.
pub(crate) fn short(name: &str) -> &str {
    name.get(..7).unwrap_or(name)
}

/// The actor of a person's command: `$USER`, else `kargo-cli`.
pub(crate) fn person() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "kargo-cli".into())
}
