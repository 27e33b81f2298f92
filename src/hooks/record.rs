//! What the hooks record: a COMMIT atom per commit (operation `commit`, or
//! `merge` for the merge commits `git merge` makes), and one atom per
//! rewrite (operation `amend` or `rebase`) whose `influenced_by` are the
//! atoms of the commits it replaced. All go on the store's current trail.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::project::{CommitInfo, Project};
use super::spooled::CommitEvent;
use super::{note_failed, HookError};
use crate::model::{self, AtomId};
use crate::secrets::Located;
use crate::trail::{Draft, Trail};

/// How long a hook waits for the store lock before giving up with a warning.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);

/// A commit recorded by the post-commit hook.
#[derive(Debug, Clone)]
pub struct CommitRecorded {
    /// The new COMMIT atom.
    pub atom_id: AtomId,
    /// The commit.
    pub commit: String,
    /// Influences named by `ATOM_INFLUENCED_BY` or trailers that are not
    /// atoms of this store, left out of `influenced_by`.
    pub unknown_influences: Vec<String>,
    /// Secrets masked in the atom (a token in the subject, ...).
    pub masked: Vec<Located>,
}

/// A rewrite recorded by the post-rewrite hook.
#[derive(Debug, Clone)]
pub struct RewriteRecorded {
    /// The rewrite atom.
    pub atom_id: AtomId,
    /// `(old, new)` commit pairs, as git listed them.
    pub rewritten: Vec<(String, String)>,
    /// Secrets masked in the atom.
    pub masked: Vec<Located>,
}

/// Record the commit of a spooled `post-commit` event as a COMMIT atom and
/// add the atom's id to the commit's note. `influenced_by` is the event's
/// `ATOM_INFLUENCED_BY` (ids separated by commas or spaces) plus the
/// commit's `Atom-Influenced-By:` trailers; the agent defaults to the
/// commit's author.
pub fn record_commit_event(
    trail: &Trail,
    event: &CommitEvent,
) -> Result<CommitRecorded, HookError> {
    let project = event.project();
    let pending = project.start_commit(&event.commit)?;
    let caught_up = trail.catch_up();
    let mut info = pending.finish()?;
    caught_up?;
    // The branch as it was when the commit was made.
    info.branch = event.branch.clone();
    let (agent, influenced_by) = (event.agent.clone(), event.influenced_by.clone());
    if event.squashed.is_empty() {
        return record_commit(trail, &project, info, "commit", agent, influenced_by, &[]);
    }
    let ids = super::notes::squashed_ids(&project, &event.squashed)?;
    squash_commit(
        trail,
        &project,
        info,
        (event.squashed.clone(), ids),
        agent,
        influenced_by,
    )
}

/// A commit made after `git merge --squash`: its atom also says which
/// commits it squashed (`metadata.squashed`, `influenced_by` their atoms),
/// and its note holds their atom ids before its own.
fn squash_commit(
    trail: &Trail,
    project: &Project,
    info: CommitInfo,
    (squashed, mut ids): (Vec<String>, Vec<AtomId>),
    agent: Option<String>,
    influenced_by: Option<String>,
) -> Result<CommitRecorded, HookError> {
    let mut named: Vec<String> = ids.iter().map(AtomId::to_string).collect();
    named.extend(influenced_by);
    let extra = Some(named.join(","));
    let mut done = record_commit(trail, project, info, "commit", agent, extra, &squashed)?;
    push_unique(&mut ids, &done.atom_id);
    project
        .set_note(&done.commit, &ids)
        .map_err(note_failed(&done.atom_id, &done.commit))?;
    // Squashed commits of another store are not links; they are no news.
    done.unknown_influences
        .retain(|name| !ids.iter().any(|id| id.to_string() == *name));
    Ok(done)
}

/// After `git merge` (which runs no post-commit hook): record `HEAD` as a
/// COMMIT atom with operation `merge` when it is a merge commit without a
/// note yet. A fast-forward made no commit, so nothing is recorded.
pub fn post_merge(
    trail: &Trail,
    project: &Project,
    agent: Option<String>,
    influenced_by: Option<String>,
) -> Result<Option<CommitRecorded>, HookError> {
    let info = read_head(trail, project)?;
    if info.parents.len() < 2 || !project.note_ids(&info.sha)?.is_empty() {
        return Ok(None);
    }
    record_commit(trail, project, info, "merge", agent, influenced_by, &[]).map(Some)
}

/// Read `HEAD` while the index catches up with the store: the two are the
/// slowest parts of a hook before the append.
fn read_head(trail: &Trail, project: &Project) -> Result<CommitInfo, HookError> {
    let pending = project.start_commit("HEAD")?;
    let caught_up = trail.catch_up();
    let info = pending.finish()?;
    caught_up?;
    Ok(info)
}

fn record_commit(
    trail: &Trail,
    project: &Project,
    info: CommitInfo,
    operation: &str,
    agent: Option<String>,
    influenced_by: Option<String>,
    squashed: &[String],
) -> Result<CommitRecorded, HookError> {
    let mut named = info.influenced_by.clone();
    named.extend(
        influenced_by
            .unwrap_or_default()
            .split([',', ' ', '\n', '\t'])
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
    );
    let (links, unknown_influences) = known_atoms(trail, named);
    let mut draft = Draft::new("COMMIT", operation);
    draft.agent = Some(pick_agent(trail, agent, &info.author));
    draft.summary = one_line(&info.subject);
    draft.influenced_by = links;
    draft.metadata = commit_metadata(&info);
    if !squashed.is_empty() {
        draft.metadata.insert("squashed".into(), json!(squashed));
    }
    // A hook never fails the commit over a secret: it masks it.
    let masked = trail.redact_draft(&mut draft)?;
    let view = trail.record_within(draft, LOCK_WAIT)?;
    let atom_id = view.record.atom_id;
    project
        .add_to_note(&info.sha, &atom_id)
        .map_err(note_failed(&atom_id, &info.sha))?;
    Ok(CommitRecorded {
        atom_id,
        commit: info.sha,
        unknown_influences,
        masked,
    })
}

/// Record a rewrite (`kind` is git's argument: `amend` or `rebase`) from
/// git's stdin lines `<old> <new> [extra]`, then give each new commit a note
/// holding the old commits' atom ids, its own, and the rewrite atom's.
pub fn post_rewrite(
    trail: &Trail,
    project: &Project,
    kind: &str,
    input: &str,
    agent: Option<String>,
) -> Result<Option<RewriteRecorded>, HookError> {
    model::validate_operation(kind).map_err(|_| {
        HookError::Input(format!(
            "{kind:?} is not a rewrite git names (amend, rebase)"
        ))
    })?;
    let mut rewritten = Vec::new();
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some(old), Some(new)) if is_sha(old) && is_sha(new) => {
                rewritten.push((old.to_owned(), new.to_owned()));
            }
            _ => return Err(HookError::Input(format!("{line:?} is not `<old> <new>`"))),
        }
    }
    if rewritten.is_empty() {
        return Ok(None);
    }
    // Each new commit's note: the old commits' ids (several when squashed),
    // then its own.
    let mut notes: BTreeMap<&str, Vec<AtomId>> = BTreeMap::new();
    let mut earlier: Vec<AtomId> = Vec::new();
    for (old, new) in &rewritten {
        let old_ids = project.note_ids(old)?;
        let ids = notes.entry(new.as_str()).or_default();
        for id in &old_ids {
            push_unique(ids, id);
            push_unique(&mut earlier, id);
        }
    }
    for (new, ids) in notes.iter_mut() {
        for id in project.note_ids(new)? {
            push_unique(ids, &id);
        }
    }
    let (links, _) = known_atoms(trail, earlier.iter().map(AtomId::to_string).collect());
    let committer = project.committer_name().unwrap_or_default();
    let n = rewritten.len();
    let mut draft = Draft::new("COMMIT", kind);
    draft.agent = Some(pick_agent(trail, agent, &committer));
    draft.summary = match &rewritten[..] {
        [(old, new)] => format!("{} -> {}", short(old), short(new)),
        _ => format!("{n} commits rewritten"),
    };
    draft.influenced_by = links;
    let info = project.commit("HEAD").ok();
    let mut metadata = Map::new();
    if let Some(info) = &info {
        metadata.insert("repo".into(), json!(info.repo));
        metadata.insert("branch".into(), json!(info.branch));
    }
    metadata.insert(
        "rewritten".into(),
        Value::Array(
            rewritten
                .iter()
                .map(|(old, new)| json!({"old": old, "new": new}))
                .collect(),
        ),
    );
    draft.metadata = metadata;
    let masked = trail.redact_draft(&mut draft)?;
    let view = trail.record_within(draft, LOCK_WAIT)?;
    let atom_id = view.record.atom_id;
    for (new, mut ids) in notes {
        push_unique(&mut ids, &atom_id);
        project
            .set_note(new, &ids)
            .map_err(note_failed(&atom_id, new))?;
    }
    Ok(Some(RewriteRecorded {
        atom_id,
        rewritten,
        masked,
    }))
}

fn push_unique(ids: &mut Vec<AtomId>, id: &AtomId) {
    if !ids.contains(id) {
        ids.push(id.clone());
    }
}

fn is_sha(s: &str) -> bool {
    s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `agent` (from `ATOM_AGENT`) when set, else `fallback` (the commit's
/// author) when it is a valid agent name, else the store's default.
fn pick_agent(trail: &Trail, agent: Option<String>, fallback: &str) -> String {
    agent
        .filter(|a| model::validate_agent(a).is_ok())
        .or_else(|| Some(fallback.to_owned()).filter(|a| model::validate_agent(a).is_ok()))
        .unwrap_or_else(|| trail.default_agent())
}

/// Split `names` into atom ids of this store (each once) and the rest.
fn known_atoms(trail: &Trail, names: Vec<String>) -> (Vec<AtomId>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match AtomId::parse_any_case(&name) {
            Ok(id) if trail.resolve(&name).is_ok() => push_unique(&mut known, &id),
            _ => unknown.push(name),
        }
    }
    (known, unknown)
}

/// A subject as an atom summary: control characters (a stray `\r`) become
/// spaces, and it is cut to the 64 KiB a summary may hold.
fn one_line(subject: &str) -> String {
    let mut s: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.len() > MAX_SUMMARY {
        let mut end = MAX_SUMMARY;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// How long a summary may be (see `model::validate_line`).
const MAX_SUMMARY: usize = 65_536;

/// At most this many `files` are listed in a COMMIT atom; a larger commit
/// (a vendored tree, an import) lists the first ones and says how many
/// there were in `files_total`, keeping the record small.
pub const MAX_FILES: usize = 1000;

/// SPEC metadata of a COMMIT atom.
fn commit_metadata(info: &CommitInfo) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("repo".into(), json!(info.repo));
    m.insert("branch".into(), json!(info.branch));
    m.insert("commit".into(), json!(info.sha));
    m.insert("parents".into(), json!(info.parents));
    m.insert("subject".into(), json!(info.subject));
    m.insert(
        "files".into(),
        json!(info.files[..info.files.len().min(MAX_FILES)]),
    );
    if info.files.len() > MAX_FILES {
        m.insert("files_total".into(), json!(info.files.len()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_become_valid_summaries() {
        assert_eq!(one_line("fix\r it\ttoo"), "fix  it too");
        let long = "é".repeat(40_000);
        let cut = one_line(&long);
        assert!(cut.len() <= MAX_SUMMARY && cut.chars().all(|c| c == 'é'));
        model::validate_line("summary", &cut).unwrap();
    }
}
