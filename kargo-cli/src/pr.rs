//! `kargo pr`: a person's side of a review, on pull requests of the local
//! provider (records kept inside the repository, `refs/kargo/pulls/N`).
//!
//! `kargo pr list|show|approve|merge|close --repo URL [ID] [--method merge|squash|rebase]`
//! - `list` prints a JSON array of every pull request (all states), lowest
//!   number first: `{id, title, description, sourceBranch, targetBranch,
//!   state: open|merged|closed, url}`.
//! - `show`, `approve` and `close` print one JSON object: the fields of
//!   `list` plus, when known, `mergeCommit`, `headSha`, `labels`,
//!   `approvedBy` and `createdAt` (`approve` and `close` print the pull
//!   request as it is afterwards; closing a closed one changes nothing).
//! - `merge` merges (`--method`, default `merge`: a merge commit) and prints
//!   the merge commit's sha on one line; merging a merged one prints its
//!   merge commit again.
//!
//! Exit codes: 0 done; 1 the provider refused (a conflict, a closed or
//! merged pull request); 2 unusable input (bad arguments, an unknown pull
//! request, a repository that cannot be read), with one line on stderr.

use clap::{Args, ValueEnum};
use kargo_git::provider::local::LocalProvider;
use kargo_git::provider::{
    Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, PullRequest, StateFilter,
};
use serde_json::{Value, json};

use crate::{EXIT_NOT_SUCCEEDED, EXIT_SUCCEEDED, InputError};

#[derive(Debug, Args)]
pub(crate) struct PrArgs {
    /// What to do.
    action: Action,
    /// The pull request's number (all actions but `list`).
    id: Option<u64>,
    /// The repository (a URL or a path git can fetch from and push to).
    #[arg(long)]
    repo: String,
    /// How `merge` merges.
    #[arg(long, value_enum)]
    method: Option<Method>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Action {
    List,
    Show,
    Approve,
    Merge,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Method {
    Merge,
    Squash,
    Rebase,
}

impl From<Method> for MergeMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Merge => MergeMethod::Merge,
            Method::Squash => MergeMethod::Squash,
            Method::Rebase => MergeMethod::Rebase,
        }
    }
}

/// A pull request as `kargo pr` prints it.
fn pr_json(pr: &PullRequest, detailed: bool) -> Value {
    let mut out = json!({
        "id": pr.number,
        "title": pr.title,
        "description": pr.description,
        "sourceBranch": pr.source_branch,
        "targetBranch": pr.target_branch,
        "state": pr.state.as_str(),
        "url": pr.url,
    });
    if detailed {
        let extra = [
            ("mergeCommit", pr.merge_commit.as_ref().map(|c| json!(c))),
            ("headSha", pr.head_sha.as_ref().map(|c| json!(c))),
            (
                "labels",
                Some(json!(pr.labels)).filter(|_| !pr.labels.is_empty()),
            ),
            (
                "approvedBy",
                Some(json!(pr.approved_by)).filter(|_| !pr.approved_by.is_empty()),
            ),
            ("createdAt", pr.created_at.as_ref().map(|c| json!(c))),
        ];
        for (key, value) in extra {
            if let Some(value) = value {
                out[key] = value;
            }
        }
    }
    out
}

/// Runs one `kargo pr` action.
pub(crate) fn pr(args: PrArgs) -> Result<u8, InputError> {
    if args.method.is_some() && args.action != Action::Merge {
        return Err(InputError(
            "--method is only for `kargo pr merge`".to_owned(),
        ));
    }
    let id = match (args.action, args.id) {
        (Action::List, None) => 0,
        (Action::List, Some(_)) => {
            return Err(InputError("`kargo pr list` takes no ID".to_owned()));
        }
        (_, Some(0)) => return Err(InputError("pull request IDs start at 1".to_owned())),
        (_, Some(id)) => id,
        (action, None) => {
            return Err(InputError(format!(
                "`kargo pr {}` needs the pull request's ID",
                action
                    .to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            )));
        }
    };
    let provider = LocalProvider::new(&args.repo);
    let result = crate::runtime()?.block_on(async {
        Ok::<_, Error>(match args.action {
            Action::List => {
                let prs = provider
                    .list(&ListOptions::default().with_state(StateFilter::All))
                    .await?;
                Value::Array(prs.iter().map(|pr| pr_json(pr, false)).collect()).to_string()
            }
            Action::Show => pr_json(&provider.get(id).await?, true).to_string(),
            Action::Approve => pr_json(&provider.approve(id).await?, true).to_string(),
            Action::Close => pr_json(&provider.close(id).await?, true).to_string(),
            Action::Merge => match provider.merge(id, args.method.map(Into::into)).await? {
                MergeOutcome::Merged(pr) => pr.merge_commit.unwrap_or_default(),
                MergeOutcome::NotReady { reason } => {
                    return Err(Error::Invalid(format!(
                        "pull request #{id} cannot be merged yet: {reason}"
                    )));
                }
                _ => String::new(),
            },
        })
    });
    match result {
        Ok(out) => {
            println!("{out}");
            Ok(EXIT_SUCCEEDED)
        }
        Err(e @ (Error::Conflict { .. } | Error::NotOpen { .. })) => {
            eprintln!("kargo: {e}");
            Ok(EXIT_NOT_SUCCEEDED)
        }
        Err(e) => Err(InputError(e.to_string())),
    }
}
