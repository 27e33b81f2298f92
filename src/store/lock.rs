//! The store-wide write lock.
//!
//! Ids are allocated and trail refs moved while holding an exclusive OS file
//! lock (`flock`) on `trail.git/atom.lock`. The kernel drops the lock when the
//! holder exits, however it exits, so a killed writer never leaves a stale
//! lock behind and no lock file ever needs deleting.
//!
//! The process also remembers which store locks it holds ([`held_here`]):
//! the ref writer only treats a ref's `.lock` file as left by a dead atom
//! writer when it holds the store lock itself (see `refs.rs`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The store lock's file name inside the git dir.
pub const STORE_LOCK: &str = "atom.lock";

/// The lock files this process holds the lock of.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether this process holds the store lock `path`.
pub fn held_here(path: &Path) -> bool {
    HELD.lock()
        .map(|held| held.iter().any(|p| p == path))
        .unwrap_or(false)
}

/// Held while writing; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

impl StoreLock {
    fn held(file: File, path: &Path) -> Self {
        if let Ok(mut held) = HELD.lock() {
            held.push(path.to_owned());
        }
        StoreLock {
            file,
            path: path.to_owned(),
        }
    }
}

impl StoreLock {
    /// Block until the lock on `path` is ours.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = open(path)?;
        file.lock()?;
        Ok(StoreLock::held(file, path))
    }

    /// Take the lock on `path` if it becomes free within `max_wait`;
    /// `Ok(None)` when another writer kept it that long.
    pub fn acquire_within(path: &Path, max_wait: Duration) -> io::Result<Option<Self>> {
        let file = open(path)?;
        let deadline = Instant::now() + max_wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(StoreLock::held(file, path))),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// The lock file, created when missing.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Ok(mut held) = HELD.lock() {
            if let Some(i) = held.iter().position(|p| *p == self.path) {
                held.swap_remove(i);
            }
        }
        let _ = self.file.unlock();
    }
}
