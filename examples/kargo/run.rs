//! `kargo run`: one promotion, resumable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use clap::Args;
use kargo_core::Workspace;
use kargo_core::engine::{Checkpoint, Engine, PromotionContext, PromotionState, inflate_tasks};
use kargo_core::model::{ExpressionVariable, FreightCollection, PromotionPhase};
use kargo_core::state::{DynStateStore, InMemoryStore, StateStore};
use kargo_core::step::StepRegistry;
use kargo_steps::process_step::Declarations;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{EXIT_NOT_SUCCEEDED, EXIT_RUNNING, EXIT_SUCCEEDED, InputError, input};

/// Where the state of a waiting promotion is kept, inside the work directory.
const DEFAULT_STATE_FILE: &str = ".kargo/promotion.json";

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// `{vars, steps}` as in a promotion template, or a Kargo Stage manifest.
    #[arg(long)]
    steps: PathBuf,
    /// The shared work directory (created if missing; default: a new temporary directory).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// A Kargo Freight document (YAML or JSON); repeatable. The first is the target Freight.
    #[arg(long = "freight")]
    freight: Vec<PathBuf>,
    /// A promotion variable; overrides the file's; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The stage's name (default: the Stage manifest's name).
    #[arg(long)]
    stage: Option<String>,
    /// The project's name (default: the Stage manifest's namespace).
    #[arg(long)]
    project: Option<String>,
    /// A directory of PromotionTask / ClusterPromotionTask manifests.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Where a waiting promotion's state is saved (default: .kargo/promotion.json in the work directory).
    #[arg(long)]
    state: Option<PathBuf>,
    /// A file declaring out-of-process custom steps (`{steps: [{name, command, env, timeout}]}`); repeatable.
    #[arg(long = "custom-steps", value_name = "FILE")]
    custom_steps: Vec<PathBuf>,
    /// Kargo credential Secrets (Kubernetes `Secret` documents labelled `kargo.akuity.io/cred-type`); repeatable.
    #[arg(long = "credentials", value_name = "FILE")]
    credentials: Vec<PathBuf>,
}

/// The state file: the promotion's name and its engine state.
#[derive(Debug, Serialize, Deserialize)]
struct SavedPromotion {
    promotion: String,
    state: PromotionState,
}

/// Saves the promotion after every step, atomically.
#[derive(Debug)]
struct FileCheckpoint {
    path: PathBuf,
    promotion: String,
}

#[async_trait]
impl Checkpoint for FileCheckpoint {
    async fn save(&self, state: &PromotionState) -> kargo_core::Result<()> {
        let saved = SavedPromotion {
            promotion: self.promotion.clone(),
            state: state.clone(),
        };
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| kargo_core::Error::Generic {
            component: "promotion state file",
            source: e,
        };
        let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| generic(e.into()))?;
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| generic(e.into()))?;
        }
        kargo_steps::fs::write_atomic(&self.path, &bytes, None).map_err(|e| generic(e.into()))
    }
}

/// The registry of every step this build knows.
pub(crate) fn registry() -> StepRegistry {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    registry
}

/// [`registry`] plus the custom steps declared in `custom_steps` files.
fn registry_with(custom_steps: &[PathBuf]) -> Result<StepRegistry, InputError> {
    let mut registry = registry();
    for file in custom_steps {
        let steps = Declarations::load(file).map_err(|e| InputError(e.to_string()))?;
        Declarations::register(steps, &mut registry)
            .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    }
    Ok(registry)
}

fn parse_var(text: &str) -> Result<ExpressionVariable, InputError> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok(ExpressionVariable {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        }),
        _ => Err(InputError(format!("--var `{text}`: expected NAME=VALUE"))),
    }
}

pub(crate) fn run(args: RunArgs) -> Result<u8, InputError> {
    // Everything that can make the input unusable is checked before
    // anything is written.
    let file = input::load_steps(&args.steps)?;
    let mut vars = file.template.vars;
    for var in &args.vars {
        vars.push(parse_var(var)?);
    }
    let catalog = match &args.tasks {
        Some(dir) => input::load_tasks(dir)?,
        None => Default::default(),
    };
    let steps = inflate_tasks(&file.template.steps, &vars, &catalog)
        .map_err(|e| InputError(format!("{}: {e}", args.steps.display())))?;
    let registry = registry_with(&args.custom_steps)?;
    let credentials = crate::load_credentials(&args.credentials)?;
    for step in &steps {
        if registry.get(&step.uses).is_none() {
            return Err(InputError(format!(
                "{}: step `{}` uses unknown step kind `{}`",
                args.steps.display(),
                step.alias,
                step.uses
            )));
        }
    }
    let mut freight = Vec::new();
    for path in &args.freight {
        freight.extend(input::load_freight(path)?);
    }
    let stage = args.stage.or(file.stage).unwrap_or_default();
    let project = args.project.or(file.project).unwrap_or_default();

    let state_path_in = |workdir: &Path| {
        args.state
            .clone()
            .unwrap_or_else(|| workdir.join(DEFAULT_STATE_FILE))
    };
    let saved = match &args.workdir {
        Some(dir) => read_saved(&state_path_in(dir))?,
        None => None,
    };

    // From here on, the promotion runs.
    let (workdir, temporary) = match args.workdir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                InputError(format!(
                    "cannot create work directory {}: {e}",
                    dir.display()
                ))
            })?;
            (dir, None)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("kargo-run-")
                .tempdir()
                .map_err(|e| {
                    InputError(format!("cannot create a temporary work directory: {e}"))
                })?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let workspace = Workspace::new(&workdir)
        .map_err(|e| InputError(format!("work directory {}: {e}", workdir.display())))?;
    let state_path = state_path_in(&workdir);
    let (promotion, mut state) = match saved {
        Some(saved) => (saved.promotion, saved.state),
        None => (new_promotion_name(&stage), PromotionState::default()),
    };
    let cancel = CancellationToken::new();
    // set-metadata and set-freight-alias work on a store that lives as long
    // as this run and starts with the --freight documents.
    let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
    let ctx = PromotionContext::new(workspace)
        .with_names(project, stage, promotion.clone())
        .with_vars(vars)
        .with_freight(FreightCollection::new(freight))
        .with_cancel(cancel.clone())
        .with_store(store.clone())
        .with_credentials(credentials);
    let engine = Engine::new(Arc::new(registry));
    let checkpoint = FileCheckpoint {
        path: state_path.clone(),
        promotion,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| InputError(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        for f in &ctx.freight.items {
            store
                .put_freight(f.clone())
                .await
                .map_err(|e| InputError(format!("Freight {}: {e}", f.metadata.name)))?;
        }
        let interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt.cancel();
            }
        });
        engine
            .resume(&ctx, &steps, &mut state, &checkpoint)
            .await
            .map_err(|e| InputError(format!("{}: {e}", state_path.display())))
    });
    result?;

    let waiting = state.phase == PromotionPhase::Running;
    if !waiting {
        remove_state_file(&state_path, args.state.is_none());
    }
    print_json(&state);
    if waiting {
        if let Some(tmp) = temporary {
            let kept = tmp.keep();
            eprintln!(
                "kargo: promotion waits; resume with --workdir {} (the state is in {})",
                kept.display(),
                state_path.display()
            );
        }
        return Ok(EXIT_RUNNING);
    }
    Ok(if state.phase == PromotionPhase::Succeeded {
        EXIT_SUCCEEDED
    } else {
        EXIT_NOT_SUCCEEDED
    })
}

fn read_saved(path: &Path) -> Result<Option<SavedPromotion>, InputError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            InputError(format!(
                "{}: invalid saved promotion state: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(InputError(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Removes the state of a finished promotion so the next run starts anew;
/// the default `.kargo` directory goes too when it is left empty.
fn remove_state_file(path: &Path, default_location: bool) {
    let _ = std::fs::remove_file(path);
    if let Some(parent) = path.parent().filter(|_| default_location) {
        let _ = std::fs::remove_dir(parent);
    }
}

fn new_promotion_name(stage: &str) -> String {
    let millis = kargo_core::time::Timestamp::now().unix_millis();
    let prefix = if stage.is_empty() { "promotion" } else { stage };
    format!("{prefix}.{millis:x}")
}

fn print_json(state: &PromotionState) {
    println!("{}", result_json(state));
}

/// The runner's JSON for a promotion: `{phase, steps: [{alias, uses,
/// status, message}], state}`.
pub(crate) fn result_json(state: &PromotionState) -> Value {
    let steps: Vec<Value> = state
        .steps
        .iter()
        .map(|r| {
            json!({
                "alias": r.alias,
                "uses": r.uses,
                "status": r.status.map(|s| s.as_str()),
                "message": r.message,
            })
        })
        .collect();
    json!({
        "phase": state.phase.as_str(),
        "steps": steps,
        "state": state.outputs,
    })
}
