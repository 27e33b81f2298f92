//! `atom import --from context-sync [DB]`: the rows of a context-sync memory
//! database (`@context-sync/server`, `~/.context-sync/data.db`) as atoms.
//!
//! Each row of a known table becomes one record of a fitting type, dated by
//! its timestamp (Unix milliseconds there), filed under its project's name,
//! with the row's other columns in `metadata` and its origin in
//! `metadata.source` = `{"tool": "context-sync", "table", "id"}`: importing
//! the database again adds only rows that are new. A project row becomes a
//! PROJECT atom that the atoms of its rows name in `influenced_by`. The
//! database is opened read-only; its text is hostile and goes through the
//! same checks and secret scan as any import.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use super::source::SourceKey;
use super::{ImportError, Origin};
use crate::model;

/// The tool name in `metadata.source` and the default agent of the atoms.
pub const TOOL: &str = "context-sync";

/// A table of context-sync and how its rows become atoms.
struct Table {
    name: &'static str,
    atom_type: &'static str,
    operation: &'static str,
    /// The column that becomes the summary.
    summary: &'static str,
    /// The column holding the time (Unix milliseconds).
    time: &'static str,
}

/// The tables imported, projects first (the others link to them).
const TABLES: [Table; 9] = [
    Table {
        name: "projects",
        atom_type: "PROJECT",
        operation: "create_project",
        summary: "name",
        time: "created_at",
    },
    Table {
        name: "decisions",
        atom_type: "DECISION",
        operation: "save_decision",
        summary: "description",
        time: "timestamp",
    },
    Table {
        name: "conversations",
        atom_type: "CONVERSATION",
        operation: "log_conversation",
        summary: "content",
        time: "timestamp",
    },
    Table {
        name: "notes",
        atom_type: "NOTE",
        operation: "save_note",
        summary: "content",
        time: "timestamp",
    },
    Table {
        name: "problems",
        atom_type: "PROBLEM",
        operation: "report_problem",
        summary: "description",
        time: "timestamp",
    },
    Table {
        name: "goals",
        atom_type: "GOAL",
        operation: "set_goal",
        summary: "description",
        time: "timestamp",
    },
    Table {
        name: "active_work",
        atom_type: "TASK",
        operation: "start_work",
        summary: "task",
        time: "timestamp",
    },
    Table {
        name: "constraints",
        atom_type: "CONSTRAINT",
        operation: "add_constraint",
        summary: "key",
        time: "timestamp",
    },
    Table {
        name: "caveats",
        atom_type: "CAVEAT",
        operation: "add_caveat",
        summary: "description",
        time: "timestamp",
    },
];

/// Columns holding JSON text in context-sync's schema.
const JSON_COLUMNS: [&str; 4] = ["tech_stack", "tags", "files", "metadata"];

/// The database's rows as import records, in the order to append them:
/// projects by creation, then every other row by time.
pub fn records(db: &Path) -> Result<Vec<(Origin, String)>, ImportError> {
    let fail = |e: rusqlite::Error| {
        ImportError::Source(format!(
            "cannot read {} as a SQLite database: {e}",
            db.display()
        ))
    };
    if !db.is_file() {
        return Err(ImportError::Source(format!(
            "{} is not a file",
            db.display()
        )));
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let present: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(fail)?;
    if !present.iter().any(|t| t == "projects") {
        return Err(ImportError::Source(format!(
            "{} has no projects table: not a context-sync database",
            db.display()
        )));
    }
    let mut projects: HashMap<String, String> = HashMap::new();
    let mut out: Vec<(i64, Origin, Map<String, Value>)> = Vec::new();
    for table in TABLES
        .iter()
        .filter(|t| present.iter().any(|p| p == t.name))
    {
        let rows = read_table(&conn, table.name).map_err(fail)?;
        for row in rows {
            let (time, origin, record) = to_record(table, row, &projects)?;
            if table.name == "projects" {
                let id = record["metadata"]["source"]["id"]
                    .as_str()
                    .unwrap_or_default();
                projects.insert(
                    id.to_owned(),
                    record["summary"].as_str().unwrap_or_default().to_owned(),
                );
            }
            out.push((time, origin, record));
        }
    }
    // Stable: projects (read first) stay ahead of rows of the same time.
    out.sort_by_key(|(time, origin, _)| {
        (
            !matches!(origin, Origin::Row(r) if r.starts_with("projects ")),
            *time,
        )
    });
    Ok(out
        .into_iter()
        .map(|(_, origin, record)| (origin, Value::Object(record).to_string()))
        .collect())
}

/// Every row of `table` as (column, value) pairs, in rowid order.
fn read_table(
    conn: &Connection,
    table: &str,
) -> Result<Vec<Vec<(String, Value)>>, rusqlite::Error> {
    // `table` is one of TABLES' names, never input.
    let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => n.into(),
                ValueRef::Real(f) => {
                    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                }
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Value::Null,
            };
            cells.push((name.clone(), value));
        }
        out.push(cells);
    }
    Ok(out)
}

/// One row as an import record: (time for ordering, origin, record).
fn to_record(
    table: &Table,
    row: Vec<(String, Value)>,
    projects: &HashMap<String, String>,
) -> Result<(i64, Origin, Map<String, Value>), ImportError> {
    let id = row
        .iter()
        .find(|(c, _)| c == "id")
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    let id_text = match &id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let origin = Origin::Row(format!(
        "{} {}",
        table.name,
        if id_text.is_empty() {
            "(no id)"
        } else {
            &id_text
        }
    ));
    let bad = |reason: String| origin.error(reason);
    if !matches!(id, Value::String(ref s) if !s.is_empty()) && !id.is_i64() {
        return Err(bad("id must be a non-empty text or an integer".into()));
    }
    let mut metadata = Map::new();
    let mut summary = String::new();
    let mut time = None;
    let mut project_id = None;
    let mut agent = TOOL.to_owned();
    for (column, value) in row {
        match column.as_str() {
            "id" => {}
            c if c == table.time => time = value.as_i64(),
            c if c == table.summary => {
                summary = value.as_str().map(str::to_owned).unwrap_or_default()
            }
            "project_id" => project_id = value.as_str().map(str::to_owned),
            "tool" if table.name == "conversations" => {
                agent = value.as_str().unwrap_or(TOOL).to_owned();
            }
            c => {
                let value = match value {
                    Value::String(s) if JSON_COLUMNS.contains(&c) => {
                        match serde_json::from_str::<Value>(&s) {
                            Ok(v @ (Value::Array(_) | Value::Object(_))) => v,
                            _ => Value::String(s),
                        }
                    }
                    v => v,
                };
                if !value.is_null() {
                    metadata.insert(column, value);
                }
            }
        }
    }
    if table.name == "constraints" {
        if let Some(Value::String(v)) = metadata.get("value") {
            summary = format!("{summary}: {v}");
        }
    }
    let ms = time.ok_or_else(|| {
        bad(format!(
            "{} must be Unix milliseconds (an integer)",
            table.time
        ))
    })?;
    let when = chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| bad(format!("{} {ms} is out of range", table.time)))?;
    let mut record = Map::new();
    record.insert("type".into(), table.atom_type.into());
    record.insert("operation".into(), table.operation.into());
    record.insert("agent".into(), agent.into());
    record.insert("timestamp".into(), model::format_timestamp(when).into());
    record.insert("summary".into(), summary.clone().into());
    let project = if table.name == "projects" {
        Some(summary)
    } else {
        let name = project_id.as_ref().and_then(|p| projects.get(p)).cloned();
        match (&project_id, &name) {
            (Some(p), Some(_)) => {
                let link = SourceKey {
                    tool: TOOL.into(),
                    table: Some("projects".into()),
                    id: rusqlite::types::Value::Text(p.clone()),
                };
                record.insert("influenced_by".into(), Value::Array(vec![link.to_json()]));
            }
            (Some(p), None) => {
                metadata.insert("project_id".into(), p.clone().into());
            }
            _ => {}
        }
        name
    };
    if let Some(p) = project.filter(|p| !p.is_empty()) {
        record.insert("project".into(), p.into());
    }
    let source = SourceKey {
        tool: TOOL.into(),
        table: Some(table.name.into()),
        id: match id {
            Value::String(s) => rusqlite::types::Value::Text(s),
            v => rusqlite::types::Value::Integer(v.as_i64().expect("checked above")),
        },
    };
    metadata.insert("source".into(), source.to_json());
    record.insert("metadata".into(), Value::Object(metadata));
    Ok((ms, origin, record))
}
