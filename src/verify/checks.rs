//! The checks that need one atom alone: object hashes, digest, canonical
//! form of the record and of the commit (`form.rs`), commit message, tree
//! and SSH signature.
//!
//! Atoms are read in chunks on one thread (one repository handle: gix maps
//! loose objects into memory, and unmapping from several threads at once
//! costs more than it saves) and a chunk's checks are spread over the cores;
//! nothing of a chunk is kept once its atoms were checked.

use std::collections::HashMap;

use gix::ObjectId;

use super::form::{check_form, Explained, NOT_CANONICAL};
use crate::canonical;
use crate::model::Atom;
use crate::signing::{signature_key, AllowedSigners, Refusal, SignatureStatus};
use crate::store::{
    commit_message, AtomObjects, GitStore, StoredAtom, ATTACHMENTS_DIR, MODE_FILE, MODE_TREE,
    RECORD_FILE,
};

/// What was read for one commit.
pub(super) struct Loaded {
    /// The atom, or why the commit holds none.
    pub(super) stored: Result<StoredAtom, String>,
    /// Its objects, each checked against its id.
    pub(super) objects: AtomObjects,
    /// The commit's `Atom-Id:` trailer, to name an atom whose record is unreadable.
    pub(super) claimed_id: Option<String>,
}

impl Loaded {
    /// Read `commit` and its objects.
    pub(super) fn read(git: &GitStore, commit: ObjectId) -> Self {
        let (stored, objects) = git.read_atom_checked(commit);
        let claimed_id = match &stored {
            Ok(_) => None,
            Err(_) => git.trailer(commit, "Atom-Id"),
        };
        Loaded {
            stored: stored.map_err(|e| e.to_string()),
            objects,
            claimed_id,
        }
    }

    /// The atom id to report it under.
    pub(super) fn atom_id(&self) -> Option<String> {
        match &self.stored {
            Ok(s) => Some(s.record.atom_id.to_string()),
            Err(_) => self.claimed_id.clone(),
        }
    }
}

/// The one-atom checks of each loaded commit marked to be checked (the
/// others get none), spread over the machine's cores; the reasons come back
/// in the same order.
pub(super) fn check_each(loaded: &[(Loaded, bool)], allowed: &AllowedSigners) -> Vec<Vec<String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = loaded.len().div_ceil(threads).max(64);
    let check = |(l, checked): &(Loaded, bool)| {
        if *checked {
            check_one(l, allowed)
        } else {
            Vec::new()
        }
    };
    if loaded.len() <= chunk {
        return loaded.iter().map(check).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = loaded
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(check).collect()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| -> Vec<Vec<String>> { h.join().expect("a verify thread panicked") })
            .collect()
    })
}

fn check_one(l: &Loaded, allowed: &AllowedSigners) -> Vec<String> {
    let mut out: Vec<String> = l.objects.corrupt.clone();
    out.extend(l.objects.too_large.iter().cloned());
    let stored = match &l.stored {
        Ok(s) => s,
        Err(e) => {
            out.push(format!("not a readable atom: {e}"));
            return out;
        }
    };
    let record = &stored.record;
    let recomputed = record.compute_digest();
    if recomputed != record.digest {
        out.push(format!(
            "digest does not match the record: atom.json says {}, its content hashes to {recomputed}",
            record.digest
        ));
    }
    if let Err(e) = record.validate() {
        if e.field() != "digest" {
            out.push(format!("record is not valid: {e}"));
        }
    }
    if stored.record_bytes != record.canonical_bytes() {
        out.push(format!("{RECORD_FILE} is not in canonical form"));
    }
    let before = out.len();
    check_message(&stored.message, record, &mut out);
    let message = out.len() > before;
    check_signature(stored, allowed, &mut out);
    let before = out.len();
    check_tree(&l.objects, record, &mut out);
    let tree = out.len() > before || !l.objects.corrupt.is_empty();
    check_form(stored, &l.objects, Explained { message, tree }, &mut out);
    out
}

fn check_message(message: &str, record: &Atom, out: &mut Vec<String>) {
    let expected = commit_message(record);
    if message == expected {
        return;
    }
    let first = |m: &str| m.lines().next().unwrap_or("").to_owned();
    if message.trim_end() == expected.trim_end() {
        out.push(format!(
            "{NOT_CANONICAL}: its message ends in whitespace other than the one newline atom writes"
        ));
    } else if first(message) != first(&expected) {
        out.push(format!(
            "the commit message's first line {:?} does not agree with atom.json (expected {:?})",
            first(message),
            first(&expected)
        ));
    } else {
        out.push("the commit's trailers do not agree with atom.json".to_owned());
    }
}

fn check_signature(stored: &StoredAtom, allowed: &AllowedSigners, out: &mut Vec<String>) {
    let Some((armored, payload)) = &stored.signature else {
        out.push("the commit is not signed".to_owned());
        return;
    };
    let time = stored.signature_time();
    let check = allowed.check(armored, payload, time);
    let signer = check.signer.unwrap_or_else(|| "unknown key".into());
    match check.status {
        SignatureStatus::Good => {}
        SignatureStatus::Untrusted => {
            match signature_key(armored).and_then(|k| allowed.refusal(&k, time)) {
                Some(Refusal::NotListed) | None => out.push(format!(
                    "signed by {signer}, a key not in keys/allowed_signers"
                )),
                Some(why) => out.push(format!(
                    "signed by {signer}, which keys/allowed_signers does not trust for this commit: {why}"
                )),
            }
        }
        SignatureStatus::Bad => out.push(format!(
            "the signature does not match the commit (key {signer})"
        )),
        SignatureStatus::None => out.push("the commit is not signed".to_owned()),
    }
}

/// The tree holds `atom.json` and, when the record lists attachments, an
/// `attachments/` directory with exactly those files.
fn check_tree(objects: &AtomObjects, record: &Atom, out: &mut Vec<String>) {
    let mut expected: HashMap<String, Option<&crate::Attachment>> = HashMap::new();
    expected.insert(RECORD_FILE.to_owned(), None);
    if !record.attachments.is_empty() {
        expected.insert(ATTACHMENTS_DIR.to_owned(), None);
    }
    for a in &record.attachments {
        expected.insert(format!("{ATTACHMENTS_DIR}/{}", a.name), Some(a));
    }
    for f in &objects.files {
        let Some(want) = expected.remove(&f.path) else {
            out.push(format!("unexpected {} in the commit's tree", f.path));
            continue;
        };
        let want_mode = if f.path == ATTACHMENTS_DIR {
            MODE_TREE
        } else {
            MODE_FILE
        };
        if f.mode != want_mode {
            out.push(format!("{} has mode {:o} in the tree", f.path, f.mode));
            continue;
        }
        if let Some(a) = want {
            if f.data.len() as u64 != a.size || canonical::sha256_hex(&f.data) != a.sha256 {
                out.push(format!(
                    "attachment {} does not match the size and sha256 atom.json lists",
                    a.name
                ));
            }
        }
    }
    let mut missing: Vec<String> = expected.into_keys().collect();
    missing.sort();
    for m in missing {
        out.push(format!("{m} is missing from the commit's tree"));
    }
}
