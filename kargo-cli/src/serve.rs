//! `kargo serve`: the controller and Kargo's REST API in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kargo_runtime::RunOptions;
use kargo_server::Server;
use kargo_server::auth::Auth;

use kargo_core::credentials::SecretsOptions;

use crate::project::{Access, StateArgs, controller_and_secrets};
use crate::{EXIT_SUCCEEDED, InputError};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The address to listen on. Without `--auth`, only a loopback
    /// address is allowed (the API is then open to local callers).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The auth file: the admin password's bcrypt hash, the token-signing
    /// key, and API tokens with their roles and projects.
    #[arg(long, value_name = "FILE")]
    auth: Option<PathBuf>,
    /// Seconds between the controller's passes, and between discoveries
    /// of a Warehouse without `spec.interval`.
    #[arg(long, default_value_t = 30)]
    interval: u64,
    /// The URL clients reach this server at (default: `http://` and the
    /// listen address); webhook receivers' URLs are made from it.
    #[arg(long, value_name = "URL")]
    external_url: Option<String>,
}

/// Serves until SIGTERM or Ctrl-C; exit 0 once drained, 2 for unusable
/// input (nothing served).
pub(crate) fn serve(args: ServeArgs) -> Result<u8, InputError> {
    let auth = args
        .auth
        .as_deref()
        .map(Auth::load)
        .transpose()
        .map_err(|e| InputError(format!("--auth {e}")))?;
    if auth.is_none() && !args.listen.ip().is_loopback() {
        return Err(InputError(format!(
            "--listen {}: without --auth only a loopback address may be used (the API would be open to the network)",
            args.listen
        )));
    }
    crate::runtime()?.block_on(async {
        // Webhook receivers' Secrets carry no credential-type label.
        let keep = SecretsOptions::default().keep_unlabelled();
        let (controller, secrets) =
            controller_and_secrets(&args.state, Access::ReadWrite, keep).await?;
        let project =
            kargo_server::project_name(controller.project().manifests()).map_err(|e| {
                InputError(format!(
                    "--manifests {}: {e}",
                    args.state.manifests.display()
                ))
            })?;
        let interval = Duration::from_secs(args.interval);
        let options = RunOptions::default()
            .with_interval(interval)
            .with_discovery_interval(interval);
        let external_url = args
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen));
        let mut builder = Server::builder()
            .project(&project, controller)
            .run_controllers(options)
            .secrets(std::sync::Arc::new(secrets))
            .external_url(external_url);
        let open = auth.is_none();
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        let server = builder
            .build()
            .await
            .map_err(|e| InputError(format!("--state: {e}")))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| InputError(format!("--listen {}: {e}", args.listen)))?;
        let address = listener
            .local_addr()
            .map_err(|e| InputError(format!("--listen {}: {e}", args.listen)))?;
        if open {
            eprintln!("kargo: no --auth: the API is open to every local caller (loopback only)");
        }
        eprintln!("kargo: serving project {project} on http://{address}");
        server
            .serve(listener, crate::stop_signal())
            .await
            .map_err(|e| InputError(format!("serving on {address}: {e}")))?;
        Ok(EXIT_SUCCEEDED)
    })
}
