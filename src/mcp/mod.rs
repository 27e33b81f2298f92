//! `atom mcp`: the store as a Model Context Protocol server on stdio, so that
//! agents (Claude Code, local models, research tools) record and query atoms
//! without shelling out.
//!
//! The design decision a reader must know: the server answers one message
//! at a time, in order, and every call opens its own [`Trail`], exactly as
//! one `atom` process per command would. Two servers on one store therefore
//! behave like two processes (the store lock orders the writers), and a
//! panic in the store ends that call with an error result, never the server.
//! MCP over stdio is JSON-RPC 2.0, one message a line; the protocol is small
//! enough that it is written here rather than pulled in with an async
//! runtime.
//!
//! Who an atom is attributed to: the call's `agent`, else the server's
//! `--agent`, else the `clientInfo.name` the client sent in `initialize`,
//! else the store's default (`$ATOM_AGENT`, git's `user.name`, `$USER`).

mod gate;
mod tools;

use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::index::Filter;
use crate::model;
use crate::{AtomView, Trail, TrailError};

pub use gate::MAX_LINE;
pub use tools::DEFAULT_LIMIT;

/// The session-start prompt: the latest atoms, to check before redoing work.
pub const PRIOR_WORK_PROMPT: &str = "prior_work";
/// The resource holding the latest atoms as JSON.
pub const RECENT_URI: &str = "atom://recent";
/// How many atoms the prompt and the resource show unless told otherwise.
pub const RECENT_DEFAULT: usize = 20;

/// The protocol revisions this server speaks, newest last; a client asking
/// for another one is answered with the newest.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// JSON-RPC 2.0: the method does not exist.
const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC 2.0: invalid method parameters.
const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC 2.0: internal error.
const INTERNAL_ERROR: i64 = -32603;
/// MCP: the resource does not exist.
const RESOURCE_NOT_FOUND: i64 = -32002;

const INSTRUCTIONS: &str = "atom keeps a tamper-evident audit trail of what agents and people \
    did. At the start of a task, check for prior work (atom_log, atom_search, or the prior_work \
    prompt) before redoing research; after a decision, a piece of research or a change, record \
    it with atom_record, listing the atoms you built on in influenced_by.";

/// Settings of one server.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Attribute every atom to this agent unless a call names one (overrides
    /// the client's name).
    pub agent: Option<String>,
    /// The project of new atoms unless a call names one; also the project
    /// whose atoms the session-start prompt and resource show.
    pub project: Option<String>,
    /// The trail to act on instead of the one HEAD names (`ATOM_TRAIL`).
    pub trail: Option<String>,
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reading the client's messages or writing the answers failed.
    #[error("MCP server failed: {0}")]
    Io(#[from] io::Error),
}

/// Serve the store at `home` over stdin/stdout until the client closes stdin.
/// Every line gets an answer: what is not a message is answered by the
/// [`gate`] with a JSON-RPC error.
pub fn serve(home: &Path, options: Options) -> Result<(), ServeError> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let served = serve_on(
        home,
        options,
        io::BufReader::with_capacity(gate::BUFFER, stdin.lock()),
        stdout.lock(),
    );
    match served {
        // The client stopped reading: nothing left to tell it.
        Err(ServeError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Serve the store at `home` on `input` and `output`, one message a line,
/// until `input` ends.
pub fn serve_on<R: BufRead, W: Write>(
    home: &Path,
    options: Options,
    input: R,
    mut output: W,
) -> Result<(), ServeError> {
    let mut server = AtomServer::new(home.to_owned(), options);
    gate::read_lines(input, |line| {
        let answer = match line {
            gate::Line::Answer(answer) => Some(answer),
            gate::Line::Message(message) => match serde_json::from_slice(message) {
                Ok(message) => server.handle(message),
                Err(e) => Some(gate::error(Value::Null, gate::PARSE_ERROR, e.to_string())),
            },
        };
        match answer {
            Some(answer) => {
                serde_json::to_writer(&mut output, &answer)?;
                output.write_all(b"\n")?;
                output.flush()
            }
            None => Ok(()),
        }
    })?;
    Ok(())
}

/// A JSON-RPC error: code and message.
#[derive(Debug)]
pub(crate) struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    fn invalid_params(message: impl Into<String>) -> Self {
        RpcError {
            code: INVALID_PARAMS,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        RpcError {
            code: INTERNAL_ERROR,
            message: message.into(),
        }
    }
}

/// The MCP server: tools from [`tools`], plus the session-start prompt and resource.
pub(crate) struct AtomServer {
    home: PathBuf,
    agent: Option<String>,
    project: Option<String>,
    /// The name the client gave in `initialize`.
    client: Option<String>,
    /// The trail to act on instead of the one HEAD names (`ATOM_TRAIL`).
    trail: Option<String>,
}

impl AtomServer {
    fn new(home: PathBuf, options: Options) -> Self {
        AtomServer {
            home,
            agent: options.agent,
            project: options.project.filter(|p| !p.is_empty()),
            client: None,
            trail: options.trail,
        }
    }

    /// The answer to one message, `None` for a notification or a response.
    fn handle(&mut self, message: Value) -> Option<Value> {
        let Value::Object(mut message) = message else {
            return Some(gate::error(
                Value::Null,
                gate::INVALID_REQUEST,
                "a message is one JSON object".into(),
            ));
        };
        let id = message.remove("id");
        let method = match message.remove("method") {
            Some(Value::String(method)) => method,
            // A response to a request of ours (we send none): nothing to say.
            None if id.is_some()
                && (message.contains_key("result") || message.contains_key("error")) =>
            {
                return None
            }
            _ => {
                return Some(gate::error(
                    id.unwrap_or(Value::Null),
                    gate::INVALID_REQUEST,
                    "a request has a string `method`".into(),
                ))
            }
        };
        let params = match message.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params,
            Some(_) => {
                return id
                    .map(|id| failure(id, RpcError::invalid_params("`params` must be an object")))
            }
        };
        // A notification (no id) gets no answer, whatever it is.
        let id = id?;
        Some(match self.dispatch(&method, params) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(e) => failure(id, e),
        })
    }

    fn dispatch(&mut self, method: &str, params: Map<String, Value>) -> Result<Value, RpcError> {
        match method {
            "initialize" => Ok(self.initialize(&params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({ "tools": tools::list() })),
            "tools/call" => {
                let name = match params.get("name") {
                    Some(Value::String(name)) => name.clone(),
                    _ => return Err(RpcError::invalid_params("tools/call needs a tool `name`")),
                };
                let arguments = match params.get("arguments") {
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(arguments @ Value::Object(_)) => arguments.clone(),
                    Some(_) => {
                        return Err(RpcError::invalid_params("`arguments` must be an object"))
                    }
                };
                tools::call(self, &name, arguments)
            }
            "prompts/list" => Ok(self.list_prompts()),
            "prompts/get" => self.get_prompt(&params),
            "resources/list" => Ok(self.list_resources()),
            "resources/templates/list" => Ok(json!({ "resourceTemplates": [] })),
            "resources/read" => self.read_resource(&params),
            _ => Err(RpcError {
                code: METHOD_NOT_FOUND,
                message: format!("no method {method:?}"),
            }),
        }
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Value {
        self.client = params
            .get("clientInfo")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(|name| name.trim().to_owned());
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = asked
            .filter(|v| PROTOCOL_VERSIONS.contains(v))
            .unwrap_or(PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]);
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {}, "prompts": {}, "resources": {}},
            "serverInfo": {"name": "atom", "version": env!("CARGO_PKG_VERSION")},
            "instructions": INSTRUCTIONS,
        })
    }

    /// The agent of a new atom: the call's, the server's `--agent`, the
    /// client's name when it is a valid agent name, else `None` (the store's
    /// default).
    fn agent_for(&self, given: Option<String>) -> Option<String> {
        given.or_else(|| self.agent.clone()).or_else(|| {
            self.client
                .clone()
                .filter(|name| model::validate_agent(name).is_ok())
        })
    }

    /// Run `f` on a freshly opened store, exactly as one `atom` process per
    /// call would; its errors and panics become tool results with
    /// `isError: true`.
    fn with_trail<F>(&self, f: F) -> Value
    where
        F: FnOnce(&Trail) -> Result<Value, TrailError>,
    {
        match self.blocking(f) {
            Ok(result) => result,
            Err(message) => tool_error(message),
        }
    }

    /// Run `f` on a freshly opened store; an error or a panic comes back as
    /// its one-line message.
    fn blocking<T, F>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(&Trail) -> Result<T, TrailError>,
    {
        let job = panic::catch_unwind(AssertUnwindSafe(|| {
            let trail = Trail::open_on(&self.home, self.trail.as_deref()).map_err(|e| match e {
                crate::branches::BranchError::Trail(e) => error_text(&e),
                other => other.to_string(),
            })?;
            let result = f(&trail);
            for note in trail.take_notices() {
                eprintln!("note: {note}");
            }
            result.map_err(|e| error_text(&e))
        }));
        match job {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(format!("internal error in atom: panic: {what}"))
            }
        }
    }

    /// The latest atoms of `project` (every project when `None`) on the current trail.
    fn recent(&self, project: Option<String>, limit: usize) -> Result<Vec<AtomView>, String> {
        let filter = Filter {
            project,
            limit: Some(limit),
            ..Filter::default()
        };
        self.blocking(move |trail| trail.log(None, false, &filter))
    }

    fn list_prompts(&self) -> Value {
        json!({"prompts": [{
            "name": PRIOR_WORK_PROMPT,
            "description": "The latest atoms recorded for this project, to read at the start of \
                a session before redoing research or decisions.",
            "arguments": [
                {"name": "project", "required": false,
                 "description": "Only atoms of this project (default: the server's --project, else every project)."},
                {"name": "limit", "required": false,
                 "description": format!("How many atoms, newest first (default {RECENT_DEFAULT}).")},
            ],
        }]})
    }

    fn get_prompt(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = params.get("name").and_then(Value::as_str).unwrap_or("");
        if name != PRIOR_WORK_PROMPT {
            return Err(RpcError::invalid_params(format!(
                "no prompt named {name:?}; the prompt is {PRIOR_WORK_PROMPT:?}"
            )));
        }
        let empty = Map::new();
        let args = params
            .get("arguments")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let project = match args.get("project") {
            None | Some(Value::Null) => self.project.clone(),
            Some(Value::String(p)) if p.is_empty() => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => return Err(RpcError::invalid_params("project must be a string")),
        };
        // Prompt arguments are strings on the wire; accept a number as well.
        let limit = match args.get("limit") {
            None | Some(Value::Null) => Some(RECENT_DEFAULT),
            Some(Value::String(s)) => s.trim().parse::<usize>().ok(),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Some(_) => None,
        }
        .ok_or_else(|| RpcError::invalid_params("limit must be a non-negative integer"))?;
        let atoms = self
            .recent(project.clone(), limit)
            .map_err(RpcError::internal)?;
        let scope = match &project {
            Some(p) => format!("project {p}"),
            None => "the current trail".to_owned(),
        };
        let text = if atoms.is_empty() {
            format!(
                "No prior work is recorded in atom for {scope} yet. Record what you do with \
                 atom_record (type, operation, summary, metadata), so that later sessions and \
                 other agents can build on it."
            )
        } else {
            format!(
                "{}\n\nBefore you start, check whether this work was already done: atom_show \
                 gives an atom in full, atom_search finds older ones by words. When you record \
                 new work with atom_record, list the atoms you built on in influenced_by.",
                tools::listing(
                    &format!(
                        "Prior work recorded in atom for {scope}, the latest {} atom(s), newest first",
                        atoms.len()
                    ),
                    &atoms
                )
            )
        };
        Ok(json!({
            "description": format!("Prior work recorded in atom for {scope}"),
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        }))
    }

    fn list_resources(&self) -> Value {
        let scope = match &self.project {
            Some(p) => format!("of project {p}"),
            None => "of the current trail".to_owned(),
        };
        json!({"resources": [{
            "uri": RECENT_URI,
            "name": "recent atoms",
            "description": format!(
                "The latest {RECENT_DEFAULT} atoms {scope}, newest first, as {{atoms: [{{commit, record, signature}}]}}: prior work to check at the start of a session."
            ),
            "mimeType": "application/json",
        }]})
    }

    fn read_resource(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let uri = params.get("uri").and_then(Value::as_str).unwrap_or("");
        if uri != RECENT_URI {
            return Err(RpcError {
                code: RESOURCE_NOT_FOUND,
                message: format!("no resource {uri:?}; the resource is {RECENT_URI}"),
            });
        }
        let atoms = self
            .recent(self.project.clone(), RECENT_DEFAULT)
            .map_err(RpcError::internal)?;
        let text = json!({ "atoms": atoms }).to_string();
        Ok(json!({"contents": [{"uri": RECENT_URI, "mimeType": "application/json", "text": text}]}))
    }
}

/// A JSON-RPC error response.
fn failure(id: Value, e: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

/// A successful result: `text`, then `value` as structured content (and as
/// JSON text, for clients that read only text).
fn tool_result<T: Serialize + ?Sized>(text: String, value: &T) -> Result<Value, TrailError> {
    Ok(match serde_json::to_value(value) {
        Ok(json) => json!({
            "content": [
                {"type": "text", "text": text},
                {"type": "text", "text": json.to_string()},
            ],
            "structuredContent": json,
            "isError": false,
        }),
        Err(e) => tool_error(format!(
            "internal error in atom: cannot encode the result: {e}"
        )),
    })
}

/// A failed call: one line, as `atom` would print it after `error:`.
fn tool_error(message: String) -> Value {
    json!({
        "content": [{"type": "text", "text": format!("error: {message}")}],
        "isError": true,
    })
}

/// The error's message on one line, with a hint where the tools offer a way out.
fn error_text(e: &TrailError) -> String {
    let message = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let hint = match e {
        TrailError::NoSuchAtom { similar, .. } if !similar.is_empty() => {
            let ids: Vec<String> = similar.iter().map(ToString::to_string).collect();
            return format!("{message} (hint: did you mean {}?)", ids.join(" or "));
        }
        TrailError::NoSuchRevision { similar, .. } if !similar.is_empty() => {
            return format!(
                "{message} (hint: did you mean trail {}?)",
                similar.join(" or ")
            );
        }
        TrailError::NotFound { .. }
        | TrailError::NoSuchAtom { .. }
        | TrailError::NoSuchRevision { .. } => {
            Some("atom_log with all=true lists the atoms of every trail")
        }
        TrailError::Invalid(f) if f.field() == "influenced_by" => {
            Some("atom_log with all=true lists the atoms of every trail")
        }
        TrailError::NotInitialized { .. } => Some("run `atom init` to create the store"),
        TrailError::Ambiguous { .. } => Some("name the atom by its commit sha prefix instead"),
        TrailError::AmbiguousLink { .. } => {
            Some("pass one of the handles (ID@<commit sha prefix>) in influenced_by")
        }
        _ => None,
    };
    match hint {
        Some(h) => format!("{message} (hint: {h})"),
        None => message,
    }
}

/// `ATOM-CFG-20241127-003 2024-11-27T10:23:45Z qwen modify_file: summary`.
fn one_line(a: &AtomView) -> String {
    let r = &a.record;
    let mut line = format!("{} {} {} {}", r.atom_id, r.timestamp, r.agent, r.operation);
    if !r.summary.is_empty() {
        line.push_str(": ");
        line.push_str(&r.summary);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic in store work ends that call with an error result; the next
    /// call on the same server goes on.
    #[test]
    fn a_panic_in_a_call_is_an_error_result_and_the_server_survives() {
        let tmp = tempfile::tempdir().expect("temporary directory");
        Trail::init(tmp.path(), None).expect("init a store");
        let server = AtomServer::new(tmp.path().to_owned(), Options::default());
        let failed = server.with_trail(|_| panic!("store exploded"));
        assert_eq!(failed["isError"], true);
        let message = failed["content"][0]["text"].as_str().expect("text");
        assert!(
            message.starts_with("error: internal error in atom") && message.contains("panic"),
            "{message}"
        );
        let next = server.with_trail(|trail| tool_result(trail.current_trail()?, &json!({})));
        assert_eq!(next["isError"], false);
        assert_eq!(next["content"][0]["text"], "main");
    }

    /// Requests are answered in order, notifications and responses are not,
    /// and what is no request gets an error with the id it carried.
    #[test]
    fn requests_are_answered_and_notifications_are_not() {
        let tmp = tempfile::tempdir().expect("temporary directory");
        Trail::init(tmp.path(), None).expect("init a store");
        let input = [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01","clientInfo":{"name":"codex"}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"atom_stats","arguments":{"by":"colour"}}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"no/such"}"#,
            r#"{"jsonrpc":"2.0","id":5}"#,
        ]
        .join("\n");
        let mut output = Vec::new();
        serve_on(
            tmp.path(),
            Options::default(),
            input.as_bytes(),
            &mut output,
        )
        .expect("serve");
        let answers: Vec<Value> = output
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("JSON"))
            .collect();
        let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
        assert_eq!(
            ids,
            [&json!(1), &json!("p"), &json!(3), &json!(4), &json!(5)]
        );
        assert_eq!(answers[0]["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(answers[1]["result"], json!({}));
        assert_eq!(answers[2]["error"]["code"], INVALID_PARAMS);
        assert_eq!(answers[3]["error"]["code"], METHOD_NOT_FOUND);
        assert_eq!(answers[4]["error"]["code"], gate::INVALID_REQUEST);
    }
}
