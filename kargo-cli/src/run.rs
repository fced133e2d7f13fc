//! `kargo run`: one promotion, resumable.

use std::path::PathBuf;

use clap::Args;
use kargo_core::model::{ExpressionVariable, PromotionPhase};
use kargo_runtime::runner::{RunRequest, result_json};
use tokio_util::sync::CancellationToken;

use crate::{EXIT_NOT_SUCCEEDED, EXIT_RUNNING, EXIT_SUCCEEDED, InputError};

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
    let mut request = RunRequest::new(args.steps);
    request.workdir = args.workdir;
    request.freight = args.freight;
    request.vars = args
        .vars
        .iter()
        .map(|v| parse_var(v))
        .collect::<Result<_, _>>()?;
    request.stage = args.stage;
    request.project = args.project;
    request.tasks = args.tasks;
    request.state_file = args.state;
    request.custom_steps = args.custom_steps;
    request.credentials = args.credentials;
    request.actor = crate::project::person();
    let cancel = CancellationToken::new();
    let outcome = crate::runtime()?.block_on(async {
        let interrupt = cancel.clone();
        tokio::spawn(async move {
            crate::stop_signal().await;
            interrupt.cancel();
        });
        kargo_runtime::runner::run(request, cancel).await
    })?;
    println!("{}", result_json(&outcome.state));
    Ok(match outcome.state.phase {
        PromotionPhase::Succeeded => EXIT_SUCCEEDED,
        PromotionPhase::Running => {
            let state = &outcome.state;
            let why = state.message.as_deref().unwrap_or("a step is running");
            // A step retried after an error is tried again by the next run at
            // once, whatever its backoff: a person rerunning by hand means it.
            let again = if state.is_retrying() {
                "run the same command again to retry it"
            } else {
                "run the same command again to resume it"
            };
            match &outcome.kept_workdir {
                Some(kept) => eprintln!(
                    "kargo: promotion waits: {why}; {again} with --workdir {} (the state is in {})",
                    kept.display(),
                    outcome.state_file.display()
                ),
                None => eprintln!("kargo: promotion waits: {why}; {again}"),
            }
            EXIT_RUNNING
        }
        _ => EXIT_NOT_SUCCEEDED,
    })
}
