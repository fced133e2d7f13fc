//! `kargo pipeline`: discover, auto-promote, verify; in a loop until
//! Ctrl-C or SIGTERM, or one pass with `--once`.

use std::time::Duration;

use clap::Args;
use kargo_runtime::{Refresh, RunOptions};

use crate::project::{Access, StateArgs, controller};
use crate::{EXIT_NOT_SUCCEEDED, EXIT_SUCCEEDED, InputError};

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Make one pass and exit; every Warehouse is discovered (as a refresh).
    #[arg(long)]
    once: bool,
    /// Seconds between passes, and between discoveries of a Warehouse
    /// without `spec.interval`.
    #[arg(long, default_value_t = 30)]
    interval: u64,
}

/// Runs passes until stopped (or one with `--once`). Exit 0 when stopped
/// cleanly, or when the one pass ran and every Warehouse's discovery
/// succeeded (failed promotions and verifications are pipeline state, see
/// `kargo status`); 1 when a discovery or the state store failed; 2 for
/// unusable input.
pub(crate) fn pipeline(args: PipelineArgs) -> Result<u8, InputError> {
    crate::runtime()?.block_on(async {
        let controller = controller(&args.state, Access::ReadWrite).await?;
        let interval = Duration::from_secs(args.interval);
        let options = RunOptions::default()
            .with_interval(interval)
            .with_discovery_interval(interval);
        if !args.once {
            controller.run(options, crate::stop_signal()).await?;
            return Ok(EXIT_SUCCEEDED);
        }
        let stopper = controller.clone();
        let signal = tokio::spawn(async move {
            crate::stop_signal().await;
            stopper.shutdown();
        });
        let pass = controller.pass(&options.with_refresh(Refresh::All)).await;
        signal.abort();
        match pass {
            Ok(pass) if pass.discovery.failed.is_empty() => Ok(EXIT_SUCCEEDED),
            Ok(pass) => {
                for (warehouse, message) in &pass.discovery.failed {
                    eprintln!("kargo: Warehouse {warehouse}: discovery failed: {message}");
                }
                Ok(EXIT_NOT_SUCCEEDED)
            }
            Err(e) => {
                eprintln!("kargo: {e}");
                Ok(EXIT_NOT_SUCCEEDED)
            }
        }
    })
}
