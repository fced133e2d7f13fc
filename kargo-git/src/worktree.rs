//! Writing a commit's files and index in-process.
//!
//! For a fresh checkout this stands in for `git read-tree -u --reset HEAD`:
//! a promotion's sparse checkout writes a handful of files, and starting git
//! and settling its index cost more than writing them. Only what needs
//! nothing from git's machinery is written here: regular files, executables
//! and symbolic links. A checkout that asks for more — a `.gitattributes`
//! (its filters and line-ending rules), a submodule, or a name git refuses
//! on some platform — is handed to git, which then writes everything.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use gix::objs::FindExt as _;
use gix::objs::tree::EntryKind;

use crate::index::{self, Entry};

/// The directories a cone-mode sparse checkout writes: each listed
/// directory in full, and the files directly inside each of its parents
/// (and at the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cone {
    full: BTreeSet<String>,
    parents: BTreeSet<String>,
}

/// Where a directory stands with respect to the cone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Written in full.
    Full,
    /// Its files are written; its subdirectories are placed one by one.
    Parent,
    /// Left out: one sparse-directory entry in the index.
    Outside,
}

impl Cone {
    /// The cone of `dirs`, each given as its path components. A directory
    /// inside another listed one adds nothing.
    pub(crate) fn new(dirs: &[Vec<String>]) -> Self {
        let mut full = BTreeSet::new();
        let mut parents = BTreeSet::new();
        for parts in dirs {
            for depth in 1..parts.len() {
                parents.insert(parts[..depth].join("/"));
            }
            full.insert(parts.join("/"));
        }
        Cone::normalised(full, parents)
    }

    /// The cone that a cone-mode `info/sparse-checkout` file (as
    /// [`Cone::patterns()`] writes it) describes.
    pub(crate) fn from_patterns(text: &str) -> Self {
        let mut listed = BTreeSet::new();
        let mut parents = BTreeSet::new();
        for line in text.lines().map(str::trim) {
            if let Some(dir) = line.strip_prefix("!/").and_then(|l| l.strip_suffix("/*/")) {
                parents.insert(dir.to_owned());
            } else if let Some(dir) = line.strip_prefix('/').and_then(|l| l.strip_suffix('/'))
                && !dir.is_empty()
                && dir != "*"
            {
                listed.insert(dir.to_owned());
            }
        }
        let full = listed.difference(&parents).cloned().collect();
        Cone::normalised(full, parents)
    }

    fn normalised(full: BTreeSet<String>, parents: BTreeSet<String>) -> Self {
        let within_full = |dir: &str, full: &BTreeSet<String>| {
            ancestors(dir).any(|a| a != dir && full.contains(a))
        };
        let parents = parents
            .into_iter()
            .filter(|p| !full.contains(p) && !within_full(p, &full))
            .collect();
        let kept = full
            .iter()
            .filter(|f| !within_full(f, &full))
            .cloned()
            .collect();
        Cone {
            full: kept,
            parents,
        }
    }

    /// The cone-mode patterns of `info/sparse-checkout`: the files at the
    /// root, each parent's own files, each directory in full.
    pub(crate) fn patterns(&self) -> String {
        let mut dirs: Vec<(&str, bool)> = self
            .parents
            .iter()
            .map(|p| (p.as_str(), true))
            .chain(self.full.iter().map(|f| (f.as_str(), false)))
            .collect();
        dirs.sort_unstable();
        let mut out = String::from("/*\n!/*/\n");
        for (dir, parent) in dirs {
            out.push_str(&format!("/{dir}/\n"));
            if parent {
                out.push_str(&format!("!/{dir}/*/\n"));
            }
        }
        out
    }

    /// Whether a file at `path` (`/`-separated) is inside the cone.
    pub(crate) fn holds_file(&self, path: &str) -> bool {
        match path.rsplit_once('/') {
            None => true,
            Some((dir, _)) => {
                self.parents.contains(dir) || ancestors(dir).any(|a| self.full.contains(a))
            }
        }
    }

    fn place(&self, dir: &str) -> Place {
        if self.full.contains(dir) {
            Place::Full
        } else if self.parents.contains(dir) {
            Place::Parent
        } else {
            Place::Outside
        }
    }
}

/// `dir` and each directory above it: `a/b/c`, `a/b`, `a`.
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(dir), |d| d.rsplit_once('/').map(|(up, _)| up))
}

/// What [`write()`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The files and the index are written.
    Written,
    /// Nothing of the working tree was touched that git will not overwrite:
    /// git must write this checkout, for the reason given.
    NeedsGit(&'static str),
}

/// A file to write.
struct Planned {
    path: Vec<u8>,
    kind: EntryKind,
    id: gix::ObjectId,
}

/// Writes the tree of `commit`, as found in the repository at `repo_dir`,
/// into the empty working tree `root` (whose `.git` exists), with the index
/// to match: everything, or with `cone`, the cone and one sparse-directory
/// entry for each directory left out. Blocking.
pub(crate) fn write(
    repo_dir: &Path,
    commit: &str,
    root: &Path,
    cone: Option<&Cone>,
) -> std::io::Result<Outcome> {
    if !cfg!(unix) {
        return Ok(Outcome::NeedsGit("only Unix file modes are written here"));
    }
    let Ok(repo) = gix::open_opts(repo_dir, gix::open::Options::isolated()) else {
        return Ok(Outcome::NeedsGit("the cached repository did not open"));
    };
    let tree = gix::ObjectId::from_hex(commit.as_bytes())
        .ok()
        .and_then(|id| repo.find_commit(id).ok())
        .and_then(|c| c.tree_id().ok())
        .map(gix::Id::detach);
    let Some(tree) = tree else {
        return Ok(Outcome::NeedsGit("the commit's tree is not in the cache"));
    };
    let mut files = Vec::new();
    let mut entries = Vec::new();
    let root_place = if cone.is_some() {
        Place::Parent
    } else {
        Place::Full
    };
    if let Err(reason) = plan(
        &repo,
        tree,
        Vec::new(),
        root_place,
        cone,
        &mut files,
        &mut entries,
    ) {
        return Ok(Outcome::NeedsGit(reason));
    }
    let mut dirs: HashSet<Vec<u8>> = HashSet::new();
    let mut buf = Vec::new();
    for file in files {
        let Ok(blob) = repo.objects.find_blob(&file.id, &mut buf) else {
            return Ok(Outcome::NeedsGit("a file's contents are not in the cache"));
        };
        let path = root.join(os_path(&file.path));
        if let Some(slash) = file.path.iter().rposition(|b| *b == b'/')
            && dirs.insert(file.path[..slash].to_vec())
        {
            std::fs::create_dir_all(root.join(os_path(&file.path[..slash])))?;
        }
        let stat = write_file(&path, file.kind, blob.data)?;
        entries.push(Entry {
            path: file.path,
            mode: u32::from(file.kind as u16),
            id: file.id,
            stat,
        });
    }
    index::write(&root.join(".git"), entries, commit)?;
    Ok(Outcome::Written)
}

/// Walks `tree` at `prefix`, collecting the files to write and the sparse
/// directories; `Err` names why git must do the checkout instead.
fn plan(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    prefix: Vec<u8>,
    place: Place,
    cone: Option<&Cone>,
    files: &mut Vec<Planned>,
    sparse: &mut Vec<Entry>,
) -> Result<(), &'static str> {
    let tree = repo
        .find_tree(tree)
        .map_err(|_| "a tree is not in the cache")?;
    let mut subtrees = Vec::new();
    for entry in tree.iter() {
        let entry = entry.map_err(|_| "a tree does not decode")?;
        let name: &[u8] = entry.filename();
        if !is_plain(name) {
            return Err("a file name needs git's checks");
        }
        let mut path = prefix.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        match entry.mode().kind() {
            EntryKind::Tree => subtrees.push((path, entry.object_id())),
            EntryKind::Commit => return Err("submodules need git"),
            _ if name == b".gitattributes" => return Err("attributes need git"),
            kind => files.push(Planned {
                path,
                kind,
                id: entry.object_id(),
            }),
        }
    }
    for (path, id) in subtrees {
        let inner = match (place, cone) {
            (Place::Full, _) | (_, None) => Place::Full,
            (_, Some(cone)) => cone.place(&String::from_utf8_lossy(&path)),
        };
        if inner == Place::Outside {
            sparse.push(Entry::sparse_directory(path, id));
        } else {
            plan(repo, id, path, inner, cone, files, sparse)?;
        }
    }
    Ok(())
}

/// A name this module may write as it is: ASCII, not `.`, `..` or `.git`
/// in any spelling, and free of what some file system reads differently
/// (git checks such names, and its error is the one to report).
fn is_plain(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.eq_ignore_ascii_case(b".git")
        && !name.ends_with(b".")
        && !name.ends_with(b" ")
        && name
            .iter()
            .all(|b| b.is_ascii() && !matches!(b, b'/' | b'\\' | b':' | b'~' | 0))
}

/// A path of the working tree, from the bytes git records.
#[cfg(unix)]
pub(crate) fn os_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// A path of the working tree, from the bytes git records.
#[cfg(not(unix))]
pub(crate) fn os_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The bytes git records for a file name.
#[cfg(unix)]
pub(crate) fn os_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().to_vec()
}

/// The bytes git records for a file name.
#[cfg(not(unix))]
pub(crate) fn os_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    name.to_string_lossy().into_owned().into_bytes()
}

/// Writes one file as git would (permissions from the umask) and returns
/// what the index records of it.
#[cfg(unix)]
fn write_file(path: &Path, kind: EntryKind, data: &[u8]) -> std::io::Result<index::Stat> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    if kind == EntryKind::Link {
        std::os::unix::fs::symlink(os_path(data), path)?;
    } else {
        let mode = if kind == EntryKind::BlobExecutable {
            0o777
        } else {
            0o666
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        file.write_all(data)?;
    }
    let meta = std::fs::symlink_metadata(path)?;
    index::stat_from(&meta).ok_or_else(|| std::io::Error::other("file stats are Unix-only here"))
}

#[cfg(not(unix))]
fn write_file(_: &Path, _: EntryKind, _: &[u8]) -> std::io::Result<index::Stat> {
    Err(std::io::Error::other("in-process checkouts are Unix-only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cone_reads_back_its_patterns_and_holds_files() {
        let cone = Cone::new(&[
            vec!["apps".into(), "web".into()],
            vec!["charts".into()],
            vec!["charts".into(), "x".into()],
        ]);
        assert_eq!(Cone::from_patterns(&cone.patterns()), cone);
        for (file, held) in [
            ("README", true),
            ("apps/kustomization.yaml", true),
            ("apps/web/deep/v.yaml", true),
            ("apps/api/v.yaml", false),
            ("charts/x/y/z", true),
            ("docs/a.md", false),
        ] {
            assert_eq!(cone.holds_file(file), held, "{file}");
        }
    }

    #[test]
    fn the_cone_places_directories() {
        let cone = Cone::new(&[vec!["apps".into(), "web".into()], vec!["charts".into()]]);
        assert_eq!(cone.place("apps"), Place::Parent);
        assert_eq!(cone.place("apps/web"), Place::Full);
        assert_eq!(cone.place("apps/api"), Place::Outside);
        assert_eq!(cone.place("charts"), Place::Full);
        assert_eq!(cone.place("docs"), Place::Outside);
    }

    #[test]
    fn names_git_guards_are_left_to_git() {
        for name in [
            ".git",
            ".GIT",
            ".git.",
            "GIT~1",
            "a\\b",
            "c:",
            "x ",
            ".",
            "..",
            "caf\u{e9}",
        ] {
            assert!(!is_plain(name.as_bytes()), "{name}");
        }
        for name in ["values.yaml", ".gitignore", "run.sh", "a.b-c_d"] {
            assert!(is_plain(name.as_bytes()), "{name}");
        }
    }
}
