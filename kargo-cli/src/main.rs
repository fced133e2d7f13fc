//! `kargo`: the command line over the kargo-rs library. Each command
//! parses its arguments, makes one call into `kargo-runtime` (or a
//! provider), and prints.
//!
//! - `kargo run --steps FILE [--workdir DIR] [--freight FILE]... [--var NAME=VALUE]...
//!   [--stage NAME] [--project NAME] [--tasks DIR] [--state FILE] [--custom-steps FILE]...`
//!   runs one promotion and prints one JSON object:
//!   `{"phase", "steps": [{alias, uses, status, message}], "state"}`.
//! - `kargo freight-id FILE` prints the ID of the Freight in FILE.
//! - `kargo discover --manifests DIR [--warehouse NAME]` prints the Freight
//!   the Warehouses' subscriptions find, as a JSON array.
//! - `kargo pr list|show|approve|merge|close --repo URL [ID] [--method M]`
//!   acts on pull requests of the local provider.
//! - Pipeline commands, each with `--manifests DIR --state DB`:
//!   `pipeline [--once]`, `promote STAGE [--freight ID | --origin WAREHOUSE]`,
//!   `approve FREIGHT --stage STAGE`, `abort PROMOTION`, `verify STAGE`,
//!   `status`, `history STAGE`, `freight`; tables, or JSON with `--json`.
//! - `kargo serve --manifests DIR --state DB [--listen ADDR] [--auth FILE]`
//!   runs the pipeline and serves Kargo's REST API over it.
//!
//! Exit codes: 0 succeeded, 1 ran and did not succeed, 2 unusable input
//! (one line on stderr, nothing changed), 3 waiting (run again to resume).

mod discover;
mod pipeline;
mod pr;
mod project;
mod promote;
mod run;
mod serve;
mod status;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: the promotion succeeded.
const EXIT_SUCCEEDED: u8 = 0;
/// Exit code: the promotion ran and did not succeed.
const EXIT_NOT_SUCCEEDED: u8 = 1;
/// Exit code: the input is unusable; nothing was changed.
const EXIT_INVALID_INPUT: u8 = 2;
/// Exit code: the promotion waits (a step is `Running`); run again to resume.
const EXIT_RUNNING: u8 = 3;

/// Environment variable: the log filter (`tracing` directives, e.g.
/// `debug` or `kargo_git=debug`).
const LOG_ENV: &str = "KARGO_LOG";
/// The log filter without `KARGO_LOG`: warnings, and the progress of
/// promotions, steps, discovery and pushes.
const DEFAULT_LOG: &str = "warn,kargo_runtime=info,kargo_core::engine=info,kargo_git::push=info";

#[derive(Debug, Parser)]
#[command(
    name = "kargo",
    version,
    about = "GitOps promotion beyond Kubernetes, on Kargo's model"
)]
struct Cli {
    /// How progress and log lines on stderr are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Lines for a person, with timestamps (colour on a terminal only).
    Text,
    /// One JSON object per line.
    Json,
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
    /// Run the pipeline: discover, auto-promote, verify; until Ctrl-C or SIGTERM.
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
    /// Serve Kargo's REST API, webhooks and metrics, and run the pipeline.
    Serve(serve::ServeArgs),
}

/// An error that makes the input unusable: reported on one line, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct InputError(String);

impl From<kargo_runtime::Error> for InputError {
    fn from(e: kargo_runtime::Error) -> Self {
        InputError(e.to_string())
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
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
    init_logging(cli.log_format);
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
        Command::Serve(args) => serve::serve(args),
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
    let freight = kargo_runtime::input::load_freight(file)?;
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

/// A multi-threaded runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, InputError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| InputError(format!("cannot start the async runtime: {e}")))
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::warn!("interrupted; stopping at the next step boundary");
}
