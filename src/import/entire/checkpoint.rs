//! One Entire checkpoint as Entire writes it, read and checked.
//!
//! The directory of a checkpoint (`cmd/entire/cli/checkpoint/committed.go`,
//! `writeStandardCheckpointEntries`):
//! ```text
//! metadata.json        CheckpointSummary: checkpoint_id, strategy, branch,
//!                      checkpoints_count, files_touched, sessions, token_usage
//! 0/ 1/ ...            one directory per session (0-based; the oldest
//!                      releases documented 1-based)
//!   metadata.json      CommittedMetadata: checkpoint_id, session_id, strategy,
//!                      created_at, branch, checkpoints_count, files_touched,
//!                      agent ("Claude Code"), model, turn_id, is_task,
//!                      tool_use_id, token_usage, summary, initial_attribution
//!   prompt.txt         the user's prompts joined by "\n\n---\n\n"
//!                      (`PromptSeparator`, `checkpoint/prompts.go`)
//!   full.jsonl[.NNN]   the agent's transcript, in chunks (not imported)
//! tasks/<tool-use-id>/ subagent checkpoints (not imported)
//! ```
//! Field types follow `CommittedMetadata` and `CheckpointSummary` in
//! `cmd/entire/cli/checkpoint/checkpoint.go`; `token_usage` is
//! `agent.TokenUsage` (`input_tokens`, `cache_creation_tokens`,
//! `cache_read_tokens`, `output_tokens`, `api_call_count`,
//! `subagent_tokens`).
//!
//! Everything here is hostile input: a `metadata.json` over
//! [`MAX_METADATA`] bytes, one that is not a JSON object of those types, or
//! one naming another checkpoint is refused; a `prompt.txt` over
//! [`MAX_PROMPT_FILE`] bytes is not read (the atom says so).

use chrono::{DateTime, Utc};
use gix::ObjectId;
use serde_json::{Map, Value};

use super::repo::{EntireRepo, Located};

/// The largest `metadata.json` read.
pub const MAX_METADATA: u64 = 1 << 20;
/// The largest `prompt.txt` read.
pub const MAX_PROMPT_FILE: u64 = 4 << 20;
/// How deep `subagent_tokens` may nest.
const MAX_USAGE_DEPTH: usize = 8;

/// The metadata file of a checkpoint and of each session.
const METADATA: &str = "metadata.json";
/// The prompts of a session.
const PROMPT: &str = "prompt.txt";
/// The transcript of a session (and its chunks, `full.jsonl.001`, ...).
const TRANSCRIPT: &str = "full.jsonl";
/// Entire's separator between the prompts in `prompt.txt`.
const PROMPT_SEPARATOR: &str = "\n\n---\n\n";

/// A checkpoint: its root summary and its sessions, oldest first.
#[derive(Debug)]
pub struct Checkpoint {
    /// Where it was read from.
    pub at: Located,
    /// The root `metadata.json`, checked (unknown fields dropped).
    pub summary: Map<String, Value>,
    /// The sessions, in directory order.
    pub sessions: Vec<Session>,
}

/// One session of a checkpoint.
#[derive(Debug)]
pub struct Session {
    /// Its directory name (`0`, `1`, ...).
    pub dir: String,
    /// Entire's session id.
    pub session_id: String,
    /// When Entire wrote it, to the second.
    pub created_at: DateTime<Utc>,
    /// The session's `metadata.json`, checked (unknown fields dropped).
    pub metadata: Map<String, Value>,
    /// Tokens as an atom counts them: input, cache writes and output,
    /// subagents' included; `None` when Entire recorded no usage.
    pub token_cost: Option<u64>,
    /// The prompts, or why they were not read.
    pub prompts: Prompts,
    /// The transcript's size and chunk count, when there is one.
    pub transcript: Option<(u64, usize)>,
}

/// The prompts of a session.
#[derive(Debug)]
pub enum Prompts {
    /// No `prompt.txt`.
    None,
    /// Its prompts.
    Read(Vec<String>),
    /// It was larger than [`MAX_PROMPT_FILE`]: its size.
    TooLarge(u64),
}

/// Read the checkpoint at `at`, or say what is wrong with it.
pub fn read(repo: &EntireRepo, at: &Located) -> Result<Checkpoint, String> {
    let entries = repo.tree(at.tree)?;
    let root = entries
        .iter()
        .find(|e| e.name == METADATA && !e.is_tree)
        .ok_or(format!("{METADATA} is missing"))?;
    let summary = check_summary(read_json(repo, root.oid, METADATA)?, &at.id)?;
    let mut dirs: Vec<(u32, &super::repo::Entry)> = entries
        .iter()
        .filter(|e| e.is_tree)
        .filter_map(|e| Some((session_number(&e.name)?, e)))
        .collect();
    dirs.sort_by_key(|(n, _)| *n);
    let mut sessions = Vec::with_capacity(dirs.len());
    for (_, dir) in dirs {
        sessions.push(read_session(repo, &dir.name, dir.oid, &at.id)?);
    }
    Ok(Checkpoint {
        at: at.clone(),
        summary,
        sessions,
    })
}

/// The time of the checkpoint's first session (`None`: it has none), for
/// ordering: reads only the sessions' `metadata.json`.
pub fn first_time(repo: &EntireRepo, at: &Located) -> Result<Option<DateTime<Utc>>, String> {
    let mut first: Option<DateTime<Utc>> = None;
    for dir in repo.tree(at.tree)? {
        if !dir.is_tree || session_number(&dir.name).is_none() {
            continue;
        }
        let meta = session_metadata(repo, &dir.name, dir.oid)?;
        let t = created_at(&meta).map_err(|e| format!("{}/{METADATA}: {e}", dir.name))?;
        first = Some(first.map_or(t, |f| f.min(t)));
    }
    Ok(first)
}

/// A session directory's number: a plain decimal (`0`, `1`, ...).
fn session_number(name: &str) -> Option<u32> {
    if name.is_empty() || name.len() > 6 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// A session directory's `metadata.json` as a JSON object.
fn session_metadata(
    repo: &EntireRepo,
    dir: &str,
    tree: ObjectId,
) -> Result<Map<String, Value>, String> {
    let file = repo
        .tree(tree)?
        .into_iter()
        .find(|e| e.name == METADATA && !e.is_tree)
        .ok_or(format!("{dir}/{METADATA} is missing"))?;
    read_json(repo, file.oid, &format!("{dir}/{METADATA}"))
}

fn read_session(
    repo: &EntireRepo,
    dir: &str,
    tree: ObjectId,
    checkpoint: &str,
) -> Result<Session, String> {
    let entries = repo.tree(tree)?;
    let file = entries
        .iter()
        .find(|e| e.name == METADATA && !e.is_tree)
        .ok_or(format!("{dir}/{METADATA} is missing"))?;
    let name = format!("{dir}/{METADATA}");
    let raw = read_json(repo, file.oid, &name)?;
    let at = |e: String| format!("{name}: {e}");
    let created_at = created_at(&raw).map_err(at)?;
    let mut metadata = Map::new();
    if let Some(id) = opt_str(&raw, "checkpoint_id").map_err(at)? {
        if !id.is_empty() && id != checkpoint {
            return Err(at(format!(
                "checkpoint_id is {id:?}, but the file is in checkpoint {checkpoint}"
            )));
        }
    }
    let session_id = opt_str(&raw, "session_id")
        .map_err(at)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| at("session_id is missing".into()))?;
    for key in [
        "strategy",
        "branch",
        "agent",
        "model",
        "turn_id",
        "tool_use_id",
        "cli_version",
    ] {
        if let Some(s) = opt_str(&raw, key).map_err(at)?.filter(|s| !s.is_empty()) {
            metadata.insert(key.into(), s.into());
        }
    }
    if let Some(n) = opt_count(&raw, "checkpoints_count").map_err(at)? {
        metadata.insert("checkpoints_count".into(), n.into());
    }
    match raw.get("is_task") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            metadata.insert("is_task".into(), true.into());
        }
        Some(other) => return Err(at(format!("is_task must be true or false, not {other}"))),
    }
    let files = files(&raw).map_err(at)?;
    if !files.is_empty() {
        metadata.insert("files_touched".into(), files.into());
    }
    let token_cost = match raw.get("token_usage") {
        None | Some(Value::Null) => None,
        Some(usage) => {
            let cost = usage_cost(usage, 0).map_err(|e| at(format!("token_usage{e}")))?;
            metadata.insert("token_usage".into(), usage.clone());
            Some(cost)
        }
    };
    for key in ["summary", "initial_attribution", "session_metrics"] {
        match raw.get(key) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => {
                metadata.insert(key.into(), v.clone());
            }
            Some(other) => return Err(at(format!("{key} must be an object, not {other}"))),
        }
    }
    let prompts = match entries.iter().find(|e| e.name == PROMPT && !e.is_tree) {
        None => Prompts::None,
        Some(p) => {
            let size = repo
                .blob_size(p.oid)
                .map_err(|e| format!("{dir}/{PROMPT}: {e}"))?;
            if size > MAX_PROMPT_FILE {
                Prompts::TooLarge(size)
            } else {
                let bytes = repo
                    .blob(p.oid)
                    .map_err(|e| format!("{dir}/{PROMPT}: {e}"))?;
                Prompts::Read(split_prompts(&String::from_utf8_lossy(&bytes)))
            }
        }
    };
    let mut transcript: Option<(u64, usize)> = None;
    for e in entries
        .iter()
        .filter(|e| !e.is_tree && is_transcript_chunk(&e.name))
    {
        let size = repo
            .blob_size(e.oid)
            .map_err(|err| format!("{dir}/{}: {err}", e.name))?;
        let (bytes, chunks) = transcript.unwrap_or((0, 0));
        transcript = Some((bytes.saturating_add(size), chunks + 1));
    }
    Ok(Session {
        dir: dir.to_owned(),
        session_id,
        created_at,
        metadata,
        token_cost,
        prompts,
        transcript,
    })
}

/// Check the root `metadata.json` and keep its known fields.
fn check_summary(raw: Map<String, Value>, id: &str) -> Result<Map<String, Value>, String> {
    let at = |e: String| format!("{METADATA}: {e}");
    match opt_str(&raw, "checkpoint_id").map_err(at)? {
        Some(given) if given == id => {}
        Some(given) => {
            return Err(at(format!(
                "checkpoint_id is {given:?}, but the directory is checkpoint {id}"
            )))
        }
        None => return Err(at("checkpoint_id is missing".into())),
    }
    let mut out = Map::new();
    for key in ["strategy", "branch", "cli_version", "checkpoint_version"] {
        if let Some(s) = opt_str(&raw, key).map_err(at)?.filter(|s| !s.is_empty()) {
            out.insert(key.into(), s.into());
        }
    }
    if let Some(n) = opt_count(&raw, "checkpoints_count").map_err(at)? {
        out.insert("checkpoints_count".into(), n.into());
    }
    let files = files(&raw).map_err(at)?;
    if !files.is_empty() {
        out.insert("files_touched".into(), files.into());
    }
    match raw.get("sessions") {
        None | Some(Value::Null) | Some(Value::Array(_)) => {}
        Some(other) => return Err(at(format!("sessions must be an array, not {other}"))),
    }
    if let Some(usage) = raw.get("token_usage").filter(|u| !u.is_null()) {
        usage_cost(usage, 0).map_err(|e| at(format!("token_usage{e}")))?;
        out.insert("token_usage".into(), usage.clone());
    }
    if let Some(v) = raw.get("combined_attribution").filter(|v| !v.is_null()) {
        if !v.is_object() {
            return Err(at(format!(
                "combined_attribution must be an object, not {v}"
            )));
        }
        out.insert("combined_attribution".into(), v.clone());
    }
    Ok(out)
}

/// Blob `oid` as a JSON object, refusing one over [`MAX_METADATA`] bytes
/// before reading it.
fn read_json(repo: &EntireRepo, oid: ObjectId, name: &str) -> Result<Map<String, Value>, String> {
    let size = repo.blob_size(oid).map_err(|e| format!("{name}: {e}"))?;
    if size > MAX_METADATA {
        return Err(format!(
            "{name} is {size} bytes; Entire writes small metadata files and atom reads at most {MAX_METADATA}"
        ));
    }
    let bytes = repo.blob(oid).map_err(|e| format!("{name}: {e}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("{name} is not a JSON object")),
        Err(e) => Err(format!("{name} is not JSON: {e}")),
    }
}

/// `created_at`: RFC 3339 (Go's `time.Time`), to the second.
fn created_at(raw: &Map<String, Value>) -> Result<DateTime<Utc>, String> {
    let text = opt_str(raw, "created_at")?.ok_or("created_at is missing")?;
    let t = DateTime::parse_from_rfc3339(&text)
        .map_err(|e| format!("created_at {text:?} is not an RFC 3339 time: {e}"))?
        .with_timezone(&Utc);
    chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::seconds(1))
        .map_err(|e| format!("created_at {text:?}: {e}"))
}

/// A string field, if present and not null.
fn opt_str(raw: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

/// A count field (a non-negative integer), if present and not null.
fn opt_count(raw: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or(format!("{key} must be a non-negative integer, not {v}")),
    }
}

/// `files_touched`: an array of non-empty strings (null: none).
fn files(raw: &Map<String, Value>) -> Result<Vec<String>, String> {
    match raw.get("files_touched") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|f| match f {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                other => Err(format!(
                    "files_touched must hold non-empty paths, not {other}"
                )),
            })
            .collect(),
        Some(other) => Err(format!("files_touched must be an array, not {other}")),
    }
}

/// The token cost of an `agent.TokenUsage`: input, cache writes and output,
/// its subagents' included (cache reads are not counted, as for the
/// agents atom captures). The error names the bad field after `token_usage`.
fn usage_cost(usage: &Value, depth: usize) -> Result<u64, String> {
    let Value::Object(u) = usage else {
        return Err(format!(" must be an object, not {usage}"));
    };
    if depth > MAX_USAGE_DEPTH {
        return Err(format!(
            " nests subagent_tokens more than {MAX_USAGE_DEPTH} deep"
        ));
    }
    let mut cost: u64 = 0;
    for (key, value) in u {
        match key.as_str() {
            "subagent_tokens" if value.is_null() => {}
            "subagent_tokens" => {
                let sub =
                    usage_cost(value, depth + 1).map_err(|e| format!(".subagent_tokens{e}"))?;
                cost = cost.saturating_add(sub);
            }
            _ => {
                let n = value.as_u64().ok_or(format!(
                    ".{key} must be a non-negative integer, not {value}"
                ))?;
                if matches!(
                    key.as_str(),
                    "input_tokens" | "cache_creation_tokens" | "output_tokens"
                ) {
                    cost = cost.saturating_add(n);
                }
            }
        }
    }
    Ok(cost)
}

/// Entire's `SplitPromptContent`: split at the separator, dropping empty
/// trailing parts.
fn split_prompts(text: &str) -> Vec<String> {
    let mut prompts: Vec<String> = text.split(PROMPT_SEPARATOR).map(str::to_owned).collect();
    while prompts.last().is_some_and(String::is_empty) {
        prompts.pop();
    }
    prompts
}

/// `full.jsonl` or one of its chunks (`full.jsonl.001`, ...; Entire's
/// `agent.ChunkFileName`).
fn is_transcript_chunk(name: &str) -> bool {
    name == TRANSCRIPT
        || name
            .strip_prefix(TRANSCRIPT)
            .and_then(|s| s.strip_prefix('.'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_cost_counts_input_cache_writes_output_and_subagents() {
        let usage = serde_json::json!({
            "input_tokens": 100, "cache_creation_tokens": 20, "cache_read_tokens": 5000,
            "output_tokens": 30, "api_call_count": 3,
            "subagent_tokens": {"input_tokens": 7, "output_tokens": 1}
        });
        assert_eq!(usage_cost(&usage, 0), Ok(158));
        let bad = serde_json::json!({"input_tokens": -1});
        assert_eq!(
            usage_cost(&bad, 0),
            Err(".input_tokens must be a non-negative integer, not -1".into())
        );
    }

    #[test]
    fn prompts_split_as_entire_joins_them() {
        assert_eq!(
            split_prompts("fix the bug\n\n---\n\nnow add a test\n\n---\n\n"),
            vec!["fix the bug", "now add a test"]
        );
        assert!(split_prompts("").is_empty());
    }

    #[test]
    fn transcript_chunks_are_recognised() {
        assert!(is_transcript_chunk("full.jsonl"));
        assert!(is_transcript_chunk("full.jsonl.002"));
        assert!(!is_transcript_chunk("full.jsonl.x"));
        assert!(!is_transcript_chunk("full.log"));
    }
}
