//! `atom stats`: atom counts and token cost grouped by one column.
//!
//! Counts cover every atom the index holds (every trail and archived tip):
//! tokens spent on rolled-back work were still spent.

use serde::Serialize;

use super::{Index, IndexError, Scope};

/// What `atom stats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    /// The agent.
    Agent,
    /// The TYPE.
    Type,
    /// The UTC day of the timestamp, `YYYY-MM-DD`.
    Day,
    /// The project (`None` for atoms without one).
    Project,
}

/// One group; serialized as `atom stats --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    /// The agent, type, day or project; `None` only for atoms without a project.
    pub key: Option<String>,
    /// How many atoms.
    pub atoms: u64,
    /// Their summed `token_cost` (atoms without one count 0).
    pub token_cost: u64,
}

impl Index {
    /// Counts and token cost per group: days oldest first, other keys by
    /// count, highest first. Read from totals kept as atoms come and go.
    pub fn stats(&self, by: StatsBy) -> Result<Vec<StatsRow>, IndexError> {
        let (dim, order) = match by {
            StatsBy::Agent => ("agent", "atoms DESC, key"),
            StatsBy::Type => ("type", "atoms DESC, key"),
            StatsBy::Day => ("day", "key"),
            StatsBy::Project => ("project", "atoms DESC, typeof(key) = 'blob' DESC, key"),
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT CASE WHEN typeof(key) = 'text' THEN key END, atoms, tokens
             FROM stat WHERE dim = ?1 ORDER BY {order}"
        ))?;
        let rows = stmt.query_map([dim], |r| {
            Ok(StatsRow {
                key: r.get(0)?,
                atoms: r.get::<_, i64>(1)? as u64,
                token_cost: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// [`Index::stats`] of the atoms of `scope` whose time (Unix seconds)
    /// is in `[since, until)`: counted over the matching atoms, O(log n + k).
    pub fn stats_in(
        &self,
        by: StatsBy,
        scope: &Scope,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<StatsRow>, IndexError> {
        let (key, order) = match by {
            StatsBy::Agent => ("a.agent", "atoms DESC, key"),
            StatsBy::Type => ("a.type", "atoms DESC, key"),
            StatsBy::Day => ("date(a.ts, 'unixepoch')", "key"),
            StatsBy::Project => ("a.project", "atoms DESC, key IS NULL DESC, key"),
        };
        let mut sql = "FROM atom a WHERE 1=1".to_owned();
        if !self.restrict_to(scope, &mut sql)? {
            return Ok(Vec::new());
        }
        sql.push_str(" AND a.ts >= ?1 AND a.ts < ?2");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {key} AS key, count(*) AS atoms, sum(coalesce(a.token_cost, 0)) {sql}
             GROUP BY 1 ORDER BY {order}"
        ))?;
        let rows = stmt.query_map(
            rusqlite::params![since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)],
            |r| {
                Ok(StatsRow {
                    key: r.get(0)?,
                    atoms: r.get::<_, i64>(1)? as u64,
                    token_cost: r.get::<_, i64>(2)?.max(0) as u64,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
