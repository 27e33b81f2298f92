//! Reads over the index: log filters, id lookups, links.

use gix::ObjectId;
use rusqlite::{params, params_from_iter, OptionalExtension, ToSql};

use super::{Index, IndexError};
use crate::model::{Atom, AtomId};

/// Which atoms a log covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The atoms of one trail (or archive ref, named `archive/...`).
    Trail(String),
    /// Every atom reachable from any trail or archive ref.
    All,
    /// Exactly these commits (the ancestors of a revision).
    Commits(Vec<ObjectId>),
}

/// `atom log` filters; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// TYPE.
    pub atom_type: Option<String>,
    /// Agent name.
    pub agent: Option<String>,
    /// Operation.
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
}

impl Index {
    /// Atoms in `scope` matching `filter`, newest first (children before
    /// parents, then by time).
    pub fn log(&self, scope: &Scope, filter: &Filter) -> Result<Vec<(ObjectId, Atom)>, IndexError> {
        let mut sql = String::from("SELECT a.commit_id, a.record FROM atoms a WHERE 1=1");
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        match scope {
            Scope::All => {}
            Scope::Trail(t) => {
                sql.push_str(
                    " AND a.commit_id IN (SELECT commit_id FROM trail_atoms WHERE trail = ?)",
                );
                args.push(Box::new(t.clone()));
            }
            Scope::Commits(commits) => {
                self.conn.execute_batch(
                    "CREATE TEMP TABLE IF NOT EXISTS scope(commit_id TEXT PRIMARY KEY) WITHOUT ROWID; DELETE FROM scope;",
                )?;
                let mut ins = self
                    .conn
                    .prepare_cached("INSERT OR IGNORE INTO scope VALUES (?1)")?;
                for c in commits {
                    ins.execute([c.to_string()])?;
                }
                sql.push_str(" AND a.commit_id IN (SELECT commit_id FROM scope)");
            }
        }
        let mut eq = |column: &str, value: &Option<String>| {
            if let Some(v) = value {
                sql.push_str(&format!(" AND a.{column} = ?"));
                args.push(Box::new(v.clone()));
            }
        };
        eq("type", &filter.atom_type);
        eq("agent", &filter.agent);
        eq("operation", &filter.operation);
        eq("project", &filter.project);
        if let Some(p) = &filter.path {
            sql.push_str(" AND a.commit_id IN (SELECT commit_id FROM paths WHERE path = ?)");
            args.push(Box::new(p.clone()));
        }
        if let Some(s) = &filter.since {
            sql.push_str(" AND a.timestamp >= ?");
            args.push(Box::new(s.clone()));
        }
        if let Some(u) = &filter.until {
            sql.push_str(" AND a.timestamp < ?");
            args.push(Box::new(u.clone()));
        }
        if let Some(g) = &filter.grep {
            sql.push_str(
                " AND (instr(lower(a.summary), lower(?)) OR instr(lower(a.operation), lower(?)) OR instr(lower(a.metadata), lower(?)))",
            );
            for _ in 0..3 {
                args.push(Box::new(g.clone()));
            }
        }
        sql.push_str(" ORDER BY a.generation DESC, a.timestamp DESC, a.rowid DESC");
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter().map(|a| a.as_ref())), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (commit, record) = row?;
            out.push((parse_oid(&commit)?, serde_json::from_str(&record)?));
        }
        Ok(out)
    }

    /// Commits holding an atom with this id (several only after a merge of devices).
    pub fn commits_of(&self, id: &AtomId) -> Result<Vec<ObjectId>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT commit_id FROM atoms WHERE atom_id = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| parse_oid(&r?)).collect()
    }

    /// The highest sequence number taken on `day` (`YYYYMMDD`) anywhere in the store.
    pub fn last_seq(&self, day: &str) -> Result<u32, IndexError> {
        let n: Option<u32> = self
            .conn
            .query_row("SELECT max(seq) FROM atoms WHERE day = ?1", [day], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        Ok(n.unwrap_or(0))
    }

    /// Every atom id in the store (once each), for bulk checks.
    pub fn atom_ids(&self) -> Result<Vec<String>, IndexError> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT atom_id FROM atoms")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ids of atoms that list `id` in their `influenced_by`.
    pub fn influenced(&self, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        self.linked_ids(
            "SELECT DISTINCT atom_id FROM influences WHERE influenced_by = ?1 ORDER BY atom_id",
            id,
        )
    }

    /// The ids an atom lists in `influenced_by`.
    pub fn influences_of(&self, id: &AtomId) -> Result<Vec<AtomId>, IndexError> {
        self.linked_ids(
            "SELECT DISTINCT influenced_by FROM influences WHERE atom_id = ?1 ORDER BY influenced_by",
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
            .query_row(
                "SELECT 1 FROM atoms WHERE atom_id = ?1 LIMIT 1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Full-text search over summary and metadata: `(commit, snippet)` of
    /// the best matches first (bm25). `fts` is an FTS5 query, see [`fts_query`].
    pub fn search(
        &self,
        fts: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(ObjectId, String)>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.commit_id, snippet(atoms_fts, -1, '[', ']', '…', 12)
             FROM atoms_fts JOIN atoms a ON a.rowid = atoms_fts.rowid
             WHERE atoms_fts MATCH ?1
             ORDER BY bm25(atoms_fts), a.timestamp DESC, a.rowid DESC
             LIMIT ?2",
        )?;
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = stmt.query_map(params![fts, limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (commit, snippet) = row?;
            out.push((parse_oid(&commit)?, snippet));
        }
        Ok(out)
    }

    /// Every table's rows in a stable order, for comparing two indexes.
    pub fn dump(&self) -> Result<Vec<String>, IndexError> {
        let mut out = Vec::new();
        for (table, order) in [
            ("atoms", "commit_id"),
            ("trail_atoms", "trail, commit_id"),
            ("influences", "commit_id, influenced_by"),
            ("paths", "commit_id, path"),
            ("parents", "commit_id, position"),
            ("refs_seen", "name"),
        ] {
            let columns = if table == "atoms" {
                "commit_id, atom_id, type, operation, agent, timestamp, project, summary, token_cost, digest, previous_atom, metadata, day, seq, generation, record"
            } else {
                "*"
            };
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT {columns} FROM {table} ORDER BY {order}"))?;
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

fn parse_oid(hex: &str) -> Result<ObjectId, IndexError> {
    ObjectId::from_hex(hex.as_bytes())
        .map_err(|e| IndexError::Unusable(format!("bad commit id {hex:?} in index: {e}")))
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
