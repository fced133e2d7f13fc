use async_trait::async_trait;
use kargo_core::credentials::CredentialType;
use kargo_core::retry::Backoff;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use kargo_git::maybe_spawn_blocking;
use kargo_git::provider::github_push::{self, Error, Options};
use kargo_git::provider::rest::RestOptions;
use kargo_git::push::{self, IntegrationPolicy};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::{credentials, non_empty, push_error, working_tree};
use crate::schema;

/// The `github-push` step. Outputs: `branch`, `commit` and `commitURL`.
///
/// Host settings, Kargo's controller environment: the push integration
/// policy (`GIT_PUSH_INTEGRATION_POLICY`, default `AlwaysRebase`), the most
/// commits one push creates (`GITHUB_PUSH_MAX_REVISIONS`, default 10) and
/// whether GitHub authors and signs every commit
/// (`GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`, default false; see
/// [`github_push`]). [`GitHubPush::from_env`]
/// reads them, as [`register_builtins`](crate::register_builtins) does.
///
/// The repository's Git credentials must hold a token (the password): it
/// authenticates both the git push to the staging ref and the API calls.
#[derive(Debug, Clone)]
pub struct GitHubPush {
    policy: IntegrationPolicy,
    backoff: Backoff,
    max_revisions: usize,
    compare_page_size: usize,
    verify_untrusted_commits: bool,
    rest: RestOptions,
    /// A setting read from the environment that cannot be used: every run
    /// fails with it rather than run with a default nobody asked for.
    env_error: Option<String>,
}

impl Default for GitHubPush {
    fn default() -> Self {
        GitHubPush {
            policy: IntegrationPolicy::default(),
            backoff: Backoff::default(),
            max_revisions: 10,
            compare_page_size: github_push::Options::default().compare_page_size,
            verify_untrusted_commits: false,
            rest: RestOptions::default(),
            env_error: None,
        }
    }
}

impl GitHubPush {
    /// The step with Kargo's defaults.
    pub fn new() -> Self {
        GitHubPush::default()
    }

    /// The step with the settings of Kargo's environment variables
    /// `GIT_PUSH_INTEGRATION_POLICY`, `GITHUB_PUSH_MAX_REVISIONS` and
    /// `GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS` (unset: the defaults). A value
    /// that cannot be read makes every run fail, naming the variable.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut step = GitHubPush::default();
        let mut errors = Vec::new();
        match crate::git::policy_from(var(crate::git::POLICY_VAR)) {
            Ok(policy) => step.policy = policy,
            Err(e) => errors.push(e),
        }
        if let Some(v) = var("GITHUB_PUSH_MAX_REVISIONS").filter(|v| !v.is_empty()) {
            match v.parse() {
                Ok(n) => step.max_revisions = n,
                Err(_) => errors.push(format!(
                    "GITHUB_PUSH_MAX_REVISIONS={v:?} is not a number of commits"
                )),
            }
        }
        if let Some(v) = var("GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS").filter(|v| !v.is_empty()) {
            // Go's strconv.ParseBool, which Kargo's envconfig uses.
            match v.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => step.verify_untrusted_commits = true,
                "0" | "f" | "F" | "FALSE" | "false" | "False" => {}
                _ => errors.push(format!(
                    "GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS={v:?} is not a boolean"
                )),
            }
        }
        if !errors.is_empty() {
            step.env_error = Some(errors.join("; "));
        }
        step
    }

    /// Sets how remote changes are integrated before pushing.
    pub fn with_policy(mut self, policy: IntegrationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the waits between attempts (Kargo's: from 1 s, ×1.5, ≤ 30 s).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the most commits one push may create.
    pub fn with_max_revisions(mut self, max: usize) -> Self {
        self.max_revisions = max;
        self
    }

    /// Sets how many commits each page of GitHub's compare API holds (the
    /// push reads every page; default 100).
    pub fn with_compare_page_size(mut self, size: usize) -> Self {
        self.compare_page_size = size.max(1);
        self
    }

    /// Lets GitHub author and sign every commit, keeping the original
    /// author in a `Co-authored-by` trailer (Kargo warns this vouches for
    /// commits nobody verified).
    pub fn with_verify_untrusted_commits(mut self, verify: bool) -> Self {
        self.verify_untrusted_commits = verify;
        self
    }

    /// Sets the API client's settings (retries of 429 and 5xx, an API base
    /// other than the one derived from the repository URL); the token and
    /// `insecureSkipTLSVerify` come from the credentials and the config.
    pub fn with_rest_options(mut self, rest: RestOptions) -> Self {
        self.rest = rest;
        self
    }
}

#[async_trait]
impl Step for GitHubPush {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let invalid = |m: &str| StepError::failed(format!("invalid {KIND} config: {m}"));
        let target_branch = non_empty(&config.target_branch);
        if config.generate_target_branch && target_branch.is_some() {
            return Err(invalid(
                "targetBranch and generateTargetBranch are mutually exclusive",
            ));
        }
        match config.max_attempts {
            Some(0) => return Err(invalid("maxAttempts must be at least 1")),
            Some(n) if n > i32::MAX as u32 => {
                return Err(invalid(&format!(
                    "maxAttempts must be at most {}",
                    i32::MAX
                )));
            }
            _ => {}
        }
        if let Some(e) = &self.env_error {
            return Err(StepError::terminal(format!("{KIND}: {e}")));
        }
        let dir = working_tree(ctx, KIND, &config.path)?;

        let remote_dir = dir.clone();
        let (url, _) = maybe_spawn_blocking(move || push::remote_and_branch(&remote_dir))
            .await
            .step_context(KIND)?;
        let credentials = match credentials(ctx, KIND, &url).await? {
            Some(c) if !c.password.is_empty() => c,
            Some(_) => {
                return Err(StepError::failed(format!(
                    "{KIND}: the credentials for {url} are missing a password/token"
                )));
            }
            None => return Err(missing_token(ctx, &url).await),
        };

        let mut options = Options::default()
            .with_policy(self.policy)
            .with_backoff(self.backoff)
            .with_max_revisions(self.max_revisions)
            .with_compare_page_size(self.compare_page_size)
            .with_verify_untrusted_commits(self.verify_untrusted_commits)
            .with_force(config.force)
            .with_max_attempts(config.max_attempts.unwrap_or(10))
            .with_rest(
                self.rest
                    .clone()
                    .with_insecure_skip_tls_verify(config.insecure_skip_tls_verify),
            );
        if !ctx.promotion.is_empty() {
            options = options.with_staging_name(&ctx.promotion);
        }
        options = if config.generate_target_branch {
            if ctx.promotion.is_empty() {
                return Err(StepError::failed(format!(
                    "{KIND}: generateTargetBranch needs the promotion's name"
                )));
            }
            // The branch belongs to this promotion alone, so a rerun may
            // overwrite it (as Kargo does).
            options
                .with_target_branch(Some(format!("kargo/promotion/{}", ctx.promotion)))
                .with_force(true)
        } else {
            options.with_target_branch(target_branch.map(str::to_owned))
        };

        let outcome = github_push::push(&dir, &options, &credentials, &ctx.cancel)
            .await
            .map_err(step_error)?;
        let mut result = StepOutcome::succeeded()
            .with_output("commit", outcome.commit.clone())
            .with_output("branch", outcome.branch.clone());
        if let Some(url) = push::commit_url(&url, Some("github"), &outcome.commit) {
            result = result.with_output("commitURL", url);
        }
        Ok(result.with_message(format!(
            "pushed {} commit(s) to {} through GitHub's API",
            outcome.replayed, outcome.branch
        )))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

/// Why there is no token for `url`: an SSH key alone (which cannot
/// authenticate to GitHub's API), or nothing at all. Both fail the step, as
/// in Kargo.
async fn missing_token(ctx: &StepContext, url: &str) -> StepError {
    let ssh_key = ctx
        .credentials
        .secret(CredentialType::Git, url)
        .await
        .ok()
        .flatten()
        .is_some_and(|s| s.field("sshPrivateKey").is_some_and(|k| !k.is_empty()));
    if ssh_key {
        StepError::failed(format!(
            "{KIND}: found an SSH key for {url}; it serves basic Git operations only and \
             cannot authenticate to GitHub's API; use a personal access token or a GitHub App"
        ))
    } else {
        StepError::failed(format!("{KIND}: no credentials found for {url}"))
    }
}

/// A push error as a step error: as `git-push`'s for git's part, by the
/// rule for the rest (a remote that is not GitHub's is terminal, as Kargo
/// reports it `Errored`).
fn step_error(e: Error) -> StepError {
    match e {
        Error::Git(e) => push_error(KIND, e),
        e => StepError::classify(e).context(KIND),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_examples_deserialize() {
        for example in [
            serde_json::json!({"path": "./out"}),
            serde_json::json!({"path": "./out", "generateTargetBranch": true}),
            serde_json::json!({"path": "./out", "targetBranch": "main", "force": true,
                "maxAttempts": 3, "insecureSkipTLSVerify": true}),
        ] {
            parse_config::<Config>(KIND, example).unwrap();
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        // git-push's `provider` and `tag` are not github-push's.
        for key in ["provider", "tag"] {
            let err = parse_config::<Config>(KIND, serde_json::json!({"path": "x", key: "y"}))
                .unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn kargos_environment_is_read() {
        let step = GitHubPush::from_vars(|name| {
            Some(
                match name {
                    "GIT_PUSH_INTEGRATION_POLICY" => "AlwaysMerge",
                    "GITHUB_PUSH_MAX_REVISIONS" => "25",
                    "GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS" => "True",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        assert_eq!(step.policy, IntegrationPolicy::AlwaysMerge);
        assert_eq!(step.max_revisions, 25);
        assert!(step.verify_untrusted_commits);
        assert!(step.env_error.is_none());

        let defaults = GitHubPush::from_vars(|_| None);
        assert_eq!(defaults.policy, IntegrationPolicy::AlwaysRebase);
        assert_eq!(defaults.max_revisions, 10);
        assert!(!defaults.verify_untrusted_commits);

        let bad = GitHubPush::from_vars(|_| Some("lots".to_owned()));
        let e = bad.env_error.unwrap();
        assert!(
            e.contains("GIT_PUSH_INTEGRATION_POLICY: unknown push integration policy \"lots\"")
                && e.contains("GITHUB_PUSH_MAX_REVISIONS=\"lots\"")
                && e.contains("GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS=\"lots\""),
            "{e}"
        );
    }
}
