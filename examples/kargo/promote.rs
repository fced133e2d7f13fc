//! A person's commands: `kargo promote`, `kargo approve`, and (additions
//! to the DESIGN commands) `kargo abort` and `kargo verify`.

use clap::Args;
use kargo_core::model::{Freight, FreightOrigin, PromotionPhase, Stage};
use kargo_core::pipeline::{auto_promotion_candidates, availability, hold_intent};
use kargo_core::state::{FreightQuery, PromotionRecord, StateStoreExt};
use serde_json::json;

use crate::project::{Project, StateArgs, now, person, runtime, short};
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
/// before it), then verifies the Stage. Exit 0 Succeeded, 1 not
/// succeeded, 2 unusable input (unknown Stage or Freight, Freight not
/// available), 3 waiting (run `kargo pipeline` or this again to resume).
pub(crate) fn promote(args: PromoteArgs) -> Result<u8, InputError> {
    runtime()?.block_on(async {
        let project = Project::load(&args.state).await?;
        let stage = project.stage(&args.stage)?.clone();
        let freight = pick_freight(&project, &stage, &args).await?;
        let name = &freight.metadata.name;
        if availability(&stage, &freight, now()).is_none() {
            return Err(InputError(format!(
                "Freight {} ({}) is not available to Stage `{}`: it is neither approved for it nor verified (and soaked) in {}",
                freight.alias,
                short(name),
                args.stage,
                upstream_of(&stage, &freight.origin)
            )));
        }
        let all = store_err(project.store.list_freight(&FreightQuery::all()).await)?;
        let candidates = auto_promotion_candidates(&stage, &all, now());
        let candidate = candidates.get(&freight.origin).map(|f| f.metadata.name.as_str());
        let hold = hold_intent(project.auto_promotion_enabled(&args.stage), candidate, name);
        let queued = project
            .queue(&args.stage, name, &person(), hold)
            .await
            .map_err(|e| InputError(e.to_string()))?;
        eprintln!(
            "kargo: {}: promotion {} of Freight {} queued",
            args.stage, queued.name, freight.alias
        );
        project.stop_on_ctrl_c();
        let drive = store_err(project.drive(&args.stage).await)?;
        let record = store_err(project.store.get_promotion(&queued.name).await)?
            .unwrap_or(queued);
        let record = match drive.waiting {
            Some(w) if w.name == record.name => w,
            _ => record,
        };
        let stage_state = store_err(project.store.get_stage(&args.stage).await)?;
        let verification = (record.phase == PromotionPhase::Succeeded)
            .then(|| {
                stage_state
                    .freight_history
                    .iter()
                    .find(|c| c.promotion == record.name)
                    .and_then(|c| c.current_verification().cloned())
            })
            .flatten();
        if args.json {
            let mut out = crate::run::result_json(&record.state);
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
        Ok(exit_code(&record))
    })
}

/// The exit code for a promotion as it stands.
fn exit_code(record: &PromotionRecord) -> u8 {
    match record.phase {
        PromotionPhase::Succeeded => EXIT_SUCCEEDED,
        PromotionPhase::Pending | PromotionPhase::Running => EXIT_RUNNING,
        _ => EXIT_NOT_SUCCEEDED,
    }
}

/// The Freight `--freight` names, or the candidate of `--origin` (or of the
/// Stage's only origin).
async fn pick_freight(
    project: &Project,
    stage: &Stage,
    args: &PromoteArgs,
) -> Result<Freight, InputError> {
    if let Some(name) = &args.freight {
        return store_err(project.store.get_freight(name).await)?
            .ok_or_else(|| InputError(format!("unknown Freight `{name}`")));
    }
    let origins = project.origins(&args.stage);
    let origin = match &args.origin {
        Some(w) => {
            let origin = FreightOrigin::warehouse(w);
            if !origins.contains(&origin) {
                return Err(InputError(format!(
                    "Stage `{}` requests no Freight from Warehouse `{w}`",
                    args.stage
                )));
            }
            origin
        }
        None => match origins.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(InputError(format!(
                    "Stage `{}` requests Freight from several Warehouses: name one with --origin or --freight",
                    args.stage
                )));
            }
        },
    };
    let all = store_err(
        project
            .store
            .list_freight(&FreightQuery::warehouse(&origin.name))
            .await,
    )?;
    auto_promotion_candidates(stage, &all, now())
        .remove(&origin)
        .cloned()
        .ok_or_else(|| {
            InputError(format!(
                "no Freight from Warehouse `{}` is available to Stage `{}`",
                origin.name, args.stage
            ))
        })
}

/// `the upstream Stages a, b` or `its Warehouse` for messages.
fn upstream_of(stage: &Stage, origin: &FreightOrigin) -> String {
    match stage.requested_freight_from(origin) {
        Some(r) if !r.sources.stages.is_empty() => {
            format!("upstream Stage(s) {}", r.sources.stages.join(", "))
        }
        _ => "an upstream Stage".into(),
    }
}

/// A store failure during a person's command: reported, exit 1 would hide
/// it as "not succeeded", so it is an input-level failure with its cause.
fn store_err<T>(result: kargo_core::Result<T>) -> Result<T, InputError> {
    result.map_err(|e| InputError(format!("state store: {e}")))
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
    runtime()?.block_on(async {
        let project = Project::load(&args.state).await?;
        let stage = project.stage(&args.stage)?;
        let freight = store_err(project.store.get_freight(&args.freight).await)?
            .ok_or_else(|| InputError(format!("unknown Freight `{}`", args.freight)))?;
        if stage.requested_freight_from(&freight.origin).is_none() {
            return Err(InputError(format!(
                "Stage `{}` requests no Freight from {}",
                args.stage, freight.origin
            )));
        }
        let approved = store_err(
            project
                .store
                .approve_freight(&freight.metadata.name, &args.stage, now())
                .await,
        )?;
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
    /// The queued promotion's name (see `kargo history STAGE`).
    promotion: String,
}

/// Aborts a queued promotion: it ends `Aborted` and never runs. Exit 0, or
/// 2 when the promotion is unknown, running or finished.
pub(crate) fn abort(args: AbortArgs) -> Result<u8, InputError> {
    runtime()?.block_on(async {
        let project = Project::load(&args.state).await?;
        let aborted = project
            .store
            .abort_promotion(&args.promotion, now())
            .await
            .map_err(|e| InputError(e.to_string()))?;
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
    runtime()?.block_on(async {
        let project = Project::load(&args.state).await?;
        project.stage(&args.stage)?;
        let record = store_err(project.verify_opts(&args.stage, true).await)?
            .ok_or_else(|| InputError(format!("Stage `{}` holds no Freight", args.stage)))?;
        println!(
            "{}\t{:?}\t{}",
            record.id,
            record.phase,
            record.message.as_deref().unwrap_or_default()
        );
        Ok(
            if record.phase == kargo_core::state::VerificationPhase::Successful {
                EXIT_SUCCEEDED
            } else {
                EXIT_NOT_SUCCEEDED
            },
        )
    })
}
