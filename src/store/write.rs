//! Writing commits: every object atom writes goes into a pack
//! ([`pack::PackWriter`]), never a loose file, so that one append costs one
//! pack and its index, both fsynced before they are renamed into place.
//!
//! The way in for a writer holding the store lock:
//! [`GitStore::new_pack`], [`GitStore::pack_atom_commit`] for each atom,
//! [`GitStore::finish_pack`], then [`GitStore::compare_and_swap`] of the ref.

use gix::bstr::BString;
use gix::objs::tree::{Entry, EntryKind};
use gix::objs::Kind;
use gix::ObjectId;

use super::pack::PackWriter;
use super::{
    commit_message, io_context, lock, rollup, GitStore, Identity, StoreError, ATTACHMENTS_DIR,
    RECORD_FILE,
};
use crate::model::Atom;
use crate::signing::Signer;

impl GitStore {
    /// Start a pack (see [`PackWriter`]); nothing is visible until
    /// [`GitStore::finish_pack`].
    pub fn new_pack(&self) -> Result<PackWriter, StoreError> {
        io_context(
            PackWriter::new(&self.git_dir.join("objects"), self.repo.object_hash()),
            || "starting a pack".into(),
        )
    }

    /// Make `pack` durable and visible: fsync the pack and its index, rename
    /// them into `objects/pack/` and fsync that directory (three fsyncs).
    /// When the store has too many packs and the caller holds the store
    /// lock, the objects of the smallest ones are copied into `pack` first
    /// and those packs deleted after (see [`rollup`]).
    pub fn finish_pack(&self, mut pack: PackWriter) -> Result<(), StoreError> {
        if pack.is_empty() {
            return Ok(());
        }
        let under_lock = lock::held_here(&self.git_dir.join(lock::STORE_LOCK));
        let retired = match under_lock {
            true => rollup::fold_small_packs(self, &mut pack)?,
            false => Vec::new(),
        };
        let finished = io_context(pack.finish(), || "writing a pack".into())?;
        if !retired.is_empty() {
            rollup::retire(self, &retired, finished.as_deref());
        }
        Ok(())
    }

    /// Write the objects of one atom into `pack`: each attachment's blob
    /// (`attachments`: name and content), `atom.json` (`record_bytes`, the
    /// record's canonical bytes), the trees, and the
    /// commit signed by `signer`. Returns the commit id.
    #[allow(clippy::too_many_arguments)]
    pub fn pack_atom_commit(
        &self,
        pack: &mut PackWriter,
        record: &Atom,
        record_bytes: &[u8],
        attachments: &[(String, Vec<u8>)],
        parents: &[ObjectId],
        author: &Identity,
        committer: &Identity,
        signer: &dyn Signer,
    ) -> Result<ObjectId, StoreError> {
        let mut add =
            |kind, data: &[u8]| io_context(pack.add(kind, data), || "writing a pack".into());
        let mut buf = Vec::with_capacity(1024);
        let mut entries = vec![Entry {
            mode: EntryKind::Blob.into(),
            filename: RECORD_FILE.into(),
            oid: add(Kind::Blob, record_bytes)?,
        }];
        if !attachments.is_empty() {
            let mut att = Vec::with_capacity(attachments.len());
            for (name, bytes) in attachments {
                att.push(Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.as_str().into(),
                    oid: add(Kind::Blob, bytes)?,
                });
            }
            att.sort();
            encode(&gix::objs::Tree { entries: att }, &mut buf)?;
            entries.push(Entry {
                mode: EntryKind::Tree.into(),
                filename: ATTACHMENTS_DIR.into(),
                oid: add(Kind::Tree, &buf)?,
            });
        }
        entries.sort();
        encode(&gix::objs::Tree { entries }, &mut buf)?;
        let tree = add(Kind::Tree, &buf)?;

        let time = record.time().map_err(|e| StoreError::NotAnAtom {
            commit: ObjectId::null(self.repo.object_hash()),
            reason: e.to_string(),
        })?;
        let time = gix::date::Time {
            seconds: time.timestamp(),
            offset: 0,
        };
        let sig = |who: &Identity| gix::actor::Signature {
            name: who.name.as_str().into(),
            email: who.email.as_str().into(),
            time,
        };
        let mut commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: sig(author),
            committer: sig(committer),
            encoding: None,
            message: commit_message(record).into(),
            extra_headers: Vec::new(),
        };
        self.sign(&mut commit, signer)?;
        encode(&commit, &mut buf)?;
        add(Kind::Commit, &buf)
    }

    /// Add the `gpgsig` header to `commit`, as `git commit -S` does: the
    /// signature covers the commit as serialized without it.
    pub(crate) fn sign(
        &self,
        commit: &mut gix::objs::Commit,
        signer: &dyn Signer,
    ) -> Result<(), StoreError> {
        let mut payload = Vec::with_capacity(512);
        encode(&*commit, &mut payload)?;
        let armored = signer.sign(&payload)?;
        let field = gix::objs::commit::signature_field_name(self.repo.object_hash());
        commit
            .extra_headers
            .push((BString::from(field), BString::from(armored)));
        Ok(())
    }

    /// Write a signed commit whose tree holds one file, `name` with
    /// `content` (the published trusted keys), dated now, made durable.
    pub fn write_file_commit(
        &self,
        name: &str,
        content: &[u8],
        parents: &[ObjectId],
        who: &Identity,
        message: &str,
        signer: &dyn Signer,
    ) -> Result<ObjectId, StoreError> {
        let mut pack = self.new_pack()?;
        let mut add =
            |kind, data: &[u8]| io_context(pack.add(kind, data), || "writing a pack".into());
        let mut buf = Vec::new();
        let blob = add(Kind::Blob, content)?;
        encode(
            &gix::objs::Tree {
                entries: vec![Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.into(),
                    oid: blob,
                }],
            },
            &mut buf,
        )?;
        let tree = add(Kind::Tree, &buf)?;
        let sig = gix::actor::Signature {
            name: who.name.as_str().into(),
            email: who.email.as_str().into(),
            time: gix::date::Time {
                seconds: chrono::Utc::now().timestamp(),
                offset: 0,
            },
        };
        let mut commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        self.sign(&mut commit, signer)?;
        encode(&commit, &mut buf)?;
        let id = add(Kind::Commit, &buf)?;
        self.finish_pack(pack)?;
        Ok(id)
    }
}

/// Serialize `obj` into `buf` (cleared first).
fn encode(obj: &dyn gix::objs::WriteTo, buf: &mut Vec<u8>) -> Result<(), StoreError> {
    buf.clear();
    io_context(obj.write_to(buf), || "serializing an object".into())
}
