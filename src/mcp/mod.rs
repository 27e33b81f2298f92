//! `atom mcp`: the store as a Model Context Protocol server on stdio, so that
//! agents (Claude Code, local models, research tools) record and query atoms
//! without shelling out.
//!
//! The design decision a reader must know: a [`Trail`] is not `Sync`, so
//! every call opens its own `Trail` on tokio's blocking pool, exactly as one
//! `atom` process per command would. Concurrent calls therefore behave like
//! concurrent processes (the store lock orders the writers), and a panic in
//! the store ends that call with an error result, never the server.
//!
//! Who an atom is attributed to: the call's `agent`, else the server's
//! `--agent`, else the `clientInfo.name` the client sent in `initialize`,
//! else the store's default (`$ATOM_AGENT`, git's `user.name`, `$USER`).

mod gate;
mod tools;

use std::path::{Path, PathBuf};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, ListPromptsResult, ListResourcesResult, PaginatedRequestParams, Prompt,
    PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool_handler, ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::Value;

use crate::index::Filter;
use crate::model;
use crate::{AtomView, Trail, TrailError};

pub use tools::DEFAULT_LIMIT;

/// The session-start prompt: the latest atoms, to check before redoing work.
pub const PRIOR_WORK_PROMPT: &str = "prior_work";
/// The resource holding the latest atoms as JSON.
pub const RECENT_URI: &str = "atom://recent";
/// How many atoms the prompt and the resource show unless told otherwise.
pub const RECENT_DEFAULT: usize = 20;

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
    /// The runtime could not start.
    #[error("cannot start the MCP server: {0}")]
    Runtime(#[from] std::io::Error),
    /// The client went away or spoke no MCP before `initialize` completed.
    #[error("MCP handshake failed: {0}")]
    Handshake(String),
    /// The server loop failed.
    #[error("MCP server failed: {0}")]
    Run(String),
}

/// Serve the store at `home` over stdin/stdout until the client closes stdin.
/// Every line gets an answer: what rmcp could not parse is answered by the
/// [`gate`] with a JSON-RPC error.
pub fn serve(home: &Path, options: Options) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = AtomServer::new(home.to_owned(), options);
    let served = runtime.block_on(gate::serve(server, tokio::io::stdin(), tokio::io::stdout()));
    // A read of stdin may still be pending on a blocking thread (when the
    // server stopped before the client closed stdin): do not wait for it.
    runtime.shutdown_background();
    served
}

/// The MCP server: tools from [`tools`], plus the session-start prompt and resource.
#[derive(Clone)]
pub(crate) struct AtomServer {
    home: PathBuf,
    agent: Option<String>,
    project: Option<String>,
    trail: Option<String>,
    tool_router: ToolRouter<AtomServer>,
}

impl AtomServer {
    fn new(home: PathBuf, options: Options) -> Self {
        AtomServer {
            home,
            agent: options.agent,
            project: options.project.filter(|p| !p.is_empty()),
            trail: options.trail,
            tool_router: Self::tool_router(),
        }
    }

    /// The agent of a new atom: the call's, the server's `--agent`, the
    /// client's name when it is a valid agent name, else `None` (the store's
    /// default).
    fn agent_for(
        &self,
        given: Option<String>,
        context: &RequestContext<RoleServer>,
    ) -> Option<String> {
        given.or_else(|| self.agent.clone()).or_else(|| {
            context
                .client_info()
                .map(|c| c.name.trim().to_owned())
                .filter(|name| model::validate_agent(name).is_ok())
        })
    }

    /// Run `f` on a freshly opened store on the blocking pool; its errors and
    /// panics become tool results with `isError: true`.
    async fn with_trail<F>(&self, f: F) -> CallToolResult
    where
        F: FnOnce(&Trail) -> Result<CallToolResult, TrailError> + Send + 'static,
    {
        match self.blocking(f).await {
            Ok(result) => result,
            Err(message) => tool_error(message),
        }
    }

    /// Run `f` on a freshly opened store on the blocking pool; an error or a
    /// panic comes back as its one-line message.
    async fn blocking<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Trail) -> Result<T, TrailError> + Send + 'static,
    {
        let home = self.home.clone();
        let selected = self.trail.clone();
        let job = tokio::task::spawn_blocking(move || {
            let trail = Trail::open_on(&home, selected.as_deref()).map_err(|e| match e {
                crate::branches::BranchError::Trail(e) => error_text(&e),
                other => other.to_string(),
            })?;
            let result = f(&trail);
            for note in trail.take_notices() {
                eprintln!("note: {note}");
            }
            result.map_err(|e| error_text(&e))
        });
        match job.await {
            Ok(result) => result,
            Err(e) => Err(format!("internal error in atom: {e}")),
        }
    }

    /// The latest atoms of `project` (every project when `None`) on the current trail.
    async fn recent(&self, project: Option<String>, limit: usize) -> Result<Vec<AtomView>, String> {
        let filter = Filter {
            project,
            limit: Some(limit),
            ..Filter::default()
        };
        self.blocking(move |trail| trail.log(None, false, &filter))
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AtomServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("atom", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "atom keeps a tamper-evident audit trail of what agents and people did. At the start \
             of a task, check for prior work (atom_log, atom_search, or the prior_work prompt) \
             before redoing research; after a decision, a piece of research or a change, record \
             it with atom_record, listing the atoms you built on in influenced_by.",
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompt = Prompt::new(
            PRIOR_WORK_PROMPT,
            Some(
                "The latest atoms recorded for this project, to read at the start of a session \
                 before redoing research or decisions.",
            ),
            Some(vec![
                PromptArgument::new("project")
                    .with_description("Only atoms of this project (default: the server's --project, else every project).")
                    .with_required(false),
                PromptArgument::new("limit")
                    .with_description(format!("How many atoms, newest first (default {RECENT_DEFAULT})."))
                    .with_required(false),
            ]),
        );
        Ok(ListPromptsResult::with_all_items(vec![prompt]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != PRIOR_WORK_PROMPT {
            return Err(ErrorData::invalid_params(
                format!(
                    "no prompt named {:?}; the prompt is {PRIOR_WORK_PROMPT:?}",
                    request.name
                ),
                None,
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let project = match args.get("project") {
            None | Some(Value::Null) => self.project.clone(),
            Some(Value::String(p)) if p.is_empty() => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(other) => {
                return Err(ErrorData::invalid_params(
                    format!("project must be a string, got {other}"),
                    None,
                ))
            }
        };
        // Prompt arguments are strings on the wire; accept a number as well.
        let limit = match args.get("limit") {
            None | Some(Value::Null) => Ok(RECENT_DEFAULT),
            Some(Value::String(s)) => s.trim().parse::<usize>().map_err(|_| s.clone()),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| n.to_string()),
            Some(other) => Err(other.to_string()),
        }
        .map_err(|bad| {
            ErrorData::invalid_params(
                format!("limit must be a non-negative integer, got {bad}"),
                None,
            )
        })?;
        let atoms = self
            .recent(project.clone(), limit)
            .await
            .map_err(|e| ErrorData::internal_error(e, None))?;
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
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Prior work recorded in atom for {scope}"))
                .into(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let scope = match &self.project {
            Some(p) => format!("of project {p}"),
            None => "of the current trail".to_owned(),
        };
        let resource = Resource::new(RECENT_URI, "recent atoms")
            .with_description(format!(
                "The latest {RECENT_DEFAULT} atoms {scope}, newest first, as {{atoms: [{{commit, record, signature}}]}}: prior work to check at the start of a session."
            ))
            .with_mime_type("application/json");
        Ok(ListResourcesResult::with_all_items(vec![resource]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != RECENT_URI {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {:?}; the resource is {RECENT_URI}",
                    request.uri
                ),
                None,
            ));
        }
        let atoms = self
            .recent(self.project.clone(), RECENT_DEFAULT)
            .await
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let json = serde_json::json!({ "atoms": atoms }).to_string();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(json, RECENT_URI).with_mime_type("application/json")
        ])
        .into())
    }
}

/// A successful result: `text`, then `value` as structured content (and as
/// JSON text, for clients that read only text).
fn tool_result<T: Serialize + ?Sized>(text: String, value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(json) => {
            let mut result = CallToolResult::structured(json);
            result.content.insert(0, ContentBlock::text(text));
            result
        }
        Err(e) => tool_error(format!(
            "internal error in atom: cannot encode the result: {e}"
        )),
    }
}

/// A failed call: one line, as `atom` would print it after `error:`.
fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!("error: {message}"))])
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

    /// A panic in store work ends that call with an error result; the
    /// runtime, and the next call on the same server, go on.
    #[test]
    fn a_panic_in_a_call_is_an_error_result_and_the_server_survives() {
        let tmp = tempfile::tempdir().expect("temporary directory");
        Trail::init(tmp.path(), None).expect("init a store");
        let server = AtomServer::new(tmp.path().to_owned(), Options::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let failed = runtime.block_on(server.with_trail(|_| panic!("store exploded")));
        assert_eq!(failed.is_error, Some(true));
        let message = failed.content[0].as_text().expect("text").text.clone();
        assert!(
            message.starts_with("error: internal error in atom") && message.contains("panic"),
            "{message}"
        );
        let next =
            runtime.block_on(server.with_trail(|trail| {
                Ok(tool_result(trail.current_trail()?, &serde_json::json!({})))
            }));
        assert_eq!(next.is_error, Some(false));
        assert_eq!(next.content[0].as_text().expect("text").text, "main");
    }
}
