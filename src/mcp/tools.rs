//! The MCP tools: one per read or write command of the command line, each
//! answering with the `--json` shape of that command as structured content
//! plus a short text.
//!
//! Arguments are checked in two steps: their JSON shape by serde (a wrong
//! type or an unknown field is a JSON-RPC `invalid params` error), their
//! meaning by the [`Trail`] façade, exactly as for `atom record` (a bad TYPE,
//! an unknown `influenced_by` id, ... is a tool result with `isError: true`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{one_line, tool_error, tool_result, AtomServer, RpcError};
use crate::index::{Filter, StatsBy};
use crate::links::Links;
use crate::model;
use crate::verify::VerifyScope;
use crate::{AtomView, Draft};

/// Atoms a listing returns when the caller gives no `limit`.
pub const DEFAULT_LIMIT: usize = 50;

/// Arguments of `atom_record`.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Default, Deserialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowArgs {
    /// An atom id (ATOM-CFG-20241127-003), a trail name or a commit sha prefix.
    pub id: String,
}

/// Arguments of `atom_search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Words to find in summaries and metadata; every word must match, as written (gaming.env matches as is); a trailing * makes a prefix (deploy*).
    pub query: String,
    /// At most this many atoms, newest match first (default 50).
    pub limit: Option<usize>,
}

/// Arguments of `atom_trace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceArgs {
    /// The atom to start from: an atom id, a trail name or a commit sha prefix.
    pub id: String,
    /// false (default): what the atom built on, recursively; true: what built on it.
    pub down: Option<bool>,
}

/// What `atom_stats` groups by.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// Group by agent (default), type, day or project.
    pub by: Option<By>,
}

/// Arguments of `atom_verify`.
#[derive(Debug, Deserialize)]
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

/// `{commit, record, signature}` plus the links as handles, `influenced`,
/// `built_on` and `ambiguous`: `atom show --json`.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    atom: AtomView,
    influenced: Vec<String>,
    built_on: Vec<String>,
    ambiguous: Vec<String>,
}

impl AtomServer {
    /// Record one atom.
    fn atom_record(&self, args: RecordArgs) -> Value {
        let links = args.influenced_by.unwrap_or_default();
        if links.iter().any(|h| !crate::links::is_handle(h)) {
            return tool_error(
                "invalid influenced_by: each is an atom id (ATOM-RESEARCH-20241127-002), ID@<commit sha prefix> or a commit sha prefix".to_owned(),
            );
        }
        let mut draft = Draft {
            atom_type: args.atom_type,
            operation: args.operation,
            agent: self.agent_for(args.agent),
            summary: args.summary.unwrap_or_default(),
            metadata: args.metadata.unwrap_or_default(),
            influenced_by: Vec::new(),
            project: args
                .project
                .or_else(|| self.project.clone())
                .filter(|p| !p.is_empty()),
            token_cost: args.token_cost,
            attachments: Vec::new(),
            at: None,
        };
        self.with_trail(move |trail| {
            for handle in &links {
                trail.link(&mut draft, handle)?;
            }
            let atom = trail.record(draft)?;
            let text = format!(
                "recorded {} ({}) on trail {}",
                atom.record.atom_id,
                atom.record.digest,
                trail.current_trail()?
            );
            tool_result(text, &atom)
        })
    }

    /// List atoms.
    fn atom_log(&self, args: LogArgs) -> Value {
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
            tool_result(text, &json!({ "atoms": atoms }))
        })
    }

    /// Show one atom.
    fn atom_show(&self, args: ShowArgs) -> Value {
        self.with_trail(move |trail| {
            let atom = trail.show(args.id.trim())?;
            let links = trail.links(&atom)?;
            let mut text = one_line(&atom);
            if !links.built_on.is_empty() {
                text.push_str(&format!("\nbuilt on {}", Links::text(&links.built_on)));
            }
            if !links.used_by.is_empty() {
                text.push_str(&format!("\nused by {}", Links::text(&links.used_by)));
            }
            let shown = Shown {
                influenced: Links::handles(&links.used_by),
                built_on: Links::handles(&links.built_on),
                ambiguous: links.ambiguous(),
                atom,
            };
            tool_result(text, &shown)
        })
    }

    /// Full-text search.
    fn atom_search(&self, args: SearchArgs) -> Value {
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
            tool_result(text, &json!({ "atoms": hits }))
        })
    }

    /// Provenance.
    fn atom_trace(&self, args: TraceArgs) -> Value {
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
            tool_result(text, &trace)
        })
    }

    /// Counts and token cost.
    fn atom_stats(&self, args: StatsArgs) -> Value {
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
            tool_result(text, &json!({ "by": by, "rows": rows }))
        })
    }

    /// Verify.
    fn atom_verify(&self, args: VerifyArgs) -> Value {
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
            tool_result(text, &report)
        })
    }
}

/// One property of a tool's input schema.
fn prop(kind: &str, description: &str) -> Value {
    json!({"type": kind, "description": description})
}

/// A tool's entry in `tools/list`.
fn tool(
    name: &str,
    description: &str,
    read_only: bool,
    properties: Value,
    required: &[&str],
) -> Value {
    let mut annotations = json!({"readOnlyHint": read_only, "openWorldHint": false});
    if !read_only {
        annotations["destructiveHint"] = json!(false);
        annotations["idempotentHint"] = json!(false);
    }
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
        "annotations": annotations,
    })
}

/// The tools, as `tools/list` answers them.
pub(super) fn list() -> Vec<Value> {
    let limit = |what: &str| json!({"type": "integer", "minimum": 0, "description": format!("At most this many atoms, {what} (default {DEFAULT_LIMIT}).")});
    vec![
        tool(
            "atom_record",
            "Record what you did as an ATOM on the audit trail: a signed, tamper-evident entry other agents and later sessions can find. Call it after a decision, a piece of research, a config change, a deploy. Returns the new atom id and digest; pass the ids of atoms you built on in influenced_by.",
            false,
            json!({
                "type": prop("string", "The kind of work, upper case: DECISION, RESEARCH, CFG, TASK, DEPLOY, ... (pattern [A-Z][A-Z0-9_]{0,31})."),
                "operation": prop("string", "What was done, lower case: save_decision, research, modify_file, run_tests, ... (pattern [a-z][a-z0-9_.-]*)."),
                "agent": prop("string", "Who did it. Default: the name the MCP client gave when it connected (e.g. claude-code)."),
                "summary": prop("string", "One line for humans: what was done and why."),
                "metadata": prop("object", "Free JSON object with the details, e.g. {\"path\": \"gaming.env\", \"title\": \"...\"}; `path` or `paths` make the atom findable by file."),
                "influenced_by": {"type": "array", "items": {"type": "string"}, "description": "Atom ids this work built on, e.g. [\"ATOM-RESEARCH-20241127-002\"]; each must exist in the store."},
                "project": prop("string", "The project the work belongs to (default: the server's --project, if any)."),
                "token_cost": {"type": "integer", "minimum": 0, "description": "Tokens spent on this work, for cost accounting per agent."},
            }),
            &["type", "operation"],
        ),
        tool(
            "atom_log",
            "List atoms of the audit trail, newest first, with the filters of `atom log` (type, agent, operation, path, project, since, until, grep, limit). Use it at the start of a task to see what was already done. Returns {atoms: [{commit, record, signature}]}.",
            true,
            json!({
                "rev": prop("string", "A trail name, an atom id or a commit sha prefix: that trail, or that atom and its ancestors (default: the current trail)."),
                "all": prop("boolean", "Atoms of every trail and archived tip instead of one trail."),
                "type": prop("string", "Only atoms of this TYPE (e.g. RESEARCH)."),
                "agent": prop("string", "Only atoms by this agent (ignoring case)."),
                "operation": prop("string", "Only atoms with this operation."),
                "path": prop("string", "Only atoms that touched this file path (metadata.path, metadata.paths, files, attachments)."),
                "project": prop("string", "Only atoms of this project."),
                "since": prop("string", "Only atoms at or after this time: RFC 3339 (2024-11-27T10:23:45Z), a day (2024-11-27), today, yesterday, or N days / hours ago (3d, 12h)."),
                "until": prop("string", "Only atoms before this time, in the forms of `since`."),
                "grep": prop("string", "Only atoms whose summary, operation or metadata contain this text (any case)."),
                "limit": limit("newest first"),
            }),
            &[],
        ),
        tool(
            "atom_show",
            "Show one atom in full: its record (metadata included), commit, signature status and the atoms that built on it (influenced). Returns {commit, record, signature, influenced, built_on, ambiguous}: the atoms that built on it and that it built on, by handle.",
            true,
            json!({"id": prop("string", "An atom id (ATOM-CFG-20241127-003), a trail name or a commit sha prefix.")}),
            &["id"],
        ),
        tool(
            "atom_search",
            "Full-text search over the summaries and metadata of every atom, newest match first. Use it to check for prior work before redoing research. Returns {atoms: [{commit, record, signature, snippet}]}.",
            true,
            json!({
                "query": prop("string", "Words to find in summaries and metadata; every word must match, as written (gaming.env matches as is); a trailing * makes a prefix (deploy*)."),
                "limit": limit("newest match first"),
            }),
            &["query"],
        ),
        tool(
            "atom_trace",
            "Provenance of an atom through influenced_by links, across every trail: what it built on, recursively, or with down=true what built on it. Returns {root, direction, nodes: [{handle, atom_id, commit, type, agent, summary, timestamp}], edges: [{from, to, ambiguous}]} where `to` built on `from`, named by handle (the atom id, or ID@<short sha> when several atoms share the id); an ambiguous edge is a link to an id several atoms share that recorded no commit.",
            true,
            json!({
                "id": prop("string", "The atom to start from: an atom id, a trail name or a commit sha prefix."),
                "down": prop("boolean", "false (default): what the atom built on, recursively; true: what built on it."),
            }),
            &["id"],
        ),
        tool(
            "atom_stats",
            "Atom counts and summed token cost of the whole store, grouped by agent (default), type, day or project. Returns {by, rows: [{key, atoms, token_cost}]}.",
            true,
            json!({"by": {"type": "string", "enum": ["agent", "type", "day", "project"], "description": "Group by agent (default), type, day or project."}}),
            &[],
        ),
        tool(
            "atom_verify",
            "Verify the trail: recompute every digest, check the parent links, the id order and each signature against the trusted keys. Returns {scope, atoms, ok, failures: [{atom_id, commit, reasons}], warnings}; ok=false means an atom was changed outside atom or signed by an untrusted key.",
            true,
            json!({
                "trail": prop("string", "A trail name, an atom id or a commit to verify with its ancestors (default: the current trail)."),
                "all": prop("boolean", "Verify every trail and archived tip."),
            }),
            &[],
        ),
    ]
}

/// Run the tool `name` with `arguments`: a tool result, or a JSON-RPC error
/// when there is no such tool or the arguments have the wrong shape.
pub(super) fn call(server: &AtomServer, name: &str, arguments: Value) -> Result<Value, RpcError> {
    fn args<T: DeserializeOwned>(name: &str, arguments: Value) -> Result<T, RpcError> {
        serde_json::from_value(arguments).map_err(|e| {
            RpcError::invalid_params(format!(
                "invalid arguments for {name}: {}",
                without_values(&e.to_string())
            ))
        })
    }
    Ok(match name {
        "atom_record" => server.atom_record(args(name, arguments)?),
        "atom_log" => server.atom_log(args(name, arguments)?),
        "atom_show" => server.atom_show(args(name, arguments)?),
        "atom_search" => server.atom_search(args(name, arguments)?),
        "atom_trace" => server.atom_trace(args(name, arguments)?),
        "atom_stats" => server.atom_stats(args(name, arguments)?),
        "atom_verify" => server.atom_verify(args(name, arguments)?),
        _ => {
            return Err(RpcError::invalid_params(format!(
                "no tool {name:?}; tools/list names the tools"
            )))
        }
    })
}

/// A decoding error without the string values it quotes: an argument of the
/// wrong type may be a secret, and the answer must not echo it.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push_str("\"…\"");
        let mut escaped = false;
        for c in chars.by_ref() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => break,
                _ => {}
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_errors_do_not_echo_string_values() {
        let e = serde_json::from_value::<RecordArgs>(
            json!({"type": "CFG", "operation": "x", "token_cost": "ghp_\"secret\"value"}),
        )
        .expect_err("a string is no token count");
        let message = without_values(&e.to_string());
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("invalid type"), "{message}");
        let e = serde_json::from_value::<RecordArgs>(json!({"operation": "x"}))
            .expect_err("type is required");
        assert_eq!(without_values(&e.to_string()), e.to_string());
    }
}
