//! Verification: whether the Freight a Stage holds works there.
//!
//! Kargo runs Argo Rollouts analysis for `Stage.spec.verification`. Outside
//! Kubernetes, kargo-rs resolves the Stage's `analysisTemplates` to
//! [`AnalysisTemplate`] documents (a kargo-rs kind with Argo's `args` and
//! either promotion `steps` or a `command`) and runs them through a
//! [`Verifier`]. The outcome goes to the Stage's verification history with
//! [`run_verification`]; only a `Successful` verification marks the
//! Freight verified in the Stage, so a failed one keeps it from moving on.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::{Engine, PromotionContext};
use crate::manifest::Manifests;
use crate::model::{AnalysisTemplate, ExpressionVariable, PromotionPhase, PromotionStep, Stage};
use crate::process::{self, Cap, Caps, Interrupted};
use crate::state::{StageState, StateStore, VerificationPhase, VerificationRecord};
use crate::time::Timestamp;
use crate::{Error, Result};

/// The longest message a verification keeps from a command's output.
const MAX_MESSAGE: usize = 512;

/// What a verification command's output is read for: its last line. The
/// end of each stream is kept, so a command that prints endlessly costs no
/// memory.
const OUTPUT_CAPS: Caps = Caps {
    stdout: Cap::tail(64 * 1024),
    stderr: Cap::tail(64 * 1024),
};

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerificationOutcome {
    /// `Successful`, `Failed`, `Error`, `Aborted` or `Inconclusive`.
    pub phase: VerificationPhase,
    /// Why, when it did not pass.
    pub message: Option<String>,
}

impl VerificationOutcome {
    /// An outcome in `phase` with an optional message.
    pub fn new(phase: VerificationPhase, message: Option<String>) -> Self {
        VerificationOutcome { phase, message }
    }
}

/// A trait object for [`Verifier`].
pub type DynVerifier = dyn Verifier;

/// Verifies the Freight a Stage holds.
///
/// # Contract
/// - `ctx` names the project and Stage, carries the Stage's Freight (the
///   verified collection), a work directory of the verifier's own (empty,
///   removed by the caller afterwards) and a cancellation token; the
///   variables are the template's arguments.
/// - Whatever the check finds is an `Ok` outcome (`Failed` when the
///   Freight does not work, `Error` when the check could not be carried
///   out); `Err` is left for problems of the host (a broken work directory).
/// - A verifier may be run many times; it keeps no state between runs.
///
/// # Wrappers
/// `Arc<T>` and `Box<T>` are verifiers too.
///
/// # Examples
/// ```
/// use async_trait::async_trait;
/// use kargo_core::engine::PromotionContext;
/// use kargo_core::pipeline::{CommandVerifier, VerificationOutcome, Verifier};
/// use kargo_core::state::VerificationPhase;
///
/// /// Passes when the Stage's Freight has an alias.
/// #[derive(Debug)]
/// struct HasAlias;
///
/// #[async_trait]
/// impl Verifier for HasAlias {
///     async fn verify(&self, ctx: &PromotionContext) -> kargo_core::Result<VerificationOutcome> {
///         let phase = if ctx.target_freight.alias.is_empty() {
///             VerificationPhase::Failed
///         } else {
///             VerificationPhase::Successful
///         };
///         Ok(VerificationOutcome::new(phase, None))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let ctx = PromotionContext::new(kargo_core::Workspace::new(dir.path()).unwrap());
/// assert_eq!(HasAlias.verify(&ctx).await.unwrap().phase, VerificationPhase::Failed);
/// let command = CommandVerifier::new(vec!["true".into()]).unwrap();
/// assert_eq!(command.verify(&ctx).await.unwrap().phase, VerificationPhase::Successful);
/// # });
/// ```
#[async_trait]
pub trait Verifier: Send + Sync + Debug + 'static {
    /// Runs the check for `ctx`.
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome>;
}

#[async_trait]
impl<T: Verifier + ?Sized> Verifier for Arc<T> {
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome> {
        (**self).verify(ctx).await
    }
}

#[async_trait]
impl<T: Verifier + ?Sized> Verifier for Box<T> {
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome> {
        (**self).verify(ctx).await
    }
}

/// Verifies by running promotion steps (e.g. an `http` check with a
/// `successExpression`): `Successful` when they succeed.
#[derive(Debug, Clone)]
pub struct StepsVerifier {
    engine: Engine,
    steps: Vec<PromotionStep>,
}

impl StepsVerifier {
    /// Runs `steps` with `engine`.
    pub fn new(engine: Engine, steps: Vec<PromotionStep>) -> Self {
        StepsVerifier { engine, steps }
    }
}

#[async_trait]
impl Verifier for StepsVerifier {
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome> {
        let state = self.engine.run(ctx, &self.steps).await?;
        let phase = match state.phase {
            PromotionPhase::Succeeded => VerificationPhase::Successful,
            PromotionPhase::Failed => VerificationPhase::Failed,
            PromotionPhase::Aborted => VerificationPhase::Aborted,
            PromotionPhase::Running | PromotionPhase::Pending => VerificationPhase::Inconclusive,
            _ => VerificationPhase::Error,
        };
        let message = match phase {
            VerificationPhase::Successful => None,
            VerificationPhase::Inconclusive => Some(format!(
                "verification step `{}` is still waiting",
                state
                    .steps
                    .last()
                    .map(|s| s.alias.as_str())
                    .unwrap_or_default()
            )),
            _ => state.message.clone(),
        };
        Ok(VerificationOutcome::new(phase, message))
    }
}

/// Verifies by running a program in the work directory: `Successful` when
/// it exits 0, `Failed` (with the last line it wrote) otherwise, `Error`
/// when it cannot be started. The context's variables are its environment.
///
/// It runs through [`process::run`]: in a process group of its own, with
/// the end of its output kept (64 KiB of each stream). Cancelling the
/// context kills the whole group, whatever the command started, and the
/// outcome is `Aborted`.
#[derive(Debug, Clone)]
pub struct CommandVerifier {
    command: Vec<String>,
}

impl CommandVerifier {
    /// Runs `command` (program first); an empty command is invalid.
    pub fn new(command: Vec<String>) -> Result<Self> {
        if command.first().is_none_or(String::is_empty) {
            return Err(Error::Invalid("verification command is empty".into()));
        }
        Ok(CommandVerifier { command })
    }
}

#[async_trait]
impl Verifier for CommandVerifier {
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome> {
        let program = &self.command[0];
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&self.command[1..])
            .current_dir(ctx.workspace.root())
            .envs(
                ctx.vars
                    .iter()
                    .map(|var| (&var.name, var.value.as_deref().unwrap_or_default())),
            );
        let finished = match process::run(cmd, None, OUTPUT_CAPS, ctx.cancel.cancelled()).await {
            Ok(finished) => finished,
            Err(Interrupted::Stopped) => {
                return Ok(VerificationOutcome::new(
                    VerificationPhase::Aborted,
                    Some(format!("`{program}` was stopped")),
                ));
            }
            Err(Interrupted::Spawn(e)) => {
                return Ok(VerificationOutcome::new(
                    VerificationPhase::Error,
                    Some(format!("cannot run `{program}`: {e}")),
                ));
            }
        };
        if finished.code == Some(0) {
            return Ok(VerificationOutcome::new(
                VerificationPhase::Successful,
                None,
            ));
        }
        let said = last_line(&finished.stderr).or_else(|| last_line(&finished.stdout));
        let status = finished
            .code
            .map_or_else(|| "was killed".to_owned(), |c| format!("exited {c}"));
        let message = match said {
            Some(line) => format!("`{program}` {status}: {line}"),
            None => format!("`{program}` {status}"),
        };
        Ok(VerificationOutcome::new(
            VerificationPhase::Failed,
            Some(message),
        ))
    }
}

/// The last non-empty line of `text`, at most [`MAX_MESSAGE`] bytes.
fn last_line(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let mut end = line.len().min(MAX_MESSAGE);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Some(line[..end].to_owned())
}

/// Runs several verifiers in order; the first that does not pass decides.
#[derive(Debug)]
pub struct AllVerifiers(Vec<(String, Box<DynVerifier>)>);

#[async_trait]
impl Verifier for AllVerifiers {
    async fn verify(&self, ctx: &PromotionContext) -> Result<VerificationOutcome> {
        for (name, verifier) in &self.0 {
            let outcome = verifier.verify(ctx).await?;
            if outcome.phase != VerificationPhase::Successful {
                let message = outcome.message.unwrap_or_default();
                return Ok(VerificationOutcome::new(
                    outcome.phase,
                    Some(format!("AnalysisTemplate `{name}`: {message}")),
                ));
            }
        }
        Ok(VerificationOutcome::new(
            VerificationPhase::Successful,
            None,
        ))
    }
}

/// How a Stage is verified, resolved from manifests.
#[derive(Debug)]
pub struct StageVerification {
    /// The checks, in the order the Stage names them.
    pub verifier: AllVerifiers,
    /// The arguments: each template's defaults, overridden by the Stage's
    /// `spec.verification.args`.
    pub args: Vec<ExpressionVariable>,
}

/// Resolves the verification of `stage` to verifiers: `None` when the
/// Stage has no `spec.verification`. An unknown template, a template with
/// both or neither of `steps` and `command`, a step kind `engine` does not
/// know, or an argument without a value is an [`Error::Invalid`] naming
/// the Stage and the template.
pub fn stage_verification(
    stage: &Stage,
    manifests: &Manifests,
    engine: &Engine,
) -> Result<Option<StageVerification>> {
    let Some(spec) = &stage.spec.verification else {
        return Ok(None);
    };
    let name = &stage.metadata.name;
    let mut verifiers = Vec::new();
    let mut args: Vec<ExpressionVariable> = Vec::new();
    for reference in &spec.analysis_templates {
        let template = manifests
            .analysis_template(&reference.name)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "Stage `{name}`: spec.verification.analysisTemplates names unknown AnalysisTemplate `{}`",
                    reference.name
                ))
            })?;
        let verifier = template_verifier(template, engine)
            .map_err(|e| Error::Invalid(format!("Stage `{name}`: {e}")))?;
        for arg in &template.spec.args {
            if !args.iter().any(|a| a.name == arg.name) {
                args.push(arg.clone());
            }
        }
        verifiers.push((reference.name.clone(), verifier));
    }
    for arg in &spec.args {
        match args.iter_mut().find(|a| a.name == arg.name) {
            Some(a) => a.value = Some(arg.value.clone()),
            None => args.push(ExpressionVariable {
                name: arg.name.clone(),
                value: Some(arg.value.clone()),
            }),
        }
    }
    if let Some(missing) = args.iter().find(|a| a.value.is_none()) {
        return Err(Error::Invalid(format!(
            "Stage `{name}`: verification argument `{}` has no value (set it in spec.verification.args)",
            missing.name
        )));
    }
    Ok(Some(StageVerification {
        verifier: AllVerifiers(verifiers),
        args,
    }))
}

/// The verifier an [`AnalysisTemplate`] describes.
pub fn template_verifier(template: &AnalysisTemplate, engine: &Engine) -> Result<Box<DynVerifier>> {
    let name = &template.metadata.name;
    let spec = &template.spec;
    match (spec.steps.is_empty(), spec.command.is_empty()) {
        (false, true) => {
            for step in &spec.steps {
                if step.task.is_some() {
                    return Err(Error::Invalid(format!(
                        "AnalysisTemplate `{name}`: spec.steps: tasks are not supported here"
                    )));
                }
                if engine.registry().get(&step.uses).is_none() {
                    return Err(Error::Invalid(format!(
                        "AnalysisTemplate `{name}`: spec.steps uses unknown step kind `{}`",
                        step.uses
                    )));
                }
            }
            Ok(Box::new(StepsVerifier::new(
                engine.clone(),
                spec.steps.clone(),
            )))
        }
        (true, false) => Ok(Box::new(CommandVerifier::new(spec.command.clone())?)),
        _ => Err(Error::Invalid(format!(
            "AnalysisTemplate `{name}`: spec needs exactly one of `steps` and `command`"
        ))),
    }
}

/// Runs `verifier` for the Stage's current Freight and records it in the
/// Stage's verification history as `id`: first `Running` (started at
/// `clock()`), then its outcome (finished at `clock()`). Returns the
/// Stage's state afterwards.
pub async fn run_verification(
    store: &dyn StateStore,
    verifier: &dyn Verifier,
    ctx: &PromotionContext,
    id: &str,
    clock: impl Fn() -> Timestamp + Send + Sync,
) -> Result<StageState> {
    let started = clock();
    let running =
        VerificationRecord::new(id, VerificationPhase::Running).with_times(Some(started), None);
    store.record_verification(&ctx.stage, running).await?;
    let outcome = match verifier.verify(ctx).await {
        Ok(outcome) => outcome,
        Err(e) => VerificationOutcome::new(VerificationPhase::Error, Some(e.to_string())),
    };
    let mut done = VerificationRecord::new(id, outcome.phase)
        .with_times(Some(started), Some(clock()))
        .with_actor("kargo");
    done.message = outcome.message;
    store.record_verification(&ctx.stage, done).await
}

#[cfg(test)]
mod tests;
