//! Reads over the index: log filters, id lookups, links, full-text search.
//!
//! Every read is answered from indexed columns in O(log n + k): a log walks
//! an index whose order is the log's order (time, newest first) and stops
//! after k atoms; trail membership is a lookup in the few segment prefixes
//! the trail reaches (see `schema/index.sql`).

use gix::ObjectId;
use rusqlite::{params, params_from_iter, OptionalExtension, ToSql};

use super::write::Reach;
use super::{Index, IndexError};
use crate::model::{Atom, AtomId};

/// Which atoms a log covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The atoms of one trail (or archive ref, named `archive/...`).
    Trail(String),
    /// Every atom reachable from any trail or archive ref.
    All,
    /// The commit and its ancestors.
    Ancestors(ObjectId),
    /// `include` and its ancestors that are not `exclude` or its
    /// ancestors (git's `exclude..include`).
    Range {
        /// What is left out, with its ancestors.
        exclude: ObjectId,
        /// Where the range ends.
        include: ObjectId,
    },
}

/// `atom log` filters; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// TYPE, in any case.
    pub atom_type: Option<String>,
    /// Agent name, ignoring case: `QWEN` matches `qwen` and `Qwen`.
    pub agent: Option<String>,
    /// Operation, in any case.
    pub operation: Option<String>,
    /// A path the atom touched.
    pub path: Option<String>,
    /// Project.
    pub project: Option<String>,
    /// Inclusive lower bound, a record timestamp.
    pub since: Option<String>,
    /// Exclusive upper bound, a record timestamp.
    pub until: Option<String>,
    /// Case-insensitive text in the summary, operation or metadata.
    pub grep: Option<String>,
    /// At most this many atoms.
    pub limit: Option<usize>,
    /// Keyset paging: only atoms listed after this commit in the log's
    /// order (the last atom of the previous page). One index lookup, never
    /// an offset; a commit the index does not hold lists nothing.
    pub after: Option<ObjectId>,
}

/// What the index knows of an atom's signature by itself; whether its key
/// is trusted is decided when it is shown, against the current allowed
/// signers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigState {
    /// Not signed.
    None,
    /// Verifies, by this key (OpenSSH public key text).
    Valid(String),
    /// Does not verify; the key it names, if any.
    Bad(Option<String>),
}

/// One indexed atom.
#[derive(Debug, Clone)]
pub struct IndexRow {
    /// The order in which the store accepted it (parents before children).
    pub n: i64,
    /// The commit.
    pub commit: ObjectId,
    /// Its parents, first parent first.
    pub parents: Vec<ObjectId>,
    /// The record.
    pub record: Atom,
    /// The record's time, Unix seconds.
    pub time: i64,
    /// The signature, by itself.
    pub signature: SigState,
}

const ROW_COLUMNS: &str = "a.n, a.commit_id, a.record, a.sig, a.key, a.ts, a.seg, a.pos, \
     a.atom_id, a.type, a.operation, a.agent, a.project, a.token_cost";

impl Index {
    /// Atoms in `scope` matching `filter`, newest first: along a trail (or
    /// the ancestors of a commit) children before parents, as `git log`
    /// lists a chain; across the whole store by time.
    pub fn log(&self, scope: &Scope, filter: &Filter) -> Result<Vec<IndexRow>, IndexError> {
        let mut sql = format!("SELECT {ROW_COLUMNS} FROM atom a WHERE 1=1");
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        if !self.restrict_to(scope, &mut sql)? {
            return Ok(Vec::new());
        }
        if let Some(agent) = &filter.agent {
            let agents = self.agents_named(agent)?;
            if agents.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND a.agent IN ({})",
                vec!["?"; agents.len()].join(", ")
            ));
            args.extend(agents.into_iter().map(|a| Box::new(a) as Box<dyn ToSql>));
        }
        let mut eq = |column: &str, value: Option<String>| {
            if let Some(v) = value {
                sql.push_str(&format!(" AND a.{column} = ?"));
                args.push(Box::new(v));
            }
        };
        // Types are upper case and operations lower case (SPEC §1): the
        // filter matches them in any case.
        eq(
            "type",
            filter.atom_type.as_ref().map(|t| t.to_ascii_uppercase()),
        );
        eq(
            "operation",
            filter.operation.as_ref().map(|o| o.to_ascii_lowercase()),
        );
        eq("project", filter.project.clone());
        if let Some(p) = &filter.path {
            sql.push_str(" AND a.n IN (SELECT n FROM path WHERE path = ?)");
            args.push(Box::new(p.clone()));
        }
        for (bound, op) in [(&filter.since, ">="), (&filter.until, "<")] {
            if let Some(t) = bound {
                let secs = crate::model::parse_timestamp(t)
                    .map_err(|e| IndexError::Unusable(e.to_string()))?
                    .timestamp();
                sql.push_str(&format!(" AND a.ts {op} ?"));
                args.push(Box::new(secs));
            }
        }
        if let Some(g) = &filter.grep {
            sql.push_str(
                " AND (instr(lower(a.record ->> '$.summary'), lower(?)) OR instr(lower(a.operation), lower(?)) OR instr(lower(a.record -> '$.metadata'), lower(?)))",
            );
            for _ in 0..3 {
                args.push(Box::new(g.clone()));
            }
        }
        if let Some(after) = &filter.after {
            let key: Option<(i64, i64, i64, i64)> = self
                .conn
                .prepare_cached("SELECT n, ts, day, seq FROM atom WHERE commit_id = ?1")?
                .query_row([after.as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((n, ts, day, seq)) = key else {
                return Ok(Vec::new());
            };
            if !matches!(scope, Scope::All) {
                sql.push_str(" AND a.n < ?");
                args.push(Box::new(n));
            } else {
                sql.push_str(" AND (a.ts, a.day, a.seq, a.commit_id) < (?, ?, ?, ?)");
                args.push(Box::new(ts));
                args.push(Box::new(day));
                args.push(Box::new(seq));
                args.push(Box::new(after.as_slice().to_vec()));
            }
        }
        sql.push_str(if !matches!(scope, Scope::All) {
            " ORDER BY a.n DESC"
        } else {
            // Ties (one second) by id, then commit: an order that does not
            // depend on when this index learned of each atom.
            " ORDER BY a.ts DESC, a.day DESC, a.seq DESC, a.commit_id DESC"
        });
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter().map(|a| a.as_ref())), raw_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.finish_row(row?)?);
        }
        Ok(out)
    }

    /// The agents of the store whose names equal `name` ignoring case
    /// (Unicode lower case), as stored. Read from the per-agent counts: one
    /// row per distinct agent, not per atom.
    fn agents_named(&self, name: &str) -> Result<Vec<String>, IndexError> {
        let wanted = name.to_lowercase();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key FROM stat WHERE dim = 'agent' AND atoms > 0")?;
        let keys = stmt.query_map([], |r| r.get::<_, rusqlite::types::Value>(0))?;
        let mut out = Vec::new();
        for key in keys {
            if let rusqlite::types::Value::Text(agent) = key? {
                if agent.to_lowercase() == wanted {
                    out.push(agent);
                }
            }
        }
        Ok(out)
    }

    /// Restrict `sql` (a query over `atom a` with a WHERE clause) to the
    /// atoms of `scope`; false when there are none.
    pub(super) fn restrict_to(&self, scope: &Scope, sql: &mut String) -> Result<bool, IndexError> {
        let reach_of = |c: &ObjectId| -> Result<Reach, IndexError> {
            match self.number_of(c)? {
                Some(n) => self.reach(n),
                None => Ok(Reach::new()),
            }
        };
        let (reach, excluded) = match scope {
            Scope::All => return Ok(true),
            Scope::Trail(t) => (self.ref_reach(t)?, Reach::new()),
            Scope::Ancestors(c) => (reach_of(c)?, Reach::new()),
            Scope::Range { exclude, include } => (reach_of(include)?, reach_of(exclude)?),
        };
        // Ancestors come before their descendants in the numbering: a walk
        // newest first starts at the tip instead of at the newest atom.
        if let Scope::Ancestors(c) | Scope::Range { include: c, .. } = scope {
            if let Some(n) = self.number_of(c)? {
                sql.push_str(&format!(" AND a.n <= {n}"));
            }
        }
        if !self.load_scope(&reach, &excluded)? {
            return Ok(false);
        }
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM temp.scope s WHERE s.seg = a.seg AND s.max_pos >= a.pos AND s.min_pos < a.pos)",
        );
        Ok(true)
    }

    /// Fill `temp.scope` with the segment slices of `reach` that
    /// `excluded` does not reach; false when there are none.
    fn load_scope(&self, reach: &Reach, excluded: &Reach) -> Result<bool, IndexError> {
        self.conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS scope(seg INTEGER PRIMARY KEY, min_pos INTEGER NOT NULL, max_pos INTEGER NOT NULL);
             DELETE FROM temp.scope;",
        )?;
        let mut ins = self
            .conn
            .prepare_cached("INSERT INTO temp.scope(seg, min_pos, max_pos) VALUES (?1, ?2, ?3)")?;
        let mut any = false;
        for (seg, max) in reach {
            let min = excluded.get(seg).copied().unwrap_or(-1);
            if min < *max {
                ins.execute(params![seg, min, max])?;
                any = true;
            }
        }
        Ok(any)
    }

    /// One atom by commit.
    pub fn row(&self, commit: &ObjectId) -> Result<Option<IndexRow>, IndexError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM atom a WHERE a.commit_id = ?1"
        ))?;
        let raw = stmt.query_row([commit.as_slice()], raw_row).optional()?;
        raw.map(|r| self.finish_row(r)).transpose()
    }

    fn finish_row(&self, raw: RawRow) -> Result<IndexRow, IndexError> {
        let key = |id: Option<i64>| -> Result<Option<String>, IndexError> {
            id.map(|id| {
                self.conn
                    .prepare_cached("SELECT key FROM signer_key WHERE id = ?1")?
                    .query_row([id], |r| r.get::<_, String>(0))
                    .map_err(IndexError::from)
            })
            .transpose()
        };
        let signature = match raw.sig {
            0 => SigState::None,
            1 => SigState::Valid(key(raw.key)?.unwrap_or_default()),
            _ => SigState::Bad(key(raw.key)?),
        };
        Ok(IndexRow {
            n: raw.n,
            commit: oid(&raw.commit)?,
            parents: self.parents(raw.seg, raw.pos)?,
            record: raw.record()?,
            time: raw.ts,
            signature,
        })
    }

    /// The parent commits of the atom at (seg, pos), first parent first.
    fn parents(&self, seg: i64, pos: i64) -> Result<Vec<ObjectId>, IndexError> {
        let first: Option<Vec<u8>> = if pos > 0 {
            self.conn
                .prepare_cached("SELECT commit_id FROM atom WHERE seg = ?1 AND pos = ?2")?
                .query_row(params![seg, pos - 1], |r| r.get(0))
                .optional()?
        } else {
            self.conn
                .prepare_cached(
                    "SELECT a.commit_id FROM segment s JOIN atom a ON a.n = s.parent WHERE s.seg = ?1",
                )?
                .query_row([seg], |r| r.get(0))
                .optional()?
        };
        let mut out = Vec::new();
        if let Some(c) = first {
            out.push(oid(&c)?);
            let mut stmt = self.conn.prepare_cached(
                "SELECT a.commit_id FROM merge_parent m JOIN atom a ON a.n = m.parent
                 WHERE m.seg = ?1 AND m.pos = ?2 ORDER BY m.idx",
            )?;
            let rows = stmt.query_map(params![seg, pos], |r| r.get::<_, Vec<u8>>(0))?;
            for r in rows {
                out.push(oid(&r?)?);
            }
        }
        Ok(out)
    }

    /// The commit `steps` first parents back from `commit` (git's `~N`):
    /// `Ok(None)` when the chain is shorter, or `commit` is not indexed.
    /// A jump within a segment is one lookup, so the cost grows with the
    /// segments crossed, not with `steps`.
    pub fn first_parent_back(
        &self,
        commit: &ObjectId,
        steps: usize,
    ) -> Result<Option<ObjectId>, IndexError> {
        let Some(n) = self.number_of(commit)? else {
            return Ok(None);
        };
        let (mut seg, mut pos) = self.position(n)?;
        let mut left = i64::try_from(steps).unwrap_or(i64::MAX);
        while left > pos {
            left -= pos + 1;
            let parent: Option<i64> = self
                .conn
                .prepare_cached("SELECT parent FROM segment WHERE seg = ?1")?
                .query_row([seg], |r| r.get(0))
                .optional()?
                .flatten();
            let Some(parent) = parent else {
                return Ok(None);
            };
            (seg, pos) = self.position(parent)?;
        }
        let found: Vec<u8> = self
            .conn
            .prepare_cached("SELECT commit_id FROM atom WHERE seg = ?1 AND pos = ?2")?
            .query_row(params![seg, pos - left], |r| r.get(0))?;
        Ok(Some(oid(&found)?))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(
        &self,
        ancestor: &ObjectId,
        descendant: &ObjectId,
    ) -> Result<bool, IndexError> {
        let (Some(a), Some(d)) = (self.number_of(ancestor)?, self.number_of(descendant)?) else {
            return Ok(false);
        };
        let (seg, pos) = self.position(a)?;
        Ok(self.reach(d)?.get(&seg).is_some_and(|m| *m >= pos))
    }

    /// The atoms `tip` reaches that `base` does not (both included in the
    /// count as git's `base..tip`), newest first.
    pub fn only_in(&self, base: &ObjectId, tip: &ObjectId) -> Result<Vec<IndexRow>, IndexError> {
        let (Some(b), Some(t)) = (self.number_of(base)?, self.number_of(tip)?) else {
            return Ok(Vec::new());
        };
        let kept = self.reach(b)?;
        let all = self.reach(t)?;
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM atom a WHERE a.seg = ?1 AND a.pos > ?2 AND a.pos <= ?3"
        ))?;
        for (seg, max) in &all {
            let from = kept.get(seg).copied().unwrap_or(-1);
            if from >= *max {
                continue;
            }
            let rows = stmt.query_map(params![seg, from, max], raw_row)?;
            for r in rows {
                out.push(self.finish_row(r?)?);
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.n));
        Ok(out)
    }

    /// The atoms some of `tips` reach and none of `known` does, parents
    /// first (commits the index does not hold are skipped). Linear in the
    /// segments reached and the atoms returned.
    pub fn reached_beyond(
        &self,
        known: &[ObjectId],
        tips: &[ObjectId],
    ) -> Result<Vec<ObjectId>, IndexError> {
        let union = |commits: &[ObjectId]| -> Result<Reach, IndexError> {
            let mut all = Reach::new();
            for c in commits {
                if let Some(n) = self.number_of(c)? {
                    for (seg, max) in self.reach(n)? {
                        let e = all.entry(seg).or_insert(max);
                        *e = (*e).max(max);
                    }
                }
            }
            Ok(all)
        };
        let (base, wanted) = (union(known)?, union(tips)?);
        let mut stmt = self.conn.prepare_cached(
            "SELECT n, commit_id FROM atom WHERE seg = ?1 AND pos > ?2 AND pos <= ?3",
        )?;
        let mut out: Vec<(i64, ObjectId)> = Vec::new();
        for (seg, max) in &wanted {
            let from = base.get(seg).copied().unwrap_or(-1);
            if from >= *max {
                continue;
            }
            let rows = stmt.query_map(params![seg, from, max], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for r in rows {
                let (n, c) = r?;
                out.push((n, oid(&c)?));
            }
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out.into_iter().map(|(_, c)| c).collect())
    }

    /// How many atoms the trail or archive `trail` reaches.
    pub fn trail_len(&self, trail: &str) -> Result<u64, IndexError> {
        Ok(self
            .ref_reach(trail)?
            .values()
            .map(|m| (*m + 1) as u64)
            .sum())
    }

    /// Commits holding an atom with this id (several only after a merge of devices).
    pub fn commits_of(&self, id: &AtomId) -> Result<Vec<ObjectId>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT commit_id FROM atom WHERE atom_id = ?1 ORDER BY n")?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| oid(&r?)).collect()
    }

    /// Ids of the atoms numbered like `id` (its day and sequence number,
    /// any TYPE), each once: what a mistyped TYPE most likely meant. One
    /// lookup in the `(day, seq)` index.
    pub fn same_number(&self, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        let day: i64 = id
            .date()
            .format("%Y%m%d")
            .to_string()
            .parse()
            .expect("YYYYMMDD is a number");
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT atom_id FROM atom WHERE day = ?1 AND seq = ?2 ORDER BY atom_id",
        )?;
        let rows = stmt.query_map(params![day, id.seq()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(id) = r?.parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The highest sequence number of `day` (`YYYYMMDD`) among the atoms
    /// trail `trail` reaches (0 when none).
    pub fn trail_day_max(&self, trail: &str, day: &str) -> Result<u32, IndexError> {
        let day: i64 = day.parse().unwrap_or(0);
        let n: Option<u32> = self
            .conn
            .prepare_cached(
                "SELECT max(a.seq) FROM atom a JOIN trail_range r ON r.seg = a.seg AND a.pos <= r.max_pos
                 WHERE r.trail = ?1 AND a.day = ?2",
            )?
            .query_row(rusqlite::params![trail, day], |r| r.get(0))?;
        Ok(n.unwrap_or(0))
    }

    /// The highest sequence number taken on `day` (`YYYYMMDD`) anywhere in the store.
    pub fn last_seq(&self, day: &str) -> Result<u32, IndexError> {
        let day: i64 = day.parse().unwrap_or(0);
        let n: Option<u32> = self
            .conn
            .prepare_cached(
                "SELECT max(coalesce((SELECT max(seq) FROM atom WHERE day = ?1), 0),
                            coalesce((SELECT max(seq) FROM log_leaf WHERE day = ?1), 0))",
            )?
            .query_row([day], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(n.unwrap_or(0))
    }

    /// Ids of atoms that list `id` in their `influenced_by`.
    pub fn influenced(&self, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        self.linked_ids(
            "SELECT DISTINCT a.atom_id FROM influence i JOIN atom a ON a.n = i.n WHERE i.by = ?1 ORDER BY a.atom_id",
            id,
        )
    }

    /// The ids an atom lists in `influenced_by`.
    pub fn influences_of(&self, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        self.linked_ids(
            "SELECT DISTINCT i.by FROM atom a JOIN influence i ON i.n = a.n WHERE a.atom_id = ?1 ORDER BY i.by",
            id,
        )
    }

    /// The ids `sql` (one column, one `?1` bound to `id`) returns; unparsable ones are skipped.
    fn linked_ids(&self, sql: &str, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(id) = r?.parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Whether an atom with this id is in the store.
    pub fn contains(&self, id: &AtomId) -> Result<bool, IndexError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM atom WHERE atom_id = ?1 LIMIT 1")?
            .exists([id.to_string()])?)
    }

    /// The id of an atom whose `metadata.source` is `{tool, table, id}`
    /// (`table` may be absent: `None`), staged atoms included; one index
    /// lookup (`atom_source`).
    pub fn by_source(
        &self,
        tool: &str,
        table: Option<&str>,
        id: &rusqlite::types::Value,
    ) -> Result<Option<String>, IndexError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT atom_id FROM atom
                 WHERE json_extract(record, '$.metadata.source') IS NOT NULL
                   AND json_extract(record, '$.metadata.source.tool') = ?1
                   AND json_extract(record, '$.metadata.source.table') IS ?2
                   AND json_extract(record, '$.metadata.source.id') = ?3
                 LIMIT 1",
            )?
            .query_row(rusqlite::params![tool, table, id], |r| r.get(0))
            .optional()?)
    }

    /// The ids of the COMMIT atoms (from `atom hooks`) whose
    /// `metadata.commit` is one of `shas`, by commit: one pass over the
    /// COMMIT atoms (index `atom_type`), keeping only the matches.
    pub fn commit_atoms(
        &self,
        shas: &std::collections::HashSet<String>,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT atom_id, json_extract(record, '$.metadata.commit') FROM atom
             WHERE type = 'COMMIT' ORDER BY n",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        while let Some(row) = rows.next()? {
            let Ok(sha) = row.get::<_, String>(1) else {
                continue;
            };
            if shas.contains(&sha) {
                let id: String = row.get(0)?;
                let ids = out.entry(sha).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Full-text search over summary and metadata: the newest `limit`
    /// matching atoms with a snippet of where each matched. `fts` is an
    /// FTS5 query, see [`fts_query`].
    pub fn search(
        &self,
        fts: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(IndexRow, String)>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, snippet(atoms_fts, -1, '[', ']', '…', 12) FROM atoms_fts
             WHERE atoms_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
        )?;
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let hits = stmt
            .query_map(params![fts, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut row = self
            .conn
            .prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM atom a WHERE a.n = ?1"))?;
        let mut out = Vec::with_capacity(hits.len());
        for (n, snippet) in hits {
            let raw = row.query_row([n], raw_row)?;
            out.push((self.finish_row(raw)?, snippet));
        }
        Ok(out)
    }

    /// Every atom, ref and link in a stable order, for comparing two indexes
    /// (row numbers and segment numbering left out: they depend on the order
    /// atoms arrived in).
    pub fn dump(&self) -> Result<Vec<String>, IndexError> {
        let mut out = Vec::new();
        for (table, sql) in [
            ("atoms", "SELECT * FROM atoms ORDER BY commit_id"),
            ("signature", "SELECT lower(hex(a.commit_id)), a.sig, k.key FROM atom a LEFT JOIN signer_key k ON k.id = a.key ORDER BY 1"),
            ("trail_atoms", "SELECT * FROM trail_atoms ORDER BY trail, commit_id"),
            ("influences", "SELECT * FROM influences ORDER BY commit_id, influenced_by"),
            ("paths", "SELECT * FROM paths ORDER BY commit_id, path"),
            ("refs", "SELECT name, lower(hex(commit_id)) FROM ref_tip ORDER BY name"),
            ("stats", "SELECT dim, quote(key), atoms, tokens FROM stat ORDER BY dim, key"),
        ] {
            let mut stmt = self.conn.prepare(sql)?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let mut line = format!("{table}:");
                for i in 0..n {
                    let v: rusqlite::types::Value = row.get(i)?;
                    line.push_str(&format!(" {v:?}"));
                }
                out.push(line);
            }
        }
        let fts: i64 = self
            .conn
            .query_row("SELECT count(*) FROM atoms_fts", [], |r| r.get(0))?;
        out.push(format!("atoms_fts: {fts} rows"));
        Ok(out)
    }
}

/// A row as read, before its key and parents are looked up.
struct RawRow {
    n: i64,
    commit: Vec<u8>,
    record: String,
    sig: i64,
    key: Option<i64>,
    ts: i64,
    seg: i64,
    pos: i64,
    /// The record's fields held as columns, in `COLUMN_FIELDS` order.
    columns: [serde_json::Value; 6],
}

impl RawRow {
    /// The whole record: the stored rest of it plus the column fields.
    fn record(&self) -> Result<Atom, IndexError> {
        let mut value: serde_json::Value = serde_json::from_str(&self.record)?;
        let map = value
            .as_object_mut()
            .ok_or_else(|| IndexError::Unusable("a stored record is not a JSON object".into()))?;
        for (key, v) in super::write::COLUMN_FIELDS.iter().zip(&self.columns) {
            map.insert((*key).to_owned(), v.clone());
        }
        Ok(serde_json::from_value(value)?)
    }
}

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        n: r.get(0)?,
        commit: r.get(1)?,
        record: r.get(2)?,
        sig: r.get(3)?,
        key: r.get(4)?,
        ts: r.get(5)?,
        seg: r.get(6)?,
        pos: r.get(7)?,
        columns: [
            r.get::<_, String>(8)?.into(),
            r.get::<_, String>(9)?.into(),
            r.get::<_, String>(10)?.into(),
            r.get::<_, String>(11)?.into(),
            r.get::<_, Option<String>>(12)?.into(),
            r.get::<_, Option<i64>>(13)?.into(),
        ],
    })
}

fn oid(bytes: &[u8]) -> Result<ObjectId, IndexError> {
    ObjectId::try_from(bytes)
        .map_err(|e| IndexError::Unusable(format!("bad commit id in index: {e}")))
}

/// User text as an FTS5 query that cannot be a syntax error: each
/// whitespace-separated word becomes a quoted phrase (so `gaming.env` and
/// `a-b` match as written), all of them required; a trailing `*` stays a
/// prefix search. `None` when there is no word to search for.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .filter_map(|word| {
            let (word, prefix) = match word.strip_suffix('*') {
                Some(w) if w.chars().any(char::is_alphanumeric) => (w, "*"),
                _ => (word, ""),
            };
            // A word with no letter or digit has no token: it would match nothing.
            word.chars()
                .any(char::is_alphanumeric)
                .then(|| format!("\"{}\"{prefix}", word.replace('"', "\"\"")))
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(fts_query("gaming.env").as_deref(), Some("\"gaming.env\""));
        assert_eq!(
            fts_query(" a-b  say\"hi ").as_deref(),
            Some("\"a-b\" \"say\"\"hi\"")
        );
        assert_eq!(fts_query("deplo*").as_deref(), Some("\"deplo\"*"));
        assert_eq!(fts_query("NOT OR"), Some("\"NOT\" \"OR\"".into()));
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("* - \""), None);
    }
}
