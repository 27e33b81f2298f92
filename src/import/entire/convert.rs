//! A checkpoint as import records: one CHECKPOINT atom, then one SESSION
//! atom per session, each naming the checkpoint's atom in `influenced_by`
//! by its source key (so a session added to a checkpoint after an earlier
//! import still links to the atom made then).
//!
//! Text that becomes a one-line field (summary, agent, project) loses its
//! control characters; secrets anywhere in the record are masked as
//! `[REDACTED:<kind>]` (the import then checks the whole record once more
//! and refuses whatever is left), and `metadata.redacted` says where.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::checkpoint::{Checkpoint, Prompts, Session};
use super::repo::Annotated;
use super::TOOL;
use crate::agents::event::{cut, one_line, Agent};
use crate::model;
use crate::secrets::Scanner;

/// The longest prompt kept (as for prompts captured from agents).
const MAX_PROMPT: usize = 16 * 1024;
/// The most prompts kept per session (`prompt_count` says how many there were).
const MAX_PROMPTS: usize = 100;
/// The longest summary.
const MAX_SUMMARY: usize = 200;

/// The source table of checkpoint atoms.
pub const CHECKPOINTS: &str = "checkpoints";
/// The source table of session atoms.
pub const SESSIONS: &str = "sessions";

/// What a checkpoint's records link to, found before the import starts.
pub struct Links<'a> {
    /// The commits whose `Entire-Checkpoint:` trailer names each checkpoint.
    pub annotated: &'a HashMap<String, Vec<Annotated>>,
    /// The COMMIT atoms of this store, by commit id.
    pub commit_atoms: &'a HashMap<String, Vec<String>>,
    /// The project's name.
    pub project: Option<&'a str>,
}

/// The records of checkpoint `cp`: its CHECKPOINT atom first, then its sessions.
pub fn records(cp: &Checkpoint, links: &Links<'_>, scanner: &Scanner) -> Vec<Map<String, Value>> {
    let mut out = Vec::with_capacity(cp.sessions.len() + 1);
    out.push(checkpoint_record(cp, links));
    for s in &cp.sessions {
        out.push(session_record(cp, s, links));
    }
    for record in &mut out {
        mask(record, scanner);
    }
    out
}

fn checkpoint_record(cp: &Checkpoint, links: &Links<'_>) -> Map<String, Value> {
    let id = &cp.at.id;
    let commits = links.annotated.get(id).map_or(&[][..], Vec::as_slice);
    let mut metadata = Map::new();
    metadata.insert("checkpoint_id".into(), id.clone().into());
    metadata.insert("storage".into(), cp.at.storage.clone().into());
    metadata.insert("entire_commit".into(), cp.at.commit.to_string().into());
    for (k, v) in &cp.summary {
        metadata.insert(k.clone(), v.clone());
    }
    metadata.insert("sessions".into(), cp.sessions.len().into());
    metadata.insert(
        "commits".into(),
        commits
            .iter()
            .map(|c| json!({"sha": c.sha, "subject": c.subject}))
            .collect(),
    );
    metadata.insert(
        "source".into(),
        json!({"tool": TOOL, "table": CHECKPOINTS, "id": id}),
    );
    let mut influenced_by: Vec<Value> = Vec::new();
    for c in commits {
        for atom in links.commit_atoms.get(&c.sha).into_iter().flatten() {
            if !influenced_by.iter().any(|v| v == atom.as_str()) {
                influenced_by.push(atom.clone().into());
            }
        }
    }
    let subject = commits.first().map(|c| one_line(&c.subject, MAX_SUMMARY));
    let summary = match subject.filter(|s| !s.is_empty()) {
        Some(s) => format!("checkpoint {id}: {s}"),
        None => format!(
            "checkpoint {id}: {} session{}",
            cp.sessions.len(),
            if cp.sessions.len() == 1 { "" } else { "s" }
        ),
    };
    let time = cp.sessions.iter().map(|s| s.created_at).min();
    let mut record = Map::new();
    record.insert("type".into(), "CHECKPOINT".into());
    record.insert("operation".into(), "checkpoint".into());
    record.insert(
        "agent".into(),
        cp.sessions
            .first()
            .map_or_else(|| TOOL.to_owned(), agent_of)
            .into(),
    );
    if let Some(t) = time {
        record.insert("timestamp".into(), model::format_timestamp(t).into());
    }
    record.insert("summary".into(), one_line(&summary, MAX_SUMMARY).into());
    insert_project(&mut record, links);
    record.insert("influenced_by".into(), influenced_by.into());
    record.insert("metadata".into(), metadata.into());
    record
}

fn session_record(cp: &Checkpoint, s: &Session, links: &Links<'_>) -> Map<String, Value> {
    let id = &cp.at.id;
    let mut metadata = Map::new();
    metadata.insert("checkpoint_id".into(), id.clone().into());
    metadata.insert("session_id".into(), s.session_id.clone().into());
    metadata.insert("session_dir".into(), s.dir.clone().into());
    for (k, v) in &s.metadata {
        let key = if k == "agent" {
            "entire_agent"
        } else {
            k.as_str()
        };
        metadata.insert(key.into(), v.clone());
    }
    // Indexed as paths: `atom log --path FILE` finds the sessions that touched it.
    if let Some(files) = metadata.remove("files_touched") {
        metadata.insert("paths".into(), files);
    }
    match &s.prompts {
        Prompts::None => {}
        Prompts::Read(prompts) => {
            metadata.insert("prompt_count".into(), prompts.len().into());
            metadata.insert(
                "prompts".into(),
                prompts
                    .iter()
                    .take(MAX_PROMPTS)
                    .map(|p| Value::String(cut(p, MAX_PROMPT)))
                    .collect(),
            );
        }
        Prompts::TooLarge(size) => {
            metadata.insert("prompts_omitted".into(), json!({"bytes": size}));
        }
    }
    if let Some((bytes, chunks)) = s.transcript {
        metadata.insert(
            "transcript".into(),
            json!({"file": format!("{}/full.jsonl", s.dir), "bytes": bytes, "chunks": chunks}),
        );
    }
    if let Some(commits) = links.annotated.get(id) {
        metadata.insert(
            "commits".into(),
            commits
                .iter()
                .map(|c| Value::String(c.sha.clone()))
                .collect(),
        );
    }
    metadata.insert(
        "source".into(),
        json!({"tool": TOOL, "table": SESSIONS, "id": format!("{id}/{}", s.session_id)}),
    );
    let intent = s
        .metadata
        .get("summary")
        .and_then(|v| v.get("intent"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    let first_prompt = match &s.prompts {
        Prompts::Read(p) => p.first().map(String::as_str),
        _ => None,
    };
    let agent = agent_of(s);
    let summary = match intent.or(first_prompt) {
        Some(text) => one_line(text, MAX_SUMMARY),
        None => format!("{agent} session {}", one_line(&s.session_id, 80)),
    };
    let mut record = Map::new();
    record.insert("type".into(), "SESSION".into());
    record.insert("operation".into(), "session".into());
    record.insert("agent".into(), agent.into());
    record.insert(
        "timestamp".into(),
        model::format_timestamp(s.created_at).into(),
    );
    record.insert("summary".into(), summary.into());
    insert_project(&mut record, links);
    record.insert(
        "influenced_by".into(),
        json!([{"tool": TOOL, "table": CHECKPOINTS, "id": id}]),
    );
    if let Some(cost) = s.token_cost {
        record.insert("token_cost".into(), cost.into());
    }
    record.insert("metadata".into(), metadata.into());
    record
}

fn insert_project(record: &mut Map<String, Value>, links: &Links<'_>) {
    if let Some(p) = links
        .project
        .map(|p| one_line(p, 128))
        .filter(|p| !p.is_empty())
    {
        record.insert("project".into(), p.into());
    }
}

/// The atom agent of a session: Entire's display name (`Claude Code`,
/// `Gemini CLI`) as the name atom's own capture uses (`claude-code`,
/// `gemini`), else that name in lower case with dashes; `entire` when the
/// session names none.
fn agent_of(s: &Session) -> String {
    let name = s
        .metadata
        .get("agent")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = cut_plain(slug.trim_end_matches('-'), 64);
    match Agent::parse(&slug) {
        Ok(agent) => agent.name().to_owned(),
        Err(_) if slug.is_empty() => TOOL.to_owned(),
        Err(_) => slug,
    }
}

/// `s` cut to at most `max` bytes at a character boundary, without a marker.
fn cut_plain(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].trim_end_matches('-').to_owned()
}

/// Mask the secrets of `record` and list where they were in `metadata.redacted`.
fn mask(record: &mut Map<String, Value>, scanner: &Scanner) {
    let found = scanner.redact_json("", record);
    if found.is_empty() {
        return;
    }
    let places: Vec<Value> = found
        .iter()
        .map(|l| json!({"field": l.field, "kind": l.kind.name()}))
        .collect();
    if let Some(Value::Object(m)) = record.get_mut("metadata") {
        m.insert("redacted".into(), places.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(agent: &str) -> Session {
        let mut metadata = Map::new();
        metadata.insert("agent".into(), agent.into());
        Session {
            dir: "0".into(),
            session_id: "s".into(),
            created_at: chrono::Utc::now(),
            metadata,
            token_cost: None,
            prompts: Prompts::None,
            transcript: None,
        }
    }

    #[test]
    fn entire_agent_names_become_atom_agent_names() {
        assert_eq!(agent_of(&session("Claude Code")), "claude-code");
        assert_eq!(agent_of(&session("Gemini CLI")), "gemini");
        assert_eq!(agent_of(&session("Cursor")), "cursor");
        assert_eq!(agent_of(&session("Open Code!")), "open-code");
        assert_eq!(agent_of(&session("\u{1b}[31m")), "31m");
        assert_eq!(agent_of(&session("")), "entire");
    }

    #[test]
    fn one_line_drops_control_characters() {
        assert_eq!(one_line("a\u{1b}[2Jb\nsecond", 100), "a [2Jb");
    }
}
