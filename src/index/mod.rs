//! The SQLite index: a derived cache of every atom reachable from a trail or
//! archive ref, for fast queries (SPEC §4).
//!
//! Git is the source of truth. The index records which ref tips it reflects
//! (`refs_seen`) and catches up incrementally whenever refs moved, however
//! they moved. An index file that is missing, unreadable, corrupt or of an
//! unknown schema is deleted and rebuilt from git, with a notice: never an
//! error, never a wrong answer.

mod catchup;
mod query;
mod sql;
mod stats;
mod trace;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use catchup::{trail_name, CatchUp, ARCHIVE_PREFIX};
pub use query::{fts_query, Filter, Scope};
pub use sql::{read_only_query, QueryError, SqlRows, SqlValue};
pub use stats::{StatsBy, StatsRow};
pub use trace::{Trace, TraceNode};

use crate::store::StoreError;

/// The schema migrations, in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[include_str!("../../schema/001_index.sql")];

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// SQLite failed.
    #[error("index: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading git failed while catching up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index file cannot be used even after recreating it.
    #[error("index: {0}")]
    Unusable(String),
    /// A record in the index does not parse (the index is damaged).
    #[error("index: a stored record does not parse: {0}")]
    Record(#[from] serde_json::Error),
}

/// The opened index.
pub struct Index {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Index {
    /// Open (or create) the index at `path`. A file that cannot serve as the
    /// index is replaced by an empty one; the returned notice says why.
    pub fn open(path: &Path) -> Result<(Self, Option<String>), IndexError> {
        match Self::try_open(path) {
            Ok(index) => Ok((index, None)),
            Err(reason) => {
                remove_index_files(path);
                let index = Self::try_open(path)?;
                Ok((
                    index,
                    Some(format!(
                        "index {} was {reason}; rebuilding it from git",
                        path.display()
                    )),
                ))
            }
        }
    }

    /// An empty index in memory (for `reindex --check`).
    pub fn in_memory() -> Result<Self, IndexError> {
        let conn = Connection::open_in_memory()?;
        let mut index = Index { conn, path: None };
        index.migrate().map_err(IndexError::from)?;
        Ok(index)
    }

    /// Delete the index file and start over (after a corruption was detected mid-query).
    pub fn reset(&mut self) -> Result<(), IndexError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let fresh = Connection::open_in_memory()?;
        drop(std::mem::replace(&mut self.conn, fresh));
        remove_index_files(&path);
        *self = Self::open(&path)?.0;
        Ok(())
    }

    fn try_open(path: &Path) -> Result<Self, OpenFailure> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Creating the file (the switch to WAL, the first WAL header, the
        // schema) runs unsynced: the index is a cache, and one lost in a
        // crash is rebuilt. Appends then commit with `NORMAL`, unsynced too.
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Up to 64 MiB of pages in memory (SQLite's default is 2 MiB): a large
        // catch-up otherwise spills its transaction to the WAL page by page.
        conn.pragma_update(None, "cache_size", -65536)?;
        // The first connection of every process reads the whole WAL to rebuild
        // its shared-memory index, and after that rebuild SQLite counts every
        // frame as not yet checkpointed, so the WAL is never restarted and only
        // grows (4 MiB after ~80 appends: ~3.5 ms more per command, and each
        // automatic checkpoint copying all of it again). Past 1 MiB, fold it
        // into the database and truncate it; a busy reader only postpones that.
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 1 << 20) {
            // A truncating checkpoint waits for readers: give it a moment only.
            conn.busy_timeout(std::time::Duration::from_millis(20))?;
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
        }
        // Keep the WAL and its shared-memory file between processes: checkpointing
        // and deleting them on every close, then recreating them on the next open,
        // cost more than the rest of a short command. SQLite's automatic
        // checkpoints still bound the WAL's size.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        let mut index = Index {
            conn,
            path: Some(path.to_owned()),
        };
        index.migrate()?;
        index.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(index)
    }

    fn migrate(&mut self) -> Result<(), OpenFailure> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(OpenFailure::Unusable(format!(
                "written by a newer atom (schema {version}, this one knows {known})"
            )));
        }
        if version > 0 {
            // An existing index: make sure its tables are really there.
            let tables: i64 = self.conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('atoms','trail_atoms','refs_seen')",
                [],
                |r| r.get(0),
            )?;
            if tables != 3 {
                return Err(OpenFailure::Unusable("missing its tables".into()));
            }
        }
        if version == known {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The file, when on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Why an index file could not be used as it is.
#[derive(Debug)]
enum OpenFailure {
    Sqlite(rusqlite::Error),
    Unusable(String),
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        OpenFailure::Sqlite(e)
    }
}

impl From<OpenFailure> for IndexError {
    fn from(e: OpenFailure) -> Self {
        match e {
            OpenFailure::Sqlite(e) => IndexError::Sqlite(e),
            OpenFailure::Unusable(m) => IndexError::Unusable(m),
        }
    }
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::Sqlite(e) => write!(f, "unreadable ({e})"),
            OpenFailure::Unusable(m) => f.write_str(m),
        }
    }
}

/// Whether an error means the index file itself is damaged.
pub fn is_corruption(e: &IndexError) -> bool {
    match e {
        IndexError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
        ),
        IndexError::Record(_) => true,
        _ => false,
    }
}

/// Delete the index file and its WAL and shared-memory files, if present.
pub(crate) fn remove_index_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}
