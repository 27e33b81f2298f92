//! Writing commits: every object atom writes goes into a pack
//! ([`pack::PackWriter`]), never a loose file, so that one append costs one
//! pack and its index, both fsynced before they are renamed into place.
//!
//! The way in for a writer holding the store lock:
//! [`GitStore::new_pack`], [`GitStore::pack_atom_commit`] for each atom,
//! [`GitStore::finish_pack`], then [`GitStore::compare_and_swap`] of the ref.
//!
//! Objects are encoded by pure functions ([`encode_commit`],
//! [`encode_atom_tree`], [`encode_attachments_tree`]) that `atom verify`
//! calls too: a stored atom must be byte for byte what they produce from
//! its record, so the writer and the checker cannot drift apart.

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
    /// record's canonical bytes), the trees, and the commit signed by
    /// `signer`, each encoded by the functions `atom verify` re-encodes
    /// with ([`encode_atom_tree`], [`encode_commit`]). Returns the commit id.
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
        let record_blob = add(Kind::Blob, record_bytes)?;
        let mut files = Vec::with_capacity(attachments.len());
        for (name, bytes) in attachments {
            files.push((name.as_str(), add(Kind::Blob, bytes)?));
        }
        let attachments_tree = match files.is_empty() {
            true => None,
            false => Some(add(Kind::Tree, &encode_attachments_tree(&files)?)?),
        };
        let tree = add(
            Kind::Tree,
            &encode_atom_tree(record_blob, attachments_tree)?,
        )?;
        let time = record.time().map_err(|e| StoreError::NotAnAtom {
            commit: ObjectId::null(self.repo.object_hash()),
            reason: e.to_string(),
        })?;
        let message = commit_message(record);
        let fields = CommitFields {
            tree,
            parents,
            author,
            committer,
            time: time.timestamp(),
            message: message.as_bytes(),
        };
        add(Kind::Commit, &sign_commit(&fields, signer)?)
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
        let blob = add(Kind::Blob, content)?;
        let tree = add(Kind::Tree, &encode_tree(vec![file_entry(name, blob)])?)?;
        let fields = CommitFields {
            tree,
            parents,
            author: who,
            committer: who,
            time: chrono::Utc::now().timestamp(),
            message: message.as_bytes(),
        };
        let id = add(Kind::Commit, &sign_commit(&fields, signer)?)?;
        self.finish_pack(pack)?;
        Ok(id)
    }
}

impl Identity {
    /// The author of an agent's atoms (SPEC §3): the agent's name and
    /// `<local part>@agents.atom`, the local part made git-safe by
    /// [`email_local_part`] (`Claude Code <claude-code@agents.atom>`).
    pub fn agent(agent: &str) -> Identity {
        Identity {
            name: agent.to_owned(),
            email: format!("{}@agents.atom", email_local_part(agent)),
        }
    }
}

/// A git-safe email local part for an agent name: `Claude Code` -> `claude-code`.
fn email_local_part(agent: &str) -> String {
    let mut out = String::with_capacity(agent.len());
    for c in agent.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+') {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(['-', '.']);
    if trimmed.is_empty() {
        "agent".into()
    } else {
        trimmed.to_owned()
    }
}

/// What an atom commit says besides its signature. Author and committer are
/// both dated `time`, in UTC (`+0000`).
#[derive(Debug, Clone, Copy)]
pub struct CommitFields<'a> {
    /// The root tree.
    pub tree: ObjectId,
    /// Parent commits, first parent first.
    pub parents: &'a [ObjectId],
    /// The author (for an atom: [`Identity::agent`]).
    pub author: &'a Identity,
    /// The committer.
    pub committer: &'a Identity,
    /// Unix seconds of both dates (for an atom: the record's `timestamp`).
    pub time: i64,
    /// The whole message.
    pub message: &'a [u8],
}

/// The bytes of the commit object atom writes for `fields`, as `git commit`
/// lays a commit out: `tree`, `parent`s, `author`, `committer`, then, when
/// `signature` is given, the signature header (`gpgsig`; `gpgsig-sha256` in
/// a SHA-256 repository) holding that armor, a blank line and the message.
/// Without `signature` these are the bytes the signature signs. This is the
/// one encoder of atom commits: the writer uses it, and `atom verify`
/// requires every stored atom commit to be exactly its output.
pub fn encode_commit(
    fields: &CommitFields<'_>,
    signature: Option<&str>,
) -> Result<Vec<u8>, StoreError> {
    let time = gix::date::Time {
        seconds: fields.time,
        offset: 0,
    };
    let sig = |who: &Identity| gix::actor::Signature {
        name: who.name.as_str().into(),
        email: who.email.as_str().into(),
        time,
    };
    let field = gix::objs::commit::signature_field_name(fields.tree.kind());
    let commit = gix::objs::Commit {
        tree: fields.tree,
        parents: fields.parents.iter().copied().collect(),
        author: sig(fields.author),
        committer: sig(fields.committer),
        encoding: None,
        message: fields.message.into(),
        extra_headers: signature
            .map(|armor| (BString::from(field), BString::from(armor)))
            .into_iter()
            .collect(),
    };
    let mut buf = Vec::with_capacity(1024);
    encode(&commit, &mut buf)?;
    Ok(buf)
}

/// [`encode_commit`] signed by `signer`, as `git commit -S` signs: the
/// signature covers the commit as encoded without it.
pub fn sign_commit(fields: &CommitFields<'_>, signer: &dyn Signer) -> Result<Vec<u8>, StoreError> {
    let armor = signer.sign(&encode_commit(fields, None)?)?;
    encode_commit(fields, Some(&armor))
}

/// The root tree of an atom: `atom.json` (the blob `record`) and, when the
/// atom has attachments, the `attachments` tree.
pub fn encode_atom_tree(
    record: ObjectId,
    attachments: Option<ObjectId>,
) -> Result<Vec<u8>, StoreError> {
    let mut entries = vec![file_entry(RECORD_FILE, record)];
    if let Some(oid) = attachments {
        entries.push(Entry {
            mode: EntryKind::Tree.into(),
            filename: ATTACHMENTS_DIR.into(),
            oid,
        });
    }
    encode_tree(entries)
}

/// The `attachments` tree: each file (name, blob id) as a regular file.
pub fn encode_attachments_tree(files: &[(&str, ObjectId)]) -> Result<Vec<u8>, StoreError> {
    encode_tree(
        files
            .iter()
            .map(|&(name, oid)| file_entry(name, oid))
            .collect(),
    )
}

fn file_entry(name: &str, oid: ObjectId) -> Entry {
    Entry {
        mode: EntryKind::Blob.into(),
        filename: name.into(),
        oid,
    }
}

/// A tree of `entries` in git's order.
fn encode_tree(mut entries: Vec<Entry>) -> Result<Vec<u8>, StoreError> {
    entries.sort();
    let mut buf = Vec::new();
    encode(&gix::objs::Tree { entries }, &mut buf)?;
    Ok(buf)
}

/// Serialize `obj` into `buf` (cleared first).
fn encode(obj: &dyn gix::objs::WriteTo, buf: &mut Vec<u8>) -> Result<(), StoreError> {
    buf.clear();
    io_context(obj.write_to(buf), || "serializing an object".into())
}
