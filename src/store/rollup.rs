//! Keeping packs few. Every append writes one small pack, and git and gix
//! look an object up pack by pack, so small packs are rolled up the way
//! `git repack --geometric=2 -d` does it: when the store would have more than
//! [`PACK_LIMIT`] packs, the smallest ones (as many as it takes for the rest
//! to at least double in size from one to the next) are copied into the pack
//! being written, and deleted once that pack is durable. Each object is thus
//! copied O(log n) times over the life of a store.
//!
//! The design decision: the copies ride in the append's own pack, so a
//! rollup costs no fsync beyond the append's. It runs only under the store
//! lock, so no other atom process deletes packs meanwhile. Packs with a
//! `.keep`, `.promisor` or `.mtimes` (cruft) file are never touched. A reader
//! in another process that misses an object in a deleted pack re-scans the
//! directory and finds it in the new one (git and gix both do).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use gix::objs::Exists as _;
use gix::ObjectId;

use super::pack::PackWriter;
use super::{io_context, GitStore, StoreError};

/// How many packs a store may have before a rollup. Below gix's minimum of
/// 32 index slots, so a long-running process never runs out of them.
pub const PACK_LIMIT: usize = 24;

/// A pack that may be rolled up: `<dir>/pack-<hash>`, opened.
struct Candidate {
    base: PathBuf,
    bundle: gix::odb::pack::Bundle,
}

impl Candidate {
    fn objects(&self) -> u64 {
        u64::from(self.bundle.index.num_objects())
    }
}

/// When too many packs: copy the objects of the packs to roll up into
/// `into` and return their paths (without extension), to be deleted with
/// [`retire`] once `into` is durable. The caller holds the store lock.
pub(super) fn fold_small_packs(
    git: &GitStore,
    into: &mut PackWriter,
) -> Result<Vec<PathBuf>, StoreError> {
    let pack_dir = git.git_dir.join("objects").join("pack");
    // Rolling up is housekeeping: never a reason to fail an append.
    let Ok((stems, mut kept)) = list(&pack_dir) else {
        return Ok(Vec::new());
    };
    if stems.len() + kept < PACK_LIMIT {
        return Ok(Vec::new());
    }
    let mut candidates = Vec::with_capacity(stems.len());
    for stem in stems {
        let idx = pack_dir.join(format!("{stem}.idx"));
        match gix::odb::pack::Bundle::at(idx, git.repo.object_hash()) {
            Ok(bundle) => candidates.push(Candidate {
                base: pack_dir.join(stem),
                bundle,
            }),
            Err(_) => kept += 1,
        }
    }
    candidates.sort_by_key(Candidate::objects);
    let sizes: Vec<u64> = candidates.iter().map(Candidate::objects).collect();
    let keep_at_most = (PACK_LIMIT / 2).saturating_sub(kept + 1);
    let n = plan(&sizes, into.len() as u64, keep_at_most);
    let mut copied = Vec::with_capacity(n);
    for pack in &candidates[..n] {
        if copy_objects(git, &pack.bundle, into)?.is_none() {
            break;
        }
        copied.push(pack.base.clone());
    }
    Ok(copied)
}

/// Copy every object of `pack` into `into`: an entry that is not a delta
/// byte for byte once its CRC-32 matches the index's, a delta decoded.
/// `Ok(None)` when an object is damaged (the pack then stays, for a repair);
/// `Err` only when writing fails.
fn copy_objects(
    git: &GitStore,
    pack: &gix::odb::pack::Bundle,
    into: &mut PackWriter,
) -> Result<Option<()>, StoreError> {
    use gix::odb::pack::data::entry::Header;
    let index = &pack.index;
    let mut order: Vec<(u64, u32)> = (0..index.num_objects())
        .map(|i| (index.pack_offset_at_index(i), i))
        .collect();
    order.sort_unstable();
    let written = |r: std::io::Result<()>| io_context(r, || "copying objects into a pack".into());
    for (n, &(start, i)) in order.iter().enumerate() {
        let end = order
            .get(n + 1)
            .map_or(pack.pack.pack_end() as u64, |next| next.0);
        let id = index.oid_at_index(i).to_owned();
        let Some(raw) = pack.pack.entry_slice(start..end) else {
            return Ok(None);
        };
        let Ok(entry) = pack.pack.entry(start) else {
            return Ok(None);
        };
        let crc = crc32fast::hash(raw);
        match (entry.header, index.crc32_at_index(i)) {
            (Header::Commit | Header::Tree | Header::Blob | Header::Tag, Some(want)) => {
                if want != crc {
                    return Ok(None);
                }
                written(into.add_entry(id, raw, crc))?;
            }
            _ => {
                let Ok(object) = git.repo.find_object(id) else {
                    return Ok(None);
                };
                let hashed = gix::objs::compute_hash(id.kind(), object.kind, &object.data);
                if !hashed.is_ok_and(|h| h == id) {
                    return Ok(None);
                }
                written(into.add(object.kind, &object.data).map(drop))?;
            }
        }
    }
    Ok(Some(()))
}

/// Delete the rolled-up packs (index first: git and gix find packs by their
/// index), then make this process's gix drop them too. Best effort: a pack
/// left behind only duplicates objects.
pub(super) fn retire(git: &GitStore, bases: &[PathBuf], finished: Option<&Path>) {
    let pack_dir = git.git_dir.join("objects").join("pack");
    // A multi-pack index naming a deleted pack would mislead git; git's
    // repack removes it too, and readers fall back to the packs' indexes.
    let _ = fs::remove_file(pack_dir.join("multi-pack-index"));
    for base in bases {
        if finished.is_some_and(|f| f.with_extension("") == *base) {
            continue;
        }
        for ext in ["idx", "pack", "rev", "bitmap"] {
            let _ = fs::remove_file(base.with_extension(ext));
        }
    }
    // An object no pack has makes gix re-scan the directory, which unmaps
    // the deleted packs.
    let _ = git
        .repo
        .objects
        .exists(&ObjectId::null(git.repo.object_hash()));
}

/// The packs of `pack_dir` that may be rolled up (`pack-<hash>`), and how
/// many others there are.
fn list(pack_dir: &Path) -> io::Result<(Vec<String>, usize)> {
    let names: HashSet<String> = fs::read_dir(pack_dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let mut stems = Vec::new();
    let mut kept = 0;
    for name in &names {
        let Some(stem) = name.strip_suffix(".idx").filter(|s| s.starts_with("pack-")) else {
            continue;
        };
        if !names.contains(&format!("{stem}.pack")) {
            continue;
        }
        if ["keep", "promisor", "mtimes"]
            .iter()
            .any(|ext| names.contains(&format!("{stem}.{ext}")))
        {
            kept += 1;
        } else {
            stems.push(stem.to_owned());
        }
    }
    Ok((stems, kept))
}

/// How many of the packs of `sizes` (object counts, ascending) to roll up
/// with a new pack of `new` objects, as `git repack --geometric=2` chooses:
/// the smallest prefix after which each pack has at least twice the objects
/// of the one before, and the merged pack at most half the next one. At most
/// `keep_at_most` packs stay, so that a rollup makes room for many appends.
fn plan(sizes: &[u64], new: u64, keep_at_most: usize) -> usize {
    let n = sizes.len();
    let broken = (1..n).rev().find(|&i| sizes[i] < 2 * sizes[i - 1]);
    let mut split = broken
        .map_or(0, |i| i + 1)
        .max(n.saturating_sub(keep_at_most));
    let mut total: u64 = new + sizes[..split].iter().sum::<u64>();
    while split < n && sizes[split] < 2 * total {
        total += sizes[split];
        split += 1;
    }
    split
}

#[cfg(test)]
mod tests {
    use super::{plan, PACK_LIMIT};

    /// Mappings of this process of files under `dir` that were deleted.
    fn deleted_mappings(dir: &std::path::Path) -> Vec<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
        let dir = dir.to_string_lossy();
        maps.lines()
            .filter(|l| l.contains(&*dir) && l.ends_with("(deleted)"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_rollup_leaves_no_deleted_pack_mapped_in_this_process() {
        use crate::store::{lock, GitStore};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let git = GitStore::init(&dir.path().join("trail.git")).expect("init");
        let packs = || {
            std::fs::read_dir(dir.path().join("trail.git/objects/pack"))
                .expect("the pack directory")
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension() == Some("pack".as_ref()))
                })
                .count()
        };
        let mut ids = Vec::new();
        let mut rollups = 0;
        for i in 0..2 * PACK_LIMIT + 1 {
            let path = git.git_dir().join(lock::STORE_LOCK);
            let _lock = lock::StoreLock::acquire(&path).expect("the store lock");
            let mut pack = git.new_pack().expect("a pack");
            let id = pack
                .add(gix::objs::Kind::Blob, format!("blob {i}").as_bytes())
                .expect("add a blob");
            // Every pack so far is mapped: reading each one's blob.
            for id in &ids {
                git.raw_object(*id).expect("read a blob");
            }
            let before = packs();
            git.finish_pack(pack).expect("finish the pack");
            rollups += usize::from(packs() < before);
            assert_eq!(deleted_mappings(dir.path()), Vec::<String>::new());
            ids.push(id);
        }
        assert_eq!(rollups, 2, "{} packs", packs());
        for id in &ids {
            git.raw_object(*id).expect("read a blob");
        }
    }

    #[test]
    fn a_progression_stays_and_equal_small_packs_merge() {
        // Already doubling: only what `keep_at_most` forces.
        assert_eq!(plan(&[4, 8, 16, 32], 1, 10), 0);
        // Equal small packs merge; the big one stays.
        assert_eq!(plan(&[4, 4, 4, 4, 1000], 4, 10), 4);
        // The merged pack reaches half of the next one: that one joins.
        assert_eq!(plan(&[4, 4, 4, 4, 30, 1000], 4, 10), 5);
        // Too many packs even in progression: the smallest merge.
        assert_eq!(plan(&[1, 2, 4, 8, 16, 32, 64], 1, 3), 7);
        assert_eq!(plan(&[1, 2, 4, 8, 16, 32, 640], 1, 3), 6);
        assert_eq!(plan(&[], 4, 3), 0);
    }
}
