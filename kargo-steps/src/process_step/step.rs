use std::ffi::OsString;

use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome};
use serde_json::Value;

use super::{
    ALWAYS_PASSED, DEFAULT_RETRY_AFTER, EXIT_RETRYABLE, ProcessStep, Report, ReportStatus,
};
use kargo_core::process::{self, Cap, Caps, Interrupted};

/// The largest result read from standard output or `KARGO_OUTPUT`.
const RESULT_CAP: usize = 4 << 20;
/// How much of the end of standard error is kept for the message.
const STDERR_TAIL: usize = 2048;

impl ProcessStep {
    /// The command's environment: `PATH`, the listed host variables, the
    /// `KARGO_*` context.
    fn environment(&self, ctx: &StepContext, output: &std::path::Path) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = ALWAYS_PASSED
            .iter()
            .map(|name| (*name).to_owned())
            .chain(self.env.iter().cloned())
            .filter_map(|name| std::env::var_os(&name).map(|value| (name, value)))
            .collect();
        let kargo = [
            ("KARGO_STEP", OsString::from(&self.kind)),
            ("KARGO_ALIAS", ctx.alias.clone().into()),
            ("KARGO_PROJECT", ctx.project.clone().into()),
            ("KARGO_STAGE", ctx.stage.clone().into()),
            ("KARGO_PROMOTION", ctx.promotion.clone().into()),
            ("KARGO_ATTEMPT", ctx.attempt.to_string().into()),
            ("KARGO_WORKDIR", ctx.workspace.root().as_os_str().to_owned()),
            ("KARGO_OUTPUT", output.as_os_str().to_owned()),
        ];
        env.extend(kargo.into_iter().map(|(k, v)| (k.to_owned(), v)));
        env
    }

    /// The message of a failed command: its exit and the end of stderr.
    fn failure(&self, code: Option<i32>, stderr: &str) -> String {
        let exit = match code {
            Some(code) => format!("exited with code {code}"),
            None => "was killed by a signal".to_owned(),
        };
        let tail = stderr.trim_end();
        if tail.is_empty() {
            format!("{}: `{}` {exit}", self.kind, self.program.display())
        } else {
            format!(
                "{}: `{}` {exit}; standard error ends with:\n{tail}",
                self.kind,
                self.program.display()
            )
        }
    }

    /// Turns the command's result text into an outcome.
    fn outcome(&self, text: &str, source: &str) -> Result<StepOutcome, StepError> {
        if text.trim().is_empty() {
            return Ok(StepOutcome::succeeded());
        }
        let report: Report = serde_json::from_str(text).map_err(|e| {
            StepError::failed(format!(
                "{}: the result in {source} is not a valid report \
                 ({{status, outputs, message, retryAfter}})",
                self.kind
            ))
            .with_source(e)
        })?;
        let outcome = match report.status {
            ReportStatus::Succeeded => StepOutcome::succeeded(),
            ReportStatus::Skipped => StepOutcome::skipped(),
            ReportStatus::Running => StepOutcome::running(
                report
                    .retry_after
                    .map_or(DEFAULT_RETRY_AFTER, GoDuration::as_duration),
            ),
            ReportStatus::Failed => StepOutcome::failed(
                report
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("{} reported failure", self.kind)),
            ),
        };
        let outcome = outcome.with_outputs(report.outputs);
        Ok(match report.message {
            Some(message) => outcome.with_message(message),
            None => outcome,
        })
    }
}

#[async_trait]
impl Step for ProcessStep {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let kind = &self.kind;
        let input = match config {
            Value::Null => b"{}".to_vec(),
            Value::Object(_) => serde_json::to_vec(&config).map_err(|e| {
                StepError::failed(format!("{kind}: cannot encode the config")).with_source(e)
            })?,
            _ => {
                return Err(StepError::failed(format!(
                    "invalid {kind} config: expected an object"
                )));
            }
        };
        let scratch = tempfile::Builder::new()
            .prefix("kargo-step-")
            .tempdir()
            .map_err(|e| {
                StepError::terminal(format!("{kind}: cannot create a scratch directory"))
                    .with_source(e)
            })?;
        let output_path = scratch.path().join("output.json");

        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(ctx.workspace.root())
            .env_clear()
            .envs(self.environment(ctx, &output_path));
        tracing::debug!(kind = %kind, program = %self.program.display(), "running custom step");
        let caps = Caps {
            stdout: Cap::head(RESULT_CAP),
            stderr: Cap::tail(STDERR_TAIL),
        };
        let timeout = tokio::time::sleep(self.timeout);
        tokio::pin!(timeout);
        let mut timed_out = false;
        let stop = async {
            tokio::select! {
                () = &mut timeout => timed_out = true,
                () = ctx.cancel.cancelled() => {}
            }
        };
        let finished = match process::run(cmd, Some(input), caps, stop).await {
            Ok(finished) => finished,
            Err(Interrupted::Spawn(e)) => {
                return Err(StepError::terminal(format!(
                    "{kind}: cannot run `{}`",
                    self.program.display()
                ))
                .with_source(e));
            }
            Err(Interrupted::Stopped) if timed_out => {
                return Err(StepError::retryable(format!(
                    "{kind}: `{}` did not finish within {} and was killed",
                    self.program.display(),
                    GoDuration::new(self.timeout)
                )));
            }
            Err(Interrupted::Stopped) => {
                return Err(StepError::terminal(format!("{kind}: cancelled")));
            }
        };
        match finished.code {
            Some(0) => {}
            Some(EXIT_RETRYABLE) => {
                return Err(StepError::retryable(
                    self.failure(finished.code, &finished.stderr),
                ));
            }
            // The command's own verdict, as the protocol says: the step
            // fails (as Terraform's failing command does).
            code => return Err(StepError::failed(self.failure(code, &finished.stderr))),
        }
        let written = match tokio::fs::read(&output_path).await {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    StepError::terminal(format!("{kind}: cannot read KARGO_OUTPUT")).with_source(e),
                );
            }
        };
        match written {
            Some(bytes) if bytes.len() > RESULT_CAP => Err(StepError::failed(format!(
                "{kind}: the result in KARGO_OUTPUT exceeds {RESULT_CAP} bytes"
            ))),
            Some(bytes) => self.outcome(&String::from_utf8_lossy(&bytes), "KARGO_OUTPUT"),
            None => self.outcome(&finished.stdout, "standard output"),
        }
    }
}
