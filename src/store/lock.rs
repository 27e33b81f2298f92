//! The store-wide write lock.
//!
//! Ids are allocated and trail refs moved while holding an exclusive OS file
//! lock (`flock`) on `trail.git/atom.lock`. The kernel drops the lock when the
//! holder exits, however it exits, so a killed writer never leaves a stale
//! lock behind and no lock file ever needs deleting.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Held while writing; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
}

impl StoreLock {
    /// Block until the lock on `path` is ours.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.lock()?;
        Ok(StoreLock { file })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}
