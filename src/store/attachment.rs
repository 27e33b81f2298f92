//! Reading one attachment back: `attachments/<name>` of an atom's tree,
//! without reading the other files.

use gix::bstr::ByteSlice as _;
use gix::ObjectId;

use super::{GitStore, StoreError, ATTACHMENTS_DIR, MAX_BLOB_BYTES, MODE_FILE, MODE_TREE};

impl GitStore {
    /// The bytes of `attachments/<name>` in `commit`'s tree, each object on
    /// the way checked against its id. `Ok(None)` when the tree holds no
    /// such file. A blob over [`MAX_BLOB_BYTES`] is refused before it is read.
    pub fn read_attachment(
        &self,
        commit: ObjectId,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let refuse = |reason: String| StoreError::NotAnAtom { commit, reason };
        let mut corrupt = Vec::new();
        let read = |id: ObjectId, kind: &str, corrupt: &mut Vec<String>| {
            self.read_checked(id, kind, corrupt)
                .ok_or_else(|| refuse(corrupt.join("; ")))
        };
        let kind = self.repo.object_hash();
        let data = read(commit, "commit", &mut corrupt)?;
        let tree = gix::objs::CommitRef::from_bytes(&data, kind)
            .map_err(|_| refuse("the commit cannot be parsed".into()))?
            .tree();
        let Some(dir) = self.entry(
            read(tree, "tree", &mut corrupt)?,
            ATTACHMENTS_DIR,
            MODE_TREE,
            commit,
        )?
        else {
            return Ok(None);
        };
        let Some(blob) = self.entry(read(dir, "tree", &mut corrupt)?, name, MODE_FILE, commit)?
        else {
            return Ok(None);
        };
        let size = self
            .repo
            .find_header(blob)
            .map_err(|e| refuse(format!("{ATTACHMENTS_DIR}/{name} cannot be read: {e}")))?
            .size();
        if size > MAX_BLOB_BYTES {
            return Err(refuse(format!(
                "{ATTACHMENTS_DIR}/{name} is {size} bytes, more than the {} MiB a file of an atom may hold",
                MAX_BLOB_BYTES >> 20
            )));
        }
        read(blob, "blob", &mut corrupt).map(Some)
    }

    /// The id of the entry `name` of mode `mode` in the tree `data`.
    fn entry(
        &self,
        data: Vec<u8>,
        name: &str,
        mode: u16,
        commit: ObjectId,
    ) -> Result<Option<ObjectId>, StoreError> {
        let tree =
            gix::objs::TreeRef::from_bytes(&data, self.repo.object_hash()).map_err(|_| {
                StoreError::NotAnAtom {
                    commit,
                    reason: "a tree of it cannot be parsed".into(),
                }
            })?;
        Ok(tree
            .entries
            .iter()
            .find(|e| e.filename.as_bytes() == name.as_bytes() && e.mode.value() == mode)
            .map(|e| e.oid.to_owned()))
    }
}
