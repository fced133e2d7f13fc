use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tracing::{Instrument, info, info_span, warn};

use super::tasks::{ALIAS_SEPARATOR, alias_namespace};
use super::{Checkpoint, Engine, PromotionContext, PromotionState};
use crate::duration::GoDuration;
use crate::expr::{MetadataView, SECRET_FN, Scope, secret_function};
use crate::model::{PromotionPhase, PromotionStep, StepRecord, StepStatus};
use crate::step::{DynStep, ErrorKind, LaterStep, StepContext, StepError, StepOutcome};
use crate::time::Timestamp;
use crate::{Error, Result};

/// How long a step that returned `Running` without a retry-after waits.
const DEFAULT_RUNNING_RETRY: Duration = Duration::from_secs(10);

/// Sleeps for `duration`, or forever when there is none.
async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// What the engine does after one step.
enum Next {
    /// The step is finished (whatever its status): go on.
    Continue,
    /// The step is not finished (it waits for something, or failed and
    /// will be retried): end this engine call, the promotion `Running`,
    /// and run the step again after the given pause.
    Wait(Duration),
}

/// A step's `retry` settings, its defaults applied, and when it first
/// started (Kargo measures `retry.timeout` from then).
struct RetryPolicy {
    /// `retry.timeout`; `None`: no limit.
    timeout: Option<Duration>,
    /// `retry.errorThreshold`: this many consecutive errors end the step.
    threshold: u32,
    /// When the step first started.
    started: Timestamp,
}

impl RetryPolicy {
    fn new(step: &PromotionStep, runner: &DynStep, started: Timestamp) -> Self {
        let defaults = runner.default_retry();
        let retry = step.retry.clone().unwrap_or_default();
        let timeout = retry
            .timeout
            .map(|t| t.as_duration())
            .or(defaults.timeout)
            .filter(|t| !t.is_zero());
        let threshold = match retry.error_threshold {
            0 => defaults.error_threshold.unwrap_or(1).max(1),
            n => n,
        };
        RetryPolicy {
            timeout,
            threshold,
            started,
        }
    }

    /// The timeout, once more than it has passed since the step started.
    fn timed_out(&self) -> Option<Duration> {
        self.timeout
            .filter(|t| Timestamp::now().since(self.started) > *t)
    }

    /// How long the step has left before its timeout; `None`: no limit.
    fn remaining(&self) -> Option<Duration> {
        self.timeout
            .map(|t| t.saturating_sub(Timestamp::now().since(self.started)))
    }

    /// `pause`, shortened to end just after the timeout when that comes
    /// sooner (as Kargo requeues a waiting step at its deadline), so the
    /// next attempt is the one that finds the step timed out.
    fn clamp(&self, pause: Duration) -> Duration {
        match self.remaining() {
            Some(left) => pause.min(left.saturating_add(Duration::from_millis(1))),
            None => pause,
        }
    }
}

/// A step ready for an attempt: what [`Engine::prepare`] found.
struct Prepared {
    alias: String,
    runner: Arc<DynStep>,
    /// The evaluated config (taken by the attempt).
    config: Value,
    step_ctx: StepContext,
    policy: RetryPolicy,
}

/// How one attempt of a step ended.
enum Attempt {
    /// The step returned.
    Done(std::result::Result<StepOutcome, StepError>),
    /// The promotion was aborted while it ran (or it gave up because it
    /// was told to stop).
    Aborted,
    /// It was still running when its `retry.timeout` ended.
    TimedOut,
}

/// What [`Engine::settle`] made of an attempt.
enum Settled {
    /// The step has its status for this engine call.
    Next(Next),
    /// A retryable failure, below the error threshold and within the
    /// timeout: back off, then run the step again.
    Retry(String),
}

impl Engine {
    /// Runs `steps` from where `state` stopped until the promotion finishes
    /// or a step waits, saving `state` through `checkpoint` after every
    /// step. A state whose phase is terminal is left as it is.
    ///
    /// A step that waits (it returned `Running`) or failed with a
    /// retryable error below its `retry.errorThreshold` ends the call: the
    /// promotion is left `Running`, with [`PromotionState::retry_at`] set
    /// to when the step should run again, and the next call runs it again
    /// (at once: whether to wait for `retry_at` is the caller's choice).
    /// The engine never sleeps between attempts, so a promotion between
    /// attempts is saved, visible and can be aborted, as in Kargo.
    ///
    /// Errors are returned only for problems outside the steps: a state
    /// that does not belong to these steps, or a checkpoint that failed.
    /// Everything a step does wrong ends up in the state instead.
    pub async fn resume(
        &self,
        ctx: &PromotionContext,
        steps: &[PromotionStep],
        state: &mut PromotionState,
        checkpoint: &dyn Checkpoint,
    ) -> Result<()> {
        check_state_matches(steps, state)?;
        if state.phase.is_terminal() {
            return Ok(());
        }
        if state.steps.is_empty() {
            self.check_configs(steps)?;
        }
        // One copy per engine call, shared by the steps' contexts.
        let ctx = Arc::new(ctx.clone());
        state.phase = PromotionPhase::Running;
        state.retry_after_ms = None;
        state.retry_at = None;
        while state.current_step < steps.len() {
            let index = state.current_step;
            let step = &steps[index];
            if state.steps.len() == index {
                state.steps.push(StepRecord::new(
                    step.alias_at(index),
                    step.uses.clone(),
                    step.continue_on_error,
                ));
            }
            let span = info_span!("step", alias = %state.steps[index].alias, uses = %step.uses);
            let next = self
                .run_step(&ctx, steps, index, state)
                .instrument(span)
                .await;
            match next {
                Next::Continue => {
                    state.current_step += 1;
                    if ctx.cancel.is_cancelled() {
                        break;
                    }
                }
                Next::Wait(pause) => {
                    state.retry_after_ms = Some(pause.as_millis().try_into().unwrap_or(u64::MAX));
                    state.retry_at = Some(Timestamp::now().plus(pause));
                    state.message = state.steps[index].message.clone();
                    checkpoint.save(state).await?;
                    return Ok(());
                }
            }
            if state.current_step < steps.len() {
                checkpoint.save(state).await?;
            }
        }
        let (phase, message) = state.final_phase();
        state.phase = phase;
        state.message = message;
        checkpoint.save(state).await
    }

    /// Before a promotion starts: every step's config as written passes
    /// its step's [`Step::check_config`](crate::step::Step::check_config),
    /// or the promotion is refused with the step and field named, nothing
    /// run. (An unregistered kind is left to fail its step, as before.)
    fn check_configs(&self, steps: &[PromotionStep]) -> Result<()> {
        for (index, step) in steps.iter().enumerate() {
            let Some(runner) = self.registry.get(&step.uses) else {
                continue;
            };
            let config = step.config.clone().unwrap_or(Value::Object(Map::new()));
            runner.check_config(&config).map_err(|e| {
                Error::Invalid(format!(
                    "step `{}` ({}): {e}",
                    step.alias_at(index),
                    step.uses
                ))
            })?;
        }
        Ok(())
    }

    /// Runs one attempt of a step, in its four phases: [`prepare`]
    /// (skip or not, config, context), [`attempt`] (run it, within its
    /// timeout, until done or aborted), [`settle`] (record what it did)
    /// and, for a retryable failure, [`backoff`] (when to try again).
    ///
    /// [`prepare`]: Engine::prepare
    /// [`attempt`]: Engine::attempt
    /// [`settle`]: Engine::settle
    /// [`backoff`]: Engine::backoff
    async fn run_step(
        &self,
        ctx: &Arc<PromotionContext>,
        steps: &[PromotionStep],
        index: usize,
        state: &mut PromotionState,
    ) -> Next {
        let mut prepared = match self.prepare(ctx, steps, index, state).await {
            Ok(prepared) => prepared,
            Err(next) => return next,
        };
        let config = std::mem::take(&mut prepared.config);
        let attempt = self
            .attempt(ctx, &prepared, config, &mut state.steps[index])
            .await;
        match self.settle(&prepared, index, state, attempt) {
            Settled::Next(next) => next,
            Settled::Retry(error) => self.backoff(&prepared, &mut state.steps[index], &error),
        }
    }

    /// Everything before running the step: an aborted promotion, the
    /// metadata its expressions read, its `if` (only before it first
    /// started), its kind, its retry policy, its evaluated config and its
    /// context. `Err` when the step got its status here (aborted,
    /// skipped, or errored because one of those failed).
    async fn prepare(
        &self,
        ctx: &Arc<PromotionContext>,
        steps: &[PromotionStep],
        index: usize,
        state: &mut PromotionState,
    ) -> std::result::Result<Prepared, Next> {
        let step = &steps[index];
        let alias = state.steps[index].alias.clone();
        let end = |state: &mut PromotionState, status, message| {
            state.steps[index].finish(status, message);
            Next::Continue
        };
        if ctx.cancel.is_cancelled() {
            return Err(end(
                state,
                StepStatus::Aborted,
                Some("the promotion was aborted".into()),
            ));
        }
        let metadata = match self.load_metadata(ctx, step, &alias, state).await {
            Ok(metadata) => metadata,
            Err(message) => {
                let message = format!("step `{alias}`: {message}");
                return Err(end(state, StepStatus::Errored, Some(message)));
            }
        };
        if state.steps[index].started_at.is_none() {
            match self.should_skip(ctx, step, &alias, state, metadata.clone()) {
                Ok(false) => {}
                Ok(true) => return Err(end(state, StepStatus::Skipped, None)),
                Err(message) => {
                    let message = format!(
                        "error checking whether step `{alias}` should be skipped: {message}"
                    );
                    return Err(end(state, StepStatus::Errored, Some(message)));
                }
            }
        }
        let Some(runner) = self.registry.get(&step.uses) else {
            let message = format!(
                "step `{alias}`: step kind `{}` is not registered",
                step.uses
            );
            return Err(end(state, StepStatus::Errored, Some(message)));
        };
        let started = *state.steps[index]
            .started_at
            .get_or_insert_with(Timestamp::now);
        let policy = RetryPolicy::new(step, &*runner, started);
        let scope = match self.step_scope(ctx, step, &alias, state, metadata) {
            Ok(scope) => scope,
            Err(message) => {
                let message = format!("step `{alias}`: {message}");
                return Err(end(state, StepStatus::Errored, Some(message)));
            }
        };
        let raw_config = step
            .config
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let config = match self.evaluator.eval_config(&raw_config, &scope) {
            Ok(config) => config,
            Err(e) => {
                let message = format!("step `{alias}`: cannot evaluate config: {e}");
                return Err(end(state, StepStatus::Errored, Some(message)));
            }
        };
        let mut step_ctx = StepContext::in_promotion(Arc::clone(ctx));
        step_ctx.alias = alias.clone();
        step_ctx.attempt = state.steps[index].attempts;
        step_ctx.evaluator = self.evaluator.clone();
        step_ctx.scope = scope;
        step_ctx.later_steps = steps[index + 1..]
            .iter()
            .map(|s| {
                let capabilities = self
                    .registry
                    .get(&s.uses)
                    .map(|step| step.capabilities())
                    .unwrap_or_default();
                LaterStep::new(s.uses.clone(), s.config.clone().unwrap_or(Value::Null))
                    .with_capabilities(capabilities)
            })
            .collect();
        Ok(Prepared {
            alias,
            runner,
            config,
            step_ctx,
            policy,
        })
    }

    /// Runs the step once with `config`. A step still running when its
    /// `retry.timeout` ends is stopped, and so is one running when the
    /// promotion is aborted (its future is dropped, which ends its
    /// processes).
    async fn attempt(
        &self,
        ctx: &PromotionContext,
        prepared: &Prepared,
        config: Value,
        record: &mut StepRecord,
    ) -> Attempt {
        record.attempts += 1;
        info!(attempt = record.attempts, "step started");
        let deadline = prepared.policy.remaining();
        let attempt = tokio::select! {
            result = prepared.runner.run(&prepared.step_ctx, config) => Attempt::Done(result),
            () = ctx.cancel.cancelled() => Attempt::Aborted,
            () = sleep_or_forever(deadline) => Attempt::TimedOut,
        };
        match attempt {
            // It gave up because it was told to stop.
            Attempt::Done(Err(_)) if ctx.cancel.is_cancelled() => Attempt::Aborted,
            attempt => attempt,
        }
    }

    /// Records what an attempt did, with Kargo's rules: outputs saved; a
    /// `Running` step waits (unless past its timeout); input errors fail
    /// the step, terminal ones error it; a retryable error (or an
    /// `Errored` outcome) counts towards `retry.errorThreshold` and, below
    /// it and within the timeout, is retried.
    fn settle(
        &self,
        prepared: &Prepared,
        index: usize,
        state: &mut PromotionState,
        attempt: Attempt,
    ) -> Settled {
        let alias = &prepared.alias;
        let policy = &prepared.policy;
        let end = |record: &mut StepRecord, status, message| {
            record.finish(status, message);
            Settled::Next(Next::Continue)
        };
        let result = match attempt {
            Attempt::Done(result) => result,
            Attempt::Aborted => {
                let message = format!("step `{alias}` was aborted");
                return end(&mut state.steps[index], StepStatus::Aborted, Some(message));
            }
            Attempt::TimedOut => {
                let message = format!(
                    "step `{alias}` timed out after {} and was stopped",
                    GoDuration::new(policy.timeout.unwrap_or_default())
                );
                return end(&mut state.steps[index], StepStatus::Errored, Some(message));
            }
        };
        let error = match result {
            Ok(outcome) => {
                let StepOutcome {
                    status,
                    output,
                    message,
                    retry_after,
                    ..
                } = outcome;
                state.steps[index].error_count = 0;
                if let Some(ns) = alias_namespace(alias)
                    .filter(|_| prepared.runner.capabilities().task_output_propagation)
                {
                    let entry = state
                        .outputs
                        .entry(ns.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(map) = entry {
                        map.extend(output.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                state.outputs.insert(alias.clone(), Value::Object(output));
                let record = &mut state.steps[index];
                match status {
                    StepStatus::Running => {
                        if let Some(t) = policy.timed_out() {
                            let message =
                                format!("step `{alias}` timed out after {}", GoDuration::new(t));
                            return end(record, StepStatus::Errored, Some(message));
                        }
                        record.status = Some(StepStatus::Running);
                        record.message = message;
                        let pause = retry_after.unwrap_or(DEFAULT_RUNNING_RETRY);
                        return Settled::Next(Next::Wait(policy.clamp(pause)));
                    }
                    StepStatus::Errored => message.unwrap_or_else(|| "no details provided".into()),
                    status => return end(record, status, message),
                }
            }
            Err(e) if e.kind() == ErrorKind::Failed => {
                return end(
                    &mut state.steps[index],
                    StepStatus::Failed,
                    Some(e.to_string()),
                );
            }
            Err(e) if !e.is_retryable() => {
                return end(
                    &mut state.steps[index],
                    StepStatus::Errored,
                    Some(e.to_string()),
                );
            }
            Err(e) => e.to_string(),
        };
        // A retryable failure.
        let record = &mut state.steps[index];
        record.error_count += 1;
        let threshold = policy.threshold;
        if record.error_count >= threshold {
            let message = if threshold > 1 {
                format!("step `{alias}` met error threshold of {threshold}: {error}")
            } else {
                error
            };
            return end(record, StepStatus::Errored, Some(message));
        }
        if let Some(t) = policy.timed_out() {
            let message = format!(
                "step `{alias}` timed out after {}: {error}",
                GoDuration::new(t)
            );
            return end(record, StepStatus::Errored, Some(message));
        }
        Settled::Retry(error)
    }

    /// After a retryable failure below the threshold: the step stays
    /// `Running` with the error and "step will be retried" (Kargo's
    /// message), and is run again after the engine's
    /// [`retry_backoff`](super::EngineOptions::retry_backoff) for its
    /// error count, or at its timeout if that comes first. Nothing sleeps
    /// here: the pause is the caller's to keep.
    fn backoff(&self, prepared: &Prepared, record: &mut StepRecord, error: &str) -> Next {
        let pause = prepared
            .policy
            .clamp(self.options.retry_backoff.delay(record.error_count));
        warn!(
            error = %error,
            errors = record.error_count,
            threshold = prepared.policy.threshold,
            retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            "step failed; it will be retried"
        );
        record.status = Some(StepStatus::Running);
        record.message = Some(format!("{error}; step will be retried"));
        Next::Wait(pause)
    }

    /// Kargo's skip rule: without `if`, skip after an earlier failure;
    /// with `if`, skip when it evaluates to `false`.
    fn should_skip(
        &self,
        ctx: &PromotionContext,
        step: &PromotionStep,
        alias: &str,
        state: &PromotionState,
        metadata: Option<Arc<MetadataView>>,
    ) -> Result<bool, String> {
        if step.if_.trim().is_empty() {
            return Ok(state.has_failures());
        }
        let scope = self.step_scope(ctx, step, alias, state, metadata)?;
        match self.evaluator.eval_template(&step.if_, &scope) {
            Ok(Value::Bool(run)) => Ok(!run),
            Ok(other) => Err(format!(
                "`if: {}` must evaluate to a boolean, got {}",
                step.if_,
                json_type(&other)
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The expression scope of a step: `ctx`, evaluated `vars`, `outputs`,
    /// `task.outputs`, statuses and Freight.
    pub(super) fn step_scope(
        &self,
        ctx: &PromotionContext,
        step: &PromotionStep,
        alias: &str,
        state: &PromotionState,
        metadata: Option<Arc<MetadataView>>,
    ) -> Result<Scope, String> {
        let namespace = alias_namespace(alias).map(str::to_owned);
        let mut scope = Scope {
            ctx: ctx_value(ctx, alias),
            freight: ctx.freight.clone(),
            metadata: metadata.clone(),
            ..Scope::default()
        };
        scope.functions.insert(SECRET_FN, secret_function(metadata));
        // Promotion variables see only `ctx` and earlier variables.
        for var in &ctx.vars {
            let value = self
                .evaluator
                .eval_template(var.value.as_deref().unwrap_or_default(), &scope)
                .map_err(|e| format!("variable `{}`: {e}", var.name))?;
            scope.vars.insert(var.name.clone(), value);
        }
        scope.outputs = state.outputs.clone();
        scope.task_outputs = namespace.as_deref().map(|ns| {
            let prefix = format!("{ns}{ALIAS_SEPARATOR}");
            state
                .outputs
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(&prefix)
                        .map(|inner| (inner.to_owned(), v.clone()))
                })
                .collect()
        });
        scope.step_statuses = state
            .steps
            .iter()
            .filter_map(|r| r.status.map(|s| (r.alias.clone(), s)))
            .collect();
        scope.failed = state.has_failures();
        scope.namespace = namespace;
        for var in &step.vars {
            let value = self
                .evaluator
                .eval_template(var.value.as_deref().unwrap_or_default(), &scope)
                .map_err(|e| format!("variable `{}`: {e}", var.name))?;
            scope.vars.insert(var.name.clone(), value);
        }
        Ok(scope)
    }
}

fn ctx_value(ctx: &PromotionContext, alias: &str) -> Value {
    json!({
        "uiBaseUrl": ctx.ui_base_url,
        "project": ctx.project,
        "stage": ctx.stage,
        "promotion": ctx.promotion,
        "targetFreight": {
            "name": ctx.target_freight.name,
            "alias": ctx.target_freight.alias,
            "origin": { "name": ctx.target_freight.origin.name },
        },
        "meta": {
            "promotion": { "actor": ctx.actor, "rollback": ctx.rollback },
            "step": { "alias": alias },
        },
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_state_matches(steps: &[PromotionStep], state: &PromotionState) -> Result<()> {
    if state.steps.len() > steps.len() || state.current_step > steps.len() {
        return Err(Error::Precondition(format!(
            "saved promotion state has {} steps but the promotion has {}",
            state.steps.len(),
            steps.len()
        )));
    }
    for (i, record) in state.steps.iter().enumerate() {
        let alias = steps[i].alias_at(i);
        if record.alias != alias || record.uses != steps[i].uses {
            return Err(Error::Precondition(format!(
                "saved promotion state does not match the steps: step {} is `{}` ({}) in the state but `{}` ({}) now",
                i + 1,
                record.alias,
                record.uses,
                alias,
                steps[i].uses
            )));
        }
    }
    Ok(())
}
