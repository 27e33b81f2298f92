//! Moving refs durably, with git's own lock protocol: `<ref>.lock` created
//! exclusively, the new value written into it and fsynced, the lock renamed
//! over the ref, the ref's directory fsynced. gix renames before it syncs,
//! so atom writes refs itself.
//!
//! The one design decision: atom's lock is a hard link to a file of its own,
//! `trail.git/atom-locks/<ref>.lock`, made first. A `.lock` found linked to
//! that file was left by an atom writer that died between taking the lock
//! and renaming it, and it is removed; but only by a writer holding the store
//! lock, so no live atom writer can be the owner. Any other `.lock` belongs
//! to another program (a git command): it is waited for, never removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gix::ObjectId;

use super::{durable, io_context, lock, GitContext as _, GitStore, StoreError, HEADS_PREFIX};

/// How long a ref lock held by another process is waited for.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);
/// The directory of atom's own lock files, inside the git dir.
const OWN_LOCKS: &str = "atom-locks";
/// The file of packed refs, inside the git dir.
const PACKED_REFS: &str = "packed-refs";

/// The value a ref must have before it is moved.
#[derive(Clone, Copy)]
enum Expect {
    /// Whatever it is.
    Any,
    /// Exactly this (`None`: the ref must not exist).
    Value(Option<ObjectId>),
}

impl GitStore {
    /// Move `full_name` from `expected` (`None`: must not exist) to `new`,
    /// durably. A ref that moved meanwhile is a [`StoreError::Conflict`]; a
    /// ref another program keeps locked is a [`StoreError::RefLocked`].
    /// The caller holds the store lock (`trail.git/atom.lock`).
    pub fn compare_and_swap(
        &self,
        full_name: &str,
        expected: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<(), StoreError> {
        self.update_ref(full_name, Expect::Value(expected), new)
    }

    /// Point `full_name` at `new` whatever it pointed to before, durably
    /// (bookkeeping refs only: trails move with [`GitStore::compare_and_swap`]).
    pub fn force_ref(&self, full_name: &str, new: ObjectId) -> Result<(), StoreError> {
        self.update_ref(full_name, Expect::Any, new)
    }

    fn update_ref(&self, full_name: &str, expect: Expect, new: ObjectId) -> Result<(), StoreError> {
        check_name(full_name)?;
        let lock = LockFile::acquire(&self.git_dir, full_name)?;
        if let Expect::Value(expected) = expect {
            if read_ref(&self.git_dir, full_name)? != expected {
                return Err(StoreError::Conflict {
                    name: full_name.to_owned(),
                });
            }
        }
        lock.commit(format!("{new}\n").as_bytes())
    }

    /// Delete the ref `full_name` (bookkeeping refs only), from its loose
    /// file and from `packed-refs`, durably.
    pub fn delete_ref(&self, full_name: &str) -> Result<(), StoreError> {
        self.remove_ref(full_name, Expect::Any)
    }

    /// Delete `full_name` if it still points to `expected`, durably: a ref
    /// that moved meanwhile is a [`StoreError::Conflict`] and stays. The
    /// caller holds the store lock.
    pub fn compare_and_delete(
        &self,
        full_name: &str,
        expected: ObjectId,
    ) -> Result<(), StoreError> {
        self.remove_ref(full_name, Expect::Value(Some(expected)))
    }

    fn remove_ref(&self, full_name: &str, expect: Expect) -> Result<(), StoreError> {
        check_name(full_name)?;
        let _lock = LockFile::acquire(&self.git_dir, full_name)?;
        if let Expect::Value(expected) = expect {
            if read_ref(&self.git_dir, full_name)? != expected {
                return Err(StoreError::Conflict {
                    name: full_name.to_owned(),
                });
            }
        }
        if packed_line(&read_packed(&self.git_dir)?, full_name).is_some() {
            // As git does: rewrite packed-refs under its own lock first.
            let packed = LockFile::acquire(&self.git_dir, PACKED_REFS)?;
            let text = read_packed(&self.git_dir)?;
            let mut kept = String::with_capacity(text.len());
            let mut dropping = false;
            for line in text.split_inclusive('\n') {
                if line.starts_with('^') && dropping {
                    continue;
                }
                dropping = parse_packed_line(line).is_some_and(|(_, name)| name == full_name);
                if !dropping {
                    kept.push_str(line);
                }
            }
            packed.commit(kept.as_bytes())?;
        }
        let path = self.git_dir.join(full_name);
        match fs::remove_file(&path) {
            Ok(()) => sync_parent(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => io_context(Err(e), || format!("deleting {}", path.display())),
        }
    }

    /// Point HEAD at the trail `name` (`refs/heads/<name>`), durably.
    pub fn set_head(&self, name: &str) -> Result<(), StoreError> {
        let full = format!("{HEADS_PREFIX}{name}");
        check_name(&full)?;
        LockFile::acquire(&self.git_dir, "HEAD")?.commit(format!("ref: {full}\n").as_bytes())
    }
}

fn check_name(full_name: &str) -> Result<(), StoreError> {
    gix::refs::FullName::try_from(full_name).git("naming a reference")?;
    if !full_name.starts_with("refs/") {
        return Err(StoreError::Git {
            context: "naming a reference",
            message: format!("{full_name} is not under refs/"),
        });
    }
    Ok(())
}

/// The commit `full_name` points to: its loose file, else its line in
/// `packed-refs`; `None` when it has neither.
fn read_ref(git_dir: &Path, full_name: &str) -> Result<Option<ObjectId>, StoreError> {
    let path = git_dir.join(full_name);
    let malformed = |what: &str| StoreError::Git {
        context: "reading a reference",
        message: format!("{} {what}", path.display()),
    };
    match fs::read(&path) {
        Ok(bytes) => {
            if bytes.starts_with(b"ref:") {
                return Err(malformed("is a symbolic ref"));
            }
            let hex = bytes.trim_ascii_end();
            return ObjectId::from_hex(hex)
                .map(Some)
                .map_err(|_| malformed("does not hold an object id"));
        }
        // A directory there holds refs named below it, not this one.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
            ) => {}
        Err(e) => return io_context(Err(e), || format!("reading {}", path.display())),
    }
    match packed_line(&read_packed(git_dir)?, full_name) {
        None => Ok(None),
        Some(hex) => ObjectId::from_hex(hex.as_bytes())
            .map(Some)
            .map_err(|_| malformed("has a malformed line in packed-refs")),
    }
}

/// `packed-refs`, empty when there is none.
fn read_packed(git_dir: &Path) -> Result<String, StoreError> {
    let path = git_dir.join(PACKED_REFS);
    match fs::read(&path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => io_context(Err(e), || format!("reading {}", path.display())),
    }
}

/// The hex id `packed-refs` gives `full_name`.
fn packed_line<'a>(text: &'a str, full_name: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(parse_packed_line)
        .find(|(_, name)| *name == full_name)
        .map(|(hex, _)| hex)
}

/// `(hex, name)` of a ref line; `None` for the header and peeled (`^`) lines.
fn parse_packed_line(line: &str) -> Option<(&str, &str)> {
    if line.starts_with(['#', '^']) {
        return None;
    }
    line.trim_end_matches(['\n', '\r']).split_once(' ')
}

/// fsync the directory holding `path`.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    io_context(durable::sync_dir(dir), || {
        format!("syncing {}", dir.display())
    })
}

/// A git lock file (`<target>.lock`) that atom holds, removed on drop unless
/// committed.
struct LockFile {
    target: PathBuf,
    lock: PathBuf,
    own: PathBuf,
    file: File,
    /// Directories made for the lock, top-down.
    created: Vec<PathBuf>,
    /// Whether `lock` exists and is ours.
    linked: bool,
    /// Whether `lock` was renamed into place.
    committed: bool,
}

impl LockFile {
    /// Take the lock of `rel` (`refs/heads/main`, `packed-refs`, `HEAD`),
    /// waiting up to [`LOCK_WAIT`] for another program to release it.
    fn acquire(git_dir: &Path, rel: &str) -> Result<LockFile, StoreError> {
        let target = git_dir.join(rel);
        let lock = git_dir.join(format!("{rel}.lock"));
        let under_store_lock = lock::held_here(&git_dir.join(lock::STORE_LOCK));
        // A writer without the store lock cannot tell a dead atom writer's
        // lock from a live one: it uses a name of its own and clears nothing.
        let own = match under_store_lock {
            true => git_dir.join(OWN_LOCKS).join(format!("{rel}.lock")),
            false => git_dir
                .join(OWN_LOCKS)
                .join(format!("{rel}.lock.{}", std::process::id())),
        };
        let ctx = |what: &str, p: &Path| format!("{what} {}", p.display());
        let cleared = match under_store_lock {
            true => clear_dead_lock(&lock, &own),
            // Named after this process: left by a dead one if there.
            false => remove_if_there(&own),
        };
        cleared.map_err(|source| StoreError::Io {
            context: ctx("clearing the lock a dead atom writer left,", &lock),
            source,
        })?;
        if let Some(dir) = own.parent() {
            io_context(fs::create_dir_all(dir), || ctx("creating", dir))?;
        }
        let file = io_context(
            OpenOptions::new().write(true).create_new(true).open(&own),
            || ctx("creating", &own),
        )?;
        let mut held = LockFile {
            target,
            lock,
            own,
            file,
            created: Vec::new(),
            linked: false,
            committed: false,
        };
        let started = Instant::now();
        loop {
            match fs::hard_link(&held.own, &held.lock) {
                Ok(()) => {
                    held.linked = true;
                    return Ok(held);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if started.elapsed() >= LOCK_WAIT {
                        // Not ours: dropping `held` removes only `own`.
                        return Err(StoreError::RefLocked {
                            name: rel.to_owned(),
                            lock: held.lock.clone(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && held.created.len() < 64 => {
                    held.make_dirs(git_dir)?;
                }
                Err(e) => return io_context(Err(e), || ctx("creating", &held.lock)),
            }
        }
    }

    /// Create the missing directories between `git_dir` and the lock.
    fn make_dirs(&mut self, git_dir: &Path) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        let mut dir = self.lock.parent();
        while let Some(d) = dir.filter(|d| *d != git_dir && !d.is_dir()) {
            missing.push(d.to_owned());
            dir = d.parent();
        }
        if missing.is_empty() {
            // The parent is there: the link's source went missing.
            return Err(StoreError::Io {
                context: format!("taking the lock {}", self.lock.display()),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
        for d in missing.into_iter().rev() {
            match fs::create_dir(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::Git {
                        context: "updating a reference",
                        message: format!(
                            "{} is a ref, so no ref can be named below it",
                            d.display()
                        ),
                    })
                }
                Err(e) => return io_context(Err(e), || format!("creating {}", d.display())),
            }
            // Made now, by us or a racing git: its entry may not be on disk.
            self.created.push(d);
        }
        Ok(())
    }

    /// Write `content` into the lock, fsync it, rename it over the target,
    /// and fsync the directories from the first one made down to the target's.
    fn commit(mut self, content: &[u8]) -> Result<(), StoreError> {
        let lock = self.lock.clone();
        io_context(
            self.file
                .write_all(content)
                .and_then(|()| self.file.sync_all()),
            || format!("writing {}", lock.display()),
        )?;
        io_context(fs::rename(&self.lock, &self.target), || {
            format!("renaming {}", lock.display())
        })?;
        self.committed = true;
        let _ = fs::remove_file(&self.own);
        let mut dirs: Vec<&Path> = Vec::with_capacity(self.created.len() + 1);
        if let Some(top) = self.created.first().and_then(|d| d.parent()) {
            dirs.push(top);
        }
        dirs.extend(self.created.iter().map(PathBuf::as_path));
        let parent = self.target.parent().unwrap_or(Path::new("."));
        if dirs.last() != Some(&parent) {
            dirs.push(parent);
        }
        for d in dirs {
            io_context(durable::sync_dir(d), || format!("syncing {}", d.display()))?;
        }
        Ok(())
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if self.linked {
            let _ = fs::remove_file(&self.lock);
        }
        let _ = fs::remove_file(&self.own);
    }
}

/// Remove `lock` when it is a link to `own`: an atom writer made both and
/// died before renaming the lock. Then remove `own` whatever it is.
fn clear_dead_lock(lock: &Path, own: &Path) -> io::Result<()> {
    let Ok(mine) = fs::symlink_metadata(own) else {
        return Ok(());
    };
    if let Ok(found) = fs::symlink_metadata(lock) {
        if (found.dev(), found.ino()) == (mine.dev(), mine.ino()) {
            fs::remove_file(lock)?;
        }
    }
    remove_if_there(own)
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
