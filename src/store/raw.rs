//! Raw git objects and bookkeeping refs, for copying atoms out of the store
//! and back in byte for byte (the D1 mirror).
//!
//! An object is its kind and its uncompressed content: writing the same pair
//! anywhere yields the same id, whatever the compression or packing.

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::Target;
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

    /// Point `full_name` at `new` whatever it pointed to before (bookkeeping
    /// refs only: trails move with [`GitStore::compare_and_swap`]).
    pub fn force_ref(
        &self,
        full_name: &str,
        new: ObjectId,
        message: &str,
    ) -> Result<(), StoreError> {
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: message.into(),
                },
                expected: PreviousValue::Any,
                new: Target::Object(new),
            },
            name: full_name.try_into().git("naming a reference")?,
            deref: false,
        };
        self.edit_as_atom(edit)?;
        super::io_context(super::durable::sync_ref(&self.git_dir, full_name), || {
            format!("syncing {full_name} to disk")
        })
    }

    /// Delete every ref under `prefix`.
    pub fn delete_refs_under(&self, prefix: &str) -> Result<(), StoreError> {
        for (name, _) in self.refs_under(prefix)? {
            self.delete_ref(&name)?;
        }
        Ok(())
    }

    /// Delete the ref `full_name` (bookkeeping refs only).
    pub fn delete_ref(&self, full_name: &str) -> Result<(), StoreError> {
        let edit = RefEdit {
            change: Change::Delete {
                expected: PreviousValue::Any,
                log: RefLog::AndReference,
            },
            name: full_name.try_into().git("naming a reference")?,
            deref: false,
        };
        self.edit_as_atom(edit)
    }

    fn edit_as_atom(&self, edit: RefEdit) -> Result<(), StoreError> {
        let who = gix::actor::Signature {
            name: "atom".into(),
            email: "atom@localhost".into(),
            time: gix::date::Time::now_utc(),
        };
        self.repo
            .edit_references_as(
                Some(edit),
                Some(who.to_ref(&mut gix::date::parse::TimeBuf::default())),
            )
            .git("updating a reference")?;
        Ok(())
    }
}
