//! Where Entire keeps checkpoints in a project repository, read with gix.
//!
//! Two storage backends, both read (Entire's `cmd/entire/cli/checkpoint`):
//! - the orphan branch `entire/checkpoints/v1` (`paths.MetadataBranchName`
//!   in `cmd/entire/cli/paths/paths.go`), whose tip tree holds every
//!   checkpoint at `<id[:2]>/<id[2:]>/` (`CheckpointID.Path` in
//!   `checkpoint/id/id.go`); when only `origin`'s copy was fetched,
//!   `refs/remotes/origin/entire/checkpoints/v1`, as Entire itself falls back;
//! - one ref per checkpoint, `refs/entire/checkpoints/<shard>/<id>` (the
//!   "git-refs" backend: `RefName`/`ParseRef` and `gitRefsStore`), whose
//!   commit's tree root is the checkpoint directory itself. The shard is the
//!   id's last two characters, compared without case (`ParseRef`); the
//!   first two are accepted too, as an earlier release wrote them. Refs that
//!   are not `<shard>/<id>` (the withdrawn `v2/main`, `v2/full/...`) are not
//!   checkpoints.
//!
//! A checkpoint in both places (a repository moved from the branch to refs)
//! is read from its ref. Objects are read one at a time and sizes are
//! checked from the object header before a blob is read, so a hostile
//! repository cannot make the import hold more than one bounded file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use gix::ObjectId;

use super::checkpoint_id_is_valid;
use crate::import::ImportError;

/// The branch of Entire's git-branch backend.
pub const V1_BRANCH: &str = "refs/heads/entire/checkpoints/v1";
/// `origin`'s copy of it.
const V1_REMOTE: &str = "refs/remotes/origin/entire/checkpoints/v1";
/// The namespace of Entire's git-refs backend.
pub const REF_PREFIX: &str = "refs/entire/checkpoints/";
/// The trailer Entire adds to the commits a checkpoint annotates
/// (`trailers.CheckpointTrailerKey`, `cmd/entire/cli/trailers/trailers.go`).
pub const TRAILER: &str = "Entire-Checkpoint:";

/// A project repository holding Entire checkpoints.
pub struct EntireRepo {
    repo: gix::Repository,
}

/// Where one checkpoint is: its id, its directory's tree, and the commit
/// and ref that hold it.
#[derive(Debug, Clone)]
pub struct Located {
    /// The checkpoint id (12 hex digits or a ULID).
    pub id: String,
    /// The checkpoint directory (`metadata.json`, `0/`, `1/`, ...).
    pub tree: ObjectId,
    /// The commit whose tree holds it (the branch tip, or the ref's commit).
    pub commit: ObjectId,
    /// The branch or ref it was read from.
    pub storage: String,
}

/// One entry of a tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file or directory name (lossy UTF-8).
    pub name: String,
    /// The object it names.
    pub oid: ObjectId,
    /// Whether it is a directory.
    pub is_tree: bool,
}

/// A commit carrying an `Entire-Checkpoint:` trailer.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotated {
    /// Its id.
    pub sha: String,
    /// Its subject line.
    pub subject: String,
}

impl EntireRepo {
    /// Open the repository at or above `path`.
    pub fn open(path: &Path) -> Result<Self, ImportError> {
        if !path.is_dir() {
            return Err(ImportError::Source(format!(
                "{} is not a directory",
                path.display()
            )));
        }
        let repo = gix::discover(path).map_err(|e| {
            ImportError::Source(format!("{} is not a git repository: {e}", path.display()))
        })?;
        Ok(EntireRepo { repo })
    }

    /// The project's name: the work tree's directory name (a bare
    /// repository's without `.git`).
    pub fn project(&self) -> Option<String> {
        let dir = self.repo.workdir().unwrap_or_else(|| self.repo.git_dir());
        let name = dir.file_name()?.to_string_lossy().into_owned();
        let name = name.strip_suffix(".git").unwrap_or(&name).to_owned();
        Some(name).filter(|n| !n.is_empty())
    }

    /// Every checkpoint of the repository: those of the per-checkpoint refs,
    /// then those of the branch that no ref holds.
    pub fn checkpoints(&self) -> Result<Vec<Located>, ImportError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (name, commit) in self.refs_under(REF_PREFIX)? {
            let Some(id) = parse_ref(&name) else { continue };
            let tree = self
                .commit_tree(commit)
                .map_err(|e| ImportError::Source(format!("{name}: {e}")))?;
            seen.insert(id.clone());
            out.push(Located {
                id,
                tree,
                commit,
                storage: name,
            });
        }
        let branch = [V1_BRANCH, V1_REMOTE]
            .into_iter()
            .find_map(|b| self.ref_commit(b).transpose().map(|c| (b, c)));
        if let Some((branch, commit)) = branch {
            let commit = commit?;
            let root = self
                .commit_tree(commit)
                .map_err(|e| ImportError::Source(format!("{branch}: {e}")))?;
            let storage = branch
                .strip_prefix("refs/heads/")
                .or_else(|| branch.strip_prefix("refs/remotes/"))
                .unwrap_or(branch)
                .to_owned();
            let fail = |e: String| ImportError::Source(format!("{storage}: {e}"));
            for shard in self.tree(root).map_err(fail)? {
                if !shard.is_tree || shard.name.len() != 2 {
                    continue;
                }
                for dir in self.tree(shard.oid).map_err(fail)? {
                    let id = format!("{}{}", shard.name, dir.name);
                    if dir.is_tree && checkpoint_id_is_valid(&id) && !seen.contains(&id) {
                        out.push(Located {
                            id,
                            tree: dir.oid,
                            commit,
                            storage: storage.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The commits reachable from the local branches (but Entire's own) and
    /// HEAD whose message has an `Entire-Checkpoint:` trailer naming one of
    /// `wanted`, by checkpoint id, newest first. Streams over the history,
    /// keeping only the annotated commits.
    pub fn annotated(
        &self,
        wanted: &HashSet<&str>,
    ) -> Result<HashMap<String, Vec<Annotated>>, ImportError> {
        let fail = |e: String| ImportError::Source(format!("reading the project's history: {e}"));
        let mut tips: Vec<ObjectId> = self
            .refs_under("refs/heads/")?
            .into_iter()
            .filter(|(name, _)| !name.starts_with("refs/heads/entire/"))
            .map(|(_, id)| id)
            .collect();
        if let Ok(head) = self.repo.head_id() {
            tips.push(head.detach());
        }
        let mut out: HashMap<String, Vec<Annotated>> = HashMap::new();
        if tips.is_empty() {
            return Ok(out);
        }
        let walk = self
            .repo
            .rev_walk(tips)
            .all()
            .map_err(|e| fail(e.to_string()))?;
        for info in walk {
            let id = info.map_err(|e| fail(e.to_string()))?.id;
            let object = self.repo.find_object(id).map_err(|e| fail(e.to_string()))?;
            let commit = gix::objs::CommitRef::from_bytes(&object.data, self.repo.object_hash())
                .map_err(|e| fail(format!("commit {id}: {e}")))?;
            let message = commit.message.to_string();
            for cid in trailer_ids(&message) {
                if wanted.contains(cid) {
                    let subject = message.lines().next().unwrap_or("").to_owned();
                    out.entry(cid.to_owned()).or_default().push(Annotated {
                        sha: id.to_string(),
                        subject,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The entries of tree `id`.
    pub fn tree(&self, id: ObjectId) -> Result<Vec<Entry>, String> {
        let object = self.repo.find_object(id).map_err(|e| e.to_string())?;
        if object.kind != gix::object::Kind::Tree {
            return Err(format!("{id} is a {}, not a directory", object.kind));
        }
        let tree = gix::objs::TreeRef::from_bytes(&object.data, self.repo.object_hash())
            .map_err(|e| format!("unreadable tree {id}: {e}"))?;
        Ok(tree
            .entries
            .iter()
            .map(|e| Entry {
                name: e.filename.to_string(),
                oid: e.oid.to_owned(),
                is_tree: e.mode.is_tree(),
            })
            .collect())
    }

    /// The size of blob `id`, from its header (the blob is not read).
    pub fn blob_size(&self, id: ObjectId) -> Result<u64, String> {
        let header = self.repo.find_header(id).map_err(|e| e.to_string())?;
        if header.kind() != gix::object::Kind::Blob {
            return Err(format!("{id} is a {}, not a file", header.kind()));
        }
        Ok(header.size())
    }

    /// The bytes of blob `id` (the caller checked its size first).
    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>, String> {
        let object = self.repo.find_object(id).map_err(|e| e.to_string())?;
        if object.kind != gix::object::Kind::Blob {
            return Err(format!("{id} is a {}, not a file", object.kind));
        }
        Ok(object.detach().data)
    }

    /// The tree of commit `id`.
    fn commit_tree(&self, id: ObjectId) -> Result<ObjectId, String> {
        let object = self.repo.find_object(id).map_err(|e| e.to_string())?;
        if object.kind != gix::object::Kind::Commit {
            return Err(format!("{id} is a {}, not a commit", object.kind));
        }
        gix::objs::CommitRef::from_bytes(&object.data, self.repo.object_hash())
            .map(|c| c.tree())
            .map_err(|e| format!("unreadable commit {id}: {e}"))
    }

    /// The commit `name` points at, if the ref exists.
    fn ref_commit(&self, name: &str) -> Result<Option<ObjectId>, ImportError> {
        let fail = |e: String| ImportError::Source(format!("reading {name}: {e}"));
        match self
            .repo
            .try_find_reference(name)
            .map_err(|e| fail(e.to_string()))?
        {
            None => Ok(None),
            Some(mut r) => Ok(Some(
                r.peel_to_id().map_err(|e| fail(e.to_string()))?.detach(),
            )),
        }
    }

    /// Every ref under `prefix` with the object it peels to, sorted by name.
    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, ImportError> {
        let fail = |e: String| ImportError::Source(format!("listing {prefix}: {e}"));
        let platform = self.repo.references().map_err(|e| fail(e.to_string()))?;
        let mut out = Vec::new();
        for r in platform.prefixed(prefix).map_err(|e| fail(e.to_string()))? {
            let mut r = r.map_err(|e| fail(e.to_string()))?;
            let name = r.name().as_bstr().to_string();
            let id = r.peel_to_id().map_err(|e| fail(e.to_string()))?.detach();
            out.push((name, id));
        }
        out.sort();
        Ok(out)
    }
}

/// The checkpoint id of a per-checkpoint ref `refs/entire/checkpoints/<shard>/<id>`.
pub fn parse_ref(name: &str) -> Option<String> {
    let (shard, id) = name.strip_prefix(REF_PREFIX)?.split_once('/')?;
    if id.contains('/') || !checkpoint_id_is_valid(id) {
        return None;
    }
    let last = &id[id.len() - 2..];
    let first = &id[..2];
    (shard.eq_ignore_ascii_case(last) || shard == first).then(|| id.to_owned())
}

/// The checkpoint ids of a commit message's `Entire-Checkpoint:` lines.
pub fn trailer_ids(message: &str) -> impl Iterator<Item = &str> {
    message.lines().filter_map(|line| {
        let value = line.strip_prefix(TRAILER)?.trim();
        checkpoint_id_is_valid(value).then_some(value)
    })
}
