//! The append transaction: the one way atoms get into a store.
//!
//! `record`, `import`, `rollback`, the MERGE atoms of `pull`, the git hooks
//! and MCP all append through a [`Transaction`], modelled on jj's:
//!
//! 1. **begin** takes the store lock, catches the index up with the refs once
//!    and opens the index's write transaction;
//! 2. each **append** allocates the id, fills in the links from the parent's
//!    indexed row (git is not read again), computes the digest, signs, writes
//!    the objects into one pack and adds the atom's index rows;
//! 3. **commit** makes the pack durable (fsynced before it is renamed into
//!    place), moves each ref with compare-and-swap (fsynced likewise), and
//!    only then commits the index rows.
//!
//! A failure before the refs move leaves nothing: the temporary pack is
//! deleted and the index transaction rolled back. A crash after a ref moved
//! but before the index committed is healed by the next catch-up, which
//! finds the ref ahead of the index.

use std::cell::RefMut;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gix::ObjectId;

use crate::index::{Index, IndexError, IndexedAtom, IndexedSignature};
use crate::model::{self, Atom, AtomId};
use crate::signing::{key_line, SignatureCheck, SshSigner};
use crate::store::lock::StoreLock;
use crate::store::log::LOG_REF;
use crate::store::pack::PackWriter;
use crate::store::{Identity, StoreError, HEADS_PREFIX};
use crate::trail::{AtomView, Prepared, Trail, TrailError};

/// Where [`Transaction::append`] puts an atom.
#[derive(Debug, Clone)]
pub(crate) enum Onto {
    /// On the tip of `trail` (the current trail when `None`).
    Tip(Option<String>),
    /// Move the current trail from `expected` to a new atom whose parent is
    /// `parent` (rollback).
    Reset {
        /// The tip the trail must still have.
        expected: ObjectId,
        /// The new atom's parent.
        parent: ObjectId,
    },
    /// Join two tips of `trail` with a MERGE atom whose parents are `local`
    /// (the trail's tip, which it must still have) then `remote`.
    Merge {
        /// The trail.
        trail: String,
        /// The trail's tip here.
        local: ObjectId,
        /// The other device's tip.
        remote: ObjectId,
    },
}

/// One ref move, applied at commit.
struct RefMove {
    name: String,
    expected: Option<ObjectId>,
    new: ObjectId,
}

/// An open append transaction; see the module documentation.
pub(crate) struct Transaction<'t> {
    trail: &'t Trail,
    index: RefMut<'t, Option<Index>>,
    pack: Option<PackWriter>,
    moves: Vec<RefMove>,
    signer: SshSigner,
    /// The Ed25519 key that signs the log's checkpoints (the signer when
    /// it is Ed25519).
    log_key: ed25519_dalek::SigningKey,
    signer_key: IndexedSignature,
    committer: Identity,
    _lock: Option<StoreLock>,
}

impl<'t> Transaction<'t> {
    /// Take the store lock (waiting for it) and start.
    pub(crate) fn begin(trail: &'t Trail) -> Result<Self, TrailError> {
        let lock = trail.lock()?;
        Self::begin_locked(trail, Some(lock))
    }

    /// Start with the lock the caller took, released when the transaction
    /// ends; `None` when the caller holds the lock for longer.
    pub(crate) fn begin_locked(
        trail: &'t Trail,
        lock: Option<StoreLock>,
    ) -> Result<Self, TrailError> {
        let signer = trail.signer()?;
        let log_key = trail.log_key_of(&signer)?;
        let signer_key = IndexedSignature::Valid(key_line(&signer.public_key()));
        trail.catch_up()?;
        let index = trail.index.borrow_mut();
        let tx = Transaction {
            trail,
            index,
            pack: None,
            moves: Vec::new(),
            signer,
            log_key,
            signer_key,
            committer: trail.committer(),
            _lock: lock,
        };
        tx.ix().begin()?;
        Ok(tx)
    }

    pub(crate) fn ix(&self) -> &Index {
        self.index.as_ref().expect("begin opened the index")
    }

    /// The store's Ed25519 key, which signs the log's checkpoints.
    pub(crate) fn log_key(&self) -> &ed25519_dalek::SigningKey {
        &self.log_key
    }

    /// Its public half.
    pub(crate) fn log_public(&self) -> [u8; 32] {
        self.log_key.verifying_key().to_bytes()
    }

    /// The store this transaction appends to.
    pub(crate) fn trail(&self) -> &Trail {
        self.trail
    }

    /// Write a log commit into this transaction's pack.
    pub(crate) fn pack_log_commit(
        &mut self,
        leaves: &[String],
        note: &str,
        parent: Option<ObjectId>,
    ) -> Result<ObjectId, TrailError> {
        if self.pack.is_none() {
            self.pack = Some(self.trail.git().new_pack()?);
        }
        let pack = self.pack.as_mut().expect("made above");
        Ok(self.trail.git().pack_log_commit(
            pack,
            leaves,
            note,
            parent,
            &self.committer,
            &self.signer,
        )?)
    }

    /// Where `full_name` points as this transaction sees it.
    pub(crate) fn tip(&self, full_name: &str) -> Result<Option<ObjectId>, TrailError> {
        if let Some(m) = self.moves.iter().rev().find(|m| m.name == full_name) {
            return Ok(Some(m.new));
        }
        Ok(self.trail.git().ref_target(full_name)?)
    }

    /// Move `full_name` to `new` at commit, if it is still at `expected`
    /// (`None`: must not exist).
    pub(crate) fn move_ref(&mut self, full_name: &str, expected: Option<ObjectId>, new: ObjectId) {
        match self.moves.iter_mut().find(|m| m.name == full_name) {
            Some(m) => m.new = new,
            None => self.moves.push(RefMove {
                name: full_name.to_owned(),
                expected,
                new,
            }),
        }
    }

    /// The highest sequence number of `day` taken in the store, staged atoms included.
    pub(crate) fn last_seq(&self, day: chrono::NaiveDate) -> Result<u32, TrailError> {
        Ok(self.ix().last_seq(&day.format("%Y%m%d").to_string())?)
    }

    /// Whether an atom with this id is in the store or staged.
    pub(crate) fn contains(&self, id: &AtomId) -> Result<bool, TrailError> {
        Ok(self.ix().contains(id)?)
    }

    /// The indexed record of a commit.
    pub(crate) fn record_of(&self, commit: &ObjectId) -> Result<Atom, TrailError> {
        match self.ix().row(commit)? {
            Some(row) => Ok(row.record),
            None => Ok(self.trail.git().read_atom(*commit)?.record),
        }
    }

    /// Append a prepared draft (see [`Onto`]) and return it as it will be
    /// stored once the transaction commits.
    pub(crate) fn append(
        &mut self,
        prepared: &Prepared,
        onto: Onto,
    ) -> Result<AtomView, TrailError> {
        let (trail, expected, tip, other) = match &onto {
            Onto::Tip(trail) => {
                let trail = match trail {
                    Some(t) => t.clone(),
                    None => self.trail.current_trail()?,
                };
                let tip = self.tip(&format!("{HEADS_PREFIX}{trail}"))?;
                (trail, tip, tip, None)
            }
            Onto::Reset { expected, parent } => (
                self.trail.current_trail()?,
                Some(*expected),
                Some(*parent),
                None,
            ),
            Onto::Merge {
                trail,
                local,
                remote,
            } => (trail.clone(), Some(*local), Some(*local), Some(*remote)),
        };
        let ref_name = format!("{HEADS_PREFIX}{trail}");
        if !matches!(onto, Onto::Tip(_)) && self.tip(&ref_name)? != expected {
            return Err(TrailError::Contention { trail });
        }
        if let Some(remote) = other {
            // The other device's atoms join the index with the merge.
            self.ix().add_missing(
                self.trail.git(),
                remote,
                &mut Default::default(),
                &mut |_| {},
            )?;
        }
        let parent = tip.map(|t| self.record_of(&t)).transpose()?;
        let other_rec = other.map(|t| self.record_of(&t)).transpose()?;
        let draft = &prepared.draft;
        let time = draft.at.unwrap_or_else(Utc::now);
        let time =
            DateTime::from_timestamp(time.timestamp(), 0).expect("whole seconds of a valid time");
        let day = time.date_naive();
        // Above both parents, so the id order holds along either chain.
        let parent_seq = parent
            .iter()
            .chain(other_rec.iter())
            .map(|p| &p.atom_id)
            .filter(|id| id.date() == day)
            .map(AtomId::seq)
            .max()
            .unwrap_or(0);
        let seq =
            next_seq(self.last_seq(day)?.max(parent_seq)).ok_or(TrailError::DayFull { day })?;
        let mut record = Atom {
            atom_id: AtomId::new(&draft.atom_type, day, seq)?,
            atom_type: draft.atom_type.clone(),
            operation: draft.operation.clone(),
            agent: prepared.agent.clone(),
            timestamp: model::format_timestamp(time),
            previous_atom: parent.as_ref().map(|p| p.atom_id.clone()),
            previous_digest: parent.as_ref().map(|p| p.digest.clone()),
            merged: other_rec.as_ref().map(|o| vec![o.atom_id.clone()]),
            influenced_by: draft.influenced_by.clone(),
            project: draft.project.clone(),
            summary: draft.summary.clone(),
            metadata: draft.metadata.clone(),
            token_cost: draft.token_cost,
            attachments: prepared.attachments.clone(),
            digest: String::new(),
        };
        record.digest = record.compute_digest();
        record.validate_fields()?;
        let parents: Vec<ObjectId> = tip.into_iter().chain(other).collect();
        let commit = self.write(&record, &parents, &prepared.draft.attachments)?;
        self.move_ref(&ref_name, expected, commit);
        let signature = self
            .trail
            .allowed_signers()
            .judge(&self.signer.public_key(), time.timestamp());
        Ok(AtomView {
            commit,
            record,
            signature,
            parents,
        })
    }

    /// Write a complete, checked record whose parents are `parents` (indexed
    /// or staged): its objects into the pack, its rows into the index.
    /// Returns the commit id.
    pub(crate) fn write(
        &mut self,
        record: &Atom,
        parents: &[ObjectId],
        attachments: &[(String, Vec<u8>)],
    ) -> Result<ObjectId, TrailError> {
        if self.pack.is_none() {
            self.pack = Some(self.trail.git().new_pack()?);
        }
        let author = Identity::agent(&record.agent);
        let pack = self.pack.as_mut().expect("made above");
        let bytes = record.canonical_bytes();
        let commit = self.trail.git().pack_atom_commit(
            pack,
            record,
            &bytes,
            attachments,
            parents,
            &author,
            &self.committer,
            &self.signer,
        )?;
        self.index
            .as_ref()
            .expect("begin opened the index")
            .insert_atom(IndexedAtom {
                commit,
                parents,
                record,
                record_bytes: &bytes,
                signature: &self.signer_key,
            })?;
        Ok(commit)
    }

    /// Make everything durable and visible: the pack, then each ref (with
    /// compare-and-swap), then the index rows.
    pub(crate) fn commit(mut self) -> Result<(), TrailError> {
        // The log ref moves after the trail refs (it is the last move).
        if let Err(e) = self.log_queued() {
            self.ix().rollback();
            return Err(e);
        }
        if let Some(pack) = self.pack.take() {
            if let Err(e) = self.trail.git().finish_pack(pack) {
                self.ix().rollback();
                return Err(e.into());
            }
        }
        let mut moved: BTreeMap<String, ObjectId> = BTreeMap::new();
        for m in &self.moves {
            match self
                .trail
                .git()
                .compare_and_swap(&m.name, m.expected, m.new)
            {
                Ok(()) => {
                    moved.insert(m.name.clone(), m.new);
                }
                Err(e) => {
                    // Refs moved so far stay (they only add history); the
                    // index learns of them at the next catch-up.
                    self.ix().rollback();
                    return Err(match e {
                        StoreError::Conflict { name } => TrailError::Contention {
                            trail: crate::index::trail_name(&name).to_owned(),
                        },
                        e => e.into(),
                    });
                }
            }
        }
        let ix = self.ix();
        let applied = (|| -> Result<(), IndexError> {
            // The log's ref is not a history of atoms: its rows are
            // already staged (`log_queued`).
            for (name, new) in moved.iter().filter(|(name, _)| *name != LOG_REF) {
                ix.set_ref(name, Some(*new))?;
            }
            ix.commit()
        })();
        if applied.is_err() {
            // The refs are moved and durable: the atoms are recorded. The
            // index catches up from git next time.
            ix.rollback();
        }
        if !moved.is_empty() {
            self.trail.note_appended();
        }
        Ok(())
    }
}

/// The sequence number after `last`, if the day has one left: ids never wrap.
pub(crate) fn next_seq(last: u32) -> Option<u32> {
    last.checked_add(1).filter(|s| *s <= model::MAX_SEQ)
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if let Some(ix) = self.index.as_ref() {
            ix.rollback();
        }
    }
}

impl Trail {
    /// The trust verdict of an indexed signature, against the current allowed signers.
    pub(crate) fn judge(&self, sig: &crate::index::SigState, time: i64) -> SignatureCheck {
        use crate::index::SigState;
        use crate::signing::SignatureStatus;
        let parse = |k: &str| ssh_key::PublicKey::from_openssh(k).ok();
        match sig {
            SigState::None => SignatureCheck {
                status: SignatureStatus::None,
                signer: None,
            },
            SigState::Valid(k) => match parse(k) {
                Some(key) => self.allowed_signers().judge(&key, time),
                None => SignatureCheck {
                    status: SignatureStatus::Bad,
                    signer: None,
                },
            },
            SigState::Bad(k) => SignatureCheck {
                status: SignatureStatus::Bad,
                signer: k
                    .as_deref()
                    .and_then(parse)
                    .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string()),
            },
        }
    }
}
