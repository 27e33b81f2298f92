//! The transparency log's rows (SPEC §10): leaves in the order the store
//! accepted them and the Merkle hashes a log stores (Go tlog's numbering,
//! see [`crate::tlog`]), derived from the log commits under `refs/atom/log`
//! like every other row is derived from git.
//!
//! The design decision a reader must know: the log is appended from the
//! index. Every atom row added (by an append or by catch-up) is queued in
//! `log_pending`, and the append transaction turns the queue into leaves, so
//! atoms that arrived by plain git are logged by the next write too. The
//! hashes of the rightmost subtrees are all an append reads.

use gix::ObjectId;
use rusqlite::OptionalExtension as _;

use super::{Index, IndexError};
use crate::store::log::LOG_REF;
use crate::store::GitStore;
use crate::tlog::{self, Hash, HashReader};

/// One leaf: an atom's commit and digest, `<commit hex> <digest>` hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// The atom's commit.
    pub commit: ObjectId,
    /// Its record's digest (`sha256:...`).
    pub digest: String,
    /// The day (`YYYYMMDD`) and number of its id, when known: ids the log
    /// holds are never issued again.
    pub day_seq: Option<(i64, i64)>,
}

impl Leaf {
    /// The leaf data of SPEC §10: `<commit, 40 lowercase hex> <digest>`.
    pub fn data(&self) -> String {
        format!("{} {}", self.commit, self.digest)
    }
}

/// An indexed atom not yet in the log.
#[derive(Debug, Clone)]
pub struct PendingAtom {
    /// Its row number.
    pub n: i64,
    /// The leaf it becomes.
    pub leaf: Leaf,
}

impl From<tlog::ProofError<IndexError>> for IndexError {
    fn from(e: tlog::ProofError<IndexError>) -> Self {
        match e {
            tlog::ProofError::Read(e) => e,
            other => IndexError::Unusable(format!("the log: {other}")),
        }
    }
}

impl HashReader for Index {
    type Error = IndexError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM log_hash WHERE id = ?1")?;
        indexes
            .iter()
            .map(|&i| {
                let bytes: Option<Vec<u8>> = stmt.query_row([i as i64], |r| r.get(0)).optional()?;
                bytes
                    .and_then(|b| Hash::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        IndexError::Unusable(format!("the log's stored hash {i} is missing"))
                    })
            })
            .collect()
    }
}

impl Index {
    /// How many leaves the log has.
    pub fn log_size(&self) -> Result<u64, IndexError> {
        let n: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(leaf) + 1 FROM log_leaf")?
            .query_row([], |r| r.get(0))?;
        Ok(n.unwrap_or(0) as u64)
    }

    /// Append `leaf` as leaf number [`Index::log_size`], storing the hashes it
    /// completes. Returns its number; `None`, appending nothing, when the
    /// log holds that commit already (a log lists each atom once).
    pub fn append_leaf(&self, leaf: &Leaf) -> Result<Option<u64>, IndexError> {
        if self.leaf_of(&leaf.commit)?.is_some() {
            return Ok(None);
        }
        let n = self.log_size()?;
        let hashes = tlog::stored_hashes_for_record_hash(
            n,
            tlog::record_hash(leaf.data().as_bytes()),
            self,
        )?;
        let first = tlog::stored_hash_index(0, n);
        let mut put = self
            .conn
            .prepare_cached("INSERT INTO log_hash (id, hash) VALUES (?1, ?2)")?;
        for (i, h) in hashes.iter().enumerate() {
            put.execute(rusqlite::params![(first + i as u64) as i64, &h[..]])?;
        }
        let (day, seq) = leaf.day_seq.unzip();
        self.conn
            .prepare_cached(
                "INSERT INTO log_leaf (leaf, commit_id, digest, day, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(rusqlite::params![
                n as i64,
                leaf.commit.as_slice(),
                leaf.digest,
                day,
                seq
            ])?;
        Ok(Some(n))
    }

    /// The leaf number of `commit`, if the log holds it.
    pub fn leaf_of(&self, commit: &ObjectId) -> Result<Option<u64>, IndexError> {
        let n: Option<i64> = self
            .conn
            .prepare_cached("SELECT leaf FROM log_leaf WHERE commit_id = ?1")?
            .query_row([commit.as_slice()], |r| r.get(0))
            .optional()?;
        Ok(n.map(|n| n as u64))
    }

    /// Leaf `n`.
    pub fn leaf(&self, n: u64) -> Result<Option<Leaf>, IndexError> {
        self.conn
            .prepare_cached("SELECT commit_id, digest, day, seq FROM log_leaf WHERE leaf = ?1")?
            .query_row([n as i64], leaf_row)
            .optional()?
            .transpose()
    }

    /// Leaves `from..` in order, at most `limit`.
    pub fn leaves(&self, from: u64, limit: usize) -> Result<Vec<(u64, Leaf)>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT commit_id, digest, day, seq, leaf FROM log_leaf WHERE leaf >= ?1 ORDER BY leaf LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![from as i64, limit as i64], |r| {
            Ok((r.get::<_, i64>(4)? as u64, leaf_row(r)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (n, leaf) = row?;
            out.push((n, leaf?));
        }
        Ok(out)
    }

    /// The root hash of the log's first `size` leaves.
    pub fn log_root(&self, size: u64) -> Result<Hash, IndexError> {
        Ok(tlog::tree_hash(size, self)?)
    }

    /// The highest sequence number of `day` the log holds (atoms it holds
    /// may be gone from every trail; their ids stay taken).
    pub fn last_logged_seq(&self, day: i64) -> Result<u32, IndexError> {
        let n: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(seq) FROM log_leaf WHERE day = ?1")?
            .query_row([day], |r| r.get(0))?;
        Ok(n.unwrap_or(0) as u32)
    }

    /// Whether the log holds an atom numbered `seq` on `day` (`YYYYMMDD`):
    /// then that number is taken, whatever trail still reaches it.
    pub fn logged_number(&self, day: i64, seq: i64) -> Result<bool, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM log_leaf WHERE day = ?1 AND seq = ?2")?
            .query_row([day, seq], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Indexed atoms the log does not hold yet, in the order they were
    /// indexed, at most `limit`.
    pub fn pending_atoms(&self, limit: usize) -> Result<Vec<PendingAtom>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.n, a.commit_id, a.record ->> '$.digest', a.day, a.seq
             FROM log_pending p JOIN atom a ON a.n = p.n ORDER BY p.n LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (n, commit, digest, day, seq) = row?;
            let commit = ObjectId::try_from(commit.as_slice())
                .map_err(|_| IndexError::Unusable("a commit id is malformed".into()))?;
            out.push(PendingAtom {
                n,
                leaf: Leaf {
                    commit,
                    digest,
                    day_seq: Some((day, seq)),
                },
            });
        }
        Ok(out)
    }

    /// Take atom `n` off the queue of atoms to log.
    pub fn unqueue(&self, n: i64) -> Result<(), IndexError> {
        self.conn
            .prepare_cached("DELETE FROM log_pending WHERE n = ?1")?
            .execute([n])?;
        Ok(())
    }

    /// Take every queued atom the log holds already off the queue (after
    /// a rebuild, which queues every atom).
    pub fn unqueue_logged(&self) -> Result<(), IndexError> {
        self.conn.execute(
            "DELETE FROM log_pending WHERE n IN
               (SELECT a.n FROM log_pending p JOIN atom a ON a.n = p.n
                JOIN log_leaf l ON l.commit_id = a.commit_id)",
            [],
        )?;
        Ok(())
    }

    /// How many indexed atoms the log does not hold yet.
    pub fn pending_count(&self) -> Result<u64, IndexError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM log_pending")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// A value of the log's state (`tip`: the log commit the rows reflect;
    /// `checkpoint`: its signed checkpoint).
    pub fn log_state(&self, key: &str) -> Result<Option<String>, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT v FROM log_state WHERE k = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Set (or with `None` clear) a value of the log's state.
    pub fn set_log_state(&self, key: &str, value: Option<&str>) -> Result<(), IndexError> {
        match value {
            Some(v) => self
                .conn
                .prepare_cached(
                    "INSERT INTO log_state (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                )?
                .execute([key, v])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM log_state WHERE k = ?1")?
                .execute([key])?,
        };
        Ok(())
    }

    /// Forget the log's rows (before they are derived again from git).
    pub fn reset_log(&self) -> Result<(), IndexError> {
        self.conn.execute_batch(
            "DELETE FROM log_leaf; DELETE FROM log_hash; DELETE FROM log_state WHERE k <> 'high';
             INSERT INTO log_pending (n) SELECT n FROM atom WHERE true
               ON CONFLICT (n) DO NOTHING;",
        )?;
        Ok(())
    }

    /// Remember the largest log this index has seen (`high`: size and
    /// root, base64), so that a log rewound behind it is seen after a
    /// rebuild of the log's rows.
    pub fn raise_high_water(&self) -> Result<(), IndexError> {
        let size = self.log_size()?;
        if self.high_water()?.is_some_and(|(s, _)| s >= size) || size == 0 {
            return Ok(());
        }
        use base64::Engine as _;
        let root = base64::engine::general_purpose::STANDARD.encode(self.log_root(size)?);
        self.set_log_state("high", Some(&format!("{size} {root}")))
    }

    /// The largest log this index has seen: its size and root.
    pub fn high_water(&self) -> Result<Option<(u64, Hash)>, IndexError> {
        use base64::Engine as _;
        Ok(self.log_state("high")?.and_then(|v| {
            let (size, root) = v.split_once(' ')?;
            let root = base64::engine::general_purpose::STANDARD
                .decode(root)
                .ok()?;
            Some((size.parse().ok()?, Hash::try_from(root.as_slice()).ok()?))
        }))
    }

    /// The log commit the log's rows reflect.
    pub fn log_tip(&self) -> Result<Option<ObjectId>, IndexError> {
        Ok(self
            .log_state("tip")?
            .and_then(|t| ObjectId::from_hex(t.as_bytes()).ok()))
    }

    /// Derive the log's rows from the commits of `refs/atom/log` the index
    /// has not seen; from the whole chain again when it no longer contains
    /// the one seen last (rewritten). Returns what was wrong, if anything:
    /// the rows then stop at the last commit that reads.
    pub(crate) fn catch_up_log(&self, git: &GitStore) -> Result<Option<String>, IndexError> {
        let known = self.log_tip()?;
        let Some(tip) = git.ref_target(LOG_REF)? else {
            return Ok(known.map(|k| {
                format!("{LOG_REF} is gone (it was at {k}); the next append continues the log from there")
            }));
        };
        if Some(tip) == known {
            return Ok(None);
        }
        let mut problem = None;
        let (chain, met) = match git.log_chain(tip, known) {
            Ok(c) => c,
            Err(e) => return Ok(Some(format!("{LOG_REF} does not read: {e}"))),
        };
        if let (Some(known), false) = (known, met) {
            problem = Some(format!(
                "{LOG_REF} was rewritten: it no longer contains {known}, the log commit this store saw last"
            ));
            self.reset_log()?;
        }
        for c in chain {
            let commit = match git.read_log_commit(c) {
                Ok(lc) => lc,
                Err(e) => return Ok(Some(format!("log commit {c} does not read: {e}"))),
            };
            for line in &commit.leaves {
                let Some(mut leaf) = parse_leaf(line) else {
                    return Ok(Some(format!(
                        "log commit {c} holds a malformed leaf {line:?}"
                    )));
                };
                leaf.day_seq = self.day_seq_of(git, &leaf.commit)?;
                if self.append_leaf(&leaf)?.is_none() {
                    return Ok(Some(format!(
                        "log commit {c} lists commit {} a second time",
                        leaf.commit
                    )));
                }
            }
            self.set_log_state("checkpoint", Some(&commit.checkpoint))?;
            self.set_log_state("tip", Some(&c.to_string()))?;
            self.raise_high_water()?;
        }
        self.unqueue_logged()?;
        Ok(problem)
    }

    /// The day and number of the id of the atom at `commit`: from its row,
    /// else from git when the commit still reads.
    fn day_seq_of(
        &self,
        git: &GitStore,
        commit: &ObjectId,
    ) -> Result<Option<(i64, i64)>, IndexError> {
        let row: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT day, seq FROM atom WHERE commit_id = ?1")?
            .query_row([commit.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if row.is_some() {
            return Ok(row);
        }
        Ok(git.read_atom(*commit).ok().and_then(|s| {
            let id = &s.record.atom_id;
            let day: i64 = id.date().format("%Y%m%d").to_string().parse().ok()?;
            Some((day, i64::from(id.seq())))
        }))
    }

    /// Whether the index holds `commit` as an atom (reached by a trail or an
    /// archive).
    pub fn holds(&self, commit: &ObjectId) -> Result<bool, IndexError> {
        Ok(self.number_of(commit)?.is_some())
    }
}

/// A leaf's data, `<40 lowercase hex> sha256:<64 lowercase hex>`, strictly.
pub fn parse_leaf(line: &str) -> Option<Leaf> {
    let (commit, digest) = line.split_once(' ')?;
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let d = digest.strip_prefix("sha256:")?;
    if !hex(commit, 40) || !hex(d, 64) {
        return None;
    }
    Some(Leaf {
        commit: ObjectId::from_hex(commit.as_bytes()).ok()?,
        digest: digest.to_owned(),
        day_seq: None,
    })
}

fn leaf_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Leaf, IndexError>> {
    let commit: Vec<u8> = r.get(0)?;
    let digest: String = r.get(1)?;
    let day: Option<i64> = r.get(2)?;
    let seq: Option<i64> = r.get(3)?;
    Ok(ObjectId::try_from(commit.as_slice())
        .map(|commit| Leaf {
            commit,
            digest,
            day_seq: day.zip(seq),
        })
        .map_err(|_| IndexError::Unusable("a log leaf's commit id is malformed".into())))
}
