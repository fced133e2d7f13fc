//! The person's side of a pull request: a promotion into prod waits in
//! `git-wait-for-pr` until its pull request is merged. The local provider
//! has no web page to merge on, so the demo is the reviewer: it reads the
//! pull request, approves and merges it, as `kargo pr approve` and
//! `kargo pr merge` would.

use kargo::core::state::PromotionRecord;
use kargo::git::provider::local::LocalProvider;
use kargo::git::provider::{GitProvider, MergeMethod, MergeOutcome, PrState};

use crate::BoxError;
use crate::fixtures::Demo;
use crate::progress::short;

/// Reviews the pull request `promotion` waits on: prints it with the
/// Terraform plan's summary and merges it. Returns its number, or `None`
/// when the promotion does not wait on a pull request. One merged already
/// is left as it is.
pub(crate) async fn review(
    demo: &Demo,
    promotion: &PromotionRecord,
) -> Result<Option<u64>, BoxError> {
    if !promotion.is_waiting() {
        return Ok(None);
    }
    let outputs = &promotion.state.outputs;
    let Some(number) = outputs.get("open-pr").and_then(|o| o["pr"]["id"].as_u64()) else {
        return Ok(None);
    };
    let provider = LocalProvider::new(demo.repo_url()).with_work_root(demo.root.join("review"));
    let pr = provider.get(number).await?;
    if pr.state != PrState::Open {
        return Ok(Some(number));
    }
    println!(
        "\n  {}: pull request #{number}: {}",
        promotion.stage, pr.title
    );
    println!("  {} -> {}, {}", pr.source_branch, pr.target_branch, pr.url);
    if let Some(summary) = outputs.get("plan").map(|p| &p["summary"]) {
        println!(
            "  Terraform plan: {} to add, {} to change, {} to destroy; outputs changing: {}",
            summary["add"],
            summary["change"],
            summary["destroy"],
            summary["outputs"]
                .as_object()
                .filter(|o| !o.is_empty())
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|| "none".into())
        );
    }
    println!(
        "  The promotion waits for the merge. The demo is the reviewer here: it approves and merges."
    );
    provider.approve(number).await?;
    match provider.merge(number, Some(MergeMethod::Merge)).await? {
        MergeOutcome::Merged(pr) => println!(
            "  merged as {}\n",
            short(pr.merge_commit.as_deref().unwrap_or("?"))
        ),
        MergeOutcome::NotReady { reason } => return Err(format!("cannot merge: {reason}").into()),
        other => return Err(format!("cannot merge: {other:?}").into()),
    }
    Ok(Some(number))
}
