//! Durability: gix writes objects without fsync, so we do it, as git does
//! with `core.fsync=all`. An atom is acknowledged only after its objects, its
//! ref and the directories holding them are on disk (refs: see `refs.rs`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use gix::ObjectId;

/// fsync the loose object files `ids` and the directories that hold them.
pub fn sync_loose_objects(objects_dir: &Path, ids: &[ObjectId]) -> io::Result<()> {
    let mut dirs: Vec<PathBuf> = Vec::with_capacity(ids.len());
    for id in ids {
        let hex = id.to_hex().to_string();
        let dir = objects_dir.join(&hex[..2]);
        sync_file(&dir.join(&hex[2..]))?;
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in &dirs {
        sync_dir(dir)?;
    }
    // A fan-out directory may have been created for these objects.
    sync_dir(objects_dir)
}

/// fsync one file's data and metadata.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsync a directory, so entries created or renamed in it are durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}
