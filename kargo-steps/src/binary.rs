//! Finding an executable that a step runs (Terraform, kustomize, helm): a
//! name with a `/` is a path, a bare name is looked up on `PATH`.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where to look when no explicit setting names the binary: the
/// environment variable `env_var` (a name or a path), then each of `names`
/// on `PATH`, in order. A set `env_var` that holds no executable is an
/// error: the search does not fall through to `names`.
///
/// The error is the text of what was searched, starting with `unset` (the
/// places before these that were not set, e.g. "the config's `binary`
/// (not set), ").
pub(crate) fn locate_from_env(
    unset: &str,
    env_var: &str,
    names: &[&str],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, String> {
    let path_var = env("PATH").unwrap_or_default();
    if let Some(name) = env(env_var).filter(|s| !s.is_empty()) {
        return find(&name, &path_var).ok_or_else(|| {
            format!(
                "{env_var}=`{}`{}",
                name.to_string_lossy(),
                on_path(&name, &path_var)
            )
        });
    }
    if let Some(found) = names.iter().find_map(|n| find(n.as_ref(), &path_var)) {
        return Ok(found);
    }
    let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    Err(format!(
        "{unset}{env_var} (not set), and {} on PATH `{}`",
        listed.join(" and "),
        path_var.to_string_lossy()
    ))
}

/// " on PATH `...`" for bare names, "" for paths.
pub(crate) fn on_path(name: &OsStr, path_var: &OsStr) -> String {
    if is_bare(name) {
        format!(" on PATH `{}`", path_var.to_string_lossy())
    } else {
        String::new()
    }
}

/// A name with a `/` is a path; a bare name is looked up in `path_var`.
pub(crate) fn find(name: &OsStr, path_var: &OsStr) -> Option<PathBuf> {
    let candidate = Path::new(name);
    if !is_bare(name) {
        return is_executable(candidate).then(|| candidate.to_owned());
    }
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(candidate))
        .find(|p| is_executable(p))
}

fn is_bare(name: &OsStr) -> bool {
    let path = Path::new(name);
    path.components().count() == 1 && !path.is_absolute()
}

/// Whether `path` is a regular file with an execute bit.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
