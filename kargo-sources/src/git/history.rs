//! Reading a cached repository with gix: the first-parent history of a
//! branch, the tags with their commits, and the paths a commit changed.
//! Everything here is blocking; callers run it through
//! [`kargo_git::maybe_spawn_blocking`].

use std::collections::BTreeMap;
use std::path::Path;

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

/// A cached repository opened for reading.
pub(crate) struct History {
    repo: gix::Repository,
    url: String,
    diff_state: gix::diff::tree::State,
}

impl History {
    pub(crate) fn open(repo_dir: &Path, url: &str) -> Result<History, Error> {
        let mut repo = gix::open_opts(repo_dir, gix::open::Options::isolated())
            .map_err(|e| Error::read(url, e))?;
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        Ok(History {
            repo,
            url: url.to_owned(),
            diff_state: Default::default(),
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

    /// The commit before `commit` on its first-parent line, if any.
    pub(crate) fn first_parent(&self, commit: &CommitMeta) -> Result<Option<CommitMeta>, Error> {
        commit.first_parent.map(|p| self.commit(p)).transpose()
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

    /// The object at each of `paths` (`a/b/c`, cleaned) in `tree`, or
    /// `None` where there is none: equal answers for two trees mean
    /// nothing at or under those paths changed.
    pub(crate) fn entries_at(
        &self,
        tree: ObjectId,
        paths: &[String],
    ) -> Result<Vec<Option<ObjectId>>, Error> {
        let root = self.tree_data(tree)?;
        paths
            .iter()
            .map(|path| {
                let mut data = root.clone();
                let mut parts = path.split('/').peekable();
                while let Some(name) = parts.next() {
                    let entry = gix::objs::TreeRefIter::from_bytes(&data, tree.kind())
                        .filter_map(Result::ok)
                        .find(|e| e.filename == name.as_bytes())
                        .map(|e| (e.oid.to_owned(), e.mode.is_tree()));
                    match entry {
                        None => return Ok(None),
                        Some((oid, _)) if parts.peek().is_none() => return Ok(Some(oid)),
                        Some((oid, true)) => data = self.tree_data(oid)?,
                        Some((_, false)) => return Ok(None),
                    }
                }
                Ok(None)
            })
            .collect()
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
