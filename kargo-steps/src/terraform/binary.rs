//! Finding the Terraform (or OpenTofu) binary and checking its version.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use kargo_core::Workspace;

use super::Error;
use super::process::{self, Invocation};
use crate::binary::{find, is_executable, on_path};

/// The environment variable naming the binary.
pub(crate) const ENV_VAR: &str = "KARGO_TERRAFORM";

/// A binary that was found and whose version was checked.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    pub(crate) path: PathBuf,
    pub(crate) version: String,
}

/// Where the binary comes from; see the module docs for the order.
pub(crate) fn locate(
    workspace: &Workspace,
    configured: Option<&str>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, Error> {
    let path_var = env("PATH").unwrap_or_default();
    if let Some(name) = configured.filter(|s| !s.is_empty()) {
        let found = if name.contains('/') && !Path::new(name).is_absolute() {
            workspace
                .resolve(name)
                .map_err(|e| Error::Config(format!("`binary`: {e}")))
                .map(|p| is_executable(&p).then_some(p))?
        } else {
            find(name.as_ref(), &path_var)
        };
        return found.ok_or_else(|| Error::NotFound {
            searched: format!(
                "the config's `binary` `{name}`{}",
                on_path(name.as_ref(), &path_var)
            ),
        });
    }
    crate::binary::locate_from_env(
        "the config's `binary` (not set), ",
        ENV_VAR,
        &["tofu", "terraform"],
        env,
    )
    .map_err(|searched| Error::NotFound { searched })
}

type VersionKey = (PathBuf, Option<SystemTime>);

/// Versions already checked, by binary path (and modification time, so a
/// replaced binary is checked again).
fn versions() -> &'static Mutex<HashMap<VersionKey, String>> {
    static VERSIONS: OnceLock<Mutex<HashMap<VersionKey, String>>> = OnceLock::new();
    VERSIONS.get_or_init(Mutex::default)
}

/// Checks the version of the binary at `path` once per process (per path).
pub(crate) async fn checked(path: PathBuf, env: &[(String, String)]) -> Result<Binary, Error> {
    let key = (
        path.clone(),
        std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
    );
    let cached = versions()
        .lock()
        .ok()
        .and_then(|map| map.get(&key).cloned());
    if let Some(version) = cached {
        return Ok(Binary { path, version });
    }
    let program = path.display().to_string();
    let out = process::run(
        Invocation {
            program: &path,
            command: "version",
            args: vec!["-json".into()],
            cwd: std::env::temp_dir(),
            env,
        },
        std::future::pending(),
    )
    .await?;
    let version = serde_json::from_str::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v.get("terraform_version")?.as_str().map(str::to_owned))
        .ok_or_else(|| Error::Version {
            program: program.clone(),
            detail: super::text::truncate_chars(
                format!("{}{}", out.stdout.trim(), out.stderr.trim()).trim(),
                2000,
            ),
        })?;
    let major: u64 = version
        .split(['.', '-'])
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::Version {
            program: program.clone(),
            detail: format!("unreadable version `{version}`"),
        })?;
    if major < 1 {
        return Err(Error::TooOld { program, version });
    }
    tracing::debug!(binary = %program, %version, "terraform version checked");
    if let Ok(mut map) = versions().lock() {
        map.insert(key, version.clone());
    }
    Ok(Binary { path, version })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        ws: Workspace,
        bin_a: PathBuf,
        bin_b: PathBuf,
    }

    /// A work dir, and two PATH dirs holding fake binaries.
    fn fixture(in_a: &[&str], in_b: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let ws_dir = dir.path().join("work");
        let bin_a = dir.path().join("a");
        let bin_b = dir.path().join("b");
        for d in [&ws_dir, &bin_a, &bin_b] {
            std::fs::create_dir(d).unwrap();
        }
        for (bin, names) in [(&bin_a, in_a), (&bin_b, in_b)] {
            for name in names {
                let p = bin.join(name);
                std::fs::write(&p, "#!/bin/sh\n").unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        Fixture {
            ws: Workspace::new(&ws_dir).unwrap(),
            _dir: dir,
            bin_a,
            bin_b,
        }
    }

    fn env_of(pairs: Vec<(&'static str, OsString)>) -> impl Fn(&str) -> Option<OsString> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    fn path_of(f: &Fixture) -> OsString {
        std::env::join_paths([&f.bin_a, &f.bin_b]).unwrap()
    }

    #[test]
    fn tofu_on_path_comes_before_terraform() {
        let f = fixture(&["terraform"], &["tofu"]);
        let env = env_of(vec![("PATH", path_of(&f))]);
        assert_eq!(locate(&f.ws, None, &env).unwrap(), f.bin_b.join("tofu"));
    }

    #[test]
    fn terraform_on_path_is_found() {
        let f = fixture(&[], &["terraform"]);
        let env = env_of(vec![("PATH", path_of(&f))]);
        assert_eq!(
            locate(&f.ws, None, &env).unwrap(),
            f.bin_b.join("terraform")
        );
    }

    #[test]
    fn kargo_terraform_comes_before_path() {
        let f = fixture(&["terraform", "mytf"], &["tofu"]);
        let env = env_of(vec![("PATH", path_of(&f)), (ENV_VAR, "mytf".into())]);
        assert_eq!(locate(&f.ws, None, &env).unwrap(), f.bin_a.join("mytf"));
        let abs = f.bin_a.join("terraform");
        let env = env_of(vec![("PATH", path_of(&f)), (ENV_VAR, abs.clone().into())]);
        assert_eq!(locate(&f.ws, None, &env).unwrap(), abs);
    }

    #[test]
    fn config_binary_comes_first() {
        let f = fixture(&["terraform", "custom"], &["tofu"]);
        let env = env_of(vec![("PATH", path_of(&f)), (ENV_VAR, "terraform".into())]);
        assert_eq!(
            locate(&f.ws, Some("custom"), &env).unwrap(),
            f.bin_a.join("custom")
        );
    }

    #[test]
    fn a_set_place_without_a_binary_is_an_error_naming_it() {
        let f = fixture(&["terraform"], &[]);
        let env = env_of(vec![("PATH", path_of(&f)), (ENV_VAR, "/no/such/tf".into())]);
        let err = locate(&f.ws, None, &env).unwrap_err().to_string();
        assert!(err.contains("KARGO_TERRAFORM=`/no/such/tf`"), "{err}");
        let err = locate(&f.ws, Some("nope-tf"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`binary` `nope-tf` on PATH"), "{err}");
    }

    #[test]
    fn nothing_found_names_every_place_searched() {
        let f = fixture(&[], &[]);
        let env = env_of(vec![("PATH", path_of(&f))]);
        let err = locate(&f.ws, None, &env).unwrap_err().to_string();
        for word in [
            "`binary`",
            "KARGO_TERRAFORM",
            "`tofu`",
            "`terraform`",
            "PATH",
        ] {
            assert!(err.contains(word), "{word} missing from: {err}");
        }
        assert!(err.contains(&f.bin_a.display().to_string()), "{err}");
    }

    #[test]
    fn relative_config_binary_stays_in_the_work_dir() {
        let f = fixture(&[], &[]);
        let env = env_of(vec![]);
        let err = locate(&f.ws, Some("../a/terraform"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves the work directory"), "{err}");
    }
}
