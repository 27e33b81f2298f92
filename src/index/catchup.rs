//! Bringing the index up to date with the refs, however they moved.
//!
//! For each trail or archive ref whose tip differs from what the index
//! recorded, the commits the index lacks are found by walking from the tip
//! down to indexed commits, put parents first, and read from git one at a
//! time (memory stays bounded by the commit ids, never the records); then the
//! ref's reach is recorded. A ref that moved backwards or sideways costs no
//! walk at all: its reach is computed from the index.

use std::collections::{BTreeMap, HashMap};

use gix::ObjectId;

use super::write::{IndexedAtom, IndexedSignature};
use super::{Index, IndexError};
use crate::signing::{verify_signature, SignatureValidity};
use crate::store::log::LOG_REF;
use crate::store::{GitStore, StoreError, StoredAtom, HEADS_PREFIX};

/// How many atoms a catch-up reads through one repository handle before it
/// takes a fresh one (see [`GitStore::reopen`]).
const ATOMS_PER_HANDLE: usize = 20_000;

/// From how many new atoms on a catch-up reads git on a thread of its own.
const ATOMS_FOR_A_READER: usize = 64;

/// Prefix of the refs that keep rolled-back tips.
pub const ARCHIVE_PREFIX: &str = "refs/atom/archive/";

/// What a catch-up did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// Atoms added to the index.
    pub added: usize,
    /// Refs whose reach was recorded anew.
    pub refs: usize,
    /// Refs left out because what they point at is not a history of atoms
    /// (a blob, a tree, a commit of something else): the ref and why.
    /// The rest of the store stays usable; the ref is tried again next time.
    pub skipped: Vec<(String, String)>,
    /// What catching up with the log found wrong, if anything (the log's
    /// rows are then those of the part that reads).
    pub log: Option<String>,
}

/// The index's name for a ref: `main` for `refs/heads/main`,
/// `archive/main/1` for `refs/atom/archive/main/1`.
pub fn trail_name(full: &str) -> &str {
    full.strip_prefix(HEADS_PREFIX)
        .or_else(|| full.strip_prefix("refs/atom/"))
        .unwrap_or(full)
}

/// The trail and archive refs of `git`, by full name.
pub fn atom_refs(git: &GitStore) -> Result<BTreeMap<String, ObjectId>, IndexError> {
    let mut current: BTreeMap<String, ObjectId> =
        git.refs_under(HEADS_PREFIX)?.into_iter().collect();
    current.extend(git.refs_under(ARCHIVE_PREFIX)?);
    Ok(current)
}

impl Index {
    /// Index whatever changed in the refs since the last catch-up.
    /// `progress` is called with the number of atoms added so far.
    pub fn catch_up(
        &mut self,
        git: &GitStore,
        progress: &mut dyn FnMut(usize),
    ) -> Result<CatchUp, IndexError> {
        let current = atom_refs(git)?;
        let log_tip = git.ref_target(LOG_REF)?;
        let seen = self.seen_refs()?;
        if seen == current && self.log_tip()? == log_tip {
            return Ok(CatchUp::default());
        }
        if self.is_read_only() {
            return self.behind_read_only(git, &seen, &current);
        }
        self.begin()?;
        // Read the refs again under the write lock: a writer may have moved
        // one (and indexed it) while we waited.
        let result = atom_refs(git)
            .and_then(|current| self.catch_up_in_transaction(git, &current, progress))
            .and_then(|mut report| {
                report.log = self.catch_up_log(git)?;
                Ok(report)
            });
        match result {
            Ok(report) => {
                self.commit()?;
                Ok(report)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// What a read-only index that differs from the refs can still answer:
    /// refs it would leave out anyway (they name no atom) are skipped as a
    /// catch-up skips them; any other difference means it is out of date.
    fn behind_read_only(
        &self,
        git: &GitStore,
        seen: &BTreeMap<String, ObjectId>,
        current: &BTreeMap<String, ObjectId>,
    ) -> Result<CatchUp, IndexError> {
        let mut report = CatchUp::default();
        let names: std::collections::BTreeSet<&String> =
            seen.keys().chain(current.keys()).collect();
        for name in names {
            let new = current.get(name).copied();
            if seen.get(name).copied() == new {
                continue;
            }
            match new.map(|tip| git.read_atom(tip)) {
                Some(Err(e)) if !matches!(e, StoreError::Io { .. }) && !seen.contains_key(name) => {
                    report.skipped.push((name.clone(), e.to_string()));
                }
                _ => {
                    return Err(self.read_only_error(&format!(
                        "is out of date ({name} changed since it was written), and this user cannot update it"
                    )))
                }
            }
        }
        Ok(report)
    }

    /// [`Index::catch_up`] inside a write transaction the caller holds.
    pub(crate) fn catch_up_in_transaction(
        &self,
        git: &GitStore,
        current: &BTreeMap<String, ObjectId>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<CatchUp, IndexError> {
        // Another process may have caught up while we waited for the lock.
        let seen = self.seen_refs()?;
        let mut report = CatchUp::default();
        let changed: Vec<(&String, Option<ObjectId>)> = seen
            .keys()
            .chain(current.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|name| (name, current.get(name).copied()))
            .filter(|(name, new)| seen.get(*name).copied() != *new)
            .collect();
        for (name, new) in changed {
            let mut new = new;
            if let Some(tip) = new {
                self.conn.execute_batch("SAVEPOINT one_ref")?;
                match self.add_missing(git, tip, &mut report, progress) {
                    Ok(()) => self.conn.execute_batch("RELEASE one_ref")?,
                    Err(IndexError::Store(e)) if !matches!(e, StoreError::Io { .. }) => {
                        self.conn
                            .execute_batch("ROLLBACK TO one_ref; RELEASE one_ref")?;
                        report.skipped.push((name.clone(), e.to_string()));
                        new = None;
                    }
                    Err(IndexError::MissingParent { commit, parent }) => {
                        self.conn
                            .execute_batch("ROLLBACK TO one_ref; RELEASE one_ref")?;
                        report.skipped.push((
                            name.clone(),
                            format!("commit {commit} has a parent {parent} that is not an atom"),
                        ));
                        new = None;
                    }
                    Err(e) => return Err(e),
                }
            }
            self.set_ref(name, new)?;
            report.refs += 1;
        }
        Ok(report)
    }

    /// Index every atom reachable from `tip` that the index lacks, parents first.
    pub(crate) fn add_missing(
        &self,
        git: &GitStore,
        tip: ObjectId,
        report: &mut CatchUp,
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), IndexError> {
        let mut known = self
            .conn
            .prepare_cached("SELECT 1 FROM atom WHERE commit_id = ?1")?;
        let new = git
            .reopen()?
            .walk_new(tip, |c| known.exists([c.as_slice()]).unwrap_or(false))?;
        drop(known);
        let order = parents_first(new);
        let mut insert = |commit: ObjectId, stored: StoredAtom, signature: IndexedSignature| {
            self.insert_atom(IndexedAtom {
                commit,
                parents: &stored.parents,
                record: &stored.record,
                record_bytes: &stored.record_bytes,
                signature: &signature,
            })?;
            report.added += 1;
            if report.added.is_multiple_of(1000) {
                progress(report.added);
            }
            Ok::<(), IndexError>(())
        };
        if order.len() < ATOMS_FOR_A_READER {
            for commit in order {
                let stored = git.read_atom(commit)?;
                let signature = signature_of(&stored);
                insert(commit, stored, signature)?;
            }
            return Ok(());
        }
        // Many atoms: one thread reads them from git and checks their
        // signatures while this one writes the index.
        let git_dir = git.git_dir().to_owned();
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel(256);
            scope.spawn(move || {
                let mut reader = GitStore::open(&git_dir);
                for (i, commit) in order.into_iter().enumerate() {
                    if i > 0 && i.is_multiple_of(ATOMS_PER_HANDLE) {
                        reader = GitStore::open(&git_dir);
                    }
                    let item = reader
                        .as_ref()
                        .map_err(|e| StoreError::Git {
                            context: "opening the repository",
                            message: e.to_string(),
                        })
                        .and_then(|r| r.read_atom(commit))
                        .map(|stored| {
                            let signature = signature_of(&stored);
                            (commit, stored, signature)
                        });
                    let failed = item.is_err();
                    if send.send(item).is_err() || failed {
                        return;
                    }
                }
            });
            for item in receive {
                let (commit, stored, signature) = item?;
                insert(commit, stored, signature)?;
            }
            Ok(())
        })
    }

    /// The ref tips the index reflects.
    pub fn seen_refs(&self) -> Result<BTreeMap<String, ObjectId>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, commit_id FROM ref_tip")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (name, id) = row?;
            // An id that does not parse makes the ref look changed: it is re-indexed.
            if let Ok(id) = ObjectId::try_from(id.as_slice()) {
                out.insert(name, id);
            }
        }
        Ok(out)
    }
}

/// What an atom's signature says by itself, as the index keeps it.
pub(crate) fn signature_of(stored: &StoredAtom) -> IndexedSignature {
    match &stored.signature {
        None => IndexedSignature::None,
        Some((armored, payload)) => match verify_signature(armored, payload) {
            SignatureValidity::Valid(key) => {
                IndexedSignature::Valid(crate::signing::key_line(&key))
            }
            SignatureValidity::Invalid(key) => {
                IndexedSignature::Bad(key.as_ref().map(crate::signing::key_line))
            }
        },
    }
}

/// `commits` (each with its parents) ordered so that every commit comes
/// after those of its parents that are in the list.
fn parents_first(commits: Vec<(ObjectId, Vec<ObjectId>)>) -> Vec<ObjectId> {
    // Without merges, the walk's order (children first) reversed is the answer.
    if commits.iter().all(|(_, parents)| parents.len() <= 1) {
        return commits.into_iter().rev().map(|(c, _)| c).collect();
    }
    let index: HashMap<ObjectId, usize> = commits
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (*c, i))
        .collect();
    let mut done = vec![false; commits.len()];
    let mut out = Vec::with_capacity(commits.len());
    for start in 0..commits.len() {
        let mut stack = vec![(start, false)];
        while let Some((i, parents_done)) = stack.pop() {
            if done[i] {
                continue;
            }
            if parents_done {
                done[i] = true;
                out.push(commits[i].0);
                continue;
            }
            stack.push((i, true));
            for p in &commits[i].1 {
                if let Some(&j) = index.get(p) {
                    if !done[j] {
                        stack.push((j, false));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn parents_come_first() {
        // 4 merges 2 and 3, both children of 1; given children first.
        let commits = vec![
            (id(4), vec![id(2), id(3)]),
            (id(3), vec![id(1)]),
            (id(2), vec![id(1)]),
            (id(1), vec![id(0)]),
        ];
        let order = parents_first(commits);
        let at = |c| order.iter().position(|x| *x == id(c)).unwrap();
        assert_eq!(order.len(), 4);
        assert!(at(1) < at(2) && at(1) < at(3) && at(2) < at(4) && at(3) < at(4));
    }
}
