//! The seed scenario on one machine, with no external service: an
//! application made of a Kubernetes workload (Helm values), a Lambda-style
//! function managed by Terraform, and an IAM policy file, promoted from dev
//! to staging to prod by a `kargo-runtime` [`Controller`].
//!
//! 1. Creates a GitOps repository (`envs/{dev,staging,prod}/...`,
//!    `policies/iam-policy.json`), an OCI image-layout registry holding
//!    guestbook images and function images, the project's manifests and
//!    a SQLite state store.
//! 2. One controller pass discovers Freight from a Warehouse with three
//!    subscriptions (the guestbook image, the function as an OCI artifact,
//!    git commits under `policies/`) and auto-promotes it into dev and
//!    staging (commits straight to `main`: values, tfvars, policy,
//!    `terraform apply`, the function URL into the Helm values).
//! 3. Promotes it to prod as a person would: prod's steps push a branch
//!    and open a pull request on the embedded local provider whose
//!    description holds the Terraform plan, then wait for the merge. The
//!    demo acts as the reviewer and merges it; the controller resumes the
//!    promotion: apply, read the function URL, write it into prod's values,
//!    commit, push.
//! 4. Prints where things are and how to inspect the repository with git.
//!
//! Run again in the same directory, it releases the next guestbook version
//! and promotes it through the same repository and state. With `--serve`
//! it serves the project instead (`kargo serve`'s API and web UI, the
//! controller's loop running): a person promotes to prod from the browser,
//! and the demo still merges prod's pull request.
//!
//! Run it with `scripts/quickstart.sh` (installs Terraform if missing), or
//! `cargo run --example quickstart -- [DIR]` with Terraform on `PATH` or in
//! `KARGO_TERRAFORM`. DIR (default: `kargo-quickstart` in the temporary
//! directory) must be new or empty, or one an earlier run made: the demo
//! never deletes what it did not create.

mod fixtures;
mod progress;
mod review;
mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use kargo::core::model::PromotionPhase;
use kargo::core::step::StepRegistry;
use kargo::runtime::{Controller, FreightChoice, PromoteRequest, Refresh, RunOptions};

use fixtures::{Demo, git};
use progress::{heading, with_progress};

/// The project (Kargo's namespace of its resources).
const PROJECT: &str = "quickstart";
/// The project's manifests, with placeholders for the demo's URLs.
const MANIFESTS: &str = include_str!("manifests.yaml");

type BoxError = Box<dyn std::error::Error>;

/// The kargo-rs quickstart: a GitOps repository and a registry made from
/// scratch, Freight discovered, and promotions from dev to staging to prod
/// (prod through a pull request holding the Terraform plan).
#[derive(Debug, clap::Parser)]
#[command(name = "quickstart")]
struct Args {
    /// Where the demo works: a new or empty directory, or one an earlier
    /// run made (marked by its `.kargo-quickstart` file), where the next
    /// guestbook release is promoted. Any other directory is refused and
    /// left as it is. Default: `kargo-quickstart` in the temporary
    /// directory.
    dir: Option<PathBuf>,
    /// Serve the project with the web UI and API of `kargo serve` until
    /// Ctrl-C, instead of promoting it to prod here: dev and staging
    /// promote by themselves, prod waits for a person's click.
    #[arg(long)]
    serve: bool,
    /// With `--serve`, the address to listen on (default 127.0.0.1:8080;
    /// port 0 picks a free one). Without `--auth`, only a loopback
    /// address.
    #[arg(long, requires = "serve", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// With `--serve`, the auth file of `kargo serve` (admin password
    /// hash, signing key, API tokens). Without it the UI is open to local
    /// callers.
    #[arg(long, requires = "serve", value_name = "FILE")]
    auth: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let started = Instant::now();
    let root = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("kargo-quickstart"));
    // Checked before anything is written.
    let auth = serve::Access::check(args.serve, args.listen, args.auth.as_deref())?;
    let (demo, controller) = open(&root).await?;
    if let Some(access) = auth {
        return serve::serve(demo, controller, access).await;
    }
    let store = controller.store().clone();
    let mut events = controller.subscribe();

    heading("2. Discovery; dev and staging promote by themselves");
    let options = RunOptions::default().with_refresh(Refresh::All);
    let passing = controller.clone();
    let pass = async move { passing.pass(&options).await };
    let pass = with_progress(&store, &mut events, pass).await?;
    if let Some((warehouse, message)) = pass.discovery.failed.first() {
        return Err(format!("Warehouse {warehouse}: {message}").into());
    }
    if let Some(failed) = pass
        .finished
        .iter()
        .find(|p| p.phase != PromotionPhase::Succeeded)
    {
        return Err(format!("{}: the promotion ended {}", failed.stage, failed.phase).into());
    }

    heading("3. prod, promoted by a person, through a pull request");
    let request = PromoteRequest::new("prod", FreightChoice::Newest, "quickstart");
    let promoting = controller.clone();
    let promoted = async move { promoting.promote_and_run(&request).await };
    let mut prod = with_progress(&store, &mut events, promoted)
        .await?
        .promotion;
    // Once merged, the pull request lets the promotion go on; a few more
    // rounds are allowed for the step's next poll, not an endless loop.
    for round in 0.. {
        if prod.phase.is_terminal() {
            break;
        }
        if round == 10 {
            return Err(format!("prod: promotion {} still waits", prod.name).into());
        }
        if round > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        if review::review(&demo, &prod).await?.is_none() {
            return Err(format!(
                "prod: promotion {} waits, but not for a pull request",
                prod.name
            )
            .into());
        }
        let (resuming, name) = (controller.clone(), prod.name.clone());
        let resumed = async move { resuming.refresh_promotion(&name).await };
        prod = with_progress(&store, &mut events, resumed).await?;
    }
    if prod.phase != PromotionPhase::Succeeded {
        let why = prod
            .state
            .message
            .as_deref()
            .unwrap_or("see the steps above");
        return Err(format!("prod: the promotion ended {}: {why}", prod.phase).into());
    }

    heading("4. Where things are");
    let url = prod.state.outputs["publish::tf"]["function_url"]
        .as_str()
        .unwrap_or("?");
    println!("prod function URL   {url}");
    println!("prod values.yaml    FUNCTION_URL = {url}");
    let graph = git(&demo.repo, &["log", "--graph", "--format=%h %s", "main"])?;
    println!("\nmain, newest first:\n{graph}");
    let git_dir = demo.repo.display();
    println!("\nInspect it yourself:");
    println!("  git --git-dir {git_dir} log --stat main");
    println!("  git --git-dir {git_dir} show main:envs/prod/kubernetes/values.yaml");
    println!("  git --git-dir {git_dir} show main:envs/prod/terraform/plan.txt");
    println!(
        "  kargo status --manifests {} --state {}",
        demo.manifests().display(),
        demo.state().display()
    );
    println!(
        "Run the quickstart again with {} to promote the next release;",
        demo.root.display()
    );
    println!("add --serve to promote it from the web UI.");
    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Opens the demo in `root` (new, or the next release of an earlier run)
/// and builds its controller: the manifests written there, the built-in
/// steps, the SQLite state store kept there.
async fn open(root: &Path) -> Result<(Demo, Controller), BoxError> {
    heading("1. A GitOps repository and a registry");
    let demo = Demo::open(root)?;
    if demo.continued {
        println!("continuing the demo in {}", demo.root.display());
    }
    println!("repository  {}", demo.repo_url());
    println!(
        "registry    {} (OCI image layouts), newest release guestbook:{}",
        demo.registry.display(),
        demo.release
    );
    demo.write_manifests(MANIFESTS)?;
    let mut registry = StepRegistry::new();
    kargo::steps::register_builtins(&mut registry);
    let store = kargo::store::open(&demo.state().display().to_string()).await?;
    let controller = Controller::builder()
        .manifests_path(demo.manifests())
        .registry(Arc::new(registry))
        .store(store)
        .work_root(demo.root.join("work"), false)
        .build()?;
    Ok((demo, controller))
}
