//! `atom agents install|uninstall|list`: each agent's hook configuration,
//! merged into the settings file that is there.
//!
//! The decision a reader must know: reversibility is byte for byte. Install
//! keeps the file's original bytes (or that it was absent) in
//! `agents/installed/` of the store, with a hash of what it wrote; uninstall
//! puts the original back when the file is still what install wrote. When
//! someone edited it since, uninstall removes only atom's entries (the JSON
//! is then written again, so its formatting may change) and says so.
//! atom's entries are the hooks whose command runs `... hook <agent> ...`
//! of an `atom` binary; every other entry is left as it is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{agents_dir, io_err, Agent, AgentError};
use crate::shell::quote;

/// Where hooks go: a project's settings or the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The project whose root is this directory.
    Project(PathBuf),
    /// The user whose home directory this is.
    User(PathBuf),
}

impl Scope {
    /// `project` or `user`.
    pub fn name(&self) -> &'static str {
        match self {
            Scope::Project(_) => "project",
            Scope::User(_) => "user",
        }
    }

    fn base(&self) -> &Path {
        match self {
            Scope::Project(p) | Scope::User(p) => p,
        }
    }
}

/// How an agent's settings file holds hooks.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// `{"hooks": {"Event": [{"matcher": M, "hooks": [{"type": "command",
    /// "command": C}]}]}}` (Claude Code, Codex; Gemini CLI adds `name`).
    Groups {
        /// Gemini CLI names each hook.
        named: bool,
    },
    /// `{"version": 1, "hooks": {"event": [{"command": C}]}}` (Cursor).
    Flat,
}

struct Spec {
    file: &'static str,
    events: &'static [(&'static str, Option<&'static str>)],
    style: Style,
}

fn spec(agent: Agent) -> Spec {
    match agent {
        Agent::ClaudeCode => Spec {
            file: ".claude/settings.json",
            events: &[
                ("SessionStart", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", Some("Bash|Task")),
                ("PostToolUse", Some("*")),
                ("Stop", None),
                ("SessionEnd", None),
            ],
            style: Style::Groups { named: false },
        },
        Agent::Codex => Spec {
            file: ".codex/hooks.json",
            events: &[
                ("SessionStart", None),
                ("UserPromptSubmit", None),
                ("PreToolUse", None),
                ("PostToolUse", None),
                ("Stop", None),
            ],
            style: Style::Groups { named: false },
        },
        Agent::Gemini => Spec {
            file: ".gemini/settings.json",
            events: &[
                ("SessionStart", None),
                ("BeforeAgent", None),
                ("AfterTool", None),
                ("AfterAgent", None),
                ("SessionEnd", None),
            ],
            style: Style::Groups { named: true },
        },
        Agent::Cursor => Spec {
            file: ".cursor/hooks.json",
            events: &[
                ("beforeSubmitPrompt", None),
                ("afterFileEdit", None),
                ("afterShellExecution", None),
                ("afterMCPExecution", None),
                ("stop", None),
            ],
            style: Style::Flat,
        },
    }
}

/// The settings file of `agent` in `scope`.
pub fn settings_path(agent: Agent, scope: &Scope) -> PathBuf {
    scope.base().join(spec(agent).file)
}

/// The directory an agent keeps its settings in (`.claude`), whose presence
/// says the agent is used there.
pub fn agent_dir(agent: Agent, scope: &Scope) -> PathBuf {
    settings_path(agent, scope)
        .parent()
        .expect("a settings file has a directory")
        .to_owned()
}

/// The command a hook runs.
pub fn command(exe: &Path, store: &Path, agent: Agent, event: &str) -> String {
    format!(
        "{} --store {} hook {} {event}",
        quote(&exe.to_string_lossy()),
        quote(&store.to_string_lossy()),
        agent.name()
    )
}

fn is_ours(command: &str, agent: Agent) -> bool {
    command.contains(&format!(" hook {} ", agent.name())) && command.contains("atom")
}

/// What install or uninstall did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// atom's hooks were added.
    Installed,
    /// atom's hooks were there in an older form and were replaced.
    Updated,
    /// Nothing to do.
    Unchanged,
    /// The file is back to its bytes before install.
    Restored,
    /// atom's entries were removed from a file edited since install.
    Removed,
    /// There were no atom hooks.
    NotInstalled,
}

/// One file's change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The agent.
    pub agent: &'static str,
    /// `project` or `user`.
    pub scope: &'static str,
    /// The settings file.
    pub file: PathBuf,
    /// What happened.
    pub action: Action,
}

/// Whether an agent's hooks are installed in one scope.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    /// The agent.
    pub agent: &'static str,
    /// `project` or `user`.
    pub scope: &'static str,
    /// The settings file.
    pub file: PathBuf,
    /// `installed`, `outdated` (another binary, store or event set than
    /// this atom would write) or `not installed`.
    pub state: &'static str,
}

/// What install remembers to undo itself.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    path: PathBuf,
    /// The file's text before the first install; `None`: it did not exist.
    original: Option<String>,
    /// SHA-256 of what install last wrote.
    written: String,
    /// Directories install created (innermost last).
    created_dirs: Vec<PathBuf>,
}

fn record_path(home: &Path, file: &Path) -> PathBuf {
    let key = crate::canonical::sha256_hex(file.to_string_lossy().as_bytes());
    agents_dir(home)
        .join("installed")
        .join(format!("{}.json", &key[..32]))
}

fn load_record(home: &Path, file: &Path) -> Option<Record> {
    std::fs::read(record_path(home, file))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

fn read_settings(path: &Path) -> Result<(Option<String>, Value), AgentError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| AgentError::Settings {
            path: path.to_owned(),
            message: "not UTF-8 text".into(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, json!({}))),
        Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
    };
    if text.trim().is_empty() {
        return Ok((Some(text), json!({})));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| AgentError::Settings {
        path: path.to_owned(),
        message: format!("not valid JSON ({e}); fix it or move it away, then install again"),
    })?;
    if !value.is_object() {
        return Err(AgentError::Settings {
            path: path.to_owned(),
            message: "not a JSON object".into(),
        });
    }
    Ok((Some(text), value))
}

fn bad(path: &Path, what: &str) -> AgentError {
    AgentError::Settings {
        path: path.to_owned(),
        message: format!("{what}; atom leaves the file as it is"),
    }
}

/// Put atom's hooks for `agent` into `root`; whether anything changed.
fn merge(
    root: &mut Value,
    agent: Agent,
    path: &Path,
    command_for: &dyn Fn(&str) -> String,
) -> Result<bool, AgentError> {
    let spec = spec(agent);
    let obj = root.as_object_mut().expect("settings are an object");
    let mut changed = false;
    if let Style::Flat = spec.style {
        if !obj.contains_key("version") {
            obj.insert("version".into(), json!(1));
            changed = true;
        }
    }
    let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
    let hooks = hooks
        .as_object_mut()
        .ok_or_else(|| bad(path, "\"hooks\" is not an object"))?;
    for (event, matcher) in spec.events {
        let list = hooks.entry(*event).or_insert_with(|| json!([]));
        let list = list
            .as_array_mut()
            .ok_or_else(|| bad(path, &format!("\"hooks\".{event:?} is not an array")))?;
        let command = command_for(event);
        let desired = match spec.style {
            Style::Flat => json!({"command": command}),
            Style::Groups { named } => {
                let mut hook = Map::new();
                if named {
                    hook.insert("name".into(), json!("atom"));
                }
                hook.insert("type".into(), json!("command"));
                hook.insert("command".into(), json!(command));
                let mut group = Map::new();
                if let Some(m) = matcher {
                    group.insert("matcher".into(), json!(m));
                }
                group.insert("hooks".into(), json!([hook]));
                Value::Object(group)
            }
        };
        match list.iter().position(|g| holds_ours(g, agent)) {
            Some(i) if list[i] == desired => {}
            Some(i) => {
                list[i] = desired;
                changed = true;
            }
            None => {
                list.push(desired);
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Whether a group (or a flat entry) holds one of atom's commands.
fn holds_ours(entry: &Value, agent: Agent) -> bool {
    let own = |v: &Value| {
        v.get("command")
            .and_then(Value::as_str)
            .is_some_and(|c| is_ours(c, agent))
    };
    own(entry)
        || entry
            .get("hooks")
            .and_then(Value::as_array)
            .is_some_and(|hs| hs.iter().any(own))
}

/// Remove atom's entries for `agent` from `root`; whether any were there.
fn strip(root: &mut Value, agent: Agent) -> bool {
    let Some(hooks) = root.get_mut("hooks").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut changed = false;
    let mut emptied = Vec::new();
    for (event, list) in hooks.iter_mut() {
        let Some(list) = list.as_array_mut() else {
            continue;
        };
        let before = list.len();
        list.retain(|g| !holds_ours(g, agent));
        if list.len() != before {
            changed = true;
            if list.is_empty() {
                emptied.push(event.clone());
            }
        }
    }
    for e in emptied {
        hooks.remove(&e);
    }
    if changed && hooks.is_empty() {
        if let Some(o) = root.as_object_mut() {
            o.remove("hooks");
        }
    }
    changed
}

fn pretty(root: &Value) -> String {
    let mut text = serde_json::to_string_pretty(root).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Write `bytes` to `path` atomically (temporary file, fsync, rename).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    use std::io::Write as _;
    let ctx = || format!("writing {}", path.display());
    let dir = path.parent().expect("a settings file has a directory");
    let tmp = dir.join(format!(
        ".{}.atom-tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io_err(ctx()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = f.set_permissions(meta.permissions());
    }
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(ctx()))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(ctx()))?;
    crate::store::durable::sync_dir(dir).map_err(io_err(ctx()))
}

/// Install `agent`'s hooks in `scope`, running `exe` against the store
/// `store` (`home`: where install records are kept, the same store).
pub fn install(
    agent: Agent,
    scope: &Scope,
    exe: &Path,
    store: &Path,
) -> Result<Change, AgentError> {
    let path = settings_path(agent, scope);
    let (original, mut root) = read_settings(&path)?;
    let was_ours = root
        .get("hooks")
        .and_then(Value::as_object)
        .is_some_and(|h| {
            h.values()
                .filter_map(Value::as_array)
                .flatten()
                .any(|g| holds_ours(g, agent))
        });
    let changed = merge(&mut root, agent, &path, &|event| {
        command(exe, store, agent, event)
    })?;
    let change = |action| Change {
        agent: agent.name(),
        scope: scope.name(),
        file: path.clone(),
        action,
    };
    if !changed {
        return Ok(change(Action::Unchanged));
    }
    let text = pretty(&root);
    let mut record = match load_record(store, &path) {
        Some(r) => r,
        None => Record {
            path: path.clone(),
            original,
            written: String::new(),
            created_dirs: Vec::new(),
        },
    };
    let mut missing = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| !d.exists()) {
        missing.push(d.to_owned());
        dir = d.parent();
    }
    missing.reverse();
    std::fs::create_dir_all(path.parent().expect("a settings file has a directory")).map_err(
        io_err(format!("creating the directory of {}", path.display())),
    )?;
    record.created_dirs.extend(missing);
    write_file(&path, text.as_bytes())?;
    record.written = crate::canonical::sha256_hex(text.as_bytes());
    let rp = record_path(store, &path);
    std::fs::create_dir_all(rp.parent().expect("records have a directory"))
        .map_err(io_err("creating agents/installed"))?;
    let bytes = serde_json::to_vec_pretty(&record).expect("records serialize");
    write_file(&rp, &bytes)?;
    Ok(change(if was_ours {
        Action::Updated
    } else {
        Action::Installed
    }))
}

/// Remove `agent`'s hooks from `scope`: the file's bytes from before
/// install when nobody edited it since, else only atom's entries.
pub fn uninstall(agent: Agent, scope: &Scope, store: &Path) -> Result<Change, AgentError> {
    let path = settings_path(agent, scope);
    let change = |action| Change {
        agent: agent.name(),
        scope: scope.name(),
        file: path.clone(),
        action,
    };
    let record = load_record(store, &path);
    let current = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(change(Action::NotInstalled))
        }
        Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
    };
    let rp = record_path(store, &path);
    if let Some(r) = record.filter(|r| r.written == crate::canonical::sha256_hex(&current)) {
        match &r.original {
            Some(text) => write_file(&path, text.as_bytes())?,
            None => {
                std::fs::remove_file(&path)
                    .map_err(io_err(format!("removing {}", path.display())))?;
                for d in r.created_dirs.iter().rev() {
                    // Only when empty: anything else there is someone's.
                    let _ = std::fs::remove_dir(d);
                }
            }
        }
        let _ = std::fs::remove_file(&rp);
        return Ok(change(Action::Restored));
    }
    let (_, mut root) = read_settings(&path)?;
    if !strip(&mut root, agent) {
        return Ok(change(Action::NotInstalled));
    }
    write_file(&path, pretty(&root).as_bytes())?;
    let _ = std::fs::remove_file(&rp);
    Ok(change(Action::Removed))
}

/// The state of every agent's hooks, in the project around `cwd` and in the
/// user's home directory (`$HOME`), against what `exe` would write for `store`.
pub fn statuses(cwd: &Path, exe: &Path, store: &Path) -> Vec<AgentStatus> {
    let mut scopes = vec![Scope::Project(super::project_root(cwd))];
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        scopes.push(Scope::User(PathBuf::from(home)));
    }
    let mut rows = Vec::new();
    for agent in Agent::ALL {
        for scope in &scopes {
            rows.push(status(agent, scope, exe, store));
        }
    }
    rows
}

/// Whether `agent`'s hooks are in `scope`, and current.
pub fn status(agent: Agent, scope: &Scope, exe: &Path, store: &Path) -> AgentStatus {
    let path = settings_path(agent, scope);
    let state = match read_settings(&path) {
        Ok((Some(_), root)) => {
            let mut probe = root.clone();
            if !strip(&mut probe, agent) {
                "not installed"
            } else {
                let mut again = root;
                match merge(&mut again, agent, &path, &|event| {
                    command(exe, store, agent, event)
                }) {
                    Ok(false) => "installed",
                    _ => "outdated",
                }
            }
        }
        Ok((None, _)) => "not installed",
        Err(_) => "unreadable",
    };
    AgentStatus {
        agent: agent.name(),
        scope: scope.name(),
        file: path,
        state,
    }
}
