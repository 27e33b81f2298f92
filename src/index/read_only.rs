//! Reading the index of a store this process cannot write (a read-only
//! mount, another user's store).
//!
//! The design decision: the file is read as it is, never repaired. SQLite
//! reads a WAL database read-only through its `-shm` file (`mode=ro`); when
//! that file is missing and cannot be created, only `immutable=1` opens it,
//! which ignores the write-ahead log, so it is used only when the log holds
//! nothing (should a writer change the file while it is read that way, the
//! reader may see it as damaged, and says so; it never repairs it). An index
//! that is missing, damaged, of another derivation or behind the refs is
//! [`IndexError::ReadOnly`]: a user who may write brings it up to date.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{classify, identify, is_damage, is_permission, Access, Index, IndexError, OpenFailure};

impl Index {
    /// Open the index of a store this process cannot write: read-only, as it
    /// is, or [`IndexError::ReadOnly`] when it cannot be used that way.
    pub(super) fn open_read_only(path: &Path) -> Result<Self, IndexError> {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(read_only_error(
                path,
                "does not exist, and this user cannot create it",
            ));
        }
        let opened = open_reader(path, Access::ReadOnly)
            .and_then(|conn| identify(&conn).map(|_| (conn, Access::ReadOnly)));
        let (conn, access) = match opened {
            Ok(opened) => opened,
            // Without a `-shm` file it may create, SQLite can read a WAL
            // database only as immutable, which ignores the WAL: right when
            // the WAL holds nothing.
            Err(e) if is_permission(&e) && wal_is_empty(path) => {
                let conn = open_reader(path, Access::Immutable)?;
                identify(&conn)?;
                (conn, Access::Immutable)
            }
            Err(e) if is_permission(&e) => {
                return Err(read_only_error(
                    path,
                    &format!(
                        "cannot be read without its -shm file, which this user cannot create ({e})"
                    ),
                ))
            }
            Err(e) if is_damage(&e) => {
                return Err(read_only_error(
                    path,
                    &format!("is damaged ({e}), and this user cannot rebuild it"),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        conn.busy_timeout(super::BUSY_WAIT)?;
        let index = Index::with_conn(conn, Some(path.to_owned()), access);
        let checked = match classify(&index.conn) {
            Ok(true) => Err(OpenFailure::Damaged("is empty".into())),
            Ok(false) => index.check_tables(),
            Err(e) => Err(e),
        };
        match checked {
            Ok(()) => Ok(index),
            Err(OpenFailure::Foreign(reason)) => Err(IndexError::Foreign {
                path: path.to_owned(),
                reason,
            }),
            Err(OpenFailure::Outdated(m)) => Err(read_only_error(
                path,
                &format!("was {m}, and this user cannot rebuild it"),
            )),
            Err(OpenFailure::Damaged(m)) => Err(read_only_error(
                path,
                &format!("{m}, and this user cannot rebuild it"),
            )),
            Err(OpenFailure::Sqlite(e)) if is_damage(&e) => Err(read_only_error(
                path,
                &format!("is damaged ({e}), and this user cannot rebuild it"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A new connection to the index file that cannot write, opened as this
    /// index is (for `atom query`).
    pub(crate) fn reader(&self) -> Result<Connection, rusqlite::Error> {
        let path = self.path.as_deref().unwrap_or(Path::new(":memory:"));
        let access = match self.access {
            Access::Write => Access::ReadOnly,
            other => other,
        };
        open_reader(path, access)
    }
}

/// A connection to `path` that cannot write: `mode=ro`, plus `immutable=1`
/// for [`Access::Immutable`].
fn open_reader(path: &Path, access: Access) -> Result<Connection, rusqlite::Error> {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro");
    if access == Access::Immutable {
        uri.push_str("&immutable=1");
    }
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Whether the index's write-ahead log is missing or empty: then the file
/// itself holds everything.
fn wal_is_empty(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    match std::fs::metadata(PathBuf::from(wal)) {
        Ok(m) => m.len() == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// [`IndexError::ReadOnly`] for the index at `path`.
pub(super) fn read_only_error(path: &Path, reason: &str) -> IndexError {
    IndexError::ReadOnly {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}
