use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use kargo_git::maybe_spawn_blocking;
use kargo_git::provider::ProviderKind;
use kargo_git::push::{self, IntegrationPolicy, Target};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::{credentials, non_empty, push_error, working_tree};
use crate::schema;

/// The `git-push` step. Outputs: `branch`, `commit` and, when the provider
/// is known, `commitURL`.
///
/// Remote changes are integrated by the host's [`IntegrationPolicy`]
/// (Kargo's controller setting; default `AlwaysRebase`), set with
/// [`GitPush::with_policy`] or, as Kargo does, read from
/// `GIT_PUSH_INTEGRATION_POLICY` by [`GitPush::from_env`].
#[derive(Debug, Clone, Default)]
pub struct GitPush {
    policy: IntegrationPolicy,
    backoff: push::Backoff,
    /// A policy named in the environment that does not exist: every run
    /// fails with it rather than push by a policy nobody asked for.
    env_error: Option<String>,
}

impl GitPush {
    /// A `git-push` step with the default policy.
    pub fn new() -> Self {
        GitPush::default()
    }

    /// A `git-push` step with the policy `GIT_PUSH_INTEGRATION_POLICY`
    /// names (unset: the default); a name that is not a policy makes every
    /// run fail, naming the variable.
    pub fn from_env() -> Self {
        match crate::git::policy_from(std::env::var(crate::git::POLICY_VAR).ok()) {
            Ok(policy) => GitPush::default().with_policy(policy),
            Err(e) => GitPush {
                env_error: Some(e),
                ..GitPush::default()
            },
        }
    }

    /// Sets how remote changes are integrated before pushing.
    pub fn with_policy(mut self, policy: IntegrationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the waits between attempts (Kargo's: from 1 s, ×1.5, ≤ 30 s).
    pub fn with_backoff(mut self, backoff: push::Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

#[async_trait]
impl Step for GitPush {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let invalid = |m: &str| StepError::failed(format!("invalid {KIND} config: {m}"));
        let target_branch = non_empty(&config.target_branch);
        let tag = non_empty(&config.tag);
        let named = [
            target_branch.is_some(),
            config.generate_target_branch,
            tag.is_some(),
        ];
        if named.iter().filter(|n| **n).count() > 1 {
            return Err(invalid(
                "targetBranch, generateTargetBranch and tag are mutually exclusive",
            ));
        }
        if tag.is_some() && config.force {
            return Err(invalid("tag and force are mutually exclusive"));
        }
        if config.max_attempts == Some(0) {
            return Err(invalid("maxAttempts must be at least 1"));
        }
        if let Some(e) = &self.env_error {
            return Err(StepError::terminal(format!("{KIND}: {e}")));
        }
        let dir = working_tree(ctx, KIND, &config.path)?;

        let mut options = push::Options::default()
            .with_policy(self.policy)
            .with_backoff(self.backoff)
            .with_force(config.force)
            .with_max_attempts(config.max_attempts.unwrap_or(10));
        options = if let Some(tag) = tag {
            options
                .with_target(Target::Tag(tag.to_owned()))
                .with_policy(IntegrationPolicy::None)
        } else if config.generate_target_branch {
            if ctx.promotion.is_empty() {
                return Err(StepError::failed(format!(
                    "{KIND}: generateTargetBranch needs the promotion's name"
                )));
            }
            // The branch belongs to this promotion alone, so a rerun may
            // overwrite it (as Kargo does).
            options
                .with_target(Target::Branch(Some(format!(
                    "kargo/promotion/{}",
                    ctx.promotion
                ))))
                .with_force(true)
        } else {
            options.with_target(Target::Branch(target_branch.map(str::to_owned)))
        };

        let remote_dir = dir.clone();
        let (url, _) = maybe_spawn_blocking(move || push::remote_and_branch(&remote_dir))
            .await
            .step_context(KIND)?;
        let credentials = credentials(ctx, KIND, &url).await?;
        let outcome = push::push(&dir, &options, credentials, &ctx.cancel)
            .await
            .map_err(|e| push_error(KIND, e))?;
        let mut result = StepOutcome::succeeded().with_output("commit", outcome.commit.clone());
        if let Some(branch) = &outcome.branch {
            result = result.with_output("branch", branch.clone());
        }
        if let Some(url) = push::commit_url(
            &url,
            config.provider.map(ProviderKind::as_str),
            &outcome.commit,
        ) {
            result = result.with_output("commitURL", url);
        }
        Ok(result)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "path": "./out",
            "generateTargetBranch": true,
            "maxAttempts": 5,
            "provider": "github"
        }))
        .unwrap();
        assert!(config.generate_target_branch);
        assert_eq!(config.max_attempts, Some(5));
        assert_eq!(config.provider, Some(ProviderKind::GitHub));
    }

    /// The named bug of #22: `local` and `forgejo`, which the providers
    /// take, were refused here.
    #[test]
    fn every_provider_name_is_taken() {
        for name in ProviderKind::NAMES {
            let config: Config =
                parse_config(KIND, serde_json::json!({"path": "x", "provider": name})).unwrap();
            assert_eq!(config.provider, Some(name.parse().unwrap()), "{name}");
        }
        let err = parse_config::<Config>(KIND, serde_json::json!({"path": "x", "provider": "svn"}))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown git provider \"svn\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(KIND, serde_json::json!({"path": "x", "remote": "o"}))
            .unwrap_err();
        assert!(err.to_string().contains("remote"), "{err}");
    }
}
