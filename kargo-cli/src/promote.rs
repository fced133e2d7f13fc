//! A person's commands: `kargo promote`, `kargo approve`, and (additions
//! to the DESIGN commands) `kargo abort` and `kargo verify`.

use clap::Args;
use kargo_core::model::PromotionPhase;
use kargo_core::state::VerificationPhase;
use kargo_runtime::{FreightChoice, PromoteRequest};
use serde_json::json;

use crate::project::{Access, StateArgs, controller, person, short};
use crate::{EXIT_NOT_SUCCEEDED, EXIT_RUNNING, EXIT_SUCCEEDED, InputError};

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The Stage to promote into.
    stage: String,
    /// The Freight (name, ID or alias); it must be available to the Stage.
    #[arg(long, conflicts_with = "origin")]
    freight: Option<String>,
    /// Promote the newest Freight from this Warehouse available to the Stage.
    #[arg(long)]
    origin: Option<String>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Promotes Freight into a Stage and runs the promotion (after any queued
/// before it), then verifies the Stage. Run again while it waits, it
/// resumes the same promotion. Exit 0 Succeeded, 1 not succeeded, 2
/// unusable input (unknown Stage or Freight, Freight not available),
/// 3 waiting (run `kargo pipeline` or this again to resume).
pub(crate) fn promote(args: PromoteArgs) -> Result<u8, InputError> {
    let choice = match (args.freight, args.origin) {
        (Some(f), _) => FreightChoice::Named(f),
        (None, Some(w)) => FreightChoice::Origin(w),
        (None, None) => FreightChoice::Newest,
    };
    let request = PromoteRequest::new(&args.stage, choice, person());
    crate::runtime()?.block_on(async {
        let controller = controller(&args.state, Access::ReadWrite).await?;
        let stopper = controller.clone();
        let signal = tokio::spawn(async move {
            crate::stop_signal().await;
            stopper.shutdown();
        });
        let promoted = controller.promote_and_run(&request).await;
        signal.abort();
        let promoted = promoted?;
        let record = &promoted.promotion;
        let verification = &promoted.verification;
        if promoted.elsewhere && !record.phase.is_terminal() {
            let (name, stage) = (&record.name, &record.stage);
            if record.phase == PromotionPhase::Pending {
                eprintln!(
                    "kargo: promotion {name} is queued: another kargo process (a pipeline loop) is running Stage `{stage}`'s promotions and will run it in turn; `kargo history {stage}` shows how it ends"
                );
            } else {
                eprintln!(
                    "kargo: promotion {name} runs in another kargo process (a pipeline loop) that drives Stage `{stage}`; `kargo history {stage}` shows how it ends"
                );
            }
        }
        if args.json {
            let mut out = kargo_runtime::runner::result_json(&record.state);
            out["promotion"] = json!(record.name);
            out["stage"] = json!(record.stage);
            out["freight"] = json!(record.freight);
            out["phase"] = json!(record.phase.as_str());
            out["verification"] = json!(verification);
            println!("{out}");
        } else {
            println!(
                "{}\t{}\t{}",
                record.name,
                record.phase.as_str(),
                verification
                    .as_ref()
                    .map(|v| format!("verification {:?}", v.phase))
                    .unwrap_or_default()
            );
        }
        Ok(match record.phase {
            PromotionPhase::Succeeded => EXIT_SUCCEEDED,
            PromotionPhase::Pending | PromotionPhase::Running => EXIT_RUNNING,
            _ => EXIT_NOT_SUCCEEDED,
        })
    })
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The Freight (name, ID or alias).
    freight: String,
    /// The Stage to approve it for.
    #[arg(long)]
    stage: String,
    /// Print the Freight as JSON.
    #[arg(long)]
    json: bool,
}

/// Approves Freight for a Stage: it becomes available there whatever the
/// upstream Stages say. Exit 0, or 2 for an unknown Stage or Freight.
pub(crate) fn approve(args: ApproveArgs) -> Result<u8, InputError> {
    crate::runtime()?.block_on(async {
        let controller = controller(&args.state, Access::ReadWrite).await?;
        let approved = controller
            .approve(&args.freight, &args.stage, &person())
            .await?;
        if args.json {
            println!("{}", serde_json::to_string(&approved).unwrap_or_default());
        } else {
            println!(
                "Freight {} ({}) approved for Stage {}",
                approved.alias,
                short(&approved.metadata.name),
                args.stage
            );
        }
        Ok(EXIT_SUCCEEDED)
    })
}

#[derive(Debug, Args)]
pub(crate) struct AbortArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The promotion's name (see `kargo history STAGE`).
    promotion: String,
}

/// Aborts a promotion: a queued one ends `Aborted` and never runs; a
/// running one is asked to stop and ends `Aborted` at its next step
/// boundary, or at its next poll when it waits (printed `Running` until
/// then). Exit 0, or 2 when the promotion is unknown or finished.
pub(crate) fn abort(args: AbortArgs) -> Result<u8, InputError> {
    crate::runtime()?.block_on(async {
        let controller = controller(&args.state, Access::ReadWrite).await?;
        let aborted = controller.abort(&args.promotion, &person()).await?;
        println!("{}\t{}", aborted.name, aborted.phase.as_str());
        Ok(EXIT_SUCCEEDED)
    })
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The Stage whose current Freight to verify again.
    stage: String,
}

/// Verifies a Stage's current Freight again (Kargo's reverify), e.g. after
/// a failed verification was fixed. Exit 0 when it passed, 1 when not,
/// 2 for an unknown Stage or one without Freight.
pub(crate) fn verify(args: VerifyArgs) -> Result<u8, InputError> {
    crate::runtime()?.block_on(async {
        let controller = controller(&args.state, Access::ReadWrite).await?;
        let record = controller.reverify(&args.stage).await?;
        println!(
            "{}\t{:?}\t{}",
            record.id,
            record.phase,
            record.message.as_deref().unwrap_or_default()
        );
        Ok(if record.phase == VerificationPhase::Successful {
            EXIT_SUCCEEDED
        } else {
            EXIT_NOT_SUCCEEDED
        })
    })
}
