//! Bringing the index up to date with the refs.
//!
//! For each trail or archive ref whose tip changed, walk from the new tip down
//! to commits the index already has for that ref. If the old tip is among
//! them, the ref only moved forward and the new commits are added; otherwise
//! (reset, rollback, forced push) the ref's membership is recomputed from its
//! full history. Atoms no ref reaches any more are dropped.

use std::collections::{BTreeMap, HashMap};

use gix::ObjectId;
use rusqlite::{params, OptionalExtension, Transaction};

use super::{Index, IndexError};
use crate::store::{GitStore, StoredAtom, HEADS_PREFIX};

/// Prefix of the refs that keep rolled-back tips.
pub const ARCHIVE_PREFIX: &str = "refs/atom/archive/";

/// What a catch-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// Atoms added to the index.
    pub added: usize,
    /// Refs whose membership was recomputed because they moved backwards or sideways.
    pub rewound: usize,
}

/// The index's name for a ref: `main` for `refs/heads/main`,
/// `archive/main/1` for `refs/atom/archive/main/1`.
pub fn trail_name(full: &str) -> &str {
    full.strip_prefix(HEADS_PREFIX)
        .or_else(|| full.strip_prefix("refs/atom/"))
        .unwrap_or(full)
}

impl Index {
    /// Index whatever changed in the refs since the last catch-up.
    /// `progress` is called with the number of atoms added so far.
    pub fn catch_up(
        &mut self,
        git: &GitStore,
        progress: &mut dyn FnMut(usize),
    ) -> Result<CatchUp, IndexError> {
        let mut current: BTreeMap<String, ObjectId> =
            git.refs_under(HEADS_PREFIX)?.into_iter().collect();
        current.extend(git.refs_under(ARCHIVE_PREFIX)?);
        if self.seen_refs()? == current {
            return Ok(CatchUp::default());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have caught up while we waited for the lock.
        let seen = seen_refs(&tx)?;
        let mut report = CatchUp::default();
        let mut shrunk = false;
        for name in seen
            .keys()
            .chain(current.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (old, new) = (seen.get(name).copied(), current.get(name).copied());
            if old == new {
                continue;
            }
            let trail = trail_name(name);
            match new {
                None => {
                    tx.execute("DELETE FROM trail_atoms WHERE trail = ?1", [trail])?;
                    tx.execute("DELETE FROM refs_seen WHERE name = ?1", [name])?;
                    shrunk = true;
                }
                Some(new) => {
                    let rewound = update_ref(&tx, git, trail, old, new, &mut report, progress)?;
                    shrunk |= rewound;
                    report.rewound += usize::from(rewound);
                    tx.execute(
                        "INSERT INTO refs_seen(name, commit_id) VALUES (?1, ?2)
                         ON CONFLICT(name) DO UPDATE SET commit_id = excluded.commit_id",
                        params![name, new.to_string()],
                    )?;
                }
            }
        }
        if shrunk {
            drop_unreachable(&tx)?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// The ref tips the index reflects.
    pub fn seen_refs(&self) -> Result<BTreeMap<String, ObjectId>, IndexError> {
        seen_refs(&self.conn)
    }
}

fn seen_refs(conn: &rusqlite::Connection) -> Result<BTreeMap<String, ObjectId>, IndexError> {
    let mut stmt = conn.prepare_cached("SELECT name, commit_id FROM refs_seen")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (name, id) = row?;
        // An id that does not parse makes the ref look changed: it is re-indexed.
        if let Ok(id) = ObjectId::from_hex(id.as_bytes()) {
            out.insert(name, id);
        }
    }
    Ok(out)
}

/// Bring one ref's membership to `new`; returns true when it had to be
/// recomputed (the ref did not simply move forward).
fn update_ref(
    tx: &Transaction<'_>,
    git: &GitStore,
    trail: &str,
    old: Option<ObjectId>,
    new: ObjectId,
    report: &mut CatchUp,
    progress: &mut dyn FnMut(usize),
) -> Result<bool, IndexError> {
    let (fresh, met) = {
        let mut in_trail =
            tx.prepare_cached("SELECT 1 FROM trail_atoms WHERE trail = ?1 AND commit_id = ?2")?;
        git.walk_until_known(new, |c| {
            in_trail
                .query_row(params![trail, c.to_string()], |_| Ok(()))
                .optional()
                .ok()
                .flatten()
                .is_some()
        })?
    };
    let forward = match old {
        None => true,
        Some(old) => met.contains(&old),
    };
    add_commits(tx, git, &fresh, report, progress)?;
    {
        let mut member = tx.prepare_cached(
            "INSERT OR IGNORE INTO trail_atoms(trail, commit_id) VALUES (?1, ?2)",
        )?;
        for c in &fresh {
            member.execute(params![trail, c.to_string()])?;
        }
    }
    if forward {
        return Ok(false);
    }
    // Moved backwards or sideways: membership is exactly the ancestors of `new`.
    let all = git.walk(&[new], None)?;
    add_commits(tx, git, &all, report, progress)?;
    tx.execute("DELETE FROM trail_atoms WHERE trail = ?1", [trail])?;
    let mut member =
        tx.prepare_cached("INSERT OR IGNORE INTO trail_atoms(trail, commit_id) VALUES (?1, ?2)")?;
    for c in &all {
        member.execute(params![trail, c.to_string()])?;
    }
    Ok(true)
}

/// Insert the atoms of `commits` that the index does not hold yet.
fn add_commits(
    tx: &Transaction<'_>,
    git: &GitStore,
    commits: &[ObjectId],
    report: &mut CatchUp,
    progress: &mut dyn FnMut(usize),
) -> Result<(), IndexError> {
    let mut exists = tx.prepare_cached("SELECT generation FROM atoms WHERE commit_id = ?1")?;
    let mut pending: HashMap<ObjectId, StoredAtom> = HashMap::new();
    for c in commits {
        if exists
            .query_row([c.to_string()], |_| Ok(()))
            .optional()?
            .is_none()
        {
            pending.insert(*c, git.read_atom(*c)?);
        }
    }
    // Parents first, so each generation is known when its children need it.
    let mut generation: HashMap<ObjectId, i64> = HashMap::new();
    let mut order = Vec::with_capacity(pending.len());
    for start in commits.iter().filter(|c| pending.contains_key(*c)) {
        let mut stack = vec![(*start, false)];
        while let Some((c, parents_done)) = stack.pop() {
            if generation.contains_key(&c) {
                continue;
            }
            let Some(atom) = pending.get(&c) else {
                let g = exists
                    .query_row([c.to_string()], |r| r.get::<_, i64>(0))
                    .optional()?;
                generation.insert(c, g.unwrap_or(0));
                continue;
            };
            if parents_done {
                let g = atom
                    .parents
                    .iter()
                    .map(|p| generation.get(p).copied().unwrap_or(0))
                    .max()
                    .unwrap_or(0)
                    + 1;
                generation.insert(c, g);
                order.push(c);
            } else {
                stack.push((c, true));
                stack.extend(
                    atom.parents
                        .iter()
                        .filter(|p| !generation.contains_key(*p))
                        .map(|p| (*p, false)),
                );
            }
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO atoms(commit_id, atom_id, type, operation, agent, timestamp, project, summary,
                           token_cost, digest, previous_atom, metadata, day, seq, generation, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut fts =
        tx.prepare_cached("INSERT INTO atoms_fts(rowid, summary, metadata) VALUES (?1, ?2, ?3)")?;
    let mut influence = tx.prepare_cached(
        "INSERT INTO influences(atom_id, influenced_by, commit_id) VALUES (?1, ?2, ?3)",
    )?;
    let mut path =
        tx.prepare_cached("INSERT INTO paths(atom_id, path, commit_id) VALUES (?1, ?2, ?3)")?;
    let mut parent = tx.prepare_cached(
        "INSERT INTO parents(commit_id, parent_id, position) VALUES (?1, ?2, ?3)",
    )?;
    for c in order {
        let atom = &pending[&c];
        let r = &atom.record;
        let commit = c.to_string();
        let id = r.atom_id.to_string();
        let metadata = serde_json::to_string(&r.metadata)?;
        insert.execute(params![
            commit,
            id,
            r.atom_type,
            r.operation,
            r.agent,
            r.timestamp,
            r.project,
            r.summary,
            r.token_cost.map(|t| t as i64),
            r.digest,
            r.previous_atom.as_ref().map(ToString::to_string),
            metadata,
            r.atom_id.date().format("%Y%m%d").to_string(),
            r.atom_id.seq(),
            generation[&c],
            String::from_utf8_lossy(&atom.record_bytes),
        ])?;
        fts.execute(params![tx.last_insert_rowid(), r.summary, metadata])?;
        for by in &r.influenced_by {
            influence.execute(params![id, by.to_string(), commit])?;
        }
        for p in crate::model::paths_of(r) {
            path.execute(params![id, p, commit])?;
        }
        for (i, p) in atom.parents.iter().enumerate() {
            parent.execute(params![commit, p.to_string(), i as i64])?;
        }
        report.added += 1;
        if report.added.is_multiple_of(1000) {
            progress(report.added);
        }
    }
    Ok(())
}

/// Remove atoms that no trail or archive ref reaches any more.
fn drop_unreachable(tx: &Transaction<'_>) -> Result<(), IndexError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS gone(rowid INTEGER PRIMARY KEY, commit_id TEXT);
         DELETE FROM gone;
         INSERT INTO gone SELECT rowid, commit_id FROM atoms
           WHERE commit_id NOT IN (SELECT commit_id FROM trail_atoms);
         DELETE FROM atoms_fts WHERE rowid IN (SELECT rowid FROM gone);
         DELETE FROM influences WHERE commit_id IN (SELECT commit_id FROM gone);
         DELETE FROM paths WHERE commit_id IN (SELECT commit_id FROM gone);
         DELETE FROM parents WHERE commit_id IN (SELECT commit_id FROM gone);
         DELETE FROM atoms WHERE rowid IN (SELECT rowid FROM gone);
         DELETE FROM gone;",
    )?;
    Ok(())
}
