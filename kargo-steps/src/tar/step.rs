use std::fs::File;
use std::io::Write;
use std::path::Path;

use async_trait::async_trait;
use ignore::gitignore::Gitignore;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, MAX_FILE_SIZE, MAX_TOTAL_SIZE, RULES, TOUCHES, Tar};
use crate::edit::blocking;
use crate::schema;

fn fail(out: &str, what: impl std::fmt::Display) -> StepError {
    StepError::terminal(format!("{KIND}: cannot create `{out}`: {what}"))
}

/// [`fail`] with the error that caused it as the source.
fn fail_with(out: &str, source: impl Into<kargo_core::BoxError>) -> StepError {
    StepError::terminal(format!("{KIND}: cannot create `{out}`")).with_source(source)
}

#[async_trait]
impl Step for Tar {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let from = ctx.workspace.resolve(&config.in_path)?;
        let to = ctx.workspace.resolve(&config.out_path)?;
        blocking(move || {
            write_archive(&config, &from, &to)?;
            Ok(StepOutcome::succeeded())
        })
        .await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

fn write_archive(config: &Config, from: &Path, to: &Path) -> Result<(), StepError> {
    let out = config.out_path.as_str();
    let meta = std::fs::symlink_metadata(from)
        .map_err(|e| fail(out, format_args!("cannot read `{}`: {e}", config.in_path)))?;
    let rules = config.ignore.as_deref().filter(|r| !r.trim().is_empty());
    // Kargo leaves `.git` out only when no patterns are given.
    let always: &[&str] = if rules.is_none() { &[".git"] } else { &[] };
    let ignore = crate::fs::ignore_matcher(KIND, from, always, rules)?;
    let parent = to
        .parent()
        .ok_or_else(|| fail(out, "it has no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| fail_with(out, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".kargo-tar-")
        .tempfile_in(parent)
        .map_err(|e| fail_with(out, e))?;
    let file = tmp.as_file().try_clone().map_err(|e| fail_with(out, e))?;
    let mut walk = Walk {
        ignore,
        total: 0,
        config,
        // An archive written inside the tree it archives leaves itself out.
        skip: [tmp.path().to_path_buf(), to.to_path_buf()],
    };
    let file: File = if config.gzip {
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        walk.archive(gz, from, meta.is_dir())?
            .finish()
            .map_err(|e| fail_with(out, e))?
    } else {
        walk.archive(file, from, meta.is_dir())?
    };
    file.sync_all().map_err(|e| fail_with(out, e))?;
    tmp.persist(to).map_err(|e| fail_with(out, e.error))?;
    Ok(())
}

/// Adds a tree to an archive, counting sizes.
struct Walk<'a> {
    ignore: Gitignore,
    total: u64,
    config: &'a Config,
    skip: [std::path::PathBuf; 2],
}

impl Walk<'_> {
    fn archive<W: Write>(&mut self, w: W, from: &Path, is_dir: bool) -> Result<W, StepError> {
        let out = self.config.out_path.as_str();
        let mut builder = ::tar::Builder::new(w);
        builder.follow_symlinks(false);
        if is_dir {
            self.add_dir(&mut builder, from, "")?;
        } else {
            let name = from
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| fail(out, "the input has no UTF-8 file name"))?
                .to_owned();
            self.add(&mut builder, from, &name, false)?;
        }
        builder.into_inner().map_err(|e| fail_with(out, e))
    }

    fn add_dir<W: Write>(
        &mut self,
        builder: &mut ::tar::Builder<W>,
        dir: &Path,
        prefix: &str,
    ) -> Result<(), StepError> {
        let out = self.config.out_path.as_str();
        let read_err = |e: std::io::Error| {
            fail(
                out,
                format_args!("cannot read `{}/{prefix}`: {e}", self.config.in_path),
            )
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str() else {
                return Err(fail(
                    out,
                    format_args!(
                        "`{prefix}{}` is not a UTF-8 name",
                        file_name.to_string_lossy()
                    ),
                ));
            };
            let rel = format!("{prefix}{name}");
            let path = entry.path();
            let is_dir = entry.file_type().map_err(read_err)?.is_dir();
            if self.ignore.matched(&path, is_dir).is_ignore() || self.skip.contains(&path) {
                continue;
            }
            if is_dir {
                self.add(builder, &path, &format!("{rel}/"), true)?;
                self.add_dir(builder, &path, &format!("{rel}/"))?;
            } else {
                self.add(builder, &path, &rel, false)?;
            }
        }
        Ok(())
    }

    fn add<W: Write>(
        &mut self,
        builder: &mut ::tar::Builder<W>,
        path: &Path,
        name: &str,
        is_dir: bool,
    ) -> Result<(), StepError> {
        let out = self.config.out_path.as_str();
        let meta = std::fs::symlink_metadata(path).map_err(|e| fail_with(out, e))?;
        if meta.is_file() {
            if meta.len() > MAX_FILE_SIZE {
                return Err(fail(
                    out,
                    format_args!(
                        "`{name}` ({} bytes) is larger than the limit of {MAX_FILE_SIZE} bytes",
                        meta.len()
                    ),
                ));
            }
            self.total += meta.len();
            if self.total > MAX_TOTAL_SIZE {
                return Err(fail(
                    out,
                    format_args!("the files add up to more than {MAX_TOTAL_SIZE} bytes"),
                ));
            }
        }
        let entry_err = |e: std::io::Error| fail(out, format_args!("`{name}`: {e}"));
        if is_dir {
            builder.append_dir(name, path).map_err(entry_err)
        } else {
            builder.append_path_with_name(path, name).map_err(entry_err)
        }
    }
}
