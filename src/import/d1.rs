//! `atom import --from d1`: the seed system's `atom_trail` table read
//! straight from its Cloudflare D1 database, through the mirror's D1 client.
//!
//! Each row becomes a seed-format line (see [`super::from_legacy`]: its
//! signature is checked, its id kept) with `source` = `{"tool": "d1",
//! "table": "atom_trail", "id": atom_id}` added, which lands in the record's
//! metadata: importing the table again adds only rows that are new. Rows are
//! read in rowid order, a page at a time.

use serde_json::Value;

use super::{ImportError, Origin};
use crate::mirror::d1::D1Client;

/// The tool name in `metadata.source`.
pub const TOOL: &str = "d1";
/// The seed's table.
pub const TABLE: &str = "atom_trail";
/// Rows per request.
const PAGE: usize = 500;

/// The rows of `atom_trail`, oldest first, as import records.
pub fn records(client: &D1Client) -> Result<Vec<(Origin, String)>, ImportError> {
    let mut out = Vec::new();
    let mut after: i64 = 0;
    loop {
        let rows = client
            .query(
                &format!(
                    "SELECT rowid AS \"_atom_rowid\", * FROM {TABLE} WHERE rowid > ?1 ORDER BY rowid LIMIT {PAGE}"
                ),
                vec![after.into()],
            )
            .map_err(|e| ImportError::Source(format!("reading {TABLE} from D1: {e}")))?;
        let n = rows.len();
        for mut row in rows {
            after = row
                .remove("_atom_rowid")
                .and_then(|v| v.as_i64())
                .ok_or_else(|| {
                    ImportError::Source(format!("D1 answered a row of {TABLE} without its rowid"))
                })?;
            let origin = Origin::Row(match row.get("atom_id") {
                Some(Value::String(id)) => format!("{TABLE} {id}"),
                _ => format!("{TABLE} rowid {after}"),
            });
            let Some(Value::String(id)) = row.get("atom_id").cloned() else {
                return Err(origin.error("atom_id must be a string".into()));
            };
            if row.contains_key("source") {
                return Err(origin.error(
                    "the row has a column named source, which the import uses itself".into(),
                ));
            }
            row.insert(
                "source".into(),
                serde_json::json!({"tool": TOOL, "table": TABLE, "id": id}),
            );
            out.push((origin, Value::Object(row).to_string()));
        }
        if n < PAGE {
            return Ok(out);
        }
    }
}
