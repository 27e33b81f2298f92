//! The canonical form: an atom commit must be, byte for byte, the commit
//! atom writes for its record.
//!
//! Why this is a check of its own: git names a commit by all of its bytes,
//! but the signature covers the commit without its signature header, and a
//! key holder may sign anything. Without it, the armor of a signed atom
//! could be re-wrapped or given `\r`s (a new commit id for the same atom,
//! without the key; `git verify-commit` refuses some of these), and an atom
//! could carry headers, identities or dates that its record does not say.
//! So the commit is encoded again by the writer's own encoder
//! ([`encode_commit`]) from the record (message, author, dates), the
//! commit's parents, tree and committer identity, and its signature armored
//! again ([`canonical_armor`]); any difference fails the atom, with the
//! parts that differ named. The tree is encoded again from the entries read
//! ([`encode_atom_tree`]). Every version of atom has written this one form,
//! so no other encoding is accepted for older atoms either.

use gix::bstr::{BStr, ByteSlice};
use gix::objs::Kind;
use gix::ObjectId;

use crate::model::{self, Atom};
use crate::signing::canonical_armor;
use crate::store::{
    commit_message, encode_atom_tree, encode_attachments_tree, encode_commit, AtomObjects,
    CommitFields, Identity, StoredAtom, ATTACHMENTS_DIR, MODE_TREE, RECORD_FILE,
};

/// The start of every reason about bytes that differ from atom's encoding.
pub(super) const NOT_CANONICAL: &str = "commit is not in atom's canonical form";

/// Which of the other checks already found something, so that a difference
/// they explain is not reported twice.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Explained {
    /// The message does not agree with the record.
    pub(super) message: bool,
    /// The tree's entries are not the ones the record calls for.
    pub(super) tree: bool,
}

/// Check that `stored` (whose objects are `objects`) is exactly the commit
/// atom writes for it; reasons go to `out`.
pub(super) fn check_form(
    stored: &StoredAtom,
    objects: &AtomObjects,
    explained: Explained,
    out: &mut Vec<String>,
) {
    let Ok(parsed) = gix::objs::CommitRef::from_bytes(&objects.commit, stored.commit.kind()) else {
        return;
    };
    if !explained.tree {
        check_tree_form(parsed.tree(), objects, out);
    }
    let record = &stored.record;
    let Ok(time) = record.time() else {
        // An invalid timestamp fails the record already.
        return;
    };
    let time = time.timestamp();
    let Some(people) = check_people(&parsed, record, time, out) else {
        return;
    };
    let Some((armored, _)) = &stored.signature else {
        // Unsigned: failed already, and there is no armor to compare.
        return;
    };
    let Some(armor) = canonical_armor(armored) else {
        // Not an SSH signature: failed already as a bad signature.
        return;
    };
    let message = commit_message(record);
    let author = Identity::agent(&record.agent);
    let fields = CommitFields {
        tree: parsed.tree(),
        parents: &stored.parents,
        author: &author,
        committer: &people.committer,
        time,
        message: message.as_bytes(),
    };
    match encode_commit(&fields, Some(&armor)) {
        Ok(expected) if expected == objects.commit => {}
        Ok(expected) => name_differences(&objects.commit, &expected, &people, explained, out),
        Err(e) => out.push(format!("{NOT_CANONICAL}: it cannot be encoded again: {e}")),
    }
}

/// What the author and committer checks found.
struct People {
    /// The committer as the commit names it (any identity atom would write).
    committer: Identity,
    /// The author line was found wrong already.
    author_wrong: bool,
    /// The committer line was found wrong already.
    committer_wrong: bool,
}

/// The author must be the agent of the record and the committer a name
/// atom would write, both dated at the record's timestamp in UTC. `None`
/// when a line cannot be read at all (reported).
fn check_people(
    parsed: &gix::objs::CommitRef<'_>,
    record: &Atom,
    time: i64,
    out: &mut Vec<String>,
) -> Option<People> {
    let (Some(author), Some(committer)) = (person(parsed.author), person(parsed.committer)) else {
        out.push(format!(
            "{NOT_CANONICAL}: its author or committer line cannot be read"
        ));
        return None;
    };
    let agent = Identity::agent(&record.agent);
    let mut author_wrong = false;
    if author.name != agent.name || author.email != agent.email {
        out.push(format!(
            "its author is \"{} <{}>\", not the agent the record names, \"{} <{}>\"",
            author.name, author.email, agent.name, agent.email
        ));
        author_wrong = true;
    }
    let mut committer_wrong = false;
    if model::validate_agent(&committer.name).is_err() {
        out.push(format!(
            "its committer name {:?} is not one atom writes (one line without control \
             characters or leading or trailing spaces, at most 128 bytes, no '<' or '>')",
            committer.name
        ));
        committer_wrong = true;
    }
    for (who, p, wrong) in [
        ("author", &author, &mut author_wrong),
        ("committer", &committer, &mut committer_wrong),
    ] {
        let want = format!("{time} +0000");
        if p.time != want {
            out.push(format!(
                "its {who} date {:?} is not the record's timestamp {} (atom writes {want:?})",
                p.time, record.timestamp
            ));
            *wrong = true;
        }
    }
    Some(People {
        committer: Identity {
            name: committer.name,
            email: committer.email,
        },
        author_wrong,
        committer_wrong,
    })
}

/// Say which parts of `stored` differ from `expected`, the commit atom
/// writes for it, leaving out what other checks reported already.
fn name_differences(
    stored: &[u8],
    expected: &[u8],
    people: &People,
    explained: Explained,
    out: &mut Vec<String>,
) {
    let before = out.len();
    let (have, have_message) = split(stored);
    let (want, want_message) = split(expected);
    let have_names: Vec<&[u8]> = have.iter().map(|(n, _)| *n).collect();
    let want_names: Vec<&[u8]> = want.iter().map(|(n, _)| *n).collect();
    for n in minus(&have_names, &want_names) {
        out.push(format!(
            "{NOT_CANONICAL}: an extra `{}` header",
            n.to_str_lossy()
        ));
    }
    for n in minus(&want_names, &have_names) {
        out.push(format!("{NOT_CANONICAL}: no `{}` header", n.to_str_lossy()));
    }
    if out.len() == before && have_names != want_names {
        out.push(format!(
            "{NOT_CANONICAL}: its headers are not in the order atom writes them"
        ));
    }
    for (name, value) in &want {
        let Some((_, stored_value)) = have.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let known = match *name {
            b"author" => people.author_wrong,
            b"committer" => people.committer_wrong,
            _ => false,
        };
        if stored_value == value || known {
            continue;
        }
        let name = name.to_str_lossy();
        out.push(if name.starts_with("gpgsig") {
            format!("{NOT_CANONICAL}: {name} armor differs from the armor atom writes for its signature")
        } else {
            format!("{NOT_CANONICAL}: its {name} line is not as atom writes it")
        });
    }
    if have_message != want_message && !explained.message {
        out.push(format!(
            "{NOT_CANONICAL}: its message is not byte for byte the one atom writes for the record"
        ));
    }
    if out.len() == before && !people.author_wrong && !people.committer_wrong {
        out.push(format!(
            "{NOT_CANONICAL}: its bytes differ from the commit atom writes for it"
        ));
    }
}

/// The names of `a` that `b` does not account for (each of `b` cancels one
/// of `a`), each once.
fn minus<'a>(a: &[&'a [u8]], b: &[&[u8]]) -> Vec<&'a [u8]> {
    let mut left = a.to_vec();
    for n in b {
        if let Some(i) = left.iter().position(|e| e == n) {
            left.remove(i);
        }
    }
    let mut out: Vec<&[u8]> = Vec::new();
    for n in left {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The tree read (whose entries the record calls for) must be the tree atom
/// encodes from those entries.
fn check_tree_form(tree: ObjectId, objects: &AtomObjects, out: &mut Vec<String>) {
    let kind = tree.kind();
    let id = |bytes: &[u8]| gix::objs::compute_hash(kind, Kind::Tree, bytes).ok();
    let Some(record) = objects.files.iter().find(|f| f.path == RECORD_FILE) else {
        return;
    };
    let prefix = format!("{ATTACHMENTS_DIR}/");
    let files: Vec<(&str, ObjectId)> = objects
        .files
        .iter()
        .filter_map(|f| Some((f.path.strip_prefix(&prefix)?, f.oid)))
        .collect();
    let attachments = match objects
        .files
        .iter()
        .find(|f| f.path == ATTACHMENTS_DIR && f.mode == MODE_TREE)
    {
        None => None,
        Some(dir) => {
            let Some(canonical) = encode_attachments_tree(&files).ok().and_then(|b| id(&b)) else {
                return;
            };
            if canonical != dir.oid {
                out.push(format!(
                    "{NOT_CANONICAL}: its {ATTACHMENTS_DIR} tree is not encoded as atom encodes it"
                ));
                return;
            }
            Some(dir.oid)
        }
    };
    let canonical = encode_atom_tree(record.oid, attachments)
        .ok()
        .and_then(|b| id(&b));
    if canonical.is_some_and(|c| c != tree) {
        out.push(format!(
            "{NOT_CANONICAL}: its tree is not encoded as atom encodes it"
        ));
    }
}

/// An author or committer line, read as git reads it.
struct Person {
    name: String,
    email: String,
    /// `<seconds> <offset>` as written.
    time: String,
}

fn person(line: &BStr) -> Option<Person> {
    let sig = gix::actor::SignatureRef::from_bytes(line).ok()?;
    Some(Person {
        name: sig.name.to_str().ok()?.to_owned(),
        email: sig.email.to_str().ok()?.to_owned(),
        time: sig.time.to_owned(),
    })
}

/// A header field of a commit: its name and its value, continuation lines
/// included.
type Header<'a> = (&'a [u8], &'a [u8]);

/// A commit's header fields in order, and its message.
fn split(commit: &[u8]) -> (Vec<Header<'_>>, &[u8]) {
    let mut fields: Vec<(&[u8], std::ops::Range<usize>)> = Vec::new();
    let mut pos = 0;
    while pos < commit.len() {
        let end = commit[pos..]
            .find_byte(b'\n')
            .map_or(commit.len(), |i| pos + i + 1);
        let line = &commit[pos..end];
        if line == b"\n" {
            break;
        }
        match fields.last_mut() {
            // A continuation line: the value runs on.
            Some((_, value)) if line[0] == b' ' => value.end = end,
            _ => {
                let name = line.find_byte(b' ').map_or(line, |i| &line[..i]);
                fields.push((name, (pos + name.len() + 1).min(end)..end));
            }
        }
        pos = end;
    }
    let message = &commit[(pos + 1).min(commit.len())..];
    let fields = fields
        .into_iter()
        .map(|(name, value)| (name, &commit[value]))
        .collect();
    (fields, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_continuation_lines_with_their_header() {
        let commit =
            b"tree 1\nparent 2\ngpgsig -----BEGIN\n abc\n -----END\nencoding x\n\nmsg\n\nmore\n";
        let (fields, message) = split(commit);
        let names: Vec<&[u8]> = fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [&b"tree"[..], b"parent", b"gpgsig", b"encoding"].as_slice()
        );
        assert_eq!(fields[2].1, b"-----BEGIN\n abc\n -----END\n");
        assert_eq!(message, b"msg\n\nmore\n");
        assert_eq!(
            split(b"tree 1\n"),
            (vec![(&b"tree"[..], &b"1\n"[..])], &b""[..])
        );
    }

    #[test]
    fn minus_counts_repeats_and_names_each_once() {
        let have: Vec<&[u8]> = vec![b"tree", b"parent", b"parent", b"x", b"x"];
        let want: Vec<&[u8]> = vec![b"tree", b"parent"];
        assert_eq!(minus(&have, &want), [&b"parent"[..], b"x"]);
        assert!(minus(&want, &have).is_empty());
    }
}
