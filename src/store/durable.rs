//! Durability on a file system that may reorder renames (ext4 without a
//! journal): a file is fsynced before it is renamed into place, and the
//! directory after. The pack writer and the ref writer follow that order;
//! this is their one shared helper.

use std::fs::File;
use std::io;
use std::path::Path;

/// fsync a directory, so entries created or renamed in it are durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}
