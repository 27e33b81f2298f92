//! Notes that travel and survive: `refs/notes/atom` flows with the
//! project's own fetches and pushes, and survives rewrites and squash merges.
//!
//! The design decision a reader must know: what a plain `git push` pushes is
//! never changed (no `remote.<name>.push`, which would replace
//! `push.default`). Each remote gets a fetch refspec that brings the
//! remote's notes to `refs/notes/remotes/<remote>/atom`; the hooks merge
//! those into `refs/notes/atom` (`git notes merge -s cat_sort_uniq`: the
//! union of the id lines), and `pre-push` pushes `refs/notes/atom` with
//! `--no-verify` when it differs from what the remote is known to hold. The
//! config entries `install` adds are listed in the git directory
//! ([`ADDED_FILE`]), so `uninstall` removes exactly those.

use std::path::PathBuf;

use super::project::Project;
use super::{io_err, HookError, NOTES_REF};
use crate::model::AtomId;

/// Where, in the git common directory, install lists the config entries it
/// added (`key<TAB>value` lines).
pub const ADDED_FILE: &str = "atom-hooks-config";

/// The ref a remote's notes are fetched to.
fn tracking_ref(remote: &str) -> String {
    format!("refs/notes/remotes/{remote}/atom")
}

fn fetch_refspec(remote: &str) -> String {
    format!("+{NOTES_REF}:{}", tracking_ref(remote))
}

impl Project {
    pub(super) fn git_path(&self, what: &str, name: &str) -> Result<PathBuf, HookError> {
        let out = self.run(
            "locating the git directory",
            &["rev-parse", "--path-format=absolute", what],
        )?;
        let dir = String::from_utf8_lossy(&out)
            .trim_end_matches('\n')
            .to_owned();
        Ok(PathBuf::from(dir).join(name))
    }

    /// The value lines of a multi-valued config key (none when unset).
    fn config_values(&self, key: &str) -> Result<Vec<String>, HookError> {
        let out = self
            .git(&["config", "--get-all", key])
            .output()
            .map_err(io_err("running git config"))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The names of the repository's remotes.
    fn remotes(&self) -> Result<Vec<String>, HookError> {
        let out = self.run("listing the remotes", &["remote"])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    fn ref_oid(&self, name: &str) -> Option<String> {
        let out = self
            .git(&["rev-parse", "--verify", "-q", name])
            .output()
            .ok()?;
        let oid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !oid.is_empty()).then_some(oid)
    }
}

/// Add what makes notes travel and survive to the repository's config:
/// `notes.rewriteRef` (git itself carries notes through amend and rebase,
/// even without atom) and a fetch refspec per remote. Entries already there
/// are left alone and not listed; returns the `(key, value)` entries added.
pub fn configure(project: &Project) -> Result<Vec<(String, String)>, HookError> {
    let mut wanted = vec![("notes.rewriteRef".to_owned(), NOTES_REF.to_owned())];
    for remote in project.remotes()? {
        wanted.push((format!("remote.{remote}.fetch"), fetch_refspec(&remote)));
    }
    let file = project.git_path("--git-common-dir", ADDED_FILE)?;
    let mut listed = read_added(&file);
    let mut added = Vec::new();
    for (key, value) in wanted {
        if project.config_values(&key)?.contains(&value) {
            continue;
        }
        project.run("setting git config", &["config", "--add", &key, &value])?;
        if !listed.contains(&(key.clone(), value.clone())) {
            listed.push((key.clone(), value.clone()));
        }
        added.push((key, value));
    }
    if !listed.is_empty() {
        let text: String = listed.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        std::fs::write(&file, text).map_err(io_err(format!("writing {}", file.display())))?;
    }
    Ok(added)
}

/// Remove the config entries [`configure`] added (and only those); returns
/// them.
pub fn unconfigure(project: &Project) -> Result<Vec<(String, String)>, HookError> {
    let file = project.git_path("--git-common-dir", ADDED_FILE)?;
    let listed = read_added(&file);
    let mut removed = Vec::new();
    for (key, value) in listed {
        if project.config_values(&key)?.contains(&value) {
            project.run(
                "removing git config",
                &["config", "--fixed-value", "--unset", &key, &value],
            )?;
            removed.push((key, value));
        }
    }
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_err(format!("removing {}", file.display()))(e))
        }
        _ => {}
    }
    Ok(removed)
}

fn read_added(file: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Merge the notes fetched from every remote into `refs/notes/atom` (the
/// union of each commit's id lines); returns the remotes whose notes were
/// new. Already merged ones cost one `git merge-base` each.
pub fn merge_fetched(project: &Project) -> Result<Vec<String>, HookError> {
    let out = project.run(
        "listing fetched notes",
        &["for-each-ref", "--format=%(refname)", "refs/notes/remotes/"],
    )?;
    let mut merged = Vec::new();
    for name in String::from_utf8_lossy(&out).lines() {
        let Some(remote) = name
            .strip_prefix("refs/notes/remotes/")
            .and_then(|r| r.strip_suffix("/atom"))
        else {
            continue;
        };
        if merge_one(project, name)? {
            merged.push(remote.to_owned());
        }
    }
    Ok(merged)
}

/// Merge notes ref `from` into ours unless ours already contains it.
fn merge_one(project: &Project, from: &str) -> Result<bool, HookError> {
    if project.ref_oid(NOTES_REF).is_some() {
        let contained = project
            .git(&["merge-base", "--is-ancestor", from, NOTES_REF])
            .status()
            .map_err(io_err("running git merge-base"))?;
        if contained.success() {
            return Ok(false);
        }
    }
    project.run(
        "merging fetched notes",
        &[
            "notes",
            "--ref",
            NOTES_REF,
            "merge",
            "-q",
            "-s",
            "cat_sort_uniq",
            from,
        ],
    )?;
    Ok(true)
}

/// What [`push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesPushed {
    /// There are no notes, or the remote holds ours already.
    UpToDate,
    /// `refs/notes/atom` was pushed.
    Pushed,
}

/// Before the user's push to `remote` (a remote's name, or a URL): merge
/// what was fetched, then push `refs/notes/atom` when it differs from what
/// the remote is known to hold. When the remote's notes moved on meanwhile,
/// fetch them, merge and push once more.
pub fn push(project: &Project, remote: &str) -> Result<NotesPushed, HookError> {
    merge_fetched(project)?;
    let Some(ours) = project.ref_oid(NOTES_REF) else {
        return Ok(NotesPushed::UpToDate);
    };
    let named = project.remotes()?.iter().any(|r| r == remote);
    let tracking = tracking_ref(remote);
    if named && project.ref_oid(&tracking).as_deref() == Some(ours.as_str()) {
        return Ok(NotesPushed::UpToDate);
    }
    let push_args = ["push", "-q", "--no-verify", remote, NOTES_REF];
    if project.run("pushing the notes", &push_args).is_ok() {
        if named {
            // git updates the tracking ref itself when the refspec is
            // configured; make sure of it when it is not.
            project.run(
                "recording the pushed notes",
                &["update-ref", &tracking, &ours],
            )?;
        }
        return Ok(NotesPushed::Pushed);
    }
    // Rejected: the remote's notes moved on. Fetch, merge, push again.
    let into = if named {
        tracking
    } else {
        "refs/notes/remotes/atom-push/atom".to_owned()
    };
    project.run(
        "fetching the remote's notes",
        &[
            "fetch",
            "-q",
            "--no-write-fetch-head",
            remote,
            &format!("+{NOTES_REF}:{into}"),
        ],
    )?;
    merge_one(project, &into)?;
    if !named {
        project.run("forgetting the fetched notes", &["update-ref", "-d", &into])?;
    }
    project.run("pushing the notes", &push_args)?;
    Ok(NotesPushed::Pushed)
}

/// The atom ids in the notes of the commits a squash merge squashed
/// (`commits` newest first, as `git log` lists them), oldest first.
pub fn squashed_ids(project: &Project, commits: &[String]) -> Result<Vec<AtomId>, HookError> {
    let mut ids: Vec<AtomId> = Vec::new();
    for commit in commits.iter().rev() {
        for id in project.note_ids(commit)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}
