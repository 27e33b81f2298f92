//! Git storage with gix: one signed commit per atom (SPEC §3).
//!
//! A commit's tree holds `atom.json` (the canonical record) and
//! `attachments/<name>`; its parent is the previous atom; its author is the
//! agent. This module reads those commits; `write.rs` writes them into
//! packs and `refs.rs` moves trail refs with compare-and-swap, each file
//! fsynced before it is renamed into place. It knows nothing of ids or
//! trails' meaning: the [`crate::Trail`] façade decides what to write.

pub mod durable;
pub mod lock;
pub mod log;
pub mod pack;
pub mod raw;
pub mod refs;
mod repair;
pub mod rollup;
mod write;

pub use write::{
    encode_atom_tree, encode_attachments_tree, encode_commit, sign_commit, CommitFields,
};

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;
use gix::ObjectId;

use crate::model::Atom;
use crate::signing::SigningError;

/// The file holding the record in every atom tree.
pub const RECORD_FILE: &str = "atom.json";
/// The directory holding attachments in an atom tree.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// Where trails live.
pub const HEADS_PREFIX: &str = "refs/heads/";

/// Errors of the git layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A gix operation failed.
    #[error("git: {context}: {message}")]
    Git {
        /// What we were doing.
        context: &'static str,
        /// gix's description, with its causes.
        message: String,
    },
    /// File system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The ref moved between reading it and updating it.
    #[error("{name} moved while it was being updated")]
    Conflict {
        /// The ref.
        name: String,
    },
    /// Another program (a git command) kept the ref's lock file for
    /// [`refs::LOCK_WAIT`]; the file is left alone.
    #[error("{name} is locked: {} exists (another program is updating it, or one that crashed left it)", lock.display())]
    RefLocked {
        /// The ref (or `HEAD`, `packed-refs`).
        name: String,
        /// Its lock file.
        lock: PathBuf,
    },
    /// A commit in a trail is not an atom commit.
    #[error("commit {commit} is not an atom: {reason}")]
    NotAnAtom {
        /// The commit.
        commit: ObjectId,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] SigningError),
}

trait GitContext<T> {
    fn git(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T, E: std::fmt::Debug> GitContext<T> for Result<T, E> {
    fn git(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Git {
            context,
            message: format!("{e:?}"),
        })
    }
}

/// `Err(StoreError::Io)` with context, from an `io::Result`.
pub(crate) fn io_context<T>(
    r: std::io::Result<T>,
    context: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    r.map_err(|source| StoreError::Io {
        context: context(),
        source,
    })
}

/// A person or agent in a commit header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// An armored commit signature and the bytes it signs.
pub type SignedPayload = (Vec<u8>, Vec<u8>);

/// The largest file an atom commit holds: an attachment of 64 MiB (its
/// `atom.json` is at most a few MiB). A larger blob from a remote is refused
/// before it is read.
pub const MAX_BLOB_BYTES: u64 = 64 << 20;
/// The most bytes of files (record and attachments) one atom commit holds.
pub const MAX_ATOM_FILES_BYTES: u64 = 256 << 20;

/// A commit holding one file, as [`GitStore::read_file_commit`] reads it.
#[derive(Debug, Clone)]
pub struct FileCommit {
    /// Parent commit ids, first parent first.
    pub parents: Vec<ObjectId>,
    /// The file's bytes.
    pub file: Vec<u8>,
    /// The armored signature and the bytes it signs, when signed.
    pub signature: Option<SignedPayload>,
}

/// A commit of a few small files, as [`GitStore::read_small_commit`] reads it.
#[derive(Debug, Clone)]
pub(crate) struct SmallCommit {
    pub(crate) parents: Vec<ObjectId>,
    pub(crate) signature: Option<SignedPayload>,
    pub(crate) files: Vec<(String, Vec<u8>)>,
}

/// An atom commit as read back from git.
#[derive(Debug, Clone)]
pub struct StoredAtom {
    /// The commit id.
    pub commit: ObjectId,
    /// Parent commit ids, first parent first.
    pub parents: Vec<ObjectId>,
    /// The record from `atom.json`.
    pub record: Atom,
    /// The raw `atom.json` bytes.
    pub record_bytes: Vec<u8>,
    /// The commit message.
    pub message: String,
    /// The armored signature and the bytes it signs, when signed.
    pub signature: Option<SignedPayload>,
}

impl StoredAtom {
    /// The time git checks the signature's key at: the committer's
    /// timestamp in the signed bytes (atom writes the record's time there),
    /// else the record's time.
    pub fn signature_time(&self) -> i64 {
        self.signature
            .as_ref()
            .and_then(|(_, payload)| crate::signing::committer_time(payload))
            .unwrap_or_else(|| self.record.time().map_or(0, |t| t.timestamp()))
    }
}

/// The git repository of a store.
pub struct GitStore {
    repo: gix::Repository,
    git_dir: PathBuf,
}

impl GitStore {
    /// Create a bare repository at `git_dir` whose HEAD names `refs/heads/main`.
    pub fn init(git_dir: &Path) -> Result<Self, StoreError> {
        gix::init_bare(git_dir).git("creating the repository")?;
        io_context(
            std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/main\n"),
            || format!("writing {}", git_dir.join("HEAD").display()),
        )?;
        Self::open(git_dir)
    }

    /// Open an existing bare repository.
    pub fn open(git_dir: &Path) -> Result<Self, StoreError> {
        let mut repo = gix::open(git_dir).git("opening the repository")?;
        // Walks read each commit twice (the walk, then the atom): keep recent
        // objects, and in packs the bases of deltas, in memory.
        repo.object_cache_size_if_unset(4 << 20);
        Ok(GitStore {
            repo,
            git_dir: git_dir.to_owned(),
        })
    }

    /// A second handle on the same repository, with its own maps of the
    /// pack files: a pass over the whole store reads through short-lived
    /// handles, so the pages it touched are unmapped as it goes and its
    /// memory stays bounded however large the packs are.
    pub fn reopen(&self) -> Result<Self, StoreError> {
        Self::open(&self.git_dir)
    }

    /// The repository directory (`trail.git`).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// A string from the repository's git config (including global config).
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo
            .config_snapshot()
            .string(key)
            .map(|v| v.to_str_lossy().into_owned())
    }

    /// The trail HEAD names (`main` after init).
    pub fn current_trail(&self) -> Result<String, StoreError> {
        let name = self.repo.head_name().git("reading HEAD")?;
        let name = name.ok_or_else(|| StoreError::Git {
            context: "reading HEAD",
            message: "HEAD is detached; a store's HEAD must name a trail".into(),
        })?;
        let full = name.as_bstr().to_str_lossy().into_owned();
        Ok(full
            .strip_prefix(HEADS_PREFIX)
            .map(str::to_owned)
            .unwrap_or(full))
    }

    /// The commit a ref points to, `None` when the ref does not exist.
    pub fn ref_target(&self, full_name: &str) -> Result<Option<ObjectId>, StoreError> {
        let r = self
            .repo
            .try_find_reference(full_name)
            .git("reading a reference")?;
        match r {
            None => Ok(None),
            Some(mut r) => Ok(Some(direct_target(&mut r)?)),
        }
    }

    /// Every ref under `prefix` (e.g. `refs/heads/`) with its commit.
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, StoreError> {
        let platform = self.repo.references().git("listing references")?;
        let mut out = Vec::new();
        for r in platform.prefixed(prefix).git("listing references")? {
            let mut r = r.git("reading a reference")?;
            let name = r.name().as_bstr().to_str_lossy().into_owned();
            let id = direct_target(&mut r)?;
            out.push((name, id));
        }
        out.sort();
        Ok(out)
    }

    /// A small file commit (the published key lists of `refs/atom/signers`):
    /// the file `name` at the top of `commit`'s tree, the commit's parents
    /// and its signature (armored, signed bytes) when it has one. Remote
    /// input: a tree with anything but that one file, or a file over
    /// `max_bytes`, is refused before the file is read.
    pub fn read_file_commit(
        &self,
        commit: ObjectId,
        name: &str,
        max_bytes: u64,
    ) -> Result<FileCommit, StoreError> {
        let mut small = self.read_small_commit(commit, &[(name, max_bytes)])?;
        let Some((_, file)) = small.files.pop() else {
            return Err(StoreError::NotAnAtom {
                commit,
                reason: format!("its tree lacks {name}"),
            });
        };
        Ok(FileCommit {
            parents: small.parents,
            file,
            signature: small.signature,
        })
    }

    /// A commit whose tree holds only regular files named in `allowed`,
    /// each within its size limit, read whole: its parents, signature and
    /// files (in tree order). Anything else is refused before a file is
    /// read (it may come from a remote).
    pub(crate) fn read_small_commit(
        &self,
        commit: ObjectId,
        allowed: &[(&str, u64)],
    ) -> Result<SmallCommit, StoreError> {
        let refuse = |reason: String| StoreError::NotAnAtom { commit, reason };
        let mut corrupt = Vec::new();
        let data = self
            .read_checked(commit, "commit", &mut corrupt)
            .ok_or_else(|| refuse(format!("the commit cannot be read: {}", corrupt.join("; "))))?;
        let kind = self.repo.object_hash();
        let parsed = gix::objs::CommitRef::from_bytes(&data, kind)
            .map_err(|_| refuse("the commit cannot be parsed".into()))?;
        let signature = gix::objs::CommitRefIter::signature(&data, kind)
            .map_err(|_| refuse("the signature cannot be read".into()))?
            .map(|(sig, signed)| (sig.to_vec(), signed.to_bstring().into()));
        let parents = parsed.parents().collect();
        let tree = self
            .read_checked(parsed.tree(), "tree", &mut corrupt)
            .ok_or_else(|| refuse("its tree cannot be read".into()))?;
        let entries = gix::objs::TreeRef::from_bytes(&tree, kind)
            .map_err(|_| refuse("its tree cannot be parsed".into()))?
            .entries;
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let mut files = Vec::new();
        for e in &entries {
            let name = e.filename.to_str_lossy();
            let Some((_, limit)) = allowed.iter().find(|(n, _)| *n == name) else {
                return Err(refuse(format!(
                    "its tree holds {name:?}, not only {}",
                    names.join(" and ")
                )));
            };
            if e.mode.value() != MODE_FILE {
                return Err(refuse(format!("{name} is not a regular file")));
            }
            let size = self
                .repo
                .find_header(e.oid)
                .map_err(|err| refuse(format!("{name} cannot be read: {err}")))?
                .size();
            if size > *limit {
                return Err(refuse(format!(
                    "{name} is {size} bytes, more than the {limit} allowed"
                )));
            }
            let bytes = self
                .read_checked(e.oid.to_owned(), "blob", &mut corrupt)
                .ok_or_else(|| refuse(format!("{name} cannot be read")))?;
            files.push((name.into_owned(), bytes));
        }
        Ok(SmallCommit {
            parents,
            signature,
            files,
        })
    }

    /// Whether the repository holds the object `id`.
    pub fn has_object(&self, id: ObjectId) -> bool {
        self.repo.has_object(id)
    }

    /// The value of the trailer `key` in `commit`'s message, when the
    /// commit reads.
    pub fn trailer(&self, commit: ObjectId, key: &str) -> Option<String> {
        let object = self.repo.find_object(commit).ok()?;
        let parsed =
            gix::objs::CommitRef::from_bytes(&object.data, self.repo.object_hash()).ok()?;
        let prefix = format!("{key}: ");
        parsed
            .message
            .to_str_lossy()
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }

    /// Read the atom stored in `commit`.
    pub fn read_atom(&self, commit: ObjectId) -> Result<StoredAtom, StoreError> {
        let not_atom = |reason: String| StoreError::NotAnAtom { commit, reason };
        let data = self
            .repo
            .find_object(commit)
            .git("reading a commit")?
            .detach()
            .data;
        let kind = self.repo.object_hash();
        let parsed = gix::objs::CommitRef::from_bytes(&data, kind)
            .map_err(|e| not_atom(format!("unreadable commit: {e:?}")))?;
        let parents: Vec<ObjectId> = parsed.parents().collect();
        let message = parsed.message.to_str_lossy().into_owned();
        let tree = parsed.tree();
        let signature = gix::objs::CommitRefIter::signature(&data, kind)
            .map_err(|e| not_atom(format!("unreadable commit: {e:?}")))?
            .map(|(sig, signed)| (sig.to_vec(), signed.to_bstring().into()));
        let tree_data = self
            .repo
            .find_object(tree)
            .git("reading a tree")?
            .detach()
            .data;
        let tree_ref = gix::objs::TreeRef::from_bytes(&tree_data, kind)
            .map_err(|e| not_atom(format!("unreadable tree: {e:?}")))?;
        let entry = tree_ref
            .entries
            .iter()
            .find(|e| e.filename == RECORD_FILE)
            .ok_or_else(|| not_atom(format!("its tree has no {RECORD_FILE}")))?;
        let record_bytes = self
            .repo
            .find_object(entry.oid)
            .git("reading atom.json")?
            .detach()
            .data;
        let record: Atom = serde_json::from_slice(&record_bytes)
            .map_err(|e| not_atom(format!("{RECORD_FILE} is not a record: {e}")))?;
        Ok(StoredAtom {
            commit,
            parents,
            record,
            record_bytes,
            message,
            signature,
        })
    }

    /// Commits reachable from `tips`, children before their parents
    /// (breadth-first: a linear trail comes out newest first).
    /// Stops after `limit` commits when given.
    pub fn walk(
        &self,
        tips: &[ObjectId],
        limit: Option<usize>,
    ) -> Result<Vec<ObjectId>, StoreError> {
        let walk = self
            .repo
            .rev_walk(tips.iter().copied())
            .sorting(gix::revision::walk::Sorting::BreadthFirst)
            .all()
            .git("walking history")?;
        walk.take(limit.unwrap_or(usize::MAX))
            .map(|info| info.map(|i| i.id).git("walking history"))
            .collect()
    }

    /// The parents of `commit`, first parent first, read as a walk of the
    /// history reads them: an object that is not a commit, or a commit
    /// whose header does not decode, is an error.
    pub fn commit_parents(&self, commit: ObjectId) -> Result<Vec<ObjectId>, StoreError> {
        use gix::objs::commit::ref_iter::Token;
        let object = self.repo.find_object(commit).git("walking history")?;
        if object.kind != gix::object::Kind::Commit {
            return Err(StoreError::Git {
                context: "walking history",
                message: format!("{commit} is a {}, not a commit", object.kind),
            });
        }
        let mut parents = Vec::new();
        for token in gix::objs::CommitRefIter::from_bytes(&object.data, self.repo.object_hash()) {
            match token {
                Ok(Token::Tree { .. }) => {}
                Ok(Token::Parent { id }) => parents.push(id),
                Ok(_) => break,
                Err(e) => {
                    return Err(StoreError::Git {
                        context: "walking history",
                        message: format!("commit {commit} could not be decoded: {e:?}"),
                    })
                }
            }
        }
        Ok(parents)
    }

    /// Commits reachable from `tip` without passing through a commit for
    /// which `is_known` is true (those, and their ancestors, are skipped),
    /// children first, each with its parent ids.
    pub fn walk_new(
        &self,
        tip: ObjectId,
        mut is_known: impl FnMut(&ObjectId) -> bool,
    ) -> Result<Vec<(ObjectId, Vec<ObjectId>)>, StoreError> {
        if is_known(&tip) {
            return Ok(Vec::new());
        }
        let walk = self
            .repo
            .rev_walk([tip])
            .sorting(gix::revision::walk::Sorting::BreadthFirst)
            .selected(move |id| !is_known(&id.to_owned()))
            .git("walking history")?;
        walk.map(|info| {
            info.map(|i| (i.id, i.parent_ids.iter().copied().collect()))
                .git("walking history")
        })
        .collect()
    }

    /// Commits reachable from `tip` without passing through a commit for
    /// which `is_known` is true (those, and their ancestors, are skipped).
    /// Returns the new commits, children first, and the known commits met.
    pub fn walk_until_known(
        &self,
        tip: ObjectId,
        mut is_known: impl FnMut(&ObjectId) -> bool,
    ) -> Result<(Vec<ObjectId>, Vec<ObjectId>), StoreError> {
        let mut met = Vec::new();
        if is_known(&tip) {
            return Ok((Vec::new(), vec![tip]));
        }
        let met_ref = &mut met;
        let walk = self
            .repo
            .rev_walk([tip])
            .sorting(gix::revision::walk::Sorting::BreadthFirst)
            .selected(move |id| {
                let id = id.to_owned();
                if is_known(&id) {
                    met_ref.push(id);
                    false
                } else {
                    true
                }
            })
            .git("walking history")?;
        let new = walk
            .map(|info| info.map(|i| i.id).git("walking history"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((new, met))
    }

    /// Commits whose id starts with the hex `prefix` (at least 4 digits).
    pub fn resolve_prefix(&self, prefix: &str) -> Result<Option<ObjectId>, StoreError> {
        let Ok(p) = gix::hash::Prefix::from_hex(prefix) else {
            return Ok(None);
        };
        match self.repo.objects.lookup_prefix(p, None) {
            Ok(Some(Ok(id))) => Ok(Some(id)),
            Ok(Some(Err(()))) => Err(StoreError::Git {
                context: "resolving a commit prefix",
                message: format!("{prefix} is ambiguous; give more digits"),
            }),
            Ok(None) => Ok(None),
            Err(e) => Err(e).git("resolving a commit prefix"),
        }
    }
}

/// The object a ref names. A ref that names an object directly is taken as
/// it is, without reading the object: peeling would look it up (and open the
/// index of a pack that may hold millions of objects) only to learn that a
/// commit is not a tag. Symbolic refs are followed.
fn direct_target(r: &mut gix::Reference<'_>) -> Result<ObjectId, StoreError> {
    if let Some(id) = r.target().try_id() {
        return Ok(id.to_owned());
    }
    Ok(r.peel_to_id().git("resolving a reference")?.detach())
}

/// `<atom_id> <operation>: <summary>`, a blank line, then the trailers.
pub fn commit_message(record: &Atom) -> String {
    let mut m = format!("{} {}", record.atom_id, record.operation);
    if !record.summary.is_empty() {
        m.push_str(": ");
        m.push_str(&record.summary);
    }
    m.push_str("\n\n");
    for (key, value) in trailers(record) {
        m.push_str(&format!("{key}: {value}\n"));
    }
    m
}

/// The trailers every atom commit carries, in order.
pub fn trailers(record: &Atom) -> Vec<(&'static str, String)> {
    let mut t = vec![
        ("Atom-Id", record.atom_id.to_string()),
        ("Atom-Type", record.atom_type.clone()),
        ("Agent", record.agent.clone()),
    ];
    t.extend(
        record
            .influenced_by
            .iter()
            .map(|id| ("Influenced-By", id.to_string())),
    );
    t.push(("Digest", record.digest.clone()));
    t
}

/// One entry of an atom commit's tree, read back with its content.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Path inside the tree (`atom.json`, `attachments`, `attachments/x`).
    pub path: String,
    /// The git file mode (`0o100644` for a file, `0o40000` for a directory).
    pub mode: u16,
    /// The object id the tree names.
    pub oid: ObjectId,
    /// The blob's bytes (empty for a directory).
    pub data: Vec<u8>,
}

/// The objects of one atom commit, each checked against its id.
#[derive(Debug, Clone, Default)]
pub struct AtomObjects {
    /// The commit object's bytes (empty when it cannot be read).
    pub commit: Vec<u8>,
    /// Every entry of the tree and of its sub-trees, in tree order.
    pub files: Vec<TreeFile>,
    /// Objects whose content does not hash to their id, or that cannot be read.
    pub corrupt: Vec<String>,
    /// Files over [`MAX_BLOB_BYTES`] or past [`MAX_ATOM_FILES_BYTES`], left
    /// unread.
    pub too_large: Vec<String>,
    /// Bytes of the files read.
    pub bytes: u64,
}

/// A git file mode: a directory.
pub const MODE_TREE: u16 = 0o40000;
/// A git file mode: a regular, non-executable file.
pub const MODE_FILE: u16 = 0o100644;

impl GitStore {
    /// Read an atom commit's objects (commit, trees, blobs), checking that
    /// each one's content hashes to its id. Trees are read two levels deep
    /// (`attachments/` is the only directory an atom has).
    pub fn inspect_objects(&self, commit: ObjectId) -> AtomObjects {
        self.read_atom_checked(commit).1
    }

    /// [`Self::inspect_objects`] and the atom as [`Self::read_atom`] reads
    /// it, from one read of each object.
    pub fn read_atom_checked(
        &self,
        commit: ObjectId,
    ) -> (Result<StoredAtom, StoreError>, AtomObjects) {
        let not_atom = |reason: String| StoreError::NotAnAtom { commit, reason };
        let mut out = AtomObjects::default();
        let Some(data) = self.read_checked(commit, "commit", &mut out.corrupt) else {
            return (Err(not_atom("its commit cannot be read".into())), out);
        };
        let kind = self.repo.object_hash();
        let Ok(parsed) = gix::objs::CommitRef::from_bytes(&data, kind) else {
            out.corrupt
                .push(format!("commit {commit} cannot be parsed"));
            return (Err(not_atom("unreadable commit".into())), out);
        };
        self.read_tree_into(parsed.tree(), "", 2, &mut out);
        let atom = (|| {
            let signature = gix::objs::CommitRefIter::signature(&data, kind)
                .map_err(|e| not_atom(format!("unreadable commit: {e:?}")))?
                .map(|(sig, signed)| (sig.to_vec(), signed.to_bstring().into()));
            let record_bytes = out
                .files
                .iter()
                .find(|f| f.path == RECORD_FILE && f.mode != MODE_TREE)
                .map(|f| f.data.clone())
                .ok_or_else(|| not_atom(format!("its tree has no readable {RECORD_FILE}")))?;
            let record: Atom = serde_json::from_slice(&record_bytes)
                .map_err(|e| not_atom(format!("{RECORD_FILE} is not a record: {e}")))?;
            Ok(StoredAtom {
                commit,
                parents: parsed.parents().collect(),
                record,
                record_bytes,
                message: parsed.message.to_str_lossy().into_owned(),
                signature,
            })
        })();
        drop(parsed);
        out.commit = data;
        (atom, out)
    }

    fn read_tree_into(&self, tree: ObjectId, prefix: &str, depth: usize, out: &mut AtomObjects) {
        let Some(data) = self.read_checked(tree, "tree", &mut out.corrupt) else {
            return;
        };
        let Ok(parsed) = gix::objs::TreeRef::from_bytes(&data, self.repo.object_hash()) else {
            out.corrupt.push(format!("tree {tree} cannot be parsed"));
            return;
        };
        for e in parsed.entries {
            let path = format!("{prefix}{}", e.filename.to_str_lossy());
            let mode = e.mode.value();
            let oid = e.oid.to_owned();
            let mut file = TreeFile {
                path: path.clone(),
                mode,
                oid,
                data: Vec::new(),
            };
            if mode == MODE_TREE {
                out.files.push(file);
                if depth > 1 {
                    self.read_tree_into(oid, &format!("{path}/"), depth - 1, out);
                }
            } else if mode & 0o170000 == 0o100000 {
                // Sizes first: a hostile blob is refused before it is read.
                match self.repo.find_header(oid).map(|h| h.size()) {
                    Ok(size) if size > MAX_BLOB_BYTES => out.too_large.push(format!(
                        "{path} ({oid}) is {size} bytes, more than the {} MiB a file of an atom may hold",
                        MAX_BLOB_BYTES >> 20
                    )),
                    Ok(size) if out.bytes + size > MAX_ATOM_FILES_BYTES => out.too_large.push(format!(
                        "the files of the atom add up to more than the {} MiB an atom may hold",
                        MAX_ATOM_FILES_BYTES >> 20
                    )),
                    _ => {
                        if let Some(bytes) = self.read_checked(oid, "blob", &mut out.corrupt) {
                            out.bytes += bytes.len() as u64;
                            file.data = bytes;
                        }
                    }
                }
                out.files.push(file);
            } else {
                out.files.push(file);
            }
        }
    }

    /// The object's bytes when it reads and hashes to `id` as a `kind`;
    /// otherwise a note in `corrupt` and `None`.
    fn read_checked(&self, id: ObjectId, kind: &str, corrupt: &mut Vec<String>) -> Option<Vec<u8>> {
        let obj = match self.repo.find_object(id) {
            Ok(o) => o.detach(),
            Err(e) => {
                corrupt.push(format!("{kind} {id} cannot be read: {e}"));
                return None;
            }
        };
        if obj.kind.to_string() != kind {
            corrupt.push(format!("{id} is a {}, not a {kind}", obj.kind));
            return None;
        }
        match gix::objs::compute_hash(id.kind(), obj.kind, &obj.data) {
            Ok(actual) if actual == id => Some(obj.data),
            Ok(actual) => {
                corrupt.push(format!(
                    "{kind} {id} is corrupt: its content hashes to {actual}"
                ));
                None
            }
            Err(e) => {
                corrupt.push(format!("{kind} {id} cannot be hashed: {e}"));
                None
            }
        }
    }
}
