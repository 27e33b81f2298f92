//! The durable spool between a hook and the trail.
//!
//! A hook writes each event as one file in `agents/spool/` and is done: the
//! file is written under a temporary name, fsynced, renamed into place and
//! the directory fsynced (the file system here may reorder renames), so an
//! event whose hook returned is on disk even if the machine stops. A hook
//! killed before the rename leaves a temporary file that the next drain
//! deletes: that event was never acknowledged. File names start with the
//! time in nanoseconds, so listing them in name order is arrival order.
//!
//! One drainer at a time: [`DrainLock`] is an OS file lock (`flock`) that
//! the kernel drops when its holder dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agents_dir;
use crate::store::durable::sync_dir;

/// The largest event a hook reads (a tool's whole output can be large); a
/// larger one is spooled without its `tool_response`.
pub const MAX_EVENT: usize = 16 << 20;

/// A temporary file older than this was left by a killed hook.
const STALE: Duration = Duration::from_secs(600);

/// One spooled event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The agent (`claude-code`, ...).
    pub agent: String,
    /// The event name as the hook was installed for it (`PostToolUse`).
    pub event: String,
    /// When the hook received it.
    pub received: DateTime<Utc>,
    /// The agent's JSON, as it came.
    pub payload: Value,
    /// The trail to record on (`--trail`, `ATOM_TRAIL` where the hook ran);
    /// `None`: the store's current trail when the event is drained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail: Option<String>,
}

/// The `agent` of the events git's hooks spool (`post-commit`).
pub const GIT: &str = "git";

/// The spool directory of a store.
pub fn dir(home: &Path) -> PathBuf {
    agents_dir(home).join("spool")
}

/// Write `entry` durably; returns its path.
pub fn write(home: &Path, entry: &Entry) -> io::Result<PathBuf> {
    let dir = dir(home);
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("{nanos:024}-{:010}.json", std::process::id());
    let tmp = dir.join(format!(".tmp-{name}"));
    let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    let path = dir.join(&name);
    std::fs::rename(&tmp, &path)?;
    sync_dir(&dir)?;
    Ok(path)
}

/// The spooled events, oldest first; deletes temporary files that killed
/// hooks left behind.
pub fn pending(home: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = dir(home);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".tmp-") {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        } else if name.ends_with(".json") {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Whether anything waits in the spool (one directory read).
pub fn has_pending(home: &Path) -> bool {
    std::fs::read_dir(dir(home)).is_ok_and(|mut d| {
        d.any(|e| {
            e.is_ok_and(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(".json") && !n.starts_with(".tmp-")
            })
        })
    })
}

/// Held while draining; released on drop (or when the holder dies).
#[derive(Debug)]
pub struct DrainLock {
    _file: File,
}

impl DrainLock {
    fn open(home: &Path) -> io::Result<File> {
        // Only inside a store that exists: a drain started for a store
        // removed since must not make its directories again.
        let dir = agents_dir(home);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("drain.lock"))
    }

    /// The lock if it becomes free within `max_wait`; `None` when another
    /// drainer kept it that long.
    pub fn acquire_within(home: &Path, max_wait: Duration) -> io::Result<Option<Self>> {
        let file = Self::open(home)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(DrainLock { _file: file })),
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= max_wait {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// Whether some process drains right now.
    pub fn busy(home: &Path) -> bool {
        match Self::open(home) {
            Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}
