//! Moving damaged objects aside (`atom pull --repair`), so that a fetch of
//! every object brings good copies: git and gix would otherwise keep finding
//! the damaged copy first.
//!
//! A loose object is one file, moved aside whole. A pack holds many objects,
//! most of them sound and some perhaps in no remote yet: its readable objects
//! are first copied into a new pack, made durable, and only then is the
//! damaged pack moved aside.

use std::fs;
use std::path::Path;

use gix::objs::Exists as _;
use gix::ObjectId;

use super::{io_context, GitStore, StoreError};

/// Where damaged objects and packs go, inside the git dir.
const ASIDE: &str = "atom-damaged";

impl GitStore {
    /// Loose objects whose file does not read back as an object hashing to
    /// its name, and objects of packs that do not (truncated, garbled):
    /// moved into `trail.git/atom-damaged/`, see the module doc. Returns
    /// their ids. The caller holds the store lock.
    pub fn quarantine_damaged_objects(&self) -> Result<Vec<ObjectId>, StoreError> {
        let mut damaged = self.quarantine_damaged_loose_objects()?;
        damaged.extend(self.quarantine_damaged_packs()?);
        Ok(damaged)
    }

    fn quarantine_damaged_loose_objects(&self) -> Result<Vec<ObjectId>, StoreError> {
        let objects = self.git_dir.join("objects");
        let aside = self.git_dir.join(ASIDE);
        let mut damaged = Vec::new();
        let dirs = io_context(fs::read_dir(&objects), || {
            format!("reading {}", objects.display())
        })?;
        for dir in dirs.flatten() {
            let fan = dir.file_name().to_string_lossy().into_owned();
            if fan.len() != 2 || !dir.path().is_dir() {
                continue;
            }
            for file in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let Ok(id) = ObjectId::from_hex(format!("{fan}{name}").as_bytes()) else {
                    continue;
                };
                let sound = self.repo.find_object(id).is_ok_and(|o| {
                    gix::objs::compute_hash(id.kind(), o.kind, &o.data).is_ok_and(|h| h == id)
                });
                if sound {
                    continue;
                }
                io_context(fs::create_dir_all(&aside), || {
                    format!("creating {}", aside.display())
                })?;
                io_context(fs::rename(file.path(), aside.join(id.to_string())), || {
                    format!("moving the damaged object {id} aside")
                })?;
                damaged.push(id);
            }
        }
        Ok(damaged)
    }

    fn quarantine_damaged_packs(&self) -> Result<Vec<ObjectId>, StoreError> {
        let pack_dir = self.git_dir.join("objects").join("pack");
        let Ok(entries) = fs::read_dir(&pack_dir) else {
            return Ok(Vec::new());
        };
        let mut damaged = Vec::new();
        for entry in entries.flatten() {
            let idx = entry.path();
            let is_pack_index = idx.extension().is_some_and(|e| e == "idx")
                && entry.file_name().to_string_lossy().starts_with("pack-");
            if is_pack_index {
                damaged.extend(self.salvage_pack(&idx)?);
            }
        }
        if !damaged.is_empty() {
            // Make this process's gix forget the packs moved aside.
            let _ = self
                .repo
                .objects
                .exists(&ObjectId::null(self.repo.object_hash()));
        }
        Ok(damaged)
    }

    /// Read every object of the pack `idx` from that pack; when some do not
    /// read or hash to their id, copy the others into a new pack and move
    /// the pack aside. Returns the damaged ids.
    fn salvage_pack(&self, idx: &Path) -> Result<Vec<ObjectId>, StoreError> {
        let hash = self.repo.object_hash();
        // A pack whose index or data cannot be opened is no use to git or
        // gix either; it is left alone.
        let Ok(bundle) = gix::odb::pack::Bundle::at(idx, hash) else {
            return Ok(Vec::new());
        };
        let (mut sound, mut damaged) = (Vec::new(), Vec::new());
        let mut inflate = gix::zlib::Inflate::default();
        let mut buf = Vec::new();
        for i in 0..bundle.index.num_objects() {
            let id = bundle.index.oid_at_index(i).to_owned();
            let read = bundle.get_object_by_index(
                i,
                &mut buf,
                &mut inflate,
                &mut gix::odb::pack::cache::Never,
            );
            match read {
                Ok((data, _))
                    if gix::objs::compute_hash(hash, data.kind, data.data)
                        .is_ok_and(|h| h == id) =>
                {
                    sound.push((data.kind, data.data.to_vec()));
                }
                _ => damaged.push(id),
            }
        }
        if damaged.is_empty() {
            return Ok(damaged);
        }
        if !sound.is_empty() {
            let mut pack = self.new_pack()?;
            for (kind, data) in &sound {
                io_context(pack.add(*kind, data), || "salvaging a damaged pack".into())?;
            }
            io_context(pack.finish(), || "salvaging a damaged pack".into())?;
        }
        self.move_pack_aside(idx)?;
        Ok(damaged)
    }

    /// Move a pack's files (index first) into `trail.git/atom-damaged/`.
    fn move_pack_aside(&self, idx: &Path) -> Result<(), StoreError> {
        let aside = self.git_dir.join(ASIDE);
        io_context(fs::create_dir_all(&aside), || {
            format!("creating {}", aside.display())
        })?;
        for ext in ["idx", "pack", "rev", "bitmap", "keep", "promisor", "mtimes"] {
            let file = idx.with_extension(ext);
            let Some(name) = file.file_name() else {
                continue;
            };
            match fs::rename(&file, aside.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return io_context(Err(e), || format!("moving {} aside", file.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
