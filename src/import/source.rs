//! Source keys: where an imported atom came from, so that importing the same
//! data again adds only what is new.
//!
//! A record names its origin in `metadata.source` as `{"tool", "table"?,
//! "id"}` (`id` a string or an integer). The index keeps an expression index
//! over those three fields (`atom_source`), so finding an earlier import of a
//! row is one lookup, and rows staged earlier in the same import count too.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};

use crate::index::Index;

/// The origin of an imported record.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceKey {
    /// The tool the data came from (`context-sync`, `agent-trace`, ...).
    pub tool: String,
    /// Its table or collection, if it has several.
    pub table: Option<String>,
    /// The row's key there.
    pub id: SqlValue,
}

impl SourceKey {
    /// Read a key from a `{"tool", "table"?, "id"}` object.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Object(o) = value else {
            return Err(format!(
                "a source must be an object {{tool, table, id}}, not {value}"
            ));
        };
        let tool = match o.get("tool") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            _ => return Err("a source needs a non-empty string tool".into()),
        };
        let table = match o.get("table") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(other) => return Err(format!("source table must be a string, not {other}")),
        };
        let id = match o.get("id") {
            Some(Value::String(s)) => SqlValue::Text(s.clone()),
            Some(Value::Number(n)) if n.is_i64() => {
                SqlValue::Integer(n.as_i64().expect("checked is_i64"))
            }
            _ => return Err("a source needs an id, a string or an integer".into()),
        };
        Ok(SourceKey { tool, table, id })
    }

    /// The key as JSON, the shape [`SourceKey::from_json`] reads.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("tool".into(), self.tool.clone().into());
        if let Some(t) = &self.table {
            o.insert("table".into(), t.clone().into());
        }
        o.insert(
            "id".into(),
            match &self.id {
                SqlValue::Integer(i) => (*i).into(),
                SqlValue::Text(s) => s.clone().into(),
                other => format!("{other:?}").into(),
            },
        );
        Value::Object(o)
    }

    /// The id of the atom that came from this source, if any.
    pub fn find(&self, ix: &Index) -> Result<Option<String>, String> {
        ix.by_source(&self.tool, self.table.as_deref(), &self.id)
            .map_err(|e| e.to_string())
    }

    /// `tool table id`, for messages.
    pub fn describe(&self) -> String {
        let id = match &self.id {
            SqlValue::Integer(i) => i.to_string(),
            SqlValue::Text(s) => s.clone(),
            other => format!("{other:?}"),
        };
        match &self.table {
            Some(t) => format!("{} {t} {id}", self.tool),
            None => format!("{} {id}", self.tool),
        }
    }
}

/// The source key of a record, if its metadata has one.
pub fn key_of(record: &Map<String, Value>) -> Result<Option<SourceKey>, String> {
    match record.get("metadata").and_then(|m| m.get("source")) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => SourceKey::from_json(v)
            .map(Some)
            .map_err(|e| format!("metadata.{e}")),
    }
}

/// Replace each `influenced_by` entry that is a source key by the id of the
/// atom that came from it (in the store or earlier in this import).
pub fn resolve_links(ix: &Index, record: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::Array(links)) = record.get_mut("influenced_by") else {
        return Ok(());
    };
    for link in links.iter_mut() {
        if link.is_object() {
            let key = SourceKey::from_json(link).map_err(|e| format!("influenced_by: {e}"))?;
            let id = key.find(ix)?.ok_or_else(|| {
                format!(
                    "influenced_by: no atom of this store came from {}",
                    key.describe()
                )
            })?;
            *link = Value::String(id);
        }
    }
    Ok(())
}
