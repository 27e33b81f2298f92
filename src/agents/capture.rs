//! What `atom hook AGENT EVENT` does while the agent waits: check the
//! event, write it to the spool, and at a session's start read the context
//! to hand the agent. Publishing it durably and recording it happen in the
//! drain the hook hands it to.

use std::path::Path;

use chrono::Utc;
use serde_json::{json, Value};

use super::event::{self, Agent, What};
use super::spool::{self, Entry, MAX_EVENT};
use super::{context, io_err, project_name, AgentError};
use crate::trail::{Trail, TrailError, GIT_DIR};

/// The most a hook reads from stdin.
pub const MAX_INPUT: u64 = 64 << 20;

/// What a hook did.
#[derive(Debug)]
pub struct Captured {
    /// The event, written to the spool but not yet published: hand it over
    /// with [`super::background::hand_over`].
    pub staged: spool::Staged,
    /// What to print on stdout for the agent (the session context in the
    /// agent's format), if anything.
    pub output: Option<String>,
    /// Why there is no session context although the agent asked for one
    /// (the event is spooled all the same).
    pub context_error: Option<AgentError>,
}

/// Spool `input` (the agent's event JSON), to be recorded on `trail` (the
/// current one when `None`), and, for a session start, build the context to
/// hand back.
pub fn capture(
    home: &Path,
    trail: Option<&str>,
    agent: Agent,
    event: &str,
    input: &[u8],
) -> Result<Captured, AgentError> {
    if !home.join(GIT_DIR).is_dir() {
        return Err(TrailError::NotInitialized {
            home: home.to_owned(),
        }
        .into());
    }
    let fail = |message: String| AgentError::Payload {
        agent: agent.name().to_owned(),
        event: event.to_owned(),
        message,
    };
    let mut payload: Value =
        serde_json::from_slice(input).map_err(|e| fail(format!("not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(fail("not a JSON object".into()));
    }
    if input.len() > MAX_EVENT {
        // A tool's whole output: keep the call, not the output.
        if let Some(o) = payload.as_object_mut() {
            o.remove("tool_response");
            o.remove("output");
            o.insert("atom_truncated".into(), json!(input.len()));
        }
    }
    let normalized = event::normalize(agent, event, &payload)?;
    let entry = Entry {
        agent: agent.name().to_owned(),
        event: event.to_owned(),
        received: Utc::now(),
        payload,
        trail: trail.map(str::to_owned),
    };
    let staged = spool::stage(home, &entry).map_err(io_err("writing the agent spool"))?;
    let mut context_error = None;
    let output = match normalized.what {
        What::SessionStart { .. } if agent != Agent::Cursor => {
            let project = normalized
                .cwd
                .as_deref()
                .and_then(|c| project_name(Path::new(c)));
            let text = Trail::open(home)
                .and_then(|trail| context::for_session(&trail, agent, project.as_deref()));
            match text {
                Ok(text) if !text.is_empty() => Some(
                    json!({"hookSpecificOutput": {
                        "hookEventName": "SessionStart",
                        "additionalContext": text,
                    }})
                    .to_string(),
                ),
                Ok(_) => None,
                Err(e) => {
                    context_error = Some(e.into());
                    None
                }
            }
        }
        // Cursor documents a reply for this event; `continue` lets the
        // prompt go on.
        What::Prompt { .. } if agent == Agent::Cursor => {
            Some(json!({"continue": true}).to_string())
        }
        _ => None,
    };
    Ok(Captured {
        staged,
        output,
        context_error,
    })
}
