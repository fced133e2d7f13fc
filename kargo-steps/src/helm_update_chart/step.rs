use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kargo_core::expr::document::NodeKind;
use kargo_core::semver::{Constraint, Version};
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use kargo_sources::helm::{ChartSource, IndexEntry, RepositoryIndex};
use serde_json::Value;

use super::lock::{self, Locked, OldLock, Requirement};
use super::{Config, HelmUpdateChart, KIND, RULES, TOUCHES, archive, commit_message, edit};
use crate::edit::{blocking, read_text};
use crate::schema;

/// What the step read from the chart directory.
struct Read {
    /// `Chart.yaml`.
    chart_yaml: String,
    /// `Chart.lock`, when there is one.
    lock: Option<OldLock>,
}

/// What the step writes once everything is resolved and fetched.
struct Plan {
    /// The new `Chart.yaml`, when `charts` changed it.
    chart_yaml: Option<String>,
    /// The new `Chart.lock`, when its digest changed.
    lock: Option<String>,
    /// Archives for `charts/`, by file name.
    archives: Vec<(String, Vec<u8>)>,
    /// Names of dependencies without a repository, whose archives in
    /// `charts/` stay.
    local: BTreeSet<String>,
}

/// Paths of the chart, absolute and as shown in messages.
#[derive(Clone)]
struct Chart {
    dir: PathBuf,
    /// `config.path` without a trailing `/`.
    shown: String,
}

impl Chart {
    fn show(&self, file: &str) -> String {
        format!("{}/{file}", self.shown)
    }
}

/// A failure of the chart's files or repositories: the config was usable,
/// so the step ends `Errored`, not retried (Kargo: `Errored`).
fn terminal(message: impl Into<String>) -> StepError {
    StepError::terminal(format!("{KIND}: {}", message.into()))
}

/// A repository failure, by the rule: retryable when the repository was
/// unreachable or overloaded, else terminal.
fn repository_error(what: String, e: kargo_sources::helm::Error) -> StepError {
    StepError::classify(e).context(format!("{KIND}: {what}"))
}

/// Runs `op` unless the promotion is cancelled first.
async fn cancellable<T>(
    ctx: &StepContext,
    op: impl Future<Output = Result<T, StepError>>,
) -> Result<T, StepError> {
    tokio::select! {
        r = op => r,
        () = ctx.cancel.cancelled() => Err(StepError::terminal(format!("{KIND}: cancelled"))),
    }
}

/// Why a chart of Helm's apiVersion v1 is refused. Kargo runs Helm's
/// dependency manager, which for such a chart reads `requirements.yaml`
/// and writes `requirements.lock`, then reads the `Chart.lock` Helm did
/// not write and fails: no v1 chart goes through Kargo's step either.
const V1_REFUSED: &str = "charts of apiVersion v1 (dependencies in requirements.yaml, \
     locked in requirements.lock) are not supported: kargo-rs, like Kargo, updates the \
     dependencies Chart.yaml lists and locks them in Chart.lock; move them into Chart.yaml \
     with `apiVersion: v2`";

/// Reads `Chart.yaml` and, when there is one, `Chart.lock`.
fn read_chart(ctx: &StepContext, chart: &Chart) -> Result<Read, StepError> {
    let chart_yaml = read_text(
        &ctx.workspace,
        &chart.dir.join("Chart.yaml"),
        &chart.show("Chart.yaml"),
    )?;
    // An apiVersion v1 chart keeps its dependencies in requirements.yaml
    // (Helm also reads one beside a v2 Chart.yaml). Refused before anything
    // is written, rather than leaving those dependencies as they are.
    for legacy in ["requirements.yaml", "requirements.lock"] {
        if std::fs::symlink_metadata(chart.dir.join(legacy)).is_ok() {
            return Err(terminal(format!("`{}`: {V1_REFUSED}", chart.show(legacy))));
        }
    }
    let lock_path = chart.dir.join("Chart.lock");
    let shown = chart.show("Chart.lock");
    let lock = match std::fs::symlink_metadata(&lock_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(
                StepError::terminal(format!("{KIND}: cannot read `{shown}`")).with_source(e),
            );
        }
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(terminal(format!(
                "`{shown}` is a symbolic link; Helm does not write through one"
            )));
        }
        Ok(_) => {
            let text = read_text(&ctx.workspace, &lock_path, &shown)?;
            let doc = crate::edit::yaml::read_document(&text)
                .map_err(|e| terminal(format!("cannot read `{shown}`: {e}")))?;
            Some(lock::old_lock(doc.root()).map_err(|e| terminal(format!("`{shown}`: {e}")))?)
        }
    };
    Ok(Read { chart_yaml, lock })
}

/// Where a dependency comes from.
enum Source<'a> {
    /// `charts/<name>`.
    Local,
    /// A chart directory, relative to the chart.
    Directory(&'a str),
    /// An `oci://` chart: `registry/path` + `/name`.
    Oci(String),
    /// A classic repository.
    Http,
}

fn source_of(req: &Requirement) -> Result<Source<'_>, StepError> {
    let repo = req.repository.as_str();
    if repo.is_empty() {
        Ok(Source::Local)
    } else if let Some(path) = repo.strip_prefix("file://") {
        Ok(Source::Directory(path))
    } else if repo.starts_with("oci://") {
        Ok(Source::Oci(format!(
            "{}/{}",
            repo.trim_end_matches('/'),
            req.name
        )))
    } else if repo.starts_with("http://") || repo.starts_with("https://") {
        Ok(Source::Http)
    } else if repo.starts_with('@') || repo.starts_with("alias:") {
        Err(terminal(format!(
            "dependency {:?}: no repository definition for {repo}: name the repository by its URL",
            req.name
        )))
    } else {
        Err(terminal(format!(
            "dependency {:?}: unsupported repository {repo:?} (expected http://, https://, oci:// \
             or file://, or none for a chart in charts/)",
            req.name
        )))
    }
}

/// Resolves and fetches the dependencies of one chart.
struct Resolver<'a> {
    ctx: &'a StepContext,
    chart: &'a Chart,
    /// The chart's directory relative to the work dir, as configured.
    rel: &'a str,
    client: ChartSource,
    indexes: HashMap<String, RepositoryIndex>,
    max_bytes: u64,
}

impl Resolver<'_> {
    /// The index of `repo`, read once per run.
    async fn index(&mut self, repo: &str) -> Result<&RepositoryIndex, StepError> {
        let key = repo.trim_end_matches('/').to_owned();
        if !self.indexes.contains_key(&key) {
            let index = cancellable(self.ctx, async {
                self.client.index(repo, false).await.map_err(|e| {
                    repository_error(
                        format!("cannot read the index of chart repository {repo}"),
                        e,
                    )
                })
            })
            .await?;
            self.indexes.insert(key.clone(), index);
        }
        Ok(&self.indexes[&key])
    }

    /// The versions of `name` in `repo`'s index that can be fetched,
    /// newest first (Helm sorts the index when it loads it).
    async fn listed(
        &mut self,
        repo: &str,
        name: &str,
    ) -> Result<Vec<(Version, IndexEntry)>, StepError> {
        let index = self.index(repo).await?;
        let Some(entries) = index.entries.get(name) else {
            return Err(terminal(format!("{name} chart not found in repo {repo}")));
        };
        let mut listed: Vec<(Version, IndexEntry)> = entries
            .iter()
            .filter(|e| !e.urls.is_empty())
            .filter_map(|e| {
                Version::parse(&e.version, false)
                    .ok()
                    .map(|v| (v, e.clone()))
            })
            .collect();
        listed.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(listed)
    }

    /// The absolute path of a `file://` dependency, inside the work dir.
    fn directory(&self, req: &Requirement, path: &str) -> Result<PathBuf, StepError> {
        if Path::new(path).is_absolute() {
            return Err(terminal(format!(
                "invalid dependency {:?}: dependency path {path:?} must be relative",
                req.repository
            )));
        }
        let rel = Path::new(self.rel).join(path);
        let abs = self
            .ctx
            .workspace
            .resolve(&rel)
            .map_err(|e| terminal(format!("invalid dependency {:?}: {e}", req.repository)))?;
        if !abs.join("Chart.yaml").is_file() {
            return Err(terminal(format!(
                "invalid dependency {:?}: no chart (Chart.yaml) in {}",
                req.repository,
                rel.display()
            )));
        }
        Ok(abs)
    }

    /// The version `req` locks to, or `None` when nothing satisfies its
    /// constraint.
    async fn resolve(&mut self, req: &Requirement) -> Result<Option<String>, StepError> {
        let constraint = Constraint::parse(&req.version).map_err(|e| {
            terminal(format!(
                "dependency {:?} has an invalid version/constraint format: {e}",
                req.name
            ))
        })?;
        match source_of(req)? {
            Source::Local => {
                let dir = self.chart.dir.join("charts").join(&req.name);
                if !dir.is_dir() {
                    return Err(terminal(format!(
                        "dependency {:?} has no repository and `{}` is not a directory",
                        req.name,
                        self.chart.show(&format!("charts/{}", req.name))
                    )));
                }
                Ok(Some(req.version.clone()))
            }
            Source::Directory(path) => {
                let dir = self.directory(req, path)?;
                let (_, version) = chart_metadata(&dir.join("Chart.yaml")).map_err(|e| {
                    terminal(format!("invalid dependency {:?}: {e}", req.repository))
                })?;
                let parsed = Version::parse(&version, false).map_err(|e| {
                    terminal(format!("invalid dependency {:?}: {e}", req.repository))
                })?;
                Ok(constraint.matches(&parsed).then_some(version))
            }
            Source::Oci(reference) => {
                // An exact version is taken as it is, as Helm does.
                if Version::parse(&req.version, false).is_ok() {
                    return Ok(Some(req.version.clone()));
                }
                let mut versions = cancellable(self.ctx, async {
                    self.client
                        .oci_versions(&reference, false)
                        .await
                        .map_err(|e| {
                            repository_error(
                                format!(
                                    "could not retrieve list of tags for repository {}",
                                    req.repository
                                ),
                                e,
                            )
                        })
                })
                .await?;
                versions.sort_by(|a, b| b.cmp(a));
                Ok(versions
                    .iter()
                    .find(|v| constraint.matches(v))
                    .map(|v| v.original().to_owned()))
            }
            Source::Http => {
                let listed = self.listed(&req.repository, &req.name).await?;
                Ok(listed
                    .iter()
                    .find(|(v, _)| constraint.matches(v))
                    .map(|(_, e)| e.version.clone()))
            }
        }
    }

    /// The archive of a locked dependency, as a file name for `charts/`
    /// and its bytes; `None` for a dependency without a repository (its
    /// directory in `charts/` is checked instead). `seen` holds the
    /// archive URLs fetched so far, each fetched once.
    async fn fetch(
        &mut self,
        req: &Requirement,
        locked: &Locked,
        seen: &mut BTreeSet<String>,
    ) -> Result<Option<(String, Vec<u8>)>, StepError> {
        match source_of(req)? {
            Source::Local => {
                let yaml = self
                    .chart
                    .dir
                    .join("charts")
                    .join(&req.name)
                    .join("Chart.yaml");
                let (_, version) = chart_metadata(&yaml).map_err(|e| {
                    terminal(format!(
                        "unable to load chart `{}`: {e}",
                        self.chart.show(&format!("charts/{}", req.name))
                    ))
                })?;
                let satisfied = Constraint::parse(&req.version)
                    .ok()
                    .zip(Version::parse(&version, false).ok())
                    .is_some_and(|(c, v)| c.matches(&v));
                if !satisfied {
                    return Err(terminal(format!(
                        "dependency {} at version {version} does not satisfy the constraint {}",
                        req.name, req.version
                    )));
                }
                Ok(None)
            }
            Source::Directory(path) => {
                let dir = self.directory(req, path)?;
                let root = self.ctx.workspace.root().to_owned();
                let repository = req.repository.clone();
                let packaged = blocking(move || {
                    archive::package(&dir, &root).map_err(|e| {
                        terminal(format!("cannot package dependency {repository:?}: {e}"))
                    })
                })
                .await?;
                Ok(Some(packaged))
            }
            Source::Oci(reference) => {
                let url = format!("{reference}:{}", locked.version);
                if !seen.insert(url.clone()) {
                    return Ok(None);
                }
                let bytes = cancellable(self.ctx, async {
                    self.client
                        .pull(&reference, &locked.version, false, self.max_bytes)
                        .await
                        .map_err(|e| repository_error(format!("could not download {url}"), e))
                })
                .await?;
                Ok(Some((
                    format!("{}-{}.tgz", req.name, locked.version),
                    bytes,
                )))
            }
            Source::Http => {
                let wanted = Version::parse(&locked.version, false).ok();
                let listed = self.listed(&req.repository, &req.name).await?;
                let Some((_, entry)) = listed.into_iter().find(|(v, e)| match &wanted {
                    Some(w) => v == w,
                    None => e.version == locked.version,
                }) else {
                    return Err(terminal(format!(
                        "chart {} version {} not found in {}",
                        req.name, locked.version, req.repository
                    )));
                };
                let url = entry.urls[0].clone();
                let file = file_name(&url).ok_or_else(|| {
                    terminal(format!(
                        "the index of {} lists {url:?} for {} {}, which names no file",
                        req.repository, req.name, locked.version
                    ))
                })?;
                if !seen.insert(format!("{} {url}", req.repository)) {
                    return Ok(None);
                }
                let bytes = cancellable(self.ctx, async {
                    self.client
                        .download(&req.repository, &url, false, self.max_bytes)
                        .await
                        .map_err(|e| repository_error(format!("could not download {url}"), e))
                })
                .await?;
                Ok(Some((file, bytes)))
            }
        }
    }
}

/// The file name Helm saves a downloaded archive as: the last segment of
/// the URL's path.
fn file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| {
        rest.split_once('/').map_or("", |(_, p)| p)
    });
    let name = path.rsplit('/').next().unwrap_or_default();
    (!name.is_empty() && name != "." && name != ".." && !name.contains('\\'))
        .then(|| name.to_owned())
}

/// The name and version in the `Chart.yaml` at `path`.
fn chart_metadata(path: &Path) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read Chart.yaml: {e}"))?;
    archive::metadata(&text).map_err(|e| format!("Chart.yaml: {e}"))
}

/// Writes the plan into the chart directory: archives first, then the
/// outdated archives removed, then `Chart.yaml` and `Chart.lock`.
fn apply(ctx: &StepContext, chart: &Chart, plan: Plan) -> Result<(), StepError> {
    let write_error = |shown: String| {
        move |e: std::io::Error| {
            StepError::terminal(format!("{KIND}: cannot write `{shown}`")).with_source(e)
        }
    };
    let charts = chart.dir.join("charts");
    let shown_charts = chart.show("charts");
    match std::fs::symlink_metadata(&charts) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(terminal(format!("`{shown_charts}` is not a directory"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(&charts).map_err(write_error(shown_charts.clone()))?;
        }
        Err(e) => return Err(write_error(shown_charts.clone())(e)),
    }
    let before: Vec<(String, PathBuf)> = std::fs::read_dir(&charts)
        .map_err(write_error(shown_charts.clone()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    let mut written = BTreeSet::new();
    for (file, bytes) in &plan.archives {
        crate::fs::write_atomic(&charts.join(file), bytes, None)
            .map_err(write_error(chart.show(&format!("charts/{file}"))))?;
        written.insert(file.clone());
    }
    for (file, path) in before {
        if written.contains(&file) {
            continue;
        }
        let shown = chart.show(&format!("charts/{file}"));
        // Only chart archives are removed, and not those of dependencies
        // kept in charts/ without a repository.
        let Ok(bytes) = ctx.workspace.read_file(&path, &shown) else {
            continue;
        };
        match archive::inspect(&bytes) {
            Ok((name, _)) if !plan.local.contains(&name) => {
                std::fs::remove_file(&path).map_err(|e| {
                    StepError::terminal(format!("{KIND}: cannot remove `{shown}`")).with_source(e)
                })?;
                tracing::debug!(file = %shown, "removed an outdated chart archive");
            }
            _ => {}
        }
    }
    if let Some(text) = plan.chart_yaml {
        let shown = chart.show("Chart.yaml");
        crate::fs::write_atomic(&chart.dir.join("Chart.yaml"), text.as_bytes(), None)
            .map_err(write_error(shown))?;
    }
    if let Some(text) = plan.lock {
        let shown = chart.show("Chart.lock");
        crate::fs::write_atomic(&chart.dir.join("Chart.lock"), text.as_bytes(), None)
            .map_err(write_error(shown))?;
    }
    Ok(())
}

#[async_trait]
impl Step for HelmUpdateChart {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.path.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `path` is empty"
            )));
        }
        if config.charts.as_ref().is_some_and(Vec::is_empty) {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `charts` needs at least one entry"
            )));
        }
        // A version the config sets is checked here, where it is known to
        // be the config's (Failed); one read from Chart.yaml is the file's.
        for (i, update) in config.charts.iter().flatten().enumerate() {
            if let Err(e) = Constraint::parse(&update.version) {
                return Err(StepError::failed(format!(
                    "{KIND}: `charts[{i}].version`: dependency {:?} has an invalid \
                     version/constraint format",
                    update.name
                ))
                .with_source(e));
            }
        }
        let chart = Chart {
            dir: ctx.workspace.resolve(&config.path)?,
            shown: config.path.trim_end_matches('/').to_owned(),
        };

        let read = {
            let (ctx, chart) = (ctx.clone(), chart.clone());
            blocking(move || read_chart(&ctx, &chart)).await?
        };
        let shown_yaml = chart.show("Chart.yaml");
        let chart_yaml = match &config.charts {
            Some(charts) => {
                edit(&read.chart_yaml, charts)
                    .map_err(|e| terminal(format!("cannot update `{shown_yaml}`: {e}")))?
                    .text
            }
            None => read.chart_yaml.clone(),
        };
        let doc = crate::edit::yaml::read_document(&chart_yaml)
            .map_err(|e| terminal(format!("cannot read `{shown_yaml}`: {e}")))?;
        let root = doc.root();
        if matches!(
            root.get("apiVersion").map(|v| v.kind()),
            Some(NodeKind::Str("v1"))
        ) && root
            .get("dependencies")
            .is_some_and(|d| !matches!(d.kind(), NodeKind::Null))
        {
            // Helm would lock these in requirements.lock.
            return Err(terminal(format!("`{shown_yaml}`: {V1_REFUSED}")));
        }
        let requirements =
            lock::requirements(root).map_err(|e| terminal(format!("`{shown_yaml}`: {e}")))?;
        drop(doc);
        let Some(requirements) = requirements else {
            // Helm has nothing to update without dependencies.
            return Ok(StepOutcome::succeeded());
        };

        let credentials = ctx.credentials.clone();
        let mut resolver = Resolver {
            ctx,
            chart: &chart,
            rel: &config.path,
            client: kargo_sources::oci::Builder::default()
                .with_credentials(credentials)
                .build_charts(),
            indexes: HashMap::new(),
            max_bytes: ctx.workspace.max_file_bytes(),
        };
        let mut locked = Vec::with_capacity(requirements.len());
        let mut missing = Vec::new();
        for req in &requirements {
            let version = resolver.resolve(req).await?;
            tracing::debug!(dependency = %req.name, constraint = %req.version, resolved = ?version, "resolved");
            match version {
                Some(version) => locked.push(Locked {
                    name: req.name.clone(),
                    repository: req.repository.clone(),
                    version,
                }),
                None => missing.push(format!(
                    "{:?} (repository {:?}, version {:?})",
                    req.name, req.repository, req.version
                )),
            }
        }
        if !missing.is_empty() {
            return Err(terminal(format!(
                "can't get a valid version for {} subchart(s): {}. Make sure a matching chart \
                 version exists in the repo, or change the version constraint in Chart.yaml",
                missing.len(),
                missing.join(", ")
            )));
        }

        let mut archives = Vec::new();
        let mut seen = BTreeSet::new();
        for (req, locked) in requirements.iter().zip(&locked) {
            if let Some((file, bytes)) = resolver.fetch(req, locked, &mut seen).await? {
                archive::inspect(&bytes).map_err(|e| {
                    terminal(format!(
                        "the archive of {} {} ({file}) is not a chart: {e}",
                        req.name, locked.version
                    ))
                })?;
                archives.push((file, bytes));
            }
        }

        let digest = lock::digest(&requirements, &locked);
        let old = read.lock.unwrap_or_default();
        let changes = lock::compare(&old.dependencies, &locked);
        let lock_text = (old.digest != digest).then(|| {
            lock::render(
                &locked,
                &digest,
                &lock::generated(kargo_core::time::Timestamp::now()),
            )
        });
        let plan = Plan {
            chart_yaml: (chart_yaml != read.chart_yaml).then_some(chart_yaml),
            lock: lock_text,
            archives,
            local: requirements
                .iter()
                .filter(|r| r.repository.is_empty())
                .map(|r| r.name.clone())
                .collect(),
        };
        {
            let (ctx, chart) = (ctx.clone(), chart.clone());
            blocking(move || apply(&ctx, &chart, plan)).await?;
        }
        let outcome = StepOutcome::succeeded();
        Ok(match commit_message(&config.path, &changes) {
            Some(message) => outcome.with_output("commitMessage", message),
            None => outcome,
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
