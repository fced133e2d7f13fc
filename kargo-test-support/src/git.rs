//! Git fixtures made with the real git CLI: running git in a directory
//! with a fixed identity and no user or system configuration, bare
//! repositories seeded with files, clones and `file://` URLs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The author and committer of fixture commits.
pub const IDENTITY: (&str, &str) = ("Fixture", "fixture@example.com");

/// `git` in `dir`, isolated from the user's and the system's
/// configuration, committing as `name <email>`; add arguments or
/// environment before running it.
pub fn command(dir: &Path, (name, email): (&str, &str)) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", email)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", email);
    cmd
}

/// Runs `cmd` with `args`, panicking with git's stderr on failure;
/// returns the trimmed stdout.
pub fn run(mut cmd: Command, args: &[&str]) -> String {
    let out = cmd.args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `git` with `args` in `dir` with a fixed identity ([`IDENTITY`])
/// and no user or system configuration; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run(command(dir, IDENTITY), args)
}

/// An empty bare repository at `path` whose default branch is `main`.
pub fn init_bare(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).expect("create the bare repository's directory");
    git(path, &["init", "-q", "--bare", "--initial-branch=main"]);
    path.to_owned()
}

/// A bare repository `name.git` under `root` whose `main` holds `files`
/// (path, content) in one commit, plus tag `v1`.
pub fn bare_repo(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let bare = init_bare(&root.join(format!("{name}.git")));
    let seed = root.join(format!("{name}-seed"));
    for (path, content) in files {
        crate::write(&seed, path, content);
    }
    std::fs::create_dir_all(&seed).expect("create the seed directory");
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["tag", "-a", "v1", "-m", "v1"]);
    git(&seed, &["push", "-q", path_str(&bare), "main", "v1"]);
    std::fs::remove_dir_all(&seed).expect("remove the seed directory");
    bare
}

/// Clones `repo` into `dest` with the git CLI.
pub fn clone(repo: &Path, dest: &Path) {
    git(
        Path::new("."),
        &["clone", "-q", path_str(repo), path_str(dest)],
    );
}

/// `file://` URL of a path.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}
