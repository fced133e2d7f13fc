//! Committing a checkout's changes in-process.
//!
//! The common promotion edits a few files of a checkout this crate wrote
//! and commits them. Doing that with `git add` and `git commit` costs two
//! processes and a pass over the index; here it is a walk of the working
//! tree, a hash of each file whose stat changed, and the few objects the
//! commit needs.
//!
//! The walk is trusted only where its answer is git's: the index must be
//! the one this crate wrote for `HEAD` (nothing staged since), and the tree
//! must hold nothing that changes what `git add` would record — no
//! `.gitattributes` (filters, line endings), no `.gitignore` (untracked
//! files git would skip), no submodules, and no files inside a directory
//! the sparse checkout leaves out. Anything else is handed to git.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gix::objs::tree::EntryKind;

use crate::cli::Identity;
use crate::index::{self, Entry, Stat};
use crate::worktree::{Cone, os_bytes, os_path};

/// What [`commit()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A commit was made; its id.
    Committed(String),
    /// Nothing changed; `HEAD`'s id.
    Unchanged(String),
    /// Nothing was written that matters: git must commit, for this reason.
    NeedsGit(&'static str),
}

/// A file as the working tree has it now.
struct Found {
    kind: EntryKind,
    stat: Stat,
}

/// A file whose index entry is rewritten: changed, or only touched.
struct Upsert {
    path: Vec<u8>,
    kind: EntryKind,
    id: gix::ObjectId,
    stat: Stat,
    /// Whether its contents or kind differ from the index's.
    changed: bool,
}

/// Environment variables git reads for a commit's identity and dates.
const IDENTITY_VARIABLES: [&str; 6] = [
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// Commits every change in the working tree at `path`, as `author` (or
/// the identity its config names), when that can be done without git.
/// Blocking.
pub(crate) fn commit(path: &Path, message: &str, author: Option<&Identity>) -> Outcome {
    match try_commit(path, message, author) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::NeedsGit(reason),
    }
}

fn try_commit(
    path: &Path,
    message: &str,
    author: Option<&Identity>,
) -> Result<Outcome, &'static str> {
    if IDENTITY_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return Err("git reads the identity from the environment");
    }
    let message = cleaned(message).ok_or("an empty message is git's to refuse")?;
    let git_dir = path.join(".git");
    // New objects stay in memory until they are written as one pack.
    let mut repo = gix::open_opts(path, gix::open::Options::isolated())
        .map_err(|_| "the repository did not open")?
        .with_object_memory();
    let head = repo.head_id().map_err(|_| "HEAD is not a commit")?.detach();
    if !index::holds_tree_of(&git_dir, &head.to_string()) {
        return Err("the index is not the one written for HEAD");
    }
    let index = gix::index::File::at(
        git_dir.join("index"),
        gix::hash::Kind::Sha1,
        false,
        gix::index::decode::Options::default(),
    )
    .map_err(|_| "the index did not decode")?;

    let mut tracked: HashMap<&[u8], usize> = HashMap::new();
    let mut sparse_dirs: Vec<&[u8]> = Vec::new();
    for (i, entry) in index.entries().iter().enumerate() {
        let name: &[u8] = entry.path(&index);
        if entry.mode.is_sparse() {
            sparse_dirs.push(name);
        } else if entry.mode.is_submodule() {
            return Err("submodules need git");
        } else if is_special(name) {
            return Err("attribute and ignore files need git");
        } else {
            tracked.insert(name, i);
        }
    }
    let mut found = HashMap::new();
    walk(path, Vec::new(), &sparse_dirs, &mut found)?;
    // git refuses to add a new file outside a sparse checkout's cone.
    if let Ok(patterns) = std::fs::read_to_string(git_dir.join("info/sparse-checkout")) {
        let cone = Cone::from_patterns(&patterns);
        let outside = found.keys().any(|name| {
            !tracked.contains_key(name.as_slice())
                && !cone.holds_file(&String::from_utf8_lossy(name))
        });
        if outside {
            return Err("a new file outside the sparse checkout is git's to refuse");
        }
    }

    // What changed: new and modified files (with their contents' ids), and
    // deletions.
    let options = gix::index::entry::stat::Options::default();
    let kind_of = |e: &gix::index::Entry| e.mode.to_tree_entry_mode().map(|m| m.kind());
    let mut upserts: Vec<Upsert> = Vec::new();
    for (name, file) in found.iter() {
        let entry = tracked.get(name.as_slice()).map(|i| &index.entries()[*i]);
        if let Some(entry) = entry
            && kind_of(entry) == Some(file.kind)
            && entry.stat.matches(&file.stat, options)
            && !entry.stat.is_racy(index.timestamp(), options)
        {
            continue;
        }
        let data = read(&path.join(os_path(name)), file.kind).map_err(|_| "a file did not read")?;
        let id = blob_id(&data)?;
        // A file touched but not changed only has its stat refreshed.
        let changed = !entry.is_some_and(|e| kind_of(e) == Some(file.kind) && e.id == id);
        if changed {
            repo.write_blob(&data)
                .map_err(|_| "a blob could not be written")?;
        }
        upserts.push(Upsert {
            path: name.clone(),
            kind: file.kind,
            id,
            stat: file.stat,
            changed,
        });
    }
    let deleted: HashSet<&[u8]> = tracked
        .keys()
        .filter(|name| !found.contains_key(**name))
        .copied()
        .collect();
    if deleted.is_empty() && !upserts.iter().any(|u| u.changed) {
        return Ok(Outcome::Unchanged(head.to_string()));
    }

    let head_tree = repo
        .find_commit(head)
        .and_then(|c| c.tree_id())
        .map_err(|_| "HEAD's tree is not readable")?;
    let mut editor = repo
        .edit_tree(head_tree)
        .map_err(|_| "HEAD's tree is not readable")?;
    // Removals first: a file may have become a directory of the same name.
    for name in &deleted {
        editor
            .remove(gix::bstr::BStr::new(name))
            .map_err(|_| "a path could not be removed from the tree")?;
    }
    for upsert in upserts.iter().filter(|u| u.changed) {
        editor
            .upsert(gix::bstr::BStr::new(&upsert.path), upsert.kind, upsert.id)
            .map_err(|_| "a path could not be placed in the tree")?;
    }
    let tree = editor
        .write()
        .map_err(|_| "the tree could not be written")?
        .detach();

    // The index after the commit: the working tree as it is now.
    let mut entries: Vec<Entry> = Vec::with_capacity(index.entries().len());
    let updated: HashSet<&[u8]> = upserts.iter().map(|u| u.path.as_slice()).collect();
    for entry in index.entries() {
        let name: &[u8] = entry.path(&index);
        if deleted.contains(&name) || updated.contains(name) {
            continue;
        }
        entries.push(Entry {
            path: name.to_vec(),
            mode: entry.mode.bits(),
            id: entry.id,
            stat: entry.stat,
        });
    }
    for upsert in upserts {
        entries.push(Entry {
            path: upsert.path,
            mode: u32::from(upsert.kind as u16),
            id: upsert.id,
            stat: upsert.stat,
        });
    }

    let identity = match author {
        Some(identity) => identity.clone(),
        None => configured_identity(&repo),
    };
    let signature = gix::actor::Signature {
        name: identity.name.as_str().into(),
        email: identity.email.as_str().into(),
        time: gix::date::Time::now_local_or_utc(),
    };
    let mut time = gix::date::parse::TimeBuf::default();
    let signature = signature.to_ref(&mut time);
    let commit = gix::objs::Commit {
        tree,
        parents: [head].into_iter().collect(),
        author: signature.into(),
        committer: signature.into(),
        encoding: None,
        message: message.as_str().into(),
        extra_headers: Vec::new(),
    };
    let id = repo
        .write_object(&commit)
        .map_err(|_| "the commit could not be written")?
        .detach();
    let written = repo
        .objects
        .take_object_memory()
        .ok_or("the new objects were not kept in memory")?;
    let objects: Vec<_> = written
        .iter()
        .map(|(id, (kind, data))| (*id, *kind, data.as_slice()))
        .collect();
    crate::pack::write(&git_dir.join("objects"), &objects)
        .map_err(|_| "the new objects could not be written")?;
    // The index next: should moving the branch fail, git finds the change
    // staged and commits it.
    index::write(&git_dir, entries, &id.to_string())
        .map_err(|_| "the index could not be written")?;
    let log = format!("commit: {}", message.lines().next().unwrap_or_default());
    let name = "HEAD"
        .try_into()
        .map_err(|_| "HEAD is not a reference name")?;
    let edit = gix::refs::transaction::RefEdit::update(
        name,
        id,
        gix::refs::transaction::PreviousValue::MustExistAndMatch(head.into()),
        log,
    )
    .with_deref(true);
    repo.edit_references_as(Some(edit), Some(signature))
        .map_err(|_| "HEAD could not be moved")?;
    Ok(Outcome::Committed(id.to_string()))
}

/// The identity the checkout's config names, or Kargo's.
fn configured_identity(repo: &gix::Repository) -> Identity {
    let config = repo.config_snapshot();
    let value = |key: &str| config.string(key).map(|v| v.to_string());
    match (value("user.name"), value("user.email")) {
        (Some(name), Some(email)) => Identity { name, email },
        _ => Identity::kargo(),
    }
}

/// Files whose presence changes what `git add` records.
fn is_special(path: &[u8]) -> bool {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    name == b".gitattributes" || name == b".gitignore" || name == b".gitmodules"
}

/// Collects the files under `dir` (relative `prefix`), skipping `.git`.
fn walk(
    root: &Path,
    prefix: Vec<u8>,
    sparse_dirs: &[&[u8]],
    found: &mut HashMap<Vec<u8>, Found>,
) -> Result<(), &'static str> {
    let dir = root.join(os_path(&prefix));
    for entry in std::fs::read_dir(&dir).map_err(|_| "a directory did not read")? {
        let entry = entry.map_err(|_| "a directory did not read")?;
        let name = os_bytes(&entry.file_name());
        if prefix.is_empty() && name == b".git" {
            continue;
        }
        let mut path = prefix.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        let meta = entry.metadata().map_err(|_| "a file did not read")?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            if name == b".git" {
                return Err("a nested repository needs git");
            }
            let mut as_dir = path.clone();
            as_dir.push(b'/');
            if sparse_dirs.contains(&as_dir.as_slice()) {
                return Err("files outside the sparse checkout need git");
            }
            walk(root, path, sparse_dirs, found)?;
            continue;
        }
        if is_special(&path) {
            return Err("attribute and ignore files need git");
        }
        let kind = if file_type.is_symlink() {
            EntryKind::Link
        } else if !file_type.is_file() {
            return Err("only files and links are committed here");
        } else if is_executable(&meta) {
            EntryKind::BlobExecutable
        } else {
            EntryKind::Blob
        };
        let stat = index::stat_from(&meta).ok_or("file stats are Unix-only here")?;
        found.insert(path, Found { kind, stat });
    }
    Ok(())
}

/// The id git gives a blob of `data`.
fn blob_id(data: &[u8]) -> Result<gix::ObjectId, &'static str> {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, data)
        .map_err(|_| "a file could not be hashed")
}

/// A file's contents, or a link's target.
fn read(path: &Path, kind: EntryKind) -> std::io::Result<Vec<u8>> {
    if kind == EntryKind::Link {
        Ok(os_bytes(std::fs::read_link(path)?.as_os_str()))
    } else {
        std::fs::read(path)
    }
}

/// The message as `git commit -m` records it: trailing whitespace cut from
/// every line, runs of empty lines made one, none at the start or end, and
/// a final newline. `None` when nothing is left.
fn cleaned(message: &str) -> Option<String> {
    let mut out = String::with_capacity(message.len() + 1);
    let mut blank = false;
    for line in message.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cleaned_as_git_commit_m_cleans_them() {
        assert_eq!(cleaned("Promote v2").as_deref(), Some("Promote v2\n"));
        assert_eq!(
            cleaned("\n\nTitle  \n\n\n\nbody\t\n# kept\n\n").as_deref(),
            Some("Title\n\nbody\n# kept\n")
        );
        assert_eq!(cleaned(" \n\t\n"), None);
    }
}
