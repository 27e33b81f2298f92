//! Each agent's hook events, mapped to one normalized form.
//!
//! The agents document different payloads for the same moments: Claude Code
//! and Codex send `PostToolUse` with `tool_name`/`tool_input`/
//! `tool_response`, Gemini CLI `AfterTool` with its own tool names
//! (`write_file`, `replace`, `run_shell_command`), Cursor one event per kind
//! of action (`afterFileEdit`, `afterShellExecution`). [`normalize`] reads
//! what each one carries and leaves out what it does not; nothing here
//! touches the store.

use serde_json::{Map, Value};

use super::AgentError;

/// The agents atom has hooks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    Gemini,
    /// Cursor's agent.
    Cursor,
}

impl Agent {
    /// Every agent, in the order `atom agents list` shows them.
    pub const ALL: [Agent; 4] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
    ];

    /// The name on the command line and in the atoms' `agent` field.
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
        }
    }

    /// The agent of a command-line name (`claude` and `gemini-cli` too).
    pub fn parse(name: &str) -> Result<Agent, AgentError> {
        match name.to_ascii_lowercase().as_str() {
            "claude-code" | "claude" => Ok(Agent::ClaudeCode),
            "codex" | "codex-cli" => Ok(Agent::Codex),
            "gemini" | "gemini-cli" => Ok(Agent::Gemini),
            "cursor" => Ok(Agent::Cursor),
            _ => Err(AgentError::UnknownAgent(name.to_owned())),
        }
    }
}

/// One event as atom records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The agent's session (Cursor: its conversation).
    pub session: String,
    /// The working directory the agent reported.
    pub cwd: Option<String>,
    /// The agent's transcript file, when it names one.
    pub transcript: Option<String>,
    /// The model, when the payload names it.
    pub model: Option<String>,
    /// What happened.
    pub what: What,
}

/// What happened, normalized.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A session started (`startup`, `resume`, `clear`, `compact`).
    SessionStart {
        /// Why it started.
        source: String,
    },
    /// The user submitted a prompt.
    Prompt {
        /// Its text.
        text: String,
    },
    /// A tool is about to run (remembered for its duration; no atom).
    ToolStart {
        /// The tool call's id.
        id: String,
    },
    /// A tool ran.
    Tool(Tool),
    /// The agent finished a turn.
    TurnEnd {
        /// How it ended, when the agent says (`completed`, `aborted`).
        status: Option<String>,
    },
    /// The session ended.
    SessionEnd {
        /// Why, when the agent says.
        reason: Option<String>,
    },
    /// An event atom does not record.
    Ignore,
}

/// One tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// The agent's name for the tool (`Edit`, `Bash`, `apply_patch`).
    pub name: String,
    /// The call's id, when the agent gives one.
    pub id: Option<String>,
    /// What kind of call.
    pub kind: ToolKind,
    /// Whether it failed, and how, when the agent says.
    pub error: Option<String>,
}

/// The kinds of tool call atom records differently.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolKind {
    /// Files written or edited.
    Edit {
        /// Each file, with line counts when known.
        files: Vec<FileEdit>,
    },
    /// A shell command.
    Shell {
        /// The command line.
        command: String,
        /// Its exit status, when the agent reports it.
        exit_code: Option<i64>,
        /// How long it ran, when the agent reports it.
        duration_ms: Option<u64>,
        /// Its output (standard output, then standard error).
        output: String,
    },
    /// A subagent's task.
    Subagent {
        /// The subagent (`Explore`, `general-purpose`).
        name: String,
        /// What it was asked.
        description: String,
    },
    /// Any other tool: its input, shortened.
    Other {
        /// A file the call names.
        path: Option<String>,
        /// The input with long strings cut.
        input: Value,
        /// How long it ran, when the agent reports it.
        duration_ms: Option<u64>,
    },
}

/// One file a tool wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// The path as the agent gave it.
    pub path: String,
    /// Lines added, when known.
    pub added: Option<u64>,
    /// Lines removed, when known.
    pub removed: Option<u64>,
}

/// Map `payload` of `agent`'s `event` (the name the hook was installed
/// with) to its normalized form.
pub fn normalize(agent: Agent, event: &str, payload: &Value) -> Result<Normalized, AgentError> {
    let fail = |message: &str| AgentError::Payload {
        agent: agent.name().to_owned(),
        event: event.to_owned(),
        message: message.to_owned(),
    };
    let obj = payload
        .as_object()
        .ok_or_else(|| fail("the event is not a JSON object"))?;
    let session = text(obj, "session_id")
        .or_else(|| text(obj, "conversation_id"))
        .ok_or_else(|| fail("it names no session_id"))?;
    let cwd = text(obj, "cwd").or_else(|| {
        obj.get("workspace_roots")
            .and_then(|r| r.get(0))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let what = match agent {
        Agent::ClaudeCode | Agent::Codex => claude_like(event, obj),
        Agent::Gemini => gemini(event, obj),
        Agent::Cursor => cursor(event, obj),
    };
    Ok(Normalized {
        session,
        cwd,
        transcript: text(obj, "transcript_path"),
        model: text(obj, "model"),
        what,
    })
}

/// Claude Code's events; Codex documents the same names and fields.
fn claude_like(event: &str, obj: &Map<String, Value>) -> What {
    match event {
        "SessionStart" => What::SessionStart {
            source: text(obj, "source").unwrap_or_else(|| "startup".into()),
        },
        "UserPromptSubmit" => What::Prompt {
            text: text(obj, "prompt").unwrap_or_default(),
        },
        "PreToolUse" => match text(obj, "tool_use_id") {
            Some(id) => What::ToolStart { id },
            None => What::Ignore,
        },
        "PostToolUse" | "PostToolUseFailure" => {
            let name = text(obj, "tool_name").unwrap_or_else(|| "tool".into());
            let input = obj.get("tool_input").cloned().unwrap_or(Value::Null);
            let response = obj.get("tool_response").cloned().unwrap_or(Value::Null);
            let mut error = text(obj, "error");
            if error.is_none() && event == "PostToolUseFailure" {
                error = Some("failed".into());
            }
            let kind = claude_tool(&name, &input, &response);
            What::Tool(Tool {
                name,
                id: text(obj, "tool_use_id"),
                kind,
                error,
            })
        }
        "Stop" => What::TurnEnd { status: None },
        "SessionEnd" => What::SessionEnd {
            reason: text(obj, "reason"),
        },
        _ => What::Ignore,
    }
}

fn claude_tool(name: &str, input: &Value, response: &Value) -> ToolKind {
    let path = input
        .get("file_path")
        .or_else(|| input.get("notebook_path"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match name {
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
            let (added, removed) = match patch_counts(response.get("structuredPatch")) {
                Some(c) => (Some(c.0), Some(c.1)),
                None => edit_counts(name, input),
            };
            ToolKind::Edit {
                files: vec![FileEdit {
                    path: path.unwrap_or_default(),
                    added,
                    removed,
                }],
            }
        }
        "Bash" | "shell" | "exec_command" | "local_shell" => ToolKind::Shell {
            command: command_of(input),
            exit_code: response
                .get("exit_code")
                .or_else(|| response.get("exitCode"))
                .and_then(Value::as_i64),
            duration_ms: response
                .get("duration_ms")
                .or_else(|| response.get("durationMs"))
                .and_then(Value::as_u64),
            output: output_of(response),
        },
        "apply_patch" => ToolKind::Edit {
            files: patch_files(&string_values(input).join("\n")),
        },
        "Task" | "Agent" => ToolKind::Subagent {
            name: str_field(input, "subagent_type").unwrap_or_else(|| "subagent".into()),
            description: str_field(input, "description")
                .or_else(|| str_field(input, "prompt"))
                .unwrap_or_default(),
        },
        _ => ToolKind::Other {
            path,
            input: shorten(input),
            duration_ms: None,
        },
    }
}

fn gemini(event: &str, obj: &Map<String, Value>) -> What {
    match event {
        "SessionStart" => What::SessionStart {
            source: text(obj, "source")
                .or_else(|| text(obj, "trigger"))
                .unwrap_or_else(|| "startup".into()),
        },
        "BeforeAgent" => What::Prompt {
            text: text(obj, "prompt").unwrap_or_default(),
        },
        "AfterTool" => {
            let name = text(obj, "tool_name").unwrap_or_else(|| "tool".into());
            let input = obj.get("tool_input").cloned().unwrap_or(Value::Null);
            let response = obj.get("tool_response").cloned().unwrap_or(Value::Null);
            let path = str_field(&input, "file_path").or_else(|| str_field(&input, "path"));
            let kind = match name.as_str() {
                "write_file" | "replace" | "edit" => {
                    let (added, removed) = match name.as_str() {
                        "write_file" => (Some(lines(str_or(&input, "content"))), None),
                        _ => (
                            Some(lines(str_or(&input, "new_string"))),
                            Some(lines(str_or(&input, "old_string"))),
                        ),
                    };
                    ToolKind::Edit {
                        files: vec![FileEdit {
                            path: path.unwrap_or_default(),
                            added,
                            removed,
                        }],
                    }
                }
                "run_shell_command" => ToolKind::Shell {
                    command: command_of(&input),
                    exit_code: response.get("exit_code").and_then(Value::as_i64),
                    duration_ms: None,
                    output: output_of(&response),
                },
                _ => ToolKind::Other {
                    path,
                    input: shorten(&input),
                    duration_ms: None,
                },
            };
            let error = response
                .get("error")
                .filter(|e| !e.is_null())
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            What::Tool(Tool {
                name,
                id: None,
                kind,
                error,
            })
        }
        "AfterAgent" => What::TurnEnd { status: None },
        "SessionEnd" => What::SessionEnd {
            reason: text(obj, "reason").or_else(|| text(obj, "trigger")),
        },
        _ => What::Ignore,
    }
}

fn cursor(event: &str, obj: &Map<String, Value>) -> What {
    match event {
        "sessionStart" => What::SessionStart {
            source: text(obj, "source").unwrap_or_else(|| "startup".into()),
        },
        "beforeSubmitPrompt" => What::Prompt {
            text: text(obj, "prompt").unwrap_or_default(),
        },
        "afterFileEdit" => {
            let mut added = 0;
            let mut removed = 0;
            for e in obj
                .get("edits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                added += lines(str_or(e, "new_string"));
                removed += lines(str_or(e, "old_string"));
            }
            What::Tool(Tool {
                name: "edit".into(),
                id: text(obj, "generation_id"),
                kind: ToolKind::Edit {
                    files: vec![FileEdit {
                        path: text(obj, "file_path").unwrap_or_default(),
                        added: Some(added),
                        removed: Some(removed),
                    }],
                },
                error: None,
            })
        }
        "afterShellExecution" => What::Tool(Tool {
            name: "shell".into(),
            id: text(obj, "generation_id"),
            kind: ToolKind::Shell {
                command: text(obj, "command").unwrap_or_default(),
                exit_code: obj.get("exit_code").and_then(Value::as_i64),
                duration_ms: obj.get("duration").and_then(Value::as_u64),
                output: text(obj, "output").unwrap_or_default(),
            },
            error: None,
        }),
        "afterMCPExecution" => {
            let input = match obj.get("tool_input") {
                // Cursor sends the MCP input as a JSON string.
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or(Value::String(s.clone()))
                }
                Some(v) => v.clone(),
                None => Value::Null,
            };
            What::Tool(Tool {
                name: text(obj, "tool_name").unwrap_or_else(|| "mcp".into()),
                id: text(obj, "generation_id"),
                kind: ToolKind::Other {
                    path: None,
                    input: shorten(&input),
                    duration_ms: obj.get("duration").and_then(Value::as_u64),
                },
                error: None,
            })
        }
        "stop" => What::TurnEnd {
            status: text(obj, "status"),
        },
        "sessionEnd" => What::SessionEnd {
            reason: text(obj, "reason"),
        },
        _ => What::Ignore,
    }
}

fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn str_or<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Lines of a text: a last line without a newline counts.
fn lines(s: &str) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.lines().count() as u64
    }
}

/// `(added, removed)` from Claude Code's `structuredPatch` hunks.
fn patch_counts(patch: Option<&Value>) -> Option<(u64, u64)> {
    let hunks = patch?.as_array()?;
    let (mut added, mut removed) = (0, 0);
    for line in hunks
        .iter()
        .filter_map(|h| h.get("lines").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
    {
        if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            removed += 1;
        }
    }
    Some((added, removed))
}

/// Line counts from the edit's own input when the response has no patch.
fn edit_counts(name: &str, input: &Value) -> (Option<u64>, Option<u64>) {
    match name {
        "Write" => (Some(lines(str_or(input, "content"))), None),
        "Edit" => (
            Some(lines(str_or(input, "new_string"))),
            Some(lines(str_or(input, "old_string"))),
        ),
        "MultiEdit" => {
            let edits = input.get("edits").and_then(Value::as_array);
            let sum = |key: &str| {
                edits
                    .into_iter()
                    .flatten()
                    .map(|e| lines(str_or(e, key)))
                    .sum()
            };
            (Some(sum("new_string")), Some(sum("old_string")))
        }
        _ => (None, None),
    }
}

/// Files and line counts of an `apply_patch` envelope
/// (`*** Update File: path`, then `+`/`-` lines).
pub fn patch_files(patch: &str) -> Vec<FileEdit> {
    let mut files: Vec<FileEdit> = Vec::new();
    for line in patch.lines() {
        let header = ["*** Add File: ", "*** Update File: ", "*** Delete File: "]
            .iter()
            .find_map(|h| line.strip_prefix(h));
        if let Some(path) = header {
            files.push(FileEdit {
                path: path.trim().to_owned(),
                added: Some(0),
                removed: Some(0),
            });
            continue;
        }
        let Some(f) = files.last_mut() else { continue };
        if line.starts_with('+') {
            f.added = f.added.map(|n| n + 1);
        } else if line.starts_with('-') {
            f.removed = f.removed.map(|n| n + 1);
        }
    }
    files
}

/// The command of a shell tool's input: a string, or an argv array.
fn command_of(input: &Value) -> String {
    match input.get("command") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(words)) => words
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Standard output then standard error of a shell tool's response.
fn output_of(response: &Value) -> String {
    match response {
        Value::String(s) => s.clone(),
        Value::Object(_) => ["stdout", "stderr", "output", "llmContent"]
            .iter()
            .filter_map(|k| response.get(*k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn string_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(string_values).collect(),
        Value::Object(o) => o.values().flat_map(string_values).collect(),
        _ => Vec::new(),
    }
}

/// The longest string kept of a tool's input.
const INPUT_TEXT: usize = 512;

/// A tool's input with long strings cut to [`INPUT_TEXT`] bytes and at
/// most 32 keys or items per level, 4 levels deep.
pub fn shorten(v: &Value) -> Value {
    fn walk(v: &Value, depth: usize) -> Value {
        match v {
            Value::String(s) => Value::String(cut(s, INPUT_TEXT)),
            Value::Array(a) if depth < 4 => {
                Value::Array(a.iter().take(32).map(|x| walk(x, depth + 1)).collect())
            }
            Value::Object(o) if depth < 4 => Value::Object(
                o.iter()
                    .take(32)
                    .map(|(k, x)| (cut(k, 128), walk(x, depth + 1)))
                    .collect(),
            ),
            Value::Array(_) | Value::Object(_) => Value::String("...".into()),
            other => other.clone(),
        }
    }
    walk(v, 0)
}

/// The first line of `s`, control characters as spaces, cut to `max` bytes.
pub fn one_line(s: &str, max: usize) -> String {
    let first = s.trim().lines().next().unwrap_or("");
    let clean: String = first
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(clean.trim(), max)
}

/// `s` cut to at most `max` bytes at a character boundary, with `...`
/// when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The last `max` bytes of `s` (at a character boundary), with `...` in
/// front when cut: a command's output ends with what matters.
pub fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_patch_counts_lines_per_file() {
        let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-old\n+new\n+more\n*** Add File: b.txt\n+hi\n*** End Patch";
        let files = patch_files(patch);
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].added, files[0].removed), (Some(2), Some(1)));
        assert_eq!(files[1].path, "b.txt");
    }

    #[test]
    fn claude_edit_counts_come_from_the_structured_patch() {
        let p = json!({"session_id": "s", "tool_name": "Edit", "tool_use_id": "t1",
            "tool_input": {"file_path": "/p/a.rs", "old_string": "a\nb", "new_string": "c"},
            "tool_response": {"structuredPatch": [{"lines": [" x", "-a", "-b", "+c"]}]}});
        let n = normalize(Agent::ClaudeCode, "PostToolUse", &p).unwrap();
        let What::Tool(t) = n.what else {
            panic!("a tool")
        };
        assert_eq!(
            t.kind,
            ToolKind::Edit {
                files: vec![FileEdit {
                    path: "/p/a.rs".into(),
                    added: Some(1),
                    removed: Some(2)
                }]
            }
        );
    }

    #[test]
    fn cut_and_tail_keep_char_boundaries() {
        assert_eq!(cut("ééé", 3), "é...");
        assert_eq!(tail("ééé", 3), "...é");
    }
}
