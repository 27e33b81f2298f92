//! Git hooks in a project repository: each commit there becomes a COMMIT
//! atom, and the atom id is attached to the commit as a git note under
//! [`NOTES_REF`].
//!
//! The design decision a reader must know: the user's commits are never
//! touched. A trailer added after the fact would change the commit id and
//! break its signature, so the link lives in a note, and after an amend or a
//! rebase the notes of the old commits are carried to the new ones. The
//! `post-commit` hook only spools the commit ([`spooled`]); a drain reads
//! the project repository and writes the notes with the `git` binary, as
//! git itself would do it. The hook scripts in `hooks/` are tiny and call
//! `atom hook <name>`, which never fails a commit.

mod head;
mod install;
mod notes;
mod project;
mod record;
mod spooled;
mod squash;

pub use install::{
    install, installed, locate, uninstall, HookAction, HookChange, HooksDir, HOOK_NAMES,
};
pub use notes::{configure, merge_fetched, push as push_notes, unconfigure, NotesPushed};
pub use project::{CommitInfo, FileChange, PendingCommit, Project};
pub use record::{
    post_merge, post_rewrite, record_commit_event, CommitRecorded, RewriteRecorded, LOCK_WAIT,
};
pub use spooled::{record_spooled, spool_commit, CommitEvent, POST_COMMIT};
pub use squash::keep_squashed;

use std::path::PathBuf;

use crate::trail::TrailError;

/// The notes ref holding each commit's atom ids, one per line.
pub const NOTES_REF: &str = "refs/notes/atom";

/// Errors of installing hooks and of recording commits.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The path is not inside a git work tree.
    #[error("{} is not inside a git repository: {message}", path.display())]
    NotARepo {
        /// The path given.
        path: PathBuf,
        /// What git said.
        message: String,
    },
    /// A git command failed.
    #[error("{context}: {message}")]
    Git {
        /// What was being done.
        context: String,
        /// What git said.
        message: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why.
        source: std::io::Error,
    },
    /// A user's hook and a chained hook are both there, so installing would
    /// lose one of them.
    #[error("{} exists and so does {}: installing would lose one of them", hook.display(), chained.display())]
    ChainTaken {
        /// The user's hook.
        hook: PathBuf,
        /// The file atom keeps a chained hook in.
        chained: PathBuf,
    },
    /// The atom was recorded, but its note could not be written.
    #[error("{atom_id} recorded, but its note on commit {commit} could not be written: {source}")]
    Note {
        /// The atom.
        atom_id: String,
        /// The commit.
        commit: String,
        /// Why.
        source: Box<HookError>,
    },
    /// What git passed to a hook is not what it documents.
    #[error("unexpected hook input: {0}")]
    Input(String),
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
    /// The trail to record on (`ATOM_TRAIL`) is not there.
    #[error(transparent)]
    Branch(#[from] crate::branches::BranchError),
}

impl HookError {
    /// Whether this error is the user's input (exit code 2) rather than a
    /// problem found while running (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            HookError::NotARepo { .. } | HookError::Input(_) => true,
            HookError::Trail(e) => e.is_bad_input(),
            _ => false,
        }
    }
}

/// Wrap a note-writing failure after `atom_id` was recorded.
fn note_failed(
    atom_id: &crate::model::AtomId,
    commit: &str,
) -> impl FnOnce(HookError) -> HookError {
    let (atom_id, commit) = (atom_id.to_string(), commit.to_owned());
    move |e| HookError::Note {
        atom_id,
        commit,
        source: Box::new(e),
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HookError {
    let context = context.into();
    move |source| HookError::Io { context, source }
}
