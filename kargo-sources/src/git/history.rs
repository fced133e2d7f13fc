//! Reading a cached repository with gix: the first-parent history of a
//! branch, the tags with their commits, and the paths a commit changed.
//! Everything here is blocking; callers run it through
//! [`kargo_git::maybe_spawn_blocking`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use gix::ObjectId;
use gix::bstr::ByteSlice as _;
use gix::objs::{CommitRef, Kind, TagRef};
use kargo_core::time::Timestamp;

use super::Error;

/// One commit, as Kargo reads it with `git log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitMeta {
    pub(crate) id: String,
    /// The committer date (`%ci`).
    pub(crate) commit_date: Timestamp,
    /// `Name <email>`.
    pub(crate) author: String,
    /// `Name <email>`.
    pub(crate) committer: String,
    /// The message's subject: its first paragraph on one line (`%s`).
    pub(crate) subject: String,
    /// The commit's tree.
    pub(crate) tree: ObjectId,
    first_parent: Option<ObjectId>,
}

#[cfg(test)]
impl CommitMeta {
    /// A commit with only the fields Kargo's selector tests set; the tree
    /// is the null id.
    pub(crate) fn for_test(id: &str, author: &str, commit_date: Timestamp) -> CommitMeta {
        CommitMeta {
            id: id.to_owned(),
            commit_date,
            author: author.to_owned(),
            committer: String::new(),
            subject: String::new(),
            tree: ObjectId::null(gix::hash::Kind::Sha1),
            first_parent: None,
        }
    }
}

/// One tag, as Kargo reads it with `git for-each-ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagMeta {
    pub(crate) tag: String,
    /// The commit it resolves to.
    pub(crate) commit: CommitMeta,
    /// The tagger date of an annotated tag, else the commit's date.
    pub(crate) creator_date: Timestamp,
    /// `Name <email>` of an annotated tag's tagger, else empty.
    pub(crate) tagger: String,
    /// The subject of an annotated tag's message, else empty.
    pub(crate) annotation: String,
}

/// The most commits [`History::walk_first_parent`] sends at once; with
/// the batches in flight, the most trees [`History::prefetch_trees`] is
/// given, which must fit the pack cache (64 objects).
const WALK_BATCH: usize = 32;

/// Batches the walker may read ahead of its consumer.
const WALK_AHEAD_BATCHES: usize = 2;

/// What a walk down a branch reads of every commit it passes: only the
/// header fields, without decoding signatures or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) id: ObjectId,
    pub(crate) tree: ObjectId,
    pub(crate) first_parent: Option<ObjectId>,
    /// The committer date (`%ci`).
    pub(crate) commit_date: Timestamp,
}

/// A cached repository opened for reading.
pub(crate) struct History {
    repo: gix::Repository,
    dir: PathBuf,
    url: String,
    diff_state: gix::diff::tree::State,
    /// A reused object buffer: a walk reads tens of thousands of objects.
    buf: Vec<u8>,
}

impl History {
    pub(crate) fn open(repo_dir: &Path, url: &str) -> Result<History, Error> {
        let mut repo = gix::open_opts(repo_dir, gix::open::Options::isolated())
            .map_err(|e| Error::read(url, e))?;
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        // Trees in packs are deltas of each other: keep the objects decoded
        // last, so that the next delta of a chain applies to one of them
        // instead of to the chain's start (see `prefetch_trees`).
        repo.objects
            .set_pack_cache(|| Box::<gix::odb::pack::cache::lru::StaticLinkedList<64>>::default());
        // Needed to ask where objects are stored; the handle lives briefly.
        repo.objects.prevent_pack_unload();
        Ok(History {
            repo,
            dir: repo_dir.to_owned(),
            url: url.to_owned(),
            diff_state: Default::default(),
            buf: Vec::new(),
        })
    }

    /// Branches and tags of the cached repository (full name -> object id).
    pub(crate) fn refs(&self) -> Result<BTreeMap<String, String>, Error> {
        let platform = self
            .repo
            .references()
            .map_err(|e| Error::read(&self.url, e))?;
        let mut out = BTreeMap::new();
        for r in platform.all().map_err(|e| Error::read(&self.url, e))? {
            let r = r.map_err(|e| Error::read(&self.url, e))?;
            let name = r.name().as_bstr().to_string();
            if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
                continue;
            }
            if let Some(id) = r.target().try_id() {
                out.insert(name, id.to_string());
            }
        }
        Ok(out)
    }

    /// The commit `id` names.
    pub(crate) fn commit(&self, id: ObjectId) -> Result<CommitMeta, Error> {
        let data = self.object(id, Kind::Commit)?;
        let commit =
            CommitRef::from_bytes(&data, id.kind()).map_err(|e| Error::read(&self.url, e))?;
        let author = commit.author().map_err(|e| Error::read(&self.url, e))?;
        let committer = commit.committer().map_err(|e| Error::read(&self.url, e))?;
        Ok(CommitMeta {
            id: id.to_string(),
            commit_date: timestamp(&committer),
            author: person(&author),
            committer: person(&committer),
            subject: commit.message().summary().to_str_lossy().into_owned(),
            tree: commit.tree(),
            first_parent: commit.parents().next(),
        })
    }

    /// The header of commit `id`: its tree, first parent and date.
    pub(crate) fn link(&mut self, id: ObjectId) -> Result<Link, Error> {
        use gix::objs::commit::ref_iter::Token;
        use gix::prelude::FindExt as _;
        let url = &self.url;
        let tokens = self
            .repo
            .objects
            .find_commit_iter(&id, &mut self.buf)
            .map_err(|e| Error::read(url, e))?;
        let (mut tree, mut first_parent) = (None, None);
        for token in tokens {
            match token.map_err(|e| Error::read(url, e))? {
                Token::Tree { id } => tree = Some(id),
                Token::Parent { id } => {
                    first_parent.get_or_insert(id);
                }
                Token::Author { .. } => {}
                Token::Committer { signature } => {
                    let tree = tree.ok_or_else(|| Error::read(url, "a commit without a tree"))?;
                    return Ok(Link {
                        id,
                        tree,
                        first_parent,
                        commit_date: timestamp(&signature),
                    });
                }
                _ => break,
            }
        }
        Err(Error::read(
            url,
            format!("commit {id} has no committer line"),
        ))
    }

    /// The first-parent line from `tip`, newest first, in batches read
    /// on a thread of `scope` with its own handle on the repository, so
    /// that reading commits overlaps with what the caller does with them.
    /// Dropping the receiver stops the walk.
    pub(crate) fn walk_first_parent<'scope>(
        &self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        tip: ObjectId,
    ) -> Receiver<Result<Vec<Link>, Error>> {
        let (tx, rx) = sync_channel(WALK_AHEAD_BATCHES);
        let (dir, url) = (self.dir.clone(), self.url.clone());
        scope.spawn(move || match History::open(&dir, &url) {
            Ok(mut history) => history.walk(tip, &tx),
            Err(e) => {
                // A receiver that went away wants nothing more.
                let _ = tx.send(Err(e));
            }
        });
        rx
    }

    /// Sends the first-parent line from `tip` to `tx` in batches, growing
    /// from a few commits (a small `discoveryLimit` is served at once) to
    /// [`WALK_BATCH`]; stops when the receiver went away.
    fn walk(&mut self, tip: ObjectId, tx: &SyncSender<Result<Vec<Link>, Error>>) {
        let mut size = 8;
        let mut batch = Vec::with_capacity(size);
        let mut next = Some(tip);
        while let Some(id) = next {
            match self.link(id) {
                Ok(link) => {
                    next = link.first_parent;
                    batch.push(link);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            if batch.len() >= size || next.is_none() {
                size = (size * 2).min(WALK_BATCH);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                if tx.send(Ok(full)).is_err() {
                    return;
                }
            }
        }
    }

    /// Reads `trees` in the order their packs store them, which puts every
    /// delta's base before the delta, so each one is decoded from a cached
    /// neighbour; the reads that follow in history order are cache hits.
    /// Walking history newest first otherwise decodes a tree stored as a
    /// delta of an older one (as `git fast-import` and pushes write them)
    /// from the start of its chain each time: up to 50 deltas per tree.
    pub(crate) fn prefetch_trees(
        &mut self,
        trees: impl IntoIterator<Item = ObjectId>,
    ) -> Result<(), Error> {
        use gix::odb::pack::Find as _;
        use gix::prelude::FindExt as _;
        let mut located: Vec<((u32, u64), ObjectId)> = trees
            .into_iter()
            .map(|id| {
                let at = self
                    .repo
                    .objects
                    .location_by_oid(&id, &mut self.buf)
                    .ok()
                    .flatten()
                    .map_or((u32::MAX, 0), |l| (l.pack_id, l.pack_offset));
                (at, id)
            })
            .collect();
        located.sort_unstable();
        located.dedup();
        for (_, id) in located {
            self.repo
                .objects
                .find_tree_iter(&id, &mut self.buf)
                .map_err(|e| Error::read(&self.url, e))?;
        }
        Ok(())
    }

    /// Whether the object at any of `paths` (`a/b/c`, cleaned) differs
    /// between trees `old` (`None`: the empty tree) and `new`. Walks both
    /// trees in step and stops at the first level where they agree, as
    /// `git log -- PATHS` prunes its tree comparison.
    pub(crate) fn touches(
        &mut self,
        old: Option<ObjectId>,
        new: ObjectId,
        paths: &[String],
    ) -> Result<bool, Error> {
        for path in paths {
            if self.differs_at(old, new, path)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn differs_at(
        &mut self,
        old: Option<ObjectId>,
        new: ObjectId,
        path: &str,
    ) -> Result<bool, Error> {
        let (mut old, mut new) = (old, Some(new));
        let mut names = path.split('/').peekable();
        while let Some(name) = names.next() {
            if old == new {
                // The same tree (or none on either side): nothing differs below.
                return Ok(false);
            }
            let in_old = self.entry(old, name)?;
            let in_new = self.entry(new, name)?;
            if in_old == in_new {
                return Ok(false);
            }
            if names.peek().is_none() {
                return Ok(true);
            }
            // Only a directory can hold the rest of the path.
            let subtree = |e: Option<(ObjectId, gix::objs::tree::EntryMode)>| {
                e.filter(|(_, mode)| mode.is_tree()).map(|(id, _)| id)
            };
            (old, new) = (subtree(in_old), subtree(in_new));
        }
        Ok(old != new)
    }

    /// The entry `name` of tree `tree` (`None`: no tree).
    fn entry(
        &mut self,
        tree: Option<ObjectId>,
        name: &str,
    ) -> Result<Option<(ObjectId, gix::objs::tree::EntryMode)>, Error> {
        use gix::prelude::FindExt as _;
        let Some(tree) = tree else {
            return Ok(None);
        };
        let url = &self.url;
        let entries = self
            .repo
            .objects
            .find_tree_iter(&tree, &mut self.buf)
            .map_err(|e| Error::read(url, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(url, e))?;
            if entry.filename == name.as_bytes() {
                return Ok(Some((entry.oid.to_owned(), entry.mode)));
            }
        }
        Ok(None)
    }

    /// Every tag that resolves to a commit, with its metadata.
    pub(crate) fn tags(&self, refs: &BTreeMap<String, String>) -> Result<Vec<TagMeta>, Error> {
        let mut out = Vec::new();
        for (name, target) in refs {
            let Some(tag) = name.strip_prefix("refs/tags/") else {
                continue;
            };
            let id =
                ObjectId::from_hex(target.as_bytes()).map_err(|e| Error::read(&self.url, e))?;
            if let Some(meta) = self.tag(tag, id)? {
                out.push(meta);
            }
        }
        Ok(out)
    }

    /// A tag's metadata, or `None` when it does not resolve to a commit.
    fn tag(&self, name: &str, id: ObjectId) -> Result<Option<TagMeta>, Error> {
        let object = self.find(id)?;
        match object.kind {
            Kind::Commit => {
                let commit = self.commit(id)?;
                Ok(Some(TagMeta {
                    tag: name.to_owned(),
                    creator_date: commit.commit_date,
                    commit,
                    tagger: String::new(),
                    annotation: String::new(),
                }))
            }
            Kind::Tag => {
                let tag = TagRef::from_bytes(&object.data, id.kind())
                    .map_err(|e| Error::read(&self.url, e))?;
                let tagger = tag.tagger().map_err(|e| Error::read(&self.url, e))?;
                let annotation = gix::objs::commit::MessageRef::from_bytes(tag.message)
                    .summary()
                    .to_str_lossy()
                    .into_owned();
                let Some(target) = self.peel_to_commit(tag.target())? else {
                    return Ok(None);
                };
                let commit = self.commit(target)?;
                Ok(Some(TagMeta {
                    tag: name.to_owned(),
                    creator_date: tagger.as_ref().map_or(commit.commit_date, timestamp),
                    tagger: tagger.as_ref().map(person).unwrap_or_default(),
                    annotation,
                    commit,
                }))
            }
            _ => Ok(None),
        }
    }

    fn peel_to_commit(&self, mut id: ObjectId) -> Result<Option<ObjectId>, Error> {
        // Tags of tags are rare; a few levels are plenty and stop cycles.
        for _ in 0..8 {
            let object = self.find(id)?;
            match object.kind {
                Kind::Commit => return Ok(Some(id)),
                Kind::Tag => {
                    id = TagRef::from_bytes(&object.data, id.kind())
                        .map_err(|e| Error::read(&self.url, e))?
                        .target();
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The paths `commit` changed against its first parent (every path of
    /// its tree for a root commit), as `git show --name-status
    /// --no-renames --first-parent` lists them: files only, a move as its
    /// two paths.
    pub(crate) fn changed_paths(&mut self, commit: &CommitMeta) -> Result<Vec<String>, Error> {
        let parent_tree = match commit.first_parent {
            Some(parent) => Some(self.commit(parent)?.tree),
            None => None,
        };
        self.changed_paths_between(parent_tree, commit.tree)
    }

    /// The files that differ between two trees (`None`: the empty tree).
    pub(crate) fn changed_paths_between(
        &mut self,
        old: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<Vec<String>, Error> {
        let new_tree = self.tree_data(new)?;
        let old_tree = match old {
            Some(old) => self.tree_data(old)?,
            None => Vec::new(),
        };
        let kind = new.kind();
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old_tree, kind),
            gix::objs::TreeRefIter::from_bytes(&new_tree, kind),
            &mut self.diff_state,
            &self.repo.objects,
            &mut recorder,
        )
        .map_err(|e| Error::read(&self.url, e))?;
        use gix::diff::tree::recorder::Change;
        Ok(recorder
            .records
            .into_iter()
            .filter_map(|change| match change {
                Change::Addition {
                    entry_mode, path, ..
                }
                | Change::Deletion {
                    entry_mode, path, ..
                } if !entry_mode.is_tree() => Some(path),
                Change::Modification {
                    previous_entry_mode,
                    entry_mode,
                    path,
                    ..
                } if !(entry_mode.is_tree() && previous_entry_mode.is_tree()) => Some(path),
                _ => None,
            })
            .map(|p| p.to_str_lossy().into_owned())
            .collect())
    }

    fn tree_data(&self, id: ObjectId) -> Result<Vec<u8>, Error> {
        self.object(id, Kind::Tree)
    }

    /// Object `id`, detached from the repository.
    fn find(&self, id: ObjectId) -> Result<gix::ObjectDetached, Error> {
        self.repo
            .find_object(id)
            .map(gix::Object::detach)
            .map_err(|e| Error::read(&self.url, e))
    }

    /// The data of object `id`, which must be of `kind`.
    fn object(&self, id: ObjectId, kind: Kind) -> Result<Vec<u8>, Error> {
        let object = self.find(id)?;
        if object.kind != kind {
            return Err(Error::read(
                &self.url,
                format!(
                    "object {id} is a {} where a {kind} was expected",
                    object.kind
                ),
            ));
        }
        Ok(object.data)
    }
}

/// `Name <email>`, as `%an <%ae>` prints it.
fn person(sig: &gix::actor::SignatureRef<'_>) -> String {
    let sig = sig.trim();
    format!("{} <{}>", sig.name.to_str_lossy(), sig.email.to_str_lossy())
}

/// The signature's time (seconds precision, as git prints it).
fn timestamp(sig: &gix::actor::SignatureRef<'_>) -> Timestamp {
    let seconds = sig.time().map(|t| t.seconds).unwrap_or(0);
    Timestamp::from_unix_millis(seconds.saturating_mul(1000))
}
