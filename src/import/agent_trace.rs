//! Agent Trace (agent-trace.dev, v0.1): which lines of which files an AI or
//! a person wrote, out of EDIT and COMMIT atoms and back in as EDIT atoms.
//!
//! The one place line ranges live in a record is `metadata.files[]`: each
//! entry `{path, ranges?: [{start_line, end_line, content_hash?}],
//! conversations?}`. Export makes one trace record per atom that has such
//! files (EDIT atoms from agent capture, COMMIT atoms from the git hooks);
//! import writes one EDIT atom per trace record in exactly that shape, keeping
//! what the trace had beyond it under `metadata.agent_trace`, so
//! export(import(x)) gives x back (plus our atom id and digest under
//! `metadata["dev.atom"]`). A record's id becomes its source key, so
//! importing a file again adds only new records.

use serde_json::{json, Map, Value};

use crate::canonical;
use crate::model::Atom;

/// The tool name in `metadata.source`.
pub const TOOL: &str = "agent-trace";
/// The Agent Trace version export writes.
pub const VERSION: &str = "0.1.0";
/// Our key in a trace record's `metadata` (reverse DNS, as the spec asks).
pub const METADATA_KEY: &str = "dev.atom";

/// The trace record of an atom, if it has files with paths.
pub fn to_trace(atom: &Atom) -> Option<Value> {
    let files = atom.metadata.get("files")?.as_array()?;
    let saved = atom.metadata.get("agent_trace").and_then(Value::as_object);
    let model = atom.metadata.get("model").and_then(Value::as_str);
    let contributor_type = match (atom.atom_type.as_str(), atom.metadata.get("contributor")) {
        (_, Some(Value::String(t))) => t.clone(),
        ("EDIT", _) => "ai".to_owned(),
        _ => "unknown".to_owned(),
    };
    let mut contributor = Map::new();
    contributor.insert("type".into(), contributor_type.into());
    if let Some(m) = model {
        contributor.insert("model_id".into(), m.into());
    }
    let mut out_files = Vec::new();
    for file in files {
        let Some(path) = file.get("path").and_then(Value::as_str) else {
            continue;
        };
        let conversations = match file.get("conversations") {
            Some(c @ Value::Array(_)) => c.clone(),
            _ => {
                let ranges = file.get("ranges").cloned().unwrap_or_else(|| json!([]));
                json!([{"contributor": contributor, "ranges": ranges}])
            }
        };
        out_files.push(json!({"path": path, "conversations": conversations}));
    }
    if out_files.is_empty() {
        return None;
    }
    let saved_str = |k: &str| saved.and_then(|s| s.get(k)).cloned();
    let mut record = Map::new();
    record.insert(
        "version".into(),
        saved_str("version").unwrap_or_else(|| VERSION.into()),
    );
    record.insert(
        "id".into(),
        saved_str("id").unwrap_or_else(|| uuid_of(&atom.digest).into()),
    );
    record.insert(
        "timestamp".into(),
        saved_str("timestamp").unwrap_or_else(|| atom.timestamp.clone().into()),
    );
    let vcs = saved_str("vcs").or_else(|| {
        atom.metadata
            .get("commit")
            .and_then(Value::as_str)
            .map(|c| json!({"type": "git", "revision": c}))
    });
    if let Some(v) = vcs {
        record.insert("vcs".into(), v);
    }
    record.insert(
        "tool".into(),
        saved_str("tool").unwrap_or_else(|| json!({"name": atom.agent})),
    );
    record.insert("files".into(), Value::Array(out_files));
    let mut metadata = match saved_str("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    metadata.insert(
        METADATA_KEY.into(),
        json!({"atom_id": atom.atom_id.to_string(), "digest": atom.digest}),
    );
    record.insert("metadata".into(), Value::Object(metadata));
    Some(Value::Object(record))
}

/// A UUID (version 8, RFC 9562: custom) from the first 16 bytes of a
/// `sha256:` digest, so one atom always exports under one id.
fn uuid_of(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let hex: String = if hex.len() >= 32 && canonical::is_lower_hex(&hex[..32]) {
        hex[..32].to_owned()
    } else {
        canonical::sha256_hex(digest.as_bytes())[..32].to_owned()
    };
    let mut b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex checked"))
        .collect();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A trace record (one line of `traces.jsonl`) as an import record: an EDIT
/// atom whose `metadata.files` carry the ranges. Checks the fields the spec
/// requires; the text itself is checked by the import as any record.
pub fn to_record(line: &str) -> Result<String, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON trace record: {e}"))?;
    let Value::Object(mut trace) = value else {
        return Err("a trace record must be a JSON object".into());
    };
    let id = match trace.get("id") {
        Some(Value::String(s)) if is_uuid(s) => s.clone(),
        _ => return Err("id must be a UUID".into()),
    };
    let Some(Value::String(timestamp)) = trace.get("timestamp").cloned() else {
        return Err("timestamp must be an RFC 3339 string".into());
    };
    // Atoms are timed to the second; the trace's own text is kept in
    // `metadata.agent_trace.timestamp`.
    let time = chrono::DateTime::parse_from_rfc3339(&timestamp)
        .map_err(|e| format!("timestamp {timestamp:?} is not RFC 3339: {e}"))?
        .with_timezone(&chrono::Utc);
    let time = chrono::DurationRound::duration_trunc(time, chrono::TimeDelta::seconds(1))
        .map_err(|e| format!("timestamp {timestamp:?}: {e}"))?;
    let Some(Value::Array(files)) = trace.remove("files") else {
        return Err("files must be an array".into());
    };
    let mut out_files = Vec::new();
    let mut models = Vec::new();
    let mut contributors = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let at = format!("files[{i}]");
        let path = file
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or(format!("{at}.path must be a non-empty string"))?;
        let Some(Value::Array(conversations)) = file.get("conversations") else {
            return Err(format!("{at}.conversations must be an array"));
        };
        let mut ranges = Vec::new();
        for (j, c) in conversations.iter().enumerate() {
            let Some(Value::Array(rs)) = c.get("ranges") else {
                return Err(format!("{at}.conversations[{j}].ranges must be an array"));
            };
            if let Some(contributor) = c.get("contributor") {
                if let Some(m) = contributor.get("model_id").and_then(Value::as_str) {
                    if !models.iter().any(|x| x == m) {
                        models.push(m.to_owned());
                    }
                }
                if let Some(t) = contributor.get("type").and_then(Value::as_str) {
                    if !contributors.iter().any(|x| x == t) {
                        contributors.push(t.to_owned());
                    }
                }
            }
            for (k, r) in rs.iter().enumerate() {
                let line_of = |key: &str| {
                    r.get(key)
                        .and_then(Value::as_u64)
                        .filter(|n| *n >= 1)
                        .ok_or(format!(
                            "{at}.conversations[{j}].ranges[{k}].{key} must be an integer >= 1"
                        ))
                };
                let mut range = Map::new();
                range.insert("start_line".into(), line_of("start_line")?.into());
                range.insert("end_line".into(), line_of("end_line")?.into());
                if let Some(h) = r.get("content_hash") {
                    range.insert("content_hash".into(), h.clone());
                }
                ranges.push(Value::Object(range));
            }
        }
        out_files.push(json!({"path": path, "ranges": ranges, "conversations": conversations}));
    }
    let first_path = out_files
        .first()
        .and_then(|f| f["path"].as_str())
        .map(str::to_owned);
    let agent = trace
        .get("tool")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(TOOL)
        .to_owned();
    let mut metadata = Map::new();
    if let Some(p) = &first_path {
        metadata.insert("path".into(), p.clone().into());
    }
    metadata.insert("files".into(), Value::Array(out_files));
    if let [m] = models.as_slice() {
        metadata.insert("model".into(), m.clone().into());
    }
    if let [c] = contributors.as_slice() {
        metadata.insert("contributor".into(), c.clone().into());
    }
    if let Some(Value::String(rev)) = trace.get("vcs").and_then(|v| v.get("revision")) {
        metadata.insert("commit".into(), rev.clone().into());
    }
    metadata.insert("agent_trace".into(), Value::Object(trace));
    metadata.insert("source".into(), json!({"tool": TOOL, "id": id}));
    let record = json!({
        "type": "EDIT",
        "operation": "edit_file",
        "agent": agent,
        "timestamp": crate::model::format_timestamp(time),
        "summary": match &first_path { Some(p) => format!("edited {p}"), None => String::new() },
        "metadata": metadata,
    });
    Ok(record.to_string())
}

/// 8-4-4-4-12 hex digits.
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
