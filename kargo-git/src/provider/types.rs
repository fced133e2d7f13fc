//! The types every provider shares.

use serde::{Deserialize, Serialize};

/// Where a pull request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrState {
    /// Open for review (drafts and locked ones included).
    Open,
    /// Merged into its target branch.
    Merged,
    /// Closed without being merged.
    Closed,
}

impl PrState {
    /// `open`, `merged` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Merged => "merged",
            PrState::Closed => "closed",
        }
    }
}

/// A pull request (a merge request on GitLab), as every provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PullRequest {
    /// The number, unique within the repository (GitLab's `iid`).
    pub number: u64,
    /// Where a person sees it.
    pub url: String,
    /// The title.
    pub title: String,
    /// The description (body).
    #[serde(default)]
    pub description: String,
    /// The branch with the changes.
    pub source_branch: String,
    /// The branch the changes go into.
    pub target_branch: String,
    /// Open, merged or closed.
    pub state: PrState,
    /// The commit the merge made on the target branch (merged only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// The commit at the head of the source branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Who approved it (providers that report approvals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
    /// When it was opened (RFC 3339), when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl PullRequest {
    /// A pull request with the required fields and nothing else.
    pub fn new(
        number: u64,
        url: impl Into<String>,
        source_branch: impl Into<String>,
        target_branch: impl Into<String>,
        state: PrState,
    ) -> Self {
        PullRequest {
            number,
            url: url.into(),
            title: String::new(),
            description: String::new(),
            source_branch: source_branch.into(),
            target_branch: target_branch.into(),
            state,
            merge_commit: None,
            head_sha: None,
            labels: Vec::new(),
            approved_by: Vec::new(),
            created_at: None,
        }
    }

    /// Whether it is open.
    pub fn is_open(&self) -> bool {
        self.state == PrState::Open
    }

    /// Whether it was merged.
    pub fn is_merged(&self) -> bool {
        self.state == PrState::Merged
    }
}

/// What [`GitProvider::open`](super::GitProvider::open) is asked to open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NewPullRequest {
    /// The branch with the changes.
    pub source_branch: String,
    /// The branch the changes go into.
    pub target_branch: String,
    /// The title. Empty: the provider derives one. The local provider
    /// takes the source branch's head commit message, as Kargo does (its
    /// subject is the title; the rest is the description when none is
    /// given); the REST providers use [`NewPullRequest::fallback_title`].
    pub title: String,
    /// The description.
    pub description: String,
    /// Labels to add (providers without labels ignore them; see
    /// [`Capabilities::labels`]).
    pub labels: Vec<String>,
}

impl NewPullRequest {
    /// A pull request from `source` into `target` titled `title`.
    pub fn new(
        source: impl Into<String>,
        target: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        NewPullRequest {
            source_branch: source.into(),
            target_branch: target.into(),
            title: title.into(),
            ..Default::default()
        }
    }

    /// `Promote SOURCE into TARGET`: the title when none was given and the
    /// provider has nothing better.
    pub fn fallback_title(&self) -> String {
        format!("Promote {} into {}", self.source_branch, self.target_branch)
    }

    /// The title, or [`NewPullRequest::fallback_title`] when empty.
    #[cfg_attr(not(feature = "rest"), allow(dead_code))] // The forges' open().
    pub(crate) fn title_or_fallback(&self) -> String {
        if self.title.is_empty() {
            self.fallback_title()
        } else {
            self.title.clone()
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the labels.
    pub fn with_labels(mut self, labels: Vec<String>) -> Self {
        self.labels = labels;
        self
    }
}

/// What [`GitProvider::open`](super::GitProvider::open) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened {
    /// The pull request.
    pub pr: PullRequest,
    /// `true` when an open pull request for the same branches was reused.
    pub reused: bool,
}

/// Which pull requests [`GitProvider::list`](super::GitProvider::list) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Open ones only.
    #[default]
    Open,
    /// Merged or closed ones.
    Closed,
    /// All.
    All,
}

impl StateFilter {
    /// Whether `state` passes.
    pub fn matches(self, state: PrState) -> bool {
        match self {
            StateFilter::Open => state == PrState::Open,
            StateFilter::Closed => state != PrState::Open,
            StateFilter::All => true,
        }
    }
}

/// Filters for [`GitProvider::list`](super::GitProvider::list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListOptions {
    /// Which states.
    pub state: StateFilter,
    /// Only from this source branch.
    pub source_branch: Option<String>,
    /// Only into this target branch.
    pub target_branch: Option<String>,
}

impl ListOptions {
    /// Sets [`ListOptions::state`].
    pub fn with_state(mut self, state: StateFilter) -> Self {
        self.state = state;
        self
    }

    /// Sets both branches.
    pub fn with_branches(mut self, source: impl Into<String>, target: impl Into<String>) -> Self {
        self.source_branch = Some(source.into());
        self.target_branch = Some(target.into());
        self
    }

    /// Whether `pr` passes every filter.
    pub fn matches(&self, pr: &PullRequest) -> bool {
        self.state.matches(pr.state)
            && self
                .source_branch
                .as_deref()
                .is_none_or(|b| b == pr.source_branch)
            && self
                .target_branch
                .as_deref()
                .is_none_or(|b| b == pr.target_branch)
    }
}

/// How a pull request is merged.
///
/// Kargo's `mergeMethod` names a provider's own strategy; [`FromStr`]
/// reads those names too (`noFastForward` and `merge_commit` are
/// [`Merge`](MergeMethod::Merge), `rebaseMerge` is
/// [`RebaseMerge`](MergeMethod::RebaseMerge), `fast_forward` and
/// `fast-forward-only` are [`FastForward`](MergeMethod::FastForward)). A
/// provider that lacks a method fails with
/// [`Error::Unsupported`](super::Error::Unsupported); its
/// [`Capabilities::merge_methods`] lists the ones it has.
///
/// [`FromStr`]: std::str::FromStr
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MergeMethod {
    /// A merge commit with both branches as parents.
    Merge,
    /// One new commit with all the changes, on the target branch.
    Squash,
    /// The source branch's commits replayed onto the target branch.
    Rebase,
    /// The source branch's commits replayed onto the target branch, then
    /// joined to it by a merge commit (Azure's `rebaseMerge`, Gitea's
    /// `rebase-merge`).
    RebaseMerge,
    /// The target branch moved to the source branch's head, which must
    /// already contain it (Gitea's `fast-forward-only`, Bitbucket's
    /// `fast_forward`); a target that moved on is a conflict.
    FastForward,
}

impl MergeMethod {
    /// Every method, in the order [`Capabilities::all`] lists them.
    pub const ALL: [MergeMethod; 5] = [
        MergeMethod::Merge,
        MergeMethod::Squash,
        MergeMethod::Rebase,
        MergeMethod::RebaseMerge,
        MergeMethod::FastForward,
    ];

    /// `merge`, `squash`, `rebase`, `rebase-merge` or `fast-forward`.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
            MergeMethod::RebaseMerge => "rebase-merge",
            MergeMethod::FastForward => "fast-forward",
        }
    }
}

impl std::str::FromStr for MergeMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "merge" | "noFastForward" | "merge_commit" => MergeMethod::Merge,
            "squash" => MergeMethod::Squash,
            "rebase" => MergeMethod::Rebase,
            "rebase-merge" | "rebaseMerge" => MergeMethod::RebaseMerge,
            "fast-forward" | "fast-forward-only" | "fast_forward" => MergeMethod::FastForward,
            other => {
                return Err(format!(
                    "unknown merge method {other:?} (expected merge, squash, rebase, \
                     rebase-merge or fast-forward, or a provider's name for one: \
                     noFastForward, merge_commit, rebaseMerge, fast-forward-only, fast_forward)"
                ));
            }
        })
    }
}

/// A step config's `mergeMethod` reads through [`FromStr`](std::str::FromStr),
/// so Kargo's provider-specific names are taken, and an unknown one is
/// refused naming the field.
impl<'de> Deserialize<'de> for MergeMethod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Written as [`MergeMethod::as_str`].
impl Serialize for MergeMethod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for MergeMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`GitProvider::merge`](super::GitProvider::merge) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // Merged is the common case.
pub enum MergeOutcome {
    /// Merged now, or before; the pull request as it is after the merge.
    Merged(PullRequest),
    /// Not mergeable yet (checks pending, a draft, mergeability not yet
    /// computed); trying again later may succeed.
    NotReady {
        /// Why, as the provider says.
        reason: String,
    },
}

/// What a provider supports beyond opening, reading and merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// `approve` works.
    pub approve: bool,
    /// Labels are kept.
    pub labels: bool,
    /// The merge methods it accepts.
    pub merge_methods: &'static [MergeMethod],
}

impl Capabilities {
    /// Capabilities with every merge method, approvals and labels.
    pub const fn all() -> Self {
        Capabilities {
            approve: true,
            labels: true,
            merge_methods: &MergeMethod::ALL,
        }
    }

    /// Whether `method` is accepted.
    pub fn merges_with(&self, method: MergeMethod) -> bool {
        self.merge_methods.contains(&method)
    }

    /// `Ok` when `method` is accepted or none is asked for; else
    /// [`Error::Unsupported`](super::Error::Unsupported) naming `provider`
    /// and the method.
    #[cfg_attr(not(feature = "rest"), allow(dead_code))] // The forges' merge().
    pub(crate) fn check_merge(
        &self,
        provider: &'static str,
        method: Option<MergeMethod>,
    ) -> Result<(), super::Error> {
        match method {
            Some(m) if !self.merges_with(m) => Err(super::Error::Unsupported {
                provider,
                operation: format!("merge method {m}"),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::MergeMethod;

    #[test]
    fn merge_methods_read_kargo_s_names_for_every_provider() {
        // Kargo's git-merge-pr `mergeMethod`, provider by provider.
        for (name, method) in [
            ("merge", MergeMethod::Merge),
            ("squash", MergeMethod::Squash),
            ("rebase", MergeMethod::Rebase),
            ("noFastForward", MergeMethod::Merge),
            ("rebaseMerge", MergeMethod::RebaseMerge),
            ("merge_commit", MergeMethod::Merge),
            ("fast_forward", MergeMethod::FastForward),
            ("rebase-merge", MergeMethod::RebaseMerge),
            ("fast-forward-only", MergeMethod::FastForward),
        ] {
            assert_eq!(name.parse::<MergeMethod>(), Ok(method), "{name}");
        }
        for method in MergeMethod::ALL {
            assert_eq!(method.as_str().parse::<MergeMethod>(), Ok(method));
        }
        let err = "manually-merged".parse::<MergeMethod>().unwrap_err();
        assert!(err.contains("\"manually-merged\""), "{err}");
        // A config reads the same names.
        let read: MergeMethod = serde_json::from_value(serde_json::json!("noFastForward")).unwrap();
        assert_eq!(read, MergeMethod::Merge);
        assert!(
            serde_json::from_value::<MergeMethod>(serde_json::json!("manually-merged")).is_err()
        );
    }
}
