//! The durable spool between a hook and the trail.
//!
//! A hook writes each event as one file in `agents/spool/`: under a
//! temporary name first ([`stage`]), then fsynced, renamed into place and
//! the directory fsynced ([`Staged::publish`]; the file system here may
//! reorder renames), so a published event is on disk even if the machine
//! stops. A hook that can fork hands the publishing to the drain it forks,
//! which holds the drain lock from before the fork: the hook returns
//! without waiting for the disk, and a command that reads the store meanwhile
//! waits for that lock ([`has_pending`] counts events on their way). A
//! temporary file whose writer died (or that is older than ten minutes) is
//! an orphan: the next drain publishes it when it holds a whole event, else
//! deletes it. File names start with the time in nanoseconds, so listing
//! them in name order is arrival order, and end with the writer's pid.
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

/// A temporary file older than this is an orphan whoever wrote it.
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

/// An event written under its temporary name: not yet durable, and not yet
/// seen by drains.
#[derive(Debug)]
pub struct Staged {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
}

/// Write `entry` under a temporary name in `home`'s spool (no fsync yet).
pub fn stage(home: &Path, entry: &Entry) -> io::Result<Staged> {
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
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&bytes)?;
    Ok(Staged {
        file,
        tmp,
        path: dir.join(name),
    })
}

impl Staged {
    /// Make the event durable and visible to drains: fsync, rename into
    /// place, fsync the directory. Returns its path.
    pub fn publish(self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        drop(self.file);
        std::fs::rename(&self.tmp, &self.path)?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        Ok(self.path)
    }
}

/// Write `entry` durably; returns its path.
pub fn write(home: &Path, entry: &Entry) -> io::Result<PathBuf> {
    stage(home, entry)?.publish()
}

/// The spooled events, oldest first.
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
        if name.ends_with(".json") && !name.starts_with(TMP_PREFIX) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Publish the temporary files whose writers died (a hook killed after it
/// returned, before its drain published the event), delete those that do
/// not hold a whole event. Call it holding the [`DrainLock`]: a drain that
/// publishes holds it.
pub fn adopt_orphans(home: &Path) -> io::Result<()> {
    let dir = dir(home);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(final_name) = name.strip_prefix(TMP_PREFIX) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if !old && writer(final_name).is_none_or(alive) {
            continue;
        }
        let path = entry.path();
        let whole = std::fs::read(&path)
            .ok()
            .is_some_and(|b| serde_json::from_slice::<Entry>(&b).is_ok());
        if !whole || !final_name.ends_with(".json") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // One orphan that cannot be published (or that its writer, in
        // another pid namespace, publishes right now) does not hold up the
        // others: it stays for a later drain.
        let published = File::open(&path)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&path, dir.join(final_name)));
        if published.is_ok() {
            sync_dir(&dir)?;
        }
    }
    Ok(())
}

/// The pid a spool file's name ends with (`<nanos>-<pid>.json`).
fn writer(name: &str) -> Option<i32> {
    let stem = name.strip_suffix(".json")?;
    stem.rsplit_once('-')?.1.parse().ok()
}

/// Whether process `pid` exists.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Whether any event waits in the spool or is on its way there (a
/// temporary file: a drain is publishing it, or a drain will adopt it); one
/// directory read. A command that reads the store drains first when so.
pub fn has_pending(home: &Path) -> bool {
    std::fs::read_dir(dir(home)).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
    })
}

/// The name a file has while it is written.
const TMP_PREFIX: &str = ".tmp-";

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

    /// The lock if it is free now.
    pub fn try_acquire(home: &Path) -> Option<Self> {
        let file = Self::open(home).ok()?;
        file.try_lock().ok()?;
        Some(DrainLock { _file: file })
    }

    /// Whether some process drains right now.
    pub fn busy(home: &Path) -> bool {
        match Self::open(home) {
            Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}
