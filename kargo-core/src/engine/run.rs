use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tracing::{Instrument, info, info_span, warn};

use super::tasks::{ALIAS_SEPARATOR, alias_namespace};
use super::{Checkpoint, Engine, PromotionContext, PromotionState};
use crate::expr::{MetadataView, Scope};
use crate::model::StepRecord;
use crate::model::{PromotionPhase, PromotionStep, StepStatus};
use crate::step::{ErrorKind, LaterStep, StepContext, StepOutcome};
use crate::time::Timestamp;
use crate::{Error, Result};

/// How long a step that returned `Running` without a retry-after waits.
const DEFAULT_RUNNING_RETRY: Duration = Duration::from_secs(10);

/// How one attempt of a step ended.
enum Attempt<T> {
    Done(T),
    Cancelled,
    TimedOut,
}

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
    /// The step waits: stop here and resume after the given pause.
    Wait(Duration),
}

impl Engine {
    /// Runs `steps` from where `state` stopped until the promotion finishes
    /// or a step waits, saving `state` through `checkpoint` after every
    /// step. A state whose phase is terminal is left as it is.
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
        state.phase = PromotionPhase::Running;
        state.retry_after_ms = None;
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
                .run_step(ctx, steps, index, state)
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

    /// Runs one step until it finishes or waits, retrying retryable errors
    /// in place.
    async fn run_step(
        &self,
        ctx: &PromotionContext,
        steps: &[PromotionStep],
        index: usize,
        state: &mut PromotionState,
    ) -> Next {
        let step = &steps[index];
        let alias = state.steps[index].alias.clone();
        if ctx.cancel.is_cancelled() {
            state.steps[index].finish(
                StepStatus::Aborted,
                Some("the promotion was aborted".into()),
            );
            return Next::Continue;
        }
        let metadata = match self.load_metadata(ctx, step, &alias, state).await {
            Ok(metadata) => metadata,
            Err(message) => {
                state.steps[index].finish(
                    StepStatus::Errored,
                    Some(format!("step `{alias}`: {message}")),
                );
                return Next::Continue;
            }
        };
        if state.steps[index].started_at.is_none() {
            match self.should_skip(ctx, step, &alias, state, metadata.clone()) {
                Ok(false) => {}
                Ok(true) => {
                    state.steps[index].finish(StepStatus::Skipped, None);
                    return Next::Continue;
                }
                Err(message) => {
                    state.steps[index].finish(
                        StepStatus::Errored,
                        Some(format!(
                            "error checking whether step `{alias}` should be skipped: {message}"
                        )),
                    );
                    return Next::Continue;
                }
            }
        }
        let Some(runner) = self.registry.get(&step.uses) else {
            state.steps[index].finish(
                StepStatus::Errored,
                Some(format!(
                    "step `{alias}`: step kind `{}` is not registered",
                    step.uses
                )),
            );
            return Next::Continue;
        };
        let started = *state.steps[index]
            .started_at
            .get_or_insert_with(Timestamp::now);
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
        let timed_out = || timeout.filter(|t| Timestamp::now().since(started) > *t);
        let mut backoff = self.options.retry_backoff.delays();

        loop {
            let scope = match self.step_scope(ctx, step, &alias, state, metadata.clone()) {
                Ok(scope) => scope,
                Err(message) => {
                    state.steps[index].finish(
                        StepStatus::Errored,
                        Some(format!("step `{alias}`: {message}")),
                    );
                    return Next::Continue;
                }
            };
            let raw_config = step
                .config
                .clone()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let config = match self.evaluator.eval_config(&raw_config, &scope) {
                Ok(config) => config,
                Err(e) => {
                    state.steps[index].finish(
                        StepStatus::Errored,
                        Some(format!("step `{alias}`: cannot evaluate config: {e}")),
                    );
                    return Next::Continue;
                }
            };
            let record = &mut state.steps[index];
            let mut step_ctx = StepContext::new(ctx.workspace.clone())
                .with_names(&ctx.project, &ctx.stage, &ctx.promotion)
                .with_freight(ctx.freight.clone())
                .with_credentials(ctx.credentials.clone())
                .with_cancel(ctx.cancel.child_token());
            step_ctx.alias = alias.clone();
            step_ctx.attempt = record.attempts;
            step_ctx.evaluator = self.evaluator.clone();
            step_ctx.scope = scope;
            step_ctx.store = ctx.store.clone();
            step_ctx.later_steps = steps[index + 1..]
                .iter()
                .map(|s| LaterStep {
                    uses: s.uses.clone(),
                    config: s.config.clone().unwrap_or(Value::Null),
                })
                .collect();
            record.attempts += 1;
            info!(attempt = record.attempts, "step started");

            // A step still running when its `retry.timeout` ends is stopped
            // (its future is dropped, which ends its processes).
            let deadline = timeout.map(|t| t.saturating_sub(Timestamp::now().since(started)));
            let attempt = tokio::select! {
                result = runner.run(&step_ctx, config) => Attempt::Done(result),
                () = ctx.cancel.cancelled() => Attempt::Cancelled,
                () = sleep_or_forever(deadline) => Attempt::TimedOut,
            };
            let result = match attempt {
                Attempt::Done(result) if result.is_ok() || !ctx.cancel.is_cancelled() => result,
                // Cancelled, or gave up because it was told to stop.
                Attempt::Done(_) | Attempt::Cancelled => {
                    record.finish(
                        StepStatus::Aborted,
                        Some(format!("step `{alias}` was aborted")),
                    );
                    return Next::Continue;
                }
                Attempt::TimedOut => {
                    record.finish(
                        StepStatus::Errored,
                        Some(format!(
                            "step `{alias}` timed out after {} and was stopped",
                            crate::duration::GoDuration::new(timeout.unwrap_or_default())
                        )),
                    );
                    return Next::Continue;
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
                    record.error_count = 0;
                    if let Some(ns) = alias_namespace(&alias)
                        .filter(|_| runner.capabilities().task_output_propagation)
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
                            if let Some(t) = timed_out() {
                                record.finish(
                                    StepStatus::Errored,
                                    Some(format!(
                                        "step `{alias}` timed out after {}",
                                        crate::duration::GoDuration::new(t)
                                    )),
                                );
                                return Next::Continue;
                            }
                            record.status = Some(StepStatus::Running);
                            record.message = message;
                            return Next::Wait(retry_after.unwrap_or(DEFAULT_RUNNING_RETRY));
                        }
                        StepStatus::Errored => {
                            message.unwrap_or_else(|| "no details provided".into())
                        }
                        status => {
                            record.finish(status, message);
                            return Next::Continue;
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::Failed => {
                    record.finish(StepStatus::Failed, Some(e.to_string()));
                    return Next::Continue;
                }
                Err(e) if !e.is_retryable() => {
                    record.finish(StepStatus::Errored, Some(e.to_string()));
                    return Next::Continue;
                }
                Err(e) => e.to_string(),
            };
            // A retryable failure.
            let record = &mut state.steps[index];
            record.error_count += 1;
            if record.error_count >= threshold {
                let message = if threshold > 1 {
                    format!("step `{alias}` met error threshold of {threshold}: {error}")
                } else {
                    error
                };
                record.finish(StepStatus::Errored, Some(message));
                return Next::Continue;
            }
            if let Some(t) = timed_out() {
                record.finish(
                    StepStatus::Errored,
                    Some(format!(
                        "step `{alias}` timed out after {}: {error}",
                        crate::duration::GoDuration::new(t)
                    )),
                );
                return Next::Continue;
            }
            warn!(error = %error, errors = record.error_count, threshold, "step failed; retrying");
            record.status = Some(StepStatus::Running);
            record.message = Some(format!("{error}; step will be retried"));
            let pause = backoff.next().unwrap_or(self.options.retry_backoff.cap);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = ctx.cancel.cancelled() => {
                    record.finish(StepStatus::Aborted, Some(format!("step `{alias}` was aborted")));
                    return Next::Continue;
                }
            }
        }
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
            metadata,
            ..Scope::default()
        };
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
