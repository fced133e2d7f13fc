//! `kargo`: a command line over the kargo-rs library.
//!
//! - `kargo run --steps FILE [--workdir DIR] [--freight FILE]... [--var NAME=VALUE]...
//!   [--stage NAME] [--project NAME] [--tasks DIR] [--state FILE] [--custom-steps FILE]...`
//!   runs one promotion and
//!   prints one JSON object: `{"phase", "steps": [{alias, uses, status, message}], "state"}`.
//!   Exit codes: 0 Succeeded, 1 ran and did not succeed, 2 unusable input,
//!   3 waiting (`Running`; run the same command again to resume).
//! - `kargo freight-id FILE` prints the ID of the Freight in FILE.
//! - `kargo discover --manifests DIR [--warehouse NAME]` prints the Freight
//!   the Warehouses' subscriptions find, as a JSON array.
//! - `kargo pr list|show|approve|merge|close --repo URL [ID] [--method M]`
//!   acts on pull requests of the local provider (see `pr.rs`).
//! - Pipeline commands, each with `--manifests DIR --state DB [--workdir DIR]`:
//!   `pipeline [--once]`, `promote STAGE [--freight ID | --origin WAREHOUSE]`,
//!   `approve FREIGHT --stage STAGE`, `abort PROMOTION`, `verify STAGE`, `status`,
//!   `history STAGE`, `freight`; tables, or JSON with `--json`.

mod discover;
mod input;
mod pipeline;
mod pr;
mod project;
mod promote;
mod run;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: the promotion succeeded.
const EXIT_SUCCEEDED: u8 = 0;
/// Exit code: the promotion ran and did not succeed.
const EXIT_NOT_SUCCEEDED: u8 = 1;
/// Exit code: the input is unusable; nothing was changed.
const EXIT_INVALID_INPUT: u8 = 2;
/// Exit code: the promotion waits (a step is `Running`); run again to resume.
const EXIT_RUNNING: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "kargo",
    version,
    about = "GitOps promotion beyond Kubernetes, on Kargo's model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one promotion from a steps file or a Stage manifest.
    Run(run::RunArgs),
    /// Print the ID of a piece of Freight.
    FreightId {
        /// A Kargo Freight document (YAML or JSON).
        file: std::path::PathBuf,
    },
    /// Discover the newest artifacts of each Warehouse and print the Freight.
    Discover(discover::DiscoverArgs),
    /// Review pull requests of the local provider: list, show, approve, merge, close.
    Pr(pr::PrArgs),
    /// Run the pipeline: discover, auto-promote, verify; until Ctrl-C.
    Pipeline(pipeline::PipelineArgs),
    /// Promote Freight into a Stage.
    Promote(promote::PromoteArgs),
    /// Approve Freight for a Stage.
    Approve(promote::ApproveArgs),
    /// Abort a queued promotion.
    Abort(promote::AbortArgs),
    /// Verify a Stage's current Freight again.
    Verify(promote::VerifyArgs),
    /// Show every Stage's Freight, promotion and verification.
    Status(status::ViewArgs),
    /// Show a Stage's promotions and verifications.
    History(status::HistoryArgs),
    /// Show every Freight and where it is.
    Freight(status::ViewArgs),
}

/// An error that makes the input unusable: reported on one line, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct InputError(String);

/// The credentials in `files` of Kargo credential Secrets (`--credentials`).
fn load_credentials(
    files: &[std::path::PathBuf],
) -> Result<std::sync::Arc<dyn kargo_core::credentials::CredentialsProvider>, InputError> {
    let mut credentials = kargo_core::credentials::StaticCredentials::new();
    for file in files {
        let shown = file.display().to_string();
        let text =
            std::fs::read_to_string(file).map_err(|e| InputError(format!("{shown}: {e}")))?;
        credentials = credentials
            .with_secrets(&text, &shown)
            .map_err(|e| InputError(e.to_string()))?;
    }
    Ok(std::sync::Arc::new(credentials))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KARGO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_INVALID_INPUT
            } else {
                EXIT_SUCCEEDED
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::FreightId { file } => freight_id(&file),
        Command::Discover(args) => discover::discover(args),
        Command::Pr(args) => pr::pr(args),
        Command::Pipeline(args) => pipeline::pipeline(args),
        Command::Promote(args) => promote::promote(args),
        Command::Approve(args) => promote::approve(args),
        Command::Abort(args) => promote::abort(args),
        Command::Verify(args) => promote::verify(args),
        Command::Status(args) => status::status(args),
        Command::History(args) => status::history(args),
        Command::Freight(args) => status::freight(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kargo: {e}");
            ExitCode::from(EXIT_INVALID_INPUT)
        }
    }
}

fn freight_id(file: &std::path::Path) -> Result<u8, InputError> {
    let freight = input::load_freight(file)?;
    let [freight] = <[_; 1]>::try_from(freight).map_err(|docs| {
        InputError(format!(
            "{}: expected one Freight document, found {}",
            file.display(),
            docs.len()
        ))
    })?;
    println!("{}", freight.id());
    Ok(EXIT_SUCCEEDED)
}
