//! Writing the index: one atom's rows, and where a ref now points.
//!
//! Callers hold a write transaction (see [`Index::begin`]). Atoms are added
//! parents first; each gets its place in a segment (see `schema/index.sql`),
//! so that moving a ref rewrites only the few `trail_range` rows of the
//! segments it reaches, whatever the length of its history.

use std::collections::BTreeMap;

use gix::ObjectId;
use rusqlite::{params, OptionalExtension};

use super::{Index, IndexError};
use crate::model::{self, Atom};

/// What an atom's signature said by itself when it was indexed.
#[derive(Debug, Clone)]
pub enum IndexedSignature {
    /// The commit carries no signature.
    None,
    /// It verifies, by the key with this OpenSSH public key text.
    Valid(String),
    /// It does not verify; the key it names, if any.
    Bad(Option<String>),
}

/// One atom as the index takes it.
#[derive(Debug, Clone, Copy)]
pub struct IndexedAtom<'a> {
    /// The commit.
    pub commit: ObjectId,
    /// Its parents, first parent first; each must be indexed already.
    pub parents: &'a [ObjectId],
    /// The record.
    pub record: &'a Atom,
    /// Its canonical bytes (`atom.json` as atom writes it).
    pub record_bytes: &'a [u8],
    /// The signature's own verdict.
    pub signature: &'a IndexedSignature,
}

/// The fields of a record that have no column of their own, as JSON: the
/// index keeps each field once.
fn rest_of_record(canonical: &[u8]) -> Result<String, IndexError> {
    // From the canonical bytes, so keys are in one order whoever built the record.
    let mut value: serde_json::Value = serde_json::from_slice(canonical)?;
    if let Some(map) = value.as_object_mut() {
        for key in COLUMN_FIELDS {
            map.remove(key);
        }
    }
    Ok(serde_json::to_string(&value)?)
}

/// Record fields the `atom` table holds as columns of the same name.
pub(crate) const COLUMN_FIELDS: [&str; 6] = [
    "atom_id",
    "type",
    "operation",
    "agent",
    "project",
    "token_cost",
];

/// A write-ahead log larger than this is folded into the database when a
/// transaction ends.
const LARGE_WAL: u64 = 32 << 20;

/// Which prefix of which segment a ref reaches: segment -> highest position.
pub(crate) type Reach = BTreeMap<i64, i64>;

impl Index {
    /// Start a write transaction (waits for other writers).
    pub fn begin(&self) -> Result<(), IndexError> {
        if self.is_read_only() {
            return Err(self.read_only_error("cannot be written by this user"));
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commit the transaction [`Index::begin`] started. After a large one
    /// (an import, a rebuild), fold the write-ahead log into the database
    /// now, rather than leave every later command to read it.
    pub fn commit(&self) -> Result<(), IndexError> {
        self.conn.execute_batch("COMMIT")?;
        if let Some(path) = &self.path {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > LARGE_WAL) {
                // Readers only postpone it: give them a moment, no more.
                self.conn
                    .busy_timeout(std::time::Duration::from_millis(50))?;
                let _ = self
                    .conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                self.conn.busy_timeout(super::BUSY_WAIT)?;
            }
        }
        Ok(())
    }

    /// Run `f` on one read snapshot: every query in it sees the same
    /// state, whatever other processes commit meanwhile (inside a write
    /// transaction, that transaction is the snapshot).
    pub fn snapshot<T>(
        &self,
        f: impl FnOnce(&Index) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let result = f(self);
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    /// Abandon the transaction [`Index::begin`] started, if one is open.
    pub fn rollback(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
            // Ids of keys inserted by the abandoned transaction are gone.
            self.keys.borrow_mut().clear();
        }
    }

    /// The row number of an indexed commit.
    pub fn number_of(&self, commit: &ObjectId) -> Result<Option<i64>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT n FROM atom WHERE commit_id = ?1")?;
        Ok(stmt
            .query_row([commit.as_slice()], |r| r.get(0))
            .optional()?)
    }

    /// Add one atom whose parents are indexed; returns its row number. An
    /// atom already indexed is left as it is.
    pub fn insert_atom(&self, atom: IndexedAtom<'_>) -> Result<i64, IndexError> {
        if let Some(n) = self.number_of(&atom.commit)? {
            return Ok(n);
        }
        let mut parents = Vec::with_capacity(atom.parents.len());
        for p in atom.parents {
            let n = self.number_of(p)?.ok_or(IndexError::MissingParent {
                commit: atom.commit,
                parent: *p,
            })?;
            parents.push(n);
        }
        let (seg, pos) = self.place_after(parents.first().copied())?;
        let r = atom.record;
        let (sig, key) = match atom.signature {
            IndexedSignature::None => (0, None),
            IndexedSignature::Valid(k) => (1, Some(self.key_id(k)?)),
            IndexedSignature::Bad(k) => (2, k.as_deref().map(|k| self.key_id(k)).transpose()?),
        };
        let ts = r.time().map_err(|e| IndexError::Unusable(e.to_string()))?;
        let day: i64 = r
            .atom_id
            .date()
            .format("%Y%m%d")
            .to_string()
            .parse()
            .expect("eight digits");
        self.conn
            .prepare_cached(
                "INSERT INTO atom(commit_id, atom_id, type, operation, agent, ts, project,
                                  token_cost, day, seq, seg, pos, sig, key, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                atom.commit.as_slice(),
                r.atom_id.to_string(),
                r.atom_type,
                r.operation,
                r.agent,
                ts.timestamp(),
                r.project,
                r.token_cost.map(|t| t as i64),
                day,
                r.atom_id.seq(),
                seg,
                pos,
                sig,
                key,
                rest_of_record(atom.record_bytes)?,
            ])?;
        let n = self.conn.last_insert_rowid();
        for (i, p) in parents.iter().enumerate().skip(1) {
            self.conn
                .prepare_cached(
                    "INSERT INTO merge_parent(seg, pos, idx, parent) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![seg, pos, i as i64, p])?;
        }
        let mut influence = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO influence(n, by) VALUES (?1, ?2)")?;
        for by in &r.influenced_by {
            influence.execute(params![n, by.to_string()])?;
        }
        let mut path = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO path(path, n) VALUES (?1, ?2)")?;
        for p in model::paths_of(r) {
            path.execute(params![p, n])?;
        }
        Ok(n)
    }

    /// Where a child of `parent` goes: after it in its segment when it is
    /// the segment's last atom, else at the start of a new segment.
    fn place_after(&self, parent: Option<i64>) -> Result<(i64, i64), IndexError> {
        if let Some(p) = parent {
            let (seg, pos) = self.position(p)?;
            let taken: bool = self
                .conn
                .prepare_cached("SELECT count(*) > 0 FROM atom WHERE seg = ?1 AND pos = ?2")?
                .query_row(params![seg, pos + 1], |r| r.get(0))?;
            if !taken {
                return Ok((seg, pos + 1));
            }
        }
        self.conn
            .prepare_cached("INSERT INTO segment(parent) VALUES (?1)")?
            .execute([parent])?;
        Ok((self.conn.last_insert_rowid(), 0))
    }

    /// An atom's segment and position.
    pub(crate) fn position(&self, n: i64) -> Result<(i64, i64), IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT seg, pos FROM atom WHERE n = ?1")?
            .query_row([n], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    fn key_id(&self, key: &str) -> Result<i64, IndexError> {
        if let Some(id) = self.keys.borrow().get(key) {
            return Ok(*id);
        }
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO signer_key(key) VALUES (?1)")?
            .execute([key])?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM signer_key WHERE key = ?1")?
            .query_row([key], |r| r.get(0))?;
        self.keys.borrow_mut().insert(key.to_owned(), id);
        Ok(id)
    }

    /// Every atom the atom `n` reaches (itself and its ancestors), as
    /// segment prefixes. Linear in the segments and merges reached.
    pub(crate) fn reach(&self, n: i64) -> Result<Reach, IndexError> {
        let mut out = Reach::new();
        let mut work = vec![n];
        let mut merges = self.conn.prepare_cached(
            "SELECT parent FROM merge_parent WHERE seg = ?1 AND pos > ?2 AND pos <= ?3",
        )?;
        let mut seg_parent = self
            .conn
            .prepare_cached("SELECT parent FROM segment WHERE seg = ?1")?;
        while let Some(n) = work.pop() {
            let (seg, pos) = self.position(n)?;
            let before = out.get(&seg).copied();
            if before.is_some_and(|b| b >= pos) {
                continue;
            }
            out.insert(seg, pos);
            let rows = merges.query_map(params![seg, before.unwrap_or(-1), pos], |r| r.get(0))?;
            for p in rows {
                work.push(p?);
            }
            if before.is_none() {
                let parent: Option<i64> = seg_parent.query_row([seg], |r| r.get(0))?;
                work.extend(parent);
            }
        }
        Ok(out)
    }

    /// The segment prefixes a ref reaches, as last recorded.
    pub(crate) fn ref_reach(&self, trail: &str) -> Result<Reach, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seg, max_pos FROM trail_range WHERE trail = ?1")?;
        let rows = stmt.query_map([trail], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record that the ref `full_name` now points at `tip` (indexed
    /// already), or no longer exists; atoms no ref reaches any more are
    /// dropped.
    pub fn set_ref(&self, full_name: &str, tip: Option<ObjectId>) -> Result<(), IndexError> {
        let trail = super::trail_name(full_name);
        let old = self.ref_reach(trail)?;
        let new = match tip {
            Some(c) => {
                let n = self.number_of(&c)?.ok_or_else(|| {
                    IndexError::Unusable(format!("{full_name} points at {c}, which is not indexed"))
                })?;
                self.reach(n)?
            }
            None => Reach::new(),
        };
        {
            let mut upsert = self.conn.prepare_cached(
                "INSERT INTO trail_range(trail, seg, max_pos) VALUES (?1, ?2, ?3)
                 ON CONFLICT(trail, seg) DO UPDATE SET max_pos = excluded.max_pos",
            )?;
            for (seg, max) in &new {
                if old.get(seg) != Some(max) {
                    upsert.execute(params![trail, seg, max])?;
                }
            }
            let mut delete = self
                .conn
                .prepare_cached("DELETE FROM trail_range WHERE trail = ?1 AND seg = ?2")?;
            for seg in old.keys().filter(|s| !new.contains_key(s)) {
                delete.execute(params![trail, seg])?;
            }
        }
        match tip {
            Some(c) => self
                .conn
                .prepare_cached(
                    "INSERT INTO ref_tip(name, commit_id) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET commit_id = excluded.commit_id",
                )?
                .execute(params![full_name, c.as_slice()])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM ref_tip WHERE name = ?1")?
                .execute([full_name])?,
        };
        for (seg, old_max) in old {
            if new.get(&seg).is_some_and(|m| *m >= old_max) {
                continue;
            }
            self.drop_uncovered(seg)?;
        }
        Ok(())
    }

    /// Delete the atoms of `seg` that no ref reaches any more.
    fn drop_uncovered(&self, seg: i64) -> Result<(), IndexError> {
        let cover: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(max_pos) FROM trail_range WHERE seg = ?1")?
            .query_row([seg], |r| r.get(0))?;
        let cover = cover.unwrap_or(-1);
        self.conn
            .prepare_cached("DELETE FROM atom WHERE seg = ?1 AND pos > ?2")?
            .execute(params![seg, cover])?;
        if cover < 0 {
            self.conn
                .prepare_cached("DELETE FROM segment WHERE seg = ?1")?
                .execute([seg])?;
        }
        Ok(())
    }
}
