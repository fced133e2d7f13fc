//! The commit selection strategies over a cached repository, as Kargo's
//! selectors apply them.

use std::collections::BTreeMap;

use kargo_core::expr::{Evaluator, Scope};
use kargo_core::model::{CommitSelectionStrategy, GitSubscription};
use kargo_core::time::Timestamp;
use regex_lite::Regex;
use serde_json::{Map, Value, json};

use super::Error;
use super::history::{CommitMeta, History, Link, TagMeta};
use super::paths::PathFilter;
use crate::source::DiscoveredCommit;
use kargo_core::semver::{Constraint, Version};

/// Subjects longer than this are cut (Kargo keeps Freight small).
const SUBJECT_LIMIT: usize = 80;

/// What a discovery watches on the remote: unchanged, the selection cannot
/// have changed either (Kargo's `observedRefs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// The tip of the followed branch, before any path filtering.
    BranchHead(String),
    /// Tags passing the name filters (tag -> object id).
    Tags(BTreeMap<String, String>),
}

/// A subscription, validated and compiled.
#[derive(Debug)]
pub(crate) struct Selector {
    strategy: CommitSelectionStrategy,
    branch: String,
    constraint: Option<Constraint>,
    strict_semvers: bool,
    allow: Vec<Regex>,
    ignore: Vec<Regex>,
    paths: PathFilter,
    filter: Option<String>,
    evaluator: Evaluator,
    since: Option<Timestamp>,
    limit: usize,
}

fn compile_all(field: &'static str, patterns: &[String]) -> Result<Vec<Regex>, Error> {
    patterns
        .iter()
        .map(|p| Regex::new(p).map_err(|e| Error::invalid(field, format!("`{p}`: {e}"))))
        .collect()
}

/// The variables `expressionFilter` sees for a commit of a branch.
fn commit_vars(c: &CommitMeta) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "id": c.id,
        "commitDate": c.commit_date.to_string(),
        "author": c.author,
        "committer": c.committer,
        "subject": c.subject,
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// The variables `expressionFilter` sees for a tag.
fn tag_vars(t: &TagMeta) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "tag": t.tag,
        "id": t.commit.id,
        "creatorDate": t.creator_date.to_string(),
        "author": t.commit.author,
        "committer": t.commit.committer,
        "subject": t.commit.subject,
        "tagger": t.tagger,
        "annotation": t.annotation,
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

impl Selector {
    pub(crate) fn new(sub: &GitSubscription) -> Result<Selector, Error> {
        if sub.repo_url.trim().is_empty() {
            return Err(Error::invalid("repoURL", "must not be empty"));
        }
        crate::source::check_discovery_limit(sub.discovery_limit)
            .map_err(|reason| Error::invalid("discoveryLimit", reason))?;
        let tag_based = sub.commit_selection_strategy != CommitSelectionStrategy::NewestFromBranch;
        if tag_based && !sub.allow_tags.is_empty() {
            return Err(Error::invalid(
                "allowTags",
                "is no longer supported; use allowTagsRegexes",
            ));
        }
        if tag_based && !sub.ignore_tags.is_empty() {
            return Err(Error::invalid(
                "ignoreTags",
                "is no longer supported; use ignoreTagsRegexes",
            ));
        }
        let constraint = match sub.commit_selection_strategy {
            CommitSelectionStrategy::SemVer if !sub.semver_constraint.is_empty() => Some(
                Constraint::parse(&sub.semver_constraint)
                    .map_err(|e| Error::invalid("semverConstraint", e.to_string()))?,
            ),
            _ => None,
        };
        let since = match &sub.since {
            Some(s) => Some(
                s.parse::<Timestamp>()
                    .map_err(|e| Error::invalid("since", e.to_string()))?,
            ),
            None => None,
        };
        let filter = Some(sub.expression_filter.trim())
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        let selector = Selector {
            strategy: sub.commit_selection_strategy,
            branch: sub.branch.clone(),
            constraint,
            strict_semvers: sub.strict_semvers,
            allow: compile_all("allowTagsRegexes", &sub.allow_tags_regexes)?,
            ignore: compile_all("ignoreTagsRegexes", &sub.ignore_tags_regexes)?,
            paths: PathFilter::new(&sub.include_paths, &sub.exclude_paths)?,
            filter,
            evaluator: Evaluator::new(),
            since,
            limit: sub.discovery_limit as usize,
        };
        selector.check_filter()?;
        Ok(selector)
    }

    /// Checks that `expressionFilter` parses, before any repository is
    /// read, as Kargo compiles it up front.
    fn check_filter(&self) -> Result<(), Error> {
        match &self.filter {
            Some(filter) => self
                .evaluator
                .check_bare_expression(filter)
                .map_err(|e| Error::invalid("expressionFilter", e.to_string())),
            None => Ok(()),
        }
    }

    fn is_tag_based(&self) -> bool {
        self.strategy != CommitSelectionStrategy::NewestFromBranch
    }

    /// Runs `expressionFilter` (true without one), as Kargo does: a bool,
    /// or a value whose text Go's `strconv.ParseBool` reads.
    fn evaluate(&self, vars: Map<String, Value>) -> Result<bool, Error> {
        let Some(filter) = &self.filter else {
            return Ok(true);
        };
        let scope = Scope {
            extra: vars,
            ..Scope::default()
        };
        let value = self
            .evaluator
            .eval_expression(filter, &scope)
            .map_err(Error::Expression)?;
        match value {
            Value::Bool(b) => Ok(b),
            other => {
                let text = match &other {
                    Value::String(s) => s.clone(),
                    Value::Null => "<nil>".to_owned(),
                    v => v.to_string(),
                };
                crate::source::go_parse_bool(&text).ok_or_else(|| Error::NotABool {
                    expression: filter.clone(),
                    value: text,
                })
            }
        }
    }

    /// Whether a tag passes the name filters (and, with SemVer, is a
    /// version satisfying the constraint).
    fn matches_tag(&self, tag: &str) -> bool {
        if self.ignore.iter().any(|r| r.is_match(tag)) {
            return false;
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.is_match(tag)) {
            return false;
        }
        if self.strategy != CommitSelectionStrategy::SemVer {
            return true;
        }
        Version::parse(tag, self.strict_semvers)
            .is_ok_and(|v| self.constraint.as_ref().is_none_or(|c| c.matches(&v)))
    }

    /// Kargo's `MatchesRef` and `MatchesPaths`: whether a push of one of
    /// `refs` changing `changed_paths` (empty: unknown) could change the
    /// selection.
    pub(crate) fn matches_push<S: AsRef<str>>(&self, refs: &[S], changed_paths: &[S]) -> bool {
        let matches_ref = |r: &str| {
            if self.is_tag_based() {
                return r
                    .strip_prefix("refs/tags/")
                    .is_some_and(|tag| self.matches_tag(tag));
            }
            match r.strip_prefix("refs/heads/") {
                // Without a branch, the default one, which Kargo takes to
                // be `main` or `master`.
                Some(branch) if self.branch.is_empty() => branch == "main" || branch == "master",
                Some(branch) => branch == self.branch,
                None => false,
            }
        };
        refs.iter().any(|r| matches_ref(r.as_ref()))
            && (changed_paths.is_empty() || self.paths.matches(changed_paths))
    }

    /// The full name of the branch followed, if it can be known.
    fn branch_ref(&self, default_branch: Option<&str>) -> Option<String> {
        let branch = if self.branch.is_empty() {
            default_branch?
        } else {
            &self.branch
        };
        Some(format!("refs/heads/{branch}"))
    }

    /// What to compare between discoveries, from the remote's refs;
    /// `None` when nothing reliable can be recorded (the branch is absent).
    pub(crate) fn observe(
        &self,
        refs: &BTreeMap<String, String>,
        default_branch: Option<&str>,
    ) -> Option<Observed> {
        if self.is_tag_based() {
            return Some(Observed::Tags(
                refs.iter()
                    .filter_map(|(name, id)| {
                        let tag = name.strip_prefix("refs/tags/")?;
                        self.matches_tag(tag).then(|| (tag.to_owned(), id.clone()))
                    })
                    .collect(),
            ));
        }
        let name = self.branch_ref(default_branch)?;
        refs.get(&name).cloned().map(Observed::BranchHead)
    }

    /// Selects the commits, best first, from the cached repository whose
    /// branches and tags are `refs`.
    pub(crate) fn select(
        &self,
        history: &mut History,
        refs: &BTreeMap<String, String>,
        default_branch: Option<&str>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<DiscoveredCommit>, Error> {
        if self.is_tag_based() {
            self.select_tags(history, refs, cancelled)
        } else {
            self.select_from_branch(history, refs, default_branch, cancelled)
        }
    }

    fn select_from_branch(
        &self,
        history: &mut History,
        refs: &BTreeMap<String, String>,
        default_branch: Option<&str>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<DiscoveredCommit>, Error> {
        let Some(name) = self.branch_ref(default_branch) else {
            // An empty repository: nothing to discover.
            return Ok(Vec::new());
        };
        let tip = refs.get(&name).ok_or_else(|| Error::BranchNotFound {
            branch: name.trim_start_matches("refs/heads/").to_owned(),
        })?;
        let tip = gix::ObjectId::from_hex(tip.as_bytes()).map_err(|e| Error::read("", e))?;
        let mut selected = Vec::with_capacity(self.limit);
        let dirs = self.paths.include_dirs();
        std::thread::scope(|scope| {
            let batches = history.walk_first_parent(scope, tip);
            // A commit is looked at once its first parent has arrived.
            let mut waiting: Option<Link> = None;
            for batch in &batches {
                let batch = batch?;
                if dirs.is_some() {
                    history.prefetch_trees(batch.iter().map(|l| l.tree))?;
                }
                for parent in batch {
                    if let Some(commit) = waiting.replace(parent) {
                        let step =
                            self.visit(history, &commit, Some(parent.tree), &dirs, &mut selected)?;
                        if step == Step::Stop || cancelled() {
                            return Ok(());
                        }
                    }
                }
            }
            // The walk ended at a root commit.
            match waiting {
                Some(root) => self
                    .visit(history, &root, None, &dirs, &mut selected)
                    .map(drop),
                None => Ok(()),
            }
        })?;
        if cancelled() {
            return Err(Error::Cancelled);
        }
        Ok(selected)
    }

    /// Looks at one commit of a branch walk, whose first parent has tree
    /// `parent_tree` (`None`: a root commit), and adds it to `selected`
    /// when it counts.
    fn visit(
        &self,
        history: &mut History,
        link: &Link,
        parent_tree: Option<gix::ObjectId>,
        dirs: &Option<Vec<String>>,
        selected: &mut Vec<DiscoveredCommit>,
    ) -> Result<Step, Error> {
        if self.since.is_some_and(|since| link.commit_date < since) {
            return Ok(Step::Stop);
        }
        // Unchanged at every included directory: cannot match.
        let untouched = match dirs {
            Some(dirs) => !history.touches(parent_tree, link.tree, dirs)?,
            None => false,
        };
        let counts = self.paths.is_active().then_some(!untouched);
        if counts == Some(false) {
            return Ok(Step::Next);
        }
        // Signatures and message are read only for a commit that may count.
        let commit = history.commit(link.id)?;
        if !self.evaluate(commit_vars(&commit))? {
            return Ok(Step::Next);
        }
        if counts.is_some()
            && !self
                .paths
                .matches(&history.changed_paths_between(parent_tree, link.tree)?)
        {
            return Ok(Step::Next);
        }
        selected.push(DiscoveredCommit {
            subject: shorten(&commit.subject, SUBJECT_LIMIT),
            id: commit.id,
            branch: self.branch.clone(),
            tag: String::new(),
            author: commit.author,
            committer: commit.committer,
            creator_date: Some(commit.commit_date),
        });
        Ok(if selected.len() >= self.limit {
            Step::Stop
        } else {
            Step::Next
        })
    }

    fn select_tags(
        &self,
        history: &mut History,
        refs: &BTreeMap<String, String>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<DiscoveredCommit>, Error> {
        let named: BTreeMap<String, String> = refs
            .iter()
            .filter(|(name, _)| {
                name.strip_prefix("refs/tags/")
                    .is_some_and(|tag| self.matches_tag(tag))
            })
            .map(|(n, id)| (n.clone(), id.clone()))
            .collect();
        let tags = history.tags(&named)?;
        self.choose_tags(tags, &mut |commit| history.changed_paths(commit), cancelled)
    }

    /// Kargo's tag-based `Select` once the tags are read: the name filters
    /// (already applied to refs by [`Selector::select_tags`], cheap to apply
    /// again), `expressionFilter`, the strategy's order, then the path
    /// filters (asking `changed_paths` only for the tags looked at) until
    /// `discoveryLimit` tags are chosen.
    fn choose_tags(
        &self,
        mut tags: Vec<TagMeta>,
        changed_paths: &mut dyn FnMut(&CommitMeta) -> Result<Vec<String>, Error>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<DiscoveredCommit>, Error> {
        tags.retain(|t| self.matches_tag(&t.tag));
        let mut kept = Vec::with_capacity(tags.len());
        for tag in tags {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            if self.evaluate(tag_vars(&tag))? {
                kept.push(tag);
            }
        }
        let mut tags = kept;
        match self.strategy {
            CommitSelectionStrategy::SemVer => {
                // Greatest version first; equal versions by their text,
                // greatest first (`Version`'s order breaks ties so).
                let mut keyed: Vec<(Version, TagMeta)> = tags
                    .into_iter()
                    .filter_map(|t| {
                        Version::parse(&t.tag, self.strict_semvers)
                            .ok()
                            .map(|v| (v, t))
                    })
                    .collect();
                keyed.sort_by(|a, b| b.0.cmp(&a.0));
                tags = keyed.into_iter().map(|(_, t)| t).collect();
            }
            CommitSelectionStrategy::Lexical => tags.sort_by(|a, b| b.tag.cmp(&a.tag)),
            // `git for-each-ref --sort=-creatordate`: newest first, ties by
            // ref name ascending.
            _ => tags.sort_by(|a, b| {
                b.creator_date
                    .cmp(&a.creator_date)
                    .then_with(|| a.tag.cmp(&b.tag))
            }),
        }
        let mut selected = Vec::with_capacity(self.limit.min(tags.len()));
        for tag in tags {
            if selected.len() >= self.limit {
                break;
            }
            if self.paths.is_active() && !self.paths.matches(&changed_paths(&tag.commit)?) {
                continue;
            }
            selected.push(DiscoveredCommit {
                id: tag.commit.id.clone(),
                branch: String::new(),
                tag: tag.tag.clone(),
                subject: shorten(&tag.commit.subject, SUBJECT_LIMIT),
                author: tag.commit.author.clone(),
                committer: tag.commit.committer.clone(),
                creator_date: Some(tag.creator_date),
            });
        }
        Ok(selected)
    }
}

/// Whether a branch walk goes on after a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Next,
    Stop,
}

/// Cuts a subject to `limit` bytes (at least 3) with `...`, as Kargo's
/// `shortenString` does (on a character boundary, where Go may split a
/// character).
fn shorten(subject: &str, limit: usize) -> String {
    if subject.len() <= limit {
        return subject.to_owned();
    }
    let mut end = limit.saturating_sub(3);
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &subject[..end])
}

#[cfg(test)]
mod tests;
