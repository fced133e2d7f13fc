use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use kargo_core::credentials::CredentialType;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, Touches, parse_config,
};
use kargo_git::checkout::{self, Revision};
use kargo_git::{RepoCache, cache, maybe_spawn_blocking};
use serde_json::{Map, Value};

use super::{Checkout, Config, KIND, RULES, TOUCHES};
use crate::git::{credentials, non_empty, resolve};
use crate::schema;

impl Checkout {
    fn revision(&self) -> Result<Revision, StepError> {
        match (
            non_empty(&self.branch),
            non_empty(&self.commit),
            non_empty(&self.tag),
        ) {
            (None, None, None) => Ok(Revision::DefaultBranch),
            (Some(b), None, None) => Ok(Revision::Branch(b.to_owned())),
            (None, Some(c), None) => Ok(Revision::Commit(c.to_owned())),
            (None, None, Some(t)) => Ok(Revision::Tag(t.to_owned())),
            _ => Err(StepError::failed(format!(
                "invalid {KIND} config: checkout of `{}` names more than one of branch, commit and tag",
                self.path
            ))),
        }
    }
}

impl Checkout {
    /// The key of this checkout in the `commits` output: `as`, or `path`.
    fn key(&self) -> &str {
        non_empty(&self.alias).unwrap_or(&self.path)
    }
}

/// The checks of a parsed config the schema cannot make (or that an
/// expression may have defeated): a repository and at least one
/// checkout, an author with a name and an e-mail address, one of
/// `branch`, `commit` and `tag` at most per checkout, and no output key
/// twice. The identity `author` names, if any.
fn validate(config: &Config) -> Result<Option<kargo_git::Identity>, StepError> {
    if config.repo_url.is_empty() || config.checkout.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: repoURL and at least one checkout are required"
        )));
    }
    let author = config
        .author
        .as_ref()
        .map(|a| a.identity(KIND))
        .transpose()?;
    let mut keys = BTreeSet::new();
    for (i, c) in config.checkout.iter().enumerate() {
        c.revision()?;
        let key = c.key();
        if !keys.insert(key) {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: duplicate checkout alias {key:?} at checkout[{i}]"
            )));
        }
    }
    Ok(author)
}

/// The `git-clone` step: fetches the repository into a shared
/// [`RepoCache`] and writes a working tree per checkout. Output:
/// `commits`, the commit checked out per alias (or path).
///
/// Going beyond Kargo, a checkout without `sparse` writes only what the
/// promotion's later steps touch (see [`derive_sparse`]).
#[derive(Debug, Clone)]
pub struct GitClone {
    cache: RepoCache,
    depth: Option<std::num::NonZeroU32>,
    derive_sparse: bool,
}

impl Default for GitClone {
    fn default() -> Self {
        GitClone::new(RepoCache::from_env())
    }
}

impl GitClone {
    /// A `git-clone` step using `cache`.
    pub fn new(cache: RepoCache) -> Self {
        GitClone {
            cache,
            depth: None,
            derive_sparse: true,
        }
    }

    /// Whether a checkout without `sparse` is made sparse from the paths
    /// that later steps of the promotion name (default: on). See
    /// [`derive_sparse`].
    pub fn with_derived_sparse(mut self, enabled: bool) -> Self {
        self.derive_sparse = enabled;
        self
    }

    /// Makes new cached repositories shallow (`depth` commits per branch;
    /// `None`, the default, fetches full history as Kargo does). Working
    /// trees of a shallow cache can still commit, rebase and push.
    pub fn with_depth(mut self, depth: Option<std::num::NonZeroU32>) -> Self {
        self.depth = depth;
        self
    }
}

#[async_trait]
impl Step for GitClone {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let author = validate(&config)?;
        let mut planned = Vec::new();
        for c in &config.checkout {
            let key = c.key().to_owned();
            let dir = resolve(ctx, KIND, &c.path)?;
            let sparse = match &c.sparse {
                Some(dirs) => Some(dirs.clone()),
                None if self.derive_sparse => derive_sparse(ctx, &c.path),
                None => None,
            };
            let options = checkout::Options::new(c.revision()?)
                .with_create(c.create)
                .with_sparse(sparse)
                .with_author(author.clone())
                .with_insecure_skip_tls_verify(config.insecure_skip_tls_verify)
                .with_recurse_submodules(config.recurse_submodules)
                .with_submodule_credentials(
                    config
                        .recurse_submodules
                        .then(|| submodule_credentials(ctx)),
                );
            planned.push((key, dir, options));
        }

        let url = config.repo_url.clone();
        let credentials = credentials(ctx, KIND, &url).await?;
        let interrupt = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (cancel, flag) = (ctx.cancel.clone(), Arc::clone(&interrupt));
            tokio::spawn(async move {
                cancel.cancelled().await;
                flag.store(true, Ordering::SeqCst);
            })
        };
        let options = cache::Options::default()
            .with_insecure_skip_tls_verify(config.insecure_skip_tls_verify)
            .with_depth(self.depth)
            .with_blobless(config.blobless);
        let fetched = self
            .cache
            .fetch(&url, credentials.clone(), &options, interrupt)
            .await;
        watcher.abort();
        let fetched = fetched.step_context(KIND)?;

        let fetched = Arc::new(fetched);
        let mut commits = Map::new();
        for (key, dir, options) in planned {
            let (fetched, creds) = (Arc::clone(&fetched), credentials.clone());
            let outcome = maybe_spawn_blocking(move || {
                checkout::checkout(&fetched, &dir, &options, creds.as_ref())
            })
            .await
            .step_context(KIND)?;
            commits.insert(key, Value::String(outcome.commit));
        }
        Ok(StepOutcome::succeeded().with_output("commits", Value::Object(commits)))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

/// The lookup a checkout runs, off the executor, for each submodule's URL:
/// the step's credentials provider, asked for git credentials. A failed
/// lookup means no credentials (the fetch then fails on its own and says
/// so).
fn submodule_credentials(ctx: &StepContext) -> checkout::CredentialLookup {
    let provider = Arc::clone(&ctx.credentials);
    let runtime = tokio::runtime::Handle::try_current().ok();
    checkout::CredentialLookup::new(move |url| {
        let runtime = runtime.as_ref()?;
        runtime
            .block_on(provider.get(CredentialType::Git, url))
            .ok()
            .flatten()
    })
}

/// The sparse directories for the checkout at `checkout_path`, derived from
/// the paths the promotion's later steps touch, or `None` (a full checkout)
/// when any of them may touch the checkout in a way that cannot be told.
///
/// Each later step says where it reads and writes through its
/// [`Capabilities::touches`] (the engine passes them in
/// [`LaterStep::capabilities`](kargo_core::step::LaterStep::capabilities)),
/// so a step of any kind, a host's included, takes part by declaring its
/// path fields; this function knows no step kind. A step touching
/// [`Nothing`](Touches::Nothing) is ignored. A path is a file or a
/// directory; naming it as a cone directory covers both (cone mode writes
/// the files directly inside every listed directory's parents), and a glob
/// pattern stands for the directory before its first wildcard. A step
/// that declares nothing ([`Unknown`](Touches::Unknown), or of a kind not
/// registered), a path naming the checkout's root or a directory above it
/// (a step working on the whole tree, such as `git-clear` of the
/// checkout), or a path whose
/// expression cannot be evaluated yet gives a full checkout, and so does a
/// promotion whose later steps name nothing inside the checkout.
pub fn derive_sparse(ctx: &StepContext, checkout_path: &str) -> Option<Vec<String>> {
    let root = normalize(checkout_path)?;
    let mut dirs = Vec::new();
    for step in ctx.later_steps.iter() {
        let fields = match step.capabilities.touches {
            Touches::Nothing => continue,
            Touches::Fields(fields) => fields,
            // Unknown, or a declaration this function does not read.
            _ => return None,
        };
        let config = step.config.as_object();
        for field in fields {
            let values: Vec<&Value> = match config.and_then(|c| c.get(*field)) {
                None => continue,
                Some(Value::Array(items)) => items.iter().collect(),
                Some(value) => vec![value],
            };
            for value in values {
                let text = value.as_str()?;
                let text = if text.contains("${{") || text.contains("${%") {
                    match ctx.evaluator.eval_template(text, &ctx.scope) {
                        Ok(Value::String(s)) => s,
                        _ => return None,
                    }
                } else {
                    text.to_owned()
                };
                let path = normalize(before_wildcard(&text))?;
                if path == root || path.is_empty() || root.starts_with(&format!("{path}/")) {
                    // The step works on the whole checkout, or on a
                    // directory holding it.
                    return None;
                }
                if let Some(rest) = path.strip_prefix(&format!("{root}/")) {
                    dirs.push(rest.to_owned());
                }
            }
        }
    }
    if dirs.is_empty() {
        // No later step names anything inside the checkout (or the step
        // runs outside an engine, which fills `later_steps`): nothing to
        // derive from, so check out everything.
        return None;
    }
    dirs.sort();
    dirs.dedup();
    Some(dirs)
}

/// The part of a path before the first component holding a glob wildcard
/// (`*`, `?`, `[` or `{`): `out/env/*.yaml` covers `out/env`. A path
/// without one is itself.
fn before_wildcard(path: &str) -> &str {
    let Some(at) = path.find(['*', '?', '[', '{']) else {
        return path;
    };
    match path[..at].rfind('/') {
        Some(slash) => &path[..slash],
        None => "",
    }
}

/// A work-directory path without `.`, empty components or a trailing `/`;
/// `None` for paths that climb out with `..` or are absolute.
fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "repoURL": "https://github.com/example/repo.git",
            "checkout": [
                {"branch": "main", "path": "./src"},
                {"branch": "stage/test", "create": true, "path": "./out", "as": "out"},
                {"tag": "v1.0.0", "path": "./tag", "sparse": ["charts"]}
            ],
            "author": {"name": "Kargo", "email": "kargo@example.com"},
            "insecureSkipTLSVerify": false
        }))
        .unwrap();
        assert_eq!(config.checkout[1].alias.as_deref(), Some("out"));
        assert_eq!(
            config.checkout[2].revision().unwrap(),
            Revision::Tag("v1.0.0".into())
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"repoURL": "x", "checkout": [], "depth": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
    }

    /// Kargo: git_cloner_test.go, `Test_gitCloner_convert`. Kargo's configs
    /// there often lack `repoURL` or a checkout's `path` besides the field
    /// at issue; here they are given, so the error is about that field.
    /// One case differs on purpose: kargo-rs does not sign commits, so a
    /// `signingKey` is refused rather than ignored.
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        const URL: &str = "https://github.com/example/repo.git";
        let with_author = |author: Value| json!({"repoURL": URL, "checkout": [{"path": "/fake/path/0"}], "author": author});
        let one = |checkout: Value| json!({"repoURL": URL, "checkout": [checkout]});
        let exclusive = "names more than one of branch, commit and tag";
        crate::testing::convert_cases::<Config>(
            &GitClone::new(RepoCache::new("unused")),
            KIND,
            |c| validate(c).map(|_| ()),
            vec![
                (
                    "repoURL not specified",
                    json!({"checkout": [{"path": "p"}]}),
                    Some("missing field `repoURL`"),
                ),
                (
                    "repoURL is empty string",
                    json!({"repoURL": ""}),
                    Some("`repoURL` must not be empty"),
                ),
                (
                    "no checkout specified",
                    json!({"repoURL": URL}),
                    Some("missing field `checkout`"),
                ),
                (
                    "checkout is an empty array",
                    json!({"checkout": []}),
                    Some("`checkout` must have at least one item"),
                ),
                (
                    "checkout path is not specified",
                    one(json!({})),
                    Some("missing field `path`"),
                ),
                (
                    "checkout path is empty string",
                    one(json!({"path": ""})),
                    Some("`checkout[0].path` must not be empty"),
                ),
                (
                    "branch and commit are both specified",
                    one(json!({"branch": "fake-branch", "commit": "fake-commit", "path": "p"})),
                    Some(exclusive),
                ),
                (
                    "branch and tag are both specified",
                    one(json!({"branch": "fake-branch", "tag": "fake-tag", "path": "p"})),
                    Some(exclusive),
                ),
                (
                    "commit and tag are both specified",
                    one(json!({"commit": "fake-commit", "tag": "fake-tag", "path": "p"})),
                    Some(exclusive),
                ),
                (
                    "duplicate aliases",
                    json!({"repoURL": URL, "checkout": [
                        {"as": "alias1", "path": "/fake/path/0"},
                        {"as": "alias1", "path": "/fake/path/1"},
                    ]}),
                    Some("duplicate checkout alias \"alias1\" at checkout[1]"),
                ),
                (
                    "author name is missing",
                    with_author(json!({"email": "tony@starkindustries.com"})),
                    Some("missing field `name`"),
                ),
                (
                    "author name is empty",
                    with_author(json!({"name": "", "email": "tony@starkindustries.com"})),
                    Some("`author.name` must not be empty"),
                ),
                (
                    "author email is missing",
                    with_author(json!({"name": "Tony Stark"})),
                    Some("missing field `email`"),
                ),
                (
                    "author email is empty",
                    with_author(json!({"name": "Tony Stark", "email": ""})),
                    Some("`author.email` is not an e-mail address"),
                ),
                (
                    "signingKey is missing",
                    with_author(json!({"name": "Tony Stark", "email": "tony@starkindustries.com"})),
                    None,
                ),
                (
                    "signingKey is empty string",
                    with_author(
                        json!({"name": "Tony Stark", "email": "tony@starkindustries.com", "signingKey": ""}),
                    ),
                    None,
                ),
                (
                    "signingKey is set (differs: signing is not supported)",
                    with_author(
                        json!({"name": "Tony Stark", "email": "tony@starkindustries.com", "signingKey": "key"}),
                    ),
                    Some("author.signingKey is not supported"),
                ),
                (
                    "valid kitchen sink",
                    json!({"repoURL": URL, "checkout": [
                        {"path": "/fake/path/0"},
                        {"branch": "", "commit": "", "tag": "", "path": "/fake/path/1"},
                        {"branch": "fake-branch", "path": "/fake/path/2"},
                        {"branch": "fake-branch", "commit": "", "tag": "", "path": "/fake/path/3"},
                        {"commit": "fake-commit", "path": "/fake/path/4"},
                        {"branch": "", "commit": "fake-commit", "tag": "", "path": "/fake/path/5"},
                        {"tag": "fake-tag", "path": "/fake/path/6"},
                        {"branch": "", "commit": "", "tag": "fake-tag", "path": "/fake/path/7"},
                        {"path": "/fake/path/8", "as": "alias1"},
                        {"branch": "", "commit": "", "tag": "", "path": "/fake/path/9", "as": "alias2"},
                        {"path": "/fake/path/10"},
                    ]}),
                    None,
                ),
            ],
        );
    }

    /// A context whose later steps are `later`, each with the capabilities
    /// of the built-in step of its kind, as the engine passes them.
    fn ctx_with(later: Vec<(&str, Value)>) -> StepContext {
        let mut registry = kargo_core::step::StepRegistry::new();
        crate::register_builtins(&mut registry);
        let dir = std::env::temp_dir();
        let mut ctx = StepContext::new(kargo_core::Workspace::new(dir).unwrap());
        ctx.later_steps = later
            .into_iter()
            .map(|(uses, config)| {
                let capabilities = registry
                    .get(uses)
                    .map(|step| step.capabilities())
                    .unwrap_or_default();
                kargo_core::step::LaterStep::new(uses, config).with_capabilities(capabilities)
            })
            .collect();
        ctx
    }

    #[test]
    fn sparse_is_derived_from_the_paths_later_steps_name() {
        let ctx = ctx_with(vec![
            (
                "file-write",
                serde_json::json!({"path": "./out/env/prod/values.yaml"}),
            ),
            (
                "yaml-update",
                serde_json::json!({"path": "out/apps/a/kustomization.yaml"}),
            ),
            (
                "copy",
                serde_json::json!({"inPath": "src/charts/x", "outPath": "out/charts/x"}),
            ),
            (
                "git-commit",
                serde_json::json!({"path": "./out", "message": "m"}),
            ),
            ("git-push", serde_json::json!({"path": "./out"})),
        ]);
        assert_eq!(
            derive_sparse(&ctx, "./out"),
            Some(vec![
                "apps/a/kustomization.yaml".to_owned(),
                "charts/x".to_owned(),
                "env/prod/values.yaml".to_owned()
            ])
        );
        assert_eq!(
            derive_sparse(&ctx, "src"),
            Some(vec!["charts/x".to_owned()])
        );
    }

    #[test]
    fn yaml_merge_names_its_inputs_and_its_output() {
        let ctx = ctx_with(vec![(
            "yaml-merge",
            serde_json::json!({
                "inFiles": ["./src/charts/app/values.yaml", "./src/env/qa/values.yaml"],
                "outFile": "./out/charts/app/values.yaml"
            }),
        )]);
        assert_eq!(
            derive_sparse(&ctx, "./src"),
            Some(vec![
                "charts/app/values.yaml".to_owned(),
                "env/qa/values.yaml".to_owned()
            ])
        );
        assert_eq!(
            derive_sparse(&ctx, "./out"),
            Some(vec!["charts/app/values.yaml".to_owned()])
        );
    }

    #[test]
    fn unknown_steps_and_whole_tree_steps_give_a_full_checkout() {
        let unknown = ctx_with(vec![(
            "my-custom-step",
            serde_json::json!({"path": "out/x"}),
        )]);
        assert_eq!(derive_sparse(&unknown, "out"), None);
        let clear = ctx_with(vec![("git-clear", serde_json::json!({"path": "./out"}))]);
        assert_eq!(derive_sparse(&clear, "out"), None);
        let build = ctx_with(vec![(
            "kustomize-build",
            serde_json::json!({"path": "out", "outPath": "rendered.yaml"}),
        )]);
        assert_eq!(derive_sparse(&build, "out"), None);
        assert_eq!(derive_sparse(&ctx_with(vec![]), "out"), None);
    }

    #[test]
    fn delete_names_its_paths_and_a_glob_its_directory() {
        let ctx = ctx_with(vec![(
            "delete",
            serde_json::json!({
                "paths": ["./out/apps/old", "out/env/*.yaml"],
                "pathsAreGlobs": true
            }),
        )]);
        assert_eq!(
            derive_sparse(&ctx, "out"),
            Some(vec!["apps/old".to_owned(), "env".to_owned()])
        );
        // A glob whose wildcard is above the checkout may match all of it.
        let wide = ctx_with(vec![("delete", serde_json::json!({"path": "o*/env"}))]);
        assert_eq!(derive_sparse(&wide, "out"), None);
    }

    #[test]
    fn steps_that_touch_no_files_are_ignored_and_a_body_file_is_checked_out() {
        let ctx = ctx_with(vec![
            ("argocd-wait", serde_json::json!({"apps": [{"name": "a"}]})),
            (
                "oci-push",
                serde_json::json!({"srcRef": "r/a:1", "destRef": "r/b:1"}),
            ),
            (
                "set-freight-alias",
                serde_json::json!({"name": "f", "alias": "a"}),
            ),
            (
                "http",
                serde_json::json!({"url": "https://x", "bodyFromFile": "out/body.json"}),
            ),
            (
                "oci-download",
                serde_json::json!({"imageRef": "r/a:1", "outPath": "out/chart.tgz"}),
            ),
        ]);
        assert_eq!(
            derive_sparse(&ctx, "out"),
            Some(vec!["body.json".to_owned(), "chart.tgz".to_owned()])
        );
    }

    #[test]
    fn steps_reading_paths_their_files_name_give_a_full_checkout() {
        // An overlay names its base (`../../base`) itself.
        for (kind, config) in [
            (
                "kustomize-build",
                serde_json::json!({"path": "src/overlays/prod", "outPath": "out/prod.yaml"}),
            ),
            (
                "helm-update-chart",
                serde_json::json!({"path": "src/charts/app", "charts": []}),
            ),
            ("tf-plan", serde_json::json!({"dir": "src/infra/prod"})),
        ] {
            let ctx = ctx_with(vec![
                ("file-write", serde_json::json!({"path": "src/a.txt"})),
                (kind, config),
            ]);
            assert_eq!(derive_sparse(&ctx, "src"), None, "{kind}");
        }
    }

    #[test]
    fn a_path_above_the_checkout_gives_a_full_checkout() {
        let ctx = ctx_with(vec![
            ("file-write", serde_json::json!({"path": "out/a.txt"})),
            (
                "tar",
                serde_json::json!({"inPath": ".", "outPath": "bundle.tar"}),
            ),
        ]);
        assert_eq!(derive_sparse(&ctx, "out"), None);
    }
}
