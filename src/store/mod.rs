//! Git storage with gix: one signed commit per atom (SPEC §3).
//!
//! A commit's tree holds `atom.json` (the canonical record) and
//! `attachments/<name>`; its parent is the previous atom; its author is the
//! agent. This module writes and reads those commits and moves trail refs
//! with compare-and-swap. It knows nothing of ids or trails' meaning: the
//! [`crate::Trail`] façade decides what to write.

pub mod durable;
pub mod lock;
pub mod pack;
pub mod raw;

use std::path::{Path, PathBuf};

use gix::bstr::{BString, ByteSlice};
use gix::objs::tree::{Entry, EntryKind};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
use gix::refs::Target;
use gix::ObjectId;

use crate::model::Atom;
use crate::signing::{Signer, SigningError};

/// The file holding the record in every atom tree.
pub const RECORD_FILE: &str = "atom.json";
/// The directory holding attachments in an atom tree.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// Where trails live.
pub const HEADS_PREFIX: &str = "refs/heads/";

/// How old a ref's `.lock` file must be to count as left by a dead process.
pub const STALE_LOCK_AGE: std::time::Duration = std::time::Duration::from_secs(2);

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

/// Stores one encoded object and returns its id.
type ObjectSink<'a> = dyn FnMut(gix::objs::Kind, &[u8]) -> Result<ObjectId, StoreError> + 'a;

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
            Some(mut r) => Ok(Some(r.peel_to_id().git("resolving a reference")?.detach())),
        }
    }

    /// Every ref under `prefix` (e.g. `refs/heads/`) with its commit.
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, StoreError> {
        let platform = self.repo.references().git("listing references")?;
        let mut out = Vec::new();
        for r in platform.prefixed(prefix).git("listing references")? {
            let mut r = r.git("reading a reference")?;
            let name = r.name().as_bstr().to_str_lossy().into_owned();
            let id = r.peel_to_id().git("resolving a reference")?.detach();
            out.push((name, id));
        }
        out.sort();
        Ok(out)
    }

    /// Write a blob, returning its id.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<ObjectId, StoreError> {
        Ok(self.repo.write_blob(bytes).git("writing a blob")?.detach())
    }

    /// Write the objects of one atom as loose objects: `atom.json` blob,
    /// trees, and a commit signed by `signer`. Returns the commit id and
    /// every object id written (for [`durable::sync_loose_objects`]).
    pub fn write_atom_commit(
        &self,
        record: &Atom,
        attachment_blobs: &[(String, ObjectId)],
        parents: &[ObjectId],
        author: &Identity,
        committer: &Identity,
        signer: &dyn Signer,
    ) -> Result<(ObjectId, Vec<ObjectId>), StoreError> {
        use gix::objs::Write as _;
        let mut written = Vec::with_capacity(4 + attachment_blobs.len());
        written.extend(attachment_blobs.iter().map(|(_, oid)| *oid));
        let commit = self.encode_atom_commit(
            record,
            attachment_blobs,
            parents,
            author,
            committer,
            signer,
            &mut |kind, data| {
                let id = self
                    .repo
                    .objects
                    .write_buf(kind, data)
                    .git("writing an object")?;
                written.push(id);
                Ok(id)
            },
        )?;
        Ok((commit, written))
    }

    /// Write the objects of one atom without attachments into `pack`;
    /// returns the commit id.
    pub fn pack_atom_commit(
        &self,
        pack: &mut pack::PackWriter,
        record: &Atom,
        parents: &[ObjectId],
        author: &Identity,
        committer: &Identity,
        signer: &dyn Signer,
    ) -> Result<ObjectId, StoreError> {
        self.encode_atom_commit(
            record,
            &[],
            parents,
            author,
            committer,
            signer,
            &mut |kind, data| io_context(pack.add(kind, data), || "writing a pack".into()),
        )
    }

    /// Start a pack for a bulk write (see [`pack::PackWriter`]).
    pub fn new_pack(&self) -> Result<pack::PackWriter, StoreError> {
        io_context(
            pack::PackWriter::new(&self.git_dir.join("objects"), self.repo.object_hash()),
            || "starting a pack".into(),
        )
    }

    /// Build an atom's `atom.json` blob, trees and signed commit, handing
    /// each object's bytes to `sink`, which stores it and returns its id.
    #[allow(clippy::too_many_arguments)]
    fn encode_atom_commit(
        &self,
        record: &Atom,
        attachment_blobs: &[(String, ObjectId)],
        parents: &[ObjectId],
        author: &Identity,
        committer: &Identity,
        signer: &dyn Signer,
        sink: &mut ObjectSink<'_>,
    ) -> Result<ObjectId, StoreError> {
        use gix::objs::Kind;
        let mut buf = Vec::with_capacity(1024);
        let record_blob = sink(Kind::Blob, &record.canonical_bytes())?;
        let mut entries = vec![Entry {
            mode: EntryKind::Blob.into(),
            filename: RECORD_FILE.into(),
            oid: record_blob,
        }];
        let encode = |obj: &dyn gix::objs::WriteTo, buf: &mut Vec<u8>| {
            buf.clear();
            io_context(obj.write_to(buf), || "serializing an object".into())
        };
        if !attachment_blobs.is_empty() {
            let mut att: Vec<Entry> = attachment_blobs
                .iter()
                .map(|(name, oid)| Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.as_str().into(),
                    oid: *oid,
                })
                .collect();
            att.sort();
            encode(&gix::objs::Tree { entries: att }, &mut buf)?;
            let att_tree = sink(Kind::Tree, &buf)?;
            entries.push(Entry {
                mode: EntryKind::Tree.into(),
                filename: ATTACHMENTS_DIR.into(),
                oid: att_tree,
            });
        }
        entries.sort();
        encode(&gix::objs::Tree { entries }, &mut buf)?;
        let tree = sink(Kind::Tree, &buf)?;

        let time = record.time().map_err(|e| StoreError::NotAnAtom {
            commit: ObjectId::null(self.repo.object_hash()),
            reason: e.to_string(),
        })?;
        let time = gix::date::Time {
            seconds: time.timestamp(),
            offset: 0,
        };
        let sig = |who: &Identity| gix::actor::Signature {
            name: who.name.as_str().into(),
            email: who.email.as_str().into(),
            time,
        };
        let mut commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: sig(author),
            committer: sig(committer),
            encoding: None,
            message: commit_message(record).into(),
            extra_headers: Vec::new(),
        };
        self.sign(&mut commit, signer)?;
        encode(&commit, &mut buf)?;
        sink(Kind::Commit, &buf)
    }

    /// Add the `gpgsig` header to `commit`, as `git commit -S` does: the
    /// signature covers the commit as serialized without it.
    fn sign(&self, commit: &mut gix::objs::Commit, signer: &dyn Signer) -> Result<(), StoreError> {
        let mut payload = Vec::with_capacity(512);
        gix::objs::WriteTo::write_to(&*commit, &mut payload).map_err(|source| StoreError::Io {
            context: "serializing a commit".into(),
            source,
        })?;
        let armored = signer.sign(&payload)?;
        let field = gix::objs::commit::signature_field_name(self.repo.object_hash());
        commit
            .extra_headers
            .push((BString::from(field), BString::from(armored)));
        Ok(())
    }

    /// Write a signed commit whose tree holds one file, `name` with
    /// `content` (the published trusted keys), dated now, made durable.
    pub fn write_file_commit(
        &self,
        name: &str,
        content: &[u8],
        parents: &[ObjectId],
        who: &Identity,
        message: &str,
        signer: &dyn Signer,
    ) -> Result<ObjectId, StoreError> {
        let blob = self.write_blob(content)?;
        let tree = self
            .repo
            .write_object(&gix::objs::Tree {
                entries: vec![Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.into(),
                    oid: blob,
                }],
            })
            .git("writing a tree")?
            .detach();
        let sig = gix::actor::Signature {
            name: who.name.as_str().into(),
            email: who.email.as_str().into(),
            time: gix::date::Time {
                seconds: chrono::Utc::now().timestamp(),
                offset: 0,
            },
        };
        let mut commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        self.sign(&mut commit, signer)?;
        let id = self
            .repo
            .write_object(&commit)
            .git("writing a commit")?
            .detach();
        self.sync_objects(&[blob, tree, id])?;
        Ok(id)
    }

    /// The file `name` at the top of `commit`'s tree, and the commit's
    /// signature (armored, signed bytes) when it has one.
    pub fn read_file_commit(
        &self,
        commit: ObjectId,
        name: &str,
    ) -> Result<(Option<Vec<u8>>, Option<SignedPayload>), StoreError> {
        let mut corrupt = Vec::new();
        let not_readable = |what: &str| StoreError::NotAnAtom {
            commit,
            reason: format!("{what} cannot be read"),
        };
        let data = self
            .read_checked(commit, "commit", &mut corrupt)
            .ok_or_else(|| not_readable("the commit"))?;
        let kind = self.repo.object_hash();
        let parsed = gix::objs::CommitRef::from_bytes(&data, kind)
            .map_err(|_| not_readable("the commit"))?;
        let signature = gix::objs::CommitRefIter::signature(&data, kind)
            .map_err(|_| not_readable("the signature"))?
            .map(|(sig, signed)| (sig.to_vec(), signed.to_bstring().into()));
        let mut files = AtomObjects::default();
        self.read_tree_into(parsed.tree(), "", 1, &mut files);
        let file = files
            .files
            .into_iter()
            .find(|f| f.path == name && f.mode == MODE_FILE)
            .map(|f| f.data);
        Ok((file, signature))
    }

    /// Make every object in `ids` durable.
    pub fn sync_objects(&self, ids: &[ObjectId]) -> Result<(), StoreError> {
        let objects = self.git_dir.join("objects");
        io_context(durable::sync_loose_objects(&objects, ids), || {
            "syncing objects to disk".into()
        })
    }

    /// Move `full_name` from `expected` (`None`: must not exist) to `new`, and
    /// make the change durable. A ref that moved meanwhile is a
    /// [`StoreError::Conflict`].
    pub fn compare_and_swap(
        &self,
        full_name: &str,
        expected: Option<ObjectId>,
        new: ObjectId,
        message: &str,
    ) -> Result<(), StoreError> {
        let expected = match expected {
            Some(old) => PreviousValue::MustExistAndMatch(Target::Object(old)),
            None => PreviousValue::MustNotExist,
        };
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    message: message.into(),
                    ..Default::default()
                },
                expected,
                new: Target::Object(new),
            },
            name: full_name.try_into().git("naming a reference")?,
            deref: false,
        };
        // Name the reflog identity ourselves: letting gix derive it loads the
        // system time zone database on every append.
        let who = gix::actor::Signature {
            name: "atom".into(),
            email: "atom@localhost".into(),
            time: gix::date::Time::now_utc(),
        };
        let started = std::time::Instant::now();
        loop {
            match self.repo.edit_references_as(
                Some(edit.clone()),
                Some(who.to_ref(&mut gix::date::parse::TimeBuf::default())),
            ) {
                Ok(_) => break,
                Err(e) if e.is_conflict() => {
                    return Err(StoreError::Conflict {
                        name: full_name.to_owned(),
                    })
                }
                Err(e) => {
                    if !self.clear_stale_ref_lock(full_name, started) {
                        let lock = self.git_dir.join(format!("{full_name}.lock"));
                        if lock.exists() {
                            return Err(StoreError::Git {
                                context: "updating a reference",
                                message: format!(
                                    "{full_name} is locked by another process ({} keeps changing); if no git or atom command is running, delete that file",
                                    lock.display()
                                ),
                            });
                        }
                        return Err(e).git("updating a reference");
                    }
                }
            }
        }
        io_context(durable::sync_ref(&self.git_dir, full_name), || {
            format!("syncing {full_name} to disk")
        })
    }

    /// After a failed ref edit: whether it is worth retrying because the
    /// ref's `.lock` file is gone, or was left by a process that died (it
    /// is [`STALE_LOCK_AGE`] old: git and atom hold a ref lock for
    /// milliseconds, and atom's writers hold the store lock meanwhile, so no
    /// live writer keeps one that long). A stale lock is removed. Waits for
    /// a fresh lock to go or grow stale, up to twice that age in all.
    fn clear_stale_ref_lock(&self, full_name: &str, started: std::time::Instant) -> bool {
        let lock = self.git_dir.join(format!("{full_name}.lock"));
        loop {
            let age = match std::fs::metadata(&lock).and_then(|m| m.modified()) {
                Err(_) => return started.elapsed() < 2 * STALE_LOCK_AGE,
                Ok(modified) => modified.elapsed().unwrap_or_default(),
            };
            if age >= STALE_LOCK_AGE {
                return std::fs::remove_file(&lock).is_ok() || !lock.exists();
            }
            if started.elapsed() >= 2 * STALE_LOCK_AGE {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
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

    /// Loose objects whose file does not read back as an object hashing to
    /// its name (truncated, garbled): moved into `trail.git/atom-damaged/`
    /// so that a fetch can bring good copies. Returns their ids.
    pub fn quarantine_damaged_loose_objects(&self) -> Result<Vec<ObjectId>, StoreError> {
        let objects = self.git_dir.join("objects");
        let aside = self.git_dir.join("atom-damaged");
        let mut damaged = Vec::new();
        let dirs = io_context(std::fs::read_dir(&objects), || {
            format!("reading {}", objects.display())
        })?;
        for dir in dirs.flatten() {
            let fan = dir.file_name().to_string_lossy().into_owned();
            if fan.len() != 2 || !dir.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = file.file_name().to_string_lossy().into_owned();
                let Ok(id) = ObjectId::from_hex(format!("{fan}{name}").as_bytes()) else {
                    continue;
                };
                let sound = self.repo.find_object(id).is_ok_and(|o| {
                    gix::objs::compute_hash(id.kind(), o.kind, &o.data).is_ok_and(|h| h == id)
                });
                if sound {
                    continue;
                }
                io_context(std::fs::create_dir_all(&aside), || {
                    format!("creating {}", aside.display())
                })?;
                io_context(
                    std::fs::rename(file.path(), aside.join(id.to_string())),
                    || format!("moving the damaged object {id} aside"),
                )?;
                damaged.push(id);
            }
        }
        Ok(damaged)
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
    /// Every entry of the tree and of its sub-trees, in tree order.
    pub files: Vec<TreeFile>,
    /// Objects whose content does not hash to their id, or that cannot be read.
    pub corrupt: Vec<String>,
}

/// A git file mode: a directory.
pub const MODE_TREE: u16 = 0o40000;
/// A git file mode: a regular, non-executable file.
pub const MODE_FILE: u16 = 0o100644;

impl GitStore {
    /// Point HEAD at the trail `name` (`refs/heads/<name>`), durably.
    pub fn set_head(&self, name: &str) -> Result<(), StoreError> {
        let full = format!("{HEADS_PREFIX}{name}");
        gix::refs::FullName::try_from(full.as_str()).git("naming a reference")?;
        let head = self.git_dir.join("HEAD");
        let tmp = self.git_dir.join("HEAD.atom-tmp");
        io_context(
            (|| {
                let mut f = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut f, format!("ref: {full}\n").as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &head)?;
                durable::sync_dir(&self.git_dir)
            })(),
            || format!("writing {}", head.display()),
        )
    }

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
                if let Some(bytes) = self.read_checked(oid, "blob", &mut out.corrupt) {
                    file.data = bytes;
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
