//! The `post-commit` hook through the spool: the hook only notes which
//! commit was made (read in process, no `git` run) and spools it; a drain
//! records the COMMIT atom and writes the note.
//!
//! The design decision a reader must know: a commit waits for a file write,
//! not for a signed, fsynced append and four `git` processes, and a commit
//! made while the store is locked or busy is recorded as soon as it is free
//! instead of being lost. The price is that the atom and the note appear a
//! moment after `git commit` returns; every atom command (and the hooks that
//! read notes: `post-merge`, `post-rewrite`, `pre-push`) first records what
//! the spool holds, so none of them sees the store without it. What the
//! drain finds worth a warning (a masked secret, an influence that is not an
//! atom, a note it could not write) is kept for `atom agents drain` and
//! `atom status` to show.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::project::{rebasing_branch, Project};
use super::record::{record_commit_event, CommitRecorded};
use super::squash::take_squashed;
use super::{io_err, HookError};
use crate::agents::spool::{self, Entry, GIT};
use crate::trail::{Trail, TrailError, GIT_DIR};

/// The spooled event's name.
pub const POST_COMMIT: &str = "post-commit";

/// A commit as the `post-commit` hook saw it: what the drain needs to record
/// it, whatever the repository has done since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEvent {
    /// The repository's git directory.
    pub git_dir: PathBuf,
    /// Its work tree (`None` for a bare repository).
    pub work_tree: Option<PathBuf>,
    /// The commit.
    pub commit: String,
    /// The branch it was made on; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// `ATOM_AGENT` where the hook ran.
    pub agent: Option<String>,
    /// `ATOM_INFLUENCED_BY` where the hook ran.
    pub influenced_by: Option<String>,
    /// The commits a squash merge squashed into this one, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub squashed: Vec<String>,
}

impl CommitEvent {
    /// Read `HEAD` of the repository git runs the hook in (git's
    /// environment, `GIT_DIR` and friends, applies), and take the squashed
    /// commits `post-merge` kept for it.
    pub fn at_head(
        agent: Option<String>,
        influenced_by: Option<String>,
    ) -> Result<Self, HookError> {
        let head = super::head::of_hook()?;
        let branch = head.branch.or_else(|| rebasing_branch(&head.git_dir));
        Ok(CommitEvent {
            squashed: take_squashed(&head.git_dir)?,
            git_dir: head.git_dir,
            work_tree: head.work_tree,
            commit: head.commit,
            branch,
            agent,
            influenced_by,
        })
    }

    /// The repository, as the drain reaches it.
    pub fn project(&self) -> Project {
        Project::located(&self.git_dir, self.work_tree.as_deref())
    }
}

/// `atom hook post-commit`: write `HEAD` to the spool of the store at
/// `home`, to be recorded on `trail` (the current one when `None`); the
/// caller publishes it ([`crate::agents::background::hand_over`]).
pub fn spool_commit(
    home: &Path,
    trail: Option<&str>,
    agent: Option<String>,
    influenced_by: Option<String>,
) -> Result<spool::Staged, HookError> {
    if !home.join(GIT_DIR).is_dir() {
        return Err(TrailError::NotInitialized {
            home: home.to_owned(),
        }
        .into());
    }
    let event = CommitEvent::at_head(agent, influenced_by)?;
    let entry = Entry {
        agent: GIT.to_owned(),
        event: POST_COMMIT.to_owned(),
        received: Utc::now(),
        payload: serde_json::to_value(&event).map_err(|e| HookError::Input(e.to_string()))?,
        trail: trail.map(str::to_owned),
    };
    spool::stage(home, &entry).map_err(io_err("writing the spool"))
}

/// Record a spooled `post-commit` event on `trail`. A commit already
/// recorded there by a drain that died before it could say so is not
/// recorded twice: `resumed` says a drain may have died on this event.
pub fn record_spooled(
    trail: &Trail,
    entry: &Entry,
    resumed: bool,
) -> Result<Option<CommitRecorded>, HookError> {
    if entry.event != POST_COMMIT {
        return Err(HookError::Input(format!(
            "a spooled git event is post-commit, not {:?}",
            entry.event
        )));
    }
    let event: CommitEvent = serde_json::from_value(entry.payload.clone())
        .map_err(|e| HookError::Input(format!("a spooled commit is not one: {e}")))?;
    let is_its_atom = |a: &crate::model::Atom| {
        a.atom_type == "COMMIT"
            && a.metadata.get("commit").and_then(|c| c.as_str()) == Some(event.commit.as_str())
    };
    if resumed && crate::agents::record::recently_recorded(trail, is_its_atom)? {
        return Ok(None);
    }
    record_commit_event(trail, &event).map(Some)
}
