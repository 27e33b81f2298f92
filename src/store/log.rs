//! The transparency log's commits (SPEC §10): a chain under `refs/atom/log`,
//! each commit holding the leaves one append transaction added (`leaves`:
//! one `<commit> <digest>` line per atom) and the signed checkpoint of the
//! log after them (`checkpoint`). The chain travels with the trails like any
//! git history; the Merkle hashes are derived from it into the index.

use gix::objs::tree::{Entry, EntryKind};
use gix::objs::Kind;
use gix::ObjectId;

use super::pack::PackWriter;
use super::{io_context, GitStore, Identity, StoreError};

/// The ref of the chain.
pub const LOG_REF: &str = "refs/atom/log";
/// The most leaves one log commit holds (about 7.5 MB of `leaves`).
pub const MAX_LEAVES_PER_COMMIT: usize = 65_536;
/// The largest `leaves` file read.
const MAX_LEAVES_BYTES: u64 = 8 << 20;
/// The longest chain walked (20 bytes of memory each): one commit per
/// append transaction.
const MAX_LOG_COMMITS: usize = 10_000_000;
/// The largest `checkpoint` file read.
const MAX_CHECKPOINT_BYTES: u64 = 64 << 10;

/// One commit of the log, read back.
#[derive(Debug, Clone)]
pub struct LogCommit {
    /// The commit before it, if any.
    pub parent: Option<ObjectId>,
    /// The signed checkpoint after its leaves.
    pub checkpoint: String,
    /// Its leaves' data, in order.
    pub leaves: Vec<String>,
}

impl GitStore {
    /// Write a log commit into `pack`: `leaves` (leaf data, in order) and
    /// the signed `checkpoint` after them, on top of `parent`, the commit
    /// signed by `signer`.
    pub fn pack_log_commit(
        &self,
        pack: &mut PackWriter,
        leaves: &[String],
        checkpoint: &str,
        parent: Option<ObjectId>,
        who: &Identity,
        signer: &dyn crate::signing::Signer,
    ) -> Result<ObjectId, StoreError> {
        let mut add =
            |kind, data: &[u8]| io_context(pack.add(kind, data), || "writing a pack".into());
        let text: String = leaves.iter().map(|l| format!("{l}\n")).collect();
        let checkpoint_blob = add(Kind::Blob, checkpoint.as_bytes())?;
        let leaves_blob = add(Kind::Blob, text.as_bytes())?;
        let mut buf = Vec::new();
        let tree = gix::objs::Tree {
            entries: vec![
                Entry {
                    mode: EntryKind::Blob.into(),
                    filename: "checkpoint".into(),
                    oid: checkpoint_blob,
                },
                Entry {
                    mode: EntryKind::Blob.into(),
                    filename: "leaves".into(),
                    oid: leaves_blob,
                },
            ],
        };
        encode(&tree, &mut buf)?;
        let tree = add(Kind::Tree, &buf)?;
        let n = leaves.len();
        let message = format!("atom log: {n} leaf{}\n", if n == 1 { "" } else { "s" });
        let parents: Vec<ObjectId> = parent.into_iter().collect();
        // Signed like every commit of the store, so `git verify-commit`
        // accepts the whole repository.
        let commit = super::write::sign_commit(
            &super::write::CommitFields {
                tree,
                parents: &parents,
                author: who,
                committer: who,
                time: chrono::Utc::now().timestamp(),
                message: message.as_bytes(),
            },
            signer,
        )?;
        add(Kind::Commit, &commit)
    }

    /// Read a log commit; anything but a commit with one parent at most and
    /// a tree of `checkpoint` and `leaves` within their size limits is
    /// refused (it may come from a remote).
    pub fn read_log_commit(&self, commit: ObjectId) -> Result<LogCommit, StoreError> {
        let refuse = |reason: String| StoreError::NotAnAtom { commit, reason };
        let small = self.read_small_commit(
            commit,
            &[
                ("checkpoint", MAX_CHECKPOINT_BYTES),
                ("leaves", MAX_LEAVES_BYTES),
            ],
        )?;
        if small.parents.len() > 1 {
            return Err(refuse("a log commit has one parent at most".into()));
        }
        let mut checkpoint = None;
        let mut leaves = None;
        for (name, bytes) in small.files {
            let text =
                String::from_utf8(bytes).map_err(|_| refuse(format!("{name} is not UTF-8")))?;
            if name == "checkpoint" {
                checkpoint = Some(text);
            } else {
                leaves = Some(text);
            }
        }
        let (Some(checkpoint), Some(leaves)) = (checkpoint, leaves) else {
            return Err(refuse("its tree lacks checkpoint or leaves".into()));
        };
        Ok(LogCommit {
            parent: small.parents.first().copied(),
            checkpoint,
            leaves: leaves.lines().map(str::to_owned).collect(),
        })
    }

    /// The log commits from the root up to `tip`, stopping below at `stop`
    /// when the chain reaches it (then `Ok((commits, true))`).
    pub fn log_chain(
        &self,
        tip: ObjectId,
        stop: Option<ObjectId>,
    ) -> Result<(Vec<ObjectId>, bool), StoreError> {
        let mut chain = Vec::new();
        let mut at = Some(tip);
        while let Some(c) = at {
            if Some(c) == stop {
                chain.reverse();
                return Ok((chain, true));
            }
            if chain.len() == MAX_LOG_COMMITS {
                return Err(StoreError::NotAnAtom {
                    commit: tip,
                    reason: format!("the log chain is longer than {MAX_LOG_COMMITS} commits"),
                });
            }
            chain.push(c);
            at = self.log_parent(c)?;
        }
        chain.reverse();
        Ok((chain, false))
    }

    /// The parent of a log commit (its commit object only is read).
    fn log_parent(&self, commit: ObjectId) -> Result<Option<ObjectId>, StoreError> {
        let refuse = |reason: String| StoreError::NotAnAtom { commit, reason };
        let mut corrupt = Vec::new();
        let data = self
            .read_checked(commit, "commit", &mut corrupt)
            .ok_or_else(|| refuse(format!("log commit cannot be read: {}", corrupt.join("; "))))?;
        let parsed = gix::objs::CommitRef::from_bytes(&data, self.repo.object_hash())
            .map_err(|_| refuse("log commit cannot be parsed".into()))?;
        let parents: Vec<ObjectId> = parsed.parents().collect();
        match parents.as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            _ => Err(refuse("a log commit has one parent at most".into())),
        }
    }
}

/// Serialize `obj` into `buf` (cleared first).
fn encode(obj: &dyn gix::objs::WriteTo, buf: &mut Vec<u8>) -> Result<(), StoreError> {
    buf.clear();
    io_context(obj.write_to(buf), || "serializing an object".into())
}
