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
        validate(&config)?;
        let target_branch = non_empty(&config.target_branch);
        let tag = non_empty(&config.tag);
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

/// The checks of a parsed config the schema's `oneOf` and bounds make:
/// at most one of `targetBranch`, `generateTargetBranch` and `tag` (empty
/// strings count as unset), no `force` with `tag`, and `maxAttempts`
/// between 1 and 2147483647.
fn validate(config: &Config) -> Result<(), StepError> {
    let invalid = |m: &str| Err(StepError::failed(format!("invalid {KIND} config: {m}")));
    let tag = non_empty(&config.tag).is_some();
    let named = [
        non_empty(&config.target_branch).is_some(),
        config.generate_target_branch,
        tag,
    ];
    if named.iter().filter(|n| **n).count() > 1 {
        return invalid("targetBranch, generateTargetBranch and tag are mutually exclusive");
    }
    if tag && config.force {
        return invalid("tag and force are mutually exclusive");
    }
    match config.max_attempts {
        Some(0) => invalid("maxAttempts must be at least 1"),
        Some(n) if n > MAX_ATTEMPTS => invalid("maxAttempts must be at most 2147483647"),
        _ => Ok(()),
    }
}

/// The largest `maxAttempts` Kargo's schema allows (its `int32`).
const MAX_ATTEMPTS: u32 = i32::MAX as u32;

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

    /// Kargo: git_pusher_test.go, `Test_gitPusher_convert`. (The
    /// `maxAttempts` cases there leave out `path`; here it is given.)
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        let with_path = |extra: Value| {
            let mut config = json!({"path": "/fake/path"});
            config
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            config
        };
        const EXCLUSIVE: &str = "are mutually exclusive";
        crate::testing::convert_cases::<Config>(
            &GitPush::new(),
            KIND,
            validate,
            vec![
                (
                    "path not specified",
                    json!({}),
                    Some("missing field `path`"),
                ),
                (
                    "path is empty string",
                    json!({"path": ""}),
                    Some("`path` must not be empty"),
                ),
                (
                    "maxAttempts < 1",
                    with_path(json!({"maxAttempts": 0})),
                    Some("maxAttempts must be at least 1"),
                ),
                (
                    "maxAttempts > 2147483647",
                    with_path(json!({"maxAttempts": 2_147_483_648_u64})),
                    Some("maxAttempts must be at most 2147483647"),
                ),
                (
                    "maxAttempts = 2147483647",
                    with_path(json!({"maxAttempts": 2_147_483_647})),
                    None,
                ),
                (
                    "just generateTargetBranch is true",
                    with_path(json!({"generateTargetBranch": true})),
                    None,
                ),
                (
                    "generateTargetBranch is true and targetBranch is empty string",
                    with_path(json!({"generateTargetBranch": true, "targetBranch": ""})),
                    None,
                ),
                (
                    "generateTargetBranch is true and targetBranch is specified",
                    with_path(json!({"generateTargetBranch": true, "targetBranch": "fake-branch"})),
                    Some(EXCLUSIVE),
                ),
                (
                    "generateTargetBranch, targetBranch, and tag not specified",
                    with_path(json!({})),
                    None,
                ),
                (
                    "generateTargetBranch not specified and targetBranch is empty string",
                    with_path(json!({"targetBranch": ""})),
                    None,
                ),
                (
                    "generateTargetBranch not specified and targetBranch is specified",
                    with_path(json!({"targetBranch": "fake-branch"})),
                    None,
                ),
                (
                    "just generateTargetBranch is false",
                    with_path(json!({"generateTargetBranch": false})),
                    None,
                ),
                (
                    "generateTargetBranch is false and targetBranch is empty string",
                    with_path(json!({"generateTargetBranch": false, "targetBranch": ""})),
                    None,
                ),
                (
                    "generateTargetBranch is false and targetBranch is specified",
                    with_path(
                        json!({"generateTargetBranch": false, "targetBranch": "fake-branch"}),
                    ),
                    None,
                ),
                ("force is true", with_path(json!({"force": true})), None),
                ("force is false", with_path(json!({"force": false})), None),
                (
                    "tag and generateTargetBranch both specified",
                    with_path(json!({"generateTargetBranch": true, "tag": "v1.0.0"})),
                    Some(EXCLUSIVE),
                ),
                (
                    "tag and targetBranch both specified",
                    with_path(json!({"targetBranch": "fake-branch", "tag": "v1.0.0"})),
                    Some(EXCLUSIVE),
                ),
                // The schema's third branch: a tag is never force-pushed.
                (
                    "tag and force both specified",
                    with_path(json!({"tag": "v1.0.0", "force": true})),
                    Some("tag and force are mutually exclusive"),
                ),
            ],
        );
    }
}
