//! `atom verify`: check every reachable atom against what git, the record
//! and the trusted keys say, and report every failure, not just the first.
//!
//! The design decision a reader must know: verification runs in three
//! passes. Reading objects is sequential (one repository handle); the checks
//! that need one atom alone (object hashes, digest, message, tree, SSH
//! signature) run in parallel across cores; the checks that link atoms
//! (`previous_*`, `merged`, the id order along first-parent chains) run last
//! over the records held in memory.

use std::collections::HashMap;

use gix::ObjectId;
use serde::Serialize;

use crate::model::AtomId;
use crate::signing::{signature_key, AllowedSigners, Refusal, SignatureStatus};
use crate::store::{
    commit_message, AtomObjects, StoredAtom, ATTACHMENTS_DIR, HEADS_PREFIX, MODE_FILE, MODE_TREE,
    RECORD_FILE,
};
use crate::trail::{Trail, TrailError};
use crate::{canonical, Atom};

/// Which atoms to verify.
#[derive(Debug, Clone, Copy)]
pub enum VerifyScope<'a> {
    /// The current trail.
    Current,
    /// A trail name, atom id or commit, and its ancestors.
    Rev(&'a str),
    /// Every trail and archive ref.
    All,
}

/// One atom that failed (or drew a warning), with every reason.
#[derive(Debug, Clone, Serialize)]
pub struct AtomProblem {
    /// The atom id, when the commit holds a readable record.
    pub atom_id: Option<String>,
    /// The commit (hex).
    pub commit: String,
    /// What is wrong, one sentence each.
    pub reasons: Vec<String>,
}

/// The outcome of `atom verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// What was verified (`trail main`, a revision, `all trails and archives`).
    pub scope: String,
    /// How many atoms were checked.
    pub atoms: usize,
    /// True when no atom failed.
    pub ok: bool,
    /// The failing atoms, newest first.
    pub failures: Vec<AtomProblem>,
    /// Suspicious but accepted (an id named by two atoms on two sides of a merge).
    pub warnings: Vec<AtomProblem>,
    /// Some object on disk did not read back as what its name says (a
    /// damaged file, not a tampered atom): a fetch can mend it.
    #[serde(skip)]
    pub damaged_objects: bool,
}

/// What was read for one commit.
struct Loaded {
    commit: ObjectId,
    stored: Result<StoredAtom, String>,
    objects: AtomObjects,
    /// The commit's `Atom-Id:` trailer, to name an atom whose record is unreadable.
    claimed_id: Option<String>,
}

impl Trail {
    /// Verify the atoms in `scope`; see the module documentation for what is
    /// checked. A failing atom is reported, not an error: errors are for a
    /// store that cannot be read at all.
    pub fn verify(&self, scope: VerifyScope<'_>) -> Result<VerifyReport, TrailError> {
        let (label, tips) = match scope {
            VerifyScope::Current => {
                let trail = self.current_trail()?;
                let tip = self.git().ref_target(&format!("{HEADS_PREFIX}{trail}"))?;
                (format!("trail {trail}"), tip.into_iter().collect())
            }
            VerifyScope::Rev(rev) => (rev.to_owned(), vec![self.resolve(rev)?]),
            VerifyScope::All => ("all trails and archives".to_owned(), self.all_tips()?),
        };
        let commits = self.git().walk(&tips, None)?;
        let loaded = load(self, &commits);
        let mut reasons = check_each(self, &loaded);
        check_links(&loaded, &tips, &mut reasons);
        let warnings = duplicate_ids(&loaded, &reasons);
        let damaged_objects = loaded.iter().any(|l| !l.objects.corrupt.is_empty());

        let failures: Vec<AtomProblem> = loaded
            .iter()
            .zip(reasons)
            .filter(|(_, r)| !r.is_empty())
            .map(|(l, reasons)| problem(l, reasons))
            .collect();
        Ok(VerifyReport {
            scope: label,
            atoms: loaded.len(),
            ok: failures.is_empty(),
            failures,
            warnings,
            damaged_objects,
        })
    }
}

impl Trail {
    /// Verify `commits` (atoms another store sent, not yet on any ref here)
    /// the way [`Trail::verify`] does, reaching from `tips`. Their parents
    /// that are already here are read for the link checks but not
    /// themselves checked. Returns the failures, newest first.
    pub(crate) fn verify_commits(
        &self,
        commits: &[ObjectId],
        tips: &[ObjectId],
    ) -> Result<Vec<AtomProblem>, TrailError> {
        let mut loaded = load(self, commits);
        let mut reasons = check_each(self, &loaded);
        let checked: std::collections::HashSet<ObjectId> = commits.iter().copied().collect();
        let mut context: Vec<ObjectId> = loaded
            .iter()
            .filter_map(|l| l.stored.as_ref().ok())
            .flat_map(|s| s.parents.iter().copied())
            .filter(|p| !checked.contains(p))
            .collect();
        context.sort();
        context.dedup();
        loaded.extend(load(self, &context));
        reasons.resize(loaded.len(), Vec::new());
        check_links(&loaded, tips, &mut reasons);
        Ok(loaded
            .iter()
            .zip(reasons)
            .take(commits.len())
            .filter(|(_, r)| !r.is_empty())
            .map(|(l, reasons)| problem(l, reasons))
            .collect())
    }
}

fn problem(l: &Loaded, reasons: Vec<String>) -> AtomProblem {
    AtomProblem {
        atom_id: match &l.stored {
            Ok(s) => Some(s.record.atom_id.to_string()),
            Err(_) => l.claimed_id.clone(),
        },
        commit: l.commit.to_string(),
        reasons,
    }
}

/// Read every commit, on this thread: gix maps each loose object into
/// memory, and unmapping from several threads at once costs more than it
/// saves.
fn load(trail: &Trail, commits: &[ObjectId]) -> Vec<Loaded> {
    commits
        .iter()
        .map(|&commit| {
            let (stored, objects) = trail.git().read_atom_checked(commit);
            let claimed_id = match &stored {
                Ok(_) => None,
                Err(_) => trail.git().trailer(commit, "Atom-Id"),
            };
            Loaded {
                commit,
                stored: stored.map_err(|e| e.to_string()),
                objects,
                claimed_id,
            }
        })
        .collect()
}

/// The one-atom checks of every loaded commit, spread over the machine's cores.
fn check_each(trail: &Trail, loaded: &[Loaded]) -> Vec<Vec<String>> {
    let allowed = trail.allowed_signers();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = loaded.len().div_ceil(threads).max(64);
    std::thread::scope(|s| {
        let handles: Vec<_> = loaded
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|l| check_one(l, allowed)).collect()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| -> Vec<Vec<String>> { h.join().expect("a verify thread panicked") })
            .collect()
    })
}

fn check_one(l: &Loaded, allowed: &AllowedSigners) -> Vec<String> {
    let mut out: Vec<String> = l.objects.corrupt.clone();
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
    check_message(&stored.message, record, &mut out);
    check_signature(stored, allowed, &mut out);
    check_tree(&l.objects, record, &mut out);
    out
}

fn check_message(message: &str, record: &Atom, out: &mut Vec<String>) {
    let expected = commit_message(record);
    if message == expected {
        return;
    }
    let first = |m: &str| m.lines().next().unwrap_or("").to_owned();
    if first(message) != first(&expected) {
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

/// The checks between an atom and its parents, and the id order along
/// first-parent chains.
fn check_links(loaded: &[Loaded], tips: &[ObjectId], reasons: &mut [Vec<String>]) {
    let index: HashMap<ObjectId, usize> = loaded
        .iter()
        .enumerate()
        .map(|(i, l)| (l.commit, i))
        .collect();
    let record = |c: &ObjectId| -> Option<&Atom> {
        index
            .get(c)
            .and_then(|&i| loaded[i].stored.as_ref().ok())
            .map(|s| &s.record)
    };
    let mut chain_starts: Vec<ObjectId> = tips.to_vec();
    for (i, l) in loaded.iter().enumerate() {
        let Ok(stored) = &l.stored else { continue };
        let r = &stored.record;
        let out = &mut reasons[i];
        chain_starts.extend(stored.parents.iter().skip(1).copied());
        match stored.parents.first() {
            None => {
                if r.previous_atom.is_some() || r.previous_digest.is_some() {
                    out.push(format!(
                        "previous_atom names {} but the commit has no parent",
                        display_opt(&r.previous_atom)
                    ));
                }
            }
            Some(p) => match record(p) {
                None => out.push(format!("its parent {p} is not a readable atom")),
                Some(parent) => {
                    if r.previous_atom.as_ref() != Some(&parent.atom_id) {
                        out.push(format!(
                            "previous_atom is {} but its parent commit holds {}",
                            display_opt(&r.previous_atom),
                            parent.atom_id
                        ));
                    } else if r.previous_digest.as_ref() != Some(&parent.digest) {
                        out.push(format!(
                            "previous_digest does not match the digest of its parent {}",
                            parent.atom_id
                        ));
                    }
                }
            },
        }
        let extra: Vec<Option<&AtomId>> = stored
            .parents
            .iter()
            .skip(1)
            .map(|p| record(p).map(|a| &a.atom_id))
            .collect();
        match (&r.merged, extra.is_empty()) {
            (None, true) => {}
            (None, false) => out.push(format!(
                "the commit has {} parents but the record lists no merged atoms",
                stored.parents.len()
            )),
            (Some(m), _) => {
                let actual: Vec<Option<&AtomId>> = extra.clone();
                let listed: Vec<Option<&AtomId>> = m.iter().map(Some).collect();
                if actual != listed {
                    out.push(format!(
                        "merged lists [{}] but the extra parents hold [{}]",
                        join(m.iter()),
                        join(
                            extra
                                .iter()
                                .map(|a| a.map_or("?".to_owned(), |a| a.to_string()))
                        )
                    ));
                }
            }
        }
    }
    chain_starts.sort();
    chain_starts.dedup();
    for start in chain_starts {
        check_chain_order(start, loaded, &index, reasons);
    }
}

/// Along the first-parent chain from `start`, the ids of one day strictly
/// increase from older to newer atoms. A violation is reported on the newer
/// atom, naming the older one.
fn check_chain_order(
    start: ObjectId,
    loaded: &[Loaded],
    index: &HashMap<ObjectId, usize>,
    reasons: &mut [Vec<String>],
) {
    // Per day: the smallest number seen so far (newer atoms) and where.
    let mut newer: HashMap<chrono::NaiveDate, (u32, usize)> = HashMap::new();
    let mut at = Some(start);
    let mut steps = 0;
    while let Some(c) = at {
        steps += 1;
        let Some(&i) = index.get(&c) else { break };
        let Ok(stored) = &loaded[i].stored else { break };
        if steps > loaded.len() {
            break;
        }
        let id = &stored.record.atom_id;
        match newer.get(&id.date()).copied() {
            Some((min, j)) if id.seq() >= min => {
                let newer_id = loaded[j]
                    .stored
                    .as_ref()
                    .map(|s| s.record.atom_id.to_string())
                    .unwrap_or_default();
                let reason = if newer_id == id.to_string() {
                    format!("its id is also used by the earlier atom in commit {c}")
                } else {
                    format!("its number is not above that of {id}, an earlier atom of the same day on its first-parent chain")
                };
                if !reasons[j].contains(&reason) {
                    reasons[j].push(reason);
                }
            }
            _ => {
                newer.insert(id.date(), (id.seq(), i));
            }
        }
        at = stored.parents.first().copied();
    }
}

/// Ids named by two commits that no chain check flagged: two sides of a merge.
fn duplicate_ids(loaded: &[Loaded], reasons: &[Vec<String>]) -> Vec<AtomProblem> {
    let mut by_id: HashMap<&AtomId, Vec<usize>> = HashMap::new();
    for (i, l) in loaded.iter().enumerate() {
        if let Ok(s) = &l.stored {
            by_id.entry(&s.record.atom_id).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (i, l) in loaded.iter().enumerate() {
        let Ok(s) = &l.stored else { continue };
        let same = &by_id[&s.record.atom_id];
        if same.len() < 2 || !reasons[i].is_empty() {
            continue;
        }
        let others: Vec<String> = same
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| loaded[j].commit.to_string())
            .collect();
        out.push(problem(
            l,
            vec![format!(
                "its id also names commit {} (two devices' trails merged)",
                others.join(", ")
            )],
        ));
    }
    out
}

fn display_opt(id: &Option<AtomId>) -> String {
    id.as_ref()
        .map_or_else(|| "nothing".to_owned(), ToString::to_string)
}

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}
