//! `kargo discover`: runs each Warehouse's subscriptions once and prints
//! the Freight they make.

use std::path::PathBuf;

use clap::Args;
use kargo_core::manifest::Manifests;

use crate::{EXIT_NOT_SUCCEEDED, EXIT_SUCCEEDED, InputError};

#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// A manifest file or a directory of them (Warehouses are used).
    #[arg(long)]
    manifests: PathBuf,
    /// Only this Warehouse.
    #[arg(long)]
    warehouse: Option<String>,
    /// Kargo credential Secrets (Kubernetes `Secret` documents labelled `kargo.akuity.io/cred-type`); repeatable.
    #[arg(long = "credentials", value_name = "FILE")]
    credentials: Vec<PathBuf>,
}

/// Prints the discovered Freight as a JSON array (in Kargo's shape, one
/// per Warehouse). Exit 0 on success, 1 when discovery failed (a registry
/// unreachable, nothing matching), 2 for unusable manifests.
pub(crate) fn discover(args: DiscoverArgs) -> Result<u8, InputError> {
    let manifests = Manifests::load(&args.manifests).map_err(|e| InputError(e.to_string()))?;
    let warehouses: Vec<_> = match &args.warehouse {
        Some(name) => vec![manifests.warehouse(name).ok_or_else(|| {
            InputError(format!(
                "{}: no Warehouse named `{name}`",
                args.manifests.display()
            ))
        })?],
        None => manifests.warehouses().iter().collect(),
    };
    if warehouses.is_empty() {
        return Err(InputError(format!(
            "{}: no Warehouse found",
            args.manifests.display()
        )));
    }
    let sources = kargo_sources::warehouse::Sources::builtin_with_credentials(
        kargo_runtime::input::load_credentials(&args.credentials)?,
    );
    match crate::runtime()?.block_on(kargo_sources::warehouse::discover(&sources, warehouses)) {
        Ok(freight) => {
            let json = serde_json::to_string(&freight)
                .map_err(|e| InputError(format!("cannot print Freight: {e}")))?;
            println!("{json}");
            Ok(EXIT_SUCCEEDED)
        }
        Err(e) => {
            eprintln!("kargo: discovery failed: {e}");
            Ok(EXIT_NOT_SUCCEEDED)
        }
    }
}
