//! The store-wide write lock.
//!
//! Ids are allocated and trail refs moved while holding an exclusive OS file
//! lock (`flock`) on `trail.git/atom.lock`. The kernel drops the lock when the
//! holder exits, however it exits, so a killed writer never leaves a stale
//! lock behind and no lock file ever needs deleting.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// Held while writing; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
}

impl StoreLock {
    /// Block until the lock on `path` is ours.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = open(path)?;
        file.lock()?;
        Ok(StoreLock { file })
    }

    /// Take the lock on `path` if it becomes free within `max_wait`;
    /// `Ok(None)` when another writer kept it that long.
    pub fn acquire_within(path: &Path, max_wait: Duration) -> io::Result<Option<Self>> {
        let file = open(path)?;
        let deadline = Instant::now() + max_wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(StoreLock { file })),
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
        let _ = self.file.unlock();
    }
}
