//! What a drain records: each spooled event becomes at most one atom, in
//! arrival order, through [`Trail::record`].
//!
//! | event | atom |
//! |---|---|
//! | session start | SESSION `start` |
//! | prompt | PROMPT `prompt` (`influenced_by` the session) |
//! | file edit / write / patch | EDIT `edit_file` / `write_file` (`path`, `files` with lines added and removed) |
//! | shell command | SHELL `run_command` (`command`, `exit_code`, `duration_ms`, the output's tail) |
//! | subagent task | TASK `subagent`, agent `<agent>/<subagent>` |
//! | any other tool | TOOL `tool_call` |
//! | end of a turn | SESSION `turn_end`, `token_cost` = the turn's tokens from the transcript |
//! | end of the session | SESSION `end`, `token_cost` = tokens not yet counted |
//!
//! Tool atoms are `influenced_by` the prompt that caused them. A small
//! state file per session (`agents/sessions/`) remembers the session's and
//! the last prompt's atom ids, tool start times and how far the transcript
//! was read. Everything passes [`Trail::redact_draft`] first: secrets in
//! prompts, commands, outputs and inputs are masked before they are
//! recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Timelike as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::event::{self, cut, one_line, tail, Agent, Normalized, Tool, ToolKind, What};
use super::spool::{self, DrainLock, Entry};
use super::transcript::{self, Usage};
use super::{agents_dir, io_err, project_name, project_root, AgentError};
use crate::index::Filter;
use crate::model::AtomId;
use crate::trail::{Draft, Trail};

/// The git config key choosing how prompts are kept: `text` (the default,
/// secrets masked) or `hash` (only the prompt's SHA-256 and length).
pub const PROMPTS_CONFIG: &str = "atom.agents.prompts";

/// The longest prompt text kept in an atom.
const MAX_PROMPT: usize = 16 * 1024;
/// The longest command kept.
const MAX_COMMAND: usize = 8 * 1024;
/// How much of a command's output is kept (its end).
const MAX_OUTPUT: usize = 2 * 1024;

/// What a drain did.
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    /// The atoms recorded, in order.
    pub recorded: Vec<AtomId>,
    /// Events that did not make an atom by design (a tool's start, events
    /// atom does not record).
    pub skipped: usize,
    /// Events refused as malformed, logged in `agents/rejected.log`.
    pub rejected: usize,
    /// Events still spooled (another drainer held the spool).
    pub left: usize,
}

/// Record what the spool holds, oldest first. Waits at most `wait` for
/// another drainer; then leaves the spool to it.
pub fn drain(trail: &Trail, wait: Duration) -> Result<DrainReport, AgentError> {
    drain_holding(trail, None, wait)
}

/// [`drain`], starting with the lock `held` when the caller has it (the
/// drain a hook forks holds it from before the fork).
pub(super) fn drain_holding(
    trail: &Trail,
    mut held: Option<DrainLock>,
    wait: Duration,
) -> Result<DrainReport, AgentError> {
    let home = trail.home().to_owned();
    let mut report = DrainReport::default();
    // A hook that found the spool busy started no drain of its own: after
    // letting go of the lock, look again, so its event is not left behind.
    loop {
        let lock = match held.take() {
            Some(lock) => lock,
            None => match DrainLock::acquire_within(&home, wait)
                .map_err(io_err("locking the agent spool"))?
            {
                Some(lock) => lock,
                None => {
                    report.left = spool::pending(&home).map_or(0, |p| p.len());
                    return Ok(report);
                }
            },
        };
        spool::adopt_orphans(&home).map_err(io_err("adopting orphaned spool files"))?;
        loop {
            let files = spool::pending(&home).map_err(io_err("reading the agent spool"))?;
            if files.is_empty() {
                break;
            }
            for file in files {
                match one(trail, &file) {
                    Ok(Some(id)) => report.recorded.push(id),
                    Ok(None) => report.skipped += 1,
                    Err(e) if e.is_bad_input() => {
                        reject(&home, &file, &e);
                        report.rejected += 1;
                    }
                    Err(e) => return Err(e),
                }
                std::fs::remove_file(&file).map_err(io_err(format!(
                    "removing {} from the agent spool",
                    file.display()
                )))?;
            }
        }
        drop(lock);
        // Published events only: a temporary file another drain publishes
        // is that drain's (and an orphan waits for the next drain).
        if spool::pending(&home).map_or(true, |p| p.is_empty()) {
            return Ok(report);
        }
    }
}

/// Note a refused event (its name and why, never its content) and drop it.
fn reject(home: &Path, file: &Path, e: &AgentError) {
    use std::io::Write as _;
    let line = format!(
        "{} {} {}\n",
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        file.file_name().unwrap_or_default().to_string_lossy(),
        e.to_string().replace('\n', " ")
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(agents_dir(home).join("rejected.log"))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// What atom remembers of one agent session between events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SessionState {
    /// The SESSION `start` atom.
    session_atom: Option<String>,
    /// The latest PROMPT atom.
    prompt_atom: Option<String>,
    /// Tool call id -> when it started (milliseconds since the epoch).
    starts: BTreeMap<String, i64>,
    /// How far the transcript was read.
    offset: u64,
    /// Tokens already put in some atom's `token_cost` (Claude Code: their
    /// sum; Codex: the running total last seen).
    counted: Usage,
    /// The model last seen.
    model: Option<String>,
    /// The event being appended: when a drain dies between the append and
    /// the state update, the next one checks the trail for it.
    pending: Option<String>,
}

fn state_path(home: &Path, agent: Agent, session: &str) -> PathBuf {
    state_file(home, agent.name(), session)
}

fn state_file(home: &Path, source: &str, session: &str) -> PathBuf {
    let key = crate::canonical::sha256_hex(format!("{source}\n{session}").as_bytes());
    agents_dir(home)
        .join("sessions")
        .join(format!("{}.json", &key[..32]))
}

fn load_state(path: &Path) -> SessionState {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save_state(path: &Path, state: &SessionState) -> Result<(), AgentError> {
    use std::io::Write as _;
    let dir = path.parent().expect("a state file has a directory");
    std::fs::create_dir_all(dir).map_err(io_err("creating agents/sessions"))?;
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(state).map_err(|e| AgentError::Io {
        context: "writing a session's state".into(),
        source: std::io::Error::other(e),
    })?;
    let mut f = std::fs::File::create(&tmp).map_err(io_err("writing a session's state"))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err("writing a session's state"))?;
    std::fs::rename(&tmp, path).map_err(io_err("writing a session's state"))
}

/// Record one spooled event; `None` when it makes no atom.
fn one(trail: &Trail, file: &Path) -> Result<Option<AtomId>, AgentError> {
    let bytes = std::fs::read(file).map_err(io_err(format!("reading {}", file.display())))?;
    let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| AgentError::Payload {
        agent: "?".into(),
        event: "?".into(),
        message: format!("spool file is not an event: {e}"),
    })?;
    let event_id = file
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let on;
    let trail = match &entry.trail {
        Some(name) => {
            on = Trail::open_on(trail.home(), Some(name)).map_err(|e| {
                let message = format!("not recorded on trail {name}: {e}");
                warn(trail.home(), &message);
                AgentError::Payload {
                    agent: entry.agent.clone(),
                    event: entry.event.clone(),
                    message,
                }
            })?;
            &on
        }
        None => trail,
    };
    if entry.agent == spool::GIT {
        return git_event(trail, &entry, &event_id);
    }
    let agent = Agent::parse(&entry.agent)?;
    let n = event::normalize(agent, &entry.event, &entry.payload)?;
    let path = state_path(trail.home(), agent, &n.session);
    let mut before = load_state(&path);
    if before.pending.as_deref() == Some(event_id.as_str())
        && recently_recorded(trail, |a| {
            a.metadata.get("event_id").and_then(Value::as_str) == Some(event_id.as_str())
        })?
    {
        before.pending = None;
        save_state(&path, &before)?;
        return Ok(None);
    }
    let mut after = before.clone();
    let Some(mut draft) = build(trail, agent, &entry, &n, &event_id, &mut after) else {
        save_state(&path, &after)?;
        return Ok(None);
    };
    trail.redact_draft(&mut draft)?;
    before.pending = Some(event_id);
    save_state(&path, &before)?;
    let view = trail.record(draft)?;
    let id = view.record.atom_id;
    match n.what {
        What::SessionStart { .. } => {
            after.session_atom = Some(id.to_string());
            after.prompt_atom = None;
        }
        What::Prompt { .. } => after.prompt_atom = Some(id.to_string()),
        _ => {}
    }
    after.pending = None;
    save_state(&path, &after)?;
    Ok(Some(id))
}

/// Record a commit the `post-commit` hook spooled. A problem of the
/// project (the repository or the commit is gone) drops the event with a
/// warning; a problem of the store leaves it spooled for the next drain.
fn git_event(trail: &Trail, entry: &Entry, event_id: &str) -> Result<Option<AtomId>, AgentError> {
    use crate::hooks::HookError;
    let path = state_file(trail.home(), spool::GIT, "commits");
    let mut state = load_state(&path);
    let resumed = state.pending.as_deref() == Some(event_id);
    state.pending = Some(event_id.to_owned());
    save_state(&path, &state)?;
    let id = match crate::hooks::record_spooled(trail, entry, resumed) {
        Ok(Some(done)) => {
            for m in &done.masked {
                warn(
                    trail.home(),
                    &format!(
                        "{} recorded with {} in {} masked",
                        done.atom_id, m.kind, m.field
                    ),
                );
            }
            if !done.unknown_influences.is_empty() {
                warn(
                    trail.home(),
                    &format!(
                        "{} recorded without influences that are not atoms of this store: {}",
                        done.atom_id,
                        done.unknown_influences.join(", ")
                    ),
                );
            }
            Some(done.atom_id)
        }
        Ok(None) => None,
        Err(e @ HookError::Note { .. }) => {
            warn(trail.home(), &e.to_string());
            match &e {
                HookError::Note { atom_id, .. } => AtomId::parse_any_case(atom_id).ok(),
                _ => None,
            }
        }
        Err(HookError::Trail(e)) if !e.is_bad_input() => return Err(e.into()),
        Err(e) => {
            let commit = entry
                .payload
                .get("commit")
                .and_then(Value::as_str)
                .unwrap_or("?");
            warn(
                trail.home(),
                &format!(
                    "commit {} not recorded: {e}",
                    commit.get(..12).unwrap_or(commit)
                ),
            );
            return Err(AgentError::Payload {
                agent: spool::GIT.into(),
                event: entry.event.clone(),
                message: e.to_string(),
            });
        }
    };
    state.pending = None;
    save_state(&path, &state)?;
    Ok(id)
}

/// Where drains keep their warnings until `atom agents drain` shows them.
fn warnings_path(home: &Path) -> PathBuf {
    agents_dir(home).join("warnings")
}

/// Keep a warning (one line) for `atom agents drain` and `atom status`.
fn warn(home: &Path, message: &str) {
    use std::io::Write as _;
    let line = format!(
        "{}\n",
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(warnings_path(home))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// The warnings drains kept, oldest first; they are forgotten once taken.
pub fn take_warnings(home: &Path) -> Vec<String> {
    // Renamed first: a drain that warns meanwhile starts a new file.
    let taken = agents_dir(home).join("warnings.taken");
    if std::fs::rename(warnings_path(home), &taken).is_err() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(&taken).unwrap_or_default();
    let _ = std::fs::remove_file(&taken);
    text.lines().map(str::to_owned).collect()
}

/// How many warnings drains kept that nobody has seen yet.
pub fn warnings_waiting(home: &Path) -> usize {
    std::fs::read_to_string(warnings_path(home)).map_or(0, |t| t.lines().count())
}

/// Whether one of the last atoms appended to `trail` (where drains append,
/// in chain order) is `it`: how a drain that died between an append and
/// the spool file's removal is detected, for agent and git events alike.
pub(crate) fn recently_recorded(
    trail: &Trail,
    it: impl Fn(&crate::model::Atom) -> bool,
) -> Result<bool, crate::trail::TrailError> {
    let filter = Filter {
        limit: Some(50),
        ..Filter::default()
    };
    Ok(trail
        .log(None, false, &filter)?
        .iter()
        .any(|v| it(&v.record)))
}

/// The draft for `n`, updating `state`; `None` when the event makes no atom.
fn build(
    trail: &Trail,
    agent: Agent,
    entry: &Entry,
    n: &Normalized,
    event_id: &str,
    state: &mut SessionState,
) -> Option<Draft> {
    let root = n.cwd.as_deref().map(|c| project_root(Path::new(c)));
    let mut meta = Map::new();
    meta.insert("session_id".into(), json!(n.session));
    meta.insert("event".into(), json!(entry.event));
    meta.insert("event_id".into(), json!(event_id));
    if let Some(cwd) = &n.cwd {
        meta.insert("cwd".into(), json!(cwd));
    }
    if let Some(m) = &n.model {
        state.model = Some(m.clone());
    }
    let known = |id: &Option<String>| -> Vec<AtomId> {
        id.as_deref()
            .filter(|i| trail.resolve(i).is_ok())
            .and_then(|i| AtomId::parse_any_case(i).ok())
            .into_iter()
            .collect()
    };
    let session_link = known(&state.session_atom);
    let prompt_link = {
        let p = known(&state.prompt_atom);
        if p.is_empty() {
            session_link.clone()
        } else {
            p
        }
    };
    let project = n.cwd.as_deref().and_then(|c| project_name(Path::new(c)));
    let mut draft = match &n.what {
        What::Ignore => return None,
        What::ToolStart { id } => {
            state
                .starts
                .insert(id.clone(), entry.received.timestamp_millis());
            return None;
        }
        What::SessionStart { source } => {
            meta.insert("source".into(), json!(source));
            let mut d = Draft::new("SESSION", "start");
            d.summary = format!("{} session started ({source})", agent.name());
            d
        }
        What::Prompt { text } => {
            let mut d = Draft::new("PROMPT", "prompt");
            let hash_only = trail.git().config_string(PROMPTS_CONFIG).as_deref() == Some("hash");
            meta.insert(
                "prompt_sha256".into(),
                json!(crate::canonical::sha256_hex(text.as_bytes())),
            );
            meta.insert("prompt_bytes".into(), json!(text.len()));
            if hash_only {
                d.summary = "prompt (kept as a hash)".into();
            } else {
                meta.insert("prompt".into(), json!(cut(text, MAX_PROMPT)));
                d.summary = one_line(text, 200);
            }
            d.influenced_by = session_link;
            d
        }
        What::Tool(tool) => {
            let mut d = tool_draft(
                agent,
                tool,
                root.as_deref(),
                &mut meta,
                state,
                entry.received,
            );
            d.influenced_by = prompt_link;
            d
        }
        What::TurnEnd { status } => {
            if let Some(s) = status {
                meta.insert("status".into(), json!(s));
            }
            let mut d = Draft::new("SESSION", "turn_end");
            let cost = tokens(n, state, &mut meta);
            d.summary = format!("{} turn ended{}", agent.name(), cost_text(&meta));
            d.token_cost = cost;
            d.influenced_by = prompt_link;
            d
        }
        What::SessionEnd { reason } => {
            if let Some(r) = reason {
                meta.insert("reason".into(), json!(r));
            }
            let mut d = Draft::new("SESSION", "end");
            let cost = tokens(n, state, &mut meta);
            d.summary = format!("{} session ended{}", agent.name(), cost_text(&meta));
            d.token_cost = cost;
            d.influenced_by = session_link;
            d
        }
    };
    if let Some(m) = &state.model {
        meta.insert("model".into(), json!(m));
    }
    if draft.agent.is_none() {
        draft.agent = Some(agent.name().to_owned());
    }
    draft.project = project;
    draft.metadata = meta;
    draft.at = Some(entry.received.with_nanosecond(0).unwrap_or(entry.received));
    Some(draft)
}

fn tool_draft(
    agent: Agent,
    tool: &Tool,
    root: Option<&Path>,
    meta: &mut Map<String, Value>,
    state: &mut SessionState,
    received: DateTime<Utc>,
) -> Draft {
    meta.insert("tool".into(), json!(tool.name));
    if let Some(id) = &tool.id {
        meta.insert("tool_use_id".into(), json!(id));
    }
    if let Some(e) = &tool.error {
        meta.insert("error".into(), json!(cut(e, MAX_OUTPUT)));
    }
    let started = tool.id.as_ref().and_then(|id| state.starts.remove(id));
    let measured = started.map(|s| (received.timestamp_millis() - s).max(0) as u64);
    match &tool.kind {
        ToolKind::Edit { files } => {
            let files: Vec<Value> = files
                .iter()
                .map(|f| {
                    json!({"path": relative(&f.path, root), "added": f.added, "removed": f.removed})
                })
                .collect();
            let paths: Vec<String> = files
                .iter()
                .filter_map(|f| f["path"].as_str().map(str::to_owned))
                .collect();
            let op = if tool.name == "Write" || tool.name == "write_file" {
                "write_file"
            } else {
                "edit_file"
            };
            let mut d = Draft::new("EDIT", op);
            let counts = |key: &str| -> u64 { files.iter().filter_map(|f| f[key].as_u64()).sum() };
            d.summary = format!(
                "{} {} (+{} -{})",
                tool.name,
                match paths.as_slice() {
                    [one] => one.clone(),
                    many => format!("{} files", many.len()),
                },
                counts("added"),
                counts("removed")
            );
            if let [one] = paths.as_slice() {
                meta.insert("path".into(), json!(one));
            } else {
                meta.insert("paths".into(), json!(paths));
            }
            meta.insert("files".into(), Value::Array(files));
            d
        }
        ToolKind::Shell {
            command,
            exit_code,
            duration_ms,
            output,
        } => {
            let mut d = Draft::new("SHELL", "run_command");
            meta.insert("command".into(), json!(cut(command, MAX_COMMAND)));
            let exit = exit_code.or(match tool.error {
                None => Some(0),
                Some(_) => None,
            });
            meta.insert("exit_code".into(), json!(exit));
            meta.insert("duration_ms".into(), json!(duration_ms.or(measured)));
            meta.insert("output".into(), json!(tail(output, MAX_OUTPUT)));
            let status = match (exit, &tool.error) {
                (Some(0), None) => String::new(),
                (Some(c), _) => format!(" (exit {c})"),
                (None, _) => " (failed)".into(),
            };
            d.summary = format!("$ {}{status}", one_line(command, 200));
            d
        }
        ToolKind::Subagent { name, description } => {
            let mut d = Draft::new("TASK", "subagent");
            meta.insert("subagent".into(), json!(name));
            meta.insert("parent_agent".into(), json!(agent.name()));
            meta.insert("description".into(), json!(cut(description, MAX_PROMPT)));
            if let Some(ms) = measured {
                meta.insert("duration_ms".into(), json!(ms));
            }
            d.agent = Some(format!("{}/{}", agent.name(), one_line(name, 64)));
            d.summary = format!("{name}: {}", one_line(description, 200));
            d
        }
        ToolKind::Other {
            path,
            input,
            duration_ms,
        } => {
            let mut d = Draft::new("TOOL", "tool_call");
            meta.insert("input".into(), input.clone());
            if let Some(ms) = duration_ms.or(measured) {
                meta.insert("duration_ms".into(), json!(ms));
            }
            let what = match path {
                Some(p) => {
                    let p = relative(p, root);
                    meta.insert("path".into(), json!(p));
                    p
                }
                None => first_string(input)
                    .map(|s| one_line(&s, 120))
                    .unwrap_or_default(),
            };
            d.summary = one_line(&format!("{} {what}", tool.name), 240);
            d
        }
    }
}

/// Read the transcript's new usage into `meta`; the draft's token cost.
fn tokens(n: &Normalized, state: &mut SessionState, meta: &mut Map<String, Value>) -> Option<u64> {
    let path = n.transcript.as_deref()?;
    let read = transcript::read(Path::new(path), state.offset);
    state.offset = read.offset;
    let delta = match read.running_total {
        Some(total) => {
            let d = total.since(&state.counted);
            state.counted = total;
            d
        }
        None => {
            state.counted.add(&read.added);
            read.added
        }
    };
    if let Some(m) = read.model {
        state.model = Some(m);
    }
    meta.insert("usage".into(), json!(delta));
    meta.insert("session_usage".into(), json!(state.counted));
    Some(delta.cost())
}

fn cost_text(meta: &Map<String, Value>) -> String {
    let Some(u) = meta.get("usage") else {
        return String::new();
    };
    let usage: Usage = serde_json::from_value(u.clone()).unwrap_or_default();
    format!(": {} tokens", usage.cost())
}

/// `path` relative to the project root when it lies inside it.
fn relative(path: &str, root: Option<&Path>) -> String {
    match root {
        Some(root) => Path::new(path)
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_owned()),
        None => path.to_owned(),
    }
}

fn first_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.values().find_map(first_string),
        Value::Array(a) => a.iter().find_map(first_string),
        _ => None,
    }
}
