use std::path::Path;

use async_trait::async_trait;
use ignore::gitignore::Gitignore;
use kargo_core::Workspace;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, Copy, KIND, RULES, TOUCHES};
use crate::edit::blocking;
use crate::fs::write_atomic_from;
use crate::schema;

fn io_err(what: &str, path: &str, e: impl Into<kargo_core::BoxError>) -> StepError {
    StepError::terminal(format!("{KIND}: cannot {what} `{path}`")).with_source(e)
}

fn matcher(root: &Path, rules: Option<&str>) -> Result<Gitignore, StepError> {
    crate::fs::ignore_matcher(KIND, root, &[".git"], rules)
}

fn copy_file(workspace: &Workspace, from: &Path, to: &Path, shown: &str) -> Result<(), StepError> {
    // Only a regular file is read (a FIFO would block the step forever),
    // and it is streamed, never held in memory whole.
    let (mut file, _) = workspace
        .open_regular(from, shown)
        .map_err(|e| StepError::from(e).context(KIND))?;
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| io_err("create the directory for", shown, e))?;
    }
    let perms = file
        .metadata()
        .map_err(|e| io_err("read", shown, e))?
        .permissions();
    write_atomic_from(to, &mut file, Some(perms)).map_err(|e| io_err("write", shown, e))
}

fn copy_tree(
    workspace: &Workspace,
    from: &Path,
    to: &Path,
    ignore: &Gitignore,
    shown: &str,
) -> Result<(), StepError> {
    std::fs::create_dir_all(to).map_err(|e| io_err("create", shown, e))?;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| io_err("read", shown, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io_err("read", shown, e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io_err("read", shown, e))?;
        if kind.is_symlink() {
            tracing::trace!(path = %path.display(), "copy: skipping symlink");
            continue;
        }
        if ignore.matched(&path, kind.is_dir()).is_ignore() {
            continue;
        }
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(workspace, &path, &target, ignore, shown)?;
        } else {
            copy_file(workspace, &path, &target, shown)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Step for Copy {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let from = ctx.workspace.resolve(&config.in_path)?;
        let to = ctx.workspace.resolve(&config.out_path)?;
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let meta =
                std::fs::symlink_metadata(&from).map_err(|e| io_err("read", &config.in_path, e))?;
            if meta.is_dir() {
                // Into itself, the copy would never end: refused before
                // anything is written.
                if to.starts_with(&from) {
                    return Err(StepError::failed(format!(
                        "{KIND}: cannot copy directory `{}` into itself (`{}`)",
                        config.in_path, config.out_path
                    )));
                }
                let ignore = matcher(&from, config.ignore.as_deref())?;
                copy_tree(&workspace, &from, &to, &ignore, &config.in_path)
            } else {
                copy_file(&workspace, &from, &to, &config.in_path)
            }
        })
        .await?;
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kargo: file_copier_test.go, `Test_fileCopier_loadIgnoreRules`,
    /// "directory path" and "empty rules": the rules are rooted at the
    /// copied directory, comments are skipped and `.git` is always ignored,
    /// with everything below it.
    #[test]
    fn ignore_rules_are_rooted_at_the_copied_directory_and_always_skip_git() {
        let root = Path::new("work/testdir");
        let rules = matcher(root, Some("*.txt\n# comment\n*.go")).unwrap();
        let ignored = |m: &Gitignore, rel: &str, is_dir: bool| {
            m.matched_path_or_any_parents(root.join(rel), is_dir)
                .is_ignore()
        };
        assert!(ignored(&rules, "file.txt", false));
        assert!(ignored(&rules, "file.go", false));
        assert!(!ignored(&rules, "file.log", false));
        assert!(!ignored(&rules, "# comment", false));
        assert!(ignored(&rules, ".git", true));
        assert!(ignored(&rules, ".git/file.log", false));

        let defaults = matcher(root, Some("")).unwrap();
        assert!(ignored(&defaults, ".git/file", false));
        assert!(!ignored(&defaults, "file.txt", false));
        let defaults = matcher(root, None).unwrap();
        assert!(ignored(&defaults, ".git", true));
    }
}
