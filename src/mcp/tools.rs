//! The MCP tools: one per read or write command of the command line, each
//! answering with the `--json` shape of that command as structured content
//! plus a short text.
//!
//! Arguments are checked in two steps: their JSON shape by serde (a wrong
//! type or an unknown field is a JSON-RPC `invalid params` error), their
//! meaning by the [`Trail`] façade, exactly as for `atom record` (a bad TYPE,
//! an unknown `influenced_by` id, ... is a tool result with `isError: true`).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{one_line, tool_error, tool_result, AtomServer};
use crate::index::{Filter, StatsBy};
use crate::model::{self, AtomId};
use crate::verify::VerifyScope;
use crate::{AtomView, Draft};

/// Atoms a listing returns when the caller gives no `limit`.
pub const DEFAULT_LIMIT: usize = 50;

/// Arguments of `atom_record`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordArgs {
    /// The kind of work, upper case: DECISION, RESEARCH, CFG, TASK, DEPLOY, ... (pattern [A-Z][A-Z0-9_]{0,31}).
    #[serde(rename = "type")]
    pub atom_type: String,
    /// What was done, lower case: save_decision, research, modify_file, run_tests, ... (pattern [a-z][a-z0-9_.-]*).
    pub operation: String,
    /// Who did it. Default: the name the MCP client gave when it connected (e.g. claude-code).
    pub agent: Option<String>,
    /// One line for humans: what was done and why.
    pub summary: Option<String>,
    /// Free JSON object with the details, e.g. {"path": "gaming.env", "title": "..."}; `path` or `paths` make the atom findable by file.
    pub metadata: Option<Map<String, Value>>,
    /// Atom ids this work built on, e.g. ["ATOM-RESEARCH-20241127-002"]; each must exist in the store.
    pub influenced_by: Option<Vec<String>>,
    /// The project the work belongs to (default: the server's --project, if any).
    pub project: Option<String>,
    /// Tokens spent on this work, for cost accounting per agent.
    pub token_cost: Option<u64>,
}

/// Arguments of `atom_log`: the filters of `atom log`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    /// A trail name, an atom id or a commit sha prefix: that trail, or that atom and its ancestors (default: the current trail).
    pub rev: Option<String>,
    /// Atoms of every trail and archived tip instead of one trail.
    pub all: Option<bool>,
    /// Only atoms of this TYPE (e.g. RESEARCH).
    #[serde(rename = "type")]
    pub atom_type: Option<String>,
    /// Only atoms by this agent (ignoring case).
    pub agent: Option<String>,
    /// Only atoms with this operation.
    pub operation: Option<String>,
    /// Only atoms that touched this file path (metadata.path, metadata.paths, files, attachments).
    pub path: Option<String>,
    /// Only atoms of this project.
    pub project: Option<String>,
    /// Only atoms at or after this time: RFC 3339 (2024-11-27T10:23:45Z), a day (2024-11-27), today, yesterday, or N days / hours ago (3d, 12h).
    pub since: Option<String>,
    /// Only atoms before this time, in the forms of `since`.
    pub until: Option<String>,
    /// Only atoms whose summary, operation or metadata contain this text (any case).
    pub grep: Option<String>,
    /// At most this many atoms, newest first (default 50).
    pub limit: Option<usize>,
}

/// Arguments of `atom_show`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    /// An atom id (ATOM-CFG-20241127-003), a trail name or a commit sha prefix.
    pub id: String,
}

/// Arguments of `atom_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Words to find in summaries and metadata; every word must match, as written (gaming.env matches as is); a trailing * makes a prefix (deploy*).
    pub query: String,
    /// At most this many atoms, newest match first (default 50).
    pub limit: Option<usize>,
}

/// Arguments of `atom_trace`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceArgs {
    /// The atom to start from: an atom id, a trail name or a commit sha prefix.
    pub id: String,
    /// false (default): what the atom built on, recursively; true: what built on it.
    pub down: Option<bool>,
}

/// What `atom_stats` groups by.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The agent.
    #[default]
    Agent,
    /// The TYPE.
    Type,
    /// The UTC day.
    Day,
    /// The project.
    Project,
}

/// Arguments of `atom_stats`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// Group by agent (default), type, day or project.
    pub by: Option<By>,
}

/// Arguments of `atom_verify`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    /// A trail name, an atom id or a commit to verify with its ancestors (default: the current trail).
    pub trail: Option<String>,
    /// Verify every trail and archived tip.
    pub all: Option<bool>,
}

/// `{commit, record, signature}` plus `snippet`: an item of `atom search --json`.
#[derive(Serialize)]
struct Hit {
    #[serde(flatten)]
    atom: AtomView,
    snippet: String,
}

/// `{commit, record, signature}` plus `influenced`: `atom show --json`.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    atom: AtomView,
    influenced: Vec<AtomId>,
}

#[tool_router(router = tool_router, vis = "pub(crate)")]
impl AtomServer {
    /// Record one atom.
    #[tool(
        description = "Record what you did as an ATOM on the audit trail: a signed, tamper-evident entry other agents and later sessions can find. Call it after a decision, a piece of research, a config change, a deploy. Returns the new atom id and digest; pass the ids of atoms you built on in influenced_by.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn atom_record(
        &self,
        Parameters(args): Parameters<RecordArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let influenced_by = match args
            .influenced_by
            .unwrap_or_default()
            .iter()
            .map(|s| AtomId::parse_any_case(s.trim()))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(ids) => ids,
            Err(e) => {
                return tool_error(format!(
                    "invalid influenced_by: {e}; ids look like ATOM-RESEARCH-20241127-002"
                ))
            }
        };
        let draft = Draft {
            atom_type: args.atom_type,
            operation: args.operation,
            agent: self.agent_for(args.agent, &context),
            summary: args.summary.unwrap_or_default(),
            metadata: args.metadata.unwrap_or_default(),
            influenced_by,
            project: args
                .project
                .or_else(|| self.project.clone())
                .filter(|p| !p.is_empty()),
            token_cost: args.token_cost,
            attachments: Vec::new(),
            at: None,
        };
        self.with_trail(move |trail| {
            let atom = trail.record(draft)?;
            let text = format!(
                "recorded {} ({}) on trail {}",
                atom.record.atom_id,
                atom.record.digest,
                trail.current_trail()?
            );
            Ok(tool_result(text, &atom))
        })
        .await
    }

    /// List atoms.
    #[tool(
        description = "List atoms of the audit trail, newest first, with the filters of `atom log` (type, agent, operation, path, project, since, until, grep, limit). Use it at the start of a task to see what was already done. Returns {atoms: [{commit, record, signature}]}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_log(&self, Parameters(args): Parameters<LogArgs>) -> CallToolResult {
        let date = |field, s: Option<String>| {
            s.map(|s| model::parse_date(field, &s).map(model::format_timestamp))
                .transpose()
        };
        let (since, until) = match (date("since", args.since), date("until", args.until)) {
            (Ok(since), Ok(until)) => (since, until),
            (Err(e), _) | (_, Err(e)) => {
                return tool_error(format!(
                    "{e}; dates look like 2024-11-27 or 2024-11-27T10:23:45Z"
                ))
            }
        };
        let filter = Filter {
            atom_type: args.atom_type,
            agent: args.agent,
            operation: args.operation,
            path: args.path,
            project: args.project,
            since,
            until,
            grep: args.grep,
            limit: Some(args.limit.unwrap_or(DEFAULT_LIMIT)),
            after: None,
        };
        let (rev, all) = (args.rev, args.all.unwrap_or(false));
        if rev.is_some() && all {
            return tool_error("give either rev or all, not both".into());
        }
        self.with_trail(move |trail| {
            let atoms = trail.log(rev.as_deref(), all, &filter)?;
            let text = listing(&format!("{} atom(s), newest first", atoms.len()), &atoms);
            Ok(tool_result(text, &serde_json::json!({ "atoms": atoms })))
        })
        .await
    }

    /// Show one atom.
    #[tool(
        description = "Show one atom in full: its record (metadata included), commit, signature status and the atoms that built on it (influenced). Returns {commit, record, signature, influenced}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_show(&self, Parameters(args): Parameters<ShowArgs>) -> CallToolResult {
        self.with_trail(move |trail| {
            let atom = trail.show(args.id.trim())?;
            let influenced = trail.influenced(&atom.record.atom_id)?;
            let mut text = one_line(&atom);
            if !influenced.is_empty() {
                let ids: Vec<String> = influenced.iter().map(ToString::to_string).collect();
                text.push_str(&format!("\nused by {}", ids.join(", ")));
            }
            Ok(tool_result(text, &Shown { atom, influenced }))
        })
        .await
    }

    /// Full-text search.
    #[tool(
        description = "Full-text search over the summaries and metadata of every atom, newest match first. Use it to check for prior work before redoing research. Returns {atoms: [{commit, record, signature, snippet}]}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_search(&self, Parameters(args): Parameters<SearchArgs>) -> CallToolResult {
        if crate::index::fts_query(&args.query).is_none() {
            return tool_error(
                "the search query has no word to search for; give at least one word, e.g. gaming.env"
                    .into(),
            );
        }
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
        self.with_trail(move |trail| {
            let hits: Vec<Hit> = trail
                .search(&args.query, Some(limit))?
                .into_iter()
                .map(|(atom, snippet)| Hit { atom, snippet })
                .collect();
            let atoms: Vec<AtomView> = hits.iter().map(|h| h.atom.clone()).collect();
            let text = listing(
                &format!("{} atom(s) match {:?}, best first", hits.len(), args.query),
                &atoms,
            );
            Ok(tool_result(text, &serde_json::json!({ "atoms": hits })))
        })
        .await
    }

    /// Provenance.
    #[tool(
        description = "Provenance of an atom through influenced_by links, across every trail: what it built on, recursively, or with down=true what built on it. Returns {root, direction, nodes: [{atom_id, type, agent, summary, timestamp}], edges: [{from, to}]} where `to` built on `from`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_trace(&self, Parameters(args): Parameters<TraceArgs>) -> CallToolResult {
        self.with_trail(move |trail| {
            let trace = trail.trace(args.id.trim(), args.down.unwrap_or(false))?;
            let text = format!(
                "{}: {} atom(s), {} link(s) {}",
                trace.root,
                trace.nodes.len(),
                trace.edges.len(),
                if trace.down {
                    "down (what built on it)"
                } else {
                    "up (what it built on)"
                }
            );
            Ok(tool_result(text, &trace))
        })
        .await
    }

    /// Counts and token cost.
    #[tool(
        description = "Atom counts and summed token cost of the whole store, grouped by agent (default), type, day or project. Returns {by, rows: [{key, atoms, token_cost}]}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_stats(&self, Parameters(args): Parameters<StatsArgs>) -> CallToolResult {
        let by = args.by.unwrap_or_default();
        let group = match by {
            By::Agent => StatsBy::Agent,
            By::Type => StatsBy::Type,
            By::Day => StatsBy::Day,
            By::Project => StatsBy::Project,
        };
        self.with_trail(move |trail| {
            let rows = trail.stats(group)?;
            let mut text = String::new();
            for r in &rows {
                text.push_str(&format!(
                    "{}: {} atom(s), {} token(s)\n",
                    r.key.as_deref().unwrap_or("(none)"),
                    r.atoms,
                    r.token_cost
                ));
            }
            let total: u64 = rows.iter().map(|r| r.atoms).sum();
            text.push_str(&format!("total: {total} atom(s)"));
            Ok(tool_result(
                text,
                &serde_json::json!({ "by": by, "rows": rows }),
            ))
        })
        .await
    }

    /// Verify.
    #[tool(
        description = "Verify the trail: recompute every digest, check the parent links, the id order and each signature against the trusted keys. Returns {scope, atoms, ok, failures: [{atom_id, commit, reasons}], warnings}; ok=false means an atom was changed outside atom or signed by an untrusted key.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn atom_verify(&self, Parameters(args): Parameters<VerifyArgs>) -> CallToolResult {
        let (rev, all) = (args.trail, args.all.unwrap_or(false));
        if rev.is_some() && all {
            return tool_error("give either trail or all, not both".into());
        }
        self.with_trail(move |trail| {
            let scope = match (&rev, all) {
                (_, true) => VerifyScope::All,
                (Some(rev), false) => VerifyScope::Rev(rev),
                (None, false) => VerifyScope::Current,
            };
            let report = trail.verify(scope)?;
            let text = if report.ok {
                format!(
                    "{} atom(s) of {} verified, chain intact",
                    report.atoms, report.scope
                )
            } else {
                let ids: Vec<&str> = report
                    .failures
                    .iter()
                    .map(|f| f.atom_id.as_deref().unwrap_or(f.commit.as_str()))
                    .collect();
                format!(
                    "verification FAILED: {} of {} atom(s) in {}: {}",
                    report.failures.len(),
                    report.atoms,
                    report.scope,
                    ids.join(", ")
                )
            };
            Ok(tool_result(text, &report))
        })
        .await
    }
}

/// A heading and one line per atom.
pub(super) fn listing(heading: &str, atoms: &[AtomView]) -> String {
    let mut text = format!("{heading}:");
    for a in atoms {
        text.push('\n');
        text.push_str(&one_line(a));
    }
    text
}
