use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, DEFAULT_PERMISSIONS, KIND, RULES, TOUCHES};
use crate::fs::write_atomic;
use crate::schema;

/// The `file-write` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileWrite;

fn parse_permissions(text: Option<&str>) -> Result<u32, StepError> {
    let Some(text) = text else {
        return Ok(DEFAULT_PERMISSIONS);
    };
    let valid = text.len() == 4
        && text.starts_with('0')
        && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if !valid {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: permissions `{text}` must be an octal mode like `0644`"
        )));
    }
    let mode = u32::from_str_radix(text, 8)
        .map_err(|_| StepError::failed(format!("invalid {KIND} config: permissions `{text}`")))?;
    // As Kargo: a promotion writes data, never programs, and nothing that
    // every user of the machine may change.
    if mode & 0o111 != 0 {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: permissions `{text}` must not include executable bits"
        )));
    }
    if mode & 0o002 != 0 {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: permissions `{text}` must not be world-writable"
        )));
    }
    Ok(mode)
}

#[async_trait]
impl Step for FileWrite {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.path.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `path` is empty"
            )));
        }
        // `dir/` names a directory: a file cannot be written there (the
        // path would otherwise silently lose its slash).
        if config.path.ends_with('/') {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `path` `{}` ends with `/`, which names a directory, not a file",
                config.path
            )));
        }
        let mode = parse_permissions(config.permissions.as_deref())?;
        let first = Path::new(&config.path)
            .components()
            .find(|c| !matches!(c, std::path::Component::CurDir));
        if first.is_some_and(|c| c.as_os_str() == ".git") {
            return Err(StepError::failed(format!(
                "{KIND}: writing into the .git directory is forbidden: `{}`",
                config.path
            )));
        }
        let path = ctx.workspace.resolve(&config.path)?;
        if path.exists() && !config.overwrite {
            return Err(StepError::failed(format!(
                "{KIND}: file `{}` already exists; set `overwrite: true` to replace it",
                config.path
            )));
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StepError::terminal(format!(
                    "{KIND}: cannot create the directory of `{}`",
                    config.path
                ))
                .with_source(e)
            })?;
        }
        let contents = config.contents.into_bytes();
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            write_atomic(
                &target,
                &contents,
                Some(std::fs::Permissions::from_mode(mode)),
            )
        })
        .await
        .map_err(|e| StepError::terminal(format!("{KIND}: writer task failed")).with_source(e))?
        .map_err(|e| {
            StepError::terminal(format!("{KIND}: cannot write `{}`", config.path)).with_source(e)
        })?;
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

    /// Kargo's `file_writer_test.go` permission cases.
    #[test]
    fn permissions_refuse_executable_and_world_writable_modes() {
        assert_eq!(parse_permissions(None).unwrap(), 0o600);
        assert_eq!(parse_permissions(Some("0644")).unwrap(), 0o644);
        assert_eq!(parse_permissions(Some("0660")).unwrap(), 0o660);
        for (text, why) in [
            ("0755", "must not include executable bits"),
            ("0700", "must not include executable bits"),
            ("0610", "must not include executable bits"),
            ("0666", "must not be world-writable"),
            ("0602", "must not be world-writable"),
            ("644", "must be an octal mode"),
            ("04644", "must be an octal mode"),
            ("0x44", "must be an octal mode"),
        ] {
            let err = parse_permissions(Some(text)).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(text), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn a_refused_mode_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = StepContext::new(kargo_core::Workspace::new(dir.path()).unwrap());
        let err = FileWrite
            .run(
                &ctx,
                serde_json::json!({"path": "run.sh", "contents": "#!/bin/sh\n", "permissions": "0755"}),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("executable"), "{err}");
        assert!(!dir.path().join("run.sh").exists());
        FileWrite
            .run(
                &ctx,
                serde_json::json!({"path": "a/b.txt", "contents": "x", "permissions": "0640"}),
            )
            .await
            .unwrap();
        let mode = std::fs::metadata(dir.path().join("a/b.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}
