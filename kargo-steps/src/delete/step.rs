use std::path::{Path, PathBuf};

use async_trait::async_trait;
use globset::{GlobBuilder, GlobMatcher};
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, Delete, KIND, RULES, TOUCHES};
use crate::edit::blocking;
use crate::schema;

fn terminal(msg: impl std::fmt::Display) -> StepError {
    StepError::terminal(format!("{KIND}: {msg}"))
}

/// Every path under `dir` (relative to `root`) that `glob` matches; a
/// matched directory is not descended into.
fn walk(
    root: &Path,
    dir: &Path,
    glob: &GlobMatcher,
    out: &mut Vec<PathBuf>,
) -> Result<(), StepError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(terminal("cannot read a directory").with_source(e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| terminal("cannot read a directory").with_source(e))?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if glob.is_match(rel) {
            out.push(path);
        } else if is_dir {
            walk(root, &path, glob, out)?;
        }
    }
    Ok(())
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Step for Delete {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let patterns = match (config.path, config.paths) {
            (Some(p), None) => vec![p],
            (None, Some(ps)) if !ps.is_empty() => ps,
            _ => {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: exactly one of `path` and `paths` must be set"
                )));
            }
        };
        let root = ctx.workspace.root().to_path_buf();
        let mut targets = Vec::new();
        for pattern in &patterns {
            let matched = if config.paths_are_globs {
                let clean = pattern.trim_start_matches("./").trim_end_matches('/');
                // Check the literal prefix stays inside the work dir.
                let literal: String = clean
                    .split('/')
                    .take_while(|p| !p.contains(['*', '?', '[', '{']))
                    .collect::<Vec<_>>()
                    .join("/");
                let base = if literal.is_empty() {
                    root.clone()
                } else {
                    ctx.workspace.resolve(&literal)?
                };
                let glob = GlobBuilder::new(clean)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| {
                        // The config's own pattern: Failed (Kargo: terminal).
                        StepError::failed(format!("{KIND}: invalid glob `{pattern}`"))
                            .with_source(e)
                    })?
                    .compile_matcher();
                let mut found = Vec::new();
                if base.exists() && glob.is_match(base.strip_prefix(&root).unwrap_or(&base)) {
                    found.push(base.clone());
                } else {
                    walk(&root, &base, &glob, &mut found)?;
                }
                found
            } else {
                let abs = ctx.workspace.resolve(pattern)?;
                if std::fs::symlink_metadata(&abs).is_ok() {
                    vec![abs]
                } else {
                    Vec::new()
                }
            };
            if matched.is_empty() && config.strict {
                return Err(terminal(format!("`{pattern}` matches nothing")));
            }
            targets.extend(matched);
        }
        let count = targets.len();
        blocking(move || {
            for target in &targets {
                if target == &root {
                    return Err(terminal("refusing to delete the work directory itself"));
                }
                remove(target).map_err(|e| {
                    let shown = target.strip_prefix(&root).unwrap_or(target).display();
                    terminal(format!("cannot delete `{shown}`")).with_source(e)
                })?;
            }
            Ok(())
        })
        .await?;
        tracing::debug!(count, "delete: removed paths");
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
