//! One promotion from a steps file, without a pipeline: what `kargo run`
//! does. Its state is kept in a file so that a promotion that waits (a
//! step `Running`) resumes when run again. A step that failed with a
//! retryable error below its `retry.errorThreshold` waits too: the run
//! ends `Running` with the error count saved, and the next run tries the
//! step again at once (a person running the command again means it; the
//! backoff in [`PromotionState::retry_at`] is for the controller), until
//! the threshold or `retry.timeout` ends it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::Workspace;
use kargo_core::engine::{Checkpoint, Engine, PromotionContext, PromotionState, inflate_tasks};
use kargo_core::model::{ExpressionVariable, FreightCollection};
use kargo_core::state::{DynStateStore, InMemoryStore};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, input};

/// Where the state of a waiting promotion is kept, inside the work
/// directory, unless [`RunRequest::state_file`] says otherwise.
pub const DEFAULT_STATE_FILE: &str = ".kargo/promotion.json";

/// What to run.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunRequest {
    /// `{vars, steps}` as in a promotion template, or a Kargo Stage manifest.
    pub steps: PathBuf,
    /// The shared work directory (created if missing); `None`: a new
    /// temporary directory, kept only when the promotion waits.
    pub workdir: Option<PathBuf>,
    /// Kargo Freight documents; the first is the target Freight.
    pub freight: Vec<PathBuf>,
    /// Variables after the file's (later ones win).
    pub vars: Vec<ExpressionVariable>,
    /// The Stage's name (default: the Stage manifest's).
    pub stage: Option<String>,
    /// The project's name (default: the Stage manifest's namespace).
    pub project: Option<String>,
    /// A directory of PromotionTask / ClusterPromotionTask manifests.
    pub tasks: Option<PathBuf>,
    /// Where a waiting promotion's state is saved (default:
    /// [`DEFAULT_STATE_FILE`] in the work directory).
    pub state_file: Option<PathBuf>,
    /// Files declaring out-of-process custom steps.
    pub custom_steps: Vec<PathBuf>,
    /// Files of Kargo credential Secrets.
    pub credentials: Vec<PathBuf>,
    /// Who runs it (`ctx.meta.promotion.actor`).
    pub actor: String,
}

impl RunRequest {
    /// Runs the steps in `steps`, all else by default.
    pub fn new(steps: impl Into<PathBuf>) -> Self {
        RunRequest {
            steps: steps.into(),
            ..RunRequest::default()
        }
    }
}

/// How a run ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The promotion's state: its phase, steps and outputs.
    pub state: PromotionState,
    /// Where the state of a waiting promotion was saved.
    pub state_file: PathBuf,
    /// The work directory, when it was a temporary one kept because the
    /// promotion waits (run again with it to resume).
    pub kept_workdir: Option<PathBuf>,
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
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| {
            kargo_core::Error::generic("promotion state file", e)
        };
        let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| generic(e.into()))?;
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| generic(e.into()))?;
        }
        kargo_steps::fs::write_atomic(&self.path, &bytes, None).map_err(|e| generic(e.into()))
    }
}

/// Runs (or resumes) the promotion `request` describes. Everything that
/// makes the input unusable is an [`Error::Invalid`] found before
/// anything is written. `cancel` stops the running step.
pub async fn run(request: RunRequest, cancel: CancellationToken) -> Result<RunOutcome> {
    let file = input::load_steps(&request.steps)?;
    let mut vars = file.template.vars;
    vars.extend(request.vars);
    let catalog = match &request.tasks {
        Some(dir) => input::load_tasks(dir)?,
        None => Default::default(),
    };
    let shown = request.steps.display();
    let steps = inflate_tasks(&file.template.steps, &vars, &catalog)
        .map_err(|e| Error::Invalid(format!("{shown}: {e}")))?;
    let registry = input::registry_with_custom_steps(&request.custom_steps)?;
    let credentials = input::load_credentials(&request.credentials)?;
    let engine = Engine::new(Arc::new(registry));
    crate::project::check_step_kinds(&steps, &engine)
        .map_err(|e| Error::Invalid(format!("{shown}: {e}")))?;
    let mut freight = Vec::new();
    for path in &request.freight {
        freight.extend(input::load_freight(path)?);
    }
    let stage = request.stage.or(file.stage).unwrap_or_default();
    let project = request.project.or(file.project).unwrap_or_default();
    let state_path_in = |workdir: &Path| {
        request
            .state_file
            .clone()
            .unwrap_or_else(|| workdir.join(DEFAULT_STATE_FILE))
    };
    let saved = match &request.workdir {
        Some(dir) => read_saved(&state_path_in(dir))?,
        None => None,
    };

    // From here on, the promotion runs.
    let (workdir, temporary) = match request.workdir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            (dir, None)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("kargo-run-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let workspace = Workspace::new(&workdir).map_err(|e| Error::io(&workdir, e))?;
    let state_file = state_path_in(&workdir);
    let (promotion, mut state) = match saved {
        Some(saved) => (saved.promotion, saved.state),
        None => (new_promotion_name(&stage), PromotionState::default()),
    };
    // set-metadata and set-freight-alias work on a store that lives as
    // long as this run and starts with the --freight documents.
    let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
    for f in &freight {
        store
            .put_freight(f.clone())
            .await
            .map_err(|e| Error::Invalid(format!("Freight {}: {e}", f.metadata.name)))?;
    }
    let mut ctx = PromotionContext::new(workspace)
        .with_names(project, stage, promotion.clone())
        .with_vars(vars)
        .with_freight(FreightCollection::new(freight))
        .with_cancel(cancel)
        .with_store(store)
        .with_credentials(credentials);
    ctx.actor = request.actor;
    let checkpoint = FileCheckpoint {
        path: state_file.clone(),
        promotion,
    };
    engine
        .resume(&ctx, &steps, &mut state, &checkpoint)
        .await
        .map_err(|e| Error::Invalid(format!("{}: {e}", state_file.display())))?;

    let waiting = state.phase == kargo_core::model::PromotionPhase::Running;
    if !waiting {
        remove_state_file(&state_file, request.state_file.is_none());
    }
    let kept_workdir = match temporary {
        Some(tmp) if waiting => Some(tmp.keep()),
        _ => None,
    };
    Ok(RunOutcome {
        state,
        state_file,
        kept_workdir,
    })
}

fn read_saved(path: &Path) -> Result<Option<SavedPromotion>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Invalid(format!(
                "{}: invalid saved promotion state: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
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

/// The runner's JSON for a promotion: `{phase, steps: [{alias, uses,
/// status, message}], state}`.
pub fn result_json(state: &PromotionState) -> Value {
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
