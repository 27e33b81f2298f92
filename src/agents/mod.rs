//! Capture from coding agents (Claude Code, Codex CLI, Gemini CLI, Cursor):
//! `atom agents install` writes each agent's hook configuration, the agent
//! then runs `atom hook AGENT EVENT` with the event's JSON on stdin, and
//! prompts, tool calls and sessions become atoms linked by `influenced_by`.
//!
//! The design decision a reader must know: a hook never appends by itself.
//! It writes the event to a durable spool ([`spool`]: fsynced before it is
//! renamed into place) and returns, and a drainer (a detached `atom agents
//! drain` the hook starts, or any later hook or `atom agents drain`) turns
//! spooled events into atoms in the order they arrived, through the one
//! append path ([`crate::Trail::record`]). So a hook costs a file write, not
//! a signed, fsynced append, and an event the hook acknowledged survives the
//! hook being killed. Only `SessionStart` also reads the index, to hand the
//! agent prior work ([`context`]).

pub mod background;
pub mod capture;
pub mod context;
pub mod event;
pub mod install;
pub mod record;
pub mod spool;
pub mod transcript;

use std::path::{Path, PathBuf};

pub use capture::{capture, Captured};
pub use event::{Agent, Normalized};
pub use install::{AgentStatus, Change, Scope};
pub use record::{drain, take_warnings, warnings_waiting, DrainReport};

use crate::trail::TrailError;

/// Errors of installing agent hooks and of recording their events.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// An agent atom does not know.
    #[error("atom has no hooks for {0:?} (claude-code, codex, gemini, cursor)")]
    UnknownAgent(String),
    /// A settings file that is not what its agent documents.
    #[error("{}: {message}", path.display())]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An event's JSON that is not what the agent documents.
    #[error("unexpected {agent} {event} event: {message}")]
    Payload {
        /// The agent.
        agent: String,
        /// The event name.
        event: String,
        /// What is wrong.
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
    /// The store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
}

impl AgentError {
    /// Whether this error is the user's input (exit code 2) rather than a
    /// problem found while running (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            AgentError::UnknownAgent(_)
            | AgentError::Settings { .. }
            | AgentError::Payload { .. } => true,
            AgentError::Trail(e) => e.is_bad_input(),
            AgentError::Io { .. } => false,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AgentError {
    let context = context.into();
    move |source| AgentError::Io { context, source }
}

/// Where atom keeps its agent state inside a store: the spool, the
/// per-session state and the install records.
pub fn agents_dir(home: &Path) -> PathBuf {
    home.join("agents")
}

/// The project a directory belongs to: the work tree around it (the
/// nearest ancestor holding `.git`), else the directory itself.
pub fn project_root(dir: &Path) -> PathBuf {
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.join(".git").exists() {
            return d.to_owned();
        }
        at = d.parent();
    }
    dir.to_owned()
}

/// The project name atoms of `dir` carry: the name of its project root.
pub fn project_name(dir: &Path) -> Option<String> {
    project_root(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}
