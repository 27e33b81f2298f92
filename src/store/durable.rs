//! Durability: gix writes objects and refs without fsync, so we do it, as git
//! does with `core.fsync=all`. An atom is acknowledged only after its objects,
//! its ref and the directories holding them are on disk.

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

/// fsync a loose ref file (e.g. `refs/heads/main`) and every directory from
/// it up to the git dir, so a newly created ref survives a crash too.
pub fn sync_ref(git_dir: &Path, full_name: &str) -> io::Result<()> {
    let path = git_dir.join(full_name);
    match sync_file(&path) {
        Ok(()) => {}
        // Deleted refs or refs that live only in packed-refs.
        Err(e) if e.kind() == io::ErrorKind::NotFound => sync_file(&git_dir.join("packed-refs"))
            .or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })?,
        Err(e) => return Err(e),
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        sync_dir(d)?;
        if d == git_dir {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// fsync one file's data and metadata.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsync a directory, so entries created or renamed in it are durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}
