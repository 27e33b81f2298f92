//! Raw git objects and bookkeeping refs, for copying atoms out of the store
//! and back in byte for byte (the D1 mirror).
//!
//! An object is its kind and its uncompressed content: writing the same pair
//! anywhere yields the same id, whatever the compression or packing.

use gix::ObjectId;

use super::{GitContext as _, GitStore, StoreError, MODE_TREE};

/// One git object: its id, kind (`commit`, `tree`, `blob`) and content.
#[derive(Debug, Clone)]
pub struct RawObject {
    /// The object id.
    pub id: ObjectId,
    /// `commit`, `tree` or `blob`.
    pub kind: &'static str,
    /// The uncompressed content (without git's `<kind> <size>\0` header).
    pub data: Vec<u8>,
}

impl GitStore {
    /// The objects of one atom commit: the commit, its tree, the
    /// `attachments/` tree and every blob, each once, commit first.
    pub fn atom_raw_objects(&self, commit: ObjectId) -> Result<Vec<RawObject>, StoreError> {
        let mut out = vec![self.raw_object(commit)?];
        let kind = self.repo.object_hash();
        let tree = gix::objs::CommitRef::from_bytes(&out[0].data, kind)
            .git("parsing a commit")?
            .tree();
        let mut pending = vec![tree];
        while let Some(id) = pending.pop() {
            if out.iter().any(|o| o.id == id) {
                continue;
            }
            let obj = self.raw_object(id)?;
            if obj.kind == "tree" {
                let parsed =
                    gix::objs::TreeRef::from_bytes(&obj.data, kind).git("parsing a tree")?;
                for e in parsed.entries.iter().rev() {
                    let mode = e.mode.value();
                    if mode == MODE_TREE || mode & 0o170000 == 0o100000 {
                        pending.push(e.oid.to_owned());
                    }
                }
            }
            out.push(obj);
        }
        Ok(out)
    }

    /// One object as stored.
    pub fn raw_object(&self, id: ObjectId) -> Result<RawObject, StoreError> {
        let obj = self.repo.find_object(id).git("reading an object")?.detach();
        let kind = match obj.kind {
            gix::object::Kind::Commit => "commit",
            gix::object::Kind::Tree => "tree",
            gix::object::Kind::Blob => "blob",
            gix::object::Kind::Tag => "tag",
        };
        Ok(RawObject {
            id,
            kind,
            data: obj.data,
        })
    }

    /// Delete every ref under `prefix`.
    pub fn delete_refs_under(&self, prefix: &str) -> Result<(), StoreError> {
        for (name, _) in self.refs_under(prefix)? {
            self.delete_ref(&name)?;
        }
        Ok(())
    }
}
