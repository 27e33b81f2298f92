//! The store's transparency log (SPEC §10): every atom the store accepts
//! becomes a leaf of one append-only Merkle tree (RFC 6962), in the order
//! it was accepted; after each append transaction the store signs a C2SP
//! checkpoint of the tree with its Ed25519 key (its signing key, or, beside
//! an ECDSA or RSA signing key, `keys/atom_ed25519`: C2SP signed notes are
//! Ed25519 only).
//!
//! The design decision a reader must know: the leaves and checkpoints live
//! in git, as a chain of small commits under `refs/atom/log` (one per
//! append transaction, see [`crate::store::log`]), so they travel and are
//! backed up like trails; the Merkle hashes are derived from them into the
//! index, where an append reads the few it needs and a proof O(log n). The
//! log is appended in the append transaction, after the trail refs move, so
//! a crash in between leaves atoms that the next append logs (they are
//! queued in the index), never a leaf for an atom that was not recorded.
//!
//! What it catches: an atom the log holds that no trail or archive reaches
//! any more (a rewind with plain git, a deleted archive), a log or
//! checkpoint rewritten (a root that does not match its leaves), and, when
//! another device witnessed a checkpoint, a log rewound behind it. What it
//! cannot catch alone: whoever holds this store's key can rewrite the trail
//! and the log together; only a witness that saw a later checkpoint tells.

use base64::Engine as _;
use gix::ObjectId;
use serde::Serialize;
use sha2::Digest as _;

use crate::append::Transaction;
use crate::index::IndexError;
use crate::store::log::{LOG_REF, MAX_LEAVES_PER_COMMIT};
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::note::{verifier_key, Note, VerifierKey, ALG_COSIGNATURE_V1, ALG_ED25519};
use crate::tlog::proof::TlogProof;
use crate::tlog::{self, Frontier, Hash};
use crate::trail::{Trail, TrailError};

/// The log's state as `atom checkpoint` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointView {
    /// The log's name (the checkpoint's first line, and its note key name).
    pub origin: String,
    /// Leaves in the log.
    pub size: u64,
    /// The root hash, base64.
    pub root: String,
    /// The signed note, verbatim.
    pub note: String,
    /// The log commit holding it.
    pub commit: String,
    /// The names on its signature lines (the store's own, then witnesses').
    pub signers: Vec<String>,
}

/// What `atom verify` found about the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogReport {
    /// Leaves in the log.
    pub size: u64,
    /// Atoms indexed but not logged yet (they arrived by plain git; the
    /// next append logs them).
    pub unlogged: u64,
    /// Problems, one sentence each (a leaf no ref reaches, a checkpoint
    /// that does not match its leaves or does not verify, ...).
    pub problems: Vec<String>,
}

/// The note key name and origin of a log whose first key is `public`:
/// `atom/<16 hex digits of SHA-256 of the key>`.
pub fn origin_for(public: &[u8; 32]) -> String {
    let digest = sha2::Sha256::digest(public);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("atom/{hex}")
}

impl Transaction<'_> {
    /// Turn the atoms queued in the index (this transaction's, and any
    /// that arrived by plain git) into leaves, and write a log commit with
    /// a signed checkpoint per [`MAX_LEAVES_PER_COMMIT`] of them.
    pub(crate) fn log_queued(&mut self) -> Result<(), TrailError> {
        loop {
            let pending = self.ix().pending_atoms(MAX_LEAVES_PER_COMMIT)?;
            if pending.is_empty() {
                return Ok(());
            }
            let mut leaves = Vec::with_capacity(pending.len());
            for p in &pending {
                if self.ix().append_leaf(&p.leaf)?.is_some() {
                    leaves.push(p.leaf.data());
                }
                self.ix().unqueue(p.n)?;
            }
            if leaves.is_empty() {
                continue;
            }
            let size = self.ix().log_size()?;
            let root = self.ix().log_root(size)?;
            let origin = match self.ix().log_state("checkpoint")? {
                Some(note) => checkpoint_of(&note)
                    .map(|c| c.origin)
                    .unwrap_or_else(|| origin_for(&self.log_public())),
                None => origin_for(&self.log_public()),
            };
            let note = sign_checkpoint(origin, size, root, self.log_key())?;
            let on_disk = self.trail().git().ref_target(LOG_REF)?;
            // The chain continues from the last log commit the index
            // derived (catch-up brought it to the ref when the ref reads):
            // a ref deleted, or pointed at something that is not a log by
            // hand, is put back on the log, and verify reports what it saw.
            let parent = match self.tip(LOG_REF)? {
                Some(t) if Some(t) != on_disk => Some(t),
                _ => self.ix().log_tip()?,
            };
            let commit = self.pack_log_commit(&leaves, &note, parent)?;
            self.move_ref(LOG_REF, on_disk, commit);
            self.ix().set_log_state("tip", Some(&commit.to_string()))?;
            self.ix().set_log_state("checkpoint", Some(&note))?;
            self.ix().raise_high_water()?;
        }
    }
}

/// The checkpoint of `origin` at `size` with `root`, as a signed note signed
/// by `key` under the origin's name (Ed25519 is deterministic: signing a
/// checkpoint again gives the same note).
fn sign_checkpoint(
    origin: String,
    size: u64,
    root: Hash,
    key: &ed25519_dalek::SigningKey,
) -> Result<String, IndexError> {
    let mut note = Note {
        text: Checkpoint {
            origin: origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text(),
        signatures: Vec::new(),
    };
    note.sign(&origin, key)
        .map_err(|e| IndexError::Unusable(format!("cannot sign the checkpoint: {e}")))?;
    Ok(note.format())
}

/// The checkpoint in a signed note's text, if it parses.
fn checkpoint_of(note: &str) -> Option<Checkpoint> {
    Checkpoint::parse(&Note::parse(note).ok()?.text).ok()
}

/// Base64, standard alphabet with padding (C2SP's).
fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Trail {
    /// Log the atoms indexed but not logged yet, now (after a pull or a
    /// clone moved refs directly). The caller holds the store lock.
    pub(crate) fn log_queued_locked(&self) -> Result<(), TrailError> {
        Transaction::begin_locked(self, None)?.commit()
    }

    /// The verifier key of this store's checkpoints
    /// (`name+hexkeyid+base64(0x01 || key)`, C2SP signed-note).
    pub fn verifier_key(&self) -> Result<String, TrailError> {
        self.log_key_text(ALG_ED25519)
    }

    /// The key with which this store cosigns other stores' checkpoints
    /// (C2SP tlog-cosignature, type 0x04).
    pub fn witness_key(&self) -> Result<String, TrailError> {
        self.log_key_text(ALG_COSIGNATURE_V1)
    }

    fn log_key_text(&self, alg: u8) -> Result<String, TrailError> {
        let name = self.with_index(|ix| ix.log_state("checkpoint"))?;
        let public = self.log_key()?.verifying_key().to_bytes();
        let name = match name.as_deref().and_then(checkpoint_of) {
            Some(c) => c.origin,
            None => origin_for(&public),
        };
        Ok(verifier_key(&name, alg, &public))
    }

    /// The latest checkpoint, `None` while the log is empty.
    pub fn checkpoint(&self) -> Result<Option<CheckpointView>, TrailError> {
        self.with_index(|ix| {
            let (Some(note), Some(commit)) = (ix.log_state("checkpoint")?, ix.log_tip()?) else {
                return Ok(None);
            };
            let parsed = Note::parse(&note)
                .ok()
                .and_then(|n| Checkpoint::parse(&n.text).ok().map(|c| (n, c)));
            let Some((n, c)) = parsed else {
                return Err(IndexError::Unusable(format!(
                    "the checkpoint in log commit {commit} does not parse"
                )));
            };
            Ok(Some(CheckpointView {
                origin: c.origin,
                size: c.size,
                root: b64(&c.root),
                signers: n.signatures.iter().map(|s| s.name.clone()).collect(),
                note,
                commit: commit.to_string(),
            }))
        })
    }

    /// The transparency log's leaf number of the atom at `commit`, `None`
    /// while the log does not hold it (yet).
    pub fn log_leaf(&self, commit: &ObjectId) -> Result<Option<u64>, TrailError> {
        self.with_index(|ix| ix.leaf_of(commit))
    }

    /// A C2SP tlog-proof that the atom at `commit` is in the log at the
    /// latest checkpoint; its leaf data is the proof's `extra` line.
    ///
    /// When other devices cosigned a checkpoint that includes the atom, the
    /// proof is against the largest such one, carrying its cosignatures
    /// (this store's signature is made again: Ed25519 is deterministic);
    /// else against the latest checkpoint.
    pub fn prove(&self, commit: ObjectId) -> Result<TlogProof, TrailError> {
        let cosigs = self.cosignatures().unwrap_or_default();
        let (n, leaf, latest) = self.with_index(|ix| {
            let note = ix.log_state("checkpoint")?.ok_or_else(|| {
                IndexError::Unusable("the log is empty: record an atom first".into())
            })?;
            let n = ix.leaf_of(&commit)?.ok_or_else(|| {
                IndexError::Unusable(format!("commit {commit} is not in the log yet"))
            })?;
            Ok((n, ix.leaf(n)?.expect("leaf_of found it"), note))
        })?;
        let witnessed = cosigs.iter().filter(|c| c.size > n).map(|c| c.size).max();
        let (size, note) = match witnessed {
            Some(size) => {
                let origin = checkpoint_of(&latest).map(|c| c.origin).ok_or_else(|| {
                    IndexError::Unusable("the latest checkpoint does not parse".into())
                })?;
                let mut text =
                    sign_checkpoint(origin, size, self.log_root(size)?, &self.log_key()?)?;
                for c in cosigs.iter().filter(|c| c.size == size) {
                    text.push_str(&c.line);
                }
                (size, text)
            }
            None => {
                let size = checkpoint_of(&latest)
                    .ok_or_else(|| {
                        IndexError::Unusable("the latest checkpoint does not parse".into())
                    })?
                    .size;
                (size, latest)
            }
        };
        let path = self.with_index(|ix| {
            tlog::prove_record(size, n, ix).map_err(|e| {
                IndexError::Unusable(format!("cannot prove leaf {n} in a tree of {size}: {e}"))
            })
        })?;
        Ok(TlogProof {
            extra: Some(leaf.data().into_bytes()),
            index: n,
            path,
            checkpoint: note,
        })
    }

    /// The RFC 6962 consistency path between two checkpoints of this
    /// store's log (sizes `old` <= `new` <= the log's size).
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, TrailError> {
        self.with_index(|ix| {
            let size = ix.log_size()?;
            if old == 0 || old > new || new > size {
                return Err(IndexError::Unusable(format!(
                    "no consistency path from {old} to {new} leaves: this log has {size}"
                )));
            }
            tlog::prove_tree(new, old, ix)
                .map_err(|e| IndexError::Unusable(format!("consistency path: {e}")))
        })
    }

    /// The root hash of the first `size` leaves of this store's log.
    pub fn log_root(&self, size: u64) -> Result<Hash, TrailError> {
        self.with_index(|ix| ix.log_root(size))
    }

    /// Check the log for `atom verify`: every leaf still reached by a trail
    /// or archive, the latest checkpoint signed by this store's key (or a
    /// key it trusts) and matching the leaves; with `full`, every log
    /// commit re-derived from git, each checkpoint's root against the leaves
    /// before it, in O(log n) memory.
    pub fn check_log(&self, full: bool) -> Result<LogReport, TrailError> {
        // One snapshot: writers in other processes may append meanwhile.
        let (mut report, latest) = self.with_index(|ix| {
            ix.snapshot(|ix| {
                let size = ix.log_size()?;
                let mut problems = Vec::new();
                if let Some((high, root)) = ix.high_water()? {
                    if size < high {
                        problems.push(format!(
                            "the log holds {size} leaves, but this store's log held {high} before: it was rewound"
                        ));
                    } else if ix.log_root(high)? != root {
                        problems.push(format!(
                            "the log's first {high} leaves are not those this store logged: it was rewritten"
                        ));
                    }
                }
                // A ref left out of the index (damaged, say) makes its
                // atoms look unreached; verify names those atoms itself.
                if !self.skipped_refs() {
                    self.unreached_leaves(ix, &mut problems)?;
                }
                let latest = match ix.log_state("checkpoint")? {
                    Some(note) => {
                        let root = match checkpoint_of(&note) {
                            Some(c) if c.size <= size => Some(ix.log_root(c.size)?),
                            _ => None,
                        };
                        Some((note, root))
                    }
                    None => None,
                };
                let report = LogReport {
                    size,
                    unlogged: ix.pending_count()?,
                    problems,
                };
                Ok((report, latest))
            })
        })?;
        match latest {
            Some((note, root)) => self.check_latest(&note, root, &mut report),
            None if self.git().ref_target(LOG_REF)?.is_some() => {
                report.problems.push(format!("{LOG_REF} does not read"));
            }
            None => {}
        }
        if full {
            if let Some(tip) = self.git().ref_target(LOG_REF)? {
                self.check_chain(tip, &mut report)?;
            }
        }
        if let Some(problem) = self.take_log_notice() {
            report.problems.push(problem);
        }
        Ok(report)
    }

    /// Leaves whose atom no trail or archive reaches any more.
    fn unreached_leaves(
        &self,
        ix: &crate::index::Index,
        problems: &mut Vec<String>,
    ) -> Result<(), IndexError> {
        let mut from = 0;
        loop {
            let batch = ix.leaves(from, 4096)?;
            let Some((last, _)) = batch.last() else {
                return Ok(());
            };
            from = last + 1;
            for (n, leaf) in batch {
                if !ix.holds(&leaf.commit)? {
                    let id = self
                        .git()
                        .read_atom(leaf.commit)
                        .map(|s| s.record.atom_id.to_string())
                        .unwrap_or_else(|_| "an atom whose commit is gone".into());
                    problems.push(format!(
                        "{id} (commit {}, log leaf {n}) was accepted by this store and no trail or archive reaches it any more",
                        leaf.commit.to_hex_with_len(12)
                    ));
                }
            }
        }
    }

    /// The latest checkpoint: signed by a trusted key under its origin, and
    /// matching the log's leaves (`root`: the log's root at its size, when
    /// the log is that large).
    fn check_latest(&self, note: &str, root: Option<Hash>, report: &mut LogReport) {
        let Some(c) = checkpoint_of(note) else {
            report
                .problems
                .push("the latest checkpoint does not parse".into());
            return;
        };
        if c.size != report.size {
            report.problems.push(format!(
                "the latest checkpoint says {} leaves, the log holds {}",
                c.size, report.size
            ));
        } else if root != Some(c.root) {
            report
                .problems
                .push("the latest checkpoint's root does not match the log's leaves".into());
        }
        let Ok(parsed) = Note::parse(note) else {
            report
                .problems
                .push("the latest checkpoint does not parse".into());
            return;
        };
        if !self.signed_by_trusted(&c.origin, &parsed) {
            report.problems.push(format!(
                "the latest checkpoint is not signed by a key in keys/allowed_signers under its origin {}",
                c.origin
            ));
        }
    }

    /// Whether `note` carries a signature under `origin` by a key of
    /// `keys/allowed_signers`.
    fn signed_by_trusted(&self, origin: &str, note: &Note) -> bool {
        self.trusted_verifiers(origin, ALG_ED25519)
            .iter()
            .any(|key| note.verify(key).is_ok())
    }

    /// A verifier of `alg` under the note key name `name` for every Ed25519
    /// key of `keys/allowed_signers`: a log keeps its name when its owner
    /// rotates keys, so any trusted key may sign for it.
    pub(crate) fn trusted_verifiers(&self, name: &str, alg: u8) -> Vec<VerifierKey> {
        self.allowed_signers()
            .entries()
            .iter()
            .filter_map(|e| {
                let k = e.key.key_data().ed25519()?.0;
                Some(VerifierKey {
                    name: name.to_owned(),
                    key_id: crate::tlog::note::key_id(name, alg, &k),
                    alg,
                    public: k,
                })
            })
            .collect()
    }

    /// Check a checkpoint of this store's log that came from elsewhere (a
    /// mirror, say): signed under this log's origin by a key this store
    /// trusts, and of a tree this log holds (its root is the root of the
    /// log's first leaves). Returns the problems, none when it checks out.
    pub fn check_checkpoint(&self, note: &str) -> Result<Vec<String>, TrailError> {
        let parsed = Note::parse(note)
            .ok()
            .and_then(|n| Checkpoint::parse(&n.text).ok().map(|c| (n, c)));
        let Some((parsed, c)) = parsed else {
            return Ok(vec!["it is not a signed checkpoint".into()]);
        };
        let (size, origin, root) = self.with_index(|ix| {
            let size = ix.log_size()?;
            let origin = ix
                .log_state("checkpoint")?
                .as_deref()
                .and_then(checkpoint_of)
                .map(|c| c.origin);
            let root = match c.size <= size {
                true => Some(ix.log_root(c.size)?),
                false => None,
            };
            Ok((size, origin, root))
        })?;
        let mut problems = Vec::new();
        if !self.signed_by_trusted(&c.origin, &parsed) {
            problems.push(format!(
                "it is not signed by a key in keys/allowed_signers under its origin {}",
                c.origin
            ));
        }
        if origin.as_deref() != Some(c.origin.as_str()) {
            problems.push(format!(
                "it is a checkpoint of log {}, not of this store's log {}",
                c.origin,
                origin.as_deref().unwrap_or("(empty)")
            ));
        } else if c.size > size {
            problems.push(format!(
                "it is of a log of {} leaves, and this store's log holds {size}",
                c.size
            ));
        } else if root != Some(c.root) {
            problems.push(format!(
                "its root is not the root of this log's first {} leaves",
                c.size
            ));
        }
        Ok(problems)
    }

    /// Log the atoms the index holds and the log does not yet (they
    /// arrived by plain git): the append every transaction ends with, on
    /// its own. The caller holds the store lock.
    pub(crate) fn log_unlogged_locked(&self) -> Result<(), TrailError> {
        crate::append::Transaction::begin_locked(self, None)?.commit()
    }

    /// Every log commit from the root: its leaves hashed in order (O(log n)
    /// memory), its checkpoint's size and root against them.
    fn check_chain(&self, tip: ObjectId, report: &mut LogReport) -> Result<(), TrailError> {
        let (chain, _) = match self.git().log_chain(tip, None) {
            Ok(c) => c,
            Err(e) => {
                report
                    .problems
                    .push(format!("{LOG_REF} does not read: {e}"));
                return Ok(());
            }
        };
        let mut frontier = Frontier::new();
        for c in chain {
            let commit = match self.git().read_log_commit(c) {
                Ok(lc) => lc,
                Err(e) => {
                    report.problems.push(format!("log commit {c}: {e}"));
                    return Ok(());
                }
            };
            for line in &commit.leaves {
                frontier.push(tlog::record_hash(line.as_bytes()));
            }
            match checkpoint_of(&commit.checkpoint) {
                Some(cp) if cp.size == frontier.size() && cp.root == frontier.root() => {}
                Some(cp) => report.problems.push(format!(
                    "log commit {} has a checkpoint of {} leaves that does not match the {} leaves before it",
                    c.to_hex_with_len(12),
                    cp.size,
                    frontier.size()
                )),
                None => report.problems.push(format!(
                    "log commit {}'s checkpoint does not parse",
                    c.to_hex_with_len(12)
                )),
            }
        }
        if frontier.size() != report.size {
            report.problems.push(format!(
                "{LOG_REF} holds {} leaves, the index {}",
                frontier.size(),
                report.size
            ));
        }
        Ok(())
    }
}

/// What a checked proof proves.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenLeaf {
    /// The log's origin.
    pub origin: String,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// The leaf's index.
    pub index: u64,
    /// The atom's commit.
    pub commit: String,
    /// Its record's digest.
    pub digest: String,
    /// Names on the checkpoint's other signature lines (witnesses; not
    /// verified unless their keys are given).
    pub cosigners: Vec<String>,
}

/// Check a C2SP tlog-proof offline with the log's verifier key: the
/// checkpoint is signed by that key under its origin, and the inclusion
/// path binds the leaf (the proof's `extra`: `<commit> <digest>`) to its
/// root. Returns what it proves, or why it does not.
pub fn check_proof(text: &str, key: &VerifierKey) -> Result<ProvenLeaf, String> {
    let proof = TlogProof::parse(text).map_err(|e| format!("not a tlog proof: {e}"))?;
    let note = Note::parse(&proof.checkpoint)
        .map_err(|e| format!("its checkpoint is not a signed note: {e}"))?;
    let checkpoint =
        Checkpoint::parse(&note.text).map_err(|e| format!("its checkpoint does not parse: {e}"))?;
    if checkpoint.origin != key.name {
        return Err(format!(
            "the checkpoint is of log {:?}, the key of {:?}",
            checkpoint.origin, key.name
        ));
    }
    note.verify(key)
        .map_err(|e| format!("the checkpoint is not signed by that key: {e}"))?;
    let extra = proof
        .extra
        .as_deref()
        .ok_or("the proof carries no leaf data (no `extra` line)")?;
    let leaf = std::str::from_utf8(extra)
        .ok()
        .and_then(crate::index::parse_leaf)
        .ok_or("the proof's leaf data is not `<commit> <digest>`")?;
    let hash = tlog::record_hash(extra);
    if !tlog::check_record(
        &proof.path,
        checkpoint.size,
        &checkpoint.root,
        proof.index,
        &hash,
    ) {
        return Err(format!(
            "the inclusion path does not lead from leaf {} to the checkpoint's root",
            proof.index
        ));
    }
    Ok(ProvenLeaf {
        cosigners: note
            .signatures
            .iter()
            .filter(|s| s.name != key.name || s.key_id != key.key_id)
            .map(|s| s.name.clone())
            .collect(),
        origin: checkpoint.origin,
        size: checkpoint.size,
        index: proof.index,
        commit: leaf.commit.to_string(),
        digest: leaf.digest,
    })
}

/// The checkpoint in a signed note (for `atom prove --consistency`).
pub fn parse_checkpoint(note: &str) -> Result<Checkpoint, String> {
    let note = Note::parse(note).map_err(|e| format!("not a signed note: {e}"))?;
    Checkpoint::parse(&note.text).map_err(|e| format!("not a checkpoint: {e}"))
}
