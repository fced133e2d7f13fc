use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use ignore::gitignore::Gitignore;
use kargo_core::Workspace;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, MAX_FILE_SIZE, MAX_TOTAL_SIZE, RULES, TOUCHES, Untar};
use crate::edit::blocking;
use crate::schema;

fn fail(input: &str, what: impl std::fmt::Display) -> StepError {
    StepError::terminal(format!("{KIND}: cannot extract `{input}`: {what}"))
}

/// [`fail`] with the error that caused it as the source.
fn fail_with(input: &str, source: impl Into<kargo_core::BoxError>) -> StepError {
    StepError::terminal(format!("{KIND}: cannot extract `{input}`")).with_source(source)
}

#[async_trait]
impl Step for Untar {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let from = ctx.workspace.resolve(&config.in_path)?;
        let to = ctx.workspace.resolve(&config.out_path)?;
        if to == ctx.workspace.root() {
            // The config alone shows it: Failed.
            return Err(StepError::failed(format!(
                "{KIND}: cannot extract `{}`: `outPath` is the work dir itself, which cannot be replaced",
                config.in_path
            )));
        }
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let skipped = extract(&workspace, &config, &from, &to)?;
            Ok(StepOutcome::succeeded().with_output("skipped", skipped))
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

/// Extracts the archive and returns the unsafe entries it skipped, as
/// `[{name, reason}]`.
fn extract(
    workspace: &Workspace,
    config: &Config,
    from: &Path,
    to: &Path,
) -> Result<Value, StepError> {
    let input = config.in_path.as_str();
    let parent = to
        .parent()
        .ok_or_else(|| fail(input, "`outPath` has no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| fail_with(input, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".kargo-untar-")
        .tempdir_in(parent)
        .map_err(|e| fail_with(input, e))?;
    let root = staging.path().join("out");
    std::fs::create_dir(&root).map_err(|e| fail_with(input, e))?;

    // Only a regular file (a FIFO would block forever); streamed.
    let (file, _) = workspace.open_regular(from, input).map_err(|e| match e {
        kargo_core::ReadError::Io { source, .. } => fail_with(input, source),
        other => fail_with(input, other),
    })?;
    let mut reader = BufReader::new(file);
    let gzipped = reader
        .fill_buf()
        .map_err(|e| fail_with(input, e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzipped {
        Box::new(flate2::bufread::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let ignore = crate::fs::ignore_matcher(KIND, &root, &[], config.ignore.as_deref())?;
    let mut unpack = Unpack {
        root: &root,
        ignore,
        strip: config.strip_components.unwrap_or(0) as usize,
        total: 0,
        input,
        skipped: Vec::new(),
    };
    unpack.all(::tar::Archive::new(reader))?;
    let skipped = Value::Array(unpack.skipped);

    replace_dir(&root, to, staging.path()).map_err(|e| {
        fail(
            input,
            format_args!("cannot move the contents into `{}`: {e}", config.out_path),
        )
    })?;
    Ok(skipped)
}

/// Puts `new` in `to`'s place; an old `to` is first moved into `aside`
/// (and put back when the move fails), then removed.
fn replace_dir(new: &Path, to: &Path, aside: &Path) -> std::io::Result<()> {
    let old = aside.join("old");
    let had_old = match std::fs::symlink_metadata(to) {
        Ok(_) => {
            std::fs::rename(to, &old)?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if let Err(e) = std::fs::rename(new, to) {
        if had_old {
            std::fs::rename(&old, to)?;
        }
        return Err(e);
    }
    Ok(())
}

fn bad_entry(input: &str, name: &str, why: impl std::fmt::Display) -> StepError {
    fail(input, format_args!("entry `{name}` {why}"))
}

struct Unpack<'a> {
    root: &'a Path,
    ignore: Gitignore,
    strip: usize,
    total: u64,
    input: &'a str,
    /// The unsafe entries skipped so far, as `{name, reason}`.
    skipped: Vec<Value>,
}

/// Kargo's test of a safe relative name (for entry names after
/// `stripComponents`, and for link targets): not empty, no `\`, not
/// absolute, no `../`, not starting with `./`. `None` when safe, else why.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains('\\') {
        Some("has a `\\` in it")
    } else if name.starts_with('/') {
        Some("is absolute")
    } else if name.contains("../") || name == ".." || name.ends_with("/..") {
        Some("leads out of `outPath` (`..`)")
    } else if name.starts_with("./") {
        Some("starts with `./`")
    } else {
        None
    }
}

impl Unpack<'_> {
    fn all<R: Read>(&mut self, mut archive: ::tar::Archive<R>) -> Result<(), StepError> {
        let entries = archive
            .entries()
            .map_err(|e| fail(self.input, format_args!("not a tar archive: {e}")))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| fail(self.input, format_args!("invalid archive: {e}")))?;
            self.one(entry)?;
        }
        // The tar reader stops at the end-of-archive marker; the rest of
        // the stream holds gzip's checksum and length, which are checked
        // only when read. A corrupt archive fails here, before anything it
        // held is moved into place.
        std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|e| {
            fail(
                self.input,
                format_args!("invalid archive (the compressed stream is corrupt): {e}"),
            )
        })?;
        Ok(())
    }

    fn bad_entry(&self, name: &str, why: impl std::fmt::Display) -> StepError {
        bad_entry(self.input, name, why)
    }

    fn one<R: Read>(&mut self, mut entry: ::tar::Entry<'_, R>) -> Result<(), StepError> {
        use ::tar::EntryType;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !matches!(
            kind,
            EntryType::Regular | EntryType::Continuous | EntryType::Directory | EntryType::Symlink
        ) {
            tracing::trace!(entry = %raw, ?kind, "untar: skipping entry of unsupported type");
            return Ok(());
        }
        let Some(name) = self.strip(&raw) else {
            return Ok(());
        };
        if let Some(why) = unsafe_name(&name) {
            self.skip(&raw, format!("its path {why}"));
            return Ok(());
        }
        let rel: PathBuf = name
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        let is_dir = kind == EntryType::Directory;
        let dest = self.root.join(&rel);
        if self.ignore.matched(&dest, is_dir).is_ignore() {
            return Ok(());
        }
        if self.below_symlink(&rel) {
            self.skip(&raw, "it lies below a symbolic link".into());
            return Ok(());
        }
        let input = self.input;
        let io = |e: std::io::Error| bad_entry(input, &raw, format_args!("cannot be written: {e}"));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        match kind {
            EntryType::Directory => std::fs::create_dir_all(&dest).map_err(io)?,
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(io)?
                    .ok_or_else(|| self.bad_entry(&raw, "is a link without a target"))?
                    .into_owned();
                let shown = target.to_string_lossy();
                if let Some(why) = unsafe_name(&shown).or_else(|| escapes(&rel, &target)) {
                    let reason = format!("it is a symbolic link to `{shown}`, which {why}");
                    self.skip(&raw, reason);
                    return Ok(());
                }
                std::os::unix::fs::symlink(&target, &dest).map_err(io)?;
            }
            _ => {
                let size = entry.header().size().map_err(io)?;
                if size > MAX_FILE_SIZE {
                    return Err(self.bad_entry(
                        &raw,
                        format_args!(
                            "({size} bytes) is larger than the limit of {MAX_FILE_SIZE} bytes"
                        ),
                    ));
                }
                self.total += size;
                if self.total > MAX_TOTAL_SIZE {
                    return Err(fail(
                        self.input,
                        format_args!("the contents add up to more than {MAX_TOTAL_SIZE} bytes"),
                    ));
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                let mut out = File::create(&dest).map_err(io)?;
                std::io::copy(&mut (&mut entry).take(size), &mut out).map_err(io)?;
                use std::os::unix::fs::PermissionsExt;
                out.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(io)?;
            }
        }
        Ok(())
    }

    /// Records a skipped unsafe entry.
    fn skip(&mut self, raw: &str, reason: String) {
        tracing::debug!(entry = %raw, %reason, "untar: skipping unsafe entry");
        self.skipped
            .push(serde_json::json!({"name": raw, "reason": reason}));
    }

    /// The entry's name with `stripComponents` leading components dropped,
    /// or `None` when nothing is left of it (Kargo skips those quietly).
    fn strip(&self, raw: &str) -> Option<String> {
        let parts: Vec<&str> = raw.split('/').collect();
        if parts.len() <= self.strip {
            return None;
        }
        let name = parts[self.strip..].join("/");
        (!name.is_empty() && name != "/").then_some(name)
    }

    /// Whether a parent of `rel` is a symbolic link extracted earlier:
    /// writing there could land outside the output directory.
    fn below_symlink(&self, rel: &Path) -> bool {
        let mut at = self.root.to_path_buf();
        let mut parents = rel.components().peekable();
        while let Some(c) = parents.next() {
            if parents.peek().is_none() {
                break;
            }
            at.push(c);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return true;
            }
        }
        false
    }
}

/// Why a link at `rel` to `target` resolves outside the output directory,
/// or `None` when it stays inside.
fn escapes(rel: &Path, target: &Path) -> Option<&'static str> {
    // Depth of the link's directory below the output directory.
    let mut depth = rel.components().count().saturating_sub(1);
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Some("resolves outside `outPath`"),
            },
            Component::RootDir | Component::Prefix(_) => return Some("is absolute"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::unsafe_name;

    /// Kargo: tar_extractor_test.go, every case of
    /// `Test_tarExtractor_validRelPath`.
    #[test]
    fn entry_names_are_safe_only_when_relative_and_inside() {
        for (name, safe) in [
            ("file.txt", true),
            ("dir/file.txt", true),
            ("dir/subdir/file.txt", true),
            ("", false),
            ("/absolute/path", false),
            ("../traversal", false),
            ("dir/../file", false),
            ("./current", false),
            ("file\\with\\backslash", false),
        ] {
            assert_eq!(unsafe_name(name).is_none(), safe, "{name:?}");
        }
    }
}
