//! The SQLite index: a derived cache of every atom reachable from a trail or
//! archive ref, for fast queries (SPEC §4).
//!
//! Git is the source of truth. The index records which ref tips it reflects
//! (`ref_tip`) and catches up incrementally whenever refs moved, however
//! they moved; the append transaction writes its rows directly. The file is
//! marked as ours (`application_id`) and names the derivation that built it
//! (`user_version`): an index of an older derivation, or one that is
//! damaged, is deleted and rebuilt from git with a notice; an index of a newer
//! derivation, or a file that is not an atom index at all, is refused and
//! left alone; a busy or unreadable file is an error, never a reason to
//! delete it.
//!
//! A store this process cannot write (a read-only mount, another user's
//! store) is read as it is: the index is opened read-only (SQLite's `mode=ro`,
//! or `immutable=1` when its write-ahead log is empty and the `-shm` file
//! cannot be created), and answers as long as it reflects the refs. One that
//! is missing, behind the refs, damaged or outdated cannot be rebuilt there:
//! that is [`IndexError::ReadOnly`], never a reason to touch the file.

mod catchup;
mod log;
mod query;
mod read_only;
mod sql;
mod stats;
mod trace;
mod write;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use catchup::{trail_name, CatchUp, ARCHIVE_PREFIX};
pub use log::{parse_leaf, Leaf, PendingAtom};
pub use query::{fts_query, Filter, IndexRow, Scope, SigState};
pub use sql::{QueryError, SqlRows, SqlValue};
pub use stats::{StatsBy, StatsRow};
pub use trace::{Linked, Trace, TraceEdge, TraceNode, SHORT_SHA};
pub use write::{IndexedAtom, IndexedSignature};

use crate::store::StoreError;

/// The index schema.
const SCHEMA: &str = include_str!("../../schema/index.sql");
/// How long a writer waits for another one.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `PRAGMA application_id` of an atom index: "atom".
const APPLICATION_ID: i64 = 0x6174_6f6d;
/// The derivation this binary builds (`PRAGMA user_version`). Bump it
/// whenever the schema or the meaning of a column changes: older indexes
/// are then rebuilt from git.
const DERIVATION: i64 = 7;

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
    /// The file belongs to something else (a newer atom, another program):
    /// it is left as it is.
    #[error("{path} {reason}")]
    Foreign {
        /// The index file.
        path: PathBuf,
        /// What it is.
        reason: String,
    },
    /// A record in the index does not parse (the index is damaged).
    #[error("index: a stored record does not parse: {0}")]
    Record(#[from] serde_json::Error),
    /// The index cannot be used as it is, and this process cannot write it
    /// (a read-only store): nothing was changed.
    #[error("index {path} {reason}")]
    ReadOnly {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it, and that it cannot be written.
        reason: String,
    },
    /// A trail reaches a commit that is not an atom the index could hold.
    #[error("index: commit {commit} has a parent {parent} that is not an indexed atom")]
    MissingParent {
        /// The commit.
        commit: gix::ObjectId,
        /// Its parent.
        parent: gix::ObjectId,
    },
}

/// How the index file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Read and write (the usual case).
    Write,
    /// Read-only, through SQLite's WAL (`mode=ro`).
    ReadOnly,
    /// Read-only without the WAL (`mode=ro&immutable=1`): the WAL is empty
    /// and its `-shm` file cannot be created.
    Immutable,
}

/// The opened index.
pub struct Index {
    conn: Connection,
    path: Option<PathBuf>,
    access: Access,
    /// `signer_key` ids by key text, and key texts by id.
    keys: RefCell<HashMap<String, i64>>,
}

impl Index {
    /// Open (or create) the index at `path`. A damaged index or one of an
    /// older derivation is replaced by an empty one; the returned notice
    /// says why.
    pub fn open(path: &Path) -> Result<(Self, Option<String>), IndexError> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(IndexError::Foreign {
                path: path.to_owned(),
                reason: "is a symbolic link; atom keeps its index as a plain file".into(),
            });
        }
        match Self::try_open(path) {
            Ok(index) => Ok((index, None)),
            Err(OpenFailure::ReadOnly) => Ok((Self::open_read_only(path)?, None)),
            Err(OpenFailure::Foreign(reason)) => Err(IndexError::Foreign {
                path: path.to_owned(),
                reason,
            }),
            Err(OpenFailure::Sqlite(e)) if !is_damage(&e) => Err(e.into()),
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
        let mut index = Index::with_conn(conn, None, Access::Write);
        index.prepare_schema()?;
        Ok(index)
    }

    fn with_conn(conn: Connection, path: Option<PathBuf>, access: Access) -> Self {
        Index {
            conn,
            path,
            access,
            keys: RefCell::new(HashMap::new()),
        }
    }

    /// Whether this process cannot write the index (a read-only store).
    pub fn is_read_only(&self) -> bool {
        self.access != Access::Write
    }

    /// [`IndexError::ReadOnly`] for this index: `reason`, and it cannot be written.
    pub(crate) fn read_only_error(&self, reason: &str) -> IndexError {
        read_only::read_only_error(
            self.path.as_deref().unwrap_or(Path::new(":memory:")),
            reason,
        )
    }

    /// Delete the index file and start over (after a corruption was detected mid-query).
    pub fn reset(&mut self) -> Result<(), IndexError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        if self.is_read_only() {
            return Err(self.read_only_error("is damaged"));
        }
        let fresh = Connection::open_in_memory()?;
        drop(std::mem::replace(&mut self.conn, fresh));
        remove_index_files(&path);
        *self = Self::open(&path)?.0;
        Ok(())
    }

    /// Open the index for writing; [`OpenFailure::ReadOnly`] when SQLite
    /// could only open it read-only or could not create what it needs.
    fn try_open(path: &Path) -> Result<Self, OpenFailure> {
        match Self::try_open_writable(path) {
            Err(OpenFailure::Sqlite(e)) if is_permission(&e) => Err(OpenFailure::ReadOnly),
            other => other,
        }
    }

    fn try_open_writable(path: &Path) -> Result<Self, OpenFailure> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // SQLite falls back to reading a file it may not write.
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(OpenFailure::ReadOnly);
        }
        conn.busy_timeout(BUSY_WAIT)?;
        // Check what the file is before writing anything to it.
        classify(&conn)?;
        // Creating the file (the switch to WAL, the first WAL header, the
        // schema) runs unsynced: the index is a cache, and one lost in a
        // crash is rebuilt. Appends then commit with `NORMAL`, unsynced too.
        conn.pragma_update(None, "synchronous", "OFF")?;
        // Switching to WAL takes the file for a moment, and SQLite does not
        // wait for that lock: a process creating the index at the same
        // time is answered busy at once. Wait as the busy timeout would.
        let mut waited = std::time::Duration::ZERO;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(e) if is_busy(&e) && waited < BUSY_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    waited += std::time::Duration::from_millis(2);
                }
                r => break r?,
            }
        }
        // Up to 64 MiB of pages in memory (SQLite's default is 2 MiB): a large
        // catch-up otherwise spills its transaction to the WAL page by page.
        conn.pragma_update(None, "cache_size", -65536)?;
        // The first connection of every process reads the whole WAL to rebuild
        // its shared-memory index, and after that rebuild SQLite counts every
        // frame as not yet checkpointed, so the WAL is never restarted and only
        // grows. Past 1 MiB, fold it into the database and truncate it; a busy
        // reader only postpones that.
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 1 << 20) {
            // A truncating checkpoint waits for readers: give it a moment only.
            conn.busy_timeout(std::time::Duration::from_millis(20))?;
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            conn.busy_timeout(BUSY_WAIT)?;
        }
        // Keep the WAL and its shared-memory file between processes: checkpointing
        // and deleting them on every close, then recreating them on the next open,
        // cost more than the rest of a short command.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        let mut index = Index::with_conn(conn, Some(path.to_owned()), Access::Write);
        index.prepare_schema()?;
        index.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(index)
    }

    /// Create the schema in an empty database, or check an existing one has its tables.
    fn prepare_schema(&mut self) -> Result<(), OpenFailure> {
        // The common case reads only: no write lock for an index that is there.
        if identify(&self.conn)?.0 == APPLICATION_ID {
            return self.check_tables();
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (app, _) = identify(&tx)?;
        if app == APPLICATION_ID {
            drop(tx);
            return self.check_tables();
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", DERIVATION)?;
        tx.commit()?;
        Ok(())
    }

    /// An index marked as ours must have its tables.
    fn check_tables(&self) -> Result<(), OpenFailure> {
        let tables: i64 = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('atom','segment','ref_tip','trail_range','atoms_fts')",
            [],
            |r| r.get(0),
        )?;
        if tables != 5 {
            return Err(OpenFailure::Damaged("missing its tables".into()));
        }
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
    /// Damaged: rebuild it.
    Damaged(String),
    /// Built by an older derivation: rebuild it.
    Outdated(String),
    /// Not ours to delete.
    Foreign(String),
    /// This process cannot write the file: open it read-only.
    ReadOnly,
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
            OpenFailure::Damaged(m) | OpenFailure::Outdated(m) | OpenFailure::Foreign(m) => {
                IndexError::Unusable(m)
            }
            OpenFailure::ReadOnly => IndexError::Unusable("cannot be written".into()),
        }
    }
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::Sqlite(e) => write!(f, "unreadable ({e})"),
            OpenFailure::Damaged(m) | OpenFailure::Outdated(m) | OpenFailure::Foreign(m) => {
                f.write_str(m)
            }
            OpenFailure::ReadOnly => f.write_str("not writable"),
        }
    }
}

/// Whether the file is an atom index of this derivation (`Ok(false)`) or
/// an empty database to create the schema in (`Ok(true)`); reads only.
fn classify(conn: &Connection) -> Result<bool, OpenFailure> {
    // One read transaction, one snapshot: another process creating the
    // index commits its tables and its application id together, and read
    // in two snapshots they looked like a foreign database with tables.
    let snapshot = conn.unchecked_transaction()?;
    let conn: &Connection = &snapshot;
    let (app, version) = identify(conn)?;
    let empty: bool = conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))?;
    match (app, version) {
        (APPLICATION_ID, DERIVATION) => Ok(false),
        (APPLICATION_ID, v) if v > DERIVATION => Err(OpenFailure::Foreign(format!(
            "was written by a newer atom (index derivation {v}, this atom knows {DERIVATION}); use that atom, or move the file away and this one rebuilds it"
        ))),
        (APPLICATION_ID, v) => Err(OpenFailure::Outdated(format!(
            "built by an older atom (derivation {v})"
        ))),
        // The first atom indexes carried no application id.
        (0, 1) if has_table(conn, "refs_seen")? => Err(OpenFailure::Outdated(
            "built by an older atom (derivation 1)".into(),
        )),
        (0, 0) if empty => Ok(true),
        (app, _) => Err(OpenFailure::Foreign(format!(
            "is not an atom index (a SQLite database with application_id {app:#x}); move it away and atom rebuilds its index"
        ))),
    }
}

/// The file's `application_id` and `user_version`.
fn identify(conn: &Connection) -> Result<(i64, i64), rusqlite::Error> {
    let app = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok((app, version))
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

/// Whether SQLite says the file is not a usable database (as opposed to
/// busy, read-only or missing permissions, which a rebuild would not cure).
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(
        f.code,
        rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
    ))
}

/// Whether SQLite answered that another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// Whether SQLite could not open, create or write a file for lack of
/// permission (a read-only store): never a reason to delete the index.
fn is_permission(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(
        f.code,
        rusqlite::ErrorCode::ReadOnly
            | rusqlite::ErrorCode::CannotOpen
            | rusqlite::ErrorCode::PermissionDenied
    ))
}

/// Whether an error is about permissions or a read-only store rather than
/// the index's content (so deleting the index would not help).
pub fn is_access(e: &IndexError) -> bool {
    match e {
        IndexError::Sqlite(e) => is_permission(e),
        IndexError::ReadOnly { .. } => true,
        _ => false,
    }
}

/// Whether an error means the index file itself is damaged.
pub fn is_corruption(e: &IndexError) -> bool {
    match e {
        IndexError::Sqlite(e) => is_damage(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes that open a store's index for the first time at once (a
    /// command and the sync worker it started) all get it: one creates it,
    /// the others find it, none takes it for a foreign database.
    #[test]
    fn concurrent_first_opens_all_succeed() {
        for _ in 0..100 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index.sqlite");
            let start = std::sync::Barrier::new(6);
            std::thread::scope(|s| {
                let opens: Vec<_> = (0..6)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Index::open(&path).map(|_| ())
                        })
                    })
                    .collect();
                for open in opens {
                    open.join().unwrap().unwrap();
                }
            });
        }
    }
}
